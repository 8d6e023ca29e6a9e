"""Bad input refused cleanly, for every role and runtime module (tables: tests/bad_input/*.yml).

Each case is one ansible-playbook run against the lab that must fail before it changes
anything: non-zero exit, `changed=0` for the host in PLAY RECAP and no `changed:` line, a
failure naming the variable (the failing task's name or its message) and containing the
expected text, and the host's configuration files, service PIDs (and, on lb1, HAProxy's
worker PIDs and every server's admin state and weight) identical before and after.

    ACGS_LAB=<lab> .venv/bin/pytest -q tests/integration/test_bad_input_matrix.py
    ACGS_LAB=<lab> .venv/bin/pytest -q tests/integration/test_bad_input_matrix.py -k prometheus

Speed: facts are gathered once into a JSON fact cache (the generated plays do not gather),
each case runs a two-line generated play limited to its host, and the cases of different
hosts run side by side (one stream per host group, ACGS_MATRIX_WORKERS, default 3); the cases
of one host run one after the other, so a change is pinned on the case that made it.
Needs the lab converged with site.yml. The cases decided on the control node (no `lab_only`) also
run without a lab in tests/local/test_bad_input_local.py; tests/bad_input/README.md describes both.
"""
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from lab_hosts import SEED_SERVICES, play_recap

if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))
import bad_input  # noqa: E402  (tests/bad_input: the tables and the check both runners make)

CASES = bad_input.load_cases()  # unique ids over all tables (load_cases refuses duplicates)

# What is fingerprinted on each host: sha256 of every file under `files` (files or
# directories), the MainPID of each of `services` (instances of templates included), the PIDs
# of `processes` (a reload replaces HAProxy's workers) and, with `runtime: true`, the admin
# state and weight of every HAProxy server (show servers state).
_APP_HOST = {
    "files": ["/etc/acgs-demo", "/opt/acgs-demo", "/etc/systemd/system/acgs-demo@.service",
              "/etc/systemd/system/acgs-demo.target", "/etc/default/prometheus-node-exporter"],
    "services": ["prometheus-node-exporter"] + ["acgs-demo@%s" % name for name in SEED_SERVICES],
}
WATCH = {
    "lb1": {
        "files": ["/etc/haproxy", "/etc/systemd/system/haproxy.service.d", "/etc/default/prometheus-node-exporter"],
        "services": ["haproxy", "prometheus-node-exporter"],
        "processes": ["haproxy"],
        "runtime": True,
    },
    "mon1": {
        "files": ["/etc/prometheus", "/etc/default/prometheus", "/etc/default/prometheus-alertmanager",
                  "/etc/default/prometheus-node-exporter", "/etc/grafana", "/var/lib/grafana/dashboards",
                  "/etc/acgs-demo", "/etc/systemd/system/acgs-demo@.service"],
        "services": ["prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "acgs-demo@sink"],
    },
    "app1": _APP_HOST,
    "app2": _APP_HOST,
}
ANSIBLE_PLAYBOOK = str(ROOT / ".venv" / "bin" / "ansible-playbook")
# Host streams that may run side by side: the app hosts share one stream.
STREAMS = {"lb1": "lb1", "mon1": "mon1", "app1": "apps", "app2": "apps"}
WORKERS = int(os.environ.get("ACGS_MATRIX_WORKERS", "3"))
# Roles that share a play with the case's role in the component playbooks.
COMPANIONS = {"haproxy_exporter": ["haproxy"]}
RESULTS = {}  # case id -> "passed" | "failed", for the summary line


def fingerprint_command(spec):
    parts = ["find %s -type f 2>/dev/null | LC_ALL=C sort | xargs -r sha256sum" % " ".join(spec["files"])]
    for service in spec.get("services", []):
        parts.append("echo \"pid %s $(systemctl show -p MainPID --value %s)\"" % (service, service))
    for process in spec.get("processes", []):
        parts.append("echo \"pids %s $(pgrep -x %s | sort -n | tr '\\n' ' ')\"" % (process, process))
    if spec.get("runtime"):
        # be_name srv_name srv_admin_state srv_uweight of every server
        parts.append("echo 'show servers state' | socat -t 5 stdio unix-connect:/run/haproxy/admin.sock"
                     " | awk 'NF > 8 && $1 !~ /^#/ {print \"server\", $2, $4, $7, $8}'")
    return "; ".join(parts)


def fingerprint(lab, host):
    return lab.run(host, fingerprint_command(WATCH[host])).stdout


def play(case):
    """The generated playbook of a case (one play, one host, no fact gathering)."""
    if "role" in case:
        # As in the component playbooks: the exporter's play also holds the haproxy role (run with
        # --tags haproxy_exporter, only its defaults count), whose defaults its preflight reads.
        roles = COMPANIONS.get(case["role"], []) + [case["role"]]
        body = {"roles": [{"role": "acgs.haproxy_stack.%s" % r, "tags": [r]} for r in roles]}
    else:
        body = {"tasks": [{"name": "Bad input for %s" % case["module"],
                           "acgs.haproxy_stack.%s" % case["module"]: case["args"]}]}
    return [dict({"name": "Bad input case %s" % case["id"], "hosts": case["host"], "gather_facts": False}, **body)]


def failures(output):
    """(task name, result) of every failed task in the default callback's output."""
    found = []
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^(?:fatal|failed): \[[^\]]+\].*? => ", output, re.M):
        tasks = re.findall(r"^TASK \[(.*?)\]", output[:match.start()], re.M)
        try:
            result, _ = decoder.raw_decode(output, match.end())
        except ValueError:
            result = {"msg": output[match.end():match.end() + 2000]}
        found.append((tasks[-1] if tasks else "", result))
    return found


