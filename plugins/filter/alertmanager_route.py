# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: alertmanager_route
short_description: The Alertmanager route an alert with the given labels takes, with its inherited timers
version_added: 0.1.0
description:
  - Walks an Alertmanager routing tree (the C(route) of C(alertmanager.yml), for example from the C(/api/v2/status)
    API's C(config.original)) the way Alertmanager does - the first child route whose matchers all match, recursively,
    without C(continue) - and returns the receiver and the C(group_wait), C(group_interval) and C(repeat_interval)
    the alert gets, inherited from the parents where the route does not set them, and in seconds.
  - Understands C(matchers) (C(name="value"), C(!=), C(=~), C(!~); regular expressions are anchored) and the older
    C(match) and C(match_re) dicts.
author:
  - acgs.haproxy_stack developers (@acgs)
positional: labels
options:
  _input:
    description: The routing tree (a dict with C(receiver) and optionally C(routes), C(matchers), timers).
    type: dict
    required: true
  labels:
    description: The alert's labels.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Where HAProxyBackendServerDown goes, and after how long
  ansible.builtin.debug:
    msg: >-
      {{ (status.json.config.original | from_yaml).route
         | acgs.haproxy_stack.alertmanager_route({'alertname': 'HAProxyBackendServerDown', 'severity': 'warning'}) }}
"""

RETURN = r"""
_value:
  description: The route the alert takes.
  type: dict
  contains:
    receiver:
      description: The receiver's name.
      type: str
    group_wait:
      description: Seconds before the first notification of a new group (Alertmanager's default 30).
      type: float
    group_interval:
      description: Seconds between notifications of a group's changes (default 300).
      type: float
    repeat_interval:
      description: Seconds before an unchanged notification is sent again (default 14400).
      type: float
    path:
      description: Index of the child route taken at each level, from the top (empty - the top-level route).
      type: list
      elements: int
"""

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types

from ansible_collections.acgs.haproxy_stack.plugins.filter.prometheus_duration_seconds import (
    prometheus_duration_seconds,
)

_DEFAULTS = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}
_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"]*?))\s*$')


def _matcher(text):
    match = _MATCHER.match(text)
    if not match:
        raise AnsibleFilterError("cannot read the Alertmanager matcher %r" % (text,))
    name, operator, quoted, bare = match.groups()
    value = quoted.encode().decode("unicode_escape") if quoted is not None else bare
    return name, operator, value


def _matches(route, labels):
    checks = [_matcher(m) for m in route.get("matchers") or []]
    checks += [(name, "=", value) for name, value in (route.get("match") or {}).items()]
    checks += [(name, "=~", value) for name, value in (route.get("match_re") or {}).items()]
    for name, operator, value in checks:
        actual = str(labels.get(name, ""))
        if operator in ("=~", "!~"):
            found = re.match("^(?:%s)$" % value, actual) is not None
            ok = found if operator == "=~" else not found
        else:
            ok = (actual == value) if operator == "=" else (actual != value)
        if not ok:
            return False
    return True


def alertmanager_route(route, labels):
    if not isinstance(route, dict) or not isinstance(labels, dict):
        raise AnsibleFilterError("alertmanager_route needs a route dict and a labels dict")
    settings = dict(_DEFAULTS, receiver=route.get("receiver"))
    path = []
    node = route
    while True:
        settings.update({key: node[key] for key in ("receiver", "group_wait", "group_interval", "repeat_interval")
                         if node.get(key)})
        for index, child in enumerate(node.get("routes") or []):
            if _matches(child, labels):
                path.append(index)
                node = child
                break
        else:
            break
    result = {"receiver": settings["receiver"], "path": path}
    for key in _DEFAULTS:
        value = settings[key]
        result[key] = float(prometheus_duration_seconds(value) if isinstance(value, string_types) else value)
    return result


class FilterModule(object):
    def filters(self):
        return {"alertmanager_route": alertmanager_route}
