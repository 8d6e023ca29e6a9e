#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: stack_backup
short_description: Archive the stack's files on a host, one tar.gz per component, with a manifest of checksums
version_added: 0.1.0
description:
  - Writes one C(<component>.tar.gz) per entry of O(components) into O(work_dir) and returns this host's part of
    the manifest that C(playbooks/backup.yml) writes, the SHA-256 of every archive and of every file in it.
  - Optionally archives Prometheus's TSDB as C(prometheus_tsdb.tar.gz), either from a snapshot taken through
    Prometheus's admin API (O(tsdb_mode=snapshot), the snapshot directory is removed afterwards) or from the
    data directory itself while Prometheus is stopped (O(tsdb_mode=stop)).
  - Archives and the work directory are private (mode 0600 and 0700), as they carry web configurations,
    password files and TLS keys.
  - Paths that do not exist are skipped and listed in RV(missing). Members of an archive are named relative to
    its RV(archives.base), so that unpacking it into C(/) (or RV(archives.target)) puts the files back.
  - Stopping and starting services, taking the snapshot and fetching the archives are left to the playbook.
author:
  - acgs.haproxy_stack developers (@acgs)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports which archives it would write and which files they would hold (with their checksums);
      writes nothing, and does not remove the snapshot.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  work_dir:
    description:
      - Directory the archives are written to, created with mode 0700 when missing.
      - Existing archives of the same names are replaced.
    type: path
    required: true
  components:
    description:
      - Component name to the absolute paths (files or directories) its archive holds.
      - Each becomes C(<name>.tar.gz), members relative to C(/).
    type: dict
    default: {}
  tsdb_mode:
    description:
      - How Prometheus's TSDB is archived as C(prometheus_tsdb).
      - V(none) does not archive it.
      - V(snapshot) archives the snapshot directory O(tsdb_path)C(/snapshots/)O(tsdb_snapshot) and removes it.
      - V(stop) archives the data directory O(tsdb_path) without its C(snapshots) directory and C(lock) file;
        Prometheus must be stopped meanwhile.
    type: str
    choices: [none, snapshot, stop]
    default: none
  tsdb_path:
    description:
      - Prometheus's data directory (its C(--storage.tsdb.path)); RV(archives.target) of the TSDB archive.
    type: path
    default: /var/lib/prometheus/metrics2
  tsdb_snapshot:
    description:
      - Name of the snapshot, as the admin API's C(POST /api/v1/admin/tsdb/snapshot) returns it (C(data.name)).
      - Required with O(tsdb_mode=snapshot), except in check mode.
    type: str
    default: ""
notes:
  - The TSDB archive records no per-file checksums (its blocks are large and checked by Prometheus itself);
    RV(archives.files) is empty for it.
seealso:
  - name: Prometheus TSDB snapshot API
    description: The admin API call that takes the snapshot.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/#snapshot
"""

EXAMPLES = r"""
- name: Archive HAProxy's and Alertmanager's files
  acgs.haproxy_stack.stack_backup:
    work_dir: /var/tmp/acgs-backup
    components:
      haproxy: [/etc/haproxy, /etc/default/haproxy]
      alertmanager: [/etc/prometheus/alertmanager.yml, /var/lib/prometheus/alertmanager]
  become: true
  register: archived

- name: Take a TSDB snapshot
  ansible.builtin.uri:
    url: http://127.0.0.1:9090/api/v1/admin/tsdb/snapshot
    method: POST
  register: snapshot

- name: Archive it (the snapshot directory is removed afterwards)
  acgs.haproxy_stack.stack_backup:
    work_dir: /var/tmp/acgs-backup
    tsdb_mode: snapshot
    tsdb_snapshot: "{{ snapshot.json.data.name }}"
  become: true

- name: Fetch the archives
  ansible.builtin.fetch:
    src: /var/tmp/acgs-backup/{{ item.value.file }}
    dest: backups/{{ inventory_hostname }}/
    flat: true
  loop: "{{ archived.archives | dict2items }}"
