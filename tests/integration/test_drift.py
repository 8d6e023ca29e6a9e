"""Drift check on the lab (playbooks/drift_check.yml, roles/drift_timer).

Needs a converged lab (site.yml). Hand-edits haproxy.cfg and the secret stats file on lb1, puts
a server in MAINT and changes a weight through the runtime socket, then checks that the report
names each of them (and no secret), that the metric reaches Prometheus and StackDriftDetected
fires in Prometheus and Alertmanager, that drift_fail_on_drift fails the run, and that after
site.yml and haproxy_server state=ready the next run is clean. Leaves the lab converged.
Prints the drift check's duration over the whole lab.
"""
import base64
import json
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import ROOT

REPORT_DIR = ROOT / "drift-reports"
SOCKET = "/run/haproxy/admin.sock"


def http_json(url, auth, timeout=10):
    request = urllib.request.Request(url)
    request.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return json.loads(resp.read().decode())


def socket_cmd(lab, command):
    return lab.run("lb1", "echo '%s' | socat -t 5 stdio unix-connect:%s" % (command, SOCKET)).stdout


def drift(lab, *args, check=True):
    started = time.time()
    result = lab.playbook("playbooks/drift_check.yml", "-e", "drift_report_dir=%s" % REPORT_DIR, *args, check=check)
    elapsed = time.time() - started
    report = json.loads((REPORT_DIR / "latest.json").read_text())
    return result, report, elapsed


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(3)


@pytest.fixture(scope="module")
def prom(lab):
    base = lab.prometheus_url("mon1")
    auth = ("prometheus", lab.secret("prometheus_web"))
    return lambda path: http_json(base + path, auth)["data"]


def undo(lab):
    """Put lb1 back: site.yml restores the files, haproxy_server the runtime states."""
    lab.playbook("site.yml", "--tags", "haproxy")
    args = json.dumps({"servers": ["auth_backend/app1", "ac_backend/app2"], "state": "ready", "weight": "100%"})
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible"), "-i", str(ROOT / "inventories" / "lab"), "lb1",
                             "-m", "acgs.haproxy_stack.haproxy_server", "-a", args],
                            cwd=ROOT, env=lab.env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def drifted(lab):
    """Make drift on lb1; put everything back at the end if a test did not."""
    lab.run("lb1", "sed -i 's/^\\(\\s*timeout client\\) 30s/\\1 31s/' /etc/haproxy/haproxy.cfg"
                   " && grep -q 'timeout client 31s' /etc/haproxy/haproxy.cfg"
                   " && echo '# hand edit' >> /etc/haproxy/conf.d/00-stats.cfg"
                   " && haproxy -c -q -f /etc/haproxy/haproxy.cfg -f /etc/haproxy/conf.d")
    socket_cmd(lab, "disable server auth_backend/app1")
    socket_cmd(lab, "set weight ac_backend/app2 50")
    state = {"undone": False}
    yield state
    if not state["undone"]:
        undo(lab)


def test_clean_lab_has_no_drift(lab):
    result, report, elapsed = drift(lab)
    print("drift check over the whole lab (clean): %.1f s" % elapsed)
    assert report["total"] == 0, "converged lab reports drift:\n%s" % (REPORT_DIR / "latest.txt").read_text()
    assert set(report["kinds"]) == {"config", "runtime"}
    assert report["hosts"] == ["app1", "app2", "lb1", "mon1"]
    prom_file = lab.run("lb1", "cat /var/lib/prometheus/node-exporter/acgs_drift.prom").stdout
    assert 'acgs_drift_items{component="haproxy",kind="config"} 0' in prom_file


def test_drift_is_reported(lab, drifted, prom):
    before = lab.run("lb1", "sha256sum /etc/haproxy/haproxy.cfg /etc/haproxy/conf.d/00-stats.cfg").stdout
    result, report, elapsed = drift(lab)
    print("drift check over the whole lab (with drift): %.1f s" % elapsed)
    assert lab.run("lb1", "sha256sum /etc/haproxy/haproxy.cfg /etc/haproxy/conf.d/00-stats.cfg").stdout == before, \
        "the drift check changed a checked file"
    whats = [(i["host"], i["component"], i["kind"], i["what"]) for i in report["items"]]
    text = (REPORT_DIR / "latest.txt").read_text()
    assert any(h == "lb1" and k == "config" and "/etc/haproxy/haproxy.cfg" in w for h, c, k, w in whats), text
    # The stats page's task is no_log: its item names the task, never the path or content.
    assert any(h == "lb1" and k == "config" and "Write the stats page configuration" in w for h, c, k, w in whats), text
    assert ("lb1", "haproxy", "runtime", "server auth_backend/app1 is in MAINT") in whats, text
    assert any("ac_backend/app2 has weight 50" in w for h, c, k, w in whats), text
    assert report["total"] == 4, text
    secret = lab.secret("haproxy_stats")
    raw = (REPORT_DIR / "latest.json").read_text() + text + result.stdout
    assert secret not in raw and "timeout client 31s" not in raw and "hand edit" not in raw, "the report shows file content"

    # The metric (textfile collector, scraped every 15 s) and the alert (for: 0m in the lab).
    query = urllib.parse.quote('sum by (host) (acgs_drift_items{host="lb1"})')
    wait_for(lambda: any(float(r["value"][1]) == 4 for r in prom("/api/v1/query?query=" + query)["result"]),
             90, "acgs_drift_items of lb1 = 4 in Prometheus")
    wait_for(lambda: [a for a in prom("/api/v1/alerts")["alerts"]
                      if a["labels"]["alertname"] == "StackDriftDetected" and a["state"] == "firing"],
             120, "StackDriftDetected firing in Prometheus")
    am_auth = ("alertmanager", lab.secret("alertmanager_web"))
    wait_for(lambda: [a for a in http_json("http://%s:9093/api/v2/alerts" % lab.addr("mon1"), am_auth)
                      if a["labels"]["alertname"] == "StackDriftDetected"],
             120, "StackDriftDetected in Alertmanager")


