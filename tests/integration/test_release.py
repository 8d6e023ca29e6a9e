"""The lab runs the Debian release and product versions the roles' vars/<release>.yml promise (the README's
support table is made from the same files): a lab built with LAB_RELEASE=trixie has Debian 13's packages.

Run: ACGS_LAB=<lab> .venv/bin/pytest -q tests/integration/test_release.py
"""
import pytest
import yaml

from conftest import ROOT

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
