# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Event-Driven Ansible rulebook and the AWX configuration point at things that exist.

Each rule answers an alert the site really ships (the lab's Prometheus rules are
the contract's), launches an AWX job template defined in awx/controller.yml, and
narrows it to category tags whose role is in the playbooks; risky actions are
never approved from an alert.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
RULEBOOK = ROOT / "extensions/eda/rulebooks/alertmanager.yml"
ALERT_RULES = ROOT / "lab/services/prometheus/alert-rules.yml"
CONTROLLER = ROOT / "awx/controller.yml"
ALERTNAME = re.compile(r'commonLabels\.alertname == "([A-Za-z]+)"')


def _rules() -> list[dict]:
    return [rule for ruleset in yaml.safe_load(RULEBOOK.read_text()) for rule in ruleset["rules"]]


def _shipped_alerts() -> set[str]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def _playbook_categories() -> set[str]:
    text = (ROOT / "playbooks/remediate.yml").read_text()
    return set(re.findall(r"name: voicehive\.remediation\.([a-z_]+)\n", text)) - {"voicehive"}


def test_every_rule_answers_a_shipped_alert_with_a_defined_template_and_real_tags():
    templates = {t["name"] for t in yaml.safe_load(CONTROLLER.read_text())["controller_templates"]}
    categories = _playbook_categories()
    shipped = _shipped_alerts()
    assert categories, "no category role found in playbooks/remediate.yml"
    seen = []
    for rule in _rules():
        alert = ALERTNAME.search(rule["condition"])
        assert alert, f"rule {rule['name']!r} does not match on an alert name"
        assert alert.group(1) in shipped, f"rule {rule['name']!r}: {alert.group(1)} is not an alert the site ships"
        assert 'event.payload.status == "firing"' in rule["condition"], rule["name"]
        job = rule["action"]["run_job_template"]
        assert job["name"] in templates, f"rule {rule['name']!r} launches an undefined template {job['name']!r}"
        tags = set(job["job_args"]["job_tags"].split(","))
        assert tags <= categories, f"rule {rule['name']!r}: tags {sorted(tags - categories)} have no role"
        assert "voicehive_approved_actions" not in job["job_args"].get("extra_vars", {}), rule["name"]
        seen.append(alert.group(1))
    assert len(seen) == len(set(seen)), f"an alert is answered twice: {seen}"


def _gated_actions(role: str) -> set[str]:
    """The actions a role sends through the gate as risky (they need approval)."""
    text = "".join(p.read_text() for p in sorted((ROOT / f"roles/{role}/tasks").glob("*.yml")))
    # through the gate itself, or through the shared rollout restart (which passes the gate with these)
    return set(
        re.findall(
            r"__voicehive_(?:gate|restart)_action: ([a-z_]+)\n(?:.*\n){0,5}?"
            r"\s+__voicehive_(?:gate|restart)_risky: true",
            text,
        )
    )


def test_survey_choices_are_the_gated_actions_of_the_roles():
    categories = _playbook_categories()
    every_gated = set().union(*(_gated_actions(role) for role in categories))
    assert {"clear_sessions", "rotate_jwt_secret", "tune_breaker_thresholds"} <= every_gated
    for template in yaml.safe_load(CONTROLLER.read_text())["controller_templates"]:
        tags = template.get("job_tags")
        assert not tags or set(tags.split(",")) <= categories, template["name"]
        for question in (template.get("survey_spec") or {}).get("spec", []):
            if question["variable"] != "voicehive_approved_actions":
                continue
            choices = set(question["choices"])
            if tags:  # a category's template offers exactly that category's gated actions
                assert choices == set().union(*(_gated_actions(t) for t in tags.split(","))), template["name"]
            else:  # the general template offers every gated action (and those of categories still to come)
                assert every_gated <= choices, (template["name"], sorted(every_gated - choices))
