"""Alerting end to end on the lab: a fault on a stand-in server or on lb1, through HAProxy's
health checks, the exporter, Prometheus' rules and Alertmanager's routes, to the webhook sink
on mon1:9095 (roles/demo_app), with each detection time measured against its bound.

The whole campaign runs once (module fixture `campaign`), with independent waits in parallel;
the tests below assert its parts. Timeline (15 s scrapes/evaluations, the lab's routes):

  t=0      ac_backend/app1: its stand-in process is stopped          -> (a) firing, ~1m45
           fv_backend/app2: MAINT over the runtime socket            -> (c) nothing pages
           drills: pgc_backend/app2 killed (SIGKILL, no restart), gs_backend/app1 health 503,
                   ec_backend/app1 +2 s latency                      -> pending / expression true,
                   each repaired as soon as seen, so they never fire
  (a) seen ac_backend/app1 started again, once Prometheus sees it UP:
           (d) the exporter frontend on lb1 is disabled              -> HAProxyDown, inhibition
  ~T+5m    (b) the resolved notification of ac_backend/app1 (Alertmanager sends resolved alerts
           with the group's next flush: group_interval after the firing notification, 5m here)

Why (d) disables the exporter's frontend (`disable frontend` on the runtime API) rather than
stopping HAProxy: in native mode the exporter IS a frontend of the load balancer's HAProxy
(roles/haproxy_exporter's conf.d file). Stopping HAProxy would take traffic down too, which is
a different fault; stopping the frontend makes :9101 refuse connections (what Prometheus sees
of a dead exporter) while every other frontend keeps serving, which the test checks. It is
undone by `enable frontend` (and by any reload).

(d) also needs backend/server alerts of lb1 to exist while HAProxyDown fires: with the exporter
down their series are stale, so Prometheus resolves them by itself. The test therefore posts
alerts with the real label set of lb1's alerts (HAProxyHighConnectionCount for a server,
HAProxyBackendDown for a backend, labels from the real HAProxyDown) and checks that
Alertmanager marks them inhibited by the real HAProxyDown, that the same alert for another load
balancer is not, and that none reaches the sink.

Run against a converged lab. Alertmanager keeps a group until it has sent its resolved
notification (group_interval after its last one); an alert joining a live group is notified at
its next flush, or never if the group already notified the same labels. So the campaign first
waits (up to group_interval) for groups an earlier fault of lb1 left open, e.g.
test_prometheus.py's server-down test, and reports how long it waited.

Figures: printed, and written to tests/output/alert_e2e.json.
"""
import concurrent.futures
import json
import time
import traceback
import uuid
from pathlib import Path

import pytest

import alerting
from alerting import Stack, Traffic

OUTPUT = Path(__file__).resolve().parents[1] / "output" / "alert_e2e.json"
SERVER_ALERT = "HAProxyBackendServerDown"
DOWN_ALERT = "HAProxyDown"
LATENCY_ALERT = "HAProxyHighResponseTime"
# (service, host): the backend is <service>_backend, the server is the host's name.
STOPPED = ("ac", "app1")
MAINT = ("fv", "app2")
KILLED = ("pgc", "app2")
UNHEALTHY = ("gs", "app1")
SLOW = ("ec", "app1")
LATENCY_S = 2.0


def backend(service):
    return service + "_backend"


