# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: prometheus_preflight_errors
short_description: Every problem the prometheus role's preflight finds in its variables
version_added: 0.1.0
description:
  - Checks the variables of the C(acgs.haproxy_stack.prometheus) role that its argument specs cannot check (the
    web password and user, durations and sizes, the exporter mode, TLS and Alertmanager credentials given in pairs,
    the alert thresholds, rule groups the role writes itself, the scrape groups and job names, the listen address,
    and the addresses facts give for the scraped hosts) and returns one message per problem, each naming the
    variable and the fix.
  - Every problem is reported, in a fixed order, so a user fixes them all in one go. An empty list means
    the variables are good.
  - The filter never touches a host. What it needs from the inventory and from facts is passed in as data.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description:
      - The role's variables, by name.
      - "Public ones: V(prometheus_web_password), V(prometheus_web_username), V(prometheus_retention_time),
        V(prometheus_scrape_interval), V(prometheus_evaluation_interval), V(prometheus_scrape_timeout),
        V(prometheus_retention_size), V(prometheus_haproxy_exporter_mode), V(acgs_prometheus_tls),
        V(prometheus_web_tls_cert_file), V(prometheus_web_tls_key_file), V(prometheus_web_tls_files_on_host),
        V(acgs_prometheus_ca_file), V(prometheus_alertmanager_username), V(prometheus_alertmanager_password),
        V(prometheus_alerts), V(prometheus_rules_extra), V(prometheus_scrape_configs_extra),
        V(prometheus_listen_address) and V(prometheus_port); and V(groups), the inventory's groups."
      - "Derived ones (C(vars/main.yml)): V(_prometheus_haproxy_modes), the exporter modes by name;
        V(_prometheus_alerts_default) and V(_prometheus_alerts), the alert settings before and after
        O(prometheus_alerts) is merged in; V(_prometheus_stack_rule_groups), the rule groups the role writes itself;
        V(_prometheus_jobs), the fixed scrape jobs (C(name), C(group), C(var)); and V(_prometheus_target_ipv4),
        each host of the scraped groups with its C(ansible_default_ipv4) fact (V({}) where facts give none).
        What C(tasks/preflight.yml) looked at - V(_prometheus_tls_stats), the C(stat) dictionaries of the
        certificate and the key (V({}) each when they were not looked at), and V(_prometheus_ca_stat), that of
        V(acgs_prometheus_ca_file)."
      - A missing V(prometheus_web_password) or V(prometheus_alertmanager_password) counts as not set; any other
        missing key is an error.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the prometheus variables
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join(' ') }}"
    quiet: true
  vars:
    _errors: "{{ _prometheus_preflight_input | acgs.haproxy_stack.prometheus_preflight_errors }}"

- name: One problem, one message
  ansible.builtin.debug:
    # ['prometheus_retention_time=15x is not a Prometheus duration (e.g. 15d, 12h, 1w).']
    msg: "{{ _prometheus_preflight_input | combine({'prometheus_retention_time': '15x'})
             | acgs.haproxy_stack.prometheus_preflight_errors }}"
"""

RETURN = r"""
_value:
  description:
    - One message per problem, each naming the variable and how to fix it; empty when there is none.
    - "Order: the web user, durations and sizes, the exporter mode, TLS and its CA, Alertmanager credentials, alert settings,
      reserved rule groups, scrape groups, job names, the listen address, addresses from facts."
  type: list
  elements: str
"""

import numbers
import re

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._preflight import (
    run_rules, to_float as _float, matches as _matches, readable as _readable, text as _text,
)

# The variables the rules read; the two passwords may be missing (no value is "not set").
KEYS = (
    "prometheus_web_username", "prometheus_retention_time", "prometheus_scrape_interval",
    "prometheus_evaluation_interval", "prometheus_scrape_timeout", "prometheus_retention_size",
    "prometheus_haproxy_exporter_mode", "_prometheus_haproxy_modes", "acgs_prometheus_tls", "prometheus_web_tls_cert_file",
    "prometheus_web_tls_key_file", "prometheus_web_tls_files_on_host", "_prometheus_tls_stats", "acgs_prometheus_ca_file",
    "_prometheus_ca_stat", "prometheus_alertmanager_username", "prometheus_alerts",
    "_prometheus_alerts_default", "_prometheus_alerts", "prometheus_rules_extra", "_prometheus_stack_rule_groups",
    "_prometheus_jobs", "groups", "prometheus_scrape_configs_extra", "prometheus_listen_address", "prometheus_port",
    "_prometheus_target_ipv4",
)
OPTIONAL_KEYS = ("prometheus_web_password", "prometheus_alertmanager_password")
# Prometheus durations (model.ParseDuration): one or more <number><unit>.
DURATION_PATTERN = r"^([0-9]+(ms|s|m|h|d|w|y))+$"
SIZE_PATTERN = r"^[0-9]+(B|KB|MB|GB|TB|PB|EB)$"
USERNAME_PATTERN = r"^[^:\s]+$"
# prometheus_alerts keys that hold a duration, and the lists of two windows each.
ALERT_DURATION_KEY_PATTERN = r".*_(for|window)$"
SLO_WINDOWS = ("slo_fast_burn_windows", "slo_slow_burn_windows", "slo_error_rate_windows")


def _as_list(value):
    """A list as it is; anything else as a list of that one value."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _attribute(item, key, default=""):
    """As Jinja's map(attribute=key, default=default): default when the item is not a dict or lacks the key."""
    return item.get(key, default) if isinstance(item, dict) else default


