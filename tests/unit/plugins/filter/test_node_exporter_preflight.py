# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node_exporter role's preflight rules (plugins/filter/node_exporter_preflight.py): the role defaults pass,
each row breaks one rule and gets the exact message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.acgs.haproxy_stack.plugins.filter import node_exporter_preflight
from ansible_collections.acgs.haproxy_stack.plugins.filter.node_exporter_preflight import node_exporter_preflight_errors

DEFAULTS = yaml.safe_load((Path(__file__).resolve().parents[4] / "roles" / "node_exporter" / "defaults" / "main.yml").read_text())
MESSAGE = ('node_exporter_listen_address must be "[host]:port" with a port 1-65535 (got %s), '
           "node_exporter_textfile_directory an absolute path (got %s), and node_exporter_flags keys flag names "
           "without leading dashes (got %s).")


def variables(**overrides):
    result = {key: DEFAULTS[key] for key in node_exporter_preflight.KEYS}
    result.update(overrides)
    return result


@pytest.mark.parametrize("overrides", [{}, {"node_exporter_listen_address": "[::1]:9100"},
                                       {"node_exporter_listen_address": "10.0.0.1:9100",
                                        "node_exporter_flags": {"collector.systemd": True, "collector.wifi": False}}],
                         ids=["defaults", "ipv6", "address_and_flags"])
def test_valid_input_passes(overrides):
    assert node_exporter_preflight_errors(variables(**overrides)) == []


@pytest.mark.parametrize("overrides, got", [
    ({"node_exporter_listen_address": "9100"}, ("9100", None, [])),
    ({"node_exporter_listen_address": ":70000"}, (":70000", None, [])),
    ({"node_exporter_listen_address": ":0"}, (":0", None, [])),
    ({"node_exporter_textfile_directory": "var/lib/x"}, (None, "var/lib/x", [])),
    ({"node_exporter_flags": {"--collector.systemd": True}}, (None, None, ["--collector.systemd"])),
], ids=["no_port", "port_too_big", "port_zero", "relative_directory", "dashed_flag"])
def test_each_rule_names_the_variable_and_the_fix(overrides, got):
    given = variables(**overrides)
    address, directory, flags = got
    expected = MESSAGE % (address or given["node_exporter_listen_address"],
                          directory or given["node_exporter_textfile_directory"], flags)
    assert node_exporter_preflight_errors(given) == [expected]


def test_input_must_hold_every_key():
    with pytest.raises(AnsibleFilterError, match="lacks node_exporter_flags"):
        node_exporter_preflight_errors({"node_exporter_listen_address": ":9100", "node_exporter_textfile_directory": "/x"})
