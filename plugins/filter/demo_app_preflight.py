# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: demo_app_preflight_errors
short_description: Every problem the demo_app role's preflight finds in its variables
version_added: 0.1.0
description:
  - Checks the variables of the C(acgs.haproxy_stack.demo_app) role (the stand-in services and their ports) and
    returns one message per problem,
    each naming the variable and the fix. An empty list means the variables are good.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description:
      - "The role's variables, by name: V(demo_app_services)."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the demo_app variables
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join(' ') }}"
    quiet: true
  vars:
    _errors: "{{ _demo_app_preflight_input | acgs.haproxy_stack.demo_app_preflight_errors }}"
"""

RETURN = r"""
_value:
  description: One message per problem, each naming the variable and how to fix it; empty when there is none.
  type: list
  elements: str
"""

from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._preflight import matches, run_rules, to_int

KEYS = ("demo_app_services",)


def services(v):
    given = v["demo_app_services"] if isinstance(v["demo_app_services"], dict) else {}
    ports = [to_int(p) for p in given.values()]
    if (given and all(1 <= p <= 65535 for p in ports) and len(set(ports)) == len(ports)
            and all(matches(r"^[a-z0-9_-]+$", name) for name in given)):
        return []
    return ["demo_app_services must map lower-case service names to distinct ports 1-65535, got %s."
            % v["demo_app_services"]]


def demo_app_preflight_errors(variables):
    return run_rules("demo_app_preflight_errors", variables, KEYS, (services,))


class FilterModule(object):
    def filters(self):
        return {"demo_app_preflight_errors": demo_app_preflight_errors}
