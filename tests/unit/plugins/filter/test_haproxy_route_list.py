# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The haproxy role's routes, derived from its backends (plugins/filter/haproxy_route_list.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.acgs.haproxy_stack.plugins.filter import haproxy_route_list as module
from ansible_collections.acgs.haproxy_stack.plugins.filter.haproxy_route_list import haproxy_route_list

DEFAULTS = yaml.safe_load((Path(__file__).resolve().parents[4] / "roles" / "haproxy" / "defaults" / "main.yml").read_text())
SEEDS = DEFAULTS["haproxy_backends"]
RP = {"name": "rp_backend", "port": 8007, "path_prefix": "/api/v1/rp/"}


def pairs(routes):
    return [(r["path_prefix"], r["backend"]) for r in routes]


def test_the_seed_routes_in_list_order():
    routes = haproxy_route_list(SEEDS, DEFAULTS["haproxy_routes"], len(SEEDS))
    assert pairs(routes) == [(b["path_prefix"], b["name"]) for b in SEEDS]
    assert routes[3]["source"] == "haproxy_backends[3] (fv_backend)"


# (row id, backends, haproxy_routes, first_extra, the routes as (prefix, backend, source))
ROWS = [
    ("extra_backend_last", SEEDS[:1] + [RP], [], 1,
     [("/api/v1/auth/", "auth_backend", "haproxy_backends[0] (auth_backend)"),
      ("/api/v1/rp/", "rp_backend", "haproxy_backends_extra[0] (rp_backend)")]),
    ("several_routes_in_their_order", [{"name": "web", "routes": ["/b/", "/a/"]}], [], None,
     [("/b/", "web", "haproxy_backends[0] (web)"), ("/a/", "web", "haproxy_backends[0] (web)")]),
    ("no_prefix_no_route", [{"name": "web"}, {"name": "api", "path_prefix": None}], [], None, []),
    ("haproxy_routes_after_the_backends_own", [{"name": "web"}, {"name": "api", "path_prefix": "/api/"}],
     [{"path_prefix": "/", "backend": "web"}], None,
     [("/api/", "api", "haproxy_backends[1] (api)"), ("/", "web", "haproxy_routes")]),
    ("a_backend_named_in_haproxy_routes_gets_only_those", [{"name": "web", "path_prefix": "/web/"}, RP],
     [{"path_prefix": "/w/", "backend": "web"}], None,
     [("/api/v1/rp/", "rp_backend", "haproxy_backends[1] (rp_backend)"), ("/w/", "web", "haproxy_routes")]),
    ("route_to_an_undefined_backend_is_kept_for_preflight", [], [{"path_prefix": "/x/", "backend": "nope"}], None,
     [("/x/", "nope", "haproxy_routes")]),
]


@pytest.mark.parametrize("backends, routes, first_extra, expected", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_routes(backends, routes, first_extra, expected):
    result = haproxy_route_list(backends, routes, first_extra)
    assert [(r["path_prefix"], r["backend"], r["source"]) for r in result] == expected


def test_old_style_inventory_renders_as_before():
    """Backends without prefixes and the routes restated in haproxy_routes: exactly those routes."""
    backends = [{k: v for k, v in b.items() if k != "path_prefix"} for b in SEEDS]
    old_routes = [{"path_prefix": b["path_prefix"], "backend": b["name"]} for b in reversed(SEEDS)]
    assert pairs(haproxy_route_list(backends, old_routes)) == pairs(old_routes)
    # The same haproxy_routes over the new default backends: still only those, in their order.
    assert pairs(haproxy_route_list(SEEDS, old_routes)) == pairs(old_routes)


@pytest.mark.parametrize("backends, routes", [("web", []), ([["web"]], []), ([RP], ["/x/"])])
def test_input_that_is_not_backends_and_routes_is_refused(backends, routes):
    with pytest.raises(AnsibleFilterError, match="must be"):
        haproxy_route_list(backends, routes)


def test_the_filter_is_registered():
    assert module.FilterModule().filters() == {"haproxy_route_list": haproxy_route_list}
