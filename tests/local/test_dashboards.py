"""The Grafana role's HAProxy dashboards: structure, and every panel query against live metrics.

The dashboards are rendered by the role itself (grafana_install: false, to a temporary
directory), once per exporter mode. The live test starts, on 127.0.0.1 in a temporary
directory: two tiny HTTP servers, /usr/sbin/haproxy with the native Prometheus exporter
(and a stats page for the standalone exporter), prometheus-haproxy-exporter when it is
installed, and /usr/bin/prometheus scraping them every second. It sends traffic through
HAProxy, waits for a few scrapes, then evaluates every template variable query and every
panel expression through Prometheus' HTTP API, failing on an error or an empty result.
The live stack runs once per Debian release's HAProxy and exporter (tests/release_binaries.py:
bookworm's 2.6 and 0.14 are this machine's, trixie's 3.0 and 0.15 come from
tools/release_tools.sh); Prometheus is this machine's.
"""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

# tests/ for release_binaries: tests/local/conftest.py puts it on sys.path, but
# tests/integration/test_grafana.py loads this file without it.
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import release_binaries  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODES = ["native", "standalone"]
REQUIRED_PANELS = {
    "Servers UP / not UP",
    "Backend server health",
    "Request distribution per backend",
    "Request distribution per server",
    "HTTP 4xx / 5xx rate",
    "Sessions",
    "Sessions per server",
}
HAPROXY = "/usr/sbin/haproxy"
PROMETHEUS = "/usr/bin/prometheus"
STANDALONE_EXPORTER = os.environ.get("HAPROXY_EXPORTER_BIN") or shutil.which("prometheus-haproxy-exporter") \
    or "/usr/bin/prometheus-haproxy-exporter"
# What Grafana substitutes for its built-in interval variables; 1 s scrapes make 15 s plenty.
BUILTINS = {"$__rate_interval": "15s", "$__interval": "15s", "$__range": "5m"}


# ---------------------------------------------------------------------------- rendering
@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Render the role's files for both modes with the role itself; return {mode: dir}."""
    out = tmp_path_factory.mktemp("grafana")
    playbook = out / "render.yml"
    playbook.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: Render the Grafana role's files without installing Grafana
              ansible.builtin.include_role:
                name: acgs.haproxy_stack.grafana
              vars:
                grafana_install: false
                # The one stack-wide setting: grafana_haproxy_exporter_mode follows it.
                acgs_haproxy_exporter_mode: "{{ mode }}"
                grafana_admin_password: "render-only-Pass;#1"
                grafana_prometheus_urls: ["http://127.0.0.1:9090", "http://127.0.0.2:9090"]
                grafana_prometheus_username: prom
                grafana_prometheus_password: prom-secret
                grafana_config_dir: "%(out)s/{{ mode }}/etc"
                grafana_dashboards_dir: "%(out)s/{{ mode }}/dashboards"
              loop: %(modes)s
              loop_control:
                loop_var: mode
        """ % {"out": out, "modes": json.dumps(MODES)}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                             str(playbook)], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return {mode: out / mode for mode in MODES}


def dashboard(rendered, mode):
    return json.loads((rendered[mode] / "dashboards" / "haproxy.json").read_text())


def expressions(board):
    """(panel title, expr) for every target of every panel."""
    return [(p["title"], t["expr"]) for p in board["panels"] for t in p.get("targets", [])]


@pytest.mark.parametrize("mode", MODES)
def test_dashboard_structure(rendered, mode):
    board = dashboard(rendered, mode)
    assert board["refresh"] == "30s"
    assert board["uid"] == "acgs-haproxy"
    titles = {p["title"] for p in board["panels"]}
    assert REQUIRED_PANELS <= titles, REQUIRED_PANELS - titles
    assert any("status" in t.lower() for t in titles)
    assert any("p50" in t and "p95" in t for t in titles)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert {"datasource", "instance", "backend", "server"} <= set(variables)
    label = "proxy" if mode == "native" else "backend"
    assert variables["backend"]["query"]["query"].endswith(", %s)" % label)
    assert variables["server"]["multi"] and variables["server"]["includeAll"]
    for panel in board["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            if "server" in panel["title"].lower():
                assert "$server" in target["expr"], (panel["title"], target["expr"])
    # Which exporter's metrics and labels the queries use.
    text = json.dumps(board)
    if mode == "native":
        assert "haproxy_server_status" in text and "backend=~" not in text
    else:
        assert "haproxy_server_up" in text and "proxy=~" not in text
    # The percentile panel says where its numbers come from.
    percentile = next(p for p in board["panels"] if "p95" in p["title"])
    assert "quantile_over_time" in percentile["description"]
    assert "histogram" in percentile["description"]


def test_provisioning_rendered(rendered):
    import yaml
    etc = rendered["native"] / "etc"
    sources = yaml.safe_load((etc / "provisioning" / "datasources" / "acgs-prometheus.yml").read_text())["datasources"]
    assert [s["url"] for s in sources] == ["http://127.0.0.1:9090", "http://127.0.0.2:9090"]
    assert sources[0]["isDefault"] and sources[0]["uid"] == "prometheus"
    assert all(s["basicAuth"] and s["basicAuthUser"] == "prom"
               and s["secureJsonData"]["basicAuthPassword"] == "prom-secret" for s in sources)
    providers = yaml.safe_load((etc / "provisioning" / "dashboards" / "acgs-haproxy.yml").read_text())["providers"]
    assert providers[0]["options"]["path"] == str(rendered["native"] / "dashboards")
    ini = (etc / "grafana.ini").read_text()
    assert "[security]" in ini and 'admin_password = """render-only-Pass;#1"""' in ini
    assert "reporting_enabled = false" in ini and "http_port = 3000" in ini
    assert oct((etc / "grafana.ini").stat().st_mode & 0o777) == "0o640"


