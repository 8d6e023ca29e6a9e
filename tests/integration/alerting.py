"""Helpers shared by tests/integration/test_alert_e2e.py and bench/bench_alerts.py.

Faults on the lab (stop a stand-in server, its health or latency through its control
endpoint, HAProxy runtime commands on lb1), the HTTP APIs of mon1 (Prometheus,
Alertmanager, the webhook sink of roles/demo_app on :9095) and the detection bounds
computed from what actually runs: Prometheus' loaded configuration and rules,
Alertmanager's loaded routes, lb1's haproxy.cfg. Nothing here needs pytest.

Every wait is bounded by a deadline; every request has a timeout.
"""
import base64
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from lab_hosts import LabHosts, LabNotUp  # noqa: F401 (bench/bench_alerts.py opens the lab through them)

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "collections") not in sys.path:
    sys.path.insert(0, str(ROOT / "collections"))
# The collection's own readers of durations and routes: what the self-test playbook uses, unit-tested.
from ansible_collections.acgs.haproxy_stack.plugins.filter.alertmanager_route import alertmanager_route  # noqa: E402
from ansible_collections.acgs.haproxy_stack.plugins.filter.prometheus_duration_seconds import (  # noqa: E402
    prometheus_duration_seconds as prom_duration,
)

SINK_PORT = 9095
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
EXPORTER_PORT = 9101
ADMIN_SOCKET = "/run/haproxy/admin.sock"
# Allowance on top of the configured delays: HTTP hops, rule group evaluation time,
# Alertmanager's dispatch and the sink's bookkeeping.
SLACK_S = 10.0
# The lab inventory's usernames (inventories/lab/group_vars/all/stack.yml); the passwords
# are the lab's generated secrets.
PROMETHEUS_USER = "prometheus"
ALERTMANAGER_USER = "alertmanager"


# ------------------------------------------------------------------ durations
def haproxy_duration(text):
    """Seconds of an HAProxy time (milliseconds without a unit)."""
    match = re.fullmatch(r"(\d+)(us|ms|s|m|h|d)?", text)
    if not match:
        raise ValueError("not an HAProxy time: %r" % text)
    return int(match.group(1)) * {"us": 1e-6, "ms": 0.001, None: 0.001, "s": 1, "m": 60, "h": 3600,
                                  "d": 86400}[match.group(2)]


