"""The load balancer in the lab (roles/haproxy, roles/haproxy_exporter, playbooks/haproxy.yml).

Needs the lab up with site.yml (stand-in services) and playbooks/haproxy.yml applied:
    ACGS_LAB=<lab> .venv/bin/pytest -v tests/integration/test_haproxy.py
The control machine is exempt from the rate limit (inventories/lab/group_vars/haproxy.yml),
so the rate-limit test sends its requests from mon1. Every test that injects a fault
(health down, server in maintenance, rate-limit entry) removes it in `finally`.
"""
import csv
import io
import json
import re
import ssl
import threading
import time
import socket
from pathlib import Path

import pytest
import requests
from lab_hosts import SEED_SERVICES, play_recap

ROOT = Path(__file__).resolve().parents[2]
# The seed services, from the haproxy role's defaults (never a copy): /api/v1/<service>/ goes to
# <service>_backend, served on <port> by the stand-in services of every backends host.
SERVICES = SEED_SERVICES
SOCKET = "/run/haproxy/admin.sock"
PLAYBOOK = "playbooks/haproxy.yml"
WATCHED = "/etc/haproxy/haproxy.cfg /etc/haproxy/conf.d/*.cfg /etc/haproxy/certs/haproxy.pem"


@pytest.fixture(scope="module")
def lb(lab):
    return lab.addr("lb1")


@pytest.fixture(scope="module")
def stats_auth(lab):
    return ("admin", lab.secret("haproxy_stats"))


def runtime(lab, command):
    return lab.run("lb1", "echo '%s' | socat -t 5 stdio unix-connect:%s" % (command, SOCKET)).stdout


def servers(lab, backend):
    """Server rows of `show stat` for one backend, by server name."""
    text = runtime(lab, "show stat").lstrip("# ")
    rows = csv.DictReader(io.StringIO(text))
    return {r["svname"]: r for r in rows if r["pxname"] == backend and r["svname"] not in ("FRONTEND", "BACKEND")}


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def set_health(lab, host, port, health):
    response = requests.post("http://%s:%d/_control" % (lab.addr(host), port), json={"health": health}, timeout=5)
    response.raise_for_status()


def fingerprint(lab):
    """Checksums of the running configuration files and the master's PID."""
    sums = lab.run("lb1", "sha256sum %s" % WATCHED).stdout
    pid = lab.run("lb1", "systemctl show -p MainPID --value haproxy").stdout.strip()
    return sums, pid


def recap(output, host="lb1"):
    counts = play_recap(output).get(host)
    assert counts, output[-3000:]
    return counts


# --- routing, stats, exporter ---------------------------------------------------

@pytest.mark.parametrize("service", sorted(SERVICES))
def test_path_routes_to_its_backend(lb, service):
    response = requests.get("http://%s/api/v1/%s/orders/42" % (lb, service), timeout=10)
    assert response.status_code == 200
    assert response.headers["X-Instance"] == service
    assert response.headers["X-Served-By"] in ("app1", "app2")
    assert response.json()["path"] == "/api/v1/%s/orders/42" % service


def test_unrouted_path_gets_404(lb):
    assert requests.get("http://%s/api/v2/auth/x" % lb, timeout=10).status_code == 404


def test_stats_page_needs_credentials(lb, stats_auth):
    url = "http://%s:8080/stats" % lb
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, auth=("admin", "wrong"), timeout=10).status_code == 401
    response = requests.get(url + ";csv", auth=stats_auth, timeout=10)
    assert response.status_code == 200
    for service in SERVICES:
        assert "%s_backend,app1," % service in response.text


def test_native_exporter_serves_server_status(lb):
    response = requests.get("http://%s:9101/metrics" % lb, timeout=10)
    assert response.status_code == 200
    lines = [line for line in response.text.splitlines() if line.startswith("haproxy_server_status{")]
    assert any('proxy="auth_backend"' in line and 'server="app1"' in line for line in lines), lines[:5]
    assert any('proxy="ec_backend"' in line and 'server="app2"' in line for line in lines)


def test_runtime_sockets_are_not_world_accessible(lab):
    mode = lab.run("lb1", "stat -c %%a:%%F %s" % SOCKET).stdout.strip()
    assert mode == "660:socket"
    listening = lab.run("lb1", "ss -Hltn").stdout
    assert "127.0.0.1:9999" in listening and "0.0.0.0:9999" not in listening


# --- TLS -----------------------------------------------------------------------

