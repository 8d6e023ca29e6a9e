# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The modules run directly (python -m, JSON args) against a real HAProxy: sessions, waits, sockets."""

from __future__ import annotations

import os
import socket
import time

import pytest

from ansible_collections.acgs.haproxy_stack.plugins.module_utils import _haproxy as h
from release_binaries import both_releases


def by_name(result):
    return dict(('%s/%s' % (s['backend'], s['server']), s) for s in result['servers'])


def wait_sessions(local_haproxy, key, count):
    local_haproxy.wait_for(lambda s: s[key]['current_sessions'] >= count, what='%d session(s) on %s' % (count, key))


@both_releases
def test_drain_waits_for_sessions_but_not_for_ready_servers(local_haproxy, run_module_subprocess):
    """sess_a/a (drain) is waited for until its session ends; sess_b/b (ready) keeps a long session, not waited."""
    local_haproxy.open_session('a', 2)
    local_haproxy.open_session('b', 12)
    wait_sessions(local_haproxy, 'sess_a/a', 1)
    wait_sessions(local_haproxy, 'sess_b/b', 1)
    local_haproxy.cli('set server sess_b/b state drain')    # drained, with a session still open
    start = time.time()
    result = run_module_subprocess('haproxy_server', dict(socket=local_haproxy.admin_sock, wait=True, wait_timeout=8, wait_interval=0.1,
                                                          servers=[{'backend': 'sess_a', 'server': 'a', 'state': 'drain'},
                                                                   {'backend': 'sess_b', 'server': 'b', 'state': 'ready'}]))
    elapsed = time.time() - start
    assert result.get('failed') is not True, result
    assert result['changed'] is True
    assert 0.5 < result['waited'] < 5
    assert elapsed < 8
    items = by_name(result)
    assert items['sess_a/a']['before']['current_sessions'] == 1
    assert items['sess_a/a']['after']['current_sessions'] == 0
    assert items['sess_b/b']['after']['state'] == 'ready'
    assert items['sess_b/b']['after']['current_sessions'] == 1    # still busy, and nobody waited for it


@both_releases
def test_wait_timeout_names_servers_and_last_state(local_haproxy, run_module_subprocess):
    local_haproxy.open_session('a', 6)
    wait_sessions(local_haproxy, 'sess_a/a', 1)
    result = run_module_subprocess('haproxy_server', dict(socket=local_haproxy.admin_sock, servers=['sess_a/a', 'sess_b/b'],
                                                          state='drain', wait=True, wait_timeout=0.5, wait_interval=0.1))
    assert result['failed'] is True
    assert 'Timed out after 0.5s waiting for 1 of 2 server(s)' in result['msg']
    assert 'sess_a/a (wanted drain with 0 sessions, now state drain, status DRAIN, 1 session(s)' in result['msg']
    assert 'sess_b/b' not in result['msg']
    assert result['timed_out'][0]['server'] == 'sess_a/a'
    assert result['changed'] is True


@both_releases
def test_maint_with_shutdown_sessions(local_haproxy, run_module_subprocess):
    thread, answer = local_haproxy.open_session('a', 10)
    wait_sessions(local_haproxy, 'sess_a/a', 1)
    result = run_module_subprocess('haproxy_server', dict(socket=local_haproxy.admin_sock, servers=['sess_a/a'], state='maint',
                                                          shutdown_sessions=True, wait=True, wait_timeout=5,
                                                          wait_interval=0.1))
    assert result.get('failed') is not True, result
    assert result['commands'] == ['set server sess_a/a state maint', 'shutdown sessions server sess_a/a']
    assert result['waited'] < 2
    thread.join(5)
    assert not thread.is_alive()
    assert b'200' not in answer.get('answer', b'')


@both_releases
def test_check_mode_and_idempotence(local_haproxy, run_module_subprocess):
    before = local_haproxy.fingerprint()
    result = run_module_subprocess('haproxy_server', dict(socket=local_haproxy.admin_sock, backend='web', server='*', state='maint',
                                                          weight='0'), check_mode=True, diff=True)
    assert result['changed'] is True and len(result['commands']) == 10
    assert local_haproxy.fingerprint() == before
    args = dict(socket=local_haproxy.admin_sock, backend='web', server='s[12]', state='maint', weight=0)
    first = run_module_subprocess('haproxy_server', args)
    second = run_module_subprocess('haproxy_server', args)
    assert first['changed'] is True and second['changed'] is False and second['commands'] == []
    assert 'warnings' not in first    # weight given as an int: no string conversion warning


