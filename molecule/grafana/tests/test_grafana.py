"""Grafana role converged by molecule with grafana_install: false.

NOT RUN: Grafana itself (its package cannot be reached from this machine): the service,
its health API and the provisioned data source are not tested here. What the role renders
on the host is.
"""
import json

import pytest
import yaml


def test_grafana_ini(host):
    ini = host.file("/etc/grafana/grafana.ini")
    assert ini.mode == 0o640
    text = ini.content_string
    assert "admin_password = molecule-admin-123" in text and "http_port = 3000" in text
    assert "provisioning = /etc/grafana/provisioning" in text


def test_datasource(host):
    data = yaml.safe_load(host.file("/etc/grafana/provisioning/datasources/acgs-prometheus.yml").content_string)
    (source,) = data["datasources"]
    assert source["url"] == "http://127.0.0.1:9090" and source["basicAuthUser"] == "prometheus"
    assert source["secureJsonData"]["basicAuthPassword"] == "prometheus-secret-456"


def test_dashboard(host):
    board = json.loads(host.file("/var/lib/grafana/dashboards/haproxy.json").content_string)
    assert board["refresh"] == "30s" and "standalone" in board["tags"]
    assert "haproxy_server_up" in json.dumps(board)


def test_grafana_service():
    pytest.skip("NOT RUN: Grafana's package cannot be reached from this machine; the service, /api/health and "
                "the data source health check are untested (set grafana_package_file to a .deb to test them)")
