# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This plugin util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""Action plugins that run their module's code in the worker process when the module would run here anyway.

A module task costs about a second before it does anything (payload, interpreter start-up,
``ansible.module_utils.basic``, for the Kubernetes modules the kubernetes library). With a local connection, as
the collection's playbooks use, the module would run on the controller as this worker's user and in its
environment, so the action plugin runs the same code (kept in ``module_utils``) in-process. With any other
connection, with ``become``, a task ``environment`` or ``async``, the module runs as the ``normal`` action runs it.

- ``InProcessAction``: that choice (``MODULE``, the module's FQCN; ``run_here()``, the in-process run), the
  argument validation with the no_log values (``validated()``), the module's stand-in (``stand_in()``) and the
  masked result (``finish()``).
- ``ModuleStandIn``: what a module's code uses of its ``AnsibleModule``: params, check and diff mode, warnings,
  no_log values.
- ``KubeOperationAction``: the action plugin of a Kubernetes module that is a ``_k8s.Operation`` (lease_lock,
  remediation_budget, k8s_secret_key, vault_kubernetes_login).
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import (
    Operation,
    invalid_options_message,
    perform,
)

LOCAL_TRANSPORTS = ("local", "ansible.builtin.local")


class InProcessAction(ActionBase):
    """Run ``run_here()`` in the worker process when the module would run on this machine, else the module."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True  # async tasks run the module
    MODULE = ""  # FQCN of the module

    def _runs_here(self) -> bool:
        """Whether the module would run on the controller, as this worker's user, in its environment."""
        if getattr(self._connection, "transport", None) not in LOCAL_TRANSPORTS:
            return False
        return not (self._task.async_val or self._play_context.become or any(self._task.environment or []))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        if self._runs_here():
            return self.run_here(result)
        wrap_async = self._task.async_val
        result = merge_hash(
            result,
            self._execute_module(
                module_name=self.MODULE, module_args=self._task.args, task_vars=task_vars, wrap_async=wrap_async
            ),
        )
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def run_here(self, result: dict[str, t.Any]) -> dict[str, t.Any]:
        """The module's work, done in-process; ``result`` is what ``ActionBase.run()`` started."""
        raise NotImplementedError

    def validated(self, argument_spec: dict[str, t.Any], **constraints: t.Any) -> tuple[dict[str, t.Any], set[str]]:
        """The task's arguments checked against the module's ``argument_spec`` and ``constraints``
        (``mutually_exclusive``, ``required_if``, ... as the module gives them to ``AnsibleModule``; the task fails
        when they do not fit), and the values of its no_log options."""
        validation, params = self.validate_argument_spec(argument_spec=argument_spec, **constraints)
        return params, set(validation._no_log_values)

    def stand_in(self, params: dict[str, t.Any], no_log_values: t.Iterable[str]) -> ModuleStandIn:
        """The module's stand-in for the module's code, in the task's check and diff mode."""
        return ModuleStandIn(params, bool(self._play_context.check_mode), no_log_values, bool(self._task.diff))

    @staticmethod
    def finish(
        result: dict[str, t.Any], data: dict[str, t.Any], no_log_values: set[str], warnings: t.Iterable[str] = ()
    ) -> dict[str, t.Any]:
        """``result`` with ``data`` and ``warnings`` added, every no_log value masked as the module would."""
        result.update(remove_values(data, no_log_values))
        warnings = remove_values(list(warnings), no_log_values)
        if warnings:
            result["warnings"] = result.get("warnings", []) + warnings
        return result


class ModuleStandIn:
    """What a module's code uses of its ``AnsibleModule`` when an action plugin runs it: ``params``,
    ``check_mode``, ``_diff`` (diff mode, named as ``AnsibleModule`` names it), ``warn()`` (collected in
    ``warnings``) and ``no_log_values`` (masked in the result)."""

    def __init__(
        self, params: dict[str, t.Any], check_mode: bool, no_log_values: t.Iterable[str] = (), diff: bool = False
    ) -> None:
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.no_log_values = set(no_log_values)
        self.warnings: list[str] = []

    def warn(self, warning: str) -> None:
        self.warnings.append(warning)


class KubeOperationAction(InProcessAction):
    """The action plugin of a module that is a ``_k8s.Operation``: the same validation, messages, check mode and
    result as the module, without starting it."""

    OPERATION: Operation

    def run_here(self, result: dict[str, t.Any]) -> dict[str, t.Any]:
        operation = self.OPERATION
        params, no_log_values = self.validated(operation.full_argument_spec())
        errors = operation.validate(params)
        if errors:
            raise AnsibleActionFail(invalid_options_message(operation.name, errors))
        module = self.stand_in(params, no_log_values)
        return self.finish(result, perform(operation, module), module.no_log_values, module.warnings)
