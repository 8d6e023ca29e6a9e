# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: haproxy_preflight_errors
short_description: Every problem the haproxy role's preflight finds in its variables
version_added: 0.1.0
description:
  - Checks the variables of the C(acgs.haproxy_stack.haproxy) role that its argument specs cannot check
    (listener ports and their clashes, backends, servers, routes, the stats page, rate limits, TLS, the
    install source) and returns one message per problem, each naming the variable and the fix.
  - Every problem is reported, in a fixed order, so a user fixes them all in one go. An empty list means
    the variables are good.
  - The filter never touches a host. What must be looked at on a host (the TLS certificate) is passed in
    as the result of an M(ansible.builtin.stat) task.
  - Values are read as the role's templates read them, for example a port is taken as an integer where
    it can be converted and counts as V(0) where it cannot.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description:
      - The role's variables, by name.
      - "Public ones: V(haproxy_http_port), V(haproxy_https_port), V(haproxy_tls_enabled), V(haproxy_stats_enabled),
        V(haproxy_stats_port), V(haproxy_runtime_tcp_port), V(haproxy_backend_servers_group), V(haproxy_backends_extra), V(haproxy_routes),
        V(haproxy_default_backend), V(haproxy_stats_password), V(haproxy_stats_user), V(haproxy_rate_limit_enabled),
        V(haproxy_rate_limit_requests), V(haproxy_rate_limit_period), V(haproxy_nbthread), V(haproxy_maxconn),
        V(haproxy_frontend_maxconn), V(haproxy_tls_certificate), V(haproxy_tls_certificate_on_host),
        V(haproxy_install_source), V(haproxy_deb_file) and V(haproxy_apt_mirror)."
      - "Derived ones: V(_haproxy_backends), the backends (V(haproxy_backends), then V(haproxy_backends_extra))
        with the role's built-in settings, V(haproxy_backend_defaults) and the servers of the group merged in
        (C(vars/main.yml)); and
        V(_haproxy_tls_stat), the C(stat) dictionary of the TLS certificate (V({}) when it was not looked at)."
      - A missing V(haproxy_stats_password) counts as not set; any other missing key is an error.
      - The routes checked are those the role renders, derived from the backends and V(haproxy_routes) by
        P(acgs.haproxy_stack.haproxy_route_list#filter).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the settings argument specs cannot check
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join(' | ') }}"
    quiet: true
  vars:
    _errors: "{{ _haproxy_preflight_input | acgs.haproxy_stack.haproxy_preflight_errors }}"

- name: One problem, one message
  ansible.builtin.debug:
    # ['haproxy_http_port is 70000: use a TCP port from 1 to 65535.']
    msg: "{{ _haproxy_preflight_input | combine({'haproxy_http_port': 70000}) | acgs.haproxy_stack.haproxy_preflight_errors }}"
"""

RETURN = r"""
_value:
  description:
    - One message per problem, each naming the variable and how to fix it; empty when there is none.
    - "Order: listener ports, backends (each with its own routes and servers), routes, the default backend, the stats page,
      rate limits, process limits, TLS, the install source."
  type: list
  elements: str
