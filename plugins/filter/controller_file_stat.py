# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: controller_file_stat
short_description: What the stat module says of a file on the control node, without a module run
version_added: 0.1.0
description:
  - Filters run on the control node, so a file the role copies from there is looked at here directly; a
    C(ansible.builtin.stat) task delegated to localhost costs a module run per file on every run.
  - Returns the keys the roles' preflight checks read from a stat result, for the user running the playbook.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description: The file's path on the control node.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Check the certificate
  ansible.builtin.assert:
    that: (haproxy_tls_certificate | acgs.haproxy_stack.controller_file_stat).readable
"""

RETURN = r"""
_value:
  description: C(path), C(exists), C(isreg) (a regular file, after symlinks) and C(readable) (by this user).
  type: dict
"""

import os


def controller_file_stat(path):
    path = str(path or "")
    return {
        "path": path,
        "exists": bool(path) and os.path.exists(path),
        "isreg": bool(path) and os.path.isfile(path),
        "readable": bool(path) and os.access(path, os.R_OK),
    }


class FilterModule(object):
    def filters(self):
        return {"controller_file_stat": controller_file_stat}
