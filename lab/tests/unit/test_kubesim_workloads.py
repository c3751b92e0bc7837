"""kubesim's DaemonSet, Job and CronJob controllers, cascading deletion and printer columns.

Each test states the behaviour the Kubernetes API documentation gives for the object (the
"Workloads" and "Garbage collection" concept pages, the apps/v1 and batch/v1 API reference);
the controller is driven synchronously with ``settle``/``reconcile``.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import kubesim_world
import pytest

from kubesim import discovery
from kubesim.api import Api
from kubesim.controller import Controller
from kubesim.cron import CronError, next_after, parse_cron
from kubesim.store import ApiError, Store
from kubesim.table import columns_for, row_for

NODES = discovery.lookup("", "v1", "nodes")
NS = discovery.lookup("", "v1", "namespaces")
PODS = discovery.lookup("", "v1", "pods")
DS = discovery.lookup("apps", "v1", "daemonsets")
DEPLOY = discovery.lookup("apps", "v1", "deployments")
RS = discovery.lookup("apps", "v1", "replicasets")
STS = discovery.lookup("apps", "v1", "statefulsets")
JOBS = discovery.lookup("batch", "v1", "jobs")
CRON = discovery.lookup("batch", "v1", "cronjobs")
HPA2 = discovery.lookup("autoscaling", "v2", "horizontalpodautoscalers")


def template(labels: dict[str, str], restart: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    if restart:
        spec["restartPolicy"] = restart
    return {"metadata": {"labels": labels}, "spec": spec}


@pytest.fixture
def world() -> tuple[Store, Api, Controller]:
    nodes = [
        {"name": f"node-{i}", "labels": {"kubernetes.io/hostname": f"node-{i}", "pool": "edge" if i == 3 else "core"}}
        for i in (1, 2, 3)
    ]
    return kubesim_world.make(nodes=nodes)


def pods_of(store: Store, owner: dict[str, Any]) -> list[dict[str, Any]]:
    uid = owner["metadata"]["uid"]
    return [
        p
        for p in store.objects["/pods"].values()
        if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])
    ]


def age_pods(store: Store, seconds: float = 5.0) -> None:
    """Pretend every pod started ``seconds`` ago (Job pods run ~1 s before they succeed)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds))
    for pod in store.objects["/pods"].values():
        if pod.get("status", {}).get("startTime"):
            pod["status"]["startTime"] = stamp


def daemonset(name: str = "agent", node_selector: dict[str, str] | None = None) -> dict[str, Any]:
    tmpl = template({"app": name})
    if node_selector:
        tmpl["spec"]["nodeSelector"] = node_selector
    return {"metadata": {"name": name}, "spec": {"selector": {"matchLabels": {"app": name}}, "template": tmpl}}


def test_daemonset_one_pod_per_node_status_and_columns(world: Any) -> None:
    """A DaemonSet ensures all (or the nodeSelector's) nodes run one copy of a Pod."""
    store, api, ctl = world
    ds = api.create(DS, "w", daemonset())
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    ctl.settle()
    pods = pods_of(store, ds)
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-1", "node-2", "node-3"]
    assert all(p["metadata"]["labels"]["controller-revision-hash"] for p in pods)
    assert all(p["metadata"]["labels"]["pod-template-generation"] == "1" for p in pods)
    status = api.get(DS, "w", "agent")["status"]
    assert status == {
        "currentNumberScheduled": 3,
        "desiredNumberScheduled": 3,
        "numberMisscheduled": 0,
        "numberReady": 3,
        "observedGeneration": 1,
        "updatedNumberScheduled": 3,
        "numberAvailable": 3,
    }
    names = [c[0] for c in columns_for("DaemonSet") if c[2] == 0]
    assert names == ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"]
    assert row_for("DaemonSet", api.get(DS, "w", "agent"))[:7] == ["agent", 3, 3, 3, 3, 3, "<none>"]
    # nodeSelector: only matching nodes; a new matching node gets a pod, a removed one loses it
    edge = api.create(DS, "w", daemonset("edge", {"pool": "edge"}))
    ctl.settle()
    assert [p["spec"]["nodeName"] for p in pods_of(store, edge)] == ["node-3"]
    assert row_for("DaemonSet", api.get(DS, "w", "edge"))[6] == "pool=edge"
    api.create(NODES, "", {"metadata": {"name": "node-4", "labels": {"pool": "edge"}}, "spec": {}})
    api.delete(NODES, "", "node-3")
    ctl.settle()
    assert [p["spec"]["nodeName"] for p in pods_of(store, edge)] == ["node-4"]