# ---------------------------------------------------------------------------- live stack
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, data=None, timeout=5, auth=None):
    request = urllib.request.Request(url, data=data)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read()


def wait_for(url, deadline, what):
    while time.monotonic() < deadline:
        try:
            http(url, timeout=1)
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    pytest.fail("%s did not come up at %s" % (what, url))


@pytest.fixture(scope="module", params=release_binaries.release_params("haproxy"))
def live_prometheus(tmp_path_factory, request):
    """Start the local stack with a release's HAProxy and exporter; yield (prometheus URL, {mode: instance or None},
    the exporter that was not found or None)."""
    release = request.param
    for binary in (HAPROXY, PROMETHEUS):
        if not os.access(binary, os.X_OK):
            pytest.fail("%s is missing: `make deps` installs it (haproxy, prometheus)" % binary)
    if release == release_binaries.HOST_RELEASE:
        haproxy, exporter, missing_exporter = HAPROXY, STANDALONE_EXPORTER, None
        if not os.access(STANDALONE_EXPORTER, os.X_OK):
            missing_exporter = ("%s is not installed (apt-get install prometheus-haproxy-exporter, or set "
                                "HAPROXY_EXPORTER_BIN)" % STANDALONE_EXPORTER)
    else:
        haproxy = release_binaries.require(release, "haproxy")
        exporter = release_binaries.binary(release, "prometheus-haproxy-exporter")
        missing_exporter = None if exporter else release_binaries.missing_reason(release, "prometheus-haproxy-exporter")
    work = tmp_path_factory.mktemp("live")
    deadline = time.monotonic() + 45
    processes = []

    def start(args, name):
        log = open(work / ("%s.log" % name), "w")
        processes.append(subprocess.Popen(args, cwd=work, stdout=log, stderr=subprocess.STDOUT))

    try:
        apps = [free_port(), free_port()]
        dead = free_port()  # nothing listens: a DOWN server
        fe, native, stats, prom = free_port(), free_port(), free_port(), free_port()
        for i, port in enumerate(apps):
            (work / ("www%d" % i)).mkdir()
            (work / ("www%d" % i) / "health").write_text("ok\n")
            start([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                   "--directory", str(work / ("www%d" % i))], "app%d" % i)
        (work / "haproxy.cfg").write_text(textwrap.dedent("""\
            global
              maxconn 200
            defaults
              mode http
              retries 1
              timeout connect 200ms
              timeout client 5s
              timeout server 5s
            frontend metrics
              bind 127.0.0.1:%(native)d
              http-request use-service prometheus-exporter if { path /metrics }
            frontend stats
              bind 127.0.0.1:%(stats)d
              stats enable
              stats uri /stats
            frontend main
              bind 127.0.0.1:%(fe)d
              use_backend ac_backend if { path_beg /api/v1/ac/ }
              default_backend auth_backend
            backend auth_backend
              option httpchk GET /health
              server app1 127.0.0.1:%(a1)d check inter 500ms
              server app2 127.0.0.1:%(a2)d check inter 500ms
            backend ac_backend
              option httpchk GET /health
              server app1 127.0.0.1:%(a1)d check inter 500ms
              server app3 127.0.0.1:%(dead)d check inter 500ms
            """ % dict(native=native, stats=stats, fe=fe, a1=apps[0], a2=apps[1], dead=dead)))
        start([haproxy, "-db", "-f", str(work / "haproxy.cfg")], "haproxy")
        instances = {"native": "127.0.0.1:%d" % native, "standalone": None}
        targets = {"haproxy": [instances["native"]]}
        if missing_exporter is None:
            exporter_port = free_port()
            start([exporter, "--haproxy.scrape-uri=http://127.0.0.1:%d/stats;csv" % stats,
                   "--web.listen-address=127.0.0.1:%d" % exporter_port], "exporter")
            instances["standalone"] = "127.0.0.1:%d" % exporter_port
            targets["haproxy_standalone"] = [instances["standalone"]]
        (work / "prometheus.yml").write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": t}]} for job, t in targets.items()],
        }))
        start([PROMETHEUS, "--config.file=%s" % (work / "prometheus.yml"), "--storage.tsdb.path=%s" % (work / "data"),
               "--web.listen-address=127.0.0.1:%d" % prom], "prometheus")
        url = "http://127.0.0.1:%d" % prom
        wait_for("http://127.0.0.1:%d/health" % apps[0], deadline, "app1")
        wait_for("http://127.0.0.1:%d/metrics" % native, deadline, "haproxy's exporter")
        wait_for(url + "/-/ready", deadline, "prometheus")
        # Let the health checks settle (app3 DOWN), so traffic never waits on connect retries.
        while b'server="app3",state="DOWN"} 1' not in http("http://127.0.0.1:%d/metrics" % native)[1]:
            assert time.monotonic() < deadline, "haproxy did not mark app3 DOWN"
            time.sleep(0.2)
        # Traffic: successes on both backends, 404s (4xx), and 503s once only app3 is left.
        for i in range(60):
            for path in ("/health", "/api/v1/ac/health", "/missing"):
                try:
                    http("http://127.0.0.1:%d%s" % (fe, path), timeout=5)
                except urllib.error.HTTPError:
                    pass
        # Rates need at least two samples per series after the traffic: wait for 4 scrapes.
        while time.monotonic() < deadline:
            samples = query(url, 'min(count_over_time(up[10s]))')
            if samples and float(samples[0]["value"][1]) >= 4:
                break
            time.sleep(0.5)
        else:
            pytest.fail("prometheus did not scrape enough samples in time")
        yield url, instances, missing_exporter
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()


