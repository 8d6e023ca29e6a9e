#!/usr/bin/python3
"""Stand-in HTTP service for the lab: one process per seed service.

GET  /health               200 {"status": "ok"} (503 when health is set down)
GET  /api/v1/<service>/... 200 JSON naming server, instance and version
POST /_control             JSON {"health": "up|down", "latency": seconds,
                           "error_ratio": 0..1, "version": "..."}; merges into state
GET  /_control             current fault state
Any other POST             recorded (webhook sink mode); GET /_received lists them,
                           DELETE /_received clears them.
Faults live in memory, so a restart clears them; ports, bind address and the
version come from the config file, which is what a deploy changes.
"""
import argparse
import json
import random
import socket
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, version):
        self.lock = threading.Lock()
        self.health = "up"
        self.latency = 0.0
        self.error_ratio = 0.0
        self.version = version
        self.received = []

    def snapshot(self):
        with self.lock:
            return {"health": self.health, "latency": self.latency,
                    "error_ratio": self.error_ratio, "version": self.version}


def make_handler(service, state, server_name):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "acgs-demo"
        # One segment per answer, sent at once: the headers and the body go through one
        # buffered writer that is flushed after each request (http.server does that), and
        # TCP_NODELAY is set. Unbuffered, the headers and the body were two small writes,
        # and Nagle held the body until the client's delayed ACK of the headers: ~40 ms
        # per request on a kept-alive connection.
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):  # keep the journal quiet
            pass

        def _send(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Served-By", server_name)
            self.send_header("X-Instance", service)
            self.send_header("X-Version", state.version)
            self.end_headers()
            self.wfile.write(data)

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw or b"{}")
            except ValueError:
                return {"raw": raw.decode(errors="replace")}

        def do_GET(self):
            snap = state.snapshot()
            if self.path == "/health":
                if snap["health"] != "up":
                    return self._send(503, {"status": "down", "service": service})
                return self._send(200, {"status": "ok", "service": service, "version": snap["version"]})
            if self.path == "/_control":
                return self._send(200, snap)
            if self.path == "/_received":
                with state.lock:
                    return self._send(200, list(state.received))
            if snap["latency"]:
                time.sleep(snap["latency"])
            if snap["error_ratio"] and random.random() < snap["error_ratio"]:
                return self._send(500, {"error": "injected", "service": service})
            return self._send(200, {"service": service, "server": server_name,
                                    "version": snap["version"], "path": self.path})

        def do_POST(self):
            body = self._body()
            if self.path == "/_control":
                with state.lock:
                    for key in ("health", "latency", "error_ratio", "version"):
                        if key in body:
                            setattr(state, key, body[key] if key in ("health", "version") else float(body[key]))
                return self._send(200, state.snapshot())
            with state.lock:
                state.received.append({"path": self.path, "time": time.time(), "body": body})
                del state.received[:-1000]
            return self._send(200, {"recorded": True})

        def do_DELETE(self):
            if self.path == "/_received":
                with state.lock:
                    state.received.clear()
                return self._send(200, {"cleared": True})
            return self._send(404, {"error": "not found"})

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's listen backlog is 5: more clients connecting at once (a proxy opening
    # its server connections, a load generator) would wait for SYN retransmits.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that resets its connection (a load generator stopping mid-request) is no
        # error of the service: keep it out of the journal, print anything else.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def wait_healthy(config, timeout):
    """Exit 0 once every configured instance answers /health with 200."""
    deadline = time.monotonic() + timeout
    pending = dict(config["services"])
    while pending and time.monotonic() < deadline:
        for name, port in list(pending.items()):
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=2) as resp:
                    if resp.status == 200:
                        del pending[name]
            except OSError:
                pass
        if pending:
            time.sleep(0.3)
    if pending:
        sys.exit("not healthy after %ss: %s" % (timeout, ", ".join(sorted(pending))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="/etc/acgs-demo/services.json")
    parser.add_argument("--service", help="instance to run (a key of the config's services)")
    parser.add_argument("--wait-healthy", type=float, metavar="SECONDS",
                        help="wait until every instance is healthy, then exit")
    args = parser.parse_args()
    with open(args.config) as handle:
        config = json.load(handle)
    if args.wait_healthy is not None:
        return wait_healthy(config, args.wait_healthy)
    state = State(config["version"])
    server = Server((config["bind"], config["services"][args.service]),
                    make_handler(args.service, state, socket.gethostname()))
    server.serve_forever()


if __name__ == "__main__":
    main()
