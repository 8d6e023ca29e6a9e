# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""health_gate against a real HAProxy (conftest's ``local_haproxy`` fixture: admin socket in a temporary directory)
and a real Prometheus (/usr/bin/prometheus) on 127.0.0.1 with basic auth, scraping itself every second,
a closed port (a target down), and evaluating two rules: one alert firing (severity=critical) and one
pending for an hour (severity=page). The module runs as a separate process (conftest's ``run_module_subprocess``).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import bcrypt
import pytest

from conftest import free_port
from release_binaries import both_releases

PROMETHEUS = '/usr/bin/prometheus'
USER = 'gate'
PASSWORD = 'gate-Secret-1'

RULES = """\
groups:
  - name: gate-test
    interval: 1s
    rules:
      - alert: GateTestFiring
        expr: vector(1)
        labels: {severity: critical, team: gate}
      - alert: GateTestPending
        expr: vector(1)
        for: 1h
        labels: {severity: page}
"""


@pytest.fixture(scope='module')
def prometheus(tmp_path_factory):
    """(url, closed port) of a Prometheus with basic auth, ready with its first scrapes and rule evaluations."""
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip('%s is not installed (make deps)' % PROMETHEUS)
    work = tmp_path_factory.mktemp('prometheus')
    port, closed = free_port(), free_port()
    (work / 'web.yml').write_text(json.dumps({'basic_auth_users': {
        USER: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()}}))
    (work / 'password').write_text(PASSWORD)
    (work / 'rules.yml').write_text(RULES)
    (work / 'prometheus.yml').write_text(json.dumps({
        'global': {'scrape_interval': '1s', 'evaluation_interval': '1s'},
        'rule_files': [str(work / 'rules.yml')],
        'scrape_configs': [
            {'job_name': 'prometheus', 'basic_auth': {'username': USER, 'password_file': str(work / 'password')},
             'static_configs': [{'targets': ['127.0.0.1:%d' % port]}]},
            {'job_name': 'dead', 'static_configs': [{'targets': ['127.0.0.1:%d' % closed]}]},
        ]}))
    log = open(work / 'prometheus.log', 'w')
    proc = subprocess.Popen([PROMETHEUS, '--config.file=%s' % (work / 'prometheus.yml'),
                             '--web.config.file=%s' % (work / 'web.yml'), '--storage.tsdb.path=%s' % (work / 'data'),
                             '--web.listen-address=127.0.0.1:%d' % port], cwd=work, stdout=log,
                            stderr=subprocess.STDOUT)
    url = 'http://127.0.0.1:%d' % port
    try:
        deadline = time.monotonic() + 45
        auth = {'Authorization': 'Basic ' + base64.b64encode(('%s:%s' % (USER, PASSWORD)).encode()).decode()}

        def get(path):
            request = urllib.request.Request(url + path, headers=auth)
            with urllib.request.urlopen(request, timeout=2) as response:
                return json.load(response)['data']

        last = None
        while True:
            assert proc.poll() is None, (work / 'prometheus.log').read_text()
            assert time.monotonic() < deadline, 'prometheus did not get ready (last: %r): %s' % (
                last, (work / 'prometheus.log').read_text()[-2000:])
            try:
                targets = get('/api/v1/targets')['activeTargets']
                alerts = get('/api/v1/alerts')['alerts']
                last = (targets, alerts)
                if (len(targets) == 2 and all(t['health'] != 'unknown' for t in targets)
                        and sorted(a['state'] for a in alerts) == ['firing', 'pending']):
                    break
            except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
                last = exc
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def by_name(result):
    return dict((c['name'], c) for c in result['checks'])


@both_releases
def test_real_haproxy_backends_and_servers(local_haproxy, run_module_subprocess):
    result = run_module_subprocess('health_gate', dict(socket=local_haproxy.admin_sock, backends=['web', 'sess_*'], min_up='60%',
                                                       servers=['web/s1', 'track/t1'], wait_timeout=0))
    assert result.get('failed') is not True, result
    checks = by_name(result)
    # web: s1 s2 s3 and slow UP (a server starts UP), dead DOWN.
    assert checks['backend web']['detail'] == '4 of 5 server(s) UP, need 3 (60%); not UP: dead DOWN [L4CON]'
    assert checks['backend sess_a']['ok'] and checks['backend sess_b']['ok']
    assert checks['server track/t1'] == dict(name='server track/t1', type='server', ok=True, detail='UP')
    assert result['changed'] is False


@both_releases
def test_real_haproxy_drain_then_ready_is_waited_for(local_haproxy, run_module_subprocess):
    local_haproxy.cli('set server web/s1 state drain', 'set server web/s2 state maint')
    result = run_module_subprocess('health_gate', dict(socket=local_haproxy.admin_sock, backends=['web'], min_up=3, wait_timeout=0))
    assert result['failed'] is True
    assert result['failed_checks'][0]['detail'].startswith('2 of 5 server(s) UP, need 3; not UP: s1 DRAIN, s2 MAINT, dead DOWN')
    # Back to ready while the module waits: a background shell does it after ~1 s.
    helper = subprocess.Popen(['sh', '-c', 'sleep 1; printf "set server web/s1 state ready\\n'
                               'set server web/s2 state ready\\n" | python3 -c "%s"' % (
                                   "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect('%s'); "
                                   "s.sendall(sys.stdin.buffer.read()); s.recv(1000)" % local_haproxy.admin_sock)])
    started = time.monotonic()
    result = run_module_subprocess('health_gate', dict(socket=local_haproxy.admin_sock, backends=['web'], min_up=3, wait_timeout=20,
                                                       wait_interval=0.2))
    helper.wait(10)
    assert result.get('failed') is not True, result
    assert result['attempts'] > 1
    assert 0.5 < time.monotonic() - started < 15


@both_releases
def test_real_haproxy_unknown_backend(local_haproxy, run_module_subprocess):
    started = time.monotonic()
    result = run_module_subprocess('health_gate', dict(socket=local_haproxy.admin_sock, backends=['web', 'nope'], wait_timeout=60))
    assert result['failed'] is True and result['attempts'] == 1
    assert time.monotonic() - started < 10
    assert 'no such backend "nope"' in result['msg']


def test_real_prometheus(prometheus, run_module_subprocess):
    args = dict(prometheus_url=prometheus, prometheus_username=USER, prometheus_password=PASSWORD, wait_timeout=0)
    result = run_module_subprocess('health_gate', dict(args, jobs=['prometheus'],
                                                       alerts=[{'severity': 'page'}, {'severity': 'warning'}]))
    assert result.get('failed') is not True, result
    assert by_name(result)['job prometheus']['detail'] == '1 of 1 target(s) up'
    assert PASSWORD not in json.dumps(result)

    result = run_module_subprocess('health_gate', dict(args, jobs=['prometheus', 'dead', 'missing'],
                                                       alerts=[{'severity': 'critical'}, {'severity': 'page'}],
                                                       include_pending=True))
    assert result['failed'] is True
    failed = by_name(dict(checks=result['failed_checks']))
    assert set(failed) == {'job dead', 'job missing', 'alerts severity=critical', 'alerts severity=page'}
    assert failed['job dead']['detail'].startswith('0 of 1 target(s) up; 127.0.0.1:')
    assert 'connection refused' in failed['job dead']['detail']
    assert failed['alerts severity=critical']['detail'].startswith('1 alert(s) firing or pending: GateTestFiring{team=gate}')
    assert 'GateTestPending{} pending' in failed['alerts severity=page']['detail']


def test_real_prometheus_bad_credentials_fail_at_once(prometheus, run_module_subprocess):
    started = time.monotonic()
    result = run_module_subprocess('health_gate', dict(prometheus_url=prometheus, prometheus_username=USER,
                                                       prometheus_password='not-the-password-9', jobs=['prometheus'], wait_timeout=60))
    assert result['failed'] is True and result['attempts'] == 1
    assert time.monotonic() - started < 10
    assert ('Prometheus at %s answered 401 Unauthorized: wrong prometheus_username/prometheus_password'
            % prometheus) in result['msg']
    result = run_module_subprocess('health_gate', dict(prometheus_url=prometheus, jobs=['prometheus'], wait_timeout=0))
    assert 'it requires basic auth' in result['msg']


def test_unreachable_prometheus_is_waited_for(run_module_subprocess):
    url = 'http://127.0.0.1:%d' % free_port()
    started = time.monotonic()
    result = run_module_subprocess('health_gate', dict(prometheus_url=url, jobs=['node'], wait_timeout=1.5, wait_interval=0.5))
    assert result['failed'] is True
    assert result['attempts'] >= 3
    assert 1.4 < time.monotonic() - started < 15
    assert 'cannot reach %s/api/v1/targets?state=active' % url in result['msg']
    assert 'Connection refused' in result['msg']


def test_everything_together_in_check_mode(local_haproxy, prometheus, run_module_subprocess):
    result = run_module_subprocess('health_gate', dict(socket=local_haproxy.admin_sock, backends=['web'], prometheus_url=prometheus,
                                                       prometheus_username=USER, prometheus_password=PASSWORD,
                                                       jobs=['prometheus'], alerts=[{'severity': 'critical'}],
                                                       urls=[prometheus + '/-/healthy'], wait_timeout=60), check_mode=True)
    assert result['failed'] is True and result['attempts'] == 1 and result['changed'] is False
    assert [c['name'] for c in result['failed_checks']] == ['alerts severity=critical', 'url %s/-/healthy' % prometheus]
    assert result['failed_checks'][1]['detail'].startswith('HTTP 401')
    assert 'in check mode' in result['msg']
