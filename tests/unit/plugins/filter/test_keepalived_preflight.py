# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The keepalived role's preflight rules (plugins/filter/keepalived_preflight.py), one table row per rule.

Every rule has at least one row whose input breaks it; each row gives the exact messages the
filter must return (the role defaults and one VIP, with the row's overrides). The valid input
passes. The defaults run VRRP 3, which takes no password; rows on VRRP 2 give the version, a
whole-second advert interval and the password (vrrp2()).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import Environment

from ansible.errors import AnsibleFilterError
from ansible_collections.acgs.haproxy_stack.plugins.filter import keepalived_preflight
from ansible_collections.acgs.haproxy_stack.plugins.filter.keepalived_preflight import keepalived_preflight_errors
from role_defaults import preflight_checks, role_defaults

ROLE = Path(__file__).resolve().parents[4] / "roles" / "keepalived"
DEFAULTS = role_defaults(ROLE.name)
# What a user must add to the defaults (a VIP; VRRP 3 needs no password); lb1 and lb2 have facts.
GIVEN = {"keepalived_vips": [{"address": "192.0.2.10", "virtual_router_id": 51}],
         "inventory_hostname": "lb1", "_keepalived_group_hosts": ["lb1", "lb2"], "_keepalived_address": "192.0.2.1",
         "_keepalived_peers": ["lb2"], "_keepalived_peer_addresses": ["192.0.2.2"]}
FACTS_INTERFACE = "eth0"


def variables(**overrides):
    """The filter's input as tasks/preflight.yml builds it: the defaults, GIVEN, then the overrides.

    A value naming the role's own variables (the default keepalived_check_script names the check
    endpoint) is rendered with the final values, as Ansible does. _keepalived_instances is derived
    from keepalived_vips as vars/main.yml does it, unless the row gives it.
    """
    result = {key: DEFAULTS[key] for key in keepalived_preflight.KEYS if key in DEFAULTS}
    result.update(GIVEN)
    result.update(overrides)
    for key, value in list(result.items()):
        if isinstance(value, str) and "{{" in value:
            result[key] = Environment().from_string(value).render(**result)
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


def vrrp2(**overrides):
    """VRRP 2 as a user sets it up: the version, whole-second adverts and the password, then the overrides."""
    return dict({"keepalived_vrrp_version": 2, "keepalived_advert_int": 1, "keepalived_auth_pass": "s3cret"}, **overrides)


def fast_check(**overrides):
    return {"keepalived_fast_check_" + key: value for key, value in overrides.items()}


def timings(advert, delay=0, version=3):
    advert_range = "whole seconds 1-255 with VRRP 2" if version == 2 else "0.01-40.95 s in steps of 0.01 with VRRP 3"
    return "keepalived_advert_int (%s) must be %s and keepalived_preempt_delay (%s) 0-1000 s." % (advert, advert_range, delay)


VERSION = "keepalived_vrrp_version must be 3 (sub-second adverts) or 2 (whole seconds, PASS authentication), not %r."
AUTH = ("keepalived_auth_pass must be 1-8 characters with keepalived_vrrp_version 2 (VRRP PASS authentication); "
        "there is no default: set it (vault or a lookup), or use VRRP 3.")
PRIORITY = ("keepalived_priority_base (%s, at most 254) and keepalived_priority_step (%s, at least 1) give the last host "
            "of keepalived priority %s: priorities must be 1-254.")
CHECK = ("keepalived_check_script must be a command; keepalived_check_interval, keepalived_check_timeout, "
         "keepalived_check_fall and keepalived_check_rise at least 1.")
FAST_CHECK = ("keepalived_fast_check_interval and keepalived_fast_check_timeout must be 0.01-10 s, keepalived_fast_check_fall "
              "and keepalived_fast_check_rise at least 1 (or keepalived_fast_check_enabled: false).")
PORT = "keepalived_check_port (%s) must be a port, 1-65535"
URI = "keepalived_check_uri (%r) must be a path starting with / of letters, digits and ._~/-"
TRACK = ("keepalived_track_process (%r) must be a process name as the kernel shows it (at most 15 characters, no spaces), "
         "such as haproxy, or \"\" to turn process tracking off.")
RESTART = "keepalived_restart_sec (%s) must be more than 0 and at most 60 s."
UNIQUE = "keepalived_vips: virtual_router_id and name must be unique."
NO_VIPS = "keepalived_vips is empty: give at least one {address, virtual_router_id}."
UNICAST = ("keepalived_unicast needs the addresses of lb1 and its peers (lb2) from facts (ansible_default_ipv4): "
           "gather network facts on keepalived_group (keepalived) earlier in the play.")
NO_INTERFACE = "no interface for 192.0.2.10: set keepalived_interface or gather facts (default IPv4 route)"

# (rule, row id, overrides, the messages, all of them, in order)
BAD = [
    ("vrrp_version", "vrrp_version_4", {"keepalived_vrrp_version": 4}, [VERSION % 4]),
    ("vrrp_version", "vrrp_version_empty", {"keepalived_vrrp_version": ""}, [VERSION % ""]),
    ("auth_pass", "password_unset_with_vrrp_2", vrrp2(keepalived_auth_pass=""), [AUTH]),
    ("auth_pass", "password_longer_than_8_with_vrrp_2", vrrp2(keepalived_auth_pass="123456789"), [AUTH]),
    ("auth_pass", "password_unset_with_vrrp_2_as_text", vrrp2(keepalived_vrrp_version="2", keepalived_auth_pass=""), [AUTH]),
    ("host_in_group", "host_outside_the_group", {"inventory_hostname": "lb3"},
     ["lb3 is not in keepalived_group (keepalived): the VRRP peers and priorities come from that group."]),
    ("vips_given", "no_vips", vips(), [NO_VIPS]),
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
    # VRRP 3 (the default): 0.01-40.95 s in hundredths.
    ("timings", "vrrp_3_advert_int_zero", {"keepalived_advert_int": 0}, [timings(0)]),
    ("timings", "vrrp_3_advert_int_below_a_hundredth", {"keepalived_advert_int": 0.001}, [timings(0.001)]),
    ("timings", "vrrp_3_advert_int_in_thousandths", {"keepalived_advert_int": 0.333}, [timings(0.333)]),
    ("timings", "vrrp_3_advert_int_above_40_95", {"keepalived_advert_int": 41}, [timings(41)]),
    ("timings", "vrrp_3_advert_int_just_above_40_95", {"keepalived_advert_int": 40.96}, [timings(40.96)]),
    ("timings", "vrrp_3_advert_int_negative", {"keepalived_advert_int": -1}, [timings(-1)]),
    ("timings", "vrrp_3_advert_int_not_a_number", {"keepalived_advert_int": "x"}, [timings("x")]),
    # VRRP 2: whole seconds 1-255.
    ("timings", "vrrp_2_advert_int_fraction", vrrp2(keepalived_advert_int=0.5), [timings(0.5, version=2)]),
    ("timings", "vrrp_2_advert_int_zero", vrrp2(keepalived_advert_int=0), [timings(0, version=2)]),
    ("timings", "vrrp_2_advert_int_above_255", vrrp2(keepalived_advert_int=256), [timings(256, version=2)]),
    ("timings", "vrrp_2_advert_int_default", vrrp2(keepalived_advert_int=DEFAULTS["keepalived_advert_int"]),
     [timings(DEFAULTS["keepalived_advert_int"], version=2)]),
    ("timings", "preempt_delay_negative", {"keepalived_preempt_delay": -1}, [timings(0.2, -1)]),
    ("timings", "preempt_delay_above_1000", {"keepalived_preempt_delay": 1001}, [timings(0.2, 1001)]),
    ("check", "check_script_blank", {"keepalived_check_script": "  "}, [CHECK]),
    ("check", "check_interval_zero", {"keepalived_check_interval": 0}, [CHECK]),
    ("check", "check_timeout_zero", {"keepalived_check_timeout": 0}, [CHECK]),
    ("check", "check_fall_zero", {"keepalived_check_fall": "0"}, [CHECK]),
    ("check", "check_rise_not_a_number", {"keepalived_check_rise": "x"}, [CHECK]),
    ("fast_check", "fast_check_interval_zero", fast_check(interval=0), [FAST_CHECK]),
    ("fast_check", "fast_check_interval_below_a_hundredth", fast_check(interval=0.009), [FAST_CHECK]),
    ("fast_check", "fast_check_interval_above_10", fast_check(interval=10.01), [FAST_CHECK]),
    ("fast_check", "fast_check_interval_not_a_number", fast_check(interval="x"), [FAST_CHECK]),
    ("fast_check", "fast_check_interval_a_bool", fast_check(interval=True), [FAST_CHECK]),
    ("fast_check", "fast_check_timeout_zero", fast_check(timeout=0), [FAST_CHECK]),
    ("fast_check", "fast_check_timeout_above_10", fast_check(timeout=11), [FAST_CHECK]),
    ("fast_check", "fast_check_fall_zero", fast_check(fall=0), [FAST_CHECK]),
    ("fast_check", "fast_check_rise_not_a_number", fast_check(rise="x"), [FAST_CHECK]),
    ("check_endpoint", "check_port_zero", {"keepalived_check_port": 0}, [PORT % 0 + "."]),
    ("check_endpoint", "check_port_above_65535", {"keepalived_check_port": 65536}, [PORT % 65536 + "."]),
    ("check_endpoint", "check_port_not_a_number", {"keepalived_check_port": "x"}, [PORT % "x" + "."]),
    ("check_endpoint", "check_uri_relative", {"keepalived_check_uri": "healthz"}, [URI % "healthz" + "."]),
    ("check_endpoint", "check_uri_with_a_space", {"keepalived_check_uri": "/health z"}, [URI % "/health z" + "."]),
    ("check_endpoint", "check_uri_empty", {"keepalived_check_uri": ""}, [URI % "" + "."]),
    # Unit files (%) and HAProxy's configuration (#) read these; a newline would end the ExecStart line.
    ("check_endpoint", "check_uri_percent", {"keepalived_check_uri": "/health%z"}, [URI % "/health%z" + "."]),
    ("check_endpoint", "check_uri_hash", {"keepalived_check_uri": "/health#z"}, [URI % "/health#z" + "."]),
    ("check_endpoint", "check_uri_newline", {"keepalived_check_uri": "/healthz\n"}, [URI % "/healthz\n" + "."]),
    ("check_endpoint", "check_port_and_uri", {"keepalived_check_port": 0, "keepalived_check_uri": "x"},
     ["%s; %s." % (PORT % 0, URI % "x")]),
    ("track_process", "track_process_of_16_characters", {"keepalived_track_process": "haproxy-worker-1"},
     [TRACK % "haproxy-worker-1"]),
    ("track_process", "track_process_with_a_space", {"keepalived_track_process": "ha proxy"}, [TRACK % "ha proxy"]),
    ("track_process", "track_process_a_path", {"keepalived_track_process": "/usr/sbin/haproxy"}, [TRACK % "/usr/sbin/haproxy"]),
    ("restart_sec", "restart_sec_zero", {"keepalived_restart_sec": 0}, [RESTART % 0]),
    ("restart_sec", "restart_sec_negative", {"keepalived_restart_sec": -1}, [RESTART % -1]),
    ("restart_sec", "restart_sec_above_60", {"keepalived_restart_sec": 60.5}, [RESTART % 60.5]),
    ("restart_sec", "restart_sec_not_a_number", {"keepalived_restart_sec": "x"}, [RESTART % "x"]),
    ("unicast_addresses", "no_facts_for_this_host", {"_keepalived_address": ""}, [UNICAST]),
    ("unicast_addresses", "no_facts_for_a_peer", {"_keepalived_peer_addresses": []}, [UNICAST]),
]

GOOD = {
    "given": {},
    "vrrp_3_needs_no_password": {"keepalived_vrrp_version": 3, "keepalived_auth_pass": ""},
    "vrrp_3_ignores_a_long_password": {"keepalived_auth_pass": "123456789"},
    "vrrp_version_as_text": {"keepalived_vrrp_version": "3"},
    "vrrp_2_with_password": vrrp2(),
    "vrrp_2_password_of_8": vrrp2(keepalived_auth_pass="12345678"),
    "vrrp_2_password_of_1": vrrp2(keepalived_auth_pass="x"),
    "prefix_as_text": vips({"address": "192.0.2.10", "virtual_router_id": 51, "prefix": "24"}),
    "edges": vips({"address": "255.255.255.255", "virtual_router_id": 255, "prefix": 1},
                  {"address": "0.0.0.0", "virtual_router_id": 1, "prefix": 32}),
    "own_interface": {"keepalived_interface": "ens3"},
    "last_host_at_1": {"keepalived_priority_base": 11},
    "base_254": {"keepalived_priority_base": 254},
    "vrrp_3_advert_int_lowest": {"keepalived_advert_int": 0.01},
    "vrrp_3_advert_int_highest": {"keepalived_advert_int": 40.95, "keepalived_preempt_delay": 1000},
    "vrrp_3_advert_int_whole": {"keepalived_advert_int": 1},
    "vrrp_3_advert_int_as_text": {"keepalived_advert_int": "0.25"},
    "vrrp_2_advert_int_lowest": vrrp2(keepalived_advert_int=1),
    "vrrp_2_advert_int_highest": vrrp2(keepalived_advert_int=255, keepalived_preempt_delay=1000),
    "fast_check_at_its_lowest": fast_check(interval=0.01, timeout=0.01, fall=1, rise=1),
    "fast_check_at_its_highest": fast_check(interval=10, timeout=10),
    "fast_check_as_text": fast_check(interval="0.5", timeout="1", fall="2", rise="2"),
    "fast_check_disabled_skips_its_rule": fast_check(enabled=False, interval=0, timeout="x", fall=0, rise=0),
    "check_endpoint_lowest": {"keepalived_check_port": 1, "keepalived_check_uri": "/"},
    "check_endpoint_highest": {"keepalived_check_port": 65535, "keepalived_check_uri": "/a/b.c-d_e~f"},
    "check_port_as_text": {"keepalived_check_port": "8405"},
    "track_process_off": {"keepalived_track_process": ""},
    "track_process_of_15_characters": {"keepalived_track_process": "haproxy-worker1"},
    "restart_sec_highest": {"keepalived_restart_sec": 60},
    "restart_sec_small": {"keepalived_restart_sec": 0.01},
    "restart_sec_as_text": {"keepalived_restart_sec": "2"},
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


@pytest.mark.parametrize("message", sorted({m for row in BAD for m in row[3]}))
def test_each_message_names_a_variable(message):
    """A user reads the message and knows what to change: every one names a variable of the role."""
    public = {key for key in keepalived_preflight.KEYS if key.startswith("keepalived_")}
    assert set(re.findall(r"\bkeepalived_[a-z_]+[a-z]", message)) & public, message


def test_the_defaults_lack_only_what_has_no_default():
    """The role defaults alone (no VIP, no password, as a new user starts): VRRP 3 needs no password, so only the VIPs."""
    values = variables(keepalived_vips=[])
    assert "keepalived_auth_pass" not in values
    assert values["keepalived_check_script"].endswith(" http://127.0.0.1:8405/healthz")
    assert keepalived_preflight_errors(values) == [NO_VIPS]


def test_vrrp_2_on_the_defaults_asks_for_the_password_and_whole_seconds():
    """Switching the defaults to VRRP 2: the password (none by default) and an advert interval in whole seconds."""
    values = variables(keepalived_vips=[], keepalived_vrrp_version=2)
    assert keepalived_preflight_errors(values) == [AUTH, NO_VIPS, timings(DEFAULTS["keepalived_advert_int"], version=2)]


def test_every_rule_has_a_failing_row():
    rules = {r.__name__ for r in keepalived_preflight.RULES + keepalived_preflight.VIP_RULES}
    assert {row[0] for row in BAD} == rules - {"vips_valid"}


# A bad version turns the password off (only VRRP 2 has one): VRRP 2 shows the password, another
# version its own message, and the advert interval is checked as VRRP 3's.
@pytest.mark.parametrize("version, first, advert", [(2, AUTH, timings(0, version=2)), (4, VERSION % 4, timings(0))],
                         ids=["vrrp_2", "bad_version"])
def test_every_error_at_once_in_rule_order(version, first, advert):
    bad_vips = [{"address": "x", "virtual_router_id": 0},
                {"address": "192.0.2.10", "virtual_router_id": 0, "prefix": 40, "interface": ""}]
    values = variables(keepalived_vrrp_version=version, keepalived_auth_pass="", inventory_hostname="lb3",
                       keepalived_priority_step=0, keepalived_advert_int=0, keepalived_check_rise=0,
                       keepalived_fast_check_rise=0, keepalived_check_port=0, keepalived_check_uri="x",
                       keepalived_track_process="ha proxy", keepalived_restart_sec=0, _keepalived_peer_addresses=[],
                       keepalived_vips=bad_vips)
    assert keepalived_preflight_errors(values) == [
        first,
        "lb3 is not in keepalived_group (keepalived): the VRRP peers and priorities come from that group.",
        "keepalived_vips: address 'x' is not an IPv4 address; virtual_router_id 0 of x must be 1-255; "
        "prefix 40 of 192.0.2.10 must be 1-32; virtual_router_id 0 of 192.0.2.10 must be 1-255; %s." % NO_INTERFACE,
        UNIQUE,
        PRIORITY % (150, 0, 150),
        advert,
        CHECK,
        FAST_CHECK,
        "%s; %s." % (PORT % 0, URI % "x"),
        TRACK % "ha proxy",
        RESTART % 0,
        UNICAST.replace("of lb1", "of lb3"),
    ]


def test_the_preflight_task_passes_every_key():
    tasks = preflight_checks("keepalived")
    asserts = [t for t in tasks if "ansible.builtin.assert" in t]
    assert len(asserts) == len(tasks) == 1, "tasks/preflight.yml must be one assert"
    passed = set(asserts[0]["vars"]["_keepalived_preflight_input"])
    assert passed == set(keepalived_preflight.KEYS) | {"keepalived_auth_pass"}


def test_every_public_key_has_a_default():
    """Only the derived variables (vars/main.yml, facts) and inventory_hostname come from elsewhere."""
    public = {key for key in keepalived_preflight.KEYS if key.startswith("keepalived_")}
    assert public - set(DEFAULTS) == set()


@pytest.mark.parametrize("value, message", [
    ("lb1", "must be a dict"),
    ({"inventory_hostname": "lb1"},
     "lacks " + re.escape(", ".join(key for key in keepalived_preflight.KEYS if key != "inventory_hostname")) + "$"),
])
def test_input_that_is_not_the_variables_is_refused(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        keepalived_preflight_errors(value)


def test_the_filter_is_registered():
    assert keepalived_preflight.FilterModule().filters() == {"keepalived_preflight_errors": keepalived_preflight_errors}
