# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bad-input tables (tests/bad_input/<role or module>.yml) and the check both runners make.

Read by tests/integration/test_bad_input_matrix.py (every case, against the podman lab) and
tests/local/test_bad_input_local.py (the cases without ``lab_only``, on this machine). The keys
are described in tests/bad_input/README.md.
"""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
# What a table's file is named after: a role (roles/<name>) or a module (plugins/modules/<name>.py).
KINDS = ("role", "module")
REQUIRED = {"id", "host", "var", "expect"}
OPTIONAL = {"vars", "args", "defect", "check_mode", "lab_only"}


def tables():
    """The table files, by name."""
    return sorted(HERE.glob("*.yml"))


def load_cases():
    """Every case of every table, by id, in table order; each case also gets ``table`` (its file's name).

    A table that breaks the rules below raises ValueError naming the file and the case, so neither
    runner can run a half-read table.
    """
    cases = {}
    for path in tables():
        data = yaml.safe_load(path.read_text())
        for case in data["cases"]:
            where = "%s: %s" % (path.relative_to(HERE.parent.parent), case.get("id", case))
            kinds = [kind for kind in KINDS if kind in case]
            if len(kinds) != 1 or case[kinds[0]] != path.stem:
                raise ValueError("%s: needs exactly one of role/module, equal to the file name %s" % (where, path.stem))
            if not REQUIRED <= set(case) or not set(case) <= REQUIRED | OPTIONAL | set(KINDS):
                raise ValueError("%s: keys must be %s, optionally %s" % (where, sorted(REQUIRED), sorted(OPTIONAL)))
            if "lab_only" in case and not (isinstance(case["lab_only"], str) and case["lab_only"].strip()):
                raise ValueError("%s: lab_only is the reason the case needs the lab (a sentence)" % where)
            if case["id"] in cases:
                raise ValueError("%s: duplicate case id (also in %s)" % (where, cases[case["id"]]["table"]))
            cases[case["id"]] = dict(case, table=path.name)
    return cases


def strings(value):
    """Every string inside a task result, flattened (msg, stderr, argument_errors, ...)."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [str(value)]


def failure_problems(case, task, result):
    """What is wrong with the failure a case got (empty: it names ``var`` and holds every ``expect``).

    ``task`` is the failing task's name, ``result`` its result; ``var`` may be in either, the
    ``expect`` fragments must be in the result.
    """
    found = []
    message = "\n".join(strings(result))
    shown = "TASK [%s]\n%s" % (task, message[:3000])
    if case["var"] not in task + "\n" + message:
        found.append("the failure does not name %s:\n%s" % (case["var"], shown))
    expected = case["expect"] if isinstance(case["expect"], list) else [case["expect"]]
    for text in expected:
        if text not in message:
            found.append("%r is not in the failure:\n%s" % (text, shown))
    return found
