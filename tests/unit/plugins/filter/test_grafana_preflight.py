# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The grafana role's preflight rules (plugins/filter/grafana_preflight.py), one table row per rule.

Every rule has at least one row whose input breaks it; each row gives the exact messages the
filter must return (the role defaults, an admin password and a Prometheus host with facts, with
the row's overrides). The dashboard files of a row are written to a temporary directory first:
"{d}" in a row's values and messages stands for that directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from role_defaults import preflight_checks, role_defaults
from ansible_collections.acgs.haproxy_stack.plugins.filter import grafana_preflight
from ansible_collections.acgs.haproxy_stack.plugins.filter.grafana_preflight import grafana_preflight_errors

ROLE = Path(__file__).resolve().parents[4] / "roles" / "grafana"
DEFAULTS = role_defaults(ROLE.name)
VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
# What a user must add to the defaults; mon1, the group's host, has facts.
# The Prometheus password comes from acgs_prometheus_password (roles/_common), the user from its default.
GIVEN = {"grafana_admin_password": "s3cretAdmin", "grafana_prometheus_password": "s3cretProm",
         "_grafana_prometheus_ipv4": {"mon1": {"address": "192.0.2.5"}},
         "_grafana_package_file_stat": {}, "_grafana_builtin_dashboards": VARS["_grafana_builtin_dashboards"]}
# The files rows name, by name: text, bytes, or DIRECTORY.
DIRECTORY = object()
FILES = {
    "team.json": json.dumps({"title": "Team", "panels": []}),
    "other/team.json": json.dumps({"title": "Team too", "panels": []}),
    "Team.json": json.dumps({"title": "Team in capitals", "panels": []}),
    "ops.json": json.dumps({"title": "Ops", "panels": []}),
    "haproxy.json": json.dumps({"title": "Mine", "panels": []}),
    "broken.json": '{"title": "broken", "panels": [\n',
    "empty.json": "",
    "list.json": "[1, 2]",
    "latin1.json": b"\xff\xfe{}",
    "folder.json": DIRECTORY,
}


def _expand(value, directory):
    """A row's value with "{d}" replaced by the directory, in strings, lists and dicts."""
    if isinstance(value, str):
        return value.replace("{d}", str(directory))
    if isinstance(value, list):
        return [_expand(item, directory) for item in value]
    if isinstance(value, dict):
        return {key: _expand(item, directory) for key, item in value.items()}
    return value


@pytest.fixture
def boards(tmp_path):
    """The directory with FILES in it."""
    for name, content in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is DIRECTORY:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return tmp_path


def variables(**overrides):
    """The filter's input as tasks/preflight.yml builds it: the defaults, GIVEN, then the overrides."""
    result = {key: DEFAULTS[key] for key in grafana_preflight.KEYS + grafana_preflight.OPTIONAL_KEYS if key in DEFAULTS}
    result.update(GIVEN)
    result.update(overrides)
    return result


REQUIRED = ('Set grafana_admin_password (at least 8 characters, not "admin"; there is no default), '
            "set both grafana_prometheus_username and grafana_prometheus_password or neither, and give "
            "Grafana a Prometheus: grafana_prometheus_urls, or hosts in the group named by "
            "grafana_prometheus_group (%s).")
NO_FACTS = ("No default_ipv4 fact for %s: gather facts on the group named by grafana_prometheus_group (%s) "
            "earlier in the play, or set grafana_prometheus_urls.")
PACKAGE = ("grafana_package_file /srv/grafana.deb does not exist on the control node: fix the path or unset it to "
           "use the apt repository.")
FILES_BAD = "grafana_dashboard_files: %s. Fix the files or remove them from grafana_dashboard_files."
NAMES = ("grafana_dashboard_files: the files are copied into /var/lib/grafana/dashboards under their names, so the "
         "names must differ from each other and from the role's own haproxy.json (got %s).")
NOT_AN_OBJECT = "is JSON but not an object (a Grafana dashboard is a JSON object)"
PACKAGE_FILE = {"grafana_install": True, "grafana_package_file": "/srv/grafana.deb"}

# (rule, row id, overrides, the messages, all of them, in order)
BAD = [
    ("required_settings", "admin_password_unset", {"grafana_admin_password": ""}, [REQUIRED % "prometheus"]),
    ("required_settings", "admin_password_null", {"grafana_admin_password": None}, [REQUIRED % "prometheus"]),
    ("required_settings", "admin_password_of_7", {"grafana_admin_password": "1234567"}, [REQUIRED % "prometheus"]),
    ("required_settings", "admin_password_admin", {"grafana_admin_password": "admin"}, [REQUIRED % "prometheus"]),
    ("required_settings", "prometheus_user_without_password", {"grafana_prometheus_username": "grafana",
                                                               "grafana_prometheus_password": ""},
     [REQUIRED % "prometheus"]),
    ("required_settings", "prometheus_password_without_user", {"grafana_prometheus_username": "",
                                                               "grafana_prometheus_password": "s3cret"},
     [REQUIRED % "prometheus"]),
    ("required_settings", "no_prometheus_group_and_no_urls",
     {"grafana_prometheus_group": "no_such_group", "_grafana_prometheus_ipv4": {}}, [REQUIRED % "no_such_group"]),
    ("prometheus_addresses", "prometheus_hosts_without_facts",
     {"_grafana_prometheus_ipv4": {"mon1": {}, "mon2": {"address": "192.0.2.6"}, "mon3": {}}},
     [NO_FACTS % ("mon1, mon3", "prometheus")]),
    ("prometheus_addresses", "facts_of_a_host_unknown", {"_grafana_prometheus_ipv4": {"mon1": None}},
     [NO_FACTS % ("mon1", "prometheus")]),
    ("package_file", "package_file_missing", dict(PACKAGE_FILE, _grafana_package_file_stat={"exists": False}), [PACKAGE]),
    ("dashboard_files_valid", "dashboard_file_missing", {"grafana_dashboard_files": ["{d}/team.json", "{d}/gone.json"]},
     [FILES_BAD % "{d}/gone.json does not exist on the control node"]),
    ("dashboard_files_valid", "dashboard_file_not_json", {"grafana_dashboard_files": ["{d}/broken.json"]},
     [FILES_BAD % "{d}/broken.json is not JSON: Expecting value: line 2 column 1 (char 32)"]),
    ("dashboard_files_valid", "dashboard_file_empty", {"grafana_dashboard_files": ["{d}/empty.json"]},
     [FILES_BAD % "{d}/empty.json is not JSON: Expecting value: line 1 column 1 (char 0)"]),
    ("dashboard_files_valid", "dashboard_file_a_list", {"grafana_dashboard_files": ["{d}/list.json"]},
     [FILES_BAD % ("{d}/list.json " + NOT_AN_OBJECT)]),
    ("dashboard_files_valid", "dashboard_file_not_utf8", {"grafana_dashboard_files": ["{d}/latin1.json"]},
     [FILES_BAD % "{d}/latin1.json cannot be read: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"]),
    ("dashboard_files_valid", "dashboard_file_a_directory", {"grafana_dashboard_files": ["{d}/folder.json"]},
     [FILES_BAD % "{d}/folder.json cannot be read: [Errno 21] Is a directory: '{d}/folder.json'"]),
    ("dashboard_files_valid", "every_bad_file_in_one_message",
     {"grafana_dashboard_files": ["{d}/broken.json", "{d}/team.json", "{d}/gone.json", "{d}/list.json"]},
     [FILES_BAD % ("{d}/broken.json is not JSON: Expecting value: line 2 column 1 (char 32); "
                   "{d}/gone.json does not exist on the control node; {d}/list.json " + NOT_AN_OBJECT)]),
    ("dashboard_names_unique", "dashboard_named_as_the_builtin", {"grafana_dashboard_files": ["{d}/haproxy.json"]},
     [NAMES % "haproxy.json"]),
    ("dashboard_names_unique", "two_dashboards_of_one_name",
     {"grafana_dashboard_files": ["{d}/team.json", "{d}/ops.json", "{d}/other/team.json"]},
     [NAMES % "team.json, ops.json, team.json"]),
    ("dashboard_names_unique", "names_differing_in_case_only", {"grafana_dashboard_files": ["{d}/team.json", "{d}/Team.json"]},
     [NAMES % "team.json, Team.json"]),
]

# Inputs near the rules that must pass: edge values, what is off is not checked.
GOOD = {
    "given": {},
    "admin_password_of_8": {"grafana_admin_password": "12345678"},
    "admin_password_a_number": {"grafana_admin_password": 12345678},
    "prometheus_user_and_password": {"grafana_prometheus_username": "grafana", "grafana_prometheus_password": "s3cret"},
    "urls_instead_of_a_group": {"grafana_prometheus_urls": ["https://prometheus.example.net:9090"],
                                "grafana_prometheus_group": "no_such_group", "_grafana_prometheus_ipv4": {}},
    "urls_need_no_facts": {"grafana_prometheus_urls": ["http://192.0.2.5:9090"], "_grafana_prometheus_ipv4": {"mon1": {}}},
    "package_file_present": dict(PACKAGE_FILE, _grafana_package_file_stat={"exists": True}),
    "package_file_unchecked_without_install": {"grafana_install": False, "grafana_package_file": "/srv/grafana.deb"},
    "dashboard_files": {"grafana_dashboard_files": ["{d}/team.json", "{d}/ops.json"]},
}


@pytest.mark.parametrize("rule, overrides, expected", [(r[0], r[2], r[3]) for r in BAD], ids=[r[1] for r in BAD])
def test_bad_input_gives_exactly_its_messages(boards, rule, overrides, expected):
    assert grafana_preflight_errors(variables(**_expand(overrides, boards))) == _expand(expected, boards)


@pytest.mark.parametrize("overrides", list(GOOD.values()), ids=list(GOOD))
def test_good_input_gives_no_message(boards, overrides):
    assert grafana_preflight_errors(variables(**_expand(overrides, boards))) == []


@pytest.mark.parametrize("key", grafana_preflight.OPTIONAL_KEYS)
def test_a_missing_password_is_not_set(key):
    values = variables(grafana_prometheus_username="grafana", grafana_prometheus_password="s3cret")
    del values[key]
    assert grafana_preflight_errors(values) == [REQUIRED % "prometheus"]


def test_a_relative_dashboard_path_is_read_from_the_working_directory(boards, monkeypatch):
    """As the copy task and the old python -c check: relative to where ansible-playbook runs."""
    monkeypatch.chdir(boards)
    assert grafana_preflight_errors(variables(grafana_dashboard_files=["team.json"])) == []
    assert grafana_preflight_errors(variables(grafana_dashboard_files=["gone.json"])) == [
        FILES_BAD % "gone.json does not exist on the control node"]


def test_every_rule_has_a_failing_row():
    assert {row[0] for row in BAD} == {rule.__name__ for rule in grafana_preflight.RULES}


def test_every_error_at_once_in_rule_order(boards):
    values = variables(grafana_admin_password="admin", _grafana_prometheus_ipv4={"mon1": {}}, **PACKAGE_FILE,
                       grafana_dashboard_files=[str(boards / "broken.json"), str(boards / "other" / "haproxy.json")])
    assert grafana_preflight_errors(values) == [
        REQUIRED % "prometheus",
        NO_FACTS % ("mon1", "prometheus"),
        PACKAGE,
        FILES_BAD % ("%s/broken.json is not JSON: Expecting value: line 2 column 1 (char 32); "
                     "%s/other/haproxy.json does not exist on the control node" % (boards, boards)),
        NAMES % "broken.json, haproxy.json",
    ]


def test_the_preflight_tasks_are_the_stat_and_one_assert_on_the_filter():
    tasks = preflight_checks("grafana")
    assert [next(iter(set(t) & {"ansible.builtin.stat", "ansible.builtin.assert"}), None) for t in tasks] == [
        "ansible.builtin.stat", "ansible.builtin.assert"], "tasks/preflight.yml must be the package file's stat and one assert"
    stat, check = tasks
    assert stat["register"] == "_grafana_package_file_stat"
    assert check["ansible.builtin.assert"]["that"] == "_grafana_preflight_errors | length == 0"
    assert "acgs.haproxy_stack.grafana_preflight_errors" in check["vars"]["_grafana_preflight_errors"]
    passed = set(check["vars"]["_grafana_preflight_input"])
    assert passed == set(grafana_preflight.KEYS + grafana_preflight.OPTIONAL_KEYS)


@pytest.mark.parametrize("value, message", [(["a.json"], "must be a dict"),
                                            ({"grafana_admin_password": "s3cretAdmin"}, "lacks grafana_prometheus_username")])
def test_input_that_is_not_the_variables_is_refused(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        grafana_preflight_errors(value)


def test_the_filter_is_registered():
    assert grafana_preflight.FilterModule().filters() == {"grafana_preflight_errors": grafana_preflight_errors}
