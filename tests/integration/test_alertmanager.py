"""Alertmanager on mon1 (playbooks/monitoring_alerting.yml, roles/alertmanager).

Needs the lab converged with the playbook. ACGS_TEST_EXTRA_VARS=<file> adds `-e @<file>`
to the playbook runs (e.g. while inventories/lab/group_vars/all/stack.yml is missing).
"""
import base64
import hashlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

from conftest import ROOT

CONFIG = "/etc/prometheus/alertmanager.yml"
EXTRA = ["-e", "@" + os.environ["ACGS_TEST_EXTRA_VARS"]] if os.environ.get("ACGS_TEST_EXTRA_VARS") else []


@pytest.fixture(scope="module")
def credentials(lab):
    """(user, password) the inventory gives Alertmanager's basic auth (the stack-wide acgs_alertmanager_* settings,
    which the role's alertmanager_web_* default to); the lab must have them."""
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible"), "mon1", "-i", str(ROOT / "inventories" / "lab"), "-o", *EXTRA,
         "-m", "ansible.builtin.debug", "-a",
         "msg={{ {'u': alertmanager_web_username | default(acgs_alertmanager_username | default('')),"
         " 'p': alertmanager_web_password | default(acgs_alertmanager_password | default(''))} | to_json }}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=lab.env)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(json.loads(result.stdout.split("=>", 1)[1])["msg"])
    if not (data["u"] and data["p"]):
        pytest.fail("the lab inventory gives Alertmanager no basic auth credentials (acgs_alertmanager_username/"
                    "acgs_alertmanager_password, or alertmanager_web_* for mon1): the suite expects them (inventories/lab/group_vars)")
    return data["u"], data["p"]


@pytest.fixture(scope="module")
def api(lab, credentials):
    base = "http://%s:9093" % lab.addr("mon1")

    def call(path, data=None, method=None, auth=True):
        request = urllib.request.Request(base + path, method=method,
                                         data=json.dumps(data).encode() if data is not None else None,
                                         headers={"Content-Type": "application/json"})
        if auth:
            token = base64.b64encode(("%s:%s" % credentials).encode()).decode()
            request.add_header("Authorization", "Basic " + token)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            return json.loads(body) if body else None
    return call


