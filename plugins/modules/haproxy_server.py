#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: haproxy_server
short_description: Put HAProxy servers in ready, drain or maintenance state and set their weights at runtime
version_added: 0.1.0
description:
  - Sets the administrative state (V(ready), V(drain), V(maint)) and/or the weight of one server or of many
    servers in one task, through HAProxy's runtime API.
  - Every named backend and server is checked to exist B(before) anything is changed; if one is missing, or
    any argument is invalid, the task fails and no server is changed.
  - All changes are sent over one connection, so changing 1000 servers takes milliseconds.
    If HAProxy refuses one of the commands (for example a weight on a backend with a static load-balancing
    algorithm), the changes already applied by the task are rolled back and the task fails.
  - The task is idempotent and reports a change only for servers whose state or weight it changed.
  - The state compared and set is the one forced on the server itself (C(FMAINT) and C(FDRAIN) bits of
    C(srv_admin_state)), independent of its health, so draining a server whose health check fails
    (status V(DOWN)) works and O(wait) does not wait for a V(DRAIN) status that a down server never shows.
author:
  - acgs.haproxy_stack developers (@acgs)
extends_documentation_fragment:
  - acgs.haproxy_stack._haproxy
  - acgs.haproxy_stack._haproxy.actiongroup_haproxy
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the servers, validates everything and reports what would change, without changing anything.
  diff_mode:
    support: full
    details: Shows the state and weight of each changed server before and after.
  platform:
    platforms: posix
options:
  servers:
    description:
      - The servers to change.
      - Each item is either a V(backend/server) string or a dictionary with keys C(backend), C(server)
        (or C(name)) and optionally C(state) and C(weight), which override O(state) and O(weight) for this item.
      - Backend and server names may be glob patterns such as V(web/app-*) or V(*/app-01). A name that is not a
        pattern must exist. A pattern must match at least one server.
      - Mutually exclusive with O(backend) and O(server).
    type: list
    elements: raw
  backend:
    description:
      - Backend of the servers to change. Name or glob pattern.
      - Needs O(server). Without O(backend), O(server) is looked up in every backend.
    type: str
  server:
    description:
      - Server to change in O(backend), name or glob pattern such as V(app-*) (V(*) for every server).
    type: str
  state:
    description:
      - V(ready) puts the server back in normal service (leaves drain and maintenance).
      - V(drain) stops sending it new traffic except persistent connections; health checks go on.
      - V(maint) stops all traffic and health checks.
      - Omit to change only the weight.
    type: str
    choices: [ready, drain, maint]
  weight:
    description:
      - Absolute weight from V(0) to V(256), or a percentage of the server's configured weight such as V(50%)
        (capped at 256).
      - Backends with a static load-balancing algorithm (such as C(static-rr)) only accept V(0) and the initial
        weight (V(100%)).
    type: raw
  shutdown_sessions:
    description:
      - With O(state=maint), also kill the sessions still open on the servers (C(shutdown sessions server)).
    type: bool
    default: false
  wait:
    description:
      - Wait until every server reached its administrative state and weight and, for servers set to V(drain) or
        V(maint), until they have no current session left.
      - Servers set to V(ready) are never waited for sessions.
      - If O(wait_timeout) passes first, the task fails and lists the servers that did not get there with their
        last state.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait when O(wait=true).
    type: float
    default: 60.0
  wait_interval:
    description:
      - Seconds between two reads of the servers' states when O(wait=true).
    type: float
    default: 1.0
seealso:
  - module: acgs.haproxy_stack.haproxy_info
  - module: community.general.haproxy
    description: Changes one server per task and reconnects for every command.
"""

EXAMPLES = r"""
- name: Drain one server and wait until its sessions are gone
  acgs.haproxy_stack.haproxy_server:
    backend: web
    server: app-01
    state: drain
    wait: true
    wait_timeout: 300
  become: true

- name: Put it in maintenance, killing what is left
  acgs.haproxy_stack.haproxy_server:
    servers: [web/app-01]
    state: maint
    shutdown_sessions: true
  become: true

- name: Back in service at full weight
  acgs.haproxy_stack.haproxy_server:
    servers: [web/app-01]
    state: ready
    weight: 100%
  become: true

