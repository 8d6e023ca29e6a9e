# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: keepalived_preflight_errors
short_description: Every problem the keepalived role's preflight finds in its variables
version_added: 0.1.0
description:
  - Checks the variables of the C(acgs.haproxy_stack.keepalived) role (the VRRP version and password, the host's place
    in O(keepalived_group), the virtual IPs, priorities, timings, the health checks, and the addresses unicast VRRP
    needs from facts) and returns one message per problem, each naming the variable and the fix.
  - Every problem is reported, in a fixed order, so a user fixes them all in one go. An empty list means
    the variables are good.
  - The priority of the last host of the group is checked on every host, so a bad step fails before any
    host changes.
  - Values are read as the role's templates read them, for example a count is taken as an integer where
    it can be converted and counts as V(0) where it cannot.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  _input:
    description:
      - The role's variables, by name.
      - "Public ones: V(keepalived_vrrp_version), V(keepalived_auth_pass), V(keepalived_group), V(keepalived_vips),
        V(keepalived_priority_base), V(keepalived_priority_step), V(keepalived_advert_int), V(keepalived_preempt_delay),
        V(keepalived_check_script), V(keepalived_check_interval), V(keepalived_check_timeout), V(keepalived_check_fall),
        V(keepalived_check_rise), V(keepalived_fast_check_enabled), V(keepalived_check_port), V(keepalived_check_uri),
        V(keepalived_fast_check_interval), V(keepalived_fast_check_timeout), V(keepalived_fast_check_fall),
        V(keepalived_fast_check_rise), V(keepalived_track_process), V(keepalived_restart_sec) and
        V(keepalived_unicast); and V(inventory_hostname)."
      - "Derived ones (C(vars/main.yml)): V(_keepalived_group_hosts), the hosts of the group in order;
        V(_keepalived_instances), the VIPs with every field filled in (C(name), C(address), C(prefix),
        C(virtual_router_id), C(interface)); V(_keepalived_address), this host's address from facts;
        V(_keepalived_peers), the other hosts of the group; V(_keepalived_peer_addresses), the addresses facts give
        for them."
      - A missing V(keepalived_auth_pass) counts as not set; any other missing key is an error.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the keepalived variables
  ansible.builtin.assert:
    that: _errors | length == 0
    fail_msg: "{{ _errors | join(' ') }}"
    quiet: true
  vars:
    _errors: "{{ _keepalived_preflight_input | acgs.haproxy_stack.keepalived_preflight_errors }}"
"""

RETURN = r"""
_value:
  description:
    - One message per problem, each naming the variable and how to fix it; empty when there is none.
    - "Order: the VRRP version and (VRRP 2) password, the group, the VIPs, priorities, VRRP timings, the health
      checks, process tracking, the restart delay, unicast addresses."
  type: list
  elements: str
