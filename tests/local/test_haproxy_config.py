# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The haproxy role's templates and preflight, without a lab.

One ansible-playbook run (connection local) renders the role's configuration
for every case of CASES, one inventory host per case: it runs the role's own
preflight.yml, then its templates. Good cases must pass `haproxy -c` of every
Debian release's HAProxy (this machine's 2.6 and trixie's 3.0 from
tools/release_tools.sh, see tests/release_binaries.py) without a warning; bad
cases must fail in preflight with a message naming the variable.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

import release_binaries

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = os.path.join(REPO, "roles", "haproxy")
PASSWORD = "s3cretStatsPassw0rd"

# The seed services, as the role ships them (never a copy here).
with open(os.path.join(ROLE, "defaults", "main.yml")) as _defaults:
    SEEDS = yaml.safe_load(_defaults)["haproxy_backends"]
# A user's eighth backend: one entry in one file.
EIGHTH = {"name": "rp_backend", "port": 8007, "path_prefix": "/api/v1/rp/"}

# Good cases: variables on top of the role defaults.
GOOD = {
    "defaults": {},
    "stick_tls": {
        "haproxy_backend_defaults": {"affinity": "stick", "circuit_breaker": False, "balance": "leastconn"},
        "haproxy_tls_enabled": True,
        "haproxy_tls_certificate": "@CERT@",
        "haproxy_tls_certificate_on_host": True,
        "haproxy_tls_redirect": True,
        "haproxy_runtime_tcp_port": 9999,
        "haproxy_rate_limit_exempt": ["10.0.0.1", "192.168.0.0/16"],
        "haproxy_nbthread": 0,
        "haproxy_global_config": {"tune.bufsize": 32768, "hard-stop-after": None},
        "haproxy_defaults_config": {"option": ["httplog", "dontlognull"]},
        "haproxy_retry_idempotent": False,
    },
    "eighth_backend": {"haproxy_backends_extra": [EIGHTH]},
    "custom_servers": {
        "haproxy_backends": [{"name": "web", "port": 80, "balance": "hdr(host)", "affinity": "none",
                              "servers": [{"name": "w1", "address": "192.0.2.10", "weight": 50},
                                          {"name": "w2", "address": "192.0.2.11", "port": 8080, "backup": True}]}],
        "haproxy_routes": [{"path_prefix": "/", "backend": "web"}],
        "haproxy_default_backend": "web",
        "haproxy_rate_limit_enabled": False,
        "haproxy_stats_enabled": False,
        "haproxy_stats_password": "",
    },
}

DUPLICATE = [{"name": "auth_backend", "port": 8000}, {"name": "auth_backend", "port": 8100}]

# Bad cases: variables, and words the preflight message must contain.
BAD = {
    "bad_balance": ({"haproxy_backend_defaults": {"balance": "fastest"}}, ["unknown balance algorithm", "fastest"]),
    "port_out_of_range": ({"haproxy_http_port": 70000}, ["haproxy_http_port", "1 to 65535"]),
    "port_clash": ({"haproxy_stats_port": 80}, ["Port 80", "haproxy_http_port", "haproxy_stats_port"]),
    "duplicate_backend": ({"haproxy_backends": DUPLICATE, "haproxy_routes": []},
                          ["auth_backend more than once", "haproxy_backends"]),
    "server_without_address": ({"haproxy_backend_servers_group": "nofacts"}, ["app3 has no address", "ansible_default_ipv4"]),
    "route_to_missing_backend": ({"haproxy_routes": [{"path_prefix": "/x/", "backend": "nope_backend"}]},
                                 ["haproxy_routes", "nope_backend"]),
    "extra_backend_on_a_seed_prefix": ({"haproxy_backends_extra": [dict(EIGHTH, path_prefix="/api/v1/auth/")]},
                                       ['path_prefix "/api/v1/auth/" is routed more than once',
                                        "haproxy_backends_extra[0] (rp_backend)"]),
    "missing_certificate": ({"haproxy_tls_enabled": True, "haproxy_tls_certificate": "/nonexistent/lb.pem"},
                            ["haproxy_tls_certificate", "missing or unreadable"]),
    "certificate_unset": ({"haproxy_tls_enabled": True}, ["haproxy_tls_certificate is empty"]),
    "no_stats_password": ({"haproxy_stats_password": None}, ["haproxy_stats_password is not set"]),
    "negative_timeout": ({"haproxy_backends": [{"name": "fv_backend", "port": 8003, "timeout_server": -5}],
                          "haproxy_routes": []}, ["fv_backend", "timeout_server is -5"]),
    "rate_limit_zero": ({"haproxy_rate_limit_requests": 0}, ["haproxy_rate_limit_requests", "haproxy_rate_limit_enabled: false"]),
    "quote_in_password": ({"haproxy_stats_password": "it's"}, ["haproxy_stats_password contains a single quote"]),
}