- name: Drain every app server of every backend in one task, over a TCP socket
  acgs.haproxy_stack.haproxy_server:
    socket: 127.0.0.1:9999
    servers:
      - "*/app-*"
    state: drain

- name: Mixed changes, one task
  acgs.haproxy_stack.haproxy_server:
    servers:
      - web/app-01
      - {backend: web, server: app-02, weight: 50%}
      - {backend: api, server: api-*, state: maint}
    state: ready

- name: Rolling restart of the servers of the current batch
  acgs.haproxy_stack.haproxy_server:
    servers: "{{ ansible_play_batch | map('regex_replace', '^', 'web/') | list }}"
    state: drain
    wait: true
  delegate_to: "{{ groups['loadbalancers'][0] }}"
  run_once: true

- name: Use module_defaults for the socket
  module_defaults:
    group/acgs.haproxy_stack.haproxy:
      socket: /run/haproxy/admin.sock
      timeout: 10
  block:
    - name: Ready again
      acgs.haproxy_stack.haproxy_server:
        backend: web
        server: "*"
        state: ready
"""

RETURN = r"""
msg:
  description: Summary.
  returned: always
  type: str
  sample: Changed 1000 of 1000 servers
servers:
  description: One item per server the task selected, in HAProxy's order.
  returned: success, or failure after the servers were resolved
  type: list
  elements: dict
  contains:
    backend:
      description: Backend name.
      type: str
      sample: web
    server:
      description: Server name.
      type: str
      sample: app-01
    changed:
      description: Whether the task changed (or in check mode would change) this server.
      type: bool
    wanted:
      description: The requested V(state) and absolute V(weight) (V(null) when not requested).
      type: dict
      sample: {"state": "drain", "weight": null}
    before:
      description:
        - State before the task. V(state) is the state forced on the server (V(ready), V(drain) or V(maint)),
          V(admin_state) the effective one (including maintenance inherited from a tracked server),
          V(status) the raw health status.
      type: dict
      sample: {"state": "ready", "admin_state": "ready", "weight": 1, "status": "UP", "current_sessions": 3}
    after:
      description: State after the task (predicted in check mode, where only V(state) and V(weight) are set).
      type: dict
      sample: {"state": "drain", "admin_state": "drain", "weight": 1, "status": "DRAIN", "current_sessions": 0}
commands:
  description: Runtime API commands sent (or that would be sent in check mode).
  returned: always
  type: list
  elements: str
  sample: ["set server web/app-01 state drain"]
waited:
  description: Seconds spent waiting with O(wait=true).
  returned: when O(wait=true)
  type: float
  sample: 2.5
timed_out:
  description: Servers that did not reach the wanted state within O(wait_timeout), with their last state.
  returned: when the wait timed out
  type: list
  elements: dict
  sample: [{"server": "web/app-01", "state": "drain", "status": "DRAIN", "current_sessions": 4}]
errors:
  description: Every validation error or error answer from HAProxy.
  returned: failure
  type: list
  elements: str
  sample: ['No such server "web/app-99" (servers[1])']
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.acgs.haproxy_stack.plugins.module_utils._haproxy import (
    ADMIN_FORCED_DRAIN,
    ADMIN_FORCED_MAINT,
    HAPROXY_COMMON_ARGS,
    SERVER_STATES,
    HAProxyError,
    HAProxyRuntime,
    absolute_weight,
    is_glob,
    name_matches,
    parse_weight,
)

_ITEM_KEYS = frozenset(['backend', 'server', 'name', 'state', 'weight'])
_MAX_LISTED = 20


def _listing(items):
    items = list(items)
    text = '; '.join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        text += '; ... and %d more' % (len(items) - _MAX_LISTED)
    return text


