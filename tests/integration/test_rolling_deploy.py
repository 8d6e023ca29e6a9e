"""Rolling deploy (playbooks/rolling_deploy.yml) under a steady request stream through lb1.

1. With ~50 requests/s spread over the seven /api/v1/<svc>/ paths, a rolling deploy of version 2 to
   every backend host completes with 0 failed requests and every service on every app host answers
   X-Version: 2 (asked directly, not through HAProxy).
2. A deploy whose new version fails /health (deploy_fail_health=true, the playbook's lab fault
   injection) stops at the first host, which is left in MAINT on the load balancer while the next host
   stays on version 2 and in service; the stream still sees 0 failures.
3. Finally the lab is restored (deploy of version 1: the restart also brings health back up), and
   the health gate passes.

The stream: one Python thread, plain HTTP to lb1:80, a new connection per request without cookies
(so affinity never pins a request to a drained server), ~50 requests/s, hard stop after
STREAM_MAX_SECONDS. 429 answers (rate limit) are counted apart from failures; the lab exempts the
control machine (haproxy_rate_limit_exempt in inventories/lab/group_vars/haproxy.yml), so there
should be none. Figures are printed (pytest -s) and saved to tests/output/rolling_deploy.json.

Run: ACGS_LAB=<lab> .venv/bin/pytest -s tests/integration/test_rolling_deploy.py
(ACGS_INVENTORY overrides the inventory directory, default inventories/lab).
"""
import http.client
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from lab_hosts import SEED_SERVICES

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = os.environ.get("ACGS_INVENTORY") or str(ROOT / "inventories" / "lab")
# The seed services, from the haproxy role's defaults (never a copy): /api/v1/<service>/ goes to
# <service>_backend, served on <port> by the stand-in services of every backends host.
SERVICES = SEED_SERVICES
APP_HOSTS = ["app1", "app2"]
BACKENDS = ["%s_backend" % s for s in SERVICES]
RATE = 50.0
STREAM_MAX_SECONDS = 900
OUTPUT = ROOT / "tests" / "output" / "rolling_deploy.json"


class Stream(threading.Thread):
    """~RATE GET requests/s through the load balancer, round robin over the services' paths."""

    def __init__(self, host, port=80, rate=RATE, max_seconds=STREAM_MAX_SECONDS):
        super().__init__(daemon=True)
        self.host, self.port, self.rate, self.max_seconds = host, port, rate, max_seconds
        self.stop_event = threading.Event()
        self.sent = self.ok = self.rate_limited = 0
        self.failures = []
        self.served_by = {}
        self.versions = {}
        self.started = self.ended = None

    def request(self, path):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            resp = conn.getresponse()
            resp.read()
            return resp.status, resp.getheader("X-Served-By"), resp.getheader("X-Version")
        finally:
            conn.close()

    def run(self):
        self.started = time.monotonic()
        hard_stop = self.started + self.max_seconds
        paths = ["/api/v1/%s/rolling" % s for s in SERVICES]
        interval = 1.0 / self.rate
        next_at = self.started
        while not self.stop_event.is_set() and time.monotonic() < hard_stop:
            path = paths[self.sent % len(paths)]
            self.sent += 1
            try:
                status, served_by, version = self.request(path)
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append((round(time.monotonic() - self.started, 2), path, repr(exc)))
            else:
                if status == 200:
                    self.ok += 1
                    self.served_by[served_by] = self.served_by.get(served_by, 0) + 1
                    self.versions[version] = self.versions.get(version, 0) + 1
                elif status == 429:
                    self.rate_limited += 1
                else:
                    self.failures.append((round(time.monotonic() - self.started, 2), path, status))
            next_at = max(next_at + interval, time.monotonic() - 1.0)  # no burst after a slow request
            delay = next_at - time.monotonic()
            if delay > 0:
                self.stop_event.wait(delay)
        self.ended = time.monotonic()

    def stop(self):
        self.stop_event.set()
        self.join(30)
        return self.summary()

    def summary(self):
        duration = (self.ended or time.monotonic()) - self.started
        return dict(sent=self.sent, ok=self.ok, failed=len(self.failures), rate_limited=self.rate_limited,
                    duration_s=round(duration, 1), rate_per_s=round(self.sent / duration, 1) if duration else 0,
                    served_by=self.served_by, versions=self.versions, first_failures=self.failures[:10])


def playbook(lab, *args, check=True, timeout=900):
    command = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", INVENTORY] + [str(a) for a in args]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=lab.env)
    result.duration = round(time.monotonic() - started, 1)
    if check and result.returncode != 0:
        raise AssertionError("ansible-playbook %s failed (%d):\n%s\n%s" % (
            " ".join(map(str, args)), result.returncode, result.stdout[-6000:], result.stderr[-3000:]))
    return result


