"""Opt-in RBAC enforcement (``"authorization": "RBAC"``): a service account gets exactly what its Role grants."""

from __future__ import annotations

import json
from typing import Any

ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "remediation", "namespace": "voicehive"},
    "rules": [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments", "deployments/scale"],
            "verbs": ["get", "list", "watch", "patch"],
        },
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["rate-limit-config"]},
    ],
}
BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "remediation", "namespace": "voicehive"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "remediation"},
    "subjects": [{"kind": "ServiceAccount", "name": "voicehive-orchestrator", "namespace": "voicehive"}],
}


def test_rbac_enforced_for_service_accounts(kubesim_factory: Any) -> None:
    sim = kubesim_factory(authorization="RBAC")
    sim.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [ROLE, BINDING]}))
    token = sim.kubectl("create", "token", "voicehive-orchestrator", "-n", "voicehive").stdout.strip()
    base = "/apis/apps/v1/namespaces/voicehive/deployments"
    assert sim.api("GET", base, token=token)[0] == 200
    assert (
        sim.api("PATCH", f"{base}/redis/scale", {"spec": {"replicas": 2}}, "application/merge-patch+json", token=token)[
            0
        ]
        == 200
    )
    code, body = sim.api("DELETE", f"{base}/redis", token=token)
    assert code == 403 and body["reason"] == "Forbidden"
    assert 'cannot delete resource "deployments" in API group "apps" in the namespace "voicehive"' in body["message"]
    assert sim.api("GET", "/apis/apps/v1/namespaces/voicehive-dr/deployments", token=token)[0] == 403
    assert sim.api("GET", "/api/v1/namespaces/voicehive/configmaps/rate-limit-config", token=token)[0] == 200
    assert sim.api("GET", "/api/v1/namespaces/voicehive/configmaps/voicehive-config", token=token)[0] == 403
    assert sim.api("GET", "/api/v1/namespaces/voicehive/secrets", token=token)[0] == 403
    assert sim.api("GET", "/apis/apps/v1", token=token)[0] == 200  # discovery stays open
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "namespace": "voicehive",
                "verb": "patch",
                "group": "apps",
                "resource": "deployments",
            }
        },
    }
    assert (
        sim.api("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review, token=token)[1]["status"][
            "allowed"
        ]
        is True
    )
    review["spec"]["resourceAttributes"]["verb"] = "delete"
    assert (
        sim.api("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review, token=token)[1]["status"][
            "allowed"
        ]
        is False
    )
    denied = [e for e in sim.requests() if e["code"] == 403]
    assert {e["user"] for e in denied} == {"system:serviceaccount:voicehive:voicehive-orchestrator"}
    # the admin (system:masters) is never restricted
    assert sim.kubectl("auth", "can-i", "delete", "secrets", "-n", "voicehive").stdout.strip() == "yes"
