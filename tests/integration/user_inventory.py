"""A user's inventory, built at test time from inventories/example, pointed at a lab's containers.

build() copies inventories/example (hosts.yml and every group_vars file) and applies the targeted
changes below, nothing else; everything not listed is the example's own text, so the test follows
the example when it changes. Deviations from the example, each for a reason of the lab:

hosts.yml
  - hosts: "<name>.example.net" becomes the lab host "<name>" (lb1, mon1, app1, app2), each with
    ansible_host = its container's address; hosts the lab does not have (lb2, mon2, mon3, app3) are
    dropped from every group. The group shape (haproxy, prometheus, alertmanager, grafana,
    backends, node_exporter and its children) is the example's.
  - group keepalived is dropped: the lab has one load balancer, and keepalived (a VIP on lb1) is
    not part of the lab inventory, so putting the lab back could not remove it.
  - group demo_app (children: backends) is added: roles/demo_app's stand-in services are lab-only
    scaffolding (a real user's backends run their own services), not part of the user's entry.
group_vars/all/main.yml
  - ansible_user root and ansible_become false (the example's "deploy" with sudo does not exist in
    the lab's containers); group_vars/all/lab_connection.yml (new) holds the lab's SSH key and
    options, as inventories/lab/group_vars/all/lab.yml does.
group_vars/all/vault.yml
  - written in plain text from vault.yml.example (not ansible-vault encrypted), with the lab's
    generated secrets (lab/.state/<lab>/*.secret) for the passwords the lab's running services
    use; the others (Slack, SMTP, dead-man's-switch URL, VRRP) keep the example's placeholders
    (they belong to Alertmanager receivers and keepalived, which this inventory never converges).
group_vars/haproxy.yml
  - haproxy_nbthread 2, haproxy_maxconn 1800, haproxy_frontend_maxconn 1500: the lab containers'
    hard limit of 4096 open files and two cores (lab/containers.conf), as the lab inventory has.
  - haproxy_tls_certificate is kept; the lab CA's certificate of lb1 (lab/.state/<lab>/pki/lb1.pem)
    is copied to files/lb1.pem, where the example expects it.
group_vars/all/main.yml, group_vars/prometheus.yml (TLS)
  - acgs_prometheus_tls, acgs_prometheus_ca_file and prometheus_web_tls_cert_file/_key_file are kept;
    the lab CA (lab/.state/<lab>/pki/ca.crt) is copied to files/ca.pem, and each Prometheus host's
    certificate and key to files/<host>.crt and .key, where the example expects them.
group_vars/prometheus.yml
  - prometheus_remote_write dropped: mimir.example.net does not exist (and its password_file is
    not on the host).
group_vars/alertmanager.yml, grafana.yml, keepalived.yml: kept as they are; the test does not
  converge Alertmanager, Grafana or keepalived with this inventory (the lab has no route to
  Slack, SMTP or Grafana's apt repository), so their vault placeholders are never used.

What a test adds on top (its own entries, named in the test): add_vars().
"""
import json
import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "inventories" / "example"
DOMAIN = ".example.net"
# vault variable -> lab secret (lab/.state/<lab>/<name>.secret), for the services the lab runs.
LAB_SECRETS = {
    "vault_haproxy_stats_password": "haproxy_stats",
    "vault_prometheus_password": "prometheus_web",
    "vault_alertmanager_password": "alertmanager_web",
    "vault_grafana_admin_password": "grafana_admin",
}
# The lab containers' limits (inventories/lab/group_vars/haproxy.yml, lab/containers.conf).
LAB_HAPROXY_LIMITS = {"haproxy_nbthread": 2, "haproxy_maxconn": 1800, "haproxy_frontend_maxconn": 1500}
DROPPED_GROUPS = ["keepalived"]
DROPPED_VARS = {"group_vars/prometheus.yml": ["prometheus_remote_write"]}


def _load(path):
    return yaml.safe_load(path.read_text()) or {}


def _dump(path, data, header=None):
    text = "---\n" + ("# %s\n" % header if header else "") + yaml.safe_dump(data, sort_keys=False, width=120)
    path.write_text(text)


