# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of voicehive.remediation.record_action: record what a remediation did, on the controller.

The documentation is in plugins/modules/record_action.py.
"""

from __future__ import annotations

import re
import typing as t

from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

from ansible_collections.voicehive.remediation.plugins.module_utils._redact import redact
from ansible_collections.voicehive.remediation.plugins.plugin_utils._action import (
    ACTION_STATUSES,
    ID_PATTERN,
    RecordActionBase,
    existing_list,
    fail,
    register_fact,
    secret_values_spec,
    utc_now_iso,
)

FACT = "voicehive_actions"
ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

ARGUMENT_SPEC = dict(
    action=dict(type="str", required=True),
    target=dict(type="str", required=True),
    finding=dict(type="str"),
    before=dict(type="raw"),
    after=dict(type="raw"),
    changed=dict(type="bool", default=False),
    approved=dict(type="raw"),
    approved_by=dict(type="str"),
    check_mode=dict(type="bool"),
    status=dict(type="str", choices=list(ACTION_STATUSES)),
    reason=dict(type="str", default=""),
    secret_values=secret_values_spec(),
)


def normalize_approval(approved: t.Any, approved_by: str | None) -> tuple[bool | None, str | None]:
    """``approved`` (bool, a yes/no string, or the approver's name) -> ``(approved, approved_by)``.

    ``None`` means the action needs no approval.
    """
    if approved is None:
        return None, approved_by or None
    if isinstance(approved, bool):
        return approved, approved_by or None
    if isinstance(approved, str):
        text = approved.strip()
        if text.lower() in BOOLEANS_TRUE:
            return True, approved_by or None
        if text.lower() in BOOLEANS_FALSE or text == "":
            return False, approved_by or None
        return True, approved_by or text
    if isinstance(approved, int):
        return bool(approved), approved_by or None
    raise ValueError(f"approved must be a boolean or the approver's name, got a {type(approved).__name__}")


def effective_status(status: str | None, changed: bool, check_mode: bool) -> str:
    """The status to store: a changing action in check mode is ``would_change``, else ``status`` or ``done``."""
    status = status or "done"
    if check_mode and changed and status == "done":
        return "would_change"
    return status


def build_record(args: dict[str, t.Any], check_mode: bool, now: str) -> dict[str, t.Any]:
    where = f"Invalid action record {args['action']} on {args['target']}"
    if not ACTION_PATTERN.match(args["action"]):
        raise ValueError(f"{where}: action must be a snake_case action name, for example reset_circuit_breaker")
    if not args["target"].strip():
        raise ValueError(f"{where}: target must not be empty")
    finding = args.get("finding") or None
    if finding is not None and not ID_PATTERN.match(finding):
        raise ValueError(f"{where}: finding {finding!r} is not a finding id (<category>.<name>)")
    try:
        approved, approved_by = normalize_approval(args.get("approved"), args.get("approved_by"))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    changed = bool(args["changed"])
    return {
        "action": args["action"],
        "target": args["target"],
        "finding": finding,
        "category": finding.split(".", 1)[0] if finding else None,
        "status": effective_status(args.get("status"), changed, check_mode),
        "changed": changed,
        "check_mode": check_mode,
        "approved": approved,
        "approved_by": approved_by,
        "before": args.get("before"),
        "after": args.get("after"),
        "reason": " ".join((args.get("reason") or "").split()),
        "recorded_at": now,
    }


class ActionModule(RecordActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp

        args, secrets = self.validated_args(
            ARGUMENT_SPEC, f"Invalid action record {self._task.args.get('action', '?')}"
        )
        check_mode = self.check_mode_of(args)
        try:
            record = build_record(args, check_mode, utc_now_iso())
        except ValueError as exc:
            fail(str(exc), secrets)
        record = redact(record, secrets)

        actions = existing_list(task_vars, FACT)
        actions.append(record)
        result.update(
            changed=False,  # recording changes nothing on the site; the record says what the action changed
            record=record,
            ansible_facts=register_fact(self, FACT, actions),
        )
        return result
