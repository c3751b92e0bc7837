"""kubesim patch flavours: JSON merge, strategic merge (merge keys and directives), JSON patch, apply."""

from __future__ import annotations

import pytest

from kubesim.patch import APPLY_PATCH, PatchError, apply_any, json_patch, merge_patch, strategic_merge

DEPLOY = {
    "metadata": {"name": "orchestrator", "labels": {"app": "orchestrator"}},
    "spec": {
        "replicas": 3,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "orchestrator",
                        "image": "v1",
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}],
                        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}],
                    },
                    {"name": "sidecar", "image": "s1"},
                ],
                "volumes": [{"name": "cfg", "configMap": {"name": "c"}}],
            }
        },
    },
}


def _containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def test_merge_patch() -> None:
    out = merge_patch(DEPLOY, {"metadata": {"labels": {"app": None, "x": "y"}}, "spec": {"replicas": 5}})
    assert out["metadata"]["labels"] == {"x": "y"} and out["spec"]["replicas"] == 5
    lists = merge_patch(DEPLOY, {"spec": {"template": {"spec": {"containers": [{"name": "only"}]}}}})
    assert _containers(lists) == [{"name": "only"}]  # RFC 7386 replaces lists
    assert DEPLOY["spec"]["replicas"] == 3  # input untouched


def test_strategic_merge_by_keys() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "orchestrator",
                            "image": "v2",
                            "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                            "ports": [{"containerPort": 9090, "name": "prom"}],
                        }
                    ]
                }
            }
        }
    }
    out = strategic_merge(DEPLOY, patch)
    main, sidecar = _containers(out)
    assert sidecar == {"name": "sidecar", "image": "s1"}
    assert main["image"] == "v2"
    assert main["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]
    assert main["ports"][1] == {"name": "prom", "containerPort": 9090}
    assert main["volumeMounts"] == [{"name": "cfg", "mountPath": "/etc/cfg"}]


def test_strategic_directives() -> None:
    deleted = strategic_merge(
        DEPLOY,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "orchestrator", "env": [{"name": "A", "$patch": "delete"}]},
                            {"name": "sidecar", "$patch": "delete"},
                        ]
                    }
                }
            }
        },
    )
    assert [c["name"] for c in _containers(deleted)] == ["orchestrator"]
    assert _containers(deleted)[0]["env"] == [{"name": "B", "value": "2"}]
    replaced = strategic_merge(DEPLOY, {"metadata": {"labels": {"$patch": "replace", "new": "1"}}})
    assert replaced["metadata"]["labels"] == {"new": "1"}
    ordered = strategic_merge(
        DEPLOY,
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "orchestrator"}],
                        "containers": [{"name": "sidecar", "image": "s2"}],
                    }
                }
            }
        },
    )
    assert [c["name"] for c in _containers(ordered)] == ["sidecar", "orchestrator"]
    assert "$setElementOrder/containers" not in ordered["spec"]["template"]["spec"]
    retained = strategic_merge(
        {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
    )
    assert retained["spec"]["strategy"] == {"type": "Recreate"}
    fin = strategic_merge(
        {"metadata": {"finalizers": ["a", "b"]}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}
    )
    assert fin["metadata"]["finalizers"] == ["b"]
    nulled = strategic_merge(DEPLOY, {"spec": {"template": {"spec": {"volumes": None}}}})
    assert "volumes" not in nulled["spec"]["template"]["spec"]


def test_service_ports_merge_on_port_and_conditions_on_type() -> None:
    svc = {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    out = strategic_merge(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9000}, {"port": 443}]}})
    assert out["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 9000}, {"port": 443}]
    status = {"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "X", "status": "True"}]}}
    out = strategic_merge(status, {"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "False"}, {"type": "X", "status": "True"}]
    with pytest.raises(PatchError):
        strategic_merge(DEPLOY, {"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}})


def test_json_patch_and_apply() -> None:
    out = json_patch(
        DEPLOY,
        [
            {"op": "replace", "path": "/spec/replicas", "value": 1},
            {"op": "add", "path": "/metadata/labels/x", "value": "y"},
            {"op": "test", "path": "/metadata/name", "value": "orchestrator"},
        ],
    )
    assert out["spec"]["replicas"] == 1 and out["metadata"]["labels"]["x"] == "y"
    with pytest.raises(PatchError):
        json_patch(DEPLOY, [{"op": "remove", "path": "/spec/nope"}])
    with pytest.raises(PatchError):
        json_patch(DEPLOY, [{"op": "test", "path": "/spec/replicas", "value": 9}])
    with pytest.raises(PatchError):
        json_patch(DEPLOY, {"op": "add"})
    applied = apply_any(
        APPLY_PATCH,
        DEPLOY,
        {
            "spec": {
                "replicas": 4,
                "template": {"spec": {"containers": [{"name": "orchestrator", "env": [{"name": "A", "value": "9"}]}]}},
            }
        },
    )
    assert applied["spec"]["replicas"] == 4 and _containers(applied)[0]["env"][0] == {"name": "A", "value": "9"}
    assert len(_containers(applied)) == 2
