# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Request path: throughput and latency through lb1 (HAProxy) versus straight to the same backend.

Run from the repository root as root:  .venv/bin/python bench/bench_request_path.py  [--help]

Lab: ACGS_LAB (default "bench"), converged with site.yml; --setup starts a fresh one, converges
site.yml and removes it at the end.

Backends (--backend, default both), each reached three ways (cases):
  demo  the lab's stand-in service (roles/demo_app, Python) on app1:8000
          direct  http://app1:8000/api/v1/auth/bench
          http    http://lb1:80/api/v1/auth/bench    (auth_backend)
          https   https://lb1:443/api/v1/auth/bench  (TLS; keep-alive: one handshake per connection)
  fast  a benchmark-only HAProxy on app1:8090 that answers every request itself
        (`http-request return`, a JSON body of the stand-in's size), so the backend is never the
        bottleneck and the through/direct ratios are the proxy's own cost
          direct  http://app1:8090/api/v1/ac/bench
          http    http://lb1:80/api/v1/ac/bench      (ac_backend, its app1 server pointed at :8090)
          https   https://lb1:443/api/v1/ac/bench
  During the run lb1's app2 servers of those two backends are in MAINT (runtime API), so through
  lb1 every request reaches the same single backend as the direct case; the runtime changes are
  undone at the end (and the fast backend's process stopped).

Loads, each case:
  loaded  --connections keep-alive connections on --threads threads, as fast as they go (capacity)
  paced   --paced-connections connections, each waiting --paced-delay-ms between requests
          (wrk's delay(): ~200 req/s offered by default); the targets are checked here:
          through lb1, more than 100 req/s with p99 under 5 ms
  serial  one connection (latency per request, no queueing)

Load generator: wrk (Debian package `wrk`, installed with apt-get when missing), a fixed
--duration per run (at most 10 s) and a hard timeout. --tool python: a bounded Python generator
(http.client keep-alive, the same loads and durations) for where wrk cannot run; its own cost
(one Python process, the GIL) dominates its figures. Cases run interleaved, --rounds rounds, the
case order rotated each round; the tables show medians over the rounds, and the ratios are
medians of the per-round ratios (each through-lb1 run against the direct run of its round). A
--budget-minutes deadline stops starting runs. The load generator, the proxy and the backends
share this machine's cores; before each round a 2 s probe measures how late the machine wakes a
sleeping thread (1 ms sleeps), the scheduler's share of the latency tails.

Rate limit: the lab's HAProxy exempts the podman network's gateway, i.e. every connection from
this machine (not only the load generator's); the script reads that ACL from lb1 and checks that
a lab host (mon1) is still limited (its 21st request in 10 s gets 429).
Results: tables on stdout and bench/results/request_path.json.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shlex
import shutil
import ssl
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import log, table  # noqa: E402

ADMIN_SOCKET = '/run/haproxy/admin.sock'
FAST_PORT = 8090
FAST_CFG = '/run/acgs-bench-fast.cfg'
FAST_PID = '/run/acgs-bench-fast.pid'
# The benchmark-only backend: HAProxy answering by itself (no server behind it), nearly the same body
# size as the stand-in's answer (81 bytes; the stand-in's is 83).
FAST_CONFIG = """\
# acgs bench/bench_request_path.py: benchmark-only backend, removed with the lab
global
    nbthread 2
    maxconn 1000
    pidfile %(pid)s
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
frontend bench_fast
    bind :%(port)d
    http-request return status 200 content-type application/json hdr X-Served-By app1-fast \
string '{"service": "fast", "server": "app1", "version": "1", "path": "/api/v1/ac/bench"}'
""" % {'pid': FAST_PID, 'port': FAST_PORT}

# backend name -> (lb1 backend, stand-in port, URL path)
BACKENDS = {'demo': ('auth_backend', 8000, '/api/v1/auth/bench'),
            'fast': ('ac_backend', 8001, '/api/v1/ac/bench')}
TARGET_P99_MS = 5.0
TARGET_RPS = 100.0


# ---------------------------------------------------------------- lab helpers

def podman_exec(lab, host, script, timeout=60, check=True):
    return common.run(['podman', 'exec', '%s-%s' % (lab, host), 'sh', '-c', script], timeout=timeout, check=check)


def runtime(lab, command):
    """One HAProxy runtime API command on lb1's admin socket; returns its output."""
    out = podman_exec(lab, 'lb1', 'echo %s | socat -t 5 stdio unix-connect:%s' % (shlex.quote(command), ADMIN_SOCKET),
                      timeout=30).stdout
    if out.strip() and not out.strip().startswith(('#', 'IP changed', 'no need to change')):
        if re.search(r'(?i)unknown|not found|error|require', out):
            raise RuntimeError('runtime API %r: %s' % (command, out.strip()))
    return out


def server_rows(lab, backend):
    """`show stat` rows of one backend's servers, by server name."""
    text = runtime(lab, 'show stat').lstrip('# ')
    lines = text.splitlines()
    head = lines[0].split(',')
    rows = [dict(zip(head, line.split(','))) for line in lines[1:] if line]
    return {r['svname']: r for r in rows if r.get('pxname') == backend and r['svname'] not in ('FRONTEND', 'BACKEND')}


def wait_up(lab, backend, server, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = server_rows(lab, backend).get(server, {})
        if row.get('status', '').startswith('UP'):
            return row
        time.sleep(0.5)
    raise RuntimeError('%s/%s not UP after %d s: %s' % (backend, server, timeout, server_rows(lab, backend).get(server)))


def ensure_wrk():
    if shutil.which('wrk'):
        return
    log('wrk is missing: apt-get install -y wrk')
    env = dict(common.base_env(), DEBIAN_FRONTEND='noninteractive')
    for cmd in (['apt-get', 'install', '-y', '-q', 'wrk'], ['apt-get', 'update', '-q'], ['apt-get', 'install', '-y', '-q', 'wrk']):
        if common.run(cmd, env=env, timeout=300, check=False).returncode == 0 and shutil.which('wrk'):
            return
    sys.exit('wrk could not be installed (apt-get install -y wrk failed): install it, or run with --tool python')


def start_fast_backend(lab, app1):
    """HAProxy on app1:8090 answering every request itself; installs Debian's haproxy there if needed."""
    if podman_exec(lab, 'app1', 'command -v haproxy', check=False).returncode != 0:
        log('installing haproxy on app1 (benchmark-only backend)')
        podman_exec(lab, 'app1', 'export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q haproxy >/dev/null '
                    '|| { apt-get update -q >/dev/null && apt-get install -y -q haproxy >/dev/null; }', timeout=600)
        # Debian's own unit (its default configuration serves nothing) is not needed here.
        podman_exec(lab, 'app1', 'systemctl disable --now haproxy.service', check=False)
    stop_fast_backend(lab)
    podman_exec(lab, 'app1', 'cat > %s <<\'EOF\'\n%sEOF\nhaproxy -c -q -f %s && haproxy -D -f %s'
                % (FAST_CFG, FAST_CONFIG, FAST_CFG, FAST_CFG), timeout=30)
    url = 'http://%s:%d/health' % (app1, FAST_PORT)
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.3)


def stop_fast_backend(lab):
    podman_exec(lab, 'app1', '[ -f %s ] && kill "$(cat %s)"; rm -f %s %s; true' % (FAST_PID, FAST_PID, FAST_PID, FAST_CFG),
                check=False, timeout=30)


def prepare_lb(lab, addrs, backends):
    """Through lb1 every request reaches app1's one backend: app2 in MAINT; ac_backend/app1 -> app1:8090
    for the fast backend. Returns what restore_lb puts back."""
    saved = []
    for name in backends:
        backend = BACKENDS[name][0]
        rows = server_rows(lab, backend)
        saved.append((backend, rows['app1']['addr'], rows['app2']['status']))
        runtime(lab, 'set server %s/app2 state maint' % backend)
        if name == 'fast':
            runtime(lab, 'set server %s/app1 addr %s port %d' % (backend, addrs['app1'], FAST_PORT))
        wait_up(lab, backend, 'app1')
    return saved


def restore_lb(lab, saved):
    for backend, addr, app2_status in saved:
        host, port = addr.rsplit(':', 1)
        try:
            runtime(lab, 'set server %s/app1 addr %s port %s' % (backend, host, port))
            if not app2_status.startswith('MAINT'):
                runtime(lab, 'set server %s/app2 state ready' % backend)
        except (RuntimeError, OSError) as e:
            log('could not restore %s on lb1: %s' % (backend, e))


def rate_limit_check(lab, addrs, path):
    """The exempt sources (lb1's ACL) and whether a lab host that is not exempt (mon1) is still limited."""
    cfg = podman_exec(lab, 'lb1', 'cat /etc/haproxy/haproxy.cfg').stdout
    acl = re.search(r'^\s*acl rate_limit_exempt src (.*)$', cfg, re.M)
    limit = re.search(r'sc_http_req_rate\(0\) gt (\d+)', cfg)
    script = ("import urllib.request, urllib.error\n"
              "codes = []\n"
              "for _ in range(%d):\n"
              "    try:\n"
              "        codes.append(urllib.request.urlopen('http://%s%s', timeout=5).status)\n"
              "    except urllib.error.HTTPError as e:\n"
              "        codes.append(e.code)\n"
              "print(' '.join(map(str, codes)))\n") % ((int(limit.group(1)) + 2) if limit else 22, addrs['lb1'], path)
    try:
        codes = [int(c) for c in podman_exec(lab, 'mon1', 'python3 -c %s' % shlex.quote(script), timeout=60).stdout.split()]
    finally:
        runtime(lab, 'clear table acgs_frontend key %s' % addrs['mon1'])
    first_429 = codes.index(429) + 1 if 429 in codes else None
    return {'exempt_sources': acl.group(1).split() if acl else [],
            'gateway': common.lab_gateway(addrs['lb1']),
            'limit_per_10s': int(limit.group(1)) if limit else None,
            'mon1_codes': codes, 'mon1_first_429': first_429,
            'mon1_limited': bool(limit) and first_429 == int(limit.group(1)) + 1}


# ---------------------------------------------------------------- load generators

def _secs(value, unit):
    return float(value) * {'us': 1e-6, 'ms': 1e-3, 's': 1.0, 'm': 60.0}[unit]


def run_wrk(url, conns, threads, delay_ms, duration):
    cmd = ['wrk', '-t%d' % threads, '-c%d' % conns, '-d%ds' % duration, '--timeout', '5s', '--latency']
    script = None
    if delay_ms:
        # wrk's delay() is the wait before each request of a connection; the latency it records
        # starts when the request is written, after the wait.
        fd, script = tempfile.mkstemp(prefix='acgs-bench-', suffix='.lua')
        with os.fdopen(fd, 'w') as f:
            f.write('function delay()\n  return %d\nend\n' % delay_ms)
        cmd += ['-s', script]
    try:
        out = common.run(cmd + [url], timeout=duration + 30).stdout
    finally:
        if script:
            os.unlink(script)
    res = {'tool': 'wrk'}
    m = re.search(r'Requests/sec:\s+([\d.]+)', out)
    res['rps'] = float(m.group(1)) if m else None
    m = re.search(r'(\d+) requests in ([\d.]+)(\w+)', out)
    res['requests'] = int(m.group(1)) if m else 0
    for pct in ('50', '75', '90', '99'):
        m = re.search(r'\s%s%%\s+([\d.]+)(us|ms|s|m)\b' % pct, out)
        res['p%s_ms' % pct] = round(_secs(m.group(1), m.group(2)) * 1000, 3) if m else None
    m = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    res['non_2xx'] = int(m.group(1)) if m else 0
    m = re.search(r'Socket errors: (.*)', out)
    res['socket_errors'] = m.group(1).strip() if m else ''
    res['raw'] = out
    return res


def run_python(url, conns, threads, delay_ms, duration):
    """Fallback generator: `conns` keep-alive connections (one thread each) for `duration` seconds."""
    scheme, rest = url.split('://', 1)
    hostport, path = rest.split('/', 1)
    host, port = hostport.rsplit(':', 1)
    ctx = ssl._create_unverified_context() if scheme == 'https' else None
    lat, errors = [], [0]
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker():
        mine, bad = [], 0
        conn = (http.client.HTTPSConnection(host, int(port), timeout=5, context=ctx) if ctx
                else http.client.HTTPConnection(host, int(port), timeout=5))
        while time.monotonic() < deadline:
            if delay_ms:
                time.sleep(delay_ms / 1000.0)
            t0 = time.perf_counter()
            try:
                conn.request('GET', '/' + path)
                r = conn.getresponse()
                r.read()
                if r.status >= 300:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                continue
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            lat.extend(mine)
            errors[0] += bad

    workers = [threading.Thread(target=worker, daemon=True) for dummy in range(conns)]
    t0 = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join(duration + 10)
    wall = time.perf_counter() - t0
    lat.sort()

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))] * 1000, 3) if lat else None
    return {'tool': 'python', 'requests': len(lat), 'rps': round(len(lat) / wall, 1),
            'p50_ms': pct(50), 'p75_ms': pct(75), 'p90_ms': pct(90), 'p99_ms': pct(99),
            'non_2xx': errors[0], 'socket_errors': ''}


