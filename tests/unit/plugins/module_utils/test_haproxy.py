# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/module_utils/_haproxy.py with canned answers."""

from __future__ import annotations

import pytest

from ansible_collections.acgs.haproxy_stack.plugins.module_utils import _haproxy as h
from fake_haproxy import CONNECT_ERRORS, HAPROXY_VERSIONS, FakeHAProxy, FakeSocketModule, as_executed, canned_answers, fixture_text

# The parsers get each HAProxy version's canned answers (tests/unit/fixtures/haproxy-<version>, captured by
# fixtures/capture.py from the same configuration and server states).
by_version = pytest.mark.parametrize('version', HAPROXY_VERSIONS, ids=lambda version: 'haproxy-%s' % version)


# -- status parsing ----------------------------------------------------------

@pytest.mark.parametrize('status, state, transition, checks, via, detail', [
    ('UP', 'UP', None, None, None, None),
    ('DOWN', 'DOWN', None, None, None, None),
    ('UP 1/3', 'UP', 'going down', '1/3', None, None),
    ('DOWN 2/3', 'DOWN', 'going up', '2/3', None, None),
    ('NOLB', 'NOLB', None, None, None, None),
    ('NOLB 1/2', 'NOLB', 'going down', '1/2', None, None),
    ('MAINT', 'MAINT', None, None, None, None),
    ('MAINT (via be1/up1)', 'MAINT', None, None, 'be1/up1', 'via be1/up1'),
    ('MAINT (resolution)', 'MAINT', None, None, None, 'resolution'),
    ('DRAIN', 'DRAIN', None, None, None, None),
    ('DRAIN 1/3', 'DRAIN', 'going down', '1/3', None, None),
    ('DRAIN (agent)', 'DRAIN', None, None, None, 'agent'),
    ('DOWN (agent)', 'DOWN', None, None, None, 'agent'),
    ('no check', 'NO CHECK', None, None, None, None),
    ('OPEN', 'OPEN', None, None, None, None),
    ('weird thing', 'WEIRD', None, None, None, None),
    ('', None, None, None, None, None),
])
def test_parse_status(status, state, transition, checks, via, detail):
    parsed = h.parse_status(status)
    assert parsed == dict(state=state, transition=transition, checks=checks, via=via, detail=detail)


def test_parse_status_returns_copies():
    h.parse_status('UP')['state'] = 'broken'
    assert h.parse_status('UP')['state'] == 'UP'


@pytest.mark.parametrize('raw, flags, admin, forced', [
    (0, [], 'ready', 'ready'),
    (0x01, ['FMAINT'], 'maint', 'maint'),
    (0x02, ['IMAINT'], 'maint', 'ready'),
    (0x04, ['CMAINT'], 'ready', 'ready'),      # "disabled" in the config, then set ready
    (0x05, ['FMAINT', 'CMAINT'], 'maint', 'maint'),
    (0x08, ['FDRAIN'], 'drain', 'drain'),
    (0x09, ['FMAINT', 'FDRAIN'], 'maint', 'maint'),
    (0x10, ['IDRAIN'], 'drain', 'ready'),
    (0x20, ['RMAINT'], 'maint', 'ready'),
    (0x40, ['HMAINT'], 'ready', 'ready'),
])
def test_admin_state_bits(raw, flags, admin, forced):
    assert h.admin_flags(raw) == flags
    assert h.admin_state(raw) == admin
    assert h.forced_admin_state(raw) == forced


# -- weights -----------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    (0, (0, False)), ('256', (256, False)), (' 17 ', (17, False)), ('50%', (50, True)), ('300%', (300, True)),
])
def test_parse_weight_ok(value, expected):
    assert h.parse_weight(value) == expected


@pytest.mark.parametrize('value', ['257', '-1', 'abc', '1.5', '', '%', True, '50 %%'])
def test_parse_weight_bad(value):
    with pytest.raises(ValueError) as exc:
        h.parse_weight(value)
    assert 'weight' in str(exc.value)


@pytest.mark.parametrize('kwargs, value, expected', [
    (dict(max_abs=256), 256, (256, False)),
    (dict(max_abs=256), '300%', (300, True)),
    (dict(max_percent=100), '100%', (100, True)),
    (dict(max_percent=100), 5000, (5000, False)),
    (dict(allow_percent=False), ' 7 ', (7, False)),
])
def test_parse_amount_ok(kwargs, value, expected):
    assert h.parse_amount(value, **kwargs) == expected


