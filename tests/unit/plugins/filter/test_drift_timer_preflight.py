# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The drift_timer role's preflight rules (plugins/filter/drift_timer_preflight.py), with systemd-analyze's verdict
as the role registers it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.acgs.haproxy_stack.plugins.filter import drift_timer_preflight
from ansible_collections.acgs.haproxy_stack.plugins.filter.drift_timer_preflight import drift_timer_preflight_errors

DEFAULTS = yaml.safe_load((Path(__file__).resolve().parents[4] / "roles" / "drift_timer" / "defaults" / "main.yml").read_text())
SETTINGS = ("drift_timer_on_calendar (a systemd calendar expression, e.g. hourly) and drift_timer_command (argv list) "
            "must be set, drift_timer_unit_name may only use letters, digits and _ . @ -, and "
            "drift_timer_working_directory must be an absolute path.")
CALENDAR = ('drift_timer_on_calendar "every hour" is not a systemd calendar expression (Failed to parse calendar '
            'specification \'every hour\': Invalid argument): use e.g. hourly, daily, "*:0/15" or "Mon..Fri 06:00".')


def variables(**overrides):
    result = {key: DEFAULTS[key] for key in drift_timer_preflight.KEYS if key in DEFAULTS}
    result.update(drift_timer_command=["ansible-playbook", "drift_check.yml"], drift_timer_working_directory="/srv/stack",
                  _drift_timer_calendar={"rc": 0, "stderr": ""})
    result.update(overrides)
    return result


BAD_CALENDAR = {"drift_timer_on_calendar": "every hour",
                "_drift_timer_calendar": {"rc": 1, "stderr": "Failed to parse calendar specification 'every hour': Invalid argument\n"}}


@pytest.mark.parametrize("overrides, expected", [
    ({}, []),
    ({"drift_timer_on_calendar": "", "_drift_timer_calendar": {}}, [SETTINGS]),   # not run: nothing to parse
    ({"drift_timer_command": []}, [SETTINGS]),
    ({"drift_timer_unit_name": "drift check"}, [SETTINGS]),
    ({"drift_timer_working_directory": "srv/stack"}, [SETTINGS]),
    (BAD_CALENDAR, [CALENDAR]),
    (dict(BAD_CALENDAR, drift_timer_unit_name="a/b"), [SETTINGS, CALENDAR]),
], ids=["valid", "no_calendar", "no_command", "space_in_unit_name", "relative_directory", "systemd_refuses_calendar",
        "all_at_once"])
def test_rules(overrides, expected):
    assert drift_timer_preflight_errors(variables(**overrides)) == expected
