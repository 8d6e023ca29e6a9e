# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Checks of the health_gate module: HAProxy backends and servers, Prometheus targets, alerts and keepalived
VIP holders, URLs.

Private to the acgs.haproxy_stack collection (leading underscore): its API may change in any release.

Every check is a dict ``name``, ``type``, ``ok``, ``detail`` plus ``permanent`` (internal: waiting cannot
fix it, e.g. an unknown backend or rejected credentials; the module drops the key from its result).
HTTP goes through ansible.module_utils.urls.open_url (proxies, CA bundles and certificate checks as in
ansible.builtin.uri); the HAProxy runtime API through module_utils._haproxy.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re
from urllib.parse import urlencode

from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

from ansible_collections.acgs.haproxy_stack.plugins.module_utils._haproxy import (
    is_glob,
    match_names,
    normalize_items,
    parse_amount,
    select_servers,
)

# Server states that carry traffic (with admin state "ready"): "no check" servers are
# always considered available by HAProxy.
UP_STATES = ('UP', 'NO CHECK')

# Seconds of an HTTP request (connect and each read) when the caller gives none.
DEFAULT_HTTP_TIMEOUT = 10.0


def check(name, kind, ok, detail, permanent=False):
    return dict(name=name, type=kind, ok=bool(ok), detail=detail, permanent=bool(permanent and not ok))


# -- HAProxy -----------------------------------------------------------------------------------------

def parse_min_up(value):
    """Parse a minimum of servers UP: an integer >= 0 or "N%" (0-100). Returns (number, is_percent)."""
    return parse_amount(value, max_percent=100, name='min_up')


def needed(min_up, total):
    """Servers that must be UP out of ``total`` for ``min_up`` (parsed); a percentage rounds up."""
    number, percent = min_up
    if percent:
        return (total * number + 99) // 100
    return number


def parse_backend_specs(items, default_min_up):
    """Normalize the backends option. Returns (specs, errors); a spec is dict(pattern, min_up, label)."""
    try:
        default = parse_min_up(default_min_up)
    except ValueError as exc:
        return [], [str(exc)]

    def convert(item):
        pattern, raw = (item.get('name'), item.get('min_up')) if isinstance(item, dict) else (item, None)
        if not pattern or not str(pattern).strip():
            raise ValueError('empty backend name')
        return dict(pattern=str(pattern).strip(), min_up=default if raw is None else parse_min_up(raw))

    specs, errors = normalize_items(items, 'backends', ('name', 'min_up'), 'name and min_up',
                                    'a backend name or a dictionary (name, min_up)', convert)
    return [dict(spec, label=label) for label, spec in specs], errors


def is_up(server):
    return server.get('state') in UP_STATES and server.get('admin_state') in (None, 'ready')


def _describe(server):
    text = '%s %s' % (server['name'], server.get('status') or server.get('state'))
    if server.get('admin_state') not in (None, 'ready') and server.get('state') not in ('DRAIN', 'MAINT'):
        text += ' (%s)' % server['admin_state']
    if server.get('check_status') and not is_up(server) and server.get('admin_state') in (None, 'ready'):
        text += ' [%s]' % server['check_status']
    return text


def _min_text(min_up):
    number, percent = min_up
    return '%d%%' % number if percent else str(number)


def evaluate_backends(specs, servers, backend_names, where):
    """One check per backend matched by the specs: enough servers UP?"""
    checks = []
    by_backend = {}
    for server in servers:
        by_backend.setdefault(server['backend'], []).append(server)
    seen = set()
    for spec in specs:
        names = match_names(spec['pattern'], backend_names)
        if not names:
            if is_glob(spec['pattern']):
                detail = 'backend pattern "%s" matches no backend on %s' % (spec['pattern'], where)
            else:
                detail = 'no such backend "%s" on %s (it has: %s)' % (
                    spec['pattern'], where, ', '.join(backend_names) or 'no backend')
            checks.append(check('backend %s' % spec['pattern'], 'backend', False, detail, permanent=True))
            continue
        for name in names:
            members = by_backend.get(name, [])
            if is_glob(spec['pattern']) and not members:
                # "*" also matches backends without servers (e.g. a stats or redirect backend).
                continue
            if name in seen:
                continue
            seen.add(name)
            up = [s for s in members if is_up(s)]
            need = needed(spec['min_up'], len(members))
            ok = len(up) >= need
            detail = '%d of %d server(s) UP, need %d' % (len(up), len(members), need)
            if spec['min_up'][1]:
                detail += ' (%s)' % _min_text(spec['min_up'])
            down = [_describe(s) for s in members if not is_up(s)]
            if down:
                detail += '; not UP: %s' % ', '.join(down)
            checks.append(check('backend %s' % name, 'backend', ok, detail))
    return checks