def parse_entries(params):
    """Turn the module parameters into (entries, errors).

    Each entry is a dict: backend (pattern), server (pattern), state, weight, label.
    """
    errors = []
    entries = []
    state = params['state']
    weight = params['weight']
    if params['servers'] is not None:
        if not params['servers']:
            errors.append('servers is an empty list')
        for index, item in enumerate(params['servers']):
            label = 'servers[%d]' % index
            if isinstance(item, dict):
                unknown = sorted(set(item) - _ITEM_KEYS)
                if unknown:
                    errors.append('%s: unknown key(s) %s; use backend, server, state, weight'
                                  % (label, ', '.join(unknown)))
                    continue
                backend = item.get('backend')
                server = item.get('server', item.get('name'))
                if not backend or not server:
                    errors.append('%s: a dictionary item needs both backend and server' % label)
                    continue
                entries.append(dict(backend=str(backend), server=str(server),
                                    state=item.get('state', state), weight=item.get('weight', weight), label=label))
            elif isinstance(item, str):
                backend, sep, server = item.strip().partition('/')
                if not sep or not backend or not server or '/' in server:
                    errors.append('%s: "%s" is not "backend/server"' % (label, item))
                    continue
                entries.append(dict(backend=backend, server=server, state=state, weight=weight, label=label))
            else:
                errors.append('%s: expected a "backend/server" string or a dictionary, got %s'
                              % (label, type(item).__name__))
    else:
        entries.append(dict(backend=params['backend'] or '*', server=params['server'], state=state,
                            weight=weight, label='backend/server'))

    for entry in entries:
        if entry['state'] is not None and entry['state'] not in SERVER_STATES:
            errors.append('%s: state "%s" is not one of %s' % (entry['label'], entry['state'], ', '.join(SERVER_STATES)))
        if entry['weight'] is not None:
            entry['weight'] = str(entry['weight'])
            try:
                parse_weight(entry['weight'])
            except ValueError as exc:
                errors.append('%s: %s' % (entry['label'], exc))
        if entry['state'] is None and entry['weight'] is None:
            errors.append('%s: nothing to do, set state and/or weight' % entry['label'])
    return entries, errors


def resolve(entries, servers, backend_names):
    """Match entries against the servers HAProxy has. Returns (targets, errors).

    targets is a list of (server dict, wanted state, wanted weight string) in HAProxy's order.
    """
    errors = []
    wanted = {}
    by_backend = {}
    for server in servers:
        by_backend.setdefault(server['backend'], []).append(server)
    for entry in entries:
        backends = [b for b in backend_names if name_matches(entry['backend'], b)]
        if not backends:
            if is_glob(entry['backend']):
                errors.append('backend pattern "%s" matches no backend (%s)' % (entry['backend'], entry['label']))
            else:
                errors.append('No such backend "%s" (%s)' % (entry['backend'], entry['label']))
            continue
        matched = [s for b in backends for s in by_backend.get(b, []) if name_matches(entry['server'], s['name'])]
        if not matched:
            if not is_glob(entry['server']) and len(backends) == 1:
                errors.append('No such server "%s/%s" (%s)' % (backends[0], entry['server'], entry['label']))
            else:
                errors.append('"%s/%s" matches no server (%s)' % (entry['backend'], entry['server'], entry['label']))
            continue
        for server in matched:
            key = (server['backend'], server['name'])
            request = (entry['state'], entry['weight'])
            if key in wanted and wanted[key][0] != request:
                errors.append('%s/%s is requested twice with different settings (%s and %s)'
                              % (key[0], key[1], wanted[key][1], entry['label']))
                continue
            wanted[key] = (request, entry['label'])
    targets = []
    for server in servers:
        key = (server['backend'], server['name'])
        if key in wanted:
            state, weight = wanted[key][0]
            targets.append((server, state, weight))
    return targets, errors


def describe(server):
    return dict(
        state=server['forced_admin_state'],
        admin_state=server['admin_state'],
        weight=server['weight'],
        status=server['status'],
        current_sessions=server['current_sessions'],
    )


def restore_commands(server):
    """Commands putting a server back in the forced state and weight it had."""
    path = '%s/%s' % (server['backend'], server['name'])
    raw = server['admin_state_raw'] or 0
    commands = []
    if raw & ADMIN_FORCED_DRAIN:
        commands.append('set server %s state drain' % path)
    if raw & ADMIN_FORCED_MAINT:
        commands.append('set server %s state maint' % path)
    if not commands:
        commands.append('set server %s state ready' % path)
    commands.append('set server %s weight %s' % (path, server['weight']))
    return commands


