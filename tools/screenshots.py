#!/usr/bin/env python3
"""Take the documentation screenshots (docs/images/*.png) from a live lab with headless Chromium.

    ACGS_LAB=<lab> tools/screenshots.py [--out docs/images] [--server-down app2:8002] [name ...]

Names: haproxy-stats, prometheus-targets, prometheus-alerts, alertmanager-alerts (default: all).
The lab must be up and converged (site.yml). Needs Debian's `chromium` (apt-get install chromium).

Chromium is not given credentials in URLs (it blocks or prompts for them): each page is loaded
through a small reverse proxy on 127.0.0.1 that adds the Authorization header, so the pages'
own API calls (Prometheus' and Alertmanager's web UIs are JavaScript apps) are authenticated too.
Debian's packages ship no React UI for Prometheus (its classic UI is served under /classic/) and no web
UI at all for Alertmanager (its / says so). So the Alertmanager shot is of a page this program renders
from Alertmanager's API v2 (/api/v2/alerts, /api/v2/status), titled as such: the alert list as
Alertmanager reports it. Before it, one test alert is posted to the API; its endsAt makes it expire by
itself (default 15 minutes).
"""
import argparse
import base64
import datetime
import html
import http.client
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WINDOW = "1400,900"
MAX_BYTES = 300 * 1024
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--force-device-scale-factor=1"]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-authenticate", "proxy-authorization",
              "te", "trailers", "upgrade", "content-length"}


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class AuthProxy:
    """Reverse proxy on 127.0.0.1:<random port> to host:port, adding an Authorization header."""

    def __init__(self, host, port, authorization):
        upstream = (host, port)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP and k.lower() not in ("host", "authorization")}
                headers["Authorization"] = authorization
                conn = http.client.HTTPConnection(*upstream, timeout=30)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_BY_HOP:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_POST = do_HEAD = _forward

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def lab_context(lab):
    state = ROOT / "lab" / ".state" / lab
    addresses_file = state / "addresses.json"
    if not addresses_file.exists():
        raise SystemExit("lab %s is not up (no %s): run `ACGS_LAB=%s make lab`" % (lab, addresses_file, lab))

    def secret(name):
        path = state / ("%s.secret" % name)
        if not path.exists():
            raise SystemExit("%s is missing: converge the lab first (site.yml)" % path)
        return path.read_text().split()[0]

    defaults = yaml.safe_load((ROOT / "roles" / "haproxy" / "defaults" / "main.yml").read_text())
    return json.loads(addresses_file.read_text()), secret, defaults["haproxy_stats_user"]


