# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.acgs.haproxy_stack.plugins.filter.controller_file_stat import controller_file_stat
from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._preflight import readable


def test_a_readable_regular_file(tmp_path):
    path = tmp_path / "cert.pem"
    path.write_text("x")
    assert controller_file_stat(str(path)) == {"path": str(path), "exists": True, "isreg": True, "readable": True}
    assert readable(controller_file_stat(str(path)))


@pytest.mark.parametrize("kind", ["missing", "directory", "empty path"])
def test_what_the_preflight_checks_refuse(tmp_path, kind):
    path = {"missing": str(tmp_path / "nope.pem"), "directory": str(tmp_path), "empty path": ""}[kind]
    assert not readable(controller_file_stat(path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file(tmp_path):
    path = tmp_path / "key.pem"
    path.write_text("x")
    path.chmod(0)
    assert controller_file_stat(str(path))["readable"] is False
