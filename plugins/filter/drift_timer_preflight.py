# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: drift_timer_preflight_errors
short_description: Every problem the drift_timer role's preflight finds in its variables
version_added: 0.1.0
description:
  - Checks the variables of the C(acgs.haproxy_stack.drift_timer) role (calendar expression, command, unit name,
    working directory; systemd-analyze's verdict) and returns one message per problem,
    each naming the variable and the fix. An empty list means the variables are good.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description:
      - "The role's variables, by name: V(drift_timer_on_calendar), V(drift_timer_command), V(drift_timer_unit_name),
        V(drift_timer_working_directory), V(_drift_timer_calendar)."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the drift_timer variables
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join(' ') }}"
    quiet: true
  vars:
    _errors: "{{ _drift_timer_preflight_input | acgs.haproxy_stack.drift_timer_preflight_errors }}"
"""

RETURN = r"""
_value:
  description: One message per problem, each naming the variable and how to fix it; empty when there is none.
  type: list
  elements: str
"""

import posixpath

from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._preflight import matches, run_rules, text

KEYS = ("drift_timer_on_calendar", "drift_timer_command", "drift_timer_unit_name", "drift_timer_working_directory",
        "_drift_timer_calendar", "drift_timer_install_ansible", "_drift_timer_release")

# The oldest ansible-core the collection runs on (meta/runtime.yml's requires_ansible).
ANSIBLE_CORE_NEEDED = (2, 19)


def settings(v):
    if (v["drift_timer_on_calendar"] and v["drift_timer_command"]
            and matches(r"^[A-Za-z0-9_.@-]+$", v["drift_timer_unit_name"])
            and posixpath.isabs(text(v["drift_timer_working_directory"]))):
        return []
    return ["drift_timer_on_calendar (a systemd calendar expression, e.g. hourly) and drift_timer_command (argv list) "
            "must be set, drift_timer_unit_name may only use letters, digits and _ . @ -, and "
            "drift_timer_working_directory must be an absolute path."]


def calendar(v):
    """systemd's own parser (systemd-analyze calendar, run by the preflight): its rc and stderr."""
    result = v["_drift_timer_calendar"] or {}
    if not v["drift_timer_on_calendar"] or result.get("rc", 0) == 0:
        return []
    return ['drift_timer_on_calendar "%s" is not a systemd calendar expression (%s): use e.g. hourly, daily, '
            '"*:0/15" or "Mon..Fri 06:00".' % (v["drift_timer_on_calendar"], text(result.get("stderr")).strip())]


def debian_ansible(v):
    """Debian's ansible-core (vars/<release>.yml) must be new enough to run the collection."""
    release = v["_drift_timer_release"] or {}
    version = text(release.get("version"))
    packaged = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    if not v["drift_timer_install_ansible"] or packaged >= ANSIBLE_CORE_NEEDED:
        return []
    return ["drift_timer_install_ansible: Debian %s's ansible-core is %s, older than the %s this collection needs: "
            "set drift_timer_install_ansible: false and install ansible-core >= %s in a virtualenv "
            "(drift_timer_command then runs its ansible-playbook), or use Debian 13 (trixie), whose package is new enough."
            % (text(release.get("debian")), version, ".".join(map(str, ANSIBLE_CORE_NEEDED)),
               ".".join(map(str, ANSIBLE_CORE_NEEDED)))]


def drift_timer_preflight_errors(variables):
    return run_rules("drift_timer_preflight_errors", variables, KEYS, (settings, calendar, debian_ansible))


class FilterModule(object):
    def filters(self):
        return {"drift_timer_preflight_errors": drift_timer_preflight_errors}
