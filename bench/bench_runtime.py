# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark the runtime modules against community.general.haproxy on a local HAProxy.

Run from the repository root:  .venv/bin/python bench/bench_runtime.py  [--help]

(a) Drain, then re-enable, all N servers (N = 100, 1000, 5000) of a generated HAProxy
    configuration: one acgs.haproxy_stack.haproxy_server task per step, versus a loop of
    community.general.haproxy (one iteration per server). The community loop runs on every
    server when N <= --full-loop-max (100), otherwise on a sample of --sample servers (50)
    of the same N-server HAProxy, and its cost is extrapolated linearly to N (each
    iteration reads the full "show stat" of N servers, so the sample pays the size of N).
(b) acgs.haproxy_stack.haproxy_info reading all servers of a 2000-server HAProxy.
(c) The runtime API protocol itself for 1000 "set server" commands: interactive (prompt)
    mode with one command a line (what module_utils/_haproxy.py uses), prompt mode with
    ";"-chained lines, non-interactive ";"-chained lines, and one connection per command.

How task times are measured: every playbook runs with the ansible.posix.json stdout
callback, whose per-task start/end timestamps are what profile_tasks reports (from task
start to its result on the controller, so it includes forking, module transfer, Python
start-up and result processing). Each playbook also runs ansible.builtin.ping tasks,
interleaved with the measured ones (after one warm-up ping); the median ping time is the
per-task baseline of ansible itself, and "net" values subtract it (once per task; a loop
counts one baseline, not one per item, which favours the loop). Fast measurements are
repeated (--repeat) and their medians reported; all samples are in the JSON file.
Results: a table on stdout and bench/results/runtime.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, 'collections')
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, COLLECTIONS)

from ansible_collections.acgs.haproxy_stack.plugins.module_utils._haproxy import HAProxyRuntime  # noqa: E402

PER_BACKEND = 100


