""""Change the exporter mode": one variable, acgs_haproxy_exporter_mode (roles/_common), in one place.

The lab converges with the mode set once (-e, as an inventory's group_vars/all would), nothing else:
the exporter on lb1, the alert rules Prometheus loads, the dashboards Grafana is given, Alertmanager's
inhibition and the drift check all follow it; then native again, and everything is back.
"""
import json
import re
import time

import pytest
import requests

from alerting import Stack, wait_until

TAGS = "haproxy_exporter,prometheus,alertmanager,grafana"
DASHBOARD = "/var/lib/grafana/dashboards/haproxy.json"
RULES = "/etc/prometheus/rules/haproxy.rules.yml"
# What each mode's exporter says and what the rules and dashboards must query (the guide's facts).
MODE = {
    "native": {"metric": "haproxy_server_status", "label": "proxy",
               "other_metric": "haproxy_server_up", "other_label": "backend"},
    "standalone": {"metric": "haproxy_server_up", "label": "backend",
                   "other_metric": "haproxy_server_status", "other_label": "proxy"},
}


def converge(lab, mode):
    lab.playbook("site.yml", "--tags", TAGS, "-e", "acgs_haproxy_exporter_mode=%s" % mode)


def drift_items(lab, tmp_path, mode):
    """The drift check's runtime items for the haproxy and haproxy_exporter components, in this mode."""
    lab.playbook("playbooks/drift_check.yml", "--tags", "runtime", "-e", "drift_report_dir=%s" % tmp_path,
                 "-e", "drift_export_metrics=false", "-e", "acgs_haproxy_exporter_mode=%s" % mode)
    report = json.loads((tmp_path / "latest.json").read_text())
    return [i for i in report["items"] if i["component"] in ("haproxy", "haproxy_exporter")]


def check_everything_follows(lab, stack, mode, tmp_path):
    want = MODE[mode]
    lb = lab.addr("lb1")
    # The exporter on lb1.
    metrics = requests.get("http://%s:9101/metrics" % lb, timeout=10).text
    assert want["metric"] + "{" in metrics and want["other_metric"] + "{" not in metrics, mode
    # The rules Prometheus loaded query this exporter's metric and label.
    rules = lab.run("mon1", "cat %s" % RULES).stdout
    assert want["metric"] in rules and '%s=~"' % want["label"] in rules, mode
    assert want["other_metric"] not in rules, mode
    loaded = [r["query"] for g in stack.prom("/api/v1/rules")["groups"] for r in g["rules"]]
    assert any(want["metric"] in q for q in loaded) and not any(want["other_metric"] in q for q in loaded), mode
    # ... and Prometheus has those series from the haproxy job (the rules evaluate on real data).
    wait_until(lambda: stack.query('count(%s{job="haproxy"})' % want["metric"]), 60,
               "Prometheus scraping %s from lb1" % want["metric"])
    # The dashboards query the same metric and label.
    dashboard = lab.run("mon1", "cat %s" % DASHBOARD).stdout
    assert want["metric"] in dashboard and want["other_metric"] not in dashboard, mode
    assert re.search(r'label_values\([^)]*\}, %s\)' % want["label"], dashboard), mode
    # Alertmanager: a backend that is down silences its servers' alerts, matched on this mode's label.
    config = stack.am("/api/v2/status")["config"]["original"]
    assert '%s=~".+"' % want["label"] in config and '%s=~".+"' % want["other_label"] not in config, mode
    # The drift check expects this mode's units: in standalone, a stopped exporter service is drift.
    assert drift_items(lab, tmp_path, mode) == [], mode
    if mode == "standalone":
        lab.run("lb1", "systemctl stop prometheus-haproxy-exporter")
        try:
            # The target item needs Prometheus to have seen the failed scrape (15 s interval).
            wait_until(lambda: stack.query('up{job="haproxy",host="lb1"} == 0'), 60,
                       "Prometheus seeing lb1's exporter down")
            items = drift_items(lab, tmp_path, mode)
        finally:
            lab.run("lb1", "systemctl start prometheus-haproxy-exporter")
        # Both kinds of runtime drift land on the standalone exporter: its unit, and the haproxy job's
        # target (in native mode that target is HAProxy itself).
        whats = sorted(i["what"] for i in items if i["component"] == "haproxy_exporter")
        assert len(whats) == 2 and whats[0].startswith("Prometheus target haproxy lb1:9101 is down"), items
        assert whats[1] == "service prometheus-haproxy-exporter.service is stopped", items


@pytest.fixture
def stack(lab):
    return Stack(lab)


def test_one_variable_switches_the_whole_stack(lab, stack, tmp_path):
    started = time.monotonic()
    try:
        converge(lab, "standalone")
        check_everything_follows(lab, stack, "standalone", tmp_path)
    finally:
        converge(lab, "native")
    check_everything_follows(lab, stack, "native", tmp_path)
    print("exporter mode round trip: %.0f s" % (time.monotonic() - started))