def test_daemonset_rolling_update_and_ondelete(world: Any) -> None:
    """RollingUpdate replaces old pods (maxUnavailable at a time); OnDelete only when a pod is deleted."""
    store, api, ctl = world
    ds = api.create(DS, "w", daemonset())
    ctl.settle()
    before = {p["metadata"]["name"] for p in pods_of(store, ds)}
    api.patch(DS, "w", "agent", "application/merge-patch+json",
              {"spec": {"template": {"metadata": {"annotations": {"restart": "1"}}}}})  # fmt: skip
    ctl.reconcile()
    status = api.get(DS, "w", "agent")["status"]
    assert status["observedGeneration"] == 2 and status.get("updatedNumberScheduled", 0) < 3
    ctl.settle(50)
    after = pods_of(store, ds)
    assert not before & {p["metadata"]["name"] for p in after} and len(after) == 3
    status = api.get(DS, "w", "agent")["status"]
    assert status["updatedNumberScheduled"] == status["numberAvailable"] == 3
    api.patch(DS, "w", "agent", "application/merge-patch+json",
              {"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": None},
                        "template": {"metadata": {"annotations": {"restart": "2"}}}}})  # fmt: skip
    ctl.settle()
    assert {p["metadata"]["name"] for p in pods_of(store, ds)} == {p["metadata"]["name"] for p in after}
    assert api.get(DS, "w", "agent")["status"].get("updatedNumberScheduled", 0) == 0


def job(name: str = "once", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"template": template({}, "Never"), **spec}}


def test_job_defaults_validation_and_completion(world: Any) -> None:
    """Jobs get a generated selector and labels; pods run to completion; Complete ends the Job."""
    store, api, ctl = world
    with pytest.raises(ApiError) as err:
        api.create(JOBS, "w", {"metadata": {"name": "bad"}, "spec": {"template": template({})}})
    assert err.value.code == 422 and "restartPolicy" in err.value.message
    created = api.create(JOBS, "w", job(completions=3, parallelism=2))
    uid = created["metadata"]["uid"]
    spec = created["spec"]
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert spec["backoffLimit"] == 6 and spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "once"
    ctl.settle()
    running = pods_of(store, created)
    assert len(running) == 2 and all(p["status"]["phase"] == "Running" for p in running)
    status = api.get(JOBS, "w", "once")["status"]
    assert status["active"] == 2 and status["ready"] == 2 and "startTime" in status
    assert row_for("Job", api.get(JOBS, "w", "once"))[:3] == ["once", "Running", "0/3"]
    for _ in range(4):
        age_pods(store)
        ctl.settle()
    done = api.get(JOBS, "w", "once")
    assert done["status"]["succeeded"] == 3 and "active" not in done["status"]
    types = {c["type"]: c["status"] for c in done["status"]["conditions"]}
    assert types == {"SuccessCriteriaMet": "True", "Complete": "True"} and done["status"]["completionTime"]
    assert all(p["status"]["phase"] == "Succeeded" for p in pods_of(store, created))
    term = pods_of(store, created)[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["reason"] == "Completed" and term["exitCode"] == 0
    assert row_for("Job", done)[:3] == ["once", "Complete", "3/3"]
    assert [c[0] for c in columns_for("Job") if c[2] == 0] == ["Name", "Status", "Completions", "Duration", "Age"]


def test_job_backoff_limit_suspend_and_indexed(world: Any) -> None:
    """Failed pods count against backoffLimit; suspend deletes active pods; Indexed pods carry an index."""
    store, api, ctl = world
    failing = job("fails", backoffLimit=1)
    failing["spec"]["template"]["metadata"]["annotations"] = {"kubesim.voicehive.io/condition": "Failed"}
    api.create(JOBS, "w", failing)
    for _ in range(4):
        ctl.settle()
        age_pods(store)
    status = api.get(JOBS, "w", "fails")["status"]
    assert status["failed"] == 2
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    api.create(JOBS, "w", job("paused", suspend=True))
    ctl.settle()
    paused = api.get(JOBS, "w", "paused")
    assert not pods_of(store, paused)
    assert [c["type"] for c in paused["status"]["conditions"]] == ["Suspended"]
    api.create(JOBS, "w", job("idx", completions=3, parallelism=3, completionMode="Indexed"))
    ctl.settle()
    idx = api.get(JOBS, "w", "idx")
    indexes = sorted(
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods_of(store, idx)
    )
    assert indexes == ["0", "1", "2"]
    age_pods(store)
    ctl.settle()
    assert api.get(JOBS, "w", "idx")["status"]["completedIndexes"] == "0-2"


def test_cron_parser() -> None:
    """The 5-field cron syntax and macros of CronJob.spec.schedule."""
    import datetime as dt

    t = dt.datetime(2026, 12, 7, 12, 5, 30, tzinfo=dt.UTC)  # a Monday
    assert next_after("*/5 * * * *", t).isoformat() == "2026-12-07T12:10:00+00:00"
    assert next_after("@hourly", t).isoformat() == "2026-12-07T13:00:00+00:00"
    assert next_after("30 2 * * mon", t).isoformat() == "2026-12-14T02:30:00+00:00"
    assert next_after("0 0 1 jan *", t).isoformat() == "2027-01-01T00:00:00+00:00"
    assert len(parse_cron("0 0 * * 1-5")[4]) == 5
    for bad in ("* * *", "61 * * * *", "TZ=UTC * * * * *"):
        with pytest.raises(CronError):
            parse_cron(bad)


def cronjob(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "tick"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template({}, "OnFailure")}}, **spec},
    }


