"""keepalived runs a validated configuration and, alone in its group, holds the VIP."""
import time

import pytest


@pytest.fixture()
def vrid(host):
    """The host's virtual router (and the last octet of its VIP): 250 + molecule_platform_index (molecule.yml)."""
    return 250 + host.ansible.get_variables()["molecule_platform_index"]


@pytest.fixture()
def vip(vrid):
    return "192.0.2.%d" % vrid


def test_running_and_enabled(host):
    service = host.service("keepalived")
    assert service.is_running and service.is_enabled


def test_config_is_root_only_and_valid(host, vrid):
    conf = host.file("/etc/keepalived/keepalived.conf")
    assert conf.user == "root" and conf.mode == 0o600
    host.check_output("keepalived -t -f /etc/keepalived/keepalived.conf")
    content = conf.content_string
    assert "virtual_router_id %d" % vrid in content and "priority 150" in content
    assert "version 3" in content and "advert_int 0.2" in content and "authentication" not in content
    assert 'script "/etc/keepalived/check_haproxy"' in content
    check = host.file("/etc/keepalived/check_haproxy")
    assert check.mode == 0o755 and "true" in check.content_string


def test_master_holds_the_vip(host, vip):
    for _ in range(30):
        if vip + "/32" in host.check_output("ip -o -4 addr show"):
            return
        time.sleep(1)
    raise AssertionError("%s not added: %s" % (vip, host.check_output("journalctl -u keepalived --no-pager | tail -20")))


def test_unit_restarts_and_releases_the_vip_on_stop(host, vip):
    """The drop-in: restart after a crash or a kill, and ExecStopPost removes the VIP."""
    dropin = host.file("/etc/systemd/system/keepalived.service.d/acgs.conf").content_string
    assert "Restart=on-failure" in dropin and "ExecStopPost=-/etc/keepalived/release_vips" in dropin
    assert "ip -4 addr del %s/32 dev" % vip in host.file("/etc/keepalived/release_vips").content_string
    assert host.run("systemctl show -p Restart --value keepalived").stdout.strip() == "on-failure"


def test_vip_guard_drops_connections_nothing_listens_for(host, vip):
    """The nftables table that drops, instead of refusing, SYNs to a VIP with no listener."""
    table = host.check_output("nft list table inet acgs_vip_guard")
    assert vip in table and "socket transparent 0 accept" in table and "drop" in table
