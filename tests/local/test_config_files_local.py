# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""config_files through real ansible-playbook runs on localhost (connection local), on files in the
test's directory: the first run writes, a rerun is one module run, a failing validate writes nothing,
check mode writes nothing, --diff shows the change (and never a no_log task's content)."""

from __future__ import annotations

import os
import re
import stat
import sys

# A module run in -vvv output: the interpreter run on an AnsiballZ payload (no pipelining) or fed
# one on stdin (pipelining); the chmod/mkdir/rm commands around it are not module runs.
MODULE_RUN = re.compile(r"EXEC /bin/sh -c '\S*python\S*( \S+AnsiballZ_\w+\.py)? && sleep 0'")
JSON_CHECK = "%s -c 'import json, sys; json.load(open(sys.argv[1]))' %%s" % sys.executable


# The connection here is local; the lab's and a site's (ssh) pipeline modules as ansible.cfg says.
PIPELINING = ['-e', 'ansible_pipelining=true']
# The command that makes a remote temporary directory (ansible-tmp-...), in -vvv output.
MAKE_TMP = re.compile(r"EXEC /bin/sh -c '\( umask 77 && mkdir ")


def task_section(stdout, task_name):
    """The -vvv output of the task named task_name."""
    return stdout.split('TASK [%s]' % task_name, 1)[1].split('TASK [', 1)[0]


def module_runs(stdout, task_name):
    """Module runs in the -vvv output of the task named task_name."""
    return len(MODULE_RUN.findall(task_section(stdout, task_name)))


def remote_commands(stdout, task_name):
    """Every command run on the host (module runs and the temporary directory's mkdir and rm) in the -vvv
    output of the task named task_name."""
    return re.findall(r"EXEC (/bin/sh -c .*)", task_section(stdout, task_name))


def files_task(workdir, name='Manage the files', json_text='{"a": 1}\n', template_word='world', **task):
    template = os.path.join(workdir, 'greeting.j2')
    with open(template, 'w') as handle:
        handle.write('hello {{ who }}\n')
    out = os.path.join(workdir, 'out')
    return dict({'name': name, 'vars': {'who': template_word}, 'acgs.haproxy_stack.config_files': {'files': [
        {'path': out, 'state': 'directory', 'mode': '0750'},
        {'template': template, 'dest': out + '/greeting.txt', 'mode': '0644'},
        {'content': json_text, 'dest': out + '/data.json', 'mode': '0640', 'validate': JSON_CHECK},
    ]}}, **task)


def read(path):
    with open(path) as handle:
        return handle.read()


def test_write_rerun_check_diff_and_validate(local_workdir, run_playbook):
    out = os.path.join(local_workdir, 'out')

    # First run: everything is created, with its mode.
    results = run_playbook([files_task(local_workdir, register='first')])[0]
    first = results['first']
    assert first['changed'] is True and not first.get('failed'), first
    assert [f['changes'] for f in first['files']] == [['create'], ['create'], ['create']]
    assert read(out + '/greeting.txt') == 'hello world\n'
    assert read(out + '/data.json') == '{"a": 1}\n'
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(out + '/data.json').st_mode) == 0o640

    # Rerun: nothing changes, and the whole task is one module run (pipelined, as ansible.cfg has it
    # for the hosts).
    results, stdout = run_playbook([files_task(local_workdir, register='again')], extra_args=['-vvv', *PIPELINING])
    assert results['again']['changed'] is False, results['again']
    assert all(not f['changed'] and f['changes'] == [] for f in results['again']['files'])
    assert module_runs(stdout, 'Manage the files') == 1
    # ... and nothing else: no temporary directory made (and removed) on the host for nothing.
    assert not MAKE_TMP.search(task_section(stdout, 'Manage the files')), task_section(stdout, 'Manage the files')

    # A bad file fails its validate: the task fails naming it, the old file stays, items after it are not touched.
    before = os.stat(out + '/data.json')
    results = run_playbook([files_task(local_workdir, json_text='not json\n', template_word='later', register='bad')])[0]
    bad = results['bad']
    assert bad['failed'] is True
    assert 'files[2] (%s/data.json) was not written: failed to validate' % out in bad['msg'], bad['msg']
    assert 'Expecting value' in bad['msg'], 'the checker\'s own error is missing: %s' % bad['msg']
    assert read(out + '/data.json') == '{"a": 1}\n' and os.stat(out + '/data.json').st_ino == before.st_ino
    # The new content was checked next to its destination and removed there when it failed.
    assert sorted(os.listdir(out)) == ['data.json', 'greeting.txt']
    # The template before it did change (items are written in order, as separate tasks would be).
    assert bad['files'][1]['changed'] is True and bad['files'][2].get('failed') is True
    assert read(out + '/greeting.txt') == 'hello later\n'

    # Check mode with --diff: reports the change and its diff, writes nothing.
    os.chmod(out + '/greeting.txt', 0o600)
    # (check mode on the task: run_playbook's own task that saves the results must still write them)
    results, stdout = run_playbook([files_task(local_workdir, json_text='{"a": 2}\n', register='check', check_mode=True)],
                                   extra_args=['--diff'])
    check = results['check']
    assert check['changed'] is True
    assert [f['changes'] for f in check['files']] == [[], ['content', 'mode'], ['content']]
    assert read(out + '/data.json') == '{"a": 1}\n' and read(out + '/greeting.txt') == 'hello later\n'
    assert stat.S_IMODE(os.stat(out + '/greeting.txt').st_mode) == 0o600
    assert '-{"a": 1}' in stdout and '+{"a": 2}' in stdout and '+hello world' in stdout

    # The same with writing: the diff again, and a rerun is quiet. Writing both files is one more
    # module run (the contents travel in its arguments): no temporary directory, no transfer.
    results, stdout = run_playbook([files_task(local_workdir, json_text='{"a": 2}\n', register='write')],
                                   extra_args=['--diff', '-vvv', *PIPELINING])
    assert results['write']['changed'] is True and '+{"a": 2}' in stdout
    assert module_runs(stdout, 'Manage the files') == 2
    assert len(remote_commands(stdout, 'Manage the files')) == 2, remote_commands(stdout, 'Manage the files')
    assert read(out + '/data.json') == '{"a": 2}\n' and read(out + '/greeting.txt') == 'hello world\n'
    assert stat.S_IMODE(os.stat(out + '/greeting.txt').st_mode) == 0o644
    results = run_playbook([files_task(local_workdir, json_text='{"a": 2}\n', register='quiet')])[0]
    assert results['quiet']['changed'] is False