"""


from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._preflight import (
    run_rules, to_int as _int, to_float as _float, matches as _matches, unique as _unique, text as _text,
)

# The variables the rules read; keepalived_auth_pass has no default, so it may be missing.
KEYS = (
    "keepalived_vrrp_version", "keepalived_fast_check_enabled", "keepalived_check_port", "keepalived_check_uri",
    "keepalived_fast_check_interval", "keepalived_fast_check_timeout", "keepalived_fast_check_fall",
    "keepalived_fast_check_rise", "keepalived_track_process", "keepalived_restart_sec", "inventory_hostname",
    "keepalived_group", "_keepalived_group_hosts", "keepalived_vips", "_keepalived_instances",
    "keepalived_priority_base", "keepalived_priority_step", "keepalived_advert_int", "keepalived_preempt_delay",
    "keepalived_check_script", "keepalived_check_interval", "keepalived_check_timeout", "keepalived_check_fall",
    "keepalived_check_rise", "keepalived_unicast", "_keepalived_address", "_keepalived_peers",
    "_keepalived_peer_addresses",
)
IPV4_PATTERN = r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$"
DIGITS_PATTERN = r"^[0-9]+$"
# keepalived takes VRRP 3 advert intervals in hundredths of a second, up to 40.95 s.
CENTISECONDS_PATTERN = r"^[0-9]+(\.[0-9]{1,2})?$"
PROCESS_NAME_PATTERN = r"^[A-Za-z0-9_.+-]{1,15}\Z"
# The path goes into a systemd unit and HAProxy's configuration: no spaces, %, # or newlines.
CHECK_URI_PATTERN = r"^/[A-Za-z0-9._~/-]*\Z"


def _in_range(value, low, high):
    """A whole number written in digits only, from low to high."""
    return _matches(DIGITS_PATTERN, value) and low <= _int(value) <= high


def priority_last(v):
    """The priority of the last host of keepalived_group (the lowest)."""
    return (_int(v["keepalived_priority_base"])
            - max(len(v["_keepalived_group_hosts"]) - 1, 0) * _int(v["keepalived_priority_step"]))


# --- Rules: each takes the variables and returns its messages. ----------------------------------

def _seconds(value):
    """A number of seconds, or None when it is not one (true is not 1 s here)."""
    return None if isinstance(value, bool) else _float(value, None)


def vrrp_version(v):
    if str(v["keepalived_vrrp_version"]) in ("2", "3"):
        return []
    return ["keepalived_vrrp_version must be 3 (sub-second adverts) or 2 (whole seconds, PASS authentication), "
            "not %r." % (v["keepalived_vrrp_version"],)]


def auth_pass(v):
    if str(v["keepalived_vrrp_version"]) != "2" or 0 < len(_text(v.get("keepalived_auth_pass"))) <= 8:
        return []
    return ["keepalived_auth_pass must be 1-8 characters with keepalived_vrrp_version 2 (VRRP PASS authentication); "
            "there is no default: set it (vault or a lookup), or use VRRP 3."]


def host_in_group(v):
    if v["inventory_hostname"] in v["_keepalived_group_hosts"]:
        return []
    return ["%s is not in keepalived_group (%s): the VRRP peers and priorities come from that group."
            % (v["inventory_hostname"], v["keepalived_group"])]


def vips_given(v):
    return [] if len(v["keepalived_vips"]) > 0 else ["keepalived_vips is empty: give at least one {address, virtual_router_id}."]


def vips_valid(v):
    """Each VIP's problems, joined in one message."""
    problems = []
    for vip in v["_keepalived_instances"]:
        for rule in VIP_RULES:
            problem = rule(vip)
            if problem:
                problems.append(problem)
    return ["keepalived_vips: %s." % "; ".join(problems)] if problems else []


def vips_unique(v):
    instances = v["_keepalived_instances"]
    for field in ("virtual_router_id", "name"):
        if len(_unique([vip.get(field) for vip in instances])) != len(instances):
            return ["keepalived_vips: virtual_router_id and name must be unique."]
    return []


def priorities(v):
    base, step, last = v["keepalived_priority_base"], v["keepalived_priority_step"], priority_last(v)
    if _int(base) <= 254 and _int(step) >= 1 and last >= 1:
        return []
    return ["keepalived_priority_base (%s, at most 254) and keepalived_priority_step (%s, at least 1) give the last host "
            "of %s priority %s: priorities must be 1-254." % (base, step, v["keepalived_group"], last)]


def timings(v):
    advert, delay = v["keepalived_advert_int"], v["keepalived_preempt_delay"]
    if str(v["keepalived_vrrp_version"]) == "2":
        advert_ok, advert_range = _in_range(advert, 1, 255), "whole seconds 1-255 with VRRP 2"
    else:
        advert_ok = _matches(CENTISECONDS_PATTERN, advert) and 0.01 <= (_seconds(advert) or 0) <= 40.95
        advert_range = "0.01-40.95 s in steps of 0.01 with VRRP 3"
    if advert_ok and 0 <= _int(delay) <= 1000:
        return []
    return ["keepalived_advert_int (%s) must be %s and keepalived_preempt_delay (%s) 0-1000 s."
            % (advert, advert_range, delay)]


