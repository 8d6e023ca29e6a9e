# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: drift_collector
type: stdout
short_description: Record which tasks a check-mode run would change, without their content
version_added: 0.1.0
description:
  - Stdout callback for a C(--check --diff) run of the stack's playbooks, used by C(playbooks/drift_check.yml).
  - Records, per host, every task that would change something (its role, its name and the file or path it manages;
    one record per changed file for a loop or an C(acgs.haproxy_stack.config_files) task), every task that failed
    and every unreachable host, and writes them as one JSON document.
  - Never records a task's result, diff or arguments beyond the managed path, so the content of files with secrets
    never leaves the run, whether or not the task has C(no_log) or C(diff=false). Handlers are not recorded (they
    only follow the tasks that notified them).
  - Prints one line per recorded item, so the run can still be followed.
author:
  - acgs.haproxy_stack developers (@acgs)
options:
  output_file:
    description:
      - Where to write the JSON document. Without it, the document is printed at the end of the run.
    type: path
    env:
      - name: ACGS_DRIFT_COLLECTOR_FILE
    ini:
      - section: acgs_drift_collector
        key: output_file
notes:
  - "JSON document: C({\"items\": [{\"host\", \"component\", \"task\", \"path\", \"status\"}], \"hosts\": [...],
    \"stats\": {host: {ok, changed, failures, unreachable, skipped}}}); C(status) is V(changed), V(failed) or
    V(unreachable)."
"""

import json
import os
import tempfile

from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase

# Result keys that name the file or directory a task manages (never content).
_PATH_KEYS = ("dest", "path", "name")


def _component(task):
    """The role a task belongs to (short name), else the play's first tag, else 'site'."""
    role = getattr(task, "_role", None)
    if role is not None:
        return role.get_name(include_role_fqcn=False)
    tags = [t for t in (task.tags or []) if t not in ("always", "never")]
    return tags[0] if tags else "site"


def _path(result):
    """The managed path of a result: a diff header or a path-like key; None if unknown or censored."""
    if result.get("censored"):
        return None
    diffs = result.get("diff")
    if isinstance(diffs, dict):
        diffs = [diffs]
    for diff in diffs or []:
        if isinstance(diff, dict):
            for key in ("before_header", "after_header"):
                header = diff.get(key)
                if isinstance(header, str) and header.startswith("/"):
                    return header.split(" ")[0]
    for key in _PATH_KEYS:
        value = result.get(key)
        if isinstance(value, str) and value.startswith("/"):
            return value
    return None


def _paths(result):
    """The managed paths of a result: each file that changed for acgs.haproxy_stack.config_files (one
    task, several files; its report has only paths and what differed), else the one of _path."""
    files = result.get("files")
    if not result.get("censored") and isinstance(files, list):
        paths = [f["path"] for f in files
                 if isinstance(f, dict) and "kind" in f and f.get("changed") and isinstance(f.get("path"), str)]
        if paths:
            return paths
    return [_path(result)]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "acgs.haproxy_stack.drift_collector"

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display=display)
        self._items = []
        self._hosts = set()

    def _record(self, result, status, path=None):
        task = result._task
        if isinstance(task, Handler):
            return
        host = result._host.get_name()
        item = {"host": host, "component": _component(task), "task": task.name or task.action, "path": path, "status": status}
        if item not in self._items:
            self._items.append(item)
            where = " (%s)" % path if path else ""
            self._display.display("%s %s: %s %s%s" % (status.upper(), host, item["component"], item["task"], where))

    def v2_runner_on_start(self, host, task):
        self._hosts.add(host.get_name())

    def v2_runner_on_ok(self, result):
        res = result._result
        if res.get("changed"):
            if "results" in res:
                for sub in res["results"]:
                    if isinstance(sub, dict) and sub.get("changed"):
                        for path in _paths(sub):
                            self._record(result, "changed", path)
            else:
                for path in _paths(res):
                    self._record(result, "changed", path)

    def v2_runner_item_on_ok(self, result):
        # Loop items are also reported as a whole by v2_runner_on_ok (with "results").
        pass

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        summary = {}
        for host in sorted(stats.processed.keys()):
            summary[host] = stats.summarize(host)
            self._hosts.add(host)
        document = {"items": self._items, "hosts": sorted(self._hosts), "stats": summary}
        output_file = self.get_option("output_file")
        if output_file:
            directory = os.path.dirname(output_file) or "."
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".drift-collector-")
            with os.fdopen(fd, "w") as handle:
                json.dump(document, handle, indent=1, sort_keys=True)
            os.chmod(tmp, 0o600)
            os.rename(tmp, output_file)
        else:
            self._display.display(json.dumps(document, sort_keys=True))
