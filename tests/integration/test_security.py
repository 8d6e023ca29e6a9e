"""Security properties of the converged lab (site.yml).

    ACGS_LAB=<lab> .venv/bin/pytest -q tests/integration/test_security.py

- the HAProxy stats page, Prometheus and Alertmanager answer 401 without (or with wrong) credentials;
- HAProxy's admin socket is not world-accessible and the TCP runtime socket listens on 127.0.0.1 only;
- every service runs as its own unprivileged user (HAProxy's master stays root, its workers do not);
- no lab secret (lab/.state/<lab>/*.secret, the load balancer's private key) appears in the output of
  `ansible-playbook -vvv site.yml --check --diff` nor of `ansible-playbook site.yml --diff`, nor in a
  world-readable file under /etc (or the services' directories) on any host;
- TLS on 443 refuses TLS 1.0/1.1 and accepts TLS 1.2 and 1.3, verified with the lab CA.

The two playbook runs take a few minutes; each runs once per module and its output serves every
secret check.
"""
import base64
import socket
import ssl
import urllib.error
import urllib.request

import pytest

HOSTS = ("lb1", "mon1", "app1", "app2")
SOCKET = "/run/haproxy/admin.sock"
RUNTIME_TCP_PORT = 9999
# Where secrets could be written on the hosts: configuration, and the services' own directories.
SECRET_DIRS = "/etc /opt /var/lib/haproxy /var/lib/grafana /var/lib/prometheus /usr/local"


def http_status(url, auth=None):
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


# --- authentication -------------------------------------------------------------

WEB = {
    # name: (host, port, path, user, secret file)
    "haproxy-stats": ("lb1", 8080, "/stats", "admin", "haproxy_stats"),
    "prometheus": ("mon1", 9090, "/api/v1/status/config", "prometheus", "prometheus_web"),
    "prometheus-ui": ("mon1", 9090, "/graph", "prometheus", "prometheus_web"),
    "prometheus-metrics": ("mon1", 9090, "/metrics", "prometheus", "prometheus_web"),
    "alertmanager": ("mon1", 9093, "/api/v2/status", "alertmanager", "alertmanager_web"),
    "alertmanager-ui": ("mon1", 9093, "/", "alertmanager", "alertmanager_web"),
}


@pytest.mark.parametrize("name", sorted(WEB))
def test_web_endpoints_need_credentials(lab, name):
    host, port, path, user, secret = WEB[name]
    # Prometheus's scheme is the inventory's (https in the lab, inventories/lab/group_vars/all/tls.yml).
    base = lab.prometheus_url(host) if port == 9090 else "http://%s:%d" % (lab.addr(host), port)
    url = base + path
    assert http_status(url) == 401, "%s answered without credentials" % url
    assert http_status(url, (user, "wrong-password")) == 401, "%s accepted a wrong password" % url
    assert http_status(url, (user, lab.secret(secret))) == 200, "%s refused the inventory's credentials" % url


# --- runtime API sockets ----------------------------------------------------------

def test_admin_socket_is_not_world_accessible(lab):
    mode, owner, group, kind = lab.run("lb1", "stat -c '%%a %%U %%G %%F' %s" % SOCKET).stdout.split(None, 3)
    assert kind.strip() == "socket"
    assert int(mode, 8) & 0o007 == 0, "%s is mode %s: others may read or write it" % (SOCKET, mode)
    assert owner == "root" and group == "haproxy", (owner, group)
    # Nor can anyone else replace it: its directory is not world-writable.
    directory = lab.run("lb1", "stat -c '%%a' %s" % SOCKET.rsplit("/", 1)[0]).stdout.strip()
    assert int(directory, 8) & 0o002 == 0, directory


def test_runtime_tcp_socket_listens_on_loopback_only(lab):
    listeners = [line.split()[3] for line in lab.run("lb1", "ss -Hltn").stdout.splitlines() if line.strip()]
    runtime = [address for address in listeners if address.rsplit(":", 1)[1] == str(RUNTIME_TCP_PORT)]
    assert runtime == ["127.0.0.1:%d" % RUNTIME_TCP_PORT], listeners
    # and it is not reachable from outside the host
    with pytest.raises(OSError):
        socket.create_connection((lab.addr("lb1"), RUNTIME_TCP_PORT), timeout=3).close()


# --- service users ----------------------------------------------------------------

SERVICES = {
    # (host, systemd unit): its user; None: the unit's User=, which must not be root
    # (Debian runs Alertmanager and the node exporter as `prometheus`).
    ("lb1", "haproxy"): "haproxy",
    ("mon1", "prometheus"): "prometheus",
    ("mon1", "prometheus-alertmanager"): None,
    ("lb1", "prometheus-node-exporter"): None,
    ("mon1", "prometheus-node-exporter"): None,
    ("app1", "prometheus-node-exporter"): None,
    ("app2", "prometheus-node-exporter"): None,
}


