"""HA topology drills against the HA lab (inventories/lab-ha), run by tests/ha.sh.

    ACGS_LAB=acgs-ha LAB_HOSTS="lb1 lb2 mon1 mon2 central1 app1 app2" lab/lab.sh up
    ACGS_LAB=acgs-ha .venv/bin/ansible-playbook site.yml -i inventories/lab-ha
    ACGS_LAB=acgs-ha .venv/bin/pytest -q tests/integration/test_ha.py

The figures (failover time, failed requests, alert deliveries, restart and central store checks) go
to tests/output/ha.json and are printed at the end. Traffic goes only to the lab's addresses; every
request loop is bounded in count and time. The lab's name is ACGS_LAB, which must start with acgs-ha
(tests/ha.sh sets it); with any other lab (`make test-integration` on acgs-lab or acgs-ci) the module is
skipped. The fixture here does not use conftest.py's Lab, which reads inventories/lab.
"""
import base64
import http.client
import ipaddress
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from lab_hosts import LabHosts, LabNotUp

ROOT = Path(__file__).resolve().parents[2]
LAB_NAME = os.environ.get("ACGS_LAB", "acgs-ha")
if not LAB_NAME.startswith("acgs-ha"):
    pytest.skip("HA drills need the HA lab (ACGS_LAB=acgs-ha...): run tests/ha.sh", allow_module_level=True)
OUTPUT = ROOT / "tests" / "output" / "ha.json"
HOSTS = ["lb1", "lb2", "mon1", "mon2", "central1", "app1", "app2"]
ALERTMANAGERS = ["mon1", "mon2", "central1"]
PROMETHEUS = ["mon1", "mon2"]
SINK = "central1"
VRRP_INTERFACE = "eth0"


class HaLab(LabHosts):
    def __init__(self):
        try:
            super().__init__(LAB_NAME, inventory="lab-ha")
        except LabNotUp:
            pytest.fail("HA lab %s is not up: run tests/ha.sh (or ACGS_LAB=%s LAB_HOSTS=\"%s\" lab/lab.sh up and "
                        "converge site.yml -i inventories/lab-ha)" % (LAB_NAME, LAB_NAME, " ".join(HOSTS)))
        missing = [h for h in HOSTS if h not in self.addresses]
        if missing:
            pytest.fail("lab %s lacks hosts %s: it is not the HA lab" % (LAB_NAME, missing))
        self.vip = self._vip()
        self.results = {"lab": LAB_NAME, "vip": self.vip}

    def _vip(self):
        """Same rule as inventories/lab-ha/group_vars/keepalived.yml: ACGS_HA_VIP, else .250 of the lab's /24."""
        if os.environ.get("ACGS_HA_VIP"):
            return os.environ["ACGS_HA_VIP"]
        out = subprocess.run(["podman", "network", "inspect", LAB_NAME + "-net"], capture_output=True, text=True,
                             timeout=30, env=self.env, check=True).stdout
        subnet = ipaddress.ip_network(json.loads(out)[0]["subnets"][0]["subnet"])
        return str(list(subnet.hosts())[0] + 249)  # x.y.z.1 + 249 = x.y.z.250

    def holds_vip(self, host):
        out = self.run(host, "ip -o -4 addr show dev %s" % VRRP_INTERFACE, check=False).stdout
        return (" %s/" % self.vip) in out

    def became_master(self, host, since):
        """Wall-clock time of the first "Entering MASTER STATE" in host's keepalived journal after `since`."""
        out = self.run(host, "journalctl -u keepalived -o short-unix --no-pager --since @%.0f" % (since - 1),
                       check=False).stdout
        times = [float(line.split()[0]) for line in out.splitlines()
                 if "Entering MASTER STATE" in line and float(line.split()[0]) >= since]
        return times[0] if times else None

    def vip_holders(self):
        return [h for h in ("lb1", "lb2") if self.holds_vip(h)]

    def http(self, url, user=None, password=None, data=None, method=None, timeout=10):
        request = urllib.request.Request(url, method=method, data=None if data is None else json.dumps(data).encode(),
                                         headers={"Content-Type": "application/json"})
        if user:
            token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
            request.add_header("Authorization", "Basic " + token)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            return json.loads(body) if body else None

    def prom(self, host, path, **params):
        url = "http://%s:9090%s" % (self.addr(host), path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        return self.http(url, "prometheus", self.secret("prometheus_web"))

    def am(self, host, path, data=None, method=None, timeout=10):
        return self.http("http://%s:9093%s" % (self.addr(host), path), "alertmanager", self.secret("alertmanager_web"),
                         data=data, method=method, timeout=timeout)

    def ready(self, host):
        """Prometheus's /-/ready answers 200 (plain text) once the TSDB is open."""
        token = base64.b64encode(("prometheus:%s" % self.secret("prometheus_web")).encode()).decode()
        request = urllib.request.Request("http://%s:9090/-/ready" % self.addr(host),
                                         headers={"Authorization": "Basic " + token})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200

    def sink(self, method="GET"):
        return self.http("http://%s:9095/_received" % self.addr(SINK), method=method)


def wait_for(predicate, timeout, interval=0.5, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError):
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


@pytest.fixture(scope="module")
def ha():
    lab = HaLab()
    yield lab
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(lab.results, indent=2, sort_keys=True) + "\n")
    print("\nHA figures (%s):\n%s" % (OUTPUT.relative_to(ROOT), json.dumps(lab.results, indent=2, sort_keys=True)))


