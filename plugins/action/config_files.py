# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of acgs.haproxy_stack.config_files (documented in plugins/modules/config_files.py).

Why: an unchanged template or copy task costs two module runs on the host per file (stat, then file
for the attributes) and a file task one per directory or path to remove; a changed copy four commands
(stat, transfer, copy, the temporary directory); a role's configure step is mostly such tasks. Here
every template and content is rendered on the controller, one module run reports every path, and one
more puts right all that differs (the new contents travel in its arguments; each file is checked
with its validate before it replaces the old one): a task costs one module run with nothing to
change, two with changes."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import os

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template
from ansible.utils.hashing import checksum_s
# The template action's own helper (ansible/plugins/action/template.py): template_path,
# template_fullpath, template_destpath and ansible_managed, so templates render as they do there.
from ansible._internal._templating import _template_vars

from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._config_files import (
    ConfigFilesError, differences, normalize_items)

MODULE = 'acgs.haproxy_stack.config_files'
# Items whose content is rendered here; the others are directories and paths to remove.
FILE_KINDS = frozenset(('template', 'src', 'content'))
# Changes that mean the content is written (a link in a file's place is replaced by the file).
WRITE_CHANGES = frozenset(('create', 'content', 'type'))


def _content_diff(item, content_diff):
    """The --diff entry of a file whose content is written: the module's before and after, named as the
    reader knows them."""
    return dict(content_diff, before_header=item['path'],
                after_header='%s (%s %s)' % (item['path'], item['kind'],
                                             item['source'] if item['kind'] != 'content' else 'of the task'))


