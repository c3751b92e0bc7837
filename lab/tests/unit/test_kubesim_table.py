"""kubesim Table rendering (kubectl get columns) and discovery documents."""

from __future__ import annotations

import datetime as dt

import pytest

from kubesim import discovery
from kubesim.table import human_duration, pod_status_reason, render_table


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (0, "0s"),
        (119, "119s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (400 * 86400, "400d"),
        (3 * 365 * 86400, "3y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def _pod(state: dict, restarts: int = 0) -> dict:
    created = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"name": "p", "creationTimestamp": created},
        "spec": {"containers": [{"name": "c"}], "nodeName": "n"},
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.1",
            "containerStatuses": [{"name": "c", "ready": "running" in state, "restartCount": restarts, "state": state}],
        },
    }


def test_pod_rows() -> None:
    assert pod_status_reason(_pod({"waiting": {"reason": "CrashLoopBackOff"}})) == "CrashLoopBackOff"
    assert pod_status_reason(_pod({"terminated": {"reason": "OOMKilled"}})) == "OOMKilled"
    table = render_table("Pod", [_pod({"running": {}}, 2)], {"resourceVersion": "7"})
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    row = table["rows"][0]
    assert row["cells"][:5] == ["p", "1/1", "Running", "2", "5m"]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    full = render_table("Pod", [_pod({"running": {}})], {}, include_object="Object")
    assert full["rows"][0]["object"]["spec"]["nodeName"] == "n"
    assert "object" not in render_table("Pod", [_pod({"running": {}})], {}, include_object="None")["rows"][0]


def test_deployment_and_generic_rows() -> None:
    dep = {
        "metadata": {"name": "d", "creationTimestamp": "2020-01-01T00:00:00Z"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "i:1"}]}},
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    cells = render_table("Deployment", [dep], {})["rows"][0]["cells"]
    assert cells[:4] == ["d", "2/3", 3, 2] and cells[5:] == ["c", "i:1", "app=d"]
    generic = render_table("Role", [{"metadata": {"name": "r", "creationTimestamp": "2020-01-01T00:00:00Z"}}], {})
    assert [c["name"] for c in generic["columnDefinitions"]] == ["Name", "Age"]


def test_discovery_documents() -> None:
    apps = discovery.resource_list("apps", "v1")
    names = {r["name"]: r for r in apps["resources"]}
    assert names["deployments"]["shortNames"] == ["deploy"] and names["deployments"]["namespaced"]
    assert names["deployments/scale"]["kind"] == "Scale" and names["deployments/scale"]["group"] == "autoscaling"
    assert "statefulsets/scale" in names and "deployments/status" in names
    core = {r["name"] for r in discovery.resource_list("", "v1")["resources"]}
    assert {"pods/log", "pods/status", "serviceaccounts/token", "events", "nodes"} <= core
    groups = {g["name"]: g for g in discovery.api_group_list()["groups"]}
    assert groups["autoscaling"]["preferredVersion"]["version"] == "v2"
    assert {"metrics.k8s.io", "coordination.k8s.io", "events.k8s.io", "authentication.k8s.io"} <= set(groups)
    doc = discovery.openapi_v3_group_version("apps", "v1")
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "Deployment"
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    assert "apis/apps/v1" in discovery.openapi_v3_root()["paths"]