def test_tls_verifies_with_the_lab_ca(lab, lb):
    ca = str(lab.state_dir / "pki" / "ca.crt")
    response = requests.get("https://%s/api/v1/gs/x" % lb, verify=ca, timeout=10)
    assert response.status_code == 200 and response.headers["X-Instance"] == "gs"
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection((lb, 443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=lb) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_below_1_2_is_refused(lb):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        context.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with socket.create_connection((lb, 443), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname=lb)


# --- rate limit, affinity, health ----------------------------------------------

def test_21st_request_in_10s_gets_429(lab, lb):
    """From mon1 (the control machine is exempt): 20 pass, the 21st is refused with 429."""
    mon1 = lab.addr("mon1")
    script = ("import urllib.request, urllib.error\n"
              "codes = []\n"
              "for _ in range(22):\n"
              "    try:\n"
              "        codes.append(urllib.request.urlopen('http://%s/api/v1/auth/x', timeout=5).status)\n"
              "    except urllib.error.HTTPError as e:\n"
              "        codes.append(e.code)\n"
              "print(' '.join(map(str, codes)))\n" % lb)
    try:
        started = time.time()
        codes = lab.run("mon1", "python3 -c \"%s\"" % script.replace('"', '\\"')).stdout.split()
        elapsed = time.time() - started
        assert elapsed < 10, "requests took %.1fs, the window is 10s" % elapsed
        assert codes[:20] == ["200"] * 20, codes
        assert codes[20:] == ["429", "429"], codes
    finally:
        runtime(lab, "clear table acgs_frontend key %s" % mon1)


def test_exempt_client_is_not_limited(lb):
    codes = [requests.get("http://%s/api/v1/ac/x" % lb, timeout=10).status_code for _ in range(30)]
    assert codes == [200] * 30


def test_cookie_affinity_keeps_a_client_on_one_server(lb):
    with requests.Session() as client:
        served = {client.get("http://%s/api/v1/pgc/x" % lb, timeout=10).headers["X-Served-By"] for _ in range(10)}
    assert len(served) == 1, served
    # Without the cookie, round robin spreads the requests over both servers.
    spread = {requests.get("http://%s/api/v1/pgc/x" % lb, timeout=10).headers["X-Served-By"] for _ in range(6)}
    assert spread == {"app1", "app2"}


def test_failing_health_leaves_rotation_and_returns_with_slowstart(lab, lb):
    port = SERVICES["integrity"]
    backend = "integrity_backend"
    try:
        set_health(lab, "app1", port, "down")
        wait_for(lambda: servers(lab, backend)["app1"]["status"] == "DOWN", 30, "app1 to go DOWN")
        served = {requests.get("http://%s/api/v1/integrity/x" % lb, timeout=10).headers["X-Served-By"]
                  for _ in range(8)}
        assert served == {"app2"}
        set_health(lab, "app1", port, "up")
        row = wait_for(lambda: (lambda r: r if r["status"] == "UP" else None)(servers(lab, backend)["app1"]),
                       30, "app1 to come back UP")
        # Slowstart: the server is throttled while its weight ramps up.
        assert row["throttle"] not in ("", "100"), row
    finally:
        set_health(lab, "app1", port, "up")
    wait_for(lambda: servers(lab, backend)["app1"]["throttle"] in ("", "100"), 60, "slowstart to finish")


# --- reloads -------------------------------------------------------------------

def test_runtime_state_survives_reload(lab):
    try:
        runtime(lab, "set server auth_backend/app2 state maint")
        runtime(lab, "set server ac_backend/app1 weight 50")
        lab.run("lb1", "systemctl reload haproxy")
        time.sleep(1.5)
        assert servers(lab, "auth_backend")["app2"]["status"] == "MAINT"
        assert servers(lab, "ac_backend")["app1"]["weight"] == "50"
    finally:
        runtime(lab, "set server auth_backend/app2 state ready")
        runtime(lab, "set server ac_backend/app1 weight 100%")
    lab.run("lb1", "systemctl reload haproxy")


def test_reloads_under_load_lose_no_request(lab, lb):
    """20 reloads while 4 clients send at least 2000 requests (new connection each)."""
    reloads, minimum, cap = 20, 2000, 4000
    counts = {"ok": 0, "failed": 0}
    errors = []
    lock = threading.Lock()
    reloading = threading.Event()
    reloading.set()

    def client():
        while True:
            with lock:
                done = counts["ok"] + counts["failed"]
                if done >= cap or (not reloading.is_set() and done >= minimum):
                    return
            try:
                response = requests.get("http://%s/api/v1/ec/load" % lb, headers={"Connection": "close"}, timeout=10)
                good = response.status_code == 200
                if not good:
                    errors.append(response.status_code)
            except requests.RequestException as exc:
                good = False
                errors.append(repr(exc)[:200])
            with lock:
                counts["ok" if good else "failed"] += 1
            time.sleep(0.03)  # a steady stream, not a flood: about 100 requests/s from 4 clients

    def proc_reloads():
        out = lab.run("lb1", "echo 'show proc' | socat -t 5 stdio unix-connect:/run/haproxy-master.sock").stdout
        return int(out.splitlines()[1].split()[2])

    before = proc_reloads()
    threads = [threading.Thread(target=client) for _ in range(4)]
    started = time.time()
    for thread in threads:
        thread.start()
    try:
        for _ in range(reloads):
            lab.run("lb1", "systemctl reload haproxy")
            time.sleep(0.2)
    finally:
        reloading.clear()
        for thread in threads:
            thread.join(120)
    elapsed = time.time() - started
    done = proc_reloads() - before
    print("reload under load: %d requests in %.1fs, %d ok, %d failed, %d reloads; errors: %s"
          % (counts["ok"] + counts["failed"], elapsed, counts["ok"], counts["failed"], done, errors[:5]))
    assert done == reloads
    assert counts["ok"] + counts["failed"] >= minimum
    assert counts["failed"] == 0, errors[:10]


def installed(lab, package):
    status = lab.run("lb1", "dpkg-query -W -f '${Status}' %s" % package, check=False).stdout
    return status.endswith(" installed")


def test_exporter_mode_switch_removes_the_other_one(lab, lb):
    """standalone replaces the native frontend on :9101 with Debian's exporter; native removes the package again."""
    try:
        lab.playbook(PLAYBOOK, "--tags", "haproxy_exporter", "-e", "haproxy_exporter_mode=standalone")
        metrics = requests.get("http://%s:9101/metrics" % lb, timeout=10).text
        assert "haproxy_up 1" in metrics and 'haproxy_server_up{backend="auth_backend",server="app1"}' in metrics
        assert "haproxy_server_status{" not in metrics
        assert installed(lab, "prometheus-haproxy-exporter")
    finally:
        lab.playbook(PLAYBOOK, "--tags", "haproxy_exporter")
    assert not installed(lab, "prometheus-haproxy-exporter")
    assert "haproxy_server_status{" in requests.get("http://%s:9101/metrics" % lb, timeout=10).text
    assert "exporter.sock" not in lab.run("lb1", "ls /run/haproxy").stdout


# --- the playbook: idempotence, check mode, secrets, bad input -------------------

def test_rerun_changes_nothing(lab):
    before = fingerprint(lab)
    result = lab.playbook(PLAYBOOK)
    assert recap(result.stdout)["changed"] == 0, result.stdout[-4000:]
    assert fingerprint(lab) == before


def changed_tasks(output):
    """Names of the tasks and handlers that reported changed on lb1."""
    names, current = [], None
    for line in output.splitlines():
        match = re.match(r"^(?:TASK|RUNNING HANDLER) \[(.*?)\]", line)
        if match:
            current = match.group(1).split(" : ")[-1]
        elif line.startswith("changed: [lb1"):
            names.append(current)
    return names


def test_check_mode_changes_nothing_and_never_shows_the_password(lab):
    before = fingerprint(lab)
    result = lab.playbook(PLAYBOOK, "--check", "--diff")
    assert recap(result.stdout)["changed"] == 0, changed_tasks(result.stdout)
    result = lab.playbook(PLAYBOOK, "--check", "--diff", "-e", "haproxy_stats_password=NewSecretForTheDiff42")
    # A new password would change the stats file (and reload): reported, without content.
    assert changed_tasks(result.stdout) == ["Write the stats page configuration", "Reload haproxy"], result.stdout[-4000:]
    assert "NewSecretForTheDiff42" not in result.stdout + result.stderr
    assert lab.secret("haproxy_stats") not in result.stdout + result.stderr
    assert fingerprint(lab) == before


BAD_INPUT = {
    "unknown_balance": ({"haproxy_backend_defaults": {"balance": "fastest"}}, "unknown balance algorithm"),
    "port_out_of_range": ({"haproxy_http_port": 70000}, "haproxy_http_port is 70000"),
    "duplicate_backend": ({"haproxy_backends": [{"name": "auth_backend", "port": 8000}] * 2,
                           "haproxy_routes": []}, "defines auth_backend more than once"),
    "server_without_address": ({"haproxy_backend_servers_group": "webhook_sink"}, "mon1 has no address"),
    "route_to_missing_backend": ({"haproxy_routes": [{"path_prefix": "/api/v1/x/", "backend": "x_backend"}]},
                                 "x_backend, which haproxy_backends does not define"),
    "missing_certificate": ({"haproxy_tls_certificate": "/nonexistent/lb1.pem"}, "haproxy_tls_certificate /nonexistent"),
    "stats_password_unset": ({"haproxy_stats_password": ""}, "haproxy_stats_password is not set"),
    "negative_timeout": ({"haproxy_backend_defaults": {"timeout_server": -1}}, "timeout_server is -1"),
    "rate_limit_zero": ({"haproxy_rate_limit_requests": 0}, "haproxy_rate_limit_requests (0)"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_fails_before_changing_anything(lab, case):
    extra, message = BAD_INPUT[case]
    before = fingerprint(lab)
    # The facts play gathers every host of the run: limited to lb1, mon1 (webhook_sink) has no address.
    limit = ["--limit", "lb1"] if case == "server_without_address" else []
    result = lab.playbook(PLAYBOOK, "--tags", "haproxy", "-e", json.dumps(extra), *limit, check=False)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]
    # It failed in preflight: the play never got to the install tasks.
    assert "Check the settings argument specs cannot check" in result.stdout
    assert "Install packages" not in result.stdout
    assert recap(result.stdout)["changed"] == 0
    assert fingerprint(lab) == before
