# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.parsing.convert_bool import boolean

DOCUMENTATION = r"""
name: stack_prometheus_url
short_description: The URL the stack's clients reach Prometheus on
version_added: 0.1.0
description:
  - One answer, for every client of Prometheus in the stack (the health gate, the drift check, backup, restore,
    the alert self-test), to the question where Prometheus is - V(acgs_prometheus_url) when it is set, otherwise
    C(<scheme>://<address>:<port>) for the first host of the group, C(https) when O(tls).
  - The address is the host's default IPv4 address (gathered facts), else its C(ansible_host), else its
    inventory name. The certificate Prometheus serves must name it.
  - An empty string when the group has no host, meaning no Prometheus - the gate then skips its Prometheus
    checks.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description: V(acgs_prometheus_url); empty derives the URL.
    type: str
    required: true
  hosts:
    description: The hosts of the Prometheus group (C(groups['prometheus'])).
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars), for the first host's address.
    type: dict
    required: true
  port:
    description: V(acgs_prometheus_port).
    type: int
    default: 9090
  tls:
    description:
      - V(acgs_prometheus_tls). A string is read as Ansible reads a boolean (C(-e acgs_prometheus_tls=false) or an
        environment lookup give the string C(false), which is not TLS).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Where the gate finds Prometheus
  ansible.builtin.debug:
    # https://10.89.0.12:9090
    msg: "{{ acgs_prometheus_url | acgs.haproxy_stack.stack_prometheus_url(groups['prometheus'] | default([]), hostvars,
             acgs_prometheus_port, acgs_prometheus_tls) }}"
"""

RETURN = r"""
_value:
  description: The URL, without a trailing slash; empty when there is no Prometheus host.
  type: str
"""


def host_address(host_vars, name):
    """The address other hosts reach a host on: its default IPv4 address, its ansible_host, its name."""
    facts = host_vars.get("ansible_facts") or {}
    address = (facts.get("default_ipv4") or host_vars.get("ansible_default_ipv4") or {}).get("address")
    return address or host_vars.get("ansible_host") or name


def stack_prometheus_url(url, hosts, hostvars, port=9090, tls=False):
    if url:
        return str(url).rstrip("/")
    if not hosts:
        return ""
    first = hosts[0]
    address = host_address(hostvars.get(first) or {}, first)
    return "%s://%s:%s" % ("https" if boolean(tls, strict=False) else "http", address, int(port))


class FilterModule(object):
    def filters(self):
        return {"stack_prometheus_url": stack_prometheus_url}
