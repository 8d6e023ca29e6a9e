# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""stack_backup on real temporary directories: archives, manifest, check mode, TSDB modes."""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.acgs.haproxy_stack.plugins.modules import stack_backup


class Done(Exception):
    """exit_json or fail_json was called."""


@pytest.fixture
def run_module(monkeypatch):
    """Run stack_backup's main() with args; return ('exit' or 'fail', result as JSON would carry it)."""

    def finish(kind):
        def method(self, **kwargs):
            kwargs.setdefault("changed", False)
            raise Done(kind, json.loads(json.dumps(kwargs)))
        return method

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", finish("exit"))
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", finish("fail"))

    def run(module, module_args, check_mode=False):
        module_args = dict(module_args, _ansible_check_mode=check_mode)
        with patch_module_args(module_args):
            try:
                module.main()
            except Done as done:
                return done.args
        raise AssertionError("module returned without exit_json/fail_json")

    return run


def sha(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def write(path, content, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    path.chmod(mode)
    return str(path)


@pytest.fixture
def tree(tmp_path):
    """A host: HAProxy's configuration (a file, a conf.d, a link), Alertmanager's state, a TSDB."""
    root = tmp_path / "host"
    cfg = write(root / "etc/haproxy/haproxy.cfg", "global\n", 0o640)
    write(root / "etc/haproxy/conf.d/10-web.cfg", "backend web\n")
    write(root / "etc/haproxy/certs/site.pem", "KEY\n", 0o600)
    os.symlink(cfg, str(root / "etc/haproxy/current.cfg"))
    write(root / "etc/default/haproxy", "CONFIG=x\n")
    write(root / "var/lib/alertmanager/silences", "s" * 100, 0o640)
    tsdb = root / "tsdb"
    write(tsdb / "01BLOCK/meta.json", "{}")
    write(tsdb / "wal/00000001", "w" * 50)
    write(tsdb / "lock", "")
    write(tsdb / "snapshots/20260101T000000Z-abc/01BLOCK/meta.json", "{}")
    write(tsdb / "snapshots/20260101T000000Z-abc/01BLOCK/chunks/000001", "c" * 30)
    return root


def args(tmp_path, **kwargs):
    out = {"work_dir": str(tmp_path / "work")}
    out.update(kwargs)
    return out


def members(path):
    with tarfile.open(path) as tar:
        return sorted(tar.getnames())


def test_archives_and_manifest(run_module, tree, tmp_path):
    haproxy = [str(tree / "etc/haproxy"), str(tree / "etc/default/haproxy")]
    kind, result = run_module(stack_backup, args(tmp_path, components={
        "haproxy": haproxy, "alertmanager": [str(tree / "var/lib/alertmanager")]}))
    assert kind == "exit", result
    assert result["changed"] is True
    assert result["missing"] == []
    assert sorted(result["archives"]) == ["alertmanager", "haproxy"]
    entry = result["archives"]["haproxy"]
    archive = tmp_path / "work" / "haproxy.tar.gz"
    assert entry["file"] == "haproxy.tar.gz" and entry["base"] == "/"
    assert entry["sha256"] == sha(archive) and entry["size"] == archive.stat().st_size
    assert "target" not in entry
    # Every regular file with its checksum, mode and size; the symbolic link is archived, not recorded.
    cfg = str(tree / "etc/haproxy/haproxy.cfg")
    assert sorted(entry["files"]) == sorted([cfg, str(tree / "etc/haproxy/conf.d/10-web.cfg"),
                                             str(tree / "etc/haproxy/certs/site.pem"),
                                             str(tree / "etc/default/haproxy")])
    assert entry["files"][cfg] == {"sha256": sha(cfg), "mode": "0640", "size": 7}
    assert entry["files"][str(tree / "etc/haproxy/certs/site.pem")]["mode"] == "0600"
    names = members(archive)
    assert os.path.relpath(str(tree / "etc/haproxy/current.cfg"), "/") in names
    assert os.path.relpath(cfg, "/") in names


def test_archives_and_work_dir_are_private(run_module, tree, tmp_path):
    old = os.umask(0o022)
    try:
        kind, result = run_module(stack_backup, args(tmp_path, components={"haproxy": [str(tree / "etc/haproxy")]},
                                                     tsdb_mode="stop", tsdb_path=str(tree / "tsdb")))
    finally:
        os.umask(old)
    assert kind == "exit", result
    assert stat.S_IMODE((tmp_path / "work").stat().st_mode) == 0o700
    for name in ("haproxy.tar.gz", "prometheus_tsdb.tar.gz"):
        assert stat.S_IMODE((tmp_path / "work" / name).stat().st_mode) == 0o600


def test_missing_paths_are_listed_and_skipped(run_module, tree, tmp_path):
    gone = [str(tree / "var/lib/grafana/grafana.db"), str(tree / "etc/grafana")]
    kind, result = run_module(stack_backup, args(tmp_path, components={
        "grafana": gone, "haproxy": [str(tree / "etc/default/haproxy"), str(tree / "etc/nothing")]}))
    assert kind == "exit", result
    # In the order of the components (sorted) and of their paths.
    assert result["missing"] == gone + [str(tree / "etc/nothing")]
    # An archive with nothing in it is still written (restore unpacks it as a no-op).
    assert result["archives"]["grafana"]["files"] == {}
    assert members(tmp_path / "work" / "grafana.tar.gz") == []
    assert list(result["archives"]["haproxy"]["files"]) == [str(tree / "etc/default/haproxy")]


def test_check_mode_reports_and_writes_nothing(run_module, tree, tmp_path):
    snapshot = tree / "tsdb/snapshots/20260101T000000Z-abc"
    kind, result = run_module(stack_backup, args(tmp_path, components={
        "haproxy": [str(tree / "etc/default/haproxy"), str(tree / "missing")]},
        tsdb_mode="snapshot", tsdb_path=str(tree / "tsdb"), tsdb_snapshot=snapshot.name), check_mode=True)
    assert kind == "exit", result
    assert result["changed"] is True
    assert not (tmp_path / "work").exists()
    assert snapshot.is_dir(), "check mode removed the snapshot"
    entry = result["archives"]["haproxy"]
    assert "sha256" not in entry and "size" not in entry
    path = str(tree / "etc/default/haproxy")
    assert entry["files"] == {path: {"sha256": sha(path), "mode": "0644", "size": 9}}
    assert result["missing"] == [str(tree / "missing")]
    assert result["archives"]["prometheus_tsdb"]["target"] == str(tree / "tsdb")


def test_check_mode_without_a_snapshot_name(run_module, tree, tmp_path):
    """In check mode the admin API call was skipped: no snapshot name, still a report."""
    kind, result = run_module(stack_backup, args(tmp_path, tsdb_mode="snapshot", tsdb_path=str(tree / "tsdb")),
                              check_mode=True)
    assert kind == "exit", result
    assert result["archives"]["prometheus_tsdb"]["file"] == "prometheus_tsdb.tar.gz"
    assert not (tmp_path / "work").exists()


def test_snapshot_mode_archives_and_removes_the_snapshot(run_module, tree, tmp_path):
    snapshot = tree / "tsdb/snapshots/20260101T000000Z-abc"
    kind, result = run_module(stack_backup, args(tmp_path, tsdb_mode="snapshot", tsdb_path=str(tree / "tsdb"),
                                                 tsdb_snapshot=snapshot.name))
    assert kind == "exit", result
    entry = result["archives"]["prometheus_tsdb"]
    assert entry["base"] == str(snapshot)
    assert entry["target"] == str(tree / "tsdb")
    assert entry["files"] == {}
    assert entry["sha256"] == sha(tmp_path / "work" / "prometheus_tsdb.tar.gz")
    # Members relative to the snapshot: unpacked into the data directory they are its blocks.
    assert members(tmp_path / "work" / "prometheus_tsdb.tar.gz") == [
        "01BLOCK", "01BLOCK/chunks", "01BLOCK/chunks/000001", "01BLOCK/meta.json"]
    assert not snapshot.exists()
    assert (tree / "tsdb/snapshots").is_dir() and (tree / "tsdb/01BLOCK").is_dir()


def test_stop_mode_excludes_snapshots_and_lock(run_module, tree, tmp_path):
    kind, result = run_module(stack_backup, args(tmp_path, tsdb_mode="stop", tsdb_path=str(tree / "tsdb")))
    assert kind == "exit", result
    entry = result["archives"]["prometheus_tsdb"]
    assert entry["base"] == entry["target"] == str(tree / "tsdb")
    assert members(tmp_path / "work" / "prometheus_tsdb.tar.gz") == [
        "01BLOCK", "01BLOCK/meta.json", "wal", "wal/00000001"]
    assert (tree / "tsdb/snapshots/20260101T000000Z-abc").is_dir(), "stop mode touched the snapshots"


def test_nothing_to_do(run_module, tmp_path):
    kind, result = run_module(stack_backup, args(tmp_path))
    assert kind == "exit", result
    assert result["changed"] is False
    assert result["archives"] == {} and result["missing"] == []


def test_rerun_replaces_the_archives(run_module, tree, tmp_path):
    spec = args(tmp_path, components={"haproxy": [str(tree / "etc/default/haproxy")]})
    first = run_module(stack_backup, spec)[1]["archives"]["haproxy"]
    write(tree / "etc/default/haproxy", "CONFIG=changed and longer\n")
    second = run_module(stack_backup, spec)[1]["archives"]["haproxy"]
    assert second["sha256"] == sha(tmp_path / "work" / "haproxy.tar.gz") != first["sha256"]


@pytest.mark.parametrize("extra, message", [
    ({"tsdb_mode": "snapshot"}, "needs tsdb_snapshot"),
    ({"tsdb_mode": "snapshot", "tsdb_snapshot": "../../etc"}, "needs tsdb_snapshot"),
    ({"tsdb_mode": "snapshot", "tsdb_snapshot": "nope"}, "no TSDB snapshot nope"),
    ({"tsdb_mode": "stop", "tsdb_path": "/nonexistent/tsdb"}, "is not a directory"),
    ({"components": {"haproxy": "/etc/haproxy"}}, "must be a list of absolute paths"),
    ({"components": {"haproxy": ["etc/haproxy"]}}, "must be a list of absolute paths"),
    ({"components": {"prometheus_tsdb": ["/etc"]}, "tsdb_mode": "stop"}, "that archive is the TSDB's"),
], ids=["no_snapshot", "snapshot_path", "unknown_snapshot", "no_data_dir", "not_a_list", "relative",
        "name_clash"])
def test_bad_requests_fail_before_writing(run_module, tree, tmp_path, extra, message):
    spec = {"tsdb_path": str(tree / "tsdb")}
    spec.update(extra)
    kind, result = run_module(stack_backup, args(tmp_path, **spec))
    assert kind == "fail"
    assert message in result["msg"]
    assert not (tmp_path / "work").exists()
