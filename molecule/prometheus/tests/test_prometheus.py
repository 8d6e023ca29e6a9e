"""Prometheus runs with basic auth, the configured jobs, rules and flags."""
import json

AUTH = "prometheus:molecule-Secret-1"


def curl(host, path, auth=True):
    cmd = "curl -s -w '\\n%%{http_code}' %s http://127.0.0.1:9090%s" % ("-u " + AUTH if auth else "", path)
    body, _, code = host.check_output(cmd).rpartition("\n")
    return int(code), body


def test_running_and_enabled(host):
    service = host.service("prometheus")
    assert service.is_running and service.is_enabled


def test_basic_auth(host):
    assert curl(host, "/-/ready", auth=False)[0] == 401
    assert curl(host, "/-/ready")[0] == 200
    web = host.file("/etc/prometheus/web.yml")
    assert web.mode == 0o640 and web.group == "prometheus"
    assert "molecule-Secret-1" not in web.content_string and "$2b$" in web.content_string


def test_flags(host):
    code, body = curl(host, "/api/v1/status/flags")
    flags = json.loads(body)["data"]
    assert flags["storage.tsdb.retention.time"] == "10d"
    assert flags["web.config.file"] == "/etc/prometheus/web.yml"


def test_jobs(host):
    code, body = curl(host, "/api/v1/targets")
    jobs = {t["labels"]["job"] for t in json.loads(body)["data"]["activeTargets"]}
    assert {"node", "prometheus", "extra"} <= jobs


def test_rules_in_standalone_names(host):
    code, body = curl(host, "/api/v1/rules")
    rules = {r["name"]: r for g in json.loads(body)["data"]["groups"] for r in g["rules"]}
    assert "molecule:up:sum" in rules
    assert "haproxy_server_up" in rules["HAProxyBackendServerDown"]["query"]
    assert "> 0.8" in rules["HAProxyHighResponseTime"]["query"]
    # The stack rules ship with the role (stack.rules.yml), whatever the inventory says.
    assert {"StackDriftDetected", "StackDriftCheckStale", "Watchdog"} <= set(rules)


def test_started_once_by_the_role(host):
    """The package must not start the service with Debian's defaults (no auth) before the role's
    configuration lands (policy-rc.d): one start since boot, by the role's service task, and none
    by the idempotence and check-mode runs."""
    starts = host.check_output("journalctl -b -u prometheus.service -o cat | grep -c '^Started ' || true")
    assert starts == "1", "prometheus.service started %s times since boot, expected 1" % starts
