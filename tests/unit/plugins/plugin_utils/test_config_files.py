# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""config_files' pure parts: the check of a task's items (every error names the item and the key) and
the comparison of what an item wants with what the module found; and the module's report on real paths."""

from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.acgs.haproxy_stack.plugins.modules import config_files
from ansible_collections.acgs.haproxy_stack.plugins.plugin_utils._config_files import (
    ConfigFilesError, differences, normalize_items, normalize_mode)

DIRECTORY = {'path': '/etc/prometheus/rules', 'state': 'directory', 'owner': 'root', 'group': 'prometheus', 'mode': '0755'}
TEMPLATE = {'template': 'haproxy.rules.yml.j2', 'dest': '/etc/prometheus/rules/haproxy.yml', 'owner': 'root',
            'group': 'prometheus', 'mode': '0644', 'validate': 'promtool check rules %s'}
CONTENT = {'content': 'x: 1\n', 'dest': '/etc/prometheus/prometheus.yml', 'mode': '0640'}
SRC = {'src': 'ca.crt', 'dest': '/etc/prometheus/ca.crt', 'show_diff': False}


def test_valid_items_get_their_kind_and_mode_in_order():
    items = normalize_items([DIRECTORY, TEMPLATE, CONTENT, SRC])
    assert [(i['kind'], i['path'], i['mode']) for i in items] == [
        ('directory', '/etc/prometheus/rules', '0755'),
        ('template', '/etc/prometheus/rules/haproxy.yml', '0644'),
        ('content', '/etc/prometheus/prometheus.yml', '0640'),
        ('src', '/etc/prometheus/ca.crt', None)]
    assert items[1]['validate'] == 'promtool check rules %s'
    assert items[3]['show_diff'] is False and items[2]['show_diff'] is True


def test_a_path_alone_is_a_directory():
    assert normalize_items([{'path': '/srv/x'}])[0]['kind'] == 'directory'


@pytest.mark.parametrize('mode, expected', [
    ('0644', '0644'), ('644', '0644'), ('2750', '2750'), (0o640, '0640'), (None, None)])
def test_modes(mode, expected):
    assert normalize_mode(mode, 'files[0]') == expected


@pytest.mark.parametrize('files, message', [
    ([], 'files must be a non-empty list'),
    ('x', 'files must be a non-empty list'),
    (['x'], 'files[0] must be a dictionary, got str'),
    ([dict(CONTENT, mode='u=rw,g=r')], "files[0] (/etc/prometheus/prometheus.yml): mode must be an octal string"),
    ([dict(CONTENT, mode=True)], 'files[0] (/etc/prometheus/prometheus.yml): mode must be an octal string'),
    ([dict(CONTENT, mode=0o17777)], 'files[0] (/etc/prometheus/prometheus.yml): mode 8191 is not a file mode'),
    ([DIRECTORY, dict(CONTENT, template='x.j2')],
     'files[1] (/etc/prometheus/prometheus.yml): give exactly one of template, src or content (got template, content)'),
    ([{'dest': '/etc/x'}], 'files[0] (/etc/x): give exactly one of template, src or content (got none)'),
    ([dict(CONTENT, dest='etc/x')], "files[0] (etc/x): dest must be the absolute path of a file, got 'etc/x'"),
    ([dict(CONTENT, dest='/etc/x/')], 'files[0] (/etc/x/): dest must be the absolute path of a file'),
    ([dict(DIRECTORY, path='rules')], "files[0] (rules): path must be an absolute path, got 'rules'"),
    ([dict(CONTENT, validate='promtool check config')],
     "files[0] (/etc/prometheus/prometheus.yml): validate must contain %s (the file to check)"),
    ([dict(CONTENT, notify='x')], 'files[0] (/etc/prometheus/prometheus.yml): unknown key notify for a file item'),
    ([dict(DIRECTORY, validate='x %s')], 'files[0] (/etc/prometheus/rules): unknown key validate for a directory item'),
    ([dict(CONTENT, state='link')],
     'files[0] (/etc/prometheus/prometheus.yml): state must be "directory", "file" or "absent"'),
    ([{'path': '/etc/x.cfg', 'state': 'absent', 'mode': '0644'}],
     'files[0] (/etc/x.cfg): unknown key mode for an absent item (allowed: path, state)'),
    ([{'dest': '/etc/x.cfg', 'state': 'absent'}], 'files[0] (/etc/x.cfg): unknown key dest for an absent item'),
    ([{'path': 'x.cfg', 'state': 'absent'}], "files[0] (x.cfg): path must be an absolute path, got 'x.cfg'"),
    ([{'path': '//', 'state': 'absent'}], "files[0] (//): refusing to remove '//'"),
    ([CONTENT, {'path': '/etc/prometheus/prometheus.yml', 'state': 'absent'}],
     'files[1] (/etc/prometheus/prometheus.yml): /etc/prometheus/prometheus.yml is already managed by files[0]'),
    ([dict(CONTENT, owner='')], 'files[0] (/etc/prometheus/prometheus.yml): owner must be a user or group name or number'),
    ([dict(CONTENT, show_diff='no')], 'files[0] (/etc/prometheus/prometheus.yml): show_diff must be true or false'),
    ([dict(SRC, src=['a'])], 'files[0] (/etc/prometheus/ca.crt): src must be a file name, got list'),
    ([CONTENT, dict(CONTENT, content='y')],
     'files[1] (/etc/prometheus/prometheus.yml): /etc/prometheus/prometheus.yml is already managed by files[0]'),
])
def test_bad_items_are_refused_naming_the_item_and_the_key(files, message):
    with pytest.raises(ConfigFilesError) as exc:
        normalize_items(files)
    assert str(exc.value).startswith(message), str(exc.value)


