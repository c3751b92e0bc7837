"""kubesim's optional RBAC authorizer."""

from __future__ import annotations

from kubesim import discovery
from kubesim.api import Api
from kubesim.rbac import Attributes, allowed, forbidden_message, review_status
from kubesim.store import Store

SA = {"username": "system:serviceaccount:vh:bot", "groups": ["system:serviceaccounts", "system:authenticated"]}


def _store() -> Store:
    store = Store()
    api = Api(store)
    rbac = "rbac.authorization.k8s.io"
    api.create(discovery.lookup("", "v1", "namespaces"), "", {"metadata": {"name": "vh"}})
    api.create(
        discovery.lookup(rbac, "v1", "roles"),
        "vh",
        {
            "metadata": {"name": "r"},
            "rules": [
                {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["patch"]},
                {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["a"]},
            ],
        },
    )
    api.create(
        discovery.lookup(rbac, "v1", "rolebindings"),
        "vh",
        {
            "metadata": {"name": "rb"},
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot"}],
        },
    )
    api.create(
        discovery.lookup(rbac, "v1", "clusterroles"),
        "",
        {
            "metadata": {"name": "view-nodes", "labels": {"agg": "yes"}},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}],
        },
    )
    api.create(
        discovery.lookup(rbac, "v1", "clusterroles"),
        "",
        {
            "metadata": {"name": "aggregate"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "yes"}}]},
        },
    )
    api.create(
        discovery.lookup(rbac, "v1", "clusterrolebindings"),
        "",
        {
            "metadata": {"name": "crb"},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "aggregate"},
            "subjects": [{"kind": "Group", "name": "system:serviceaccounts"}],
        },
    )
    return store


def test_rules_subresources_and_names() -> None:
    store = _store()
    assert allowed(store, SA, Attributes("patch", "apps", "deployments", "scale", "vh", "redis"))[0]
    assert not allowed(store, SA, Attributes("patch", "apps", "deployments", "", "vh", "redis"))[0]
    assert allowed(store, SA, Attributes("get", "", "pods", "log", "vh", "p"))[0]
    assert not allowed(store, SA, Attributes("get", "", "pods", "", "vh", "p"))[0]
    assert allowed(store, SA, Attributes("get", "", "configmaps", "", "vh", "a"))[0]
    assert not allowed(store, SA, Attributes("get", "", "configmaps", "", "vh", "b"))[0]
    assert not allowed(store, SA, Attributes("patch", "apps", "deployments", "scale", "other", "redis"))[0]
    ok, reason = allowed(store, SA, Attributes("list", "", "nodes"))
    assert ok and "crb" in reason  # through the aggregated ClusterRole and the group binding
    assert allowed(store, {"username": "admin", "groups": ["system:masters"]}, Attributes("delete", "", "nodes"))[0]
    assert allowed(store, SA, Attributes("get", "", "", path="/apis"))[0]


def test_messages_and_reviews() -> None:
    store = _store()
    attrs = Attributes("delete", "apps", "deployments", "", "vh", "redis")
    assert forbidden_message(SA, attrs) == (
        'deployments "redis" is forbidden: User "system:serviceaccount:vh:bot" cannot delete resource "deployments" '
        'in API group "apps" in the namespace "vh"'
    )
    spec = {
        "resourceAttributes": {
            "namespace": "vh",
            "verb": "patch",
            "group": "apps",
            "resource": "deployments",
            "subresource": "scale",
        }
    }
    assert review_status(store, SA, spec)["allowed"] is True
    spec["resourceAttributes"]["verb"] = "update"
    assert review_status(store, SA, spec) == {"allowed": False}
