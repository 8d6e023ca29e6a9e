# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options shared by the modules talking to HAProxy's runtime API
    # (plugins/module_utils/_haproxy.py, HAPROXY_COMMON_ARGS).
    DOCUMENTATION = r"""
options:
  socket:
    description:
      - Where HAProxy's runtime API (the C(stats socket) of the C(global) section) listens.
      - Either the path of a unix socket, or V(host:port) for a TCP socket (V([::1]:9999) for IPv6).
        Prefixes V(unix:), V(unix@), V(tcp:) and V(ipv4@) are accepted, too.
      - Changing servers needs a socket with C(level admin); reading works with C(level operator) or C(level user).
      - The module runs on the target host, so the path is a path on that host, and the remote user needs
        permission to connect to it (usually through C(become)).
    type: str
    default: /run/haproxy/admin.sock
  timeout:
    description:
      - Seconds to wait for the connection and for each answer from HAProxy.
      - It is an inactivity timeout, not a limit on the whole task.
    type: float
    default: 5.0
notes:
  - All commands of one task go over one connection to the runtime API in interactive (C(prompt)) mode, so
    changing or reading thousands of servers takes milliseconds on the HAProxy side.
  - The runtime API changes the running process only. A reload or restart of HAProxy restores the states and
    weights of the configuration unless C(load-server-state-from-file) is used.
seealso:
  - name: HAProxy management guide, Unix Socket commands
    description: The runtime API these modules use.
    link: https://docs.haproxy.org/2.6/management.html#9.3
"""

    ACTIONGROUP_HAPROXY = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/acgs.haproxy_stack.haproxy) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - acgs.haproxy_stack.haproxy
"""