@pytest.mark.parametrize('kwargs, value, message', [
    (dict(max_abs=256, name='weight'), '257',
     'weight 257 is out of range: an absolute weight must be between 0 and 256'),
    (dict(max_abs=256, name='weight'), 'half',
     'weight must be an integer from 0 to 256 or a percentage such as "50%", got \'half\''),
    (dict(max_percent=100, name='min_up'), '150%', 'min_up 150% is more than 100%'),
    (dict(name='min_up'), None, 'min_up must be an integer >= 0 or a percentage such as "50%", got None'),
    (dict(name='min_up'), True, 'min_up must be an integer >= 0 or a percentage such as "50%", got True'),
    (dict(allow_percent=False, name='count'), '5%', "count must be an integer >= 0, got '5%'"),
    (dict(name='n'), '-3', "n must be an integer >= 0 or a percentage such as \"50%\", got '-3'"),
])
def test_parse_amount_bad(kwargs, value, message):
    with pytest.raises(ValueError) as exc:
        h.parse_amount(value, **kwargs)
    assert str(exc.value) == message


@pytest.mark.parametrize('value, initial, expected', [
    ('50%', 10, 5), ('100%', 7, 7), ('0%', 10, 0), ('200%', 200, 256), ('33%', 1, 0), (12, 3, 12),
])
def test_absolute_weight(value, initial, expected):
    assert h.absolute_weight(value, initial) == expected


# -- parsers -----------------------------------------------------------------

@by_version
def test_parse_info(version):
    info = h.parse_info(fixture_text(version, 'show_info.txt'))
    assert info['Name'] == 'HAProxy'
    assert info['Version'].startswith(version + '.')
    assert isinstance(info['Uptime_sec'], int)
    assert info['Unstoppable Jobs'] == 0
    assert info['Build info'] == info['Version']


def test_parse_info_rejects_garbage():
    with pytest.raises(h.HAProxyProtocolError):
        h.parse_info('hello world\n')


# Every server of fixtures/capture.py's configuration, as build_servers returns it from both versions' answers:
# status, state, admin_state, forced_admin_state, admin_flags, operational_state, weight, initial_weight,
# check_status, tracked, via.
CAPTURED_SERVERS = {
    'be1/up1': ('UP', 'UP', 'ready', 'ready', [], 'running', 1, 1, 'L7OK', None, None),
    'be1/down1': ('DOWN', 'DOWN', 'ready', 'ready', [], 'stopped', 1, 1, 'L4CON', None, None),
    'be1/nochk': ('no check', 'NO CHECK', 'ready', 'ready', [], 'running', 1, 1, None, None, None),
    'be1/dis': ('UP', 'UP', 'ready', 'ready', ['CMAINT'], 'running', 1, 1, 'L7OK', None, None),
    'be2/t1': ('UP', 'UP', 'ready', 'ready', [], 'running', 1, 1, None, 'be1/up1', None),
    'be2/t2': ('DOWN', 'DOWN', 'ready', 'ready', [], 'stopped', 1, 1, None, 'be1/down1', None),
    'be3/drain1': ('DRAIN', 'DRAIN', 'drain', 'drain', ['FDRAIN'], 'running', 10, 10, 'L7OK', None, None),
    'be3/maint1': ('MAINT', 'MAINT', 'maint', 'maint', ['FMAINT'], 'stopped', 1, 1, None, None, None),
    'be3/tm1': ('MAINT (via be3/maint1)', 'MAINT', 'maint', 'ready', ['IMAINT'], 'stopped', 1, 1, None, 'be3/maint1',
                'be3/maint1'),
    'be3/half': ('UP', 'UP', 'ready', 'ready', [], 'running', 50, 100, 'L7OK', None, None),
    'be3/zero': ('UP', 'UP', 'ready', 'ready', [], 'running', 0, 1, 'L7OK', None, None),
    'st/st1': ('no check', 'NO CHECK', 'ready', 'ready', [], 'running', 1, 1, None, None, None),
    'st/st2': ('no check', 'NO CHECK', 'ready', 'ready', [], 'running', 1, 1, None, None, None),
}
SERVER_FIELDS = ('status', 'state', 'admin_state', 'forced_admin_state', 'admin_flags', 'operational_state', 'weight',
                 'initial_weight', 'check_status', 'tracked', 'via')


