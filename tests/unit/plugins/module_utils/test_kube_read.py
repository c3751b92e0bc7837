# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import json
import os
import sys
import types
from pathlib import Path

import pytest
import yaml

from ansible_collections.voicehive.remediation.plugins.module_utils import _kube_read as kube

TOKEN = "kube-token-" + "x" * 20


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """No KUBECONFIG, no ~/.kube/config, not in a cluster."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def write_kubeconfig(path, user, cluster=None, current="lab", extra_contexts=()):
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster or {"server": "https://127.0.0.1:16443"}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "lab", "context": {"cluster": "c", "user": "u"}}, *extra_contexts],
        "current-context": current,
    }
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_host_and_api_key_without_a_kubeconfig(no_env):
    conn = kube.connect({"host": "https://10.0.0.1:6443/", "api_key": TOKEN, "ca_cert": "/etc/ca.pem"})
    try:
        assert conn.server == "https://10.0.0.1:6443"
        assert conn.headers == {"Authorization": f"Bearer {TOKEN}"}
        assert conn.ca_path == "/etc/ca.pem" and conn.validate_certs is True
    finally:
        conn.close()


def test_bearer_prefix_is_kept_once(no_env):
    conn = kube.connect({"host": "https://h", "api_key": f"Bearer {TOKEN}"})
    assert conn.headers["Authorization"] == f"Bearer {TOKEN}"
    conn.close()


def test_kubeconfig_with_token_and_relative_ca(no_env, tmp_path):
    (tmp_path / "ca.crt").write_text("CA")
    path = write_kubeconfig(
        tmp_path / "config",
        {"token": TOKEN},
        {"server": "https://127.0.0.1:16443", "certificate-authority": "ca.crt"},
    )
    conn = kube.connect({"kubeconfig": path, "context": "lab"})
    assert conn.server == "https://127.0.0.1:16443"
    assert conn.ca_path == str(tmp_path / "ca.crt")
    assert conn.headers["Authorization"] == f"Bearer {TOKEN}"
    conn.close()


def test_embedded_certificates_are_written_privately_and_removed(no_env, tmp_path):
    data = base64.b64encode(b"PEM").decode()
    path = write_kubeconfig(
        tmp_path / "config",
        {"client-certificate-data": data, "client-key-data": data},
        {"server": "https://h", "certificate-authority-data": data, "insecure-skip-tls-verify": True},
    )
    conn = kube.connect({"kubeconfig": path})
    files = [conn.ca_path, conn.client_cert, conn.client_key]
    assert all(Path(f).read_bytes() == b"PEM" for f in files)
    assert all(oct(os.stat(f).st_mode & 0o777) == "0o600" for f in files)
    assert conn.validate_certs is False and "Authorization" not in conn.headers
    conn.close()
    assert not any(os.path.exists(f) for f in files)


def test_token_file_and_basic_auth(no_env, tmp_path):
    (tmp_path / "token").write_text(TOKEN + "\n")
    conn = kube.connect({"kubeconfig": write_kubeconfig(tmp_path / "a", {"tokenFile": "token"})})
    assert conn.headers["Authorization"] == f"Bearer {TOKEN}"
    conn.close()
    conn = kube.connect({"kubeconfig": write_kubeconfig(tmp_path / "b", {"username": "admin", "password": "pw"})})
    assert conn.headers["Authorization"] == "Basic " + base64.b64encode(b"admin:pw").decode()
    conn.close()


def test_options_override_the_kubeconfig(no_env, tmp_path):
    path = write_kubeconfig(tmp_path / "config", {"token": "from-file"})
    conn = kube.connect(
        {"kubeconfig": path, "host": "https://other:6443", "api_key": TOKEN, "validate_certs": False, "ca_cert": "/x"}
    )
    assert (conn.server, conn.headers["Authorization"], conn.validate_certs, conn.ca_path) == (
        "https://other:6443",
        f"Bearer {TOKEN}",
        False,
        "/x",
    )
    conn.close()


def test_kubeconfig_env_list_first_definition_wins(no_env, tmp_path, monkeypatch):
    first = write_kubeconfig(tmp_path / "first", {"token": "first"}, current="lab")
    second = write_kubeconfig(tmp_path / "second", {"token": "second"}, current="other")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([first, str(tmp_path / "missing"), second]))
    conn = kube.connect({})
    assert conn.headers["Authorization"] == "Bearer first"
    conn.close()


def test_kubeconfig_as_a_dict(no_env, tmp_path):
    path = write_kubeconfig(tmp_path / "config", {"token": TOKEN})
    conn = kube.connect({"kubeconfig": yaml.safe_load(Path(path).read_text())})
    assert conn.server == "https://127.0.0.1:16443"
    conn.close()


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "no connection settings"),
        ({"kubeconfig": "/nonexistent/config"}, "cannot read the kubeconfig /nonexistent/config"),
        ({"kubeconfig": 42}, "kubeconfig must be a path or a dictionary"),
    ],
)
def test_bad_connection_settings_are_refused(no_env, params, message):
    with pytest.raises(kube.KubeConfigError, match=message):
        kube.connect(params)


def test_unknown_context_and_cluster(no_env, tmp_path):
    path = write_kubeconfig(tmp_path / "config", {"token": TOKEN})
    with pytest.raises(kube.KubeConfigError, match="context 'prod' is not in the kubeconfig"):
        kube.connect({"kubeconfig": path, "context": "prod"})
    broken = write_kubeconfig(
        tmp_path / "broken",
        {"token": TOKEN},
        extra_contexts=[{"name": "x", "context": {"cluster": "gone", "user": "u"}}],
    )
    with pytest.raises(kube.KubeConfigError, match="cluster 'gone' of context 'x'"):
        kube.connect({"kubeconfig": broken, "context": "x"})
    (tmp_path / "bad").write_text("clusters: [")
    with pytest.raises(kube.KubeConfigError, match="is not valid YAML"):
        kube.connect({"kubeconfig": str(tmp_path / "bad")})
    (tmp_path / "none").write_text(yaml.safe_dump({"clusters": [], "users": [], "contexts": []}))
    with pytest.raises(kube.KubeConfigError, match="no current-context"):
        kube.connect({"kubeconfig": str(tmp_path / "none")})


def test_exec_plugin_users_go_through_the_kubernetes_library(no_env, tmp_path, monkeypatch):
    path = write_kubeconfig(tmp_path / "config", {"exec": {"command": "aws", "args": ["eks", "get-token"]}})
    loaded = {}

    class Configuration:
        host = "https://eks.example:443"
        ssl_ca_cert = "/tmp/ca"
        verify_ssl = True
        cert_file = key_file = None

        def get_api_key_with_prefix(self, key, alias=None):
            loaded["key"] = (key, alias)
            return f"Bearer {TOKEN}"

    def load_kube_config(config_file, context, client_configuration, persist_config):
        loaded.update(config_file=config_file, context=context, persist=persist_config)

    fake = types.ModuleType("kubernetes")
    fake.client = types.SimpleNamespace(Configuration=Configuration)
    fake.config = types.SimpleNamespace(load_kube_config=load_kube_config)
    monkeypatch.setitem(sys.modules, "kubernetes", fake)
    monkeypatch.setitem(sys.modules, "kubernetes.client", fake.client)
    monkeypatch.setitem(sys.modules, "kubernetes.config", fake.config)
    conn = kube.connect({"kubeconfig": path})
    assert loaded == {"config_file": path, "context": "lab", "persist": False, "key": ("BearerToken", "authorization")}
    assert conn.server == "https://eks.example:443" and conn.headers["Authorization"] == f"Bearer {TOKEN}"
    conn.close()


def test_in_cluster_service_account(no_env, monkeypatch, tmp_path):
    (tmp_path / "token").write_text(TOKEN)
    monkeypatch.setattr(kube, "IN_CLUSTER_DIR", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    conn = kube.connect({})
    assert conn.server == "https://10.96.0.1:443" and conn.ca_path == str(tmp_path / "ca.crt")
    assert conn.headers["Authorization"] == f"Bearer {TOKEN}"
    conn.close()


@pytest.mark.parametrize(
    "value, number",
    [
        ("250m", 0.25),
        ("2", 2.0),
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("1.5G", 1.5e9),
        ("1e3", 1000.0),
        ("100n", 1e-7),
        ("3k", 3000.0),
        (4, 4.0),
        (None, None),
        ("lots", None),
        (True, None),
    ],
)
def test_parse_quantity(value, number):
    assert (
        kube.parse_quantity(value) == pytest.approx(number)
        if number is not None
        else kube.parse_quantity(value) is None
    )


def test_cpu_and_memory_units():
    assert kube.cpu_millicores("500m") == 500 and kube.cpu_millicores("1") == 1000
    assert kube.memory_bytes("1Gi") == 1073741824 and kube.memory_bytes(None) is None


DEPLOYMENT = {
    "metadata": {
        "name": "orchestrator",
        "labels": {"app": "orchestrator"},
        "generation": 3,
        "resourceVersion": "9",
        "annotations": {"deployment.kubernetes.io/revision": "2"},
        "managedFields": [{"manager": "kubectl"}],
    },
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "orchestrator"}},
        "template": {
            "metadata": {"labels": {"app": "orchestrator"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "t"}},
            "spec": {
                "containers": [
                    {
                        "name": "orchestrator",
                        "image": "voicehive/orchestrator:1.8.2",
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "env": [
                            {"name": "FALLBACK_MODE", "value": "false"},
                            {
                                "name": "JWT_SECRET",
                                "valueFrom": {"secretKeyRef": {"name": "jwt-secret", "key": "secret"}},
                            },
                            {"name": "LIMITS", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
                            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        ],
                        "resources": {
                            "requests": {"cpu": "500m", "memory": "512Mi"},
                            "limits": {"cpu": "1", "memory": "1Gi"},
                        },
                    }
                ]
            },
        },
    },
    "status": {
        "observedGeneration": 3,
        "replicas": 3,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "updatedReplicas": 3,
        "unavailableReplicas": 1,
        "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}],
    },
}


def test_deployment_summary_describes_secrets_never_resolves_them():
    d = kube.summarize_deployment(DEPLOYMENT)
    assert d["replicas"] == {"desired": 3, "current": 3, "ready": 2, "available": 2, "updated": 3, "unavailable": 1}
    assert d["revision"] == "2" and d["generation"] == 3 and d["observed_generation"] == 3
    container = d["template"]["containers"]["orchestrator"]
    assert container["env"] == {
        "FALLBACK_MODE": "false",
        "JWT_SECRET": "<from secret jwt-secret/secret>",
        "LIMITS": "<from configmap c/k>",
        "POD": "<from field>",
    }
    assert (
        container["resources"]["limits"]["memory_bytes"] == 2**30 and container["resources"]["requests"]["cpu_m"] == 500
    )
    assert container["ports"] == {"http": 8080}
    assert d["template"]["annotations"] == {"kubectl.kubernetes.io/restartedAt": "t"}
    assert d["conditions"]["Available"]["status"] == "False"
    assert "managedFields" not in json.dumps(d)


def test_pod_summary_has_states_restarts_and_oom():
    pod = {
        "metadata": {
            "name": "orchestrator-1",
            "ownerReferences": [{"kind": "ReplicaSet", "name": "orchestrator-7q"}],
            "deletionTimestamp": "2026-11-29T00:00:00Z",
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "orchestrator", "image": "i"}, {"name": "sidecar"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {
                    "name": "orchestrator",
                    "ready": False,
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s " * 50}},
                    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "t1"}},
                },
                {"name": "sidecar", "ready": True, "restartCount": 1, "state": {"running": {"startedAt": "t0"}}},
            ],
        },
    }
    p = kube.summarize_pod(pod)
    assert p["owner"] == "ReplicaSet/orchestrator-7q" and p["deleting"] and not p["ready"] and p["restarts"] == 5
    main = p["containers"]["orchestrator"]
    assert main["current"]["state"] == "waiting" and main["current"]["reason"] == "CrashLoopBackOff"
    assert len(main["current"]["message"]) <= kube.MESSAGE_LIMIT + 3
    assert main["last"] == {"state": "terminated", "reason": "OOMKilled", "exit_code": 137, "finished_at": "t1"}
    assert p["containers"]["sidecar"]["current"] == {"state": "running", "reason": None, "started_at": "t0"}
    assert p["containers"]["sidecar"]["last"] is None


def test_service_endpoints_configmap_hpa_metrics_and_statefulset_summaries():
    svc = kube.summarize_service(
        {
            "metadata": {"name": "orchestrator"},
            "spec": {
                "selector": {"app": "orchestrator"},
                "clusterIP": "10.0.0.5",
                "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            },
        }
    )
    assert svc["selector"] == {"app": "orchestrator"} and svc["ports"][0]["target_port"] == 8080
    ep = kube.summarize_endpoints(
        {
            "metadata": {"name": "orchestrator"},
            "subsets": [
                {
                    "addresses": [{"ip": "10.1.0.1", "targetRef": {"name": "orchestrator-1"}}],
                    "notReadyAddresses": [{"ip": "10.1.0.2"}],
                    "ports": [{"port": 8080}],
                }
            ],
        }
    )
    assert ep["ready"] == [{"ip": "10.1.0.1", "pod": "orchestrator-1"}] and ep["not_ready"] == [
        {"ip": "10.1.0.2", "pod": None}
    ]
    assert ep["ports"] == [8080]
    assert kube.summarize_endpoints({"metadata": {"name": "x"}})["ready"] == []
    cm = kube.summarize_configmap(
        {
            "metadata": {"name": "rate-limit-config"},
            "data": {"requests_per_minute": "100"},
            "binaryData": {"blob": "AA=="},
        }
    )
    assert cm["data"] == {"requests_per_minute": "100"} and cm["binary_keys"] == ["blob"]
    assert cm["annotations"] == {}
    annotated = {"metadata": {"name": "x", "annotations": {"voicehive.io/previous-requests-per-minute": "60"}}}
    assert kube.summarize_configmap(annotated)["annotations"] == {"voicehive.io/previous-requests-per-minute": "60"}
    hpa = kube.summarize_hpa(
        {
            "metadata": {"name": "orchestrator"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "orchestrator"}, "maxReplicas": 10},
            "status": {"currentReplicas": 3, "desiredReplicas": 5},
        }
    )
    assert (hpa["target"], hpa["min_replicas"], hpa["max_replicas"], hpa["desired_replicas"]) == (
        "Deployment/orchestrator",
        1,
        10,
        5,
    )
    metrics = kube.summarize_pod_metrics(
        {
            "metadata": {"name": "orchestrator-1"},
            "window": "30s",
            "containers": [
                {"name": "a", "usage": {"cpu": "250m", "memory": "100Mi"}},
                {"name": "b", "usage": {"cpu": "1", "memory": "1Mi"}},
            ],
        }
    )
    assert metrics["cpu_m"] == 1250 and metrics["memory_bytes"] == 101 * 2**20
    sts = kube.summarize_statefulset(
        {
            "metadata": {"name": "postgresql"},
            "spec": {"replicas": 1},
            "status": {"readyReplicas": 0, "currentRevision": "a", "updateRevision": "b"},
        }
    )
    assert sts["replicas"]["ready"] == 0 and (sts["current_revision"], sts["update_revision"]) == ("a", "b")
    rs = kube.summarize_replicaset(
        {
            "metadata": {"name": "o-1", "ownerReferences": [{"kind": "Deployment", "name": "o"}]},
            "spec": {"replicas": 2},
            "status": {},
        }
    )
    assert rs["owner"] == "Deployment/o" and rs["replicas"] == {"desired": 2, "ready": 0}


def kube_api(http_server, token=TOKEN):
    base, routes = http_server
    return kube.KubeConnection(base, {"Authorization": f"Bearer {token}"}), routes


def test_read_kind_lists_by_name_with_the_label_selector(http_server):
    conn, routes = kube_api(http_server)
    routes.routes["/apis/apps/v1/namespaces/voicehive/deployments"] = (200, {"items": [DEPLOYMENT]})
    found = kube.read_kind(conn, "voicehive", "deployments", 5, label_selector="app=orchestrator")
    assert list(found) == ["orchestrator"]
    request = routes.requests[-1]
    assert request["path"] == "/apis/apps/v1/namespaces/voicehive/deployments?labelSelector=app%3Dorchestrator"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_events_are_paged_and_the_newest_kept(http_server):
    conn, routes = kube_api(http_server)

    def events(path, _headers):
        page2 = "continue=p2" in path
        items = [
            {
                "type": "Warning" if i % 2 else "Normal",
                "reason": f"r{i}",
                "message": "m",
                "involvedObject": {"kind": "Pod", "name": f"p{i}"},
                "lastTimestamp": f"2026-11-29T00:00:{i:02d}Z",
            }
            for i in (range(5, 10) if page2 else range(5))
        ]
        return 200, {"items": items, "metadata": {} if page2 else {"continue": "p2"}}

    routes.routes["/api/v1/namespaces/voicehive/events"] = events
    found = kube.read_kind(conn, "voicehive", "events", 5, events_limit=3)
    assert found["total"] == 10 and found["complete"] and found["warnings"] == 5
    assert [e["reason"] for e in found["recent"]] == ["r9", "r8", "r7"]
    assert len(routes.requests) == 2


def test_namespace_missing_forbidden_and_unreachable(http_server):
    conn, routes = kube_api(http_server)
    assert kube.read_namespace_object(conn, "voicehive", 5) == {"name": "voicehive", "exists": False, "phase": None}
    routes.routes["/api/v1/namespaces/voicehive"] = (403, {"message": 'namespaces "voicehive" is forbidden'})
    with pytest.raises(kube.KubeReadError, match=r"HTTP 403: namespaces .* is forbidden .*RBAC") as caught:
        kube.read_namespace_object(conn, "voicehive", 5)
    assert caught.value.status == 403
    routes.routes["/api/v1/namespaces/voicehive"] = (200, {"status": {"phase": "Active"}})
    assert kube.read_namespace_object(conn, "voicehive", 5)["exists"] is True
    routes.routes["/api/v1/namespaces/voicehive"] = (200, b"<html>")
    with pytest.raises(kube.KubeReadError, match="not JSON"):
        kube.read_namespace_object(conn, "voicehive", 5)
    down = kube.KubeConnection("http://127.0.0.1:9", {"Authorization": f"Bearer {TOKEN}"})
    with pytest.raises(
        kube.KubeReadError, match=r"cannot reach the Kubernetes API server at http://127\.0\.0\.1:9"
    ) as caught:
        kube.read_namespace_object(down, "voicehive", 2)
    assert caught.value.status is None and TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    "method, content_type",
    [("POST", "application/json"), ("PUT", "application/json"), ("PATCH", "application/merge-patch+json")],
)
def test_request_sends_json_and_decodes_the_answer(http_server, method, content_type):
    conn, routes = kube_api(http_server)
    routes.routes["/api/v1/namespaces/voicehive/configmaps"] = (201, {"metadata": {"resourceVersion": "8"}})
    body = {"metadata": {"name": "c", "resourceVersion": "7"}, "data": {"k": "v ü"}}
    answer = conn.request(
        method.lower(), "/api/v1/namespaces/voicehive/configmaps", body=body, params={"dryRun": "All"}
    )
    assert answer == {"metadata": {"resourceVersion": "8"}}
    sent = routes.requests[-1]
    assert sent["method"] == method and sent["path"] == "/api/v1/namespaces/voicehive/configmaps?dryRun=All"
    assert sent["headers"]["Content-Type"] == content_type
    assert sent["headers"]["Accept"] == "application/json"
    assert sent["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(sent["body"]) == body


def test_get_sends_no_body(http_server):
    conn, routes = kube_api(http_server)
    routes.routes["/api/v1/namespaces/voicehive"] = (200, {"status": {"phase": "Active"}})
    assert conn.get("/api/v1/namespaces/voicehive") == {"status": {"phase": "Active"}}
    assert routes.requests[-1]["body"] == b"" and "Content-Type" not in routes.requests[-1]["headers"]


@pytest.mark.parametrize(
    "status, reason, message, text",
    [
        (409, "Conflict", "the object has been modified", "HTTP 409: the object has been modified"),
        (404, "Not Found", 'leases "x" not found', 'HTTP 404: leases "x" not found'),
        (403, "Forbidden", 'leases "x" is forbidden',
         'HTTP 403: leases "x" is forbidden (the credentials lack the RBAC permission (see docs/rbac/'),
        (422, "Unprocessable Entity", "spec.leaseDurationSeconds: Invalid value", "HTTP 422: spec.leaseDuration"),
        (599, "", "odd", "HTTP 599: odd"),
    ],
)  # fmt: skip
def test_request_errors_carry_the_status(http_server, status, reason, message, text):
    conn, routes = kube_api(http_server)
    answer = {"kind": "Status", "code": status, "message": message}
    routes.routes["/apis/coordination.k8s.io/v1/namespaces/voicehive/leases/x"] = (status, answer)
    with pytest.raises(kube.KubeReadError) as caught:
        conn.request("PUT", "/apis/coordination.k8s.io/v1/namespaces/voicehive/leases/x", body={"spec": {}})
    assert str(caught.value).startswith(text)
    assert (caught.value.status, caught.value.reason) == (status, reason)
    assert json.loads(caught.value.body) == answer
    assert TOKEN not in str(caught.value)


def test_unreachable_and_bad_tls_have_no_status(tmp_path):
    with pytest.raises(kube.KubeReadError, match="cannot reach the Kubernetes API server") as caught:
        kube.KubeConnection("http://127.0.0.1:9").request("POST", "/x", body={}, timeout=2)
    assert (caught.value.status, caught.value.reason, caught.value.body) == (None, "", b"")
    (tmp_path / "ca.crt").write_text("not a certificate")
    with pytest.raises(kube.KubeReadError, match=r"cannot set up TLS for https://127\.0\.0\.1:9"):
        kube.KubeConnection("https://127.0.0.1:9", ca_path=str(tmp_path / "ca.crt")).request("GET", "/x")


def test_requests_go_through_the_proxy(http_server, no_env, monkeypatch):
    proxy, routes = http_server
    routes.routes["/api/v1/namespaces/voicehive"] = (200, {"status": {"phase": "Active"}})
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    conn = kube.connect({"host": "http://kube.invalid:6443", "api_key": TOKEN, "proxy": proxy})
    assert conn.get("/api/v1/namespaces/voicehive")["status"]["phase"] == "Active"
    assert routes.requests[-1]["path"] == "http://kube.invalid:6443/api/v1/namespaces/voicehive"  # absolute: proxied
    conn.close()
    monkeypatch.setenv("http_proxy", proxy)  # without the option, the environment's proxy
    assert kube.KubeConnection("http://kube2.invalid").get("/api/v1/namespaces/voicehive")
    assert routes.requests[-1]["path"] == "http://kube2.invalid/api/v1/namespaces/voicehive"


def test_kubeconfig_proxy_url_and_the_option_over_it(no_env, tmp_path):
    path = write_kubeconfig(
        tmp_path / "config", {"token": TOKEN}, {"server": "https://h:6443", "proxy-url": "http://squid:3128"}
    )
    conn = kube.connect({"kubeconfig": path})
    assert conn.proxy == "http://squid:3128"
    conn.close()
    conn = kube.connect({"kubeconfig": path, "proxy": "http://other:8080"})
    assert conn.proxy == "http://other:8080"
    conn.close()
    conn = kube.connect({"host": "https://h", "api_key": TOKEN})
    assert conn.proxy is None
    conn.close()


def b64(text: bytes) -> str:
    return base64.b64encode(text).decode()


def test_secret_summary_never_carries_a_value():
    signing = base64.b64encode(b"k" * 48)  # a 48-byte key, stored as base64 text
    secret = {
        "metadata": {
            "name": "jwt-secret",
            "creationTimestamp": "2026-11-01T00:00:00Z",
            "managedFields": [
                {"manager": "a", "time": "2026-11-02T00:00:00Z"},
                {"manager": "b", "time": "2026-11-03T00:00:00Z"},
            ],
        },
        "type": "Opaque",
        "data": {"secret": b64(signing), "short": b64(b"tooshort"), "plain": b64(b"p@ss word!"), "broken": "%%%"},
    }
    summary = kube.summarize_secret(secret)
    assert summary["updated"] == "2026-11-03T00:00:00Z" and summary["exists"]
    keys = summary["data"]
    assert keys["secret"] == {"length": len(signing), "fingerprint": keys["secret"]["fingerprint"], "base64_bytes": 48}
    assert len(keys["secret"]["fingerprint"]) == 12
    assert keys["short"]["base64_bytes"] == 6 and keys["plain"]["base64_bytes"] is None
    assert keys["broken"]["error"] == "the Secret's data is not base64"
    text = json.dumps(summary)
    assert signing.decode() not in text and b64(signing) not in text and "p@ss" not in text


def test_last_write_falls_back_to_creation():
    assert kube.last_write({"creationTimestamp": "t0"}) == "t0"
    assert kube.last_write({}) is None


def test_read_secret_by_name(http_server):
    conn, routes = kube_api(http_server)
    routes.routes["/api/v1/namespaces/voicehive/secrets/jwt-secret"] = (
        200,
        {"metadata": {"name": "jwt-secret"}, "data": {"secret": b64(b"x" * 40)}},
    )
    found = kube.read_secret(conn, "voicehive", "jwt-secret", 5)
    assert found["data"]["secret"]["length"] == 40
    assert kube.read_secret(conn, "voicehive", "gone", 5) == {"name": "gone", "exists": False, "data": {}}


NODE = {
    "metadata": {"name": "node-1", "labels": {"kubernetes.io/os": "linux"}},
    "spec": {},
    "status": {
        "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
        "capacity": {"cpu": "8", "memory": "33Gi"},
        "conditions": [
            {"type": "MemoryPressure", "status": "False"},
            {"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure"},
            {"type": "Ready", "status": "True"},
        ],
    },
}


def test_node_summary_has_allocatable_readiness_and_pressure():
    node = kube.summarize_node(NODE)
    assert node["ready"] is True and node["unschedulable"] is False
    assert node["allocatable"] == {"cpu_m": 8000, "memory_bytes": 32 * 2**30, "pods": 110}
    assert node["capacity"] == {"cpu_m": 8000, "memory_bytes": 33 * 2**30}
    assert node["pressure"] == ["DiskPressure"]
    cordoned = kube.summarize_node({"metadata": {"name": "n"}, "spec": {"unschedulable": True}, "status": {}})
    assert cordoned["ready"] is False and cordoned["unschedulable"] is True
    assert cordoned["allocatable"] == {"cpu_m": None, "memory_bytes": None, "pods": None}


def test_node_metrics_summary_and_usage_against_allocatable():
    usage = kube.summarize_node_metrics(
        {"metadata": {"name": "node-1"}, "window": "20s", "usage": {"cpu": "2000000000n", "memory": "4194304Ki"}}
    )
    assert (usage["cpu_m"], usage["memory_bytes"], usage["window"]) == (2000, 4 * 2**30, "20s")
    nodes = {
        "node-1": kube.summarize_node(NODE),
        "node-2": kube.summarize_node(dict(NODE, metadata={"name": "node-2"})),
    }
    merged = kube.merge_node_usage(nodes, {"node-1": usage})
    assert merged["node-1"]["usage"] == {"cpu_m": 2000, "memory_bytes": 4 * 2**30}
    assert (merged["node-1"]["cpu_ratio"], merged["node-1"]["memory_ratio"]) == (0.25, 0.125)
    # a node metrics.k8s.io says nothing of, and no metrics at all: no usage, no ratio
    assert merged["node-2"]["usage"] is None and merged["node-2"]["cpu_ratio"] is None
    assert kube.merge_node_usage(nodes, None)["node-1"]["memory_ratio"] is None
    assert kube.merge_node_usage({}, {"node-1": usage}) == {}


def test_read_nodes_and_node_metrics(http_server):
    conn, routes = kube_api(http_server)
    routes.routes["/api/v1/nodes"] = (200, {"items": [NODE]})
    routes.routes["/apis/metrics.k8s.io/v1beta1/nodes"] = (
        200,
        {"items": [{"metadata": {"name": "node-1"}, "usage": {"cpu": "500m", "memory": "1Gi"}}]},
    )
    assert list(kube.read_nodes(conn, 5)) == ["node-1"]
    assert kube.read_node_metrics(conn, 5)["node-1"]["cpu_m"] == 500
    assert [r["path"] for r in routes.requests] == ["/api/v1/nodes", "/apis/metrics.k8s.io/v1beta1/nodes"]
    routes.routes["/api/v1/nodes"] = (403, {"message": 'nodes is forbidden: cannot list resource "nodes"'})
    with pytest.raises(kube.KubeReadError, match=r"HTTP 403.*RBAC") as caught:
        kube.read_nodes(conn, 5)
    assert caught.value.status == 403
