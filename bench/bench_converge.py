# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Converge benchmarks on fresh lab containers.

Run from the repository root:  .venv/bin/python bench/bench_converge.py  [--help]

(1) Full stack: a fresh lab (ACGS_LAB=bench, lab/lab.sh down + up, state removed) converged
    with site.yml (cold), then --reruns idempotent reruns (changed must be 0: a rerun that changes
    something is named in the output), each with stock ssh and then, when mitogen is installed,
    with the opt-in accelerator (ACGS_ACCELERATE=mitogen's strategies): ABAB in one run.
(2) Side by side, on two identical fresh containers of one lab (ACGS_LAB=bench-cmp,
    LAB_HOSTS="peer ours"), both reached over SSH as root (pipelining on, the lab's settings):
    prometheus.prometheus 0.30.2 (node_exporter, alertmanager, prometheus; the peer play of
    ../shared/peers relative to the repository root, or BENCH_PEERS; become_method su)
    versus this collection's node_exporter, alertmanager and prometheus roles
    (bench/peer/ours.yml), cold then rerun, in the order
    peer-cold, ours-cold, ours-rerun, peer-rerun (ABBA, so a load drift hits both sides).
    The peer collection is installed into a temp collections path, its binaries are built
    with the kit script into a temp dir and served on 127.0.0.1:18888 during the run.
Times are wall times of ansible-playbook; the per-task times come from the ansible.posix.json
callback (the same start/end as profile_tasks) and give the top time sinks.
Results: tables on stdout and bench/results/converge.json (sections not run are kept
from the previous file).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import REPO, table  # noqa: E402

# Peer collection tarball and kit: ../shared/peers beside the repository root, or BENCH_PEERS.
PEERS = os.environ.get('BENCH_PEERS') or os.path.join(os.path.dirname(REPO), 'shared', 'peers')
PEER_PORT = 18888


# The opt-in accelerator (ACGS_ACCELERATE=mitogen in the Makefile): the same environment here.
MITOGEN_ENV = {'ANSIBLE_STRATEGY_PLUGINS': os.path.join(REPO, 'tools', 'mitogen'), 'ANSIBLE_STRATEGY': 'mitogen_linear'}


def mitogen_available():
    try:
        import ansible_mitogen  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        return False
    return True


def full_stack(args):
    lab = args.lab
    out = {'lab': lab, 'playbook': 'site.yml', 'inventory': 'inventories/lab', 'connection': 'ssh',
           'order': 'cold, then the reruns alternating stock ssh and mitogen (ABAB)' if args.mitogen else 'cold, reruns'}
    try:
        t0 = time.monotonic()
        common.lab_up(lab)
        out['lab_up_s'] = round(time.monotonic() - t0, 1)
        runs = {}
        runs['cold'] = common.run_playbook('site.yml', 'inventories/lab', lab=lab, label='full cold')
        for i in range(1, args.reruns + 1):
            runs['rerun%d' % i] = common.run_playbook('site.yml', 'inventories/lab', lab=lab, label='full rerun')
            if args.mitogen:
                runs['mitogen rerun%d' % i] = common.run_playbook(
                    'site.yml', 'inventories/lab', lab=lab, extra_env=MITOGEN_ENV, label='full rerun, mitogen')
        out['runs'] = runs
        out['not_idempotent'] = [k for k, r in runs.items() if k != 'cold' and r['stats']['changed']]
        out['rerun_median_s'] = statistics.median(r['wall_s'] for k, r in runs.items() if k.startswith('rerun'))
        if args.mitogen:
            out['mitogen_rerun_median_s'] = statistics.median(
                r['wall_s'] for k, r in runs.items() if k.startswith('mitogen'))
            out['ratio_mitogen_over_stock_rerun'] = round(out['mitogen_rerun_median_s'] / out['rerun_median_s'], 3)
        out['top_tasks'] = {k: common.top_tasks(v, args.top) for k, v in runs.items() if k in ('cold', 'rerun1')}
    finally:
        if not args.keep_lab:
            common.lab_down(lab)
    return out


def start_peer_kit(tmp):
    coll = os.path.join(tmp, 'collections')
    tarball = os.path.join(PEERS, 'prometheus-prometheus-0.30.2.tar.gz')
    common.run([os.path.join(common.VENV_BIN, 'ansible-galaxy'), 'collection', 'install', tarball,
                '-p', coll], timeout=300)
    bins = os.path.join(tmp, 'binaries')
    common.run(['bash', os.path.join(PEERS, 'make-binary-tarballs.sh'), bins], timeout=600)
    server = subprocess.Popen([sys.executable, '-m', 'http.server', str(PEER_PORT), '--bind', '127.0.0.1',
                               '--directory', bins], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        try:
            urllib.request.urlopen('http://127.0.0.1:%d/' % PEER_PORT, timeout=1).read()
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.terminate()
        raise RuntimeError('the binaries server on 127.0.0.1:%d did not start' % PEER_PORT)
    return coll, bins, server


def side_by_side(args):
    lab = args.cmp_lab
    tmp = tempfile.mkdtemp(prefix='bench-converge-')
    server = None
    out = {'lab': lab, 'connection': 'ssh (root, key, pipelining, ControlPersist) for both sides',
           'peer': 'prometheus.prometheus 0.30.2: %s' % args.peer_play,
           'ours': 'bench/peer/ours.yml (acgs.haproxy_stack node_exporter, alertmanager, prometheus)',
           'order': 'peer cold, ours cold, ours rerun, peer rerun'}
    try:
        coll, bins, server = start_peer_kit(tmp)
        common.lab_up(lab, ['peer', 'ours'])
        # The peer kit's note: Debian's alertmanager reads its templates from /usr/share (not timed;
        # an environment difference of the Debian binaries, like the lab image).
        cname = '%s-peer' % lab
        env = common.base_env(lab)
        common.run(['podman', 'exec', cname, 'mkdir', '-p', '/usr/share/prometheus/alertmanager'], env=env)
        common.run(['podman', 'cp', os.path.join(bins, 'x/usr/share/prometheus/alertmanager/.'),
                    '%s:/usr/share/prometheus/alertmanager/' % cname], env=env)
        penv = {'ANSIBLE_COLLECTIONS_PATH': os.pathsep.join(
            [coll, os.path.join(REPO, 'collections'), os.path.expanduser('~/.ansible/collections'),
             '/usr/share/ansible/collections'])}
        inv = 'bench/peer/inventory.yml'
        ours_play = 'bench/peer/ours.yml'
        runs = {'peer': {}, 'ours': {}}
        runs['peer']['cold'] = common.run_playbook(args.peer_play, inv, lab=lab, extra_env=penv, label='peer cold')
        runs['ours']['cold'] = common.run_playbook(ours_play, inv, lab=lab, extra_env=penv, label='ours cold')
        runs['ours']['rerun'] = common.run_playbook(ours_play, inv, lab=lab, extra_env=penv, label='ours rerun')
        runs['peer']['rerun'] = common.run_playbook(args.peer_play, inv, lab=lab, extra_env=penv, label='peer rerun')
        out['runs'] = runs
        out['ratio_ours_over_peer'] = {k: round(runs['ours'][k]['wall_s'] / runs['peer'][k]['wall_s'], 3)
                                       for k in ('cold', 'rerun')}
        out['top_tasks'] = {side: {k: common.top_tasks(v, args.top) for k, v in r.items()}
                            for side, r in runs.items()}
    finally:
        if server:
            server.terminate()
            server.wait(timeout=10)
        if not args.keep_lab:
            common.lab_down(lab, ['peer', 'ours'])
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def report(results):
    fs = results.get('full_stack')
    if fs and 'runs' in fs:
        rows = []
        for k, r in fs['runs'].items():
            s = r['stats']
            per_host = ' '.join('%s %d/%d' % (h, v.get('ok', 0), v.get('skipped', 0))
                                for h, v in sorted(r['per_host'].items()) if h != 'localhost')
            rows.append(['site.yml ' + k, r['wall_s'], r['cpu'].get('floor_wall_s'), r['tasks_run'], s['changed'],
                         s['skipped'], per_host])
        print('\n(1) Full stack, fresh lab %s (4 hosts, SSH; %s)' % (fs['lab'], fs.get('order', '')))
        print(table(['run', 'wall s', 'CPU floor s', 'tasks run (ok)', 'changed', 'skipped',
                     'per host ok/skipped'], rows))
        if fs.get('not_idempotent'):
            print('NOT IDEMPOTENT: %s changed something' % ', '.join(fs['not_idempotent']))
        if 'ratio_mitogen_over_stock_rerun' in fs:
            print('rerun medians: stock ssh %.1f s, mitogen %.1f s (ratio %.2f)' % (
                fs['rerun_median_s'], fs['mitogen_rerun_median_s'], fs['ratio_mitogen_over_stock_rerun']))
    sb = results.get('side_by_side')
    if sb and 'runs' in sb:
        rows = []
        for side in ('peer', 'ours'):
            for k in ('cold', 'rerun'):
                r = sb['runs'][side][k]
                rows.append([side, k, r['wall_s'], r['tasks_run'], r['stats']['changed'], r['stats']['skipped']])
        print('\n(2) Side by side, one fresh container each (%s)' % sb['connection'])
        print(table(['side', 'run', 'wall s', 'tasks run (ok)', 'changed', 'skipped'], rows))
        print('ratio ours/peer: cold %.2f, rerun %.2f' % (sb['ratio_ours_over_peer']['cold'],
                                                          sb['ratio_ours_over_peer']['rerun']))
        for k in ('cold', 'rerun'):
            print('\nTop time sinks, ours %s:' % k)
            print(table(['task', 's', 'times', 'changed'],
                        [[t['name'], t['seconds'], t['count'], t['changed']] for t in sb['top_tasks']['ours'][k]]))
    if fs and 'top_tasks' in fs:
        for k in fs['top_tasks']:
            print('\nTop time sinks, site.yml %s (task time, all hosts in parallel):' % k)
            print(table(['task', 's', 'times', 'changed'],
                        [[t['name'], t['seconds'], t['count'], t['changed']] for t in fs['top_tasks'][k]]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--lab', default='bench', help='lab name of the full-stack run (default bench)')
    p.add_argument('--cmp-lab', default='bench-cmp', help='lab name of the side-by-side run')
    p.add_argument('--peer-play', default=os.path.join(PEERS, 'prometheus-prometheus-peer.yml'))
    p.add_argument('--skip-full', action='store_true', help='skip (1) the full-stack converge')
    p.add_argument('--skip-cmp', action='store_true', help='skip (2) the side-by-side converge')
    p.add_argument('--reruns', type=int, default=2, help='idempotent reruns of site.yml (each stock, then mitogen)')
    p.add_argument('--no-mitogen', dest='mitogen', action='store_false',
                   help='no mitogen reruns (they run when mitogen is installed: requirements.txt)')
    p.add_argument('--top', type=int, default=12, help='top time sinks to keep')
    p.add_argument('--keep-lab', action='store_true', help='leave the labs running (e.g. for bench_request_path.py)')
    args = p.parse_args()
    args.mitogen = args.mitogen and mitogen_available()

    path = os.path.join(common.RESULTS, 'converge.json')
    results = {}
    if os.path.exists(path):
        with open(path) as f:
            results = json.load(f)
    results['machine'] = common.machine_info()
    if not args.skip_cmp:
        results['side_by_side'] = side_by_side(args)
        results['side_by_side']['machine'] = results['machine']
        common.save('converge', results)
    if not args.skip_full:
        results['full_stack'] = full_stack(args)
        results['full_stack']['machine'] = results['machine']
        common.save('converge', results)
    report(results)


if __name__ == '__main__':
    main()