def plan(targets, shutdown_sessions):
    """Return (items, commands, owners): per-server plan, the commands and the server index of each command."""
    items = []
    commands = []
    owners = []
    for server, state, weight in targets:
        path = '%s/%s' % (server['backend'], server['name'])
        abs_weight = absolute_weight(weight, server['initial_weight'] or 0) if weight is not None else None
        before = describe(server)
        after = dict(state=before['state'], weight=before['weight'])
        own = []
        state_cmd = []
        if state is not None and state != server['forced_admin_state']:
            state_cmd.append('set server %s state %s' % (path, state))
            after['state'] = state
        weight_cmd = []
        if abs_weight is not None and abs_weight != server['weight']:
            weight_cmd.append('set server %s weight %d' % (path, abs_weight))
            after['weight'] = abs_weight
        if state == 'ready':
            # Weight first, so the server comes back with the wanted weight.
            own = weight_cmd + state_cmd
        else:
            own = state_cmd + weight_cmd
        if state == 'maint' and shutdown_sessions and (state_cmd or server['current_sessions']):
            own.append('shutdown sessions server %s' % path)
        index = len(items)
        items.append(dict(
            backend=server['backend'],
            server=server['name'],
            changed=bool(own),
            wanted=dict(state=state, weight=abs_weight),
            before=before,
            after=after,
        ))
        commands.extend(own)
        owners.extend([index] * len(own))
    return items, commands, owners


def reached(server, wanted):
    """Whether a server (fresh snapshot) reached what was wanted."""
    state = wanted['state']
    if state is not None:
        if server['forced_admin_state'] != state:
            return False
        if state in ('drain', 'maint') and server['current_sessions']:
            return False
    if wanted['weight'] is not None and server['weight'] != wanted['weight']:
        return False
    return True


def refresh_after(items, current):
    """Put the servers' actual state in items[]['after']; return those wanted ready but still out of service."""
    index = dict(((s['backend'], s['name']), s) for s in current)
    still = []
    for item in items:
        server = index.get((item['backend'], item['server']))
        if server is not None:
            item['after'] = describe(server)
            if item['wanted']['state'] == 'ready' and server['admin_state'] != 'ready':
                still.append('%s/%s (%s)' % (item['backend'], item['server'], ','.join(server['admin_flags'])))
    return still


