"""Job pod failure policy, backoff limit per index and success policy, as the Job concept page describes them.

* ``podFailurePolicy``: the first rule matching a failed pod decides. FailJob fails the whole Job (conditions
  FailureTarget, then Failed once its pods are terminated, reason PodFailurePolicy); Ignore does not count the
  failure towards ``backoffLimit`` and the pod is replaced; Count counts it as usual; FailIndex fails the pod's
  index (with ``backoffLimitPerIndex``). ``onExitCodes`` matches a terminated container's non-zero exit code
  (operator In/NotIn, optional containerName); ``onPodConditions`` a pod condition such as DisruptionTarget.
* ``backoffLimitPerIndex``: each index of an Indexed Job is retried until its failures exceed the limit, then
  it is failed (``status.failedIndexes``) while the others go on; the Job then fails with FailedIndexes, or at
  once with MaxFailedIndexesExceeded when more indexes than ``maxFailedIndexes`` failed.
* ``successPolicy``: an Indexed Job succeeds when a rule is met (``succeededIndexes``, ``succeededCount``):
  SuccessCriteriaMet, its remaining pods are terminated, then Complete, reason SuccessPolicy.

Pods exit with the code of the ``kubesim.voicehive.io/exit-code`` annotation and are disrupted by
``kubesim.voicehive.io/disruption``. The controller is driven synchronously.
"""

from __future__ import annotations

import time
from typing import Any

import kubesim_world
import pytest

import kubesim.controller as controller_mod
from kubesim import discovery
from kubesim.api import Api
from kubesim.controller import DISRUPTION, EXIT_CODE, Controller
from kubesim.jobs import match_success_policy, parse_indexes
from kubesim.store import ApiError, Store
from kubesim.table import pod_status_reason, row_for

NS = discovery.lookup("", "v1", "namespaces")
NODES = discovery.lookup("", "v1", "nodes")
PODS = discovery.lookup("", "v1", "pods")
JOBS = discovery.lookup("batch", "v1", "jobs")
INDEX = "batch.kubernetes.io/job-completion-index"


@pytest.fixture
def world(monkeypatch: Any) -> tuple[Store, Api, Controller]:
    monkeypatch.setattr(controller_mod, "JOB_FINISH", 60)  # pods run until a test lets them finish
    return kubesim_world.make()


def job(name: str, **spec: Any) -> dict[str, Any]:
    containers = [{"name": "main", "image": "busybox:1.36"}, {"name": "sidecar", "image": "busybox:1.36"}]
    return {
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": containers}}, **spec},
    }


def live_pods(store: Store, job_name: str) -> list[dict[str, Any]]:
    return sorted(
        (
            p
            for p in store.objects["/pods"].values()
            if p["metadata"]["labels"].get("batch.kubernetes.io/job-name") == job_name
            and p["status"].get("phase") not in ("Succeeded", "Failed")
        ),
        key=lambda p: p["metadata"]["name"],
    )


def all_pods(store: Store, job_name: str) -> list[dict[str, Any]]:
    return [
        p
        for p in store.objects["/pods"].values()
        if p["metadata"]["labels"].get("batch.kubernetes.io/job-name") == job_name
    ]


def finish(api: Api, store: Store, pod: dict[str, Any], **annotations: str) -> None:
    """Let ``pod`` end now (with the given emulator annotations, e.g. an exit code)."""
    if annotations:
        body = {"metadata": {"annotations": annotations}}
        api.patch(PODS, "w", pod["metadata"]["name"], "application/merge-patch+json", body)
    stored = store.objects["/pods"][("w", pod["metadata"]["name"])]
    stored["status"]["startTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))


def by_index(store: Store, job_name: str, index: int) -> dict[str, Any]:
    return next(p for p in live_pods(store, job_name) if p["metadata"]["annotations"][INDEX] == str(index))


def conditions(api: Api, name: str) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in api.get(JOBS, "w", name)["status"].get("conditions") or []}


def events(store: Store, name: str) -> list[tuple[str, str, str]]:
    return [
        (e["type"], e["reason"], e["message"])
        for e in store.objects["events"].values()
        if e["involvedObject"]["name"] == name
    ]


