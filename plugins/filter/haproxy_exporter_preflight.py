# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: haproxy_exporter_preflight_errors
short_description: Every problem the haproxy_exporter role's preflight finds in its variables
version_added: 0.1.0
description:
  - Checks the variables of the C(acgs.haproxy_stack.haproxy_exporter) role (its port against HAProxy's, the metrics
    path, HAProxy installed) and returns one message per problem, each naming the variable and the fix. An empty list means the variables are good.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description:
      - "The role's variables, by name: V(haproxy_exporter_port), V(haproxy_exporter_metrics_path),
        V(_haproxy_exporter_taken_ports), V(_haproxy_exporter_haproxy_installed) (the stat of HAProxy's conf.d, true
        in check mode)."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the haproxy_exporter variables
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join(' ') }}"
    quiet: true
  vars:
    _errors: "{{ _haproxy_exporter_preflight_input | acgs.haproxy_stack.haproxy_exporter_preflight_errors }}"
"""

RETURN = r"""
_value:
  description: One message per problem, each naming the variable and how to fix it; empty when there is none.
  type: list
  elements: str
"""

from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._preflight import matches, run_rules, text, to_int

KEYS = ("haproxy_exporter_port", "haproxy_exporter_metrics_path", "_haproxy_exporter_taken_ports",
        "_haproxy_exporter_haproxy_installed")


def port_and_path(v):
    port, taken = to_int(v["haproxy_exporter_port"]), [to_int(p) for p in v["_haproxy_exporter_taken_ports"]]
    path = text(v["haproxy_exporter_metrics_path"])
    if 1 <= port <= 65535 and port not in taken and matches(r"^/\S*$", path):
        return []
    return ["haproxy_exporter_port must be a free TCP port from 1 to 65535 (HAProxy already uses %s), got %s; "
            "haproxy_exporter_metrics_path must start with /, got %s."
            % (", ".join(str(p) for p in taken), v["haproxy_exporter_port"], path)]


def haproxy_installed(v):
    """The exporter's socket and frontend go into HAProxy's conf.d: the haproxy role must have run."""
    if v["_haproxy_exporter_haproxy_installed"]:
        return []
    return ["HAProxy's /etc/haproxy/conf.d is missing on this host: run the acgs.haproxy_stack.haproxy role before "
            "haproxy_exporter (site.yml and playbooks/haproxy.yml do)."]


def haproxy_exporter_preflight_errors(variables):
    return run_rules("haproxy_exporter_preflight_errors", variables, KEYS, (port_and_path, haproxy_installed))


class FilterModule(object):
    def filters(self):
        return {"haproxy_exporter_preflight_errors": haproxy_exporter_preflight_errors}