def test_cronjob_simulated_schedule_history_and_policies(world: Any) -> None:
    """CronJobs create a Job per scheduled time (simulated clock), keep history limits, honour Forbid."""
    store, api, ctl = world
    with pytest.raises(ApiError):
        api.create(CRON, "w", dict(cronjob(), spec={**cronjob()["spec"], "schedule": "every minute"}))
    cj = api.create(CRON, "w", cronjob(concurrencyPolicy="Forbid", successfulJobsHistoryLimit=2))
    assert cj["spec"]["failedJobsHistoryLimit"] == 1
    ctl.settle()
    assert not store.objects["batch/jobs"]  # nothing is due yet: no real-time waiting
    created = time.time()

    def advance(minutes: int) -> None:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created + minutes * 60 + 1))
        body = {"metadata": {"annotations": {"kubesim.voicehive.io/simulated-time": when}}}
        api.patch(CRON, "w", "tick", "application/merge-patch+json", body)
        ctl.settle()

    def finish() -> None:
        for _ in range(2):
            age_pods(store)
            ctl.settle()

    advance(5)
    assert len(store.objects["batch/jobs"]) == 1
    assert len(api.get(CRON, "w", "tick")["status"]["active"]) == 1
    advance(10)  # Forbid: the running Job blocks the next run
    assert len(store.objects["batch/jobs"]) == 1
    finish()  # once it has finished, the missed run starts
    assert len(store.objects["batch/jobs"]) == 2
    for minutes in (15, 20, 25):
        finish()
        advance(minutes)
    finish()
    jobs = sorted(store.objects["batch/jobs"].values(), key=lambda j: j["metadata"]["name"])
    assert len(jobs) == 2  # successfulJobsHistoryLimit
    assert all(j["metadata"]["ownerReferences"][0]["kind"] == "CronJob" for j in jobs)
    assert all(j["metadata"]["name"].startswith("tick-") for j in jobs)
    status = api.get(CRON, "w", "tick")["status"]
    assert status["lastScheduleTime"] and status["lastSuccessfulTime"]
    names = [c[0] for c in columns_for("CronJob") if c[2] == 0]
    assert names == ["Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age"]


def deployment() -> dict[str, Any]:
    return {
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template({"app": "web"})},
    }


