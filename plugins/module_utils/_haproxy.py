# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Client for HAProxy's runtime API (the "stats socket" CLI).

This module is private to the acgs.haproxy_stack collection (hence the leading
underscore): its API may change in any release.

Design notes
============

* Every exchange uses one connection in *interactive* ("prompt") mode: we send
  ``prompt\\n``, then every command on its own line, then ``quit\\n``, and read
  until HAProxy closes the connection. Each command's answer is terminated by
  an empty line followed by the ``"> "`` prompt, and HAProxy guarantees that no
  answer contains an empty line, so the stream splits unambiguously into one
  answer per command. Sending and reading happen concurrently (selectors), so
  thousands of commands can be pipelined without dead-locking on socket
  buffers. Measured on HAProxy 2.6 with 1000 ``set server`` commands this takes
  a few milliseconds; ``;``-chained lines are not measurably faster, but they
  are limited to ``tune.bufsize`` per line and need escaping, so one command
  per line is used.
* ``timeout`` is an inactivity timeout: connecting, and every wait for HAProxy
  to accept or produce more bytes, must complete within it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import errno
import fnmatch
import os
import re
import selectors
import socket
import stat
import time

DEFAULT_SOCKET = '/run/haproxy/admin.sock'
DEFAULT_TIMEOUT = 5.0

HAPROXY_COMMON_ARGS = dict(
    socket=dict(type='str', default=DEFAULT_SOCKET),
    timeout=dict(type='float', default=DEFAULT_TIMEOUT),
)

# srv_admin_state bits (HAProxy management guide, "show servers state").
ADMIN_FLAGS = (
    (0x01, 'FMAINT'),  # forced into maintenance (CLI, "disabled" keyword...)
    (0x02, 'IMAINT'),  # maintenance inherited from a tracked server
    (0x04, 'CMAINT'),  # "disabled" in the configuration (stays set after "ready")
    (0x08, 'FDRAIN'),  # forced into drain
    (0x10, 'IDRAIN'),  # drain inherited from a tracked server
    (0x20, 'RMAINT'),  # maintenance because of a DNS resolution failure
    (0x40, 'HMAINT'),  # FQDN set from the stats socket (not a maintenance)
)
ADMIN_MAINT_MASK = 0x01 | 0x02 | 0x20
ADMIN_DRAIN_MASK = 0x08 | 0x10
ADMIN_FORCED_MAINT = 0x01
ADMIN_FORCED_DRAIN = 0x08

# srv_op_state values.
OPERATIONAL_STATES = {0: 'stopped', 1: 'starting', 2: 'running', 3: 'stopping'}

SERVER_STATES = ('ready', 'drain', 'maint')

# Keys of a server dict (build_servers) that haproxy_info returns by default;
# the others need details=true. Fewer keys keep big results fast to return.
SERVER_SUMMARY_KEYS = (
    'backend', 'name', 'address', 'status', 'state', 'transition', 'via',
    'admin_state', 'forced_admin_state', 'operational_state', 'weight',
    'initial_weight', 'current_sessions', 'check_status', 'last_change',
)

_STATUS_RE = re.compile(
    r'^(?P<word>UP|DOWN|NOLB|DRAIN|MAINT|no check|OPEN|STOP|FULL)'
    r'(?:\s+(?P<cur>\d+)/(?P<tot>\d+))?'
    r'(?:\s*\((?P<detail>[^)]*)\))?\s*$'
)
_GLOB_CHARS = re.compile(r'[*?\[]')
_AMOUNT_RE = re.compile(r'^\s*(?P<value>\d+)\s*(?P<pct>%)?\s*$')
_INT_RE = re.compile(r'^-?\d+$')

# First lines HAProxy uses for error answers. Answers to action commands
# ("set server ...") are empty on success, so any text there is an error; this
# list only serves to recognise errors in answers to "show" commands.
_ERROR_PREFIXES = (
    'No such', 'Unknown command', 'Permission denied', "Can't find",
    'Require ', 'Invalid ', 'Missing ', 'Unable to', 'Unexpected',
)


