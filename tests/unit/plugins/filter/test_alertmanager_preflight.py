# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The alertmanager role's preflight rules (plugins/filter/alertmanager_preflight.py), one table row per rule.

Every rule has at least one row whose input breaks it; each row gives the exact messages the filter
must return (the role defaults with the row's overrides). The defaults pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from role_defaults import role_defaults
from ansible_collections.acgs.haproxy_stack.plugins.filter import alertmanager_preflight
from ansible_collections.acgs.haproxy_stack.plugins.filter.alertmanager_preflight import alertmanager_preflight_errors

ROLE = Path(__file__).resolve().parents[4] / "roles" / "alertmanager"
DEFAULTS = role_defaults(ROLE.name)
WATCHDOG = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_alertmanager_watchdog_receiver_name"]


def variables(**overrides):
    """The filter's input as tasks/preflight.yml builds it: the role defaults (no auth) with the two receivers its
    routing tree names (a user must give receivers, as inventories/example does), then the overrides."""
    result = {key: DEFAULTS[key] for key in alertmanager_preflight.KEYS if key in DEFAULTS}
    result.update(alertmanager_receivers=BOTH, alertmanager_web_username="", alertmanager_web_password="",
                  _alertmanager_watchdog_receiver_name=WATCHDOG)
    result.update(overrides)
    return result


def receivers_message(unknown, defined):
    return ("alertmanager_route refers to receiver(s) %s that alertmanager_receivers does not define (defined: %s). "
            "Every receiver needs a unique name, alertmanager_route needs a top-level receiver, and every receiver "
            "named in alertmanager_route must be in alertmanager_receivers (%s is the role's own, for Watchdog: "
            "use another name)." % (unknown, defined, WATCHDOG))


AUTH = ("Set both alertmanager_web_username and alertmanager_web_password (basic auth on), or neither (no auth); "
        "the username cannot contain ':'. A password that comes from an undefined variable (e.g. "
        "vault_alertmanager_password without the vault file) counts as unset.")
SWITCH = ("alertmanager_deadmans_switch_url must be empty or an http(s) URL (the webhook of a dead-man's-switch "
          "service), and alertmanager_deadmans_switch_interval a duration such as 1m (it is %s).")
ROUTE = {"receiver": "default", "routes": [{"receiver": "pager", "matchers": ['severity="critical"']}]}
BOTH = [{"name": "default"}, {"name": "pager"}]

CASES = [
    ("no_receivers", {"alertmanager_receivers": []}, [receivers_message(["default", "pager"], [])]),
    ("receiver_without_name", {"alertmanager_receivers": [{"name": "default"}, {"webhook_configs": []}, {"name": "pager"}]},
     [receivers_message([], ["default", "?", "pager"])]),
    ("duplicate_names", {"alertmanager_receivers": [{"name": "default"}, {"name": "default"}, {"name": "pager"}]},
     [receivers_message([], ["default", "default", "pager"])]),
    ("route_without_receiver", {"alertmanager_route": {"group_by": ["alertname"]}}, [receivers_message([], ["default", "pager"])]),
    ("nested_unknown_receiver", {"alertmanager_route": {"receiver": "default", "routes": [
        {"receiver": "pager", "routes": [{"receiver": "oncall"}]}]}}, [receivers_message(["oncall"], ["default", "pager"])]),
    ("watchdog_name_taken", {"alertmanager_receivers": BOTH + [{"name": WATCHDOG}]},
     [receivers_message([], ["default", "pager", WATCHDOG])]),
    ("password_without_user", {"alertmanager_web_password": "s3cret"}, [AUTH]),
    ("user_without_password", {"alertmanager_web_username": "alertmanager"}, [AUTH]),
    ("colon_in_user", {"alertmanager_web_username": "a:b", "alertmanager_web_password": "s3cret"}, [AUTH]),
    ("port_out_of_range", {"alertmanager_port": 70000},
     ["alertmanager_port (70000) and alertmanager_cluster_port (9094) must be different ports between 1 and 65535."]),
    ("same_ports", {"alertmanager_cluster_port": 9093},
     ["alertmanager_port (9093) and alertmanager_cluster_port (9093) must be different ports between 1 and 65535."]),
    ("port_not_a_number", {"alertmanager_port": "http"},
     ["alertmanager_port (http) and alertmanager_cluster_port (9094) must be different ports between 1 and 65535."]),
    ("switch_not_a_url", {"alertmanager_deadmans_switch_url": "hc-ping.com/1234"}, [SWITCH % "1m"]),
    ("switch_from_undefined_variable", {"alertmanager_deadmans_switch_url": None},
     ["alertmanager_deadmans_switch_url comes from an undefined variable (e.g. vault_alertmanager_deadmans_switch_url "
      "without the vault file): define it, or set it to \"\" for no dead-man's-switch."]),
    ("switch_bad_interval", {"alertmanager_deadmans_switch_interval": "1 minute"}, [SWITCH % "1 minute"]),
    ("all_at_once", {"alertmanager_receivers": [], "alertmanager_web_password": "x", "alertmanager_port": 0,
                     "alertmanager_deadmans_switch_url": "ftp://x"},
     [receivers_message(["default", "pager"], []), AUTH,
      "alertmanager_port (0) and alertmanager_cluster_port (9094) must be different ports between 1 and 65535.",
      SWITCH % "1m"]),
]


@pytest.mark.parametrize("overrides, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_names_the_variable_and_the_fix(overrides, expected):
    assert alertmanager_preflight_errors(variables(**overrides)) == expected


@pytest.mark.parametrize("overrides", [
    {},
    {"alertmanager_web_username": "alertmanager", "alertmanager_web_password": "s3cret"},
    {"alertmanager_deadmans_switch_url": "https://hc-ping.com/1234", "alertmanager_deadmans_switch_interval": "1m30s"},
], ids=["defaults", "basic_auth", "deadmans_switch"])
def test_valid_input_passes(overrides):
    assert alertmanager_preflight_errors(variables(**overrides)) == []


def test_the_defaults_route_only_to_defined_receivers():
    assert DEFAULTS["alertmanager_route"]["receiver"] == "default"
    assert alertmanager_preflight.route_receivers(ROUTE) == ["default", "pager"]


def test_input_must_hold_every_key():
    with pytest.raises(AnsibleFilterError, match="lacks alertmanager_port"):
        alertmanager_preflight_errors({k: v for k, v in variables().items() if k != "alertmanager_port"})
