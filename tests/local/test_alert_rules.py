# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The prometheus role's HAProxy alert rules, unit-tested with promtool.

One ansible-playbook run (tests/local/rules/render.yml, connection local) renders
roles/prometheus/templates/haproxy.rules.yml.j2 with the role's defaults and vars for
each exporter mode. Then, per mode:

* ``promtool check rules`` accepts the file;
* ``promtool test rules tests/local/rules/<mode>.test.yml`` passes: each alert fires
  when it should and not in the near misses (server in MAINT/DRAIN, value at the
  threshold, duration just under ``for``, short window without long window...).
  These run against a copy without annotations, so the cases list labels only;
  ``annotations.<mode>.test.yml`` checks annotations on the real file;
* every metric the native rules read exists in the /metrics output of a real
  HAProxy started here (and every metric the standalone rules read exists in
  prometheus-haproxy-exporter's output against the same HAProxy).

promtool, HAProxy and the exporter are each Debian release's (tests/release_binaries.py):
bookworm's (promtool 2.42, HAProxy 2.6, exporter 0.14) are this machine's, trixie's (2.53,
3.0, 0.15) come from tools/release_tools.sh; a release whose binary is missing is skipped,
saying so.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest
import yaml

import release_binaries

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(HERE, "rules")
BIN = os.path.dirname(sys.executable)
HOST = release_binaries.HOST_RELEASE
MODES = ["native", "standalone"]
# Runs a test with each release's promtool (``release``).
each_promtool = pytest.mark.parametrize("release", release_binaries.release_params("promtool"))


