# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the action plugin tests: build an ActionModule around a fake task, as ansible-core's own tests do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import pytest
from ansible.playbook.task import Task
from ansible.plugins.action import ActionBase

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
def make_action():
    """``make_action(ActionModule, args, check_mode=False, diff=False)`` -> the plugin instance.

    ``register_host_variables`` (which needs a running TaskExecutor) is replaced by a mock, so tests can
    assert how the fact was registered.
    """

    def _make(cls: type[ActionBase], args: dict, check_mode: bool = False, diff: bool = False) -> ActionBase:
        task = mock.MagicMock(spec=Task)
        task.args = dict(args)
        task.check_mode = check_mode
        task.diff = diff
        task.async_val = 0
        task.environment = []
        task.action = cls.__module__.rsplit(".", 1)[-1]
        connection = mock.MagicMock()
        connection._shell.tmpdir = None
        play_context = mock.MagicMock()
        play_context.check_mode = check_mode
        play_context.become = False
        action = cls(task, connection, play_context, loader=mock.MagicMock(), templar=mock.MagicMock(),
                     shared_loader_obj=None)  # fmt: skip
        action.register_host_variables = mock.MagicMock()
        return action

    return _make


PLAY = """
- name: Probe the action plugins
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/voicehive.remediation.kubernetes: {kubernetes}
  tasks:
{tasks}
"""


@pytest.fixture
def ansible_playbook(tmp_path):
    """``ansible_playbook(tasks, kubernetes)`` -> the finished run (``subprocess.CompletedProcess``) of
    ``ansible-playbook -vvv`` with a play of ``tasks`` (YAML text) on localhost, ``kubernetes`` the module_defaults of
    the group ``voicehive.remediation.kubernetes``. This checkout is the collection, HOME is ``tmp_path`` (so there is
    no ~/.kube/config) and KUBECONFIG, VAULT_ADDR and VAULT_TOKEN are unset."""

    def _run(tasks: str, kubernetes: dict) -> subprocess.CompletedProcess:
        import ansible_collections.voicehive.remediation as collection

        collections_root = Path(next(iter(collection.__path__))).parents[2]
        playbook = tmp_path / "probe.yml"
        tasks = textwrap.indent(textwrap.dedent(tasks).strip("\n"), "    ")
        playbook.write_text(PLAY.format(kubernetes=json.dumps(kubernetes), tasks=tasks))
        env = dict(
            os.environ,
            HOME=str(tmp_path),
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            ANSIBLE_COLLECTIONS_PATH=str(collections_root),
            ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
            ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        )
        for name in ("KUBECONFIG", "VAULT_ADDR", "VAULT_TOKEN"):
            env.pop(name, None)
        return subprocess.run(
            [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-vvv", str(playbook)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    return _run