def _hosts(node, lab_hosts):
    """The example's group tree with its hosts mapped to the lab's (unknown ones dropped)."""
    out = {}
    if "hosts" in node:
        hosts = {}
        for name in node["hosts"] or {}:
            short = name[:-len(DOMAIN)] if name.endswith(DOMAIN) else name
            if short in lab_hosts:
                hosts[short] = None
        out["hosts"] = hosts
    if "children" in node:
        out["children"] = {group: _hosts(child or {}, lab_hosts)
                           for group, child in node["children"].items() if group not in DROPPED_GROUPS}
    return out


def build(lab, dest):
    """Write the user inventory for ``lab`` (conftest.Lab) into ``dest``; returns its path."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(EXAMPLE, dest)

    hosts = _load(dest / "hosts.yml")
    tree = _hosts(hosts["all"], set(lab.addresses))
    for group in tree["children"].values():
        for host in group.get("hosts", {}):
            group["hosts"][host] = {"ansible_host": lab.addr(host)}
    tree["children"]["demo_app"] = {"children": {"backends": None}}
    _dump(dest / "hosts.yml", {"all": tree},
          "Built from inventories/example/hosts.yml by tests/integration/user_inventory.py (see its deviations).")

    main = _load(dest / "group_vars" / "all" / "main.yml")
    main["ansible_user"] = "root"
    main["ansible_become"] = False
    _dump(dest / "group_vars" / "all" / "main.yml", main)
    _dump(dest / "group_vars" / "all" / "lab_connection.yml", {
        "ansible_ssh_private_key_file": str(lab.state_dir / "id_ed25519"),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
                                   " -o ControlMaster=auto -o ControlPersist=120s",
        "ansible_python_interpreter": "/usr/bin/python3",
    }, "Lab only: how to reach the lab's containers (as inventories/lab/group_vars/all/lab.yml).")

    example_vault = dest / "group_vars" / "all" / "vault.yml.example"
    vault = _load(example_vault)
    for var, secret in LAB_SECRETS.items():
        vault[var] = lab.secret(secret)
    example_vault.unlink()
    _dump(dest / "group_vars" / "all" / "vault.yml", vault, "Plain text, the lab's secrets (test only).")

    haproxy = _load(dest / "group_vars" / "haproxy.yml")
    haproxy.update(LAB_HAPROXY_LIMITS)
    _dump(dest / "group_vars" / "haproxy.yml", haproxy)
    (dest / "files").mkdir(exist_ok=True)
    pki = lab.state_dir / "pki"
    for host in tree["children"]["haproxy"]["hosts"]:
        shutil.copy(pki / ("%s.pem" % host), dest / "files" / ("%s.pem" % host))
    shutil.copy(pki / "ca.crt", dest / "files" / "ca.pem")
    for host in tree["children"]["prometheus"]["hosts"]:
        for suffix in ("crt", "key"):
            shutil.copy(pki / ("%s.%s" % (host, suffix)), dest / "files" / ("%s.%s" % (host, suffix)))

    for rel, names in DROPPED_VARS.items():
        data = _load(dest / rel)
        for name in names:
            data.pop(name, None)
        _dump(dest / rel, data)
    return dest


def add_vars(inventory, rel, variables):
    """Add (or replace) variables in one group_vars file of the built inventory."""
    path = Path(inventory) / rel
    data = _load(path) if path.exists() else {}
    data.update(variables)
    _dump(path, data)


def demo_app_defaults():
    """roles/demo_app's stand-in services (name -> port), read from the role's defaults."""
    return dict(_load(ROOT / "roles" / "demo_app" / "defaults" / "main.yml")["demo_app_services"])


def haproxy_default_backends():
    """The haproxy role's seed backends (haproxy_backends), read from its defaults."""
    return list(_load(ROOT / "roles" / "haproxy" / "defaults" / "main.yml")["haproxy_backends"])


def dumps(inventory):
    """The built inventory's files, for a failure message (secrets masked)."""
    out = []
    for path in sorted(Path(inventory).rglob("*.yml")):
        text = path.read_text()
        if path.name == "vault.yml":
            text = json.dumps(sorted(_load(path)))
        out.append("== %s\n%s" % (path.relative_to(inventory), text))
    return "\n".join(out)