class HAProxyError(Exception):
    """Base class of every error raised by this module."""

    def __init__(self, msg, socket_spec=None, command=None, answer=None):
        super(HAProxyError, self).__init__(msg)
        self.msg = msg
        self.socket_spec = socket_spec
        self.command = command
        self.answer = answer

    def __str__(self):
        return self.msg


class HAProxyConnectionError(HAProxyError):
    """The runtime API could not be reached."""


class HAProxySocketMissing(HAProxyConnectionError):
    """The unix socket path does not exist."""


class HAProxyNotASocket(HAProxyConnectionError):
    """The path exists but is not a unix socket."""


class HAProxyPermissionDenied(HAProxyConnectionError):
    """The operating system refused access to the socket."""


class HAProxyConnectionRefused(HAProxyConnectionError):
    """Nothing listens there (stale socket file, HAProxy stopped, wrong port)."""


class HAProxyTimeout(HAProxyError):
    """HAProxy did not answer within the timeout."""


class HAProxyProtocolError(HAProxyError):
    """HAProxy's answer could not be understood (or was cut short)."""


class HAProxyCommandError(HAProxyError):
    """HAProxy answered a command with an error message."""


def is_glob(pattern):
    return bool(_GLOB_CHARS.search(pattern or ''))


def match_names(pattern, names):
    """Names (in order) matching ``pattern``: a glob if it has glob characters, else exact."""
    if is_glob(pattern):
        return [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    return [n for n in names if n == pattern]


def name_matches(pattern, name):
    if is_glob(pattern):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern


def select_servers(patterns, servers, backend_names=None, on_no_match='error'):
    """Match (backend, server) name patterns against the servers HAProxy has.

    ``patterns`` are (backend, server) pairs of names or glob patterns; a backend of None means every backend.
    ``servers`` are server dicts (build_servers) in HAProxy's order; ``backend_names`` every backend in order,
    those without servers included (None: the backends of ``servers``).

    Returns one dict per pattern: ``backends`` (the backend names it matches), ``servers`` (the servers it
    matches, in HAProxy's order) and ``missing``: None, ``'backend'`` (no backend matches) or ``'server'``
    (backends match, none of their servers does). What matches nothing is missing with
    ``on_no_match='error'``; with ``'ignore'`` only a pattern without glob characters is (a name that does not
    exist is always missing, a glob may match nothing).
    """
    if on_no_match not in ('error', 'ignore'):
        raise ValueError('on_no_match must be error or ignore, got %r' % (on_no_match,))
    by_backend = {}
    by_key = {}
    for server in servers:
        by_backend.setdefault(server['backend'], []).append(server)
        by_key.setdefault((server['backend'], server['name']), []).append(server)
    if backend_names is None:
        backend_names = list(by_backend)
    known = set(backend_names)
    results = []
    for backend, name in patterns:
        if backend is None:
            backends = list(backend_names)
        elif is_glob(backend):
            backends = [b for b in backend_names if fnmatch.fnmatchcase(b, backend)]
        else:
            backends = [backend] if backend in known else []
        if is_glob(name):
            matched = [s for b in backends for s in by_backend.get(b, ()) if fnmatch.fnmatchcase(s['name'], name)]
        else:
            matched = [s for b in backends for s in by_key.get((b, name), ())]
        missing = None
        if not matched and (on_no_match == 'error' or not (is_glob(backend) or is_glob(name))):
            missing = 'server' if backends else 'backend'
        results.append(dict(backends=backends, servers=matched, missing=missing))
    return results


def normalize_items(items, option, keys, use, expected, convert):
    """Normalise the items of a list option where each item is a dictionary or a string.

    A dictionary item may only have ``keys`` (the error names them as ``use``); anything but a dictionary or a
    string is refused with "expected ``expected``". ``convert(item)`` gets each dictionary or string item and
    returns its normalised form, or raises ValueError with a message that is prefixed with the item's label.

    Returns (items, errors): items are (label, normalised item) pairs, the label being "option[index]"; an
    item that is refused is left out, with one error naming its label.
    """
    result = []
    errors = []
    for index, item in enumerate(items or []):
        label = '%s[%d]' % (option, index)
        if isinstance(item, dict):
            unknown = sorted(set(item) - set(keys))
            if unknown:
                errors.append('%s: unknown key(s) %s; use %s' % (label, ', '.join(unknown), use))
                continue
        elif not isinstance(item, str):
            errors.append('%s: expected %s, got %s' % (label, expected, type(item).__name__))
            continue
        try:
            result.append((label, convert(item)))
        except ValueError as exc:
            errors.append('%s: %s' % (label, exc))
    return result, errors


def wait_for(predicate, timeout, interval):
    """Call ``predicate()`` every ``interval`` seconds until it returns a true value or ``timeout`` seconds pass.

    It is called at least once, and once more at the deadline if the interval does not end on it. Returns
    (held, waited): whether the predicate held, and the seconds spent (to the millisecond). Exceptions raised
    by the predicate propagate.
    """
    start = time.time()
    deadline = start + timeout
    while True:
        if predicate():
            return True, round(time.time() - start, 3)
        now = time.time()
        if now >= deadline:
            return False, round(now - start, 3)
        time.sleep(max(0.0, min(interval, deadline - now)))


def parse_amount(value, max_abs=None, allow_percent=True, max_percent=None, name='value'):
    """Parse an amount: an integer >= 0 (at most ``max_abs``) or, with ``allow_percent``, "N%" (at most ``max_percent``).

    Returns (number, is_percent); raises ValueError with a message naming ``name``.
    """
    what = 'an integer >= 0' if max_abs is None else 'an integer from 0 to %d' % max_abs
    if allow_percent:
        what += ' or a percentage such as "50%"'
    match = None if isinstance(value, bool) or value is None else _AMOUNT_RE.match(str(value))
    if not match or (match.group('pct') and not allow_percent):
        raise ValueError('%s must be %s, got %r' % (name, what, value))
    number = int(match.group('value'))
    if match.group('pct'):
        if max_percent is not None and number > max_percent:
            raise ValueError('%s %d%% is more than %d%%' % (name, number, max_percent))
        return number, True
    if max_abs is not None and number > max_abs:
        raise ValueError('%s %d is out of range: an absolute %s must be between 0 and %d' % (name, number, name, max_abs))
    return number, False


def parse_weight(value):
    """Parse a weight: int 0-256 or "N%". Returns (number, is_percent); raises ValueError."""
    return parse_amount(value, max_abs=256, name='weight')


def absolute_weight(value, initial_weight):
    """Absolute weight HAProxy will apply for ``value`` given the server's initial weight."""
    number, percent = parse_weight(value)
    if not percent:
        return number
    number = min(number, 25600)
    return min(256, (int(initial_weight) * number) // 100)


_STATUS_CACHE = {}


def parse_status(status):
    """Split a "show stat" status such as "DOWN 2/3" or "MAINT (via be/srv)".

    Returns a dict with ``state`` (UP, DOWN, NOLB, DRAIN, MAINT, NO CHECK,
    OPEN, STOP, FULL or the upper-cased first word of an unknown status),
    ``transition`` ("going up", "going down" or None), ``checks`` ("2/3" or
    None), ``via`` (tracked "backend/server" a maintenance is inherited from)
    and ``detail`` (text in parentheses, e.g. "agent", "resolution").
    """
    status = (status or '').strip()
    parsed = _STATUS_CACHE.get(status)
    if parsed is None:
        parsed = _parse_status(status)
        if len(_STATUS_CACHE) < 4096:
            _STATUS_CACHE[status] = parsed
    return dict(parsed)


def _parse_status(status):
    result = dict(state=None, transition=None, checks=None, via=None, detail=None)
    if not status:
        return result
    match = _STATUS_RE.match(status)
    if not match:
        result['state'] = status.split()[0].upper()
        return result
    word = match.group('word')
    result['state'] = 'NO CHECK' if word == 'no check' else word
    if match.group('cur') is not None:
        result['checks'] = '%s/%s' % (match.group('cur'), match.group('tot'))
        # "DOWN n/m": failing server passing checks; "UP n/m" (or NOLB/DRAIN): up but failing checks.
        result['transition'] = 'going up' if word == 'DOWN' else 'going down'
    detail = match.group('detail')
    if detail:
        result['detail'] = detail
        if detail.startswith('via '):
            result['via'] = detail[4:].strip()
    return result


def admin_flags(value):
    value = int(value or 0)
    return [name for bit, name in ADMIN_FLAGS if value & bit]


def admin_state(value):
    """Effective administrative state: maint, drain or ready."""
    value = int(value or 0)
    if value & ADMIN_MAINT_MASK:
        return 'maint'
    if value & ADMIN_DRAIN_MASK:
        return 'drain'
    return 'ready'


def forced_admin_state(value):
    """Administrative state set on the server itself (what "set server state" changes)."""
    value = int(value or 0)
    if value & ADMIN_FORCED_MAINT:
        return 'maint'
    if value & ADMIN_FORCED_DRAIN:
        return 'drain'
    return 'ready'


def _to_int(value):
    if value is None:
        return None
    if _INT_RE.match(value):
        return int(value)
    return None


def parse_info(text):
    """Parse "show info" into a dict (integers converted)."""
    info = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(':')
        if not sep:
            raise HAProxyProtocolError('unexpected line in "show info" answer: %r' % line, answer=text)
        value = value.strip()
        number = _to_int(value)
        info[key.strip()] = number if number is not None else value
    if 'Name' not in info and 'Version' not in info:
        raise HAProxyProtocolError('"show info" answer has no Name/Version', answer=text)
    return info


# "show stat" columns the builders below use; parse_stat() keeps only these by
# default (the CSV has about 180 columns, building full dicts would be slow).
STAT_COLUMNS = (
    'pxname', 'svname', 'qcur', 'scur', 'smax', 'slim', 'stot', 'bin', 'bout',
    'status', 'weight', 'act', 'bck', 'lastchg', 'downtime', 'iid', 'sid',
    'tracked', 'type', 'check_status', 'check_code', 'req_rate', 'req_tot',
    'check_desc', 'addr', 'mode', 'algo', 'uweight',
)


def parse_stat(text, columns=STAT_COLUMNS):
    """Parse "show stat" CSV into a list of dicts keyed by the header's column names.

    Values are strings. ``columns`` selects the columns to keep (None: all).
    """
    lines = text.splitlines()
    if not lines or not lines[0].startswith('# '):
        raise HAProxyProtocolError('"show stat" answer has no "# pxname,..." header', answer=text)
    header = lines[0][2:].rstrip(',').split(',')
    if columns is None:
        columns = header
    wanted = [(name, header.index(name)) for name in columns if name in header]
    rows = []
    for row in csv.reader(line for line in lines[1:] if line):
        size = len(row)
        rows.append(dict((name, row[index]) for name, index in wanted if index < size))
    return rows


def parse_servers_state(text):
    """Parse "show servers state" (format version 1) into a list of dicts (values are strings)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].strip() != '1':
        raise HAProxyProtocolError('"show servers state" answer is not format version 1', answer=text)
    if len(lines) < 2 or not lines[1].startswith('#'):
        raise HAProxyProtocolError('"show servers state" answer has no "# be_id ..." header', answer=text)
    header = lines[1][1:].split()
    rows = []
    for line in lines[2:]:
        if line.startswith('#'):
            continue
        rows.append(dict(zip(header, line.split(' '))))
    return rows


def _num(row, key):
    value = row.get(key)
    if value is None or value == '':
        return None
    try:
        return int(value)
    except ValueError:
        return None


def build_servers(stat_rows, state_rows):
    """Merge "show stat" server rows with "show servers state" rows.

    Returns a list of dicts, one per server, in HAProxy's order.
    """
    states = {}
    for row in state_rows:
        states[(row.get('be_name'), row.get('srv_name'))] = row
    servers = []
    for row in stat_rows:
        if row.get('svname') in ('FRONTEND', 'BACKEND') or row.get('type') not in (None, '2'):
            continue
        backend = row.get('pxname')
        name = row.get('svname')
        st = states.get((backend, name), {})
        status = row.get('status') or ''
        parsed = parse_status(status)
        admin_raw = _num(st, 'srv_admin_state')
        op_raw = _num(st, 'srv_op_state')
        check_status = (row.get('check_status') or '').lstrip('* ') or None
        address = row.get('addr') or None
        if not address and st.get('srv_addr') not in (None, '-'):
            address = '%s:%s' % (st.get('srv_addr'), st.get('srv_port'))
        weight = _num(st, 'srv_uweight')
        if weight is None:
            weight = _num(row, 'uweight')
        if weight is None:
            weight = _num(row, 'weight')
        servers.append(dict(
            backend=backend,
            name=name,
            id=_num(row, 'sid'),
            address=address,
            status=status,
            state=parsed['state'],
            transition=parsed['transition'],
            checks=parsed['checks'],
            via=parsed['via'],
            status_detail=parsed['detail'],
            tracked=row.get('tracked') or None,
            admin_state=admin_state(admin_raw) if admin_raw is not None else None,
            forced_admin_state=forced_admin_state(admin_raw) if admin_raw is not None else None,
            admin_flags=admin_flags(admin_raw) if admin_raw is not None else [],
            admin_state_raw=admin_raw,
            operational_state=OPERATIONAL_STATES.get(op_raw) if op_raw is not None else None,
            operational_state_raw=op_raw,
            weight=weight,
            initial_weight=_num(st, 'srv_iweight'),
            effective_weight=_num(row, 'weight'),
            current_sessions=_num(row, 'scur') or 0,
            max_sessions=_num(row, 'smax'),
            session_limit=_num(row, 'slim'),
            total_sessions=_num(row, 'stot'),
            queue=_num(row, 'qcur'),
            check_status=check_status,
            check_code=_num(row, 'check_code'),
            check_desc=row.get('check_desc') or None,
            last_change=_num(row, 'lastchg'),
            downtime=_num(row, 'downtime'),
        ))
    return servers


def build_frontends(stat_rows):
    result = []
    for row in stat_rows:
        if row.get('svname') != 'FRONTEND':
            continue
        result.append(dict(
            name=row.get('pxname'),
            id=_num(row, 'iid'),
            status=row.get('status'),
            mode=row.get('mode') or None,
            current_sessions=_num(row, 'scur') or 0,
            max_sessions=_num(row, 'smax'),
            session_limit=_num(row, 'slim'),
            total_sessions=_num(row, 'stot'),
            bytes_in=_num(row, 'bin'),
            bytes_out=_num(row, 'bout'),
            request_rate=_num(row, 'req_rate'),
            requests_total=_num(row, 'req_tot'),
        ))
    return result


def build_backends(stat_rows):
    result = []
    for row in stat_rows:
        if row.get('svname') != 'BACKEND':
            continue
        status = row.get('status') or ''
        result.append(dict(
            name=row.get('pxname'),
            id=_num(row, 'iid'),
            status=status,
            state=parse_status(status)['state'],
            mode=row.get('mode') or None,
            algo=row.get('algo') or None,
            active_servers=_num(row, 'act'),
            backup_servers=_num(row, 'bck'),
            weight=_num(row, 'weight'),
            current_sessions=_num(row, 'scur') or 0,
            max_sessions=_num(row, 'smax'),
            total_sessions=_num(row, 'stot'),
            queue=_num(row, 'qcur'),
            last_change=_num(row, 'lastchg'),
            downtime=_num(row, 'downtime'),
        ))
    return result


def looks_like_error(answer):
    first = answer.lstrip().split('\n', 1)[0]
    return first.startswith(_ERROR_PREFIXES)


def parse_socket_spec(spec):
    """Return ('unix', path) or ('tcp', (host, port))."""
    spec = (spec or '').strip()
    if not spec:
        raise HAProxyConnectionError('socket must be a unix socket path or "host:port", got an empty value')
    for prefix, kind in (('unix@', 'unix'), ('unix:', 'unix'), ('tcp:', 'tcp'), ('tcp@', 'tcp'),
                         ('ipv4@', 'tcp'), ('ipv6@', 'tcp')):
        if spec.startswith(prefix):
            spec = spec[len(prefix):]
            if kind == 'unix':
                return 'unix', os.path.expanduser(spec)
            break
    else:
        if '/' in spec or spec.startswith('~') or ':' not in spec:
            return 'unix', os.path.expanduser(spec)
    host, sep, port = spec.rpartition(':')
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise HAProxyConnectionError('socket %r is neither a unix socket path nor "host:port"' % spec)
    if host.startswith('[') and host.endswith(']'):
        host = host[1:-1]
    return 'tcp', (host, int(port))


class HAProxyRuntime(object):
    """One HAProxy runtime API endpoint."""

    def __init__(self, socket_spec=DEFAULT_SOCKET, timeout=DEFAULT_TIMEOUT):
        self.socket_spec = socket_spec
        self.kind, self.address = parse_socket_spec(socket_spec)
        self.timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        if self.timeout <= 0:
            raise HAProxyConnectionError('timeout must be a positive number of seconds, got %r' % (timeout,))

    @property
    def where(self):
        if self.kind == 'unix':
            return 'unix socket %s' % self.address
        return 'TCP %s:%s' % self.address

    def _error(self, cls, msg, **kwargs):
        return cls('%s: %s' % (self.where, msg), socket_spec=self.socket_spec, **kwargs)

    def _connect(self):
        if self.kind == 'unix':
            path = self.address
            try:
                mode = os.stat(path).st_mode
            except FileNotFoundError:
                parent = os.path.dirname(path) or '.'
                hint = '' if os.path.isdir(parent) else ' (directory %s does not exist either)' % parent
                raise self._error(HAProxySocketMissing,
                                  'no such file%s; is HAProxy running with "stats socket %s" in its global section?'
                                  % (hint, path))
            except PermissionError:
                raise self._error(HAProxyPermissionDenied,
                                  'permission denied while looking up the path; run the task with become or '
                                  'grant access to the socket directory')
            if not stat.S_ISSOCK(mode):
                raise self._error(HAProxyNotASocket, 'path exists but is not a unix socket')
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target = path
        else:
            host, port = self.address
            try:
                infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise self._error(HAProxyConnectionError, 'cannot resolve %s: %s' % (host, exc))
            family, socktype, proto, dummy, target = infos[0]
            sock = socket.socket(family, socktype, proto)
        sock.settimeout(self.timeout)
        try:
            sock.connect(target)
        except socket.timeout:
            sock.close()
            raise self._error(HAProxyTimeout, 'connection timed out after %ss' % self.timeout)
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise self._error(HAProxyPermissionDenied,
                                  'permission denied (%s); run the task with become or give the user access to '
                                  'the socket (stats socket ... mode/user/group)' % exc.strerror)
            if exc.errno == errno.ECONNREFUSED:
                raise self._error(HAProxyConnectionRefused,
                                  'connection refused: nothing listens there (stale socket file or HAProxy stopped)')
            if exc.errno == errno.ENOENT:
                raise self._error(HAProxySocketMissing, 'no such file')
            raise self._error(HAProxyConnectionError, 'cannot connect: %s' % exc)
        return sock

    def _exchange(self, payload):
        """Send ``payload`` and read until HAProxy closes the connection."""
        sock = self._connect()
        sel = selectors.DefaultSelector()
        chunks = []
        try:
            sock.setblocking(False)
            view = memoryview(payload)
            sent = 0
            sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            while True:
                events = sel.select(self.timeout)
                if not events:
                    raise self._error(HAProxyTimeout, 'no answer within %ss (sent %d of %d bytes, received %d bytes)'
                                      % (self.timeout, sent, len(payload), sum(len(c) for c in chunks)))
                mask = events[0][1]
                if mask & selectors.EVENT_WRITE and sent < len(payload):
                    try:
                        sent += sock.send(view[sent:sent + 262144])
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError as exc:
                        # HAProxy closed early (e.g. stats timeout); keep what it answered.
                        if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                            raise self._error(HAProxyConnectionError, 'send failed: %s' % exc)
                        sent = len(payload)
                    if sent >= len(payload):
                        sel.modify(sock, selectors.EVENT_READ)
                if mask & selectors.EVENT_READ:
                    try:
                        data = sock.recv(1048576)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as exc:
                        if exc.errno == errno.ECONNRESET:
                            break
                        raise self._error(HAProxyConnectionError, 'receive failed: %s' % exc)
                    if not data:
                        break
                    chunks.append(data)
        finally:
            sel.close()
            sock.close()
        return b''.join(chunks)

    def execute(self, commands):
        """Run ``commands`` over one connection; return one answer (str) per command.

        Answers are returned verbatim (without the trailing empty line); use
        :meth:`run` to turn error answers into exceptions.
        """
        commands = list(commands)
        for cmd in commands:
            if '\n' in cmd or '\r' in cmd:
                raise HAProxyCommandError('%s: command contains a line break: %r' % (self.where, cmd),
                                          socket_spec=self.socket_spec, command=cmd)
        payload = 'prompt\n' + ''.join(cmd + '\n' for cmd in commands) + 'quit\n'
        data = self._exchange(payload.encode('utf-8'))
        answers, rest = split_prompt_answers(data.decode('utf-8', 'replace'))
        if not answers:
            if rest.strip():
                # Not in prompt mode: e.g. a master CLI or something else than HAProxy.
                raise self._error(HAProxyProtocolError, 'unexpected answer to "prompt": %r' % rest[:200],
                                  answer=rest)
            raise self._error(HAProxyProtocolError, 'HAProxy closed the connection without answering')
        # The first answer is the one to "prompt" itself.
        answers = answers[1:]
        if len(answers) < len(commands):
            missing = commands[len(answers)]
            raise self._error(HAProxyProtocolError,
                              'HAProxy answered only %d of %d commands, the answer to "%s" was %s (connection closed '
                              'early; check "stats timeout")'
                              % (len(answers), len(commands), missing, 'cut short' if rest else 'missing'),
                              command=missing, answer=rest or None)
        return answers[:len(commands)]

    def run(self, command, expect_empty=False):
        """Run one command; raise HAProxyCommandError for an error answer."""
        answer = self.execute([command])[0]
        self.check_answer(command, answer, expect_empty=expect_empty)
        return answer

    def check_answer(self, command, answer, expect_empty=False):
        if (expect_empty and answer.strip()) or looks_like_error(answer):
            raise self._error(HAProxyCommandError, 'command "%s" failed: %s'
                              % (command, ' '.join(answer.strip().splitlines()[:3])), command=command, answer=answer)

    def apply(self, commands, rollback_for):
        """Run action commands over one connection; if HAProxy refuses any, undo the ones it accepted.

        Action commands answer nothing on success, so any answer is a refusal. ``rollback_for(accepted)`` gets
        the indexes of the accepted commands and returns the commands that undo them; they are sent over a
        second connection. Raises HAProxyError if the commands could not be sent (they may be partly applied).

        Returns a dict: ``refused``, (index, answer on one line) pairs, empty when every command was accepted;
        ``rollback``, the commands sent to undo the others; ``rollback_errors``, strings, empty when the
        rollback worked (or was not needed).
        """
        commands = list(commands)
        answers = self.execute(commands)
        refused = [(i, ' '.join(answer.split())) for i, answer in enumerate(answers) if answer.strip()]
        outcome = dict(refused=refused, rollback=[], rollback_errors=[])
        if not refused:
            return outcome
        failed = set(i for i, dummy in refused)
        rollback = list(rollback_for([i for i in range(len(commands)) if i not in failed]))
        outcome['rollback'] = rollback
        if rollback:
            try:
                answers = self.execute(rollback)
            except HAProxyError as exc:
                outcome['rollback_errors'] = [str(exc)]
            else:
                outcome['rollback_errors'] = ['"%s": %s' % (rollback[i], ' '.join(answer.split()))
                                              for i, answer in enumerate(answers) if answer.strip()]
        return outcome

    def show_info(self):
        return parse_info(self.run('show info'))

    def show_stat(self, what='-1 -1 -1'):
        return parse_stat(self.run('show stat %s' % what))

    def show_servers_state(self, backend=None):
        cmd = 'show servers state' + (' %s' % backend if backend else '')
        return parse_servers_state(self.run(cmd))

    def snapshot(self, info=False, proxies=False, backends=False):
        """Read servers and, optionally, more over one connection.

        Returns a dict with ``servers`` (list of dicts, see build_servers) and,
        when asked, ``info`` (dict), ``frontends`` and ``backends`` (lists of
        dicts, ``proxies=True``) and ``backend_names`` (list, ``backends=True``
        or ``proxies=True``; it includes backends without servers).
        """
        commands = []
        if info:
            commands.append('show info')
        if backends and not proxies:
            commands.append('show backend')
        commands.append('show stat' if proxies else 'show stat -1 4 -1')
        commands.append('show servers state')
        answers = self.execute(commands)
        for cmd, answer in zip(commands, answers):
            self.check_answer(cmd, answer)
        result = {}
        if info:
            result['info'] = parse_info(answers[0])
        stat_rows = parse_stat(answers[-2])
        state_rows = parse_servers_state(answers[-1])
        result['servers'] = build_servers(stat_rows, state_rows)
        if proxies:
            result['frontends'] = build_frontends(stat_rows)
            result['backends'] = build_backends(stat_rows)
            result['backend_names'] = [b['name'] for b in result['backends']]
        elif backends:
            result['backend_names'] = parse_backend_list(answers[-3])
        return result


def parse_backend_list(text):
    """Parse "show backend" ("# name" header, one name a line)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith('#'):
        raise HAProxyProtocolError('"show backend" answer has no "# name" header', answer=text)
    return [line.strip() for line in lines[1:] if line.strip()]


def split_prompt_answers(text):
    """Split the output of a prompt-mode session into ``(answers, rest)``.

    Each answer is followed by an empty line and the "> " prompt. Answers never
    contain empty lines, so "\\n\\n> " (or "\\n> " for an empty answer) ends one.
    ``rest`` is any text after the last prompt: an answer that was cut short.
    """
    answers = []
    pos = 0
    size = len(text)
    while pos < size:
        if text.startswith('\n> ', pos):
            answers.append('')
            pos += 3
            continue
        end = text.find('\n\n> ', pos)
        if end < 0:
            return answers, text[pos:]
        answers.append(text[pos:end + 1])
        pos = end + 4
    return answers, ''
