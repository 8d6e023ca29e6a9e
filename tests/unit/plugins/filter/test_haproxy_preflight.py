# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The haproxy role's preflight rules (plugins/filter/haproxy_preflight.py), one table row per rule.

Every rule has at least one row whose input breaks it; each row gives the exact messages the
filter must return (the role defaults with the row's overrides). The role defaults pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.acgs.haproxy_stack.plugins.filter import haproxy_preflight
from ansible_collections.acgs.haproxy_stack.plugins.filter.haproxy_preflight import haproxy_preflight_errors

ROLE = Path(__file__).resolve().parents[4] / "roles" / "haproxy"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
BACKEND_BASE = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_haproxy_backend_base"]
# What _haproxy_group_servers gives for a backends group of two hosts with facts.
GROUP_SERVERS = [{"name": "app1", "address": "192.0.2.1"}, {"name": "app2", "address": "192.0.2.2"}]
GOOD_CERT = {"exists": True, "readable": True, "isreg": True}


def variables(**overrides):
    """The filter's input as tasks/preflight.yml builds it: the role defaults, then the overrides.

    haproxy_backends then haproxy_backends_extra, haproxy_backend_defaults and servers (the group's) are
    merged over the built-in backend settings as vars/main.yml's _haproxy_backends does.
    """
    backends = overrides.pop("haproxy_backends", DEFAULTS["haproxy_backends"])
    extra = overrides.get("haproxy_backends_extra", DEFAULTS["haproxy_backends_extra"])
    backend_defaults = overrides.pop("haproxy_backend_defaults", DEFAULTS["haproxy_backend_defaults"])
    servers = overrides.pop("servers", GROUP_SERVERS)
    result = {key: DEFAULTS[key] for key in haproxy_preflight.KEYS if key in DEFAULTS}
    result.update(haproxy_stats_password="s3cretStatsPassw0rd", _haproxy_tls_stat={},
                  _haproxy_backends=[{**BACKEND_BASE, "servers": servers, **backend_defaults, **b} for b in backends + extra])
    result.update(overrides)
    return result


def web(**backend):
    """One backend, web on port 8000 with the route / unless the row says otherwise."""
    backend = dict({"name": "web", "port": 8000, "path_prefix": "/"}, **backend)
    return {"haproxy_backends": [backend]}


RP = {"name": "rp_backend", "port": 8007, "path_prefix": "/api/v1/rp/"}


TLS = {"haproxy_tls_enabled": True, "haproxy_tls_certificate": "/etc/haproxy/certs/lb.pem", "_haproxy_tls_stat": GOOD_CERT}
W = "haproxy_backends[0] (web)"
PORT_RANGE = ": use a TCP port from 1 to 65535."
BALANCES = "use roundrobin, static-rr, leastconn, first, source, random, uri, url_param, hdr(...), rdp-cookie or hash."
NO_ADDRESS = " has no address: gather facts on it (ansible_default_ipv4) or set its address."
SERVER_NAME = " needs a name of letters, digits, _ . : -"
RATE = ("haproxy_rate_limit_requests (%s) and haproxy_rate_limit_period (%s) must be 1 or more: "
        "to turn rate limiting off set haproxy_rate_limit_enabled: false.")
LIMITS = "haproxy_maxconn and haproxy_frontend_maxconn must be 1 or more, haproxy_nbthread 0 (automatic) or more."
NO_PASSWORD = "haproxy_stats_password is not set: set it (e.g. in vault-encrypted group_vars); there is no default password."
STATS_USER = "haproxy_stats_user must be non-empty without spaces, colons or quotes."
MISSING_CERT = "haproxy_tls_certificate /etc/haproxy/certs/lb.pem is missing or unreadable on %s: fix the path or its permissions."

# (rule, row id, overrides of the role defaults, the messages, all of them, in order)
BAD = [
    ("listener_ports_in_range", "http_port_above_65535", {"haproxy_http_port": 70000},
     ["haproxy_http_port is 70000" + PORT_RANGE]),
    ("listener_ports_in_range", "http_port_not_a_number", {"haproxy_http_port": "eighty"},
     ["haproxy_http_port is eighty" + PORT_RANGE]),
    ("listener_ports_in_range", "https_port_zero_with_tls", dict(TLS, haproxy_https_port=0),
     ["haproxy_https_port is 0" + PORT_RANGE]),
    ("listener_ports_in_range", "stats_port_negative", {"haproxy_stats_port": -1},
     ["haproxy_stats_port is -1" + PORT_RANGE]),
    ("listener_ports_in_range", "runtime_tcp_port_above_65535", {"haproxy_runtime_tcp_port": 70000},
     ["haproxy_runtime_tcp_port is 70000" + PORT_RANGE]),
    ("listener_ports_unique", "stats_on_the_http_port", {"haproxy_stats_port": 80},
     ["Port 80 is used by haproxy_http_port and haproxy_stats_port: give each listener its own port."]),
    ("listener_ports_unique", "stats_port_as_text", {"haproxy_stats_port": "80"},
     ["Port 80 is used by haproxy_http_port and haproxy_stats_port: give each listener its own port."]),
    ("listener_ports_unique", "runtime_on_the_https_port", dict(TLS, haproxy_runtime_tcp_port=443),
     ["Port 443 is used by haproxy_https_port and haproxy_runtime_tcp_port: give each listener its own port."]),
    ("listener_ports_unique", "three_on_one_port", {"haproxy_stats_port": 80, "haproxy_runtime_tcp_port": 80},
     ["Port 80 is used by haproxy_http_port and haproxy_stats_port and haproxy_runtime_tcp_port: "
      "give each listener its own port."]),
    ("backend_names_unique", "backend_twice",
     {"haproxy_backends": [{"name": "auth_backend", "port": 8000}, {"name": "auth_backend", "port": 8100}], "haproxy_routes": []},
     ["haproxy_backends defines auth_backend more than once: backend names must be unique."]),
    ("backend_names_unique", "extra_backend_twice", {"haproxy_backends_extra": [RP, dict(RP, path_prefix="/rp/")]},
     ["haproxy_backends_extra defines rp_backend more than once: backend names must be unique."]),
    ("backend_names_unique", "extra_backend_named_as_a_seed",
     {"haproxy_backends_extra": [{"name": "auth_backend", "port": 8100}]},
     ["haproxy_backends_extra defines auth_backend, which haproxy_backends defines already: give the new backend "
      "another name, or change the existing one in haproxy_backends."]),
    ("backend_name", "backend_name_with_space", web(name="we b"),
     ["haproxy_backends[0] (we b): name may only use letters, digits, _ . : -"]),
    ("backend_port", "backend_port_zero", web(port=0), [W + ": port 0 must be 1-65535."]),
    ("backend_port", "extra_backend_port_unset", {"haproxy_backends_extra": [{"name": "rp_backend"}]},
     ["haproxy_backends_extra[0] (rp_backend): port (unset) must be 1-65535."]),
    ("backend_routes", "path_prefix_and_routes", web(routes=["/a/", "/b/"]),
     [W + ": set path_prefix (one route) or routes (a list of prefixes), not both."]),
    ("backend_routes", "routes_not_a_list", web(path_prefix=None, routes="/a/"),
     [W + ": routes must be a list of path prefixes, got /a/."]),
    ("backend_port", "backend_port_unset", {"haproxy_backends": [{"name": "web"}], "haproxy_routes": []},
     [W + ": port (unset) must be 1-65535."]),
    ("backend_balance", "unknown_balance", {"haproxy_backend_defaults": {"balance": "fastest"}, **web()},
     [W + ': unknown balance algorithm "fastest": ' + BALANCES]),
    ("backend_affinity", "unknown_affinity", web(affinity="sticky"),
     [W + ': affinity "sticky" must be cookie, stick or none.']),
    ("backend_timeouts", "timeout_server_negative", web(timeout_server=-5),
     [W + ": timeout_server is -5: timeouts are positive numbers of seconds."]),
    ("backend_timeouts", "timeout_check_zero", web(timeout_check=0),
     [W + ": timeout_check is 0: timeouts are positive numbers of seconds."]),
    ("backend_timeouts", "health_interval_not_a_number", web(health_interval="abc"),
     [W + ": health_interval is abc: timeouts are positive numbers of seconds."]),
    ("backend_counts", "slowstart_negative", web(slowstart=-1), [W + ": slowstart is -1: use 0 or more seconds."]),
    ("backend_counts", "health_rise_zero", web(health_rise=0), [W + ": health_rise is 0: use 1 or more."]),
    ("backend_counts", "health_fall_zero", web(health_fall="0"), [W + ": health_fall is 0: use 1 or more."]),
    ("backend_counts", "error_limit_zero", web(error_limit=0), [W + ": error_limit is 0: use 1 or more."]),
    ("backend_has_servers", "group_without_hosts", dict(web(), servers=[], haproxy_backend_servers_group="no_such_group"),
     [W + ": no servers: put hosts in the group no_such_group (haproxy_backend_servers_group) or list servers on the backend."]),
    ("server_address", "group_host_without_facts", dict(web(), servers=[{"name": "app3", "address": ""}]),
     [W + ": server app3" + NO_ADDRESS]),
    ("server_address", "listed_server_without_address", web(servers=[{"name": "s1"}]), [W + ": server s1" + NO_ADDRESS]),
    ("server_name", "server_name_with_space", web(servers=[{"name": "app one", "address": "192.0.2.10"}]),
     [W + ": server app one" + SERVER_NAME]),
    ("server_name", "server_without_name", web(servers=[{"address": "192.0.2.10"}]), [W + ": server 0" + SERVER_NAME]),
    ("server_port", "server_port_above_65535", web(servers=[{"name": "s1", "address": "192.0.2.10", "port": 70000}]),
     [W + ": server s1 port 70000 must be 1-65535."]),
    ("server_names_unique", "server_twice",
     web(servers=[{"name": "s1", "address": "192.0.2.10"}, {"name": "s1", "address": "192.0.2.11"}]),
     [W + ": server names must be unique, got s1, s1"]),
    ("route_backends_defined", "route_to_undefined_backend",
     {"haproxy_routes": [{"path_prefix": "/x/", "backend": "nope_backend"}]},
     ["haproxy_routes: /x/ routes to nope_backend, which haproxy_backends does not define: add the backend or fix the route."]),
    ("route_prefixes", "backend_prefix_without_slash", web(path_prefix="api"),
     [W + ': path_prefix "api" must start with / and contain no spaces.']),
    ("route_prefixes", "extra_backend_route_with_space",
     {"haproxy_backends_extra": [dict(RP, path_prefix=None, routes=["/rp/", "/r p/"])]},
     ['haproxy_backends_extra[0] (rp_backend): path_prefix "/r p/" must start with / and contain no spaces.']),
    ("route_prefixes_unique", "extra_backend_on_a_seed_prefix", {"haproxy_backends_extra": [dict(RP, path_prefix="/api/v1/ac/")]},
     ['path_prefix "/api/v1/ac/" is routed more than once, by haproxy_backends[1] (ac_backend) and '
      'haproxy_backends_extra[0] (rp_backend): only the first would ever match, give each route its own prefix.']),
    ("route_prefixes_unique", "extra_route_on_a_seed_prefix",
     {"haproxy_backends_extra": [dict(RP, path_prefix=None)],
      "haproxy_routes": [{"path_prefix": "/api/v1/gs/", "backend": "rp_backend"}]},
     ['path_prefix "/api/v1/gs/" is routed more than once, by haproxy_backends[4] (gs_backend) and haproxy_routes: '
      'only the first would ever match, give each route its own prefix.']),
    ("route_prefixes_unique", "one_backend_twice_the_same_prefix", web(path_prefix=None, routes=["/a/", "/a/"]),
     ['path_prefix "/a/" is routed more than once, by %s and %s: only the first would ever match, '
      'give each route its own prefix.' % (W, W)]),
    ("route_prefixes", "prefix_without_slash", {"haproxy_routes": [{"path_prefix": "api v1", "backend": "auth_backend"}]},
     ['haproxy_routes: path_prefix "api v1" must start with / and contain no spaces.']),
    ("route_prefixes", "prefix_with_space", {"haproxy_routes": [{"path_prefix": "/api v1", "backend": "auth_backend"}]},
     ['haproxy_routes: path_prefix "/api v1" must start with / and contain no spaces.']),
    ("default_backend_defined", "default_backend_undefined", {"haproxy_default_backend": "nope_backend"},
     ['haproxy_default_backend is nope_backend, which haproxy_backends does not define: add it or set "".']),
    ("stats_password", "password_empty", {"haproxy_stats_password": ""}, [NO_PASSWORD]),
    ("stats_password", "password_with_quote", {"haproxy_stats_password": "it's"},
     ["haproxy_stats_password contains a single quote ('): choose a password without it."]),
    ("stats_user", "user_with_colon", {"haproxy_stats_user": "ad:min"}, [STATS_USER]),
    ("stats_user", "user_empty", {"haproxy_stats_user": ""}, [STATS_USER]),
    ("stats_user", "user_with_space", {"haproxy_stats_user": "ad min"}, [STATS_USER]),
    ("rate_limit", "requests_zero", {"haproxy_rate_limit_requests": 0}, [RATE % (0, 10)]),
    ("rate_limit", "period_zero", {"haproxy_rate_limit_period": 0}, [RATE % (20, 0)]),
    ("process_limits", "maxconn_zero", {"haproxy_maxconn": 0}, [LIMITS]),
    ("process_limits", "frontend_maxconn_zero", {"haproxy_frontend_maxconn": 0}, [LIMITS]),
    ("process_limits", "nbthread_negative", {"haproxy_nbthread": -2}, [LIMITS]),
    ("tls_certificate", "certificate_unset", {"haproxy_tls_enabled": True},
     ["haproxy_tls_enabled is true but haproxy_tls_certificate is empty: set it to a PEM file (certificate chain + key)."]),
    ("tls_certificate", "certificate_missing_on_the_control_node", dict(TLS, _haproxy_tls_stat={"exists": False}),
     [MISSING_CERT % "the control node"]),
    ("tls_certificate", "certificate_is_a_directory_on_the_host",
     dict(TLS, haproxy_tls_certificate_on_host=True, _haproxy_tls_stat={"exists": True, "readable": True, "isreg": False}),
     [MISSING_CERT % "the host"]),
    ("tls_certificate", "certificate_unreadable", dict(TLS, _haproxy_tls_stat={"exists": True, "readable": False, "isreg": True}),
     [MISSING_CERT % "the control node"]),
    ("deb_file", "deb_without_file", {"haproxy_install_source": "deb"},
     ["haproxy_install_source is deb but haproxy_deb_file is empty: set it to a .deb path on the control node."]),
    ("apt_mirror", "mirror_without_uris", {"haproxy_install_source": "mirror", "haproxy_apt_mirror": {"suites": "bookworm"}},
     ["haproxy_install_source is mirror but haproxy_apt_mirror.uris is empty: "
      "set haproxy_apt_mirror (uris, suites, components, signed_by)."]),
    ("apt_mirror", "mirror_with_empty_uris", {"haproxy_install_source": "mirror", "haproxy_apt_mirror": {"uris": []}},
     ["haproxy_install_source is mirror but haproxy_apt_mirror.uris is empty: "
      "set haproxy_apt_mirror (uris, suites, components, signed_by)."]),
]

# Inputs near the rules that must pass: what is off is not checked, edge values are allowed.
GOOD = {
    "defaults": {},
    "https_port_unchecked_without_tls": {"haproxy_https_port": 0},
    "stats_unchecked_when_off": {"haproxy_stats_enabled": False, "haproxy_stats_port": 80, "haproxy_stats_user": "a b",
                                 "haproxy_stats_password": ""},
    "no_password_key_when_stats_off": {"haproxy_stats_enabled": False, "haproxy_stats_password": None},
    "runtime_tcp_port_zero_is_off": {"haproxy_runtime_tcp_port": 0},
    "rate_limit_unchecked_when_off": {"haproxy_rate_limit_enabled": False, "haproxy_rate_limit_requests": 0},
    "tls_with_a_readable_file": TLS,
    "nbthread_zero_is_automatic": {"haproxy_nbthread": 0},
    "slowstart_zero": web(slowstart=0),
    "balance_variants": {"haproxy_backends": [{"name": n, "port": 8000 + i, "balance": b} for i, (n, b) in enumerate(
        [("a", "random(2)"), ("b", "uri whole"), ("c", "url_param id check_post"), ("d", "rdp-cookie"), ("e", "hash path"),
         ("f", "hdr(host)"), ("g", "static-rr")])], "haproxy_routes": []},
    "an_eighth_backend_as_one_extra_entry": {"haproxy_backends_extra": [RP]},
    "extra_backend_with_several_routes": {"haproxy_backends_extra": [dict(RP, path_prefix=None, routes=["/rp/", "/r/"])]},
    "extra_backend_without_a_route": {"haproxy_backends_extra": [dict(RP, path_prefix=None)]},
    "extra_route_to_a_backend_without_prefix": {"haproxy_backends_extra": [dict(RP, path_prefix=None)],
                                                "haproxy_routes": [{"path_prefix": "/rp/", "backend": "rp_backend"}]},
    # An inventory written when routes were their own list: haproxy_routes restates the seven routes.
    "routes_restated_in_haproxy_routes": {"haproxy_routes": [
        {"path_prefix": b["path_prefix"], "backend": b["name"]} for b in DEFAULTS["haproxy_backends"]]},
    "old_style_backends_without_prefixes": {
        "haproxy_backends": [{k: v for k, v in b.items() if k != "path_prefix"} for b in DEFAULTS["haproxy_backends"]],
        "haproxy_routes": [{"path_prefix": b["path_prefix"], "backend": b["name"]} for b in DEFAULTS["haproxy_backends"]]},
    "server_inherits_backend_port": web(servers=[{"name": "s1", "address": "192.0.2.10"}]),
    "default_backend_defined": {"haproxy_default_backend": "auth_backend"},
    "deb_with_file": {"haproxy_install_source": "deb", "haproxy_deb_file": "files/haproxy.deb"},
    "mirror_with_uris": {"haproxy_install_source": "mirror", "haproxy_apt_mirror": {"uris": "http://mirror.internal/debian"}},
}


def _input(overrides):
    overrides = dict(overrides)
    result = variables(**overrides)
    if overrides.get("haproxy_stats_password", "") is None:
        del result["haproxy_stats_password"]
    return result


@pytest.mark.parametrize("rule, overrides, expected", [(r[0], r[2], r[3]) for r in BAD], ids=[r[1] for r in BAD])
def test_bad_input_gives_exactly_its_messages(rule, overrides, expected):
    assert haproxy_preflight_errors(_input(overrides)) == expected


@pytest.mark.parametrize("overrides", list(GOOD.values()), ids=list(GOOD))
def test_good_input_gives_no_message(overrides):
    assert haproxy_preflight_errors(_input(overrides)) == []


def test_a_missing_stats_password_is_not_set():
    values = variables()
    del values["haproxy_stats_password"]
    assert haproxy_preflight_errors(values) == [NO_PASSWORD]


def test_every_rule_has_a_failing_row():
    rules = {r.__name__ for r in haproxy_preflight.RULES + haproxy_preflight.BACKEND_RULES + haproxy_preflight.SERVER_RULES}
    dispatchers = {"backends", "servers"}
    assert {row[0] for row in BAD} == rules - dispatchers


def test_every_error_at_once_in_rule_order():
    """Rows of different rules together: all their messages, listeners first, install source last."""
    rows = ["http_port_above_65535", "mirror_without_uris", "prefix_without_slash",
            "user_with_colon", "maxconn_zero", "certificate_unset", "password_with_quote", "period_zero",
            "default_backend_undefined"]
    by_id = {row[1]: row for row in BAD}
    overrides = {}
    for row_id in rows:
        overrides.update(by_id[row_id][2])
    errors = haproxy_preflight_errors(_input(overrides))
    assert errors == [
        "haproxy_http_port is 70000" + PORT_RANGE,
        'haproxy_routes: path_prefix "api v1" must start with / and contain no spaces.',
        'haproxy_default_backend is nope_backend, which haproxy_backends does not define: add it or set "".',
        "haproxy_stats_password contains a single quote ('): choose a password without it.",
        STATS_USER,
        RATE % (20, 0),
        LIMITS,
        "haproxy_tls_enabled is true but haproxy_tls_certificate is empty: set it to a PEM file (certificate chain + key).",
        "haproxy_install_source is mirror but haproxy_apt_mirror.uris is empty: "
        "set haproxy_apt_mirror (uris, suites, components, signed_by).",
    ]


def test_each_backend_and_server_in_turn():
    overrides = {"haproxy_backends": [{"name": "a", "port": 0, "servers": [{"name": "x y", "address": ""}]},
                                      {"name": "b", "port": 1, "affinity": "sticky"}], "haproxy_routes": []}
    assert haproxy_preflight_errors(_input(overrides)) == [
        "haproxy_backends[0] (a): port 0 must be 1-65535.",
        "haproxy_backends[0] (a): server x y" + NO_ADDRESS,
        "haproxy_backends[0] (a): server x y" + SERVER_NAME,
        'haproxy_backends[1] (b): affinity "sticky" must be cookie, stick or none.',
    ]


def test_the_seed_backends_each_get_their_message():
    errors = haproxy_preflight_errors(_input({"haproxy_backend_servers_group": "no_such_group", "servers": []}))
    assert [e.split(":")[0] for e in errors] == ["haproxy_backends[%d] (%s)" % (i, b["name"])
                                                 for i, b in enumerate(DEFAULTS["haproxy_backends"])]


def test_the_preflight_task_passes_every_key():
    tasks = yaml.safe_load((ROLE / "tasks" / "preflight.yml").read_text())
    asserts = [t for t in tasks if "ansible.builtin.assert" in t]
    assert len(asserts) == 1, "tasks/preflight.yml must have one assert"
    passed = set(asserts[0]["vars"]["_haproxy_preflight_input"])
    assert passed == set(haproxy_preflight.KEYS) | {"haproxy_stats_password"}


@pytest.mark.parametrize("value, message", [(["a"], "must be a dict"), ({"haproxy_http_port": 80}, "lacks haproxy_https_port")])
def test_input_that_is_not_the_variables_is_refused(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        haproxy_preflight_errors(value)


def test_the_filter_is_registered():
    assert haproxy_preflight.FilterModule().filters() == {"haproxy_preflight_errors": haproxy_preflight_errors}
