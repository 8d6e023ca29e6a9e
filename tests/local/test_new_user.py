# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a new user who makes mistakes sees, without a lab.

Each mistake must fail (non-zero exit), quickly (no SSH timeouts), with a message that says
what to do next:

- a wrong ``-i`` path (ansible.cfg ``unparsed_is_failed``), or an inventory without the
  ``haproxy`` group (site.yml's preflight play);
- the lab inventory while that lab is not up (site.yml's preflight play);
- the example inventory without its vault (the roles' preflights name the variables);
- ``lab/lab.sh`` and ``lab/build-image.sh`` on a machine without podman.

Nothing here starts a container or contacts a host: plays run on the control node only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK_BIN = os.path.join(REPO, ".venv", "bin", "ansible-playbook")
# Every run here is on the control node; a run that reaches SSH would take much longer.
BOUND = 60


def run(cmd, env_extra=None, timeout=BOUND, cwd=REPO):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_FORCE_COLOR="0")
    env.pop("ACGS_LAB", None)
    env.update(env_extra or {})
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    proc.elapsed = time.monotonic() - started
    proc.output = proc.stdout + proc.stderr
    return proc


def flat(text):
    """Ansible wraps long messages: compare with whitespace collapsed."""
    return " ".join(text.split())


def assert_fails_fast(proc, *words):
    out = flat(proc.output)
    assert proc.returncode != 0, proc.output[-4000:]
    for word in words:
        assert word in out, "%r not in output:\n%s" % (word, proc.output[-4000:])
    assert "UNREACHABLE" not in out, proc.output[-4000:]
    assert proc.elapsed < BOUND, "took %.1fs" % proc.elapsed


# -- (a) wrong inventory -------------------------------------------------------------------

def test_wrong_inventory_path_fails():
    proc = run([PLAYBOOK_BIN, "site.yml", "-i", "inventories/nonexistent"])
    assert_fails_fast(proc, "Unable to parse", "inventories/nonexistent as an inventory source",
                      "No inventory was parsed")
    assert "no hosts matched" not in proc.output


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_inventory_without_haproxy_group_fails(tmp_path, check):
    # A typo in a group name: the hosts are there, site.yml would skip every play.
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {
        "loadbalancers": {"hosts": {"lb1.example.net": None}},
        "backends": {"hosts": {"app1.example.net": None}}}}}))
    proc = run([PLAYBOOK_BIN, "site.yml", "-i", str(inventory)] + (["--check"] if check else []))
    assert_fails_fast(proc, "has no hosts in the group haproxy", str(inventory), "-i inventories/lab",
                      "-i inventories/example", "Group names are fixed: haproxy (required), backends, prometheus,"
                      " alertmanager, grafana, node_exporter")
    # Failed on the control node, in the first play, before any host.
    assert "lb1.example.net" not in proc.stdout
    assert "Gather facts once" not in proc.stdout


# -- (b) lab not up ------------------------------------------------------------------------

def test_lab_not_up_fails_fast():
    state = os.path.join(REPO, "lab", ".state", "acgs-nolab")
    existed = os.path.exists(state)
    proc = run([PLAYBOOK_BIN, "site.yml", "-i", "inventories/lab"], env_extra={"ACGS_LAB": "acgs-nolab"})
    assert_fails_fast(proc, "lab acgs-nolab is not up: run `make lab` (or `ACGS_LAB=acgs-nolab lab/lab.sh up`)",
                      "lab/.state/acgs-nolab/addresses.json is missing")
    assert "could not locate file" not in proc.output
    # The preflight fails before the inventory's password lookups write secrets for that lab.
    if not existed:
        assert not os.path.exists(state)


def first_play(tmp_path):
    """site.yml's preflight play alone (the others would contact hosts)."""
    with open(os.path.join(REPO, "playbooks", "site.yml")) as fh:
        plays = yaml.safe_load(fh)
    path = tmp_path / "preflight.yml"
    path.write_text(yaml.safe_dump(plays[:1], sort_keys=False))
    return str(path)


def test_preflight_passes_on_a_lab_that_is_up_and_on_the_example(tmp_path):
    """The other side of the two checks above: a good inventory passes, in --check too."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "addresses.json").write_text(json.dumps({"lb1": "192.0.2.1"}))
    proc = run([PLAYBOOK_BIN, first_play(tmp_path), "-i", "inventories/lab", "--check",
                "-e", "lab_state_dir=%s" % state], env_extra={"ACGS_LAB": "acgs-nolab"})
    assert proc.returncode == 0, proc.output[-4000:]
    proc = run([PLAYBOOK_BIN, first_play(tmp_path), "-i", "inventories/example", "--check"])
    assert proc.returncode == 0, proc.output[-4000:]
    assert proc.elapsed < BOUND


# -- (c) missing passwords -----------------------------------------------------------------

# site.yml gathers facts on every host first, so it cannot fail on a missing password before
# it connects. This is the same inventory shape run through the roles' own preflights on
# the control node (connection local), as tests/local/test_haproxy_config.py does.
PREFLIGHTS = """
- name: Preflight of {role}
  hosts: {group}
  connection: local
  gather_facts: false
  tasks:
    - name: Preflight
      block:
        - name: Role preflight
          ansible.builtin.include_role:
            name: {role}
            tasks_from: preflight.yml
      rescue:
        - name: Record the message
          ansible.builtin.copy:
            content: "{{{{ ansible_failed_result.msg }}}}"
            dest: "{out}/{role}-{{{{ inventory_hostname }}}}.error"
            mode: "0644"
          check_mode: false
          delegate_to: localhost
