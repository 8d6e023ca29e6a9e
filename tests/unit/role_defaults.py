# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A role's defaults as the role sees them: values that name a stack-wide setting of the private
_common role ("{{ acgs_prometheus_port }}") are resolved from _common's defaults, the way Ansible
resolves them when _common is the role's dependency (a lone expression keeps its type)."""

from __future__ import annotations

from pathlib import Path

import yaml
from jinja2.nativetypes import NativeEnvironment

ROLES = Path(__file__).resolve().parents[2] / "roles"
COMMON = yaml.safe_load((ROLES / "_common" / "defaults" / "main.yml").read_text())
_ENV = NativeEnvironment()


def resolve(value):
    if isinstance(value, str) and "{{" in value and "acgs_" in value:
        return _ENV.from_string(value).render(**COMMON)
    return value


def role_defaults(role):
    """roles/<role>/defaults/main.yml, with the _common references resolved."""
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
    return {name: resolve(value) for name, value in defaults.items()}


# The first two tasks of every role's tasks/preflight.yml: gather the Debian release if the play did not,
# then load vars/<release>.yml (tests/unit/plugins/filter/test_release_vars_file.py checks those files).
RELEASE_TASKS = [{"name": "Gather the Debian release", "module": "ansible.builtin.setup"},
                 {"name": "Load the settings of this Debian release", "module": "ansible.builtin.include_vars"}]


def preflight_checks(role):
    """roles/<role>/tasks/preflight.yml without its release tasks, which must come first and as RELEASE_TASKS says."""
    tasks = yaml.safe_load((ROLES / role / "tasks" / "preflight.yml").read_text())
    release = tasks[:len(RELEASE_TASKS)]
    assert [{"name": t["name"], "module": next(k for k in t if k.startswith("ansible."))} for t in release] == RELEASE_TASKS, (
        "roles/%s/tasks/preflight.yml must begin with the release tasks" % role)
    return tasks[len(RELEASE_TASKS):]
