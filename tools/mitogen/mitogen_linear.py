# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Mitogen's linear strategy, found here by ANSIBLE_STRATEGY_PLUGINS=tools/mitogen (the opt-in switch
ACGS_ACCELERATE=mitogen, README "Faster runs with mitogen"): the path does not depend on the
Python version of the virtualenv that holds mitogen (requirements.txt pins it)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # noqa: F401  pylint: disable=unused-import
