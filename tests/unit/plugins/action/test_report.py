# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.voicehive.remediation.plugins.action import report
from ansible_collections.voicehive.remediation.plugins.action.report import ActionModule, compute_outcome

SECRET = "vault-root-T0KEN-123"


def finding(fid="circuit_breakers.stuck_open", severity="critical", status="open", **extra):
    record = {
        "id": fid,
        "category": fid.split(".")[0],
        "severity": severity,
        "status": status,
        "summary": f"{fid} summary",
        "component": ["redis"],
        "remediation": "reset_circuit_breaker",
        "evidence": {"breakers": {"pms_connector": "open"}},
        "recorded_at": "2026-11-28T16:00:00Z",
    }
    record.update(extra)
    return record


def action(name="reset_circuit_breaker", status="done", **extra):
    record = {
        "action": name,
        "target": "circuit_breaker/pms_connector",
        "finding": "circuit_breakers.stuck_open",
        "status": status,
        "changed": status in ("done", "would_change"),
        "check_mode": status == "would_change",
        "approved": None,
        "approved_by": None,
        "before": {"state": "open", "failure_count": 12},
        "after": {"state": "closed", "failure_count": 0},
        "reason": "",
    }
    record.update(extra)
    return record


def report_args(tmp_path, **overrides):
    args = {
        "site": "prod-eu-west-1",
        "report_dir": str(tmp_path / "reports" / "nested"),
        "run_id": "4711-prod-eu-west-1-20261128T160000Z-1",
        "launched_by": {"via": "awx", "awx_job_id": 4711, "awx_user": "alice"},
        "phase": "remediate",
        "started_at": "2026-11-28T16:00:00+00:00",
        "category_durations": {"circuit_breakers": 12.5, "memory": 3},
        "findings": [finding(status="resolved", evidence_after={"state": "closed"})],
        "actions": [action()],
    }
    args.update(overrides)
    return args


def run(make_action, args, check_mode=False):
    plugin = make_action(ActionModule, args, check_mode=check_mode)
    return plugin.run(task_vars={})


# ------------------------------------------------------------------------------------------
# outcome
# ------------------------------------------------------------------------------------------

CRIT_OPEN = finding(severity="critical", status="open")
CRIT_RESOLVED = finding(severity="critical", status="resolved")
CRIT_UNRESOLVED = finding(severity="critical", status="unresolved")
WARN_OPEN = finding("memory.leak", severity="warning", status="unresolved")
WARN_RESOLVED = finding("memory.leak", severity="warning", status="resolved")
INFO_OPEN = finding("monitoring.noisy", severity="info", status="open")


@pytest.mark.parametrize(
    "phase, check_mode, findings, actions, errors, expected",
    [
        ("diagnose", False, [], [], [], "healthy"),
        ("diagnose", False, [INFO_OPEN], [], [], "findings_open"),
        ("diagnose", False, [CRIT_OPEN], [], [], "findings_open"),
        ("diagnose", True, [CRIT_OPEN], [], [], "findings_open"),
        ("diagnose", False, [], [], [{"category": "redis", "error": "x"}], "failed"),
        ("remediate", False, [], [], [], "healthy"),
        ("remediate", False, [CRIT_RESOLVED], [action()], [], "resolved"),
        ("remediate", False, [CRIT_RESOLVED, WARN_RESOLVED, INFO_OPEN], [action()], [], "resolved"),
        ("remediate", False, [CRIT_UNRESOLVED], [action()], [], "failed"),
        ("remediate", False, [CRIT_OPEN], [], [], "failed"),
        ("remediate", False, [CRIT_OPEN], [action("enable_fallback_mode", "skipped_needs_approval")], [], "failed"),
        ("remediate", False, [CRIT_RESOLVED], [action(status="failed")], [], "failed"),
        (
            "remediate",
            False,
            [WARN_OPEN],
            [action("enable_fallback_mode", "skipped_needs_approval")],
            [],
            "action_required",
        ),
        ("remediate", False, [WARN_OPEN], [action("restart", "skipped_budget_exhausted")], [], "action_required"),
        ("remediate", False, [WARN_OPEN], [action("restart", "skipped_guard_failed")], [], "action_required"),
        ("remediate", False, [WARN_OPEN], [], [], "action_required"),
        ("remediate", False, [WARN_RESOLVED], [action("restart", "skipped_budget_exhausted")], [], "action_required"),
        ("remediate", False, [], [action("restart", "skipped_needs_approval")], [], "action_required"),
        ("remediate", False, [CRIT_RESOLVED], [action()], [{"category": "memory", "error": "boom"}], "failed"),
        ("remediate", True, [CRIT_OPEN], [action(status="would_change")], [], "findings_open"),
        (
            "remediate",
            True,
            [CRIT_OPEN],
            [action("enable_fallback_mode", "skipped_needs_approval")],
            [],
            "action_required",
        ),
        ("remediate", True, [CRIT_RESOLVED], [], [], "resolved"),
        ("remediate", True, [], [], [], "healthy"),
        ("remediate", True, [CRIT_OPEN], [action(status="failed")], [], "failed"),
    ],
)
def test_outcome_matrix(phase, check_mode, findings, actions, errors, expected):
    assert compute_outcome(phase, check_mode, findings, actions, errors) == expected


