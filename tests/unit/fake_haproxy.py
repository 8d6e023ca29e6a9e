# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake HAProxy runtime API for unit tests.

It speaks the real protocol (prompt mode, answers ended by an empty line and
"> ") over one end of a socketpair, served by a thread, and keeps a small model
of servers so that "set server" commands change what "show stat" and
"show servers state" return. Tests patch the ``socket`` name inside the
module_utils namespace with :class:`FakeSocketModule`.

Headers, "show info" and error texts come from a real HAProxy's canned answers
(``version``: fixtures/haproxy-2.6 or haproxy-3.0, see fixtures/capture.py), so
the model answers with that version's columns and wording.
"""

from __future__ import annotations

import errno
import os
import socket as real_socket
import threading

import yaml

import release_binaries

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
# Canned answers of each release's HAProxy (fixtures/haproxy-<version>/, made by fixtures/capture.py).
HAPROXY_VERSIONS = tuple(release_binaries.haproxy_version(release) for release in release_binaries.RELEASES)
DEFAULT_VERSION = HAPROXY_VERSIONS[0]


def fixture_path(version, name):
    return os.path.join(FIXTURES, 'haproxy-%s' % version, name)


def fixture_text(version, name):
    with open(fixture_path(version, name)) as fh:
        return fh.read()


def as_executed(raw):
    """A captured answer as HAProxyRuntime.execute returns it: without HAProxy's terminating empty line."""
    return raw[:-1] if raw == '\n' or raw.endswith('\n\n') else raw


_CANNED = {}


def canned_answers(version):
    """answers.yml of ``version``: command -> answer (as_executed); commands sent on a "level user" socket
    end with " (level user)"."""
    if version not in _CANNED:
        with open(fixture_path(version, 'answers.yml')) as fh:
            _CANNED[version] = dict((cmd, as_executed(raw)) for cmd, raw in yaml.safe_load(fh).items())
    return _CANNED[version]


class Canned(object):
    """What the fake copies from a HAProxy version's canned answers: headers, "show info", error texts."""

    def __init__(self, version):
        self.version = version
        self.stat_header = fixture_text(version, 'show_stat.txt').split('\n', 1)[0]
        self.stat_columns = self.stat_header[2:].rstrip(',').split(',')
        self.state_header = fixture_text(version, 'show_servers_state.txt').split('\n')[1]
        self.info = as_executed(fixture_text(version, 'show_info.txt'))
        answers = canned_answers(version)
        self.no_backend = answers['set server nope/x state ready']
        self.no_server = answers['set server be1/nope state ready']
        self.bad_state = answers['set server be1/up1 state down']
        self.bad_weight = answers['set server be1/up1 weight 300']
        self.static_weight = answers['set server st/st1 weight 3']
        self.denied = answers['set server be1/up1 state maint (level user)']
        self.unknown = answers['bogus']


class Server(object):
    def __init__(self, backend, name, status='UP', admin=0, op=2, weight=1, iweight=None, scur=0,
                 check_status='L7OK', addr='127.0.0.1:8080', lastchg=10, tracked='', health=None):
        self.backend = backend
        self.name = name
        self.status = status        # None: computed from admin/health
        self.admin = admin
        self.op = op
        self.weight = weight
        self.iweight = weight if iweight is None else iweight
        self.scur = scur
        self.check_status = check_status
        self.addr = addr
        self.lastchg = lastchg
        self.tracked = tracked
        self.healthy = health if health is not None else status not in ('DOWN',)

    def shown_status(self):
        if self.status is not None:
            return self.status
        if self.admin & 0x23:
            return 'MAINT'
        if not self.healthy:
            return 'DOWN'
        if self.admin & 0x18:
            return 'DRAIN'
        return 'UP'