PLAYBOOK = """
- name: Render the haproxy role for each case
  hosts: cases
  connection: local
  gather_facts: false
  tasks:
    - name: Preflight and templates
      block:
        - name: Preflight
          ansible.builtin.include_role:
            name: haproxy
            tasks_from: preflight.yml
            public: true
        - name: Output directory
          ansible.builtin.file:
            path: "{{ out }}/conf.d"
            state: directory
            mode: "0755"
        - name: Render haproxy.cfg
          ansible.builtin.template:
            src: "%(role)s/templates/haproxy.cfg.j2"
            dest: "{{ out }}/haproxy.cfg"
            mode: "0644"
        - name: Render the stats page
          ansible.builtin.template:
            src: "%(role)s/templates/stats.cfg.j2"
            dest: "{{ out }}/conf.d/00-stats.cfg"
            mode: "0600"
          when: haproxy_stats_enabled
        - name: Render the unit drop-in
          ansible.builtin.template:
            src: "%(role)s/templates/haproxy.service.conf.j2"
            dest: "{{ out }}/dropin.conf"
            mode: "0644"
      rescue:
        - name: Record the failure
          ansible.builtin.copy:
            content: "{{ ansible_failed_result.msg }}"
            dest: "{{ out }}.error"
            mode: "0644"
""" % {"role": ROLE}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("haproxy_role")
    cert = tmp / "lb.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=lb1",
                    "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "crt.pem")], check=True, capture_output=True)
    cert.write_text((tmp / "crt.pem").read_text() + (tmp / "key.pem").read_text())
    hosts = {}
    for name, overrides in list(GOOD.items()) + [(n, v[0]) for n, v in BAD.items()]:
        host = {"out": str(tmp / name), "ansible_python_interpreter": sys.executable,
                "haproxy_stats_password": PASSWORD}
        host.update({k: (str(cert) if v == "@CERT@" else v) for k, v in overrides.items()})
        if host["haproxy_stats_password"] is None:
            del host["haproxy_stats_password"]
        hosts[name] = host
    inventory = {"all": {"children": {
        "cases": {"hosts": hosts},
        "backends": {"hosts": {"app1": {"ansible_default_ipv4": {"address": "192.0.2.1"}},
                               "app2": {"ansible_default_ipv4": {"address": "192.0.2.2"}}}},
        "nofacts": {"hosts": {"app3": {}}},
    }}}
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp / "play.yml").write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_ROLES_PATH=os.path.join(REPO, "roles"),
               ANSIBLE_LOCALHOST_WARNING="false")
    result = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", str(tmp / "inventory.yml"),
                             str(tmp / "play.yml")], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    # Bad cases are rescued, so every host ends ok: anything else is a broken harness or role.
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return tmp


def haproxy_check(directory, release):
    command = [release_binaries.require(release, "haproxy"), "-c", "-f", str(directory / "haproxy.cfg")]
    if (directory / "conf.d" / "00-stats.cfg").exists():
        command += ["-f", str(directory / "conf.d")]
    return subprocess.run(command, capture_output=True, text=True)


@pytest.mark.parametrize("release", release_binaries.release_params("haproxy"))
@pytest.mark.parametrize("case", sorted(GOOD))
def test_good_config_passes_haproxy_check(rendered, case, release):
    assert not (rendered / (case + ".error")).exists(), (rendered / (case + ".error")).read_text()
    result = haproxy_check(rendered / case, release)
    assert result.returncode == 0, result.stdout + result.stderr
    # Warnings that depend on the machine, not on the configuration: the server-state file only exists
    # once HAProxy has been reloaded, and HAProxy 3.0 warns when nbthread (4 by default) is more than the
    # CPUs it may use (this test machine may have fewer).
    warnings = [line for line in (result.stdout + result.stderr).splitlines()
                if "[WARNING]" in line and "server state file" not in line
                and "threads running on a total of" not in line]
    assert not warnings, result.stdout + result.stderr


def sections(config):
    return {block.split("\n", 1)[0]: block for block in config.split("\n\n")}


def route_lines(config):
    return [line.strip() for line in config.splitlines() if line.strip().startswith("use_backend ")]