# ------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------


def test_writes_json_and_markdown(make_action, tmp_path):
    result = run(make_action, report_args(tmp_path))
    assert result["changed"] is False
    assert result["outcome"] == "resolved"
    paths = result["paths"]
    report_dir = tmp_path / "reports" / "nested"
    for kind in ("json", "md"):
        path = paths[kind]
        assert os.path.isabs(path)
        assert os.path.dirname(path) == str(report_dir)
        assert re.search(rf"/prod-eu-west-1-\d{{8}}T\d{{6}}Z\.{kind}$", path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert sorted(os.listdir(report_dir)) == sorted(os.path.basename(p) for p in paths.values())  # no temp files

    doc = json.loads(Path(paths["json"]).read_text())
    assert doc["site"] == "prod-eu-west-1"
    assert doc["outcome"] == "resolved"
    assert doc["phase"] == "remediate"
    assert doc["check_mode"] is False
    assert doc["run_id"] == "4711-prod-eu-west-1-20261128T160000Z-1"
    assert doc["launched_by"]["awx_job_id"] == 4711
    assert doc["findings"][0]["evidence_after"] == {"state": "closed"}
    assert doc["actions"][0]["action"] == "reset_circuit_breaker"
    assert doc["category_durations"] == {"circuit_breakers": 12.5, "memory": 3}
    assert doc["summary"] == result["summary"]
    assert doc["duration_seconds"] > 0


def test_markdown_content(make_action, tmp_path):
    args = report_args(
        tmp_path,
        findings=[finding(status="resolved"), finding("circuit_breakers.dependency_down", "warning", "unresolved")],
        actions=[
            action(approved=True, approved_by="alice"),
            action(
                "enable_fallback_mode",
                "skipped_needs_approval",
                approved=False,
                target="deployment/orchestrator",
                before=None,
                after=None,
                reason="gated | approve it",
            ),
        ],
    )
    result = run(make_action, args)
    md = Path(result["paths"]["md"]).read_text()
    assert md.startswith("# prod-eu-west-1: action_required\n")
    assert "- **Run id:** 4711-prod-eu-west-1-20261128T160000Z-1" in md
    assert "awx_user=alice" in md
    assert "| id | severity | status | summary |" in md
    assert "| `circuit_breakers.stuck_open` | critical | resolved | circuit_breakers.stuck_open summary |" in md
    assert '```json\n{\n  "breakers": {\n    "pms_connector": "open"\n  }\n}\n```' in md
    assert "| action | target | finding | status | approved |" in md
    row = (
        "| `reset_circuit_breaker` | circuit_breaker/pms_connector | circuit_breakers.stuck_open | done | yes (alice) |"
    )
    assert row in md
    assert "| skipped_needs_approval | no |" in md
    assert "gated \\| approve it" in md
    assert '-  "state": "open"' in md and '+  "state": "closed"' in md and "```diff" in md
    assert "## Needs approval" in md
    assert """-e '{"voicehive_approved_actions": ["enable_fallback_mode"]}'""" in md
    assert "| circuit_breakers | 12.5 |" in md
    assert result["summary"]["needs_approval"] == ["enable_fallback_mode"]
    assert result["summary"]["unresolved_warning"] == ["circuit_breakers.dependency_down"]


def test_site_read_is_reported(make_action, tmp_path):
    site_read = {
        "kubernetes": {"available": True, "elapsed_ms": 41.2, "error": None},
        "redis": {"available": False, "elapsed_ms": 3.1, "error": "Cannot connect to Redis at 127.0.0.1:6379: refused"},
    }
    result = run(make_action, report_args(tmp_path, site_read=site_read))
    doc = json.loads(Path(result["paths"]["json"]).read_text())
    assert doc["site_read"] == site_read
    md = Path(result["paths"]["md"]).read_text()
    assert "## Site read" in md
    assert "| kubernetes | yes | 41.2 |  |" in md
    assert "| redis | no | 3.1 | Cannot connect to Redis at 127.0.0.1:6379: refused |" in md
    assert "## Site read" not in Path(run(make_action, report_args(tmp_path))["paths"]["md"]).read_text()


def test_summary_counts(make_action, tmp_path):
    args = report_args(
        tmp_path,
        findings=[CRIT_UNRESOLVED, WARN_OPEN, INFO_OPEN],
        actions=[action(status="failed"), action("restart", "skipped_budget_exhausted"), action()],
    )
    summary = run(make_action, args)["summary"]
    assert summary["findings"] == 3
    assert summary["findings_by_severity"] == {"critical": 1, "warning": 1, "info": 1}
    assert summary["findings_by_status"] == {"open": 1, "resolved": 0, "unresolved": 2}
    assert summary["unresolved_critical"] == ["circuit_breakers.stuck_open"]
    assert summary["budget_exhausted"] == ["restart"]
    assert summary["failed_actions"] == ["reset_circuit_breaker on circuit_breaker/pms_connector"]
    assert summary["actions_by_status"]["done"] == 1
    assert summary["changed"] == 1


def test_console_table(make_action, tmp_path):
    args = report_args(
        tmp_path, actions=[action(), action("enable_fallback_mode", "skipped_needs_approval", approved=False)]
    )
    result = run(make_action, args)
    console = result["console"]
    assert console[0] == "prod-eu-west-1: ACTION_REQUIRED (remediate)"
    assert console[1].startswith("SEVERITY  STATUS      FINDING")
    assert console[2].startswith("critical  resolved    circuit_breakers.stuck_open")
    assert any(line.startswith("done                      reset_circuit_breaker") for line in console)
    assert "needs approval: enable_fallback_mode" in console
    assert console[-1] == f"report: {result['paths']['md']}"
    assert all(isinstance(line, str) for line in console)


def test_check_mode_writes_the_report_too(make_action, tmp_path):
    args = report_args(tmp_path, findings=[CRIT_OPEN], actions=[action(status="would_change")])
    result = run(make_action, args, check_mode=True)
    assert result["outcome"] == "findings_open"
    assert result["changed"] is False
    doc = json.loads(Path(result["paths"]["json"]).read_text())
    assert doc["check_mode"] is True
    assert "(check mode: nothing was changed)" in Path(result["paths"]["md"]).read_text()


def test_relative_report_dir_is_relative_to_the_working_directory(make_action, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = report_args(tmp_path)
    del args["report_dir"]
    result = run(make_action, args)
    assert result["paths"]["json"].startswith(str(tmp_path / "reports") + os.sep)


def test_same_second_gets_a_suffix(tmp_path):
    first = report.reserve_paths(str(tmp_path), "lab", "20261128T160000Z")
    second = report.reserve_paths(str(tmp_path), "lab", "20261128T160000Z")
    assert first["json"].endswith("/lab-20261128T160000Z.json")
    assert second["json"].endswith("/lab-20261128T160000Z-2.json")
    assert second["md"].endswith("/lab-20261128T160000Z-2.md")


def test_no_secret_in_any_output(make_action, tmp_path):
    args = report_args(
        tmp_path,
        run_id=f"run-{SECRET}",
        launched_by={"via": "cli", "user": "bob", "token": "abc123"},
        findings=[
            finding(summary=f"login with {SECRET} failed", evidence={"header": f"Bearer {SECRET}", "api_key": "k-1"})
        ],
        actions=[
            action(
                before={"vault_token": SECRET},
                after={"url": f"https://user:{SECRET}@vault:8200"},
                reason=f"re-login with {SECRET}",
            )
        ],
        errors=[{"category": "security", "task": "Rotate", "error": f"denied for {SECRET}"}],
        category_durations={f"x{SECRET}": 1},
        secret_values=[SECRET],
    )
    result = run(make_action, args)
    outputs = [json.dumps(result), Path(result["paths"]["json"]).read_text(), Path(result["paths"]["md"]).read_text()]
    for text in outputs:
        assert SECRET not in text
        assert "abc123" not in text
        assert "k-1" not in text
    assert "********" in outputs[1]
    assert result["outcome"] == "failed"


@pytest.mark.parametrize("site", ["../etc", ".hidden", "a/b", "", "-x", "prod eu"])
def test_bad_site_name_is_refused(make_action, tmp_path, site):
    with pytest.raises(AnsibleActionFail, match="is not usable in a file name"):
        run(make_action, report_args(tmp_path, site=site))
    assert not (tmp_path / "reports").exists()


def test_unwritable_report_dir_fails_clearly(make_action, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(AnsibleActionFail, match=r"Cannot write the report to .*/file/reports"):
        run(make_action, report_args(tmp_path, report_dir=str(blocker / "reports")))


@pytest.mark.parametrize(
    "overrides, text",
    [
        ({"phase": "fix"}, "value of phase must be one of: diagnose, remediate"),
        ({"findings": "none"}, "findings"),
        ({"colour": "red"}, "Unsupported parameters"),
    ],
)
def test_invalid_input_is_refused(make_action, tmp_path, overrides, text):
    with pytest.raises(AnsibleActionFail) as caught:
        run(make_action, report_args(tmp_path, **overrides))
    assert text in caught.value.message
    assert caught.value.message.startswith("Cannot write the report:")


# ------------------------------------------------------------------------------------------
# health check: synthetic checks and what changed since the previous health check
# ------------------------------------------------------------------------------------------


def synthetic(name="orchestrator_health", ok=True, elapsed_ms=12.5, **extra):
    check = {
        "name": name,
        "target": "http://orchestrator:8080/health",
        "ok": ok,
        "status": 200 if ok else 503,
        "elapsed_ms": elapsed_ms,
        "detail": "" if ok else "answered 503",
    }
    check.update(extra)
    return check


def health_check(make_action, tmp_path, findings, checks):
    args = report_args(tmp_path, phase="health_check", findings=findings, actions=[], synthetic=checks)
    result = run(make_action, args)
    return result, json.loads(Path(result["paths"]["json"]).read_text())


def test_health_check_reports_synthetic_checks_and_what_changed(make_action, tmp_path):
    first, doc = health_check(make_action, tmp_path, [], [synthetic(extra_key="dropped"), synthetic("livekit")])
    assert doc["phase"] == "health_check" and doc["outcome"] == "healthy"
    assert doc["synthetic"][0] == {k: synthetic()[k] for k in report.SYNTHETIC_FIELDS}
    assert doc["since_previous"] == {"previous": None, "first": True}
    assert "first health check of this site" in "\n".join(first["console"])
    # a diagnose report in between is not a health check: the comparison passes over it
    run(make_action, report_args(tmp_path, phase="diagnose", findings=[finding()], actions=[]))

    second, doc = health_check(
        make_action,
        tmp_path,
        [finding(severity="warning"), finding("memory.near_limit", severity="warning")],
        [synthetic(elapsed_ms=400.0), synthetic("livekit", ok=False), synthetic("apaleo_probe")],
    )
    since = doc["since_previous"]
    assert since["previous"]["report"] == first["paths"]["json"] and since["previous"]["outcome"] == "healthy"
    assert since["outcome"] == {"before": "healthy", "after": "findings_open"}
    assert since["new_findings"] == ["circuit_breakers.stuck_open", "memory.near_limit"]
    assert since["cleared_findings"] == [] and since["severity_changed"] == []
    assert since["synthetic"] == [
        {"name": "livekit", "change": "failing", "before": 200, "after": "answered 503"},
        {"name": "apaleo_probe", "change": "new", "ok": True},
    ]
    assert since["slower"] == ["orchestrator_health: 12.5 -> 400.0 ms"]
    console = "\n".join(second["console"])
    assert "synthetic livekit" in console and "FAILED" in console
    assert "since the previous health check: synthetic check livekit: failing" in console
    markdown = Path(second["paths"]["md"]).read_text()
    assert "## Since the previous health check" in markdown and "## Synthetic checks" in markdown
    assert "| livekit | http://orchestrator:8080/health | FAILED | 503 |" in markdown

    doc = health_check(make_action, tmp_path, [finding(severity="critical")], [synthetic(), synthetic("livekit")])[1]
    since = doc["since_previous"]
    assert since["cleared_findings"] == ["memory.near_limit"] and since["new_findings"] == []
    assert since["severity_changed"] == ["circuit_breakers.stuck_open: warning -> critical"]
    assert since["synthetic"] == [{"name": "livekit", "change": "recovered", "before": "answered 503", "after": 200}]
    assert report.change_lines(since)[0] == "cleared findings: memory.near_limit"


def test_previous_health_check_is_the_newest_readable_one_of_the_site(tmp_path):
    def write(name, **doc):
        (tmp_path / name).write_text(json.dumps({"phase": "health_check", "site": "lab", **doc}))

    write("lab-20261128T160000Z.json", run_id="a")
    write("lab-20261128T160000Z-2.json", run_id="b")  # the same second, later
    write("lab-dr-20261128T170000Z.json", run_id="other site", site="lab-dr")
    write("lab-20261128T150000Z.json", run_id="older")
    assert report.previous_health_check(str(tmp_path), "lab")["run_id"] == "b"
    (tmp_path / "lab-20261128T180000Z.json").write_text("")  # a report being written right now
    assert report.previous_health_check(str(tmp_path), "lab")["run_id"] == "b"
    assert report.previous_health_check(str(tmp_path / "missing"), "lab") is None
    assert report.changes_since(None, {"findings": []}) == {"previous": None, "first": True}


def test_synthetic_checks_stay_out_of_other_phases(make_action, tmp_path):
    result = run(make_action, report_args(tmp_path, synthetic=[synthetic()]))
    doc = json.loads(Path(result["paths"]["json"]).read_text())
    assert "synthetic" not in doc and "since_previous" not in doc


def test_recovery_is_reported_when_given(make_action, tmp_path):
    recovery = {"operation": "failover", "rto_seconds": 41.2, "rpo_seconds": 930.0, "validated": True}
    result = run(make_action, report_args(tmp_path, recovery=recovery))
    doc = json.loads(Path(result["paths"]["json"]).read_text())
    assert doc["recovery"] == recovery
    assert "## Disaster recovery" in Path(result["paths"]["md"]).read_text()
    assert "recovery: operation=failover, rto_seconds=41.2, rpo_seconds=930.0" in result["console"]
    plain = json.loads(Path(run(make_action, report_args(tmp_path))["paths"]["json"]).read_text())
    assert "recovery" not in plain
