# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The haproxy_exporter role's preflight rules (plugins/filter/haproxy_exporter_preflight.py)."""

from __future__ import annotations

import pytest

from ansible_collections.acgs.haproxy_stack.plugins.filter.haproxy_exporter_preflight import haproxy_exporter_preflight_errors

TAKEN = [80, 443, 8404]
PORT = ("haproxy_exporter_port must be a free TCP port from 1 to 65535 (HAProxy already uses 80, 443, 8404), got %s; "
        "haproxy_exporter_metrics_path must start with /, got %s.")
NOT_INSTALLED = ("HAProxy's /etc/haproxy/conf.d is missing on this host: run the acgs.haproxy_stack.haproxy role before "
                 "haproxy_exporter (site.yml and playbooks/haproxy.yml do).")


def variables(**overrides):
    result = {"haproxy_exporter_port": 9101, "haproxy_exporter_metrics_path": "/metrics",
              "_haproxy_exporter_taken_ports": TAKEN, "_haproxy_exporter_haproxy_installed": True}
    result.update(overrides)
    return result


@pytest.mark.parametrize("overrides, expected", [
    ({}, []),
    ({"haproxy_exporter_port": 8404}, [PORT % (8404, "/metrics")]),
    ({"haproxy_exporter_port": "443"}, [PORT % ("443", "/metrics")]),
    ({"haproxy_exporter_port": 0}, [PORT % (0, "/metrics")]),
    ({"haproxy_exporter_port": 65536}, [PORT % (65536, "/metrics")]),
    ({"haproxy_exporter_metrics_path": "metrics"}, [PORT % (9101, "metrics")]),
    ({"haproxy_exporter_metrics_path": "/my metrics"}, [PORT % (9101, "/my metrics")]),
    ({"_haproxy_exporter_haproxy_installed": False}, [NOT_INSTALLED]),
    ({"haproxy_exporter_port": 80, "_haproxy_exporter_haproxy_installed": False}, [PORT % (80, "/metrics"), NOT_INSTALLED]),
], ids=["valid", "stats_port", "https_port_as_text", "zero", "too_big", "relative_path", "space_in_path",
        "haproxy_not_installed", "all_at_once"])
def test_rules(overrides, expected):
    assert haproxy_exporter_preflight_errors(variables(**overrides)) == expected
