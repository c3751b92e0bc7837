"""StatefulSet pod management and volumeClaimTemplates, as the StatefulSet concept page describes them.

* ``podManagementPolicy: OrderedReady`` (the default): pods are created one at a time in ordinal order,
  each only when its predecessors are Running and Ready; scale-down removes the highest ordinal first,
  one at a time, and waits while a pod kept is not Ready. ``Parallel`` launches and removes them together.
* ``volumeClaimTemplates``: each pod gets PersistentVolumeClaims ``<template>-<sts>-<ordinal>``, mounted as
  the template's volume; ``persistentVolumeClaimRetentionPolicy`` defaults to Retain for both scale-down and
  deletion, so the claims outlive the pods; ``whenDeleted``/``whenScaled: Delete`` remove them.
* A claim of the default StorageClass is bound to a dynamically provisioned volume; ``kubectl get pvc``
  prints NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE.
"""

from __future__ import annotations

from typing import Any

import kubesim_world
import pytest

from kubesim import discovery
from kubesim.api import Api
from kubesim.controller import CONDITION, Controller
from kubesim.store import ApiError, Store
from kubesim.table import columns_for, row_for

NS = discovery.lookup("", "v1", "namespaces")
NODES = discovery.lookup("", "v1", "nodes")
PODS = discovery.lookup("", "v1", "pods")
PVC = discovery.lookup("", "v1", "persistentvolumeclaims")
STS = discovery.lookup("apps", "v1", "statefulsets")


@pytest.fixture
def world() -> tuple[Store, Api, Controller]:
    return kubesim_world.make()


def sts(replicas: int, policy: str | None = None, claims: bool = False, retention: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "db"}},
        "template": {
            "metadata": {"labels": {"app": "db"}},
            "spec": {"containers": [{"name": "c", "image": "postgres:16"}]},
        },
    }
    if policy:
        spec["podManagementPolicy"] = policy
    if claims:
        spec["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data", "labels": {"tier": "storage"}},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}},
            }
        ]
    if retention:
        spec["persistentVolumeClaimRetentionPolicy"] = retention
    return {"metadata": {"name": "db"}, "spec": spec}


def pod_names(store: Store) -> list[str]:
    return sorted(name for (ns, name) in store.objects["/pods"] if ns == "w")


def claim_names(store: Store) -> list[str]:
    return sorted(name for (ns, name) in store.objects["/persistentvolumeclaims"] if ns == "w")


def hold_unready(api: Api, name: str) -> None:
    api.patch(PODS, "w", name, "application/merge-patch+json", {"metadata": {"annotations": {CONDITION: "NotReady"}}})


