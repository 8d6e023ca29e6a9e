"""The stand-in services answer health, API and control requests with the configured version."""
import json
import shlex


def test_instances_enabled_and_running(host):
    for name in ("auth", "ec"):
        service = host.service("acgs-demo@%s" % name)
        assert service.is_running
    assert host.service("acgs-demo.target").is_enabled


def test_api_reports_version_and_instance(host):
    body = json.loads(host.check_output("curl -sf http://127.0.0.1:8006/api/v1/ec/x"))
    assert body == {"service": "ec", "server": host.check_output("hostname"), "version": "7", "path": "/api/v1/ec/x"}


def test_health_follows_control_endpoint(host):
    ok = "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/health"
    assert host.check_output(ok) == "200"
    host.check_output("curl -sf -X POST -d '{\"health\": \"down\"}' http://127.0.0.1:8000/_control")
    try:
        assert host.check_output(ok) == "503"
    finally:
        host.check_output("curl -sf -X POST -d '{\"health\": \"up\"}' http://127.0.0.1:8000/_control")
    assert host.check_output(ok) == "200"


def test_unconfigured_service_absent(host):
    assert not host.socket("tcp://0.0.0.0:8001").is_listening


def test_kept_alive_connection_answers_without_delay(host):
    """50 requests on one kept-alive connection: each answer is one segment with TCP_NODELAY, so
    none waits for the client's delayed ACK (two small writes took ~44 ms a request)."""
    script = ("import http.client, statistics, time\n"
              "conn = http.client.HTTPConnection('127.0.0.1', 8000, timeout=5)\n"
              "times = []\n"
              "for _ in range(50):\n"
              "    start = time.perf_counter()\n"
              "    conn.request('GET', '/api/v1/auth/x')\n"
              "    conn.getresponse().read()\n"
              "    times.append(time.perf_counter() - start)\n"
              "print(statistics.median(times))\n")
    median = float(host.check_output("python3 -c %s" % shlex.quote(script)))
    assert median < 0.01, "median %.1f ms per kept-alive request" % (median * 1000)
