# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memory leaks, with the cause made through lab/bin/fault and directly in kubesim (pod annotations set
through the Kubernetes API, as the fault does; kubesim then reports the usage through metrics.k8s.io and
renders an OOMKilled container with a rising restartCount).

1. The fault: bad input (unparseable, above the maximum, below the request) stops the run before anything
   changes; --check finds the OOM kill and the pods near their limit and changes nothing. (The remediation of
   the fault itself, one rollout with the memory-optimization env and the approved raise, replacing every pod,
   is molecule/memory_leak.)
   With the env switch left out, the pods are restarted instead; a replacement that never becomes ready stops
   the restarts after the first pod.
2. Made directly, with the optimization env already set: the leaking pods are restarted one at a time (the
   not-ready one first, the Deployment back to its ready replicas before the next); approved, the limit is raised
   (the old one kept) and restored.
"""

from __future__ import annotations

import json
import time

from kubernetes import client as k8s_client
from vh_lab import fault, run_playbook, wait_for

NS = "voicehive"
DEPLOYMENT = "orchestrator"
SELECTOR = "app=orchestrator"
ANN = "kubesim.voicehive.io/"
PREVIOUS = "voicehive.io/previous-memory-limits"
TAGS = ("--tags", "memory")


def _by(items: list[dict], key: str) -> dict[str, dict]:
    return {item[key]: item for item in items}


def _pods(core) -> dict[str, object]:
    return {
        p.metadata.name: p
        for p in core.list_namespaced_pod(NS, label_selector=SELECTOR).items
        if not p.metadata.deletion_timestamp
    }


def _ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def _container(apps):
    deployment = apps.read_namespaced_deployment(DEPLOYMENT, NS)
    container = next(c for c in deployment.spec.template.spec.containers if c.name == DEPLOYMENT)
    return deployment, container, {e.name: e.value for e in container.env or []}


def _annotate(core, pod: str, values: dict[str, str | None]) -> None:
    core.patch_namespaced_pod(pod, NS, {"metadata": {"annotations": {ANN + k: v for k, v in values.items()}}})


def _rolled_out(apps, core, replicas: int = 3) -> bool:
    deployment = apps.read_namespaced_deployment(DEPLOYMENT, NS)
    pods = _pods(core)
    return (
        (deployment.status.ready_replicas or 0) == replicas
        and len(pods) == replicas
        and all(map(_ready, pods.values()))
    )


def _optimized(apps, core) -> None:
    """The orchestrator with the memory-optimization env already set, its rollout done."""
    apps.patch_namespaced_deployment(
        DEPLOYMENT,
        NS,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": DEPLOYMENT,
                                "env": [
                                    {"name": "MEMORY_OPTIMIZATION", "value": "true"},
                                    {"name": "GC_THRESHOLD", "value": "100"},
                                ],
                            }
                        ]
                    }
                }
            }
        },
    )
    time.sleep(0.5)
    wait_for(lambda: _rolled_out(apps, core), 30, what="the orchestrator rollout")


def _leak(core, oom: int = 1, near: int = 1) -> tuple[list[str], list[str]]:
    """``oom`` pods OOMKilled at 1000Mi (restarting), ``near`` more at 950Mi of 1Gi: as the fault, by hand."""
    names = sorted(_pods(core))
    killed, full = names[:oom], names[oom : oom + near]
    for name in killed:
        _annotate(core, name, {"memory": "1000Mi", "condition": "OOMKilled"})
    for name in full:
        _annotate(core, name, {"memory": "950Mi"})
    wait_for(
        lambda: all((_pods(core)[n].status.container_statuses[0].restart_count or 0) >= 1 for n in killed),
        15,
        what="the OOM kills",
    )
    return killed, full


def test_fault_bad_input_and_check_mode(clean_lab, kube):
    core, apps = k8s_client.CoreV1Api(kube), k8s_client.AppsV1Api(kube)
    fault("inject", "memory-leak")
    pods_before = set(_pods(core))
    generation = apps.read_namespaced_deployment(DEPLOYMENT, NS).metadata.generation

    # malformed input stops the run before it reads anything
    run = run_playbook(
        "playbooks/remediate.yml",
        *TAGS,
        extra_vars={
            "memory_raised_limit": "lots",
            "memory_max_limit": "3Gi",
            "memory_usage_threshold": 2,
            "memory_gc_threshold": "often",
            "voicehive_approved_actions": ["raise_memory_limits"],
        },
    )
    assert run.rc != 0
    assert run.report["outcome"] == "failed" and run.report["actions"] == [] and run.report["findings"] == []
    for text in (
        "memory_raised_limit 'lots' is not a Kubernetes memory quantity",
        "memory_usage_threshold 2 must be from 0.5 to 1",
        "memory_gc_threshold often must be a whole number",
    ):
        assert text in run.output, run.output[-3000:]
    # above the maximum (preflight), and below the container's request (before the category changes anything)
    run = run_playbook(
        "playbooks/remediate.yml", *TAGS, extra_vars={"memory_raised_limit": "8Gi", "memory_max_limit": "4Gi"}
    )
    assert run.rc != 0 and "memory_raised_limit 8Gi is above memory_max_limit 4Gi" in run.output
    run = run_playbook(
        "playbooks/remediate.yml",
        *TAGS,
        extra_vars={"memory_raised_limit": "256Mi", "voicehive_approved_actions": ["raise_memory_limits"]},
    )
    assert run.rc != 0
    assert run.report["outcome"] == "failed"
    assert run.report["errors"][0]["category"] == "memory"
    assert "below the memory request of container orchestrator of deployment orchestrator (512Mi)" in run.output
    assert [a for a in run.report["actions"] if a["category"] == "memory"] == []
    assert "Traceback" not in run.output
    assert apps.read_namespaced_deployment(DEPLOYMENT, NS).metadata.generation == generation

    # a livekit-agent pod crash-looping for another reason: found, named as not memory, never acted on
    agent = sorted(p.metadata.name for p in core.list_namespaced_pod(NS, label_selector="app=livekit-agent").items)[0]
    _annotate(core, agent, {"condition": "CrashLoopBackOff"})
    wait_for(
        lambda: (core.read_namespaced_pod(agent, NS).status.container_statuses[0].restart_count or 0) >= 1,
        15,
        what="the crash loop",
    )

    # --check: the findings, what would change, and nothing changed
    run = run_playbook("playbooks/remediate.yml", *TAGS, "--check", "--diff")
    assert run.rc == 0, run.output[-3000:]
    report = run.report
    findings = _by(report["findings"], "id")
    assert set(findings) == {"memory.oom_killed", "memory.near_limit", "memory.restarts_rising"}
    crashing = findings["memory.restarts_rising"]["evidence"]["containers"]
    assert [(c["deployment"], c["pod"], c["last_termination"], c["trend"]) for c in crashing] == [
        ("livekit-agent", agent, "Error", "rising")
    ]
    assert findings["memory.restarts_rising"]["remediation"] == ""
    killed = findings["memory.oom_killed"]["evidence"]["containers"]
    assert len(killed) == 1 and killed[0]["pod"] in pods_before
    assert killed[0]["last_termination"] == "OOMKilled" and killed[0]["trend"] == "rising"
    assert killed[0]["restarts"] >= 1 and killed[0]["last_oom_at"] and not killed[0]["ready"]
    assert killed[0]["usage"] == "1000Mi" and killed[0]["limit"] == "1Gi"
    near = findings["memory.near_limit"]["evidence"]["containers"]
    assert {c["pod"] for c in near} == pods_before and all(c["usage_of_limit"] >= 0.85 for c in near)
    actions = _by(report["actions"], "action")
    assert actions["enable_memory_optimization"]["status"] == "would_change"
    assert actions["enable_memory_optimization"]["before"]["env"]["orchestrator"]["MEMORY_OPTIMIZATION"] == "false"
    assert actions["raise_memory_limits"]["status"] == "skipped_needs_approval"
    assert apps.read_namespaced_deployment(DEPLOYMENT, NS).metadata.generation == generation
    assert set(_pods(core)) == pods_before

    # restarts only (the env switch left out), and a replacement that never becomes ready: kubesim renders the
    # orchestrator's new pods NotReady. The OOM-killed pod goes first; the others are left alone.
    new_pods_not_ready = {"metadata": {"annotations": {ANN + "new-pod-condition": "NotReady"}}}
    apps.patch_namespaced_deployment(DEPLOYMENT, NS, new_pods_not_ready)
    try:
        run = run_playbook(
            "playbooks/remediate.yml",
            *TAGS,
            extra_vars={"memory_optimization_deployments": [], "memory_restart_timeout": 5},
        )
    finally:
        new_pods_not_ready["metadata"]["annotations"][ANN + "new-pod-condition"] = None
        apps.patch_namespaced_deployment(DEPLOYMENT, NS, new_pods_not_ready)
    report = run.report
    assert report["outcome"] == "failed", run.output[-3000:]
    restarts = [a for a in report["actions"] if a["action"] == "restart_leaking_pods"]
    assert restarts[0]["target"] == f"pod/{killed[0]['pod']}"
    # OOM-killed and near its limit: one container, recorded once
    assert [c["container"] for c in restarts[0]["before"]["containers"]] == ["orchestrator"]
    assert [a["status"] for a in restarts] == ["failed", "skipped_guard_failed", "skipped_guard_failed"]
    assert "did not get back to 3 ready pods within 5 s" in restarts[0]["reason"]
    assert all("restarts stopped" in a["reason"] for a in restarts[1:])
    assert {a["action"]: a["status"] for a in report["actions"]}["raise_memory_limits"] == "skipped_needs_approval"
    pods = _pods(core)
    assert len(pods) == 3 and set(pods) & pods_before == pods_before - {killed[0]["pod"]}
    assert {f["id"]: f["status"] for f in report["findings"]} == {
        "memory.oom_killed": "resolved",
        "memory.near_limit": "unresolved",
        "memory.restarts_rising": "unresolved",
    }
    assert all(a["target"].startswith("pod/orchestrator-") for a in restarts)
    assert apps.read_namespaced_deployment(DEPLOYMENT, NS).metadata.generation == generation


def test_made_directly_pods_restarted_one_at_a_time_then_raised_and_restored(clean_lab, kube):
    core, apps = k8s_client.CoreV1Api(kube), k8s_client.AppsV1Api(kube)
    _optimized(apps, core)
    killed, full = _leak(core)
    generation = apps.read_namespaced_deployment(DEPLOYMENT, NS).metadata.generation
    untouched = set(_pods(core)) - set(killed) - set(full)

    run = run_playbook("playbooks/remediate.yml", *TAGS)
    assert run.rc == 0, run.output[-3000:]
    report = run.report
    restarts = [a for a in report["actions"] if a["action"] == "restart_leaking_pods"]
    # the OOM-killed (not ready) pod first, then the one near its limit, each replaced and ready before the next
    assert [a["target"] for a in restarts] == [f"pod/{killed[0]}", f"pod/{full[0]}"]
    assert all(a["status"] == "done" and a["changed"] for a in restarts)
    assert restarts[0]["before"]["containers"][0]["last_oom_at"]
    assert restarts[0]["before"]["ready_replicas"] == 2
    assert restarts[1]["before"]["containers"][0]["usage"] == "950Mi"
    assert restarts[1]["before"]["ready_replicas"] == 3
    replacements = [a["after"]["replacement"] for a in restarts]
    assert all(len(r) == 1 for r in replacements) and replacements[0] != replacements[1]
    assert all(a["after"]["ready_replicas"] == 3 for a in restarts)
    actions = _by(report["actions"], "action")
    assert "enable_memory_optimization" not in actions  # already set: nothing to roll out
    assert actions["raise_memory_limits"]["status"] == "skipped_needs_approval"
    assert "approve it with" in actions["raise_memory_limits"]["reason"]
    assert {f["id"]: f["status"] for f in report["findings"]} == {
        "memory.oom_killed": "resolved",
        "memory.near_limit": "resolved",
    }
    now = _pods(core)
    assert set(now) == untouched | {replacements[0][0], replacements[1][0]}
    assert all(map(_ready, now.values()))
    assert apps.read_namespaced_deployment(DEPLOYMENT, NS).metadata.generation == generation

    # approved: the limit raised in one rollout (no pod restarted one by one), the old limit kept
    _leak(core, oom=0, near=1)
    run = run_playbook(
        "playbooks/remediate.yml", *TAGS, extra_vars={"voicehive_approved_actions": ["raise_memory_limits"]}
    )
    assert run.rc == 0, run.output[-3000:]
    actions = _by(run.report["actions"], "action")
    assert actions["raise_memory_limits"]["status"] == "done"
    assert actions["raise_memory_limits"]["before"]["memory_limits"] == {"orchestrator": "1Gi"}
    assert actions["raise_memory_limits"]["after"]["memory_limits"] == {"orchestrator": "2Gi"}
    assert "restart_leaking_pods" not in actions
    assert run.report["outcome"] == "resolved"
    deployment, container, _index = _container(apps)
    assert container.resources.limits["memory"] == "2Gi"
    assert container.resources.requests["memory"] == "512Mi"
    assert json.loads(deployment.spec.template.metadata.annotations[PREVIOUS]) == {"orchestrator": "1Gi"}
    assert not set(_pods(core)) & set(now)

    # restore: the limit from before, the note gone
    run = run_playbook("playbooks/remediate.yml", *TAGS, extra_vars={"memory_restore_limits": True})
    assert run.rc == 0, run.output[-3000:]
    actions = _by(run.report["actions"], "action")
    assert actions["restore_memory_limits"]["status"] == "done"
    assert actions["restore_memory_limits"]["after"]["memory_limits"] == {"orchestrator": "1Gi"}
    deployment, container, _index = _container(apps)
    assert container.resources.limits["memory"] == "1Gi"
    assert PREVIOUS not in (deployment.spec.template.metadata.annotations or {})
