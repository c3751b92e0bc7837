# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""controller_object against the lab's AWX API simulator (lab/sims/awx.py, started in a thread): create, change only
what differs, nothing written when equal, check mode and diff, secrets never returned, surveys, credential
associations, workflow nodes with approvals and links, schedules, removal, and the errors summarised."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils import _controller
from ansible_collections.voicehive.remediation.plugins.modules import controller_object

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "lab"))

from sims.awx import build_server
from sims.common import start_in_thread

TOKEN = "unit-awx-token-0123456789"
READ_TOKEN = "unit-read-only-token"
KUBE_TOKEN = "kube-bearer-secret-value"
ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
def awx(tmp_path):
    """A running simulator; ``writes()`` counts the write requests it served."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = build_server(
        {
            "port": port,
            "state_dir": str(tmp_path),
            "token": TOKEN,
            "read_tokens": [READ_TOKEN],
            "lab_token": "lab",
            "playbooks_root": str(ROOT),
        }
    )
    start_in_thread(server)
    server.url = f"http://127.0.0.1:{port}"
    server.writes = lambda: sum(server.app.counters.get(m, 0) for m in ("POST", "PATCH", "DELETE"))
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def run(run_module, awx):
    def _run(check_mode=False, diff=False, **args):
        module_args = dict(controller_host=awx.url, controller_oauthtoken=TOKEN)
        module_args.update(args)
        return run_module(controller_object.main, module_args, check_mode=check_mode, diff=diff)

    return _run


@pytest.fixture
def base(run):
    """Organization, project, inventory and a credential to hang templates on."""
    run(kind="organizations", name="VoiceHive")
    run(kind="projects", name="proj", organization="VoiceHive", fields=dict(scm_type="git", scm_url="https://x/y.git"))
    run(kind="inventories", name="sites", organization="VoiceHive")
    run(
        kind="credentials",
        name="kube",
        organization="VoiceHive",
        fields=dict(
            credential_type="OpenShift or Kubernetes API Bearer Token",
            inputs=dict(host="https://k", bearer_token=KUBE_TOKEN),
        ),
    )
    return run


JT = dict(project="proj", inventory="sites", playbook="playbooks/diagnose.yml")
SURVEY = dict(
    name="s",
    description="d",
    spec=[dict(question_name="Site", variable="voicehive_target", type="text", required=True, default="voicehive")],
)


def test_create_then_equal_writes_nothing(run, awx):
    created = run(kind="organizations", name="VoiceHive", fields=dict(description="VH"))
    assert created["changed"] is True and created["actions"] == ["created organizations 'VoiceHive'"]
    assert created["object"]["description"] == "VH" and created["id"]
    writes = awx.writes()
    again = run(kind="organizations", name="VoiceHive", fields=dict(description="VH"))
    assert again["changed"] is False and again["actions"] == [] and again["id"] == created["id"]
    assert awx.writes() == writes


def test_only_differing_fields_are_patched_with_diff(base, awx):
    base(kind="job_templates", name="jt", fields=dict(JT, job_tags="memory", allow_simultaneous=True))
    writes = awx.writes()
    result = base(
        kind="job_templates", name="jt", fields=dict(JT, job_tags="network", allow_simultaneous=True), diff=True
    )
    assert result["changed"] is True and result["actions"] == ["updated job_tags"]
    assert result["diff"] == {"before": {"job_tags": "memory"}, "after": {"job_tags": "network"}}
    assert awx.writes() == writes + 1
    assert result["object"]["job_tags"] == "network"


def test_check_mode_changes_nothing(base, awx):
    writes = awx.writes()
    result = base(kind="job_templates", name="jt", fields=JT, survey_spec=SURVEY, check_mode=True, diff=True)
    assert result["changed"] is True and result["id"] is None
    assert result["diff"]["after"]["playbook"] == "playbooks/diagnose.yml"
    base(kind="job_templates", name="jt", fields=JT)
    writes = awx.writes()
    changed = base(kind="job_templates", name="jt", fields=dict(JT, job_tags="x"), survey_spec=SURVEY, check_mode=True)
    assert changed["changed"] is True and changed["actions"] == ["updated job_tags", "set the survey"]
    assert awx.writes() == writes


def test_extra_vars_compare_as_data(base):
    base(kind="job_templates", name="jt", fields=dict(JT, extra_vars={"b": 1, "a": [1, 2]}))
    again = base(kind="job_templates", name="jt", fields=dict(JT, extra_vars={"a": [1, 2], "b": 1}))
    assert again["changed"] is False
    assert json.loads(again["object"]["extra_vars"]) == {"a": [1, 2], "b": 1}


def test_secret_inputs_are_never_returned_and_only_sent_on_request(base, awx):
    fields = dict(
        credential_type="OpenShift or Kubernetes API Bearer Token",
        inputs=dict(host="https://k", bearer_token=KUBE_TOKEN),
    )
    again = base(kind="credentials", name="kube", organization="VoiceHive", fields=fields, diff=True)
    assert again["changed"] is False
    assert again["object"]["inputs"]["bearer_token"] == "********"
    assert KUBE_TOKEN not in json.dumps(again)
    moved = base(
        kind="credentials",
        name="kube",
        organization="VoiceHive",
        fields=dict(fields, inputs=dict(host="https://k2", bearer_token=KUBE_TOKEN)),
        diff=True,
    )
    assert moved["actions"] == ["updated inputs"] and KUBE_TOKEN not in json.dumps(moved)
    assert moved["diff"]["after"]["inputs"] == {"host": "https://k2", "bearer_token": "********"}
    # the stored secret stayed (sent back as $encrypted$)
    stored = awx.app.table("credentials")[str(moved["id"])]["inputs"]
    assert stored == {"host": "https://k2", "bearer_token": KUBE_TOKEN}
    forced = base(
        kind="credentials",
        name="kube",
        organization="VoiceHive",
        fields=dict(fields, inputs=dict(host="https://k2", bearer_token="new")),
        update_secrets=True,
    )
    assert forced["changed"] is True and "new" not in json.dumps(forced["object"])
    assert awx.app.table("credentials")[str(moved["id"])]["inputs"]["bearer_token"] == "new"


def test_survey_and_credentials(base, awx):
    result = base(
        kind="job_templates", name="jt", fields=dict(JT, survey_enabled=True), survey_spec=SURVEY, credentials=["kube"]
    )
    assert result["actions"] == ["created job_templates 'jt'", "set the survey", "associated credential 'kube'"]
    writes = awx.writes()
    assert (
        base(
            kind="job_templates",
            name="jt",
            fields=dict(JT, survey_enabled=True),
            survey_spec=SURVEY,
            credentials=["kube"],
        )["changed"]
        is False
    )
    assert awx.writes() == writes
    gone = base(kind="job_templates", name="jt", fields=JT, survey_spec={}, credentials=[])
    assert gone["actions"] == ["removed the survey", "disassociated credential 'kube'"]
    bad = base(kind="job_templates", name="jt", fields=JT, survey_spec=dict(SURVEY, spec=[dict(variable="x")]))
    assert bad["failed"] is True and "'type' missing from survey question 0" in bad["msg"]


NODES = [
    dict(identifier="diagnose", unified_job_template="jt", success_nodes=["approve"]),
    dict(
        identifier="approve",
        approval_node=dict(name="Approve", timeout=600),
        success_nodes=["act"],
        failure_nodes=["report"],
    ),
    dict(
        identifier="act", unified_job_template="jt", job_type="check", extra_data=dict(voicehive_approved_actions=["x"])
    ),
    dict(identifier="report", unified_job_template="jt"),
]


def test_workflow_nodes_approvals_and_links(base, awx):
    base(kind="job_templates", name="jt", fields=dict(JT, ask_job_type_on_launch=True))
    created = base(kind="workflow_job_templates", name="wf", organization="VoiceHive", workflow_nodes=NODES)
    assert "set approval of workflow node 'approve'" in created["actions"]
    assert "associated approve -[failure]-> report" in created["actions"]
    nodes = {n["identifier"]: n for n in awx.app.table("workflow_job_template_nodes").values()}
    assert nodes["diagnose"]["success_nodes"] == [nodes["approve"]["id"]]
    approval = awx.app.table("workflow_approval_templates")[str(nodes["approve"]["unified_job_template"])]
    assert (approval["name"], approval["timeout"]) == ("Approve", 600)
    writes = awx.writes()
    assert (
        base(kind="workflow_job_templates", name="wf", organization="VoiceHive", workflow_nodes=NODES)["changed"]
        is False
    )
    assert awx.writes() == writes
    # the approval's timeout changes, the failure branch goes, the success link moves to always
    changed = [
        NODES[0],
        dict(identifier="approve", approval_node=dict(name="Approve", timeout=900), always_nodes=["act"]),
        NODES[2],
    ]
    result = base(kind="workflow_job_templates", name="wf", organization="VoiceHive", workflow_nodes=changed, diff=True)
    assert not result.get("failed"), result
    assert set(result["actions"]) == {
        "set approval of workflow node 'approve'",
        "deleted workflow node 'report'",
        "disassociated approve -[success]-> act",
        "associated approve -[always]-> act",
    }
    assert (
        base(kind="workflow_job_templates", name="wf", organization="VoiceHive", workflow_nodes=changed)["changed"]
        is False
    )
    bad = base(
        kind="workflow_job_templates",
        name="wf",
        organization="VoiceHive",
        workflow_nodes=[dict(identifier="a", unified_job_template="jt", success_nodes=["b"])],
    )
    assert bad["failed"] is True and "leads to unknown node(s) b" in bad["msg"]


def test_schedules_rrule_is_validated(base):
    base(kind="job_templates", name="jt", fields=JT)
    ok = base(
        kind="schedules",
        name="every",
        unified_job_template="jt",
        fields=dict(rrule="DTSTART:20261201T000000Z RRULE:FREQ=MINUTELY;INTERVAL=15"),
    )
    assert ok["changed"] is True and ok["object"]["next_run"]
    bad = base(kind="schedules", name="bad", unified_job_template="jt", fields=dict(rrule="RRULE:FREQ=SECONDLY"))
    assert bad["failed"] is True and "rrule: DTSTART required in rrule" in bad["msg"] and bad["status"] == 400


def test_absent(base, awx):
    base(kind="inventories", name="gone", organization="VoiceHive")
    removed = base(kind="inventories", name="gone", organization="VoiceHive", state="absent")
    assert removed["changed"] is True and removed["actions"] == ["deleted inventories 'gone'"]
    assert base(kind="inventories", name="gone", organization="VoiceHive", state="absent")["changed"] is False


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (
            dict(kind="job_templates", name="jt", fields=dict(project="nope", inventory="sites", playbook="p.yml")),
            "project 'nope' does not exist",
        ),
        (
            dict(kind="job_templates", name="jt", fields=dict(project="proj", inventory="sites")),
            "HTTP 400 from POST /api/v2/job_templates/: playbook: This field is required.",
        ),
        (
            dict(kind="job_templates", name="jt", fields=dict(JT, playbook="playbooks/nope.yml")),
            "playbook: Playbook not found for project.",
        ),
        (
            dict(
                kind="credentials",
                name="c2",
                fields=dict(credential_type="OpenShift or Kubernetes API Bearer Token", inputs=dict(host="h")),
            ),
            "inputs.bearer_token: required for OpenShift",
        ),
        (
            dict(kind="projects", name="p2", fields=dict(scm_type="git", scm_url="u")),
            "organization: This field is required.",
        ),
        (
            dict(kind="organizations", name="VoiceHive", controller_oauthtoken="wrong"),
            "HTTP 401 from GET /api/v2/organizations/: Invalid token. - the controller did not accept the credentials",
        ),
        (
            dict(kind="organizations", name="new", controller_oauthtoken=READ_TOKEN),
            "HTTP 403 from POST /api/v2/organizations/: You do not have permission",
        ),
        (
            dict(kind="organizations", name="x", controller_host="http://127.0.0.1:9"),
            "nothing answered at http://127.0.0.1:9/",
        ),
    ],
)
def test_errors_are_one_clear_sentence(base, args, expect):
    result = base(**args)
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot apply ") and expect in result["msg"], result["msg"]
    assert "wrong" not in result["msg"] and KUBE_TOKEN not in json.dumps(result)


def test_bad_input_is_refused_before_any_request(run, awx):
    result = run(kind="schedules", name="s")  # no unified_job_template
    assert result["failed"] is True and "unified_job_template" in result["msg"]
    no_login = run(kind="organizations", name="x", controller_oauthtoken=None)
    assert no_login["failed"] is True and "controller_oauthtoken" in no_login["msg"]
    assert awx.app.counters == {}


def test_summarise_nested_field_errors():
    body = {"inputs": {"token": ["required"]}, "__all__": ["Duplicate."], "name": ["blank", "long"]}
    assert _controller.summarise(body) == "inputs.token: required; Duplicate.; name: blank long"
