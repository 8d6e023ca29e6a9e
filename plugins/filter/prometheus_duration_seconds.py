# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: prometheus_duration_seconds
short_description: Seconds of a Prometheus or Alertmanager duration such as 15s, 1h30m or 500ms
version_added: 0.1.0
description:
  - Parses a duration the way Prometheus does (C(model.ParseDuration)) - one or more C(<number><unit>) with units
    C(ms), C(s), C(m), C(h), C(d), C(w), C(y), largest first - and returns its length in seconds.
  - Fails, naming the value, on anything else, so a preflight or a bound never works with a guess.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description: The duration.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The drift check's staleness bound in seconds
  ansible.builtin.debug:
    msg: "{{ '3h' | acgs.haproxy_stack.prometheus_duration_seconds }}"   # 10800
"""

RETURN = r"""
_value:
  description: The duration in seconds (an integer unless milliseconds make a fraction).
  type: float
"""

import re

from ansible.errors import AnsibleFilterError

_UNITS = (("y", 31536000), ("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1), ("ms", 0.001))
_PART = re.compile(r"([0-9]+)(ms|y|w|d|h|m|s)")


def prometheus_duration_seconds(value):
    text = str(value)
    parts = _PART.findall(text)
    order = [unit for unit, _seconds in _UNITS]
    units = [unit for _number, unit in parts]
    if (not parts or "".join(n + u for n, u in parts) != text or len(set(units)) != len(units)
            or units != sorted(units, key=order.index)):
        raise AnsibleFilterError("%r is not a Prometheus duration (e.g. 15s, 5m, 1h30m, 500ms)" % (value,))
    seconds = sum(int(number) * dict(_UNITS)[unit] for number, unit in parts)
    return int(seconds) if seconds == int(seconds) else seconds


class FilterModule(object):
    def filters(self):
        return {"prometheus_duration_seconds": prometheus_duration_seconds}
