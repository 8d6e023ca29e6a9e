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

ITEMS = [
    {"host": "lb1", "component": "haproxy", "kind": "config", "what": "would change: Write haproxy.cfg (/etc/haproxy/haproxy.cfg)"},
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


def test_collector_keeps_paths_never_content(tmp_path):
    out = tmp_path / "collected.json"
    cb = drift_collector.CallbackModule()
    cb._plugin_options = {"output_file": str(out)}
    role = SimpleNamespace(get_name=lambda include_role_fqcn=False: "haproxy")
    task = SimpleNamespace(_role=role, name="Write haproxy.cfg", action="template", tags=[])
    secret = SimpleNamespace(_role=role, name="Write the stats page configuration", action="template", tags=[])
    cb.v2_runner_on_ok(_result(task, "lb1", {"changed": True, "diff": [{
        "before_header": "/etc/haproxy/haproxy.cfg", "after_header": "/tmp/x/haproxy.cfg.j2",
        "before": "timeout client 31s\n", "after": "timeout client 30s\n"}]}))
    cb.v2_runner_on_ok(_result(secret, "lb1", {"changed": True, "censored": "the output has been hidden"}))
    cb.v2_runner_on_ok(_result(task, "lb2", {"changed": False}))
    cb.v2_playbook_on_stats(SimpleNamespace(processed={"lb1": 1}, summarize=lambda h: {"changed": 2}))
    text = out.read_text()
    doc = json.loads(text)
    assert [(i["host"], i["component"], i["task"], i["path"]) for i in doc["items"]] == [
        ("lb1", "haproxy", "Write haproxy.cfg", "/etc/haproxy/haproxy.cfg"),
        ("lb1", "haproxy", "Write the stats page configuration", None)]
    assert "31s" not in text and "timeout" not in text, "diff content must never be recorded"


def test_collector_names_each_changed_file_of_a_config_files_task():
    """config_files writes several files in one task: each one that would change is an item of its
    own (as each file of a loop was), also without a diff (diff: false, show_diff: false)."""
    cb = drift_collector.CallbackModule()
    role = SimpleNamespace(get_name=lambda include_role_fqcn=False: "grafana")
    task = SimpleNamespace(_role=role, name="Create the directories, write the dashboards", action="config_files",
                           tags=[])
    secret = SimpleNamespace(_role=role, name="Write grafana.ini", action="config_files", tags=[])
    cb.v2_runner_on_ok(_result(task, "mon1", {"changed": True, "diff": [{
        "before_header": "/var/lib/grafana/dashboards/a.json", "after_header": "/var/lib/grafana/dashboards/a.json (src a.json)",
        "before": "{}", "after": '{"x": 1}'}], "files": [
        {"path": "/var/lib/grafana/dashboards", "kind": "directory", "changed": False, "changes": []},
        {"path": "/var/lib/grafana/dashboards/a.json", "kind": "src", "changed": True, "changes": ["content"]},
        {"path": "/var/lib/grafana/dashboards/b.json", "kind": "src", "changed": True, "changes": ["mode"]}]}))
    cb.v2_runner_on_ok(_result(secret, "mon1", {"changed": True, "censored": "the output has been hidden"}))
    assert [(i["task"], i["path"]) for i in cb._items] == [
        ("Create the directories, write the dashboards", "/var/lib/grafana/dashboards/a.json"),
        ("Create the directories, write the dashboards", "/var/lib/grafana/dashboards/b.json"),
        ("Write grafana.ini", None)]
