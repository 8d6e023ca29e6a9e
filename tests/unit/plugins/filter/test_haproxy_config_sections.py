# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""haproxy.cfg's sections (plugins/filter/haproxy_config_sections.py) and the backends they are built from
(plugins/filter/haproxy_backend_list.py), one table row per case.

The input is the role's: its defaults and built-in settings, with each row's overrides. The real render, checked
by haproxy -c, is in tests/local/test_haproxy_config.py.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.acgs.haproxy_stack.plugins.filter import haproxy_backend_list as backend_list_module
from ansible_collections.acgs.haproxy_stack.plugins.filter import haproxy_config_sections as module
from ansible_collections.acgs.haproxy_stack.plugins.filter.haproxy_backend_list import haproxy_backend_list
from ansible_collections.acgs.haproxy_stack.plugins.filter.haproxy_config_sections import (
    backend_lines, directive_lines, frontend_lines, haproxy_config_sections, server_line,
)
from ansible_collections.acgs.haproxy_stack.plugins.filter.haproxy_route_list import haproxy_route_list

ROLE = Path(__file__).resolve().parents[4] / "roles" / "haproxy"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
BACKEND_BASE = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_haproxy_backend_base"]
HOSTVARS = {"app1": {"ansible_default_ipv4": {"address": "192.0.2.1"}},
            "app2": {"ansible_default_ipv4": {"address": "192.0.2.2"}},
            "nofacts": {}}
CERT = "/etc/haproxy/certs/haproxy.pem"
WEB = {"name": "web", "port": 8000, "path_prefix": "/"}


def backends(*entries, backend_defaults=None, group=("app1", "app2")):
    return haproxy_backend_list(list(entries), settings=BACKEND_BASE, defaults=backend_defaults or {},
                                group_hosts=list(group), hostvars=HOSTVARS)


def variables(**overrides):
    """The filter's input as vars/main.yml builds it: the role defaults, then the overrides;
    the backends (haproxy_backends) merged over the built-in settings, their routes derived."""
    entries = overrides.pop("haproxy_backends", [WEB])
    routes = overrides.pop("haproxy_routes", DEFAULTS["haproxy_routes"])
    result = {key: DEFAULTS[key] for key in module.KEYS if key in DEFAULTS}
    result.update(_haproxy_global={"maxconn": 4096}, _haproxy_defaults={"mode": "http"}, _haproxy_tls_cert_path=CERT,
                  _haproxy_backends=backends(*entries))
    result.update(overrides)
    result.setdefault("_haproxy_routes", haproxy_route_list(result["_haproxy_backends"], routes))
    return result


def by_header(sections):
    return {s["header"]: s["lines"] for s in sections}


# --- global and defaults ----------------------------------------------------------------------

DIRECTIVES = [
    ("text_value", {"chroot": "/var/lib/haproxy"}, ["chroot /var/lib/haproxy"]),
    ("number_value", {"maxconn": 4096}, ["maxconn 4096"]),
    ("true_is_the_bare_key", {"daemon": True}, ["daemon"]),
    ("false_is_dropped", {"daemon": False}, []),
    ("none_is_dropped", {"nbthread": None, "maxconn": 10}, ["maxconn 10"]),
    ("zero_is_a_value", {"retries": 0}, ["retries 0"]),
    ("list_one_line_each_in_its_order", {"option": ["httplog", "forwardfor", "redispatch 1"]},
     ["option httplog", "option forwardfor", "option redispatch 1"]),
    ("list_drops_none_and_false_elements", {"log": ["/dev/log local0", None, False, True]}, ["log /dev/log local0", "log"]),
    ("empty_list_writes_nothing", {"errorfile": []}, []),
    ("dictsort_order_ignoring_case", {"timeout server": "30s", "Maxconn": 10, "log": "global", "chroot": "/x"},
     ["chroot /x", "log global", "Maxconn 10", "timeout server 30s"]),
    ("space_in_key", {"stats socket": "/run/haproxy/admin.sock mode 660"}, ["stats socket /run/haproxy/admin.sock mode 660"]),
    ("nothing", {}, []),
]


