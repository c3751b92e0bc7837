"""kubectl v1.37 against kubesim: what an operator (and the roles' command tasks) actually run."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from typing import Any


def _get(sim: Any, *args: str) -> dict[str, Any]:
    return json.loads(sim.kubectl("get", *args, "-o", "json").stdout)


def _pods(sim: Any, ns: str, selector: str) -> list[dict[str, Any]]:
    return _get(sim, "pods", "-n", ns, "-l", selector)["items"]


def test_get_prints_tables_like_a_cluster(kubesim: Any) -> None:
    out = kubesim.kubectl("get", "pods,deploy,cm,secrets", "-n", "voicehive").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert any(line.split()[:2] == ["deployment.apps/orchestrator", "3/3"] for line in lines)
    assert "configmap/rate-limit-config" in out and "secret/jwt-secret" in out
    assert sum(1 for line in lines if line.startswith("pod/orchestrator-") and " Running " in line) == 3
    assert "NAME" in kubesim.kubectl("get", "nodes").stdout
    wide = kubesim.kubectl("get", "pods", "-n", "voicehive", "-o", "wide", "-l", "app=postgresql").stdout
    assert "kubesim-node-1" in wide and "postgresql-0" in wide


def test_discovery_and_errors(kubesim: Any) -> None:
    resources = kubesim.kubectl("api-resources", "-o", "name").stdout.split()
    for name in (
        "pods",
        "deployments.apps",
        "leases.coordination.k8s.io",
        "horizontalpodautoscalers.autoscaling",
        "tokenreviews.authentication.k8s.io",
        "pods.metrics.k8s.io",
    ):
        assert name in resources
    missing = kubesim.kubectl("get", "deploy", "nope", "-n", "voicehive", check=False)
    assert missing.returncode == 1
    assert 'deployments.apps "nope" not found' in missing.stderr
    code, body = kubesim.api("GET", "/api/v1/namespaces/voicehive/pods", token="wrong")
    assert code == 401 and body["reason"] == "Unauthorized"
    code, body = kubesim.api("GET", "/apis/apps/v1/namespaces/voicehive/deployments/nope")
    assert code == 404 and body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
    assert kubesim.kubectl("auth", "can-i", "delete", "pods", "-n", "voicehive").stdout.strip() == "yes"


def test_seed_secrets_come_from_secrets_json(kubesim: Any) -> None:
    secret = _get(kubesim, "secret", "jwt-secret", "-n", "voicehive")
    assert base64.b64decode(secret["data"]["secret"]).decode() == "test-jwt-secret-0123456789"
    urls = _get(kubesim, "secret", "voicehive-secrets", "-n", "voicehive-dr")["data"]
    assert base64.b64decode(urls["redis-url"]).decode() == "redis://:test-redis-pw@127.0.0.1:16380/0"
    assert "test-pg-pw@127.0.0.1:15433" in base64.b64decode(urls["database-url"]).decode()


def test_patch_all_three_types(kubesim: Any) -> None:
    ns = ["-n", "voicehive"]
    kubesim.kubectl("patch", "cm", "database-config", *ns, "-p", '{"data":{"max_connections":"50"}}')
    kubesim.kubectl("patch", "cm", "database-config", *ns, "--type=merge", "-p", '{"data":{"pool_timeout":null}}')
    kubesim.kubectl(
        "patch", "cm", "database-config", *ns, "--type=json", "-p", '[{"op":"add","path":"/data/extra","value":"1"}]'
    )
    data = _get(kubesim, "cm", "database-config", *ns)["data"]
    assert data["max_connections"] == "50" and data["extra"] == "1" and "pool_timeout" not in data
    bad = kubesim.kubectl(
        "patch",
        "cm",
        "database-config",
        *ns,
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/data/absent"}]',
        check=False,
    )
    assert bad.returncode != 0
    # strategic merge keeps the other containers' env entries (merge key: name)
    kubesim.kubectl(
        "patch",
        "deploy",
        "asr-router",
        *ns,
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"asr-router","env":[{"name":"X","value":"1"}]}]}}}}',
    )
    kubesim.kubectl(
        "patch",
        "deploy",
        "asr-router",
        *ns,
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"asr-router","env":[{"name":"Y","value":"2"}]}]}}}}',
    )
    env = _get(kubesim, "deploy", "asr-router", *ns)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "X", "value": "1"} in env and {"name": "Y", "value": "2"} in env


def test_scale_rollout_restart_and_status(kubesim: Any) -> None:
    ns = ["-n", "voicehive-dr"]
    kubesim.kubectl("scale", "deploy/livekit-agent", "--replicas=4", *ns)
    kubesim.kubectl("rollout", "status", "deploy/livekit-agent", "--timeout=30s", *ns)
    assert len(_pods(kubesim, "voicehive-dr", "app=livekit-agent")) == 4
    before = {p["metadata"]["name"] for p in _pods(kubesim, "voicehive-dr", "app=livekit-agent")}
    kubesim.kubectl("rollout", "restart", "deploy/livekit-agent", *ns)
    out = kubesim.kubectl("rollout", "status", "deploy/livekit-agent", "--timeout=30s", *ns).stdout
    assert "successfully rolled out" in out
    after = kubesim.wait_for(
        lambda: (
            names
            if len(names := {p["metadata"]["name"] for p in _pods(kubesim, "voicehive-dr", "app=livekit-agent")}) == 4
            else None
        )
    )
    assert not before & after
    dep = _get(kubesim, "deploy", "livekit-agent", *ns)
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert "kubectl.kubernetes.io/restartedAt" in dep["spec"]["template"]["metadata"]["annotations"]
    status = dep["status"]
    assert status["observedGeneration"] == dep["metadata"]["generation"]
    assert status["updatedReplicas"] == status["readyReplicas"] == status["availableReplicas"] == 4
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable"
    rs = _get(kubesim, "rs", "-l", "app=livekit-agent", *ns)["items"]
    assert sorted(r["spec"]["replicas"] for r in rs) == [0, 4]
    history = kubesim.kubectl("rollout", "history", "deploy/livekit-agent", *ns).stdout
    assert "1" in history and "2" in history
    kubesim.kubectl("scale", "deploy/livekit-agent", "--replicas=2", *ns)
    kubesim.wait_for(lambda: len(_pods(kubesim, "voicehive-dr", "app=livekit-agent")) == 2)


def test_set_env_rolls_out_new_pods(kubesim: Any) -> None:
    ns = ["-n", "voicehive-dr"]
    kubesim.kubectl("set", "env", "deploy/orchestrator", "FALLBACK_MODE=true", *ns)
    kubesim.kubectl("rollout", "status", "deploy/orchestrator", "--timeout=30s", *ns)
    pods = _pods(kubesim, "voicehive-dr", "app=orchestrator")
    assert len(pods) == 3
    for pod in pods:
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert env["FALLBACK_MODE"] == "true" and env["LOG_LEVEL"] == "INFO"


def test_not_ready_pod_drops_out_of_endpoints_and_readiness(kubesim: Any) -> None:
    pod = _pods(kubesim, "voicehive", "app=tts-router")[0]["metadata"]["name"]
    kubesim.kubectl("annotate", "pod", pod, "-n", "voicehive", "kubesim.voicehive.io/condition=NotReady")
    kubesim.kubectl("wait", "--for=condition=ready=false", f"pod/{pod}", "-n", "voicehive", "--timeout=10s")
    kubesim.wait_for(
        lambda: _get(kubesim, "deploy", "tts-router", "-n", "voicehive")["status"].get("readyReplicas") == 1
    )
    dep = _get(kubesim, "deploy", "tts-router", "-n", "voicehive")["status"]
    assert dep["availableReplicas"] == 1 and dep["unavailableReplicas"] == 1
    kubesim.kubectl("annotate", "pod", pod, "-n", "voicehive", "kubesim.voicehive.io/condition-")
    kubesim.kubectl("wait", "--for=condition=ready", f"pod/{pod}", "-n", "voicehive", "--timeout=10s")
    # Endpoints follow the orchestrator pods' readiness
    orch = _pods(kubesim, "voicehive", "app=orchestrator")[0]
    kubesim.kubectl(
        "annotate", "pod", orch["metadata"]["name"], "-n", "voicehive", "kubesim.voicehive.io/condition=NotReady"
    )

    def ready_ips() -> list[str]:
        ep = _get(kubesim, "endpoints", "orchestrator", "-n", "voicehive")
        return [a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []]

    kubesim.wait_for(lambda: orch["status"]["podIP"] not in ready_ips() and len(ready_ips()) == 2)
    kubesim.kubectl("annotate", "pod", orch["metadata"]["name"], "-n", "voicehive", "kubesim.voicehive.io/condition-")
    kubesim.wait_for(lambda: len(ready_ips()) == 3)


def test_manual_endpoints_are_left_alone(kubesim: Any) -> None:
    ns = ["-n", "voicehive"]
    kubesim.kubectl("annotate", "svc", "livekit-agent", "kubesim.voicehive.io/manual-endpoints=true", *ns)
    kubesim.kubectl(
        "apply",
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": "livekit-agent", "namespace": "voicehive"},
                "subsets": [],
            }
        ),
    )
    kubesim.wait_for(lambda: not _get(kubesim, "endpoints", "livekit-agent", *ns).get("subsets"))
    assert "<none>" in kubesim.kubectl("get", "endpoints", "livekit-agent", *ns).stdout
    kubesim.kubectl("annotate", "svc", "livekit-agent", "kubesim.voicehive.io/manual-endpoints-", *ns)
    kubesim.wait_for(lambda: _get(kubesim, "endpoints", "livekit-agent", *ns).get("subsets"))


def test_crashloop_and_oomkilled(kubesim: Any) -> None:
    ns = ["-n", "voicehive-dr"]
    pods = _pods(kubesim, "voicehive-dr", "app=asr-router")
    crash, oom = pods[0]["metadata"]["name"], pods[1]["metadata"]["name"]
    kubesim.kubectl("annotate", "pod", crash, "kubesim.voicehive.io/condition=CrashLoopBackOff", *ns)
    kubesim.kubectl("annotate", "pod", oom, "kubesim.voicehive.io/condition=OOMKilled", *ns)
    kubesim.wait_for(lambda: "CrashLoopBackOff" in kubesim.kubectl("get", "pod", crash, *ns).stdout)
    status = kubesim.wait_for(
        lambda: (s := _get(kubesim, "pod", oom, *ns)["status"]["containerStatuses"][0])["restartCount"] >= 1 and s
    )
    assert status["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert status["ready"] is False
    assert "OOMKilled" in kubesim.kubectl("get", "pod", oom, *ns).stdout
    previous = kubesim.kubectl("logs", oom, "--previous", *ns).stdout
    assert "out of memory" in previous
    events = kubesim.kubectl("get", "events", *ns, "--field-selector", f"involvedObject.name={oom}").stdout
    assert "BackOff" in events
    for name in (crash, oom):
        kubesim.kubectl("delete", "pod", name, *ns)
    kubesim.kubectl("rollout", "status", "deploy/asr-router", "--timeout=30s", *ns)
    assert all(
        p["status"]["containerStatuses"][0]["restartCount"] == 0
        for p in _pods(kubesim, "voicehive-dr", "app=asr-router")
    )


def test_new_pod_condition_blocks_rollout(kubesim: Any) -> None:
    ns = ["-n", "voicehive-dr"]
    kubesim.kubectl("annotate", "deploy", "tts-router", "kubesim.voicehive.io/new-pod-condition=CrashLoopBackOff", *ns)
    kubesim.kubectl("rollout", "restart", "deploy/tts-router", *ns)
    stuck = kubesim.kubectl("rollout", "status", "deploy/tts-router", "--timeout=3s", *ns, check=False)
    assert stuck.returncode != 0
    dep = _get(kubesim, "deploy", "tts-router", *ns)["status"]
    assert dep["readyReplicas"] == 2  # the old pods keep serving
    kubesim.kubectl("annotate", "deploy", "tts-router", "kubesim.voicehive.io/new-pod-condition-", *ns)
    kubesim.kubectl("rollout", "restart", "deploy/tts-router", *ns)
    kubesim.kubectl("rollout", "status", "deploy/tts-router", "--timeout=30s", *ns)


def test_deleted_pod_comes_back_and_runs_hooks(kubesim: Any) -> None:
    old = _get(kubesim, "pod", "postgresql-0", "-n", "voicehive")["metadata"]["uid"]
    kubesim.kubectl("delete", "pod", "postgresql-0", "-n", "voicehive")
    kubesim.wait_for(
        lambda: (
            (p := kubesim.api("GET", "/api/v1/namespaces/voicehive/pods/postgresql-0")[1])
            .get("metadata", {})
            .get("uid", old)
            != old
            and p
        )
    )
    kubesim.kubectl("wait", "--for=condition=ready", "pod/postgresql-0", "-n", "voicehive", "--timeout=10s")
    lines = kubesim.wait_for(
        lambda: len(t := kubesim.hook_file.read_text().splitlines() if kubesim.hook_file.exists() else []) >= 2 and t
    )
    assert "pod-deleted voicehive postgresql-0" in lines
    assert "pod-started voicehive postgresql-0" in lines
    kubesim.kubectl("rollout", "restart", "sts/postgresql", "-n", "voicehive")
    kubesim.kubectl("rollout", "status", "sts/postgresql", "-n", "voicehive", "--timeout=30s")


def test_logs(kubesim: Any) -> None:
    ns = ["-n", "voicehive"]
    tail = kubesim.kubectl("logs", "deploy/orchestrator", "--tail=2", *ns).stdout.splitlines()
    assert tail == ["2026-11-28T10:00:04Z INFO orchestrator line 4", "2026-11-28T10:00:05Z INFO orchestrator line 5"]
    many = kubesim.kubectl("logs", "-l", "app=orchestrator", "--tail=1", "--prefix", *ns).stdout.splitlines()
    assert len(many) == 3 and all(line.endswith("orchestrator line 5") for line in many)
    assert "Starting redis" in kubesim.kubectl("logs", "-l", "app=redis", *ns).stdout
    assert kubesim.kubectl("logs", "deploy/orchestrator", "--since=1s", *ns).stdout == ""
    limited = kubesim.kubectl("logs", "deploy/orchestrator", "--limit-bytes=10", *ns).stdout
    assert len(limited) == 10
    no_prev = kubesim.kubectl("logs", "postgresql-0", "--previous", *ns, check=False)
    assert no_prev.returncode != 0 and "previous terminated container" in no_prev.stderr


def test_top(kubesim: Any) -> None:
    pod = _pods(kubesim, "voicehive", "app=redis")[0]["metadata"]["name"]
    kubesim.kubectl(
        "annotate",
        "pod",
        pod,
        "-n",
        "voicehive",
        "kubesim.voicehive.io/cpu=950m",
        "kubesim.voicehive.io/memory=1000Mi",
        "--overwrite",
    )
    out = kubesim.kubectl("top", "pods", "-n", "voicehive", "-l", "app=redis").stdout
    assert out.splitlines()[1].split() == [pod, "950m", "1000Mi"]
    nodes = kubesim.kubectl("top", "nodes").stdout
    assert "kubesim-node-1" in nodes


def test_apply_client_and_server_side(kubesim: Any, tmp_path: Any) -> None:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "applied", "namespace": "voicehive", "labels": {"app": "applied"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "applied"}},
            "template": {
                "metadata": {"labels": {"app": "applied"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]}]},
            },
        },
    }
    path = tmp_path / "d.json"
    path.write_text(json.dumps(manifest))
    assert "created" in kubesim.kubectl("apply", "-f", str(path)).stdout
    manifest["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "2"
    path.write_text(json.dumps(manifest))
    applied = kubesim.kubectl("apply", "-f", str(path))
    assert "configured" in applied.stdout and "warning" not in applied.stderr.lower()
    assert "unchanged" in kubesim.kubectl("apply", "-f", str(path)).stdout
    manifest["spec"]["replicas"] = 3
    path.write_text(json.dumps(manifest))
    assert "serverside-applied" in kubesim.kubectl("apply", "--server-side", "-f", str(path)).stdout
    kubesim.kubectl("rollout", "status", "deploy/applied", "-n", "voicehive", "--timeout=30s")
    dep = _get(kubesim, "deploy", "applied", "-n", "voicehive")
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "2"}]
    manifest["spec"]["replicas"] = 5
    path.write_text(json.dumps(manifest))
    kubesim.kubectl("apply", "--server-side", "--dry-run=server", "-f", str(path))
    assert _get(kubesim, "deploy", "applied", "-n", "voicehive")["spec"]["replicas"] == 3
    kubesim.kubectl("delete", "-f", str(path))
    kubesim.wait_for(lambda: not _pods(kubesim, "voicehive", "app=applied"))
    assert not _get(kubesim, "rs", "-n", "voicehive", "-l", "app=applied")["items"]


def test_describe(kubesim: Any) -> None:
    out = kubesim.kubectl("describe", "deploy", "redis", "-n", "voicehive").stdout
    assert "NewReplicaSet:" in out and "ScalingReplicaSet" in out
    pod = kubesim.kubectl("describe", "pod", "-n", "voicehive", "-l", "app=redis").stdout
    assert "Scheduled" in pod and "kubesim-node-1" in pod
    assert "Endpoints:" in kubesim.kubectl("describe", "svc", "redis", "-n", "voicehive").stdout
    assert "Allocatable" in kubesim.kubectl("describe", "node", "kubesim-node-1").stdout


def test_validation_and_conflicts(kubesim: Any) -> None:
    bad = kubesim.kubectl("scale", "deploy/redis", "--replicas=-1", "-n", "voicehive", check=False)
    assert bad.returncode != 0
    code, body = kubesim.api(
        "PATCH",
        "/apis/apps/v1/namespaces/voicehive/deployments/redis",
        {"spec": {"replicas": -2}},
        "application/merge-patch+json",
    )
    assert code == 422 and body["reason"] == "Invalid" and body["details"]["causes"][0]["field"] == "spec.replicas"
    code, cm = kubesim.api("GET", "/api/v1/namespaces/voicehive/configmaps/security-config")
    stale = dict(cm, data={"blocked_ips": "10.0.0.1"})
    assert kubesim.api("PUT", "/api/v1/namespaces/voicehive/configmaps/security-config", stale)[0] == 200
    code, body = kubesim.api("PUT", "/api/v1/namespaces/voicehive/configmaps/security-config", stale)
    assert code == 409 and body["reason"] == "Conflict"
    code, body = kubesim.api(
        "POST", "/api/v1/namespaces/voicehive/configmaps", {"metadata": {"name": "security-config"}, "data": {}}
    )
    assert code == 409 and body["reason"] == "AlreadyExists"
    code, body = kubesim.api(
        "POST", "/api/v1/namespaces/voicehive/configmaps?dryRun=All", {"metadata": {"name": "dry"}, "data": {}}
    )
    assert code == 201
    assert kubesim.api("GET", "/api/v1/namespaces/voicehive/configmaps/dry")[0] == 404
    # a no-op patch does not bump the resourceVersion
    rv = kubesim.api("GET", "/api/v1/namespaces/voicehive/configmaps/livekit-config")[1]["metadata"]["resourceVersion"]
    code, same = kubesim.api(
        "PATCH",
        "/api/v1/namespaces/voicehive/configmaps/livekit-config",
        {"data": {"server_url": "ws://127.0.0.1:17880"}},
        "application/merge-patch+json",
    )
    assert code == 200 and same["metadata"]["resourceVersion"] == rv


def test_watch_stream_and_paging(kubesim: Any) -> None:
    code, first = kubesim.api("GET", "/api/v1/namespaces/voicehive/configmaps?limit=2")
    assert code == 200 and len(first["items"]) == 2 and first["metadata"]["continue"]
    code, rest = kubesim.api(
        "GET", "/api/v1/namespaces/voicehive/configmaps?limit=100&continue=" + first["metadata"]["continue"]
    )
    names = [i["metadata"]["name"] for i in first["items"] + rest["items"]]
    assert names == sorted(set(names)) and "voicehive-config" in names
    rv = first["metadata"]["resourceVersion"]
    kubesim.kubectl("patch", "cm", "voicehive-config", "-n", "voicehive", "-p", '{"data":{"watched":"yes"}}')
    code, text = kubesim.api(
        "GET",
        f"/api/v1/namespaces/voicehive/configmaps?watch=1&resourceVersion={rv}"
        "&timeoutSeconds=1&fieldSelector=metadata.name%3Dvoicehive-config",
    )
    events = [json.loads(line) for line in text.splitlines()] if isinstance(text, str) else [text]
    assert [e["type"] for e in events] == ["MODIFIED"]
    assert events[0]["object"]["data"]["watched"] == "yes"


def test_request_log(kubesim: Any) -> None:
    kubesim.kubectl("get", "deploy", "orchestrator", "-n", "voicehive")
    entries = kubesim.requests()
    hit = [
        e
        for e in entries
        if e["resource"] == "deployments"
        and e["name"] == "orchestrator"
        and e["verb"] == "get"
        and e["namespace"] == "voicehive"
    ]
    assert hit and hit[-1]["group"] == "apps" and hit[-1]["code"] == 200 and hit[-1]["user"] == "kubesim-admin"
    assert {
        "time",
        "method",
        "path",
        "verb",
        "group",
        "version",
        "resource",
        "subresource",
        "namespace",
        "name",
        "user",
        "code",
    } <= set(hit[-1])
    assert any(e["verb"] == "watch" for e in entries)


def test_logs_follow_streams_appended_lines(kubesim: Any) -> None:
    log = kubesim.state / "orchestrator" / "lab.log"
    original = log.read_text()
    proc = subprocess.Popen(
        [kubesim.kubectl_bin, "logs", "-f", "deploy/orchestrator", "-n", "voicehive", "--tail=1"],
        env=kubesim.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "orchestrator line 5" in proc.stdout.readline()
        time.sleep(0.3)
        with log.open("a") as fh:
            fh.write("2026-11-28T10:00:09Z INFO followed line\n")
        assert proc.stdout.readline().strip() == "2026-11-28T10:00:09Z INFO followed line"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.write_text(original)


def test_typed_create_commands(kubesim: Any) -> None:
    """kubectl's typed clients send protobuf bodies: kubesim decodes them."""
    ns = ["-n", "typed"]
    kubesim.kubectl("create", "namespace", "typed")
    kubesim.kubectl("create", "configmap", "c", "--from-literal=a=1", *ns)
    kubesim.kubectl("create", "secret", "generic", "s", "--from-literal=k=v", *ns)
    kubesim.kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "--port=80", *ns)
    kubesim.kubectl("create", "service", "clusterip", "web", "--tcp=80:80", *ns)
    kubesim.kubectl("create", "serviceaccount", "bot", *ns)
    kubesim.kubectl("create", "role", "reader", "--verb=get,list", "--resource=pods", *ns)
    kubesim.kubectl("create", "rolebinding", "reader", "--role=reader", "--serviceaccount=typed:bot", *ns)
    kubesim.kubectl("autoscale", "deploy/web", "--min=2", "--max=4", "--cpu=80%", *ns)
    assert _get(kubesim, "cm", "c", *ns)["data"] == {"a": "1"}
    assert base64.b64decode(_get(kubesim, "secret", "s", *ns)["data"]["k"]).decode() == "v"
    kubesim.kubectl("rollout", "status", "deploy/web", "--timeout=30s", *ns)
    web = _get(kubesim, "deploy", "web", *ns)
    assert web["spec"]["replicas"] == 2
    assert web["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    ep = kubesim.wait_for(lambda: _get(kubesim, "endpoints", "web", *ns).get("subsets"))
    assert len(ep[0]["addresses"]) == 2
    binding = _get(kubesim, "rolebinding", "reader", *ns)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "bot", "namespace": "typed"}]
    hpa = _get(kubesim, "hpa", "web", *ns)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    token = kubesim.kubectl("create", "token", "bot", *ns).stdout.strip()
    assert token.count(".") == 2
    kubesim.kubectl("delete", "namespace", "typed")
    assert kubesim.kubectl("get", "deploy", "-n", "typed", "-o", "name").stdout == ""