"""

FAIL = """
- name: Fail as the real run would
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Any preflight failed
      ansible.builtin.fail:
        msg: "preflight failed: {{{{ lookup('ansible.builtin.fileglob', '{out}/*.error', wantlist=True) }}}}"
      when: lookup('ansible.builtin.fileglob', '{out}/*.error', wantlist=True) | length > 0
"""

# keepalived's interface and unicast peers come from network facts, which site.yml's facts play
# gathers: here the control node's own (connection local) stand in for the load balancers'.
NETWORK_FACTS = """
- name: Network facts of the load balancers
  hosts: keepalived
  connection: local
  gather_facts: true
  gather_subset: ['!all', '!min', network]
"""

ROLES = [("haproxy", "haproxy"), ("prometheus", "prometheus"), ("alertmanager", "alertmanager"),
         ("grafana", "grafana"), ("keepalived", "keepalived")]


@pytest.fixture(scope="module")
def no_vault(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("no_vault")
    inventory = tmp / "inventory"
    # inventories/example as a new user has it before making vault.yml (only vault.yml.example).
    shutil.copytree(os.path.join(REPO, "inventories", "example"), str(inventory),
                    ignore=shutil.ignore_patterns("vault.yml"))
    assert not (inventory / "group_vars" / "all" / "vault.yml").exists()
    out = tmp / "out"
    out.mkdir()
    playbook = tmp / "preflights.yml"
    playbook.write_text("---" + NETWORK_FACTS + "".join(PREFLIGHTS.format(role=r, group=g, out=out) for r, g in ROLES)
                        + FAIL.format(out=out))
    # What is not about passwords, as a user would have it: certificates and the backends' facts.
    (inventory / "files").mkdir()
    for lb in ("lb1", "lb2"):
        (inventory / "files" / ("%s.example.net.pem" % lb)).write_text("not checked by preflight\n")
    for name in ["mon1.example.net.crt", "mon1.example.net.key", "mon2.example.net.crt", "mon2.example.net.key", "ca.pem"]:
        (inventory / "files" / name).write_text("preflight checks it is a readable file only\n")
    (inventory / "host_vars").mkdir()
    for index, app in enumerate(("app1", "app2", "app3")):
        (inventory / "host_vars" / ("%s.example.net.yml" % app)).write_text(yaml.safe_dump(
            {"ansible_default_ipv4": {"address": "192.0.2.%d" % (index + 10)}}))

    proc = run([PLAYBOOK_BIN, "-i", str(inventory), str(playbook), "--check",
                "-e", "ansible_become=false", "-e", "ansible_python_interpreter=%s" % sys.executable],
               env_extra={"ANSIBLE_ROLES_PATH": os.path.join(REPO, "roles")}, timeout=120)
    errors = {p.name[:-len(".error")]: flat(p.read_text()) for p in out.iterdir()}
    return proc, errors


# What each role's preflight says on the example inventory without vault.yml: each names the
# variable to set, in its own words (a password from an undefined vault variable counts as unset).
# keepalived has no secret with VRRP 3 (its default): it passes.
EXPECTED = {
    "haproxy-lb1.example.net": ["haproxy_stats_password is not set", "there is no default password"],
    "haproxy-lb2.example.net": ["haproxy_stats_password is not set"],
    "prometheus-mon1.example.net": ["prometheus_web_password is empty", "there is no default"],
    "prometheus-mon2.example.net": ["prometheus_web_password is empty"],
    "alertmanager-mon1.example.net": ["Set both alertmanager_web_username and alertmanager_web_password",
                                      "alertmanager_deadmans_switch_url comes from an undefined variable"],
    "alertmanager-mon2.example.net": ["Set both alertmanager_web_username and alertmanager_web_password"],
    "alertmanager-mon3.example.net": ["Set both alertmanager_web_username and alertmanager_web_password"],
    "grafana-mon1.example.net": ["Set grafana_admin_password", "there is no default"],
}


def test_missing_passwords_fail_naming_the_variable(no_vault):
    proc, errors = no_vault
    assert proc.returncode != 0, proc.output[-4000:]
    assert "preflight failed" in proc.output
    assert "UNREACHABLE" not in proc.output
    assert proc.elapsed < 120, "took %.1fs" % proc.elapsed
    assert sorted(errors) == sorted(EXPECTED), errors
    for name, words in EXPECTED.items():
        for word in words:
            assert word in errors[name], (name, errors[name])
    # Only the missing secrets fail: nothing else about the example inventory is wrong.
    for name, message in errors.items():
        assert "|" not in message, (name, message)


# -- (d) the lab scripts on a machine without podman ----------------------------------------

@pytest.fixture
def no_podman_path(tmp_path):
    """A PATH with the few tools the scripts use before they look for podman, and no podman."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("dirname", "id"):
        os.symlink(shutil.which(tool), str(bindir / tool))
    return str(bindir)


@pytest.mark.parametrize("script", ["lab/lab.sh up", "lab/build-image.sh"])
def test_lab_scripts_without_podman(no_podman_path, script):
    # Both scripts stop at their podman check: no container, network or image is touched.
    proc = run([shutil.which("bash")] + script.split(), env_extra={"PATH": no_podman_path,
                                                                  "ACGS_LAB": "acgs-nolab"})
    assert_fails_fast(proc, "ERROR: podman is not installed: run 'make deps' as root", "then 'make lab'")
    assert "command not found" not in proc.output

