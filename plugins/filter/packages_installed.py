# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: packages_installed
short_description: Whether the package registry says every named package is installed
version_added: 0.1.0
description:
  - The facts play (C(playbooks/facts.yml)) asks C(dpkg-query) once per host for the packages whose status is
    C(installed) and keeps their names in C(_acgs_installed_packages). A role's C(ansible.builtin.apt) task with
    C(state=present) is skipped when this filter is true, instead of costing a module run that opens apt's cache on
    every run.
  - True only when the registry is a non-empty list and holds every name. An undefined (C(default([]))) or empty
    registry is false, so a role run outside the stack's playbooks (molecule) runs apt as before.
  - Names are compared as they are. A name with a version (C(haproxy=2.6.*)), a wildcard, an architecture
    (C(curl:amd64)) or a release (C(pkg/bookworm-backports)) is never in the registry, which holds plain names;
    the filter is false and apt runs, deciding itself. So is a virtual package (C(awk)).
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description:
      - The names the apt task installs, as its C(name) takes them (a list, or one string, comma-separated names
        allowed). No name at all is true when the registry is known (nothing to install).
    type: raw
    required: true
  registry:
    description: The installed packages' names, C(_acgs_installed_packages | default([])).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Install the node exporter package
  ansible.builtin.apt:
    name: prometheus-node-exporter
    state: present
  # Skipped when the facts play's registry lists it; without a registry (molecule) apt runs.
  when: not ('prometheus-node-exporter' | acgs.haproxy_stack.packages_installed(_acgs_installed_packages | default([])))
"""

RETURN = r"""
_value:
  description: True when the registry is known and every name is installed in it; false otherwise (apt should run).
  type: bool
"""


def _names(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(name).strip() for name in value]
    # apt's name option splits one string on commas.
    return [name.strip() for name in str(value).split(",")]


def packages_installed(names, registry):
    # Undefined (default([])), empty or not a list: unknown, so apt decides.
    if not registry or isinstance(registry, (str, bytes, dict)):
        return False
    installed = set(str(name) for name in registry)
    return all(name in installed for name in _names(names))


class FilterModule(object):
    def filters(self):
        return {"packages_installed": packages_installed}
