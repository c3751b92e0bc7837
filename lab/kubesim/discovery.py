"""The resource registry: one table that drives discovery, routing, storage and Table output.

Every resource kubesim serves is one :class:`Resource` row in :data:`RESOURCES`. The HTTP router
resolves a URL to a row, the store keys objects by ``Resource.storage``, and the discovery
documents (``/api``, ``/apis``, ``/apis/<group>/<version>``, ``/openapi/v3``) are rendered from
the same rows, so the three can never disagree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
READ_VERBS = ["get", "list", "watch"]
SERVER_VERSION = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.0-kubesim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-11-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass(frozen=True)
class Subresource:
    """A subresource such as ``deployments/scale``: its kind (and group/version if foreign) and verbs."""

    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Resource:
    """One served resource (one group/version/plural)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(ALL_VERBS)
    subresources: tuple[Subresource, ...] = ()
    categories: tuple[str, ...] = ()
    storage: str = ""
    # Objects that only exist as virtual responses (metrics, reviews) are not stored.
    virtual: bool = False
    has_status: bool = field(default=False)

    @property
    def group_version(self) -> str:
        """``apps/v1`` or ``v1`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        """Lower-case kind, like the apiserver's singularName."""
        return self.kind.lower()

    @property
    def storage_key(self) -> str:
        """Key under which objects are stored (shared across versions of a resource)."""
        return self.storage or f"{self.group}/{self.plural}"

    @property
    def group_resource(self) -> str:
        """``deployments.apps`` or ``pods``: the name apiserver messages use."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def subresource(self, name: str) -> Subresource | None:
        """Return the named subresource or None."""
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None


_STATUS = Subresource("status", "", ("get", "patch", "update"))


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, ("get", "patch", "update"))


def _scale() -> Subresource:
    return Subresource("scale", "Scale", ("get", "patch", "update"), group="autoscaling", version="v1")


def _r(group: str, version: str, plural: str, kind: str, namespaced: bool = True, **kw: Any) -> Resource:
    subs = kw.pop("subresources", ())
    has_status = any(s.name == "status" for s in subs)
    return Resource(group, version, plural, kind, namespaced, subresources=tuple(subs), has_status=has_status, **kw)


RESOURCES: list[Resource] = [
    # core/v1
    _r(
        "",
        "v1",
        "namespaces",
        "Namespace",
        False,
        short_names=("ns",),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=(_status("Namespace"), Subresource("finalize", "Namespace", ("update",))),
    ),
    _r(
        "",
        "v1",
        "pods",
        "Pod",
        short_names=("po",),
        categories=("all",),
        subresources=(
            _status("Pod"),
            Subresource("log", "Pod", ("get",)),
            Subresource("eviction", "Eviction", ("create",), group="policy", version="v1"),
        ),
    ),
    _r(
        "",
        "v1",
        "services",
        "Service",
        short_names=("svc",),
        categories=("all",),
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
        subresources=(_status("Service"),),
    ),
    _r("", "v1", "endpoints", "Endpoints", short_names=("ep",)),
    _r("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    _r("", "v1", "secrets", "Secret"),
    _r(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        short_names=("sa",),
        subresources=(Subresource("token", "TokenRequest", ("create",), group="authentication.k8s.io", version="v1"),),
    ),
    _r("", "v1", "events", "Event", short_names=("ev",), storage="events"),
    _r("", "v1", "nodes", "Node", False, short_names=("no",), subresources=(_status("Node"),)),
    _r(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        short_names=("pvc",),
        subresources=(_status("PersistentVolumeClaim"),),
    ),
    _r(
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        False,
        short_names=("pv",),
        subresources=(_status("PersistentVolume"),),
    ),
    _r("", "v1", "resourcequotas", "ResourceQuota", short_names=("quota",), subresources=(_status("ResourceQuota"),)),
    _r("", "v1", "limitranges", "LimitRange", short_names=("limits",)),
    # apps/v1
    _r(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        categories=("all",),
        subresources=(_scale(), _status("Deployment")),
    ),
    _r(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short_names=("rs",),
        categories=("all",),
        subresources=(_scale(), _status("ReplicaSet")),
    ),
    _r(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short_names=("sts",),
        categories=("all",),
        subresources=(_scale(), _status("StatefulSet")),
    ),
    _r(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        short_names=("ds",),
        categories=("all",),
        subresources=(_status("DaemonSet"),),
    ),
    _r("apps", "v1", "controllerrevisions", "ControllerRevision"),
    # autoscaling (v2 preferred, v1 shares the storage)
    _r(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short_names=("hpa",),
        categories=("all",),
        subresources=(_status("HorizontalPodAutoscaler"),),
    ),
    _r(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short_names=("hpa",),
        categories=("all",),
        subresources=(_status("HorizontalPodAutoscaler"),),
    ),
    # batch/v1 (plain storage)
    _r("batch", "v1", "jobs", "Job", categories=("all",), subresources=(_status("Job"),)),
    _r(
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        short_names=("cj",),
        categories=("all",),
        subresources=(_status("CronJob"),),
    ),
    # storage.k8s.io/v1
    _r("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, short_names=("sc",)),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io", "v1", "leases", "Lease"),
    # events.k8s.io/v1 (view of the core events)
    _r("events.k8s.io", "v1", "events", "Event", short_names=("ev",), storage="events"),
    # discovery.k8s.io/v1 (maintained by the controller from Endpoints)
    _r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    # networking / policy (plain storage)
    _r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short_names=("netpol",)),
    _r("networking.k8s.io", "v1", "ingresses", "Ingress", short_names=("ing",), subresources=(_status("Ingress"),)),
    _r(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short_names=("pdb",),
        subresources=(_status("PodDisruptionBudget"),),
    ),
    # rbac
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    # reviews (virtual, create only)
    _r("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=("create",), virtual=True),
    _r(
        "authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, verbs=("create",), virtual=True
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=("create",),
        virtual=True,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        False,
        verbs=("create",),
        virtual=True,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        True,
        verbs=("create",),
        virtual=True,
    ),
    # metrics (virtual, computed from pods)
    _r("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", verbs=("get", "list"), virtual=True),
    _r("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", False, verbs=("get", "list"), virtual=True),
]

# group -> ordered versions (preferred first)
GROUP_VERSIONS: dict[str, list[str]] = {}
for _res in RESOURCES:
    _versions = GROUP_VERSIONS.setdefault(_res.group, [])
    if _res.version not in _versions:
        _versions.append(_res.version)

_BY_GVR: dict[tuple[str, str, str], Resource] = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND: dict[tuple[str, str, str], Resource] = {}
for _res in RESOURCES:
    _BY_KIND.setdefault((_res.group, _res.version, _res.kind), _res)
_PREFERRED_BY_STORAGE: dict[str, Resource] = {}
for _res in RESOURCES:
    _PREFERRED_BY_STORAGE.setdefault(_res.storage_key, _res)


def lookup(group: str, version: str, plural: str) -> Resource | None:
    """Find the resource served at ``/apis/<group>/<version>/<plural>``."""
    return _BY_GVR.get((group, version, plural))


def lookup_kind(api_version: str, kind: str) -> Resource | None:
    """Find the resource of an object from its ``apiVersion`` and ``kind``."""
    group, _, version = api_version.rpartition("/")
    return _BY_KIND.get((group, version, kind))


def by_storage(storage_key: str) -> Resource:
    """Preferred resource row for a storage key (``apps/deployments`` -> apps/v1 deployments)."""
    return _PREFERRED_BY_STORAGE[storage_key]


def is_known_group_version(group: str, version: str) -> bool:
    """True when kubesim serves that group/version."""
    return version in GROUP_VERSIONS.get(group, [])


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def api_versions(server_address: str) -> dict[str, Any]:
    """The ``/api`` document."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group(group: str) -> dict[str, Any]:
    """The ``/apis/<group>`` document."""
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in GROUP_VERSIONS[group]]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
        "preferredVersion": versions[0],
    }


