# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import re

import pytest
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import VariableLayer

from ansible_collections.voicehive.remediation.plugins.action.finding import ActionModule

SECRET = "s3cr3t-T0ken-value"


def finding_args(**overrides):
    args = {
        "id": "circuit_breakers.stuck_open",
        "severity": "critical",
        "summary": "Breaker  pms_connector\n is open.",
        "evidence": {"breakers": {"pms_connector": {"state": "open"}}},
        "remediation": "reset_circuit_breaker",
        "component": "redis",
    }
    args.update(overrides)
    return args


def run(make_action, args, task_vars=None, check_mode=False):
    action = make_action(ActionModule, args, check_mode=check_mode)
    result = action.run(task_vars=task_vars or {})
    return action, result


def test_records_a_new_finding(make_action):
    action, result = run(make_action, finding_args())
    assert result["changed"] is False
    record = result["finding"]
    assert record["id"] == "circuit_breakers.stuck_open"
    assert record["category"] == "circuit_breakers"  # from the id
    assert record["severity"] == "critical"
    assert record["status"] == "open"
    assert record["summary"] == "Breaker pms_connector is open."
    assert record["component"] == ["redis"]
    assert record["remediation"] == "reset_circuit_breaker"
    assert record["evidence"] == {"breakers": {"pms_connector": {"state": "open"}}}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", record["recorded_at"])
    assert result["ansible_facts"] == {"voicehive_findings": [record]}
    action.register_host_variables.assert_any_call({"voicehive_findings": [record]}, VariableLayer.EPHEMERAL_FACT)


def test_same_id_is_replaced_in_place(make_action):
    existing = [
        {"id": "memory.leak", "severity": "warning", "status": "open"},
        {"id": "circuit_breakers.stuck_open", "severity": "warning", "status": "open", "summary": "old"},
        {"id": "database.slow_queries", "severity": "info", "status": "open"},
    ]
    _a, result = run(make_action, finding_args(), task_vars={"voicehive_findings": existing})
    findings = result["ansible_facts"]["voicehive_findings"]
    assert [f["id"] for f in findings] == ["memory.leak", "circuit_breakers.stuck_open", "database.slow_queries"]
    assert findings[1]["summary"] == "Breaker pms_connector is open."
    assert findings[1]["severity"] == "critical"
    assert existing[1]["summary"] == "old"  # the task_vars value is not mutated


def test_other_id_is_appended_and_fact_read_from_ansible_facts(make_action):
    existing = [{"id": "memory.leak", "severity": "warning", "status": "open"}]
    _a, result = run(make_action, finding_args(), task_vars={"ansible_facts": {"voicehive_findings": existing}})
    assert [f["id"] for f in result["ansible_facts"]["voicehive_findings"]] == [
        "memory.leak",
        "circuit_breakers.stuck_open",
    ]


def test_status_update_keeps_evidence_and_adds_evidence_after(make_action):
    _a, first = run(make_action, finding_args())
    stored = first["ansible_facts"]["voicehive_findings"]
    _a, result = run(
        make_action,
        {"id": "circuit_breakers.stuck_open", "status": "resolved", "evidence_after": {"state": "closed"}},
        task_vars={"voicehive_findings": stored},
    )
    record = result["finding"]
    assert record["status"] == "resolved"
    assert record["evidence"] == {"breakers": {"pms_connector": {"state": "open"}}}
    assert record["evidence_after"] == {"state": "closed"}
    assert record["severity"] == "critical"
    assert "updated_at" in record
    assert result["ansible_facts"]["voicehive_findings"] == [record]


def test_status_update_of_unknown_id_fails(make_action):
    with pytest.raises(AnsibleActionFail, match="no finding with that id was recorded in this run"):
        run(make_action, {"id": "circuit_breakers.stuck_open", "status": "unresolved"})


@pytest.mark.parametrize(
    "overrides, text",
    [
        ({"id": "StuckOpen"}, "Invalid finding id 'StuckOpen'"),
        ({"id": "circuit_breakers.stuck_open.x"}, "Invalid finding id"),
        ({"id": "circuit_breakers.stuck-open"}, "Invalid finding id"),
        ({"severity": "high"}, "value of severity must be one of: critical, warning, info, got: high"),
        ({"status": "fixed"}, "value of status must be one of: open, resolved, unresolved"),
        ({"component": "mysql"}, "component 'mysql' is not one of kubernetes, redis"),
        ({"component": ["redis", "cassandra"]}, "component 'cassandra' is not one of"),
        ({"component": {"redis": 1}}, "component must be one of"),
        ({"component": []}, "component is required"),
        ({"component": None, "summary": "x"}, "component is required"),
        ({"summary": "  "}, "summary is required"),
        ({"category": "Circuit Breakers"}, "category 'Circuit Breakers' must be snake_case"),
        ({"when_clear": True}, "Unsupported parameters"),
        ({"evidence_before": {}}, "Unsupported parameters"),
    ],
)
def test_invalid_input_is_refused(make_action, overrides, text):
    with pytest.raises(AnsibleActionFail) as caught:
        run(make_action, finding_args(**overrides))
    assert text in caught.value.message


@pytest.mark.parametrize("missing", ["severity", "summary", "component"])
def test_required_fields_of_a_record(make_action, missing):
    args = finding_args()
    del args[missing]
    with pytest.raises(AnsibleActionFail, match=f"{missing} is required"):
        run(make_action, args)


def test_existing_fact_of_the_wrong_type_is_refused(make_action):
    with pytest.raises(AnsibleActionFail, match="is not a list of records"):
        run(make_action, finding_args(), task_vars={"voicehive_findings": "oops"})


def test_component_list_is_deduplicated(make_action):
    _a, result = run(make_action, finding_args(component=["redis", "kubernetes", "redis"]))
    assert result["finding"]["component"] == ["redis", "kubernetes"]


def test_check_mode_records_the_same(make_action):
    _a, normal = run(make_action, finding_args())
    _a, checked = run(make_action, finding_args(), check_mode=True)
    for result in (normal, checked):
        result["finding"].pop("recorded_at")
        result["ansible_facts"]["voicehive_findings"][0].pop("recorded_at", None)
    assert normal == checked


def test_secrets_are_redacted_everywhere(make_action):
    args = finding_args(
        summary=f"Vault login failed with token {SECRET}",
        evidence={
            "log_lines": [f"auth header Bearer {SECRET}", "ok"],
            "nested": {"deeper": [{"value": f"x{SECRET}y"}]},
            "db_password": "hunter2",
            "Authorization": "Basic Zm9vOmJhcg==",
            "redis_url": "redis://:p4ss@redis:6379/0",
            "token_present": True,
        },
        secret_values=[SECRET, ""],
    )
    _a, result = run(make_action, args)
    text = json.dumps(result)
    for leaked in (SECRET, "hunter2", "Zm9vOmJhcg==", "p4ss"):
        assert leaked not in text
    evidence = result["finding"]["evidence"]
    assert result["finding"]["summary"] == "Vault login failed with token ********"
    assert evidence["log_lines"] == ["auth header Bearer ********", "ok"]
    assert evidence["nested"]["deeper"][0]["value"] == "x********y"
    assert evidence["db_password"] == "********"
    assert evidence["redis_url"] == "redis://********@redis:6379/0"
    assert evidence["token_present"] is True


def test_secret_in_a_validation_error_is_redacted(make_action):
    with pytest.raises(AnsibleActionFail) as caught:
        run(make_action, finding_args(severity=SECRET, secret_values=[SECRET]))
    assert SECRET not in caught.value.message
    assert "********" in caught.value.message