class Campaign:
    def __init__(self, lab):
        self.lab = lab
        self.stack = Stack(lab)
        self.results = {"lab": lab.name, "errors": {}}
        self.config = None

    # ---------------------------------------------------------------- helpers
    def record_error(self, part):
        self.results["errors"][part] = traceback.format_exc()

    def part(self, name, function):
        try:
            function()
        except Exception:  # recorded; the test of that part reports it
            self.record_error(name)

    def precheck(self):
        stack = self.stack
        up = stack.query('up{job="haproxy"}')
        assert up and all(r["value"][1] == "1" for r in up), \
            "the haproxy job is not up (is lb1:9101 serving? converge the lab): %s" % up
        active = [a["labels"] for a in stack.prom_alerts() if a["labels"]["alertname"].startswith("HAProxy")]
        assert not active, "HAProxy alerts already active before the test: converge the lab first: %s" % active
        for service, host in (STOPPED, MAINT, KILLED, UNHEALTHY, SLOW):
            state = stack.server_state(backend(service), host)
            assert state.startswith("UP"), "%s/%s is %s before the test" % (backend(service), host, state)
        # An earlier fault (another test) may still have its Alertmanager group open: the
        # timings below need fresh groups, so wait for its resolved flush (group_interval at most).
        waits = {}
        for name in (SERVER_ALERT, DOWN_ALERT):
            timer = self.config["alerts"][name]["group_interval_s"] + alerting.SLACK_S + 30
            waits[name] = stack.wait_group_closed({"alertname": name, "instance": "lb1:9101"}, timer)
        self.results["waited_for_open_groups_s"] = waits

    # ---------------------------------------------------------------- (a), (b)
    def server_down(self):
        service, host = STOPPED
        out = self.results["server_down"] = {"backend": backend(service), "server": host}
        match = {"proxy": backend(service), "server": host, "instance": "lb1:9101"}
        bound = alerting.bound_firing(self.config, SERVER_ALERT, self.checks["down_detection_s"])
        out["bound_s"] = bound
        start = time.time()
        alerting.stop_service(self.lab, host, service)
        self.stopped = True
        found = self.stack.wait_notification(start, bound + 30, SERVER_ALERT, "firing", match)
        assert found, "no %s for %s/%s at the sink within %.0f s" % (SERVER_ALERT, backend(service), host, bound + 30)
        when, path, _, alert = found
        out.update(detection_s=round(when - start, 1), path=path, labels=alert["labels"])
        self.firing_notification_at = when

    def server_back(self):
        """(b): start it again; wait until Prometheus no longer has the alert (then (d) may run)."""
        service, host = STOPPED
        out = self.results["server_back"] = {"backend": backend(service), "server": host}
        out["bound_s"] = alerting.bound_resolved(self.config, SERVER_ALERT, self.checks["up_detection_s"])
        self.restored_at = time.time()
        alerting.start_service(self.lab, host, service)
        self.stopped = False
        deadline = time.monotonic() + alerting.bound_pending(self.config, self.checks["up_detection_s"]) + 30
        while any(a["labels"].get("proxy") == backend(service) and a["labels"].get("server") == host
                  for a in self.stack.prom_alerts(SERVER_ALERT)):
            assert time.monotonic() < deadline, "Prometheus still has %s for the restarted server" % SERVER_ALERT
            time.sleep(1)
        out["prometheus_resolved_s"] = round(time.time() - self.restored_at, 1)

    def resolved_notification(self):
        service, host = STOPPED
        out = self.results["server_back"]
        match = {"proxy": backend(service), "server": host, "instance": "lb1:9101"}
        found = self.stack.wait_notification(self.restored_at, out["bound_s"] + 30, SERVER_ALERT, "resolved", match)
        assert found, "no resolved %s for %s/%s within %.0f s of its restart" % (
            SERVER_ALERT, backend(service), host, out["bound_s"] + 30)
        when, path, _, alert = found
        out.update(detection_s=round(when - self.restored_at, 1), path=path, labels=alert["labels"],
                   after_firing_notification_s=round(when - self.firing_notification_at, 1))

    # ---------------------------------------------------------------- (c)
    def maintenance(self):
        service, host = MAINT
        out = self.results["maintenance"] = {"backend": backend(service), "server": host}
        # A DOWN server would have paged by then.
        wait = alerting.bound_firing(self.config, SERVER_ALERT, self.checks["down_detection_s"])
        out["waited_s"] = wait
        start = time.time()
        self.stack.runtime("set server %s/%s state maint" % (backend(service), host))
        try:
            out["haproxy_state"] = self.stack.server_state(backend(service), host)
            seen = []
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                seen += [a["labels"]["alertname"] for a in self.stack.prom_alerts()
                         if a["labels"].get("proxy") == backend(service) and a["labels"].get("server") == host]
                time.sleep(5)
            out["prometheus_alerts"] = sorted(set(seen))
            out["notifications"] = [a["labels"] for _, _, _, a in self.stack.notifications(
                start, match={"proxy": backend(service), "server": host})]
        finally:
            self.stack.runtime("set server %s/%s state ready" % (backend(service), host))
        out["state_after_ready"] = alerting.wait_server_state(self.stack, backend(service), host, ["UP"], timeout=30)

    # ---------------------------------------------------------------- drills (issue 10)
    def wait_pending(self, alertname, service, host, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for alert in self.stack.prom_alerts(alertname):
                if alert["labels"].get("proxy") == backend(service) and alert["labels"].get("server") == host:
                    return alert
            time.sleep(1)
        return None

    def drill_server_alert(self, name, service, host, inject, repair):
        out = self.results["drills"][name] = {"backend": backend(service), "server": host, "alert": SERVER_ALERT}
        bound = alerting.bound_pending(self.config, self.checks["down_detection_s"])
        out["bound_s"] = bound
        traffic = Traffic(self.lab, service, workers=2, max_requests=1500, max_seconds=bound + 60, pause=0.05)
        with traffic:
            time.sleep(1)
            start = time.time()
            try:
                inject()
                alert = self.wait_pending(SERVER_ALERT, service, host, bound + 30)
                if alert:
                    out["state"] = alert["state"]
                    out["detection_s"] = round(time.time() - start, 1)
                    out["labels"] = alert["labels"]
                out["haproxy_state"] = self.stack.server_state(backend(service), host)
            finally:
                repair()
            # Keep the traffic flowing until HAProxy has the server back.
            out["state_after_repair"] = alerting.wait_server_state(self.stack, backend(service), host, ["UP"], 60)
        out["traffic"] = traffic.summary()

    def drill_killed(self):
        service, host = KILLED
        unit = "acgs-demo@%s.service" % service
        dropin = "/run/systemd/system/%s.d/zz-e2e-drill.conf" % unit

        # Restart=always would bring the process back within a second (a crash systemd heals);
        # a runtime drop-in makes this a crash that stays down until repaired.
        def inject():
            self.lab.run(host, "mkdir -p %s && printf '[Service]\\nRestart=no\\n' > %s && systemctl daemon-reload "
                               "&& systemctl kill --signal=SIGKILL %s" % (dropin.rsplit("/", 1)[0], dropin, unit))

        def repair():
            self.lab.run(host, "rm -f %s; rmdir %s; systemctl daemon-reload && systemctl reset-failed %s; true" % (
                dropin, dropin.rsplit("/", 1)[0], unit))
            alerting.start_service(self.lab, host, service)

        self.drill_server_alert("killed_process", service, host, inject, repair)
        self.results["drills"]["killed_process"]["unit_after_kill"] = "stays down (Restart=no drop-in)"

    def drill_unhealthy(self):
        service, host = UNHEALTHY
        port = alerting.service_port(self.lab, service, host)
        self.drill_server_alert("health_5xx", service, host,
                                lambda: alerting.control(self.lab, host, port, health="down"),
                                lambda: alerting.control(self.lab, host, port, health="up"))
        # What HAProxy's check got: /health answering 503.
        self.results["drills"]["health_5xx"]["health_answer"] = 503

    def drill_latency(self):
        service, host = SLOW
        port = alerting.service_port(self.lab, service, host)
        out = self.results["drills"]["latency"] = {"backend": backend(service), "server": host, "alert": LATENCY_ALERT,
                                                   "latency_s": LATENCY_S}
        rule = next(r for g in self.stack.prom("/api/v1/rules")["groups"] for r in g["rules"]
                    if r["name"] == LATENCY_ALERT)
        out["for_s"] = rule["duration"]
        expr = rule["query"]
        timeout = 120
        # HAProxy's response time is the average of the server's last responses: it takes a
        # few hundred slow ones to pass 0.5 s, so this drill sends many requests in parallel.
        traffic = Traffic(self.lab, service, workers=24, max_requests=6000, max_seconds=timeout + 90, pause=0)
        with traffic:
            start = time.time()
            alerting.control(self.lab, host, port, latency=LATENCY_S)
            try:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    hits = [r for r in self.stack.query(expr)
                            if r["metric"].get("proxy") == backend(service) and r["metric"].get("server") == host]
                    if hits:
                        out["expression_true_s"] = round(time.time() - start, 1)
                        out["value_s"] = float(hits[0]["value"][1])
                        break
                    time.sleep(2)
                alert = self.wait_pending(LATENCY_ALERT, service, host, 2 * self.config["evaluation_interval_s"] + 5)
                out["state"] = alert["state"] if alert else None
                out["slow_during_fault"] = traffic.summary()["slow_over_1s"]
            finally:
                alerting.control(self.lab, host, port, latency=0)
            # Fast answers bring the average down again; stop once the exporter reports it low.
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if self.exporter_response_time(service, host) < 0.1:
                    break
                time.sleep(1)
            out["response_time_after_repair_s"] = self.exporter_response_time(service, host)
        out["traffic"] = traffic.summary()
        deadline = time.monotonic() + alerting.bound_pending(self.config) + 20
        while self.wait_pending(LATENCY_ALERT, service, host, 1) and time.monotonic() < deadline:
            time.sleep(2)
        out["cleared"] = self.wait_pending(LATENCY_ALERT, service, host, 1) is None

    def exporter_response_time(self, service, host):
        text = alerting.urllib.request.urlopen("http://%s:9101/metrics" % self.lab.addr("lb1"), timeout=10).read()
        needle = 'haproxy_server_response_time_average_seconds{proxy="%s",server="%s"}' % (backend(service), host)
        for line in text.decode().splitlines():
            if line.startswith(needle):
                return float(line.split()[-1])
        raise AssertionError("%s not in lb1's exporter output" % needle)

    # ---------------------------------------------------------------- (d)
    def exporter_down(self):
        stack = self.stack
        out = self.results["exporter_down"] = {}
        frontend = stack.exporter_frontend()
        out["frontend"] = frontend
        bound = alerting.bound_firing(self.config, DOWN_ALERT, self.config["scrape_timeout_s"])
        out["bound_s"] = bound
        tag = uuid.uuid4().hex[:10]
        probes = []
        traffic = Traffic(self.lab, "auth", workers=1, max_requests=2000, max_seconds=bound + 120, pause=0.1)
        start = time.time()
        stack.runtime("disable frontend %s" % frontend)
        try:
            with traffic:
                try:
                    alerting.urllib.request.urlopen("http://%s:9101/metrics" % self.lab.addr("lb1"), timeout=5)
                    out["exporter_refuses"] = False
                except OSError:
                    out["exporter_refuses"] = True
                # HAProxyDown active in Alertmanager: the source of the inhibition.
                deadline = time.monotonic() + bound + 30
                source = None
                while time.monotonic() < deadline and not source:
                    source = next((a for a in stack.am_alerts(alertname=DOWN_ALERT)
                                   if a["labels"].get("instance") == "lb1:9101"), None)
                    time.sleep(1)
                assert source, "%s never reached Alertmanager" % DOWN_ALERT
                out["alertmanager_s"] = round(time.time() - start, 1)
                base = {k: source["labels"][k] for k in ("job", "instance", "host", "component")}
                ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))
                probes = [
                    dict(base, alertname="HAProxyHighConnectionCount", proxy="ac_backend", server="app1",
                         severity="warning", e2e_probe=tag),
                    dict(base, alertname="HAProxyBackendDown", proxy="ac_backend", severity="critical", e2e_probe=tag),
                ]
                control = dict(probes[0], instance="lb-e2e-control:9101", host="lb-e2e-control")
                stack.post_alerts([{"labels": p, "endsAt": ends} for p in probes + [control]])
                posted = time.time()
                time.sleep(2)
                seen = {(a["labels"]["alertname"], a["labels"]["instance"]): a["status"]["inhibitedBy"]
                        for a in stack.am_alerts(e2e_probe=tag)}
                # The control probe is resolved at once, before its group_wait: it never notifies.
                stack.post_alerts([{"labels": control, "endsAt": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))}])
                out["inhibited_by"] = {"%s@%s" % k: v for k, v in seen.items()}
                out["source_fingerprint"] = source["fingerprint"]
                # Real alerts of lb1 other than HAProxyDown while it fires: all inhibited.
                out["real_lb1_alerts"] = [
                    {"labels": a["labels"], "inhibitedBy": a["status"]["inhibitedBy"]}
                    for a in stack.am_alerts(instance="lb1:9101")
                    if a["labels"]["alertname"] != DOWN_ALERT and "e2e_probe" not in a["labels"]]
                found = stack.wait_notification(start, bound + 30, DOWN_ALERT, "firing", {"instance": "lb1:9101"})
                assert found, "no %s at the sink within %.0f s" % (DOWN_ALERT, bound + 30)
                when, path, _, alert = found
                out.update(detection_s=round(when - start, 1), path=path, labels=alert["labels"])
                # Longer than the longest group_wait the probes' routes have: they would have been sent.
                waits = max(self.config["alerts"][n]["group_wait_s"] for n in ("HAProxyHighConnectionCount",
                                                                                "HAProxyBackendDown"))
                time.sleep(max(0, posted + waits + alerting.SLACK_S - time.time()))
                out["probe_notifications"] = [a["labels"] for _, _, _, a in stack.notifications(
                    start, match={"e2e_probe": tag})]
        finally:
            if probes:
                stack.post_alerts([{"labels": p, "endsAt": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))} for p in probes])
            stack.runtime("enable frontend %s" % frontend)
        out["traffic_during_outage"] = traffic.summary()
        # Back to normal: scraped again, and HAProxyDown resolved in Alertmanager before (b)'s
        # flush (an active HAProxyDown would also mute (b)'s resolved notification).
        deadline = time.monotonic() + alerting.bound_pending(self.config) + 30
        while time.monotonic() < deadline:
            active = [a for a in stack.am_alerts(alertname=DOWN_ALERT) if a["labels"].get("instance") == "lb1:9101"]
            if not active:
                break
            time.sleep(1)
        out["resolved_in_alertmanager_after_s"] = round(time.time() - start, 1)
        assert not active, "%s still active in Alertmanager after the frontend was enabled" % DOWN_ALERT

    # ---------------------------------------------------------------- run
    def run(self):
        began = time.monotonic()
        self.config = alerting.configured(self.stack, [SERVER_ALERT, DOWN_ALERT, LATENCY_ALERT,
                                                       "HAProxyHighConnectionCount", "HAProxyBackendDown"])
        self.precheck()
        self.checks = alerting.check_timings(self.lab, backend(STOPPED[0]))
        self.results["configured"] = dict(self.config, haproxy_checks=self.checks, slack_s=alerting.SLACK_S)
        self.results["drills"] = {}
        self.stopped = False
        self.firing_notification_at = None
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
                phase1 = {name: pool.submit(self.part, name, function) for name, function in (
                    ("server_down", self.server_down), ("maintenance", self.maintenance),
                    ("drill_killed", self.drill_killed), ("drill_unhealthy", self.drill_unhealthy),
                    ("drill_latency", self.drill_latency))}
                phase1["server_down"].result()
                if self.firing_notification_at:
                    self.part("server_back", self.server_back)
                    # (d) takes the exporter away: the other parts read it.
                    for future in phase1.values():
                        future.result()
                    if "server_back" not in self.results["errors"]:
                        exporter = pool.submit(self.part, "exporter_down", self.exporter_down)
                        self.part("resolved_notification", self.resolved_notification)
                        exporter.result()
                for future in phase1.values():
                    future.result()
        finally:
            if self.stopped:
                alerting.start_service(self.lab, STOPPED[1], STOPPED[0])
            self.results["runtime_s"] = round(time.monotonic() - began, 1)
            OUTPUT.parent.mkdir(exist_ok=True)
            OUTPUT.write_text(json.dumps(self.results, indent=1, default=str) + "\n")
        return self.results


