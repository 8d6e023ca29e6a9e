# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""restore.yml's archive list and its checks (plugins/filter/restore_report.py), from tables."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.acgs.haproxy_stack.plugins.filter.restore_report import restore_archives, restore_report

MANIFEST_HOSTS = {
    "lb1": {"archives": {"haproxy": {"file": "haproxy.tar.gz", "sha256": "a" * 64, "files": {}}}, "missing": []},
    "mon1": {"archives": {"prometheus": {"file": "prometheus.tar.gz", "sha256": "b" * 64},
                          "prometheus_tsdb": {"file": "prometheus_tsdb.tar.gz", "sha256": "c" * 64,
                                              "target": "/var/lib/prometheus/metrics2"}}},
    "app1": {"archives": {}},
}


@pytest.mark.parametrize("hosts, expected", [
    (["lb1", "mon1", "app1"], [("lb1", "haproxy", "a"), ("mon1", "prometheus", "b"), ("mon1", "prometheus_tsdb", "c")]),
    (["mon1"], [("mon1", "prometheus", "b"), ("mon1", "prometheus_tsdb", "c")]),
    (["app1", "app2"], []),
], ids=["all", "limit", "nothing"])
def test_restore_archives(hosts, expected):
    assert restore_archives(MANIFEST_HOSTS, hosts) == [
        {"host": h, "name": n, "file": n + ".tar.gz", "sha256": s * 64} for h, n, s in expected]


@pytest.mark.parametrize("manifest_hosts", [[], {"lb1": {}}, {"lb1": {"archives": {"x": {"file": "x"}}}}])
def test_restore_archives_bad_manifest(manifest_hosts):
    with pytest.raises(AnsibleFilterError, match="not the hosts of a backup manifest"):
        restore_archives(manifest_hosts, ["lb1"])


def result(file, exists=True, checksum="a" * 64, sha256="a" * 64):
    return {"item": {"host": "lb1", "name": file, "file": file + ".tar.gz", "sha256": sha256},
            "stat": {"exists": exists, "checksum": checksum} if exists else {"exists": False}}


@pytest.mark.parametrize("results, expected", [
    ([result("haproxy")], []),
    ([result("haproxy", exists=False), result("grafana")], ["lb1/haproxy.tar.gz is missing"]),
    ([result("haproxy", checksum="0" * 64)], ["lb1/haproxy.tar.gz has SHA-256 %s, manifest %s" % ("0" * 64, "a" * 64)]),
    ([], ["no archive for the hosts of this run (lb1, mon1)"]),
], ids=["intact", "missing", "altered", "none"])
def test_restore_report(results, expected):
    assert restore_report(results, ["lb1", "mon1"]) == expected
