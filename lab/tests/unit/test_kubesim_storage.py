"""PersistentVolumes and StorageClasses, as the Persistent Volumes and Storage Classes concept pages describe them.

* The cluster has a default StorageClass ``standard`` (annotation ``storageclass.kubernetes.io/is-default-class``,
  the local-path provisioner, reclaimPolicy Delete, volumeBindingMode WaitForFirstConsumer, as on kind); a claim
  without ``storageClassName`` gets the default class, and none when there is no default.
* WaitForFirstConsumer: the claim stays Pending until a pod using it is scheduled; Immediate binds at once. The
  provisioner makes a cluster-scoped PersistentVolume ``pvc-<claim uid>`` bound to the claim (claimRef).
* When the claim goes, a volume with reclaimPolicy Delete is deleted, one with Retain is Released and kept;
  ``kubernetes.io/pv-protection`` keeps a deleted volume while it is bound.
* ``kubectl get pv`` / ``kubectl get sc`` print a cluster's columns.
"""

from __future__ import annotations

from typing import Any

import kubesim_world
import pytest

from kubesim import discovery
from kubesim.api import Api
from kubesim.controller import Controller
from kubesim.store import ApiError, Store
from kubesim.table import columns_for, row_for

NS = discovery.lookup("", "v1", "namespaces")
NODES = discovery.lookup("", "v1", "nodes")
PODS = discovery.lookup("", "v1", "pods")
PVC = discovery.lookup("", "v1", "persistentvolumeclaims")
PV = discovery.lookup("", "v1", "persistentvolumes")
SC = discovery.lookup("storage.k8s.io", "v1", "storageclasses")


@pytest.fixture
def world() -> tuple[Store, Api, Controller]:
    store, api, ctl = kubesim_world.make()
    ctl.settle()  # the cluster's defaults
    return store, api, ctl


def claim(api: Api, name: str, **spec: Any) -> dict[str, Any]:
    body = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "3Gi"}}, **spec}
    return api.create(PVC, "w", {"metadata": {"name": name}, "spec": body})


def consumer(api: Api, claim_name: str) -> None:
    api.create(
        PODS,
        "w",
        {
            "metadata": {"name": f"use-{claim_name}"},
            "spec": {
                "containers": [{"name": "c", "image": "busybox:1.36"}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}],
            },
        },
    )


def volumes(store: Store) -> list[str]:
    return sorted(name for _, name in store.objects["/persistentvolumes"])


def test_the_default_storage_class_and_its_columns(world: Any) -> None:
    _store, api, _ctl = world
    sc = api.get(SC, "", "standard")
    assert sc["apiVersion"] == "storage.k8s.io/v1"
    assert sc["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert (sc["provisioner"], sc["reclaimPolicy"], sc["volumeBindingMode"]) == (
        "rancher.io/local-path", "Delete", "WaitForFirstConsumer"
    )  # fmt: skip
    assert [c[0] for c in columns_for("StorageClass")] == [
        "Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age"
    ]  # fmt: skip
    assert row_for("StorageClass", sc)[:5] == [
        "standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", False
    ]  # fmt: skip
    fast = api.create(SC, "", {"metadata": {"name": "fast"}, "provisioner": "example.com/none"})
    assert (fast["reclaimPolicy"], fast["volumeBindingMode"]) == ("Delete", "Immediate")  # API defaults
    assert row_for("StorageClass", fast)[0] == "fast"
    resources = {r["name"]: r for r in discovery.resource_list("", "v1")["resources"]}
    assert resources["persistentvolumes"]["namespaced"] is False and resources["persistentvolumes"]["shortNames"] == [
        "pv"
    ]
    storage = {r["name"]: r for r in discovery.resource_list("storage.k8s.io", "v1")["resources"]}
    assert storage["storageclasses"]["namespaced"] is False and storage["storageclasses"]["shortNames"] == ["sc"]


def test_wait_for_first_consumer_then_a_provisioned_volume_deleted_with_its_claim(world: Any) -> None:
    store, api, ctl = world
    created = claim(api, "data")
    assert created["spec"]["storageClassName"] == "standard"  # DefaultStorageClass admission
    ctl.settle()
    assert api.get(PVC, "w", "data")["status"]["phase"] == "Pending" and volumes(store) == []
    waiting = [e for e in store.objects["events"].values() if e["reason"] == "WaitForFirstConsumer"]
    assert [(e["message"], e["count"]) for e in waiting] == [
        ("waiting for first consumer to be created before binding", 1)
    ]
    consumer(api, "data")
    ctl.settle()
    bound = api.get(PVC, "w", "data")
    name = f"pvc-{bound['metadata']['uid']}"
    assert bound["status"]["phase"] == "Bound" and bound["spec"]["volumeName"] == name
    assert bound["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "kubesim-node-1"
    pv = api.get(PV, "", name)
    assert pv["spec"]["claimRef"]["uid"] == bound["metadata"]["uid"] and pv["status"]["phase"] == "Bound"
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete" and pv["spec"]["capacity"] == {"storage": "3Gi"}
    assert pv["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    assert [c[0] for c in columns_for("PersistentVolume") if c[2] == 0] == [
        "Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass",
        "VolumeAttributesClass", "Reason", "Age",
    ]  # fmt: skip
    assert row_for("PersistentVolume", pv)[:9] == [
        name, "3Gi", "RWO", "Delete", "Bound", "w/data", "standard", "<unset>", ""
    ]  # fmt: skip
    # deleting the bound volume only marks it (pv-protection) while its claim holds it
    api.delete(PV, "", name)
    ctl.settle()
    assert row_for("PersistentVolume", api.get(PV, "", name))[4] == "Terminating"
    api.delete(PODS, "w", "use-data")
    api.delete(PVC, "w", "data")
    ctl.settle()
    assert volumes(store) == []


def test_retain_releases_the_volume_and_immediate_binds_at_once(world: Any) -> None:
    _store, api, ctl = world
    api.create(SC, "", {"metadata": {"name": "keep"}, "provisioner": "rancher.io/local-path",
                        "reclaimPolicy": "Retain"})  # fmt: skip
    claim(api, "kept", storageClassName="keep")
    ctl.settle()
    bound = api.get(PVC, "w", "kept")
    assert bound["status"]["phase"] == "Bound"  # Immediate: no consumer needed
    name = bound["spec"]["volumeName"]
    api.delete(PVC, "w", "kept")
    ctl.settle()
    pv = api.get(PV, "", name)
    assert pv["status"]["phase"] == "Released" and row_for("PersistentVolume", pv)[3:5] == ["Retain", "Released"]
    claim(api, "other", storageClassName="nobody-provisions-this")
    ctl.settle()
    assert api.get(PVC, "w", "other")["status"]["phase"] == "Pending"


def test_without_a_default_class_a_claim_gets_none(world: Any) -> None:
    _store, api, ctl = world
    api.delete(SC, "", "standard")
    ctl.settle()
    with pytest.raises(ApiError):
        api.get(SC, "", "standard")  # not re-created while the cluster runs
    created = claim(api, "plain")
    assert "storageClassName" not in created["spec"]
    ctl.settle()
    assert api.get(PVC, "w", "plain")["status"]["phase"] == "Pending"
