# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: release_vars_file
short_description: The role's vars file for this host's Debian release, or an error that lists the supported ones
version_added: 0.1.0
description:
  - Each role keeps what differs between Debian releases (packaged versions, names, flags) in
    C(vars/<release>.yml), for example C(vars/bookworm.yml) and C(vars/trixie.yml). This filter returns the path
    of the file for the host's release, for C(ansible.builtin.include_vars).
  - Fails before anything changes on the host, naming the release and the supported ones (the role's release
    files), when the host is not Debian, runs a release the role has no file for, or has no distribution facts.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description: The role's path (C(role_path)).
    type: path
    required: true
  facts:
    description: The host's C(ansible_facts); they need the C(distribution) subset.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Load the settings of this Debian release
  ansible.builtin.include_vars:
    file: "{{ role_path | acgs.haproxy_stack.release_vars_file(ansible_facts) }}"
"""

RETURN = r"""
_value:
  description: The absolute path of the role's vars file for the release.
  type: path
"""

import os

import yaml
from ansible.errors import AnsibleFilterError


def _release_settings(role_path, release):
    """_<role>_release of vars/<release>.yml (its Debian number among them)."""
    with open(os.path.join(role_path, "vars", release + ".yml")) as handle:
        settings = yaml.safe_load(handle) or {}
    return settings.get("_%s_release" % os.path.basename(os.path.normpath(role_path))) or {}


def supported_releases(role_path):
    """The releases a role has a vars file for, oldest Debian first."""
    names = [name[:-len(".yml")] for name in os.listdir(os.path.join(role_path, "vars"))
             if name.endswith(".yml") and name != "main.yml"]
    return sorted(names, key=lambda name: (int(_release_settings(role_path, name).get("debian") or 99), name))


def _supported(role_path):
    """For the messages: "bookworm (Debian 12), trixie (Debian 13)"."""
    return ", ".join("%s (Debian %s)" % (name, _release_settings(role_path, name).get("debian", "?"))
                     for name in supported_releases(role_path))


def release_vars_file(role_path, facts):
    role = os.path.basename(os.path.normpath(role_path))
    facts = facts or {}
    release = str(facts.get("distribution_release") or "")
    distribution = str(facts.get("distribution") or "")
    if not release or not distribution:
        raise AnsibleFilterError(
            "role %s: this host's Debian release is unknown (no distribution facts): gather facts before the role"
            " (gather_facts: true, or ansible.builtin.setup with gather_subset: [distribution])." % role)
    major = str(facts.get("distribution_major_version") or "")
    if distribution != "Debian":
        raise AnsibleFilterError("role %s supports %s only; this host runs %s %s."
                                 % (role, _supported(role_path), distribution, facts.get("distribution_version", "")))
    path = os.path.join(role_path, "vars", release + ".yml")
    if os.path.isfile(path):
        return path
    raise AnsibleFilterError(
        "role %s does not support Debian %s (%s): it supports %s. Use one of those, or give the role"
        " vars/%s.yml with that release's settings (copy the newest one and check it)."
        % (role, major or "?", release, _supported(role_path), release))


class FilterModule(object):
    def filters(self):
        return {"release_vars_file": release_vars_file}