@pytest.fixture(scope="module")
def campaign(lab):
    return Campaign(lab).run()


def ok(campaign, *parts):
    for part in parts:
        assert part not in campaign["errors"], "%s failed:\n%s" % (part, campaign["errors"][part])


def test_server_down_reaches_the_sink_with_its_labels(campaign):
    ok(campaign, "server_down")
    result = campaign["server_down"]
    labels = result["labels"]
    assert (labels["alertname"], labels["proxy"], labels["server"]) == (SERVER_ALERT, "ac_backend", "app1")
    assert labels["severity"] == "warning" and labels["instance"] == "lb1:9101" and labels["host"] == "lb1"
    assert labels["job"] == "haproxy"
    assert result["path"] == "/alertmanager", "a warning must go to the default receiver, not %s" % result["path"]


def test_restarted_server_sends_the_resolved_notification(campaign):
    ok(campaign, "server_down", "server_back", "resolved_notification")
    result = campaign["server_back"]
    assert result["labels"]["server"] == "app1" and result["labels"]["proxy"] == "ac_backend"
    assert result["path"] == "/alertmanager"


def test_server_in_maintenance_does_not_page(campaign):
    ok(campaign, "maintenance")
    result = campaign["maintenance"]
    assert result["haproxy_state"].startswith("MAINT"), result
    assert result["prometheus_alerts"] == [], "MAINT raised alerts in Prometheus: %s" % result["prometheus_alerts"]
    assert result["notifications"] == [], "MAINT paged: %s" % result["notifications"]
    assert result["state_after_ready"].startswith("UP")


