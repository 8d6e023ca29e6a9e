#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: health_gate
short_description: Wait until HAProxy backends have enough servers UP, Prometheus targets are up and no alert fires
version_added: 0.1.0
description:
  - Evaluates a set of checks and waits, up to O(wait_timeout) seconds, until all of them hold at once.
  - B(HAProxy) (through the runtime API socket, on the host the task runs on) - each backend of O(backends) has at
    least O(min_up) servers (a number or a percentage of its servers) that are UP and in the V(ready)
    administrative state; each server of O(servers) is UP and ready.
  - B(Prometheus) (HTTP API at O(prometheus_url)) - every active target of each job of O(jobs) is up, no alert
    matching one of the label sets of O(alerts) is firing (C(/api/v1/alerts)), and each virtual IP of O(vips) is
    held by exactly one host (C(node_network_address_info), one instant query on C(/api/v1/query)).
  - B(URLs) - each URL of O(urls) answers a 2xx status (for example a service's own C(/health)).
  - Returns every check with its name, whether it held and why (RV(checks)); when the timeout passes, fails with the
    checks that did not hold (RV(failed_checks)) and their reasons.
  - A check that waiting cannot fix fails at once, without waiting for the timeout; an unknown backend, a server
    pattern matching no server, Prometheus answering 401 (bad or missing credentials), 403 or 404, or something
    other than a Prometheus API answering at O(prometheus_url). An unreachable HAProxy socket or Prometheus, a
    target down, an alert firing or a virtual IP held by no host or by several are waited for.
  - Read-only; C(changed) is always V(false).
author:
  - acgs.haproxy_stack developers (@acgs)
extends_documentation_fragment:
  - acgs.haproxy_stack._haproxy
  - acgs.haproxy_stack._haproxy.actiongroup_haproxy
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Evaluates the checks once, without waiting, and fails if one does not hold. It never changes anything.
  diff_mode:
    support: N/A
    details: The module never changes anything.
  platform:
    platforms: posix
options:
  backends:
    description:
      - HAProxy backends that must have at least O(min_up) servers UP.
      - Each item is a backend name, a glob pattern such as V(*) or V(*_backend), or a dictionary with keys C(name)
        (name or pattern) and C(min_up) (overrides O(min_up) for this item).
      - A name (not a pattern) that is not a backend of HAProxy is a failed check. A pattern must match at least
        one backend; backends without any server that a pattern matches (a stats backend, for example) are skipped.
      - A server counts as UP when its status is UP (including C(UP n/m), still passing) or C(no check) and its
        administrative state is V(ready); servers in DRAIN or MAINT, DOWN, NOLB or starting do not count.
      - Needs the runtime API O(socket) on the host the task runs on.
    type: list
    elements: raw
    default: []
  min_up:
    description:
      - Servers that must be UP in each backend of O(backends); an integer, or a percentage of the backend's
        servers such as V(50%) (rounded up, so V(50%) of 3 servers is 2).
    type: raw
    default: 1
  servers:
    description:
      - Servers that must all be UP and ready, as V(backend/server); backend and server may be glob patterns such
        as V(*/app1) (the server C(app1) in every backend).
      - A pattern that matches no server is a failed check.
    type: list
    elements: str
    default: []
  prometheus_url:
    description:
      - Base URL of Prometheus, such as V(http://prometheus.example.com:9090) (a path prefix is kept).
      - Required with O(jobs), O(alerts) or O(vips).
    type: str
  prometheus_username:
    description:
      - User name for Prometheus' basic auth (C(web.config.file)). Sent preemptively.
    type: str
  prometheus_password:
    description:
      - Password for Prometheus' basic auth.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificates of O(prometheus_url) and O(urls).
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the certificate authorities to verify them with, instead of the system's.
      - Mutually exclusive with O(ca_content).
    type: path
  ca_content:
    description:
      - The same certificate authorities as PEM text, for a host that has no file of them (the module writes it
        to its temporary directory, which is removed when it ends). The stack's gate passes the text of
        C(acgs_prometheus_ca_file) from the control node here.
      - Mutually exclusive with O(ca_path).
    type: str
  jobs:
    description:
      - Prometheus scrape jobs (the C(job) label) whose active targets must all be up.
      - A job without any active target is a failed check.
    type: list
    elements: str
    default: []
  alerts:
    description:
      - Label sets of alerts that must not be firing, as reported by Prometheus' C(/api/v1/alerts).
      - An alert matches a label set when it has every label of it with that value (a list value matches any of
        its items). A label set with C(severity) V(critical) matches every critical alert, an empty one every alert.
      - One check per label set.
      - Pending alerts (whose C(for) duration has not elapsed yet) are ignored unless O(include_pending=true), so the
        rules' C(for) durations act as the grace window after a fresh deployment.
    type: list
    elements: dict
    default: []
  include_pending:
    description:
      - Count pending alerts as firing for O(alerts).
    type: bool
    default: false
  vips:
    description:
      - Virtual IP addresses (IPv4 or IPv6, such as the C(address) of each entry of the keepalived role's
        C(keepalived_vips)) each of which must be held by exactly one host, according to Prometheus.
      - A host holds an address when the node exporter's C(node_network_address_info) has a series for it
        with that host's C(host) label (its C(instance) label when it has no C(host)); the node exporter
        must run with C(--collector.netdev.address-info).
      - One check per address; no holder (keepalived stopped or in FAULT everywhere) and two or more holders
        (split brain) are failed checks, and are waited for.
      - A value that is not an IP address fails the module at once.
    type: list
    elements: str
    default: []
  urls:
    description:
      - URLs that must answer a 2xx status to a GET (no credentials are sent; redirects are followed when safe).
    type: list
    elements: str
    default: []
  wait_timeout:
    description:
      - Seconds to wait for every check to hold. V(0) evaluates once.
      - In check mode the checks are evaluated once whatever this is.
    type: float
    default: 120.0
  wait_interval:
    description:
      - Seconds between two evaluations.
    type: float
    default: 2.0
  request_timeout:
    description:
      - Seconds to wait for the connection and for each answer of an HTTP request (O(prometheus_url), O(urls)).
      - O(timeout) is the same for the HAProxy socket.
    type: float
    default: 10.0
notes:
  - All checks are evaluated together, each evaluation reads the HAProxy socket once, Prometheus' targets once,
    its alerts once and runs one query for all of O(vips) (only what the options need), so a gate on many backends
    stays cheap.
  - HTTP requests use C(ansible.module_utils.urls), so the usual proxy environment variables apply.
seealso:
  - module: acgs.haproxy_stack.haproxy_info
  - module: acgs.haproxy_stack.haproxy_server
  - name: Prometheus HTTP API
    description: The C(/api/v1/targets), C(/api/v1/alerts) and C(/api/v1/query) endpoints this module reads.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/
"""

EXAMPLES = r"""
- name: Gate - every backend has a server UP, the stack's targets are up, no critical alert fires
  acgs.haproxy_stack.health_gate:
    backends: ["*"]
    min_up: 1
    prometheus_url: http://mon1.example.com:9090
    prometheus_username: prometheus
    prometheus_password: "{{ vault_prometheus_password }}"
    jobs: [haproxy, node, prometheus, alertmanager]
    alerts:
      - severity: critical
    wait_timeout: 180
  become: true

- name: Half of the web servers, and all API servers, must be UP
  acgs.haproxy_stack.health_gate:
    backends:
      - {name: web, min_up: 50%}
      - {name: api, min_up: 100%}
    wait_timeout: 60

- name: Wait until HAProxy sees the servers of the current host UP again (rolling deploy)
  acgs.haproxy_stack.health_gate:
    servers: ["*/{{ inventory_hostname }}"]
    wait_timeout: 60
  delegate_to: "{{ item }}"
  loop: "{{ groups['haproxy'] }}"

- name: The service's own health endpoint answers 2xx
  acgs.haproxy_stack.health_gate:
    urls: [http://127.0.0.1:8000/health]
    wait_timeout: 20

- name: Prometheus only (no socket involved), over TLS with a private CA
  acgs.haproxy_stack.health_gate:
    prometheus_url: https://prometheus.internal:9090
    ca_path: /etc/ssl/internal-ca.pem
    jobs: [node]
    alerts:
      - {severity: [critical, page]}
      - {alertname: Watchdog, severity: none}
  register: gate

- name: Each keepalived virtual IP is held by exactly one load balancer (no split brain, not released everywhere)
  acgs.haproxy_stack.health_gate:
    prometheus_url: http://mon1.example.com:9090
    vips: "{{ keepalived_vips | map(attribute='address') }}"
    wait_timeout: 30

- name: The same, with the CA's text from the control node (no CA file on the host)
  acgs.haproxy_stack.health_gate:
    prometheus_url: https://prometheus.internal:9090
    ca_content: "{{ lookup('ansible.builtin.file', 'files/internal-ca.pem') }}"
    jobs: [node]

- name: Show what did not hold
  ansible.builtin.debug:
    msg: "{{ gate.checks | rejectattr('ok') | list }}"
"""

RETURN = r"""
msg:
  description: Summary; on failure, every check that did not hold with its reason.
  returned: always
  type: str
  sample: All 10 check(s) hold
checks:
  description: Every check of the last evaluation, in the order backends, servers, jobs, alerts, vips, urls.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: What was checked, such as V(backend auth_backend), V(server */app1), V(job node),
        V(alerts severity=critical), V(vip 10.89.0.250) or V(url http://127.0.0.1:8000/health).
      type: str
      sample: backend auth_backend
    type:
      description: V(backend), V(server), V(job), V(alerts), V(vip) or V(url).
      type: str
      sample: backend
    ok:
      description: Whether the check held.
      type: bool
      sample: true
    detail:
      description: Why it held or not.
      type: str
      sample: "2 of 2 server(s) UP, need 1"
failed_checks:
  description: The checks of RV(checks) that did not hold (empty on success).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "job node", "type": "job", "ok": false, "detail": "2 of 3 target(s) up; app1:9100 down"}]
attempts:
  description: Number of evaluations.
  returned: always
  type: int
  sample: 3
elapsed:
  description: Seconds spent evaluating and waiting.
  returned: always
  type: float
  sample: 4.21
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.acgs.haproxy_stack.plugins.module_utils._haproxy import (
    HAPROXY_COMMON_ARGS,
    HAProxyError,
    HAProxyRuntime,
)
from ansible_collections.acgs.haproxy_stack.plugins.module_utils._health import (
    HTTPCheckError,
    evaluate_alerts,
    evaluate_backends,
    evaluate_jobs,
    evaluate_servers,
    evaluate_url,
    evaluate_vips,
    haproxy_failure,
    parse_backend_specs,
    parse_vips,
    prometheus_failure,
    prometheus_get,
    vip_query_path,
)


def evaluate(params, specs):
    """Run every check once; returns the list of checks."""
    checks = []
    if specs or params['servers']:
        try:
            runtime = HAProxyRuntime(params['socket'], params['timeout'])
            snap = runtime.snapshot(backends=True)
        except HAProxyError as exc:
            checks.extend(haproxy_failure(specs, params['servers'], exc))
        else:
            checks.extend(evaluate_backends(specs, snap['servers'], snap['backend_names'], runtime.where))
            checks.extend(evaluate_servers(params['servers'], snap['servers'], runtime.where))

    if params['jobs'] or params['alerts'] or params['vips']:
        http = dict(username=params['prometheus_username'], password=params['prometheus_password'],
                    validate_certs=params['validate_certs'], ca_path=params['ca_path'],
                    timeout=params['request_timeout'])
        url = params['prometheus_url']
        try:
            if params['jobs']:
                checks.extend(evaluate_jobs(params['jobs'], prometheus_get(url, '/api/v1/targets?state=active',
                                                                           **http)))
            if params['alerts']:
                checks.extend(evaluate_alerts(params['alerts'], prometheus_get(url, '/api/v1/alerts', **http),
                                              params['include_pending']))
            if params['vips']:
                checks.extend(evaluate_vips(params['vips'], prometheus_get(url, vip_query_path(params['vips']),
                                                                           **http)))
        except HTTPCheckError as exc:
            done = set(c['name'] for c in checks)
            checks.extend(c for c in prometheus_failure(params['jobs'], params['alerts'], exc, params['vips'])
                          if c['name'] not in done)

    for url in params['urls']:
        checks.append(evaluate_url(url, params['validate_certs'], params['ca_path'], params['request_timeout']))
    return checks


def write_ca_file(directory, content):
    """ca_content as a file open_url can read (ca_path); returns its path."""
    path = os.path.join(directory, 'health_gate_ca.pem')
    with open(path, 'w') as f:
        f.write(content if content.endswith('\n') else content + '\n')
    return path


def _public(checks):
    return [dict((k, c[k]) for k in ('name', 'type', 'ok', 'detail')) for c in checks]


def main():
    argument_spec = dict(
        backends=dict(type='list', elements='raw', default=[]),
        min_up=dict(type='raw', default=1),
        servers=dict(type='list', elements='str', default=[]),
        prometheus_url=dict(type='str'),
        prometheus_username=dict(type='str'),
        prometheus_password=dict(type='str', no_log=True),
        validate_certs=dict(type='bool', default=True),
        ca_path=dict(type='path'),
        ca_content=dict(type='str'),
        jobs=dict(type='list', elements='str', default=[]),
        alerts=dict(type='list', elements='dict', default=[]),
        include_pending=dict(type='bool', default=False),
        vips=dict(type='list', elements='str', default=[]),
        urls=dict(type='list', elements='str', default=[]),
        wait_timeout=dict(type='float', default=120.0),
        wait_interval=dict(type='float', default=2.0),
        request_timeout=dict(type='float', default=10.0),
    )
    argument_spec.update(HAPROXY_COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_by={'prometheus_password': 'prometheus_username'},
                           mutually_exclusive=[('ca_path', 'ca_content')])
    params = module.params
    result = dict(changed=False, checks=[], failed_checks=[], attempts=0, elapsed=0.0)

    errors = []
    if params['wait_timeout'] < 0 or params['wait_interval'] <= 0 or params['request_timeout'] <= 0:
        errors.append('wait_timeout must be >= 0, wait_interval and request_timeout > 0')
    specs, spec_errors = parse_backend_specs(params['backends'], params['min_up'])
    errors.extend(spec_errors)
    params['vips'], vip_errors = parse_vips(params['vips'])
    errors.extend(vip_errors)
    if (params['jobs'] or params['alerts'] or params['vips']) and not params['prometheus_url']:
        errors.append('jobs, alerts and vips need prometheus_url')
    if not errors and not any((specs, params['servers'], params['jobs'], params['alerts'], params['vips'],
                               params['urls'])):
        errors.append('nothing to check: set backends, servers, jobs, alerts, vips and/or urls')
    if errors:
        module.fail_json(msg='Invalid arguments: %s' % '; '.join(errors), **result)
    if params['ca_content']:
        params['ca_path'] = write_ca_file(module.tmpdir, params['ca_content'])

    wait_timeout = 0.0 if module.check_mode else params['wait_timeout']
    start = time.time()
    deadline = start + wait_timeout
    while True:
        checks = evaluate(params, specs)
        result['attempts'] += 1
        failed = [c for c in checks if not c['ok']]
        now = time.time()
        if not failed or now >= deadline or any(c['permanent'] for c in failed):
            break
        time.sleep(max(0.0, min(params['wait_interval'], deadline - now)))

    result['elapsed'] = round(time.time() - start, 3)
    result['checks'] = _public(checks)
    result['failed_checks'] = _public(failed)
    if failed:
        if any(c['permanent'] for c in failed):
            why = 'failed at once (waiting cannot fix: %s)' % ', '.join(c['name'] for c in failed if c['permanent'])
        elif wait_timeout:
            why = 'timed out after %ss' % params['wait_timeout']
        else:
            why = 'failed (evaluated once%s)' % (' in check mode' if module.check_mode else '')
        module.fail_json(msg='Health gate %s, %d of %d check(s) did not hold: %s'
                         % (why, len(failed), len(checks), '; '.join('%s: %s' % (c['name'], c['detail'])
                                                                     for c in failed)), **result)
    result['msg'] = 'All %d check(s) hold' % len(checks)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