def evaluate_servers(patterns, servers, where):
    """One check per "backend/server" pattern: every matched server UP?"""
    parsed = [str(pattern).strip().partition('/') for pattern in patterns or []]
    valid = [(backend, name) for backend, sep, name in parsed if sep and backend and name]
    selections = iter(select_servers(valid, servers, on_no_match='error'))
    checks = []
    for pattern, (backend, sep, name) in zip(patterns or [], parsed):
        if not sep or not backend or not name:
            checks.append(check('server %s' % pattern, 'server', False,
                                '"%s" is not "backend/server" (glob patterns allowed)' % pattern, permanent=True))
            continue
        matched = next(selections)['servers']
        if not matched:
            checks.append(check('server %s' % pattern, 'server', False,
                                'no server matches "%s" on %s' % (pattern, where), permanent=True))
            continue
        down = ['%s/%s' % (s['backend'], _describe(s)) for s in matched if not is_up(s)]
        if down:
            detail = '%d of %d server(s) not UP: %s' % (len(down), len(matched), ', '.join(down))
        else:
            detail = '%d server(s) UP' % len(matched) if len(matched) > 1 else 'UP'
        checks.append(check('server %s' % pattern, 'server', not down, detail))
    return checks


def haproxy_failure(specs, patterns, error):
    """Checks all failed because the runtime API could not be read (retried: HAProxy may be reloading)."""
    detail = 'cannot read HAProxy: %s' % error
    checks = [check('backend %s' % spec['pattern'], 'backend', False, detail) for spec in specs]
    checks.extend(check('server %s' % p, 'server', False, detail) for p in patterns or [])
    return checks


# -- HTTP ---------------------------------------------------------------------------------------------

class HTTPCheckError(Exception):
    """An HTTP request failed; ``permanent`` when waiting cannot fix it."""

    def __init__(self, msg, permanent=False, status=None):
        super(HTTPCheckError, self).__init__(msg)
        self.msg = msg
        self.permanent = permanent
        self.status = status

    def __str__(self):
        return self.msg


def http_get(url, username=None, password=None, validate_certs=True, ca_path=None, timeout=DEFAULT_HTTP_TIMEOUT):
    """GET ``url``; returns (status, body bytes). Raises HTTPCheckError for connection errors.

    HTTP error statuses are returned, not raised, so callers decide what they mean.
    """
    kwargs = dict(method='GET', timeout=timeout, validate_certs=validate_certs, follow_redirects='safe',
                  headers={'Accept': 'application/json'})
    if ca_path:
        kwargs['ca_path'] = ca_path
    if username:
        kwargs.update(url_username=username, url_password=password or '', force_basic_auth=True)
    try:
        response = open_url(url, **kwargs)
        try:
            return response.getcode(), response.read()
        finally:
            response.close()
    except HTTPError as exc:
        try:
            body = exc.read()
        except Exception:  # pylint: disable=broad-except
            body = b''
        return exc.code, body
    except URLError as exc:
        raise HTTPCheckError('cannot reach %s: %s' % (url, to_native(exc.reason)))
    except Exception as exc:  # pylint: disable=broad-except
        # socket.timeout, ssl errors, RemoteDisconnected, urls.ConnectionError / SSLValidationError...
        raise HTTPCheckError('cannot reach %s: %s: %s' % (url, type(exc).__name__, to_native(exc)))