def test_exporter_down_pages_and_inhibits_the_load_balancers_alerts(campaign):
    ok(campaign, "exporter_down")
    result = campaign["exporter_down"]
    assert result["exporter_refuses"], "lb1:9101 still answered with the exporter frontend disabled"
    labels = result["labels"]
    assert (labels["alertname"], labels["instance"], labels["severity"]) == (DOWN_ALERT, "lb1:9101", "critical")
    assert result["path"] == "/alertmanager/critical"
    fingerprint = result["source_fingerprint"]
    inhibited = result["inhibited_by"]
    assert inhibited["HAProxyHighConnectionCount@lb1:9101"] == [fingerprint], inhibited
    assert inhibited["HAProxyBackendDown@lb1:9101"] == [fingerprint], inhibited
    assert inhibited["HAProxyHighConnectionCount@lb-e2e-control:9101"] == [], \
        "another load balancer's alert was inhibited: %s" % inhibited
    assert result["probe_notifications"] == [], "inhibited alerts reached the sink: %s" % result["probe_notifications"]
    assert all(a["inhibitedBy"] for a in result["real_lb1_alerts"]), result["real_lb1_alerts"]
    # The rest of the load balancer kept serving.
    traffic = result["traffic_during_outage"]
    assert traffic["requests"] > 0 and traffic["failures"] == 0, traffic


