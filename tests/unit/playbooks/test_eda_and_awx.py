# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Event-Driven Ansible rulebook and the AWX configuration point at things that exist.

Each contract alert has one rule per rulebook (run_playbook through the launcher,
run_job_template of a job template defined in awx/controller.yml), matching firing
alerts only, throttled per alert and site, narrowed to category tags whose role
is in the playbooks; risky actions are never approved from an alert.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
RULEBOOKS = {
    "run_playbook": ROOT / "extensions/eda/rulebooks/alertmanager.yml",
    "run_job_template": ROOT / "extensions/eda/rulebooks/alertmanager_awx.yml",
}
ALERT_RULES = ROOT / "lab/services/prometheus/alert-rules.yml"
CONTROLLER = ROOT / "awx/controller.yml"
LAUNCHER = "extensions/eda/playbooks/launch.yml"
ROUTE = re.compile(r'^event\.voicehive_route == "firing (VoiceHive[A-Za-z]+)"$')
# the alerts of voicehive-contract.md ("Prometheus alerts the system ships")
CONTRACT_ALERTS = {
    "VoiceHiveServiceDown",
    "VoiceHiveHighErrorRate",
    "VoiceHiveHighLatency",
    "VoiceHiveAuthenticationFailures",
    "VoiceHiveRateLimitExceeded",
    "VoiceHiveSecurityIncident",
    "VoiceHiveHighCPUUsage",
    "VoiceHiveHighMemoryUsage",
    "VoiceHiveConnectionPoolExhaustion",
    "VoiceHiveDatabaseDown",
    "VoiceHiveRedisDown",
    "VoiceHivePMSConnectorFailure",
    "VoiceHiveCircuitBreakerOpen",
    "VoiceHiveLowCallSuccessRate",
    "VoiceHiveNoCallsProcessed",
    "VoiceHivePodCrashLooping",
    "VoiceHiveDeploymentFailed",
    "VoiceHiveHPAScalingIssue",
}


def _rulebook(action: str) -> list[dict]:
    return yaml.safe_load(RULEBOOKS[action].read_text())


def _rules(action: str) -> list[dict]:
    return [rule for ruleset in _rulebook(action) for rule in ruleset["rules"]]


def _shipped_alerts() -> set[str]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def _playbook_categories() -> set[str]:
    text = (ROOT / "playbooks/remediate.yml").read_text()
    return set(re.findall(r"name: voicehive\.remediation\.([a-z_]+)\n", text)) - {"voicehive"}


