# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Job templates of awx/controller.yml run the way AWX runs them: through ansible-runner (the library AWX's
task runner uses), with the template's playbook from the project, the inventory, limit, tags, job type (check
runs with --check) and the survey defaults plus the launch answers as extra vars; the Kubernetes credential is
injected as AWX would (here the shipped ServiceAccount's token). AWX reads set_stats from the playbook's stats
event: the run summary must be there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import ansible_runner
import pytest
import vh_lab
import yaml
from vh_lab import ROOT, VENV_BIN, fault

CONTROLLER = yaml.safe_load((ROOT / "awx/controller.yml").read_text())
TEMPLATES = {t["name"]: t for t in CONTROLLER["controller_templates"]}


def launch(
    name: str,
    tmp_path,
    *,
    limit: str = "lab",
    tags: str = "",
    job_type: str = "",
    answers: dict | None = None,
    as_service_account: bool = True,
):
    """What AWX does on launch: template fields + launch-time answers (when the template asks) -> ansible-runner."""
    template = TEMPLATES[name]
    assert not tags or template.get("ask_tags_on_launch"), f"{name} does not ask for tags on launch"
    assert not job_type or template.get("ask_job_type_on_launch"), f"{name} does not ask for the job type on launch"
    extravars = dict(template.get("extra_vars") or {})
    for question in (template.get("survey_spec") or {}).get("spec", []):
        if question.get("default") not in (None, ""):
            extravars[question["variable"]] = question["default"]
    extravars.update(answers or {})
    if as_service_account:  # the credential's injectors (the shipped ServiceAccount is the lab site's)
        extravars.update(vh_lab.AS_SERVICE_ACCOUNT)
    job_type = job_type or template.get("job_type", "run")
    tags = tags or template.get("job_tags") or ""
    # ansible-runner drops its tags argument when cmdline is given: AWX-like, everything goes through cmdline
    cmdline = " ".join(
        (["--check"] if job_type == "check" else [])
        + (["--diff"] if template.get("diff_mode") else [])
        + (["--tags", tags] if tags else [])
    )
    (tmp_path / "job").mkdir(parents=True)
    run = ansible_runner.run(
        private_data_dir=str(tmp_path / "job"),
        project_dir=str(ROOT),
        playbook=template["playbook"],
        inventory=str(ROOT / "inventories" / "lab"),
        limit=limit,
        extravars=extravars,
        cmdline=cmdline.strip() or None,
        envvars={
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
            "PWD": str(tmp_path),  # the reports of the job land in its own directory
        },
        quiet=True,
    )
    stats = [e for e in run.events if e.get("event") == "playbook_on_stats"]
    artifact = stats[-1]["event_data"].get("artifact_data", {}) if stats else {}
    return run, artifact


def test_every_template_is_launchable_by_runner_arguments():
    for name, template in TEMPLATES.items():
        assert (ROOT / template["playbook"]).is_file(), name
        assert template.get("ask_limit_on_launch") or name == "VoiceHive - health check", name


@pytest.mark.usefixtures("clean_lab")
def test_remediate_template_in_check_then_run(tmp_path, primary_redis):
    fault("inject", "breaker-stuck-open")
    # job type check (the workflow's dry run): changes nothing, reports what it would do
    answers = {"voicehive_target": "lab"}
    run, stats = launch(
        "VoiceHive - remediate", tmp_path / "check", tags="circuit_breakers", job_type="check", answers=answers
    )
    assert run.status == "successful", run.stdout.read()[-3000:]
    assert primary_redis.get("circuit_breaker:pms_connector:state") == "open"
    assert stats["voicehive_reports"]["lab"]["outcome"], stats

    # the same template run for real with the category's tags, as the EDA rule launches it
    run, stats = launch("VoiceHive - remediate", tmp_path / "run", tags="circuit_breakers")
    assert run.status == "successful", run.stdout.read()[-3000:]
    assert primary_redis.get("circuit_breaker:pms_connector:state") in (None, "closed")
    summary = stats["voicehive_reports"]["lab"]
    assert summary["outcome"] != "failed" and summary["report"].startswith(str(tmp_path)), summary


@pytest.mark.usefixtures("clean_lab")
def test_diagnose_template_on_a_healthy_site_carries_the_summary(tmp_path):
    run, stats = launch("VoiceHive - diagnose", tmp_path, tags="circuit_breakers,rate_limiting")
    assert run.status == "successful", run.stdout.read()[-3000:]
    assert run.rc == 0
    assert set(stats["voicehive_reports"]) == {"lab"}, stats


@pytest.mark.usefixtures("clean_lab")
def test_dr_templates_of_the_failover_workflow_on_a_healthy_lab(tmp_path):
    """The workflow's first node (DR diagnose) and its restore node in check: on a healthy lab the primary answers,
    so the restore is refused and nothing changes. (The DR site's Kubernetes credential is the lab's admin one: the
    shipped ServiceAccount's Role is the primary namespace's.)"""
    run, stats = launch(
        "VoiceHive - diagnose disaster recovery", tmp_path / "diagnose", limit="lab-dr", as_service_account=False
    )
    assert run.status == "successful", run.stdout.read()[-3000:]
    assert set(stats["voicehive_reports"]) == {"lab-dr"}, stats
    answers = {"voicehive_approved_actions": ["restore_database", "restore_redis"]}
    run, stats = launch(
        "VoiceHive - DR failover restore",
        tmp_path / "restore",
        limit="lab-dr",
        job_type="check",
        answers=answers,
        as_service_account=False,
    )
    assert run.status == "successful", run.stdout.read()[-3000:]
    summary = stats["voicehive_reports"]["lab-dr"]
    assert summary["outcome"] != "failed", summary
    report = Path(summary["report"]).with_suffix(".md").read_text()
    assert "a failover needs disaster_recovery_force=true" in report, report[-3000:]


# Every job template launched once as AWX would, on the healthy lab: the diagnose templates and the health check as
# they are, every template that asks for its job type in check mode (on a healthy site a real remediation would do
# the same nothing; the DR templates act on the DR site, whose real runs test_disaster_recovery.py makes). Each must
# succeed, find nothing critical, change nothing and hand AWX its summary through set_stats. The DR templates run on
# lab-dr with the lab's admin credential (as the DR workflow test above).
EVERY = sorted(set(TEMPLATES) - {"VoiceHive - diagnose disaster recovery", "VoiceHive - DR failover restore"})  # above


def _dr(name: str) -> bool:
    return "DR " in name or "disaster recovery" in name


@pytest.fixture(scope="module")
def healthy_lab(lab_up):
    vh_lab.lab("reset")
    yield
    fault("clear")


@pytest.mark.parametrize("name", EVERY)
def test_every_template_runs_on_a_healthy_site(name, tmp_path, healthy_lab):
    template = TEMPLATES[name]
    check = "check" if template.get("ask_job_type_on_launch") else ""
    site = "lab-dr" if _dr(name) and template["playbook"] != "playbooks/backup.yml" else "lab"  # backs up the primary
    answers = {"voicehive_target": site} if check or _dr(name) else None
    run, stats = launch(name, tmp_path, limit=site, job_type=check, answers=answers, as_service_account=not _dr(name))
    assert run.status == "successful" and run.rc == 0, run.stdout.read()[-3000:]
    if template["playbook"] == "playbooks/backup.yml":  # no report: the backup's own summary
        backup = stats["voicehive_backups"][site]
        assert backup["check_mode"] is True and backup["summary"]["redis_keys"] > 0, backup
        return
    assert set(stats["voicehive_reports"]) == {site}, stats
    summary = stats["voicehive_reports"][site]
    assert summary["report"].startswith(str(tmp_path)), summary
    report = json.loads(Path(summary["report"]).read_text())
    assert report["check_mode"] is bool(check), report["check_mode"]
    assert not [a for a in report["actions"] if a["status"] == "done"], report["actions"]
    if _dr(name):  # what a DR run on a healthy lab may say: the primary answers, a failover is refused
        assert summary["outcome"] != "failed", summary
        return
    assert report["phase"] == Path(template["playbook"]).stem, report["phase"]  # diagnose, remediate, health_check
    # healthy, but for what Prometheus still remembers of earlier tests (security counts the orchestrator's
    # incidents of the last 15 minutes): no critical finding, nothing to be done
    assert summary["outcome"] in ("healthy", "findings_open"), summary
    assert summary["findings_by_severity"]["critical"] == 0 and report["actions"] == [], report["findings"]