def render(out_dir, modes=MODES, extra_vars=None):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", os.path.join(FIXTURES, "render.yml"),
           "-e", "out_dir=%s" % out_dir, "-e", yaml.safe_dump({"modes": list(modes)}, default_flow_style=True)]
    if extra_vars:
        cmd += ["-e", yaml.safe_dump(extra_vars, default_flow_style=True)]
    for mode in modes:
        os.makedirs(os.path.join(out_dir, mode), exist_ok=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert proc.returncode == 0, "rendering the rules failed (rc %s):\n%s\n%s" % (
        proc.returncode, proc.stdout[-4000:], proc.stderr[-2000:])
    return {mode: os.path.join(out_dir, mode, "haproxy.rules.yml") for mode in modes}


@pytest.fixture(scope="module")
def rendered():
    out_dir = tempfile.mkdtemp(prefix="acgs-rules-")
    try:
        yield render(out_dir)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def promtool(*args, release=HOST):
    return subprocess.run([release_binaries.require(release, "promtool")] + list(args), capture_output=True, text=True,
                          timeout=120)


def run_unit_tests(rules_file, test_fixture, strip_annotations, release=HOST):
    """Copy the rules (under their own name) and the fixture to a work directory and run promtool test rules."""
    work = tempfile.mkdtemp(prefix="acgs-promtool-")
    try:
        with open(rules_file) as fh:
            rules = yaml.safe_load(fh)
        if strip_annotations:
            for group in rules["groups"]:
                for rule in group["rules"]:
                    rule.pop("annotations", None)
        with open(os.path.join(work, os.path.basename(rules_file)), "w") as fh:
            yaml.safe_dump(rules, fh, sort_keys=False)
        shutil.copy(os.path.join(FIXTURES, test_fixture), os.path.join(work, test_fixture))
        proc = promtool("test", "rules", os.path.join(work, test_fixture), release=release)
        assert proc.returncode == 0, "%s's promtool test rules %s failed:\n%s%s\n(rules: %s)" % (
            release, test_fixture, proc.stdout, proc.stderr, rules_file)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@each_promtool
@pytest.mark.parametrize("mode", MODES)
def test_rules_pass_promtool_check(rendered, mode, release):
    proc = promtool("check", "rules", rendered[mode], release=release)
    assert proc.returncode == 0, "%s's promtool check rules failed for %s:\n%s%s" % (
        release, mode, proc.stdout, proc.stderr)


@each_promtool
@pytest.mark.parametrize("mode", MODES)
def test_alerts_fire_and_near_misses_do_not(rendered, mode, release):
    run_unit_tests(rendered[mode], "%s.test.yml" % mode, strip_annotations=True, release=release)


@each_promtool
@pytest.mark.parametrize("mode", MODES)
def test_annotations_use_the_exporters_labels(rendered, mode, release):
    run_unit_tests(rendered[mode], "annotations.%s.test.yml" % mode, strip_annotations=False, release=release)


def alerts(rules_file):
    with open(rules_file) as fh:
        data = yaml.safe_load(fh)
    return {r["alert"]: r for g in data["groups"] for r in g["rules"] if "alert" in r}


def test_every_required_alert_exists(rendered):
    required = {"HAProxyDown", "HAProxyBackendDown", "HAProxyBackendServerDown", "HAProxyHighResponseTime",
                "HAProxyHighConnectionCount", "HAProxySLOLatencyP95High", "HAProxySLOErrorBudgetFastBurn",
                "HAProxySLOErrorBudgetSlowBurn", "HAProxySLOErrorRateHigh"}
    for mode in MODES:
        found = alerts(rendered[mode])
        assert required <= set(found), "%s rules lack %s" % (mode, sorted(required - set(found)))
        assert found["HAProxyDown"]["labels"]["severity"] == "critical"


def test_thresholds_and_durations_come_from_prometheus_alerts():
    out_dir = tempfile.mkdtemp(prefix="acgs-rules-vars-")
    try:
        files = render(out_dir, modes=["native"], extra_vars={"prometheus_alerts": {
            "haproxy_down_for": "45s", "server_down_for": "2m", "response_time_seconds": 0.75,
            "connections": 250, "slo_availability_target": 0.99, "slo_error_rate": 0.05,
            "keepalived_fault_for": "2m", "keepalived_vip_for": "45s", "keepalived_host_window": "3h"}})
        stack = alerts(os.path.join(out_dir, "native", "stack.rules.yml"))
        assert stack["KeepalivedInstanceFault"]["for"] == "2m"
        assert stack["KeepalivedVipNoHolder"]["for"] == stack["KeepalivedVipSplitBrain"]["for"] == "45s"
        assert "[3h]" in stack["KeepalivedVipNoHolder"]["expr"]
        found = alerts(files["native"])
        assert found["HAProxyDown"]["for"] == "45s"
        assert found["HAProxyBackendServerDown"]["for"] == "2m"
        assert "> 0.75" in found["HAProxyHighResponseTime"]["expr"]
        assert "> 250" in found["HAProxyHighConnectionCount"]["expr"]
        # 14.4 x (1 - 0.99)
        assert "> 0.144" in found["HAProxySLOErrorBudgetFastBurn"]["expr"]
        assert "> 0.05" in found["HAProxySLOErrorRateHigh"]["expr"]
        assert promtool("check", "rules", files["native"]).returncode == 0
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


@each_promtool
def test_stack_rules_drift_and_watchdog(rendered, release):
    """The role ships the drift alerts, the keepalived alerts and Watchdog (stack.rules.yml) by
    default: inventories without their own rules (inventories/example) get them. stack.test.yml
    covers all of them."""
    stack_rules = os.path.join(os.path.dirname(rendered["native"]), "stack.rules.yml")
    with open(stack_rules) as fh:
        assert [g["name"] for g in yaml.safe_load(fh)["groups"]] == ["acgs-drift", "acgs-keepalived", "acgs-pipeline"]
    assert promtool("check", "rules", stack_rules, release=release).returncode == 0
    run_unit_tests(stack_rules, "stack.test.yml", strip_annotations=True, release=release)


def test_stack_rules_keepalived(rendered):
    """KeepalivedInstanceFault (warning), KeepalivedVipNoHolder and KeepalivedVipSplitBrain (critical) on the
    node job's series, with the role's durations; stack.test.yml has their fire and near-miss cases."""
    found = alerts(os.path.join(os.path.dirname(rendered["native"]), "stack.rules.yml"))
    expected = {"KeepalivedInstanceFault": ("warning", "1m"), "KeepalivedVipNoHolder": ("critical", "30s"),
                "KeepalivedVipSplitBrain": ("critical", "30s")}
    for name, (severity, duration) in expected.items():
        assert (found[name]["labels"]["severity"], found[name]["for"]) == (severity, duration), found[name]
        assert 'job="node"' in found[name]["expr"], found[name]["expr"]
        assert {"summary", "description"} <= set(found[name]["annotations"]), found[name]
    # The guard: a VIP of a keepalived host (seen within keepalived_host_window) that shows no address now.
    guard = found["KeepalivedVipNoHolder"]["expr"]
    assert "[1h]" in guard and 'unless on (host) node_network_address_info{job="node"}' in guard, guard


def test_stack_rules_switch_off_and_service_backends_from_a_list():
    out_dir = tempfile.mkdtemp(prefix="acgs-rules-switches-")
    try:
        files = render(out_dir, modes=["native", "standalone"], extra_vars={
            "prometheus_drift_alerts_enabled": False, "prometheus_watchdog_enabled": False,
            "prometheus_keepalived_alerts_enabled": False, "prometheus_haproxy_service_backends": ["web.1", "api"]})
        with open(os.path.join(out_dir, "native", "stack.rules.yml")) as fh:
            assert yaml.safe_load(fh) == {"groups": []}
        for mode, label in (("native", "proxy"), ("standalone", "backend")):
            found = alerts(files[mode])
            # sorted, and a dot in a name is a dot, not any character
            for name in ("HAProxySLOLatencyP95High", "HAProxyHighResponseTime"):
                assert '%s=~"api|web\\.1"' % label in found[name]["expr"], (mode, name, found[name]["expr"])
            with open(files[mode]) as fh:
                recorded = [r for g in yaml.safe_load(fh)["groups"] for r in g["rules"] if "record" in r]
            assert recorded and all('%s=~"api|web\\.1"' % label in r["expr"] for r in recorded), recorded
            assert "auth_backend" not in open(files[mode]).read()
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


# -- metric names against real exporters ------------------------------------------------

def metric_names(rules_file):
    """haproxy_* metric names the rules read (recording-rule outputs excluded)."""
    with open(rules_file) as fh:
        data = yaml.safe_load(fh)
    exprs = " ".join(r["expr"] for g in data["groups"] for r in g["rules"])
    return set(re.findall(r"\b(haproxy_[a-z_]+)\b(?!:)", exprs)) - {"haproxy_backend"}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(url, timeout=10):
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                text = resp.read().decode()
            return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module", params=release_binaries.release_params("haproxy"))
def real_haproxy(request):
    """A release's HAProxy with its prometheus-exporter on 127.0.0.1, one checked server UP, one DOWN, one in MAINT."""
    release = request.param
    haproxy = release_binaries.require(release, "haproxy")
    work = tempfile.mkdtemp(prefix="acgs-rules-haproxy-")
    ports = dict(metrics=free_port(), fe=free_port(), closed=free_port())
    config = """global
    stats socket {work}/admin.sock mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend prometheus
    bind 127.0.0.1:{metrics}
    http-request use-service prometheus-exporter if {{ path /metrics }}
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    server up 127.0.0.1:{metrics} check inter 200ms
    server down 127.0.0.1:{closed} check inter 200ms
    server maint 127.0.0.1:{metrics} check disabled
""".format(work=work, **ports)
    with open(os.path.join(work, "haproxy.cfg"), "w") as fh:
        fh.write(config)
    proc = subprocess.Popen([haproxy, "-db", "-f", os.path.join(work, "haproxy.cfg")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield dict(work=work, release=release, **ports)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def test_native_rules_read_metrics_haproxy_publishes(rendered, real_haproxy):
    published = scrape("http://127.0.0.1:%d/metrics" % real_haproxy["metrics"])
    missing = sorted(metric_names(rendered["native"]) - published)
    assert not missing, "native rules read metrics %s does not publish: %s" % (
        release_binaries.describe(real_haproxy["release"], "haproxy"), missing)


def test_standalone_rules_read_metrics_the_exporter_publishes(rendered, real_haproxy):
    """The exporter of the same release as the HAProxy it scrapes, as on an upgraded host."""
    release = real_haproxy["release"]
    exporter = release_binaries.require(release, "prometheus-haproxy-exporter")
    port = free_port()
    proc = subprocess.Popen([exporter, "--haproxy.scrape-uri=unix:%s/admin.sock" % real_haproxy["work"],
                             "--web.listen-address=127.0.0.1:%d" % port],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)  # let HAProxy's first health checks run, so check durations exist
        published = scrape("http://127.0.0.1:%d/metrics" % port)
    finally:
        proc.terminate()
        proc.wait(5)
    missing = sorted(metric_names(rendered["standalone"]) - published)
    assert not missing, "standalone rules read metrics %s does not publish: %s" % (
        release_binaries.describe(release, "prometheus-haproxy-exporter"), missing)
