# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of acgs.haproxy_stack.config_files (documented in plugins/modules/config_files.py).

Why: an unchanged template or copy task costs two module runs on the host per file (stat, then file
for the attributes) and a file task one per directory or path to remove; a role's configure step
is mostly such tasks. Here every template and content is rendered on the controller, one module run reports
every path, and only what differs goes through copy (with its validate) or file, so a rerun with
nothing to change costs one module run per task."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import tempfile

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
# Items whose content is rendered here and written through copy; the others (directory, absent) go through file.
FILE_KINDS = frozenset(('template', 'src', 'content'))


def _as_list(diff):
    """copy returns a list of diffs, file a single one (or none)."""
    if not diff:
        return []
    return diff if isinstance(diff, list) else [diff]


class ActionModule(ActionBase):

    # No remote temporary directory up front: with pipelining the check sends the module on stdin,
    # so an unchanged task is one command on the host, not four (home, mkdir, module, rm). Only a
    # task that writes a file needs one (_copy makes it, once for all its files).
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('files',))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        # The controller's directory for rendered files, made by _copy for the first file written:
        # an unchanged task (the common case on a rerun) makes none.
        self._local_tmp = None
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

            reports, diffs = [], []
            failure = None
            for item, there in zip(items, found['found']):
                report = {'path': item['path'], 'kind': item['kind'], 'changes': [], 'changed': False}
                reports.append(report)
                if failure is not None:
                    report['written'] = False
                    continue
                report['changes'] = differences(item, there, item.get('checksum'))
                if not report['changes']:
                    continue
                outcome = self._apply(item, there, report['changes'], task_vars)
                report['changed'] = bool(outcome.get('changed'))
                for diff in _as_list(outcome.get('diff')):
                    if 'after_header' in diff and item['kind'] in FILE_KINDS:
                        # copy names the controller's temporary file; the reader wants where it came from.
                        diff['after_header'] = '%s (%s %s)' % (item['path'], item['kind'],
                                                               item['source'] if item['kind'] != 'content' else 'of the task')
                    diffs.append(diff)
                if outcome.get('failed'):
                    report['failed'] = True
                    # copy's "failed to validate" carries the checker's own words in stderr/stdout.
                    detail = ' '.join(to_text(outcome.get(key) or '').strip() for key in ('stderr', 'stdout')).strip()
                    failure = '%s was not written: %s%s' % (item['label'], outcome.get('msg', 'no message'),
                                                            ': ' + detail if detail else '')

            result['files'] = reports
            result['changed'] = any(r['changed'] for r in reports)
            if diffs:
                result['diff'] = diffs
            if failure:
                result.update(failed=True, msg='config_files: ' + failure)
            return result
        finally:
            if self._local_tmp:
                shutil.rmtree(self._local_tmp, ignore_errors=True)
            self._remove_tmp_path(self._connection._shell.tmpdir)

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

    def _apply(self, item, there, changes, task_vars):
        """Write one item that differs, through copy (content, with validate) or file (directory, attributes,
        removal)."""
        if item['kind'] == 'absent':
            # Whatever is there goes, as with the file module's state=absent (which also does check mode and diff).
            return self._execute_module(module_name='ansible.legacy.file', task_vars=task_vars,
                                        module_args=dict(path=item['path'], state='absent'))
        if changes == ['type'] and not (item['kind'] != 'directory' and there.get('type') == 'link'):
            return {'failed': True, 'changed': False,
                    'msg': 'a %s is in the way, where a %s is wanted; remove it first'
                           % (there.get('type'), 'directory' if item['kind'] == 'directory' else 'file')}
        attributes = dict((key, item[key]) for key in ('mode', 'owner', 'group') if item[key] is not None)
        if item['kind'] == 'directory' or not set(changes) & {'create', 'content', 'type'}:
            # Attributes only (or a directory): the file module, which does its own check-mode and diff.
            state = 'directory' if item['kind'] == 'directory' else 'file'
            return self._execute_module(module_name='ansible.legacy.file', task_vars=task_vars,
                                        module_args=dict(attributes, path=item['path'], state=state))
        return self._copy(item, attributes, task_vars)

    def _copy(self, item, attributes, task_vars):
        """ansible.builtin.copy's action for this one file, as the template action hands over its rendering:
        copy checks the new file with `validate` before it replaces the old one, and handles check mode."""
        if self._local_tmp is None:
            self._local_tmp = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
        source = os.path.join(self._local_tmp, '%d-%s' % (item['index'], os.path.basename(item['path'])))
        with open(to_bytes(source, errors='surrogate_or_strict'), 'wb') as handle:
            handle.write(item['data'])
        if self._connection._shell.tmpdir is None:
            # Made here, so copy uses it and leaves it: one directory for all the task's files,
            # removed at the end of run().
            self._make_tmp_path()
        task = self._task.copy()
        task.args = dict(attributes, src=source, dest=item['path'], follow=False)
        if item['validate']:
            task.args['validate'] = item['validate']
        # A secret's content never goes into a diff: not for no_log tasks, nor for show_diff=false items.
        task.diff = bool(self._task.diff and item['show_diff'] and not self._task.no_log)
        copy_action = self._shared_loader_obj.action_loader.get(
            'ansible.legacy.copy', task=task, connection=self._connection, play_context=self._play_context,
            loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
        return copy_action.run(task_vars=task_vars)
