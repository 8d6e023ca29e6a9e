# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the haproxy_server module against the fake runtime API."""

from __future__ import annotations

import pytest

from ansible.module_utils.common.warnings import get_warning_messages

from ansible_collections.acgs.haproxy_stack.plugins.modules import haproxy_server
from fake_haproxy import CONNECT_ERRORS, FakeHAProxy, Server


def changes(fake):
    return [c for c in fake.log if not c.startswith('show ')]


def by_name(result):
    return dict(('%s/%s' % (s['backend'], s['server']), s) for s in result['servers'])


def test_drain_one(fake, fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, backend='web', server='app1', state='drain'))
    assert kind == 'exit', result
    assert result['changed'] is True
    assert result['commands'] == ['set server web/app1 state drain']
    assert fake.get('web', 'app1').admin == 0x08
    item = by_name(result)['web/app1']
    assert item['before']['state'] == 'ready' and item['after']['state'] == 'drain'
    assert item['after']['status'] == 'DRAIN'
    assert result['msg'] == 'Changed 1 of 1 server(s)'
    assert 'waited' not in result


def test_idempotent(fake, fake_socket, sock_path, run_module_inproc):
    args = dict(socket=sock_path, servers=['web/app1', 'web/app2'], state='maint', weight='5')
    kind, first = run_module_inproc(haproxy_server, args)
    assert kind == 'exit' and first['changed'] is True
    fake.log[:] = []
    kind, second = run_module_inproc(haproxy_server, args)
    assert kind == 'exit'
    assert second['changed'] is False
    assert second['commands'] == []
    assert changes(fake) == []
    assert second['msg'] == 'All 2 server(s) already as requested'


def test_check_mode_changes_nothing(fake, fake_socket, sock_path, run_module_inproc):
    before = fake.state_of()
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['web/*'], state='drain', weight='50%'),
                                     check_mode=True, diff=True)
    assert kind == 'exit'
    assert result['changed'] is True
    assert fake.state_of() == before
    assert changes(fake) == []
    assert 'set server web/app2 weight 5' in result['commands']
    assert result['diff']['before']['web/app2'] == dict(state='ready', weight=10)
    assert result['diff']['after']['web/app2'] == dict(state='drain', weight=5)
    assert result['msg'].startswith('Would change 3 of 3')


def test_diff_lists_only_changed_servers(fake, fake_socket, sock_path, run_module_inproc):
    fake.get('web', 'app1').admin = 0x08
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['web/app1', 'web/app2'],
                                                          state='drain'), diff=True)
    assert kind == 'exit'
    assert list(result['diff']['before']) == ['web/app2']
    assert result['diff']['after']['web/app2']['state'] == 'drain'
    items = by_name(result)
    assert items['web/app1']['changed'] is False and items['web/app2']['changed'] is True


def test_many_servers_one_connection(fake_socket, sock_path, run_module_inproc):
    servers = [Server('be%d' % (i // 100), 's%03d' % (i % 100), status=None) for i in range(1000)]
    model = FakeHAProxy(servers)
    fake_socket(model=model)
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['*/*'], state='drain'))
    assert kind == 'exit'
    assert len(result['commands']) == 1000
    assert all(s.admin == 0x08 for s in model.servers)
    # one connection to read, one to change, one to read back
    assert model.connections == 3


def test_mixed_items(fake, fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, state='ready', servers=[
        'web/app1',
        {'backend': 'web', 'server': 'app2', 'weight': '50%'},
        {'backend': 'api', 'name': 'api*', 'state': 'maint'},
    ]))
    assert kind == 'exit', result
    assert result['commands'] == ['set server web/app2 weight 5', 'set server api/api1 state maint',
                                  'set server api/api2 state maint']
    assert fake.get('web', 'app2').weight == 5
    assert fake.get('api', 'api2').admin & 0x01