def recap(output, host):
    return play_recap(output).get(host)


class Matrix:
    """Runs the cases (once, in host streams) and keeps what each test asserts on."""

    def __init__(self, lab, workdir):
        self.lab = lab
        self.workdir = Path(workdir)
        self.env = dict(lab.env, ANSIBLE_CACHE_PLUGIN="jsonfile",
                        ANSIBLE_CACHE_PLUGIN_CONNECTION=str(self.workdir / "facts"),
                        ANSIBLE_CACHE_PLUGIN_TIMEOUT="7200", ANSIBLE_GATHERING="explicit",
                        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.timer", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                        ANSIBLE_DISPLAY_SKIPPED_HOSTS="false", ANSIBLE_RETRY_FILES_ENABLED="false")
        self.results = {}
        self.lock = threading.Lock()

    def ansible_playbook(self, *args, timeout=300):
        return subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(ROOT / "inventories" / "lab")] + [str(a) for a in args],
                              cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)

    def gather_facts(self):
        path = self.workdir / "facts.yml"
        path.write_text(yaml.safe_dump([{"name": "Fill the fact cache", "hosts": "all", "gather_facts": True,
                                         "gather_subset": ["!all", "!min", "network"], "tasks": []}]))
        result = self.ansible_playbook(path)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]

    def run_case(self, case):
        directory = self.workdir / case["id"]
        directory.mkdir()
        (directory / "play.yml").write_text(yaml.safe_dump(play(case), sort_keys=False))
        (directory / "vars.json").write_text(json.dumps(case.get("vars", {})))
        started = time.monotonic()
        tags = ["--tags", case["role"]] if "role" in case else []
        # Defects whose input would get through and change the host are only shown in check mode.
        tags += ["--check", "--diff"] if case.get("check_mode") else []
        result = self.ansible_playbook(directory / "play.yml", "--limit", case["host"], *tags,
                                       "-e", "@%s" % (directory / "vars.json"))
        elapsed = time.monotonic() - started
        return {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr,
                "elapsed": elapsed}

    def run_stream(self, ids):
        hosts = sorted({CASES[i]["host"] for i in ids})
        current = {host: fingerprint(self.lab, host) for host in hosts}
        for case_id in ids:
            case = CASES[case_id]
            outcome = self.run_case(case)
            after = fingerprint(self.lab, case["host"])
            outcome["before"], outcome["after"] = current[case["host"]], after
            # A case that changed the host does not make the next ones fail too.
            current[case["host"]] = after
            with self.lock:
                self.results[case_id] = outcome

    def run(self, ids):
        streams = {}
        for case_id in ids:
            streams.setdefault(STREAMS[CASES[case_id]["host"]], []).append(case_id)
        self.gather_facts()
        with ThreadPoolExecutor(max_workers=max(1, WORKERS)) as pool:
            for future in [pool.submit(self.run_stream, s) for s in streams.values()]:
                future.result()


