"""The lab's Debian packages.

- The lab runs the Debian release and product versions the roles' vars/<release>.yml promise (the README's
  support table is made from the same files): a lab built with LAB_RELEASE=trixie has Debian 13's packages.
- The package registry (playbooks/facts.yml: one dpkg-query per host, _acgs_installed_packages): an unchanged
  site.yml rerun changes nothing and skips every role's apt install on every host (and the readiness waits, which
  run only after a start, restart or reload); a package removed by hand is not hidden by it, the next converge
  installs it again, starts it and waits for it.

Run: ACGS_LAB=<lab> .venv/bin/pytest -q tests/integration/test_release.py
"""
import time
import urllib.request

import pytest
import yaml

from conftest import ROOT
from lab_hosts import play_recap, task_results

# Hosts of inventories/lab and the roles site.yml applies there whose product is a Debian package.
ROLES_ON_HOSTS = [("lb1", "haproxy"), ("mon1", "prometheus"), ("mon1", "alertmanager"),
                  ("mon1", "node_exporter"), ("app1", "node_exporter"), ("app1", "demo_app")]


def release_of(lab, host):
    release = lab.run(host, ". /etc/os-release && echo \"$VERSION_CODENAME\"").stdout.strip()
    assert (ROOT / "roles" / "haproxy" / "vars" / ("%s.yml" % release)).exists(), (
        "%s runs Debian %s, which the collection does not support" % (host, release))
    return release


@pytest.mark.parametrize("host, role", ROLES_ON_HOSTS, ids=["%s-%s" % pair for pair in ROLES_ON_HOSTS])
def test_installed_version_is_the_release_s(lab, host, role):
    release = release_of(lab, host)
    promised = yaml.safe_load((ROOT / "roles" / role / "vars" / ("%s.yml" % release)).read_text())["_%s_release" % role]
    installed = lab.run(host, "dpkg-query -W -f '${Version}' %s" % promised["package"]).stdout.strip()
    # Debian versions carry an epoch and a revision: 1:2.3.3-1, 3.0.11-1+deb13u4.
    upstream = installed.split(":", 1)[-1]
    assert upstream.startswith(promised["version"] + "."), (
        "%s on %s (Debian %s) has %s %s; roles/%s/vars/%s.yml says %s" % (
            role, host, release, promised["package"], installed, role, release, promised["version"]))


# --- the package registry ------------------------------------------------------------------------

def apt_install_tasks():
    """"<role> : <task name>" of every role task that runs ansible.builtin.apt on named packages (not a .deb)."""
    def walk(tasks):
        for task in tasks or []:
            yield task
            for key in ("block", "rescue", "always"):
                yield from walk(task.get(key))
    found = set()
    for path in sorted((ROOT / "roles").glob("*/tasks/*.yml")):
        for task in walk(yaml.safe_load(path.read_text())):
            apt = task.get("ansible.builtin.apt")
            if isinstance(apt, dict) and "name" in apt:
                found.add("%s : %s" % (path.parts[-3], task["name"]))
    return found


def installed(lab, host, package):
    status = lab.run(host, "dpkg-query --show --showformat='${db:Status-Status}' %s" % package, check=False)
    return status.stdout.strip() == "installed"


def test_the_roles_apt_tasks_are_known():
    """The next test checks these by name: a renamed or new apt task is picked up here, not missed there."""
    tasks = apt_install_tasks()
    assert {"haproxy : Install packages", "haproxy_exporter : Install or remove the standalone exporter",
            "keepalived : Install keepalived", "node_exporter : Install the node exporter package",
            "prometheus : Install Prometheus", "alertmanager : Install Alertmanager",
            "grafana : Install Grafana from the apt repository",
            "drift_timer : Install ansible-core (Debian's package)"} <= tasks, sorted(tasks)


def test_site_rerun_changes_nothing_and_runs_no_apt_install(lab):
    """An unchanged rerun asks dpkg once per host (the gate's second facts import skips it) and skips every role's
    apt install there, so none of them opens apt's cache."""
    started = time.time()
    result = lab.playbook("site.yml")
    print("site.yml rerun: %.1f s" % (time.time() - started))
    counts = play_recap(result.stdout)
    hosts = sorted(lab.addresses)
    assert sorted(h for h in counts if h != "localhost") == hosts, result.stdout[-3000:]
    assert {h: c["changed"] for h, c in counts.items()} == dict.fromkeys(counts, 0), result.stdout[-6000:]
    results = task_results(result.stdout)
    for host in hosts:
        # The registry: one query in the first facts import, skipped in the gate's.
        assert results.get(("List the installed packages (one query for every role's apt task)", host)) == [
            "ok", "skipping"], host
    apt_tasks = apt_install_tasks()
    ran = {(task, host): statuses for (task, host), statuses in results.items() if task in apt_tasks}
    assert {key: s for key, s in ran.items() if set(s) != {"skipping"}} == {}, "apt ran on a rerun"
    # Every host reached its roles' apt tasks (and skipped them): the node exporter's everywhere, the load
    # balancer's HAProxy packages and exporter, the monitoring host's Prometheus and Alertmanager.
    reached = {host: {task for task, h in ran if h == host} for host in hosts}
    for host in hosts:
        assert "node_exporter : Install the node exporter package" in reached[host], (host, reached)
    assert {"haproxy : Install packages",
            "haproxy_exporter : Install or remove the standalone exporter"} <= reached["lb1"], reached
    assert {"prometheus : Install Prometheus", "alertmanager : Install Alertmanager"} <= reached["mon1"], reached
    # Nothing was started, restarted or reloaded: no readiness wait either (the gate at the end checks the stack).
    waits = [("node_exporter : Wait for the exporter to listen", host) for host in hosts]
    waits += [("demo_app : Wait for every instance to answer /health", host) for host in ("app1", "app2", "mon1")]
    waits += [("alertmanager : Wait until Alertmanager is ready", "mon1")]
    assert {key: results.get(key) for key in waits} == dict.fromkeys(waits, ["skipping"])


def test_a_package_removed_by_hand_is_installed_again(lab):
    """The registry never hides a missing package: the node exporter removed from app2 (its conffiles stay:
    status config-files) is installed again by the next converge, which starts it with the role's flags."""
    package, host = "prometheus-node-exporter", "app2"
    lab.run(host, "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q %s" % package, timeout=60)
    try:
        assert not installed(lab, host, package)
        started = time.time()
        result = lab.playbook("playbooks/monitoring_prometheus.yml", "--limit", host, timeout=120)
        print("monitoring_prometheus.yml --limit %s: %.1f s" % (host, time.time() - started))
        assert task_results(result.stdout).get(("node_exporter : Install the node exporter package", host)) == [
            "changed"], result.stdout[-4000:]
        assert play_recap(result.stdout)[host]["changed"] > 0
        # Started by this run: the role waits for it (an unchanged rerun skips that wait).
        assert task_results(result.stdout).get(("node_exporter : Wait for the exporter to listen", host)) == ["ok"]
        assert installed(lab, host, package)
        url = "http://%s:9100/metrics" % lab.addr(host)
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    metrics = response.read().decode()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(1)
        assert "node_exporter_build_info{" in metrics
    finally:
        if not installed(lab, host, package):
            lab.playbook("playbooks/monitoring_prometheus.yml", "--limit", host, check=False, timeout=300)
