"""The drift report filter and the check-mode collector callback (no lab, no processes).

plugins/filter/drift_report.py turns drift items into the table, the JSON counts and the
textfile-collector metrics; plugins/callback/drift_collector.py records changed tasks of a
check-mode run without their content. Both are checked here with plain Python, and the
metrics are parsed back with promtool when it is installed.
"""
import json
import shutil
import subprocess
from types import SimpleNamespace

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.acgs.haproxy_stack.plugins.callback import drift_collector
from ansible_collections.acgs.haproxy_stack.plugins.filter.drift_report import drift_report

# The haproxy role's task that writes haproxy.cfg (roles/haproxy/tasks/configure.yml).
WRITE_CFG = "Install the TLS certificate and key, write haproxy.cfg, remove 00-stats.cfg when stats are off"

ITEMS = [
    {"host": "lb1", "component": "haproxy", "kind": "config", "what": "would change: %s (/etc/haproxy/haproxy.cfg)" % WRITE_CFG},
    {"host": "lb1", "component": "haproxy", "kind": "runtime", "what": "server auth_backend/app1 is in MAINT"},
    {"host": "lb1", "component": "haproxy", "kind": "runtime", "what": "server auth_backend/app1 is in MAINT"},
    {"host": "app1", "component": "demo_app", "kind": "runtime", "what": "service acgs-demo@auth.service is stopped"},
]


def test_counts_dedupe_and_zeroes():
    report = drift_report(ITEMS, ["app1", "app2", "lb1"], ["haproxy", "demo_app"], 1700000000.5)
    assert report["total"] == 3, "the duplicate MAINT item must be counted once"
    assert report["counts"]["lb1"]["haproxy"] == {"config": 1, "runtime": 1}
    assert report["counts"]["app2"]["haproxy"] == {"config": 0, "runtime": 0}, "clean hosts get zero counts"
    assert [i["host"] for i in report["items"]] == ["app1", "lb1", "lb1"], "items are sorted by host"


def test_table_names_host_component_and_what():
    table = drift_report(ITEMS, ["lb1", "app1"], ["haproxy"], 0)["table"].splitlines()
    assert table[0].split() == ["HOST", "COMPONENT", "KIND", "WHAT", "DIFFERS"]
    assert any(line.startswith("lb1") and "MAINT" in line for line in table)
    assert drift_report([], ["lb1"], ["haproxy"], 0)["table"].startswith("No drift")


def test_metrics_text_format():
    metrics = drift_report(ITEMS, ["lb1", "app1", "app2"], ["haproxy", "demo_app"], 1700000000.5)["metrics"]
    lb1 = metrics["lb1"]
    assert 'acgs_drift_items{component="haproxy",kind="config"} 1' in lb1
    assert 'acgs_drift_items{component="demo_app",kind="runtime"} 0' in lb1
    assert "acgs_drift_last_run_timestamp_seconds 1700000000.500" in lb1
    assert lb1.endswith("\n")
    promtool = shutil.which("promtool")
    if promtool:
        result = subprocess.run([promtool, "check", "metrics"], input=lb1, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("bad", [[{"host": "lb1"}], [{"host": "a", "component": "b", "kind": "other", "what": "c"}], "x"])
def test_bad_input_is_refused(bad):
    with pytest.raises(AnsibleFilterError):
        drift_report(bad, ["lb1"], ["haproxy"], 0)


def _result(task, host, result):
    return SimpleNamespace(_task=task, _host=SimpleNamespace(get_name=lambda: host), _result=result)


def _haproxy_collector(tmp_path):
    """A collector writing to tmp_path, and the haproxy role's config and (no_log) stats page tasks."""
    out = tmp_path / "collected.json"
    cb = drift_collector.CallbackModule()
    cb._plugin_options = {"output_file": str(out)}
    role = SimpleNamespace(get_name=lambda include_role_fqcn=False: "haproxy")
    task = SimpleNamespace(_role=role, name=WRITE_CFG, action="acgs.haproxy_stack.config_files", tags=[])
    secret = SimpleNamespace(_role=role, name="Write the stats page configuration",
                             action="acgs.haproxy_stack.config_files", tags=[])
    return out, cb, task, secret


def test_collector_keeps_paths_never_content(tmp_path):
    out, cb, task, secret = _haproxy_collector(tmp_path)
    cb.v2_runner_on_ok(_result(task, "lb1", {"changed": True, "diff": [{
        "before_header": "/etc/haproxy/haproxy.cfg", "after_header": "/tmp/x/haproxy.cfg.j2",
        "before": "timeout client 31s\n", "after": "timeout client 30s\n"}]}))
    cb.v2_runner_on_ok(_result(secret, "lb1", {"changed": True, "censored": "the output has been hidden"}))
    cb.v2_runner_on_ok(_result(task, "lb2", {"changed": False}))
    cb.v2_playbook_on_stats(SimpleNamespace(processed={"lb1": 1}, summarize=lambda h: {"changed": 2}))
    text = out.read_text()
    doc = json.loads(text)
    assert [(i["host"], i["component"], i["task"], i["path"]) for i in doc["items"]] == [
        ("lb1", "haproxy", WRITE_CFG, "/etc/haproxy/haproxy.cfg"),
        ("lb1", "haproxy", "Write the stats page configuration", None)]
    assert "31s" not in text and "timeout" not in text, "diff content must never be recorded"


def test_collector_records_each_changed_path_of_a_config_files_task(tmp_path):
    out, cb, task, secret = _haproxy_collector(tmp_path)
    # The certificate (show_diff false: no diff) and haproxy.cfg would change; the diff only names haproxy.cfg.
    cb.v2_runner_on_ok(_result(task, "lb1", {"changed": True, "files": [
        {"path": "/etc/haproxy/certs/haproxy.pem", "kind": "src", "changed": True, "changes": ["content"]},
        {"path": "/etc/haproxy/haproxy.cfg", "kind": "template", "changed": True, "changes": ["content"]},
        {"path": "/etc/haproxy/conf.d/00-stats.cfg", "kind": "absent", "changed": False, "changes": []}],
        "diff": [{"before_header": "/etc/haproxy/haproxy.cfg", "before": "timeout client 31s\n", "after": "x\n"}]}))
    cb.v2_runner_on_ok(_result(secret, "lb1", {"changed": True, "censored": "the output has been hidden"}))
    cb.v2_playbook_on_stats(SimpleNamespace(processed={"lb1": 1}, summarize=lambda h: {"changed": 2}))
    text = out.read_text()
    assert [(i["task"], i["path"]) for i in json.loads(text)["items"]] == [
        (task.name, "/etc/haproxy/certs/haproxy.pem"), (task.name, "/etc/haproxy/haproxy.cfg"),
        ("Write the stats page configuration", None)]
    assert "31s" not in text, "diff content must never be recorded"
