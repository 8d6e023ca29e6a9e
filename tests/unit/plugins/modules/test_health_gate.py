# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the health_gate module: the fake runtime API (tests/unit/fake_haproxy.py) for HAProxy,
canned answers for Prometheus and URLs (open_url patched in module_utils._health)."""

from __future__ import annotations

import io
import json
import re
import socket
import urllib.error
import urllib.parse

import pytest

from ansible_collections.acgs.haproxy_stack.plugins.module_utils import _health
from ansible_collections.acgs.haproxy_stack.plugins.modules import health_gate

PROM = 'http://prom.example:9090'


def target(job, instance, health='up', error=''):
    return {'labels': {'job': job, 'instance': instance}, 'scrapePool': job, 'health': health, 'lastError': error,
            'scrapeUrl': 'http://%s/metrics' % instance}


def alert(name, state='firing', **labels):
    labels = dict(labels, alertname=name)
    return {'labels': labels, 'state': state, 'activeAt': '2026-01-01T00:00:00Z', 'value': '1'}


def address(host, addr, device='eth0', **labels):
    """A node_network_address_info series (node exporter --collector.netdev.address-info) of ``host``."""
    metric = dict(__name__='node_network_address_info', device=device, address=addr, netmask='24',
                  scope='global', job='node', instance='%s:9100' % host, host=host)
    metric.update(labels)
    return {'metric': dict((k, v) for k, v in metric.items() if v is not None), 'value': [1767225600.0, '1']}


# Every address of both load balancers, the VIP on lb1.
LB_ADDRESSES = [address('lb1', '10.89.0.11'), address('lb1', '127.0.0.1', device='lo', netmask='8', scope='host'),
                address('lb2', '10.89.0.12'), address('lb2', '127.0.0.1', device='lo', netmask='8', scope='host'),
                address('lb1', '10.89.0.250')]

GOOD_TARGETS = [target('haproxy', 'lb1:9101'), target('node', 'lb1:9100'), target('node', 'app1:9100'),
                target('prometheus', 'mon1:9090')]


class Response(object):
    def __init__(self, status, body):
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()

    def getcode(self):
        return self.status

    def read(self):
        return self.body

    def close(self):
        pass


class FakeHTTP(object):
    """Stand-in for open_url: answers by URL path; records every call."""

    def __init__(self):
        self.calls = []
        self.targets = list(GOOD_TARGETS)
        self.alerts = []
        self.addresses = list(LB_ADDRESSES)
        self.override = {}   # path prefix -> Response, exception, or callable(url) -> either

    def __call__(self, url, **kwargs):
        self.calls.append((url, kwargs))
        path = url.split('://', 1)[1].split('/', 1)[1] if '/' in url.split('://', 1)[1] else ''
        path = '/' + path
        for prefix, answer in self.override.items():
            if path.startswith(prefix):
                if callable(answer) and not isinstance(answer, Response):
                    answer = answer(url)
                if isinstance(answer, Exception):
                    raise answer
                if answer.status >= 400:
                    raise urllib.error.HTTPError(url, answer.status, 'error', {}, io.BytesIO(answer.body))
                return answer
        if path.startswith('/api/v1/targets'):
            return Response(200, {'status': 'success', 'data': {'activeTargets': self.targets,
                                                                'droppedTargets': []}})
        if path.startswith('/api/v1/alerts'):
            return Response(200, {'status': 'success', 'data': {'alerts': self.alerts}})
        if path.startswith('/api/v1/query?'):
            return Response(200, {'status': 'success', 'data': {'resultType': 'vector',
                                                                'result': self.select(query_of(url))}})
        if path.startswith('/health'):
            return Response(200, b'{"status": "ok"}')
        raise urllib.error.HTTPError(url, 404, 'Not Found', {}, io.BytesIO(b'404 page not found'))

    def select(self, query):
        """What Prometheus answers to node_network_address_info{address=~"<PromQL string>"}: an anchored match."""
        match = re.fullmatch(r'node_network_address_info\{address=~"((?:[^"\\]|\\.)*)"\}', query)
        assert match, 'unexpected query %r' % query
        pattern = re.sub(r'\\(.)', r'\1', match.group(1))     # the PromQL string literal's escapes
        return [s for s in self.addresses if re.fullmatch(pattern, s['metric']['address'])]


def query_of(url):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)['query'][0]


@pytest.fixture
def http(monkeypatch):
    fake = FakeHTTP()
    monkeypatch.setattr(_health, 'open_url', fake)
    return fake


@pytest.fixture
def no_sleep(monkeypatch):
    """Make waiting instant: time.sleep in the module advances a fake clock and runs a hook."""
    clock = [1000.0]
    hooks = []

    def sleep(seconds):
        clock[0] += seconds
        for hook in hooks:
            hook()

    monkeypatch.setattr(health_gate.time, 'time', lambda: clock[0])
    monkeypatch.setattr(health_gate.time, 'sleep', sleep)
    return hooks


def by_name(result):
    return dict((c['name'], c) for c in result['checks'])


# -- HAProxy -------------------------------------------------------------------------------------------

def test_backends_hold(fake, fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, backends=['web', 'api'], min_up=2))
    assert kind == 'exit', result
    assert result['changed'] is False
    assert result['failed_checks'] == []
    assert result['attempts'] == 1
    checks = by_name(result)
    assert checks['backend web'] == dict(name='backend web', type='backend', ok=True,
                                         detail='2 of 3 server(s) UP, need 2; not UP: app3 DOWN [L4CON]')
    assert checks['backend api']['detail'] == '2 of 2 server(s) UP, need 2'
    assert result['msg'] == 'All 2 check(s) hold'
    assert 'permanent' not in result['checks'][0]


def test_percentage_rounds_up_and_fails_with_reason(fake, fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, wait_timeout=0,
                                                       backends=['api', {'name': 'web', 'min_up': '100%'}]))
    assert kind == 'fail'
    assert result['changed'] is False
    assert [c['name'] for c in result['failed_checks']] == ['backend web']
    assert result['failed_checks'][0]['detail'] == \
        '2 of 3 server(s) UP, need 3 (100%); not UP: app3 DOWN [L4CON]'
    assert 'backend web: 2 of 3 server(s) UP, need 3' in result['msg']
    assert 'evaluated once' in result['msg']
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, backends=['web'], min_up='50%'))
    assert kind == 'exit'
    assert by_name(result)['backend web']['detail'].startswith('2 of 3 server(s) UP, need 2 (50%)')


def test_drain_and_maint_do_not_count(fake, fake_socket, sock_path, run_module_inproc):
    fake.get('web', 'app1').admin = 0x08
    fake.get('web', 'app2').admin = 0x01
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, backends=['web'], wait_timeout=0))
    assert kind == 'fail'
    assert by_name(result)['backend web']['detail'] == \
        '0 of 3 server(s) UP, need 1; not UP: app1 DRAIN, app2 MAINT, app3 DOWN [L4CON]'


def test_glob_skips_backends_without_servers(fake, fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, backends=['*'], wait_timeout=0))
    names = [c['name'] for c in result['checks']]
    assert names == ['backend web', 'backend api', 'backend static', 'backend track']
    # t1 is in MAINT through the server it tracks... which is UP: HAProxy says MAINT (via web/app1).
    assert kind == 'fail' and [c['name'] for c in result['failed_checks']] == ['backend track']


def test_unknown_backend_fails_at_once(fake, fake_socket, sock_path, run_module_inproc, no_sleep):
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, backends=['web', 'nope', 'x-*'],
                                                       wait_timeout=300))
    assert kind == 'fail'
    assert result['attempts'] == 1
    failed = by_name(dict(checks=result['failed_checks']))
    assert failed['backend nope']['detail'].startswith('no such backend "nope" on unix socket %s' % sock_path)
    assert 'it has: web, api, static, track, empty' in failed['backend nope']['detail']
    assert failed['backend x-*']['detail'].startswith('backend pattern "x-*" matches no backend')
    assert 'waiting cannot fix: backend nope, backend x-*' in result['msg']


def test_servers_check(fake, fake_socket, sock_path, run_module_inproc):
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, wait_timeout=0,
                                                       servers=['web/app1', 'web/app*', '*/api2']))
    assert kind == 'fail'
    checks = by_name(result)
    assert checks['server web/app1'] == dict(name='server web/app1', type='server', ok=True, detail='UP')
    assert checks['server */api2']['ok'] is True
    assert checks['server web/app*']['detail'] == '1 of 3 server(s) not UP: web/app3 DOWN [L4CON]'
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, servers=['web/nope', 'bad'], wait_timeout=60))
    assert kind == 'fail' and result['attempts'] == 1
    failed = by_name(dict(checks=result['failed_checks']))
    assert failed['server web/nope']['detail'].startswith('no server matches "web/nope"')
    assert 'is not "backend/server"' in failed['server bad']['detail']


def test_waits_until_servers_come_up(fake, fake_socket, sock_path, run_module_inproc, no_sleep):
    app3 = fake.get('web', 'app3')
    no_sleep.append(lambda: setattr(app3, 'healthy', True))
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, servers=['web/app3'], wait_timeout=10,
                                                       wait_interval=1))
    assert kind == 'exit', result
    assert result['attempts'] == 2
    assert result['elapsed'] == 1.0


def test_times_out_with_the_list(fake, fake_socket, sock_path, run_module_inproc, no_sleep):
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, servers=['web/app3', 'web/app1'],
                                                       wait_timeout=5, wait_interval=2))
    assert kind == 'fail'
    assert result['attempts'] == 4     # t=0, 2, 4, 5
    assert result['elapsed'] == 5.0
    assert result['msg'].startswith('Health gate timed out after 5.0s, 1 of 2 check(s) did not hold: '
                                    'server web/app3: 1 of 1 server(s) not UP')
    assert [c['name'] for c in result['failed_checks']] == ['server web/app3']


def test_socket_error_is_waited_for(fake, fake_socket, sock_path, run_module_inproc, no_sleep, tmp_path):
    missing = str(tmp_path / 'nope.sock')
    kind, result = run_module_inproc(health_gate, dict(socket=missing, backends=['web'], wait_timeout=4, wait_interval=2))
    assert kind == 'fail'
    assert result['attempts'] == 3
    assert result['failed_checks'][0]['detail'].startswith('cannot read HAProxy: unix socket %s: no such file' % missing)


def test_check_mode_evaluates_once(fake, fake_socket, sock_path, run_module_inproc, no_sleep):
    before = fake.state_of()
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, servers=['web/app3'], wait_timeout=60),
                                     check_mode=True)
    assert kind == 'fail' and result['attempts'] == 1 and result['changed'] is False
    assert 'in check mode' in result['msg']
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, backends=['web']), check_mode=True)
    assert kind == 'exit' and result['changed'] is False and result['attempts'] == 1
    assert fake.state_of() == before
    assert [c for c in fake.log if not c.startswith('show ')] == []


# -- Prometheus ----------------------------------------------------------------------------------------

def test_prometheus_jobs_and_alerts(http, run_module_inproc):
    http.alerts = [alert('HAProxyBackendServerDown', severity='warning'),
                   alert('HAProxyDown', state='pending', severity='critical')]
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM + '/', prometheus_username='prometheus',
                                                       prometheus_password='s3cret', jobs=['haproxy', 'node'],
                                                       alerts=[{'severity': 'critical'}]))
    assert kind == 'exit', result
    checks = by_name(result)
    assert checks['job node']['detail'] == '2 of 2 target(s) up'
    assert checks['alerts severity=critical'] == dict(
        name='alerts severity=critical', type='alerts', ok=True,
        detail='no matching alert firing (2 alert(s) in total)')
    urls = [u for u, dummy in http.calls]
    assert urls == [PROM + '/api/v1/targets?state=active', PROM + '/api/v1/alerts']
    kwargs = http.calls[0][1]
    assert kwargs['url_username'] == 'prometheus' and kwargs['url_password'] == 's3cret'
    assert kwargs['force_basic_auth'] is True and kwargs['validate_certs'] is True
    assert 's3cret' not in json.dumps(result)


def test_target_down_and_missing_job(http, run_module_inproc):
    http.targets.append(target('node', 'app2:9100', health='down', error='connection refused'))
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, jobs=['node', 'alertmanager'],
                                                       wait_timeout=0))
    assert kind == 'fail'
    checks = by_name(result)
    assert checks['job node']['detail'] == '2 of 3 target(s) up; app2:9100 down (connection refused)'
    assert checks['job alertmanager']['detail'] == \
        'Prometheus has no active target for job "alertmanager" (jobs: haproxy, node, prometheus)'


def test_firing_alert_fails_and_pending_optional(http, run_module_inproc):
    http.alerts = [alert('HAProxyDown', severity='critical', host='lb1'),
                   alert('Other', state='pending', severity='page')]
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, wait_timeout=0,
                                                       alerts=[{'severity': 'critical'}, {'severity': ['page', 'x']}]))
    assert kind == 'fail'
    checks = by_name(result)
    assert checks['alerts severity=critical']['detail'] == \
        '1 alert(s) firing: HAProxyDown{host=lb1} firing since 2026-01-01T00:00:00Z'
    assert checks['alerts severity=page|x']['ok'] is True
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, wait_timeout=0, include_pending=True,
                                                       alerts=[{'severity': ['page']}]))
    assert kind == 'fail'
    assert result['failed_checks'][0]['detail'].startswith('1 alert(s) firing or pending: Other{} pending')


@pytest.mark.parametrize('answer, reason', [
    (Response(401, b'Unauthorized\n'), 'answered 401 Unauthorized: wrong prometheus_username/prometheus_password'),
    (Response(403, b'no'), 'answered 403 Forbidden'),
    (Response(200, b'<html>grafana</html>'), 'did not answer JSON'),
    (Response(200, {'status': 'error', 'error': 'x'}), 'did not answer a Prometheus API document'),
])
def test_permanent_prometheus_errors_fail_at_once(http, run_module_inproc, no_sleep, answer, reason):
    http.override['/api/'] = answer
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, prometheus_username='prometheus',
                                                       prometheus_password='bad', jobs=['node'],
                                                       alerts=[{'severity': 'critical'}], wait_timeout=300))
    assert kind == 'fail'
    assert result['attempts'] == 1
    assert reason in result['failed_checks'][0]['detail']
    assert [c['name'] for c in result['failed_checks']] == ['job node', 'alerts severity=critical']
    assert 'bad' not in json.dumps(result).replace('"bad', '')


def test_401_without_credentials_says_so(http, run_module_inproc):
    http.override['/api/'] = Response(401, b'Unauthorized')
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, jobs=['node']))
    assert kind == 'fail'
    assert 'it requires basic auth, set prometheus_username and prometheus_password' in result['msg']


def test_wrong_url_is_404(http, run_module_inproc):
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM + '/grafana', jobs=['node']))
    assert kind == 'fail' and result['attempts'] == 1
    assert 'no Prometheus API at %s/grafana' % PROM in result['msg']


def test_unreachable_prometheus_is_waited_for(http, run_module_inproc, no_sleep):
    http.override['/api/'] = urllib.error.URLError(ConnectionRefusedError(111, 'Connection refused'))
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, jobs=['node'], wait_timeout=3,
                                                       wait_interval=1))
    assert kind == 'fail'
    assert result['attempts'] == 4
    assert result['failed_checks'][0]['detail'] == \
        'cannot reach %s/api/v1/targets?state=active: [Errno 111] Connection refused' % PROM
    assert 'timed out after 3.0s' in result['msg']


def test_prometheus_starting_then_ready(http, run_module_inproc, no_sleep):
    answers = [Response(503, b'Service Unavailable'), socket.timeout('timed out')]

    def flaky(url):
        return answers.pop(0) if answers else Response(200, {'status': 'success',
                                                             'data': {'activeTargets': GOOD_TARGETS}})
    http.override['/api/v1/targets'] = flaky
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, jobs=['prometheus'], wait_timeout=30))
    assert kind == 'exit', result
    assert result['attempts'] == 3


def test_mixed_haproxy_prometheus_urls(fake, fake_socket, sock_path, http, run_module_inproc):
    http.override['/health'] = Response(503, b'{"status": "down"}')
    kind, result = run_module_inproc(health_gate, dict(socket=sock_path, backends=['api'], prometheus_url=PROM,
                                                       jobs=['haproxy'], alerts=[{}],
                                                       urls=['http://app1:8000/health'], wait_timeout=0))
    assert kind == 'fail'
    assert [c['name'] for c in result['checks']] == ['backend api', 'job haproxy', 'alerts (any)',
                                                     'url http://app1:8000/health']
    assert result['failed_checks'] == [dict(name='url http://app1:8000/health', type='url', ok=False,
                                            detail='HTTP 503: {"status": "down"}')]


def test_url_ok(http, run_module_inproc):
    kind, result = run_module_inproc(health_gate, dict(urls=['http://127.0.0.1:8000/health'], validate_certs=False,
                                                       ca_path='/tmp/ca.pem'))
    assert kind == 'exit'
    assert result['checks'][0]['detail'] == 'HTTP 200'
    kwargs = http.calls[0][1]
    assert kwargs['validate_certs'] is False and kwargs['ca_path'] == '/tmp/ca.pem'
    assert 'url_username' not in kwargs


def test_ca_content_is_written_to_a_file_and_used_as_ca_path(http, run_module_inproc):
    pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----'
    kind, result = run_module_inproc(health_gate, dict(prometheus_url='https://prom.example:9090', jobs=['node'],
                                                       ca_content=pem))
    assert kind == 'exit', result
    ca_paths = set(kwargs['ca_path'] for _url, kwargs in http.calls)
    assert len(ca_paths) == 1
    ca_path = ca_paths.pop()
    assert ca_path.endswith('health_gate_ca.pem')
    with open(ca_path) as f:
        assert f.read() == pem + '\n'


def test_ca_path_and_ca_content_exclude_each_other(run_module_inproc):
    kind, result = run_module_inproc(health_gate, dict(urls=['https://x/'], ca_path='/tmp/ca.pem', ca_content='x'))
    assert kind == 'fail'
    assert 'mutually exclusive' in result['msg']


# -- keepalived VIPs (Prometheus) ---------------------------------------------------------------------

VIP = '10.89.0.250'
NO_HOLDER = ('no host holds 10.89.0.250 (node_network_address_info has no series for it: keepalived FAULT/stopped '
             'everywhere, or the node exporter runs without --collector.netdev.address-info)')


def test_vip_held_by_one_host(http, run_module_inproc):
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, vips=[VIP]))
    assert kind == 'exit', result
    assert result['checks'] == [dict(name='vip 10.89.0.250', type='vip', ok=True, detail='10.89.0.250 held by lb1')]
    assert result['msg'] == 'All 1 check(s) hold'
    # One instant query, nothing else asked of Prometheus.
    assert [u.split('?')[0] for u, dummy in http.calls] == [PROM + '/api/v1/query']


def test_vip_query_names_every_vip_once(http, run_module_inproc):
    http.addresses.append(address('lb2', '10.89.0.251'))
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM + '/', vips=[VIP, '10.89.0.251', VIP]))
    assert kind == 'exit', result
    assert len(http.calls) == 1
    url = http.calls[0][0]
    assert url.startswith(PROM + '/api/v1/query?query=')
    # Dots escaped for the regex, the backslashes doubled for the PromQL string.
    assert query_of(url) == r'node_network_address_info{address=~"10\\.89\\.0\\.250|10\\.89\\.0\\.251"}'
    assert [(c['name'], c['detail']) for c in result['checks']] == [
        ('vip 10.89.0.250', '10.89.0.250 held by lb1'), ('vip 10.89.0.251', '10.89.0.251 held by lb2')]


def test_vip_holder_is_the_host_label_else_the_instance(http, run_module_inproc):
    # Two Prometheus (or one with the same series from two replicas) report the same holder twice: one holder.
    http.addresses = [address('lb1', VIP, replica='mon1'), address('lb1', VIP, replica='mon2'),
                      address('lb1', VIP, device='eth1')]
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, vips=[VIP]))
    assert kind == 'exit', result
    assert result['checks'][0]['detail'] == '10.89.0.250 held by lb1'
    http.addresses = [address(None, VIP, instance='lb2:9100')]
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, vips=[VIP]))
    assert kind == 'exit', result
    assert result['checks'][0]['detail'] == '10.89.0.250 held by lb2:9100'


def test_vip_without_holder_fails_and_is_waited_for(http, run_module_inproc, no_sleep):
    http.addresses = [s for s in LB_ADDRESSES if s['metric']['address'] != VIP]
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, vips=[VIP], wait_timeout=4,
                                                       wait_interval=2))
    assert kind == 'fail'
    assert result['attempts'] == 3      # waitable: t=0, 2, 4
    assert result['failed_checks'] == [dict(name='vip 10.89.0.250', type='vip', ok=False, detail=NO_HOLDER)]
    assert result['msg'] == ('Health gate timed out after 4.0s, 1 of 1 check(s) did not hold: vip 10.89.0.250: %s'
                             % NO_HOLDER)


def test_vip_on_two_hosts_is_split_brain(http, run_module_inproc, no_sleep):
    http.addresses.append(address('lb2', VIP))
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, vips=[VIP], wait_timeout=2,
                                                       wait_interval=1))
    assert kind == 'fail'
    assert result['attempts'] == 3
    assert result['failed_checks'][0]['detail'] == '10.89.0.250 held by 2 hosts: lb1, lb2 (split brain)'
    assert 'timed out' in result['msg'] and 'waiting cannot fix' not in result['msg']


def test_vip_moving_to_the_other_host_is_waited_for(http, run_module_inproc, no_sleep):
    http.addresses = [s for s in LB_ADDRESSES if s['metric']['address'] != VIP]
    no_sleep.append(lambda: http.addresses.append(address('lb2', VIP)))
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, vips=[VIP], wait_timeout=10))
    assert kind == 'exit', result
    assert result['attempts'] == 2
    assert result['checks'][0]['detail'] == '10.89.0.250 held by lb2'


def test_vip_check_mode_evaluates_once(http, run_module_inproc, no_sleep):
    http.addresses = []
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, vips=[VIP], wait_timeout=60),
                                     check_mode=True)
    assert kind == 'fail' and result['attempts'] == 1 and result['changed'] is False
    assert 'in check mode' in result['msg'] and NO_HOLDER in result['msg']
    assert len(http.calls) == 1
    http.addresses = list(LB_ADDRESSES)
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, vips=[VIP]), check_mode=True)
    assert kind == 'exit' and result['attempts'] == 1 and result['changed'] is False


def test_vip_prometheus_errors_as_the_other_prometheus_checks(http, run_module_inproc, no_sleep):
    http.override['/api/'] = Response(401, b'Unauthorized')
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, jobs=['node'], vips=[VIP],
                                                       wait_timeout=300))
    assert kind == 'fail' and result['attempts'] == 1
    assert [c['name'] for c in result['failed_checks']] == ['job node', 'vip 10.89.0.250']
    assert 'answered 401 Unauthorized' in result['failed_checks'][1]['detail']
    assert 'waiting cannot fix: job node, vip 10.89.0.250' in result['msg']
    # The targets answer, the query does not (yet): the job holds, the VIP check fails and is waited for.
    http.override = {'/api/v1/query': Response(503, b'Service Unavailable')}
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, jobs=['node'], vips=[VIP],
                                                       wait_timeout=2, wait_interval=1))
    assert kind == 'fail' and result['attempts'] == 3
    assert by_name(result)['job node']['ok'] is True
    assert result['failed_checks'] == [dict(name='vip 10.89.0.250', type='vip', ok=False,
                                            detail='Prometheus at %s answered HTTP 503: Service Unavailable' % PROM)]


def test_vips_with_the_other_checks_in_order(http, run_module_inproc):
    kind, result = run_module_inproc(health_gate, dict(prometheus_url=PROM, jobs=['node'], alerts=[{}], vips=[VIP],
                                                       urls=['http://app1:8000/health']))
    assert kind == 'exit', result
    assert [c['name'] for c in result['checks']] == ['job node', 'alerts (any)', 'vip 10.89.0.250',
                                                     'url http://app1:8000/health']


def test_vips_are_normalized():
    assert _health.parse_vips([' 10.89.0.250', 'FD00:0::1', '10.89.0.250']) == (['10.89.0.250', 'fd00::1'], [])
    checks = _health.evaluate_vips(['fd00::1'], {'result': [address('lb1', 'fd00:0:0::1')]})
    assert checks[0]['detail'] == 'fd00::1 held by lb1'


# -- arguments -----------------------------------------------------------------------------------------

@pytest.mark.parametrize('args, message', [
    (dict(backends=['web'], min_up='lots'), 'min_up must be an integer >= 0 or a percentage'),
    (dict(backends=['web'], min_up='150%'), 'min_up 150% is more than 100%'),
    (dict(backends=[{'name': 'web', 'min': 2}]), 'backends[0]: unknown key(s) min'),
    (dict(backends=[['web']]), 'backends[0]: expected a backend name or a dictionary'),
    (dict(jobs=['node']), 'jobs, alerts and vips need prometheus_url'),
    (dict(vips=['10.89.0.250']), 'jobs, alerts and vips need prometheus_url'),
    (dict(prometheus_url=PROM, vips=['10.89.0.250', 'lb1']), 'vips[1]: "lb1" is not an IP address'),
    (dict(prometheus_url=PROM, vips=['10.89.0.250/24']),
     'vips[0]: "10.89.0.250/24" is not an IP address (give the address alone, without its /prefix)'),
    (dict(prometheus_url=PROM, vips=['10.89.0.256']), 'vips[0]: "10.89.0.256" is not an IP address'),
    (dict(), 'nothing to check'),
    (dict(urls=['http://x/'], wait_interval=0), 'wait_interval and request_timeout > 0'),
])
def test_bad_arguments(http, run_module_inproc, args, message):
    kind, result = run_module_inproc(health_gate, args)
    assert kind == 'fail'
    assert message in result['msg']
    assert result['attempts'] == 0
    assert http.calls == []


def test_needed():
    assert _health.needed((50, True), 3) == 2
    assert _health.needed((50, True), 0) == 0
    assert _health.needed((1, True), 10) == 1
    assert _health.needed((2, False), 1) == 2


def test_evaluate_servers_keeps_the_order_of_the_patterns():
    servers = [dict(backend='web', name='app1', state='UP', admin_state='ready', status='UP'),
               dict(backend='web', name='app2', state='DOWN', admin_state='ready', status='DOWN')]
    checks = _health.evaluate_servers(['bad', 'web/app2', '/x', 'web/zz*', 'web/*'], servers, 'here')
    assert [(c['name'], c['ok'], c['permanent']) for c in checks] == [
        ('server bad', False, True), ('server web/app2', False, False), ('server /x', False, True),
        ('server web/zz*', False, True), ('server web/*', False, False)]
    assert checks[3]['detail'] == 'no server matches "web/zz*" on here'
    assert checks[4]['detail'] == '1 of 2 server(s) not UP: web/app2 DOWN'