@pytest.mark.parametrize("key", sorted(SERVICES), ids=["%s-%s" % key for key in sorted(SERVICES)])
def test_services_run_as_their_own_user(lab, key):
    host, unit = key
    expected = SERVICES[key] or lab.run(host, "systemctl show -p User --value %s" % unit).stdout.strip()
    assert expected and expected != "root", "%s on %s has no dedicated User=" % (unit, host)
    main = lab.run(host, "systemctl show -p MainPID --value %s" % unit).stdout.strip()
    assert main not in ("", "0"), "%s is not running on %s" % (unit, host)
    # The unit's main process and its children.
    rows = [line.split() for line in lab.run(host, "ps -eo pid=,ppid=,user:32=").stdout.splitlines() if line.strip()]
    users = {pid: user for pid, ppid, user in rows if main in (pid, ppid)}
    assert main in users, "no process %s on %s" % (main, host)
    if unit == "haproxy":
        # Master-worker: the master keeps root to reload; the workers, which serve traffic, do not.
        workers = {pid: user for pid, user in users.items() if pid != main}
        assert users[main] == "root" and workers, rows
        assert set(workers.values()) == {expected}, rows
        global_user = lab.run(host, "grep -E '^\\s*user ' /etc/haproxy/haproxy.cfg").stdout.split()
        assert global_user == ["user", "haproxy"], global_user
    else:
        assert set(users.values()) == {expected}, rows


# --- secrets ----------------------------------------------------------------------

def secrets(lab):
    """Every secret the lab inventory generates, plus the load balancer's TLS private key."""
    found = {path.stem: path.read_text().split()[0] for path in sorted(lab.state_dir.glob("*.secret"))}
    assert {"haproxy_stats", "prometheus_web", "alertmanager_web", "grafana_admin"} <= set(found), sorted(found)
    key = (lab.state_dir / "pki" / "lb1.key")
    if key.exists():
        body = [line for line in key.read_text().splitlines() if line and not line.startswith("-----")]
        found["lb1.key"] = max(body, key=len)
    return found


def leaks(text, values):
    return sorted(name for name, value in values.items() if value in text)


@pytest.fixture(scope="module")
def check_run(lab):
    """One `ansible-playbook -vvv site.yml --check --diff` (slow: every module's arguments are printed)."""
    result = lab.playbook("site.yml", "-vvv", "--check", "--diff", check=False, timeout=1800)
    return result


@pytest.fixture(scope="module")
def diff_run(lab):
    result = lab.playbook("site.yml", "--diff", check=False, timeout=1800)
    return result


def test_no_secret_in_verbose_check_diff_output(lab, check_run):
    output = check_run.stdout + check_run.stderr
    assert "PLAY RECAP" in output, output[-3000:]
    assert leaks(output, secrets(lab)) == []
    assert check_run.returncode == 0, check_run.stdout[-3000:] + check_run.stderr[-2000:]


def test_no_secret_in_diff_run_output(lab, diff_run):
    output = diff_run.stdout + diff_run.stderr
    assert "PLAY RECAP" in output, output[-3000:]
    assert leaks(output, secrets(lab)) == []
    assert diff_run.returncode == 0, diff_run.stdout[-3000:] + diff_run.stderr[-2000:]


@pytest.mark.parametrize("host", HOSTS)
def test_no_secret_in_world_readable_files(lab, host):
    exposed = []
    for name, value in secrets(lab).items():
        # Files holding the secret, with their mode; any file others may read is a leak.
        out = lab.run(host, "grep -rlsF -e '%s' %s 2>/dev/null | xargs -r stat -c '%%a %%U:%%G %%n'"
                      % (value, SECRET_DIRS), check=False).stdout
        for line in out.splitlines():
            mode, owner, path = line.split(" ", 2)
            if int(mode, 8) & 0o004:
                exposed.append("%s: %s (mode %s, %s)" % (name, path, mode, owner))
    assert not exposed, exposed


# --- TLS --------------------------------------------------------------------------

def tls_connect(lab, minimum, maximum, verify=True):
    if verify:
        context = ssl.create_default_context(cafile=str(lab.state_dir / "pki" / "ca.crt"))
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            context.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
    context.minimum_version = minimum
    context.maximum_version = maximum
    address = lab.addr("lb1")
    with socket.create_connection((address, 443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=address) as tls:
            return tls.version()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_below_1_2_is_refused(lab):
    with pytest.raises(ssl.SSLError):
        tls_connect(lab, ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, verify=False)


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls_1_2_and_1_3_are_accepted_with_the_lab_ca(lab, version):
    wanted = getattr(ssl.TLSVersion, version)
    assert tls_connect(lab, wanted, wanted) == version.replace("_", ".")