def test_defaults_reproduce_the_seeds(rendered):
    config = (rendered / "defaults" / "haproxy.cfg").read_text()
    # The lab tests build each seed's path from its name: /api/v1/<service>/ goes to <service>_backend.
    assert all(b["path_prefix"] == "/api/v1/%s/" % b["name"][:-len("_backend")] for b in SEEDS)
    assert route_lines(config) == ["use_backend %s if { path_beg %s }" % (b["name"], b["path_prefix"]) for b in SEEDS]
    for backend in SEEDS:
        assert "\nbackend %s\n" % backend["name"] in config
        assert "timeout server %ds" % backend.get("timeout_server", 30) in sections(config)["backend " + backend["name"]]
    auth = sections(config)["backend auth_backend"]
    assert "server app1 192.0.2.1:8000 cookie app1" in auth
    assert "server app2 192.0.2.2:8000 cookie app2" in auth
    assert "option httpchk GET /health" in auth
    assert "observe layer7 error-limit 10 on-error mark-down" in auth and "slowstart 30s" in auth
    assert "http-request deny deny_status 429 if { sc_http_req_rate(0) gt 20 }" in config
    assert "store http_req_rate(10s)" in config
    assert "stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners" in config
    assert "server-state-file /var/lib/haproxy/server-state" in config
    assert "load-server-state-from-file global" in config
    assert "ssl-default-bind-options ssl-min-ver TLSv1.2" in config
    assert "maxconn 4096" in config and "nbthread 4" in config
    # A server that dies mid-request: GET and HEAD go again, to another server; nothing else is replayed.
    assert "retry-on conn-failure empty-response" in config and "option redispatch 1" in config
    assert "http-request disable-l7-retry if !METH_GET !METH_HEAD" in config
    # The password is only in the stats file.
    assert PASSWORD not in config
    assert PASSWORD in (rendered / "defaults" / "conf.d" / "00-stats.cfg").read_text()
    dropin = (rendered / "defaults" / "dropin.conf").read_text()
    assert "-f /etc/haproxy/conf.d" in dropin and "show servers state" in dropin


def test_the_demo_app_stands_in_for_every_seed():
    """roles/demo_app keeps its own literal list: it must be the seeds, service name to port."""
    with open(os.path.join(REPO, "roles", "demo_app", "defaults", "main.yml")) as defaults:
        demo = yaml.safe_load(defaults)["demo_app_services"]
    assert demo == {b["name"][:-len("_backend")]: b["port"] for b in SEEDS}


def test_an_eighth_backend_is_one_extra_entry(rendered):
    """A user adds rp_backend with one entry (haproxy_backends_extra): haproxy -c accepts it (the good
    cases above), its route comes after the seeds' and its backend is there; the seven are unchanged."""
    default = (rendered / "defaults" / "haproxy.cfg").read_text()
    config = (rendered / "eighth_backend" / "haproxy.cfg").read_text()
    assert route_lines(config) == route_lines(default) + ["use_backend rp_backend if { path_beg /api/v1/rp/ }"]
    rp = sections(config)["backend rp_backend"]
    assert "server app1 192.0.2.1:8007 cookie app1" in rp and "server app2 192.0.2.2:8007 cookie app2" in rp
    assert "option httpchk GET /health" in rp and "timeout server 30s" in rp
    for backend in SEEDS:
        name = "backend " + backend["name"]
        assert sections(config)[name] == sections(default)[name]
    assert set(sections(config)) - set(sections(default)) == {"backend rp_backend"}


def test_options_render(rendered):
    config = (rendered / "stick_tls" / "haproxy.cfg").read_text()
    assert "stick on src" in config and "cookie SERVERID" not in config
    assert "observe layer7" not in config and "balance leastconn" in config
    assert "ssl crt" in config and "redirect scheme https" in config
    assert "ipv4@127.0.0.1:9999 level admin" in config
    assert "acl rate_limit_exempt src 10.0.0.1 192.168.0.0/16" in config
    assert "nbthread" not in config and "hard-stop-after" not in config and "tune.bufsize 32768" in config
    assert "retry-on" not in config and "disable-l7-retry" not in config
    custom = (rendered / "custom_servers" / "haproxy.cfg").read_text()
    assert "server w2 192.0.2.11:8080 backup" in custom and "weight 50" in custom
    assert "sc_http_req_rate" not in custom and "default_backend web" in custom


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_fails_in_preflight_naming_the_variable(rendered, case):
    error = rendered / (case + ".error")
    assert error.exists(), "preflight accepted %s" % case
    message = error.read_text()
    for word in BAD[case][1]:
        assert word in message, message
    assert not (rendered / case / "haproxy.cfg").exists()
