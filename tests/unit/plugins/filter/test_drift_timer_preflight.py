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


RELEASES = {release: yaml.safe_load((Path(__file__).resolve().parents[4] / "roles" / "drift_timer" / "vars" / (release + ".yml"))
                                    .read_text())["_drift_timer_release"] for release in ("bookworm", "trixie")}
OLD_ANSIBLE = ("drift_timer_install_ansible: Debian 12's ansible-core is 2.14, older than the 2.19 this collection needs: "
               "set drift_timer_install_ansible: false and install ansible-core >= 2.19 in a virtualenv "
               "(drift_timer_command then runs its ansible-playbook), or use Debian 13 (trixie), whose package is new enough.")


def variables(**overrides):
    result = {key: DEFAULTS[key] for key in drift_timer_preflight.KEYS if key in DEFAULTS}
    result.update(drift_timer_command=["ansible-playbook", "drift_check.yml"], drift_timer_working_directory="/srv/stack",
                  _drift_timer_calendar={"rc": 0, "stderr": ""}, _drift_timer_release=RELEASES["bookworm"])
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
    ({"drift_timer_install_ansible": True}, [OLD_ANSIBLE]),
    ({"drift_timer_install_ansible": True, "_drift_timer_release": RELEASES["trixie"]}, []),
    ({"drift_timer_install_ansible": False, "_drift_timer_release": RELEASES["bookworm"]}, []),
], ids=["valid", "no_calendar", "no_command", "space_in_unit_name", "relative_directory", "systemd_refuses_calendar",
        "all_at_once", "debian_ansible_too_old", "debian_ansible_new_enough", "debian_ansible_not_installed"])
def test_rules(overrides, expected):
    assert drift_timer_preflight_errors(variables(**overrides)) == expected
