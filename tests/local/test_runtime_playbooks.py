# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""haproxy_info / haproxy_server through real ansible-playbook runs against a real HAProxy."""

from __future__ import annotations

import time

from release_binaries import both_releases


def servers_by_name(result):
    return dict(('%s/%s' % (s['backend'], s['name']), s) for s in result['servers'])


@both_releases
def test_info_and_server_happy_path(local_haproxy, run_playbook):
    sock = local_haproxy.admin_sock
    results, stdout = run_playbook([
        {'acgs.haproxy_stack.haproxy_info': {'socket': sock}, 'register': 'all'},
        {'acgs.haproxy_stack.haproxy_info': {'socket': sock, 'backend': 'web', 'server': ['s?', 'dead']},
         'register': 'web'},
        # check mode + diff: reports, changes nothing
        {'acgs.haproxy_stack.haproxy_server': {'socket': sock, 'servers': ['web/s?'], 'state': 'drain'},
         'check_mode': True, 'diff': True, 'register': 'check'},
        {'acgs.haproxy_stack.haproxy_info': {'socket': sock, 'backend': 'web'}, 'register': 'after_check'},
        # real change, with diff
        {'acgs.haproxy_stack.haproxy_server': {'socket': sock, 'servers': ['web/s?'], 'state': 'drain',
                                               'wait': True, 'wait_interval': 0.1},
         'diff': True, 'register': 'drain'},
        {'acgs.haproxy_stack.haproxy_server': {'socket': sock, 'servers': ['web/s?'], 'state': 'drain'},
         'register': 'again'},
        # module_defaults through the action group, weight in percent, TCP socket
        {'module_defaults': {'group/acgs.haproxy_stack.haproxy': {'socket': '127.0.0.1:%d' % local_haproxy.ports['tcp_port']}},
         'block': [{'acgs.haproxy_stack.haproxy_server': {'backend': 'web', 'server': 's2', 'state': 'ready',
                                                          'weight': '50%'},
                    'register': 'weight', 'ignore_errors': True}]},
        {'acgs.haproxy_stack.haproxy_server': {'socket': sock, 'servers': ['web/s1', 'web/s3'], 'state': 'ready'},
         'register': 'ready'},
    ])
    everything = results['all']
    assert everything['changed'] is False
    assert everything['info']['Name'] == 'HAProxy'
    assert [b['name'] for b in everything['backends']] == ['web', 'track', 'static', 'sess_a', 'sess_b']
    assert {f['name'] for f in everything['frontends']} == {'fe_a', 'fe_b'}
    by = servers_by_name(everything)
    assert by['web/s1']['state'] == 'UP' and by['web/s1']['check_status'] == 'L7OK'
    assert by['web/dead']['state'] == 'DOWN' and by['web/dead']['operational_state'] == 'stopped'
    assert by['sess_a/a']['state'] == 'NO CHECK'
    assert by['web/s2']['weight'] == 10
    assert isinstance(by['web/s1']['last_change'], int)
    assert by['web/s1']['address'].startswith('127.0.0.1:')

    assert sorted(servers_by_name(results['web'])) == ['web/dead', 'web/s1', 'web/s2', 'web/s3']

    check = results['check']
    assert check['changed'] is True and len(check['commands']) == 3
    assert all(s['admin_state'] == 'ready' for s in results['after_check']['servers'])
    assert '-        "state": "ready",' in stdout and '+        "state": "drain",' in stdout  # --diff output

    drain = results['drain']
    assert drain['changed'] is True
    assert drain['commands'] == ['set server web/s1 state drain', 'set server web/s2 state drain',
                                 'set server web/s3 state drain']
    assert drain['diff']['after']['web/s2'] == {'state': 'drain', 'weight': 10}
    assert results['again']['changed'] is False

    weight = results['weight']
    assert weight.get('failed') is not True, weight
    assert weight['commands'] == ['set server web/s2 weight 5', 'set server web/s2 state ready']
    assert results['ready']['changed'] is True

    final = local_haproxy.servers()
    assert final['web/s2']['weight'] == 5
    assert all(final['web/%s' % n]['admin_state'] == 'ready' for n in ('s1', 's2', 's3'))


