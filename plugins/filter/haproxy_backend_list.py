# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: haproxy_backend_list
short_description: The haproxy role's backends, each with every setting it renders
version_added: 0.1.0
description:
  - Merges each backend, in the order of O(_input) (V(haproxy_backends) then V(haproxy_backends_extra)), over the
    role's built-in backend settings O(settings), the servers of the group O(group_hosts) and O(defaults)
    (V(haproxy_backend_defaults)), in that order, each one level deep, later ones winning, as
    C(ansible.builtin.combine) does. A backend that lists its own C(servers) keeps them.
  - The group's servers are named after the inventory hostnames and placed at their default IPv4 address
    (C(ansible_default_ipv4.address) in O(hostvars)); a host without that fact gets an empty address, which
    the role's preflight (P(acgs.haproxy_stack.haproxy_preflight_errors#filter)) reports.
  - The filter does not check anything else.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description: The backends, V(haproxy_backends) followed by V(haproxy_backends_extra).
    type: list
    elements: dict
    required: true
  settings:
    description: The role's built-in backend settings (C(_haproxy_backend_base) in the role's C(vars/main.yml)).
    type: dict
    default: {}
  defaults:
    description: Settings for every backend, over O(settings) (V(haproxy_backend_defaults)).
    type: dict
    default: {}
  group_hosts:
    description: The inventory hostnames of the servers' group (V(haproxy_backend_servers_group)).
    type: list
    elements: str
    default: []
  hostvars:
    description: The hosts' variables by inventory hostname (C(hostvars)), for their default IPv4 address.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: The backends the role renders
  ansible.builtin.debug:
    # [{name: auth_backend, port: 8000, path_prefix: /api/v1/auth/, balance: roundrobin, ...,
    #   servers: [{name: app1, address: 192.0.2.1}, {name: app2, address: 192.0.2.2}]}, ...]
    msg: >-
      {{ (haproxy_backends + haproxy_backends_extra)
         | acgs.haproxy_stack.haproxy_backend_list(settings=_haproxy_backend_base, defaults=haproxy_backend_defaults,
                                                   group_hosts=groups[haproxy_backend_servers_group] | default([]),
                                                   hostvars=hostvars) }}
"""

RETURN = r"""
_value:
  description:
    - The backends in the order of O(_input), each a dictionary with the keys of O(settings), C(servers), and the
      keys of O(defaults) and of the backend itself.
  type: list
  elements: dict
  contains:
    servers:
      description: The backend's own C(servers), or else the group's, C(name) and C(address) each.
      type: list
      elements: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def default_ipv4_address(host_vars):
    """A host's ansible_default_ipv4.address, "" when facts were not gathered on it."""
    if host_vars is None or "ansible_default_ipv4" not in host_vars:
        return ""
    ipv4 = host_vars["ansible_default_ipv4"]
    return ipv4.get("address", "") if isinstance(ipv4, Mapping) else ""


def group_servers(group_hosts, hostvars):
    """The group's hosts as servers: named after the inventory hostname, at the default IPv4 address."""
    return [{"name": host, "address": default_ipv4_address(hostvars[host] if host in hostvars else None)}
            for host in group_hosts]


def haproxy_backend_list(backends, settings=None, defaults=None, group_hosts=None, hostvars=None):
    if not isinstance(backends, (list, tuple)) or not all(isinstance(b, dict) for b in backends):
        raise AnsibleFilterError("haproxy_backend_list: the input must be the list of backends (dicts), "
                                 "haproxy_backends + haproxy_backends_extra")
    for name, value in (("settings", settings), ("defaults (haproxy_backend_defaults)", defaults)):
        if value is not None and not isinstance(value, Mapping):
            raise AnsibleFilterError("haproxy_backend_list: %s must be a dict, got %s" % (name, type(value).__name__))
    servers = group_servers(group_hosts or [], hostvars or {})
    result = []
    for backend in backends:
        # One copy of the servers per backend, so no two backends share a list.
        merged = dict(settings or {}, servers=[dict(s) for s in servers])
        merged.update(defaults or {})
        merged.update(backend)
        result.append(merged)
    return result


class FilterModule(object):
    def filters(self):
        return {"haproxy_backend_list": haproxy_backend_list}
