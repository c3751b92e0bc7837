# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the action plugin tests: build an ActionModule around a fake task, as ansible-core's own tests do."""

from __future__ import annotations

from unittest import mock

import pytest
from ansible.playbook.task import Task
from ansible.plugins.action import ActionBase


@pytest.fixture
def make_action():
    """``make_action(ActionModule, args, check_mode=False)`` -> the plugin instance.

    ``register_host_variables`` (which needs a running TaskExecutor) is replaced by a mock, so tests can
    assert how the fact was registered.
    """

    def _make(cls: type[ActionBase], args: dict, check_mode: bool = False) -> ActionBase:
        task = mock.MagicMock(spec=Task)
        task.args = dict(args)
        task.check_mode = check_mode
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
