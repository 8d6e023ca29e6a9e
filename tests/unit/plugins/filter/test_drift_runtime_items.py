# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The drift check's runtime and config items (plugins/filter/drift_runtime_items.py), from tables."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.acgs.haproxy_stack.plugins.filter.drift_runtime_items import (
    drift_collect_items, drift_config_items, drift_runtime_items)

# The registry's shape (roles/_common/vars/main.yml), rendered for the standalone exporter.
REGISTRY = {
    "haproxy": {"group": "haproxy", "units": ["haproxy.service"]},
    "haproxy_exporter": {"group": "haproxy", "units": ["prometheus-haproxy-exporter.service"]},
    "node_exporter": {"group": "node_exporter", "units": ["prometheus-node-exporter.service"]},
    "prometheus": {"group": "prometheus", "units": ["prometheus.service"]},
    "alertmanager": {"group": "alertmanager", "units": ["prometheus-alertmanager.service"]},
    "grafana": {"group": "grafana", "units": []},
    "demo_app": {"group": "demo_app", "units": ["acgs-demo@app1.service", "acgs-demo@app2.service"]},
}
ALL = list(REGISTRY)
UP = {"state": "running", "status": "enabled"}
JOBS = {"haproxy": "haproxy_exporter", "node": "node_exporter", "prometheus": "prometheus",
        "alertmanager": "alertmanager"}


def services(**changed):
    out = {unit: dict(UP) for entry in REGISTRY.values() for unit in entry["units"]}
    for unit, value in changed.items():
        unit = unit.replace("_", "-") + ".service"
        if value is None:
            out.pop(unit)
        else:
            out[unit] = dict(UP, **value)
    return out


def server(name, admin="ready", weight=100, initial=100, backend="web"):
    return {"backend": backend, "name": name, "admin_state": admin, "weight": weight, "initial_weight": initial}


def target(job, instance, health="down", host=None, error=""):
    labels = {"job": job, "instance": instance}
    if host:
        labels["host"] = host
    return {"health": health, "labels": labels, "lastError": error}


# (id, services, groups, checked, servers, targets, expected [(host, component, what)])
CASES = [
    ("all_well", services(), ["haproxy", "node_exporter"], ALL,
     [server("app1")], [target("node", "a:9100", health="up")], []),
    ("stopped", services(haproxy={"state": "stopped"}), ["haproxy"], ALL, [], [],
     [("lb1", "haproxy", "service haproxy.service is stopped")]),
    ("failed_and_disabled", services(prometheus={"state": "failed", "status": "disabled"}), ["prometheus"], ALL, [], [],
     [("lb1", "prometheus", "service prometheus.service is failed"),
      ("lb1", "prometheus", "service prometheus.service is disabled")]),
    ("masked_but_running", services(prometheus_alertmanager={"status": "masked"}), ["alertmanager"], ALL, [], [],
     [("lb1", "alertmanager", "service prometheus-alertmanager.service is masked")]),
    ("not_installed", services(prometheus_haproxy_exporter=None), ["haproxy"], ALL, [], [],
     [("lb1", "haproxy_exporter", "service prometheus-haproxy-exporter.service is not installed")]),
    ("other_groups_units_not_checked", {}, ["node_exporter"], ALL, [], [],
     [("lb1", "node_exporter", "service prometheus-node-exporter.service is not installed")]),
    ("component_not_checked", services(haproxy={"state": "stopped"}), ["haproxy"], ["prometheus"],
     [server("app1", admin="maint")], [], []),
    ("no_units", {}, ["grafana"], ALL, [], [], []),
    ("demo_units", services(**{"acgs-demo@app2": {"state": "failed"}}), ["demo_app"], ALL, [], [],
     [("lb1", "demo_app", "service acgs-demo@app2.service is failed")]),
    ("servers", services(), ["haproxy"], ALL,
     [server("app1", admin="maint"), server("app2", admin="drain", weight=50),
      server("app3", weight=0, initial=100, backend="api"), server("app4")], [],
     [("lb1", "haproxy", "server web/app1 is in MAINT"),
      ("lb1", "haproxy", "server web/app2 is in DRAIN"),
      ("lb1", "haproxy", "server web/app2 has weight 50, configured 100"),
      ("lb1", "haproxy", "server api/app3 has weight 0, configured 100")]),
    ("targets", services(), ["prometheus"], ALL + ["blackbox"], [],   # an unknown job is its own component
     [target("node", "10.0.0.5:9100", host="app1", error="connection refused"),
      target("haproxy", "10.0.0.2:9101", host="lb1"),
      target("blackbox", "x:1"),
      target("prometheus", "localhost:9090", health="up")],
     [("app1", "node_exporter", "Prometheus target node 10.0.0.5:9100 is down: connection refused"),
      ("lb1", "haproxy_exporter", "Prometheus target haproxy 10.0.0.2:9101 is down"),
      ("x:1", "blackbox", "Prometheus target blackbox x:1 is down")]),
    ("targets_of_unchecked_components", services(), ["prometheus"], ["prometheus"], [],
     [target("node", "10.0.0.5:9100", host="app1"), target("prometheus", "p:9090", host="mon1")],
     [("mon1", "prometheus", "Prometheus target prometheus p:9090 is down")]),
]


