# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Request path: throughput and latency through lb1 (HAProxy) versus straight to a stand-in server.

Run from the repository root:  .venv/bin/python bench/bench_request_path.py  [--help]

Cases, on a converged lab (ACGS_LAB, default "bench"; --setup starts a fresh one, converges
site.yml and removes it at the end):
  direct  http://app1:8000<path>        one stand-in instance, no proxy
  http    http://lb1:80<path>           HAProxy, balanced over app1:8000 and app2:8000
  https   https://lb1:443<path>         the same with TLS (keep-alive: one handshake per connection)
  haproxy-only  http://lb1:80/__bench_no_route   answered by HAProxy itself (its 404 "no route"):
                the proxy's own ceiling, without a stand-in behind it (non-2xx by design)
Each case runs loaded (--connections) and serial (one connection: latency added per request).
The lab's HAProxy exempts the control machine (the podman network's gateway) from its rate
limit, so every request reaches a backend. Load generator: wrk (Debian package `wrk`), fixed
duration per case (default 8 s, at most 10), --connections keep-alive connections on --threads
threads; without wrk (or --tool python) a bounded Python generator (http.client keep-alive, a fixed
number of requests per case). Cases run interleaved for --rounds rounds, so machine load hits all
of them alike; the table shows medians over the rounds. The load generator, the proxy and the
servers share this machine's cores.
Results: a table on stdout and bench/results/request_path.json.
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import ssl
import statistics
import sys
import os
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import log, table  # noqa: E402


def _secs(value, unit):
    return float(value) * {'us': 1e-6, 'ms': 1e-3, 's': 1.0, 'm': 60.0}[unit]


def run_wrk(url, args):
    conns, threads = getattr(args, '_conns', args.connections), getattr(args, '_threads', args.threads)
    cmd = ['wrk', '-t%d' % threads, '-c%d' % conns, '-d%ds' % args.duration,
           '--timeout', '5s', '--latency', url]
    proc = common.run(cmd, timeout=args.duration + 30)
    out = proc.stdout
    res = {'tool': 'wrk', 'raw': out}
    m = re.search(r'Requests/sec:\s+([\d.]+)', out)
    res['rps'] = float(m.group(1)) if m else None
    m = re.search(r'(\d+) requests in ([\d.]+)(\w+)', out)
    if m:
        res['requests'] = int(m.group(1))
    for pct in ('50', '75', '90', '99'):
        m = re.search(r'\s%s%%\s+([\d.]+)(us|ms|s|m)\b' % pct, out)
        res['p%s_ms' % pct] = round(_secs(m.group(1), m.group(2)) * 1000, 3) if m else None
    m = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    res['non_2xx'] = int(m.group(1)) if m else 0
    m = re.search(r'Socket errors: (.*)', out)
    res['socket_errors'] = m.group(1).strip() if m else ''
    return res


def run_python(url, args):
    """Bounded generator: --requests requests over --connections keep-alive connections."""
    scheme, rest = url.split('://', 1)
    hostport, path = rest.split('/', 1)
    host, port = hostport.rsplit(':', 1)
    ctx = ssl._create_unverified_context() if scheme == 'https' else None
    conns = getattr(args, '_conns', args.connections)
    per_conn = max(1, args.requests // conns)
    lat, errors = [], [0]
    lock = threading.Lock()
    deadline = time.monotonic() + 60

    def worker():
        mine, bad = [], 0
        conn = (http.client.HTTPSConnection(host, int(port), timeout=5, context=ctx) if ctx
                else http.client.HTTPConnection(host, int(port), timeout=5))
        for _ in range(per_conn):
            if time.monotonic() > deadline:
                break
            t0 = time.perf_counter()
            try:
                conn.request('GET', '/' + path)
                r = conn.getresponse()
                r.read()
                if r.status >= 400:
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

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(70)
    wall = time.perf_counter() - t0
    lat.sort()

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))] * 1000, 3) if lat else None
    return {'tool': 'python', 'requests': len(lat), 'rps': round(len(lat) / wall, 1),
            'p50_ms': pct(50), 'p75_ms': pct(75), 'p90_ms': pct(90), 'p99_ms': pct(99),
            'non_2xx': errors[0], 'socket_errors': ''}


