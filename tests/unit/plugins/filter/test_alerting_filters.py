# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The alerting filters: prometheus_duration_seconds, alertmanager_route and alert_selftest_plan
(plugins/filter/), from tables. The routing tree is the alertmanager role's default with the
Watchdog route the role puts first, as Alertmanager's /api/v2/status shows it."""

from __future__ import annotations

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.acgs.haproxy_stack.plugins.filter.alert_selftest_plan import alert_selftest_plan
from ansible_collections.acgs.haproxy_stack.plugins.filter.alertmanager_route import alertmanager_route
from ansible_collections.acgs.haproxy_stack.plugins.filter.prometheus_duration_seconds import (
    prometheus_duration_seconds,
)


@pytest.mark.parametrize("text, seconds", [
    ("15s", 15), ("0s", 0), ("5m", 300), ("1h30m", 5400), ("3h", 10800), ("500ms", 0.5), ("1m30s500ms", 90.5),
    ("2d", 172800), ("1w", 604800), ("1y", 31536000),
])
def test_durations(text, seconds):
    assert prometheus_duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "s", "1.5m", "30m1h", "5m5m", " 5m", "5 m", "-5m", "5min"])
def test_not_durations_are_refused_naming_the_value(text):
    with pytest.raises(AnsibleFilterError, match="is not a Prometheus duration"):
        prometheus_duration_seconds(text)


ROUTE = yaml.safe_load("""
receiver: default
group_by: [alertname, instance]
group_wait: 30s
group_interval: 5m
repeat_interval: 4h
routes:
  - receiver: acgs-watchdog
    matchers: ['alertname="Watchdog"']
    group_wait: 0s
    group_interval: 30s
    repeat_interval: 1m
  - receiver: pager
    matchers: ['severity="critical"']
    group_wait: 10s
    group_interval: 1m
    repeat_interval: 30m
    routes:
      - receiver: db-pager
        match_re: {service: "db|cache"}
  - receiver: chat
    matchers: ['team=~"web.*"', 'env!="dev"']
  - receiver: old-style
    match: {team: legacy}
""")


@pytest.mark.parametrize("labels, receiver, timers, path", [
    ({"alertname": "HAProxyBackendServerDown", "severity": "warning"}, "default", (30, 300, 14400), []),
    ({"alertname": "Watchdog", "severity": "none"}, "acgs-watchdog", (0, 30, 60), [0]),
    ({"alertname": "HAProxyDown", "severity": "critical"}, "pager", (10, 60, 1800), [1]),
    # a child without timers inherits its parent's
    ({"alertname": "DBDown", "severity": "critical", "service": "db"}, "db-pager", (10, 60, 1800), [1, 0]),
    # regular expressions are anchored: "dbx" is not "db|cache"
    ({"alertname": "DBDown", "severity": "critical", "service": "dbx"}, "pager", (10, 60, 1800), [1]),
    ({"alertname": "X", "team": "webshop", "env": "prod"}, "chat", (30, 300, 14400), [2]),
    ({"alertname": "X", "team": "webshop", "env": "dev"}, "default", (30, 300, 14400), []),
    # a missing label is the empty string, as in Alertmanager: env!="dev" holds
    ({"alertname": "X", "team": "web"}, "chat", (30, 300, 14400), [2]),
    ({"alertname": "X", "team": "legacy"}, "old-style", (30, 300, 14400), [3]),
])
def test_routes_as_alertmanager_takes_them(labels, receiver, timers, path):
    route = alertmanager_route(ROUTE, labels)
    assert route["receiver"] == receiver
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == timers
    assert route["path"] == path


def test_a_top_level_route_alone_gets_alertmanagers_defaults():
    assert alertmanager_route({"receiver": "only"}, {"alertname": "A"}) == {
        "receiver": "only", "path": [], "group_wait": 30.0, "group_interval": 300.0, "repeat_interval": 14400.0}


def test_an_unreadable_matcher_is_named():
    with pytest.raises(AnsibleFilterError, match="cannot read the Alertmanager matcher 'severity'"):
        alertmanager_route({"receiver": "a", "routes": [{"receiver": "b", "matchers": ["severity"]}]}, {})


# ---------------------------------------------------------------- alert_selftest_plan
def servers(*rows):
    return [{"backend": b, "name": n, "state": s} for b, n, s in rows]


PROM_CONFIG = yaml.safe_dump({"global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
                              "scrape_configs": [{"job_name": "node"}, {"job_name": "haproxy", "scrape_interval": "10s"}]})
RULES_NATIVE = [{"name": "haproxy", "interval": 15, "rules": [
    {"type": "alerting", "name": "HAProxyDown", "duration": 30, "labels": {"severity": "critical"}, "query": "up == 0"},
    {"type": "alerting", "name": "HAProxyBackendServerDown", "duration": 60, "labels": {"severity": "warning"},
     "query": 'haproxy_server_status{job="haproxy",state="DOWN"} == 1'}]}]
RULES_STANDALONE = [{"name": "haproxy", "interval": 30, "rules": [
    {"type": "alerting", "name": "HAProxyBackendServerDown", "duration": 120, "labels": {"severity": "critical"},
     "query": 'haproxy_server_up{job="haproxy"} == 0 and on (job, instance, backend, server) x'}]}]
