"""Grafana on mon1 (playbooks/monitoring_alerting.yml, roles/grafana).

NOT RUN here, and said so by skips: Grafana itself. Its package cannot be reached from the
lab (Grafana's apt repository is unreachable), so the lab converges with grafana_install
false and these tests check what the role renders on the host (grafana.ini, provisioning,
dashboard) and that an install without any reachable source fails with a clear message,
leaving apt usable. With ACGS_GRAFANA_INSTALL=true and a reachable source, the service
tests run too. Also: grafana_dashboard_files (a file that is not JSON fails before any change;
valid ones land next to the built-in dashboard), and every panel query of the deployed
dashboard evaluated against the lab's Prometheus after traffic through lb1 (the evaluation of
tests/local/test_dashboards.py, with Prometheus' basic auth).

ACGS_TEST_EXTRA_VARS=<file> adds `-e @<file>` to the playbook runs.
"""
import importlib.util
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from lab_hosts import SEED_SERVICES

EXTRA = ["-e", "@" + os.environ["ACGS_TEST_EXTRA_VARS"]] if os.environ.get("ACGS_TEST_EXTRA_VARS") else []
INSTALLED = os.environ.get("ACGS_GRAFANA_INSTALL", "").lower() in ("1", "true", "yes")
DASHBOARDS_DIR = "/var/lib/grafana/dashboards"
# Everything the grafana role writes on mon1 (the bad-input test compares checksums).
GRAFANA_FILES = ["/etc/grafana/grafana.ini", "/etc/grafana/provisioning/datasources/acgs-prometheus.yml",
                 "/etc/grafana/provisioning/dashboards/acgs-haproxy.yml", DASHBOARDS_DIR + "/haproxy.json"]
# Seed services behind lb1, from the haproxy role's defaults (never a copy): /api/v1/<service>/ goes
# to <service>_backend.
SERVICES = tuple(SEED_SERVICES)