def test_managed_fields_record_who_wrote_and_when(kubesim: Any) -> None:
    """As on an API server: a write that changes the object stamps its manager's entry; a no-op keeps it."""
    path = "/api/v1/namespaces/voicehive/secrets"
    body = {"metadata": {"name": "mf-probe"}, "type": "Opaque", "stringData": {"k": "v1"}}
    code, created = kubesim.api("POST", path + "?fieldManager=rotator", body)
    assert code == 201, created
    entry = created["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == ("rotator", "Update", "FieldsV1")
    first = entry["time"]
    time.sleep(1.1)
    code, same = kubesim.api(
        "PATCH", path + "/mf-probe?fieldManager=rotator", {"stringData": {"k": "v1"}}, "application/merge-patch+json"
    )
    assert code == 200 and same["metadata"]["managedFields"] == created["metadata"]["managedFields"]
    code, changed = kubesim.api(
        "PATCH", path + "/mf-probe?fieldManager=rotator", {"stringData": {"k": "v2"}}, "application/merge-patch+json"
    )
    assert code == 200 and changed["metadata"]["managedFields"][0]["time"] > first
    kubesim.kubectl("label", "secret", "mf-probe", "-n", "voicehive", "x=y")
    code, labelled = kubesim.api("GET", path + "/mf-probe")
    managers = {e["manager"] for e in labelled["metadata"]["managedFields"]}
    assert managers == {"rotator", "kubectl-label"}, labelled["metadata"]["managedFields"]
    kubesim.api("DELETE", path + "/mf-probe")
