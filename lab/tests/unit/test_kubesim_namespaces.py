"""Namespace deletion as on a cluster: asynchronous, through the Terminating phase.

From the Namespace API reference and the namespace controller: DELETE answers with the namespace
marked (``deletionTimestamp``, ``status.phase: Terminating``, ``spec.finalizers: [kubernetes]``);
the NamespaceLifecycle admission refuses new content in it (403, cause NamespaceTerminating) and a
re-create answers 409 AlreadyExists ("object is being deleted") until the namespace controller has
deleted its content, removed the ``kubernetes`` finalizer and so the namespace itself. Content with
finalizers of its own keeps the namespace Terminating, the conditions naming what remains.
"""

from __future__ import annotations

import kubesim_world
import pytest

from kubesim import discovery
from kubesim.api import Api
from kubesim.controller import Controller
from kubesim.store import ApiError, Store

NS = discovery.lookup("", "v1", "namespaces")
PODS = discovery.lookup("", "v1", "pods")
CM = discovery.lookup("", "v1", "configmaps")
DEPLOY = discovery.lookup("apps", "v1", "deployments")
EVENTS = discovery.lookup("", "v1", "events")

POD = {"metadata": {"name": "solo"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}


@pytest.fixture
def world() -> tuple[Store, Api, Controller]:
    return kubesim_world.make(nodes=())


def test_delete_marks_the_namespace_terminating_and_refuses_new_content(world: tuple[Store, Api, Controller]) -> None:
    store, api, ctl = world
    api.create(PODS, "w", POD)
    answer = api.delete(NS, "", "w")
    assert answer["kind"] == "Namespace" and answer["metadata"]["deletionTimestamp"]
    assert answer["status"]["phase"] == "Terminating" and answer["spec"]["finalizers"] == ["kubernetes"]
    # the content is still there until the namespace controller runs; updates to it are allowed
    assert api.get(PODS, "w", "solo")["metadata"]["name"] == "solo"
    with pytest.raises(ApiError) as created:
        api.create(CM, "w", {"metadata": {"name": "late"}})
    status = created.value.status()
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'configmaps "late" is forbidden: unable to create new content in namespace w because it is being terminated'
    )
    assert status["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    with pytest.raises(ApiError) as again:
        api.create(NS, "", {"metadata": {"name": "w"}})
    assert again.value.code == 409 and again.value.reason == "AlreadyExists"
    assert again.value.message == 'object is being deleted: namespaces "w" already exists'
    # a second DELETE answers the same terminating namespace
    assert api.delete(NS, "", "w")["metadata"]["deletionTimestamp"] == answer["metadata"]["deletionTimestamp"]
    ctl.reconcile()
    for res, name in ((NS, ""), (PODS, "w")):
        with pytest.raises(ApiError) as gone:
            api.get(res, name, "w" if res is NS else "solo")
        assert gone.value.code == 404
    assert not [key for objs in store.objects.values() for key in objs if key[0] == "w"]
    recreated = api.create(NS, "", {"metadata": {"name": "w"}})
    assert recreated["status"]["phase"] == "Active" and "deletionTimestamp" not in recreated["metadata"]


def test_workloads_are_removed_and_nothing_is_recreated_in_a_terminating_namespace(
    world: tuple[Store, Api, Controller],
) -> None:
    store, api, ctl = world
    labels = {"app": "web"}
    api.create(
        DEPLOY,
        "w",
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": POD["spec"]},
            },
        },
    )
    ctl.settle()
    assert len(store.objects["/pods"]) == 2 and store.objects["events"]
    api.delete(NS, "", "w")
    ctl.settle()
    assert not any(objs for objs in store.objects.values() if any(key[0] == "w" for key in objs))


def test_content_with_finalizers_keeps_the_namespace_terminating_with_conditions(
    world: tuple[Store, Api, Controller],
) -> None:
    _store, api, ctl = world
    api.create(CM, "w", {"metadata": {"name": "held", "finalizers": ["example.com/keep"]}})
    api.create(CM, "w", {"metadata": {"name": "free"}})
    api.delete(NS, "", "w")
    ctl.settle()
    ns = api.get(NS, "", "w")
    conditions = {c["type"]: c for c in ns["status"]["conditions"]}
    assert ns["status"]["phase"] == "Terminating"
    assert conditions["NamespaceContentRemaining"]["status"] == "True"
    assert conditions["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: configmaps. has 1 resource instances"
    )
    assert conditions["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizersRemain"
    assert conditions["NamespaceDeletionDiscoveryFailure"]["status"] == "False"
    held = api.get(CM, "w", "held")
    assert held["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiError):
        api.get(CM, "w", "free")
    # removing the finalizer lets the object go, and then the namespace
    api.patch(CM, "w", "held", "application/merge-patch+json", {"metadata": {"finalizers": None}})
    ctl.settle()
    with pytest.raises(ApiError) as gone:
        api.get(NS, "", "w")
    assert gone.value.code == 404


def test_dry_run_delete_changes_nothing(world: tuple[Store, Api, Controller]) -> None:
    _store, api, ctl = world
    answer = api.delete(NS, "", "w", dry_run=True)
    assert answer["status"]["phase"] == "Terminating"
    ctl.settle()
    assert api.get(NS, "", "w")["status"]["phase"] == "Active"