def test_ordered_ready_creates_pods_one_at_a_time_in_ordinal_order(world: tuple[Store, Api, Controller]) -> None:
    store, api, ctl = world
    api.create(STS, "w", sts(3))
    assert api.get(STS, "w", "db")["spec"]["podManagementPolicy"] == "OrderedReady"
    ctl._statefulsets()
    assert pod_names(store) == ["db-0"]
    ctl._statefulsets()
    assert pod_names(store) == ["db-0"]  # db-0 is not Running and Ready yet: db-1 waits
    hold_unready(api, "db-0")
    ctl.settle()
    assert pod_names(store) == ["db-0"]
    api.patch(PODS, "w", "db-0", "application/merge-patch+json", {"metadata": {"annotations": {CONDITION: None}}})
    ctl.reconcile()  # the kubelet reports db-0 Ready at the end of this pass
    assert pod_names(store) == ["db-0"]
    ctl.reconcile()
    assert pod_names(store) == ["db-0", "db-1"]
    ctl.settle()
    assert pod_names(store) == ["db-0", "db-1", "db-2"]
    status = api.get(STS, "w", "db")["status"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (3, 3, 3)


def test_ordered_ready_scales_down_from_the_highest_ordinal_one_at_a_time(
    world: tuple[Store, Api, Controller],
) -> None:
    store, api, ctl = world
    api.create(STS, "w", sts(4))
    ctl.settle()
    assert pod_names(store) == ["db-0", "db-1", "db-2", "db-3"]
    hold_unready(api, "db-0")
    ctl.reconcile()
    api.patch(STS, "w", "db", "application/merge-patch+json", {"spec": {"replicas": 1}})
    ctl.settle()
    assert pod_names(store) == ["db-0", "db-1", "db-2", "db-3"]  # a kept pod is not Ready: nothing goes
    api.patch(PODS, "w", "db-0", "application/merge-patch+json", {"metadata": {"annotations": {CONDITION: None}}})
    ctl.reconcile()  # db-0 Ready again at the end of this pass
    ctl.reconcile()
    assert pod_names(store) == ["db-0", "db-1", "db-2"]  # db-3 first, alone
    ctl.reconcile()
    assert pod_names(store) == ["db-0", "db-1"]
    ctl.settle()
    assert pod_names(store) == ["db-0"]
    deletes = [
        e["message"] for e in store.objects["events"].values() if e["reason"] == "SuccessfulDelete"
    ]  # fmt: skip
    assert sorted(deletes) == [f"delete Pod db-{i} in StatefulSet db successful" for i in (1, 2, 3)]


def test_parallel_creates_and_removes_all_pods_at_once(world: tuple[Store, Api, Controller]) -> None:
    store, api, ctl = world
    api.create(STS, "w", sts(3, "Parallel"))
    ctl._statefulsets()
    assert pod_names(store) == ["db-0", "db-1", "db-2"]
    api.patch(STS, "w", "db", "application/merge-patch+json", {"spec": {"replicas": 0}})
    ctl._statefulsets()
    assert pod_names(store) == []


def test_volume_claim_templates_make_bound_claims_kept_on_scale_down_and_delete(
    world: tuple[Store, Api, Controller],
) -> None:
    store, api, ctl = world
    api.create(STS, "w", sts(2, claims=True))
    ctl.settle()
    assert claim_names(store) == ["data-db-0", "data-db-1"]
    claim = api.get(PVC, "w", "data-db-1")
    assert claim["metadata"]["labels"] == {"tier": "storage", "app": "db"}
    assert "ownerReferences" not in claim["metadata"]  # Retain
    assert claim["spec"]["storageClassName"] == "standard" and claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}}
    assert claim["spec"]["volumeName"] == f"pvc-{claim['metadata']['uid']}"
    pod = api.get(PODS, "w", "db-1")
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-1"}} in pod["spec"]["volumes"]
    assert columns_for("PersistentVolumeClaim")[:8] == [
        (n, "string", 0)
        for n in (
            "Name",
            "Status",
            "Volume",
            "Capacity",
            "Access Modes",
            "StorageClass",
            "VolumeAttributesClass",
            "Age",
        )
    ]
    cells = row_for("PersistentVolumeClaim", claim)
    assert cells[:7] == ["data-db-1", "Bound", claim["spec"]["volumeName"], "2Gi", "RWO", "standard", "<unset>"]
    api.patch(STS, "w", "db", "application/merge-patch+json", {"spec": {"replicas": 1}})
    ctl.settle()
    assert pod_names(store) == ["db-0"] and claim_names(store) == ["data-db-0", "data-db-1"]
    # scaled up again, db-1 gets its old claim back
    api.patch(STS, "w", "db", "application/merge-patch+json", {"spec": {"replicas": 2}})
    ctl.settle()
    assert api.get(PVC, "w", "data-db-1")["metadata"]["uid"] == claim["metadata"]["uid"]
    api.delete(STS, "w", "db")
    ctl.settle()
    assert pod_names(store) == [] and claim_names(store) == ["data-db-0", "data-db-1"]


def test_retention_policy_delete_removes_claims_on_scale_down_and_with_the_statefulset(
    world: tuple[Store, Api, Controller],
) -> None:
    store, api, ctl = world
    api.create(STS, "w", sts(3, claims=True, retention={"whenDeleted": "Delete", "whenScaled": "Delete"}))
    ctl.settle()
    assert claim_names(store) == ["data-db-0", "data-db-1", "data-db-2"]
    api.patch(STS, "w", "db", "application/merge-patch+json", {"spec": {"replicas": 1}})
    ctl.settle()
    assert claim_names(store) == ["data-db-0"]
    api.delete(STS, "w", "db")
    ctl.settle()
    assert claim_names(store) == []


def test_a_claim_in_use_is_protected_until_its_pod_is_gone(world: tuple[Store, Api, Controller]) -> None:
    _store, api, ctl = world
    api.create(STS, "w", sts(1, claims=True))
    ctl.settle()
    answer = api.delete(PVC, "w", "data-db-0")
    assert answer["metadata"]["deletionTimestamp"]
    assert answer["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    ctl.settle()
    assert row_for("PersistentVolumeClaim", api.get(PVC, "w", "data-db-0"))[1] == "Terminating"
    api.delete(STS, "w", "db")
    ctl.settle()
    with pytest.raises(ApiError):
        api.get(PVC, "w", "data-db-0")
