# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures that run a real HAProxy on this machine (127.0.0.1 only).

Each test gets its own HAProxy process, started in the foreground (``-db``)
from a generated configuration in a temporary directory, with its admin socket
there too. Health checks go to a tiny threaded HTTP server in this process;
servers pointing at a closed port are DOWN. Everything started here is stopped
by fixture finalizers with bounded timeouts.

- ``local_haproxy``: a LocalHAProxy running LOCAL_HAPROXY_CONFIG (not the podman lab, which is
  tests/integration's ``lab``); ``local_haproxy_1000_servers``: one with 1000 servers in 10 backends.
  Both run the HAProxy of ``haproxy_release``: this machine's (bookworm, 2.6) unless the test is
  marked ``@release_binaries.both_releases``, which runs it once per Debian release (trixie: HAProxy
  3.0 from tools/release_tools.sh; skipped, saying so, when that is missing).
- ``local_workdir``: the test's temporary directory (HAProxy's config, sockets and log, module
  arguments, generated playbooks).
- ``run_module_subprocess``: a module run as its own process with JSON arguments (as Ansible runs it;
  tests/unit's ``run_module_inproc`` calls ``main()`` in the test's process instead).
- ``run_playbook``: tasks run by a real ansible-playbook on localhost.
- ``http_backend``: the port of the HTTP server the health checks go to.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COLLECTIONS = os.path.join(REPO, 'collections')
BIN = os.path.dirname(sys.executable)
# The collection, and tests/ for release_binaries (shared with tests/unit).
for _path in (COLLECTIONS, os.path.dirname(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from ansible_collections.acgs.haproxy_stack.plugins.module_utils._haproxy import HAProxyRuntime  # noqa: E402
import release_binaries  # noqa: E402

HAPROXY = release_binaries.binary(release_binaries.HOST_RELEASE, 'haproxy')


@pytest.fixture
def haproxy_release():
    """The Debian release whose HAProxy ``local_haproxy`` runs: this machine's, unless ``@release_binaries.both_releases``."""
    return release_binaries.HOST_RELEASE


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'

    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path.startswith('/sleep/'):
            time.sleep(float(self.path.split('/')[2]))
        body = b'ok\n'
        try:
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture(scope='session')
def http_backend():
    """Threaded HTTP server on 127.0.0.1: "/" answers at once, "/sleep/N" after N seconds."""
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.1), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(5)


LOCAL_HAPROXY_CONFIG = """\
global
    stats socket {dir}/admin.sock mode 600 level admin
    stats socket {dir}/user.sock mode 600 level user
    stats socket ipv4@127.0.0.1:{tcp_port} level admin
    stats timeout 30s
    maxconn 500

defaults
    mode http
    timeout connect 1s
    timeout client 20s
    timeout server 20s
    default-server inter 100ms fastinter 100ms downinter 100ms rise 1 fall 1

frontend fe_a
    bind 127.0.0.1:{port_a}
    default_backend sess_a

frontend fe_b
    bind 127.0.0.1:{port_b}
    default_backend sess_b

backend web
    option httpchk GET /
    server s1 127.0.0.1:{http} check
    server s2 127.0.0.1:{http} check weight 10
    server s3 127.0.0.1:{http} check
    server slow 127.0.0.1:{http} check rise 100
    server dead 127.0.0.1:{closed} check

backend track
    server t1 127.0.0.1:{http} track web/s1

backend static
    balance static-rr
    server st1 127.0.0.1:{http}
    server st2 127.0.0.1:{http}

backend sess_a
    server a 127.0.0.1:{http}

backend sess_b
    server b 127.0.0.1:{http}
"""


class LocalHAProxy(object):
    """One HAProxy process with the LOCAL_HAPROXY_CONFIG backends."""

    def __init__(self, directory, config, haproxy=None):
        self.haproxy = haproxy or HAPROXY
        self.dir = directory
        self.config = config
        self.admin_sock = os.path.join(directory, 'admin.sock')
        self.user_sock = os.path.join(directory, 'user.sock')
        self.proc = None
        self.session_threads = []
        self.ports = {}

    # -- process -----------------------------------------------------------------
    def start(self, ready=None, timeout=10):
        cfg = os.path.join(self.dir, 'haproxy.cfg')
        with open(cfg, 'w') as fh:
            fh.write(self.config)
        self.log = open(os.path.join(self.dir, 'haproxy.log'), 'w')
        self.proc = subprocess.Popen([self.haproxy, '-db', '-f', cfg], stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.dir)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                with open(os.path.join(self.dir, 'haproxy.log')) as fh:
                    raise RuntimeError('haproxy exited with %s: %s' % (self.proc.returncode, fh.read()))
            try:
                servers = self.servers()
                if ready is None or ready(servers):
                    return self
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.05)
        raise RuntimeError('haproxy did not become ready within %ss' % timeout)

    def stop(self):
        for thread in self.session_threads:
            thread.join(0)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, 'log', None):
            self.log.close()

    # -- reading -------------------------------------------------------------------
    def client(self, timeout=5):
        return HAProxyRuntime(self.admin_sock, timeout)

    def servers(self):
        return dict(('%s/%s' % (s['backend'], s['name']), s) for s in self.client().snapshot()['servers'])

    def fingerprint(self):
        """What haproxy_server may change: forced admin state bits and weight of every server."""
        return dict((key, (s['admin_state_raw'] & 0x09, s['weight'])) for key, s in self.servers().items())

    def cli(self, *commands):
        return self.client().execute(commands)

    def wait_for(self, predicate, timeout=5, what='condition'):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.servers()
            if predicate(last):
                return last
            time.sleep(0.05)
        raise AssertionError('timed out waiting for %s; last servers: %s' % (
            what, dict((k, (v['status'], v['admin_state'], v['current_sessions'])) for k, v in (last or {}).items())))

    # -- traffic -------------------------------------------------------------------
    def open_session(self, frontend, seconds):
        """Start a request through a frontend ('a' or 'b') that keeps a session open for ``seconds``."""
        port = self.ports['port_' + frontend]
        result = {}

        def request():
            try:
                with socket.create_connection(('127.0.0.1', port), timeout=seconds + 10) as sock:
                    sock.sendall(('GET /sleep/%s HTTP/1.0\r\nHost: x\r\n\r\n' % seconds).encode())
                    data = b''
                    while True:
                        chunk = sock.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    result['answer'] = data
            except OSError as exc:
                result['error'] = exc

        thread = threading.Thread(target=request, daemon=True)
        thread.start()
        self.session_threads.append(thread)
        return thread, result