"""

RETURN = r"""
archives:
  description:
    - Per archive name (the component, or C(prometheus_tsdb)), what it holds. In check mode the archives
      that would be written, without RV(archives.sha256) and RV(archives.size).
  returned: always
  type: dict
  contains:
    file:
      description: File name of the archive in O(work_dir).
      type: str
      sample: haproxy.tar.gz
    base:
      description: Directory the archive's members are relative to.
      type: str
      sample: /
    sha256:
      description: SHA-256 of the archive. Not in check mode.
      type: str
      sample: 3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555
    size:
      description: Size of the archive in bytes. Not in check mode.
      type: int
      sample: 10240
    files:
      description: Per regular file archived (absolute path, symbolic links excluded), its checksum, mode and size.
        Empty for the TSDB archive.
      type: dict
      sample: {"/etc/haproxy/haproxy.cfg": {"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "mode": "0640", "size": 2048}}
    target:
      description: Where the archive is unpacked on restore; only for C(prometheus_tsdb), whose base is not C(/).
      type: str
      returned: for the TSDB archive
      sample: /var/lib/prometheus/metrics2
  sample: {"haproxy": {"file": "haproxy.tar.gz", "base": "/", "sha256": "3b0c...", "size": 10240, "files": {}}}
missing:
  description: Paths of O(components) that do not exist on the host (skipped), in the order they were given.
  returned: always
  type: list
  elements: str
  sample: [/var/lib/grafana/grafana.db]
"""

import hashlib
import os
import shutil
import tarfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

TSDB_ARCHIVE = "prometheus_tsdb"
TSDB_EXCLUDED = ("snapshots", "lock")


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_under(path):
    """Regular files at or below path (symbolic links excluded), in a stable order."""
    if os.path.isfile(path):
        yield path
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(root, name)
            if os.path.isfile(full) and not os.path.islink(full):
                yield full


def file_record(path):
    st = os.stat(path)
    return {"sha256": sha256(path), "mode": "%04o" % (st.st_mode & 0o7777), "size": st.st_size}


class Backup(object):
    """Writes the archives into work (unless check_mode) and collects the manifest part."""

    def __init__(self, work, check_mode=False):
        self.work = work
        self.check_mode = check_mode
        self.archives = {}
        self.missing = []

    def archive(self, name, base, paths, record=True):
        present = []
        for path in paths:
            if os.path.lexists(path):
                present.append(path)
            else:
                self.missing.append(path)
        files = {}
        for path in present if record else []:
            for found in files_under(path):
                files[found] = file_record(found)
        entry = {"file": name + ".tar.gz", "base": base, "files": files}
        if not self.check_mode:
            target = os.path.join(self.work, entry["file"])
            old = os.umask(0o077)
            try:
                if os.path.lexists(target):
                    os.unlink(target)
                with tarfile.open(target, "w:gz") as tar:
                    for path in present:
                        tar.add(path, arcname=os.path.relpath(path, base))
            finally:
                os.umask(old)
            entry["sha256"] = sha256(target)
            entry["size"] = os.path.getsize(target)
        self.archives[name] = entry
        return entry

    def tsdb(self, mode, path, snapshot):
        if mode == "snapshot":
            source = os.path.join(path, "snapshots", snapshot)
            names = sorted(os.listdir(source)) if snapshot and os.path.isdir(source) else []
            entry = self.archive(TSDB_ARCHIVE, source, [os.path.join(source, n) for n in names], record=False)
            if not self.check_mode:
                shutil.rmtree(source)
        else:
            names = [n for n in sorted(os.listdir(path)) if n not in TSDB_EXCLUDED] if os.path.isdir(path) else []
            entry = self.archive(TSDB_ARCHIVE, path, [os.path.join(path, n) for n in names], record=False)
        entry["target"] = path


def run(params, check_mode):
    """The manifest part for params; raises ValueError for a request that cannot be met."""
    mode = params["tsdb_mode"]
    path = params["tsdb_path"]
    snapshot = params["tsdb_snapshot"] or ""
    components = params["components"] or {}
    for name, paths in components.items():
        if not isinstance(paths, list) or not all(isinstance(p, str) and os.path.isabs(p) for p in paths):
            raise ValueError("components.%s must be a list of absolute paths, got %r" % (name, paths))
    if mode != "none" and TSDB_ARCHIVE in components:
        raise ValueError("components must not have an entry named %s: that archive is the TSDB's" % TSDB_ARCHIVE)
    if mode == "snapshot" and not check_mode:
        if not snapshot or "/" in snapshot or snapshot in (".", ".."):
            raise ValueError("tsdb_mode=snapshot needs tsdb_snapshot, the snapshot's name (got %r)" % snapshot)
        if not os.path.isdir(os.path.join(path, "snapshots", snapshot)):
            raise ValueError("no TSDB snapshot %s in %s" % (snapshot, os.path.join(path, "snapshots")))
    if mode == "stop" and not os.path.isdir(path) and not check_mode:
        raise ValueError("tsdb_path %s is not a directory" % path)

    backup = Backup(params["work_dir"], check_mode=check_mode)
    if not check_mode:
        if not os.path.isdir(backup.work):
            os.makedirs(backup.work, 0o700)
        os.chmod(backup.work, 0o700)
    for name in sorted(components):
        backup.archive(name, "/", components[name])
    if mode != "none":
        backup.tsdb(mode, path, snapshot)
    return {"archives": backup.archives, "missing": backup.missing}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            work_dir=dict(type="path", required=True),
            components=dict(type="dict", default={}),
            tsdb_mode=dict(type="str", choices=["none", "snapshot", "stop"], default="none"),
            tsdb_path=dict(type="path", default="/var/lib/prometheus/metrics2"),
            tsdb_snapshot=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode)
    except ValueError as exc:
        module.fail_json(msg=to_native(exc))
    except (OSError, IOError, tarfile.TarError) as exc:
        module.fail_json(msg="archiving failed: %s" % to_native(exc))
    changed = bool(result["archives"])
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
