# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The demo_app role's preflight rule (plugins/filter/demo_app_preflight.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.acgs.haproxy_stack.plugins.filter.demo_app_preflight import demo_app_preflight_errors

SEEDS = yaml.safe_load((Path(__file__).resolve().parents[4] / "roles" / "demo_app" / "defaults" / "main.yml").read_text())["demo_app_services"]


@pytest.mark.parametrize("services, valid", [
    (SEEDS, True),
    ({"rp": "8007"}, True),
    ({}, False),
    ({"auth": 8000, "ac": 8000}, False),
    ({"auth": 0}, False),
    ({"auth": 70000}, False),
    ({"Auth": 8000}, False),
    ({"auth": "http"}, False),
], ids=["seeds", "port_as_text", "empty", "same_port", "port_zero", "port_too_big", "upper_case_name", "port_not_a_number"])
def test_services(services, valid):
    expected = [] if valid else [
        "demo_app_services must map lower-case service names to distinct ports 1-65535, got %s." % services]
    assert demo_app_preflight_errors({"demo_app_services": services}) == expected
