#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: haproxy_info
short_description: Read HAProxy's process info, frontends, backends and server states from its runtime API
version_added: 0.1.0
description:
  - Reads C(show info), C(show stat) and C(show servers state) from HAProxy's runtime API over one connection
    and returns them as structured data.
  - Composite statuses such as V(DOWN 2/3) or V(MAINT (via be/srv)) are split into a normalized RV(servers[].state),
    a RV(servers[].transition) and the tracked server they come from.
  - The administrative state (ready, drain, maint, from the C(srv_admin_state) bits) and the operational state
    (stopped, starting, running, stopping, from C(srv_op_state)) are returned separately from the health status,
    so a server drained while its health check fails shows RV(servers[].admin_state=drain) and
    RV(servers[].state=DOWN).
  - Read-only. Reading 2000 servers takes a few tens of milliseconds.
author:
  - acgs.haproxy_stack developers (@acgs)
extends_documentation_fragment:
  - acgs.haproxy_stack._haproxy
  - acgs.haproxy_stack._haproxy.actiongroup_haproxy
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module never changes anything.
  diff_mode:
    support: N/A
    details: The module never changes anything.
  platform:
    platforms: posix
options:
  backend:
    description:
      - Only return these backends and their servers.
      - Names, or glob patterns such as V(web-*).
      - A name (not a pattern) that matches no backend makes the task fail.
    type: list
    elements: str
  server:
    description:
      - Only return these servers.
      - Names or glob patterns such as V(app-0*). V(backend/server) restricts a name or pattern to one backend
        (or backend pattern).
      - A name (not a pattern) that matches no server in the selected backends makes the task fail.
    type: list
    elements: str
  details:
    description:
      - Also return the counters and raw values of each server (the return values marked "Only with O(details=true)").
      - Off by default because it doubles the size of the result, which matters with thousands of servers.
    type: bool
    default: false
seealso:
  - module: acgs.haproxy_stack.haproxy_server
"""

EXAMPLES = r"""
- name: Read everything
  acgs.haproxy_stack.haproxy_info:
  become: true
  register: haproxy

- name: Show the servers that are not ready or not healthy
  ansible.builtin.debug:
    msg: "{{ item.backend }}/{{ item.name }} is {{ item.status }} ({{ item.admin_state }})"
  loop: "{{ haproxy.servers | rejectattr('state', 'in', ['UP', 'NO CHECK']) }}"
  loop_control:
    label: "{{ item.backend }}/{{ item.name }}"

- name: Wait until every server of the web backend is up and in service
  acgs.haproxy_stack.haproxy_info:
    socket: 127.0.0.1:9999
    backend: web
  register: web
  until: web.servers | rejectattr('state', 'eq', 'UP') | list | length == 0
  retries: 30
  delay: 2

- name: Read two servers of the api backends
  acgs.haproxy_stack.haproxy_info:
    backend: api-*
    server:
      - app-01
      - app-02
  register: api
"""

RETURN = r"""
info:
  description: The C(show info) answer. Numeric values are integers.
  returned: success
  type: dict
  sample: {"Name": "HAProxy", "Version": "2.6.12-1+deb12u4", "Uptime_sec": 3600, "CurrConns": 12}
frontends:
  description: Frontends, in HAProxy's order (not filtered by O(backend) or O(server)).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Frontend name.
      type: str
      sample: http-in
    status:
      description: V(OPEN), V(STOP) or V(FULL).
      type: str
      sample: OPEN
    mode:
      description: V(http) or V(tcp).
      type: str
    current_sessions:
      description: Current sessions.
      type: int
    max_sessions:
      description: Highest number of sessions seen.
      type: int
    session_limit:
      description: Configured session limit.
      type: int
    total_sessions:
      description: Cumulated number of sessions.
      type: int
    bytes_in:
      description: Bytes received.
      type: int
    bytes_out:
      description: Bytes sent.
      type: int
    request_rate:
      description: HTTP requests per second over the last second.
      type: int
    requests_total:
      description: Total HTTP requests.
      type: int
    id:
      description: Proxy id.
      type: int
backends:
  description: Backends (filtered by O(backend)), in HAProxy's order.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Backend name.
      type: str
      sample: web
    status:
      description: Raw status, V(UP) or V(DOWN).
      type: str
    state:
      description: Normalized status.
      type: str
    mode:
      description: V(http) or V(tcp).
      type: str
    algo:
      description: Load-balancing algorithm.
      type: str
      sample: roundrobin
    active_servers:
      description: Number of active servers up.
      type: int
    backup_servers:
      description: Number of backup servers up.
      type: int
    weight:
      description: Total effective weight.
      type: int
    current_sessions:
      description: Current sessions.
      type: int
    max_sessions:
      description: Highest number of sessions seen.
      type: int
    total_sessions:
      description: Cumulated number of sessions.
      type: int
    queue:
      description: Queued requests.
      type: int
    last_change:
      description: Seconds since the last UP/DOWN change.
      type: int
    downtime:
      description: Total seconds down.
      type: int
    id:
      description: Proxy id.
      type: int
