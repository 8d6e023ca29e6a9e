"""Prometheus on the lab (playbooks/monitoring_prometheus.yml).

Needs a converged lab (site.yml: `make lab`). Every target must be up, HAProxy's exporter
on lb1:9101 and Alertmanager on mon1:9093 included: inside the suite a missing one is a
failure that names the playbook that brings it, not a skip.
"""
import base64
import json
import socket
import time
import urllib.error
import urllib.request

import pytest

PROM_HOST = "mon1"
JOBS = {"haproxy": 9101, "node": 9100, "prometheus": 9090, "alertmanager": 9093}
CONFIG_FILES = ["/etc/prometheus/prometheus.yml", "/etc/prometheus/rules/haproxy.rules.yml",
                "/etc/prometheus/rules/stack.rules.yml", "/etc/prometheus/rules/extra.rules.yml",
                "/etc/prometheus/web.yml", "/etc/default/prometheus"]


def get(url, auth=None, timeout=10):
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def prom(lab):
    base = lab.prometheus_url(PROM_HOST)
    secret = lab.state_dir / "prometheus_web.secret"
    if not secret.exists():
        pytest.fail("no Prometheus credentials for lab %s (%s is missing): converge it with `ACGS_LAB=%s make lab`"
                    % (lab.name, secret, lab.name))
    auth = ("prometheus", lab.secret("prometheus_web"))

    def api(path):
        status, body = get(base + path, auth)
        assert status == 200, "GET %s: HTTP %s %s" % (path, status, body[:300])
        return json.loads(body)["data"]

    api.base = base
    api.auth = auth
    return api


def port_open(lab, host, port):
    try:
        socket.create_connection((lab.addr(host), port), timeout=3).close()
        return True
    except OSError:
        return False


def require_port(lab, host, port, what):
    """Fail when nothing listens there: the suite runs on a converged lab."""
    if not port_open(lab, host, port):
        pytest.fail("nothing listens on %s:%d: %s is missing from the lab %s" % (host, port, what, lab.name))


def test_requires_basic_auth(prom):
    status, _ = get(prom.base + "/api/v1/status/config")
    assert status == 401, "Prometheus answered %s without credentials, expected 401" % status
    status, _ = get(prom.base + "/api/v1/status/config", ("prometheus", "wrong-password"))
    assert status == 401
    status, _ = get(prom.base + "/api/v1/status/config", prom.auth)
    assert status == 200


def test_runtime_settings(prom):
    flags = prom("/api/v1/status/flags")
    assert flags["storage.tsdb.retention.time"] == "15d"
    assert flags["web.config.file"] == "/etc/prometheus/web.yml"
    config = prom("/api/v1/status/config")["yaml"]
    assert "scrape_interval: 15s" in config and "evaluation_interval: 15s" in config


def wait_targets(prom, predicate, timeout=60):
    deadline = time.time() + timeout
    while True:
        targets = prom("/api/v1/targets")["activeTargets"]
        if predicate(targets) or time.time() > deadline:
            return targets
        time.sleep(2)


def test_jobs_scrape_inventory_targets(lab, prom):
    expected = {("node", "%s:9100" % h) for h in ("lb1", "mon1", "app1", "app2")}
    expected |= {("haproxy", "lb1:9101"), ("prometheus", "mon1:9090"), ("alertmanager", "mon1:9093")}
    # Every target must be up in a converged lab; say which playbook a missing service needs.
    required_up = set(expected)
    require_port(lab, "lb1", 9101, "HAProxy's exporter (run playbooks/haproxy.yml)")
    require_port(lab, "mon1", 9093, "Alertmanager (run playbooks/monitoring_alerting.yml)")

    def all_up(targets):
        health = {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in targets}
        return all(health.get(key) == "up" for key in required_up)

    targets = wait_targets(prom, all_up)
    found = {(t["labels"]["job"], t["labels"]["instance"]): t for t in targets}
    assert expected <= set(found), "missing targets: %s" % sorted(expected - set(found))
    for key in required_up:
        assert found[key]["health"] == "up", "%s %s is %s: %s" % (key + (found[key]["health"], found[key]["lastError"]))
    for (job, instance), target in found.items():
        if job in JOBS:
            assert target["labels"]["host"] == instance.split(":")[0]
            assert target["scrapeUrl"].endswith(":%d/metrics" % JOBS[job])


def test_alerting_goes_to_every_alertmanager(lab, prom):
    urls = [a["url"] for a in prom("/api/v1/alertmanagers")["activeAlertmanagers"]]
    assert urls == ["http://%s:9093/api/v2/alerts" % lab.addr("mon1")]


def test_rules_loaded(prom):
    groups = prom("/api/v1/rules")["groups"]
    alerts = {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
    for name in ("HAProxyDown", "HAProxyBackendDown", "HAProxyBackendServerDown", "HAProxyHighResponseTime",
                 "HAProxyHighConnectionCount", "HAProxySLOLatencyP95High", "HAProxySLOErrorBudgetFastBurn",
                 "HAProxySLOErrorBudgetSlowBurn", "HAProxySLOErrorRateHigh",
                 # shipped by the role (stack.rules.yml), not by the lab inventory
                 "StackDriftDetected", "StackDriftCheckStale", "Watchdog"):
        assert name in alerts
    unhealthy = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r["health"] == "err"]
    assert not unhealthy, unhealthy


