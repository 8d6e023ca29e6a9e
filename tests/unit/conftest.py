# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the unit tests of the runtime modules (no HAProxy needed)."""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# collections/ansible_collections/acgs/haproxy_stack links back to the repository root.
if os.path.join(REPO, 'collections') not in sys.path:
    sys.path.insert(0, os.path.join(REPO, 'collections'))
# tests/unit (fake_haproxy) and tests (release_binaries, shared with tests/local).
for _path in (os.path.dirname(HERE), HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402

from ansible_collections.acgs.haproxy_stack.plugins.module_utils import _haproxy  # noqa: E402
from fake_haproxy import HAPROXY_VERSIONS, FakeHAProxy, FakeSocketModule, Server  # noqa: E402


class AnsibleExitJson(Exception):
    """exit_json was called."""

    def __init__(self, kwargs):
        super().__init__(kwargs)
        self.result = kwargs


class AnsibleFailJson(Exception):
    """fail_json was called."""

    def __init__(self, kwargs):
        super().__init__(kwargs)
        self.result = kwargs


def _exit_json(self, **kwargs):
    kwargs.setdefault('changed', False)
    # Results must survive JSON like a real module's.
    raise AnsibleExitJson(json.loads(json.dumps(kwargs)))


def _fail_json(self, msg, **kwargs):
    kwargs['failed'] = True
    kwargs['msg'] = msg
    kwargs.pop('exception', None)
    raise AnsibleFailJson(json.loads(json.dumps(kwargs)))


@pytest.fixture(autouse=True)
def patch_exit(monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', _fail_json)


@pytest.fixture
def sock_path(tmp_path):
    """A real unix socket file (nobody accepts on it; the fake answers instead)."""
    path = str(tmp_path / 'admin.sock')
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    yield path
    listener.close()


def default_servers():
    return [
        Server('web', 'app1', status=None),
        Server('web', 'app2', status=None, weight=10),
        Server('web', 'app3', status=None, health=False, check_status='L4CON', op=0),
        Server('api', 'api1', status=None, scur=2),
        Server('api', 'api2', status=None),
        Server('static', 'st1', status=None),
        Server('track', 't1', status='MAINT (via web/app1)', admin=0x02, op=0, tracked='web/app1'),
    ]


@pytest.fixture(params=HAPROXY_VERSIONS, ids=lambda version: 'haproxy-%s' % version)
def fake(request):
    """The fake runtime API with default_servers(), answering with each HAProxy version's columns and wording."""
    return FakeHAProxy(default_servers(), static_backends=['static'], backends=['empty'], version=request.param)


@pytest.fixture
def fake_socket(monkeypatch, fake):
    """Patch ``socket`` in the module_utils namespace; returns a configurator."""
    modules = []

    def install(connect_error=None, close_after=None, silent=False, model=None):
        module = FakeSocketModule(model or fake, connect_error=connect_error, close_after=close_after, silent=silent)
        monkeypatch.setattr(_haproxy, 'socket', module)
        modules.append(module)
        return module

    install()
    yield install
    for module in modules:
        module.close()


@pytest.fixture
def run_module_inproc():
    """Run a module's main() in this process with args; return (kind, result) with kind 'exit' or 'fail'.

    In-process, with exit_json/fail_json patched (tests/local's ``run_module_subprocess`` runs the
    module as its own process instead).
    """

    def run(module, args, check_mode=False, diff=False):
        args = dict(args)
        if check_mode:
            args['_ansible_check_mode'] = True
        if diff:
            args['_ansible_diff'] = True
        with patch_module_args(args):
            try:
                module.main()
            except AnsibleExitJson as exc:
                return 'exit', exc.result
            except AnsibleFailJson as exc:
                return 'fail', exc.result
        raise AssertionError('module returned without exit_json/fail_json')

    return run


@pytest.fixture(autouse=True)
def module_side_warnings(monkeypatch):
    """Modules record warnings for their result, as they do on a managed host.

    Once any controller code is imported in the same pytest process (a callback or filter plugin
    in tests/local), ansible's module_utils send warnings to the controller's Display instead, and
    get_warning_messages() would see none. Each test starts with no warning recorded, so a test
    sees only the warnings of the modules it ran (they are kept in one process-wide dict).
    """
    from ansible.module_utils import _internal
    from ansible.module_utils.common import warnings
    monkeypatch.setattr(_internal, 'is_controller', False)
    monkeypatch.setattr(warnings, '_global_warnings', {})