def check(v):
    counts = ("keepalived_check_interval", "keepalived_check_timeout", "keepalived_check_fall", "keepalived_check_rise")
    if _text(v["keepalived_check_script"]).strip() and all(_int(v[key]) >= 1 for key in counts):
        return []
    return ["keepalived_check_script must be a command; keepalived_check_interval, keepalived_check_timeout, "
            "keepalived_check_fall and keepalived_check_rise at least 1."]


def fast_check(v):
    if not v["keepalived_fast_check_enabled"]:
        return []
    interval, timeout = _seconds(v["keepalived_fast_check_interval"]), _seconds(v["keepalived_fast_check_timeout"])
    counts = ("keepalived_fast_check_fall", "keepalived_fast_check_rise")
    if (interval is not None and 0.01 <= interval <= 10 and timeout is not None and 0.01 <= timeout <= 10
            and all(_int(v[key]) >= 1 for key in counts)):
        return []
    return ["keepalived_fast_check_interval and keepalived_fast_check_timeout must be 0.01-10 s, "
            "keepalived_fast_check_fall and keepalived_fast_check_rise at least 1 (or keepalived_fast_check_enabled: false)."]


def check_endpoint(v):
    problems = []
    if not _in_range(v["keepalived_check_port"], 1, 65535):
        problems.append("keepalived_check_port (%s) must be a port, 1-65535" % (v["keepalived_check_port"],))
    if not _matches(CHECK_URI_PATTERN, v["keepalived_check_uri"]):
        problems.append("keepalived_check_uri (%r) must be a path starting with / of letters, digits and ._~/-"
                        % (v["keepalived_check_uri"],))
    return ["; ".join(problems) + "."] if problems else []


def track_process(v):
    name = _text(v["keepalived_track_process"])
    if name == "" or _matches(PROCESS_NAME_PATTERN, name):
        return []
    return ["keepalived_track_process (%r) must be a process name as the kernel shows it (at most 15 characters, "
            "no spaces), such as haproxy, or \"\" to turn process tracking off." % (name,)]


def restart_sec(v):
    seconds = _seconds(v["keepalived_restart_sec"])
    if seconds is not None and 0 < seconds <= 60:
        return []
    return ["keepalived_restart_sec (%s) must be more than 0 and at most 60 s." % (v["keepalived_restart_sec"],)]


def unicast_addresses(v):
    if not v["keepalived_unicast"] or (len(_text(v["_keepalived_address"])) > 0
                                       and len(v["_keepalived_peer_addresses"]) == len(v["_keepalived_peers"])):
        return []
    return ["keepalived_unicast needs the addresses of %s and its peers (%s) from facts (ansible_default_ipv4): "
            "gather network facts on keepalived_group (%s) earlier in the play."
            % (v["inventory_hostname"], ", ".join(v["_keepalived_peers"]), v["keepalived_group"])]


# --- Rules on one VIP (of _keepalived_instances): each returns a problem or "". -----------------

def vip_address(vip):
    return "" if _matches(IPV4_PATTERN, vip["address"]) else "address %r is not an IPv4 address" % (vip["address"],)


def vip_prefix(vip):
    return "" if _in_range(vip["prefix"], 1, 32) else "prefix %r of %s must be 1-32" % (vip["prefix"], vip["address"])


def vip_router_id(vip):
    if _in_range(vip["virtual_router_id"], 1, 255):
        return ""
    return "virtual_router_id %r of %s must be 1-255" % (vip["virtual_router_id"], vip["address"])


def vip_interface(vip):
    if len(_text(vip["interface"])) > 0:
        return ""
    return "no interface for %s: set keepalived_interface or gather facts (default IPv4 route)" % vip["address"]


# In the order their messages come.
RULES = (vrrp_version, auth_pass, host_in_group, vips_given, vips_valid, vips_unique, priorities, timings, check,
         fast_check, check_endpoint, track_process, restart_sec, unicast_addresses)
VIP_RULES = (vip_address, vip_prefix, vip_router_id, vip_interface)


def keepalived_preflight_errors(variables):
    return run_rules("keepalived_preflight_errors", variables, KEYS, RULES)


class FilterModule(object):
    def filters(self):
        return {"keepalived_preflight_errors": keepalived_preflight_errors}
