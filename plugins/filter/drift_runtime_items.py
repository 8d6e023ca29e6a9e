# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: drift_runtime_items
short_description: The runtime drift items of one host (services, HAProxy servers, Prometheus targets)
version_added: 0.1.0
description:
  - Used by C(playbooks/drift_check.yml) on every host. Turns what the host reported (its services, HAProxy's
    server states, Prometheus's active targets) into drift items, dicts with C(host), C(component),
    C(kind=runtime) and C(what), the input of P(acgs.haproxy_stack.drift_report#filter).
  - "A unit the host should run (the RV(_value) units of the components whose C(group) is one of O(groups),
    from the component registry C(_common_components)) is an item when it is not installed, not running, or
    disabled or masked."
  - A HAProxy server is an item when its administrative state is not C(ready) (MAINT, DRAIN) or its weight
    differs from the configured one.
  - A Prometheus target that is down is an item of the host it scrapes (its C(host) label, else its
    C(instance)), under the component its job belongs to (O(job_components)).
  - Only the components in O(checked) give items.
  - The same file has two more filters for the same playbook, C(drift_config_items) (the items of the
    check-mode run's record) and C(drift_collect_items) (every host's items, and an item for each host whose
    runtime state could not be read).
author:
  - acgs.haproxy_stack developers (@acgs)
positional: host, components, groups, checked
options:
  _input:
    description:
      - The host's services, as C(ansible.builtin.service_facts) returns them in C(ansible_facts.services)
        (unit name to a dict with C(state) and C(status)).
    type: dict
    required: true
  host:
    description: The host's inventory name, the C(host) of its service and HAProxy items.
    type: str
    required: true
  components:
    description:
      - The component registry, C(_common_components) of the private role C(_common) (component name to a dict
        with at least C(group) and C(units)).
    type: dict
    required: true
  groups:
    description: The host's groups (C(group_names)); a component is checked where its C(group) is one of them.
    type: list
    elements: str
    required: true
  checked:
    description: The components this run checks; items of other components are left out.
    type: list
    elements: str
    required: true
  servers:
    description:
      - HAProxy's servers, RV(acgs.haproxy_stack.haproxy_info#module:servers) (C(backend), C(name),
        C(admin_state), C(weight), C(initial_weight)). Read only where C(haproxy) is checked.
    type: list
    elements: dict
    default: []
  targets:
    description:
      - Prometheus's active targets, C(data.activeTargets) of C(GET /api/v1/targets?state=active)
        (C(health), C(labels), C(lastError)).
    type: list
    elements: dict
    default: []
  job_components:
    description:
      - Component of each Prometheus job's targets; a job not named here is its own component.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Collect this host's runtime drift
  ansible.builtin.set_fact:
    drift_items: >-
      {{ ansible_facts.services | acgs.haproxy_stack.drift_runtime_items(
           inventory_hostname, _common_components, group_names, ['haproxy', 'prometheus'],
           servers=haproxy.servers | default([]),
           targets=targets.json.data.activeTargets | default([]),
           job_components={'haproxy': 'haproxy', 'node': 'node_exporter'}) }}

- name: The check-mode run's record as drift items
  ansible.builtin.set_fact:
    config_items: "{{ (lookup('ansible.builtin.file', 'collector.json') | from_json)['items']
                      | acgs.haproxy_stack.drift_config_items }}"

- name: Every host's items (set as drift_items on each host), config items first
  ansible.builtin.set_fact:
    all_items: "{{ config_items | acgs.haproxy_stack.drift_collect_items(ansible_play_hosts_all, hostvars) }}"
"""

RETURN = r"""
_value:
  description:
    - Drift items, dicts with C(host), C(component), C(kind) (V(runtime)) and C(what), for example
      V(service prometheus.service is failed), V(server web/app1 is in MAINT),
      V(server web/app2 has weight 50, configured 100),
      V(Prometheus target node 10.0.0.5:9100 is down) followed by its last scrape error.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence
from ansible.module_utils.six import string_types
from ansible.module_utils.six.moves.collections_abc import Mapping

CONFIG_WHAT = {
    "changed": lambda i: "would change: %s%s" % (i["task"], " (%s)" % i["path"] if i.get("path") else ""),
    "failed": lambda i: "check failed: %s" % i["task"],
    "unreachable": lambda i: "unreachable",
}
UNREADABLE = "runtime state could not be read (host unreachable or check failed)"


def _mapping(value, what):
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AnsibleFilterError("%s must be a dict, got %s" % (what, type(value).__name__))
    return value


