# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: alert_selftest_plan
short_description: What playbooks/alert_selftest.yml will do, and the bound of each stage, from the running stack
version_added: 0.1.0
description:
  - Chooses the server the alerting self-test puts DOWN (the first backend, by name, with two or more servers UP,
    and its first UP server, unless given) and refuses a choice that would take a backend's last server out.
  - Reads the bounds from what actually runs - the scrape interval of the C(haproxy) job (Prometheus's
    C(/api/v1/status/config)), the evaluation interval and C(for) of C(HAProxyBackendServerDown)
    (C(/api/v1/rules)) and the Alertmanager route that alert takes (C(/api/v2/status)) - and returns them in seconds.
  - Returns C(errors), messages naming the variable to set, instead of failing, so the playbook shows them all at once.
author:
  - acgs.haproxy_stack developers (@acgs)
positional: prometheus_config, prometheus_rules, alertmanager_config, backend, server, haproxy_bound, prometheus_alerts
options:
  _input:
    description: The servers of M(acgs.haproxy_stack.haproxy_info) (RV(acgs.haproxy_stack.haproxy_info#module:servers)).
    type: list
    elements: dict
    required: true
  prometheus_config:
    description: Prometheus's loaded configuration, the YAML text of C(/api/v1/status/config).
    type: str
    required: true
  prometheus_rules:
    description: The C(groups) of Prometheus's C(/api/v1/rules).
    type: list
    elements: dict
    required: true
  alertmanager_config:
    description: Alertmanager's loaded configuration, the YAML text of C(/api/v2/status) C(config.original).
    type: str
    required: true
  backend:
    description: The backend to use; empty - choose one.
    type: str
    default: ""
  server:
    description: The server to put DOWN; empty - the backend's first UP server.
    type: str
    default: ""
  haproxy_bound:
    description: Seconds HAProxy may take to mark the server DOWN, and UP again.
    type: float
    default: 30
  prometheus_alerts:
    description:
      - The C(alerts) of Prometheus's C(/api/v1/alerts). An alert the fault would raise that is already pending or
        firing for the backend makes the self-test refuse to start (its times would mean nothing).
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
- name: Plan the self-test
  ansible.builtin.set_fact:
    plan: >-
      {{ haproxy.servers | acgs.haproxy_stack.alert_selftest_plan(config.json.data.yaml, rules.json.data.groups,
         status.json.config.original) }}
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    backend:
      description: The backend.
      type: str
    server:
      description: The server put DOWN.
      type: str
    backend_label:
      description: The label that names the backend in the alert (V(proxy) native exporter, V(backend) standalone).
      type: str
    alert:
      description: The alert the fault raises (V(HAProxyBackendServerDown)).
      type: str
    receiver:
      description: The Alertmanager receiver the alert goes to.
      type: str
    integrations:
      description: The receiver's integrations (V(webhook), V(slack), V(email)...), as Alertmanager's metrics name them.
      type: list
      elements: str
    bounds:
      description:
        - Seconds allowed for each stage - down, firing, routed, notified, up, resolved, resolved_notified.
      type: dict
    errors:
      description: What stops the self-test before any change; empty when it can run.
      type: list
      elements: str
"""

import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.acgs.haproxy_stack.plugins.filter.alertmanager_route import alertmanager_route
from ansible_collections.acgs.haproxy_stack.plugins.filter.prometheus_duration_seconds import (
    prometheus_duration_seconds,
)

ALERT = "HAProxyBackendServerDown"
# HTTP hops, the rule group's own evaluation time, Alertmanager's dispatch.
SLACK_S = 10.0


def _rule(groups):
    for group in groups or []:
        for rule in group.get("rules", []):
            if rule.get("type", "alerting") == "alerting" and rule.get("name") == ALERT:
                return rule, group
    return None, None


def _target(servers, backend, server):
    up = {}
    for entry in servers:
        if entry.get("state") == "UP":
            up.setdefault(entry["backend"], []).append(entry["name"])
    errors = []
    if not backend:
        backend = next((name for name in sorted(up) if len(up[name]) >= 2), "")
        if not backend:
            errors.append("No backend has two or more servers UP: the self-test puts one server DOWN and needs another "
                          "to carry its traffic. Fix the servers, or set selftest_backend to a backend that has.")
            return backend, server, errors
    backend_up = up.get(backend, [])
    if not server:
        server = backend_up[0] if backend_up else ""
    if len(backend_up) < 2 or server not in backend_up:
        errors.append("selftest_backend %s has %d server(s) UP (%s) and selftest_server is %s: the self-test needs the "
                      "server UP and another one UP beside it." % (backend, len(backend_up), ", ".join(backend_up) or "none",
                                                                   server or "unset"))
    return backend, server, errors


def alert_selftest_plan(servers, prometheus_config, prometheus_rules, alertmanager_config, backend="", server="",
                        haproxy_bound=30, prometheus_alerts=None):
    if not isinstance(servers, list):
        raise AnsibleFilterError("alert_selftest_plan needs the servers list of haproxy_info")
    backend, server, errors = _target(servers, backend, server)
    active = sorted("%s/%s (%s)" % (backend, a["labels"].get("server"), a.get("state"))
                    for a in prometheus_alerts or []
                    if a.get("labels", {}).get("alertname") == ALERT
                    and backend in (a["labels"].get("proxy"), a["labels"].get("backend")))
    if backend and active:
        errors.append("%s is already active for %s: the self-test would time nothing. Wait until it resolves, fix the "
                      "server, or set selftest_backend to another backend." % (ALERT, ", ".join(active)))
    config = yaml.safe_load(prometheus_config) or {}
    global_config = config.get("global", {})
    job = next((j for j in config.get("scrape_configs", []) if j.get("job_name") == "haproxy"), None)
    if job is None:
        errors.append("Prometheus has no haproxy scrape job: converge the prometheus role (prometheus_haproxy_group).")
        job = {}
    scrape = prometheus_duration_seconds(job.get("scrape_interval", global_config.get("scrape_interval", "1m")))
    rule, group = _rule(prometheus_rules)
    if rule is None:
        errors.append("Prometheus has no %s rule: converge the prometheus role." % ALERT)
        rule, group = {"duration": 0, "labels": {}, "query": ""}, {"interval": 60}
    evaluation = float(group.get("interval", 60))
    alertmanager = yaml.safe_load(alertmanager_config) or {}
    route_tree = alertmanager.get("route") or {}
    labels = dict(rule.get("labels") or {}, alertname=ALERT)
    route = alertmanager_route(route_tree, labels)
    receiver = next((r for r in alertmanager.get("receivers") or [] if r.get("name") == route["receiver"]), {})
    integrations = sorted(key[:-len("_configs")] for key, value in receiver.items() if key.endswith("_configs") and value)
    backend_label = "backend" if "haproxy_server_up" in rule.get("query", "") else "proxy"
    firing = scrape + 2 * evaluation + float(rule.get("duration", 0)) + SLACK_S
    return {
        "backend": backend,
        "server": server,
        "backend_label": backend_label,
        "alert": ALERT,
        "receiver": route["receiver"],
        "integrations": integrations,
        "bounds": {
            "down": float(haproxy_bound),
            "firing": firing,
            # Prometheus sends a newly firing alert at once.
            "routed": SLACK_S,
            # A new group is notified after group_wait; an alert joining a group Alertmanager still
            # keeps (it outlives its resolved notification) waits for the group's next flush.
            "notified": max(route["group_wait"], route["group_interval"]) + SLACK_S,
            "up": float(haproxy_bound),
            "resolved": scrape + 2 * evaluation + SLACK_S,
            "resolved_notified": route["group_interval"] + SLACK_S,
        },
        "errors": errors,
    }


class FilterModule(object):
    def filters(self):
        return {"alert_selftest_plan": alert_selftest_plan}
