# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Growth with hosts: playbooks/haproxy.yml on 1, 5, 10 (--sizes) load balancers.

Run from the repository root:  .venv/bin/python bench/bench_hosts.py  [--sizes 1,5,10]

For each N: a fresh lab (ACGS_LAB=bench-hosts, LAB_HOSTS="app1 lb1 .. lbN"), an inventory
generated in a temp dir (group haproxy = lb1..lbN, backends = app1, the lab's group_vars by
symlink, lab_state_dir passed as an extra var), then playbooks/haproxy.yml cold, an idempotent
rerun, the same playbook with --check --diff (what the drift check's config part runs), and
playbooks/drift_check.yml itself (config part: haproxy.yml in check mode as a child run, through
drift_config_playbook; runtime part: services, HAProxy server states). app1 is only a backend
address (its facts feed haproxy.cfg); it is not converged.
Every container runs a systemd, and each takes inotify instances: above 10 hosts the script raises
fs.inotify.max_user_instances to --inotify-instances when it is lower (and says so), and puts the
old value back at the end. Per-host cost: least-squares slope of time over N; growth exponent
between sizes, log(T2/T1)/log(N2/N1) (no worse than linear while it stays at or below 1.1).
Results: a table on stdout and bench/results/hosts.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import REPO, table  # noqa: E402


def inventory(tmp, n):
    inv = os.path.join(tmp, 'inv-%d' % n)
    os.makedirs(inv)
    os.symlink(os.path.join(REPO, 'inventories', 'lab', 'group_vars'), os.path.join(inv, 'group_vars'))
    lbs = ''.join('        lb%d:\n' % i for i in range(1, n + 1))
    with open(os.path.join(inv, 'hosts.yml'), 'w') as f:
        f.write('all:\n  children:\n    haproxy:\n      hosts:\n%s    backends:\n      hosts:\n        app1:\n' % lbs)
    return inv


KINDS = ('cold', 'rerun', 'check', 'drift')
INOTIFY = '/proc/sys/fs/inotify/max_user_instances'


def read_inotify():
    with open(INOTIFY) as f:
        return int(f.read())


def write_inotify(value):
    with open(INOTIFY, 'w') as f:
        f.write('%d\n' % value)


def raise_inotify(wanted):
    """Raise the host's inotify instance limit to `wanted`; returns the old value, or None if unchanged."""
    old = read_inotify()
    if old >= wanted:
        return None
    common.log('fs.inotify.max_user_instances %d -> %d for this run (every container runs a systemd); '
               'restored at the end' % (old, wanted))
    write_inotify(wanted)
    return old


def slope(xs, ys):
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--lab', default='bench-hosts')
    p.add_argument('--sizes', default='1,5,10')
    p.add_argument('--inotify-instances', type=int, default=1024,
                   help='fs.inotify.max_user_instances to set for more than 10 hosts when lower (0: never)')
    p.add_argument('--kinds', default=','.join(KINDS),
                   help='runs per size, of %s (cold always runs: the others need a converged lab)' % ', '.join(KINDS))
    p.add_argument('--report', action='store_true', help='only fit and print bench/results/hosts.json')
    p.add_argument('--add', action='store_true',
                   help='keep the sizes of the previous bench/results/hosts.json (run sizes in steps)')
    args = p.parse_args()
    if args.report:
        with open(os.path.join(common.RESULTS, 'hosts.json')) as f:
            return report(json.load(f))
    sizes = [int(s) for s in args.sizes.split(',')]
    kinds = set(args.kinds.split(',')) | {'cold'}
    if not kinds <= set(KINDS):
        p.error('--kinds: %s are not runs of this benchmark (%s)' % (', '.join(sorted(kinds - set(KINDS))), ', '.join(KINDS)))
    tmp = tempfile.mkdtemp(prefix='bench-hosts-')
    state = os.path.join(common.STATE, args.lab)
    extra = ['-e', 'lab_state_dir=%s' % state]
    out = {'machine': common.machine_info(), 'lab': args.lab, 'playbook': 'playbooks/haproxy.yml', 'sizes': {}}
    previous = os.path.join(common.RESULTS, 'hosts.json')
    if args.add and os.path.exists(previous):
        with open(previous) as f:
            out['sizes'] = json.load(f).get('sizes', {})
    hosts = None
    old_inotify = raise_inotify(args.inotify_instances) if max(sizes) > 10 and args.inotify_instances else None
    out['machine']['inotify_max_user_instances'] = {'before': old_inotify, 'set': args.inotify_instances} \
        if old_inotify is not None else read_inotify()
    try:
        for n in sizes:
            hosts = ['app1'] + ['lb%d' % i for i in range(1, n + 1)]
            common.lab_up(args.lab, hosts)
            inv = inventory(tmp, n)
            res = {}
            res['cold'] = common.run_playbook('playbooks/haproxy.yml', inv, lab=args.lab, extra_args=extra,
                                              label='N=%d cold' % n)
            if 'rerun' in kinds:
                res['rerun'] = common.run_playbook('playbooks/haproxy.yml', inv, lab=args.lab, extra_args=extra,
                                                   label='N=%d rerun' % n)
            if 'check' in kinds:
                res['check'] = common.run_playbook('playbooks/haproxy.yml', inv, lab=args.lab,
                                                   extra_args=extra + ['--check', '--diff'], label='N=%d check' % n)
            if 'drift' in kinds:
                res['drift'] = common.run_playbook(
                    'playbooks/drift_check.yml', inv, lab=args.lab, label='N=%d drift check' % n,
                    extra_args=extra + ['-e', 'drift_config_playbook=%s' % os.path.join(REPO, 'playbooks', 'haproxy.yml'),
                                        '-e', 'drift_report_dir=%s' % os.path.join(tmp, 'drift-%d' % n),
                                        '-e', 'drift_fail_on_drift=true',
                                        '-e', json.dumps({'drift_config_extra_args': extra})])
            for r in res.values():
                r.pop('per_host', None)
            out['sizes'][str(n)] = res
            common.lab_down(args.lab, hosts)
            common.save('hosts', out)
    finally:
        if hosts:
            common.lab_down(args.lab, hosts)
        shutil.rmtree(tmp, ignore_errors=True)
        if old_inotify is not None:
            write_inotify(old_inotify)

    report(out)


def report(out):
    """Fit and print: least-squares cost per host, and the growth exponent between sizes
    (log(T2/T1) / log(N2/N1): 1 is linear, below 1 grows slower than the host count)."""
    ns = sorted(int(n) for n in out['sizes'])
    fit = {}
    for k in KINDS:
        ns_k = [n for n in ns if k in out['sizes'][str(n)]]
        ys = [out['sizes'][str(n)][k]['wall_s'] for n in ns_k]
        marg = [round((ys[i] - ys[i - 1]) / (ns_k[i] - ns_k[i - 1]), 2) for i in range(1, len(ns_k))]
        exps = [round(math.log(ys[i] / ys[i - 1]) / math.log(ns_k[i] / ns_k[i - 1]), 2) for i in range(1, len(ns_k))]
        fit[k] = {'per_host_s': round(slope(ns_k, ys), 2) if len(ns_k) > 1 else None, 'marginal_per_host_s': marg,
                  'growth_exponent': exps, 'no_worse_than_linear': all(e <= 1.1 for e in exps) if exps else None}
    out['fit'] = fit
    common.save('hosts', out)
    rows = [[n] + [out['sizes'][str(n)].get(k, {}).get('wall_s', '') for k in KINDS]
            + ['%s' % out['sizes'][str(n)].get('rerun', {}).get('cpu', {}).get('floor_wall_s', '')]
            + [out['sizes'][str(n)].get('rerun', {}).get('stats', {}).get('changed', '')] for n in ns]
    print('\nplaybooks/haproxy.yml on N load balancers (fresh lab each N, SSH, forks 20)')
    print(table(['N', 'cold s', 'rerun s', 'check s', 'drift check s', 'rerun CPU floor s', 'rerun changed'], rows))
    for k, f in fit.items():
        print('%s: %s s per host (least squares); marginal per host %s; growth exponent %s; no worse than linear'
              ' (exponent <= 1.1): %s' % (k, f['per_host_s'], f['marginal_per_host_s'], f['growth_exponent'],
                                          f['no_worse_than_linear']))


if __name__ == '__main__':
    main()
