"""Client-side apply (kubernetes.core's ``apply: true``) against kubesim's API semantics, without HTTP.

An apiserver decodes every body into the API's Go types: an explicit JSON ``null`` on an optional
field leaves it unset, and the omitempty encoding never serves it back. kubernetes.core's apply merge
relies on that (``actual["metadata"].get("annotations", {}).get(...)``, ``last_applied.get(key, {})``).
kubesim used to store and serve the nulls of a created or replaced object as they came, so an apply
after a plain create of a templated object with an empty ``annotations:`` failed with
``Failed to apply object: 'NoneType' object has no attribute 'get'``, and a re-apply of such a template
was never a no-op.

The sequences of issue 17 (namespace deleted and re-created, apply twice, apply after a plain create,
after a patch that nulls fields, objects holding explicit nulls, server-side dry run) run here through
kubernetes.core's own ``k8s_apply`` and ``decode_response`` over an in-process kubesim ``Api``; the
same sequences through ansible-playbook are in lab/tests/integration/test_kubesim_workloads.py.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubesim import discovery
from kubesim.api import Api, drop_nulls
from kubesim.controller import Controller
from kubesim.store import ApiError, Store

apply_mod = pytest.importorskip("ansible_collections.kubernetes.core.plugins.module_utils.apply")
service_mod = pytest.importorskip("ansible_collections.kubernetes.core.plugins.module_utils.k8s.service")
dynamic = pytest.importorskip("kubernetes.dynamic")
dyn_exc = pytest.importorskip("kubernetes.dynamic.exceptions")

NS = discovery.lookup("", "v1", "namespaces")
PODS = discovery.lookup("", "v1", "pods")
CM = discovery.lookup("", "v1", "configmaps")
SVC = discovery.lookup("", "v1", "services")
DEPLOY = discovery.lookup("apps", "v1", "deployments")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class _Response:
    """What the dynamic client returns with ``serialize=False`` (urllib3's response)."""

    def __init__(self, obj: dict[str, Any]) -> None:
        self.data = json.dumps(obj).encode()
        self.headers: dict[str, str] = {}


class _NotFound(Exception):
    status, reason, headers = 404, "NotFound", None

    def __init__(self, err: ApiError) -> None:
        super().__init__(err.message)
        self.body = json.dumps(err.status())


class ApiResource:
    """The slice of ``kubernetes.dynamic.Resource`` that ``k8s_apply`` calls, served by a kubesim ``Api``.

    Bodies and answers go through JSON, as over HTTP; ``dry_run`` is the server-side dry run
    kubernetes.core uses in check mode.
    """

    namespaced = True

    def __init__(self, api: Api, res: Any) -> None:
        self.api, self.res = api, res

    @staticmethod
    def _wire(obj: Any) -> Any:
        return json.loads(json.dumps(obj))

    def get(self, name: str, namespace: str, serialize: bool = True, **_: Any) -> Any:
        try:
            obj = self._wire(self.api.get(self.res, namespace, name))
        except ApiError as exc:
            if exc.code == 404:
                raise dyn_exc.NotFoundError(_NotFound(exc)) from None
            raise
        return dynamic.ResourceInstance(None, obj) if serialize else _Response(obj)

    def create(self, body: Any, namespace: str, dry_run: str | None = None, **_: Any) -> _Response:
        return _Response(self._wire(self.api.create(self.res, namespace, self._wire(body), dry_run=bool(dry_run))))

    def patch(
        self, body: Any, name: str, namespace: str, content_type: str, dry_run: str | None = None, **_: Any
    ) -> _Response:
        out = self.api.patch(self.res, namespace, name, content_type, self._wire(body), dry_run=bool(dry_run))
        return _Response(self._wire(out))


def apply(api: Api, res: Any, definition: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    """kubernetes.core's client-side apply of one definition, its answer decoded as the module does."""
    params: dict[str, Any] = {"serialize": False}
    if dry_run:
        params["dry_run"] = "All"
    resp = apply_mod.k8s_apply(ApiResource(api, res), copy.deepcopy(definition), **params)
    return service_mod.decode_response(resp)[0]


def nulls_in(value: Any, path: str = "") -> list[str]:
    """Paths of null-valued keys anywhere in ``value``."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in ([f"{path}.{k}"] if v is None else nulls_in(v, f"{path}.{k}"))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls_in(v, f"{path}[{i}]")]
    return []


def pod(ns: str, tier: str = "1", nulls: bool = False) -> dict[str, Any]:
    """The issue's templated Pod; ``nulls`` renders empty YAML keys (``annotations:``, ``env:``...)."""
    container: dict[str, Any] = {"name": "c", "image": "busybox:1.36", "env": [{"name": "TIER", "value": tier}]}
    meta: dict[str, Any] = {"name": "solo", "namespace": ns, "labels": {"app": "solo", "tier": tier}}
    spec: dict[str, Any] = {"restartPolicy": "Always", "containers": [container]}
    if nulls:
        meta["annotations"] = None
        spec["nodeSelector"] = None
        container.update(ports=None, resources=None, command=None)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


@pytest.fixture
def api() -> Api:
    api = Api(Store())
    api.create(NS, "", {"metadata": {"name": "w"}})
    return api


def recreate_namespace(api: Api, name: str = "w") -> None:
    """Delete the namespace and wait for the namespace controller, as ``wait: true`` does, then re-create it."""
    api.delete(NS, "", name)
    Controller(api.store).reconcile()  # the namespace controller empties and removes it
    with pytest.raises(ApiError):
        api.get(NS, "", name)
    with pytest.raises(ApiError):
        api.get(PODS, name, "solo")
    api.create(NS, "", {"metadata": {"name": name}})


def test_drop_nulls_removes_null_keys_at_every_depth_and_keeps_list_elements() -> None:
    obj = {"a": None, "b": {"c": None, "d": [{"e": None, "f": 1}, None]}, "g": []}
    assert drop_nulls(obj) == {"b": {"d": [{"f": 1}, None]}, "g": []}


def test_created_and_replaced_objects_never_hold_nulls(api: Api) -> None:
    """As an apiserver: a null on an optional field leaves it unset, on create, PUT and every PATCH type."""
    created = api.create(PODS, "w", pod("w", nulls=True))
    assert nulls_in(created) == [] and "annotations" not in created["metadata"]
    assert "nodeSelector" not in created["spec"] and created["spec"]["containers"][0]["resources"] == {}
    cm = api.create(CM, "w", {"metadata": {"name": "c", "labels": None, "annotations": None}, "data": None})
    assert nulls_in(cm) == [] and "data" not in cm
    replaced = api.update(CM, "w", "c", {"metadata": {"name": "c", "annotations": None}, "data": {"k": "v"}})
    assert nulls_in(replaced) == [] and replaced["data"] == {"k": "v"}
    patched = api.patch(CM, "w", "c", "application/json-patch+json",
                        [{"op": "add", "path": "/metadata/labels", "value": None}])  # fmt: skip
    assert nulls_in(patched) == []
    # a namespace with `labels:` left empty is created (its name label added), not a 500
    ns = api.create(NS, "", {"metadata": {"name": "n2", "labels": None}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "n2"}
    # a null value inside ConfigMap.data is still refused, as before
    with pytest.raises(ApiError) as err:
        api.create(CM, "w", {"metadata": {"name": "bad"}, "data": {"k": None}})
    assert err.value.code == 400


def test_apply_after_a_plain_create_of_a_template_with_empty_keys(api: Api) -> None:
    """Fails before the fix: the stored ``metadata.annotations: null`` broke the apply merge."""
    api.create(PODS, "w", pod("w", nulls=True))  # kubernetes.core.k8s without apply, or kubectl create
    first = apply(api, PODS, pod("w", nulls=True))
    assert LAST_APPLIED in first["metadata"]["annotations"]
    again = apply(api, PODS, pod("w", nulls=True))
    assert again == first  # a re-apply is a no-op: same object, same resourceVersion


def test_issue_sequence_namespace_recreated_then_templated_apply(api: Api) -> None:
    """Apply, apply again, delete and re-create the namespace, apply (create) and re-apply (patch)."""
    for nulls in (False, True):
        one = apply(api, PODS, pod("w", "1", nulls))
        assert apply(api, PODS, pod("w", "1", nulls)) == one
        recreate_namespace(api)
        two = apply(api, PODS, pod("w", "2", nulls))
        assert two["metadata"]["uid"] != one["metadata"]["uid"] and two["metadata"]["labels"]["tier"] == "2"
        assert apply(api, PODS, pod("w", "2", nulls)) == two
        three = apply(api, PODS, pod("w", "3", nulls))
        assert three["metadata"]["labels"]["tier"] == "3" and three["spec"]["containers"][0]["env"][0]["value"] == "3"
        assert nulls_in(three) == []
        recreate_namespace(api)


def test_apply_after_fields_are_nulled_by_a_patch_and_in_check_mode(api: Api) -> None:
    apply(api, PODS, pod("w"))
    # kubectl patch --type=merge -p '{"metadata":{"annotations":null,"labels":null}}' drops the last-applied
    api.patch(PODS, "w", "solo", "application/merge-patch+json", {"metadata": {"annotations": None, "labels": None}})
    out = apply(api, PODS, pod("w", "4"))
    assert out["metadata"]["labels"] == {"app": "solo", "tier": "4"} and LAST_APPLIED in out["metadata"]["annotations"]
    # check mode: kubernetes.core sends the same requests with dryRun=All; nothing changes
    before = api.get(PODS, "w", "solo")
    dry = apply(api, PODS, pod("w", "5", nulls=True), dry_run=True)
    assert dry["metadata"]["labels"]["tier"] == "5" and api.get(PODS, "w", "solo") == before
    recreate_namespace(api)
    created = apply(api, PODS, pod("w", "6"), dry_run=True)
    assert created["metadata"]["labels"]["tier"] == "6"
    with pytest.raises(ApiError):
        api.get(PODS, "w", "solo")


@pytest.mark.parametrize(
    ("res", "definition"),
    [
        (CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "w", "labels": None},
              "data": {"a": "1"}, "binaryData": None}),
        (SVC, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "w", "annotations": None},
               "spec": {"selector": {"app": "s"}, "ports": [{"port": 80, "targetPort": None}], "externalIPs": None}}),
        (DEPLOY, {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "d", "namespace": "w", "annotations": None},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}}, "strategy": None,
                           "template": {"metadata": {"labels": {"app": "d"}, "annotations": None},
                                        "spec": {"containers": [{"name": "c", "image": "x:1", "env": None}]}}}}),
    ],
    ids=["ConfigMap", "Service", "Deployment"],
)  # fmt: skip
def test_every_kind_plain_create_then_apply_twice_and_after_recreate(api: Api, res: Any, definition: Any) -> None:
    name = definition["metadata"]["name"]
    api.create(res, "w", copy.deepcopy(definition))
    first = apply(api, res, definition)
    assert apply(api, res, definition) == first and nulls_in(first) == []
    recreate_namespace(api)
    created = apply(api, res, definition)
    assert created["metadata"]["name"] == name and apply(api, res, definition) == created