# ------------------------------------------------------------------ waiting
def wait_until(predicate, timeout, what, poll=2.0):
    """predicate()'s first true value; fails naming `what` once `timeout` s have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "%s: not within %.0f s" % (what, timeout)
        time.sleep(poll)


# ------------------------------------------------------------------ HTTP
def http_json(url, auth=None, data=None, method=None, timeout=10):
    request = urllib.request.Request(url, method=method, data=json.dumps(data).encode() if data is not None else None,
                                     headers={"Content-Type": "application/json"})
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
        return json.loads(body) if body else None


class Stack:
    """mon1's Prometheus, Alertmanager and webhook sink, and lb1's runtime API, for one lab."""

    def __init__(self, lab):
        self.lab = lab
        mon1 = lab.addr("mon1")
        self.prom_url = lab.prometheus_url("mon1")
        self.am_url = "http://%s:%d" % (mon1, ALERTMANAGER_PORT)
        self.sink_url = "http://%s:%d/_received" % (mon1, SINK_PORT)
        missing = [name for name in ("prometheus_web", "alertmanager_web")
                   if not (lab.state_dir / ("%s.secret" % name)).exists()]
        if missing:
            raise AssertionError("lab %s has no %s secret(s) in %s: converge it (`ACGS_LAB=%s make lab`)" % (
                lab.name, ", ".join(missing), lab.state_dir, lab.name))
        self.prom_auth = (PROMETHEUS_USER, lab.secret("prometheus_web"))
        self.am_auth = (ALERTMANAGER_USER, lab.secret("alertmanager_web"))

    # Prometheus
    def prom(self, path, **params):
        url = self.prom_url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        answer = http_json(url, self.prom_auth)
        assert answer["status"] == "success", (path, answer)
        return answer["data"]

    def prom_alerts(self, alertname=None):
        alerts = self.prom("/api/v1/alerts")["alerts"]
        return [a for a in alerts if alertname is None or a["labels"]["alertname"] == alertname]

    def query(self, expr):
        return self.prom("/api/v1/query", query=expr)["result"]

    # Alertmanager
    def am(self, path, data=None, method=None):
        return http_json(self.am_url + path, self.am_auth, data=data, method=method)

    def am_alerts(self, **labels):
        filters = "&".join("filter=" + urllib.parse.quote('%s="%s"' % kv) for kv in sorted(labels.items()))
        return self.am("/api/v2/alerts" + ("?" + filters if filters else ""))

    def post_alerts(self, alerts):
        self.am("/api/v2/alerts", data=alerts, method="POST")

    # Webhook sink
    def received(self):
        return http_json(self.sink_url)

    def notifications(self, since, alertname=None, status=None, match=None):
        """(sink time, path, notification status, alert) for every alert the sink got after `since`."""
        found = []
        for entry in self.received():
            if entry["time"] < since:
                continue
            for alert in entry["body"].get("alerts", []):
                labels = alert.get("labels", {})
                if alertname and labels.get("alertname") != alertname:
                    continue
                if status and alert.get("status") != status:
                    continue
                if match and any(labels.get(k) != v for k, v in match.items()):
                    continue
                found.append((entry["time"], entry["path"], alert.get("status"), alert))
        return found

    def wait_notification(self, since, timeout, alertname, status="firing", match=None, poll=1.0):
        """The first matching alert the sink got after `since`, or None once `timeout` s have passed."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.notifications(since, alertname, status, match)
            if found:
                return min(found, key=lambda f: f[0])
            if time.monotonic() > deadline:
                return None
            time.sleep(poll)

    def wait_group_closed(self, group_labels, timeout):
        """Wait until Alertmanager's group with these group labels has sent its resolved notification.

        A group lives until it has flushed its resolved alerts (group_interval after its last
        notification). A new alert that joins a live group is notified at the group's next flush,
        not after group_wait, and one with the labels of an alert the group already notified is not
        notified again at all: timing a new fault needs the group gone. The sink tells: the last
        notification of the group is resolved (or there is none). Returns the seconds waited.
        """
        started = time.monotonic()
        while True:
            last = None
            for entry in self.received():
                if entry["body"].get("groupLabels") == group_labels:
                    last = entry
            if last is None or last["body"].get("status") == "resolved":
                return round(time.monotonic() - started, 1)
            if time.monotonic() - started > timeout:
                raise AssertionError("Alertmanager's group %s still has firing alerts after %.0f s: %s" % (
                    group_labels, timeout, [a["labels"] for a in last["body"].get("alerts", [])]))
            time.sleep(2)

    # lb1
    def runtime(self, command, host="lb1"):
        """One HAProxy runtime API command over the admin socket; returns its output."""
        return self.lab.run(host, "echo %s | socat stdio %s" % (shell_quote(command), ADMIN_SOCKET)).stdout

    def exporter_frontend(self, host="lb1"):
        """Name of the HAProxy frontend (conf.d, roles/haproxy_exporter) serving the exporter on :9101."""
        text = self.lab.run(host, "cat /etc/haproxy/conf.d/*.cfg").stdout
        name = None
        for line in text.splitlines():
            words = line.split()
            if words[:1] in (["frontend"], ["listen"]):
                name = words[1]
            elif words[:1] == ["bind"] and name and words[1].endswith(":%d" % EXPORTER_PORT):
                return name
        raise AssertionError("no frontend binds :%d in %s:/etc/haproxy/conf.d" % (EXPORTER_PORT, host))

    def server_state(self, backend, server, host="lb1"):
        """HAProxy's status of backend/server from `show stat` (UP, DOWN, MAINT, ...)."""
        out = self.runtime("show stat", host)
        header = out.splitlines()[0].lstrip("# ").split(",")
        for line in out.splitlines()[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == backend and row.get("svname") == server:
                return row["status"]
        raise AssertionError("%s/%s not in show stat on %s" % (backend, server, host))


def shell_quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


# ------------------------------------------------------------------ configured delays
def check_timings(lab, backend, host="lb1"):
    """inter, fastinter, rise, fall and timeout check of `backend`'s servers in host's haproxy.cfg."""
    text = lab.run(host, "cat /etc/haproxy/haproxy.cfg").stdout
    values = {"inter": "2s", "fastinter": None, "rise": "2", "fall": "3", "timeout_check": None}
    section = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if not raw[:1].isspace():
            section = words[:2]
            continue
        if section in (["defaults"], ["backend", backend]) or (section and section[0] == "defaults"):
            if words[:2] == ["timeout", "check"]:
                values["timeout_check"] = words[2]
            if words[0] == "default-server" or (words[0] == "server" and section == ["backend", backend]):
                for key in ("inter", "fastinter", "rise", "fall"):
                    if key in words:
                        values[key] = words[words.index(key) + 1]
    inter = haproxy_duration(values["inter"])
    fastinter = haproxy_duration(values["fastinter"]) if values["fastinter"] else inter
    timeout_check = haproxy_duration(values["timeout_check"]) if values["timeout_check"] else inter
    return {"inter_s": inter, "fastinter_s": fastinter, "rise": int(values["rise"]), "fall": int(values["fall"]),
            "timeout_check_s": timeout_check,
            # First failed check after at most `inter`, then fall-1 more at `fastinter`, each
            # taking up to `timeout check`.
            "down_detection_s": inter + (int(values["fall"]) - 1) * fastinter + timeout_check,
            "up_detection_s": inter + (int(values["rise"]) - 1) * inter + timeout_check}



def configured(stack, alertnames):
    """The delays that bound each alert's detection, read from the running Prometheus and Alertmanager.

    Returns {"scrape_interval_s", "scrape_timeout_s", "evaluation_interval_s", "alerts": {name:
    {"for_s", "severity", "group_wait_s", "group_interval_s", "receiver"}}}.
    """
    config = yaml.safe_load(stack.prom("/api/v1/status/config")["yaml"])
    haproxy_job = next(j for j in config["scrape_configs"] if j["job_name"] == "haproxy")
    result = {
        "scrape_interval_s": prom_duration(haproxy_job.get("scrape_interval", config["global"]["scrape_interval"])),
        "scrape_timeout_s": prom_duration(haproxy_job.get("scrape_timeout", config["global"]["scrape_timeout"])),
        "alerts": {},
    }
    rules = {}
    for group in stack.prom("/api/v1/rules")["groups"]:
        for rule in group["rules"]:
            if rule["type"] == "alerting":
                rules[rule["name"]] = (rule, group)
    route = yaml.safe_load(stack.am("/api/v2/status")["config"]["original"])["route"]
    evaluation = set()
    for name in alertnames:
        assert name in rules, "Prometheus has no alerting rule %s" % name
        rule, group = rules[name]
        evaluation.add(group["interval"])
        labels = dict(rule.get("labels", {}), alertname=name)
        timers = alertmanager_route(route, labels)
        result["alerts"][name] = {"for_s": float(rule["duration"]), "severity": labels.get("severity"),
                                  "receiver": timers["receiver"],
                                  "group_wait_s": timers["group_wait"],
                                  "group_interval_s": timers["group_interval"]}
    result["evaluation_interval_s"] = float(max(evaluation))
    return result


def bound_firing(config, alertname, detection_s=0.0):
    """Worst case from the fault to the firing notification: HAProxy's own detection, then a
    scrape (interval, plus its timeout when the target hangs), a rule evaluation, the rule's
    `for`, the route's group_wait, and SLACK_S."""
    alert = config["alerts"][alertname]
    return round(detection_s + config["scrape_interval_s"] + config["evaluation_interval_s"] + alert["for_s"]
                 + alert["group_wait_s"] + SLACK_S, 1)


def bound_resolved(config, alertname, detection_s=0.0):
    """Worst case from the repair to the resolved notification: HAProxy sees the server up, a
    scrape and an evaluation resolve the alert, and Alertmanager sends resolved alerts with the
    group's next flush (group_interval after the firing notification, at most)."""
    alert = config["alerts"][alertname]
    return round(detection_s + config["scrape_interval_s"] + config["evaluation_interval_s"]
                 + alert["group_interval_s"] + SLACK_S, 1)


def bound_pending(config, detection_s=0.0):
    """Worst case from the fault until Prometheus shows the alert pending (or its expression true)."""
    return round(detection_s + config["scrape_interval_s"] + config["evaluation_interval_s"] + SLACK_S, 1)


# ------------------------------------------------------------------ stand-in servers (roles/demo_app)
def service_port(lab, service, host="app1"):
    config = json.loads(lab.run(host, "cat /etc/acgs-demo/services.json").stdout)
    return config["services"][service]


def control(lab, host, port, **state):
    """POST the demo service's /_control (health, latency, error_ratio); returns its state."""
    return http_json("http://%s:%d/_control" % (lab.addr(host), port), data=state, method="POST", timeout=5)


def stop_service(lab, host, service):
    lab.run(host, "systemctl stop acgs-demo@%s.service" % service)


def start_service(lab, host, service):
    lab.run(host, "systemctl start acgs-demo@%s.service && /usr/bin/python3 /opt/acgs-demo/demo_service.py "
                  "--config /etc/acgs-demo/services.json --wait-healthy 20" % service)


def wait_server_state(stack, backend, server, states, timeout=60, poll=0.5):
    deadline = time.monotonic() + timeout
    while True:
        state = stack.server_state(backend, server)
        if any(state.startswith(s) for s in states) or time.monotonic() > deadline:
            return state
        time.sleep(poll)


# ------------------------------------------------------------------ traffic through lb1
class Traffic:
    """Requests to one backend through lb1 from `workers` threads, until stopped or `max_requests`.

    Counts statuses and which server answered (X-Served-By); every request has a timeout.
    """

    def __init__(self, lab, service, workers=2, max_requests=2000, max_seconds=180, pause=0.05, timeout=10):
        self.url = "http://%s/api/v1/%s/drill" % (lab.addr("lb1"), service)
        self.workers, self.max_requests, self.max_seconds = workers, max_requests, max_seconds
        self.pause, self.timeout = pause, timeout
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.sent = 0
        self.failures = []
        self.codes = {}
        self.served_by = {}
        self.slow = 0
        self.threads = []

    def _worker(self):
        deadline = time.monotonic() + self.max_seconds
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            with self.lock:
                if self.sent >= self.max_requests:
                    return
                self.sent += 1
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=self.timeout) as response:
                    response.read()
                    code, server = response.status, response.headers.get("X-Served-By", "?")
            except urllib.error.HTTPError as error:
                code, server = error.code, error.headers.get("X-Served-By", "?")
            except OSError as error:
                code, server = "error: %s" % error, None
            elapsed = time.monotonic() - started
            with self.lock:
                self.codes[code] = self.codes.get(code, 0) + 1
                if server:
                    self.served_by[server] = self.served_by.get(server, 0) + 1
                if code != 200:
                    self.failures.append(code)
                if elapsed > 1:
                    self.slow += 1
            if self.pause:
                self.stop_event.wait(self.pause)

    def __enter__(self):
        for _ in range(self.workers):
            thread = threading.Thread(target=self._worker, daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=self.timeout + 5)

    def __exit__(self, *exc):
        self.stop()

    def summary(self):
        with self.lock:
            return {"requests": sum(self.codes.values()), "failures": len(self.failures),
                    "codes": {str(k): v for k, v in self.codes.items()}, "served_by": dict(self.served_by),
                    "slow_over_1s": self.slow}
