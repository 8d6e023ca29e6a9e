# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the stack's clients reach Prometheus (plugins/filter/stack_prometheus_url.py)."""

from __future__ import annotations

import pytest

from ansible_collections.acgs.haproxy_stack.plugins.filter.stack_prometheus_url import stack_prometheus_url

FACTS = {"mon1": {"ansible_facts": {"default_ipv4": {"address": "10.89.0.12"}}, "ansible_host": "mon1.lab"},
         "mon2": {"ansible_host": "mon2.example.net"}, "mon3": {}}


@pytest.mark.parametrize("url, hosts, port, tls, expected", [
    ("", ["mon1"], 9090, False, "http://10.89.0.12:9090"),
    ("", ["mon1", "mon2"], 9443, True, "https://10.89.0.12:9443"),
    ("", ["mon2"], "9090", False, "http://mon2.example.net:9090"),   # no facts: ansible_host
    ("", ["mon3"], 9090, False, "http://mon3:9090"),                 # nothing: the inventory name
    ("", [], 9090, False, ""),                                       # no Prometheus host: the gate skips it
    ("https://prom.example.net/", ["mon1"], 9090, False, "https://prom.example.net"),  # set: used as is
], ids=["facts", "tls_and_port", "ansible_host", "inventory_name", "no_host", "explicit_url"])
def test_stack_prometheus_url(url, hosts, port, tls, expected):
    assert stack_prometheus_url(url, hosts, FACTS, port, tls) == expected


def test_old_style_fact_variable_is_read():
    assert stack_prometheus_url("", ["m"], {"m": {"ansible_default_ipv4": {"address": "192.0.2.1"}}}) == "http://192.0.2.1:9090"


@pytest.mark.parametrize("tls, scheme", [
    (True, "https"), (False, "http"), ("true", "https"), ("yes", "https"), ("false", "http"), ("no", "http"),
    ("", "http"), (None, "http"),
], ids=["true", "false", "str_true", "str_yes", "str_false", "str_no", "empty", "none"])
def test_tls_strings_read_as_booleans(tls, scheme):
    # -e acgs_prometheus_tls=false and environment lookups give strings: "false" is not TLS.
    assert stack_prometheus_url("", ["mon1"], FACTS, 9090, tls) == scheme + "://10.89.0.12:9090"
