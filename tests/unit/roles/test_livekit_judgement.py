# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/livekit/templates/judgement.j2: every cause judged from a site read, rendered by Ansible's templar."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

TEMPLATE = (Path(__file__).resolve().parents[3] / "roles" / "livekit" / "templates" / "judgement.j2").read_text()
GOOD = "ws://127.0.0.1:17880"
WRONG = "wss://livekit.voicehive-old.invalid"


def pod(name, ready=True, reason=None, last=None, restarts=0, app="livekit-agent", deleting=False):
    return {
        "name": name,
        "labels": {"app": app, "pod-template-hash": "abc"},
        "ready": ready,
        "phase": "Running",
        "restarts": restarts,
        "deleting": deleting,
        "containers": {
            "livekit-agent": {
                "ready": ready,
                "restarts": restarts,
                "current": {"state": "waiting" if reason else "running", "reason": reason},
                "last": {"reason": last} if last else None,
            }
        },
    }


def site(server_url=GOOD, tcp=True, health=200, agent=True, pods=None, calls=None):
    state = {
        "kubernetes": {
            "available": True,
            "configmaps": {"livekit-config": {"name": "livekit-config", "data": {"server_url": server_url}}},
            "deployments": {},
            "pods": {p["name"]: p for p in (pods if pods is not None else [pod("agent-1"), pod("agent-2")])},
        },
        "http": {
            "livekit": {
                "url": GOOD,
                "reachable": tcp,
                "healthy": tcp,
                "status": None,
                "elapsed_ms": 1.0,
                "error": None if tcp else "[Errno 111] Connection refused",
            },
            "livekit_health": {
                "url": "http://127.0.0.1:17880/",
                "reachable": health is not None,
                "healthy": health == 200,
                "status": health,
                "elapsed_ms": 2.0,
                "error": None,
            },
        },
    }
    if agent:
        state["kubernetes"]["deployments"]["livekit-agent"] = {
            "selector": {"app": "livekit-agent"},
            "replicas": {"desired": 2, "ready": 2},
            "template": {"containers": {"livekit-agent": {"env": {"LIVEKIT_URL": GOOD}}}},
        }
    if calls:
        state["http"]["orchestrator_metrics"] = {
            "metrics": [{"name": "voicehive_calls_total", "labels": {"status": s}, "value": v} for s, v in calls]
            + [{"name": "voicehive_http_requests_total", "labels": {"status": "200"}, "value": 9.0}]
        }
    return state


def token_result(valid=True, reachable=True, accepted=True, api_error=None):
    return {
        "token_valid": valid,
        "errors": [] if valid else ["the signature does not match the API secret"],
        "expires_at": "2026-12-07T05:00:00Z",
        "server": {
            "reachable": reachable,
            "healthy": reachable,
            "token_accepted": accepted,
            "api_status": 200,
            "api_error": api_error,
            "error": None,
        },
    }


def judge(state, token=None, **overrides):
    variables = {
        "voicehive_state": state,
        "voicehive_livekit_url": GOOD,
        "livekit_expected_url": GOOD,
        "livekit_configmap": "livekit-config",
        "livekit_url_key": "server_url",
        "livekit_deployment": "livekit-agent",
    }
    if token is not None:
        variables["__livekit_token_result"] = token
    variables.update(overrides)
    return json.loads(Templar(loader=DataLoader(), variables=variables).template(trust_as_template(TEMPLATE)))


def test_healthy_site_has_no_problem():
    verdict = judge(site(calls=[("success", 10.0), ("success", 5.0)]))
    assert verdict["problems"] == []
    assert verdict["server"]["healthy"] is True and verdict["expected_healthy"] is True
    assert verdict["configured_url"] == GOOD and not verdict["correctable"] and verdict["why_not"] == ""
    assert verdict["agent"]["ready"] == 2 and verdict["agent"]["desired"] == 2
    assert verdict["agent"]["env_livekit_url"] == GOOD
    assert verdict["calls"] == {"success": 15}
    assert verdict["key_pair"] is None and verdict["restart_agent"] is False
    assert (verdict["expected_host"], verdict["expected_port"]) == ("127.0.0.1", 17880)


def test_wrong_url_with_the_expected_server_answering_is_correctable():
    verdict = judge(site(server_url=WRONG, calls=[("failed", 3.0)]), token=token_result())
    assert verdict["problems"] == ["livekit.server_url_mismatch"]
    assert verdict["correctable"] is True and verdict["restart_agent"] is True
    assert verdict["configured_url"] == WRONG and verdict["calls"] == {"failed": 3}
    assert verdict["key_pair"]["server_accepts"] is True


@pytest.mark.parametrize(("tcp", "health"), [(False, None), (True, 503), (True, None)])
def test_server_down_is_found_and_never_made_the_url(tcp, health):
    verdict = judge(site(server_url=WRONG, tcp=tcp, health=health))
    assert verdict["problems"] == ["livekit.server_unreachable", "livekit.server_url_mismatch"]
    assert verdict["correctable"] is False and verdict["restart_agent"] is False
    assert "does not answer either: the ConfigMap is not pointed at a dead URL" in verdict["why_not"]