def check(url):
    ctx = ssl._create_unverified_context()
    with urllib.request.urlopen(url, timeout=5, context=ctx) as r:
        return r.status, r.headers.get('X-Served-By')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--lab', default=os.environ.get('ACGS_LAB') or 'bench')
    p.add_argument('--setup', action='store_true',
                   help='start a fresh lab, converge site.yml, and remove the lab at the end')
    p.add_argument('--path', default='/api/v1/auth/bench')
    p.add_argument('--tool', choices=['wrk', 'python'], default='wrk' if shutil.which('wrk') else 'python')
    p.add_argument('--duration', type=int, default=8, help='wrk seconds per case (max 10)')
    p.add_argument('--requests', type=int, default=3000, help='python generator: requests per case')
    p.add_argument('--connections', type=int, default=16)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--no-serial', dest='serial', action='store_false',
                   help='skip the one-connection (latency) runs')
    args = p.parse_args()
    args.duration = min(args.duration, 10)

    created = False
    try:
        addrs = common.lab_addresses(args.lab)
        if args.setup:
            addrs = common.lab_up(args.lab)
            created = True
            common.run_playbook('site.yml', 'inventories/lab', lab=args.lab, label='site.yml')
        if not addrs:
            sys.exit('lab %s is not running: start it (ACGS_LAB=%s lab/lab.sh up + site.yml) or pass --setup'
                     % (args.lab, args.lab))
        cases = [('direct', 'http://%s:8000%s' % (addrs['app1'], args.path)),
                 ('http', 'http://%s:80%s' % (addrs['lb1'], args.path)),
                 ('https', 'https://%s:443%s' % (addrs['lb1'], args.path)),
                 ('haproxy-only', 'http://%s:80/__bench_no_route' % addrs['lb1'])]
        for name, url in cases[:3]:
            status, served = check(url)
            log('%s %s -> %s (X-Served-By %s)' % (name, url, status, served))
        loads = [('loaded', args.connections, args.threads)] + ([('serial', 1, 1)] if args.serial else [])
        samples = {'%s/%s' % (name, ld[0]): [] for ld in loads for name, _ in cases}
        for rnd in range(args.rounds):
            for ld, conns, threads in loads:
                args._conns, args._threads = conns, threads
                for name, url in cases:
                    log('round %d: %s %s' % (rnd + 1, name, ld))
                    res = run_wrk(url, args) if args.tool == 'wrk' else run_python(url, args)
                    samples['%s/%s' % (name, ld)].append(res)
    finally:
        if created:
            common.lab_down(args.lab)

    def med(name, key):
        vals = [s[key] for s in samples[name] if s.get(key) is not None]
        return round(statistics.median(vals), 3) if vals else None

    summary = {name: {k: med(name, k) for k in ('rps', 'p50_ms', 'p90_ms', 'p99_ms')} for name in samples}
    for name in summary:
        summary[name]['non_2xx'] = sum(s['non_2xx'] for s in samples[name])
        summary[name]['requests'] = sum(s.get('requests') or 0 for s in samples[name])
    ratios = {}
    for key in [k for k in samples if k.split('/')[0] in ('http', 'https')]:
        d = summary['direct/' + key.split('/')[1]]
        s = summary[key]
        ratios[key] = {'rps_direct_over_proxy': round(d['rps'] / s['rps'], 3) if s['rps'] else None,
                       'p50_proxy_over_direct': round(s['p50_ms'] / d['p50_ms'], 3) if d['p50_ms'] else None,
                       'p99_proxy_over_direct': round(s['p99_ms'] / d['p99_ms'], 3) if d['p99_ms'] else None}
    urls = dict(cases)
    rows = [[key, urls[key.split('/')[0]], summary[key]['rps'], summary[key]['p50_ms'], summary[key]['p99_ms'],
             summary[key]['requests'], summary[key]['non_2xx']] for key in samples]
    print('\nRequest path (lab %s, %s, loaded: %d connections / serial: 1, %s per case, median of %d rounds)' % (
        args.lab, args.tool, args.connections,
        '%d s' % args.duration if args.tool == 'wrk' else '%d requests' % args.requests, args.rounds))
    print(table(['case/load', 'url', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'non-2xx'], rows))
    for name, r in ratios.items():
        print('%s via lb1: direct/proxy req/s %.2f, p50 proxy/direct %.2f, p99 proxy/direct %.2f' % (
            name, r['rps_direct_over_proxy'], r['p50_proxy_over_direct'], r['p99_proxy_over_direct']))
    common.save('request_path', {'machine': common.machine_info(), 'lab': args.lab, 'tool': args.tool,
                                 'connections': args.connections, 'threads': args.threads,
                                 'duration_s': args.duration, 'requests_per_case': args.requests,
                                 'rounds': args.rounds, 'path': args.path,
                                 'cases': dict(cases), 'summary': summary, 'ratios': ratios, 'samples': samples})


if __name__ == '__main__':
    main()
