"""keepalived runs a validated configuration and, alone in its group, holds the VIP."""
import time


def test_running_and_enabled(host):
    service = host.service("keepalived")
    assert service.is_running and service.is_enabled


def test_config_is_root_only_and_valid(host):
    conf = host.file("/etc/keepalived/keepalived.conf")
    assert conf.user == "root" and conf.mode == 0o600
    host.check_output("keepalived -t -f /etc/keepalived/keepalived.conf")
    content = conf.content_string
    assert "virtual_router_id 250" in content and "priority 150" in content
    assert "version 3" in content and "advert_int 0.2" in content and "authentication" not in content
    assert 'script "/etc/keepalived/check_haproxy"' in content
    check = host.file("/etc/keepalived/check_haproxy")
    assert check.mode == 0o755 and "true" in check.content_string


def test_master_holds_the_vip(host):
    for _ in range(30):
        if "192.0.2.250/32" in host.check_output("ip -o -4 addr show"):
            return
        time.sleep(1)
    raise AssertionError("192.0.2.250 not added: %s" % host.check_output("journalctl -u keepalived --no-pager | tail -20"))


def test_unit_restarts_and_releases_the_vip_on_stop(host):
    """The drop-in: restart after a crash or a kill, and ExecStopPost removes the VIP."""
    dropin = host.file("/etc/systemd/system/keepalived.service.d/acgs.conf").content_string
    assert "Restart=on-failure" in dropin and "ExecStopPost=-/etc/keepalived/release_vips" in dropin
    assert "ip -4 addr del 192.0.2.250/32 dev" in host.file("/etc/keepalived/release_vips").content_string
    assert host.run("systemctl show -p Restart --value keepalived").stdout.strip() == "on-failure"


def test_vip_guard_drops_connections_nothing_listens_for(host):
    """The nftables table that drops, instead of refusing, SYNs to a VIP with no listener."""
    table = host.check_output("nft list table inet acgs_vip_guard")
    assert "192.0.2.250" in table and "socket transparent 0 accept" in table and "drop" in table