@pytest.mark.parametrize("policy", ["Foreground", "Background", "Orphan"])
def test_cascading_deletion(world: Any, policy: str) -> None:
    """propagationPolicy: Foreground removes dependents before the owner, Background after, Orphan keeps them."""
    store, api, ctl = world
    dep = api.create(DEPLOY, "w", deployment())
    ctl.settle()
    rs = next(iter(store.objects["apps/replicasets"].values()))
    assert len(pods_of(store, rs)) == 2
    answer = api.delete(DEPLOY, "w", "web", {"propagationPolicy": policy})
    if policy == "Foreground":
        assert answer["metadata"]["deletionTimestamp"] and answer["metadata"]["finalizers"] == ["foregroundDeletion"]
        assert api.get(DEPLOY, "w", "web")["metadata"]["deletionTimestamp"]  # still there, being deleted
        ctl.settle()
        with pytest.raises(ApiError):
            api.get(DEPLOY, "w", "web")
        assert not store.objects["apps/replicasets"] and not store.objects["/pods"]
    elif policy == "Background":
        assert answer["kind"] == "Status" and answer["status"] == "Success"
        ctl.settle()
        assert not store.objects["apps/replicasets"] and not store.objects["/pods"]
    else:
        ctl.settle()
        orphan = next(iter(store.objects["apps/replicasets"].values()))
        assert "ownerReferences" not in orphan["metadata"] and len(store.objects["/pods"]) == 2
    del dep


def test_job_cascades_to_pods_and_hpa_v2_is_served(world: Any) -> None:
    """Deleting a Job (Background) removes its pods; autoscaling/v2 HPAs are stored and read back."""
    store, api, ctl = world
    created = api.create(JOBS, "w", job())
    ctl.settle()
    assert pods_of(store, created)
    api.delete(JOBS, "w", "once", {"propagationPolicy": "Background"})
    ctl.settle()
    assert not store.objects["/pods"]
    hpa = {
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
    }
    stored = api.create(HPA2, "w", copy.deepcopy(hpa))
    assert stored["apiVersion"] == "autoscaling/v2" and stored["spec"]["minReplicas"] == 1
    assert api.get(HPA2, "w", "web")["spec"]["metrics"] == hpa["spec"]["metrics"]


def test_controller_revisions_for_daemonset_history(world: Any) -> None:
    """DaemonSets (and StatefulSets) keep their templates as ControllerRevisions; a rollback bumps the revision."""
    store, api, ctl = world
    ds = api.create(DS, "w", daemonset())
    ctl.settle()

    def revisions() -> dict[str, int]:
        return {
            cr["metadata"]["name"]: cr["revision"]
            for cr in store.objects["apps/controllerrevisions"].values()
            if cr["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"]
        }

    first = revisions()
    assert list(first.values()) == [1]
    cr = store.objects["apps/controllerrevisions"][("w", next(iter(first)))]
    assert cr["data"]["spec"]["template"]["$patch"] == "replace"
    assert cr["metadata"]["labels"]["controller-revision-hash"] in next(iter(first))
    image = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}}}
    api.patch(DS, "w", "agent", "application/strategic-merge-patch+json", image)
    ctl.settle()
    assert sorted(revisions().values()) == [1, 2]
    undo = copy.deepcopy(cr["data"])  # what kubectl rollout undo sends
    api.patch(DS, "w", "agent", "application/strategic-merge-patch+json", undo)
    ctl.settle()
    assert revisions()[next(iter(first))] == 3
    assert row_for("ControllerRevision", cr)[1] == "daemonset.apps/agent"


def ago(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds))