def _slo_windows(v):
    """The SLO rate windows, fast burn, slow burn, then error rate."""
    alerts = v["_prometheus_alerts"]
    return [window for key in SLO_WINDOWS for window in _as_list(alerts.get(key, []))]


def _duplicates(values):
    """Values that occur more than once, in the order they first occur."""
    return [value for index, value in enumerate(values) if value not in values[:index] and values.count(value) > 1]


# --- Rules: each takes the variables and returns its messages. ----------------------------------

def web_password(v):
    if len(_text(v.get("prometheus_web_password"))) > 0:
        return []
    return ["prometheus_web_password is empty: set it (vault or a password lookup); there is no default."]


def web_username(v):
    if _matches(USERNAME_PATTERN, v["prometheus_web_username"]):
        return []
    return ["prometheus_web_username must be non-empty without colon or spaces."]


def retention_time(v):
    value = v["prometheus_retention_time"]
    if _matches(DURATION_PATTERN, value):
        return []
    return ["prometheus_retention_time=%s is not a Prometheus duration (e.g. 15d, 12h, 1w)." % value]


def intervals(v):
    keys = ("prometheus_scrape_interval", "prometheus_evaluation_interval", "prometheus_scrape_timeout")
    if all(_matches(DURATION_PATTERN, v[key]) for key in keys):
        return []
    return ["prometheus_scrape_interval, prometheus_evaluation_interval and prometheus_scrape_timeout "
            "must be durations (15s)."]


def retention_size(v):
    value = v["prometheus_retention_size"]
    if value == "" or _matches(SIZE_PATTERN, value):
        return []
    return ["prometheus_retention_size=%s must be a size such as 10GB or empty." % value]


def exporter_mode(v):
    mode, modes = v["prometheus_haproxy_exporter_mode"], v["_prometheus_haproxy_modes"]
    if mode in modes:
        return []
    return ["prometheus_haproxy_exporter_mode=%s must be one of %s." % (mode, list(modes))]


def web_tls(v):
    files = {"prometheus_web_tls_cert_file": _text(v["prometheus_web_tls_cert_file"]),
             "prometheus_web_tls_key_file": _text(v["prometheus_web_tls_key_file"])}
    if not boolean(v["acgs_prometheus_tls"], strict=False):
        if any(files.values()):
            return ["prometheus_web_tls_cert_file/_key_file are set but acgs_prometheus_tls is false, so every client "
                    "of Prometheus would speak http to a TLS port: set acgs_prometheus_tls: true, or empty them."]
        return []
    if not all(files.values()):
        return ["acgs_prometheus_tls is true: set prometheus_web_tls_cert_file and prometheus_web_tls_key_file "
                "(PEM files on the control node, or on the host with prometheus_web_tls_files_on_host)."]
    where = "the host" if boolean(v["prometheus_web_tls_files_on_host"], strict=False) else "the control node"
    return ["%s %s is missing or unreadable on %s: fix the path or its permissions." % (name, path, where)
            for (name, path), stat in zip(files.items(), v["_prometheus_tls_stats"]) if not _readable(stat)]


def ca_file(v):
    path = _text(v["acgs_prometheus_ca_file"])
    if len(path) == 0 or _readable(v["_prometheus_ca_stat"]):
        return []
    return ["acgs_prometheus_ca_file %s is missing or unreadable on the control node: fix the path, "
            "or empty it to verify Prometheus with the system's trust store." % path]


