"""The node exporter runs with the textfile collector reading the configured directory."""


def metrics(host):
    return host.check_output("curl -sf http://127.0.0.1:9100/metrics")


def test_running_and_enabled(host):
    service = host.service("prometheus-node-exporter")
    assert service.is_running and service.is_enabled
    assert host.socket("tcp://0.0.0.0:9100").is_listening or host.socket("tcp://:::9100").is_listening


def test_flags(host):
    args = host.file("/etc/default/prometheus-node-exporter").content_string
    assert "--collector.textfile.directory=/var/lib/acgs-textfile" in args
    assert "--collector.systemd" in args and "--no-collector.wifi" in args


def test_textfile_collector_reads_directory(host):
    directory = host.file("/var/lib/acgs-textfile")
    assert directory.is_directory and directory.mode == 0o755
    host.check_output("echo 'acgs_molecule_probe 7' > /var/lib/acgs-textfile/probe.prom")
    try:
        assert "acgs_molecule_probe 7" in metrics(host)
    finally:
        host.check_output("rm -f /var/lib/acgs-textfile/probe.prom")


def test_recommended_collectors_not_installed(host):
    assert not host.package("prometheus-node-exporter-collectors").is_installed


def test_started_once_by_the_role(host):
    """The package must not start the service with Debian's defaults (no auth) before the role's
    configuration lands (policy-rc.d): one start since boot, by the role's service task, and none
    by the idempotence and check-mode runs."""
    starts = host.check_output("journalctl -b -u prometheus-node-exporter.service -o cat | grep -c '^Started ' || true")
    assert starts == "1", "prometheus-node-exporter.service started %s times since boot, expected 1" % starts
