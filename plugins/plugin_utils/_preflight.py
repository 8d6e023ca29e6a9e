# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared by the roles' preflight filters (plugins/filter/*_preflight.py); private to the
acgs.haproxy_stack collection (hence the leading underscore).

The helpers read values the way the Jinja the rules replaced did (int, match, unique), so the
messages stay what the roles said before; run_rules is the one entry point: check the input,
run every rule in order, return all their messages at once."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError


def to_int(value, default=0):
    """An integer as Jinja's int filter makes it: "42.5" is 42, what cannot be converted is default."""
    try:
        if isinstance(value, str):
            return int(value, 10)
        return int(value)
    except (TypeError, ValueError, OverflowError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return default


def to_float(value, default=0.0):
    """A number as Jinja's float filter makes it: what cannot be converted is default."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return default


def matches(pattern, value):
    """As Ansible's match test: the value as text, matched at its start."""
    return re.match(pattern, str(value)) is not None


def unique(values):
    """As Ansible's unique filter: first occurrences, strings compared without case."""
    seen, out = set(), []
    for value in values:
        key = value.lower() if isinstance(value, str) else value
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def readable(stat):
    """A stat result (the stat module's dict; None or {} when nothing was looked at) of a readable regular file."""
    stat = stat or {}
    return bool(stat.get("exists", False) and stat.get("readable", False) and stat.get("isreg", False))


def text(value):
    """A value as text, None as empty."""
    return "" if value is None else str(value)


def run_rules(filter_name, variables, keys, rules):
    """Every rule's messages, in order; the input must be a dict holding every key the rules read."""
    if not isinstance(variables, dict):
        raise AnsibleFilterError("%s: the input must be a dict of the role's variables, got %s"
                                 % (filter_name, type(variables).__name__))
    missing = [key for key in keys if key not in variables]
    if missing:
        raise AnsibleFilterError("%s: the input lacks %s" % (filter_name, ", ".join(missing)))
    errors = []
    for rule in rules:
        errors.extend(rule(variables))
    return errors
