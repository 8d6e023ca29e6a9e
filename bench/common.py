# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers of the lab benchmarks (bench_converge.py, bench_request_path.py, bench_hosts.py).

Labs: lab/lab.sh up|down with ACGS_LAB (and LAB_HOSTS); playbooks run with the
ansible.posix.json stdout callback, whose per-task start/end timestamps are the ones
profile_tasks prints; every subprocess has a hard timeout.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, 'bench')
RESULTS = os.path.join(BENCH, 'results')
VENV_BIN = os.path.join(REPO, '.venv', 'bin')
LAB_SH = os.path.join(REPO, 'lab', 'lab.sh')
STATE = os.path.join(REPO, 'lab', '.state')


def log(msg):
    sys.stderr.write('[%s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


def base_env(lab=None, **extra):
    env = dict(os.environ)
    env['PATH'] = VENV_BIN + os.pathsep + env.get('PATH', '')
    env['CONTAINERS_CONF'] = os.path.join(REPO, 'lab', 'containers.conf')
    env['ANSIBLE_CONFIG'] = os.path.join(REPO, 'ansible.cfg')
    if lab:
        env['ACGS_LAB'] = lab
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(cmd, env=None, timeout=600, check=True, capture=True):
    """Run a command with a hard timeout; returns CompletedProcess."""
    proc = subprocess.run(cmd, cwd=REPO, env=env or base_env(), timeout=timeout,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.PIPE if capture else None, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError('%s failed (rc=%d)\nstdout: %s\nstderr: %s' % (
            ' '.join(cmd), proc.returncode, (proc.stdout or '')[-3000:], (proc.stderr or '')[-3000:]))
    return proc


# ---------------------------------------------------------------- labs

def lab_down(lab, hosts=None, purge_state=True):
    env = base_env(lab)
    if hosts:
        env['LAB_HOSTS'] = ' '.join(hosts)
    run([LAB_SH, 'down'], env=env, timeout=300, check=False)
    if purge_state:
        shutil.rmtree(os.path.join(STATE, lab), ignore_errors=True)


def lab_up(lab, hosts=None, fresh=True):
    """Start lab `lab` (fresh: removes containers and state first). Returns {host: address}."""
    if fresh:
        lab_down(lab, hosts)
    env = base_env(lab)
    if hosts:
        env['LAB_HOSTS'] = ' '.join(hosts)
    t0 = time.monotonic()
    run([LAB_SH, 'up'], env=env, timeout=600)
    log('lab %s up in %.1f s' % (lab, time.monotonic() - t0))
    return lab_addresses(lab)


def lab_addresses(lab):
    path = os.path.join(STATE, lab, 'addresses.json')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def lab_gateway(address):
    """The podman network's gateway for a container address (x.y.z.1)."""
    return '.'.join(address.split('.')[:3] + ['1'])


# ---------------------------------------------------------------- playbooks

# CPU the lab containers used, in ns: podman's parent cgroup (cgroup v1 cpuacct, or v2 cpu.stat).
_CONTAINERS_CPU = ('/sys/fs/cgroup/cpuacct/libpod_parent/cpuacct.usage', '/sys/fs/cgroup/libpod_parent/cpu.stat')


def containers_cpu_s():
    """CPU seconds used so far by all podman containers, or None where no cgroup file is readable."""
    for path in _CONTAINERS_CPU:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith('cpu.stat'):
            usage = dict(line.split() for line in text.splitlines()).get('usage_usec')
            return int(usage) / 1e6 if usage else None
        return int(text) / 1e9
    return None


def controller_cpu_s():
    """CPU seconds (user + system) of this process's finished children: ansible-playbook and its forks."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _ts(value):
    # ansible.posix.json: "2024-01-01T12:00:00.123456Z"
    return datetime.datetime.strptime(value.rstrip('Z'), '%Y-%m-%dT%H:%M:%S.%f').timestamp()


def run_playbook(playbook, inventory, lab=None, extra_env=None, extra_args=(), timeout=1800, label=None):
    """Run a playbook with the json callback (plus the timer, a non-empty callbacks list that
    prints no JSON; profile_tasks would interleave its banners with the JSON). Returns a dict of wall time, stats and task times."""
    env = base_env(lab, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_CALLBACKS_ENABLED='ansible.posix.timer',
                   ANSIBLE_JSON_INDENT='0', ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    env.update(extra_env or {})
    cmd = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', inventory, playbook] + list(extra_args)
    log('running %s%s' % (label + ': ' if label else '', ' '.join(cmd[1:])))
    t0, cpu0, hosts0 = time.monotonic(), controller_cpu_s(), containers_cpu_s()
    proc = run(cmd, env=env, timeout=timeout, check=False)
    wall = time.monotonic() - t0
    hosts1 = containers_cpu_s()
    # The machine's CPU time over the run: the work both sides share the cores for. Its sum over
    # the cores is a lower bound of the wall time on this machine at this task count.
    cpu = {'controller_s': round(controller_cpu_s() - cpu0, 2),
           'containers_s': round(hosts1 - hosts0, 2) if hosts0 is not None and hosts1 is not None else None}
    if cpu['containers_s'] is not None:
        cpu['floor_wall_s'] = round((cpu['controller_s'] + cpu['containers_s']) / (os.cpu_count() or 1), 2)
    try:
        start = proc.stdout.index('{')
        data = json.JSONDecoder().raw_decode(proc.stdout[start:])[0]
    except ValueError:
        raise RuntimeError('%s: no JSON output (rc=%d)\n%s\n%s' % (playbook, proc.returncode,
                                                                   proc.stdout[-3000:], proc.stderr[-3000:]))
    stats = data.get('stats', {})
    tasks = []
    for play in data.get('plays', []):
        for task in play.get('tasks', []):
            t = task['task']
            try:
                secs = _ts(t['duration']['end']) - _ts(t['duration']['start'])
            except (KeyError, ValueError):
                secs = 0.0
            results = task.get('hosts', {})
            tasks.append({
                'play': play['play']['name'],
                'name': t['name'],
                'seconds': round(secs, 3),
                'hosts': len(results),
                'changed': sum(1 for r in results.values() if r.get('changed')),
                'skipped': sum(1 for r in results.values() if r.get('skipped')),
            })
    totals = {k: sum(s.get(k, 0) for s in stats.values())
              for k in ('ok', 'changed', 'skipped', 'failures', 'unreachable', 'rescued', 'ignored')}
    if proc.returncode != 0 or totals['failures'] or totals['unreachable']:
        failed = [(t['name']) for play in data.get('plays', []) for t in
                  [dict(name=x['task']['name'], res=x.get('hosts', {})) for x in play.get('tasks', [])]
                  if any(r.get('failed') or r.get('unreachable') for r in t['res'].values())]
        msgs = [r.get('msg') for play in data.get('plays', []) for x in play.get('tasks', [])
                for r in x.get('hosts', {}).values() if r.get('failed') or r.get('unreachable')]
        raise RuntimeError('%s failed (rc=%d): tasks %s: %s\n%s' % (
            playbook, proc.returncode, failed, str(msgs)[:3000], proc.stderr[-2000:]))
    # "tasks run": task results that were not skipped, over all hosts.
    return {
        'playbook': os.path.relpath(playbook, REPO) if os.path.isabs(playbook) else playbook,
        'wall_s': round(wall, 2),
        'cpu': cpu,
        'tasks_run': totals['ok'],  # ansible's ok counts changed results too
        'stats': totals,
        'per_host': stats,
        'task_entries': len(tasks),
        'task_time_sum_s': round(sum(t['seconds'] for t in tasks), 2),
        'tasks': tasks,
    }


def top_tasks(result, count=10):
    """Task names (summed over plays/occurrences) by time, largest first."""
    agg = {}
    for t in result['tasks']:
        key = t['name']
        a = agg.setdefault(key, {'name': key, 'seconds': 0.0, 'count': 0, 'changed': 0})
        a['seconds'] += t['seconds']
        a['count'] += 1
        a['changed'] += t['changed']
    out = sorted(agg.values(), key=lambda a: -a['seconds'])[:count]
    for a in out:
        a['seconds'] = round(a['seconds'], 2)
    return out


# ---------------------------------------------------------------- output

def table(headers, rows):
    cols = [[str(h)] + [str(r[i]) for r in rows] for i, h in enumerate(headers)]
    widths = [max(len(c) for c in col) for col in cols]
    lines = ['  '.join(str(h).ljust(w) for h, w in zip(headers, widths)),
             '  '.join('-' * w for w in widths)]
    for r in rows:
        lines.append('  '.join(str(v).ljust(w) for v, w in zip(r, widths)))
    return '\n'.join(lines)


def machine_info():
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'host': platform.node(), 'cpus': os.cpu_count(), 'loadavg_at_start': load,
            'python': platform.python_version()}


def save(name, data):
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, '%s.json' % name)
    with open(path, 'w') as f:
        json.dump(data, f, indent=1, sort_keys=False)
        f.write('\n')
    log('saved %s' % os.path.relpath(path, REPO))
    return path