def query(url, expr, auth=None):
    status, body = http(url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}), auth=auth)
    answer = json.loads(body)
    assert answer["status"] == "success", (expr, answer)
    return answer["data"]["result"]


def label_values(url, definition, auth=None):
    """Evaluate Grafana's label_values(selector, label) through /api/v1/series."""
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", definition)
    assert match, definition
    selector, label = match.groups()
    params = urllib.parse.urlencode({"match[]": selector, "start": time.time() - 300})
    answer = json.loads(http(url + "/api/v1/series?" + params, auth=auth)[1])
    assert answer["status"] == "success", (definition, answer)
    return sorted({s[label] for s in answer["data"] if label in s})


def substitute(text, values):
    for name in sorted(values, key=len, reverse=True):
        text = text.replace(name, values[name])
    return text


def evaluate_dashboard(url, board, instance, builtins=None, auth=None):
    """Evaluate every template variable and panel query of `board` against the Prometheus at `url`.

    Variables get every value they have (as Grafana's "All"), but `instance` is pinned to the
    given exporter instance, which must be among the values. Returns the failures (query
    errors and empty results), one line each; also used by tests/integration/test_grafana.py
    against the lab's Prometheus.
    """
    values = dict(BUILTINS if builtins is None else builtins)
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        definition = substitute(variable["query"]["query"], values)
        found = label_values(url, definition, auth=auth)
        assert found, "template variable %s (%s) has no values" % (variable["name"], definition)
        if variable["name"] == "instance":
            assert instance in found, (found, instance)
            found = [instance]  # another exporter's instance is not this dashboard's
        # As Grafana formats a multi-value variable for Prometheus: regex-escaped, and the
        # backslashes doubled for PromQL's double-quoted strings.
        values["$" + variable["name"]] = "(%s)" % "|".join(re.escape(v).replace("\\", "\\\\") for v in found)
    failures = []
    for title, expr in expressions(board):
        concrete = substitute(expr, values)
        assert "$" not in concrete, "unsubstituted variable in %r" % concrete
        try:
            result = query(url, concrete, auth=auth)
        except (AssertionError, urllib.error.HTTPError) as error:
            failures.append("%s: %s: error %s" % (title, concrete, getattr(error, "read", lambda: error)()))
            continue
        if not result:
            failures.append("%s: %s: empty result" % (title, concrete))
    return failures


@pytest.mark.parametrize("mode", MODES)
def test_every_panel_query_returns_data(rendered, live_prometheus, mode):
    url, instances, missing_exporter = live_prometheus
    if instances[mode] is None:
        pytest.skip("NOT RUN: %s: the standalone dashboard's queries were not evaluated" % missing_exporter)
    failures = evaluate_dashboard(url, dashboard(rendered, mode), instances[mode])
    assert not failures, "\n".join(failures)