def summary(servers):
    return dict(('%s/%s' % (s['backend'], s['name']), tuple(s[f] for f in SERVER_FIELDS)) for s in servers)


@by_version
def test_parse_stat_and_build(version):
    rows = h.parse_stat(fixture_text(version, 'show_stat.txt'))
    states = h.parse_servers_state(fixture_text(version, 'show_servers_state.txt'))
    servers = h.build_servers(rows, states)
    assert summary(servers) == CAPTURED_SERVERS
    by = dict(('%s/%s' % (s['backend'], s['name']), s) for s in servers)
    assert by['be1/up1']['address'] == '127.0.0.1:18081'
    assert by['be1/up1']['check_code'] == 200
    assert by['be1/down1']['check_desc'] == 'Layer4 connection problem'
    assert by['be3/drain1']['effective_weight'] == 10
    assert [s['id'] for s in servers if s['backend'] == 'be3'] == [1, 2, 3, 4, 5]
    backends = h.build_backends(rows)
    assert [b['name'] for b in backends] == ['be1', 'be2', 'be3', 'st', 'empty']
    assert [b['algo'] for b in backends] == ['roundrobin', 'roundrobin', 'roundrobin', 'static-rr', 'roundrobin']
    assert [b['state'] for b in backends] == ['UP'] * 5    # a backend without servers too
    # be3: only half counts (drain1 drained, maint1 and tm1 in maintenance, zero at weight 0)
    assert [b['active_servers'] for b in backends] == [3, 1, 1, 2, 0]
    frontends = h.build_frontends(rows)
    assert [(f['name'], f['status'], f['mode']) for f in frontends] == [('fe', 'OPEN', 'http')]


@by_version
def test_servers_only_stat_gives_the_same_servers(version):
    """snapshot() without proxies asks "show stat -1 4 -1" (server rows only)."""
    states = h.parse_servers_state(fixture_text(version, 'show_servers_state.txt'))
    rows = h.parse_stat(fixture_text(version, 'show_stat_servers.txt'))
    assert summary(h.build_servers(rows, states)) == CAPTURED_SERVERS
    assert h.build_backends(rows) == [] and h.build_frontends(rows) == []


@by_version
def test_parse_servers_state_of_one_backend(version):
    rows = h.parse_servers_state(fixture_text(version, 'show_servers_state_be1.txt'))
    assert [(r['be_name'], r['srv_name'], r['srv_admin_state'], r['srv_op_state']) for r in rows] == [
        ('be1', 'up1', '0', '2'), ('be1', 'down1', '0', '0'), ('be1', 'nochk', '0', '2'), ('be1', 'dis', '4', '2')]


@by_version
def test_parse_backend_list(version):
    assert h.parse_backend_list(fixture_text(version, 'show_backend.txt')) == ['be1', 'be2', 'be3', 'st', 'empty']


@by_version
def test_snapshot_from_canned_answers(version, monkeypatch, sock_path):
    """The whole client path (prompt mode, splitting, parsers) on the real answers of each version."""
    model = FakeHAProxy(version=version)
    for name, command in (('show_info.txt', 'show info'), ('show_stat.txt', 'show stat'),
                          ('show_stat_servers.txt', 'show stat -1 4 -1'), ('show_servers_state.txt', 'show servers state'),
                          ('show_backend.txt', 'show backend')):
        model.answer_override[command] = as_executed(fixture_text(version, name))
    module = FakeSocketModule(model)
    monkeypatch.setattr(h, 'socket', module)
    try:
        client = h.HAProxyRuntime(sock_path)
        full = client.snapshot(info=True, proxies=True)
        assert full['info']['Version'].startswith(version + '.')
        assert summary(full['servers']) == CAPTURED_SERVERS
        assert full['backend_names'] == ['be1', 'be2', 'be3', 'st', 'empty']
        assert summary(client.snapshot()['servers']) == CAPTURED_SERVERS
        assert client.snapshot(backends=True)['backend_names'] == ['be1', 'be2', 'be3', 'st', 'empty']
    finally:
        module.close()
    assert model.log == ['show info', 'show stat', 'show servers state', 'show stat -1 4 -1', 'show servers state',
                         'show backend', 'show stat -1 4 -1', 'show servers state']