def test_fail_job_rule_on_an_exit_code_fails_the_job_with_the_controllers_message(world: Any) -> None:
    store, api, ctl = world
    rules = [
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
    ]
    created = api.create(JOBS, "w", job("pfp", completions=2, parallelism=2, podFailurePolicy={"rules": rules}))
    assert created["spec"]["podFailurePolicy"]["rules"][1]["onPodConditions"] == [
        {"type": "DisruptionTarget", "status": "True"}
    ]  # the status defaults to True
    ctl.settle()
    first, second = live_pods(store, "pfp")
    finish(api, store, first, **{EXIT_CODE: "main=42"})
    ctl.reconcile()
    pod = api.get(PODS, "w", first["metadata"]["name"])
    codes = {cs["name"]: cs["state"]["terminated"]["exitCode"] for cs in pod["status"]["containerStatuses"]}
    assert pod["status"]["phase"] == "Failed" and codes == {"main": 42, "sidecar": 0}
    assert pod_status_reason(pod) == "Error"
    name = first["metadata"]["name"]
    message = f"Container main for pod w/{name} failed with exit code 42 matching FailJob rule at index 0"
    conds = conditions(api, "pfp")
    assert conds["FailureTarget"]["reason"] == "PodFailurePolicy" and conds["FailureTarget"]["message"] == message
    assert "Failed" not in conds  # not before the Job's other pod is terminated
    assert row_for("Job", api.get(JOBS, "w", "pfp"))[1] == "FailureTarget"
    ctl.settle()
    conds = conditions(api, "pfp")
    assert conds["Failed"]["reason"] == "PodFailurePolicy" and conds["Failed"]["message"] == message
    assert live_pods(store, "pfp") == [] and ("w", second["metadata"]["name"]) not in store.objects["/pods"]
    status = api.get(JOBS, "w", "pfp")["status"]
    assert status["failed"] == 1 and "active" not in status and "completionTime" not in status
    assert ("Warning", "PodFailurePolicy", message) in events(store, "pfp")


def test_ignore_on_disruption_is_not_counted_count_on_exit_codes_is(world: Any) -> None:
    store, api, ctl = world
    rules = [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [42]}},
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
    ]
    api.create(JOBS, "w", job("flaky", backoffLimit=0, podFailurePolicy={"rules": rules}))
    ctl.settle()
    (pod,) = live_pods(store, "flaky")
    api.patch(PODS, "w", pod["metadata"]["name"], "application/merge-patch+json",
              {"metadata": {"annotations": {DISRUPTION: "PreemptionByScheduler"}}})  # fmt: skip
    ctl.settle()
    disrupted = api.get(PODS, "w", pod["metadata"]["name"])
    target = next(c for c in disrupted["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"]) == ("True", "PreemptionByScheduler")
    assert disrupted["status"]["phase"] == "Failed"
    assert {cs["state"]["terminated"]["exitCode"] for cs in disrupted["status"]["containerStatuses"]} == {137}
    status = api.get(JOBS, "w", "flaky")["status"]
    assert "failed" not in status and "conditions" not in status  # ignored: backoffLimit 0 is not exceeded
    (replacement,) = live_pods(store, "flaky")  # and the pod was replaced
    assert replacement["metadata"]["name"] != pod["metadata"]["name"]
    finish(api, store, replacement, **{EXIT_CODE: "3"})  # NotIn [42]: Count
    ctl.settle()
    conds = conditions(api, "flaky")
    assert conds["Failed"]["reason"] == "BackoffLimitExceeded"
    assert conds["Failed"]["message"] == "Job has reached the specified backoff limit"
    assert api.get(JOBS, "w", "flaky")["status"]["failed"] == 1


def test_backoff_limit_per_index_fails_an_index_and_the_job_goes_on(world: Any) -> None:
    store, api, ctl = world
    created = api.create(
        JOBS,
        "w",
        job("idx", completions=4, parallelism=4, completionMode="Indexed", backoffLimitPerIndex=1, maxFailedIndexes=1),
    )
    assert created["spec"]["backoffLimit"] == 2147483647  # the per-index limit rules
    ctl.settle()
    assert sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"]
                  for p in live_pods(store, "idx")) == ["0"] * 4  # fmt: skip
    finish(api, store, by_index(store, "idx", 1), **{EXIT_CODE: "1"})
    ctl.settle()
    retry = by_index(store, "idx", 1)  # one failure: the index is retried, the pod told how many it had
    assert retry["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"] == "1"
    status = api.get(JOBS, "w", "idx")["status"]
    assert status["failed"] == 1 and status["failedIndexes"] == "" and status["active"] == 4
    finish(api, store, retry, **{EXIT_CODE: "1"})
    ctl.settle()
    status = api.get(JOBS, "w", "idx")["status"]
    assert status["failedIndexes"] == "1" and status["failed"] == 2 and status["active"] == 3
    assert sorted(p["metadata"]["annotations"][INDEX] for p in live_pods(store, "idx")) == ["0", "2", "3"]
    assert "conditions" not in status  # one failed index is within maxFailedIndexes: the others go on
    for index in (0, 2, 3):
        finish(api, store, by_index(store, "idx", index))
    ctl.settle()
    status = api.get(JOBS, "w", "idx")["status"]
    assert status["completedIndexes"] == "0,2-3" and status["failedIndexes"] == "1" and status["succeeded"] == 3
    conds = conditions(api, "idx")
    assert (conds["FailureTarget"]["reason"], conds["Failed"]["reason"]) == ("FailedIndexes", "FailedIndexes")
    assert conds["Failed"]["message"] == "Job has failed indexes"


