# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LiveKit, with its causes made directly in the services (not through lab/bin/fault).

1. A wrong server_url written into ConfigMap livekit-config through the Kubernetes API (another host than the
   lab fault's) and a livekit-agent pod made to crash-loop (kubesim's condition annotation). Then:
   remediate --check --diff changes nothing; remediate corrects server_url, rolls the agent out once,
   and the orchestrator's LiveKit connector is healthy again; the same run again changes nothing.
2. The LiveKit simulator answering 503 (its own outage mode) with a wrong server_url and a crash-looping agent:
   nothing is changed (never pointed at a dead server, no pointless restart), the report escalates.
3. A key pair the server refuses (another API secret; diagnose -vvv): the token check finds it, server_url would
   not be corrected towards a server that refuses the keys, and no secret appears anywhere.
4. Bad input stops the run before anything is read.
The lab faults themselves are the molecule scenarios (molecule/livekit_*).
"""

from __future__ import annotations

import json

import pytest
import requests
from kubernetes import client as k8s_client
from vh_lab import lab, run_playbook, wait_for

pytestmark = pytest.mark.lab

NS = "voicehive"
ORCHESTRATOR = "http://127.0.0.1:18080"
LIVEKIT = "http://127.0.0.1:17880"
GOOD_URL = "ws://127.0.0.1:17880"
WRONG_URL = "wss://livekit.decommissioned.invalid"
CONDITION = "kubesim.voicehive.io/condition"
NO_FAIL = {"voicehive_fail_on_unresolved_critical": False}


def _server_url(core) -> str | None:
    return (core.read_namespaced_config_map("livekit-config", NS).data or {}).get("server_url")


def _set_server_url(core, url: str) -> None:
    core.patch_namespaced_config_map("livekit-config", NS, {"data": {"server_url": url}})


def _agent(apps) -> dict:
    dep = apps.read_namespaced_deployment("livekit-agent", NS)
    return {
        "restarted_at": (dep.spec.template.metadata.annotations or {}).get("kubectl.kubernetes.io/restartedAt"),
        "resource_version": dep.metadata.resource_version,
        "ready": dep.status.ready_replicas or 0,
        "desired": dep.spec.replicas,
    }


def _crash_one_agent_pod(core) -> str:
    pod = core.list_namespaced_pod(NS, label_selector="app=livekit-agent").items[0]
    core.patch_namespaced_pod(pod.metadata.name, NS, {"metadata": {"annotations": {CONDITION: "CrashLoopBackOff"}}})
    wait_for(
        lambda: not core.read_namespaced_pod(pod.metadata.name, NS).status.container_statuses[0].ready,
        what="the agent pod to crash-loop",
    )
    return pod.metadata.name


def _livekit_mode(secrets: dict, mode: str) -> None:
    resp = requests.post(
        f"{LIVEKIT}/_lab/mode", json={"mode": mode}, headers={"X-Lab-Token": secrets["apaleo_lab_token"]}, timeout=5
    )
    resp.raise_for_status()


def _by_id(items: list[dict], key: str = "id") -> dict[str, dict]:
    return {item[key]: item for item in items}


def _connector() -> dict:
    return requests.get(f"{ORCHESTRATOR}/health/connectors", timeout=5).json()["connectors"]["livekit"]


@pytest.fixture(scope="module")
def story(lab_up, kube, secrets):
    lab("reset")
    core, apps = k8s_client.CoreV1Api(kube), k8s_client.AppsV1Api(kube)
    _set_server_url(core, WRONG_URL)
    crashed = _crash_one_agent_pod(core)
    story = {"secrets": secrets, "crashed": crashed, "agent_before": _agent(apps)}
    story["check"] = run_playbook("playbooks/remediate.yml", "--tags", "livekit", "--check", "--diff")
    story["after_check"] = {"server_url": _server_url(core), "agent": _agent(apps)}
    story["fix"] = run_playbook("playbooks/remediate.yml", "--tags", "livekit")
    story["after_fix"] = {
        "server_url": _server_url(core),
        "agent": _agent(apps),
        "pods": core.list_namespaced_pod(NS, label_selector="app=livekit-agent").items,
    }
    story["connector"] = wait_for(lambda: _connector()["status"] == "healthy" and _connector(), what="LiveKit again")
    story["second"] = run_playbook("playbooks/remediate.yml", "--tags", "livekit")
    story["agent_after_second"] = _agent(apps)
    try:
        # 2: the server answers 503 while server_url is wrong and an agent crash-loops
        _set_server_url(core, WRONG_URL)
        crashed_again = _crash_one_agent_pod(core)
        _livekit_mode(secrets, "outage")
        agent = _agent(apps)
        story["outage"] = run_playbook("playbooks/remediate.yml", "--tags", "livekit", extra_vars=NO_FAIL)
        story["after_outage"] = {"server_url": _server_url(core), "agent": _agent(apps), "agent_before": agent}
    finally:
        _livekit_mode(secrets, "normal")
    # 3: a key pair the server refuses, server_url still wrong, the agent still crash-looping: one diagnose
    # run (-vvv: every result is shown) with the token check asked for
    story["refused_secret"] = "lk-rotated-" + "x" * 24
    story["refused"] = run_playbook(
        "playbooks/diagnose.yml",
        "--tags",
        "livekit",
        "-vvv",
        extra_vars={**NO_FAIL, "livekit_api_secret": story["refused_secret"]},
    )
    story["after_refused"] = {"server_url": _server_url(core), "agent": _agent(apps)}
    _set_server_url(core, GOOD_URL)
    core.patch_namespaced_pod(crashed_again, NS, {"metadata": {"annotations": {CONDITION: None}}})
    return story


def test_check_mode_changes_nothing_and_says_what_it_would_do(story):
    run = story["check"]
    assert run.rc == 0, run.output[-3000:]
    assert story["after_check"]["server_url"] == WRONG_URL
    assert story["after_check"]["agent"]["resource_version"] == story["agent_before"]["resource_version"]
    report = run.report
    assert report["check_mode"] is True
    assert set(_by_id(report["findings"])) == {"livekit.server_url_mismatch", "livekit.agent_unhealthy"}
    actions = _by_id(report["actions"], "action")
    assert {a: actions[a]["status"] for a in actions} == {
        "correct_server_url": "would_change",
        "restart_agent": "would_change",
    }
    assert actions["correct_server_url"]["after"]["server_url"] == GOOD_URL
    assert f"-  server_url: {WRONG_URL}" in run.stdout or WRONG_URL in run.stdout


def test_wrong_server_url_is_corrected_and_the_agent_restarted_once(story):
    run = story["fix"]
    assert run.rc == 0, run.output[-3000:]
    after = story["after_fix"]
    assert after["server_url"] == GOOD_URL
    assert after["agent"]["restarted_at"] and not story["agent_before"]["restarted_at"]
    assert after["agent"]["ready"] == after["agent"]["desired"] == 2
    assert story["crashed"] not in [p.metadata.name for p in after["pods"]]
    assert all(p.status.container_statuses[0].ready for p in after["pods"])
    assert story["connector"]["server_url"] == GOOD_URL
    report = run.report
    assert report["outcome"] == "resolved"
    findings = _by_id(report["findings"])
    assert {f: findings[f]["status"] for f in findings} == {
        "livekit.server_url_mismatch": "resolved",
        "livekit.agent_unhealthy": "resolved",
    }
    mismatch = findings["livekit.server_url_mismatch"]
    assert WRONG_URL in mismatch["summary"] and GOOD_URL in mismatch["summary"]
    assert mismatch["evidence"]["expected_server_answers"] is True
    unhealthy = findings["livekit.agent_unhealthy"]
    assert story["crashed"] in unhealthy["summary"] and "CrashLoopBackOff" in unhealthy["summary"]
    assert unhealthy["evidence"]["log_tail"], "the crashed pod's log is evidence"
    actions = report["actions"]
    assert [(a["action"], a["status"]) for a in actions] == [("correct_server_url", "done"), ("restart_agent", "done")]
    assert actions[0]["before"] == {"server_url": WRONG_URL} and actions[0]["after"] == {"server_url": GOOD_URL}
    assert actions[1]["before"]["restartedAt"] == "never"


def test_second_run_changes_nothing(story):
    run = story["second"]
    assert run.rc == 0 and run.recap_changed() == 0, run.output[-3000:]
    assert run.report["findings"] == [] and run.report["actions"] == []
    assert story["agent_after_second"]["restarted_at"] == story["after_fix"]["agent"]["restarted_at"]


def test_never_points_at_a_dead_server_nor_restarts_for_nothing(story):
    run = story["outage"]
    after = story["after_outage"]
    assert run.rc == 0, run.output[-3000:]
    assert after["server_url"] == WRONG_URL
    assert after["agent"]["resource_version"] == after["agent_before"]["resource_version"]
    report = run.report
    assert report["outcome"] == "failed" and report["actions"] == []
    findings = _by_id(report["findings"])
    assert {f: findings[f]["status"] for f in findings} == {
        "livekit.server_unreachable": "unresolved",
        "livekit.server_url_mismatch": "unresolved",
        "livekit.agent_unhealthy": "unresolved",
    }
    down = findings["livekit.server_unreachable"]["summary"]
    assert "answered 503" in down and "no safe fix from the cluster side" in down and "curl -f" in down
    assert "the ConfigMap is not pointed at a dead URL" in findings["livekit.server_url_mismatch"]["summary"]
    assert findings["livekit.server_url_mismatch"]["remediation"] == ""
    assert "Not restarted" in findings["livekit.agent_unhealthy"]["summary"]


def test_refused_key_pair_is_found_and_blocks_the_correction(story):
    run = story["refused"]
    assert run.rc == 0, run.output[-3000:]
    assert story["after_refused"]["server_url"] == WRONG_URL
    report = run.report
    findings = _by_id(report["findings"])
    assert "livekit.token_invalid" in findings and "livekit.server_url_mismatch" in findings
    token = findings["livekit.token_invalid"]
    assert "refused the token with 401" in token["summary"]
    assert token["evidence"]["key_pair"]["valid"] is True
    assert token["evidence"]["key_pair"]["server_accepts"] is False
    assert "refuses the configured key pair" in findings["livekit.server_url_mismatch"]["summary"]
    # the agent crash-looping since step 2 would be restarted: the server answers, only the keys are refused
    assert findings["livekit.agent_unhealthy"]["remediation"] == "restart_agent"
    assert report["phase"] == "diagnose" and report["actions"] == []


def test_no_secret_in_reports_or_verbose_output(story):
    secrets = story["secrets"]
    values = {
        "LiveKit API secret": secrets["livekit_api_secret"],
        "LiveKit API key": secrets["livekit_api_key"],
        "refused API secret": story["refused_secret"],
    }
    texts = {name: story[name].output + json.dumps(story[name].reports) for name in ("fix", "outage", "refused")}
    assert "token_valid" in texts["refused"], "-vvv shows the token check's result"
    for name, text in texts.items():
        for what, value in values.items():
            assert value not in text, f"{what} in {name}"


def test_bad_input_stops_before_anything_is_read(lab_up):
    run = run_playbook(
        "playbooks/remediate.yml",
        "--tags",
        "livekit",
        extra_vars={"livekit_expected_url": "livekit.voicehive.com", "livekit_token_check": "sometimes"},
    )
    assert run.rc != 0
    text = run.output + json.dumps(run.reports)
    assert "livekit_expected_url livekit.voicehive.com is not a ws://, wss://, http:// or https:// URL" in text
    assert "livekit_token_check must be on_problem, always or never, got sometimes" in text
    assert run.report["actions"] == []
