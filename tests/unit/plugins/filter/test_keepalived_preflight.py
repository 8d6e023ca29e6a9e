# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The keepalived role's preflight rules (plugins/filter/keepalived_preflight.py), one table row per rule.

Every rule has at least one row whose input breaks it; each row gives the exact messages the
filter must return (the role defaults, one VIP and the password, with the row's overrides). The
valid input passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.acgs.haproxy_stack.plugins.filter import keepalived_preflight
from ansible_collections.acgs.haproxy_stack.plugins.filter.keepalived_preflight import keepalived_preflight_errors

ROLE = Path(__file__).resolve().parents[4] / "roles" / "keepalived"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
# What a user must add to the defaults (as inventories/example does); lb1 and lb2 have facts.
GIVEN = {"keepalived_vips": [{"address": "192.0.2.10", "virtual_router_id": 51}], "keepalived_auth_pass": "s3cret",
         "inventory_hostname": "lb1", "_keepalived_group_hosts": ["lb1", "lb2"], "_keepalived_address": "192.0.2.1",
         "_keepalived_peers": ["lb2"], "_keepalived_peer_addresses": ["192.0.2.2"]}
FACTS_INTERFACE = "eth0"


def variables(**overrides):
    """The filter's input as tasks/preflight.yml builds it: the defaults, GIVEN, then the overrides.

    _keepalived_instances is derived from keepalived_vips as vars/main.yml does it, unless the row
    gives it.
    """
    result = {key: DEFAULTS[key] for key in keepalived_preflight.KEYS if key in DEFAULTS}
    result.update(GIVEN)
    result.update(overrides)
    if "_keepalived_instances" not in overrides:
        interface = result.pop("keepalived_interface", DEFAULTS["keepalived_interface"]) or FACTS_INTERFACE
        result["_keepalived_instances"] = [
            {"name": vip.get("name", "VI_%s" % vip.get("virtual_router_id", index + 1)), "address": vip.get("address", ""),
             "prefix": vip.get("prefix", 32), "virtual_router_id": vip.get("virtual_router_id", 0),
             "interface": vip.get("interface", interface)}
            for index, vip in enumerate(result["keepalived_vips"])]
    return result


def vips(*entries):
    return {"keepalived_vips": list(entries)}


AUTH = ("keepalived_auth_pass must be 1-8 characters (VRRP PASS authentication); there is no default: "
        "set it (vault or a lookup).")
PRIORITY = ("keepalived_priority_base (%s, at most 254) and keepalived_priority_step (%s, at least 1) give the last host "
            "of keepalived priority %s: priorities must be 1-254.")
TIMINGS = "keepalived_advert_int must be 1-255 s and keepalived_preempt_delay 0-1000 s."
CHECK = ("keepalived_check_script must be a command; keepalived_check_interval, keepalived_check_timeout, "
         "keepalived_check_fall and keepalived_check_rise at least 1.")
UNIQUE = "keepalived_vips: virtual_router_id and name must be unique."
UNICAST = ("keepalived_unicast needs the addresses of lb1 and its peers (lb2) from facts (ansible_default_ipv4): "
           "gather network facts on keepalived_group (keepalived) earlier in the play.")
NO_INTERFACE = "no interface for 192.0.2.10: set keepalived_interface or gather facts (default IPv4 route)"

# (rule, row id, overrides, the messages, all of them, in order)
BAD = [
    ("auth_pass", "password_unset", {"keepalived_auth_pass": ""}, [AUTH]),
    ("auth_pass", "password_longer_than_8", {"keepalived_auth_pass": "123456789"}, [AUTH]),
    ("host_in_group", "host_outside_the_group", {"inventory_hostname": "lb3"},
     ["lb3 is not in keepalived_group (keepalived): the VRRP peers and priorities come from that group."]),
    ("vips_given", "no_vips", vips(), ["keepalived_vips is empty: give at least one {address, virtual_router_id}."]),
    ("vip_address", "address_not_ipv4", vips({"address": "300.1.1.1", "virtual_router_id": 51}),
     ["keepalived_vips: address '300.1.1.1' is not an IPv4 address."]),
    ("vip_address", "address_missing", vips({"virtual_router_id": 51}), ["keepalived_vips: address '' is not an IPv4 address."]),
    ("vip_prefix", "prefix_above_32", vips({"address": "192.0.2.10", "virtual_router_id": 51, "prefix": 33}),
     ["keepalived_vips: prefix 33 of 192.0.2.10 must be 1-32."]),
    ("vip_prefix", "prefix_zero", vips({"address": "192.0.2.10", "virtual_router_id": 51, "prefix": 0}),
     ["keepalived_vips: prefix 0 of 192.0.2.10 must be 1-32."]),
    ("vip_router_id", "router_id_zero", vips({"address": "192.0.2.10", "virtual_router_id": 0}),
     ["keepalived_vips: virtual_router_id 0 of 192.0.2.10 must be 1-255."]),
    ("vip_router_id", "router_id_above_255", vips({"address": "192.0.2.10", "virtual_router_id": 256}),
     ["keepalived_vips: virtual_router_id 256 of 192.0.2.10 must be 1-255."]),
    ("vip_router_id", "router_id_not_a_number", vips({"address": "192.0.2.10", "virtual_router_id": "x"}),
     ["keepalived_vips: virtual_router_id 'x' of 192.0.2.10 must be 1-255."]),
    ("vip_interface", "interface_empty", vips({"address": "192.0.2.10", "virtual_router_id": 51, "interface": ""}),
     ["keepalived_vips: %s." % NO_INTERFACE]),
    ("vips_unique", "router_id_twice", vips({"address": "192.0.2.10", "virtual_router_id": 51, "name": "a"},
                                            {"address": "192.0.2.11", "virtual_router_id": 51, "name": "b"}), [UNIQUE]),
    ("vips_unique", "name_twice", vips({"address": "192.0.2.10", "virtual_router_id": 51, "name": "a"},
                                       {"address": "192.0.2.11", "virtual_router_id": 52, "name": "a"}), [UNIQUE]),
    ("vips_unique", "name_as_the_default_of_another", vips({"address": "192.0.2.10", "virtual_router_id": 51},
                                                           {"address": "192.0.2.11", "virtual_router_id": 52, "name": "VI_51"}),
     [UNIQUE]),
    ("priorities", "base_above_254", {"keepalived_priority_base": 255}, [PRIORITY % (255, 10, 245)]),
    ("priorities", "step_zero", {"keepalived_priority_step": 0}, [PRIORITY % (150, 0, 150)]),
    ("priorities", "last_host_at_zero", {"keepalived_priority_base": 10}, [PRIORITY % (10, 10, 0)]),
    ("timings", "advert_int_zero", {"keepalived_advert_int": 0}, [TIMINGS]),
    ("timings", "advert_int_above_255", {"keepalived_advert_int": 256}, [TIMINGS]),
    ("timings", "preempt_delay_negative", {"keepalived_preempt_delay": -1}, [TIMINGS]),
    ("timings", "preempt_delay_above_1000", {"keepalived_preempt_delay": 1001}, [TIMINGS]),
    ("check", "check_script_blank", {"keepalived_check_script": "  "}, [CHECK]),
    ("check", "check_interval_zero", {"keepalived_check_interval": 0}, [CHECK]),
    ("check", "check_timeout_zero", {"keepalived_check_timeout": 0}, [CHECK]),
    ("check", "check_fall_zero", {"keepalived_check_fall": "0"}, [CHECK]),
    ("check", "check_rise_not_a_number", {"keepalived_check_rise": "x"}, [CHECK]),
    ("unicast_addresses", "no_facts_for_this_host", {"_keepalived_address": ""}, [UNICAST]),
    ("unicast_addresses", "no_facts_for_a_peer", {"_keepalived_peer_addresses": []}, [UNICAST]),
]

GOOD = {
    "given": {},
    "password_of_8": {"keepalived_auth_pass": "12345678"},
    "prefix_as_text": vips({"address": "192.0.2.10", "virtual_router_id": 51, "prefix": "24"}),
    "edges": vips({"address": "255.255.255.255", "virtual_router_id": 255, "prefix": 1},
                  {"address": "0.0.0.0", "virtual_router_id": 1, "prefix": 32}),
    "own_interface": {"keepalived_interface": "ens3"},
    "last_host_at_1": {"keepalived_priority_base": 11},
    "base_254": {"keepalived_priority_base": 254},
    "timings_at_their_limits": {"keepalived_advert_int": 255, "keepalived_preempt_delay": 1000},
    "multicast_needs_no_addresses": {"keepalived_unicast": False, "_keepalived_address": "", "_keepalived_peer_addresses": []},
    "single_host": {"_keepalived_group_hosts": ["lb1"], "_keepalived_peers": [], "_keepalived_peer_addresses": [],
                    "keepalived_priority_base": 1},
}


@pytest.mark.parametrize("rule, overrides, expected", [(r[0], r[2], r[3]) for r in BAD], ids=[r[1] for r in BAD])
def test_bad_input_gives_exactly_its_messages(rule, overrides, expected):
    assert keepalived_preflight_errors(variables(**overrides)) == expected


@pytest.mark.parametrize("overrides", list(GOOD.values()), ids=list(GOOD))
def test_good_input_gives_no_message(overrides):
    assert keepalived_preflight_errors(variables(**overrides)) == []


def test_the_defaults_lack_only_what_has_no_default():
    """The role defaults alone (no VIP, no password, as a new user starts): those two messages."""
    values = variables(keepalived_vips=[])
    del values["keepalived_auth_pass"]
    assert keepalived_preflight_errors(values) == [
        AUTH, "keepalived_vips is empty: give at least one {address, virtual_router_id}."]


def test_every_rule_has_a_failing_row():
    rules = {r.__name__ for r in keepalived_preflight.RULES + keepalived_preflight.VIP_RULES}
    assert {row[0] for row in BAD} == rules - {"vips_valid"}


def test_every_error_at_once_in_rule_order():
    bad_vips = [{"address": "x", "virtual_router_id": 0},
                {"address": "192.0.2.10", "virtual_router_id": 0, "prefix": 40, "interface": ""}]
    values = variables(keepalived_auth_pass="", inventory_hostname="lb3", keepalived_priority_step=0, keepalived_advert_int=0,
                       keepalived_check_rise=0, _keepalived_peer_addresses=[], keepalived_vips=bad_vips)
    assert keepalived_preflight_errors(values) == [
        AUTH,
        "lb3 is not in keepalived_group (keepalived): the VRRP peers and priorities come from that group.",
        "keepalived_vips: address 'x' is not an IPv4 address; virtual_router_id 0 of x must be 1-255; "
        "prefix 40 of 192.0.2.10 must be 1-32; virtual_router_id 0 of 192.0.2.10 must be 1-255; %s." % NO_INTERFACE,
        UNIQUE,
        PRIORITY % (150, 0, 150),
        TIMINGS,
        CHECK,
        UNICAST.replace("of lb1", "of lb3"),
    ]


def test_the_preflight_task_passes_every_key():
    tasks = yaml.safe_load((ROLE / "tasks" / "preflight.yml").read_text())
    asserts = [t for t in tasks if "ansible.builtin.assert" in t]
    assert len(asserts) == len(tasks) == 1, "tasks/preflight.yml must be one assert"
    passed = set(asserts[0]["vars"]["_keepalived_preflight_input"])
    assert passed == set(keepalived_preflight.KEYS) | {"keepalived_auth_pass"}


@pytest.mark.parametrize("value, message", [("lb1", "must be a dict"), ({"inventory_hostname": "lb1"}, "lacks keepalived_group")])
def test_input_that_is_not_the_variables_is_refused(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        keepalived_preflight_errors(value)


def test_the_filter_is_registered():
    assert keepalived_preflight.FilterModule().filters() == {"keepalived_preflight_errors": keepalived_preflight_errors}
