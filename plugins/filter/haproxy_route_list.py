# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: haproxy_route_list
short_description: The haproxy role's frontend routes, derived from its backends
version_added: 0.1.0
description:
  - Each backend carries its own routes, C(path_prefix) (one) or C(routes) (a list of prefixes); a backend
    with neither has no route. The routes come in the order of the backends, each backend's in its own
    order, then the entries of O(routes) (V(haproxy_routes)) in theirs. HAProxy takes the first route
    whose prefix begins the request path.
  - A backend that O(routes) names gets its routes from there only, its own C(path_prefix) and C(routes)
    are then ignored. That keeps an inventory written when routes were a separate list (restating
    V(haproxy_routes) for the backends it routes) working as before.
  - The filter does not check anything. The role's preflight
    (P(acgs.haproxy_stack.haproxy_preflight_errors#filter)) refuses a route to a backend that is not
    defined, a bad or repeated prefix, a backend that sets both C(path_prefix) and C(routes).
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description:
      - The backends, V(haproxy_backends) followed by V(haproxy_backends_extra), as dictionaries
        (the role passes them merged over its backend settings).
    type: list
    elements: dict
    required: true
  routes:
    description: Extra routes, C(path_prefix) to C(backend) (V(haproxy_routes)).
    type: list
    elements: dict
    default: []
  first_extra:
    description:
      - Index in O(_input) of the first entry of V(haproxy_backends_extra), to name where each route comes
        from (RV(_value[].source)). Default, every backend is in V(haproxy_backends).
    type: int
"""

EXAMPLES = r"""
- name: The routes of the seed backends and one more backend
  ansible.builtin.debug:
    # [{path_prefix: /api/v1/auth/, backend: auth_backend, source: "haproxy_backends[0] (auth_backend)"}, ...,
    #  {path_prefix: /api/v1/rp/, backend: rp_backend, source: "haproxy_backends_extra[0] (rp_backend)"}]
    msg: "{{ (haproxy_backends + haproxy_backends_extra)
             | acgs.haproxy_stack.haproxy_route_list(haproxy_routes, haproxy_backends | length) }}"
"""

RETURN = r"""
_value:
  description: The routes, in the order HAProxy tries them.
  type: list
  elements: dict
  contains:
    path_prefix:
      description: Request path prefix (C(path_beg)).
      type: str
    backend:
      description: Name of the backend the route goes to.
      type: str
    source:
      description:
        - Where the route is set, for messages, such as V(haproxy_backends[3] (fv_backend)),
          V(haproxy_backends_extra[0] (rp_backend)) or V(haproxy_routes).
      type: str
"""

from ansible.errors import AnsibleFilterError


def backend_label(index, backend, first_extra=None):
    """Where a backend is set: haproxy_backends[i] (name) or haproxy_backends_extra[j] (name)."""
    if first_extra is not None and index >= first_extra:
        return "haproxy_backends_extra[%d] (%s)" % (index - first_extra, backend.get("name"))
    return "haproxy_backends[%d] (%s)" % (index, backend.get("name"))


def own_prefixes(backend):
    """A backend's own prefixes: path_prefix, or the list routes (a single text counts as one)."""
    prefixes = []
    if backend.get("path_prefix") is not None:
        prefixes.append(backend["path_prefix"])
    routes = backend.get("routes")
    if isinstance(routes, (list, tuple)):
        prefixes.extend(routes)
    elif isinstance(routes, str):
        prefixes.append(routes)
    return prefixes


def haproxy_route_list(backends, routes=None, first_extra=None):
    if not isinstance(backends, (list, tuple)) or not all(isinstance(b, dict) for b in backends):
        raise AnsibleFilterError("haproxy_route_list: the input must be the list of backends (dicts)")
    routes = list(routes or [])
    if not all(isinstance(r, dict) for r in routes):
        raise AnsibleFilterError("haproxy_route_list: routes (haproxy_routes) must be a list of "
                                 "{path_prefix, backend} dicts")
    routed_apart = {r.get("backend") for r in routes}
    result = []
    for index, backend in enumerate(backends):
        if backend.get("name") in routed_apart:
            continue
        source = backend_label(index, backend, first_extra)
        result.extend({"path_prefix": prefix, "backend": backend.get("name"), "source": source}
                      for prefix in own_prefixes(backend))
    result.extend({"path_prefix": r.get("path_prefix"), "backend": r.get("backend"), "source": "haproxy_routes"}
                  for r in routes)
    return result


class FilterModule(object):
    def filters(self):
        return {"haproxy_route_list": haproxy_route_list}
