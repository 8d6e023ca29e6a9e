"""The built collection tarball is small, carries no lab secrets, installs into a clean virtualenv
and runs `ansible-playbook acgs.haproxy_stack.site` against the lab from there.

The clean venv gets only ansible-core (pinned as in requirements.txt) and the execution environment's
Python packages (requirements-ee.txt), so an undeclared control-node dependency fails here. The
collection's dependencies (community.crypto, containers.podman, ansible.posix) are not on a reachable
Galaxy here: they come from the `ansible` package in the checkout's .venv (its site-packages is added to
ANSIBLE_COLLECTIONS_PATH), never from the checkout's collections/ link, and the play runs outside the
checkout with its own ansible.cfg, so nothing resolves back to the working tree.
"""
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
FQCN = "%s.%s" % (GALAXY["namespace"], GALAXY["name"])
MAX_TARBALL_BYTES = 1024 * 1024
# Paths that must never be in the tarball (prefix match on member names).
FORBIDDEN_PREFIXES = (".venv/", "collections/", "tests/", "molecule/", "lab/.state/", ".git/", ".cache/",
                      ".pytest_cache/", "bench/results/", ".ci/", "playbooks/drift-reports/",
                      "drift-reports/", "backups/")
FORBIDDEN_NAMES = re.compile(r"(\.secret$|id_ed25519|\.key$|\.pem$|\.crt$|\.csr$|\.tar\.gz$|vault\.yml$)")
CONFIG = """\
[defaults]
forks = 20
interpreter_python = /usr/bin/python3
host_key_checking = false
retry_files_enabled = false
stdout_callback = ansible.builtin.default

[ssh_connection]
pipelining = true
"""


def venv_site_packages():
    """The checkout venv's site-packages (its ansible_collections/ holds the `ansible` package's collections)."""
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c",
                          "import ansible_collections, os; print(os.path.dirname(ansible_collections.__path__[0]))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def run(command, **kwargs):
    kwargs.setdefault("timeout", 300)
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, "%s failed (%d):\n%s\n%s" % (
        " ".join(map(str, command)), result.returncode, result.stdout[-6000:], result.stderr[-3000:])
    return result


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    run([ROOT / ".venv" / "bin" / "ansible-galaxy", "collection", "build", "--output-path", out, ROOT], cwd=ROOT)
    built = sorted(out.glob("*.tar.gz"))
    assert len(built) == 1, built
    return built[0]


def test_tarball_is_small_and_clean(tarball, lab):
    size = tarball.stat().st_size
    assert size < MAX_TARBALL_BYTES, "tarball is %d KB: check galaxy.yml build_ignore" % (size // 1024)
    secrets = [p.read_text().split()[0] for p in lab.state_dir.glob("*.secret") if p.read_text().split()]
    secrets += [p.read_text().strip() for p in lab.state_dir.glob("id_ed25519") if p.exists()]
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
        bad = [n for n in names if n.startswith(FORBIDDEN_PREFIXES) or FORBIDDEN_NAMES.search(n)]
        assert not bad, "tarball holds files it must not (galaxy.yml build_ignore): %s" % bad[:20]
        for member in tar.getmembers():
            if not member.isfile():
                continue
            data = tar.extractfile(member).read().decode("utf-8", "replace")
            leaked = [s[:4] + "..." for s in secrets if len(s) >= 12 and s in data]
            assert not leaked, "%s contains a lab secret (%s)" % (member.name, leaked)
    for required in ("MANIFEST.json", "README.md", "meta/runtime.yml",
                     "playbooks/site.yml", "plugins/modules/haproxy_server.py", "roles/haproxy/meta/argument_specs.yml"):
        assert required in names, "%s missing from the tarball" % required
    manifest = json.loads(tarfile.open(tarball).extractfile("MANIFEST.json").read())
    assert manifest["collection_info"]["dependencies"] == GALAXY.get("dependencies", {})


def test_installs_in_clean_venv_and_runs_site(tarball, lab, tmp_path_factory):
    work = tmp_path_factory.mktemp("clean")
    venv = work / "venv"
    collections = work / "collections"
    run([sys.executable, "-m", "venv", venv])
    pins = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    core = next(p for p in pins if p.startswith("ansible-core=="))
    run([venv / "bin" / "pip", "install", "-q", "--disable-pip-version-check", core,
         "-r", ROOT / "requirements-ee.txt"], timeout=300)

    (work / "ansible.cfg").write_text(CONFIG)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if not p.startswith(str(ROOT)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "VIRTUAL_ENV"}
    env.update(ACGS_LAB=lab.name, ANSIBLE_CONFIG=str(work / "ansible.cfg"), PATH=str(venv / "bin") + os.pathsep + path,
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([str(collections), venv_site_packages()]),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_HOME=str(work / "ansible-home"),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    env.pop("CONTAINERS_CONF", None)

    # --offline: the dependencies must be satisfied by what ANSIBLE_COLLECTIONS_PATH already holds.
    run([venv / "bin" / "ansible-galaxy", "collection", "install", "--offline", "-p", collections, tarball],
        cwd=work, env=env)
    listing = run([venv / "bin" / "ansible-galaxy", "collection", "list", FQCN, "--format", "json"],
                  cwd=work, env=env).stdout
    locations = list(json.loads(listing))
    assert locations == [str(collections / "ansible_collections")], (
        "%s must resolve only from the installed tarball, found in %s" % (FQCN, locations))

    # -vv prints each task's path: where the roles' task files were read from.
    result = run([venv / "bin" / "ansible-playbook", "-vv", "%s.site" % FQCN, "-i", ROOT / "inventories" / "lab"],
                 cwd=work, env=env, timeout=900)
    out = result.stdout
    assert re.search(r"PLAY RECAP", out) and not re.search(r"failed=[1-9]|unreachable=[1-9]", out), out[-4000:]
    # Roles and included task files came from the installed copy, never from the working tree.
    installed_roles = str(collections / "ansible_collections" / "acgs" / "haproxy_stack" / "roles")
    assert "task path: %s/haproxy/tasks/" % installed_roles in out, "no role task was read from the installed collection"
    assert str(ROOT / "collections") not in out and str(ROOT / "roles") not in out, (
        "the play used the checkout instead of the installed collection")
