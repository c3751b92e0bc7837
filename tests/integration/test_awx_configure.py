# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/awx_configure.yml applies awx/controller.yml to the lab's AWX (lab/sims/awx.py, AWX API v2 on :18052):
every organization, credential type, credential, execution environment, project, inventory, job template (survey,
credentials), workflow (nodes, approval nodes, links) and schedule is there afterwards, read back through the API;
a second run changes nothing (and writes nothing); --check --diff after a drift reports it and changes nothing; a
wrong token fails clearly before anything is written, and no secret is printed.
"""

from __future__ import annotations

import json
import re

import pytest
import requests
import yaml
from vh_lab import ROOT, run_playbook

AWX = "http://127.0.0.1:18052"
CONTROLLER = yaml.safe_load((ROOT / "awx/controller.yml").read_text())
PLAYBOOK = "playbooks/awx_configure.yml"


class Api:
    def __init__(self, token: str, lab_token: str) -> None:
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.lab_token = lab_token

    def get(self, path: str, **query) -> dict:
        answer = self.session.get(f"{AWX}/api/v2/{path}", params=query, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def all(self, path: str, **query) -> list[dict]:
        return self.get(path, page_size=200, **query)["results"]

    def one(self, path: str, name: str) -> dict:
        found = self.all(path, name=name)
        assert len(found) == 1, f"{path} {name!r}: {len(found)} found"
        return found[0]

    def lab(self, method: str, path: str) -> dict:
        answer = requests.request(method, f"{AWX}/_lab/{path}", headers={"X-Lab-Token": self.lab_token}, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def writes(self) -> int:
        counters = self.lab("GET", "state")["counters"]
        return sum(counters.get(m, 0) for m in ("POST", "PATCH", "PUT", "DELETE"))


@pytest.fixture
def awx(secrets) -> Api:
    api = Api(secrets["awx_token"], secrets["apaleo_lab_token"])
    api.lab("POST", "reset")
    return api


def _secret_values(secrets: dict) -> list[str]:
    return [secrets[k] for k in ("awx_token", "kube_admin_token", "vault_root_token", "awx_admin_password")]


def _assert_applied(api: Api) -> None:
    for org in CONTROLLER["controller_organizations"]:
        assert api.one("organizations/", org["name"])["description"] == org["description"]
    for ctype in CONTROLLER["controller_credential_types"]:
        got = api.one("credential_types/", ctype["name"])
        assert got["inputs"] == ctype["inputs"]
        # the injector templates reach the controller as templates, for it to fill in at launch
        assert got["injectors"]["extra_vars"]["voicehive_vault_token"] == "{{ token }}"
    for cred in CONTROLLER["controller_credentials"]:
        got = api.one("credentials/", cred["name"])
        assert got["summary_fields"]["credential_type"]["name"] == cred["credential_type"]
        assert got["summary_fields"]["organization"]["name"] == cred["organization"]
    kube = api.one("credentials/", "voicehive-kubernetes")["inputs"]
    assert kube["host"] == "https://127.0.0.1:16443" and kube["bearer_token"] == "$encrypted$"
    ee = api.one("execution_environments/", "voicehive-remediation-ee")
    assert ee["image"].endswith("voicehive-remediation-ee:0.1.0") and ee["pull"] == "missing"
    project = api.one("projects/", "voicehive-remediation")
    assert project["scm_type"] == "git" and project["summary_fields"]["default_environment"]["id"] == ee["id"]
    inventory = api.one("inventories/", "voicehive-sites")
    for template in CONTROLLER["controller_templates"]:
        got = api.one("job_templates/", template["name"])
        assert got["playbook"] == template["playbook"] and got["project"] == project["id"], template["name"]
        assert got["inventory"] == inventory["id"]
        assert got["job_tags"] == template.get("job_tags", ""), template["name"]
        for flag in ("ask_limit_on_launch", "ask_tags_on_launch", "ask_job_type_on_launch", "allow_simultaneous"):
            assert got[flag] == template.get(flag, False), (template["name"], flag)
        assert json.loads(got["extra_vars"] or "{}") == (template.get("extra_vars") or {}), template["name"]
        assert api.get(f"job_templates/{got['id']}/survey_spec/") == template.get("survey_spec", {}), template["name"]
        creds = {c["name"] for c in api.all(f"job_templates/{got['id']}/credentials/")}
        assert creds == set(template["credentials"]), template["name"]
    for workflow in CONTROLLER["controller_workflows"]:
        got = api.one("workflow_job_templates/", workflow["name"])
        nodes = {n["identifier"]: n for n in api.all(f"workflow_job_templates/{got['id']}/workflow_nodes/")}
        wanted = {n["identifier"]: n for n in workflow["simplified_workflow_nodes"]}
        assert set(nodes) == set(wanted), workflow["name"]
        by_id = {n["id"]: ident for ident, n in nodes.items()}
        for ident, node in wanted.items():
            have = nodes[ident]
            ujt = have["summary_fields"]["unified_job_template"]
            if "approval_node" in node:
                assert ujt["type"] == "workflow_approval_template"
                approval = api.get(f"workflow_approval_templates/{ujt['id']}/")
                assert (approval["name"], approval["timeout"]) == (
                    node["approval_node"]["name"],
                    node["approval_node"]["timeout"],
                )
            else:
                assert ujt["name"] == node["unified_job_template"], (workflow["name"], ident)
            assert have["job_type"] == node.get("job_type") and have["extra_data"] == node.get("extra_data", {})
            for link in ("success_nodes", "failure_nodes", "always_nodes"):
                assert {by_id[i] for i in have[link]} == set(node.get(link, [])), (workflow["name"], ident, link)
    for schedule in CONTROLLER["controller_schedules"]:
        got = api.one("schedules/", schedule["name"])
        assert got["rrule"] == schedule["rrule"] and got["enabled"] is True and got["next_run"]
        assert got["summary_fields"]["unified_job_template"]["name"] == schedule["unified_job_template"]


def test_apply_idempotent_check_and_a_wrong_token(awx, secrets):
    first = run_playbook(PLAYBOOK, target="awx")
    assert first.rc == 0, first.output[-3000:]
    assert "changed=9" in first.stdout, first.stdout[-1500:]
    _assert_applied(awx)
    for value in _secret_values(secrets):
        assert value not in first.output

    writes = awx.writes()
    second = run_playbook(PLAYBOOK, target="awx")
    assert second.rc == 0 and "changed=0" in second.stdout, second.stdout[-2000:]
    assert awx.writes() == writes, "the second run wrote to the controller"

    # a drift made by hand: --check --diff reports it, and changes nothing
    template = awx.one("job_templates/", "VoiceHive - remediate network")
    awx.session.patch(f"{AWX}/api/v2/job_templates/{template['id']}/", json={"job_tags": "dns"}, timeout=10)
    workflow = awx.one("workflow_job_templates/", "VoiceHive - DR failover with approvals")
    nodes = {n["identifier"]: n for n in awx.all(f"workflow_job_templates/{workflow['id']}/workflow_nodes/")}
    awx.session.post(
        f"{AWX}/api/v2/workflow_job_template_nodes/{nodes['approve-dns']['id']}/success_nodes/",
        json={"id": nodes["dns"]["id"], "disassociate": True},
        timeout=10,
    ).raise_for_status()
    writes = awx.writes()
    check = run_playbook(PLAYBOOK, "--check", "--diff", target="awx")
    assert check.rc == 0 and "changed=2" in check.stdout, check.stdout[-3000:]
    diff = re.sub(r"^([-+])\s+", r"\1", check.stdout.replace('"', ""), flags=re.MULTILINE)
    assert "-job_tags: dns" in diff and "+job_tags: network" in diff, check.stdout[-3000:]
    assert "approve-dns -[success]-> dns" in diff
    assert awx.writes() == writes, "--check wrote to the controller"
    assert awx.one("job_templates/", "VoiceHive - remediate network")["job_tags"] == "dns"
    for value in _secret_values(secrets):
        assert value not in check.output

    wrong = run_playbook(PLAYBOOK, "-e", "awx_configure_controller_token=not-the-token", target="awx")
    assert wrong.rc != 0
    assert "Cannot apply organizations 'VoiceHive': HTTP 401" in wrong.output
    assert "did not accept the credentials" in wrong.output
    assert "not-the-token" not in wrong.output
    assert awx.writes() == writes