def find_haproxy():
    found = shutil.which('haproxy')
    if found:
        return found
    for path in ('/usr/sbin/haproxy', '/usr/local/sbin/haproxy'):
        if os.access(path, os.X_OK):
            return path
    sys.exit('bench_runtime.py: haproxy is not installed')


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class HAProxy(object):
    """A foreground HAProxy with N servers (no health checks) in backends of 100."""

    def __init__(self, workdir, count):
        self.dir = os.path.join(workdir, 'haproxy-%d' % count)
        os.makedirs(self.dir)
        self.count = count
        self.socket = os.path.join(self.dir, 'admin.sock')
        self.names = ['be%d/s%03d' % (i // PER_BACKEND, i % PER_BACKEND) for i in range(count)]
        port = closed_port()
        lines = ['global', '    stats socket %s mode 600 level admin' % self.socket, '    stats timeout 2m',
                 '    maxconn 500', 'defaults', '    mode http', '    timeout connect 1s', '    timeout client 5s',
                 '    timeout server 5s']
        for index in range(0, count, PER_BACKEND):
            lines.append('backend be%d' % (index // PER_BACKEND))
            lines.extend('    server s%03d 127.0.0.1:%d' % (i, port) for i in range(min(PER_BACKEND, count - index)))
        self.cfg = os.path.join(self.dir, 'haproxy.cfg')
        with open(self.cfg, 'w') as fh:
            fh.write('\n'.join(lines) + '\n')
        self.proc = None

    def __enter__(self):
        self.log = open(os.path.join(self.dir, 'haproxy.log'), 'w')
        self.proc = subprocess.Popen([find_haproxy(), '-db', '-f', self.cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('haproxy exited: see %s' % self.log.name)
            try:
                if len(self.servers()) == self.count:
                    return self
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            time.sleep(0.05)
        raise RuntimeError('haproxy with %d servers did not start' % self.count)

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()

    def servers(self):
        return HAProxyRuntime(self.socket, 10).snapshot()['servers']

    def admin_states(self, names=None):
        states = dict(('%s/%s' % (s['backend'], s['name']), s['admin_state']) for s in self.servers())
        if names is None:
            return set(states.values())
        return set(states[n] for n in names)


def parse_time(text):
    return datetime.datetime.strptime(text.rstrip('Z'), '%Y-%m-%dT%H:%M:%S.%f')


def run_playbook(workdir, name, tasks, play_vars):
    """Run tasks (dicts) on localhost; return [(task name, seconds, host result)]."""
    path = os.path.join(workdir, name)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, 'vars.json'), 'w') as fh:
        json.dump(play_vars, fh)
    play = [{'name': name, 'hosts': 'localhost', 'gather_facts': False, 'vars_files': ['vars.json'],
             'tasks': tasks}]
    with open(os.path.join(path, 'playbook.yml'), 'w') as fh:
        json.dump(play, fh, indent=1)   # JSON is YAML
    with open(os.path.join(path, 'ansible.cfg'), 'w') as fh:
        fh.write('[defaults]\ncollections_path = %s\nstdout_callback = ansible.posix.json\n'
                 'interpreter_python = %s\nretry_files_enabled = false\nforks = 5\n' % (COLLECTIONS, sys.executable))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(path, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    for key in ('ANSIBLE_CALLBACKS_ENABLED', 'ANSIBLE_STDOUT_CALLBACK', 'ANSIBLE_PYTHON_INTERPRETER'):
        env.pop(key, None)
    started = time.time()
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                           'playbook.yml'], cwd=path, env=env, capture_output=True, text=True, timeout=3600,
                          check=False)
    wall = time.time() - started
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise RuntimeError('%s: ansible-playbook printed no JSON (rc %s):\n%s\n%s'
                           % (name, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    out = []
    for task in data['plays'][0]['tasks']:
        duration = task['task']['duration']
        seconds = (parse_time(duration['end']) - parse_time(duration['start'])).total_seconds()
        result = task['hosts'].get('localhost', {})
        if result.get('failed'):
            raise RuntimeError('%s: task %s failed: %s' % (name, task['task']['name'], result.get('msg')))
        out.append((task['task']['name'], seconds, result))
    return out, wall


def ping_tasks(count):
    return [{'name': 'warm-up %d' % i, 'ansible.builtin.ping': {}} for i in range(count)]


def times(results, prefix):
    return [seconds for name, seconds, dummy in results if name.startswith(prefix)]


def bench_ours(workdir, lab, repeat):
    tasks = ping_tasks(1)   # warms up the module cache of ansible
    for i in range(repeat):
        tasks.append({'name': 'baseline before drain %d' % i, 'ansible.builtin.ping': {}})
        tasks.append({'name': 'drain %d' % i, 'acgs.haproxy_stack.haproxy_server': {
            'socket': lab.socket, 'servers': '{{ names }}', 'state': 'drain'}})
        tasks.append({'name': 'baseline before ready %d' % i, 'ansible.builtin.ping': {}})
        tasks.append({'name': 'ready %d' % i, 'acgs.haproxy_stack.haproxy_server': {
            'socket': lab.socket, 'servers': '{{ names }}', 'state': 'ready'}})
    tasks.append({'name': 'check drain', 'acgs.haproxy_stack.haproxy_server': {
        'socket': lab.socket, 'servers': '{{ names }}', 'state': 'drain'}})
    results, wall = run_playbook(workdir, 'ours-%d' % lab.count, tasks, {'names': lab.names})
    for name, dummy, result in results:
        if name.startswith(('drain', 'ready')):
            assert result['changed'] is True and len(result['commands']) == lab.count, (name, result.get('msg'))
    assert lab.admin_states() == {'drain'}
    HAProxyRuntime(lab.socket).execute(['set server %s state ready' % n for n in lab.names])
    assert lab.admin_states() == {'ready'}
    baselines = times(results, 'baseline ')
    baseline = statistics.median(baselines)
    drains = times(results, 'drain ')
    readies = times(results, 'ready ')
    drain = statistics.median(drains)
    ready = statistics.median(readies)
    return dict(baseline_task_s=round(baseline, 4), drain_task_s=round(drain, 4), ready_task_s=round(ready, 4),
                total_s=round(drain + ready, 4), total_net_s=round(drain + ready - 2 * baseline, 4),
                repeats=repeat, playbook_wall_s=round(wall, 2),
                samples=dict(baseline=baselines, drain=drains, ready=readies))


def bench_community(workdir, lab, sample):
    names = lab.names if sample >= lab.count else lab.names[::max(1, lab.count // sample)][:sample]
    item = {'socket': lab.socket, 'backend': "{{ item.split('/')[0] }}", 'host': "{{ item.split('/')[1] }}"}
    tasks = ping_tasks(1) + [{'name': 'baseline %d' % i, 'ansible.builtin.ping': {}} for i in range(3)] + [
        {'name': 'community drain', 'community.general.haproxy': dict(item, state='drain'), 'loop': '{{ names }}'},
        {'name': 'community enable', 'community.general.haproxy': dict(item, state='enabled'),
         'loop': '{{ names }}'},
    ]
    # Check that the loop really drains: stop between the two steps would need two playbooks; instead the
    # drain loop is verified from its results and the enable loop from HAProxy's final state.
    results, wall = run_playbook(workdir, 'community-%d' % lab.count, tasks, {'names': names})
    drained = [r for name, dummy, res in results if name == 'community drain' for r in res['results']]
    assert len(drained) == len(names) and all(r.get('changed') for r in drained), 'community drain did nothing'
    assert lab.admin_states(names) == {'ready'}
    baseline = statistics.median(times(results, 'baseline '))
    drain = times(results, 'community drain')[0]
    enable = times(results, 'community enable')[0]
    per_server = (drain + enable) / len(names)
    per_server_net = (drain + enable - 2 * baseline) / len(names)
    return dict(measured_servers=len(names), extrapolated=len(names) < lab.count, baseline_task_s=round(baseline, 4),
                drain_loop_s=round(drain, 3), enable_loop_s=round(enable, 3),
                per_server_s=round(per_server, 4), total_s=round(per_server * lab.count, 2),
                total_net_s=round(per_server_net * lab.count, 2), playbook_wall_s=round(wall, 2))


def bench_info(workdir, lab, repeat):
    tasks = ping_tasks(1)
    for i in range(repeat):
        tasks.append({'name': 'baseline %d' % i, 'ansible.builtin.ping': {}})
        tasks.append({'name': 'info %d' % i, 'acgs.haproxy_stack.haproxy_info': {'socket': lab.socket}})
    results, dummy = run_playbook(workdir, 'info-%d' % lab.count, tasks, {})
    for name, dummy, result in results:
        if name.startswith('info'):
            assert len(result['servers']) == lab.count
    baselines = times(results, 'baseline ')
    tasks_s = times(results, 'info ')
    baseline = statistics.median(baselines)
    task = statistics.median(tasks_s)
    # The module process alone (python -m, JSON args): start-up + read + parse + JSON out.
    args = os.path.join(workdir, 'info-args.json')
    with open(args, 'w') as fh:
        json.dump({'ANSIBLE_MODULE_ARGS': {'socket': lab.socket}}, fh)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    process = []
    for dummy in range(repeat):
        started = time.time()
        subprocess.run([sys.executable, '-m', 'ansible_collections.acgs.haproxy_stack.plugins.modules.haproxy_info',
                        args], env=env, capture_output=True, check=True, timeout=60)
        process.append(time.time() - started)
    client = HAProxyRuntime(lab.socket)
    api = []
    for dummy in range(repeat):
        started = time.perf_counter()
        snap = client.snapshot(info=True, proxies=True)
        api.append(time.perf_counter() - started)
        assert len(snap['servers']) == lab.count
    return dict(servers=lab.count, task_s=round(task, 4), baseline_task_s=round(baseline, 4),
                task_net_s=round(task - baseline, 4), module_process_s=round(statistics.median(process), 4),
                runtime_api_and_parse_s=round(statistics.median(api), 4), repeats=repeat,
                samples=dict(baseline=baselines, task=tasks_s, module_process=[round(x, 4) for x in process]))


def _exchange(path, payload):
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(30)
    sock.connect(path)
    sock.sendall(payload)
    chunks = []
    while True:
        data = sock.recv(1 << 20)
        if not data:
            break
        chunks.append(data)
    sock.close()
    return b''.join(chunks)


def bench_protocol(lab, repeat):
    """1000 "set server" commands four ways; median seconds of each."""
    names = lab.names[:1000]

    def commands(state):
        return ['set server %s state %s' % (n, state) for n in names]

    def chained(cmds, limit=8000):
        lines, current = [], []
        for cmd in cmds:
            if current and sum(len(c) + 1 for c in current) + len(cmd) > limit:
                lines.append(';'.join(current))
                current = []
            current.append(cmd)
        lines.append(';'.join(current))
        return lines

    ways = {
        'prompt mode, one command a line (used)': lambda c: _exchange(
            lab.socket, ('prompt\n' + '\n'.join(c) + '\nquit\n').encode()),
        'prompt mode, ;-chained lines of 8 KB': lambda c: _exchange(
            lab.socket, ('prompt\n' + '\n'.join(chained(c)) + '\nquit\n').encode()),
        'non-interactive ;-chained, one connection per 8 KB line': lambda c: [
            _exchange(lab.socket, (line + '\n').encode()) for line in chained(c)],
        'one connection per command': lambda c: [_exchange(lab.socket, (cmd + '\n').encode()) for cmd in c],
    }
    result = {}
    for label, way in ways.items():
        samples = []
        for index in range(repeat * 2):
            cmds = commands('drain' if index % 2 == 0 else 'ready')
            started = time.perf_counter()
            way(cmds)
            samples.append(time.perf_counter() - started)
        result[label] = round(statistics.median(samples), 5)
    assert lab.admin_states() == {'ready'}
    return dict(commands=len(names), seconds=result)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--sizes', default='100,1000,5000', help='server counts for (a) (default: %(default)s)')
    parser.add_argument('--read-size', type=int, default=2000, help='server count for (b) (default: %(default)s)')
    parser.add_argument('--sample', type=int, default=50,
                        help='servers the community loop runs on when N > --full-loop-max (default: %(default)s)')
    parser.add_argument('--full-loop-max', type=int, default=100,
                        help='largest N for which the community loop runs on every server (default: %(default)s)')
    parser.add_argument('--repeat', type=int, default=5, help='repetitions of the fast measurements (medians)')
    parser.add_argument('--skip-community', action='store_true', help='do not run community.general.haproxy')
    parser.add_argument('--output', default=os.path.join(REPO, 'bench', 'results', 'runtime.json'))
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(',') if s]

    workdir = tempfile.mkdtemp(prefix='acgs-bench-runtime-')
    report = dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        host=dict(python=platform.python_version(), cpus=os.cpu_count(), platform=platform.platform()),
        haproxy=subprocess.run([find_haproxy(), '-v'], capture_output=True, text=True,
                               check=False).stdout.split('\n')[0],
        method=__doc__.split('How task times are measured: ')[1].split('\nResults:')[0].replace('\n', ' '),
        drain_enable=[], info=None, protocol=None,
    )
    try:
        for count in sizes:
            with HAProxy(workdir, count) as lab:
                print('(a) %d servers: haproxy_server ...' % count, flush=True)
                row = dict(servers=count, haproxy_server=bench_ours(workdir, lab, options.repeat))
                if not options.skip_community:
                    sample = count if count <= options.full_loop_max else options.sample
                    print('(a) %d servers: community.general.haproxy loop on %d server(s) ...' % (count, sample),
                          flush=True)
                    row['community_loop'] = bench_community(workdir, lab, sample)
                    row['ratio'] = round(row['community_loop']['total_s'] / row['haproxy_server']['total_s'], 1)
                    row['ratio_net'] = round(row['community_loop']['total_net_s']
                                             / row['haproxy_server']['total_net_s'], 1)
                if count >= 1000 and report['protocol'] is None:
                    print('(c) protocol, 1000 commands ...', flush=True)
                    report['protocol'] = bench_protocol(lab, options.repeat)
                report['drain_enable'].append(row)
        with HAProxy(workdir, options.read_size) as lab:
            print('(b) haproxy_info, %d servers ...' % options.read_size, flush=True)
            report['info'] = bench_info(workdir, lab, max(5, options.repeat))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    os.makedirs(os.path.dirname(options.output), exist_ok=True)
    with open(options.output, 'w') as fh:
        json.dump(report, fh, indent=2)
        fh.write('\n')
    print_report(report, options.output)


def print_report(report, path):
    print()
    print('%s, %s, Python %s, %s CPU(s)' % (report['date'], report['haproxy'], report['host']['python'],
                                            report['host']['cpus']))
    print()
    print('(a) drain then re-enable all N servers (task times; "net" = minus the ping baseline per task)')
    header = ('%6s | %16s | %14s | %22s | %20s | %9s | %9s'
              % ('N', 'haproxy_server', 'net', 'community loop', 'measured on', 'ratio', 'ratio net'))
    print(header)
    print('-' * len(header))
    for row in report['drain_enable']:
        ours = row['haproxy_server']
        loop = row.get('community_loop')
        if loop:
            measured = '%d server(s)%s' % (loop['measured_servers'], ', extrap.' if loop['extrapolated'] else '')
            print('%6d | %14.2f s | %12.2f s | %20.1f s | %20s | %8.0fx | %8.0fx'
                  % (row['servers'], ours['total_s'], ours['total_net_s'], loop['total_s'], measured, row['ratio'],
                     row['ratio_net']))
        else:
            print('%6d | %14.2f s | %12.2f s | %22s | %20s | %9s | %9s'
                  % (row['servers'], ours['total_s'], ours['total_net_s'], '-', '-', '-', '-'))
    info = report['info']
    print()
    print('(b) haproxy_info reading %d servers: task %.3f s (ping baseline %.3f s, net %.3f s); module process '
          '%.3f s; runtime API read + parse %.3f s'
          % (info['servers'], info['task_s'], info['baseline_task_s'], info['task_net_s'], info['module_process_s'],
             info['runtime_api_and_parse_s']))
    if report['protocol']:
        print()
        print('(c) runtime API, %d "set server" commands:' % report['protocol']['commands'])
        for label, seconds in report['protocol']['seconds'].items():
            print('    %-58s %8.4f s' % (label, seconds))
    print()
    print('Saved %s' % path)


if __name__ == '__main__':
    main()
