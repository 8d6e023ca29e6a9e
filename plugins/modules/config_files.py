#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: config_files
short_description: Manage several directories and config files (templates, files, content) with one remote check
version_added: 0.1.0
description:
  - Manages every directory and file of O(files) in one task. On the controller it renders each template (as
    M(ansible.builtin.template) does, with the task's variables) and each content, then asks the host in B(one)
    module run for the type, SHA-1 checksum, mode, owner and group of every path.
  - Only the items that differ are then put right, all of them in B(one) more module run that gets the new
    contents in its arguments - a file whose content differs is written next to its destination, checked with its
    O(files[].validate) command B(before) it replaces the old one, and moved into place atomically (as
    M(ansible.builtin.copy) does); directories are created, modes, owners and groups set, and paths that must be
    absent removed (as M(ansible.builtin.file) does).
  - With nothing to change the task costs one module run on the host, where a M(ansible.builtin.template) or
    M(ansible.builtin.copy) task costs two per file and M(ansible.builtin.file) one per directory or path removed;
    with changes it costs two, where M(ansible.builtin.copy) costs four commands per file written (a stat, the
    transfer, the copy, and the temporary directory around them).
  - Items are written in the order of O(files) and the first one that fails (a failing O(files[].validate), for
    example) stops the task; the items before it stay written, the ones after it are not touched.
  - This module needs its action plugin (the task runs it under the same name); run on its own with O(files) it
    only reports what it finds at each path and changes nothing.
author:
  - acgs.haproxy_stack developers (@acgs)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Reports which items would change (and their diff) and writes nothing.
  diff_mode:
    support: full
    details: Before and after of each file whose content changes, except items with O(files[].show_diff=false)
      and tasks with C(no_log); M(ansible.builtin.file)'s attribute diff for the others.
  platform:
    platforms: posix
options:
  files:
    description:
      - The directories and files, in the order they are to be written (a file whose O(files[].validate) reads
        another one comes after it).
      - A directory item has O(files[].path) and O(files[].state=directory); a file item has O(files[].dest) and
        exactly one of O(files[].template), O(files[].src) or O(files[].content); an item that removes a path has
        O(files[].path) and O(files[].state=absent), nothing else.
      - No path may appear twice.
      - Required, unless O(apply) is given instead.
    type: list
    elements: dict
    suboptions:
      state:
        description:
          - V(directory) for a directory, V(file) for a file, V(absent) for a path to remove.
          - Defaults to V(directory) for an item with O(files[].path) and to V(file) for one with O(files[].dest).
          - V(absent) removes whatever is at O(files[].path) (a file, a link, a socket; a directory with its
            content), as M(ansible.builtin.file) with O(ansible.builtin.file#module:state=absent) does.
        type: str
        choices: [directory, file, absent]
      path:
        description: Absolute path of a directory (created with its parents if missing) or of a path to remove.
        type: path
      dest:
        description: Absolute path of a file.
        type: path
      template:
        description:
          - A Jinja2 template rendered on the controller with the task's variables, found as
            M(ansible.builtin.template) finds its O(ansible.builtin.template#module:src) (the role's C(templates/)
            directory first).
        type: path
      src:
        description:
          - A file copied as it is, found as M(ansible.builtin.copy) finds its O(ansible.builtin.copy#module:src)
            (the role's C(files/) directory first; vault-encrypted files are decrypted).
        type: path
      content:
        description:
          - The file's content (already templated, as the task's arguments are). A list or a dictionary is written
            as JSON, as M(ansible.builtin.copy) does.
        type: raw
      mode:
        description:
          - Octal mode such as V("0644") (quote it in YAML). Left alone when not given (a new file gets the
            default mode, as with M(ansible.builtin.copy)).
          - Symbolic modes are not supported.
        type: raw
      owner:
        description: User name or id owning the path; left alone when not given.
        type: str
      group:
        description: Group name or id of the path; left alone when not given.
        type: str
      validate:
        description:
          - Command checking the new file before it replaces the old one, with V(%s) where the file's path goes,
            as M(ansible.builtin.copy)'s O(ansible.builtin.copy#module:validate). It runs only when the content
            changes.
        type: str
      show_diff:
        description:
          - Set to V(false) for a file whose content must not appear in C(--diff) output (a private key, for
            example) when the task itself is not C(no_log).
        type: bool
        default: true
  apply:
    description:
      - Set by the action plugin, not by a task - the items that differ, in order, as the action found them. The module
        puts each one right and stops at the first one that fails.
    type: list
    elements: dict
    suboptions:
      path:
        description: Absolute path of the item.
        type: path
        required: true
      state:
        description: What must be at O(apply[].path).
        type: str
        choices: [directory, file, absent]
        required: true
      label:
        description: How messages name the item (C(files[2] (/etc/x.yml))).
        type: str
        required: true
      content:
        description: The file's new content, base64-encoded; only when the content must be written.
        type: str
      mode:
        description: Octal mode, four digits.
        type: str
      owner:
        description: User name or id.
        type: str
      group:
        description: Group name or id.
        type: str
      validate:
        description: Command checking the new file before it replaces the old one (V(%s) is the file).
        type: str
      diff:
        description: Return the old and new content (for C(--diff)) when the content is written.
        type: bool
        default: false
      diff_max_size:
        description: Larger old contents are not returned for C(--diff).
        type: int
        default: 104448
notes:
  - Like M(ansible.builtin.template) and M(ansible.builtin.copy) this does not follow a symbolic link at O(files[].dest);
    a link there is replaced by a file.
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Create the rules directory, write the rules and prometheus.yml (each checked before it replaces the old one)
  acgs.haproxy_stack.config_files:
    files:
      - path: /etc/prometheus/rules
        state: directory
        owner: root
        group: prometheus
        mode: "0755"
      - template: haproxy.rules.yml.j2
        dest: /etc/prometheus/rules/haproxy.yml
        owner: root
        group: prometheus
        mode: "0644"
        validate: promtool check rules %s
      - content: "{{ prometheus_config | to_nice_yaml }}"
        dest: /etc/prometheus/prometheus.yml
        owner: root
        group: prometheus
        mode: "0640"
        validate: promtool check config %s
  notify: Reload prometheus

- name: Remove a rule file that is no longer wanted (one module run when it is already gone)
  acgs.haproxy_stack.config_files:
    files:
      - path: /etc/prometheus/rules/old.yml
        state: absent
  notify: Reload prometheus

- name: Copy a TLS key without showing it in --diff
  acgs.haproxy_stack.config_files:
    files:
      - src: files/server.key
        dest: /etc/prometheus/tls/server.key
        mode: "0640"
        show_diff: false
"""

RETURN = r"""
files:
  description: One entry per item of O(files), in the same order.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The item's path.
      type: str
      sample: /etc/prometheus/prometheus.yml
    kind:
      description: V(directory), V(absent), V(template), V(src) or V(content).
      type: str
      sample: content
    changed:
      description: Whether the item was changed (in check mode, whether it would be).
      type: bool
      sample: true
    changes:
      description:
        - What differed - V(create), V(content), V(mode), V(owner), V(group), V(type) or (an absent item's path
          exists) V(remove); empty when nothing did.
      type: list
      elements: str
      sample: [content]
    failed:
      description: Present and V(true) on the item that failed (its message is the task's C(msg)).
      type: bool
      returned: on the failed item
    written:
      description: V(false) for items after the failed one, which were left as they were (their RV(files[].changes)
        still say what differs).
      type: bool
      returned: when an earlier item failed
applied:
  description:
    - What the module did for each item of O(apply), up to and including the first one that failed.
  returned: when O(apply) is given
  type: list
  elements: dict
  contains:
    changed:
      description: Whether the item was changed (in check mode, whether it would be).
      type: bool
    failed:
      description: Present and V(true) on the item that failed.
      type: bool
    msg:
      description: Why the item failed.
      type: str
    stdout:
      description: The O(apply[].validate) command's output, when it failed.
      type: str
    stderr:
      description: The O(apply[].validate) command's error output, when it failed.
      type: str
    diff:
      description: Before and after of the item's state and attributes, as M(ansible.builtin.file) reports them.
      type: list
      elements: dict
    content_diff:
      description: With O(apply[].diff), the old and new content for C(--diff) - C(before) and C(after), or
        C(dst_binary) / C(dst_larger) and C(src_binary) / C(src_larger) as M(ansible.builtin.copy) reports a
        binary or too large file.
      type: dict
      returned: when the content is written and O(apply[].diff) is set
found:
  description:
    - What the module found at each path (the module alone, without its action plugin, returns only this).
  returned: when the module runs on its own
  type: list
  elements: dict
  contains:
    path:
      description: The path.
      type: str
    exists:
      description: Whether something is at the path (a dangling link counts).
      type: bool
    type:
      description: V(file), V(directory), V(link) or V(other); not followed through links.
      type: str
    checksum:
      description: SHA-1 of a regular file's content; C(null) for anything else or an unreadable file.
      type: str
    mode:
      description: Permission bits as four octal digits.
      type: str
      sample: "0640"
    owner:
      description: Owning user's name (the id when it has none).
      type: str
    uid:
      description: Owning user's id.
      type: int
    group:
      description: Group's name (the id when it has none).
      type: str
    gid:
      description: Group's id.
      type: int
"""

import base64
import grp
import os
import pwd
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native, to_text


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def inspect(module, path):
    """What is at `path`, without following a link (a link at a dest is replaced, as copy does)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {'path': path, 'exists': False}
    if stat.S_ISREG(st.st_mode):
        kind = 'file'
    elif stat.S_ISDIR(st.st_mode):
        kind = 'directory'
    elif stat.S_ISLNK(st.st_mode):
        kind = 'link'
    else:
        kind = 'other'
    checksum = None
    if kind == 'file' and os.access(path, os.R_OK):
        checksum = module.digest_from_file(path, 'sha1')
    return {'path': path, 'exists': True, 'type': kind, 'checksum': checksum,
            'mode': '%04o' % stat.S_IMODE(st.st_mode),
            'owner': _name(pwd.getpwuid, st.st_uid), 'uid': st.st_uid,
            'group': _name(grp.getgrgid, st.st_gid), 'gid': st.st_gid}


class ItemFailed(Exception):
    """One item of apply could not be put right; the items after it are left alone."""

    def __init__(self, msg, **detail):
        super(ItemFailed, self).__init__(msg)
        self.detail = dict(detail, msg=msg)


def _account(item, key):
    """Refuse an owner or group the host does not have before anything of the item is written
    (the file module would fail the whole task; here the items before it keep their report)."""
    value = item.get(key)
    if value is None or value.isdigit():
        return
    try:
        (pwd.getpwnam if key == 'owner' else grp.getgrnam)(value)
    except KeyError:
        raise ItemFailed('%s %s does not exist on the host' % ('user' if key == 'owner' else 'group', value))


def _diff_text(data, max_size, side):
    """One side of a content diff as the copy action reports it: the text, or too large / binary."""
    if len(data) > max_size:
        return {'%s_larger' % side: max_size}
    if b'\x00' not in data:
        try:
            return {'before' if side == 'dst' else 'after': to_text(data, errors='strict')}
        except UnicodeError:
            pass
    return {'%s_binary' % side: 1}


def _old_data(path):
    """The bytes at path, empty when it is not a regular file (nothing there, or a link replaced)."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return b''
    except FileNotFoundError:
        return b''
    with open(path, 'rb') as handle:
        return handle.read()


def _write(module, item, result):
    """Write the new content next to the destination, check it, then move it into place."""
    path = item['path']
    data = base64.b64decode(item['content'])
    if item['diff']:
        result['content_diff'] = dict(_diff_text(_old_data(path), item['diff_max_size'], 'dst'),
                                      **_diff_text(data, item['diff_max_size'], 'src'))
    if module.check_mode:
        return
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    # A dot name with a suffix no service globs for (conf.d/*.cfg, rules/*.yml), removed unless moved.
    handle, staged = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(path), suffix='.acgs-new')
    try:
        with os.fdopen(handle, 'wb') as out:
            out.write(data)
        if item['validate']:
            rc, stdout, stderr = module.run_command(item['validate'] % staged)
            if rc != 0:
                raise ItemFailed('failed to validate', exit_status=rc, stdout=stdout, stderr=stderr)
        module.atomic_move(staged, path, unsafe_writes=False)
    finally:
        if os.path.exists(staged):
            os.unlink(staged)


def _remove(module, path, result):
    """Remove whatever is at path (a directory with its content), as the file module's state=absent."""
    st = os.lstat(path)
    kind = 'directory' if stat.S_ISDIR(st.st_mode) else 'link' if stat.S_ISLNK(st.st_mode) else 'file'
    result['diff'].append({'before': {'path': path, 'state': kind}, 'after': {'path': path, 'state': 'absent'}})
    if module.check_mode:
        return
    if kind == 'directory':
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _attributes(module, item, path, result, record=True):
    """Set the item's mode, owner and group on path; `record` false: no diff (the path is new)."""
    file_args = {'path': path, 'mode': item['mode'], 'owner': item['owner'], 'group': item['group'],
                 'secontext': None, 'attributes': None}
    diff = {'before': {'path': path}, 'after': {'path': path}}
    changed = module.set_fs_attributes_if_different(file_args, False, diff, expand=False)
    if changed and record:
        result['diff'].append(diff)
    return changed


def apply_item(module, item):
    """Put one item right (it differs: the action plugin compared it); the report of what was done."""
    result = {'changed': True, 'diff': []}
    path = item['path']
    try:
        if item['state'] == 'absent':
            _remove(module, path, result)
            return result
        _account(item, 'owner')
        _account(item, 'group')
        if item['state'] == 'directory':
            if not os.path.lexists(path):
                result['diff'].append({'before': {'path': path, 'state': 'absent'},
                                       'after': {'path': path, 'state': 'directory'}})
                if module.check_mode:
                    return result
                # Missing parents too, each with the item's attributes, as the file module does.
                missing = []
                parent = path
                while not os.path.lexists(parent):
                    missing.insert(0, parent)
                    parent = os.path.dirname(parent)
                for directory in missing:
                    os.mkdir(directory)
                    _attributes(module, item, directory, result, record=False)
                return result
        elif item['content'] is not None:
            existed = os.path.lexists(path)
            _write(module, item, result)
            if not module.check_mode:
                _attributes(module, item, path, result, record=existed)
            return result
        # Only attributes differ.
        result['changed'] = _attributes(module, item, path, result)
    except ItemFailed as exc:
        result.update(exc.detail, changed=False, failed=True)
    except (IOError, OSError) as exc:
        result.update(changed=False, failed=True, msg=to_native(exc))
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type='list', elements='dict', options=dict(
                state=dict(type='str', choices=['directory', 'file', 'absent']),
                path=dict(type='path'),
                dest=dict(type='path'),
                template=dict(type='path'),
                src=dict(type='path'),
                content=dict(type='raw', no_log=True),
                mode=dict(type='raw'),
                owner=dict(type='str'),
                group=dict(type='str'),
                validate=dict(type='str'),
                show_diff=dict(type='bool', default=True),
            )),
            apply=dict(type='list', elements='dict', options=dict(
                path=dict(type='path', required=True),
                state=dict(type='str', choices=['directory', 'file', 'absent'], required=True),
                label=dict(type='str', required=True),
                content=dict(type='str', no_log=True),
                mode=dict(type='str'),
                owner=dict(type='str'),
                group=dict(type='str'),
                validate=dict(type='str'),
                diff=dict(type='bool', default=False),
                diff_max_size=dict(type='int', default=104448),
            )),
        ),
        required_one_of=[('files', 'apply')],
        mutually_exclusive=[('files', 'apply')],
        supports_check_mode=True,
    )
    if module.params['apply'] is not None:
        applied = []
        for item in module.params['apply']:
            applied.append(apply_item(module, item))
            if applied[-1].get('failed'):
                break
        module.exit_json(changed=any(a['changed'] for a in applied), applied=applied)
    found = []
    for item in module.params['files']:
        path = item['dest'] or item['path']
        if not path:
            module.fail_json(msg='every item of files needs path (a directory) or dest (a file)')
        found.append(inspect(module, path))
    module.exit_json(changed=False, found=found)


if __name__ == '__main__':
    main()
