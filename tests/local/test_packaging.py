# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's module documentation as ansible-doc shows it (no HAProxy needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE_DOC = os.path.join(os.path.dirname(sys.executable), 'ansible-doc')


@pytest.mark.parametrize('module', ['haproxy_server', 'haproxy_info'])
def test_ansible_doc(module):
    proc = subprocess.run([ANSIBLE_DOC, '--json', 'acgs.haproxy_stack.%s' % module], capture_output=True,
                          text=True, timeout=60, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)['acgs.haproxy_stack.%s' % module]
    doc = data['doc']
    assert doc['version_added'] == '0.1.0'
    assert {'socket', 'timeout'} <= set(doc['options'])
    assert doc['options']['socket']['default'] == '/run/haproxy/admin.sock'
    assert doc['attributes']['action_group']['membership'] == ['acgs.haproxy_stack.haproxy']
    assert data['examples'].strip()
    assert data['return']['servers']['contains']