@both_releases
def test_state_transitions(local_haproxy, run_module_subprocess):
    """ready -> drain -> maint -> drain -> maint -> ready, checking HAProxy's admin bits each time."""
    previous = 'ready'
    for state in ('drain', 'maint', 'drain', 'maint', 'ready'):
        result = run_module_subprocess('haproxy_server', dict(socket=local_haproxy.admin_sock, servers=['web/s3'], state=state))
        assert result['changed'] is True, (previous, state, result)
        raw = local_haproxy.servers()['web/s3']['admin_state_raw']
        if state == 'drain':
            assert raw & 0x09 == 0x08, (previous, state, raw)
        elif state == 'maint':
            assert raw & 0x01, (previous, state, raw)
        else:
            assert raw & 0x09 == 0, (previous, state, raw)
        assert result['servers'][0]['after']['state'] == state
        previous = state


@both_releases
def test_tcp_socket(local_haproxy, run_module_subprocess):
    result = run_module_subprocess('haproxy_info', dict(socket='127.0.0.1:%d' % local_haproxy.ports['tcp_port'], backend='static'))
    assert result.get('failed') is not True, result
    assert [s['name'] for s in result['servers']] == ['st1', 'st2']
    assert result['backends'][0]['algo'] == 'static-rr'


def test_socket_errors(local_haproxy, run_module_subprocess, local_workdir):
    # TCP port nobody listens on
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    result = run_module_subprocess('haproxy_info', dict(socket='127.0.0.1:%d' % port))
    assert result['failed'] is True and 'connection refused' in result['msg'] and str(port) in result['msg']
    # stale unix socket file (nothing listening)
    stale = os.path.join(local_workdir, 'stale.sock')
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(stale)
    listener.close()
    result = run_module_subprocess('haproxy_server', dict(socket=stale, servers=['web/s1'], state='drain'))
    assert result['failed'] is True and 'connection refused' in result['msg'] and stale in result['msg']
    # something that accepts but never answers
    silent = os.path.join(local_workdir, 'silent.sock')
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(silent)
    listener.listen(5)
    try:
        start = time.time()
        result = run_module_subprocess('haproxy_info', dict(socket=silent, timeout=0.5))
        assert result['failed'] is True and 'no answer within 0.5s' in result['msg'] and silent in result['msg']
        assert time.time() - start < 5
    finally:
        listener.close()


def test_permission_denied(local_haproxy, run_module_subprocess):
    """A user without access to the socket gets a clear failure (run as nobody when root, else chmod 000)."""
    before = local_haproxy.fingerprint()
    if os.geteuid() == 0:
        import shutil
        if not shutil.which('setpriv'):
            pytest.skip('setpriv (util-linux) is needed to run the module as another user')
        result = run_module_subprocess('haproxy_server', dict(socket=local_haproxy.admin_sock, servers=['web/s1'], state='maint'),
                                       user='65534')
    else:
        os.chmod(local_haproxy.admin_sock, 0)
        try:
            result = run_module_subprocess('haproxy_server', dict(socket=local_haproxy.admin_sock, servers=['web/s1'], state='maint'))
        finally:
            os.chmod(local_haproxy.admin_sock, 0o600)
    assert result['failed'] is True
    assert 'permission denied' in result['msg'] and local_haproxy.admin_sock in result['msg']
    assert 'nothing was changed' in result['msg']
    assert local_haproxy.fingerprint() == before


@both_releases
def test_thousand_servers_one_task(local_haproxy_1000_servers, run_module_subprocess):
    start = time.time()
    result = run_module_subprocess('haproxy_server', dict(socket=local_haproxy_1000_servers.admin_sock, servers=['*/*'], state='drain'))
    elapsed = time.time() - start
    assert result.get('failed') is not True, result
    assert len(result['commands']) == 1000
    assert all(s['admin_state'] == 'drain' for s in local_haproxy_1000_servers.servers().values())
    assert elapsed < 5
    result = run_module_subprocess('haproxy_server', dict(socket=local_haproxy_1000_servers.admin_sock, servers=['*/*'], state='ready'))
    assert len(result['commands']) == 1000
    assert all(s['admin_state'] == 'ready' for s in local_haproxy_1000_servers.servers().values())
    info = run_module_subprocess('haproxy_info', dict(socket=local_haproxy_1000_servers.admin_sock))
    assert len(info['servers']) == 1000


@both_releases
def test_prompt_mode_client_against_real_haproxy(local_haproxy):
    client = h.HAProxyRuntime(local_haproxy.admin_sock)
    answers = client.execute(['set server web/s1 state drain', 'set server web/nope state drain',
                              'set server nope/x state drain', 'bogus', 'set server web/s1 state ready'])
    assert answers[0] == '' and answers[4] == ''
    assert answers[1] == 'No such server.\n'
    assert answers[2] == 'No such backend.\n'
    assert answers[3].startswith('Unknown command')
    with pytest.raises(h.HAProxyCommandError) as exc:
        h.HAProxyRuntime(local_haproxy.user_sock).run('set server web/s1 state maint', expect_empty=True)
    assert 'Permission denied' in str(exc.value)