@pytest.mark.parametrize("directives, expected", [r[1:] for r in DIRECTIVES], ids=[r[0] for r in DIRECTIVES])
def test_directive_lines(directives, expected):
    assert directive_lines(directives) == expected


def test_global_and_defaults_are_the_first_sections():
    sections = haproxy_config_sections(variables(_haproxy_global={"user": "haproxy", "group": "haproxy"},
                                                 _haproxy_defaults={"retries": 3, "mode": "http"}))
    assert sections[0] == {"header": "global", "lines": ["group haproxy", "user haproxy"]}
    assert sections[1] == {"header": "defaults", "lines": ["mode http", "retries 3"]}


# --- the main frontend ------------------------------------------------------------------------

RATE_COMMENT = "# Rate limit: more than 20 requests in 10s from one address get 429."
RATE_LINES = [RATE_COMMENT, "stick-table type ip size 100k expire 30s store http_req_rate(10s)",
              "http-request track-sc0 src", "http-request deny deny_status 429 if { sc_http_req_rate(0) gt 20 }"]
RETRY_LINES = ["# Only GET and HEAD are replayed after the request reached a server (retry-on empty-response).",
               "http-request disable-l7-retry if !METH_GET !METH_HEAD"]
TLS_LINES = ["bind *:443 ssl crt %s alpn h2,http/1.1" % CERT,
             "http-request set-header X-Forwarded-Proto https if { ssl_fc }"]
REDIRECT = "http-request redirect scheme https code 301 unless { ssl_fc }"

# (row id, overrides, the frontend's lines, exactly)
FRONTENDS = [
    ("role_defaults", {},
     ["bind *:80", "maxconn 4000"] + RETRY_LINES + RATE_LINES
     + ["use_backend web if { path_beg / }", "default_backend no_route"]),
    ("tls", {"haproxy_tls_enabled": True, "haproxy_rate_limit_enabled": False, "haproxy_retry_idempotent": False},
     ["bind *:80"] + TLS_LINES + ["maxconn 4000", "use_backend web if { path_beg / }", "default_backend no_route"]),
    ("tls_redirect", {"haproxy_tls_enabled": True, "haproxy_tls_redirect": True, "haproxy_rate_limit_enabled": False,
                      "haproxy_retry_idempotent": False},
     ["bind *:80"] + TLS_LINES + [REDIRECT, "maxconn 4000", "use_backend web if { path_beg / }", "default_backend no_route"]),
    ("redirect_needs_tls", {"haproxy_tls_redirect": True, "haproxy_rate_limit_enabled": False, "haproxy_retry_idempotent": False},
     ["bind *:80", "maxconn 4000", "use_backend web if { path_beg / }", "default_backend no_route"]),
    ("bind_address_ports_maxconn", {"haproxy_bind_address": "10.0.0.5", "haproxy_http_port": 8080, "haproxy_https_port": 8443,
                                    "haproxy_tls_enabled": True, "_haproxy_tls_cert_path": "/etc/lb.pem",
                                    "haproxy_frontend_maxconn": 100, "haproxy_rate_limit_enabled": False,
                                    "haproxy_retry_idempotent": False},
     ["bind 10.0.0.5:8080", "bind 10.0.0.5:8443 ssl crt /etc/lb.pem alpn h2,http/1.1", TLS_LINES[1], "maxconn 100",
      "use_backend web if { path_beg / }", "default_backend no_route"]),
    ("no_retry_no_rate_limit", {"haproxy_retry_idempotent": False, "haproxy_rate_limit_enabled": False},
     ["bind *:80", "maxconn 4000", "use_backend web if { path_beg / }", "default_backend no_route"]),
    ("rate_limit_exempt", {"haproxy_retry_idempotent": False, "haproxy_rate_limit_exempt": ["10.0.0.1", "192.168.0.0/16"]},
     ["bind *:80", "maxconn 4000", RATE_COMMENT, RATE_LINES[1], "acl rate_limit_exempt src 10.0.0.1 192.168.0.0/16",
      "http-request track-sc0 src if !rate_limit_exempt", RATE_LINES[3],
      "use_backend web if { path_beg / }", "default_backend no_route"]),
    ("rate_limit_period_as_text", {"haproxy_retry_idempotent": False, "haproxy_rate_limit_requests": 55,
                                   "haproxy_rate_limit_period": "7"},
     ["bind *:80", "maxconn 4000", "# Rate limit: more than 55 requests in 7s from one address get 429.",
      "stick-table type ip size 100k expire 21s store http_req_rate(7s)", "http-request track-sc0 src",
      "http-request deny deny_status 429 if { sc_http_req_rate(0) gt 55 }",
      "use_backend web if { path_beg / }", "default_backend no_route"]),
    ("extra_lines_before_the_routes", {"haproxy_retry_idempotent": False, "haproxy_rate_limit_enabled": False,
                                       "haproxy_frontend_extra": ["capture request header Host len 64", "option http-keep-alive"]},
     ["bind *:80", "maxconn 4000", "capture request header Host len 64", "option http-keep-alive",
      "use_backend web if { path_beg / }", "default_backend no_route"]),
    ("routes_in_order_default_backend", {"haproxy_retry_idempotent": False, "haproxy_rate_limit_enabled": False,
                                         "haproxy_backends": [{"name": "web", "port": 80, "routes": ["/b/", "/a/"]},
                                                              {"name": "api", "port": 81, "path_prefix": "/api/"}],
                                         "haproxy_routes": [{"path_prefix": "/", "backend": "web"}],
                                         "haproxy_default_backend": "web"},
     ["bind *:80", "maxconn 4000", "use_backend api if { path_beg /api/ }", "use_backend web if { path_beg / }",
      "default_backend web"]),
    ("no_routes", {"haproxy_retry_idempotent": False, "haproxy_rate_limit_enabled": False,
                   "haproxy_backends": [{"name": "web", "port": 80}], "haproxy_default_backend": "web"},
     ["bind *:80", "maxconn 4000", "default_backend web"]),
]