@pytest.fixture(scope="module")
def matrix(lab, request):
    selected = [item.callspec.params["case"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec") and "case" in item.callspec.params]
    selected = [c for c in CASES if c in set(selected)] or list(CASES)
    with tempfile.TemporaryDirectory(prefix="bad-input-") as workdir:
        runner = Matrix(lab, workdir)
        started = time.monotonic()
        runner.run(selected)
        runner.elapsed = time.monotonic() - started
        yield runner
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    passed = sum(1 for v in RESULTS.values() if v == "passed")
    failed = sum(1 for v in RESULTS.values() if v == "failed")
    known = sum(1 for v in RESULTS.values() if v == "xfailed")
    line = "bad-input matrix: %d passed, %d failed, %d known role defects (xfail) (%d cases run in %.0fs)" % (
        passed, failed, known, len(runner.results), runner.elapsed)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter and capture:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(line)
    else:
        print(line)


def changed_tasks(output):
    """Tasks and handlers that reported changed, as "task (host)"."""
    names, current = [], None
    for line in output.splitlines():
        match = re.match(r"^(?:TASK|RUNNING HANDLER) \[(.*?)\]", line)
        if match:
            current = match.group(1)
        elif line.startswith("changed: ["):
            names.append("%s: %s" % (current, line[:200]))
    return names


def problems(case, outcome):
    """Everything wrong with one case's run (empty: the bad input was refused cleanly)."""
    found = []
    output = outcome["stdout"] + outcome["stderr"]
    if outcome["returncode"] == 0:
        found.append("the run accepted the bad input (exit 0)")
    counts = recap(outcome["stdout"], case["host"])
    if not counts:
        found.append("no PLAY RECAP line for %s" % case["host"])
    elif counts["changed"] != 0 or counts["unreachable"] != 0 or counts["failed"] < 1:
        found.append("recap %s" % counts)
    changed = changed_tasks(outcome["stdout"])
    if changed:
        found.append("changed: %s" % changed)
    failed = failures(outcome["stdout"])
    if not failed:
        found.append("no failed task in the output")
    else:
        task, result = failed[0]
        found.extend(bad_input.failure_problems(case, task, result))
    if outcome["before"] != outcome["after"]:
        diff = difflib.unified_diff(outcome["before"].splitlines(), outcome["after"].splitlines(),
                                    "before", "after", lineterm="")
        found.append("%s changed on a failed run:\n%s" % (case["host"], "\n".join(diff)))
    if found and not failed:
        found.append("output:\n" + output[-4000:])
    return found


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_before_any_change(matrix, case):
    spec = CASES[case]
    outcome = matrix.results[case]
    found = problems(spec, outcome)
    if spec.get("defect"):
        # A known role defect: the host must still be untouched; the rest is expected to fail
        # until the role is fixed (then drop `defect` from the case).
        touched = [p for p in found if " changed on a failed run:" in p]
        if touched:
            RESULTS[case] = "failed"
            pytest.fail("%s:\n%s" % (case, "\n".join(touched)))
        if not found:
            RESULTS[case] = "failed"
            pytest.fail("%s is refused cleanly now: remove its `defect` entry from tests/bad_input/%s"
                        % (case, spec["table"]))
        RESULTS[case] = "xfailed"
        pytest.xfail("role defect: %s (%s)" % (" ".join(spec["defect"].split()), found[0].splitlines()[0]))
    RESULTS[case] = "failed" if found else "passed"
    assert not found, "%s (%.0fs):\n%s" % (case, outcome["elapsed"], "\n".join(found))


def test_table_covers_every_role_and_module():
    roles = {"demo_app", "haproxy", "haproxy_exporter", "node_exporter", "prometheus", "alertmanager", "grafana"}
    covered = {c["role"] for c in CASES.values() if "role" in c}
    assert roles <= covered, "roles without a bad-input case: %s" % sorted(roles - covered)
    assert {"haproxy_info", "haproxy_server"} <= {c["module"] for c in CASES.values() if "module" in c}
    assert len(CASES) >= 40
    for case in CASES.values():
        assert {"id", "host", "var", "expect"} <= set(case) and (("role" in case) != ("module" in case)), case
        assert case["host"] in WATCH, case