def test_server_in_every_backend(fake, fake_socket, sock_path, run_module_inproc):
    fake.servers.append(Server('api', 'app1', status=None))
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, server='app1', state='drain'))
    assert kind == 'exit'
    assert sorted(by_name(result)) == ['api/app1', 'web/app1']


def test_weight_only(fake, fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, backend='web', server='app2', weight=0))
    assert kind == 'exit' and result['commands'] == ['set server web/app2 weight 0']
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, backend='web', server='app2', weight='100%'))
    assert result['commands'] == ['set server web/app2 weight 10']
    assert fake.get('web', 'app2').weight == 10
    assert fake.get('web', 'app2').admin == 0


def test_ready_sends_weight_first(fake, fake_socket, sock_path, run_module_inproc):
    fake.get('web', 'app2').admin = 0x01
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['web/app2'], state='ready', weight=3))
    assert result['commands'] == ['set server web/app2 weight 3', 'set server web/app2 state ready']
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['web/app2'], state='drain', weight=4))
    assert result['commands'] == ['set server web/app2 state drain', 'set server web/app2 weight 4']


# -- bad input: every case fails, says what and where, changes nothing ----------

@pytest.mark.parametrize('args, text', [
    (dict(servers=['web/app1', 'nope/app1', 'web/nope', 'api/zz*', 'x*/y']),
     ['No such backend "nope" (servers[1])', 'No such server "web/nope" (servers[2])',
      '"api/zz*" matches no server (servers[3])', 'backend pattern "x*" matches no backend (servers[4])']),
    (dict(backend='empty', server='any'), ['No such server "empty/any"']),
    (dict(server='ghost'), ['"*/ghost" matches no server']),
    (dict(servers=['web/app1', {'backend': 'web', 'server': 'app1', 'state': 'maint'}]),
     ['web/app1 is requested twice with different settings']),
])
def test_unknown_names_change_nothing(fake, fake_socket, sock_path, run_module_inproc, args, text):
    args = dict(args, socket=sock_path)
    args.setdefault('state', 'drain')
    before = fake.state_of()
    kind, result = run_module_inproc(haproxy_server, args)
    assert kind == 'fail'
    for part in text:
        assert part in result['msg']
    assert sock_path in result['msg'] and 'nothing was changed' in result['msg']
    assert fake.state_of() == before
    assert changes(fake) == []


@pytest.mark.parametrize('args, text', [
    (dict(servers=['web/app1'], weight='257'), 'weight 257 is out of range'),
    (dict(servers=['web/app1'], weight='-1'), 'weight must be an integer from 0 to 256'),
    (dict(servers=['web/app1'], weight='half'), 'weight must be an integer from 0 to 256'),
    (dict(servers=[{'backend': 'web', 'server': 'app1', 'weight': 1000}]), 'servers[0]: weight 1000 is out of range'),
    (dict(servers=[{'backend': 'web', 'server': 'app1', 'state': 'down'}]), 'state "down" is not one of'),
    (dict(servers=['app1'], state='drain'), 'servers[0]: "app1" is not "backend/server"'),
    (dict(servers=[{'backend': 'web'}], state='drain'), 'needs both backend and server'),
    (dict(servers=[{'backend': 'web', 'server': 'a', 'color': 'red'}], state='drain'), 'unknown key(s) color'),
    (dict(servers=[42], state='drain'), 'expected a "backend/server" string or a dictionary, got int'),
    (dict(servers=[], state='drain'), 'servers is an empty list'),
    (dict(servers=['web/app1']), 'nothing to do, set state and/or weight'),
    (dict(servers=['web/app1'], state='drain', wait_interval=0), 'wait_interval > 0'),
])
def test_bad_arguments_fail_before_connecting(fake, fake_socket, sock_path, run_module_inproc, args, text):
    kind, result = run_module_inproc(haproxy_server, dict(args, socket=sock_path))
    assert kind == 'fail'
    assert text in result['msg']
    assert fake.connections == 0


