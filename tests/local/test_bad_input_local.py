# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bad-input tables (tests/bad_input/*.yml) on this machine: every role case without lab_only.

The lab runner (tests/integration/test_bad_input_matrix.py) applies the whole role to a lab host and
checks that nothing changed. Most cases are refused before the role touches the host: by the role's
argument specs or by its preflight (tasks/preflight.yml, which evaluates variables, mostly through
plugins/filter/*_preflight.py). Those are run here, without a lab, in ONE ansible-playbook run
(connection local): one inventory host per case, and for each role a play that does what the role
does first (the argument-spec check of its `main` entry point, then tasks/preflight.yml). Each case
must fail there, naming its variable and holding every `expect` fragment, exactly as in the lab.

The case hosts get what the lab host of the case (`host`) gets: the lab inventory's group_vars of
that host's groups (through groups named lab_as_<group>, so the stack's own groups keep the lab's
hosts only), the facts preflight reads (ansible_default_ipv4) and the case's variables on top.
Secrets the lab generates into lab/.state/<lab> are generated into a temporary directory instead.
A baseline host per role, with no bad variable, must pass: a case's failure is its variable's doing.

Cases marked `lab_only` (a stat on the managed host, a module run against the lab's HAProxy, a
product checker run on the host) are skipped with their reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

import bad_input  # noqa: E402  (tests/bad_input: the tables and the check both runners make)

CASES = bad_input.load_cases()
LAB_INVENTORY = REPO / "inventories" / "lab"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
# The lab's facts that preflight reads, one address per lab host (documentation range: never reached).
LAB_FACTS = {
    "lb1": {"address": "192.0.2.10", "gateway": "192.0.2.1", "interface": "eth0"},
    "mon1": {"address": "192.0.2.20", "gateway": "192.0.2.1", "interface": "eth0"},
    "app1": {"address": "192.0.2.31", "gateway": "192.0.2.1", "interface": "eth0"},
    "app2": {"address": "192.0.2.32", "gateway": "192.0.2.1", "interface": "eth0"},
}
# Roles that share a play with the case's role in the component playbooks (as in the lab runner):
# their defaults are what the case's role reads, so their argument specs and preflight run first.
COMPANIONS = {"haproxy_exporter": ["haproxy"]}
RESULTS = {}  # case id -> "passed" | "failed" | "skipped", for the summary line


def local_cases():
    return {i: c for i, c in CASES.items() if "lab_only" not in c}


def lab_groups():
    """Each lab host's groups (children resolved), from inventories/lab/hosts.yml."""
    direct, children = {}, {}

    def walk(name, node):
        node = node or {}
        direct.setdefault(name, set()).update(node.get("hosts") or {})
        children.setdefault(name, set()).update(node.get("children") or {})
        for child, child_node in (node.get("children") or {}).items():
            walk(child, child_node)

    walk("all", yaml.safe_load((LAB_INVENTORY / "hosts.yml").read_text())["all"])

    def members(group):
        return direct.get(group, set()).union(*[members(c) for c in children.get(group, ())])

    return {host: sorted(g for g in direct if g != "all" and host in members(g)) for host in LAB_FACTS}


def without_defaults(options):
    """An argument spec's options without their defaults.

    The role's own check sees every default as a variable (already templated); outside the role a
    spec default would be checked as written, "{{ ... }}" included. Without them only the variables
    that are set (the lab's and the case's) are checked, as the role checks them.
    """
    out = {}
    for name, option in options.items():
        option = {k: v for k, v in option.items() if k not in ("default", "description")}
        if "options" in option:
            option["options"] = without_defaults(option["options"])
        out[name] = option
    return out


def role_play(role, specs):
    tasks = []
    for name in COMPANIONS.get(role, []) + [role]:
        spec = yaml.safe_load((REPO / "roles" / name / "meta" / "argument_specs.yml").read_text())
        path = specs / ("%s.json" % name)
        path.write_text(json.dumps(without_defaults(spec["argument_specs"]["main"]["options"])))
        tasks += [
            # As the role's implicit first task does (a lookup's content is data: never templated).
            {"name": "Validating arguments against arg spec 'main' of %s" % name,
             "ansible.builtin.validate_argument_spec": {
                 "argument_spec": "{{ lookup('ansible.builtin.file', '%s') | from_json }}" % path}},
            {"name": "Preflight of %s" % name,
             "ansible.builtin.include_role": {"name": "acgs.haproxy_stack.%s" % name, "tasks_from": "preflight.yml",
                                              "public": name != role}},
        ]
    return {"name": "Bad input for the %s role" % role, "hosts": "bad_input_%s" % role, "gather_facts": False,
            "tasks": tasks}


class LocalRun:
    """One ansible-playbook run for the selected cases; ``failures[host]`` is (task, result) of its first failure."""

    def __init__(self, workdir, ids):
        self.workdir = Path(workdir)
        self.cases = {i: CASES[i] for i in ids}
        self.roles = sorted({c["role"] for c in self.cases.values()})
        # One host per role with the lab's variables only. It must pass (a case's failure is then its own
        # variables' doing), and it keeps each play going: a play whose hosts all fail ends the playbook.
        self.baselines = {"baseline-%s" % r: {"role": r, "host": next(c["host"] for c in CASES.values()
                                                                         if c.get("role") == r)}
                          for r in self.roles}
        self.failures = {}
        self.output = ""

    def inventory(self):
        groups = lab_groups()
        hosts = {h: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                     "_bad_input_default_ipv4": facts} for h, facts in LAB_FACTS.items()}
        children = {}
        pki = self.workdir / "state" / "pki"
        pki.mkdir(parents=True)
        for host_id, case in list(self.cases.items()) + list(self.baselines.items()):
            host = dict(case.get("vars", {}), ansible_connection="local", ansible_python_interpreter=sys.executable,
                        _bad_input_default_ipv4=LAB_FACTS[case["host"]])
            children.setdefault("bad_input_%s" % case["role"], {"hosts": {}})["hosts"][host_id] = host
            for group in groups[case["host"]]:
                children.setdefault("lab_as_%s" % group, {"hosts": {}})["hosts"][host_id] = None
            # The lab's certificates for this host (inventories/lab/group_vars/haproxy.yml and all/tls.yml;
            # playbooks/lab_pki.yml makes them in the lab): preflight only needs readable files.
            for suffix in ("pem", "crt", "key"):
                (pki / ("%s.%s" % (host_id, suffix))).write_text("not a certificate: preflight stats it only\n")
        (pki / "ca.crt").write_text("not a certificate: preflight stats it, Grafana's data source carries it\n")
        directory = self.workdir / "inventory"
        (directory / "group_vars").mkdir(parents=True)
        for path in (LAB_INVENTORY / "group_vars").iterdir():
            if path.name != "all" and path.suffix == ".yml":
                (directory / "group_vars" / ("lab_as_" + path.name)).symlink_to(path)
        (directory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts, "children": children}}))
        return directory / "hosts.yml"

    def playbook(self):
        facts = {"name": "The facts the lab gathers and preflight reads", "hosts": "all", "gather_facts": False,
                 "tasks": [{"name": "Set ansible_default_ipv4",
                            "ansible.builtin.set_fact": {"ansible_default_ipv4": "{{ _bad_input_default_ipv4 }}",
                                                         "cacheable": True}}]}
        specs = self.workdir / "specs"
        specs.mkdir()
        path = self.workdir / "play.yml"
        path.write_text(yaml.safe_dump([facts] + [role_play(r, specs) for r in self.roles], sort_keys=False))
        return path

    def run(self):
        inventory, playbook = self.inventory(), self.playbook()
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_LOCALHOST_WARNING="false",
                   ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json",
                   ANSIBLE_GATHERING="explicit", ANSIBLE_RETRY_FILES_ENABLED="false",
                   ANSIBLE_LOCAL_TEMP=str(self.workdir / "ansible-local"))
        env.pop("ACGS_GRAFANA_INSTALL", None)
        # The lab inventory is the first source: its group_vars/all apply to every host. lab_state_dir is
        # overridden so that its password lookups write into the temporary directory, never into lab/.state.
        # --check: nothing may change on this machine, and a preflight task that looks at the host (the
        # exporter's "is HAProxy installed") passes in check mode as it does in the role.
        command = [str(ANSIBLE_PLAYBOOK), "-i", str(LAB_INVENTORY), "-i", str(inventory), str(playbook), "--check",
                   "-e", json.dumps({"lab_state_dir": str(self.workdir / "state")}), "--forks", "10"]
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        self.output = result.stdout + result.stderr
        try:
            report = json.loads(result.stdout)
        except ValueError:
            raise AssertionError("ansible-playbook printed no JSON report (rc %s):\n%s"
                                 % (result.returncode, self.output[-6000:]))
        for play in report["plays"]:
            for task in play["tasks"]:
                for host, outcome in task["hosts"].items():
                    if outcome.get("failed") and host not in self.failures:
                        self.failures[host] = (task["task"]["name"], outcome)
        unknown = [h for h in self.failures if h not in self.cases and h not in self.baselines]
        assert not unknown, "hosts that are no case failed (a broken harness): %s" % {
            h: self.failures[h] for h in unknown}
        return self


@pytest.fixture(scope="module")
def local_preflight_run(request):
    selected = {item.callspec.params["case"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec") and "case" in item.callspec.params}
    ids = [i for i in local_cases() if i in selected] or list(local_cases())
    with tempfile.TemporaryDirectory(prefix="bad-input-local-") as workdir:
        started = time.monotonic()
        run = LocalRun(workdir, ids).run()
        run.elapsed = time.monotonic() - started
        yield run
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    counts = {k: sum(1 for v in RESULTS.values() if v == k) for k in ("passed", "failed", "skipped")}
    line = ("bad-input tables on this machine: %(passed)d passed, %(failed)d failed, %(skipped)d lab-only "
            "(skipped)" % counts + " (%d cases in one ansible-playbook run, %.0fs)" % (len(run.cases), run.elapsed))
    if reporter and capture:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(line)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_on_the_control_node(request, case):
    spec = CASES[case]
    if "lab_only" in spec:
        RESULTS[case] = "skipped"
        pytest.skip("lab only: %s" % " ".join(spec["lab_only"].split()))
    run = request.getfixturevalue("local_preflight_run")
    if case not in run.failures:
        RESULTS[case] = "failed"
        pytest.fail("%s (%s): the role's argument specs and preflight accepted %s"
                    % (case, spec["table"], spec.get("vars")))
    task, result = run.failures[case]
    found = bad_input.failure_problems(spec, task, result)
    RESULTS[case] = "failed" if found else "passed"
    assert not found, "%s (%s):\n%s" % (case, spec["table"], "\n".join(found))


def test_the_lab_inputs_alone_pass_every_preflight(local_preflight_run):
    run = local_preflight_run
    failed = {h: run.failures[h] for h in run.baselines if h in run.failures}
    assert not failed, "a baseline host (the lab's variables, no bad input) failed: %s" % (
        json.dumps(failed, indent=1)[:6000])


def test_every_case_runs_here_or_says_why_not():
    for case in CASES.values():
        if "module" in case:
            # A module runs on the managed host against its HAProxy: nothing is decided on the control node.
            assert "lab_only" in case, "%s: a module case needs lab_only" % case["id"]
    assert len(local_cases()) >= len(CASES) / 2, "most cases should be decided on the control node"