def test_the_token_checks_own_probe_can_find_the_server_gone():
    verdict = judge(site(server_url=WRONG), token=token_result(reachable=False, accepted=None))
    assert verdict["expected_healthy"] is False and verdict["correctable"] is False
    assert "does not answer either" in verdict["why_not"]


def test_refused_key_pair_is_found_and_blocks_the_correction():
    verdict = judge(site(server_url=WRONG), token=token_result(accepted=False, api_error="refused with 401"))
    assert verdict["problems"] == ["livekit.server_url_mismatch", "livekit.token_invalid"]
    assert verdict["correctable"] is False
    assert "refuses the configured key pair" in verdict["why_not"]
    assert verdict["key_pair"]["api_error"] == "refused with 401"


def test_a_token_that_does_not_verify_is_found():
    verdict = judge(site(), token=token_result(valid=False))
    assert verdict["problems"] == ["livekit.token_invalid"]
    assert verdict["key_pair"]["errors"] == ["the signature does not match the API secret"]


def test_a_token_check_that_was_skipped_is_ignored():
    assert judge(site(), token={"skipped": True, "changed": False})["key_pair"] is None


def test_not_probed_server_is_not_written():
    state = site(server_url=WRONG)
    state["http"] = {}
    verdict = judge(state)
    assert verdict["problems"] == ["livekit.server_url_mismatch"]
    assert verdict["server"]["measured"] is False and verdict["expected_healthy"] is None
    assert "did not probe the expected server" in verdict["why_not"]


def test_missing_configmap_is_not_created():
    state = site()
    state["kubernetes"]["configmaps"] = {}
    verdict = judge(state)
    assert verdict["problems"] == ["livekit.server_url_mismatch"]
    assert verdict["configmap_found"] is False and verdict["correctable"] is False
    assert verdict["why_not"].startswith("ConfigMap livekit-config does not exist")


def test_crash_looping_agent_is_restarted_only_while_the_server_answers():
    pods = [
        pod("agent-1"),
        pod("agent-2", ready=False, reason="CrashLoopBackOff", last="Error", restarts=4),
        pod("agent-3", ready=False, deleting=True),
        pod("orchestrator-1", ready=False, app="orchestrator"),
    ]
    verdict = judge(site(pods=pods))
    assert verdict["problems"] == ["livekit.agent_unhealthy"]
    assert verdict["agent"]["ready"] == 1 and verdict["agent"]["unhealthy_pods"] == ["agent-2"]
    assert verdict["agent"]["crash_looping"] == ["agent-2"]
    assert verdict["agent"]["pods"][1]["reasons"] == ["livekit-agent: CrashLoopBackOff"]
    assert verdict["restart_agent"] is True
    down = judge(site(pods=pods, tcp=False))
    assert down["problems"] == ["livekit.server_unreachable", "livekit.agent_unhealthy"]
    assert down["restart_agent"] is False


def test_not_ready_after_a_termination_and_too_few_pods():
    verdict = judge(site(pods=[pod("agent-1", ready=False, last="OOMKilled", restarts=1)]))
    assert verdict["problems"] == ["livekit.agent_unhealthy"]
    assert verdict["agent"]["pods"][0]["reasons"] == ["livekit-agent: last OOMKilled"]
    assert judge(site(pods=[pod("agent-1")]))["problems"] == ["livekit.agent_unhealthy"]


def test_missing_agent():
    verdict = judge(site(agent=False, pods=[]))
    assert verdict["problems"] == ["livekit.agent_missing"]
    assert verdict["agent"]["found"] is False and verdict["restart_agent"] is False


def test_unreadable_kubernetes_judges_only_the_server():
    state = site(server_url=WRONG, tcp=False)
    state["kubernetes"] = {"available": False}
    verdict = judge(state)
    assert verdict["problems"] == ["livekit.server_unreachable"]


def test_another_expected_server_is_judged_from_its_own_endpoints():
    other = "wss://livekit.voicehive.com"
    state = site(server_url=other)
    state["http"]["livekit_expected"] = dict(state["http"]["livekit"], url=other, reachable=False, error="timed out")
    state["http"]["livekit_expected_health"] = dict(state["http"]["livekit_health"], healthy=False, status=None)
    verdict = judge(state, livekit_expected_url=other)
    assert verdict["problems"] == ["livekit.server_unreachable"]
    assert verdict["server"]["tcp"]["url"] == other
    assert (verdict["expected_host"], verdict["expected_port"]) == ("livekit.voicehive.com", 443)
    fixed = copy.deepcopy(state)
    fixed["http"]["livekit_expected"]["reachable"] = True
    fixed["http"]["livekit_expected_health"]["healthy"] = True
    fixed["kubernetes"]["configmaps"]["livekit-config"]["data"]["server_url"] = GOOD
    verdict = judge(fixed, livekit_expected_url=other)
    assert verdict["problems"] == ["livekit.server_url_mismatch"] and verdict["correctable"] is True