def test_state_choices(fake, fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['web/app1'], state='down'))
    assert kind == 'fail' and 'state' in result['msg'] and 'ready, drain, maint' in result['msg']
    assert fake.connections == 0


def test_mutually_exclusive(fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['web/app1'], backend='web',
                                                          server='app1', state='drain'))
    assert kind == 'fail' and 'mutually exclusive' in result['msg']


@pytest.mark.parametrize('connect_error, text', [
    ('refused', 'connection refused'), ('denied', 'permission denied'), ('timeout', 'timed out'),
])
def test_socket_errors(fake_socket, sock_path, run_module_inproc, connect_error, text):
    fake_socket(connect_error=CONNECT_ERRORS[connect_error])
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['web/app1'], state='drain'))
    assert kind == 'fail'
    assert text in result['msg'] and sock_path in result['msg'] and 'nothing was changed' in result['msg']


def test_missing_and_not_socket(tmp_path, run_module_inproc):
    kind, result = run_module_inproc(haproxy_server, dict(socket=str(tmp_path / 'gone.sock'), servers=['a/b'],
                                                          state='drain'))
    assert kind == 'fail' and 'gone.sock' in result['msg'] and 'no such file' in result['msg']
    (tmp_path / 'plain').write_text('')
    kind, result = run_module_inproc(haproxy_server, dict(socket=str(tmp_path / 'plain'), servers=['a/b'], state='drain'))
    assert kind == 'fail' and 'not a unix socket' in result['msg']


def test_haproxy_error_rolls_back(fake, fake_socket, sock_path, run_module_inproc):
    """HAProxy refuses a weight on a static-rr backend: the other changes are undone."""
    fake.get('web', 'app1').admin = 0x08   # drained before the task
    before = fake.state_of()
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=[
        {'backend': 'web', 'server': 'app1', 'state': 'maint'},
        {'backend': 'web', 'server': 'app2', 'state': 'drain', 'weight': 3},
        {'backend': 'static', 'server': 'st1', 'weight': 2},
    ]))
    assert kind == 'fail'
    assert 'HAProxy refused 1 command(s)' in result['msg']
    assert '"set server static/st1 weight 2": Backend is using a static LB algorithm' in result['msg']
    assert 'rolled back, no server was changed' in result['msg']
    assert result['changed'] is False
    assert result['failed_servers'] == ['static/st1']
    assert fake.state_of() == before
    assert 'set server web/app1 state drain' in fake.log     # restored drain


def test_permission_level_answer(fake, fake_socket, sock_path, run_module_inproc):
    fake.level = 'operator'
    before = fake.state_of()
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['web/app1', 'web/app2'],
                                                          state='maint'))
    assert kind == 'fail'
    assert 'Permission denied' in result['msg'] and sock_path in result['msg']
    assert 'no server was changed' in result['msg']
    assert fake.state_of() == before


# -- waiting ---------------------------------------------------------------------

def test_drain_down_server_does_not_wait_for_drain_status(fake, fake_socket, sock_path, run_module_inproc):
    """Trap: a DOWN server never shows DRAIN; its admin state is what counts."""
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['web/app3'], state='drain',
                                                          wait=True, wait_timeout=2, wait_interval=0.05))
    assert kind == 'exit', result
    item = by_name(result)['web/app3']
    assert item['after']['status'] == 'DOWN'
    assert item['after']['state'] == 'drain'
    assert result['waited'] < 1


@pytest.mark.parametrize('status', ['DOWN 2/3', 'UP 1/3', 'MAINT (via web/app1)', 'DRAIN (agent)', 'NOLB'])
def test_composite_statuses(fake, fake_socket, sock_path, run_module_inproc, status):
    fake.get('web', 'app1').status = status
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['web/app1'], state='maint',
                                                          wait=True, wait_timeout=1, wait_interval=0.05))
    assert kind == 'exit', result
    assert result['changed'] is True


