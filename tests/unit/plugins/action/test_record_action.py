# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import VariableLayer

from ansible_collections.voicehive.remediation.plugins.action.record_action import (
    ActionModule,
    effective_status,
    normalize_approval,
)

SECRET = "pg-Passw0rd-XYZ"


def action_args(**overrides):
    args = {
        "action": "reset_circuit_breaker",
        "target": "circuit_breaker/pms_connector",
        "finding": "circuit_breakers.stuck_open",
        "before": {"state": "open"},
        "after": {"state": "closed"},
        "changed": True,
    }
    args.update(overrides)
    return args


def run(make_action, args, task_vars=None, check_mode=False):
    action = make_action(ActionModule, args, check_mode=check_mode)
    return action, action.run(task_vars=task_vars or {})


def test_records_a_done_action(make_action):
    action, result = run(make_action, action_args())
    assert result["changed"] is False
    record = result["record"]
    assert record["action"] == "reset_circuit_breaker"
    assert record["target"] == "circuit_breaker/pms_connector"
    assert record["finding"] == "circuit_breakers.stuck_open"
    assert record["category"] == "circuit_breakers"
    assert record["status"] == "done"
    assert record["changed"] is True
    assert record["check_mode"] is False
    assert record["approved"] is None
    assert record["approved_by"] is None
    assert record["before"] == {"state": "open"}
    assert record["after"] == {"state": "closed"}
    assert record["reason"] == ""
    assert result["ansible_facts"] == {"voicehive_actions": [record]}
    action.register_host_variables.assert_any_call({"voicehive_actions": [record]}, VariableLayer.EPHEMERAL_FACT)


def test_records_are_appended_never_replaced(make_action):
    first = {"action": "reset_circuit_breaker", "target": "circuit_breaker/pms_connector", "status": "failed"}
    _a, result = run(make_action, action_args(), task_vars={"voicehive_actions": [first]})
    actions = result["ansible_facts"]["voicehive_actions"]
    assert len(actions) == 2
    assert actions[0] == first
    assert actions[1]["status"] == "done"


def test_check_mode_of_the_play_turns_a_change_into_would_change(make_action):
    _a, result = run(make_action, action_args(), check_mode=True)
    assert result["record"]["status"] == "would_change"
    assert result["record"]["check_mode"] is True
    assert result["changed"] is False


def test_check_mode_option_overrides_the_task(make_action):
    _a, result = run(make_action, action_args(check_mode=True), check_mode=False)
    assert result["record"]["status"] == "would_change"
    _a, result = run(make_action, action_args(check_mode=False), check_mode=True)
    assert result["record"]["status"] == "done"


@pytest.mark.parametrize(
    "status, changed, check_mode, expected",
    [
        (None, False, False, "done"),
        (None, True, False, "done"),
        (None, True, True, "would_change"),
        (None, False, True, "done"),
        ("done", True, True, "would_change"),
        ("skipped_needs_approval", False, True, "skipped_needs_approval"),
        ("skipped_budget_exhausted", False, False, "skipped_budget_exhausted"),
        ("skipped_guard_failed", True, True, "skipped_guard_failed"),
        ("failed", True, True, "failed"),
        ("would_change", True, False, "would_change"),
    ],
)
def test_effective_status(status, changed, check_mode, expected):
    assert effective_status(status, changed, check_mode) == expected


@pytest.mark.parametrize(
    "approved, approved_by, expected",
    [
        (None, None, (None, None)),
        (True, None, (True, None)),
        (False, None, (False, None)),
        (True, "alice", (True, "alice")),
        ("yes", None, (True, None)),
        ("False", None, (False, None)),
        ("", None, (False, None)),
        ("alice", None, (True, "alice")),
        ("alice", "bob", (True, "bob")),
        (1, None, (True, None)),
    ],
)
def test_normalize_approval(approved, approved_by, expected):
    assert normalize_approval(approved, approved_by) == expected


def test_approver_name_is_recorded(make_action):
    _a, result = run(make_action, action_args(action="enable_fallback_mode", approved="alice"))
    assert result["record"]["approved"] is True
    assert result["record"]["approved_by"] == "alice"


def test_skipped_needs_approval(make_action):
    args = action_args(
        action="enable_fallback_mode",
        target="deployment/orchestrator",
        finding="circuit_breakers.dependency_down",
        changed=False,
        approved=False,
        status="skipped_needs_approval",
        reason="gated;\n approve it",
    )
    _a, result = run(make_action, args, check_mode=True)
    record = result["record"]
    assert record["status"] == "skipped_needs_approval"
    assert record["approved"] is False
    assert record["reason"] == "gated; approve it"


def test_action_without_finding(make_action):
    _a, result = run(make_action, action_args(finding=""))
    assert result["record"]["finding"] is None
    assert result["record"]["category"] is None


@pytest.mark.parametrize(
    "overrides, text",
    [
        ({"status": "ok"}, "value of status must be one of: done, would_change"),
        ({"action": "Reset Breaker"}, "action must be a snake_case action name"),
        ({"target": " "}, "target must not be empty"),
        ({"finding": "stuck_open"}, "finding 'stuck_open' is not a finding id"),
        ({"approved": ["alice"]}, "approved must be a boolean or the approver's name"),
        ({"changed": "perhaps"}, "changed"),
        ({"diff": "x"}, "Unsupported parameters"),
    ],
)
def test_invalid_input_is_refused(make_action, overrides, text):
    with pytest.raises(AnsibleActionFail) as caught:
        run(make_action, action_args(**overrides))
    assert text in caught.value.message


def test_missing_required_options(make_action):
    with pytest.raises(AnsibleActionFail, match="missing required arguments: target"):
        run(make_action, {"action": "reset_circuit_breaker"})


def test_secrets_are_redacted(make_action):
    args = action_args(
        action="rotate_secrets",
        before={"dsn": f"postgresql://app:{SECRET}@db/voicehive", "password": SECRET, "client_secret": "abc"},
        after={"note": f"new value differs from {SECRET}", "secret_version": None},
        reason=f"rotated {SECRET}",
        secret_values=[SECRET],
    )
    _a, result = run(make_action, args)
    text = json.dumps(result)
    assert SECRET not in text
    assert "abc" not in json.dumps(result["record"]["before"])
    record = result["record"]
    assert record["before"]["password"] == "********"
    assert record["before"]["client_secret"] == "********"
    assert record["after"]["note"] == "new value differs from ********"
    assert record["after"]["secret_version"] is None
    assert record["reason"] == "rotated ********"
