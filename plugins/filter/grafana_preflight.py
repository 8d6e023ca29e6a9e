# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: grafana_preflight_errors
short_description: Every problem the grafana role's preflight finds in its variables and dashboard files
version_added: 0.1.0
description:
  - Checks the variables of the C(acgs.haproxy_stack.grafana) role that its argument specs cannot check (the admin
    password, the Prometheus credentials given in pairs, a Prometheus to point Grafana at and the addresses facts
    give for it, the package file, and the files of O(grafana_dashboard_files)) and returns one message per problem, each naming the variable and the fix.
  - Every problem is reported, in a fixed order, so a user fixes them all in one go. An empty list means
    the variables are good.
  - The filter reads the files of O(grafana_dashboard_files) itself, on the control node where filters run and
    where the role copies the files from, and parses them as JSON. It never touches a host; the package file is
    looked at by an M(ansible.builtin.stat) task whose result is passed in.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description:
      - The role's variables, by name.
      - "Public ones: V(grafana_admin_password), V(grafana_prometheus_username), V(grafana_prometheus_password),
        V(grafana_prometheus_urls), V(grafana_prometheus_group), V(grafana_install), V(grafana_package_file),
        V(grafana_dashboard_files) and V(grafana_dashboards_dir)."
      - "Derived ones: V(_grafana_prometheus_ipv4), each host of O(grafana_prometheus_group) with its
        C(ansible_facts.default_ipv4) fact (V({}) where facts give none), in inventory order;
        V(_grafana_package_file_stat), the C(stat) dictionary of the package file (V({}) when it was not looked
        at); V(_grafana_builtin_dashboards), the names of the dashboard files the role writes itself
        (C(vars/main.yml))."
      - A missing V(grafana_admin_password) or V(grafana_prometheus_password) counts as not set; any other missing
        key is an error.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the grafana variables and dashboard files
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join(' ') }}"
    quiet: true
  vars:
    _errors: "{{ _grafana_preflight_input | acgs.haproxy_stack.grafana_preflight_errors }}"
"""

RETURN = r"""
_value:
  description:
    - One message per problem, each naming the variable and how to fix it; empty when there is none.
    - "Order: the admin password, Prometheus credentials and URLs (one message), the Prometheus hosts' addresses,
      the package file, dashboard files that are missing or not JSON objects, dashboard file names that collide."
  type: list
  elements: str
"""

import json
import os

from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._preflight import (
    run_rules, unique as _unique, text as _text,
)

# The variables the rules read; the two passwords may be missing (no value is "not set").
KEYS = (
    "grafana_prometheus_username", "grafana_prometheus_urls", "grafana_prometheus_group", "_grafana_prometheus_ipv4",
    "grafana_install", "grafana_package_file", "_grafana_package_file_stat", "grafana_dashboard_files",
    "grafana_dashboards_dir", "_grafana_builtin_dashboards",
)
OPTIONAL_KEYS = ("grafana_admin_password", "grafana_prometheus_password")


def dashboard_file_problem(path):
    """What is wrong with one dashboard file on the control node, or "" when it is a JSON object."""
    try:
        with open(path, encoding="utf-8") as handle:
            board = json.load(handle)
    except FileNotFoundError:
        return "does not exist on the control node"
    except (OSError, UnicodeDecodeError) as error:
        return "cannot be read: %s" % error
    except ValueError as error:
        return "is not JSON: %s" % error
    if not isinstance(board, dict):
        return "is JSON but not an object (a Grafana dashboard is a JSON object)"
    return ""


# --- Rules: each takes the variables and returns its messages. ----------------------------------

def required_settings(v):
    """The admin password, the Prometheus credentials as a pair, a Prometheus: one message for all three."""
    password = v.get("grafana_admin_password", "")
    # A password is taken as text (12345678 is eight characters); "not set" is None or missing.
    password_ok = password is not None and len(str(password)) >= 8 and password != "admin"
    pair_ok = (len(_text(v["grafana_prometheus_username"])) > 0) == (len(_text(v.get("grafana_prometheus_password"))) > 0)
    # _grafana_prometheus_urls (vars/main.yml) is grafana_prometheus_urls, or one URL per host of the group.
    prometheus_ok = len(v["grafana_prometheus_urls"]) > 0 or len(v["_grafana_prometheus_ipv4"]) > 0
    if password_ok and pair_ok and prometheus_ok:
        return []
    return ['Set grafana_admin_password (at least 8 characters, not "admin"; there is no default), '
            "set both grafana_prometheus_username and grafana_prometheus_password or neither, and give "
            "Grafana a Prometheus: grafana_prometheus_urls, or hosts in the group named by "
            "grafana_prometheus_group (%s)." % v["grafana_prometheus_group"]]


def prometheus_addresses(v):
    """The URLs of the group's hosts come from their facts: without an address there is no URL."""
    if len(v["grafana_prometheus_urls"]) > 0:
        return []
    missing = [host for host, ipv4 in v["_grafana_prometheus_ipv4"].items() if "address" not in (ipv4 or {})]
    if not missing:
        return []
    return ["No default_ipv4 fact for %s: gather facts on the group named by grafana_prometheus_group (%s) earlier "
            "in the play, or set grafana_prometheus_urls." % (", ".join(missing), v["grafana_prometheus_group"])]


def package_file(v):
    path = _text(v["grafana_package_file"])
    if not v["grafana_install"] or len(path) == 0 or (v["_grafana_package_file_stat"] or {}).get("exists", False):
        return []
    return ["grafana_package_file %s does not exist on the control node: fix the path or unset it to use "
            "the apt repository." % path]


def dashboard_files_valid(v):
    problems = []
    for path in v["grafana_dashboard_files"]:
        problem = dashboard_file_problem(path)
        if problem:
            problems.append("%s %s" % (path, problem))
    if not problems:
        return []
    return ["grafana_dashboard_files: %s. Fix the files or remove them from grafana_dashboard_files." % "; ".join(problems)]


def dashboard_names_unique(v):
    names = [os.path.basename(_text(path)) for path in v["grafana_dashboard_files"]]
    builtin = v["_grafana_builtin_dashboards"]
    if len(_unique(names)) == len(names) and not any(name in builtin for name in names):
        return []
    return ["grafana_dashboard_files: the files are copied into %s under their names, so the names must differ from "
            "each other and from the role's own %s (got %s)."
            % (v["grafana_dashboards_dir"], ", ".join(builtin), ", ".join(names))]


# In the order their messages come.
RULES = (required_settings, prometheus_addresses, package_file, dashboard_files_valid, dashboard_names_unique)


def grafana_preflight_errors(variables):
    return run_rules("grafana_preflight_errors", variables, KEYS, RULES)


class FilterModule(object):
    def filters(self):
        return {"grafana_preflight_errors": grafana_preflight_errors}