def test_wait_for_sessions(fake, fake_socket, sock_path, run_module_inproc):
    api1 = fake.get('api', 'api1')
    api1.scur = 3

    def drop(model):
        if api1.admin & 0x08 and api1.scur:
            api1.scur -= 1

    fake.on_show_stat = drop
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['api/api1'], state='drain',
                                                          wait=True, wait_timeout=5, wait_interval=0.05))
    assert kind == 'exit', result
    assert api1.scur == 0
    assert by_name(result)['api/api1']['after']['current_sessions'] == 0
    assert result['waited'] >= 0.05


def test_ready_servers_are_not_waited_for_sessions(fake, fake_socket, sock_path, run_module_inproc):
    fake.get('api', 'api1').scur = 5
    fake.get('api', 'api1').admin = 0x08
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=[
        {'backend': 'api', 'server': 'api1', 'state': 'ready'},
        {'backend': 'api', 'server': 'api2', 'state': 'drain'},
    ], wait=True, wait_timeout=1, wait_interval=0.05))
    assert kind == 'exit', result
    assert result['waited'] < 0.5


def test_wait_timeout_names_servers(fake, fake_socket, sock_path, run_module_inproc):
    fake.get('api', 'api1').scur = 4
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['api/*'], state='drain', wait=True,
                                                          wait_timeout=0.3, wait_interval=0.05))
    assert kind == 'fail'
    assert 'Timed out after 0.3s waiting for 1 of 2 server(s)' in result['msg']
    assert 'api/api1 (wanted drain with 0 sessions, now state drain, status DRAIN, 4 session(s)' in result['msg']
    assert result['timed_out'] == [dict(server='api/api1', wanted=dict(state='drain', weight=None), state='drain',
                                        admin_state='drain', weight=1, status='DRAIN', current_sessions=4)]
    assert result['changed'] is True


def test_maint_shutdown_sessions(fake, fake_socket, sock_path, run_module_inproc):
    fake.get('api', 'api1').scur = 4
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['api/api1'], state='maint',
                                                          shutdown_sessions=True, wait=True, wait_timeout=1,
                                                          wait_interval=0.05))
    assert kind == 'exit', result
    assert result['commands'] == ['set server api/api1 state maint', 'shutdown sessions server api/api1']
    assert fake.get('api', 'api1').scur == 0


def test_ready_on_tracked_server_warns(fake, fake_socket, sock_path, run_module_inproc):
    fake.get('track', 't1').admin = 0x03
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['track/t1'], state='ready'))
    assert kind == 'exit'
    assert result['changed'] is True
    assert fake.get('track', 't1').admin == 0x02
    assert by_name(result)['track/t1']['after']['admin_state'] == 'maint'
    assert any('stay out of service through a tracked server' in w and 'track/t1 (IMAINT)' in w
               for w in get_warning_messages())


def test_ready_on_tracked_server_already_ready_warns(fake, fake_socket, sock_path, run_module_inproc):
    """Forced state already ready, out of service through the tracked server: nothing to send, still a warning."""
    assert fake.get('track', 't1').admin == 0x02
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['track/t1'], state='ready'))
    assert kind == 'exit', result
    assert result['changed'] is False and result['commands'] == []
    assert result['msg'] == 'All 1 server(s) already as requested'
    assert changes(fake) == []
    assert any('stay out of service through a tracked server' in w and 'track/t1 (IMAINT)' in w
               for w in get_warning_messages())


def test_check_mode_does_not_wait(fake, fake_socket, sock_path, run_module_inproc):
    fake.get('api', 'api1').scur = 4
    kind, result = run_module_inproc(haproxy_server, dict(socket=sock_path, servers=['api/api1'], state='drain', wait=True,
                                                          wait_timeout=0.2), check_mode=True)
    assert kind == 'exit' and result['changed'] is True and 'waited' not in result