def _local_haproxy_ready(servers):
    return (servers.get('web/dead', {}).get('state') == 'DOWN'
            and all(servers.get('web/%s' % n, {}).get('state') == 'UP' for n in ('s1', 's2', 's3')))


@pytest.fixture
def local_workdir():
    """The test's temporary directory: the local HAProxy's files, module arguments, generated playbooks."""
    # Not pytest's tmp_path: other users (the permission test) must be able to traverse it.
    directory = tempfile.mkdtemp(prefix='acgs-haproxy-')
    os.chmod(directory, 0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def local_haproxy(http_backend, local_workdir, haproxy_release):
    """A real HAProxy of ``haproxy_release`` on 127.0.0.1 (LOCAL_HAPROXY_CONFIG), started for the test and stopped after it."""
    haproxy = release_binaries.require(haproxy_release, 'haproxy')
    ports = dict(tcp_port=free_port(), port_a=free_port(), port_b=free_port(), closed=free_port())
    config = LOCAL_HAPROXY_CONFIG.format(dir=local_workdir, http=http_backend, **ports)
    instance = LocalHAProxy(local_workdir, config, haproxy)
    instance.ports = ports
    try:
        instance.start(ready=_local_haproxy_ready)
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def local_haproxy_1000_servers(local_workdir, haproxy_release):
    """HAProxy of ``haproxy_release`` with 1000 servers (no checks) in 10 backends."""
    haproxy = release_binaries.require(haproxy_release, 'haproxy')
    closed = free_port()
    lines = ['global', '    stats socket %s/admin.sock mode 600 level admin' % local_workdir, '    stats timeout 30s',
             '    maxconn 500', 'defaults', '    mode http', '    timeout connect 1s', '    timeout client 5s',
             '    timeout server 5s']
    for b in range(10):
        lines.append('backend be%d' % b)
        lines.extend('    server s%03d 127.0.0.1:%d' % (s, closed) for s in range(100))
    instance = LocalHAProxy(local_workdir, '\n'.join(lines) + '\n', haproxy)
    try:
        instance.start(ready=lambda servers: len(servers) == 1000)
        yield instance
    finally:
        instance.stop()


# -- running the modules -------------------------------------------------------------

def module_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([COLLECTIONS] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    return env


@pytest.fixture
def run_module_subprocess(local_workdir):
    """Run a module as its own process with JSON args, as Ansible does (fast path, no ansible-playbook)."""
    counter = [0]

    def run(name, args, user=None, check_mode=False, diff=False):
        args = dict(args)
        if check_mode:
            args['_ansible_check_mode'] = True
        if diff:
            args['_ansible_diff'] = True
        counter[0] += 1
        path = os.path.join(local_workdir, 'args-%d.json' % counter[0])
        with open(path, 'w') as fh:
            json.dump(dict(ANSIBLE_MODULE_ARGS=args), fh)
        os.chmod(path, 0o644)
        cmd = [sys.executable, '-m', 'ansible_collections.acgs.haproxy_stack.plugins.modules.%s' % name, path]
        if user is not None:
            cmd = ['setpriv', '--reuid=%s' % user, '--regid=%s' % user, '--clear-groups'] + cmd
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=module_env(), cwd=local_workdir,
                              check=False)
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError('module printed no JSON (rc %s): %s %s' % (proc.returncode, proc.stdout, proc.stderr))
        return result

    return run


@pytest.fixture
def run_playbook(local_workdir):
    """Run tasks through a real ansible-playbook from the repository (its ansible.cfg resolves the collection).

    Every task gets ``ignore_errors: true`` and ``register: tN`` (unless it has a register);
    returns (registered results by name, ansible-playbook stdout).
    """

    def run(tasks, extra_args=(), play_vars=None):
        names = []
        prepared = []
        for index, task in enumerate(tasks):
            task = dict(task)
            task.setdefault('ignore_errors', True)
            if 'block' in task:
                names.extend(inner['register'] for inner in task['block'] if 'register' in inner)
            else:
                task.setdefault('register', 't%d' % index)
                names.append(task['register'])
            prepared.append(task)
        out = os.path.join(local_workdir, 'results.json')
        collect = '{{ {%s} | to_json }}' % ', '.join("'%s': %s" % (n, n) for n in names)
        prepared.append({'name': 'Save results', 'ansible.builtin.copy': {'content': collect, 'dest': out,
                                                                          'mode': '0644'}})
        play = [{'name': 'test', 'hosts': 'localhost', 'gather_facts': False, 'vars': play_vars or {},
                 'tasks': prepared}]
        playbook = os.path.join(local_workdir, 'playbook.yml')
        with open(playbook, 'w') as fh:
            yaml.safe_dump(play, fh, sort_keys=False)
        env = dict(os.environ)
        env.pop('ANSIBLE_CONFIG', None)
        env['ANSIBLE_PYTHON_INTERPRETER'] = sys.executable
        env['ANSIBLE_NOCOLOR'] = '1'
        env['ANSIBLE_LOCAL_TEMP'] = os.path.join(local_workdir, 'ansible-local')
        cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', playbook] + list(extra_args)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=REPO, check=False)
        if proc.returncode != 0 or not os.path.exists(out):
            raise AssertionError('ansible-playbook failed (rc %s):\n%s\n%s'
                                 % (proc.returncode, proc.stdout, proc.stderr))
        with open(out) as fh:
            results = json.load(fh)
        os.unlink(out)
        return results, proc.stdout

    return run


def socket_is_private(path):
    return stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0
