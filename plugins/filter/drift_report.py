# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: drift_report
short_description: Summarize drift items into a table, per-host counts and Prometheus textfile metrics
version_added: 0.1.0
description:
  - Takes the drift items found by C(playbooks/drift_check.yml) (configuration and runtime) and returns the
    report a person reads (a text table), the counts per host and component, and, per host, the content of the
    node exporter textfile collector file.
  - Items only carry names (host, component, what differs); the filter never sees file content.
author:
  - acgs.haproxy_stack developers (@acgs)
positional: hosts, components, timestamp
options:
  _input:
    description:
      - Drift items, dicts with C(host), C(component), C(kind) (V(config) or V(runtime)) and C(what).
    type: list
    elements: dict
    required: true
  hosts:
    description:
      - Every host checked. Hosts without items get zero counts (and a metrics file saying so).
    type: list
    elements: str
    required: true
  components:
    description:
      - Every component checked. Each host gets one series per component and kind, zero included,
        so an alert resolves once the drift is gone.
    type: list
    elements: str
    required: true
  timestamp:
    description:
      - Unix time of the run, for C(acgs_drift_last_run_timestamp_seconds).
    type: float
    required: true
"""

EXAMPLES = r"""
- name: Build the report
  ansible.builtin.set_fact:
    report: "{{ items | acgs.haproxy_stack.drift_report(groups['all'], ['haproxy', 'prometheus'], now(utc=true).timestamp()) }}"
"""

RETURN = r"""
_value:
  description: The report.
  type: dict
  contains:
    items:
      description: The items, sorted by host, component, kind and what; duplicates removed.
      type: list
      elements: dict
    total:
      description: Number of items.
      type: int
    counts:
      description: "Per host: {component: {config: N, runtime: N}}, every checked component included."
      type: dict
    table:
      description: The report as a text table (HOST, COMPONENT, KIND, WHAT DIFFERS), or a line saying no drift.
      type: str
    metrics:
      description: "Per host: the content of the textfile collector file (Prometheus text format)."
      type: dict
"""

from ansible.errors import AnsibleFilterError

KINDS = ("config", "runtime")


def _escape(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _table(items):
    if not items:
        return "No drift: every host matches the inventory."
    rows = [("HOST", "COMPONENT", "KIND", "WHAT DIFFERS")]
    rows += [(i["host"], i["component"], i["kind"], i["what"]) for i in items]
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    lines = ["  ".join(r[c].ljust(widths[c]) for c in range(3)) + "  " + r[3] for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 12)
    return "\n".join(line.rstrip() for line in lines)


def _metrics(host, counts, timestamp, total):
    lines = [
        "# HELP acgs_drift_items Items where this host no longer matches the inventory (acgs.haproxy_stack drift_check).",
        "# TYPE acgs_drift_items gauge",
    ]
    for component in sorted(counts):
        for kind in KINDS:
            lines.append('acgs_drift_items{component="%s",kind="%s"} %d' % (_escape(component), kind, counts[component][kind]))
    lines += [
        "# HELP acgs_drift_last_run_timestamp_seconds When the last drift check of this host finished.",
        "# TYPE acgs_drift_last_run_timestamp_seconds gauge",
        "acgs_drift_last_run_timestamp_seconds %.3f" % timestamp,
    ]
    return "\n".join(lines) + "\n"


def drift_report(items, hosts, components, timestamp):
    if not isinstance(items, list):
        raise AnsibleFilterError("drift_report: the input must be a list of items, got %s" % type(items).__name__)
    clean = []
    for item in items:
        try:
            entry = {k: str(item[k]) for k in ("host", "component", "kind", "what")}
        except (KeyError, TypeError):
            raise AnsibleFilterError("drift_report: every item needs host, component, kind and what, got %r" % (item,))
        if entry["kind"] not in KINDS:
            raise AnsibleFilterError("drift_report: kind must be config or runtime, got %r" % entry["kind"])
        if entry not in clean:
            clean.append(entry)
    clean.sort(key=lambda i: (i["host"], i["component"], i["kind"], i["what"]))
    all_hosts = sorted(set(hosts) | set(i["host"] for i in clean))
    all_components = sorted(set(components) | set(i["component"] for i in clean))
    counts = {}
    for host in all_hosts:
        counts[host] = dict((c, dict((k, 0) for k in KINDS)) for c in all_components)
    for item in clean:
        counts[item["host"]][item["component"]][item["kind"]] += 1
    metrics = {}
    for host in all_hosts:
        total = sum(i["host"] == host for i in clean)
        metrics[host] = _metrics(host, counts[host], float(timestamp), total)
    return {"items": clean, "total": len(clean), "counts": counts, "table": _table(clean), "metrics": metrics}


class FilterModule(object):
    def filters(self):
        return {"drift_report": drift_report}
