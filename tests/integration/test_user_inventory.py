"""A user's inventory on the lab: an eighth backend, and the drift alert from the role's own rules.

The inventory is inventories/example, copied at test time and pointed at the lab's containers
(tests/integration/user_inventory.py lists every deviation from the example). On top of it the
test adds:
  - the user's one entry: haproxy_backends_extra in group_vars/haproxy.yml, an eighth backend
    (rp_backend, port 8007, /api/v1/rp/), the entry the example's comment shows;
  - lab scaffolding, not the user's: a stand-in service "rp" on port 8007 on app1/app2
    (roles/demo_app; group_vars/demo_app.yml, the role's seven defaults plus rp);
  - for the drift alert only, after asserting the role's default (15m) is loaded: the ONE
    override, prometheus_alerts.drift_for 30s, so the alert goes pending then firing in seconds.

Proves, in the lab:
  (a) the eighth backend is rendered and validated (haproxy -c runs in the role's template
      validate; run again here), serves (HTTP and HTTPS through lb1 to /api/v1/rp/ answer 200
      from the rp stand-in on app1/app2), is UP with both servers on the runtime API, is scraped,
      and the prometheus role's SLO rules (/etc/prometheus/rules/haproxy.rules.yml on mon1) cover
      it; Grafana's dashboards and Alertmanager's config name no backend, so they need nothing.
  (b) with no rule setting in the inventory, Prometheus loads StackDriftDetected (for 15m) and
      StackDriftCheckStale from the role's stack.rules.yml; with the override, a server put in MAINT
      through the runtime API is reported by playbooks/drift_check.yml run with the user inventory,
      and StackDriftDetected{host=lb1, component=haproxy, kind=runtime} goes pending, then firing.
Converges only the components involved (site.yml --tags demo_app,haproxy,haproxy_exporter,prometheus),
and the finalizer puts the lab back as inventories/lab has it (site.yml -i inventories/lab on the same
tags and the gate, the drift metric files as they were, the rp stand-in stopped).
"""
import base64
import csv
import io
import json
import ssl
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

import user_inventory
from alerting import wait_until
from conftest import ROOT

EXTRA_BACKEND = {"name": "rp_backend", "port": 8007, "path_prefix": "/api/v1/rp/"}
STAND_IN = ("rp", 8007)
# The components this test converges with the user inventory (and puts back with the lab's).
COMPONENTS = "demo_app,haproxy,haproxy_exporter,prometheus"
SOCKET = "/run/haproxy/admin.sock"
DRIFT_PROM = "/var/lib/prometheus/node-exporter/acgs_drift.prom"
STACK_RULES = "/etc/prometheus/rules/stack.rules.yml"
# The ONE rule override, applied only after the default is asserted: the role's 15m would make
# the test wait a quarter of an hour for "firing".
DRIFT_FOR = "30s"
# What one test leaves for the next (the drift report).
RESULTS = {}


def socket_cmd(lab, command):
    return lab.run("lb1", "echo '%s' | socat -t 5 stdio unix-connect:%s" % (command, SOCKET)).stdout


def show_stat(lab, backend):
    rows = csv.DictReader(io.StringIO(socket_cmd(lab, "show stat").lstrip("# ")))
    return {r["svname"]: r["status"] for r in rows if r["pxname"] == backend}


def timed_playbook(lab, inventory, *args, **kwargs):
    """ansible-playbook with ``inventory`` (None: the lab's); prints its duration.

    The user inventory is passed as its hosts.yml (its group_vars beside it are read all the same):
    as a directory, Ansible would also try to parse files/lb1.pem as an inventory source.
    """
    saved = lab.inventory
    if inventory is not None:
        lab.inventory = Path(inventory) / "hosts.yml"
    started = time.time()
    try:
        return lab.playbook(*args, **kwargs)
    finally:
        print("%s -i %s %s: %.0f s" % (args[0], lab.inventory.relative_to(lab.inventory.parents[1]),
                                       " ".join(map(str, args[1:])), time.time() - started), flush=True)
        lab.inventory = saved


@pytest.fixture(scope="module")
def prom(lab):
    base = lab.prometheus_url("mon1")
    auth = base64.b64encode(("prometheus:%s" % lab.secret("prometheus_web")).encode()).decode()

    def get(path):
        request = urllib.request.Request(base + path, headers={"Authorization": "Basic " + auth})
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read().decode())["data"]
    return get


