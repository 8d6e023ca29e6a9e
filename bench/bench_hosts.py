# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Growth with hosts: playbooks/haproxy.yml on 1, 5, 10 (--sizes) load balancers.

Run from the repository root:  .venv/bin/python bench/bench_hosts.py  [--sizes 1,5,10]

For each N: a fresh lab (ACGS_LAB=bench-hosts, LAB_HOSTS="app1 lb1 .. lbN"), an inventory
generated in a temp dir (group haproxy = lb1..lbN, backends = app1, the lab's group_vars by
symlink, lab_state_dir passed as an extra var), then playbooks/haproxy.yml cold, an idempotent
rerun and a drift check (--check --diff on the converged hosts). app1 is only a backend
address (its facts feed haproxy.cfg); it is not converged. Per-host cost: least-squares
slope of time over N; linear if the marginal cost per host stays within 30% between steps.
Results: a table on stdout and bench/results/hosts.json.
"""

from __future__ import annotations

import argparse
import json
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


def slope(xs, ys):
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--lab', default='bench-hosts')
    p.add_argument('--sizes', default='1,5,10')
    p.add_argument('--add', action='store_true',
                   help='keep the sizes of the previous bench/results/hosts.json (run sizes in steps)')
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(',')]
    tmp = tempfile.mkdtemp(prefix='bench-hosts-')
    state = os.path.join(common.STATE, args.lab)
    extra = ['-e', 'lab_state_dir=%s' % state]
    out = {'machine': common.machine_info(), 'lab': args.lab, 'playbook': 'playbooks/haproxy.yml', 'sizes': {}}
    previous = os.path.join(common.RESULTS, 'hosts.json')
    if args.add and os.path.exists(previous):
        with open(previous) as f:
            out['sizes'] = json.load(f).get('sizes', {})
    hosts = None
    try:
        for n in sizes:
            hosts = ['app1'] + ['lb%d' % i for i in range(1, n + 1)]
            common.lab_up(args.lab, hosts)
            inv = inventory(tmp, n)
            res = {}
            res['cold'] = common.run_playbook('playbooks/haproxy.yml', inv, lab=args.lab, extra_args=extra,
                                              label='N=%d cold' % n)
            res['rerun'] = common.run_playbook('playbooks/haproxy.yml', inv, lab=args.lab, extra_args=extra,
                                               label='N=%d rerun' % n)
            res['check'] = common.run_playbook('playbooks/haproxy.yml', inv, lab=args.lab,
                                               extra_args=extra + ['--check', '--diff'], label='N=%d check' % n)
            for r in res.values():
                r.pop('per_host', None)
            out['sizes'][str(n)] = res
            common.lab_down(args.lab, hosts)
            common.save('hosts', out)
    finally:
        if hosts:
            common.lab_down(args.lab, hosts)
        shutil.rmtree(tmp, ignore_errors=True)

    ns = sorted(int(n) for n in out['sizes'])
    fit = {}
    for k in ('cold', 'rerun', 'check'):
        ys = [out['sizes'][str(n)][k]['wall_s'] for n in ns]
        marg = [round((ys[i] - ys[i - 1]) / (ns[i] - ns[i - 1]), 2) for i in range(1, len(ns))]
        fit[k] = {'per_host_s': round(slope(ns, ys), 2) if len(ns) > 1 else None, 'marginal_per_host_s': marg,
                  'linear': (len(marg) < 2 or max(marg) <= 1.3 * min(marg)) if marg and min(marg) > 0 else None}
    out['fit'] = fit
    common.save('hosts', out)
    rows = [[n] + [out['sizes'][str(n)][k]['wall_s'] for k in ('cold', 'rerun', 'check')]
            + [out['sizes'][str(n)]['rerun']['stats']['changed']] for n in ns]
    print('\nplaybooks/haproxy.yml on N load balancers (fresh lab each N, SSH, forks 20)')
    print(table(['N', 'cold s', 'rerun s', 'check s', 'rerun changed'], rows))
    for k, f in fit.items():
        print('%s: %s s per host (least squares); marginal per host between sizes %s; linear: %s'
              % (k, f['per_host_s'], f['marginal_per_host_s'], f['linear']))


if __name__ == '__main__':
    main()