# Commands of answers.yml that succeed: HAProxy answers nothing (apply() takes any text for a refusal).
ACCEPTED = ('set server be1/dis state ready', 'set server be3/drain1 state drain', 'set server be3/maint1 state maint',
            'set server be3/half weight 50%', 'set server be3/zero weight 0', 'set server be1/nochk state ready',
            'set server be1/nochk weight 1', 'shutdown sessions server be1/nochk')
# Refused commands and the start of HAProxy's answer.
REFUSED = {
    'set server nope/x state ready': 'No such backend.',
    'set server be1/nope state ready': 'No such server.',
    'set server be1/up1 state down': "'set server <srv> state' expects 'ready', 'drain' and 'maint'.",
    'set server be1/up1 weight 300': 'Absolute weight can only be between 0 and 256 inclusive.',
    # HAProxy 2.6 ends this one without the empty line (a desynchronised prompt-mode stream): the module never
    # sends it, parse_weight refuses such a weight first.
    'set server be1/up1 weight half': 'Empty weight string empty or preceded by garbage',
    'set server st/st1 weight 3': "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.",
    'shutdown sessions server be1/nope': 'No such server.',
    'set server be1/up1 state maint (level user)': 'Permission denied',
    'shutdown sessions server be1/up1 (level user)': 'Permission denied',
}
# Error answers to "show" commands, recognised by their first words (looks_like_error).
SHOW_ERRORS = {
    'show servers state nope': "Can't find backend.",
    'show stat nope 4 -1': 'No such proxy.',
    'bogus': 'Unknown command',
}


@by_version
def test_action_answers(version):
    answers = canned_answers(version)
    assert set(answers) == set(ACCEPTED) | set(REFUSED) | set(SHOW_ERRORS) | {'get weight be3/half'}
    for command in ACCEPTED:
        assert answers[command] == '', (command, answers[command])
        h.HAProxyRuntime('/x').check_answer(command, answers[command], expect_empty=True)
    for command, text in REFUSED.items():
        assert answers[command].startswith(text), (command, answers[command])
        with pytest.raises(h.HAProxyCommandError) as exc:
            h.HAProxyRuntime('/x').check_answer(command, answers[command], expect_empty=True)
        assert text in str(exc.value)
    assert answers['get weight be3/half'] == '50 (initial 100)\n'


@by_version
def test_show_error_answers_are_errors(version):
    answers = canned_answers(version)
    for command, text in SHOW_ERRORS.items():
        assert answers[command].startswith(text), (command, answers[command])
        assert h.looks_like_error(answers[command]), command
        with pytest.raises(h.HAProxyCommandError):
            h.HAProxyRuntime('/x').check_answer(command, answers[command])
    for name in ('show_info.txt', 'show_stat.txt', 'show_servers_state.txt', 'show_backend.txt'):
        assert not h.looks_like_error(fixture_text(version, name)), name


def test_parse_stat_all_columns_and_quoted_values():
    text = '# pxname,svname,status,check_desc,\nb,s,UP 1/3,"a, b",\n'
    rows = h.parse_stat(text, columns=None)
    assert rows == [dict(pxname='b', svname='s', status='UP 1/3', check_desc='a, b')]


@pytest.mark.parametrize('text', ['', 'No such backend.\n', 'pxname,svname\n'])
def test_parse_stat_rejects(text):
    with pytest.raises(h.HAProxyProtocolError):
        h.parse_stat(text)


@pytest.mark.parametrize('text', ['', '2\n# be_id\n', '1\nbe_id be_name\n'])
def test_parse_servers_state_rejects(text):
    with pytest.raises(h.HAProxyProtocolError):
        h.parse_servers_state(text)


def test_split_prompt_answers():
    stream = '\n> \n> No such server.\n\n> 1 (initial 1)\n\n> '
    assert h.split_prompt_answers(stream) == (['', '', 'No such server.\n', '1 (initial 1)\n'], '')
    assert h.split_prompt_answers('\n> partial') == ([''], 'partial')
    assert h.split_prompt_answers('') == ([], '')


# -- socket specs ---------------------------------------------------------------