@pytest.mark.parametrize("overrides, expected", [r[1:] for r in FRONTENDS], ids=[r[0] for r in FRONTENDS])
def test_frontend(overrides, expected):
    sections = haproxy_config_sections(variables(**overrides))
    assert sections[2]["header"] == "frontend acgs_frontend"
    assert sections[2]["lines"] == expected
    assert frontend_lines(variables(**overrides)) == expected


def test_frontend_name():
    assert haproxy_config_sections(variables(haproxy_frontend_name="main"))[2]["header"] == "frontend main"


# (row id, default backend, the headers after the frontend)
DEFAULT_BACKENDS = [
    ("no_default_backend_answers_404", "", ["backend web", "backend no_route"]),
    ("a_default_backend_needs_no_404_backend", "web", ["backend web"]),
]


@pytest.mark.parametrize("default_backend, headers", [r[1:] for r in DEFAULT_BACKENDS], ids=[r[0] for r in DEFAULT_BACKENDS])
def test_default_backend_or_no_route(default_backend, headers):
    sections = haproxy_config_sections(variables(haproxy_default_backend=default_backend))
    assert [s["header"] for s in sections[3:]] == headers
    assert sections[2]["lines"][-1] == "default_backend " + (default_backend or "no_route")
    if not default_backend:
        assert sections[-1]["lines"] == ['http-request return status 404 content-type text/plain string "no route\\n"']


# --- backends -----------------------------------------------------------------------------------

CHECKS = ["balance roundrobin", "option httpchk GET /health", "http-check expect status 200",
          "timeout server 30s", "timeout check 3s"]
COOKIE = "cookie SERVERID insert indirect nocache httponly maxidle 30m"
DEFAULT_SERVER = "default-server check inter 3s fastinter 1s rise 2 fall 3 slowstart 30s"
BREAKER = " observe layer7 error-limit 10 on-error mark-down"