def sink(lab, method="GET"):
    request = urllib.request.Request("http://%s:9095/_received" % lab.addr("mon1"), method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_config_loaded_with_receivers(api):
    status = api("/api/v2/status")
    original = status["config"]["original"]
    assert "name: default" in original and "name: pager" in original
    assert "HAProxyDown" in original  # inhibition rules
    # A single Alertmanager runs without a cluster listener.
    assert status["cluster"]["status"] in ("disabled", "ready")
    receivers = {r["name"] for r in api("/api/v2/receivers")}
    assert {"default", "pager"} <= receivers


def test_amtool_accepts_the_deployed_config(lab):
    out = lab.run("mon1", "amtool check-config %s" % CONFIG).stdout
    # default and pager, and the role's own acgs-watchdog (Watchdog goes nowhere else).
    assert "SUCCESS" in out and "3 receivers" in out and "4 inhibit rules" in out


def test_no_credentials_gives_401(api):
    with pytest.raises(urllib.error.HTTPError) as error:
        api("/api/v2/status", auth=False)
    assert error.value.code == 401


def test_unknown_receiver_fails_before_any_change(lab):
    before = lab.run("mon1", "sha256sum %s" % CONFIG).stdout
    result = lab.playbook("playbooks/monitoring_alerting.yml", "--tags", "alertmanager", *EXTRA,
                          "-e", '{"alertmanager_route": {"receiver": "default", "routes": [{"receiver": "no-such-receiver"}]}}',
                          check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "alertmanager_route" in output and "no-such-receiver" in output, output[-3000:]
    assert "changed:" not in output
    assert lab.run("mon1", "sha256sum %s" % CONFIG).stdout == before


def post_alerts(api, *label_sets):
    api("/api/v2/alerts", [{"labels": labels, "annotations": {"summary": "integration test"}} for labels in label_sets])


def test_inhibition(api):
    tag = uuid.uuid4().hex[:8]
    lb = "lb-%s:9101" % tag
    post_alerts(
        api,
        {"alertname": "HAProxyDown", "instance": lb, "severity": "critical", "test": tag},
        {"alertname": "HAProxyBackendServerDown", "instance": lb, "proxy": "auth_backend", "server": "app1",
         "severity": "warning", "test": tag},
        # A backend down silences its own servers only, matched on the label of the exporter in use
        # (acgs_haproxy_exporter_mode; the lab runs native: proxy). The standalone-labelled ones below are not.
        {"alertname": "HAProxyBackendDown", "instance": "other-" + lb, "proxy": "auth_backend", "severity": "critical",
         "test": tag},
        {"alertname": "HAProxyBackendServerDown", "instance": "other-" + lb, "proxy": "auth_backend", "server": "app1",
         "severity": "warning", "test": tag},
        {"alertname": "HAProxyBackendServerDown", "instance": "other-" + lb, "proxy": "ac_backend", "server": "app1",
         "severity": "warning", "test": tag},
        {"alertname": "HAProxyBackendDown", "instance": "std-" + lb, "backend": "gs_backend", "severity": "critical",
         "test": tag},
        {"alertname": "HAProxyBackendServerDown", "instance": "std-" + lb, "backend": "gs_backend", "server": "app2",
         "severity": "warning", "test": tag},
        {"alertname": "HAProxyBackendServerDown", "instance": "std-" + lb, "backend": "pgc_backend", "server": "app2",
         "severity": "warning", "test": tag},
    )
    time.sleep(1)
    alerts = api("/api/v2/alerts?filter=test%%3D%%22%s%%22" % tag)
    inhibited = {(a["labels"]["alertname"], a["labels"]["instance"], a["labels"].get("proxy", a["labels"].get("backend")))
                 for a in alerts if a["status"]["inhibitedBy"]}
    assert inhibited == {
        ("HAProxyBackendServerDown", lb, "auth_backend"),
        ("HAProxyBackendServerDown", "other-" + lb, "auth_backend"),
    }, alerts


def test_critical_alert_reaches_the_paging_webhook(lab, api):
    sink(lab, "DELETE")
    name = "IntegrationTest%s" % uuid.uuid4().hex[:8]
    post_alerts(api, {"alertname": name, "instance": "test:1", "severity": "critical"},
                {"alertname": name + "Warn", "instance": "test:1", "severity": "info"})
    deadline = time.monotonic() + 45  # group_wait: 10 s for critical, 30 s otherwise
    seen = {}
    while time.monotonic() < deadline and len(seen) < 2:
        for entry in sink(lab):
            for alert in entry["body"].get("alerts", []):
                if alert["labels"]["alertname"].startswith(name):
                    seen[alert["labels"]["alertname"]] = entry["path"]
        time.sleep(1)
    assert seen.get(name) == "/alertmanager/critical", seen
    assert seen.get(name + "Warn") == "/alertmanager", seen


def test_watchdog_reaches_the_deadmans_switch_only(lab, api):
    """The prometheus role's Watchdog always fires; the lab's alertmanager_deadmans_switch_url is the
    sink's /deadmans-switch path. It arrives there (group_wait 0s, repeated every interval), and
    never at the default or pager receivers."""
    route = yaml.safe_load(api("/api/v2/status")["config"]["original"])["route"]
    assert route["routes"][0]["matchers"] == ['alertname="Watchdog"'], route["routes"][0]
    assert route["routes"][0]["receiver"] == "acgs-watchdog"
    # Sent at once, then every alertmanager_deadmans_switch_interval (1m) at a 30 s group flush:
    # an earlier test may just have cleared the sink.
    deadline = time.monotonic() + 120
    paths = set()
    while time.monotonic() < deadline and "/deadmans-switch" not in paths:
        paths = {entry["path"] for entry in sink(lab)
                 if any(a["labels"]["alertname"] == "Watchdog" for a in entry["body"].get("alerts", []))}
        time.sleep(2)
    assert paths == {"/deadmans-switch"}, "Watchdog notifications by path: %s" % paths