def alertmanager_password(v):
    if v["prometheus_alertmanager_username"] == "" or len(_text(v.get("prometheus_alertmanager_password"))) > 0:
        return []
    return ["prometheus_alertmanager_username is set: set prometheus_alertmanager_password too."]


def alert_keys(v):
    known = list(v["_prometheus_alerts_default"])
    unknown = [key for key in v["prometheus_alerts"] if key not in known]
    if not unknown:
        return []
    return ["prometheus_alerts has unknown keys %s (known: %s)." % (unknown, known)]


def alert_durations(v):
    durations = [value for key, value in v["_prometheus_alerts"].items() if _matches(ALERT_DURATION_KEY_PATTERN, key)]
    bad = [value for value in durations + _slo_windows(v) if not _matches(DURATION_PATTERN, value)]
    return ["prometheus_alerts: %s are not durations." % bad] if bad else []


def slo_target_and_windows(v):
    target = _float(v["_prometheus_alerts"].get("slo_availability_target"))
    if 0 < target < 1 and len(_slo_windows(v)) == 6:
        return []
    return ["prometheus_alerts.slo_availability_target must be between 0 and 1 (e.g. 0.999); "
            "its burn-rate and error-rate windows lists of two durations."]


def slo_min_requests(v):
    value = v["_prometheus_alerts"].get("slo_min_requests")
    # As Jinja's number test: any number (booleans too), not a number written as text.
    if isinstance(value, numbers.Number) and value >= 0:
        return []
    return ["prometheus_alerts.slo_min_requests=%s must be a number of requests, 0 or more "
            "(0 turns the minimum-traffic guard off)." % (value,)]


def reserved_rule_groups(v):
    reserved = [group.get("name") for group in v["_prometheus_stack_rule_groups"]]
    names = [name for name in (_attribute(group, "name") for group in v["prometheus_rules_extra"]) if name in reserved]
    if not names:
        return []
    return ["prometheus_rules_extra has the group(s) %s, which the role now writes itself (stack.rules.yml): "
            "remove them from prometheus_rules_extra (set prometheus_drift_alerts_enabled or "
            "prometheus_watchdog_enabled to false to drop the role's own)." % ", ".join(str(n) for n in names)]


def scrape_groups(v):
    unknown = [job for job in v["_prometheus_jobs"] if job.get("group") and job.get("group") not in v["groups"]]
    if not unknown:
        return []
    return ['%s name inventory groups that do not exist (%s): fix the name, or set it to "" to drop that job.'
            % (", ".join(str(job.get("var")) for job in unknown), ", ".join(str(job.get("group")) for job in unknown))]


def job_names_unique(v):
    names = ([job.get("name") for job in v["_prometheus_jobs"]]
             + [_attribute(job, "job_name") for job in v["prometheus_scrape_configs_extra"]])
    duplicates = _duplicates(names)
    if not duplicates:
        return []
    return ["prometheus_scrape_configs_extra: job_name %s is used more than once (the fixed jobs are haproxy, node, "
            "prometheus, alertmanager): rename the extra job." % ", ".join(str(n) for n in duplicates)]


def listen_address_port(v):
    address, port = v["prometheus_listen_address"], v["prometheus_port"]
    if _matches("^.*:" + re.escape(str(port)) + "$", address):
        return []
    return ["prometheus_listen_address (%s) must end in :prometheus_port (%s): the prometheus job and the health "
            "checks use prometheus_port; set both to the same port." % (address, port)]


def target_addresses(v):
    missing = [host for host, ipv4 in v["_prometheus_target_ipv4"].items() if "address" not in (ipv4 or {})]
    if not missing:
        return []
    return ["No ansible_default_ipv4 fact for %s: gather facts on the groups Prometheus scrapes (%s) earlier in the "
            "play (e.g. a play with gather_facts: true on them)."
            % (", ".join(missing), ", ".join(str(job.get("group")) for job in v["_prometheus_jobs"]))]


# In the order their messages come.
RULES = (web_password, web_username, retention_time, intervals, retention_size, exporter_mode, web_tls, ca_file,
         alertmanager_password, alert_keys, alert_durations, slo_target_and_windows, slo_min_requests,
         reserved_rule_groups, scrape_groups, job_names_unique, listen_address_port, target_addresses)


def prometheus_preflight_errors(variables):
    return run_rules("prometheus_preflight_errors", variables, KEYS, RULES)


class FilterModule(object):
    def filters(self):
        return {"prometheus_preflight_errors": prometheus_preflight_errors}