@pytest.fixture(scope="module")
def user_inv(lab, tmp_path_factory):
    """The user inventory, converged on the lab; the lab put back as inventories/lab has it at the end."""
    inventory = user_inventory.build(lab, tmp_path_factory.mktemp("user") / "inventory")
    # The user's one entry, in one file.
    user_inventory.add_vars(inventory, "group_vars/haproxy.yml", {"haproxy_backends_extra": [EXTRA_BACKEND]})
    # Lab scaffolding (not the user's entry): the stand-in service behind the new backend.
    user_inventory.add_vars(inventory, "group_vars/demo_app.yml",
                            {"demo_app_services": {**user_inventory.demo_app_defaults(), STAND_IN[0]: STAND_IN[1]}})
    hosts = sorted(lab.addresses)
    saved_drift = {h: lab.run(h, "cat %s 2>/dev/null || true" % DRIFT_PROM, check=False).stdout for h in hosts}
    try:
        timed_playbook(lab, inventory, "site.yml", "--tags", COMPONENTS)
        yield inventory
    finally:
        for backend in [EXTRA_BACKEND["name"]]:
            for server in ("app1", "app2"):
                lab.run("lb1", "echo 'enable server %s/%s' | socat -t 5 stdio unix-connect:%s"
                        % (backend, server, SOCKET), check=False)
        # The drift metric as it was, so StackDriftDetected does not keep firing for the next tests.
        for host, content in saved_drift.items():
            if content:
                lab.run(host, "echo %s | base64 -d > %s.tmp && mv %s.tmp %s" % (
                    base64.b64encode(content.encode()).decode(), DRIFT_PROM, DRIFT_PROM, DRIFT_PROM), check=False)
            else:
                lab.run(host, "rm -f %s" % DRIFT_PROM, check=False)
        timed_playbook(lab, None, "site.yml", "--tags", COMPONENTS + ",gate")
        # roles/demo_app (lab scaffolding) does not stop an instance dropped from demo_app_services.
        for host in ("app1", "app2"):
            lab.run(host, "systemctl stop acgs-demo@%s.service; systemctl reset-failed acgs-demo@%s.service"
                    % (STAND_IN[0], STAND_IN[0]), check=False)


def test_the_inventory_is_the_examples_shape(user_inv):
    """The builder kept the example's groups and settings; the drift alerts come with no rule setting."""
    hosts = (user_inv / "hosts.yml").read_text()
    for group in ("haproxy", "prometheus", "alertmanager", "grafana", "backends", "node_exporter"):
        assert "%s:" % group in hosts, user_inventory.dumps(user_inv)
    prometheus = (user_inv / "group_vars" / "prometheus.yml").read_text()
    assert "replica" in prometheus
    settings = [name for p in user_inv.rglob("*.yml") for name in (yaml.safe_load(p.read_text()) or {})
                if p.name != "hosts.yml"]
    assert "haproxy_backends_extra" in settings
    assert not [n for n in settings if "drift" in n or n in ("prometheus_alerts", "prometheus_rules_extra")], \
        "the user inventory must carry no rule setting: %s" % settings


def test_eighth_backend_is_rendered_and_validated(lab, user_inv):
    cfg = lab.run("lb1", "cat /etc/haproxy/haproxy.cfg").stdout
    assert "backend %s" % EXTRA_BACKEND["name"] in cfg, cfg
    assert EXTRA_BACKEND["path_prefix"] in cfg, cfg
    for app in ("app1", "app2"):
        assert "%s:%d" % (lab.addr(app), EXTRA_BACKEND["port"]) in cfg, cfg
    for seed in user_inventory.haproxy_default_backends():
        assert "backend %s" % seed["name"] in cfg, "seed backend %s lost" % seed["name"]
    lab.run("lb1", "haproxy -c -q -f /etc/haproxy/haproxy.cfg -f /etc/haproxy/conf.d")


def test_eighth_backend_serves(lab, user_inv):
    stat = wait_until(lambda: (lambda s: s if s.get("app1") == "UP" and s.get("app2") == "UP" else None)(
        show_stat(lab, EXTRA_BACKEND["name"])), 60, "rp_backend's servers UP on the runtime API")
    assert stat.get("BACKEND") == "UP", stat

    url = "http://%s%sitems" % (lab.addr("lb1"), EXTRA_BACKEND["path_prefix"])
    served_by = set()
    for _ in range(4):
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
            assert resp.headers["X-Instance"] == STAND_IN[0], dict(resp.headers)
            served_by.add(resp.headers["X-Served-By"])
    assert served_by <= {"app1", "app2"} and served_by, served_by
    # HTTPS too (the example's haproxy_tls_enabled, the lab CA's certificate in files/).
    context = ssl.create_default_context(cafile=str(lab.state_dir / "pki" / "ca.crt"))
    with urllib.request.urlopen("https://%s%sitems" % (lab.addr("lb1"), EXTRA_BACKEND["path_prefix"]),
                                timeout=10, context=context) as resp:
        assert resp.status == 200 and resp.headers["X-Instance"] == STAND_IN[0]