# (row id, the backend entry, haproxy_backend_defaults, its lines, exactly)
BACKENDS = [
    ("built_in_settings_cookie_affinity", WEB, {},
     CHECKS + [COOKIE, DEFAULT_SERVER + BREAKER, "server app1 192.0.2.1:8000 cookie app1",
               "server app2 192.0.2.2:8000 cookie app2"]),
    ("stick_affinity", dict(WEB, affinity="stick", affinity_expire="10m"), {},
     CHECKS + ["stick-table type ip size 100k expire 10m", "stick on src", DEFAULT_SERVER + BREAKER,
               "server app1 192.0.2.1:8000", "server app2 192.0.2.2:8000"]),
    ("no_affinity", dict(WEB, affinity="none"), {},
     CHECKS + [DEFAULT_SERVER + BREAKER, "server app1 192.0.2.1:8000", "server app2 192.0.2.2:8000"]),
    ("circuit_breaker_off", dict(WEB, circuit_breaker=False, affinity="none"), {},
     CHECKS + [DEFAULT_SERVER, "server app1 192.0.2.1:8000", "server app2 192.0.2.2:8000"]),
    ("backend_defaults_under_the_backend", dict(WEB, timeout_server=45),
     {"affinity": "stick", "balance": "leastconn", "timeout_server": 60, "error_limit": 5},
     ["balance leastconn", "option httpchk GET /health", "http-check expect status 200", "timeout server 45s",
      "timeout check 3s", "stick-table type ip size 100k expire 30m", "stick on src",
      DEFAULT_SERVER + " observe layer7 error-limit 5 on-error mark-down",
      "server app1 192.0.2.1:8000", "server app2 192.0.2.2:8000"]),
    ("health_settings", dict(WEB, affinity="none", circuit_breaker=False, health_path="/ok", health_interval=1,
                             health_rise=3, health_fall=4, slowstart=0, timeout_check=1, timeout_server=5),
     {},
     ["balance roundrobin", "option httpchk GET /ok", "http-check expect status 200", "timeout server 5s",
      "timeout check 1s", "default-server check inter 1s fastinter 1s rise 3 fall 4 slowstart 0s",
      "server app1 192.0.2.1:8000", "server app2 192.0.2.2:8000"]),
    ("extra_lines_before_the_servers", dict(WEB, affinity="none", extra=["option http-keep-alive", "retries 5"]), {},
     CHECKS + [DEFAULT_SERVER + BREAKER, "option http-keep-alive", "retries 5",
               "server app1 192.0.2.1:8000", "server app2 192.0.2.2:8000"]),
    ("own_servers", dict(WEB, affinity_cookie="LB", affinity_expire="2h",
                         servers=[{"name": "w1", "address": "192.0.2.10", "weight": 50},
                                  {"name": "w2", "address": "192.0.2.11", "port": 8080, "backup": True}]), {},
     CHECKS + ["cookie LB insert indirect nocache httponly maxidle 2h", DEFAULT_SERVER + BREAKER,
               "server w1 192.0.2.10:8000 cookie w1 weight 50", "server w2 192.0.2.11:8080 cookie w2 backup"]),
]


@pytest.mark.parametrize("entry, backend_defaults, expected", [r[1:] for r in BACKENDS], ids=[r[0] for r in BACKENDS])
def test_backend(entry, backend_defaults, expected):
    merged = backends(entry, backend_defaults=backend_defaults)
    assert backend_lines(merged[0]) == expected
    sections = by_header(haproxy_config_sections(variables(_haproxy_backends=merged, _haproxy_routes=[])))
    assert sections["backend web"] == expected


STICK = dict(BACKEND_BASE, name="web", port=8000, affinity="stick")
COOKIE_BACKEND = dict(BACKEND_BASE, name="web", port=8000)