def test_the_rulebooks_are_generated_from_the_alert_table():
    out = subprocess.run(
        [sys.executable, str(ROOT / "hack/eda_rulebooks.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr


def test_the_lab_ships_the_contract_alerts():
    assert _shipped_alerts() == CONTRACT_ALERTS


@pytest.mark.parametrize("action", sorted(RULEBOOKS))
def test_the_source_splits_alertmanager_posts_one_event_per_alert(action):
    (ruleset,) = _rulebook(action)
    (source,) = ruleset["sources"]
    assert "eda.builtin.webhook" in source
    filters = [next(iter(f)) for f in source["filters"]]
    assert filters == ["eda.builtin.event_splitter", "voicehive.remediation.alert_route"]
    assert source["filters"][0]["eda.builtin.event_splitter"]["splitter_key"] == "payload.alerts"
    assert (ROOT / "extensions/eda/plugins/event_filter/alert_route.py").is_file()


@pytest.mark.parametrize("action", sorted(RULEBOOKS))
def test_every_contract_alert_has_one_throttled_firing_rule_with_real_tags(action):
    templates = {t["name"]: t for t in yaml.safe_load(CONTROLLER.read_text())["controller_templates"]}
    categories = _playbook_categories()
    assert categories, "no category role found in playbooks/remediate.yml"
    seen, also = [], []
    for rule in _rules(action):
        match = ROUTE.match(rule["condition"])
        assert match, f"rule {rule['name']!r} does not match a firing alert by name: {rule['condition']!r}"
        alert = match.group(1)
        assert rule["throttle"]["group_by_attributes"] == ["event.labels.alertname", "event.voicehive_site"]
        assert rule["throttle"]["once_within"]
        (kind,) = rule["action"]
        assert kind == action, rule["name"]
        args = rule["action"][kind]
        if action == "run_playbook":
            assert args["name"] == LAUNCHER and (ROOT / LAUNCHER).is_file()
            variables = args["extra_vars"]
            playbook, tags = variables["voicehive_eda_playbook"], variables["voicehive_eda_tags"]
            target = variables.get("voicehive_eda_target")
        else:
            template = templates.get(args["name"])
            assert template, f"rule {rule['name']!r} launches an undefined template {args['name']!r}"
            assert template.get("ask_tags_on_launch") and template.get("ask_limit_on_launch"), args["name"]
            playbook = Path(template["playbook"]).stem
            tags, variables = args["job_args"]["job_tags"], args["job_args"]["extra_vars"]
            assert args["job_args"]["limit"] == variables["voicehive_target"]
            target = variables["voicehive_target"]
            target = None if target == "{{ event.voicehive_site }}" else target
        assert playbook in ("remediate", "diagnose") and (ROOT / f"playbooks/{playbook}.yml").is_file()
        assert ("(remediate)" in rule["name"]) == (playbook == "remediate"), rule["name"]
        assert set(tags.split(",")) <= categories, f"rule {rule['name']!r}: tags {tags} have no role"
        assert "voicehive_approved_actions" not in variables, "risky actions are never approved from an alert"
        if target:  # a diagnosis on other sites besides the alert's own rule (the DR sites): never a remediation
            assert playbook == "diagnose", rule["name"]
            also.append((alert, target, tags))
            continue
        seen.append(alert)
    assert len(seen) == len(set(seen)), f"an alert is answered twice: {seen}"
    assert also == [("VoiceHiveServiceDown", "voicehive_dr", "disaster_recovery")], also
    assert _rulebook(action)[0]["match_multiple_rules"] is True, "one event must reach both rules of its alert"
    assert set(seen) == CONTRACT_ALERTS, sorted(CONTRACT_ALERTS ^ set(seen))


def test_the_alert_route_filter():
    spec = importlib.util.spec_from_file_location(
        "alert_route", ROOT / "extensions/eda/plugins/event_filter/alert_route.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    alert = {"status": "firing", "labels": {"alertname": "VoiceHiveCircuitBreakerOpen", "site": "lab"}}
    out = module.main(dict(alert))
    assert out["voicehive_route"] == "firing VoiceHiveCircuitBreakerOpen" and out["voicehive_site"] == "lab"
    resolved = module.main({**alert, "status": "resolved"})
    assert resolved["voicehive_route"] == "resolved VoiceHiveCircuitBreakerOpen"
    assert (
        module.main({"status": "firing", "labels": {"alertname": "X"}}, default_site="prod")["voicehive_site"] == "prod"
    )
    probe = {"payload": {"probe": True}, "meta": {}}
    assert module.main(dict(probe)) == probe


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


def _declared_options() -> set[str]:
    declared: set[str] = set()
    for path in (ROOT / "roles").glob("*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(path.read_text())["argument_specs"].values():
            declared |= set((entry.get("options") or {}).keys())
    return declared


def test_job_templates_name_real_playbooks_and_declared_survey_variables():
    controller = yaml.safe_load(CONTROLLER.read_text())
    declared = _declared_options()
    every_gated = set().union(*(_gated_actions(role) for role in _playbook_categories()))
    defaults = yaml.safe_load((ROOT / "roles/voicehive/defaults/main.yml").read_text())
    collection_gated = set(defaults["voicehive_gated_actions"])
    assert every_gated <= collection_gated, sorted(every_gated - collection_gated)
    for template in controller["controller_templates"]:
        playbook = ROOT / template["playbook"]
        assert playbook.is_file(), f"{template['name']}: {template['playbook']} does not exist"
        # a play-level variable (the hosts pattern) counts as declared for its playbook
        play_vars = set(re.findall(r"hosts: \"\{\{ ([a-z_]+)", playbook.read_text()))
        if "import_playbook" in playbook.read_text():  # health_check.yml imports diagnose.yml
            play_vars |= set(re.findall(r"hosts: \"\{\{ ([a-z_]+)", (ROOT / "playbooks/diagnose.yml").read_text()))
        for question in (template.get("survey_spec") or {}).get("spec", []):
            variable = question["variable"]
            assert variable in declared | play_vars, f"{template['name']}: survey variable {variable} is not declared"
            if variable == "voicehive_approved_actions":  # the collection's gated actions, and only those
                assert set(question["choices"]) <= collection_gated, (template["name"], question["choices"])
                if not template.get("job_tags"):
                    assert set(question["choices"]) == collection_gated, template["name"]
            if question.get("default") is not None and question["type"] == "multiplechoice":
                assert question["default"] in question["choices"], (template["name"], variable)
    for workflow in controller.get("controller_workflows", []):
        for node in workflow["simplified_workflow_nodes"]:
            if "unified_job_template" in node:
                names = {t["name"] for t in controller["controller_templates"]}
                assert node["unified_job_template"] in names, (workflow["name"], node["identifier"])
    for schedule in controller.get("controller_schedules", []):
        assert schedule["unified_job_template"] in {t["name"] for t in controller["controller_templates"]}


def test_workflow_nodes_exist_and_every_approved_run_waits_for_a_person():
    controller = yaml.safe_load(CONTROLLER.read_text())
    templates = {t["name"]: t for t in controller["controller_templates"]}
    defaults = yaml.safe_load((ROOT / "roles/voicehive/defaults/main.yml").read_text())
    collection_gated = set(defaults["voicehive_gated_actions"])
    workflows = {w["name"]: w for w in controller["controller_workflows"]}
    assert "VoiceHive - DR failover with approvals" in workflows
    for workflow in workflows.values():
        nodes = {n["identifier"]: n for n in workflow["simplified_workflow_nodes"]}
        assert len(nodes) == len(workflow["simplified_workflow_nodes"]), workflow["name"]
        parents: dict[str, set[str]] = {ident: set() for ident in nodes}
        for ident, node in nodes.items():
            assert ("approval_node" in node) != ("unified_job_template" in node), (workflow["name"], ident)
            if "approval_node" in node:
                assert node["approval_node"]["name"] and node["approval_node"]["timeout"] > 0, (workflow["name"], ident)
            else:
                assert node["unified_job_template"] in templates, (workflow["name"], ident)
            for link in ("success_nodes", "failure_nodes", "always_nodes"):
                for child in node.get(link, []):
                    assert child in nodes, (workflow["name"], ident, link, child)
                    parents[child].add(ident)
        for ident, node in nodes.items():
            if "approval_node" in node:
                continue
            template = templates[node["unified_job_template"]]
            survey = {q["variable"]: q for q in (template.get("survey_spec") or {}).get("spec", [])}
            extra = node.get("extra_data") or {}
            for variable in extra:  # AWX accepts a node's variables as survey answers or when the template asks
                assert variable in survey or template.get("ask_variables_on_launch"), (
                    workflow["name"],
                    ident,
                    variable,
                )
            if node.get("job_type"):
                assert template.get("ask_job_type_on_launch"), (workflow["name"], ident)
            approved = set(extra.get("voicehive_approved_actions") or [])
            assert approved <= collection_gated, (workflow["name"], ident, sorted(approved - collection_gated))
            assert approved <= set(survey.get("voicehive_approved_actions", {}).get("choices", [])), (
                workflow["name"],
                ident,
            )
            if approved and node.get("job_type") != "check":  # a run that may take gated actions: a person said yes
                assert parents[ident], (workflow["name"], ident)
                assert all("approval_node" in nodes[p] for p in parents[ident]), (workflow["name"], ident)
    dr = {n["identifier"]: n for n in workflows["VoiceHive - DR failover with approvals"]["simplified_workflow_nodes"]}
    dns_nodes = [
        i
        for i, n in dr.items()
        if "dns_failover" in (n.get("extra_data") or {}).get("voicehive_approved_actions", [])
        and n.get("job_type") != "check"
    ]
    restore_nodes = [i for i, n in dr.items() if n.get("unified_job_template") == "VoiceHive - DR failover restore"]
    assert len(dns_nodes) == 1 and len(restore_nodes) == 1
    # the DNS change comes after the restore, with an approval node of its own in between
    approval = [p for p in dr if dns_nodes[0] in dr[p].get("success_nodes", [])]
    assert len(approval) == 1 and "approval_node" in dr[approval[0]]
    assert approval[0] in dr[restore_nodes[0]].get("success_nodes", [])
    assert templates["VoiceHive - DR failover restore"]["extra_vars"]["disaster_recovery_switch_dns"] is False


def test_every_category_has_a_diagnose_and_a_remediate_template():
    """One diagnose and one remediate template per category, run with its tags (disaster recovery has its own
    playbooks: its diagnose template and the DR templates)."""
    templates = yaml.safe_load(CONTROLLER.read_text())["controller_templates"]
    by_playbook: dict[str, set[str]] = {}
    for template in templates:
        if template.get("job_tags"):
            by_playbook.setdefault(template["playbook"], set()).add(template["job_tags"])
    categories = _playbook_categories()
    assert categories <= by_playbook["playbooks/diagnose.yml"], sorted(
        categories - by_playbook["playbooks/diagnose.yml"]
    )
    missing = categories - {"disaster_recovery"} - by_playbook["playbooks/remediate.yml"]
    assert not missing, f"no remediate template for {sorted(missing)}"
