# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: haproxy_config_sections
short_description: The sections of the haproxy role's haproxy.cfg, in order
version_added: 0.1.0
description:
  - "Builds the sections of the C(acgs.haproxy_stack.haproxy) role's C(haproxy.cfg) from the role's variables, in the
    order of the file: C(global), C(defaults), the main frontend, one C(backend) per backend, the C(no_route) backend
    when there is no default backend, then V(haproxy_config_extra). The role's template writes each header, then
    each line indented by four spaces, with a blank line between sections."
  - "Directives of C(global) and C(defaults) come in key order (ignoring case): a value of V(true) writes the bare key,
    V(false) or V(null) drops the directive, a list writes the directive once per element."
  - Lines starting with C(#) are comments that explain the configuration to whoever reads it on the host.
  - The filter does not check the values; the role's preflight (P(acgs.haproxy_stack.haproxy_preflight_errors#filter))
    does, before the template is written.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description:
      - The role's variables, by name.
      - "Public ones: V(haproxy_frontend_name), V(haproxy_bind_address), V(haproxy_http_port), V(haproxy_tls_enabled),
        V(haproxy_https_port), V(haproxy_tls_redirect), V(haproxy_frontend_maxconn), V(haproxy_retry_idempotent),
        V(haproxy_rate_limit_enabled), V(haproxy_rate_limit_requests), V(haproxy_rate_limit_period),
        V(haproxy_rate_limit_exempt), V(haproxy_frontend_extra), V(haproxy_default_backend) and V(haproxy_config_extra)."
      - "Derived ones (C(vars/main.yml)): V(_haproxy_global) and V(_haproxy_defaults), the directives of those sections;
        V(_haproxy_tls_cert_path), the certificate on the host; V(_haproxy_backends), the backends with every setting
        (P(acgs.haproxy_stack.haproxy_backend_list#filter)); V(_haproxy_routes), the frontend's routes
        (P(acgs.haproxy_stack.haproxy_route_list#filter))."
      - Every key is required.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write haproxy.cfg from its sections
  ansible.builtin.copy:
    # global
    #     chroot /var/lib/haproxy
    #     ...
    #
    # defaults
    #     ...
    content: |
      {% for section in _haproxy_config_input | acgs.haproxy_stack.haproxy_config_sections %}
      {{ section.header }}
      {% for line in section.lines %}
          {{ line }}
      {% endfor %}

      {% endfor %}
    dest: /tmp/haproxy.cfg
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The sections, in the order of the file.
  type: list
  elements: dict
  contains:
    header:
      description:
        - The section's first line, such as V(global), V(frontend acgs_frontend) or V(backend auth_backend).
        - The last section, when V(haproxy_config_extra) is set, has that text, verbatim, as its header and no lines.
      type: str
    lines:
      description: The section's lines, without indentation.
      type: list
      elements: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._preflight import to_int

KEYS = (
    "_haproxy_global", "_haproxy_defaults", "haproxy_frontend_name", "haproxy_bind_address", "haproxy_http_port",
    "haproxy_tls_enabled", "haproxy_https_port", "_haproxy_tls_cert_path", "haproxy_tls_redirect",
    "haproxy_frontend_maxconn", "haproxy_retry_idempotent", "haproxy_rate_limit_enabled", "haproxy_rate_limit_requests",
    "haproxy_rate_limit_period", "haproxy_rate_limit_exempt", "haproxy_frontend_extra", "_haproxy_routes",
    "haproxy_default_backend", "_haproxy_backends", "haproxy_config_extra",
)
# Answers 404 to what no route matches, when there is no default backend.
NO_ROUTE_BACKEND = "no_route"
NO_ROUTE_LINES = ['http-request return status 404 content-type text/plain string "no route\\n"']


def section(header, lines):
    return {"header": header, "lines": lines}


def _as_list(value):
    """A list as it is, one text as a list of it, nothing as an empty list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def directive_lines(directives):
    """One line per directive in key order, ignoring case (as Jinja's dictsort): true is the bare key,
    false and None drop it, a list repeats it once per element."""
    lines = []
    for key, value in sorted((directives or {}).items(), key=lambda item: str(item[0]).lower()):
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            if item is None or item is False:
                continue
            lines.append(str(key) if item is True else "%s %s" % (key, item))
    return lines


def tls_lines(v):
    if not v["haproxy_tls_enabled"]:
        return []
    lines = ["bind %s:%s ssl crt %s alpn h2,http/1.1" % (v["haproxy_bind_address"], v["haproxy_https_port"],
                                                         v["_haproxy_tls_cert_path"]),
             "http-request set-header X-Forwarded-Proto https if { ssl_fc }"]
    if v["haproxy_tls_redirect"]:
        lines.append("http-request redirect scheme https code 301 unless { ssl_fc }")
    return lines


def retry_lines(v):
    # The defaults section's retry-on replays any request; the frontend narrows it to the idempotent ones.
    if not v["haproxy_retry_idempotent"]:
        return []
    return ["# Only GET and HEAD are replayed after the request reached a server (retry-on empty-response).",
            "http-request disable-l7-retry if !METH_GET !METH_HEAD"]


def rate_limit_lines(v):
    if not v["haproxy_rate_limit_enabled"]:
        return []
    requests, period = v["haproxy_rate_limit_requests"], v["haproxy_rate_limit_period"]
    exempt = _as_list(v["haproxy_rate_limit_exempt"])
    lines = ["# Rate limit: more than %s requests in %ss from one address get 429." % (requests, period),
             # An entry lives three periods after its client's last request, long enough to hold a whole period's rate.
             "stick-table type ip size 100k expire %ds store http_req_rate(%ss)" % (to_int(period) * 3, period)]
    if exempt:
        lines.append("acl rate_limit_exempt src %s" % " ".join(str(source) for source in exempt))
    lines.append("http-request track-sc0 src" + (" if !rate_limit_exempt" if exempt else ""))
    lines.append("http-request deny deny_status 429 if { sc_http_req_rate(0) gt %s }" % requests)
    return lines


def route_lines(routes):
    """First match wins: the routes in the order given."""
    return ["use_backend %s if { path_beg %s }" % (route["backend"], route["path_prefix"]) for route in routes or []]


def frontend_lines(v):
    lines = ["bind %s:%s" % (v["haproxy_bind_address"], v["haproxy_http_port"])]
    lines += tls_lines(v)
    lines.append("maxconn %s" % v["haproxy_frontend_maxconn"])
    lines += retry_lines(v)
    lines += rate_limit_lines(v)
    lines += [str(line) for line in _as_list(v["haproxy_frontend_extra"])]
    lines += route_lines(v["_haproxy_routes"])
    lines.append("default_backend %s" % (v["haproxy_default_backend"] or NO_ROUTE_BACKEND))
    return lines


def affinity_lines(backend):
    """Cookie: a cookie names the server; stick: the client address does; anything else: none."""
    if backend["affinity"] == "cookie":
        return ["cookie %s insert indirect nocache httponly maxidle %s"
                % (backend["affinity_cookie"], backend["affinity_expire"])]
    if backend["affinity"] == "stick":
        return ["stick-table type ip size 100k expire %s" % backend["affinity_expire"], "stick on src"]
    return []


def default_server_line(backend):
    line = ("default-server check inter %ss fastinter 1s rise %s fall %s slowstart %ss"
            % (backend["health_interval"], backend["health_rise"], backend["health_fall"], backend["slowstart"]))
    if backend["circuit_breaker"]:
        # Layer-7 errors in live traffic mark the server down before its health check would.
        line += " observe layer7 error-limit %s on-error mark-down" % backend["error_limit"]
    return line


def server_line(server, backend):
    """One server: its own port or else the backend's; with cookie affinity, a cookie of its name;
    weight when it sets one; backup when it is one."""
    port = server["port"] if "port" in server else backend["port"]
    line = "server %s %s:%s" % (server["name"], server["address"], port)
    if backend.get("affinity") == "cookie":
        line += " cookie %s" % server["name"]
    if "weight" in server:
        line += " weight %s" % server["weight"]
    if server.get("backup", False):
        line += " backup"
    return line


def backend_lines(backend):
    lines = ["balance %s" % backend["balance"],
             "option httpchk GET %s" % backend["health_path"],
             "http-check expect status 200",
             "timeout server %ss" % backend["timeout_server"],
             "timeout check %ss" % backend["timeout_check"]]
    lines += affinity_lines(backend)
    lines.append(default_server_line(backend))
    lines += [str(line) for line in _as_list(backend.get("extra"))]
    lines += [server_line(server, backend) for server in backend.get("servers") or []]
    return lines


def backend_section(backend):
    try:
        return section("backend %s" % backend["name"], backend_lines(backend))
    except KeyError as missing:
        raise AnsibleFilterError("haproxy_config_sections: backend %s (or one of its servers) has no %s"
                                 % (backend.get("name", "(unnamed)"), missing))


def haproxy_config_sections(variables):
    if not isinstance(variables, Mapping):
        raise AnsibleFilterError("haproxy_config_sections: the input must be a dict of the role's variables, got %s"
                                 % type(variables).__name__)
    missing = [key for key in KEYS if key not in variables]
    if missing:
        raise AnsibleFilterError("haproxy_config_sections: the input lacks %s" % ", ".join(missing))
    v = variables
    sections = [section("global", directive_lines(v["_haproxy_global"])),
                section("defaults", directive_lines(v["_haproxy_defaults"])),
                section("frontend %s" % v["haproxy_frontend_name"], frontend_lines(v))]
    sections += [backend_section(backend) for backend in v["_haproxy_backends"] or []]
    if not v["haproxy_default_backend"]:
        sections.append(section("backend %s" % NO_ROUTE_BACKEND, list(NO_ROUTE_LINES)))
    if v["haproxy_config_extra"]:
        # Raw text, written as it is: it may hold several sections of its own.
        sections.append(section(str(v["haproxy_config_extra"]), []))
    return sections


class FilterModule(object):
    def filters(self):
        return {"haproxy_config_sections": haproxy_config_sections}