# (row id, server, backend, line)
SERVERS = [
    ("backend_port", {"name": "s1", "address": "192.0.2.1"}, STICK, "server s1 192.0.2.1:8000"),
    ("own_port", {"name": "s1", "address": "192.0.2.1", "port": 9000}, STICK, "server s1 192.0.2.1:9000"),
    ("weight", {"name": "s1", "address": "192.0.2.1", "weight": 10}, STICK, "server s1 192.0.2.1:8000 weight 10"),
    ("weight_zero_is_a_weight", {"name": "s1", "address": "192.0.2.1", "weight": 0}, STICK, "server s1 192.0.2.1:8000 weight 0"),
    ("backup", {"name": "s1", "address": "192.0.2.1", "backup": True}, STICK, "server s1 192.0.2.1:8000 backup"),
    ("backup_false", {"name": "s1", "address": "192.0.2.1", "backup": False}, STICK, "server s1 192.0.2.1:8000"),
    ("cookie_affinity_names_the_server", {"name": "s1", "address": "192.0.2.1"}, COOKIE_BACKEND,
     "server s1 192.0.2.1:8000 cookie s1"),
    ("everything", {"name": "s1", "address": "192.0.2.1", "port": 9000, "weight": 5, "backup": True}, COOKIE_BACKEND,
     "server s1 192.0.2.1:9000 cookie s1 weight 5 backup"),
]


@pytest.mark.parametrize("server, backend, expected", [r[1:] for r in SERVERS], ids=[r[0] for r in SERVERS])
def test_server_line(server, backend, expected):
    assert server_line(server, backend) == expected


# --- haproxy_config_extra -----------------------------------------------------------------------

EXTRA = "userlist admins\n    user ops insecure-password x\n\nlisten extra\n    bind 127.0.0.1:9000"


@pytest.mark.parametrize("extra, last", [(EXTRA, {"header": EXTRA, "lines": []}),
                                         ("", {"header": "backend no_route", "lines": module.NO_ROUTE_LINES})],
                         ids=["raw_text_last_verbatim", "empty_adds_nothing"])
def test_config_extra(extra, last):
    assert haproxy_config_sections(variables(haproxy_config_extra=extra))[-1] == last


# --- the whole file, through the role's template -------------------------------------------------

def render(variables_):
    """templates/haproxy.cfg.j2 as the template module renders it (trim_blocks), with this filter."""
    environment = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined,
                                     loader=jinja2.FileSystemLoader(str(ROLE / "templates")))
    environment.filters["acgs.haproxy_stack.haproxy_config_sections"] = haproxy_config_sections
    return environment.get_template("haproxy.cfg.j2").render(
        ansible_managed="Ansible managed", _haproxy_confd="/etc/haproxy/conf.d", _haproxy_config_input=variables_)


def test_the_template_writes_headers_indented_lines_and_a_blank_line_between_sections():
    config = render(variables(haproxy_rate_limit_enabled=False, haproxy_retry_idempotent=False,
                              haproxy_config_extra="listen extra\n    bind 127.0.0.1:9000"))
    assert config == "\n".join([
        "# Ansible managed",
        "# Also loaded: /etc/haproxy/conf.d/*.cfg (stats page, exporter, other roles' frontends).",
        "global", "    maxconn 4096", "",
        "defaults", "    mode http", "",
        "frontend acgs_frontend", "    bind *:80", "    maxconn 4000", "    use_backend web if { path_beg / }",
        "    default_backend no_route", "",
        "backend web"] + ["    " + line for line in CHECKS + [COOKIE, DEFAULT_SERVER + BREAKER]] + [
        "    server app1 192.0.2.1:8000 cookie app1", "    server app2 192.0.2.2:8000 cookie app2", "",
        "backend no_route", '    http-request return status 404 content-type text/plain string "no route\\n"', "",
        "listen extra", "    bind 127.0.0.1:9000", ""])


# --- the backends, merged (haproxy_backend_list) -------------------------------------------------

GROUP = [{"name": "app1", "address": "192.0.2.1"}, {"name": "app2", "address": "192.0.2.2"}]