def _status_text(status, body):
    text = to_native(body or b'', errors='surrogate_or_replace').strip().replace('\n', ' ')
    return 'HTTP %s%s' % (status, (': %s' % text[:200]) if text else '')


def prometheus_get(base_url, path, username=None, password=None, validate_certs=True, ca_path=None,
                   timeout=DEFAULT_HTTP_TIMEOUT):
    """GET a Prometheus API path; returns its ``data``. Raises HTTPCheckError with a clear reason."""
    url = base_url.rstrip('/') + path
    status, body = http_get(url, username, password, validate_certs, ca_path, timeout)
    if status == 401:
        raise HTTPCheckError('Prometheus at %s answered 401 Unauthorized: %s' % (
            base_url, 'wrong prometheus_username/prometheus_password' if username else
            'it requires basic auth, set prometheus_username and prometheus_password'), permanent=True, status=status)
    if status == 403:
        raise HTTPCheckError('Prometheus at %s answered 403 Forbidden for %s' % (base_url, path), permanent=True,
                             status=status)
    if status == 404:
        raise HTTPCheckError('no Prometheus API at %s (%s answered 404); check prometheus_url' % (base_url, url),
                             permanent=True, status=status)
    if status != 200:
        # 503 while Prometheus starts, 502/504 from a proxy in front of it: worth waiting for.
        raise HTTPCheckError('Prometheus at %s answered %s' % (base_url, _status_text(status, body)), status=status)
    try:
        document = json.loads(to_native(body, errors='surrogate_or_strict'))
    except ValueError:
        raise HTTPCheckError('%s did not answer JSON (is prometheus_url a Prometheus server?): %s'
                             % (url, _status_text(status, body)), permanent=True, status=status)
    if not isinstance(document, dict) or document.get('status') != 'success' or 'data' not in document:
        raise HTTPCheckError('%s did not answer a Prometheus API document: %s'
                             % (url, to_native(json.dumps(document))[:200]), permanent=True, status=status)
    return document['data']


def evaluate_jobs(jobs, data):
    """One check per job: at least one active target, every one of them healthy."""
    targets = (data or {}).get('activeTargets') or []
    by_job = {}
    for target in targets:
        job = (target.get('labels') or {}).get('job') or target.get('scrapePool')
        by_job.setdefault(job, []).append(target)
    checks = []
    for job in jobs:
        members = by_job.get(job, [])
        if not members:
            checks.append(check('job %s' % job, 'job', False,
                                'Prometheus has no active target for job "%s" (jobs: %s)'
                                % (job, ', '.join(sorted(j for j in by_job if j)) or 'none')))
            continue
        down = [t for t in members if t.get('health') != 'up']
        detail = '%d of %d target(s) up' % (len(members) - len(down), len(members))
        if down:
            detail += '; %s' % ', '.join(
                '%s %s%s' % ((t.get('labels') or {}).get('instance') or t.get('scrapeUrl'), t.get('health'),
                             (' (%s)' % t['lastError']) if t.get('lastError') else '')
                for t in down)
        checks.append(check('job %s' % job, 'job', not down, detail))
    return checks


def _matcher_text(matcher):
    return ','.join('%s=%s' % (k, '|'.join(v) if isinstance(v, list) else v) for k, v in sorted(matcher.items()))


def alert_matches(labels, matcher):
    for key, wanted in matcher.items():
        value = labels.get(key)
        if isinstance(wanted, list):
            if value not in [str(w) for w in wanted]:
                return False
        elif value != str(wanted):
            return False
    return True