@pytest.mark.parametrize('spec, expected', [
    ('/run/haproxy/admin.sock', ('unix', '/run/haproxy/admin.sock')),
    ('admin.sock', ('unix', 'admin.sock')),
    ('unix:/x/y.sock', ('unix', '/x/y.sock')),
    ('unix@/x/y.sock', ('unix', '/x/y.sock')),
    ('127.0.0.1:9999', ('tcp', ('127.0.0.1', 9999))),
    ('tcp:localhost:1', ('tcp', ('localhost', 1))),
    ('ipv4@127.0.0.1:9999', ('tcp', ('127.0.0.1', 9999))),
    ('[::1]:9999', ('tcp', ('::1', 9999))),
])
def test_parse_socket_spec(spec, expected):
    assert h.parse_socket_spec(spec) == expected


@pytest.mark.parametrize('spec', ['', 'host:port', 'host:0', 'host:70000', ':99'])
def test_parse_socket_spec_bad(spec):
    with pytest.raises(h.HAProxyConnectionError):
        h.parse_socket_spec(spec)


def test_name_matching():
    names = ['app1', 'app2', 'db1', 'app[x]']
    assert h.match_names('app*', names) == ['app1', 'app2', 'app[x]']
    assert h.match_names('app?', names) == ['app1', 'app2']
    assert h.match_names('db1', names) == ['db1']
    assert h.match_names('nope', names) == []
    assert h.name_matches('*', 'anything')


def _servers(*paths):
    return [dict(backend=p.split('/')[0], name=p.split('/')[1]) for p in paths]


SELECT_SERVERS = _servers('web/app1', 'web/app2', 'api/app1', 'api/api1')
SELECT_BACKENDS = ['web', 'api', 'empty']


@pytest.mark.parametrize('pattern, backends, servers, missing', [
    (('web', 'app1'), ['web'], ['web/app1'], None),
    (('*', 'app1'), ['web', 'api', 'empty'], ['web/app1', 'api/app1'], None),
    ((None, 'app*'), ['web', 'api', 'empty'], ['web/app1', 'web/app2', 'api/app1'], None),
    (('a*', '*'), ['api'], ['api/app1', 'api/api1'], None),
    (('nope', 'app1'), [], [], 'backend'),
    (('x*', 'app1'), [], [], 'backend'),
    (('web', 'nope'), ['web'], [], 'server'),
    (('empty', '*'), ['empty'], [], 'server'),
    (('web', 'api1'), ['web'], [], 'server'),
])
def test_select_servers(pattern, backends, servers, missing):
    selection, = h.select_servers([pattern], SELECT_SERVERS, SELECT_BACKENDS)
    assert selection['backends'] == backends
    assert ['%s/%s' % (s['backend'], s['name']) for s in selection['servers']] == servers
    assert selection['missing'] == missing


def test_select_servers_ignore_lets_only_globs_match_nothing():
    patterns = [('x*', 'app1'), ('web', 'zz*'), ('nope', 'app1'), ('web', 'nope'), ('web', 'app1')]
    selections = h.select_servers(patterns, SELECT_SERVERS, SELECT_BACKENDS, on_no_match='ignore')
    assert [s['missing'] for s in selections] == [None, None, 'backend', 'server', None]
    selections = h.select_servers(patterns, SELECT_SERVERS, SELECT_BACKENDS)
    assert [s['missing'] for s in selections] == ['backend', 'server', 'backend', 'server', None]


def test_select_servers_backends_default_to_those_of_the_servers():
    selection, = h.select_servers([('empty', '*')], SELECT_SERVERS)
    assert selection['missing'] == 'backend'
    with pytest.raises(ValueError):
        h.select_servers([], SELECT_SERVERS, on_no_match='skip')


def test_normalize_items():
    def convert(item):
        if isinstance(item, str):
            item = dict(name=item)
        if not item.get('name'):
            raise ValueError('empty name')
        return item['name'].upper()

    items, errors = h.normalize_items(['a', {'name': 'b'}, {'name': 'c', 'color': 'red'}, 42, {'name': ''}, None],
                                      'things', ('name',), 'name only', 'a name or a dictionary (name)', convert)
    assert items == [('things[0]', 'A'), ('things[1]', 'B')]
    assert errors == ['things[2]: unknown key(s) color; use name only',
                      'things[3]: expected a name or a dictionary (name), got int',
                      'things[4]: empty name',
                      'things[5]: expected a name or a dictionary (name), got NoneType']
    assert h.normalize_items(None, 'things', (), '', '', convert) == ([], [])


