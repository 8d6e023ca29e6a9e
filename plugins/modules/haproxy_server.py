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
    normalize_items,
    parse_weight,
    select_servers,
    wait_for,
)

_ITEM_KEYS = frozenset(['backend', 'server', 'name', 'state', 'weight'])
_MAX_LISTED = 20


def _listing(items):
    items = list(items)
    text = '; '.join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        text += '; ... and %d more' % (len(items) - _MAX_LISTED)
    return text


def _server_item(item):
    """A servers[] item (dict or "backend/server" string) as dict(backend, server[, state][, weight])."""
    if isinstance(item, dict):
        backend = item.get('backend')
        server = item.get('server', item.get('name'))
        if not backend or not server:
            raise ValueError('a dictionary item needs both backend and server')
        entry = dict((key, item[key]) for key in ('state', 'weight') if key in item)
        entry.update(backend=str(backend), server=str(server))
        return entry
    backend, sep, server = item.strip().partition('/')
    if not sep or not backend or not server or '/' in server:
        raise ValueError('"%s" is not "backend/server"' % item)
    return dict(backend=backend, server=server)


def parse_entries(params):
    """Turn the module parameters into (entries, errors).

    Each entry is a dict: backend (pattern), server (pattern), state, weight, label.
    """
    errors = []
    entries = []
    defaults = dict(state=params['state'], weight=params['weight'])
    if params['servers'] is not None:
        if not params['servers']:
            errors.append('servers is an empty list')
        items, item_errors = normalize_items(params['servers'], 'servers', _ITEM_KEYS, 'backend, server, state, weight',
                                             'a "backend/server" string or a dictionary', _server_item)
        errors.extend(item_errors)
        entries = [dict(defaults, label=label, **item) for label, item in items]
    else:
        entries.append(dict(defaults, backend=params['backend'] or '*', server=params['server'],
                            label='backend/server'))

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
    selections = select_servers([(e['backend'], e['server']) for e in entries], servers, backend_names)
    for entry, selection in zip(entries, selections):
        backends = selection['backends']
        if selection['missing'] == 'backend':
            if is_glob(entry['backend']):
                errors.append('backend pattern "%s" matches no backend (%s)' % (entry['backend'], entry['label']))
            else:
                errors.append('No such backend "%s" (%s)' % (entry['backend'], entry['label']))
            continue
        if selection['missing'] == 'server':
            if not is_glob(entry['server']) and len(backends) == 1:
                errors.append('No such server "%s/%s" (%s)' % (backends[0], entry['server'], entry['label']))
            else:
                errors.append('"%s/%s" matches no server (%s)' % (entry['backend'], entry['server'], entry['label']))
            continue
        for server in selection['servers']:
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


def diff_of(items):
    """The --diff of the changed servers: state and weight before and after."""
    diff = dict(before={}, after={})
    for item in items:
        if item['changed']:
            key = '%s/%s' % (item['backend'], item['server'])
            diff['before'][key] = dict(state=item['before']['state'], weight=item['before']['weight'])
            diff['after'][key] = dict(state=item['after']['state'], weight=item['after']['weight'])
    return diff


def apply_plan(runtime, commands, owners, targets, items):
    """Send the planned commands; if HAProxy refuses some, roll the servers changed by the others back.

    Returns None when HAProxy accepted every command, else (changed, msg, fail keyword arguments).
    """
    touched = []

    def rollback_for(accepted):
        touched.extend(sorted(set(owners[i] for i in accepted)))
        return [cmd for index in touched for cmd in restore_commands(targets[index][0])]

    try:
        outcome = runtime.apply(commands, rollback_for)
    except HAProxyError as exc:
        return True, '%s; the %d change(s) may be partly applied, check with haproxy_info' % (exc, len(commands)), {}
    if not outcome['refused']:
        return None
    errors = ['"%s": %s' % (commands[i], answer) for i, answer in outcome['refused']]
    changed = bool(outcome['rollback_errors'])
    if changed:
        note = 'rolling back the other changes failed too (%s), check with haproxy_info' % _listing(
            outcome['rollback_errors'])
    elif outcome['rollback']:
        note = 'the changes to %d other server(s) were rolled back, no server was changed' % len(touched)
    else:
        note = 'no server was changed'
    failed_servers = sorted(set('%s/%s' % (items[owners[i]]['backend'], items[owners[i]]['server'])
                                for i, dummy in outcome['refused']))
    msg = 'HAProxy refused %d command(s) on %s: %s; %s' % (len(errors), runtime.where, _listing(errors), note)
    return changed, msg, dict(errors=errors, failed_servers=failed_servers)


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