def test_fail_on_drift_and_tags(lab, drifted):
    result, report, _ = drift(lab, "--tags", "runtime", "-e", "drift_fail_on_drift=true", check=False)
    assert result.returncode != 0, "drift_fail_on_drift=true must fail when drift is found"
    assert report["kinds"] == ["runtime"]
    assert {i["kind"] for i in report["items"]} == {"runtime"}
    assert report["total"] == 2
    result, report, _ = drift(lab, "--tags", "runtime", "--limit", "app1,app2", "-e", "drift_fail_on_drift=true")
    assert report["hosts"] == ["app1", "app2"] and report["total"] == 0


def test_clean_after_converge(lab, drifted, prom):
    undo(lab)
    drifted["undone"] = True
    result, report, elapsed = drift(lab, "-e", "drift_fail_on_drift=true")
    print("drift check over the whole lab (after converge): %.1f s" % elapsed)
    assert report["total"] == 0, (REPORT_DIR / "latest.txt").read_text()
    query = urllib.parse.quote('sum(acgs_drift_items{host="lb1"})')
    wait_for(lambda: any(float(r["value"][1]) == 0 for r in prom("/api/v1/query?query=" + query)["result"]),
             90, "acgs_drift_items of lb1 back to 0 in Prometheus")


TIMER_PLAYBOOK = """
- name: Drift timer on mon1 (lab proof)
  hosts: mon1
  gather_facts: false
  tasks:
    - name: Install the timer
      ansible.builtin.include_role:
        name: acgs.haproxy_stack.drift_timer
      vars:
        drift_timer_on_calendar: "*:*:0/15"
        drift_timer_randomized_delay_sec: 0
        drift_timer_unit_name: acgs-drift-check-test
        drift_timer_command:
          - /bin/sh
          - -c
          - >-
            printf 'acgs_drift_timer_test_last_run_timestamp_seconds %s\\n' "$(date +%s)"
            > /var/lib/prometheus/node-exporter/.timer_test.tmp
            && mv /var/lib/prometheus/node-exporter/.timer_test.tmp /var/lib/prometheus/node-exporter/acgs_drift_timer_test.prom
      when: not remove | default(false) | bool

    - name: Remove the test timer
      when: remove | default(false) | bool
      block:
        - name: Stop the test timer
          ansible.builtin.systemd_service:
            name: acgs-drift-check-test.timer
            state: stopped
            enabled: false
        - name: Remove its units and metric
          ansible.builtin.file:
            path: "{{ item }}"
            state: absent
          loop:
            - /etc/systemd/system/acgs-drift-check-test.timer
            - /etc/systemd/system/acgs-drift-check-test.service
            - /var/lib/prometheus/node-exporter/acgs_drift_timer_test.prom
        - name: Forget the units
          ansible.builtin.systemd_service:
            daemon_reload: true
"""


def test_timer_fires(lab, prom, tmp_path):
    """roles/drift_timer on mon1: the timer fires every 15 s and its output reaches Prometheus.

    The lab's command is a stand-in writing a textfile metric: running the real drift check from
    mon1 needs ansible-core >= 2.16 there (bookworm ships 2.14; the lab has no PyPI access).
    """
    playbook = tmp_path / "timer.yml"
    playbook.write_text(TIMER_PLAYBOOK)
    lab.playbook(playbook)
    try:
        unit = lab.run("mon1", "cat /etc/systemd/system/acgs-drift-check-test.timer").stdout
        assert "OnCalendar=*:*:0/15" in unit
        wait_for(lambda: lab.run("mon1", "test -s /var/lib/prometheus/node-exporter/acgs_drift_timer_test.prom",
                                 check=False).returncode == 0, 60, "the timer's first run")
        runs = lab.run("mon1", "systemctl show -p NRestarts,Result acgs-drift-check-test.service; "
                               "journalctl -u acgs-drift-check-test.service -o cat | grep -c 'Finished' || true").stdout
        print("timer runs: %s" % runs.replace("\n", " "))
        query = urllib.parse.quote("acgs_drift_timer_test_last_run_timestamp_seconds")
        wait_for(lambda: prom("/api/v1/query?query=" + query)["result"], 90, "the timer's metric in Prometheus")
        # A bad calendar expression fails in preflight, before a unit is written.
        bad = lab.playbook(playbook, "-e", '{"drift_timer_on_calendar": "every tuesday-ish"}', check=False)
        assert bad.returncode != 0 and "not a systemd calendar expression" in bad.stdout
    finally:
        lab.playbook(playbook, "-e", "remove=true")