class FakeHAProxy(object):
    """Model of a HAProxy process answering runtime API commands."""

    def __init__(self, servers=None, level='admin', static_backends=(), backends=None, version=DEFAULT_VERSION):
        self.canned = Canned(version)
        self.servers = list(servers or [])
        self.level = level
        self.static_backends = set(static_backends)
        self.extra_backends = list(backends or [])
        self.log = []              # every command received
        self.connections = 0
        self.answer_override = {}  # command -> raw answer
        self.on_show_stat = None   # callable(fake) run before each "show stat"
        self.lock = threading.Lock()

    # -- model -------------------------------------------------------------
    def backend_names(self):
        names = []
        for srv in self.servers:
            if srv.backend not in names:
                names.append(srv.backend)
        for name in self.extra_backends:
            if name not in names:
                names.append(name)
        return names

    def find(self, path):
        backend, dummy, name = path.partition('/')
        if backend not in self.backend_names():
            return None, self.canned.no_backend
        for srv in self.servers:
            if srv.backend == backend and srv.name == name:
                return srv, None
        return None, self.canned.no_server

    def get(self, backend, name):
        return self.find('%s/%s' % (backend, name))[0]

    def state_of(self):
        return dict(('%s/%s' % (s.backend, s.name), (s.admin, s.weight)) for s in self.servers)

    def stat_answer(self, types):
        lines = [self.canned.stat_header]
        col = dict((name, i) for i, name in enumerate(self.canned.stat_columns))
        width = len(col)

        def row(values):
            fields = [''] * width
            for key, value in values.items():
                fields[col[key]] = '' if value is None else str(value)
            return ','.join(fields) + ','

        for b_index, backend in enumerate(self.backend_names()):
            if types & 1 and b_index == 0:
                lines.append(row(dict(pxname='fe', svname='FRONTEND', scur=1, smax=5, slim=1000, stot=42, bin=1,
                                      bout=2, status='OPEN', iid=2, type=0, req_rate=0, req_tot=41, mode='http')))
            if types & 4:
                for sid, srv in enumerate([s for s in self.servers if s.backend == backend], 1):
                    effective = 0 if srv.admin & 0x3b or not srv.healthy else srv.weight
                    lines.append(row(dict(pxname=backend, svname=srv.name, qcur=0, scur=srv.scur, smax=srv.scur,
                                          stot=7, status=srv.shown_status(), weight=effective, act=1, bck=0,
                                          lastchg=srv.lastchg, downtime=0, iid=3 + b_index, sid=sid, type=2,
                                          tracked=srv.tracked, check_status=srv.check_status, check_code='',
                                          check_desc='x, y', addr=srv.addr, mode='http', uweight=srv.weight)))
            if types & 2:
                algo = 'static-rr' if backend in self.static_backends else 'roundrobin'
                lines.append(row(dict(pxname=backend, svname='BACKEND', scur=0, stot=7, status='UP', weight=3,
                                      act=2, bck=0, lastchg=99, downtime=0, iid=3 + b_index, type=1,
                                      mode='http', algo=algo)))
        return '\n'.join(lines) + '\n'

    def servers_state_answer(self, only=None):
        lines = ['1', self.canned.state_header]
        for b_index, backend in enumerate(self.backend_names()):
            if only and backend != only:
                continue
            for sid, srv in enumerate([s for s in self.servers if s.backend == backend], 1):
                host, dummy, port = srv.addr.rpartition(':')
                lines.append('%d %s %d %s %s %d %d %d %d %d 15 3 4 6 0 0 0 - %s - 0 0 - - 0' % (
                    3 + b_index, backend, sid, srv.name, host, srv.op, srv.admin, srv.weight, srv.iweight,
                    srv.lastchg, port))
        return '\n'.join(lines) + '\n'

    def handle(self, cmd):
        """Answer one command (without its terminating empty line)."""
        self.log.append(cmd)
        if cmd in self.answer_override:
            return self.answer_override[cmd]
        words = cmd.split()
        if not words:
            return ''
        if cmd == 'show info':
            return self.canned.info
        if words[:2] == ['show', 'stat']:
            if self.on_show_stat:
                self.on_show_stat(self)
            types = 7
            if len(words) >= 5:
                types = int(words[3]) if words[3] != '-1' else 7
            return self.stat_answer(types)
        if words[:3] == ['show', 'servers', 'state']:
            return self.servers_state_answer(words[3] if len(words) > 3 else None)
        if cmd == 'show backend':
            return '# name\n' + ''.join(name + '\n' for name in self.backend_names())
        if words[:2] == ['set', 'server'] and len(words) >= 5:
            if self.level != 'admin':
                return self.canned.denied
            srv, error = self.find(words[2])
            if error:
                return error
            if words[3] == 'state':
                if words[4] == 'ready':
                    srv.admin &= ~0x09
                elif words[4] == 'drain':
                    srv.admin = (srv.admin & ~0x01) | 0x08
                elif words[4] == 'maint':
                    srv.admin |= 0x01
                else:
                    return self.canned.bad_state
                srv.op = 0 if srv.admin & 0x23 or not srv.healthy else 2
                return ''
            if words[3] == 'weight':
                value = words[4]
                number = int(value.rstrip('%'))
                if value.endswith('%'):
                    number = min(256, srv.iweight * number // 100)
                elif not 0 <= number <= 256:
                    return self.canned.bad_weight
                if number and number != srv.iweight and srv.backend in self.static_backends:
                    return self.canned.static_weight
                srv.weight = number
                return ''
        if words[:3] == ['shutdown', 'sessions', 'server'] and len(words) == 4:
            if self.level != 'admin':
                return self.canned.denied
            srv, error = self.find(words[3])
            if error:
                return error
            srv.scur = 0
            return ''
        return self.canned.unknown

    # -- protocol ------------------------------------------------------------
    def serve(self, conn, close_after=None, silent=False):
        """Serve one connection (thread target)."""
        buf = b''
        prompt = False
        answered = 0
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                if silent:
                    continue
                buf += data
                while b'\n' in buf:
                    line, buf = buf.split(b'\n', 1)
                    cmd = line.decode().strip()
                    if cmd == 'quit' and prompt:
                        return
                    if close_after is not None and answered >= close_after:
                        conn.sendall(b'partial answer that is cut')
                        return
                    if cmd == 'prompt':
                        prompt = not prompt
                        out = '\n'
                    else:
                        with self.lock:
                            out = self.handle(cmd)
                        out += '\n'
                    answered += 1
                    if prompt:
                        out += '> '
                    conn.sendall(out.encode())
                    if not prompt:
                        return
        except OSError:
            return
        finally:
            try:
                conn.shutdown(real_socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


class FakeSocket(object):
    """Client end handed to the code under test; connect() is a no-op or raises."""

    def __init__(self, sock, connect_error=None):
        self._sock = sock
        self._connect_error = connect_error
        self.target = None

    def connect(self, target):
        self.target = target
        if self._connect_error is not None:
            raise self._connect_error

    def __getattr__(self, name):
        return getattr(self._sock, name)


class FakeSocketModule(object):
    """Stands in for the ``socket`` module inside plugins/module_utils/_haproxy.py."""

    AF_UNIX = real_socket.AF_UNIX
    AF_INET = real_socket.AF_INET
    SOCK_STREAM = real_socket.SOCK_STREAM
    timeout = real_socket.timeout
    gaierror = real_socket.gaierror

    def __init__(self, fake, connect_error=None, close_after=None, silent=False):
        self.fake = fake
        self.connect_error = connect_error
        self.close_after = close_after
        self.silent = silent
        self.threads = []
        self.sockets = []

    def getaddrinfo(self, host, port, family=0, socktype=0):
        if host == 'unresolvable.invalid':
            raise real_socket.gaierror(-2, 'Name or service not known')
        return [(real_socket.AF_INET, real_socket.SOCK_STREAM, 6, '', (host, port))]

    def socket(self, family=None, socktype=None, proto=0):
        client, server = real_socket.socketpair()
        self.fake.connections += 1
        if self.connect_error is None:
            thread = threading.Thread(target=self.fake.serve, args=(server, self.close_after, self.silent))
            thread.daemon = True
            thread.start()
            self.threads.append(thread)
        else:
            server.close()
        wrapped = FakeSocket(client, self.connect_error)
        self.sockets.append((client, server))
        return wrapped

    def close(self):
        for client, server in self.sockets:
            for sock in (client, server):
                try:
                    sock.close()
                except OSError:
                    pass
        for thread in self.threads:
            thread.join(2)


def oserror(code):
    return OSError(code, os.strerror(code))


CONNECT_ERRORS = {
    'refused': oserror(errno.ECONNREFUSED),
    'denied': PermissionError(errno.EACCES, os.strerror(errno.EACCES)),
    'timeout': real_socket.timeout('timed out'),
}