# --- Prometheus pair and the central store ---------------------------------------------------

def test_both_prometheus_scrape_the_same_targets(ha):
    targets = {}
    for host in PROMETHEUS:
        active = ha.prom(host, "/api/v1/targets", state="active")["data"]["activeTargets"]
        targets[host] = sorted("%s/%s" % (t["labels"]["job"], t["labels"]["instance"]) for t in active)
        # Every Prometheus sends to every Alertmanager.
        ams = ha.prom(host, "/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
        assert sorted(a["url"] for a in ams) == sorted(
            "http://%s:9093/api/v2/alerts" % ha.addr(h) for h in ALERTMANAGERS), ams
    assert targets["mon1"] == targets["mon2"]
    assert {"haproxy/lb1:9101", "haproxy/lb2:9101"} <= set(targets["mon1"])
    ha.results["prometheus_targets_each"] = len(targets["mon1"])
    ha.results["prometheus_alertmanagers_each"] = len(ALERTMANAGERS)


def test_central_store_has_the_load_balancers_series(ha):
    """mon1 and mon2 remote-write to central1 (which scrapes no load balancer itself)."""
    query = 'count by (host, replica) ({__name__=~"haproxy_[^:]+", job="haproxy"})'

    def series():
        result = ha.prom("central1", "/api/v1/query", query=query)["data"]["result"]
        found = {(r["metric"].get("host"), r["metric"].get("replica")): int(r["value"][1]) for r in result}
        wanted = {(lb, mon) for lb in ("lb1", "lb2") for mon in PROMETHEUS}
        return found if wanted <= set(found) else None
    found = wait_for(series, 90, interval=3, what="haproxy_* of lb1 and lb2 from mon1 and mon2 on central1")
    # central1 scrapes no load balancer: every haproxy series there came through remote write.
    own = ha.prom("central1", "/api/v1/query", query='count({__name__=~"haproxy_[^:]+", job="haproxy", replica=""})')["data"]["result"]
    assert not own, own
    ha.results["central_store"] = {"%s via %s" % key: count for key, count in sorted(found.items())}


# --- Alertmanager cluster ------------------------------------------------------------------

def _deliveries(ha, instance):
    """Firing notifications the sink received that carry our alert."""
    count = 0
    for item in ha.sink():
        body = item.get("body") or {}
        if body.get("status") != "firing":
            continue
        if any(a.get("labels", {}).get("instance") == instance for a in body.get("alerts", [])):
            count += 1
    return count


def _send_alert_everywhere(ha, instance, ends_in=3600):
    """What Prometheus does: the same alert to every Alertmanager. Returns how many accepted it."""
    now = time.time()
    alert = [{"labels": {"alertname": "HADrillAlert", "severity": "critical", "instance": instance},
              "annotations": {"summary": "HA drill test alert"},
              "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
              "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + ends_in))}]
    accepted = 0
    for host in ALERTMANAGERS:
        try:
            ha.am(host, "/api/v2/alerts", data=alert, method="POST", timeout=5)
            accepted += 1
        except (OSError, urllib.error.URLError):
            pass
    return accepted


def _count_once(ha, instance, settle):
    """Wait for the first delivery, then `settle` seconds more (past the peers' 15 s notify offsets)."""
    start = time.monotonic()
    wait_for(lambda: _deliveries(ha, instance) >= 1, 90, interval=1, what="the alert at the webhook sink")
    first = time.monotonic() - start
    time.sleep(settle)
    return _deliveries(ha, instance), first


def _cluster_ready(ha, host, peers):
    status = ha.am(host, "/api/v2/status", timeout=5)["cluster"]
    return status["status"] == "ready" and len(status.get("peers", [])) == peers


def test_alert_reaches_the_webhook_once(ha):
    for host in ALERTMANAGERS:
        wait_for(lambda h=host: _cluster_ready(ha, h, 3), 60, what="a ready 3-peer cluster on %s" % host)
    ha.sink("DELETE")
    instance = "ha-drill-%s" % uuid.uuid4().hex[:8]
    accepted = _send_alert_everywhere(ha, instance)
    assert accepted == 3
    count, first = _count_once(ha, instance, settle=35)
    ha.results["alert_all_peers"] = {"sent_to": accepted, "deliveries": count, "first_delivery_s": round(first, 1)}
    _send_alert_everywhere(ha, instance, ends_in=0)
    assert count == 1


def test_alert_delivered_once_with_one_peer_down(ha):
    stopped = "mon1"
    ha.run(stopped, "systemctl stop prometheus-alertmanager")
    try:
        instance = "ha-drill-%s" % uuid.uuid4().hex[:8]
        accepted = _send_alert_everywhere(ha, instance)
        assert accepted == 2
        count, first = _count_once(ha, instance, settle=35)
        ha.results["alert_one_peer_down"] = {"stopped": stopped, "sent_to": accepted, "deliveries": count,
                                             "first_delivery_s": round(first, 1)}
        _send_alert_everywhere(ha, instance, ends_in=0)
        assert count == 1
    finally:
        ha.run(stopped, "systemctl start prometheus-alertmanager")
        for host in ALERTMANAGERS:
            wait_for(lambda h=host: _cluster_ready(ha, h, 3), 90, what="the 3-peer cluster again on %s" % host)


def test_real_alert_from_both_prometheus_reaches_the_webhook_once(ha):
    """A real alert: both Prometheus servers evaluate StackDriftDetected (the prometheus role's stack
    rules; inventories/lab group_vars drift.yml sets drift_for: 0m) on a node exporter textfile metric
    and send it to all three Alertmanagers."""
    component = "ha-drill-%s" % uuid.uuid4().hex[:8]
    path = "/var/lib/prometheus/node-exporter/ha_drill.prom"
    ha.sink("DELETE")
    ha.run("app1", "printf 'acgs_drift_items{component=\"%s\",kind=\"ha-drill\"} 1\\n' > %s.tmp && mv %s.tmp %s"
           % (component, path, path, path))

    def notifications():
        found = []
        for item in ha.sink():
            body = item.get("body") or {}
            alerts = [a for a in body.get("alerts", []) if a.get("labels", {}).get("component") == component]
            if body.get("status") == "firing" and alerts:
                found.append(alerts)
        return found
    try:
        start = time.monotonic()
        # Both servers firing (ALERTS on each), then the delivery: scrape 15 s + evaluation 15 s + group_wait 30 s.
        for host in PROMETHEUS:
            wait_for(lambda h=host: ha.prom(h, "/api/v1/query", query='ALERTS{alertstate="firing", component="%s"}'
                                            % component)["data"]["result"], 90, interval=2,
                     what="StackDriftDetected firing on %s" % host)
        wait_for(notifications, 90, interval=1, what="the drift alert at the webhook sink")
        first = time.monotonic() - start
        time.sleep(35)  # past the other peers' notify offsets (15 s each)
        found = notifications()
    finally:
        ha.run("app1", "rm -f %s" % path, check=False)
    ha.results["alert_real_from_both_prometheus"] = {
        "firing_on": PROMETHEUS, "deliveries": len(found), "alerts_in_delivery": [len(a) for a in found],
        "first_delivery_s": round(first, 1)}
    assert len(found) == 1, found
    # One alert, not one per Prometheus: the replica label is dropped before alerting.
    assert len(found[0]) == 1 and "replica" not in found[0][0]["labels"], found


# --- Prometheus restart ---------------------------------------------------------------------

def test_prometheus_restart_keeps_earlier_samples(ha):
    host = "mon1"
    query = 'up{job="haproxy", host="lb1"}'
    end = time.time() - 5
    before = ha.prom(host, "/api/v1/query_range", query=query, start=end - 120, end=end, step=15)["data"]["result"]
    assert before and len(before[0]["values"]) >= 3, before
    # The raw samples too (not just range-query points): up to 2 minutes before the restart.
    raw_before = ha.prom(host, "/api/v1/query", query=query + "[2m]", time=end)["data"]["result"][0]["values"]
    started = time.monotonic()
    ha.run(host, "systemctl restart prometheus")
    wait_for(lambda: ha.ready(host), 90, interval=0.5, what="Prometheus ready on %s" % host)
    ready = time.monotonic() - started
    raw_after = ha.prom(host, "/api/v1/query", query=query + "[2m]", time=end)["data"]["result"][0]["values"]
    after = ha.prom(host, "/api/v1/query_range", query=query, start=end - 120, end=end, step=15)["data"]["result"]
    kept = sorted(set(map(tuple, raw_before)) & set(map(tuple, raw_after)))
    ha.results["prometheus_restart"] = {"host": host, "ready_after_s": round(ready, 1),
                                        "raw_samples_before": len(raw_before), "raw_samples_kept": len(kept),
                                        "range_points_before": len(before[0]["values"]),
                                        "range_points_after": len(after[0]["values"]) if after else 0}
    assert len(kept) == len(raw_before)
    assert after and after[0]["values"] == before[0]["values"]


# --- VIP failover ---------------------------------------------------------------------------

class RequestStream:
    """GETs to the VIP every `interval` s from a thread, a new connection each; bounded in count and time."""

    def __init__(self, vip, interval=0.05, timeout=1.0, max_requests=3000, max_seconds=120):
        self.vip, self.interval, self.timeout = vip, interval, timeout
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self.samples = []  # (monotonic start, ok, monotonic end)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        start = time.monotonic()
        while (not self._stop.is_set() and len(self.samples) < self.max_requests
               and time.monotonic() - start < self.max_seconds):
            t = time.monotonic()
            ok = False
            try:
                conn = http.client.HTTPConnection(self.vip, 80, timeout=self.timeout)
                conn.request("GET", "/api/v1/auth/ha-drill", headers={"Connection": "close"})
                ok = conn.getresponse().status == 200
                conn.close()
            except (OSError, http.client.HTTPException):
                ok = False
            self.samples.append((t, ok, time.monotonic()))
            time.sleep(max(0.0, self.interval - (time.monotonic() - t)))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def failures_between(self, t0, t1):
        return [t for t, ok, _ in self.samples if t0 <= t <= t1 and not ok]

    def outage(self, t0, t1):
        """Seconds from t0 until the first request started after the last failure in [t0, t1] succeeded
        (its answer; a request may wait for ARP until the new holder's gratuitous ARP). 0 if none failed."""
        failed = self.failures_between(t0, t1)
        if not failed:
            return 0.0
        later_ok = [end for t, ok, end in self.samples if t > failed[-1] and ok]
        return round((later_ok[0] if later_ok else t1) - t0, 2)

    def ok_after(self, t):
        return len([1 for start, ok, _ in self.samples if start > t and ok])

    def count(self, t0, t1):
        return len([1 for start, _, _ in self.samples if t0 <= start <= t1])


def _vip_move(ha, stream, command, to_host, timeout, moved_key):
    """Run `command` on lb1, wait until only `to_host` holds the VIP and 20 requests succeed through it.

    `moved_key`: until `ip addr` on the hosts shows the move (polled through podman exec: up to about
    a second late); <to_host>_master_after_s: from keepalived's journal (same clock: containers share
    the host's); outage_s: until the first successful request after the last failed one."""
    t0, wall0 = time.monotonic(), time.time()
    ha.run("lb1", command)
    wait_for(lambda: ha.vip_holders() == [to_host], timeout, interval=0.2, what="the VIP on %s only" % to_host)
    t_vip = time.monotonic() - t0
    # Enough successes after the move to know the service is back.
    wait_for(lambda: stream.ok_after(t0 + t_vip) >= 20, 30, interval=0.2,
             what="requests succeeding through %s" % to_host)
    time.sleep(1)
    t1 = time.monotonic()
    master = ha.became_master(to_host, wall0)
    return {moved_key: round(t_vip, 2),
            "%s_master_after_s" % to_host: round(master - wall0, 2) if master else None,
            "failed_requests": len(stream.failures_between(t0, t1)),
            "requests": stream.count(t0, t1),
            "outage_s": stream.outage(t0, t1)}


def _drill(ha, stream, stop_cmd, start_cmd, label):
    """Break lb1 with stop_cmd (the VIP moves to lb2), then restore it (lb1 has the higher priority and
    takes the VIP back: preemption)."""
    assert ha.vip_holders() == ["lb1"], "lb1 should hold the VIP before the drill: %s" % ha.vip_holders()
    time.sleep(2)  # a baseline of successful requests
    failover = _vip_move(ha, stream, stop_cmd, "lb2", 30, "vip_moved_s")
    failback = _vip_move(ha, stream, start_cmd, "lb1", 60, "vip_back_s")
    ha.results["failover_" + label] = {"stop": stop_cmd, "failover": failover, "failback": failback}
    return failover, failback


def test_vip_answers_through_haproxy(ha):
    wait_for(lambda: ha.vip_holders() == ["lb1"], 30, what="the VIP on lb1 (highest priority)")
    conn = http.client.HTTPConnection(ha.vip, 80, timeout=5)
    conn.request("GET", "/api/v1/auth/ha-drill")
    response = conn.getresponse()
    body = response.read().decode()
    assert response.status == 200, body
    ha.results["vip_answer"] = json.loads(body)


def test_vip_moves_to_lb2_when_haproxy_stops_on_lb1(ha):
    with RequestStream(ha.vip) as stream:
        try:
            failover, failback = _drill(ha, stream, "systemctl stop haproxy", "systemctl start haproxy", "haproxy_stopped")
        finally:
            ha.run("lb1", "systemctl start haproxy", check=False)
    # The track script needs keepalived_check_fall (2) failed checks a second apart to release the VIP.
    assert failover["vip_moved_s"] < 10, failover
    assert failover["outage_s"] < 10, failover


def test_vip_moves_to_lb2_when_keepalived_stops_on_lb1(ha):
    with RequestStream(ha.vip) as stream:
        try:
            failover, failback = _drill(ha, stream, "systemctl stop keepalived", "systemctl start keepalived",
                                        "keepalived_stopped")
        finally:
            ha.run("lb1", "systemctl start keepalived", check=False)
    assert failover["vip_moved_s"] < 10, failover
    assert failover["outage_s"] < 10, failover