@pytest.mark.parametrize("drill", ["killed_process", "health_5xx"])
def test_drill_server_fault_alerts_and_is_routed_around(campaign, drill):
    ok(campaign, {"killed_process": "drill_killed", "health_5xx": "drill_unhealthy"}[drill])
    result = campaign["drills"][drill]
    assert result.get("state") in ("pending", "firing"), "no %s for %s/%s: %s" % (
        SERVER_ALERT, result["backend"], result["server"], result)
    assert (result["labels"]["proxy"], result["labels"]["server"]) == (result["backend"], result["server"])
    assert result["haproxy_state"].startswith("DOWN"), result
    assert result["detection_s"] <= result["bound_s"], result
    traffic = result["traffic"]
    assert traffic["requests"] >= 50 and traffic["failures"] == 0, traffic
    assert result["state_after_repair"].startswith("UP"), result


def test_drill_latency_makes_the_response_time_alert_true(campaign):
    ok(campaign, "drill_latency")
    result = campaign["drills"]["latency"]
    assert "expression_true_s" in result, "HAProxyHighResponseTime's expression never became true: %s" % result
    assert result["value_s"] > 0.5 and result["state"] in ("pending", "firing"), result
    traffic = result["traffic"]
    # Slow is not down: HAProxy keeps the server (its /health answers at once) and every request succeeds.
    assert traffic["slow_over_1s"] > 0 and traffic["failures"] == 0, traffic
    assert result["response_time_after_repair_s"] < 0.5 and result["cleared"], result