def _list(value, what):
    if value is None:
        return []
    if isinstance(value, string_types) or not is_sequence(value):
        raise AnsibleFilterError("%s must be a list, got %s" % (what, type(value).__name__))
    return list(value)


def _units(components, groups):
    """(component, unit) the host should run, in the registry's order."""
    out = []
    for component, entry in _mapping(components, "drift_runtime_items: components").items():
        entry = _mapping(entry, "drift_runtime_items: components.%s" % component)
        if entry.get("group") in groups:
            for unit in _list(entry.get("units"), "drift_runtime_items: components.%s.units" % component):
                out.append((component, unit))
    return out


def _service_items(services, components, groups, checked):
    out = []
    for component, unit in _units(components, groups):
        if component not in checked:
            continue
        service = services.get(unit)
        if service is None:
            out.append((component, "service %s is not installed" % unit))
            continue
        if service.get("state") != "running":
            out.append((component, "service %s is %s" % (unit, service.get("state"))))
        if service.get("status") in ("disabled", "masked"):
            out.append((component, "service %s is %s" % (unit, service.get("status"))))
    return out


def _server_items(servers):
    out = []
    for server in servers:
        name = "%s/%s" % (server["backend"], server["name"])
        if server["admin_state"] != "ready":
            out.append(("haproxy", "server %s is in %s" % (name, str(server["admin_state"]).upper())))
        if server["weight"] != server["initial_weight"]:
            out.append(("haproxy", "server %s has weight %s, configured %s"
                        % (name, server["weight"], server["initial_weight"])))
    return out


def _target_items(targets, job_components, checked):
    out = []
    for target in targets:
        if target.get("health") != "down":
            continue
        labels = target.get("labels") or {}
        job = labels.get("job")
        component = job_components.get(job, job)
        if component not in checked:
            continue
        what = "Prometheus target %s %s is down" % (job, labels.get("instance"))
        if target.get("lastError"):
            what += ": %s" % target["lastError"]
        out.append({"host": labels.get("host") or labels.get("instance"), "component": component,
                    "kind": "runtime", "what": what})
    return out


def drift_runtime_items(services, host, components, groups, checked, servers=None, targets=None,
                        job_components=None):
    services = _mapping(services, "drift_runtime_items: the services")
    groups = _list(groups, "drift_runtime_items: groups")
    checked = _list(checked, "drift_runtime_items: checked")
    servers = _list(servers, "drift_runtime_items: servers")
    targets = _list(targets, "drift_runtime_items: targets")
    job_components = _mapping(job_components, "drift_runtime_items: job_components")
    found = _service_items(services, components, groups, checked)
    if "haproxy" in checked:
        try:
            found += _server_items(servers)
        except (KeyError, TypeError) as exc:
            raise AnsibleFilterError("drift_runtime_items: every server needs backend, name, admin_state, weight "
                                     "and initial_weight (haproxy_info's servers): %s" % exc)
    items = [{"host": host, "component": c, "kind": "runtime", "what": w} for c, w in found]
    return items + _target_items(targets, job_components, checked)


def drift_config_items(records):
    """The drift_collector callback's records ({host, component, task, path, status}) as config items."""
    out = []
    for record in _list(records, "drift_config_items: the input"):
        try:
            what = CONFIG_WHAT[record["status"]](record)
            out.append({"host": record["host"], "component": record["component"], "kind": "config", "what": what})
        except (KeyError, TypeError):
            raise AnsibleFilterError("drift_config_items: a record needs host, component, task and a status of "
                                     "changed, failed or unreachable, got %r" % (record,))
    return out


def drift_collect_items(config_items, hosts, hostvars, runtime=True, fact="_drift_runtime_items"):
    """config_items, then each host's runtime items (the fact it set), of the checked hosts only.

    A host that did not set the fact (unreachable, or a task failed before it) gives one item saying so.
    """
    hosts = _list(hosts, "drift_collect_items: hosts")
    out = list(_list(config_items, "drift_collect_items: the input"))
    for host in hosts if runtime else []:
        facts = hostvars[host] if host in hostvars else {}
        items = facts.get(fact) if fact in facts else None
        if items is None:
            out.append({"host": host, "component": "host", "kind": "runtime", "what": UNREADABLE})
        else:
            out.extend(_list(items, "drift_collect_items: %s of %s" % (fact, host)))
    return [i for i in out if i.get("host") in hosts]


class FilterModule(object):
    def filters(self):
        return {
            "drift_runtime_items": drift_runtime_items,
            "drift_config_items": drift_config_items,
            "drift_collect_items": drift_collect_items,
        }