@both_releases
def test_bad_input_fails_and_changes_nothing(local_haproxy, run_playbook, local_workdir):
    """Every bad input is a failed task naming what and where; no server changes."""
    plain = local_workdir + '/plain-file'
    with open(plain, 'w') as fh:
        fh.write('not a socket')
    sock = local_haproxy.admin_sock
    # Put some state in place so that "no change" is not just "all defaults".
    local_haproxy.cli('set server web/s3 state drain', 'set server web/s2 weight 7')
    before = local_haproxy.fingerprint()
    task = 'acgs.haproxy_stack.haproxy_server'
    results, dummy = run_playbook([
        {task: {'socket': local_workdir + '/missing.sock', 'servers': ['web/s1'], 'state': 'drain'}, 'register': 'missing'},
        {task: {'socket': plain, 'servers': ['web/s1'], 'state': 'drain'}, 'register': 'notsock'},
        {task: {'socket': sock, 'servers': ['web/s1', 'nosuch/s1'], 'state': 'maint'}, 'register': 'nobackend'},
        {task: {'socket': sock, 'servers': ['web/s1', 'web/s9'], 'state': 'maint'}, 'register': 'noserver'},
        {task: {'socket': sock, 'servers': ['web/s1'], 'weight': '300'}, 'register': 'weight'},
        {task: {'socket': sock, 'servers': ['web/s1'], 'state': 'down'}, 'register': 'state'},
        # HAProxy's own error: static-rr refuses weight 3 after s1 was already changed -> rolled back
        {task: {'socket': sock, 'servers': [{'backend': 'web', 'server': 's1', 'state': 'maint', 'weight': 2},
                                            {'backend': 'static', 'server': 'st1', 'weight': 3}]},
         'register': 'refused'},
        # a "level user" socket: HAProxy answers "Permission denied"
        {task: {'socket': local_haproxy.user_sock, 'servers': ['web/s1'], 'state': 'maint'}, 'register': 'level'},
        {'acgs.haproxy_stack.haproxy_info': {'socket': sock, 'backend': 'nosuch'}, 'register': 'info_nobackend'},
    ])
    assert local_haproxy.fingerprint() == before

    def failed(name, *parts):
        result = results[name]
        assert result.get('failed') is True, (name, result)
        for part in parts:
            assert part in result['msg'], (name, part, result['msg'])
        return result

    failed('missing', local_workdir + '/missing.sock', 'no such file', 'nothing was changed')
    failed('notsock', plain, 'not a unix socket')
    failed('nobackend', 'No such backend "nosuch"', sock, 'nothing was changed')
    failed('noserver', 'No such server "web/s9"', sock, 'nothing was changed')
    failed('weight', 'weight 300 is out of range', 'nothing was changed')
    failed('state', 'value of state must be one of: ready, drain, maint, got: down')
    refused = failed('refused', 'HAProxy refused 1 command(s)', sock,
                     "set server static/st1 weight 3\": Backend is using a static LB algorithm",
                     'rolled back, no server was changed')
    assert refused['changed'] is False
    failed('level', 'Permission denied', local_haproxy.user_sock, 'no server was changed')
    failed('info_nobackend', 'No such backend "nosuch"')


@both_releases
def test_drain_down_server_waits_only_for_admin_state(local_haproxy, run_playbook):
    """Trap: a server whose health check fails never shows DRAIN; wait must not hang on it.

    web/slow is forced DOWN and then passes checks slowly (rise 100): its status is the
    composite "DOWN n/100" ("going up") for 10 s. web/dead fails every check.
    """
    local_haproxy.cli('set server web/slow health down')
    local_haproxy.wait_for(lambda s: s['web/slow']['transition'] == 'going up', what='web/slow DOWN n/100')
    start = time.time()
    results, dummy = run_playbook([
        {'acgs.haproxy_stack.haproxy_server': {'socket': local_haproxy.admin_sock, 'servers': ['web/dead', 'web/slow'],
                                               'state': 'drain', 'wait': True, 'wait_timeout': 8,
                                               'wait_interval': 0.1}, 'register': 'drain'},
        {'acgs.haproxy_stack.haproxy_info': {'socket': local_haproxy.admin_sock, 'backend': 'web',
                                             'server': ['dead', 'slow']}, 'register': 'info'},
    ])
    elapsed = time.time() - start
    drain = results['drain']
    assert drain.get('failed') is not True, drain
    assert drain['changed'] is True
    assert drain['waited'] < 2
    assert elapsed < 8
    info = servers_by_name(results['info'])
    slow = info['web/slow']
    assert slow['admin_state'] == 'drain'
    assert slow['state'] == 'DOWN' and slow['transition'] == 'going up' and slow['status'].startswith('DOWN ')
    assert info['web/dead']['admin_state'] == 'drain'
    # a drained DOWN server comes back to DOWN (HAProxy re-checks it), keeping its drain admin state
    final = local_haproxy.wait_for(lambda s: s['web/dead']['state'] == 'DOWN', what='web/dead back to DOWN')
    assert final['web/dead']['admin_state'] == 'drain'
    assert final['web/dead']['status'] == 'DOWN'


@both_releases
def test_maint_via_tracked_server(local_haproxy, run_playbook):
    """MAINT (via web/s1) is parsed; the tracked server's own forced state stays separate."""
    local_haproxy.cli('set server web/s1 state maint')
    results, dummy = run_playbook([
        {'acgs.haproxy_stack.haproxy_info': {'socket': local_haproxy.admin_sock, 'backend': 'track', 'details': True},
         'register': 'info'},
        {'acgs.haproxy_stack.haproxy_server': {'socket': local_haproxy.admin_sock, 'backend': 'track', 'server': 't1',
                                               'state': 'maint', 'wait': True, 'wait_timeout': 3,
                                               'wait_interval': 0.1}, 'register': 'maint'},
        {'acgs.haproxy_stack.haproxy_server': {'socket': local_haproxy.admin_sock, 'backend': 'track', 'server': 't1',
                                               'state': 'ready'}, 'register': 'ready'},
    ])
    t1 = results['info']['servers'][0]
    assert t1['status'] == 'MAINT (via web/s1)'
    assert (t1['state'], t1['via']) == ('MAINT', 'web/s1')
    assert (t1['admin_state'], t1['forced_admin_state']) == ('maint', 'ready')
    assert t1['admin_flags'] == ['IMAINT']
    assert results['maint']['changed'] is True and results['maint'].get('failed') is not True
    ready = results['ready']
    assert ready['changed'] is True
    assert ready['servers'][0]['after']['admin_state'] == 'maint'   # still inherited from web/s1
    assert any('tracked server' in w for w in ready.get('warnings', []))