# (row id, entries, haproxy_backend_defaults, group hosts, the keys to compare, expected values per backend)
MERGES = [
    ("built_in_settings_and_the_group", [WEB], {}, ["app1", "app2"],
     [dict(BACKEND_BASE, servers=GROUP, **WEB)]),
    ("backend_over_defaults_over_built_in", [dict(WEB, slowstart=5)], {"slowstart": 60, "affinity": "stick"}, ["app1"],
     [dict(BACKEND_BASE, servers=GROUP[:1], **dict(WEB, slowstart=5, affinity="stick"))]),
    ("own_servers_kept", [dict(WEB, servers=[{"name": "w", "address": "192.0.2.9"}])], {}, ["app1", "app2"],
     [dict(BACKEND_BASE, **dict(WEB, servers=[{"name": "w", "address": "192.0.2.9"}]))]),
    ("defaults_servers_over_the_group", [WEB], {"servers": [{"name": "d", "address": "192.0.2.8"}]}, ["app1"],
     [dict(BACKEND_BASE, **dict(WEB, servers=[{"name": "d", "address": "192.0.2.8"}]))]),
    ("host_without_facts_has_no_address", [WEB], {}, ["app1", "nofacts", "unknown"],
     [dict(BACKEND_BASE, servers=GROUP[:1] + [{"name": "nofacts", "address": ""}, {"name": "unknown", "address": ""}],
           **WEB)]),
    ("no_group", [WEB], {}, [], [dict(BACKEND_BASE, servers=[], **WEB)]),
    ("order_kept", [dict(WEB, name="b"), dict(WEB, name="a")], {}, [],
     [dict(BACKEND_BASE, servers=[], **dict(WEB, name="b")), dict(BACKEND_BASE, servers=[], **dict(WEB, name="a"))]),
]


@pytest.mark.parametrize("entries, backend_defaults, group, expected", [r[1:] for r in MERGES], ids=[r[0] for r in MERGES])
def test_backend_list(entries, backend_defaults, group, expected):
    assert haproxy_backend_list(entries, BACKEND_BASE, backend_defaults, group, HOSTVARS) == expected


def test_backend_list_gives_each_backend_its_own_servers():
    first, second = haproxy_backend_list([WEB, dict(WEB, name="api")], BACKEND_BASE, {}, ["app1"], HOSTVARS)
    first["servers"][0]["weight"] = 1
    assert second["servers"] == GROUP[:1]


def test_backend_list_leaves_its_input_alone():
    entry = dict(WEB)
    haproxy_backend_list([entry], BACKEND_BASE, {"slowstart": 1}, ["app1"], HOSTVARS)
    assert entry == WEB


# --- refused input ---------------------------------------------------------------------------------

def test_input_that_is_not_the_variables_is_refused():
    with pytest.raises(AnsibleFilterError, match="must be a dict"):
        haproxy_config_sections(["global"])


def test_missing_variables_are_named():
    incomplete = variables()
    del incomplete["_haproxy_routes"], incomplete["haproxy_config_extra"]
    with pytest.raises(AnsibleFilterError, match="lacks _haproxy_routes, haproxy_config_extra"):
        haproxy_config_sections(incomplete)


def test_a_backend_without_a_setting_is_named():
    broken = {k: v for k, v in backends(WEB)[0].items() if k != "health_path"}
    with pytest.raises(AnsibleFilterError, match="backend web .* has no 'health_path'"):
        haproxy_config_sections(variables(_haproxy_backends=[broken]))


@pytest.mark.parametrize("entries, kwargs", [("web", {}), ([["web"]], {}), ([WEB], {"defaults": ["slowstart"]})],
                         ids=["text", "list_of_lists", "defaults_not_a_dict"])
def test_backend_list_refuses_what_is_not_backends(entries, kwargs):
    with pytest.raises(AnsibleFilterError, match="must be"):
        haproxy_backend_list(entries, **kwargs)


def test_the_filters_are_registered():
    assert module.FilterModule().filters() == {"haproxy_config_sections": haproxy_config_sections}
    assert backend_list_module.FilterModule().filters() == {"haproxy_backend_list": haproxy_backend_list}
