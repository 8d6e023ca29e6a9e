# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: alertmanager_preflight_errors
short_description: Every problem the alertmanager role's preflight finds in its variables
version_added: 0.1.0
description:
  - Checks the variables of the C(acgs.haproxy_stack.alertmanager) role (receivers and the routing tree, web basic
    auth, ports, the dead-man's-switch) and returns one message per problem, each naming the variable and the fix.
  - Every problem is reported, in a fixed order, so a user fixes them all in one go. An empty list means the
    variables are good. What only Alertmanager can judge (durations inside routes, matcher syntax) is left to
    C(amtool check-config), which validates the file before it is written.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description:
      - "The role's variables, by name: V(alertmanager_receivers), V(alertmanager_route), V(alertmanager_web_username),
        V(alertmanager_web_password), V(alertmanager_port), V(alertmanager_cluster_port),
        V(alertmanager_deadmans_switch_url) (None when it comes from an undefined variable),
        V(alertmanager_deadmans_switch_interval); and the role's
        V(_alertmanager_watchdog_receiver_name), the receiver name it keeps for Watchdog."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the alertmanager variables
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join(' ') }}"
    quiet: true
  vars:
    _errors: "{{ _alertmanager_preflight_input | acgs.haproxy_stack.alertmanager_preflight_errors }}"
"""

RETURN = r"""
_value:
  description:
    - One message per problem, each naming the variable and how to fix it; empty when there is none.
    - "Order: receivers and routes, basic auth, ports, the dead-man's-switch."
  type: list
  elements: str
"""

import json
import re

from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._preflight import matches, run_rules, text, to_int

KEYS = ("alertmanager_receivers", "alertmanager_route", "alertmanager_web_username", "alertmanager_web_password",
        "alertmanager_port", "alertmanager_cluster_port", "alertmanager_deadmans_switch_url",
        "alertmanager_deadmans_switch_interval", "_alertmanager_watchdog_receiver_name")

DURATION = r"^([0-9]+(ms|s|m|h|d|w|y))+$"


def route_receivers(route):
    """Receiver names the routing tree refers to, at any depth, in first-seen order."""
    found = re.findall(r'"receiver": "([^"]*)"', json.dumps(route))
    return list(dict.fromkeys(found))


def receivers_and_routes(v):
    receivers = v["alertmanager_receivers"] if isinstance(v["alertmanager_receivers"], list) else []
    route = v["alertmanager_route"] if isinstance(v["alertmanager_route"], dict) else {}
    names = [r.get("name", "") if isinstance(r, dict) else "" for r in receivers]
    unknown = [name for name in route_receivers(route) if name not in names]
    watchdog = v["_alertmanager_watchdog_receiver_name"]
    ok = (receivers and all(names) and len(set(names)) == len(names) and "receiver" in route
          and not unknown and watchdog not in names)
    if ok:
        return []
    return ["alertmanager_route refers to receiver(s) %s that alertmanager_receivers does not define (defined: %s). "
            "Every receiver needs a unique name, alertmanager_route needs a top-level receiver, and every receiver "
            "named in alertmanager_route must be in alertmanager_receivers (%s is the role's own, for Watchdog: "
            "use another name)." % (unknown, [name or "?" for name in names], watchdog)]


def basic_auth(v):
    username, password = text(v["alertmanager_web_username"]), text(v["alertmanager_web_password"])
    if bool(username) == bool(password) and ":" not in username:
        return []
    return ["Set both alertmanager_web_username and alertmanager_web_password (basic auth on), or neither (no auth); "
            "the username cannot contain ':'. A password that comes from an undefined variable (e.g. "
            "vault_alertmanager_password without the vault file) counts as unset."]


def ports(v):
    port, cluster = to_int(v["alertmanager_port"]), to_int(v["alertmanager_cluster_port"])
    if 1 <= port <= 65535 and 1 <= cluster <= 65535 and port != cluster:
        return []
    return ["alertmanager_port (%s) and alertmanager_cluster_port (%s) must be different ports between 1 and 65535."
            % (v["alertmanager_port"], v["alertmanager_cluster_port"])]


def deadmans_switch(v):
    if v["alertmanager_deadmans_switch_url"] is None:
        return ["alertmanager_deadmans_switch_url comes from an undefined variable (e.g. "
                "vault_alertmanager_deadmans_switch_url without the vault file): define it, or set it to \"\" "
                "for no dead-man's-switch."]
    url, interval = text(v["alertmanager_deadmans_switch_url"]), v["alertmanager_deadmans_switch_interval"]
    if (url == "" or matches(r"^https?://\S+$", url)) and matches(DURATION, interval):
        return []
    return ["alertmanager_deadmans_switch_url must be empty or an http(s) URL (the webhook of a dead-man's-switch "
            "service), and alertmanager_deadmans_switch_interval a duration such as 1m (it is %s)." % interval]


def alertmanager_preflight_errors(variables):
    return run_rules("alertmanager_preflight_errors", variables, KEYS,
                     (receivers_and_routes, basic_auth, ports, deadmans_switch))


class FilterModule(object):
    def filters(self):
        return {"alertmanager_preflight_errors": alertmanager_preflight_errors}
