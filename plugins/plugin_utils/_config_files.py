# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure parts of the config_files action (plugins/action/config_files.py): checking the items a
task lists and comparing each one with what the host has. No I/O here, so unit tests cover it
without Ansible running anything; private to the acgs.haproxy_stack collection."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

DIRECTORY_KEYS = frozenset(('path', 'state', 'mode', 'owner', 'group'))
ABSENT_KEYS = frozenset(('path', 'state'))
FILE_KEYS = frozenset(('dest', 'state', 'template', 'src', 'content', 'mode', 'owner', 'group', 'validate', 'show_diff'))
SOURCE_KEYS = ('template', 'src', 'content')
# Only octal modes: a symbolic mode (u=rw,g=r) depends on the mode the file has, so comparing it
# here would mean reimplementing the file module's rules; the item is refused instead.
OCTAL_MODE = re.compile(r'^0?[0-7]{3,4}$')


class ConfigFilesError(ValueError):
    """An item of the task's `files` is wrong; the message names the item and the key."""


def item_label(index, item):
    """files[2] (/etc/x.yml): how messages and results name an item."""
    where = None
    if isinstance(item, dict):
        where = item.get('dest') or item.get('path')
    return 'files[%d]%s' % (index, ' (%s)' % where if where else '')


def normalize_mode(mode, label):
    """The mode as four octal digits ('0644'), or None when the item leaves the mode alone.

    YAML reads an unquoted 0644 as the integer 420 (octal); Ansible's file module takes such an
    integer as the mode bits, and so does this."""
    if mode is None:
        return None
    if isinstance(mode, bool):
        raise ConfigFilesError('%s: mode must be an octal string such as "0644", not %r' % (label, mode))
    if isinstance(mode, int):
        if not 0 <= mode <= 0o7777:
            raise ConfigFilesError('%s: mode %r is not a file mode' % (label, mode))
        return '%04o' % mode
    text = str(mode)
    if not OCTAL_MODE.match(text):
        raise ConfigFilesError('%s: mode must be an octal string such as "0644" (symbolic modes are not supported), got %r'
                               % (label, text))
    return '%04o' % int(text, 8)


def normalize_items(files):
    """Check the task's `files` and return them with `kind` (directory, absent, template, src, content) and
    the mode as '0644'. Raises ConfigFilesError naming the first wrong item and key."""
    if not isinstance(files, list) or not files:
        raise ConfigFilesError('files must be a non-empty list of items (directories and files)')
    items = []
    seen = {}
    for index, raw in enumerate(files):
        label = item_label(index, raw)
        if not isinstance(raw, dict):
            raise ConfigFilesError('%s must be a dictionary, got %s' % (label, type(raw).__name__))
        state = raw.get('state', 'directory' if 'path' in raw and 'dest' not in raw else 'file')
        if state not in ('directory', 'file', 'absent'):
            raise ConfigFilesError('%s: state must be "directory", "file" or "absent", got %r' % (label, state))
        allowed = {'directory': DIRECTORY_KEYS, 'absent': ABSENT_KEYS}.get(state, FILE_KEYS)
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ConfigFilesError('%s: unknown key%s %s for %s %s item (allowed: %s)'
                                   % (label, 's' if len(unknown) > 1 else '', ', '.join(unknown),
                                      'an' if state == 'absent' else 'a', state,
                                      ', '.join(sorted(allowed))))
        item = {'index': index, 'label': label,
                'mode': normalize_mode(raw.get('mode'), label)}
        for key in ('owner', 'group'):
            value = raw.get(key)
            if value is not None and (isinstance(value, (bool, dict, list)) or str(value) == ''):
                raise ConfigFilesError('%s: %s must be a user or group name or number, got %r' % (label, key, value))
            item[key] = None if value is None else str(value)
        if state in ('directory', 'absent'):
            path = raw.get('path')
            if not isinstance(path, str) or not path.startswith('/'):
                raise ConfigFilesError('%s: path must be an absolute path, got %r' % (label, path))
            if state == 'absent' and path.strip('/') == '':
                raise ConfigFilesError('%s: refusing to remove %r' % (label, path))
            item.update(kind=state, path=path)
        else:
            dest = raw.get('dest')
            if not isinstance(dest, str) or not dest.startswith('/') or dest.endswith('/'):
                raise ConfigFilesError('%s: dest must be the absolute path of a file, got %r' % (label, dest))
            sources = [key for key in SOURCE_KEYS if raw.get(key) is not None]
            if len(sources) != 1:
                raise ConfigFilesError('%s: give exactly one of template, src or content (got %s)'
                                       % (label, ', '.join(sources) if sources else 'none'))
            kind = sources[0]
            if kind != 'content' and not isinstance(raw[kind], str):
                raise ConfigFilesError('%s: %s must be a file name, got %s' % (label, kind, type(raw[kind]).__name__))
            validate = raw.get('validate')
            if validate is not None and '%s' not in str(validate):
                raise ConfigFilesError('%s: validate must contain %%s (the file to check), got %r' % (label, validate))
            show_diff = raw.get('show_diff', True)
            if not isinstance(show_diff, bool):
                raise ConfigFilesError('%s: show_diff must be true or false, got %r' % (label, show_diff))
            item.update(kind=kind, path=dest, source=raw[kind], validate=validate, show_diff=show_diff)
        if item['path'] in seen:
            raise ConfigFilesError('%s: %s is already managed by files[%d]' % (label, item['path'], seen[item['path']]))
        seen[item['path']] = index
        items.append(item)
    return items


def _same_account(wanted, name, number):
    """An owner or group given as a name or as a number matches the host's name or id."""
    if wanted is None:
        return True
    if wanted.isdigit():
        return number is not None and int(wanted) == int(number)
    return wanted == name


def differences(item, found, checksum=None):
    """What must change for `item` to be as wanted, given `found` (the module's report on its path)
    and, for a file, the SHA-1 of the wanted content.

    Returns a list, empty when nothing differs: 'create' (nothing there), 'content', 'mode',
    'owner', 'group'; or 'type' when something of another type is in the way (a file where a
    directory is wanted, a directory or link where a file is); for an absent item, 'remove' when
    anything (of any type) is there."""
    if item['kind'] == 'absent':
        return ['remove'] if found.get('exists') else []
    if not found.get('exists'):
        return ['create']
    wanted_type = 'directory' if item['kind'] == 'directory' else 'file'
    if found.get('type') != wanted_type:
        return ['type']
    changes = []
    if wanted_type == 'file' and found.get('checksum') != checksum:
        changes.append('content')
    if item.get('mode') is not None and found.get('mode') != item['mode']:
        changes.append('mode')
    if not _same_account(item.get('owner'), found.get('owner'), found.get('uid')):
        changes.append('owner')
    if not _same_account(item.get('group'), found.get('group'), found.get('gid')):
        changes.append('group')
    return changes
