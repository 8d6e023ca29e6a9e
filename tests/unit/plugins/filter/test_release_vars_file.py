# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which vars/<release>.yml a role loads (plugins/filter/release_vars_file.py), and the errors for hosts it cannot serve;
plus: every role with tasks has a vars file for each release its meta/main.yml lists, and no other."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.acgs.haproxy_stack.plugins.filter.release_vars_file import release_vars_file, supported_releases

ROLES = Path(__file__).resolve().parents[4] / "roles"
ROLES_WITH_TASKS = sorted(path.name for path in ROLES.iterdir() if (path / "tasks" / "main.yml").exists())
BOOKWORM = {"distribution": "Debian", "distribution_release": "bookworm", "distribution_major_version": "12"}
TRIXIE = {"distribution": "Debian", "distribution_release": "trixie", "distribution_major_version": "13"}


@pytest.mark.parametrize("facts, expected", [(BOOKWORM, "bookworm.yml"), (TRIXIE, "trixie.yml")], ids=["bookworm", "trixie"])
def test_the_release_file(facts, expected):
    assert release_vars_file(str(ROLES / "haproxy"), facts) == str(ROLES / "haproxy" / "vars" / expected)


@pytest.mark.parametrize("facts, message", [
    ({"distribution": "Debian", "distribution_release": "bullseye", "distribution_major_version": "11"},
     "role haproxy does not support Debian 11 (bullseye): it supports bookworm (Debian 12), trixie (Debian 13). "
     "Use one of those, or give the role vars/bullseye.yml with that release's settings (copy the newest one and check it)."),
    ({"distribution": "Ubuntu", "distribution_release": "noble", "distribution_version": "24.04"},
     "role haproxy supports bookworm (Debian 12), trixie (Debian 13) only; this host runs Ubuntu 24.04."),
    ({}, "role haproxy: this host's Debian release is unknown (no distribution facts): gather facts before the role"
         " (gather_facts: true, or ansible.builtin.setup with gather_subset: [distribution])."),
], ids=["old_debian", "not_debian", "no_facts"])
def test_hosts_the_role_cannot_serve(facts, message):
    with pytest.raises(AnsibleFilterError) as error:
        release_vars_file(str(ROLES / "haproxy"), facts)
    assert str(error.value) == message


@pytest.mark.parametrize("role", ROLES_WITH_TASKS)
def test_each_listed_release_has_its_settings(role):
    meta = yaml.safe_load((ROLES / role / "meta" / "main.yml").read_text())["galaxy_info"]
    listed = [str(v) for platform in meta["platforms"] if platform["name"] == "Debian" for v in platform["versions"]]
    assert listed == supported_releases(str(ROLES / role)) == ["bookworm", "trixie"]
    for release in listed:
        settings = yaml.safe_load((ROLES / role / "vars" / (release + ".yml")).read_text())
        assert list(settings) == ["_%s_release" % role]
        assert settings["_%s_release" % role]["debian"] == {"bookworm": 12, "trixie": 13}[release]
