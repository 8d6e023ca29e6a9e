# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: node_exporter_preflight_errors
short_description: Every problem the node_exporter role's preflight finds in its variables
version_added: 0.1.0
description:
  - Checks the variables of the C(acgs.haproxy_stack.node_exporter) role (listen address, textfile directory, flag
    names) and returns one message per problem,
    each naming the variable and the fix. An empty list means the variables are good.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description:
      - "The role's variables, by name: V(node_exporter_listen_address), V(node_exporter_textfile_directory),
        V(node_exporter_flags)."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the node_exporter variables
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join(' ') }}"
    quiet: true
  vars:
    _errors: "{{ _node_exporter_preflight_input | acgs.haproxy_stack.node_exporter_preflight_errors }}"
"""

RETURN = r"""
_value:
  description: One message per problem, each naming the variable and how to fix it; empty when there is none.
  type: list
  elements: str
"""

from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._preflight import matches, run_rules, text, to_int

KEYS = ("node_exporter_listen_address", "node_exporter_textfile_directory", "node_exporter_flags")


def settings(v):
    address, directory = text(v["node_exporter_listen_address"]), text(v["node_exporter_textfile_directory"])
    flags = v["node_exporter_flags"] if isinstance(v["node_exporter_flags"], dict) else {}
    port = to_int(address.rsplit(":", 1)[-1]) if ":" in address else 0
    ok = (matches(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]*):[0-9]{1,5}$", address) and 1 <= port <= 65535
          and directory.startswith("/") and isinstance(v["node_exporter_flags"], dict)
          and all(matches(r"^[a-z][a-z0-9._-]*$", key) for key in flags))
    if ok:
        return []
    return ['node_exporter_listen_address must be "[host]:port" with a port 1-65535 (got %s), '
            "node_exporter_textfile_directory an absolute path (got %s), and node_exporter_flags keys flag names "
            "without leading dashes (got %s)." % (address, directory, list(flags))]


def node_exporter_preflight_errors(variables):
    return run_rules("node_exporter_preflight_errors", variables, KEYS, (settings,))


class FilterModule(object):
    def filters(self):
        return {"node_exporter_preflight_errors": node_exporter_preflight_errors}
