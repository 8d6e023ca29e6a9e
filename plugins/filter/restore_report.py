# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: restore_report
short_description: What is wrong with a backup's archives, before C(playbooks/restore.yml) touches a host
version_added: 0.1.0
description:
  - Takes the results of a looped C(ansible.builtin.stat) (with C(checksum_algorithm=sha256)) over the archives
    that C(restore_archives) lists, and returns one message per archive that is missing or whose SHA-256 is not
    the one the manifest records.
  - With no archive at all for the hosts of the run, one message says so.
  - The same file has the filter C(restore_archives), which lists the archives of a backup's manifest
    (C(manifest.json) of C(playbooks/backup.yml)) for the given hosts, dicts with C(host), C(name), C(file) and
    C(sha256), in the manifest's order.
author:
  - acgs.haproxy_stack developers (@acgs)
positional: hosts
options:
  _input:
    description:
      - The C(results) of the stat loop; each has C(item) (a dict of C(restore_archives)) and C(stat)
        (C(exists), C(checksum)).
    type: list
    elements: dict
    required: true
  hosts:
    description: The hosts of the run, named in the message when there is no archive for them.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Checksum the archives
  ansible.builtin.stat:
    path: "backups/latest/{{ item.host }}/{{ item.file }}"
    checksum_algorithm: sha256
  loop: "{{ manifest.hosts | acgs.haproxy_stack.restore_archives(ansible_play_hosts_all) }}"
  register: stats
  delegate_to: localhost

- name: Fail on missing or altered archives
  ansible.builtin.assert:
    that: bad | length == 0
    fail_msg: "{{ bad | join('; ') }}"
  vars:
    bad: "{{ stats.results | acgs.haproxy_stack.restore_report(ansible_play_hosts_all) }}"
"""

RETURN = r"""
_value:
  description:
    - Messages such as V(lb1/haproxy.tar.gz is missing) or V(lb1/haproxy.tar.gz has SHA-256 <found>, manifest <recorded>).
      Empty when every archive is there and intact.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError


def restore_archives(manifest_hosts, hosts):
    """[{host, name, file, sha256}] of the manifest's hosts (manifest['hosts']) that are in hosts."""
    out = []
    try:
        for host, part in manifest_hosts.items():
            if host not in hosts:
                continue
            for name, archive in part["archives"].items():
                out.append({"host": host, "name": name, "file": archive["file"], "sha256": archive["sha256"]})
    except (AttributeError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("restore_archives: not the hosts of a backup manifest "
                                 "({host: {archives: {name: {file, sha256}}}}): %s" % exc)
    return out


def restore_report(results, hosts):
    out = []
    for result in results:
        item, stat = result["item"], result.get("stat") or {}
        name = "%s/%s" % (item["host"], item["file"])
        if not stat.get("exists"):
            out.append("%s is missing" % name)
        elif stat.get("checksum") != item["sha256"]:
            out.append("%s has SHA-256 %s, manifest %s" % (name, stat.get("checksum"), item["sha256"]))
    if not results:
        out.append("no archive for the hosts of this run (%s)" % ", ".join(hosts))
    return out


class FilterModule(object):
    def filters(self):
        return {"restore_report": restore_report, "restore_archives": restore_archives}
