"""Alertmanager converged by molecule (one host: no cluster listener, basic auth on)."""
import base64
import json

CONFIG = "/etc/prometheus/alertmanager.yml"
AUTH = base64.b64encode(b"molecule:molecule-secret-123").decode()


def curl(host, path, auth=True):
    """Body of GET path on Alertmanager, or the HTTP status code when it is not 200."""
    header = "-H 'Authorization: Basic %s'" % AUTH if auth else ""
    out = host.check_output("curl -s %s -w '\\n%%{http_code}' http://127.0.0.1:9093%s" % (header, path))
    body, _, code = out.rpartition("\n")
    return body if code == "200" else code


def test_service_and_ports(host):
    assert host.service("prometheus-alertmanager").is_running
    assert host.service("prometheus-alertmanager").is_enabled
    assert host.socket("tcp://0.0.0.0:9093").is_listening or host.socket("tcp://:::9093").is_listening
    # Single host: clustering disabled, no gossip port.
    assert not host.socket("tcp://0.0.0.0:9094").is_listening and not host.socket("tcp://:::9094").is_listening


def test_flags(host):
    args = host.file("/etc/default/prometheus-alertmanager").content_string
    assert "--config.file=/etc/prometheus/alertmanager.yml" in args
    assert "--web.config.file=/etc/prometheus/alertmanager-web.yml" in args
    assert "--cluster.listen-address= " in args or args.rstrip().endswith('--cluster.listen-address="')


def test_config_valid_and_protected(host):
    assert "SUCCESS" in host.check_output("amtool check-config %s" % CONFIG)
    config = host.file(CONFIG)
    assert config.mode == 0o640 and config.group == "prometheus"
    assert "mail-secret-456" in config.content_string  # Alertmanager needs it; only root/prometheus read it
    web = host.file("/etc/prometheus/alertmanager-web.yml")
    assert web.mode == 0o640 and "\nbasic_auth_users:\n" in web.content_string
    assert "$2b$10$" in web.content_string and "molecule-secret-123" not in web.content_string


def test_api_requires_auth(host):
    assert curl(host, "/api/v2/status", auth=False).strip() == "401"
    status = json.loads(curl(host, "/api/v2/status"))
    assert status["cluster"]["status"] == "disabled"
    names = {r["name"] for r in json.loads(curl(host, "/api/v2/receivers"))}
    # The scenario's four, and the role's own receiver for the always-firing Watchdog.
    assert names == {"default", "pager", "mail", "chat", "acgs-watchdog"}


def test_started_once_by_the_role(host):
    """The package must not start the service with Debian's defaults (no auth) before the role's
    configuration lands (policy-rc.d): one start since boot, by the role's service task, and none
    by the idempotence and check-mode runs."""
    starts = host.check_output("journalctl -b -u prometheus-alertmanager.service -o cat | grep -c '^Started ' || true")
    assert starts == "1", "prometheus-alertmanager.service started %s times since boot, expected 1" % starts