FOUND_FILE = {'exists': True, 'type': 'file', 'checksum': 'abc', 'mode': '0644', 'owner': 'root', 'uid': 0,
              'group': 'prometheus', 'gid': 120}


def item(**overrides):
    return normalize_items([dict(TEMPLATE, **overrides)])[0]


@pytest.mark.parametrize('wanted, found, checksum, expected', [
    ({}, FOUND_FILE, 'abc', []),
    ({}, {'exists': False}, 'abc', ['create']),
    ({}, FOUND_FILE, 'other', ['content']),
    ({'mode': '0640'}, FOUND_FILE, 'abc', ['mode']),
    ({'mode': 0o644}, FOUND_FILE, 'abc', []),
    ({'owner': 'prometheus', 'group': 'root'}, FOUND_FILE, 'other', ['content', 'owner', 'group']),
    # Numbers compare with the ids, names with the names.
    ({'owner': '0', 'group': 120}, FOUND_FILE, 'abc', []),
    ({'owner': '1000'}, FOUND_FILE, 'abc', ['owner']),
    # Left alone when the item does not say.
    ({'mode': None, 'owner': None, 'group': None}, dict(FOUND_FILE, mode='0600', owner='x', group='y'), 'abc', []),
    ({}, dict(FOUND_FILE, type='directory', checksum=None), 'abc', ['type']),
    ({}, dict(FOUND_FILE, type='link', checksum=None), 'abc', ['type']),
    # An unreadable file has no checksum: it is rewritten rather than assumed equal.
    ({}, dict(FOUND_FILE, checksum=None), 'abc', ['content']),
])
def test_differences_of_a_file(wanted, found, checksum, expected):
    assert differences(item(**wanted), found, checksum) == expected


def test_differences_of_a_directory():
    directory = normalize_items([DIRECTORY])[0]
    found = {'exists': True, 'type': 'directory', 'mode': '0755', 'owner': 'root', 'uid': 0, 'group': 'prometheus', 'gid': 9}
    assert differences(directory, found) == []
    assert differences(directory, dict(found, mode='0700', group='root')) == ['mode', 'group']
    assert differences(directory, dict(found, type='file')) == ['type']
    assert differences(directory, {'exists': False}) == ['create']


def test_an_absent_item_is_removed_whatever_is_there():
    absent = normalize_items([{'path': '/etc/haproxy/conf.d/50-old.cfg', 'state': 'absent'}])[0]
    assert (absent['kind'], absent['path'], absent['mode']) == ('absent', '/etc/haproxy/conf.d/50-old.cfg', None)
    assert differences(absent, {'exists': False}) == []
    assert differences(absent, FOUND_FILE) == ['remove']
    # A socket, a link or a directory goes too, as with the file module's state=absent.
    for kind in ('other', 'link', 'directory'):
        assert differences(absent, dict(FOUND_FILE, type=kind, checksum=None)) == ['remove']


def test_module_reports_every_path_without_changing_anything(tmp_path, run_module_inproc):
    text = tmp_path / 'a.yml'
    text.write_text('x: 1\n')
    os.chmod(text, 0o640)
    (tmp_path / 'link').symlink_to(text)
    kind, result = run_module_inproc(config_files, {'files': [
        {'dest': str(text)}, {'path': str(tmp_path)}, {'dest': str(tmp_path / 'missing')}, {'dest': str(tmp_path / 'link')}]},
        check_mode=True)
    assert kind == 'exit' and result['changed'] is False
    found = result['found']
    assert found[0]['type'] == 'file' and found[0]['mode'] == '0640'
    assert found[0]['checksum'] == hashlib.sha1(b'x: 1\n').hexdigest()
    assert found[1]['type'] == 'directory' and found[1]['checksum'] is None
    assert found[2] == {'path': str(tmp_path / 'missing'), 'exists': False}
    assert found[3]['type'] == 'link'
    assert found[0]['uid'] == os.getuid() and isinstance(found[0]['owner'], str)