def versions(lab):
    """X-Version of every service on every app host, asked directly."""
    found = {}
    for host in APP_HOSTS:
        for svc, port in SERVICES.items():
            conn = http.client.HTTPConnection(lab.addr(host), port, timeout=10)
            try:
                conn.request("GET", "/api/v1/%s/version" % svc)
                resp = conn.getresponse()
                resp.read()
                found["%s/%s" % (host, svc)] = resp.getheader("X-Version") if resp.status == 200 else resp.status
            finally:
                conn.close()
    return found


SERVERS_STATE = (
    "import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock'); "
    "s.sendall(b'show servers state\\n'); d = b''\n"
    "while True:\n c = s.recv(65536)\n if not c: break\n d += c\n"
    "print(d.decode())"
)


def admin_states(lab):
    """{backend/server: srv_admin_state} on lb1, through its runtime API."""
    out = lab.run("lb1", "python3 -c \"%s\"" % SERVERS_STATE.replace('"', '\\"')).stdout
    lines = [line for line in out.splitlines() if line.strip()]
    header = lines[1][1:].split()
    states = {}
    for line in lines[2:]:
        row = dict(zip(header, line.split()))
        states["%s/%s" % (row["be_name"], row["srv_name"])] = int(row["srv_admin_state"])
    return states


def record(name, data):
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(OUTPUT.read_text()) if OUTPUT.exists() else {}
    results[name] = data
    OUTPUT.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print("\n%s: %s" % (name, json.dumps(data, sort_keys=True)))


@pytest.fixture(scope="module")
def restore(lab):
    """Whatever happens, put the lab back: version 1 everywhere, every server ready and UP, health up."""
    yield
    result = playbook(lab, "playbooks/rolling_deploy.yml", "-e", "deploy_version=1", check=False)
    if result.returncode != 0:  # one more try, failing loudly this time
        result = playbook(lab, "playbooks/rolling_deploy.yml", "-e", "deploy_version=1")
    record("restore", dict(duration_s=result.duration))
    assert set(versions(lab).values()) == {"1"}
    assert all(state == 0 for state in admin_states(lab).values())


def test_rolling_deploy_under_load(lab, restore):
    gate = playbook(lab, "playbooks/gate.yml")
    record("gate_before", dict(duration_s=gate.duration))

    stream = Stream(lab.addr("lb1"))
    stream.start()
    try:
        time.sleep(3)
        result = playbook(lab, "playbooks/rolling_deploy.yml", "-e", "deploy_version=2")
        time.sleep(3)
    finally:
        summary = stream.stop()
    summary["rollout_duration_s"] = result.duration
    record("rolling_deploy_v2", summary)
    # The stream ran through the whole rollout (3 s either side) at its rate: a fixed count would
    # depend on how long this machine takes to roll out.
    assert summary["duration_s"] >= result.duration + 5, summary
    assert summary["sent"] >= 0.9 * RATE * summary["duration_s"] and summary["sent"] > 500, summary
    assert summary["failed"] == 0, summary["first_failures"]
    assert summary["rate_limited"] == 0, "the control machine is not exempt from the rate limit"
    assert set(versions(lab).values()) == {"2"}, versions(lab)
    assert summary["versions"].get("2"), summary


def test_unhealthy_version_stops_the_rollout(lab, restore):
    stream = Stream(lab.addr("lb1"))
    stream.start()
    try:
        time.sleep(3)
        result = playbook(lab, "playbooks/rolling_deploy.yml", "-e", "deploy_version=3",
                          "-e", "deploy_fail_health=true", "-e", "deploy_health_timeout=8", check=False)
        time.sleep(3)
        served_after = dict(stream.served_by)
        time.sleep(3)
        served_late = dict(stream.served_by)
    finally:
        summary = stream.stop()
    summary["rollout_duration_s"] = result.duration
    summary["playbook_rc"] = result.returncode
    record("rolling_deploy_v3_unhealthy", summary)

    assert result.returncode != 0, result.stdout[-3000:]
    assert "failed at \"The host's own /health answers on every service\"" in result.stdout, result.stdout[-3000:]
    found = versions(lab)
    assert all(found["app2/%s" % s] == "2" for s in SERVICES), found   # not touched
    assert all(found["app1/%s" % s] == "3" for s in SERVICES), found   # deployed, unhealthy
    states = admin_states(lab)
    assert all(states["%s/app1" % b] & 0x01 for b in BACKENDS), states  # forced MAINT
    assert all(states["%s/app2" % b] == 0 for b in BACKENDS), states    # in service
    assert served_late.get("app1", 0) == served_after.get("app1", 0), "app1 still gets traffic"
    assert summary["failed"] == 0, summary["first_failures"]
    assert summary["rate_limited"] == 0