"""


from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._preflight import (
    run_rules, to_int as _int, matches as _matches, unique as _unique, readable as _readable, text as _text,
)
from ansible_collections.acgs.haproxy_stack.plugins.filter.haproxy_route_list import backend_label, haproxy_route_list

# The variables the rules read; haproxy_stats_password has no default, so it may be missing.
KEYS = (
    "haproxy_http_port", "haproxy_https_port", "haproxy_tls_enabled", "haproxy_stats_enabled", "haproxy_stats_port",
    "haproxy_runtime_tcp_port", "_haproxy_backends", "haproxy_backends_extra", "haproxy_backend_servers_group",
    "haproxy_routes",
    "haproxy_default_backend", "haproxy_stats_user", "haproxy_rate_limit_enabled", "haproxy_rate_limit_requests",
    "haproxy_rate_limit_period", "haproxy_nbthread", "haproxy_maxconn", "haproxy_frontend_maxconn",
    "haproxy_tls_certificate", "haproxy_tls_certificate_on_host", "_haproxy_tls_stat", "haproxy_install_source",
    "haproxy_deb_file", "haproxy_apt_mirror",
)
NAME_PATTERN = r"^[A-Za-z0-9_.:-]+$"
BALANCE_PATTERN = (r"^(roundrobin|static-rr|leastconn|first|source|random(\(\d+\))?|uri( .*)?|url_param \S+( .*)?"
                   r"|hdr\([^)]+\)( .*)?|rdp-cookie(\([^)]*\))?|hash \S.*)$")
PATH_PREFIX_PATTERN = r"^/\S*$"
STATS_USER_PATTERN = r"^[^:'\s]+$"
AFFINITIES = ("cookie", "stick", "none")
TIMEOUTS = ("timeout_server", "timeout_check", "health_interval")
# Counts and their least value.
COUNTS = (("slowstart", 0), ("health_rise", 1), ("health_fall", 1), ("error_limit", 1))


def _ports(v):
    """The listeners in use and their ports, HTTP first."""
    ports = {"haproxy_http_port": v["haproxy_http_port"]}
    if v["haproxy_tls_enabled"]:
        ports["haproxy_https_port"] = v["haproxy_https_port"]
    if v["haproxy_stats_enabled"]:
        ports["haproxy_stats_port"] = v["haproxy_stats_port"]
    if _int(v["haproxy_runtime_tcp_port"]) != 0:
        ports["haproxy_runtime_tcp_port"] = v["haproxy_runtime_tcp_port"]
    return ports


def _backend_names(v):
    return [b.get("name") for b in v["_haproxy_backends"]]


def _first_extra(v):
    """Index of the first backend from haproxy_backends_extra (they come last)."""
    return len(v["_haproxy_backends"]) - len(v["haproxy_backends_extra"] or [])


def _routes(v):
    """The routes as the role renders them (plugins/filter/haproxy_route_list.py)."""
    return haproxy_route_list(v["_haproxy_backends"], v["haproxy_routes"], _first_extra(v))


# --- Rules on the whole input: each takes the variables and returns its messages. -------------

def listener_ports_in_range(v):
    return ["%s is %s: use a TCP port from 1 to 65535." % (name, port)
            for name, port in _ports(v).items() if not 1 <= _int(port) <= 65535]


def listener_ports_unique(v):
    ports = _ports(v)
    numbers = [_int(port) for port in ports.values()]
    return ["Port %s is used by %s: give each listener its own port."
            % (port, " and ".join(name for name, value in ports.items() if _int(value) == port))
            for port in _unique(numbers) if numbers.count(port) > 1]


def backend_names_unique(v):
    names = _backend_names(v)
    first_extra = _first_extra(v)
    errors = []
    for name in _unique(names):
        if names.count(name) < 2:
            continue
        if name not in names[first_extra:]:
            errors.append("haproxy_backends defines %s more than once: backend names must be unique." % name)
        elif name not in names[:first_extra]:
            errors.append("haproxy_backends_extra defines %s more than once: backend names must be unique." % name)
        else:
            errors.append("haproxy_backends_extra defines %s, which haproxy_backends defines already: give the new "
                          "backend another name, or change the existing one in haproxy_backends." % name)
    return errors


def backends(v):
    """The rules of BACKEND_RULES on each backend, one backend after the other."""
    errors = []
    for index, backend in enumerate(v["_haproxy_backends"]):
        where = backend_label(index, backend, _first_extra(v))
        for rule in BACKEND_RULES:
            errors.extend(rule(v, backend, where))
    return errors


def route_backends_defined(v):
    names = _backend_names(v)
    return ["%s: %s routes to %s, which haproxy_backends does not define: add the backend or fix the route."
            % (r["source"], r["path_prefix"], r["backend"]) for r in _routes(v) if r["backend"] not in names]


def route_prefixes(v):
    return ['%s: path_prefix "%s" must start with / and contain no spaces.' % (r["source"], r["path_prefix"])
            for r in _routes(v) if not _matches(PATH_PREFIX_PATTERN, r["path_prefix"])]


def route_prefixes_unique(v):
    routes = _routes(v)
    prefixes = [r["path_prefix"] for r in routes]
    errors = []
    for prefix in [p for i, p in enumerate(prefixes) if p not in prefixes[:i]]:
        sources = [r["source"] for r in routes if r["path_prefix"] == prefix]
        if len(sources) > 1:
            errors.append('path_prefix "%s" is routed more than once, by %s: only the first would ever match, '
                          'give each route its own prefix.' % (prefix, " and ".join(sources)))
    return errors


def default_backend_defined(v):
    backend = v["haproxy_default_backend"]
    if backend and backend not in _backend_names(v):
        return ['haproxy_default_backend is %s, which haproxy_backends does not define: add it or set "".' % backend]
    return []


def stats_password(v):
    if not v["haproxy_stats_enabled"]:
        return []
    password = str(v.get("haproxy_stats_password", ""))
    if not password:
        return ["haproxy_stats_password is not set: set it (e.g. in vault-encrypted group_vars); there is no default password."]
    if "'" in password:
        return ["haproxy_stats_password contains a single quote ('): choose a password without it."]
    return []


def stats_user(v):
    if v["haproxy_stats_enabled"] and not _matches(STATS_USER_PATTERN, v["haproxy_stats_user"]):
        return ["haproxy_stats_user must be non-empty without spaces, colons or quotes."]
    return []


def rate_limit(v):
    requests, period = v["haproxy_rate_limit_requests"], v["haproxy_rate_limit_period"]
    if v["haproxy_rate_limit_enabled"] and (_int(requests) < 1 or _int(period) < 1):
        return ["haproxy_rate_limit_requests (%s) and haproxy_rate_limit_period (%s) must be 1 or more: "
                "to turn rate limiting off set haproxy_rate_limit_enabled: false." % (requests, period)]
    return []


def process_limits(v):
    if _int(v["haproxy_nbthread"]) < 0 or _int(v["haproxy_maxconn"]) < 1 or _int(v["haproxy_frontend_maxconn"]) < 1:
        return ["haproxy_maxconn and haproxy_frontend_maxconn must be 1 or more, haproxy_nbthread 0 (automatic) or more."]
    return []


def tls_certificate(v):
    if not v["haproxy_tls_enabled"]:
        return []
    certificate = _text(v["haproxy_tls_certificate"])
    if len(certificate) == 0:
        return ["haproxy_tls_enabled is true but haproxy_tls_certificate is empty: set it to a PEM file (certificate chain + key)."]
    if not _readable(v["_haproxy_tls_stat"]):
        return ["haproxy_tls_certificate %s is missing or unreadable on %s: fix the path or its permissions."
                % (certificate, "the host" if v["haproxy_tls_certificate_on_host"] else "the control node")]
    return []


def deb_file(v):
    if v["haproxy_install_source"] == "deb" and len(_text(v["haproxy_deb_file"])) == 0:
        return ["haproxy_install_source is deb but haproxy_deb_file is empty: set it to a .deb path on the control node."]
    return []


def apt_mirror(v):
    if v["haproxy_install_source"] == "mirror" and len((v["haproxy_apt_mirror"] or {}).get("uris", "") or "") == 0:
        return ["haproxy_install_source is mirror but haproxy_apt_mirror.uris is empty: "
                "set haproxy_apt_mirror (uris, suites, components, signed_by)."]
    return []


# --- Rules on one backend: each takes the variables, the backend and where it is. --------------

def backend_routes(v, b, where):
    if b.get("path_prefix") is not None and b.get("routes") is not None:
        return ["%s: set path_prefix (one route) or routes (a list of prefixes), not both." % where]
    if b.get("routes") is not None and not isinstance(b["routes"], (list, tuple)):
        return ["%s: routes must be a list of path prefixes, got %s." % (where, b["routes"])]
    return []


def backend_name(v, b, where):
    return [] if _matches(NAME_PATTERN, b.get("name")) else ["%s: name may only use letters, digits, _ . : -" % where]


def backend_port(v, b, where):
    if 1 <= _int(b.get("port", 0)) <= 65535:
        return []
    return ["%s: port %s must be 1-65535." % (where, b.get("port", "(unset)"))]


def backend_balance(v, b, where):
    if _matches(BALANCE_PATTERN, b.get("balance")):
        return []
    return ['%s: unknown balance algorithm "%s": use roundrobin, static-rr, leastconn, first, source, random, uri, '
            'url_param, hdr(...), rdp-cookie or hash.' % (where, b.get("balance"))]


def backend_affinity(v, b, where):
    affinity = b.get("affinity")
    return [] if affinity in AFFINITIES else ['%s: affinity "%s" must be cookie, stick or none.' % (where, affinity)]


def backend_timeouts(v, b, where):
    return ["%s: %s is %s: timeouts are positive numbers of seconds." % (where, key, b.get(key))
            for key in TIMEOUTS if _int(b.get(key)) <= 0]


def backend_counts(v, b, where):
    return ["%s: %s is %s: use %s." % (where, key, b.get(key), "0 or more seconds" if least == 0 else "1 or more")
            for key, least in COUNTS if _int(b.get(key)) < least]


def backend_has_servers(v, b, where):
    if len(b.get("servers") or []) > 0:
        return []
    return ["%s: no servers: put hosts in the group %s (haproxy_backend_servers_group) or list servers on the backend."
            % (where, v["haproxy_backend_servers_group"])]


def servers(v, b, where):
    """The rules of SERVER_RULES on each server of the backend."""
    errors = []
    for index, server in enumerate(b.get("servers") or []):
        label = "%s: server %s" % (where, server.get("name", index))
        for rule in SERVER_RULES:
            errors.extend(rule(v, b, server, label))
    return errors


def server_names_unique(v, b, where):
    names = [s.get("name") for s in b.get("servers") or []]
    if len(_unique(names)) == len(names):
        return []
    return ["%s: server names must be unique, got %s" % (where, ", ".join("" if n is None else str(n) for n in names))]


# --- Rules on one server: each takes the variables, the backend, the server and its label. -----

def server_address(v, b, s, label):
    if len(str(s.get("address", ""))) > 0:
        return []
    return ["%s has no address: gather facts on it (ansible_default_ipv4) or set its address." % label]


def server_name(v, b, s, label):
    return [] if _matches(NAME_PATTERN, s.get("name", "")) else ["%s needs a name of letters, digits, _ . : -" % label]


def server_port(v, b, s, label):
    # A server without a port of its own uses the backend's, which backend_port checks.
    if "port" not in s or 1 <= _int(s["port"]) <= 65535:
        return []
    return ["%s port %s must be 1-65535." % (label, s["port"])]


# In the order their messages come.
RULES = (listener_ports_in_range, listener_ports_unique, backend_names_unique, backends, route_backends_defined,
         route_prefixes, route_prefixes_unique, default_backend_defined, stats_password, stats_user, rate_limit, process_limits,
         tls_certificate, deb_file, apt_mirror)
BACKEND_RULES = (backend_name, backend_port, backend_routes, backend_balance, backend_affinity, backend_timeouts, backend_counts,
                 backend_has_servers, servers, server_names_unique)
SERVER_RULES = (server_address, server_name, server_port)


def haproxy_preflight_errors(variables):
    return run_rules("haproxy_preflight_errors", variables, KEYS, RULES)


class FilterModule(object):
    def filters(self):
        return {"haproxy_preflight_errors": haproxy_preflight_errors}