AM_CONFIG = yaml.safe_dump({"route": ROUTE, "receivers": [
    {"name": "default", "slack_configs": [{"api_url": "<secret>"}], "email_configs": [{"to": "a@example.net"}],
     "webhook_configs": []},
    {"name": "pager", "webhook_configs": [{"url": "<secret>"}]}, {"name": "acgs-watchdog"}]})
FLEET = servers(("ac_backend", "app1", "UP"), ("ac_backend", "app2", "DOWN"),
                ("auth_backend", "app1", "MAINT"), ("auth_backend", "app2", "UP"),
                ("gs_backend", "app1", "UP"), ("gs_backend", "app2", "UP"),
                ("pgc_backend", "app1", "UP"), ("pgc_backend", "app2", "UP"))


def test_plan_picks_the_first_backend_with_two_servers_up_and_reads_the_bounds():
    plan = alert_selftest_plan(FLEET, PROM_CONFIG, RULES_NATIVE, AM_CONFIG)
    assert plan["errors"] == []
    assert (plan["backend"], plan["server"], plan["backend_label"]) == ("gs_backend", "app1", "proxy")
    assert plan["receiver"] == "default"
    # what Alertmanager's notification counters call the receiver's integrations (an empty list is none)
    assert plan["integrations"] == ["email", "slack"]
    # scrape 10 s (the haproxy job's own) + 2 x 15 s evaluation + for 60 s + 10; notified: the longer of
    # group_wait (30) and group_interval (300, an existing group's next flush) + 10
    assert plan["bounds"] == {"down": 30.0, "firing": 110.0, "routed": 10.0, "notified": 310.0, "up": 30.0, "resolved": 50.0,
                              "resolved_notified": 310.0}


def test_plan_follows_the_standalone_exporter_and_a_critical_route():
    plan = alert_selftest_plan(FLEET, PROM_CONFIG, RULES_STANDALONE, AM_CONFIG, "pgc_backend", "app2", 20)
    assert plan["errors"] == []
    assert (plan["backend"], plan["server"], plan["backend_label"], plan["receiver"]) == (
        "pgc_backend", "app2", "backend", "pager")
    assert plan["integrations"] == ["webhook"]
    assert plan["bounds"]["firing"] == 10 + 60 + 120 + 10
    assert plan["bounds"]["notified"] == 60 + 10 and plan["bounds"]["down"] == 20.0


@pytest.mark.parametrize("backend, server, message", [
    # the only UP server of ac_backend: taking it out would leave the backend with none
    ("ac_backend", "", "selftest_backend ac_backend has 1 server(s) UP (app1)"),
    ("gs_backend", "app9", "selftest_server is app9"),
    ("gs_backend", "app2", None),
    ("no_such_backend", "", "selftest_backend no_such_backend has 0 server(s) UP (none)"),
])
def test_plan_refuses_a_fault_that_is_not_harmless(backend, server, message):
    errors = alert_selftest_plan(FLEET, PROM_CONFIG, RULES_NATIVE, AM_CONFIG, backend, server)["errors"]
    if message is None:
        assert errors == []
    else:
        assert len(errors) == 1 and message in errors[0], errors


def test_plan_without_a_spare_server_anywhere_says_what_to_do():
    fleet = servers(("a", "s1", "UP"), ("a", "s2", "DOWN"), ("b", "s1", "UP"))
    errors = alert_selftest_plan(fleet, PROM_CONFIG, RULES_NATIVE, AM_CONFIG)["errors"]
    assert errors == ["No backend has two or more servers UP: the self-test puts one server DOWN and needs another "
                      "to carry its traffic. Fix the servers, or set selftest_backend to a backend that has."]


def test_plan_names_what_the_stack_lacks():
    config = yaml.safe_dump({"global": {"scrape_interval": "15s"}, "scrape_configs": [{"job_name": "node"}]})
    errors = alert_selftest_plan(FLEET, config, [{"name": "other", "interval": 15, "rules": []}], AM_CONFIG)["errors"]
    assert errors == ["Prometheus has no haproxy scrape job: converge the prometheus role (prometheus_haproxy_group).",
                      "Prometheus has no HAProxyBackendServerDown rule: converge the prometheus role."]


def test_plan_refuses_a_backend_whose_alert_is_already_active():
    alerts = [{"state": "firing", "labels": {"alertname": "HAProxyBackendServerDown", "proxy": "gs_backend", "server": "app3"}},
              {"state": "firing", "labels": {"alertname": "HAProxyBackendServerDown", "proxy": "ac_backend", "server": "app2"}},
              {"state": "firing", "labels": {"alertname": "Watchdog"}}]
    plan = alert_selftest_plan(FLEET, PROM_CONFIG, RULES_NATIVE, AM_CONFIG, "", "", 30, alerts)
    assert plan["errors"] == ["HAProxyBackendServerDown is already active for gs_backend/app3 (firing): the self-test "
                              "would time nothing. Wait until it resolves, fix the server, or set selftest_backend to "
                              "another backend."]
    # another backend's alert does not matter
    assert alert_selftest_plan(FLEET, PROM_CONFIG, RULES_NATIVE, AM_CONFIG, "pgc_backend", "", 30, alerts)["errors"] == []