class ActionModule(ActionBase):

    # No remote temporary directory: with pipelining each module run is sent on stdin, so an
    # unchanged task is one command on the host and a changed one two (the new contents travel in
    # the second run's arguments).
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('files',))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        try:
            try:
                items = normalize_items(self._task.args.get('files'))
            except ConfigFilesError as exc:
                raise AnsibleActionFail('config_files: %s' % exc)
            for item in items:
                if item['kind'] in FILE_KINDS:
                    item['data'] = self._render(item, task_vars)
                    item['checksum'] = checksum_s(item['data'])

            # The one module run an unchanged task costs: what is at every path.
            found = self._execute_module(
                module_name=MODULE, task_vars=task_vars,
                module_args={'files': [{'dest': i['path'], 'state': 'file'} if i['kind'] in FILE_KINDS
                                       else {'path': i['path'], 'state': i['kind']} for i in items]})
            if found.get('failed'):
                result.update(failed=True, msg='config_files: could not inspect the paths: %s' % found.get('msg'))
                return result

            reports, todo = [], []
            failure = None
            for item, there in zip(items, found['found']):
                report = {'path': item['path'], 'kind': item['kind'], 'changes': [], 'changed': False}
                reports.append(report)
                if failure is not None:
                    report['written'] = False
                    continue
                report['changes'] = differences(item, there, item.get('checksum'))
                if report['changes'] == ['type'] and not (item['kind'] in FILE_KINDS and there.get('type') == 'link'):
                    report['failed'] = True
                    failure = '%s was not written: a %s is in the way, where a %s is wanted; remove it first' % (
                        item['label'], there.get('type'), 'directory' if item['kind'] == 'directory' else 'file')
                elif report['changes']:
                    todo.append((item, report))

            diffs = []
            if todo:
                failure = self._apply(todo, task_vars, reports, diffs) or failure

            result['files'] = reports
            result['changed'] = any(r['changed'] for r in reports)
            if diffs:
                result['diff'] = diffs
            if failure:
                result.update(failed=True, msg='config_files: ' + failure)
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _apply(self, todo, task_vars, reports, diffs):
        """Put right, in one module run, the items that differ; fill their reports and the task's diffs.
        Returns the failure message of the first item that failed, if one did."""
        # A secret's content never goes into a diff: not for no_log tasks, nor for show_diff=false items.
        want_diff = bool(self._task.diff and not self._task.no_log)
        wanted = []
        for item, report in todo:
            entry = {'path': item['path'], 'label': item['label'],
                     'state': 'file' if item['kind'] in FILE_KINDS else item['kind'],
                     'mode': item.get('mode'), 'owner': item.get('owner'), 'group': item.get('group')}
            if item['kind'] in FILE_KINDS and set(report['changes']) & WRITE_CHANGES:
                entry.update(content=to_text(base64.b64encode(item['data'])), validate=item['validate'],
                             diff=want_diff and item['show_diff'], diff_max_size=C.MAX_FILE_SIZE_FOR_DIFF)
            wanted.append(entry)
        outcome = self._execute_module(module_name=MODULE, task_vars=task_vars, module_args={'apply': wanted})
        if outcome.get('failed') and 'applied' not in outcome:
            return 'could not write %s: %s' % (', '.join(item['label'] for item, dummy in todo),
                                               outcome.get('msg') or outcome.get('module_stderr') or outcome)
        failure = None
        for (item, report), done in zip(todo, outcome['applied']):
            report['changed'] = bool(done['changed'])
            if want_diff:
                diffs.extend(done.get('diff') or [])
                if 'content_diff' in done:
                    diffs.append(_content_diff(item, done['content_diff']))
            if done.get('failed'):
                report['failed'] = True
                # The checker's own words (stderr/stdout of validate) follow its message.
                detail = ' '.join(to_text(done.get(key) or '').strip() for key in ('stderr', 'stdout')).strip()
                failure = '%s was not written: %s%s' % (item['label'], done.get('msg', 'no message'),
                                                        ': ' + detail if detail else '')
                for later in reports[item['index'] + 1:]:
                    later['written'] = False
                    later.pop('failed', None)
        return failure

    def _render(self, item, task_vars):
        """The bytes the item's file must hold."""
        if item['kind'] == 'content':
            content = item['source']
            # As copy does: a list or a dictionary is written as JSON.
            if isinstance(content, (dict, list)):
                content = json.dumps(content)
            return to_bytes(content, errors='surrogate_or_strict')
        if item['kind'] == 'src':
            try:
                source = self._find_needle('files', item['source'])
                real = self._loader.get_real_file(source, decrypt=True)
            except AnsibleError as exc:
                raise AnsibleActionFail('config_files: %s: %s' % (item['label'], to_text(exc)))
            try:
                with open(to_bytes(real, errors='surrogate_or_strict'), 'rb') as handle:
                    return handle.read()
            finally:
                self._loader.cleanup_tmp_file(real)
        return self._render_template(item, task_vars)

    def _render_template(self, item, task_vars):
        """Render as ansible.builtin.template does (its defaults: trim_blocks, newline \\n, utf-8)."""
        try:
            source = self._find_needle('templates', item['source'])
        except AnsibleError as exc:
            raise AnsibleActionFail('config_files: %s: %s' % (item['label'], to_text(exc)))
        template_data = trust_as_template(self._loader.get_text_file_contents(source))
        searchpath = list(task_vars.get('ansible_search_path', [])) + [self._loader._basedir, os.path.dirname(source)]
        # As the template action: each search path's templates/ subdirectory first, for includes.
        searchpath = [p for base in searchpath for p in (os.path.join(base, 'templates'), base)]
        template_vars = task_vars.copy()
        template_vars.update(_template_vars.generate_ansible_template_vars(
            path=item['source'], fullpath=source, dest_path=item['path'],
            include_ansible_managed='ansible_managed' not in template_vars))
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=template_vars)
        try:
            rendered = templar.template(template_data, escape_backslashes=False,
                                        overrides=dict(trim_blocks=True, lstrip_blocks=False, newline_sequence='\n'))
        except AnsibleError as exc:
            raise AnsibleActionFail('config_files: %s: template %s: %s' % (item['label'], item['source'], to_text(exc)))
        return to_bytes('' if rendered is None else rendered, encoding='utf-8', errors='surrogate_or_strict')