def wakeup_probe(seconds=2.0):
    """How late this machine wakes a sleeping thread (1 ms sleeps for `seconds`): the scheduler's share
    of every latency figure. A request through lb1 wakes the generator, lb1's HAProxy and the backend
    one after the other, so a loaded machine's wake-up tail shows in every p99."""
    late = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        time.sleep(0.001)
        late.append((time.perf_counter() - t0 - 0.001) * 1000)
    late.sort()
    return {'samples': len(late), 'p50_ms': round(late[len(late) // 2], 3),
            'p99_ms': round(late[int(len(late) * 0.99)], 3), 'max_ms': round(late[-1], 3)}


def check(url, expect_served_by):
    ctx = ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(url, timeout=5, context=ctx) as r:
            status, served = r.status, r.headers.get('X-Served-By')
    except urllib.error.HTTPError as e:
        status, served = e.code, e.headers.get('X-Served-By')
    if status != 200 or served != expect_served_by:
        raise RuntimeError('%s answered %s, X-Served-By %s (expected 200, %s)' % (url, status, served, expect_served_by))
    return status, served


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    p.add_argument('--lab', default=os.environ.get('ACGS_LAB') or 'bench')
    p.add_argument('--setup', action='store_true',
                   help='start a fresh lab, converge site.yml, and remove the lab at the end')
    p.add_argument('--backend', choices=['both', 'demo', 'fast'], default='both')
    p.add_argument('--tool', choices=['wrk', 'python'], default='wrk',
                   help='wrk (installed with apt-get when missing) or the Python fallback')
    p.add_argument('--duration', type=int, default=5, help='seconds per loaded and serial run (max 10)')
    p.add_argument('--paced-duration', type=int, default=10,
                   help='seconds per paced run (max 10): ~2000 samples at 200 req/s for its p99')
    p.add_argument('--connections', type=int, default=16, help='loaded: connections')
    p.add_argument('--threads', type=int, default=2, help='loaded: wrk threads')
    p.add_argument('--paced-connections', type=int, default=4)
    p.add_argument('--paced-delay-ms', type=int, default=20)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--budget-minutes', type=float, default=15,
                   help='no run starts after this many minutes of measuring')
    p.add_argument('--no-serial', dest='serial', action='store_false', help='skip the one-connection runs')
    args = p.parse_args()
    args.duration = max(1, min(args.duration, 10))
    args.paced_duration = max(1, min(args.paced_duration, 10))
    backends = ['demo', 'fast'] if args.backend == 'both' else [args.backend]
    machine = common.machine_info()
    log('load average at start: %s' % (machine['loadavg_at_start'],))
    if args.tool == 'wrk':
        ensure_wrk()
    gen = run_wrk if args.tool == 'wrk' else run_python

    loads = [('loaded', args.connections, args.threads, 0, args.duration),
             ('paced', args.paced_connections, 1, args.paced_delay_ms, args.paced_duration)]
    if args.serial:
        loads.append(('serial', 1, 1, 0, args.duration))
    created, saved, fast_started = False, [], False
    samples, rate_limit, wakeups = {}, None, []
    try:
        addrs = common.lab_addresses(args.lab)
        if args.setup:
            addrs = common.lab_up(args.lab)
            created = True
            common.run_playbook('site.yml', 'inventories/lab', lab=args.lab, label='site.yml')
        if not addrs:
            sys.exit('lab %s is not running: start it (ACGS_LAB=%s lab/lab.sh up + site.yml) or pass --setup'
                     % (args.lab, args.lab))
        cases = []
        for name in backends:
            port, path = BACKENDS[name][1:]
            direct_port = FAST_PORT if name == 'fast' else port
            served = 'app1-fast' if name == 'fast' else 'app1'
            cases += [(name, 'direct', 'http://%s:%d%s' % (addrs['app1'], direct_port, path), served),
                      (name, 'http', 'http://%s:80%s' % (addrs['lb1'], path), served),
                      (name, 'https', 'https://%s:443%s' % (addrs['lb1'], path), served)]
        if 'fast' in backends:
            fast_started = True
            start_fast_backend(args.lab, addrs['app1'])
        saved = prepare_lb(args.lab, addrs, backends)
        for name, via, url, served in cases:
            check(url, served)
            log('%s %s %s -> 200, X-Served-By %s' % (name, via, url, served))
        rate_limit = rate_limit_check(args.lab, addrs, BACKENDS[backends[0]][2])
        log('rate limit: exempt %s; mon1 codes %s' % (rate_limit['exempt_sources'], rate_limit['mon1_codes']))

        deadline = time.monotonic() + args.budget_minutes * 60
        for rnd in range(args.rounds):
            wakeups.append(wakeup_probe())
            log('round %d: wake-up delay p50 %.3f ms, p99 %.3f ms' % (rnd + 1, wakeups[-1]['p50_ms'], wakeups[-1]['p99_ms']))
            for ld, conns, threads, delay, duration in loads:
                # Rotate the case order each round, so no case always runs first or last.
                shift = rnd % len(cases)
                for name, via, url, dummy in cases[shift:] + cases[:shift]:
                    if time.monotonic() > deadline:
                        log('budget of %.0f min used up: no more runs' % args.budget_minutes)
                        break
                    log('round %d: %s %s %s' % (rnd + 1, name, via, ld))
                    res = gen(url, conns, threads, delay, duration)
                    res['round'] = rnd
                    samples.setdefault('%s/%s/%s' % (name, ld, via), []).append(res)
    finally:
        if saved:
            restore_lb(args.lab, saved)
        if fast_started and not created:
            stop_fast_backend(args.lab)
        if created:
            common.lab_down(args.lab)
    machine['loadavg_at_end'] = os.getloadavg()

    def med(key, field):
        vals = [s[field] for s in samples.get(key, []) if s.get(field) is not None]
        return round(statistics.median(vals), 3) if vals else None

    summary = {}
    for key in samples:
        summary[key] = {f: med(key, f) for f in ('rps', 'p50_ms', 'p90_ms', 'p99_ms')}
        summary[key]['runs'] = len(samples[key])
        summary[key]['requests'] = sum(s['requests'] for s in samples[key])
        summary[key]['non_2xx'] = sum(s['non_2xx'] for s in samples[key])
        summary[key]['socket_errors'] = sorted({s['socket_errors'] for s in samples[key] if s['socket_errors']})

    # Ratios through lb1 / direct, per round (the two runs of a round are minutes apart at most),
    # then the median over the rounds.
    ratios = {}
    for name in backends:
        for ld in [x[0] for x in loads]:
            direct = {s['round']: s for s in samples.get('%s/%s/direct' % (name, ld), [])}
            for via in ('http', 'https'):
                per = {'rps': [], 'p50_ms': [], 'p99_ms': []}
                added = []
                for s in samples.get('%s/%s/%s' % (name, ld, via), []):
                    d = direct.get(s['round'])
                    for f in per:
                        if d and d.get(f) and s.get(f) is not None:
                            per[f].append(s[f] / d[f])
                    if d and d.get('p50_ms') is not None and s.get('p50_ms') is not None:
                        added.append(s['p50_ms'] - d['p50_ms'])
                ratios['%s/%s/%s' % (name, ld, via)] = {
                    'rps_through_over_direct': round(statistics.median(per['rps']), 3) if per['rps'] else None,
                    'p50_through_over_direct': round(statistics.median(per['p50_ms']), 3) if per['p50_ms'] else None,
                    'p99_through_over_direct': round(statistics.median(per['p99_ms']), 3) if per['p99_ms'] else None,
                    'p50_added_ms': round(statistics.median(added), 3) if added else None,
                    'rounds': len(per['rps'])}

    targets = {}
    for name in backends:
        for via in ('http', 'https'):
            s = summary.get('%s/paced/%s' % (name, via))
            if not s:
                continue
            targets['%s/%s' % (name, via)] = {
                'rps': s['rps'], 'p50_ms': s['p50_ms'], 'p99_ms': s['p99_ms'],
                'direct_p99_ms': (summary.get('%s/paced/direct' % name) or {}).get('p99_ms'),
                'pass': bool(s['rps'] and s['p99_ms'] is not None and s['rps'] > TARGET_RPS
                             and s['p99_ms'] < TARGET_P99_MS and s['non_2xx'] == 0)}

    urls = {'%s/%s' % (c[0], c[1]): c[2] for c in cases}
    print('\nRequest path (lab %s, %s, %d s per run (paced %d s), median of %d rounds; load average %s at start, %s at end)'
          % (args.lab, args.tool, args.duration, args.paced_duration, args.rounds,
             ' '.join('%.1f' % x for x in machine['loadavg_at_start']), ' '.join('%.1f' % x for x in machine['loadavg_at_end'])))
    print('Backends: demo = the stand-in service (Python) on app1; fast = benchmark-only HAProxy on app1:%d '
          'answering itself. Through lb1 only app1 serves (app2 in MAINT).' % FAST_PORT)
    print('Loads: loaded = %d connections / %d threads; paced = %d connections, %d ms between requests; serial = 1 connection'
          % (args.connections, args.threads, args.paced_connections, args.paced_delay_ms))
    rows = []
    for name in backends:
        for ld in [x[0] for x in loads]:
            for via in ('direct', 'http', 'https'):
                key = '%s/%s/%s' % (name, ld, via)
                s = summary.get(key)
                if s:
                    rows.append([name, ld, via, urls['%s/%s' % (name, via)], s['rps'], s['p50_ms'], s['p99_ms'],
                                 s['requests'], s['non_2xx']])
    print(table(['backend', 'load', 'case', 'url', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'non-2xx'], rows))
    print('\nOverhead through lb1 / direct (median of per-round ratios):')
    print(table(['backend', 'load', 'via', 'req/s ratio', 'p50 ratio', 'p99 ratio', 'p50 added ms'],
                [key.split('/') + [r['rps_through_over_direct'], r['p50_through_over_direct'], r['p99_through_over_direct'],
                                   r['p50_added_ms']]
                 for key, r in ratios.items()]))
    print('\nTargets through lb1 (paced load): > %d req/s and p99 < %g ms, no non-2xx:' % (TARGET_RPS, TARGET_P99_MS))
    print(table(['backend/via', 'req/s', 'p50 ms', 'p99 ms', 'direct p99 ms', 'result'],
                [[k, t['rps'], t['p50_ms'], t['p99_ms'], t['direct_p99_ms'], 'PASS' if t['pass'] else 'FAIL']
                 for k, t in targets.items()]))
    if wakeups:
        print('Machine wake-up delay (1 ms sleeps, 2 s before each round; median over rounds): p50 %.3f ms, p99 %.3f ms, '
              'max %.1f ms' % (statistics.median(w['p50_ms'] for w in wakeups), statistics.median(w['p99_ms'] for w in wakeups),
                               max(w['max_ms'] for w in wakeups)))
    if rate_limit:
        print('\nRate limit (%s req/10 s): exempt sources %s = this machine (the podman gateway %s: every connection '
              'from here, not only the load generator\'s); mon1 (not exempt): first 429 at request %s -> %s'
              % (rate_limit['limit_per_10s'], ' '.join(rate_limit['exempt_sources']), rate_limit['gateway'],
                 rate_limit['mon1_first_429'], 'still limited' if rate_limit['mon1_limited'] else 'NOT LIMITED'))
    for runs in samples.values():
        for run in runs:
            if run.get('rps') and not run['non_2xx'] and not run['socket_errors']:
                run.pop('raw', None)  # wrk's output is kept only for a run that went wrong
    common.save('request_path', {'machine': machine, 'lab': args.lab, 'tool': args.tool, 'backends': backends,
                                 'loads': [dict(zip(('name', 'connections', 'threads', 'delay_ms', 'duration_s'), x)) for x in loads],
                                 'rounds': args.rounds, 'fast_backend_config': FAST_CONFIG,
                                 'cases': urls, 'rate_limit': rate_limit, 'wakeup_delay': wakeups, 'summary': summary, 'ratios': ratios,
                                 'targets': targets, 'samples': samples})
    return 0 if targets and all(t['pass'] for t in targets.values()) else 1


if __name__ == '__main__':
    sys.exit(main())
