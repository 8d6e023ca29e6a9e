# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: command_line_flags
short_description: A role's C(<role>_flags) dictionary as command-line flags
version_added: 0.1.0
description:
  - The one shape every role of the collection gives its daemon's flags (C(prometheus_flags), C(alertmanager_flags),
    C(node_exporter_flags), C(haproxy_exporter_flags), C(keepalived_flags)) - flag name without dashes to value,
    merged over the role's own flags. The roles write the result with the private C(_common) role's
    C(flags.default.j2) into the file the Debian unit reads.
  - V(true) gives C(--name); V(false) gives C(--no-name) (Prometheus-style boolean flags), or nothing with
    O(negate=false); V(null) removes a flag the role sets; a list repeats the flag once per value
    (C(--cluster.peer=a --cluster.peer=b)); any other value gives C(--name=value).
  - Flags come sorted by name, so the file only changes when a flag does.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description: Flag name (without leading dashes) to value.
    type: dict
    required: true
  negate:
    description: Whether V(false) writes C(--no-name); the programs of the Prometheus project accept it.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: The flags Alertmanager gets
  ansible.builtin.debug:
    # ['--cluster.peer=10.0.0.2:9094', '--cluster.peer=10.0.0.3:9094', '--config.file=/etc/prometheus/alertmanager.yml']
    msg: "{{ {'config.file': '/etc/prometheus/alertmanager.yml', 'web.config.file': none,
              'cluster.peer': ['10.0.0.2:9094', '10.0.0.3:9094']} | acgs.haproxy_stack.command_line_flags }}"
"""

RETURN = r"""
_value:
  description: The flags, each one element, in name order.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError


def command_line_flags(flags, negate=True):
    if not isinstance(flags, dict):
        raise AnsibleFilterError("command_line_flags: the flags must be a dict of name to value, got %s"
                                 % type(flags).__name__)
    out = []
    for name in sorted(flags):
        value = flags[name]
        if str(name).startswith("-"):
            raise AnsibleFilterError("command_line_flags: write the flag %r without leading dashes" % name)
        if value is None:
            continue
        if value is True:
            out.append("--%s" % name)
        elif value is False:
            if negate:
                out.append("--no-%s" % name)
        elif isinstance(value, (list, tuple)):
            out.extend("--%s=%s" % (name, item) for item in value)
        else:
            out.append("--%s=%s" % (name, value))
    return out


class FilterModule(object):
    def filters(self):
        return {"command_line_flags": command_line_flags}