def test_attributes_only_and_secrets_stay_out_of_diff(local_workdir, run_playbook):
    secret = os.path.join(local_workdir, 'secret')
    key = os.path.join(local_workdir, 'key.pem')
    tasks = [
        {'name': 'Write the password', 'no_log': True, 'register': 'password',
         'acgs.haproxy_stack.config_files': {'files': [{'content': 'hunter2-%s\n', 'dest': secret, 'mode': '0600'}]}},
        {'name': 'Write the key', 'register': 'key',
         'acgs.haproxy_stack.config_files': {'files': [{'content': 'PRIVATE-%s\n', 'dest': key, 'mode': '0600',
                                                        'show_diff': False}]}},
    ]

    def with_value(value):
        return [dict(t, **{'acgs.haproxy_stack.config_files': {'files': [
            dict(t['acgs.haproxy_stack.config_files']['files'][0],
                 content=t['acgs.haproxy_stack.config_files']['files'][0]['content'] % value)]}}) for t in tasks]

    results, stdout = run_playbook(with_value('one'), extra_args=['--diff'])
    assert results['password']['changed'] is True and results['key']['changed'] is True
    results, stdout = run_playbook(with_value('two'), extra_args=['--diff'])
    assert read(secret) == 'hunter2-two\n' and read(key) == 'PRIVATE-two\n'
    assert 'hunter2' not in stdout and 'PRIVATE' not in stdout

    # Only the mode differs: the file module puts it right, the content is not rewritten.
    os.chmod(key, 0o644)
    inode = os.stat(key).st_ino
    results = run_playbook(with_value('two'))[0]
    assert results['key']['files'][0]['changes'] == ['mode'] and results['key']['changed'] is True
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and os.stat(key).st_ino == inode


def test_an_unknown_owner_fails_its_item_and_leaves_the_ones_before_written(local_workdir, run_playbook):
    first, second = (os.path.join(local_workdir, name) for name in ('first.txt', 'second.txt'))
    task = {'name': 'Write two files', 'register': 'owner', 'ignore_errors': True,
            'acgs.haproxy_stack.config_files': {'files': [
                {'content': 'one\n', 'dest': first},
                {'content': 'two\n', 'dest': second, 'owner': 'no-such-user-acgs'}]}}
    result = run_playbook([task])[0]['owner']
    assert result['failed'] is True
    assert 'files[1] (%s) was not written: user no-such-user-acgs does not exist on the host' % second in result['msg']
    assert [f['changed'] for f in result['files']] == [True, False]
    assert read(first) == 'one\n' and not os.path.exists(second)


def test_absent_items_remove_whatever_is_there_and_a_rerun_is_one_module_run(local_workdir, run_playbook):
    gone = os.path.join(local_workdir, 'conf.d')
    os.makedirs(gone)
    old_file, old_link, old_dir = (os.path.join(gone, name) for name in ('50-old.cfg', 'old.sock', 'old.d'))
    with open(old_file, 'w') as handle:
        handle.write('old\n')
    os.symlink(old_file, old_link)
    os.makedirs(os.path.join(old_dir, 'inner'))
    task = {'name': 'Remove the old files', 'acgs.haproxy_stack.config_files': {'files': [
        {'path': old_file, 'state': 'absent'}, {'path': old_link, 'state': 'absent'},
        {'path': old_dir, 'state': 'absent'}, {'path': os.path.join(gone, 'never-there'), 'state': 'absent'}]}}

    # Check mode reports what would go, removes nothing.
    results = run_playbook([dict(task, register='check', check_mode=True)])[0]
    assert results['check']['changed'] is True
    assert [f['changes'] for f in results['check']['files']] == [['remove'], ['remove'], ['remove'], []]
    assert os.path.exists(old_file) and os.path.islink(old_link) and os.path.isdir(old_dir)

    results = run_playbook([dict(task, register='remove')], extra_args=['--diff'])[0]
    assert results['remove']['changed'] is True and not results['remove'].get('failed'), results['remove']
    assert [f['changed'] for f in results['remove']['files']] == [True, True, True, False]
    assert sorted(os.listdir(gone)) == []

    # Nothing left to remove: one module run, nothing changed.
    results, stdout = run_playbook([dict(task, register='again')], extra_args=['-vvv', *PIPELINING])
    assert results['again']['changed'] is False, results['again']
    assert module_runs(stdout, 'Remove the old files') == 1
    assert len(remote_commands(stdout, 'Remove the old files')) == 1, remote_commands(stdout, 'Remove the old files')