def set_health(address, port, health):
    """Lab stand-in service fault injection (roles/demo_app): POST /_control {"health": "down|up"}."""
    request = urllib.request.Request("http://%s:%d/_control" % (address, port), method="POST",
                                     data=json.dumps({"health": health}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=15).read()


def wait_firing(base_url, alertname, timeout):
    """Wait until Prometheus reports alertname firing (its `for` duration has elapsed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(base_url + "/api/v1/alerts", timeout=15) as response:
            alerts = json.loads(response.read())["data"]["alerts"]
        if any(a["labels"].get("alertname") == alertname and a["state"] == "firing" for a in alerts):
            return
        time.sleep(5)
    raise SystemExit("%s did not fire within %d s" % (alertname, timeout))


def post_test_alert(base_url, minutes):
    now = datetime.datetime.now(datetime.timezone.utc)
    alert = [{
        "labels": {"alertname": "DocsScreenshotTestAlert", "severity": "warning", "instance": "lb1:8405",
                   "source": "tools/screenshots.py"},
        "annotations": {"summary": "Test alert for the documentation screenshot; expires by itself",
                        "description": "Posted by tools/screenshots.py to show a firing alert."},
        "startsAt": now.isoformat(),
        "endsAt": (now + datetime.timedelta(minutes=minutes)).isoformat(),
    }]
    request = urllib.request.Request(base_url + "/api/v2/alerts", data=json.dumps(alert).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        if response.status != 200:
            raise SystemExit("Alertmanager refused the test alert: HTTP %d" % response.status)


def alertmanager_page(base_url, host, port, path):
    """An HTML page listing Alertmanager's alerts as its API v2 reports them (Debian ships no Alertmanager UI)."""
    def get(api):
        with urllib.request.urlopen(base_url + api, timeout=15) as response:
            return json.loads(response.read())

    status, alerts = get("/api/v2/status"), get("/api/v2/alerts")
    version = status.get("versionInfo", {}).get("version", "?")
    rows = []
    for alert in sorted(alerts, key=lambda a: (a["labels"].get("alertname", ""), a["startsAt"])):
        labels = " ".join('<span class="label">%s="%s"</span>' % (html.escape(k), html.escape(v))
                          for k, v in sorted(alert["labels"].items()))
        state = alert["status"]["state"]
        rows.append("<tr><td><b>%s</b><br>%s</td><td class=\"%s\">%s</td><td>%s</td><td>%s</td><td>%s</td>"
                    "<td>%s</td></tr>" % (
                        html.escape(alert["labels"].get("alertname", "")), labels, html.escape(state),
                        html.escape(state), html.escape(alert["startsAt"][:19].replace("T", " ")),
                        html.escape(alert["endsAt"][:19].replace("T", " ")),
                        html.escape(", ".join(r["name"] for r in alert.get("receivers", []))),
                        html.escape(alert.get("annotations", {}).get("summary", ""))))
    page = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Alertmanager alerts</title><style>
body { font-family: sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; margin: 0 0 4px; } p.sub { color: #666; margin: 0 0 18px; font-size: 13px; }
table { border-collapse: collapse; width: 100%%; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } .label { display: inline-block; background: #e8eef9; border-radius: 3px;
padding: 1px 6px; margin: 3px 3px 0 0; font-family: monospace; font-size: 12px; }
td.active { color: #b00; font-weight: bold; } td.suppressed { color: #888; }
</style></head><body>
<h1>Alertmanager %s &mdash; %d alert(s)</h1>
<p class="sub">GET http://%s:%d%s/api/v2/alerts (basic auth) &middot; rendered by tools/screenshots.py:
Debian's prometheus-alertmanager package ships no web UI</p>
<table><tr><th>Alert / labels</th><th>State</th><th>Starts (UTC)</th><th>Ends (UTC)</th><th>Receivers</th>
<th>Summary</th></tr>
%s
</table></body></html>""" % (html.escape(version), len(alerts), host, port, path.rstrip("/"), "\n".join(rows))
    out = Path(tempfile.mkdtemp(prefix="acgs-am-")) / "alerts.html"
    out.write_text(page)
    return out


def shoot(chromium, url, out, budget_ms, window=WINDOW):
    with tempfile.TemporaryDirectory(prefix="acgs-chromium-") as profile:
        command = [chromium] + CHROMIUM_FLAGS + ["--window-size=" + window,
            "--user-data-dir=" + profile, "--virtual-time-budget=%d" % budget_ms, "--screenshot=" + str(out), url]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    if result.returncode != 0 or not out.exists():
        raise SystemExit("chromium failed on %s (%d): %s" % (url, result.returncode, result.stderr[-2000:]))
    size = out.stat().st_size
    print("%s  %6d KB  %s" % (out.relative_to(ROOT) if out.is_relative_to(ROOT) else out, size // 1024,
                                url.split("/", 3)[-1] if url.startswith("http") else "(rendered from the API)"))
    if size > MAX_BYTES:
        print("WARNING: %s is larger than %d KB" % (out.name, MAX_BYTES // 1024), file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--lab", default=os.environ.get("ACGS_LAB", "acgs-lab"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--alert-minutes", type=int, default=15, help="lifetime of the test alert")
    parser.add_argument("--server-down", metavar="HOST:PORT",
                        help="make this lab stand-in service fail its health check first (e.g. app2:8002), wait "
                             "until Prometheus fires HAProxyBackendServerDown, and bring it back up at the end")
    parser.add_argument("--budget-ms", type=int, default=8000, help="time the pages' JavaScript gets to render")
    args = parser.parse_args(argv)

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("chromium is not installed: apt-get install -y chromium")
    addresses, secret, stats_user = lab_context(args.lab)
    lb1, mon1 = addresses["lb1"], addresses["mon1"]
    # name: (host, port, user, secret file, path)
    pages = {
        "haproxy-stats": (lb1, 8080, stats_user, "haproxy_stats", "/stats"),
        "prometheus-targets": (mon1, 9090, "prometheus", "prometheus_web", "/classic/targets"),
        "prometheus-alerts": (mon1, 9090, "prometheus", "prometheus_web", "/classic/alerts"),
        "alertmanager-alerts": (mon1, 9093, "alertmanager", "alertmanager_web", ""),
    }
    unknown = sorted(set(args.names) - set(pages))
    if unknown:
        parser.error("unknown screenshot(s) %s; known: %s" % (", ".join(unknown), ", ".join(pages)))
    args.out.mkdir(parents=True, exist_ok=True)
    fault = None
    if args.server_down:
        fault_host, fault_port = args.server_down.split(":")
        fault = (addresses[fault_host], int(fault_port))
        set_health(*fault, "down")
    try:
        if fault:
            proxy = AuthProxy(mon1, 9090, basic("prometheus", secret("prometheus_web")))
            try:
                print("waiting for HAProxyBackendServerDown to fire (its for: duration) ...")
                wait_firing(proxy.url, "HAProxyBackendServerDown", 240)
            finally:
                proxy.close()
        take(args, chromium, pages, secret)
    finally:
        if fault:
            set_health(*fault, "up")
    return 0


def take(args, chromium, pages, secret):
    for name in args.names or list(pages):
        host, port, user, secret_name, path = pages[name]
        proxy = AuthProxy(host, port, basic(user, secret(secret_name)))
        try:
            if name == "alertmanager-alerts":
                post_test_alert(proxy.url, args.alert_minutes)
                page = alertmanager_page(proxy.url, host, port, path)
                try:
                    shoot(chromium, page.as_uri(), args.out / ("%s.png" % name), args.budget_ms, "1400,500")
                finally:
                    shutil.rmtree(page.parent, ignore_errors=True)
            else:
                shoot(chromium, proxy.url + path, args.out / ("%s.png" % name), args.budget_ms)
        finally:
            proxy.close()


if __name__ == "__main__":
    sys.exit(main())