def api_group_list() -> dict[str, Any]:
    """The ``/apis`` document."""
    groups = [api_group(g) for g in GROUP_VERSIONS if g]
    for g in groups:
        g.pop("kind")
        g.pop("apiVersion")
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def resource_list(group: str, version: str) -> dict[str, Any]:
    """The ``/api/v1`` or ``/apis/<group>/<version>`` APIResourceList."""
    resources: list[dict[str, Any]] = []
    gv = f"{group}/{version}" if group else version
    for res in RESOURCES:
        if res.group != group or res.version != version:
            continue
        entry: dict[str, Any] = {
            "name": res.plural,
            "singularName": res.singular,
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": list(res.verbs),
        }
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        if not res.virtual:
            entry["storageVersionHash"] = _hash(res.storage_key)
        resources.append(entry)
        for sub in res.subresources:
            sub_entry: dict[str, Any] = {
                "name": f"{res.plural}/{sub.name}",
                "singularName": "",
                "namespaced": res.namespaced,
                "kind": sub.kind or res.kind,
                "verbs": list(sub.verbs),
            }
            if sub.group is not None:
                sub_entry["group"] = sub.group
                sub_entry["version"] = sub.version
            resources.append(sub_entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


# ---------------------------------------------------------------------------------------------- OpenAPI v3
def openapi_v3_root() -> dict[str, Any]:
    """The ``/openapi/v3`` discovery document: one entry per group/version."""
    paths: dict[str, Any] = {}
    for group, versions in GROUP_VERSIONS.items():
        for version in versions:
            key = f"apis/{group}/{version}" if group else f"api/{version}"
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={_hash(key).upper()}"}
    return {"paths": paths}


_PATCH_CONTENT = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")


def openapi_v3_group_version(group: str, version: str) -> dict[str, Any]:
    """A minimal OpenAPI v3 document for one group/version.

    It declares every path with its operations, the ``x-kubernetes-group-version-kind`` of each
    and the ``fieldValidation`` query parameter, which is what kubectl checks before it lets the
    server validate (``kubectl apply --validate=strict``). PATCH operations deliberately do not
    advertise ``application/strategic-merge-patch+json`` in their request body: kubectl then
    computes client-side apply patches from its compiled-in types (exactly the patch it would send
    to a real apiserver) instead of walking a schema kubesim does not have.
    """
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    field_validation = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for res in RESOURCES:
        if res.group != group or res.version != version:
            continue
        gvk = {"group": group, "version": version, "kind": res.kind}
        schema_name = f"io.k8s.kubesim.{group or 'core'}.{version}.{res.kind}"
        schemas[schema_name] = {
            "type": "object",
            "x-kubernetes-group-version-kind": [gvk],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {"type": "object"},
                "status": {"type": "object"},
            },
        }
        ref = {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}

        def op(
            action: str,
            params: list[dict[str, Any]],
            request: bool,
            gvk: dict[str, str] = gvk,
            ref: dict[str, Any] = ref,
        ) -> dict[str, Any]:
            out: dict[str, Any] = {
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": params,
                "responses": {"200": {"description": "OK", **ref}},
            }
            if request:
                out["requestBody"] = ref
            return out

        ns_part = "/namespaces/{namespace}" if res.namespaced else ""
        collection = f"{prefix}{ns_part}/{res.plural}"
        item = f"{collection}/{{name}}"
        coll_ops: dict[str, Any] = {}
        if "list" in res.verbs:
            coll_ops["get"] = op("list", [], False)
        if "create" in res.verbs:
            coll_ops["post"] = op("post", [field_validation], True)
        paths[collection] = coll_ops
        item_ops: dict[str, Any] = {}
        if "get" in res.verbs:
            item_ops["get"] = op("get", [], False)
        if "update" in res.verbs:
            item_ops["put"] = op("put", [field_validation], True)
        if "patch" in res.verbs:
            patch = op("patch", [field_validation], False)
            patch["requestBody"] = {"content": {ct: {"schema": {"type": "object"}} for ct in _PATCH_CONTENT}}
            item_ops["patch"] = patch
        if "delete" in res.verbs:
            item_ops["delete"] = op("delete", [], False)
        if item_ops:
            paths[item] = item_ops
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (kubesim)", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }
