"""HAProxy converged by molecule: one host with the stand-in services behind it."""
import re

CURL = "curl -s -o /dev/null -w '%{http_code}' "


def test_service_running_and_listening(host):
    assert host.service("haproxy").is_running and host.service("haproxy").is_enabled
    for port in (80, 8080):
        assert host.socket("tcp://0.0.0.0:%d" % port).is_listening
    assert host.socket("tcp://127.0.0.1:9999").is_listening
    assert not host.socket("tcp://0.0.0.0:9999").is_listening


def test_files_and_permissions(host):
    sock = host.file("/run/haproxy/admin.sock")
    assert sock.is_socket and sock.mode == 0o660
    stats = host.file("/etc/haproxy/conf.d/00-stats.cfg")
    assert stats.mode == 0o640 and stats.group == "haproxy"
    assert "molecule-stats-secret" not in host.file("/etc/haproxy/haproxy.cfg").content_string
    assert "-f /etc/haproxy/conf.d" in host.file("/etc/systemd/system/haproxy.service.d/acgs.conf").content_string
    assert host.run("haproxy -c -q -f /etc/haproxy/haproxy.cfg -f /etc/haproxy/conf.d").rc == 0


def test_routing_and_stats(host):
    out = host.check_output("curl -s -D - -o /dev/null http://127.0.0.1/api/v1/ec/x")
    assert re.search(r"(?im)^x-instance: ec", out)
    assert host.check_output(CURL + "http://127.0.0.1/nowhere") == "404"
    assert host.check_output(CURL + "http://127.0.0.1:8080/stats") == "401"
    assert host.check_output(CURL + "-u admin:molecule-stats-secret http://127.0.0.1:8080/stats") == "200"


def test_rate_limit(host):
    clear = "echo 'clear table acgs_frontend' | socat stdio /run/haproxy/admin.sock"
    host.run(clear)  # earlier tests' requests count too
    codes = host.check_output("for i in $(seq 22); do %s http://127.0.0.1/api/v1/auth/x; echo; done" % CURL).split()
    try:
        assert codes[:20] == ["200"] * 20 and codes[20:] == ["429", "429"], codes
    finally:
        host.run(clear)


def test_rsyslog_logging(host):
    assert host.package("rsyslog").is_installed
    assert "rotate 30" in host.file("/etc/logrotate.d/haproxy").content_string