def test_fail_index_rule_and_max_failed_indexes_exceeded_terminate_the_job(world: Any) -> None:
    store, api, ctl = world
    rules = [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [7]}}]
    spec = {"completions": 4, "parallelism": 4, "completionMode": "Indexed", "backoffLimitPerIndex": 3,
            "maxFailedIndexes": 1, "podFailurePolicy": {"rules": rules}}  # fmt: skip
    api.create(JOBS, "w", job("fi", **spec))
    ctl.settle()
    finish(api, store, by_index(store, "fi", 0), **{EXIT_CODE: "7"})
    ctl.settle()
    status = api.get(JOBS, "w", "fi")["status"]
    assert status["failedIndexes"] == "0" and "conditions" not in status  # FailIndex: no retry of index 0
    assert sorted(p["metadata"]["annotations"][INDEX] for p in live_pods(store, "fi")) == ["1", "2", "3"]
    finish(api, store, by_index(store, "fi", 2), **{EXIT_CODE: "7"})
    ctl.reconcile()
    conds = conditions(api, "fi")
    assert conds["FailureTarget"]["reason"] == "MaxFailedIndexesExceeded" and "Failed" not in conds
    ctl.settle()
    conds = conditions(api, "fi")
    assert conds["Failed"]["reason"] == "MaxFailedIndexesExceeded"
    assert conds["Failed"]["message"] == "Job has exceeded the specified maximal number of failed indexes"
    assert live_pods(store, "fi") == []  # indexes 1 and 3 were terminated
    assert api.get(JOBS, "w", "fi")["status"]["failedIndexes"] == "0,2"


def test_success_policy_completes_the_job_and_terminates_the_remaining_pods(world: Any) -> None:
    store, api, ctl = world
    policy = {"rules": [{"succeededIndexes": "0-2", "succeededCount": 2}, {"succeededCount": 4}]}
    api.create(JOBS, "w", job("leader", completions=5, parallelism=5, completionMode="Indexed", successPolicy=policy))
    ctl.settle()
    finish(api, store, by_index(store, "leader", 4))
    ctl.settle()
    assert "conditions" not in api.get(JOBS, "w", "leader")["status"]  # index 4 is outside the rule's 0-2
    finish(api, store, by_index(store, "leader", 0))
    finish(api, store, by_index(store, "leader", 2))
    ctl.reconcile()
    conds = conditions(api, "leader")
    assert conds["SuccessCriteriaMet"]["reason"] == "SuccessPolicy"
    assert conds["SuccessCriteriaMet"]["message"] == "Matched rules at index 0"
    assert "Complete" not in conds and len(live_pods(store, "leader")) == 2
    ctl.settle()
    conds = conditions(api, "leader")
    assert conds["Complete"]["reason"] == "SuccessPolicy" and conds["Complete"]["message"] == "Matched rules at index 0"
    assert live_pods(store, "leader") == [] and len(all_pods(store, "leader")) == 3
    status = api.get(JOBS, "w", "leader")["status"]
    assert status["completedIndexes"] == "0,2,4" and status["succeeded"] == 3 and "failed" not in status
    assert status["completionTime"] and row_for("Job", api.get(JOBS, "w", "leader"))[1:3] == ["Complete", "3/5"]
    assert ("Normal", "Completed", "Job completed") in events(store, "leader")


def test_policy_helpers() -> None:
    assert parse_indexes("0,2-4,9", 5) == {0, 2, 3, 4}
    assert parse_indexes("3-1", 5) == set()
    assert match_success_policy({"rules": [{"succeededCount": 2}]}, 5, {3}) is None
    assert match_success_policy({"rules": [{"succeededIndexes": "1"}, {"succeededCount": 2}]}, 5, {3, 4}) == (
        "Matched rules at index 1"
    )


@pytest.mark.parametrize(
    ("spec", "field", "text"),
    [
        ({"podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}]},
          "restart": "OnFailure"}, "spec.template.spec.restartPolicy", 'only "Never" is supported'),
        ({"podFailurePolicy": {"rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]}}]}},
         "spec.podFailurePolicy.rules[0].action", "requires the backoffLimitPerIndex to be set"),
        ({"podFailurePolicy": {"rules": [{"action": "Count", "onExitCodes": {"operator": "In", "values": [0]}}]}},
         "spec.podFailurePolicy.rules[0].onExitCodes.values[0]", "must not be 0 for the In operator"),
        ({"backoffLimitPerIndex": 1}, "spec.backoffLimitPerIndex", "requires indexed completion mode"),
        ({"successPolicy": {"rules": [{"succeededCount": 1}]}}, "spec.successPolicy",
         "requires indexed completion mode"),
    ],
)  # fmt: skip
def test_job_policies_are_validated(world: Any, spec: dict[str, Any], field: str, text: str) -> None:
    _store, api, _ctl = world
    body = job("bad", **{k: v for k, v in spec.items() if k != "restart"})
    if "restart" in spec:
        body["spec"]["template"]["spec"]["restartPolicy"] = spec["restart"]
    with pytest.raises(ApiError) as err:
        api.create(JOBS, "w", body)
    assert err.value.code == 422
    causes = {c["field"]: c["message"] for c in err.value.details["causes"]}
    assert text in causes[field]
