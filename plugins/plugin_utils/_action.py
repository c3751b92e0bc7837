# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This plugin util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""Controller-side code shared by the action plugins finding, record_action and report.

- The vocabulary of findings and action records (severities, statuses, the finding id pattern).
- ``RecordActionBase``: an ``ActionBase`` that runs on the controller only, validates its arguments
  with every secret masked in the message (``validated_args``) and works out the check mode.
- ``fail()``: raise ``AnsibleActionFail`` with the secrets masked.
- ``existing_list()`` / ``register_fact()``: read and publish a list fact like set_fact does.
"""

from __future__ import annotations

import datetime
import re
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.voicehive.remediation.plugins.module_utils._redact import (
    normalize_secret_values,
    redact_text,
)

try:  # ansible-core >= 2.19: register at the set_fact layer, so the fact overrides an earlier set_fact
    from ansible.plugins.action import VariableLayer
except ImportError:  # pragma: no cover - older ansible-core: the legacy ansible_facts result is used
    VariableLayer = None

ID_PATTERN = re.compile(r"^[a-z_]+\.[a-z_]+$")
SEVERITIES = ("critical", "warning", "info")
FINDING_STATUSES = ("open", "resolved", "unresolved")
ACTION_STATUSES = (
    "done",
    "would_change",
    "skipped_needs_approval",
    "skipped_budget_exhausted",
    "skipped_guard_failed",
    "failed",
)


def secret_values_spec() -> dict[str, t.Any]:
    """The ``secret_values`` option of every record plugin (doc fragment ``voicehive.remediation.findings``)."""
    return dict(type="list", elements="raw", no_log=True, default=[])


def utc_now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: UP017


def unique(items: t.Iterable[t.Any]) -> list[t.Any]:
    """The items without repeats, in their first order."""
    out: list[t.Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def fail(message: str, secrets: list[str]) -> t.NoReturn:
    """Fail the task with ``message``, every secret value masked."""
    raise AnsibleActionFail(redact_text(message, secrets)) from None


def existing_list(task_vars: dict[str, t.Any], fact: str) -> list[dict[str, t.Any]]:
    """The fact's current value: the host variable, else ``ansible_facts[fact]``, else ``[]``."""
    value = task_vars.get(fact)
    if value is None:
        value = (task_vars.get("ansible_facts") or {}).get(fact)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise AnsibleActionFail(f"Cannot record: the variable {fact} is not a list of records; do not set it by hand.")
    return list(value)


def register_fact(action: ActionBase, fact: str, value: t.Any) -> dict[str, t.Any]:
    """Publish ``{fact: value}`` like set_fact does; returns the ``ansible_facts`` result entry."""
    facts = {fact: value}
    if VariableLayer is not None and hasattr(action, "register_host_variables"):
        action.register_host_variables({}, VariableLayer.CACHEABLE_FACT)  # no legacy ansible_facts handling
        action.register_host_variables(facts, VariableLayer.EPHEMERAL_FACT)
    return facts


class RecordActionBase(ActionBase):
    """An action that only runs on the controller and records (it never changes the site)."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def validated_args(self, argument_spec: dict[str, t.Any], what: str) -> tuple[dict[str, t.Any], list[str]]:
        """``(args, secrets)``: the validated task args and their normalized ``secret_values``.

        Invalid args fail the task with ``"<what>: <problem>"``, the secret values given masked.
        """
        secrets = normalize_secret_values(self._task.args.get("secret_values"))
        try:
            _validation, args = self.validate_argument_spec(argument_spec=argument_spec)
        except AnsibleActionFail as exc:
            fail(f"{what}: {exc.message}", secrets)
        return args, normalize_secret_values(args.get("secret_values"))

    def check_mode_of(self, args: dict[str, t.Any]) -> bool:
        """The ``check_mode`` option when given, else the check mode of the task."""
        return args["check_mode"] if args.get("check_mode") is not None else bool(self._task.check_mode)