def test_wait_for(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(h.time, 'time', lambda: clock[0])
    monkeypatch.setattr(h.time, 'sleep', lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    calls = []

    def third_time():
        calls.append(clock[0])
        return len(calls) == 3

    assert h.wait_for(third_time, 10, 2) == (True, 4.0)
    assert calls == [100.0, 102.0, 104.0]
    calls[:] = []
    # Never holds: called at the start, every interval and once more at the deadline.
    assert h.wait_for(lambda: calls.append(clock[0]), 5, 2) == (False, 5.0)
    assert calls == [104.0, 106.0, 108.0, 109.0]
    calls[:] = []
    assert h.wait_for(lambda: calls.append(clock[0]), 0, 2) == (False, 0.0)
    assert len(calls) == 1


# -- client over the fake socket -------------------------------------------------

def test_apply_all_accepted(fake, fake_socket, sock_path):
    client = h.HAProxyRuntime(sock_path)
    outcome = client.apply(['set server web/app1 state drain', 'set server web/app2 weight 3'],
                           lambda accepted: pytest.fail('no rollback expected'))
    assert outcome == dict(refused=[], rollback=[], rollback_errors=[])
    assert fake.get('web', 'app1').admin == 0x08 and fake.get('web', 'app2').weight == 3
    assert fake.connections == 1


def test_apply_rolls_back_what_was_accepted(fake, fake_socket, sock_path):
    seen = []

    def rollback_for(accepted):
        seen.extend(accepted)
        return ['set server web/app1 state ready']

    outcome = h.HAProxyRuntime(sock_path).apply(
        ['set server web/app1 state drain', 'set server static/st1 weight 2', 'set server web/nope state drain'],
        rollback_for)
    assert seen == [0]
    assert [i for i, dummy in outcome['refused']] == [1, 2]
    assert outcome['refused'][1] == (2, 'No such server.')
    assert outcome['rollback'] == ['set server web/app1 state ready']
    assert outcome['rollback_errors'] == []
    assert fake.get('web', 'app1').admin == 0
    assert fake.connections == 2


def test_apply_reports_a_failed_rollback(fake, fake_socket, sock_path):
    outcome = h.HAProxyRuntime(sock_path).apply(['set server web/nope state drain'],
                                                lambda accepted: ['set server web/gone state ready'])
    assert outcome['rollback_errors'] == ['"set server web/gone state ready": No such server.']
    outcome = h.HAProxyRuntime(sock_path).apply(['set server web/nope state drain'], lambda accepted: [])
    assert outcome['rollback'] == [] and outcome['rollback_errors'] == []
    assert fake.connections == 3


def test_execute_many_commands_one_connection(fake, fake_socket, sock_path):
    client = h.HAProxyRuntime(sock_path)
    cmds = ['set server web/app1 state drain', 'set server web/nope state drain', 'get weight web/app1',
            'set server web/app1 state ready']
    answers = client.execute(cmds)
    assert answers[0] == ''
    assert answers[1] == 'No such server.\n'
    assert answers[2].startswith('Unknown command')
    assert answers[3] == ''
    assert fake.connections == 1
    assert fake.log == cmds


def test_execute_thousands_pipelined(fake, fake_socket, sock_path):
    cmds = ['set server web/app2 weight %d' % (i % 200) for i in range(3000)]
    answers = h.HAProxyRuntime(sock_path).execute(cmds)
    assert answers == [''] * 3000
    assert fake.connections == 1


def test_large_error_answers_do_not_deadlock(fake, fake_socket, sock_path):
    # 2000 "Unknown command" answers (~300 KB) while still sending: needs concurrent send/receive.
    answers = h.HAProxyRuntime(sock_path, timeout=5).execute(['bogus %d' % i for i in range(2000)])
    assert len(answers) == 2000
    assert all(a.startswith('Unknown command') for a in answers)


def test_run_raises_command_error(fake_socket, sock_path):
    client = h.HAProxyRuntime(sock_path)
    with pytest.raises(h.HAProxyCommandError) as exc:
        client.run('set server nob/x state ready', expect_empty=True)
    assert 'No such backend.' in str(exc.value)
    assert sock_path in str(exc.value)
    assert exc.value.command == 'set server nob/x state ready'
    with pytest.raises(h.HAProxyCommandError) as exc:
        client.run('show foo')
    assert 'Unknown command' in str(exc.value)


def test_permission_level_error(fake, fake_socket, sock_path):
    fake.level = 'user'
    with pytest.raises(h.HAProxyCommandError) as exc:
        h.HAProxyRuntime(sock_path).run('set server web/app1 state drain', expect_empty=True)
    assert 'Permission denied' in str(exc.value)


def test_snapshot(fake_socket, sock_path):
    snap = h.HAProxyRuntime(sock_path).snapshot(info=True, proxies=True)
    assert snap['info']['Name'] == 'HAProxy'
    assert [s['name'] for s in snap['servers']][:3] == ['app1', 'app2', 'app3']
    assert snap['backend_names'] == ['web', 'api', 'static', 'track', 'empty']
    t1 = snap['servers'][-1]
    assert (t1['state'], t1['via']) == ('MAINT', 'web/app1')
    assert (t1['admin_state'], t1['forced_admin_state']) == ('maint', 'ready')
    snap = h.HAProxyRuntime(sock_path).snapshot(backends=True)
    assert snap['backend_names'] == ['web', 'api', 'static', 'track', 'empty']


def test_missing_socket(tmp_path):
    with pytest.raises(h.HAProxySocketMissing) as exc:
        h.HAProxyRuntime(str(tmp_path / 'nope.sock')).execute(['show info'])
    assert 'nope.sock' in str(exc.value) and 'no such file' in str(exc.value)
    with pytest.raises(h.HAProxySocketMissing) as exc:
        h.HAProxyRuntime(str(tmp_path / 'nodir' / 'a.sock')).execute(['show info'])
    assert 'does not exist either' in str(exc.value)


def test_not_a_socket(tmp_path):
    path = tmp_path / 'file'
    path.write_text('x')
    with pytest.raises(h.HAProxyNotASocket) as exc:
        h.HAProxyRuntime(str(path)).execute(['show info'])
    assert 'not a unix socket' in str(exc.value)


@pytest.mark.parametrize('kind, cls, text', [
    ('refused', h.HAProxyConnectionRefused, 'connection refused'),
    ('denied', h.HAProxyPermissionDenied, 'permission denied'),
    ('timeout', h.HAProxyTimeout, 'timed out'),
])
def test_connect_errors(fake_socket, sock_path, kind, cls, text):
    fake_socket(connect_error=CONNECT_ERRORS[kind])
    with pytest.raises(cls) as exc:
        h.HAProxyRuntime(sock_path, timeout=0.5).execute(['show info'])
    assert text in str(exc.value)
    assert sock_path in str(exc.value)


def test_tcp_errors(fake_socket):
    fake_socket(connect_error=CONNECT_ERRORS['refused'])
    with pytest.raises(h.HAProxyConnectionRefused) as exc:
        h.HAProxyRuntime('127.0.0.1:1').execute(['show info'])
    assert 'TCP 127.0.0.1:1' in str(exc.value)
    with pytest.raises(h.HAProxyConnectionError) as exc:
        h.HAProxyRuntime('unresolvable.invalid:9999').execute(['show info'])
    assert 'cannot resolve' in str(exc.value)


def test_tcp_ok(fake_socket):
    assert h.HAProxyRuntime('127.0.0.1:9999').show_info()['Name'] == 'HAProxy'


def test_answer_timeout(fake_socket, sock_path):
    fake_socket(silent=True)
    with pytest.raises(h.HAProxyTimeout) as exc:
        h.HAProxyRuntime(sock_path, timeout=0.3).execute(['show info'])
    assert 'no answer within 0.3s' in str(exc.value)


def test_connection_closed_early(fake_socket, sock_path):
    fake_socket(close_after=2)
    with pytest.raises(h.HAProxyProtocolError) as exc:
        h.HAProxyRuntime(sock_path).execute(['show backend', 'show backend', 'show info'])
    assert 'answered only 1 of 3' in str(exc.value)
    assert 'cut short' in str(exc.value)


def test_rejects_line_breaks(fake_socket, sock_path):
    with pytest.raises(h.HAProxyCommandError):
        h.HAProxyRuntime(sock_path).execute(['show info\nshutdown sessions server a/b'])


@pytest.mark.parametrize('timeout', [-1, 0])
def test_bad_timeout(timeout):
    with pytest.raises(h.HAProxyConnectionError) as exc:
        h.HAProxyRuntime('/x', timeout=timeout)
    assert 'timeout must be a positive number' in str(exc.value)