def test_eighth_backend_is_covered_by_prometheus(lab, user_inv, prom):
    rules = lab.run("mon1", "cat /etc/prometheus/rules/haproxy.rules.yml").stdout
    assert EXTRA_BACKEND["name"] in rules, "the SLO rules do not cover %s" % EXTRA_BACKEND["name"]
    for seed in user_inventory.haproxy_default_backends():
        assert seed["name"] in rules
    loaded = [r for g in prom("/api/v1/rules")["groups"] if g["file"].endswith("haproxy.rules.yml")
              for r in g["rules"] if EXTRA_BACKEND["name"] in r["query"]]
    assert loaded, "Prometheus has not loaded rules naming %s" % EXTRA_BACKEND["name"]
    query = urllib.parse.quote('haproxy_backend_status{proxy="%s",state="UP"} == 1' % EXTRA_BACKEND["name"])
    wait_until(lambda: prom("/api/v1/query?query=" + query)["result"], 90, "rp_backend UP in Prometheus")
    # Grafana's dashboards and Alertmanager's configuration name no backend: nothing to add there.
    for role in ("grafana", "alertmanager"):
        for path in (ROOT / "roles" / role).rglob("*"):
            if path.is_file() and path.suffix in (".json", ".j2", ".yml"):
                text = path.read_text()
                for seed in user_inventory.haproxy_default_backends():
                    assert seed["name"] not in text, "%s names %s" % (path, seed["name"])


def _drift_rules(prom):
    return {r["name"]: (g["file"], r.get("duration")) for g in prom("/api/v1/rules")["groups"]
            if g["name"] == "acgs-drift" for r in g["rules"]}


def test_drift_alert_fires_from_the_user_inventory(lab, user_inv, prom, tmp_path):
    # The role's own rule file and default, with no rule setting in the inventory.
    rules = _drift_rules(prom)
    assert rules.get("StackDriftDetected") == (STACK_RULES, 900), rules
    assert rules.get("StackDriftCheckStale", (None,))[0] == STACK_RULES, rules

    # The ONE override (a short `for`), then Prometheus only.
    user_inventory.add_vars(user_inv, "group_vars/prometheus.yml", {"prometheus_alerts": {"drift_for": DRIFT_FOR}})
    timed_playbook(lab, user_inv, "playbooks/monitoring_prometheus.yml", "--tags", "prometheus")
    wait_until(lambda: _drift_rules(prom).get("StackDriftDetected") == (STACK_RULES, 30), 60,
             "StackDriftDetected reloaded with for 30s")

    # Drift: a server of the user's backend in MAINT through the runtime API.
    server = "%s/app1" % EXTRA_BACKEND["name"]
    socket_cmd(lab, "disable server %s" % server)
    reports = tmp_path / "drift-reports"
    timed_playbook(lab, user_inv, "playbooks/drift_check.yml", "--tags", COMPONENTS,
                   "-e", "drift_report_dir=%s" % reports)
    report = json.loads((reports / "latest.json").read_text())
    text = (reports / "latest.txt").read_text()
    RESULTS["drift_report"] = report
    whats = [(i["host"], i["component"], i["kind"], i["what"]) for i in report["items"]]
    assert ("lb1", "haproxy", "runtime", "server %s is in MAINT" % server) in whats, text
    assert not [w for w in whats if w[2] == "config"], "config drift right after a converge:\n" + text

    def state():
        alerts = [a for a in prom("/api/v1/alerts")["alerts"] if a["labels"]["alertname"] == "StackDriftDetected"
                  and a["labels"].get("host") == "lb1" and a["labels"].get("component") == "haproxy"
                  and a["labels"].get("kind") == "runtime"]
        return alerts[0]["state"] if alerts else None

    seen = []

    def firing():
        s = state()
        if s and s not in seen:
            seen.append(s)
        return s == "firing"
    # Scrape (15 s) + evaluation (15 s) + for (30 s) + evaluation.
    wait_until(firing, 180, "StackDriftDetected{host=lb1} firing (seen: %s)" % seen)
    if "pending" not in seen:
        # Missed between two polls: Prometheus's own ALERTS series keeps the pending phase.
        query = urllib.parse.quote('ALERTS{alertname="StackDriftDetected",alertstate="pending",host="lb1"}[5m]')
        assert prom("/api/v1/query?query=" + query)["result"], "StackDriftDetected was never pending"
    socket_cmd(lab, "enable server %s" % server)


def test_drift_check_reads_every_host_with_the_user_inventory():
    """Every host's runtime state was read (mon1: Prometheus's targets, behind the stack's basic auth)."""
    report = RESULTS.get("drift_report")
    if report is None:
        pytest.skip("no drift report (the drift test did not run)")
    unread = [i for i in report["items"] if i["component"] == "host"]
    assert not unread, ("the drift check could not read a host's runtime state with an inventory that sets only "
                        "acgs_prometheus_* (playbooks/drift_check.yml reads prometheus_web_username/_password, "
                        "which only the prometheus role defines): %s" % unread)
