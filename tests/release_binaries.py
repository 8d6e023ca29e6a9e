# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HAProxy and Prometheus binaries of each Debian release the collection supports.

tests/local runs the modules, ``haproxy -c``, promtool and the exporters against every release whose
binaries are here; tests/unit reads canned HAProxy answers per release (``haproxy_version``).

- bookworm (Debian 12): this machine's own binaries (``make deps`` installs them);
- trixie (Debian 13): the wrappers ``LAB_RELEASE=trixie tools/release_tools.sh`` makes in
  .cache/release-tools/trixie/bin (trixie's binaries, run with trixie's own loader and libraries).

A test for a release whose binary is missing is skipped with :func:`missing_reason` (what was not run
and the command that gets it), never passed without running.

The trixie wrappers run HAProxy in the foreground (``-db``, ``-c``) only: in master-worker mode
(``-W``/``-Ws``) a reload re-executes the binary without the wrapper, which fails on this host.
"""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
CACHE = os.path.join(REPO, '.cache', 'release-tools')

# Each tool and the role whose vars/<release>.yml says which version of it that release ships.
TOOL_ROLES = {'haproxy': 'haproxy', 'promtool': 'prometheus', 'amtool': 'alertmanager',
              'prometheus-haproxy-exporter': 'haproxy_exporter'}
TOOLS = tuple(TOOL_ROLES)


def _role_release(role, release):
    with open(os.path.join(REPO, 'roles', role, 'vars', release + '.yml')) as handle:
        return yaml.safe_load(handle)['_%s_release' % role]


# Release -> (Debian version, the tools' upstream versions in that release), from the roles' vars files.
RELEASES = {release: (str(_role_release('haproxy', release)['debian']),
                      {tool: _role_release(role, release)['version'] for tool, role in TOOL_ROLES.items()})
            for release in ('bookworm', 'trixie')}
HOST_RELEASE = 'bookworm'

# Where Debian installs each tool, for a PATH without /usr/sbin.
_HOST_PATHS = {'haproxy': ('/usr/sbin/haproxy', '/usr/local/sbin/haproxy')}
_HOST_PACKAGES = {'haproxy': 'haproxy', 'promtool': 'prometheus', 'amtool': 'prometheus-alertmanager',
                  'prometheus-haproxy-exporter': 'prometheus-haproxy-exporter'}


def haproxy_version(release):
    """HAProxy's major.minor in ``release`` ("2.6", "3.0"): tests/unit/fixtures/haproxy-<version>."""
    return RELEASES[release][1]['haproxy']


def binary(release, tool):
    """Path of ``tool`` for ``release``, or None when it is not on this machine."""
    if release not in RELEASES or tool not in TOOLS:
        raise ValueError('unknown release/tool %s/%s: releases %s, tools %s' % (release, tool, sorted(RELEASES), TOOLS))
    if release == HOST_RELEASE:
        found = shutil.which(tool)
        if found:
            return found
        for path in _HOST_PATHS.get(tool, ()):
            if os.access(path, os.X_OK):
                return path
        return None
    path = os.path.join(CACHE, release, 'bin', tool)
    # "complete" is written once every wrapper ran: a half-made directory counts as missing.
    if os.access(path, os.X_OK) and os.path.exists(os.path.join(CACHE, release, 'complete')):
        return path
    return None


def describe(release, tool):
    """E.g. "trixie's haproxy (3.0)"."""
    return "%s's %s (%s)" % (release, tool, RELEASES[release][1][tool])


def missing_reason(release, tool):
    """Skip reason for a test that needs ``tool`` of ``release``: what was not run, how to get it."""
    if release == HOST_RELEASE:
        return ('not run against %s: %s is not installed on this machine; install it with `make deps` '
                '(apt-get install %s)' % (describe(release, tool), tool, _HOST_PACKAGES[tool]))
    return ('not run against %s: %s is missing or incomplete; make it with `LAB_RELEASE=%s tools/release_tools.sh` '
            '(needs the lab image: `make image LAB_RELEASE=%s`)'
            % (describe(release, tool), os.path.relpath(os.path.join(CACHE, release, 'bin', tool), REPO), release,
               release))


def available(tool):
    """Releases (in RELEASES order) whose ``tool`` is on this machine."""
    return [release for release in RELEASES if binary(release, tool)]


def release_params(tool, releases=None):
    """pytest.param per release (id: the release), skipped with missing_reason when its ``tool`` is missing.

    Use for @pytest.mark.parametrize or a parametrized fixture's ``params``.
    """
    return [pytest.param(release, id=release,
                         marks=() if binary(release, tool) else pytest.mark.skip(reason=missing_reason(release, tool)))
            for release in (releases or RELEASES)]


# Runs a test once per release with ``haproxy_release`` (tests/local/conftest.py's local_haproxy and
# local_haproxy_1000_servers start that release's HAProxy).
both_releases = pytest.mark.parametrize('haproxy_release', release_params('haproxy'))


def require(release, tool):
    """The path of ``tool`` for ``release``; skips the calling test when it is missing."""
    path = binary(release, tool)
    if path is None:
        pytest.skip(missing_reason(release, tool))
    return path
