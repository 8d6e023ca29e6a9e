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