def test_detection_times_within_their_bounds(campaign, capsys):
    rows = []
    for part, what in (("server_down", "HAProxyBackendServerDown firing at the sink"),
                       ("server_back", "its resolved notification at the sink"),
                       ("exporter_down", "HAProxyDown firing at the sink")):
        result = campaign.get(part, {})
        rows.append((what, result.get("detection_s"), result.get("bound_s")))
    for name, result in campaign.get("drills", {}).items():
        rows.append(("drill %s: %s %s" % (name, result.get("alert"), result.get("state")),
                     result.get("detection_s", result.get("expression_true_s")),
                     # The latency drill's time depends on how fast its traffic fills HAProxy's average.
                     result.get("bound_s", "n/a (traffic-bound)")))
    with capsys.disabled():
        print("\nalert detection (s), lab %s; written to %s" % (campaign["lab"], OUTPUT))
        for what, measured, bound in rows:
            print("  %-58s %8s  bound %s" % (what, measured, bound))
        for name, result in campaign.get("drills", {}).items():
            print("  drill %-16s traffic %s" % (name, result.get("traffic")))
        print("  campaign runtime %s s" % campaign.get("runtime_s"))
    ok(campaign, "server_down", "server_back", "resolved_notification", "exporter_down")
    for what, measured, bound in rows[:3]:
        assert measured is not None and measured <= bound, "%s took %s s, bound %s s" % (what, measured, bound)