def test_job_active_deadline_fails_it_and_terminates_its_pods(world: Any, monkeypatch: Any) -> None:
    """activeDeadlineSeconds: once the Job has been active that long, its running pods are terminated and it
    fails with reason DeadlineExceeded (FailureTarget, then Failed), whatever its backoffLimit."""
    import kubesim.controller as controller_mod

    monkeypatch.setattr(controller_mod, "JOB_FINISH", 3600)  # the pods keep running
    store, api, ctl = world
    slow = api.create(JOBS, "w", job("slow", activeDeadlineSeconds=30, parallelism=2, completions=4))
    ctl.settle()
    assert api.get(JOBS, "w", "slow")["status"]["active"] == 2 and len(pods_of(store, slow)) == 2
    store.objects["batch/jobs"][("w", "slow")]["status"]["startTime"] = ago(31)  # 31 s later
    ctl.settle()
    status = api.get(JOBS, "w", "slow")["status"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["FailureTarget"]["reason"] == conditions["Failed"]["reason"] == "DeadlineExceeded"
    assert conditions["Failed"]["message"] == "Job was active longer than specified deadline"
    assert "active" not in status and "completionTime" not in status
    assert pods_of(store, slow) == []
    assert row_for("Job", api.get(JOBS, "w", "slow"))[1] == "Failed"


def test_finished_job_ttl_deletes_it_with_its_pods(world: Any) -> None:
    """ttlSecondsAfterFinished: the TTL-after-finished controller deletes a Job (cascading to its pods)
    that many seconds after it finished; 0 deletes it as soon as it finishes; unset keeps it."""
    store, api, ctl = world
    for name, ttl in (("now", 0), ("later", 60), ("kept", None)):
        api.create(JOBS, "w", job(name, **({} if ttl is None else {"ttlSecondsAfterFinished": ttl})))
    ctl.settle()
    age_pods(store)
    ctl.settle()
    names = {name for _, name in store.objects["batch/jobs"]}
    assert names == {"later", "kept"}
    job_pods = {p["metadata"]["labels"]["batch.kubernetes.io/job-name"] for p in store.objects["/pods"].values()}
    assert job_pods == {"later", "kept"}
    assert any(c["type"] == "Complete" for c in api.get(JOBS, "w", "later")["status"]["conditions"])
    store.objects["batch/jobs"][("w", "later")]["status"]["completionTime"] = ago(61)
    store.objects["batch/jobs"][("w", "kept")]["status"]["completionTime"] = ago(3600)
    ctl.settle()
    assert {name for _, name in store.objects["batch/jobs"]} == {"kept"}
    assert {p["metadata"]["labels"]["batch.kubernetes.io/job-name"] for p in store.objects["/pods"].values()} == {
        "kept"
    }


def test_statefulset_partitioned_rolling_update_and_ondelete(world: Any) -> None:
    """RollingUpdate with a partition updates only the ordinals >= partition (a deleted pod below it comes
    back at the current revision; currentRevision stays until all are updated); OnDelete replaces a pod
    with the new template only when that pod is deleted."""
    store, api, ctl = world
    merge = "application/merge-patch+json"
    spec = {
        "replicas": 3,
        "serviceName": "db",
        "selector": {"matchLabels": {"app": "db"}},
        "template": template({"app": "db"}),
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
    }
    api.create(STS, "w", {"metadata": {"name": "db"}, "spec": spec})
    ctl.settle()

    def revisions() -> dict[str, str]:
        return {
            p["metadata"]["name"]: p["metadata"]["labels"]["controller-revision-hash"]
            for p in store.objects["/pods"].values()
            if p["metadata"]["name"].startswith("db-")
        }

    rev1 = api.get(STS, "w", "db")["status"]["currentRevision"]
    assert set(revisions().values()) == {rev1}
    api.patch(STS, "w", "db", merge, {"spec": {"template": {"metadata": {"annotations": {"v": "2"}}}}})
    ctl.settle(50)
    status = api.get(STS, "w", "db")["status"]
    rev2 = status["updateRevision"]
    assert rev2 != rev1 and status["currentRevision"] == rev1 and status["updatedReplicas"] == 1
    assert revisions() == {"db-0": rev1, "db-1": rev1, "db-2": rev2}
    api.delete(PODS, "w", "db-0")
    ctl.settle()
    assert revisions()["db-0"] == rev1
    assert "v" not in (store.objects["/pods"][("w", "db-0")]["metadata"].get("annotations") or {})
    api.patch(STS, "w", "db", merge, {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})
    ctl.settle(50)
    assert set(revisions().values()) == {rev2}
    assert api.get(STS, "w", "db")["status"]["currentRevision"] == rev2
    api.patch(STS, "w", "db", merge,
              {"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": None},
                        "template": {"metadata": {"annotations": {"v": "3"}}}}})  # fmt: skip
    ctl.settle(50)
    rev3 = api.get(STS, "w", "db")["status"]["updateRevision"]
    assert rev3 != rev2 and set(revisions().values()) == {rev2}
    api.delete(PODS, "w", "db-1")
    ctl.settle()
    assert revisions() == {"db-0": rev2, "db-1": rev3, "db-2": rev2}