servers:
  description: Servers (filtered by O(backend) and O(server)), in HAProxy's order.
  returned: success
  type: list
  elements: dict
  contains:
    backend:
      description: Backend name.
      type: str
      sample: web
    name:
      description: Server name.
      type: str
      sample: app-01
    id:
      description: Server id in its backend. Only with O(details=true).
      type: int
    address:
      description: Address and port.
      type: str
      sample: 10.0.0.11:8080
    status:
      description: Raw C(show stat) status.
      type: str
      sample: DOWN 2/3
    state:
      description:
        - Normalized status, the first word of RV(servers[].status).
        - One of V(UP), V(DOWN), V(NOLB), V(DRAIN), V(MAINT) or V(NO CHECK).
      type: str
      sample: DOWN
    transition:
      description:
        - V(going up) for V(DOWN n/m) (failing server now passing checks), V(going down) for V(UP n/m),
          V(NOLB n/m) or V(DRAIN n/m) (server failing checks), otherwise V(null).
      type: str
      sample: going up
    checks:
      description: The V(n/m) check counter of a transition, otherwise V(null). Only with O(details=true).
      type: str
      sample: 2/3
    via:
      description: For V(MAINT (via backend/server)), the tracked server the maintenance comes from.
      type: str
      sample: web/app-01
    status_detail:
      description: Text in parentheses of the status, such as V(agent), V(resolution) or V(via web/app-01). Only with O(details=true).
      type: str
    tracked:
      description: The server this one tracks (C(track) keyword), if any. Only with O(details=true).
      type: str
    admin_state:
      description:
        - Effective administrative state from the C(srv_admin_state) bits.
        - V(maint) if forced, inherited or DNS maintenance (C(FMAINT), C(IMAINT), C(RMAINT)),
          V(drain) if forced or inherited drain (C(FDRAIN), C(IDRAIN)), otherwise V(ready).
      type: str
      sample: drain
    forced_admin_state:
      description: The administrative state set on this server itself (what M(acgs.haproxy_stack.haproxy_server) sets).
      type: str
      sample: drain
    admin_flags:
      description: Names of the C(srv_admin_state) bits set. Only with O(details=true).
      type: list
      elements: str
      sample: ["FMAINT", "CMAINT"]
    admin_state_raw:
      description: The C(srv_admin_state) value. Only with O(details=true).
      type: int
    operational_state:
      description: V(stopped), V(starting), V(running) or V(stopping) (C(srv_op_state) 0 to 3).
      type: str
      sample: running
    operational_state_raw:
      description: The C(srv_op_state) value. Only with O(details=true).
      type: int
    weight:
      description: Current user weight.
      type: int
    initial_weight:
      description: Weight from the configuration.
      type: int
    effective_weight:
      description: Weight in use by the load balancer (0 while drained, down or in maintenance). Only with O(details=true).
      type: int
    current_sessions:
      description: Current sessions on the server.
      type: int
    max_sessions:
      description: Highest number of sessions seen. Only with O(details=true).
      type: int
    session_limit:
      description: Configured C(maxconn). Only with O(details=true).
      type: int
    total_sessions:
      description: Cumulated number of sessions. Only with O(details=true).
      type: int
    queue:
      description: Queued requests. Only with O(details=true).
      type: int
    check_status:
      description: Last health check status, such as V(L7OK) or V(L4CON); V(null) without checks.
      type: str
      sample: L4CON
    check_code:
      description: Layer 5-7 code of the last check. Only with O(details=true).
      type: int
    check_desc:
      description: Description of the last check result. Only with O(details=true).
      type: str
    last_change:
      description: Seconds since the last operational state change.
      type: int
    downtime:
      description: Total seconds down. Only with O(details=true).
      type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.acgs.haproxy_stack.plugins.module_utils._haproxy import (
    HAPROXY_COMMON_ARGS,
    SERVER_SUMMARY_KEYS,
    HAProxyError,
    HAProxyRuntime,
    is_glob,
    match_names,
    select_servers as select_matching,
)


def select_backends(patterns, names):
    """Return (selected names in order, errors)."""
    if not patterns:
        return list(names), []
    selected = set()
    errors = []
    for pattern in patterns:
        found = match_names(pattern, names)
        if not found and not is_glob(pattern):
            errors.append('No such backend "%s"' % pattern)
        selected.update(found)
    return [n for n in names if n in selected], errors


def select_servers(patterns, servers, backends):
    """Filter servers (dicts) of the selected backends by name patterns; return (servers, errors).

    A pattern is "server" (in every selected backend) or "backend/server"; a glob may match nothing.
    """
    in_scope = [s for s in servers if s['backend'] in backends]
    if not patterns:
        return in_scope, []
    pairs = [(backend if sep else None, name) for backend, sep, name in (p.rpartition('/') for p in patterns)]
    selections = select_matching(pairs, in_scope, list(backends), on_no_match='ignore')
    chosen = set(id(server) for selection in selections for server in selection['servers'])
    errors = ['No such server "%s"' % pattern for pattern, selection in zip(patterns, selections) if selection['missing']]
    return [server for server in in_scope if id(server) in chosen], errors


def main():
    argument_spec = dict(
        backend=dict(type='list', elements='str'),
        server=dict(type='list', elements='str'),
        details=dict(type='bool', default=False),
    )
    argument_spec.update(HAPROXY_COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)

    try:
        runtime = HAProxyRuntime(module.params['socket'], module.params['timeout'])
        snap = runtime.snapshot(info=True, proxies=True)
    except HAProxyError as exc:
        module.fail_json(msg=str(exc), socket=module.params['socket'])

    backend_names = [b['name'] for b in snap['backends']]
    backends, errors = select_backends(module.params['backend'], backend_names)
    servers, server_errors = select_servers(module.params['server'], snap['servers'], set(backends))
    errors.extend(server_errors)
    if errors:
        module.fail_json(msg='%s on %s' % ('; '.join(errors), runtime.where), errors=errors,
                         socket=module.params['socket'])

    if not module.params['details']:
        servers = [dict((key, server[key]) for key in SERVER_SUMMARY_KEYS) for server in servers]
    wanted = set(backends)
    module.exit_json(
        changed=False,
        info=snap['info'],
        frontends=snap['frontends'],
        backends=[b for b in snap['backends'] if b['name'] in wanted],
        servers=servers,
    )


if __name__ == '__main__':
    main()
