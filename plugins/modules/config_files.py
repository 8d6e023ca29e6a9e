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
version_added: 0.2.0
description:
  - Manages every directory and file of O(files) in one task. On the controller it renders each template (as
    M(ansible.builtin.template) does, with the task's variables) and each content, then asks the host in B(one)
    module run for the type, SHA-1 checksum, mode, owner and group of every path.
  - Only the items that differ are then written, each through the usual machinery - M(ansible.builtin.copy) for a
    file whose content differs (so its O(files[].validate) command checks the new file B(before) it replaces the old
    one), M(ansible.builtin.file) for a directory, for a file whose mode, owner or group alone differ, or to remove
    what is at a path that must be absent.
  - With nothing to change the task costs one module run on the host, where a M(ansible.builtin.template) or
    M(ansible.builtin.copy) task costs two per file and M(ansible.builtin.file) one per directory or path removed.
  - Items are written in the order of O(files) and the first one that fails (a failing O(files[].validate), for
    example) stops the task; the items before it stay written, the ones after it are not touched.
  - This module needs its action plugin (the task runs it under the same name); run on its own it only reports
    what it finds at each path and changes nothing.
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
    type: list
    elements: dict
    required: true
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
      description: V(false) for items after the failed one, which were not looked at again.
      type: bool
      returned: when an earlier item failed
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

import grp
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule


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


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type='list', elements='dict', required=True, options=dict(
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
        ),
        supports_check_mode=True,
    )
    found = []
    for item in module.params['files']:
        path = item['dest'] or item['path']
        if not path:
            module.fail_json(msg='every item of files needs path (a directory) or dest (a file)')
        found.append(inspect(module, path))
    module.exit_json(changed=False, found=found)


if __name__ == '__main__':
    main()