@pytest.mark.parametrize("facts, groups, checked, servers, targets, expected",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_drift_runtime_items(facts, groups, checked, servers, targets, expected):
    items = drift_runtime_items(facts, "lb1", REGISTRY, groups, checked, servers=servers, targets=targets,
                                job_components=JOBS)
    assert items == [{"host": h, "component": c, "kind": "runtime", "what": w} for h, c, w in expected]


def test_native_mode_job_is_haproxy():
    """Without the standalone exporter the haproxy job's targets are HAProxy's own."""
    items = drift_runtime_items({}, "mon1", {}, [], ["haproxy"], targets=[target("haproxy", "lb1:8405", host="lb1")],
                                job_components={"haproxy": "haproxy"})
    assert items == [{"host": "lb1", "component": "haproxy", "kind": "runtime",
                      "what": "Prometheus target haproxy lb1:8405 is down"}]


def test_defaults_and_no_services():
    assert drift_runtime_items(None, "h", REGISTRY, [], ALL) == []


@pytest.mark.parametrize("args, message", [
    (([], "h", REGISTRY, [], ALL), "the services must be a dict"),
    (({}, "h", REGISTRY, "haproxy", ALL), "groups must be a list"),
    (({}, "h", {"haproxy": {"group": "haproxy", "units": "haproxy.service"}}, ["haproxy"], ALL),
     "components.haproxy.units must be a list"),
])
def test_bad_input(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        drift_runtime_items(*args)


def test_bad_server():
    with pytest.raises(AnsibleFilterError, match="every server needs"):
        drift_runtime_items({}, "h", {}, [], ["haproxy"], servers=[{"name": "x"}])


# The haproxy role's task that writes haproxy.cfg (roles/haproxy/tasks/configure.yml).
WRITE_CFG = "Install the TLS certificate and key, write haproxy.cfg, remove 00-stats.cfg when stats are off"

# (id, record, what)
CONFIG = [
    ("changed_path", {"status": "changed", "task": "haproxy : " + WRITE_CFG, "path": "/etc/haproxy/haproxy.cfg"},
     "would change: haproxy : " + WRITE_CFG + " (/etc/haproxy/haproxy.cfg)"),
    ("changed_no_path", {"status": "changed", "task": "grafana : Install", "path": ""}, "would change: grafana : Install"),
    ("changed_null_path", {"status": "changed", "task": "t", "path": None}, "would change: t"),
    ("failed", {"status": "failed", "task": "prometheus : Check", "path": "/x"}, "check failed: prometheus : Check"),
    ("unreachable", {"status": "unreachable", "task": "", "path": ""}, "unreachable"),
]


@pytest.mark.parametrize("record, what", [c[1:] for c in CONFIG], ids=[c[0] for c in CONFIG])
def test_drift_config_items(record, what):
    record = dict(record, host="lb1", component="haproxy")
    assert drift_config_items([record]) == [{"host": "lb1", "component": "haproxy", "kind": "config", "what": what}]


@pytest.mark.parametrize("record", [{"host": "h", "component": "c", "task": "t", "status": "odd"},
                                    {"host": "h", "status": "changed", "task": "t"}, "text"])
def test_drift_config_items_bad_record(record):
    with pytest.raises(AnsibleFilterError, match="drift_config_items"):
        drift_config_items([record])


def item(host, what="w", kind="runtime"):
    return {"host": host, "component": "haproxy", "kind": kind, "what": what}


HOSTVARS = {"lb1": {"_drift_runtime_items": [item("lb1"), item("app9")]},   # a target of a host not checked
            "mon1": {"_drift_runtime_items": [item("lb1", "target down")]},
            "app1": {"other": 1},                                          # did not get as far
            "app2": {"_drift_runtime_items": []}}


@pytest.mark.parametrize("hosts, runtime, expected", [
    (["lb1", "mon1", "app2"], True, [item("lb1", kind="config"), item("lb1"), item("lb1", "target down")]),
    (["app1", "app2"], True, [{"host": "app1", "component": "host", "kind": "runtime",
                               "what": "runtime state could not be read (host unreachable or check failed)"}]),
    (["lb1", "app1"], False, [item("lb1", kind="config")]),
    (["ghost"], True, [{"host": "ghost", "component": "host", "kind": "runtime",
                        "what": "runtime state could not be read (host unreachable or check failed)"}]),
], ids=["collected", "unreadable", "runtime_off", "unknown_host"])
def test_drift_collect_items(hosts, runtime, expected):
    config = [item("lb1", kind="config"), item("app7", kind="config")]   # app7: not in this run (--limit)
    assert drift_collect_items(config, hosts, HOSTVARS, runtime) == expected
