# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The alertmanager role's configuration against each Debian release's amtool check-config.

One ansible-playbook run renders, for each exporter mode, what roles/alertmanager/tasks/configure.yml
writes: alertmanager.yml (the role's defaults with receivers and a dead-man's-switch as the lab has
them) and the names-only routes check file. Every file must pass ``amtool check-config`` of
bookworm (0.25, this machine's) and trixie (0.28, tools/release_tools.sh) without a warning:
Alertmanager 0.27+ also parses matchers with its new UTF-8 parser and warns where the two differ.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import yaml

import release_binaries

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODES = ["native", "standalone"]
# Receivers and a dead-man's-switch as inventories/lab has them (addresses made up).
INVENTORY = {
    "alertmanager_receivers": [
        {"name": "default", "webhook_configs": [{"url": "http://192.0.2.9:9095/alertmanager", "send_resolved": True}]},
        {"name": "pager", "webhook_configs": [{"url": "http://192.0.2.9:9095/alertmanager/critical",
                                               "send_resolved": True}]},
    ],
    "alertmanager_deadmans_switch_url": "http://192.0.2.9:9095/deadmans-switch",
}

PLAYBOOK = textwrap.dedent("""\
    - name: Render the alertmanager role's configuration files
      hosts: localhost
      connection: local
      gather_facts: false
      vars_files:
        - %(roles)s/_common/defaults/main.yml
        - %(roles)s/_common/vars/main.yml
        - %(roles)s/alertmanager/defaults/main.yml
        - %(roles)s/alertmanager/vars/main.yml
        # After the defaults: a vars file there outranks play vars.
        - %(inventory)s
      tasks:
        - name: Write alertmanager.yml and the routes check file for each mode
          ansible.builtin.copy:
            content: "{{ (_alertmanager_config if item.1 == 'alertmanager' else _routes) | to_nice_yaml(indent=2, width=1000) }}"
            dest: "{{ out }}/{{ item.0 }}-{{ item.1 }}.yml"
            mode: "0644"
          vars:
            acgs_haproxy_exporter_mode: "{{ item.0 }}"
            # As tasks/configure.yml checks the routes: names-only receivers, no global section.
            _routes: "{{ _alertmanager_config | combine({'global': {}, 'receivers': _alertmanager_receiver_names}) }}"
          loop: "{{ %(modes)s | product(['alertmanager', 'routes']) | list }}"
    """)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("alertmanager")
    (out / "inventory.yml").write_text(yaml.safe_dump(INVENTORY))
    (out / "play.yml").write_text(PLAYBOOK % {"roles": os.path.join(REPO, "roles"), "modes": MODES,
                                              "inventory": out / "inventory.yml"})
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                             "-e", "out=%s" % out, str(out / "play.yml")], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    files = sorted(out.glob("*-*.yml"))
    assert [f.name for f in files] == ["%s-%s.yml" % (m, k) for m in MODES for k in ("alertmanager", "routes")], files
    return files


@pytest.mark.parametrize("release", release_binaries.release_params("amtool"))
def test_config_passes_amtool_check_config(rendered, release):
    amtool = release_binaries.require(release, "amtool")
    for path in rendered:
        result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60,
                                check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 0, "%s: %s" % (path.name, output)
        assert "SUCCESS" in output, "%s: %s" % (path.name, output)
        warnings = [line for line in output.splitlines() if "level=warn" in line.lower() or "deprecat" in line.lower()]
        assert not warnings, "%s: %s" % (path.name, output)
