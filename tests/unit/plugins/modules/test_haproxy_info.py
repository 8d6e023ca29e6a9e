# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the haproxy_info module against the fake runtime API."""

from __future__ import annotations

from ansible_collections.acgs.haproxy_stack.plugins.module_utils._haproxy import SERVER_SUMMARY_KEYS
from ansible_collections.acgs.haproxy_stack.plugins.modules import haproxy_info
from fake_haproxy import CONNECT_ERRORS


def names(result):
    return ['%s/%s' % (s['backend'], s['name']) for s in result['servers']]


def test_everything(fake, fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(haproxy_info, dict(socket=sock_path))
    assert kind == 'exit'
    assert result['changed'] is False
    assert result['info']['Name'] == 'HAProxy'
    assert [f['name'] for f in result['frontends']] == ['fe']
    assert [b['name'] for b in result['backends']] == ['web', 'api', 'static', 'track', 'empty']
    assert len(result['servers']) == 7
    assert set(result['servers'][0]) == set(SERVER_SUMMARY_KEYS)
    app3 = result['servers'][2]
    assert (app3['state'], app3['admin_state'], app3['operational_state'], app3['check_status']) == \
        ('DOWN', 'ready', 'stopped', 'L4CON')
    t1 = result['servers'][-1]
    assert (t1['state'], t1['via'], t1['admin_state']) == ('MAINT', 'web/app1', 'maint')
    assert result['servers'][3]['current_sessions'] == 2
    assert fake.connections == 1


def test_details(fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(haproxy_info, dict(socket=sock_path, details=True))
    assert kind == 'exit'
    server = result['servers'][-1]
    assert server['admin_flags'] == ['IMAINT']
    assert server['tracked'] == 'web/app1'
    assert server['admin_state_raw'] == 2


def test_check_mode(fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(haproxy_info, dict(socket=sock_path), check_mode=True)
    assert kind == 'exit' and result['changed'] is False and len(result['servers']) == 7


def test_filters(fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(haproxy_info, dict(socket=sock_path, backend='web'))
    assert names(result) == ['web/app1', 'web/app2', 'web/app3']
    assert [b['name'] for b in result['backends']] == ['web']
    kind, result = run_module_inproc(haproxy_info, dict(socket=sock_path, backend=['web', 'api'], server=['app1', 'api*']))
    assert names(result) == ['web/app1', 'api/api1', 'api/api2']
    kind, result = run_module_inproc(haproxy_info, dict(socket=sock_path, server='*2'))
    assert names(result) == ['web/app2', 'api/api2']
    kind, result = run_module_inproc(haproxy_info, dict(socket=sock_path, server='a*/*1'))
    assert names(result) == ['api/api1']
    kind, result = run_module_inproc(haproxy_info, dict(socket=sock_path, backend='w?b', server='zzz*'))
    assert kind == 'exit' and names(result) == []


def test_unknown_names_fail(fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(haproxy_info, dict(socket=sock_path, backend=['web', 'nope']))
    assert kind == 'fail'
    assert 'No such backend "nope"' in result['msg'] and sock_path in result['msg']
    kind, result = run_module_inproc(haproxy_info, dict(socket=sock_path, backend='web', server='api1'))
    assert kind == 'fail'
    assert 'No such server "api1"' in result['msg']


def test_missing_socket(tmp_path, run_module_inproc):
    kind, result = run_module_inproc(haproxy_info, dict(socket=str(tmp_path / 'x.sock')))
    assert kind == 'fail'
    assert 'x.sock' in result['msg'] and 'no such file' in result['msg']


def test_permission_denied(fake_socket, sock_path, run_module_inproc):
    fake_socket(connect_error=CONNECT_ERRORS['denied'])
    kind, result = run_module_inproc(haproxy_info, dict(socket=sock_path))
    assert kind == 'fail' and 'permission denied' in result['msg'] and sock_path in result['msg']