def _local_dashboard_helpers():
    """tests/local/test_dashboards.py: the same panel evaluation the local live test runs."""
    path = Path(__file__).resolve().parents[1] / "local" / "test_dashboards.py"
    spec = importlib.util.spec_from_file_location("_acgs_local_dashboards", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dashboards = _local_dashboard_helpers()


def read(lab, path):
    return lab.run("mon1", "cat %s" % path).stdout


def test_grafana_ini_rendered(lab):
    ini = read(lab, "/etc/grafana/grafana.ini")
    assert "[security]" in ini and "admin_user = admin" in ini
    assert "admin_password = " in ini
    assert "reporting_enabled = false" in ini and "http_port = 3000" in ini
    assert lab.run("mon1", "stat -c %a /etc/grafana/grafana.ini").stdout.strip() == "640"


def test_prometheus_data_source_with_basic_auth(lab):
    provisioning = yaml.safe_load(read(lab, "/etc/grafana/provisioning/datasources/acgs-prometheus.yml"))
    (source,) = provisioning["datasources"]
    assert source["url"] == lab.prometheus_url("mon1")
    assert source["type"] == "prometheus" and source["isDefault"] and source["uid"] == "prometheus"
    assert source["basicAuth"] is True and source["basicAuthUser"]
    assert source["secureJsonData"]["basicAuthPassword"]
    assert lab.run("mon1", "stat -c %a /etc/grafana/provisioning/datasources/acgs-prometheus.yml").stdout.strip() == "640"


def test_dashboard_rendered(lab):
    provider = yaml.safe_load(read(lab, "/etc/grafana/provisioning/dashboards/acgs-haproxy.yml"))["providers"][0]
    board = json.loads(read(lab, provider["options"]["path"] + "/haproxy.json"))
    assert board["refresh"] == "30s"
    assert {"instance", "backend", "server"} <= {v["name"] for v in board["templating"]["list"]}
    assert len(board["panels"]) >= 8


def test_missing_admin_password_fails_naming_the_variable(lab):
    before = lab.run("mon1", "sha256sum /etc/grafana/grafana.ini").stdout
    result = lab.playbook("playbooks/monitoring_alerting.yml", "--tags", "grafana", *EXTRA,
                          "-e", '{"grafana_admin_password": ""}', check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "grafana_admin_password" in output, output[-3000:]
    assert lab.run("mon1", "sha256sum /etc/grafana/grafana.ini").stdout == before


def test_install_without_a_reachable_source_fails_clearly(lab):
    if INSTALLED:
        pytest.skip("Grafana is installed in this lab: the unreachable-source path is not exercised")
    result = lab.playbook("playbooks/monitoring_alerting.yml", "--tags", "grafana", *EXTRA,
                          "-e", '{"grafana_install": true}', check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Grafana could not be installed" in output and "grafana_package_file" in output, output[-3000:]
    # The unreachable repository was removed again: apt keeps working for the other roles.
    assert lab.run("mon1", "test -e /etc/apt/sources.list.d/grafana.list", check=False).returncode != 0
    missing = lab.playbook("playbooks/monitoring_alerting.yml", "--tags", "grafana", *EXTRA,
                           "-e", '{"grafana_install": true, "grafana_package_file": "/nonexistent/grafana.deb"}',
                           check=False)
    assert missing.returncode != 0 and "grafana_package_file /nonexistent/grafana.deb does not exist" in missing.stdout


@pytest.mark.skipif(not INSTALLED, reason="NOT RUN: Grafana's package cannot be reached from the lab, so Grafana "
                                          "is not installed or running (set ACGS_GRAFANA_INSTALL=true with a source)")
def test_grafana_serves_the_dashboard(lab):
    with urllib.request.urlopen("http://%s:3000/api/health" % lab.addr("mon1"), timeout=10) as response:
        assert json.loads(response.read())["database"] == "ok"


def snapshot(lab):
    """sha256 of every file in the dashboards directory and of the role's other files on mon1."""
    out = lab.run("mon1", "sha256sum %s %s/*" % (" ".join(GRAFANA_FILES), DASHBOARDS_DIR)).stdout
    return dict(line.split()[::-1] for line in out.splitlines())


def test_dashboard_file_that_is_not_json_fails_before_any_change(lab, tmp_path):
    good = tmp_path / "team-overview.json"
    good.write_text(json.dumps({"title": "Team overview", "panels": []}))
    bad = tmp_path / "broken-board.json"
    bad.write_text('{"title": "broken", "panels": [\n')
    before = snapshot(lab)
    extra = tmp_path / "bad.json"
    extra.write_text(json.dumps({"grafana_dashboard_files": [str(good), str(bad)]}))
    result = lab.playbook("playbooks/monitoring_alerting.yml", "--tags", "grafana", *EXTRA, "-e", "@%s" % extra,
                          check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, "the playbook accepted a dashboard file that is not JSON"
    message = next((line for line in output.splitlines() if "grafana_dashboard_files: " in line), "")
    assert "grafana_dashboard_files: %s is not JSON" % bad in message, output[-3000:]
    assert str(good) not in message, "the valid file was reported as bad: %s" % message
    assert "changed:" not in output, output[-3000:]
    after = snapshot(lab)
    assert after == before, "files changed on mon1 on a failed run: %s" % sorted(
        set(after.items()) ^ set(before.items()))
    assert DASHBOARDS_DIR + "/team-overview.json" not in after


def test_dashboard_files_are_copied_next_to_the_builtin_one(lab, tmp_path):
    board = {"title": "ACGS integration test board", "uid": "acgs-it-board", "panels": [], "schemaVersion": 36}
    path = tmp_path / "acgs-it-board.json"
    path.write_text(json.dumps(board, indent=1))
    extra = tmp_path / "files.json"
    extra.write_text(json.dumps({"grafana_dashboard_files": [str(path)]}))
    target = DASHBOARDS_DIR + "/acgs-it-board.json"
    try:
        lab.playbook("playbooks/monitoring_alerting.yml", "--tags", "grafana", *EXTRA, "-e", "@%s" % extra)
        assert json.loads(read(lab, target)) == board
        assert lab.run("mon1", "stat -c %a " + target).stdout.strip() == "644"
        # Same directory as the built-in dashboard, so the same provider serves it.
        provider = yaml.safe_load(read(lab, "/etc/grafana/provisioning/dashboards/acgs-haproxy.yml"))["providers"][0]
        assert provider["options"]["path"] == DASHBOARDS_DIR
    finally:
        # The inventory's grafana_dashboard_files is empty: leave mon1 as it converges.
        lab.run("mon1", "rm -f " + target, check=False)


def send_traffic(lab, rounds=20):
    """GET every service through lb1 (plus a 404); returns {path: HTTP status counts}."""
    counts = {}
    for _ in range(rounds):
        for path in ["/api/v1/%s/dashboard-test" % s for s in SERVICES] + ["/no-such-route"]:
            try:
                with urllib.request.urlopen("http://%s%s" % (lab.addr("lb1"), path), timeout=5) as response:
                    code = response.status
            except urllib.error.HTTPError as error:
                code = error.code
            counts.setdefault(path, {}).setdefault(code, 0)
            counts[path][code] += 1
    return counts


def test_every_panel_query_returns_data_on_the_lab_prometheus(lab):
    """The deployed dashboard's variables and panel queries, evaluated on mon1's Prometheus after traffic."""
    url = lab.prometheus_url("mon1")
    auth = ("prometheus", lab.secret("prometheus_web"))
    counts = send_traffic(lab)
    for service in SERVICES:
        assert counts["/api/v1/%s/dashboard-test" % service].get(200), counts
    # Let Prometheus scrape lb1 after the traffic (scrape interval from its running config).
    config = yaml.safe_load(json.loads(dashboards.http(url + "/api/v1/status/config", auth=auth)[1])["data"]["yaml"])
    interval = dashboards_duration(config["global"]["scrape_interval"])
    time.sleep(interval + 2)
    board = json.loads(read(lab, DASHBOARDS_DIR + "/haproxy.json"))
    # What Grafana substitutes for its interval variables at this scrape interval
    # ($__rate_interval is at least four scrape intervals).
    builtins = {"$__rate_interval": "%ds" % (4 * interval), "$__interval": "%ds" % interval, "$__range": "5m"}
    failures = dashboards.evaluate_dashboard(url, board, "lb1:9101", builtins=builtins, auth=auth)
    assert not failures, "\n".join(failures)
    assert len(dashboards.expressions(board)) >= 8


def dashboards_duration(text):
    """Seconds of a simple Prometheus duration such as 15s or 1m."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit) and text[:-len(unit)].isdigit():
            return int(text[:-len(unit)]) * units[unit]
    raise AssertionError("unexpected duration %r" % text)