def main():
    argument_spec = dict(
        servers=dict(type='list', elements='raw'),
        backend=dict(type='str'),
        server=dict(type='str'),
        state=dict(type='str', choices=list(SERVER_STATES)),
        weight=dict(type='raw'),
        shutdown_sessions=dict(type='bool', default=False),
        wait=dict(type='bool', default=False),
        wait_timeout=dict(type='float', default=60.0),
        wait_interval=dict(type='float', default=1.0),
    )
    argument_spec.update(HAPROXY_COMMON_ARGS)
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[('servers', 'backend'), ('servers', 'server')],
        required_one_of=[('servers', 'server')],
        required_by={'backend': 'server'},
    )
    params = module.params
    result = dict(changed=False, commands=[], servers=[])

    def fail(msg, **kwargs):
        result.update(kwargs)
        result['socket'] = params['socket']
        module.fail_json(msg=msg, **result)

    if params['wait_timeout'] < 0 or params['wait_interval'] <= 0:
        fail('wait_timeout must be >= 0 and wait_interval > 0')

    entries, errors = parse_entries(params)
    if errors:
        fail('Invalid arguments, nothing was changed: %s' % _listing(errors), errors=errors)

    try:
        runtime = HAProxyRuntime(params['socket'], params['timeout'])
        snap = runtime.snapshot(backends=True)
    except HAProxyError as exc:
        fail('%s; nothing was changed' % exc)

    targets, errors = resolve(entries, snap['servers'], snap['backend_names'])
    if errors:
        fail('%s on %s; nothing was changed' % (_listing(errors), runtime.where), errors=errors)

    items, commands, owners = plan(targets, params['shutdown_sessions'])
    result['servers'] = items
    result['commands'] = commands
    changed_items = [item for item in items if item['changed']]
    result['changed'] = bool(changed_items)
    if module._diff:
        diff = dict(before={}, after={})
        for item in changed_items:
            key = '%s/%s' % (item['backend'], item['server'])
            diff['before'][key] = dict(state=item['before']['state'], weight=item['before']['weight'])
            diff['after'][key] = dict(state=item['after']['state'], weight=item['after']['weight'])
        result['diff'] = diff

    if commands and not module.check_mode:
        try:
            answers = runtime.execute(commands)
        except HAProxyError as exc:
            fail('%s; the %d change(s) may be partly applied, check with haproxy_info' % (exc, len(commands)))
        failures = [(i, answer) for i, answer in enumerate(answers) if answer.strip()]
        if failures:
            failed = set(i for i, dummy in failures)
            errors = ['"%s": %s' % (commands[i], ' '.join(answer.split())) for i, answer in failures]
            touched = sorted(set(owners[i] for i in range(len(commands)) if i not in failed))
            rollback = [cmd for index in touched for cmd in restore_commands(targets[index][0])]
            result['changed'] = False
            note = 'no server was changed'
            if rollback:
                try:
                    rb_answers = runtime.execute(rollback)
                    rb_failed = ['"%s": %s' % (rollback[i], ' '.join(answer.split()))
                                 for i, answer in enumerate(rb_answers) if answer.strip()]
                except HAProxyError as exc:
                    rb_failed = [str(exc)]
                if rb_failed:
                    result['changed'] = True
                    note = 'rolling back the other changes failed too (%s), check with haproxy_info' % _listing(rb_failed)
                else:
                    note = 'the changes to %d other server(s) were rolled back, no server was changed' % len(touched)
            fail('HAProxy refused %d command(s) on %s: %s; %s' % (len(failures), runtime.where, _listing(errors), note),
                 errors=errors,
                 failed_servers=sorted(set('%s/%s' % (items[owners[i]]['backend'], items[owners[i]]['server'])
                                           for i in failed)))

    current = None
    if params['wait'] and not module.check_mode:
        start = time.time()
        deadline = start + params['wait_timeout']
        while True:
            try:
                current = runtime.snapshot()['servers']
            except HAProxyError as exc:
                fail('%s while waiting' % exc)
            index = dict(((s['backend'], s['name']), s) for s in current)
            pending = []
            for item in items:
                server = index.get((item['backend'], item['server']))
                if server is None or not reached(server, item['wanted']):
                    pending.append((item, server))
            now = time.time()
            if not pending:
                break
            if now >= deadline:
                timed_out = []
                for item, server in pending:
                    entry = dict(server='%s/%s' % (item['backend'], item['server']), wanted=item['wanted'])
                    if server is None:
                        entry['error'] = 'server disappeared'
                    else:
                        entry.update(describe(server))
                    timed_out.append(entry)
                text = ['%s (wanted %s%s, now state %s, status %s, %s session(s), weight %s)'
                        % (t['server'], t['wanted']['state'] or 'weight %s' % t['wanted']['weight'],
                           ' with 0 sessions' if t['wanted']['state'] in ('drain', 'maint') else '',
                           t.get('state'), t.get('status'), t.get('current_sessions'), t.get('weight'))
                        for t in timed_out]
                result['waited'] = round(now - start, 3)
                refresh_after(items, current)
                fail('Timed out after %ss waiting for %d of %d server(s): %s'
                     % (params['wait_timeout'], len(pending), len(items), _listing(text)), timed_out=timed_out)
            time.sleep(max(0.0, min(params['wait_interval'], deadline - now)))
        result['waited'] = round(time.time() - start, 3)

    if commands and not module.check_mode and current is None:
        try:
            current = runtime.snapshot()['servers']
        except HAProxyError as exc:
            module.warn('could not read the servers after the change: %s' % exc)
    if current is not None:
        still = refresh_after(items, current)
        if still:
            module.warn('forced state is ready but these servers stay out of service through a tracked server or '
                        'DNS resolution: %s' % _listing(still))

    count = len(changed_items)
    if module.check_mode:
        result['msg'] = 'Would change %d of %d server(s)' % (count, len(items))
    elif count:
        result['msg'] = 'Changed %d of %d server(s)' % (count, len(items))
    else:
        result['msg'] = 'All %d server(s) already as requested' % len(items)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