def evaluate_alerts(matchers, data, include_pending=False):
    """One check per label matcher: no alert matching it is firing (or pending, if asked)."""
    alerts = (data or {}).get('alerts') or []
    states = ('firing', 'pending') if include_pending else ('firing',)
    checks = []
    for matcher in matchers:
        hits = [a for a in alerts if a.get('state') in states and alert_matches(a.get('labels') or {}, matcher)]
        name = 'alerts %s' % (_matcher_text(matcher) or '(any)')
        if hits:
            shown = []
            for alert in hits[:10]:
                labels = dict(alert.get('labels') or {})
                alertname = labels.pop('alertname', '?')
                where = ','.join('%s=%s' % (k, labels[k]) for k in sorted(labels) if k not in matcher)
                shown.append('%s{%s} %s since %s' % (alertname, where, alert.get('state'), alert.get('activeAt')))
            detail = '%d alert(s) %s: %s%s' % (len(hits), ' or '.join(states), '; '.join(shown),
                                               ' ...' if len(hits) > 10 else '')
        else:
            detail = 'no matching alert %s (%d alert(s) in total)' % (' or '.join(states), len(alerts))
        checks.append(check(name, 'alerts', not hits, detail))
    return checks


def _ip_address(text):
    """The address in its canonical form (10.89.0.250, fd00::1), or None when text is not one."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def parse_vips(items):
    """Normalize the vips option: IP addresses, each once. Returns (addresses, errors)."""
    vips, errors = [], []
    for index, item in enumerate(items or []):
        text = '' if item is None else to_native(item).strip()
        address = _ip_address(text)
        if address is None:
            hint = ' (give the address alone, without its /prefix)' if '/' in text else ''
            errors.append('vips[%d]: "%s" is not an IP address%s' % (index, text, hint))
            continue
        if address not in vips:
            vips.append(address)
    return vips, errors


def vip_query(vips):
    """The PromQL instant query returning the node exporter's address series of ``vips`` (anchored regex)."""
    # re.escape for the regex, then every backslash doubled for the PromQL string literal: 10\\.89\\.0\\.250.
    pattern = '|'.join(re.escape(vip) for vip in vips).replace('\\', '\\\\')
    return 'node_network_address_info{address=~"%s"}' % pattern


def vip_query_path(vips):
    return '/api/v1/query?' + urlencode({'query': vip_query(vips)})


def evaluate_vips(vips, data):
    """One check per VIP: exactly one host (``host`` label, else ``instance``) has the address."""
    holders = {}
    for series in (data or {}).get('result') or []:
        labels = series.get('metric') or {}
        if labels.get('address'):
            holders.setdefault(_ip_address(labels['address']) or labels['address'], set()).add(
                labels.get('host') or labels.get('instance') or '?')
    checks = []
    for vip in vips:
        hosts = sorted(holders.get(vip, ()))
        if not hosts:
            detail = ('no host holds %s (node_network_address_info has no series for it: keepalived '
                      'FAULT/stopped everywhere, or the node exporter runs without '
                      '--collector.netdev.address-info)' % vip)
        elif len(hosts) == 1:
            detail = '%s held by %s' % (vip, hosts[0])
        else:
            detail = '%s held by %d hosts: %s (split brain)' % (vip, len(hosts), ', '.join(hosts))
        checks.append(check('vip %s' % vip, 'vip', len(hosts) == 1, detail))
    return checks


def prometheus_failure(jobs, matchers, error, vips=()):
    detail = str(error)
    checks = [check('job %s' % job, 'job', False, detail, permanent=error.permanent) for job in jobs]
    checks.extend(check('alerts %s' % (_matcher_text(m) or '(any)'), 'alerts', False, detail,
                        permanent=error.permanent) for m in matchers)
    checks.extend(check('vip %s' % vip, 'vip', False, detail, permanent=error.permanent) for vip in vips or [])
    return checks


def evaluate_url(url, validate_certs=True, ca_path=None, timeout=DEFAULT_HTTP_TIMEOUT):
    """One check: ``url`` answers a 2xx status (retried otherwise)."""
    try:
        status, body = http_get(url, validate_certs=validate_certs, ca_path=ca_path, timeout=timeout)
    except HTTPCheckError as exc:
        return check('url %s' % url, 'url', False, str(exc))
    if 200 <= status < 300:
        return check('url %s' % url, 'url', True, 'HTTP %s' % status)
    return check('url %s' % url, 'url', False, _status_text(status, body))
