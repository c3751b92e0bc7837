# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/memory/templates/judgement.j2: the restart trend of a container, rendered by Ansible's templar."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

TEMPLATE = (Path(__file__).resolve().parents[3] / "roles" / "memory" / "templates" / "judgement.j2").read_text()
MIB = 1048576


def at(seconds_ago: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def agent_pod(restarts: int, last: dict | None, current: dict | None = None, events: int = 0) -> dict:
    return {
        "name": "livekit-agent-1",
        "labels": {"app": "livekit-agent"},
        "ready": False,
        "restarts": restarts,
        "deleting": False,
        "started": at(3600),
        "containers": {
            "livekit-agent": {
                "ready": False,
                "restarts": restarts,
                "resources": {
                    "limits": {"memory": "512Mi", "memory_bytes": 512 * MIB},
                    "requests": {"memory": "128Mi", "memory_bytes": 128 * MIB},
                },
                "current": current or {"state": "waiting", "reason": "CrashLoopBackOff"},
                "last": last,
            }
        },
    }


def judge(pod: dict, events: list | None = None) -> dict:
    state = {
        "kubernetes": {
            "deployments": {
                "livekit-agent": {
                    "selector": {"app": "livekit-agent"},
                    "replicas": {"desired": 1, "ready": 0},
                    "revision": "1",
                    "template": {
                        "containers": {
                            "livekit-agent": {
                                "env": {},
                                "resources": {
                                    "limits": {"memory": "512Mi", "memory_bytes": 512 * MIB},
                                    "requests": {"memory": "128Mi", "memory_bytes": 128 * MIB},
                                },
                            }
                        }
                    },
                }
            },
            "pods": {pod["name"]: pod},
            "pod_metrics": {pod["name"]: {"containers": {"livekit-agent": {"memory_bytes": 100 * MIB}}}},
            "events": {"recent": events or []},
        }
    }
    variables = {
        "voicehive_state": state,
        "memory_deployments": ["livekit-agent"],
        "memory_usage_threshold": 0.85,
        "memory_restart_window": 900,
        "memory_optimization_env": {"MEMORY_OPTIMIZATION": "true"},
        "memory_previous_annotation": "voicehive.io/previous-memory-limits",
    }
    return json.loads(Templar(loader=DataLoader(), variables=variables).template(trust_as_template(TEMPLATE)))


@pytest.mark.parametrize("seconds_ago", [0, 5, 899])
def test_a_crash_loop_restarted_within_the_window_is_rising(seconds_ago):
    """0 s ago is a restart in the same second as the read (a macro's native 0 once read as 'no restart').
    The template reads the clock itself: the bound allows for the seconds the judgement took (make test runs the
    unit tests at nice 19 beside the integration, where the first template took 3 s once)."""
    started = time.monotonic()
    verdict = judge(agent_pod(3, {"state": "terminated", "reason": "Error", "finished_at": at(seconds_ago)}))
    took = math.ceil(time.monotonic() - started)
    assert verdict["problems"] == ["memory.restarts_rising"]
    (entry,) = verdict["restarting"]
    assert entry["trend"] == "rising" and seconds_ago <= entry["seconds_since_restart"] <= seconds_ago + 1 + took
    assert entry["restarts_per_hour"] == 3.0 and entry["last_termination"] == "Error"


def test_restarts_outside_the_window_are_stable_and_no_problem():
    verdict = judge(agent_pod(3, {"state": "terminated", "reason": "Error", "finished_at": at(1000)}))
    assert verdict["problems"] == [] and verdict["restarting"] == []


def test_a_backoff_event_dates_the_restart_when_the_last_state_has_no_time():
    event = {"object": "Pod/livekit-agent-1", "reason": "BackOff", "last": at(0), "count": 2, "message": "Back-off"}
    verdict = judge(agent_pod(2, None), events=[event])
    assert [e["backoff_events"] for e in verdict["restarting"]] == [2]
    assert verdict["restarting"][0]["trend"] == "rising"


def test_no_restart_is_no_trend():
    verdict = judge(agent_pod(0, None, current={"state": "running", "reason": None}))
    assert verdict["problems"] == [] and verdict["containers"] == 1
