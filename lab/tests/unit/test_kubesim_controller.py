"""kubesim API semantics and controller steps, driven synchronously (no HTTP, no threads)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest

from kubesim import discovery
from kubesim.api import Api
from kubesim.controller import CONDITION, Controller, pod_ready, render_pod_status, template_hash
from kubesim.store import ApiError, Store

DEPLOY = discovery.lookup("apps", "v1", "deployments")
STS = discovery.lookup("apps", "v1", "statefulsets")
PODS = discovery.lookup("", "v1", "pods")
SVC = discovery.lookup("", "v1", "services")
NS = discovery.lookup("", "v1", "namespaces")
CM = discovery.lookup("", "v1", "configmaps")
SECRET = discovery.lookup("", "v1", "secrets")


def workload(kind: str, name: str, replicas: int, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": name, "image": f"{name}:1", "ports": [{"name": "http", "containerPort": 8080}]}
                    ]
                },
            },
        },
    }


@pytest.fixture
def world() -> tuple[Store, Api, Controller]:
    store = Store()
    api = Api(store)
    ctl = Controller(store)
    api.create(NS, "", {"metadata": {"name": "vh"}})
    api.create(discovery.lookup("", "v1", "nodes"), "", {"metadata": {"name": "kubesim-node-1"}, "spec": {}})
    api.create(DEPLOY, "vh", workload("Deployment", "orchestrator", 3, {"app": "orchestrator"}))
    api.create(STS, "vh", workload("StatefulSet", "postgresql", 1, {"app": "postgresql"}))
    api.create(
        SVC,
        "vh",
        {
            "metadata": {"name": "orchestrator"},
            "spec": {"selector": {"app": "orchestrator"}, "ports": [{"port": 80, "targetPort": "http"}]},
        },
    )
    ctl.settle()
    return store, api, ctl


def pods(store: Store, selector_app: str) -> list[dict[str, Any]]:
    items, _ = store.list("/pods", "vh")
    return [p for p in items if p["metadata"]["labels"].get("app") == selector_app]


def test_deployment_replicaset_pods(world: Any) -> None:
    store, _api, _ctl = world
    orch = pods(store, "orchestrator")
    assert len(orch) == 3 and all(pod_ready(p) for p in orch)
    rs = store.list("apps/replicasets", "vh")[0]
    assert len(rs) == 1
    phash = rs[0]["metadata"]["labels"]["pod-template-hash"]
    assert rs[0]["metadata"]["name"] == f"orchestrator-{phash}"
    assert rs[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    for pod in orch:
        assert pod["metadata"]["name"].startswith(f"orchestrator-{phash}-")
        assert len(pod["metadata"]["name"].rsplit("-", 1)[1]) == 5
        assert pod["metadata"]["ownerReferences"][0]["uid"] == rs[0]["metadata"]["uid"]
        assert pod["spec"]["nodeName"] == "kubesim-node-1" and pod["status"]["podIP"].startswith("10.244.")
    dep = store.get("apps/deployments", "vh", "orchestrator")
    assert dep["status"]["readyReplicas"] == dep["status"]["availableReplicas"] == 3
    assert {c["type"]: c["reason"] for c in dep["status"]["conditions"]} == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }
    assert [p["metadata"]["name"] for p in pods(store, "postgresql")] == ["postgresql-0"]
    ep = store.get("/endpoints", "vh", "orchestrator")
    assert len(ep["subsets"][0]["addresses"]) == 3 and ep["subsets"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    reasons = {e["reason"] for e in store.list("events", "vh")[0]}
    assert {"ScalingReplicaSet", "SuccessfulCreate", "Scheduled", "Started"} <= reasons


def test_template_change_rolls_out(world: Any) -> None:
    store, api, ctl = world
    old_names = {p["metadata"]["name"] for p in pods(store, "orchestrator")}
    api.patch(
        DEPLOY,
        "vh",
        "orchestrator",
        "application/strategic-merge-patch+json",
        {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}}},
    )
    ctl.settle()
    new = pods(store, "orchestrator")
    assert len(new) == 3 and not old_names & {p["metadata"]["name"] for p in new}
    rss = sorted(
        store.list("apps/replicasets", "vh")[0],
        key=lambda r: r["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
    )
    assert [r["spec"]["replicas"] for r in rss] == [0, 3]
    dep = store.get("apps/deployments", "vh", "orchestrator")
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert dep["metadata"]["generation"] == 2 and dep["status"]["observedGeneration"] == 2
    assert template_hash(dep["spec"]["template"]) == rss[1]["metadata"]["labels"]["pod-template-hash"]


def test_scale_and_recreate(world: Any) -> None:
    store, api, ctl = world
    api.update_scale(DEPLOY, "vh", "orchestrator", "application/merge-patch+json", {"spec": {"replicas": 5}})
    ctl.settle()
    assert len(pods(store, "orchestrator")) == 5
    victim = pods(store, "orchestrator")[0]["metadata"]["name"]
    api.delete(PODS, "vh", victim)
    ctl.settle()
    names = {p["metadata"]["name"] for p in pods(store, "orchestrator")}
    assert len(names) == 5 and victim not in names
    api.delete(PODS, "vh", "postgresql-0")
    ctl.settle()
    assert [p["metadata"]["name"] for p in pods(store, "postgresql")] == ["postgresql-0"]
    with pytest.raises(ApiError) as err:
        api.update_scale(DEPLOY, "vh", "orchestrator", "application/merge-patch+json", {"spec": {"replicas": -1}})
    assert err.value.code == 422


def test_not_ready_pod_updates_status_and_endpoints(world: Any) -> None:
    store, api, ctl = world
    pod = pods(store, "orchestrator")[0]
    api.patch(
        PODS,
        "vh",
        pod["metadata"]["name"],
        "application/merge-patch+json",
        {"metadata": {"annotations": {CONDITION: "NotReady"}}},
    )
    ctl.settle()
    dep = store.get("apps/deployments", "vh", "orchestrator")["status"]
    assert dep["readyReplicas"] == 2 and dep["unavailableReplicas"] == 1
    subset = store.get("/endpoints", "vh", "orchestrator")["subsets"][0]
    assert len(subset["addresses"]) == 2 and subset["notReadyAddresses"][0]["ip"] == pod["status"]["podIP"]


def test_manual_endpoints_and_new_pod_condition(world: Any) -> None:
    store, api, ctl = world
    api.patch(
        SVC,
        "vh",
        "orchestrator",
        "application/merge-patch+json",
        {"metadata": {"annotations": {"kubesim.voicehive.io/manual-endpoints": "true"}}},
    )
    ep = store.get("/endpoints", "vh", "orchestrator")
    ep.pop("subsets")
    store.replace("/endpoints", ep)
    api.patch(
        DEPLOY,
        "vh",
        "orchestrator",
        "application/merge-patch+json",
        {
            "metadata": {"annotations": {"kubesim.voicehive.io/new-pod-condition": "CrashLoopBackOff"}},
            "spec": {"template": {"metadata": {"labels": {"app": "orchestrator", "v": "2"}}}},
        },
    )
    ctl.settle()
    assert "subsets" not in store.get("/endpoints", "vh", "orchestrator")
    new = [p for p in pods(store, "orchestrator") if p["metadata"]["labels"].get("v") == "2"]
    assert len(new) == 3 and not any(pod_ready(p) for p in new)
    assert new[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    # the old ReplicaSet keeps serving while the new pods crash
    assert len([p for p in pods(store, "orchestrator") if pod_ready(p)]) == 3


def test_oomkilled_restart_count_rises() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "vh", "uid": "u", "annotations": {CONDITION: "OOMKilled"}},
        "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]},
        "status": {"podIP": "10.0.0.1"},
    }
    first = render_pod_status(pod, 1000.0)
    cs = first["containerStatuses"][0]
    assert cs["restartCount"] == 1 and cs["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert cs["lastState"]["terminated"]["exitCode"] == 137 and cs["ready"] is False
    pod["status"] = first
    assert render_pod_status(copy.deepcopy(pod), 1005.0)["containerStatuses"][0]["restartCount"] == 1
    assert render_pod_status(copy.deepcopy(pod), 1011.0)["containerStatuses"][0]["restartCount"] == 2
    assert first["qosClass"] == "Guaranteed"
    ready = {c["type"]: c["status"] for c in first["conditions"]}
    assert ready["Ready"] == "False" and ready["PodScheduled"] == "True"


def test_hooks_run_for_matching_pods(world: Any, tmp_path: Path) -> None:
    store, api, _ = world
    out = tmp_path / "hook.txt"
    argv = [
        sys.executable,
        "-c",
        "import os,sys; open(sys.argv[1],'a').write(os.environ['KUBESIM_POD']+'\\n')",
        str(out),
    ]
    ctl = Controller(store, [{"namespace": "vh", "selector": "app=postgresql", "event": "pod-deleted", "exec": argv}])
    ctl.hooks_enabled = True
    api.delete(PODS, "vh", "postgresql-0")
    api.delete(PODS, "vh", pods(store, "orchestrator")[0]["metadata"]["name"])
    ctl.reconcile()
    for proc in ctl.hook_procs:
        proc.wait(timeout=10)
    assert out.read_text() == "postgresql-0\n"


def test_api_semantics() -> None:
    store = Store()
    api = Api(store)
    with pytest.raises(ApiError) as err:
        api.create(CM, "nope", {"metadata": {"name": "x"}})
    assert err.value.code == 404  # namespace does not exist
    api.create(NS, "", {"metadata": {"name": "vh"}})
    cm = api.create(CM, "vh", {"metadata": {"generateName": "cfg-"}, "data": {"a": "1"}})
    assert cm["metadata"]["name"].startswith("cfg-") and cm["metadata"]["uid"]
    with pytest.raises(ApiError) as err:
        api.create(CM, "vh", {"metadata": {"name": cm["metadata"]["name"]}})
    assert err.value.reason == "AlreadyExists"
    stale = copy.deepcopy(cm)
    api.update(CM, "vh", cm["metadata"]["name"], dict(cm, data={"a": "2"}))
    with pytest.raises(ApiError) as err:
        api.update(CM, "vh", cm["metadata"]["name"], stale)
    assert err.value.code == 409 and err.value.reason == "Conflict"
    with pytest.raises(ApiError) as err:
        api.create(DEPLOY, "vh", dict(workload("Deployment", "bad", -1, {"app": "b"})))
    assert err.value.code == 422 and err.value.details["causes"][0]["field"] == "spec.replicas"
    mismatch = workload("Deployment", "mm", 1, {"app": "a"})
    mismatch["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiError):
        api.create(DEPLOY, "vh", mismatch)
    secret = api.create(SECRET, "vh", {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    assert secret["data"] == {"k": "dg=="} and "stringData" not in secret
    rv = store.rv
    api.create(CM, "vh", {"metadata": {"name": "dry"}}, dry_run=True)
    assert store.rv == rv and store.get("/configmaps", "vh", "dry") is None
    same = api.patch(
        CM, "vh", "s" if False else cm["metadata"]["name"], "application/merge-patch+json", {"data": {"a": "2"}}
    )
    assert int(same["metadata"]["resourceVersion"]) <= rv  # no-op patch: no new resourceVersion
    dep = api.create(DEPLOY, "vh", workload("Deployment", "d", 1, {"app": "d"}))
    assert dep["metadata"]["generation"] == 1 and dep["spec"]["strategy"]["type"] == "RollingUpdate"
    with pytest.raises(ApiError) as err:
        api.patch(
            DEPLOY, "vh", "d", "application/merge-patch+json", {"spec": {"selector": {"matchLabels": {"x": "y"}}}}
        )
    assert err.value.code == 422


def test_hpa_scales_on_emulated_cpu(world: Any) -> None:
    store, api, ctl = world
    hpa_res = discovery.lookup("autoscaling", "v2", "horizontalpodautoscalers")
    api.patch(
        DEPLOY,
        "vh",
        "orchestrator",
        "application/strategic-merge-patch+json",
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "orchestrator", "resources": {"requests": {"cpu": "500m"}}}]}
                }
            }
        },
    )
    ctl.settle()
    for pod in pods(store, "orchestrator"):
        api.patch(
            PODS,
            "vh",
            pod["metadata"]["name"],
            "application/merge-patch+json",
            {"metadata": {"annotations": {"kubesim.voicehive.io/cpu": "700m"}}},
        )
    api.create(
        hpa_res,
        "vh",
        {
            "metadata": {"name": "orchestrator"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "orchestrator"},
                "minReplicas": 2,
                "maxReplicas": 5,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                    }
                ],
            },
        },
    )
    ctl.reconcile()
    hpa = store.get("autoscaling/horizontalpodautoscalers", "vh", "orchestrator")
    assert hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 140
    assert hpa["status"]["desiredReplicas"] == 5  # ceil(3 * 140 / 70) = 6, capped at maxReplicas
    assert store.get("apps/deployments", "vh", "orchestrator")["spec"]["replicas"] == 5
    ctl.settle()
    # the new pods use little CPU, but scale-down waits for the stabilisation window
    ctl.reconcile()
    assert store.get("apps/deployments", "vh", "orchestrator")["spec"]["replicas"] == 5


def test_lease_microtime_and_event_aggregation(world: Any) -> None:
    store, api, ctl = world
    leases = discovery.lookup("coordination.k8s.io", "v1", "leases")
    lease = api.create(
        leases,
        "vh",
        {
            "metadata": {"name": "lock"},
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 30, "renewTime": "2026-11-28T10:00:00Z"},
        },
    )
    assert lease["spec"]["renewTime"] == "2026-11-28T10:00:00.000000Z"
    with pytest.raises(ApiError) as err:
        api.patch(leases, "vh", "lock", "application/merge-patch+json", {"spec": {"renewTime": "yesterday"}})
    assert err.value.code == 400
    with pytest.raises(ApiError) as err:
        api.patch(leases, "vh", "lock", "application/merge-patch+json", {"spec": {"leaseDurationSeconds": 0}})
    assert err.value.code == 422
    pod = pods(store, "orchestrator")[0]
    before = len(store.list("events", "vh")[0])
    for _ in range(3):
        ctl.event(pod, "BackOff", "Back-off restarting failed container", "Warning", component="kubelet")
    events = [e for e in store.list("events", "vh")[0] if e["reason"] == "BackOff"]
    assert len(events) == 1 and events[0]["count"] == 3
    assert len(store.list("events", "vh")[0]) == before + 1


def test_cordoned_node_leaves_new_pods_pending(world: Any) -> None:
    store, api, ctl = world
    nodes = discovery.lookup("", "v1", "nodes")
    api.patch(nodes, "", "kubesim-node-1", "application/merge-patch+json", {"spec": {"unschedulable": True}})
    victim = pods(store, "orchestrator")[0]["metadata"]["name"]
    api.delete(PODS, "vh", victim)
    ctl.settle()
    pending = [p for p in pods(store, "orchestrator") if p["status"]["phase"] == "Pending"]
    assert len(pending) == 1 and not pending[0]["spec"].get("nodeName")
    assert pending[0]["status"]["conditions"][0]["reason"] == "Unschedulable"
    assert store.get("apps/deployments", "vh", "orchestrator")["status"]["readyReplicas"] == 2
    api.patch(nodes, "", "kubesim-node-1", "application/merge-patch+json", {"spec": {"unschedulable": None}})
    ctl.settle()
    assert all(pod_ready(p) for p in pods(store, "orchestrator"))


def test_statefulset_scale_and_rolling_update(world: Any) -> None:
    store, api, ctl = world
    api.update_scale(STS, "vh", "postgresql", "application/merge-patch+json", {"spec": {"replicas": 3}})
    ctl.settle()
    assert sorted(p["metadata"]["name"] for p in pods(store, "postgresql")) == [
        "postgresql-0",
        "postgresql-1",
        "postgresql-2",
    ]
    uids = {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods(store, "postgresql")}
    api.patch(
        STS,
        "vh",
        "postgresql",
        "application/strategic-merge-patch+json",
        {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "t"}}}}},
    )
    ctl.settle(rounds=50)
    after = {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods(store, "postgresql")}
    assert set(after) == set(uids) and all(after[n] != uids[n] for n in uids)
    status = store.get("apps/statefulsets", "vh", "postgresql")["status"]
    assert status["currentRevision"] == status["updateRevision"] and status["readyReplicas"] == 3
    api.update_scale(STS, "vh", "postgresql", "application/merge-patch+json", {"spec": {"replicas": 1}})
    ctl.settle()
    assert [p["metadata"]["name"] for p in pods(store, "postgresql")] == ["postgresql-0"]
