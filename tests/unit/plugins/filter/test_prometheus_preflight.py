# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The prometheus role's preflight rules (plugins/filter/prometheus_preflight.py), one table row per rule.

Every rule has at least one row whose input breaks it; each row gives the exact messages the
filter must return (the role defaults, a web password and an inventory whose hosts have facts,
with the row's overrides). The valid input passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from role_defaults import COMMON, preflight_checks, role_defaults
from ansible_collections.acgs.haproxy_stack.plugins.filter import prometheus_preflight
from ansible_collections.acgs.haproxy_stack.plugins.filter.prometheus_preflight import prometheus_preflight_errors

ROLE = Path(__file__).resolve().parents[4] / "roles" / "prometheus"
DEFAULTS = role_defaults(ROLE.name)
VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
# An inventory with every group the jobs scrape; every host has facts unless the row says otherwise.
GROUPS = {"all": ["lb1", "mon1", "app1"], "ungrouped": [], "haproxy": ["lb1"], "node_exporter": ["lb1", "mon1", "app1"],
          "prometheus": ["mon1"], "alertmanager": ["mon1"]}
FACTS = {"lb1": {"address": "192.0.2.1"}, "mon1": {"address": "192.0.2.5"}, "app1": {"address": "192.0.2.10"}}
# _prometheus_stack_rule_groups (vars/main.yml): the groups the role writes itself, by switch.
STACK_GROUPS = (("prometheus_drift_alerts_enabled", "acgs-drift"), ("prometheus_watchdog_enabled", "acgs-pipeline"))


def variables(**overrides):
    """The filter's input as tasks/preflight.yml builds it: the defaults, a password, then the overrides.

    The derived ones are built as vars/main.yml builds them, from the overridden variables: the
    jobs (their groups), the alert settings, the stack's rule groups, and each scraped host's
    ansible_default_ipv4 fact (overrides may give `facts`, the facts by host, and `groups`).
    """
    settings = dict(DEFAULTS, prometheus_web_password="s3cret", groups=GROUPS, _prometheus_tls_stats=[{}, {}],
                    _prometheus_ca_stat={}, **{key: COMMON[key] for key in ("acgs_prometheus_tls", "acgs_prometheus_ca_file")})
    facts = overrides.pop("facts", FACTS)
    settings.update(overrides)
    jobs = [{"name": job["name"], "group": settings[job["var"]], "var": job["var"]} for job in VARS["_prometheus_jobs"]]
    targets = []
    for job in jobs:
        targets.extend(h for h in settings["groups"].get(job["group"], []) if h not in targets)
    derived = {
        "_prometheus_haproxy_modes": VARS["_prometheus_haproxy_modes"],
        "_prometheus_alerts_default": VARS["_prometheus_alerts_default"],
        "_prometheus_alerts": dict(VARS["_prometheus_alerts_default"], **settings["prometheus_alerts"]),
        "_prometheus_stack_rule_groups": [{"name": name, "rules": []} for switch, name in STACK_GROUPS if settings[switch]],
        "_prometheus_jobs": jobs,
        "_prometheus_target_ipv4": {host: facts.get(host, {}) for host in targets},
    }
    result = {key: settings[key] for key in prometheus_preflight.KEYS + prometheus_preflight.OPTIONAL_KEYS
              if key in settings}
    result.update((key, value) for key, value in derived.items() if key not in overrides)
    return result


def alerts(**settings):
    return {"prometheus_alerts": settings}


NO_PASSWORD = "prometheus_web_password is empty: set it (vault or a password lookup); there is no default."
USERNAME = "prometheus_web_username must be non-empty without colon or spaces."
RETENTION = "prometheus_retention_time=%s is not a Prometheus duration (e.g. 15d, 12h, 1w)."
INTERVALS = ("prometheus_scrape_interval, prometheus_evaluation_interval and prometheus_scrape_timeout "
             "must be durations (15s).")
SIZE = "prometheus_retention_size=%s must be a size such as 10GB or empty."
TLS_OFF = ("prometheus_web_tls_cert_file/_key_file are set but acgs_prometheus_tls is false, so every client "
           "of Prometheus would speak http to a TLS port: set acgs_prometheus_tls: true, or empty them.")
TLS_FILES = ("acgs_prometheus_tls is true: set prometheus_web_tls_cert_file and prometheus_web_tls_key_file "
             "(PEM files on the control node, or on the host with prometheus_web_tls_files_on_host).")
UNREADABLE = "%s %s is missing or unreadable on %s: fix the path or its permissions."
CA = ("acgs_prometheus_ca_file %s is missing or unreadable on the control node: fix the path, "
      "or empty it to verify Prometheus with the system's trust store.")
READABLE = {"exists": True, "readable": True, "isreg": True}
UNREADABLE_FILE = {"exists": True, "readable": False, "isreg": True}
NOT_A_FILE = {"exists": True, "readable": True, "isreg": False}
CERT = "files/mon1.crt"
KEY = "files/mon1.key"


def tls(**overrides):
    """TLS on with a certificate and a key that stat found readable, then the overrides."""
    return dict({"acgs_prometheus_tls": True, "prometheus_web_tls_cert_file": CERT, "prometheus_web_tls_key_file": KEY,
                 "_prometheus_tls_stats": [READABLE, READABLE]}, **overrides)


AM_PASSWORD = "prometheus_alertmanager_username is set: set prometheus_alertmanager_password too."
KNOWN = str(list(VARS["_prometheus_alerts_default"]))
TARGET = ("prometheus_alerts.slo_availability_target must be between 0 and 1 (e.g. 0.999); "
          "its burn-rate and error-rate windows lists of two durations.")
MIN_REQUESTS = ("prometheus_alerts.slo_min_requests=%s must be a number of requests, 0 or more "
                "(0 turns the minimum-traffic guard off).")
RESERVED = ("prometheus_rules_extra has the group(s) %s, which the role now writes itself (stack.rules.yml): "
            "remove them from prometheus_rules_extra (set prometheus_drift_alerts_enabled or "
            "prometheus_watchdog_enabled to false to drop the role's own).")
UNKNOWN_GROUPS = '%s name inventory groups that do not exist (%s): fix the name, or set it to "" to drop that job.'
DUPLICATE_JOBS = ("prometheus_scrape_configs_extra: job_name %s is used more than once (the fixed jobs are haproxy, "
                  "node, prometheus, alertmanager): rename the extra job.")
LISTEN = ("prometheus_listen_address (%s) must end in :prometheus_port (%s): the prometheus job and the health checks "
          "use prometheus_port; set both to the same port.")
NO_FACTS = ("No ansible_default_ipv4 fact for %s: gather facts on the groups Prometheus scrapes (%s) earlier in the play "
            "(e.g. a play with gather_facts: true on them).")
JOB_GROUPS = "haproxy, node_exporter, prometheus, alertmanager"

# (rule, row id, overrides, the messages, all of them, in order)
BAD = [
    ("web_password", "password_empty", {"prometheus_web_password": ""}, [NO_PASSWORD]),
    ("web_username", "username_with_colon", {"prometheus_web_username": "prom:etheus"}, [USERNAME]),
    ("web_username", "username_with_space", {"prometheus_web_username": "prom etheus"}, [USERNAME]),
    ("web_username", "username_empty", {"prometheus_web_username": ""}, [USERNAME]),
    ("retention_time", "retention_unknown_unit", {"prometheus_retention_time": "15x"}, [RETENTION % "15x"]),
    ("retention_time", "retention_without_unit", {"prometheus_retention_time": 15}, [RETENTION % 15]),
    ("intervals", "scrape_interval_in_words", {"prometheus_scrape_interval": "15 seconds"}, [INTERVALS]),
    ("intervals", "evaluation_interval_empty", {"prometheus_evaluation_interval": ""}, [INTERVALS]),
    ("intervals", "scrape_timeout_without_unit", {"prometheus_scrape_timeout": "10"}, [INTERVALS]),
    ("retention_size", "size_in_words", {"prometheus_retention_size": "10 gigs"}, [SIZE % "10 gigs"]),
    ("retention_size", "size_lower_case_unit", {"prometheus_retention_size": "10gb"}, [SIZE % "10gb"]),
    ("exporter_mode", "unknown_exporter_mode", {"prometheus_haproxy_exporter_mode": "sidecar"},
     ["prometheus_haproxy_exporter_mode=sidecar must be one of ['native', 'standalone']."]),
    ("web_tls", "cert_without_tls", {"prometheus_web_tls_cert_file": CERT}, [TLS_OFF]),
    ("web_tls", "key_without_tls", {"prometheus_web_tls_key_file": KEY}, [TLS_OFF]),
    ("web_tls", "tls_without_files", {"acgs_prometheus_tls": True}, [TLS_FILES]),
    ("web_tls", "tls_as_the_string_true_without_files", {"acgs_prometheus_tls": "true"}, [TLS_FILES]),
    ("web_tls", "cert_without_key", tls(prometheus_web_tls_key_file=""), [TLS_FILES]),
    ("web_tls", "key_missing", tls(_prometheus_tls_stats=[READABLE, {"exists": False}]),
     [UNREADABLE % ("prometheus_web_tls_key_file", KEY, "the control node")]),
    ("web_tls", "both_unreadable_on_the_host",
     tls(prometheus_web_tls_files_on_host=True, _prometheus_tls_stats=[UNREADABLE_FILE, NOT_A_FILE]),
     [UNREADABLE % ("prometheus_web_tls_cert_file", CERT, "the host"),
      UNREADABLE % ("prometheus_web_tls_key_file", KEY, "the host")]),
    ("ca_file", "ca_missing", {"acgs_prometheus_ca_file": "files/ca.crt", "_prometheus_ca_stat": {"exists": False}},
     [CA % "files/ca.crt"]),
    ("alertmanager_password", "alertmanager_user_without_password", {"prometheus_alertmanager_username": "prom"},
     [AM_PASSWORD]),
    ("alert_keys", "unknown_alert_key", alerts(response_time_secs=1),
     ["prometheus_alerts has unknown keys ['response_time_secs'] (known: %s)." % KNOWN]),
    ("alert_keys", "two_unknown_keys_in_their_order", alerts(zeta=1, alpha=2),
     ["prometheus_alerts has unknown keys ['zeta', 'alpha'] (known: %s)." % KNOWN]),
    ("alert_durations", "for_in_words", alerts(haproxy_down_for="30 sec"), ["prometheus_alerts: ['30 sec'] are not durations."]),
    ("alert_durations", "for_as_a_number", alerts(backend_down_for=60), ["prometheus_alerts: [60] are not durations."]),
    ("alert_durations", "window_and_burn_window", alerts(slo_latency_window="10 min", slo_slow_burn_windows=["30m", "6 h"]),
     ["prometheus_alerts: ['10 min', '6 h'] are not durations."]),
    ("slo_target_and_windows", "target_as_a_percentage", alerts(slo_availability_target=99.9), [TARGET]),
    ("slo_target_and_windows", "target_zero", alerts(slo_availability_target=0), [TARGET]),
    ("slo_target_and_windows", "target_one", alerts(slo_availability_target=1), [TARGET]),
    ("slo_target_and_windows", "target_in_words", alerts(slo_availability_target="three nines"), [TARGET]),
    ("slo_target_and_windows", "fast_burn_one_window", alerts(slo_fast_burn_windows=["5m"]), [TARGET]),
    ("slo_target_and_windows", "error_rate_three_windows", alerts(slo_error_rate_windows=["5m", "1h", "6h"]), [TARGET]),
    ("slo_min_requests", "min_requests_negative", alerts(slo_min_requests=-1), [MIN_REQUESTS % -1]),
    ("slo_min_requests", "min_requests_as_text", alerts(slo_min_requests="100"), [MIN_REQUESTS % "100"]),
    ("slo_min_requests", "min_requests_none", alerts(slo_min_requests=None), [MIN_REQUESTS % None]),
    ("reserved_rule_groups", "extra_drift_group", {"prometheus_rules_extra": [{"name": "acgs-drift", "rules": []}]},
     [RESERVED % "acgs-drift"]),
    ("reserved_rule_groups", "extra_drift_and_pipeline_groups",
     {"prometheus_rules_extra": [{"name": "acgs-pipeline", "rules": []}, {"name": "team", "rules": []},
                                 {"name": "acgs-drift", "rules": []}]},
     [RESERVED % "acgs-pipeline, acgs-drift"]),
    ("reserved_rule_groups", "pipeline_group_with_drift_off",
     {"prometheus_drift_alerts_enabled": False,
      "prometheus_rules_extra": [{"name": "acgs-drift", "rules": []}, {"name": "acgs-pipeline", "rules": []}]},
     [RESERVED % "acgs-pipeline"]),
    ("scrape_groups", "haproxy_group_not_in_inventory", {"prometheus_haproxy_group": "no_such_group"},
     [UNKNOWN_GROUPS % ("prometheus_haproxy_group", "no_such_group")]),
    ("scrape_groups", "two_groups_not_in_inventory", {"prometheus_node_exporter_group": "nodes", "prometheus_alertmanager_group": "am"},
     [UNKNOWN_GROUPS % ("prometheus_node_exporter_group, prometheus_alertmanager_group", "nodes, am")]),
    ("job_names_unique", "extra_job_named_node", {"prometheus_scrape_configs_extra": [{"job_name": "node", "static_configs": []}]},
     [DUPLICATE_JOBS % "node"]),
    ("job_names_unique", "extra_jobs_twice_each",
     {"prometheus_scrape_configs_extra": [{"job_name": "team"}, {"job_name": "team"}, {"job_name": "haproxy"}]},
     [DUPLICATE_JOBS % "haproxy, team"]),
    ("job_names_unique", "two_extra_jobs_without_name", {"prometheus_scrape_configs_extra": [{}, {}]},
     [DUPLICATE_JOBS % ""]),
    ("listen_address_port", "listen_on_another_port", {"prometheus_listen_address": "0.0.0.0:9091"},
     [LISTEN % ("0.0.0.0:9091", 9090)]),
    ("listen_address_port", "port_changed_alone", {"prometheus_port": 9091}, [LISTEN % ("0.0.0.0:9090", 9091)]),
    ("listen_address_port", "port_is_a_suffix_of_the_address_port", {"prometheus_listen_address": "0.0.0.0:19090"},
     [LISTEN % ("0.0.0.0:19090", 9090)]),
    ("target_addresses", "scraped_hosts_without_facts", {"facts": {"mon1": FACTS["mon1"], "app1": {}}},
     [NO_FACTS % ("lb1, app1", JOB_GROUPS)]),
    ("target_addresses", "host_without_facts_with_a_job_off",
     {"prometheus_haproxy_group": "", "facts": {"mon1": FACTS["mon1"], "app1": FACTS["app1"]}},
     [NO_FACTS % ("lb1", ", node_exporter, prometheus, alertmanager")]),
]

# Inputs near the rules that must pass: edge values, what is off is not checked.
GOOD = {
    "defaults_with_a_password": {},
    "compound_durations": {"prometheus_retention_time": "1w2d", "prometheus_scrape_interval": "1m30s",
                           "prometheus_scrape_timeout": "500ms"},
    "retention_size_set": {"prometheus_retention_size": "10GB"},
    "standalone_exporter": {"prometheus_haproxy_exporter_mode": "standalone"},
    "tls_cert_and_key": tls(),
    "tls_with_its_ca": tls(acgs_prometheus_ca_file="files/ca.crt", _prometheus_ca_stat=READABLE),
    "tls_off_as_the_string_false": {"acgs_prometheus_tls": "false"},
    "alertmanager_user_and_password": {"prometheus_alertmanager_username": "prom",
                                       "prometheus_alertmanager_password": "s3cret"},
    "alert_overrides": alerts(haproxy_down_for="1m", slo_availability_target="0.99", slo_fast_burn_windows=["2m", "30m"]),
    "windows_of_other_lengths_adding_up_to_six": alerts(slo_fast_burn_windows=["5m", "1h", "2h"], slo_slow_burn_windows=["6h"]),
    "min_requests_zero_turns_the_guard_off": alerts(slo_min_requests=0),
    "min_requests_fraction": alerts(slo_min_requests=0.5),
    "drift_group_when_the_role_writes_none":
        {"prometheus_drift_alerts_enabled": False, "prometheus_rules_extra": [{"name": "acgs-drift", "rules": []}]},
    "extra_rule_group_not_a_dict": {"prometheus_rules_extra": ["alert: Broken"]},
    "job_off_with_an_empty_group": {"prometheus_haproxy_group": ""},
    "extra_job_of_its_own": {"prometheus_scrape_configs_extra": [{"job_name": "team"}]},
    "listen_on_ipv6": {"prometheus_listen_address": "[::]:9090"},
    "port_and_address_changed_together": {"prometheus_port": 9091, "prometheus_listen_address": "127.0.0.1:9091"},
    "empty_group": {"groups": dict(GROUPS, haproxy=[])},
}


@pytest.mark.parametrize("rule, overrides, expected", [(r[0], r[2], r[3]) for r in BAD], ids=[r[1] for r in BAD])
def test_bad_input_gives_exactly_its_messages(rule, overrides, expected):
    assert prometheus_preflight_errors(variables(**overrides)) == expected


@pytest.mark.parametrize("overrides", list(GOOD.values()), ids=list(GOOD))
def test_good_input_gives_no_message(overrides):
    assert prometheus_preflight_errors(variables(**overrides)) == []


@pytest.mark.parametrize("key", prometheus_preflight.OPTIONAL_KEYS)
def test_a_missing_password_is_not_set(key):
    values = variables(prometheus_alertmanager_username="prom", prometheus_alertmanager_password="s3cret")
    del values[key]
    expected = NO_PASSWORD if key == "prometheus_web_password" else AM_PASSWORD
    assert prometheus_preflight_errors(values) == [expected]


def test_the_defaults_lack_only_the_password():
    """The role defaults alone, as a new user starts: the one message."""
    values = variables()
    del values["prometheus_web_password"]
    assert prometheus_preflight_errors(values) == [NO_PASSWORD]


def test_every_rule_has_a_failing_row():
    assert {row[0] for row in BAD} == {rule.__name__ for rule in prometheus_preflight.RULES}


def test_every_error_at_once_in_rule_order():
    """Rows of different rules together: all their messages, the password first, facts last."""
    rows = ["target_as_a_percentage", "scraped_hosts_without_facts", "listen_on_another_port", "password_empty",
            "extra_drift_group", "size_in_words", "unknown_exporter_mode", "haproxy_group_not_in_inventory",
            "extra_job_named_node", "cert_without_key", "min_requests_as_text", "username_with_colon"]
    by_id = {row[1]: row for row in BAD}
    overrides = {}
    for row_id in rows:
        for key, value in by_id[row_id][2].items():
            overrides[key] = dict(overrides.get(key, {}), **value) if key == "prometheus_alerts" else value
    assert prometheus_preflight_errors(variables(**overrides)) == [
        NO_PASSWORD,
        USERNAME,
        SIZE % "10 gigs",
        "prometheus_haproxy_exporter_mode=sidecar must be one of ['native', 'standalone'].",
        TLS_FILES,
        TARGET,
        MIN_REQUESTS % "100",
        RESERVED % "acgs-drift",
        UNKNOWN_GROUPS % ("prometheus_haproxy_group", "no_such_group"),
        DUPLICATE_JOBS % "node",
        LISTEN % ("0.0.0.0:9091", 9090),
        # The groups as the jobs name them, the unknown one too.
        NO_FACTS % ("lb1, app1", "no_such_group, node_exporter, prometheus, alertmanager"),
    ]


def test_the_preflight_task_is_a_stat_then_one_assert_on_the_filter():
    tasks = preflight_checks("prometheus")
    assert [next(iter(set(t) & {"ansible.builtin.stat", "ansible.builtin.assert"})) for t in tasks] == [
        "ansible.builtin.stat", "ansible.builtin.assert"], "tasks/preflight.yml must stat the files, then assert once"
    task = tasks[1]
    assert task["ansible.builtin.assert"]["that"] == "_prometheus_preflight_errors | length == 0"
    assert "acgs.haproxy_stack.prometheus_preflight_errors" in task["vars"]["_prometheus_preflight_errors"]
    passed = set(task["vars"]["_prometheus_preflight_input"])
    assert passed == set(prometheus_preflight.KEYS + prometheus_preflight.OPTIONAL_KEYS)


def test_the_rules_read_what_vars_main_no_longer_holds():
    """The duration pattern and the alert durations moved into the filter: vars/main.yml has no copy."""
    assert "_prometheus_duration_re" not in VARS and "_prometheus_alert_durations" not in VARS


@pytest.mark.parametrize("value, message", [("mon1", "must be a dict"),
                                            ({"prometheus_web_username": "prom"}, "lacks prometheus_retention_time")])
def test_input_that_is_not_the_variables_is_refused(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        prometheus_preflight_errors(value)


def test_the_filter_is_registered():
    assert prometheus_preflight.FilterModule().filters() == {"prometheus_preflight_errors": prometheus_preflight_errors}
