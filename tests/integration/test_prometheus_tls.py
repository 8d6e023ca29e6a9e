"""Prometheus serves TLS from the lab CA, and every client of it follows two stack-wide settings.

inventories/lab/group_vars/all/tls.yml sets acgs_prometheus_tls and acgs_prometheus_ca_file
(roles/_common); the prometheus role serves mon1's certificate from the lab CA (playbooks/lab_pki.yml).
Before the clients followed those settings, the gate built http://<mon1>:9090 by hand, and so did
Grafana's data source; against a TLS port both failed. Proves, in the lab:
  - Prometheus answers https only, with a certificate that the lab CA verifies for mon1's address
    and, on mon1, for 127.0.0.1 with the CA file the role wrote there (_common_prometheus_ca_path,
    which the drift check, backup and restore use);
  - the health gate (playbooks/gate.yml, the end of site.yml) checks Prometheus's targets and alerts
    over https, and the same gate with the URL built the old way (http) fails naming Prometheus;
  - Grafana's provisioned data source uses https and carries the lab CA.
drift_check.yml and backup.yml run against this TLS Prometheus in test_drift.py and test_backup.py.
"""
import base64
import json
import shlex
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest
import yaml

from conftest import ROOT

GATE_TASK = "Backends have servers UP, Prometheus targets are up, no critical alert fires, each VIP has one holder"
ON_HOST_CA = "/etc/prometheus/secrets/ca.pem"


@pytest.fixture(scope="module", autouse=True)
def tls_lab(lab):
    if not lab.prometheus_tls:
        pytest.fail("inventories/lab must set acgs_prometheus_tls: true (group_vars/all/tls.yml)")


def status(url, context=None, auth=None):
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_prometheus_answers_https_only_with_the_lab_ca(lab):
    url = lab.prometheus_url("mon1")
    assert url.startswith("https://"), url
    auth = ("prometheus", lab.secret("prometheus_web"))
    lab_ca = ssl.create_default_context(cafile=str(lab.ca_file))
    assert status(url + "/api/v1/status/buildinfo", lab_ca, auth) == 200
    # Go's TLS server answers a plain HTTP request with 400 and no data.
    assert status(url.replace("https://", "http://", 1) + "/api/v1/status/buildinfo", auth=auth) == 400
    # A client that does not trust the lab CA is refused.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        status(url + "/api/v1/status/buildinfo", ssl.create_default_context(cafile=None, capath="/nonexistent"))


def test_prometheus_verifies_for_loopback_with_the_ca_on_its_host(lab):
    """What the drift check, backup and restore do on mon1: https://127.0.0.1:9090 verified with the CA file there."""
    assert lab.run("mon1", "cat %s" % ON_HOST_CA).stdout.strip() == lab.ca_file.read_text().strip()
    probe = ("import ssl, urllib.request, urllib.error\n"
             "ctx = ssl.create_default_context(cafile=%r)\n"
             "try:\n    urllib.request.urlopen('https://127.0.0.1:9090/-/ready', timeout=10, context=ctx)\n"
             "except urllib.error.HTTPError as exc:\n    print(exc.code)\nelse:\n    print(200)\n" % ON_HOST_CA)
    # 401: the handshake verified, then basic auth asked for credentials.
    assert lab.run("mon1", "python3 -c %s" % shlex.quote(probe)).stdout.strip() == "401"


def gate(lab, *extra):
    """playbooks/gate.yml with the JSON callback: (rc, the gate's result on lb1)."""
    env = dict(lab.env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json")
    command = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(lab.inventory), "playbooks/gate.yml",
               "-e", "gate_wait_timeout=6"] + list(extra)
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    report = json.loads(proc.stdout)
    results = [task["hosts"]["lb1"] for play in report["plays"] for task in play["tasks"]
               if task["task"]["name"] == GATE_TASK]
    assert results, proc.stdout[-4000:]
    return proc.returncode, results[0]


def test_the_gate_checks_prometheus_over_https(lab):
    rc, result = gate(lab)
    assert rc == 0, result.get("msg")
    checks = {c["name"]: c for c in result["checks"]}
    jobs = {name for name, c in checks.items() if c["type"] == "job"}
    assert jobs == {"job haproxy", "job node", "job prometheus", "job alertmanager"}, sorted(checks)
    assert all(c["ok"] for c in checks.values()), [c for c in checks.values() if not c["ok"]]
    assert any(c["type"] == "alerts" for c in checks.values()), sorted(checks)


def test_the_gate_with_the_old_http_url_fails_naming_prometheus(lab):
    """The URL as it was built before the stack-wide settings: http://<mon1>:9090, TLS ignored."""
    old_url = lab.prometheus_url("mon1").replace("https://", "http://", 1)
    rc, result = gate(lab, "-e", "gate_prometheus_url=%s" % old_url)
    assert rc != 0 and result.get("failed"), result
    failed = [c for c in result["checks"] if not c["ok"]]
    assert failed and all(c["type"] in ("job", "alerts") for c in failed), failed
    assert "400" in " ".join(c["detail"] for c in failed), failed


def test_grafana_data_source_uses_https_and_the_lab_ca(lab):
    source, = yaml.safe_load(lab.run("mon1", "cat /etc/grafana/provisioning/datasources/acgs-prometheus.yml").stdout
                             )["datasources"]
    assert source["url"] == lab.prometheus_url("mon1")
    assert source["jsonData"]["tlsAuthWithCACert"] is True
    assert source["secureJsonData"]["tlsCACert"].strip() == lab.ca_file.read_text().strip()
