# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.acgs.haproxy_stack.plugins.filter.packages_installed import packages_installed

# What playbooks/facts.yml keeps: the names whose dpkg status is "installed".
REGISTRY = ["curl", "haproxy", "keepalived", "nftables", "prometheus-node-exporter", "socat"]


@pytest.mark.parametrize("names", [
    "prometheus-node-exporter",
    ["prometheus-node-exporter"],
    ["keepalived", "curl", "nftables"],
    "keepalived, curl,nftables",
    [],
], ids=["one-string", "one-in-a-list", "several", "comma-separated", "nothing-to-install"])
def test_installed_names_skip_apt(names):
    assert packages_installed(names, REGISTRY) is True


@pytest.mark.parametrize("names", [
    "prometheus",
    ["keepalived", "curl", "ipvsadm"],
    "keepalived,ipvsadm",
    "",
], ids=["missing", "one-of-several-missing", "comma-separated-one-missing", "empty-name"])
def test_a_missing_name_runs_apt(names):
    assert packages_installed(names, REGISTRY) is False


@pytest.mark.parametrize("name", ["haproxy=2.6.12-1+deb12u1", "haproxy=2.6.*", "hapr*", "curl:amd64",
                                  "haproxy/bookworm-backports", "HAProxy"])
def test_a_qualified_name_is_not_found_so_apt_decides(name):
    """Version pins, wildcards, architectures and releases are apt's to resolve: never skipped."""
    assert packages_installed(name, REGISTRY) is False
    assert packages_installed(["socat", name], REGISTRY) is False


@pytest.mark.parametrize("registry", [None, [], "", "curl haproxy", {"curl": True}],
                         ids=["none", "empty", "empty-string", "a-string", "a-dict"])
def test_an_unknown_registry_runs_apt(registry):
    """Outside the stack's playbooks (molecule) the registry is undefined: apt runs as before."""
    assert packages_installed(["curl"], registry) is False
    assert packages_installed([], registry) is False