def pending_items(items, current):
    """(item, server or None) for each item whose server (in ``current``) did not reach what it wanted."""
    index = dict(((s['backend'], s['name']), s) for s in current)
    pending = []
    for item in items:
        server = index.get((item['backend'], item['server']))
        if server is None or not reached(server, item['wanted']):
            pending.append((item, server))
    return pending


def wait_until_reached(runtime, items, timeout, interval):
    """Read the servers until every item reached what it wanted, or ``timeout``.

    Returns (servers read last, pending items as pending_items() gives them, seconds waited).
    Raises HAProxyError when the servers cannot be read.
    """
    last = {}

    def all_reached():
        last['current'] = runtime.snapshot()['servers']
        last['pending'] = pending_items(items, last['current'])
        return not last['pending']

    dummy, waited = wait_for(all_reached, timeout, interval)
    return last['current'], last['pending'], waited


def timeout_failure(pending, total, wait_timeout):
    """(msg, timed_out) for the servers that did not get to what they wanted within ``wait_timeout``."""
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
    return ('Timed out after %ss waiting for %d of %d server(s): %s'
            % (wait_timeout, len(pending), total, _listing(text)), timed_out)


def out_of_service(items, current):
    """The items wanted ready whose server (in ``current``) is still out of service, as "backend/server (FLAGS)"."""
    index = dict(((s['backend'], s['name']), s) for s in current)
    still = []
    for item in items:
        server = index.get((item['backend'], item['server']))
        if server is not None and item['wanted']['state'] == 'ready' and server['admin_state'] != 'ready':
            still.append('%s/%s (%s)' % (item['backend'], item['server'], ','.join(server['admin_flags'])))
    return still


def refresh_after(items, current):
    """Put the servers' actual state in items[]['after']; return those wanted ready but still out of service."""
    index = dict(((s['backend'], s['name']), s) for s in current)
    for item in items:
        server = index.get((item['backend'], item['server']))
        if server is not None:
            item['after'] = describe(server)
    return out_of_service(items, current)


def settle(module, runtime, items, commands, first_read):
    """After the change: wait if asked, put the servers' state in the items, warn about those kept out of service.

    Without commands, nothing changed since ``first_read``, which says which servers stay out of service.
    Returns (seconds waited or None, failure): failure is None or (msg, fail keyword arguments).
    """
    params = module.params
    waited = None
    try:
        if params['wait']:
            current, pending, waited = wait_until_reached(runtime, items, params['wait_timeout'],
                                                          params['wait_interval'])
            if pending:
                refresh_after(items, current)
                msg, timed_out = timeout_failure(pending, len(items), params['wait_timeout'])
                return waited, (msg, dict(timed_out=timed_out))
        elif commands:
            current = runtime.snapshot()['servers']
    except HAProxyError as exc:
        if params['wait']:
            return None, ('%s while waiting' % exc, {})
        module.warn('could not read the servers after the change: %s' % exc)
        return None, None
    still = refresh_after(items, current) if params['wait'] or commands else out_of_service(items, first_read)
    if still:
        module.warn('forced state is ready but these servers stay out of service through a tracked server or '
                    'DNS resolution: %s' % _listing(still))
    return waited, None


def argument_spec():
    spec = dict(
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
    spec.update(HAPROXY_COMMON_ARGS)
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[('servers', 'backend'), ('servers', 'server')],
                           required_one_of=[('servers', 'server')], required_by={'backend': 'server'})
    params = module.params
    result = dict(changed=False, commands=[], servers=[])

    def fail(msg, **kwargs):
        result.update(kwargs, socket=params['socket'])
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
    count = sum(1 for item in items if item['changed'])
    result.update(servers=items, commands=commands, changed=bool(count))
    if module._diff:
        result['diff'] = diff_of(items)
    if module.check_mode:
        module.exit_json(msg='Would change %d of %d server(s)' % (count, len(items)), **result)

    failure = apply_plan(runtime, commands, owners, targets, items) if commands else None
    if failure:
        result['changed'] = failure[0]
        fail(failure[1], **failure[2])
    waited, failure = settle(module, runtime, items, commands, snap['servers'])
    if waited is not None:
        result['waited'] = waited
    if failure:
        fail(failure[0], **failure[1])
    result['msg'] = ('Changed %d of %d server(s)' % (count, len(items)) if count
                     else 'All %d server(s) already as requested' % len(items))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
