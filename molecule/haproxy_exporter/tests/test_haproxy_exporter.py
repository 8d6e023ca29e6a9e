"""The standalone exporter converged by molecule, reading HAProxy's read-only socket."""


def test_standalone_exporter_serves_metrics(host):
    assert host.service("prometheus-haproxy-exporter").is_running
    assert host.socket("tcp://0.0.0.0:9101").is_listening or host.socket("tcp://:::9101").is_listening
    metrics = host.check_output("curl -sf http://127.0.0.1:9101/metrics")
    assert "haproxy_up 1" in metrics
    assert 'haproxy_server_up{backend="web_backend",server="local"}' in metrics


def test_exporter_socket_is_read_only_and_private(host):
    sock = host.file("/run/haproxy/exporter.sock")
    assert sock.is_socket and sock.user == "prometheus" and sock.mode == 0o600
    assert "level user" in host.file("/etc/haproxy/conf.d/50-haproxy-exporter-socket.cfg").content_string
    # HAProxy itself serves nothing on the exporter port in this mode.
    assert "prometheus-exporter" not in host.file("/etc/haproxy/conf.d/50-haproxy-exporter-socket.cfg").content_string
