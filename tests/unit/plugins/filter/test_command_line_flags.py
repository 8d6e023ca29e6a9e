# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one <role>_flags shape (plugins/filter/command_line_flags.py)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.acgs.haproxy_stack.plugins.filter.command_line_flags import command_line_flags


@pytest.mark.parametrize("flags, negate, expected", [
    ({}, True, []),
    ({"web.enable-admin-api": True}, True, ["--web.enable-admin-api"]),
    ({"collector.wifi": False}, True, ["--no-collector.wifi"]),
    ({"log-detail": False}, False, []),                                   # keepalived: no --no-x form
    ({"config.file": "/etc/x.yml", "storage.tsdb.retention.size": None}, True, ["--config.file=/etc/x.yml"]),
    ({"cluster.listen-address": ""}, True, ["--cluster.listen-address="]),  # empty turns a listener off
    ({"cluster.peer": ["a:9094", "b:9094"]}, True, ["--cluster.peer=a:9094", "--cluster.peer=b:9094"]),
    ({"web.listen-address": ":9100", "collector.textfile.directory": "/var/lib/x", "a": 1}, True,
     ["--a=1", "--collector.textfile.directory=/var/lib/x", "--web.listen-address=:9100"]),   # sorted by name
], ids=["none", "true", "false_negated", "false_dropped", "null_removes", "empty_value", "list_repeats", "sorted"])
def test_flags(flags, negate, expected):
    assert command_line_flags(flags, negate) == expected


@pytest.mark.parametrize("flags, message", [
    (["--x"], "must be a dict"),
    ({"--web.listen-address": ":1"}, "without leading dashes"),
])
def test_bad_input_names_the_fix(flags, message):
    with pytest.raises(AnsibleFilterError, match=message):
        command_line_flags(flags)