def test_haproxy_metrics_match_the_exporter_mode(lab, prom):
    require_port(lab, "lb1", 9101, "HAProxy's exporter (run playbooks/haproxy.yml)")
    result = prom("/api/v1/query?query=count(haproxy_server_status%7Bjob%3D%22haproxy%22%2Cstate%3D%22UP%22%7D%20%3D%3D%201)"
                  "%20or%20count(haproxy_server_up%7Bjob%3D%22haproxy%22%7D%20%3D%3D%201)")["result"]
    assert result and float(result[0]["value"][1]) > 0, "no HAProxy server is reported UP"


def snapshot(lab):
    out = lab.run(PROM_HOST, "sha256sum %s" % " ".join(CONFIG_FILES)).stdout
    return dict(line.split()[::-1] for line in out.splitlines())


@pytest.mark.parametrize("bad, message", [
    ({"prometheus_retention_time": "15x"}, "prometheus_retention_time=15x"),
    ({"prometheus_rules_extra": [{"name": "broken", "rules": [{"alert": "Broken", "expr": "sum(rate(up[5m]) by"}]}]},
     "could not parse expression"),
    ({"prometheus_web_password": ""}, "prometheus_web_password is empty"),
], ids=["retention", "promql", "no-password"])
def test_bad_input_fails_and_changes_nothing(lab, prom, bad, message, tmp_path):
    before = snapshot(lab)
    reloads_before = prom("/api/v1/status/runtimeinfo")["lastConfigTime"]
    extra = tmp_path / "bad.json"
    extra.write_text(json.dumps(bad))
    result = lab.playbook("playbooks/monitoring_prometheus.yml", "--tags", "prometheus", "-e", "@%s" % extra,
                          check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, "the playbook accepted %s" % bad
    assert message in output, "the failure does not mention %r:\n%s" % (message, output[-3000:])
    assert snapshot(lab) == before, "Prometheus's files changed on a failed run"
    assert prom("/api/v1/status/runtimeinfo")["lastConfigTime"] == reloads_before


def test_rerun_changes_nothing(lab):
    result = lab.playbook("playbooks/monitoring_prometheus.yml")
    recap = result.stdout[result.stdout.rindex("PLAY RECAP"):]
    assert "changed=0" in recap and "changed=1" not in recap, recap
    for line in recap.splitlines()[1:]:
        if ":" in line and "changed=" in line:
            assert "changed=0" in line, line


def test_node_exporter_textfile_collector(lab):
    path = "/var/lib/prometheus/node-exporter/acgs_test.prom"
    lab.run("app1", "echo 'acgs_textfile_probe 42' > %s.tmp && mv %s.tmp %s" % (path, path, path))
    try:
        out = lab.run("app1", "python3 -c \"import urllib.request; "
                              "print(urllib.request.urlopen('http://127.0.0.1:9100/metrics').read().decode())\"").stdout
        assert "acgs_textfile_probe 42" in out
    finally:
        lab.run("app1", "rm -f %s" % path, check=False)


def test_server_down_pages_and_maintenance_does_not(lab, prom):
    """A server failing its checks raises HAProxyBackendServerDown (after its 1m `for`); one in MAINT does not."""
    require_port(lab, "lb1", 9101, "HAProxy's exporter (run playbooks/haproxy.yml)")
    control = "http://%s:8001/_control" % lab.addr("app1")

    def set_health(state):
        request = urllib.request.Request(control, data=json.dumps({"health": state}).encode(), method="POST")
        urllib.request.urlopen(request, timeout=5).read()

    def runtime(command):
        lab.run("lb1", "echo '%s' | socat stdio /run/haproxy/admin.sock" % command)

    set_health("down")
    runtime("set server fv_backend/app2 state maint")
    try:
        deadline = time.time() + 180
        while True:
            alerts = [a for a in prom("/api/v1/alerts")["alerts"] if a["labels"]["alertname"] == "HAProxyBackendServerDown"]
            firing = [a for a in alerts if a["state"] == "firing"]
            if firing or time.time() > deadline:
                break
            time.sleep(5)
        assert [(a["labels"]["proxy" if "proxy" in a["labels"] else "backend"], a["labels"]["server"]) for a in firing] \
            == [("ac_backend", "app1")], "expected only ac_backend/app1 firing, got %s" % alerts
        labels = firing[0]["labels"]
        # The same labels HAProxyDown carries for this load balancer: what Alertmanager's inhibition matches on.
        assert (labels["instance"], labels["host"], labels["job"]) == ("lb1:9101", "lb1", "haproxy")
    finally:
        set_health("up")
        runtime("set server fv_backend/app2 state ready")
