# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Performance ("High Response Times"), with the causes made directly in the services and through lab/bin/fault.

1. Made in the services: the orchestrator scaled to 1 replica through the Kubernetes API, its pod annotated with the
   CPU usage kubesim reports through metrics.k8s.io (as the fault does), database-config max_connections lowered to
   2 with two sessions busy in PostgreSQL (the pool saturated), and a slow statement run with psycopg.
   `--check --diff` changes nothing; a remediation without approval scales up, caches and autoscales, and says
   raise_pool_size needs approval; with the approval the pool size is raised (at most what PostgreSQL lets the
   orchestrator's pods open together; the old value kept in the annotation) and the orchestrator rolled out;
   performance_restore_pool_size puts the old value back.
2. Bad input (bounds of replicas, HPA target, window) stops the run before anything is read or changed.
3. Through lab/bin/fault high-latency, with an HPA that scales on memory only and at most 5 replicas: scale_up
   raises the HPA's minReplicas (a hand-set replica count would be undone by the HPA) and create_autoscaler repairs
   the HPA with a CPU target.

The whole scenario with idempotence is molecule/performance_high_latency.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time

import psycopg
import pytest
from kubernetes import client as k8s_client
from kubernetes.client.rest import ApiException
from vh_lab import fault, lab, run_playbook

pytestmark = pytest.mark.lab

NS = "voicehive"
REMEDIATE = "playbooks/remediate.yml"
CPU = "kubesim.voicehive.io/cpu"
PREVIOUS = "voicehive.io/previous-max-connections"
SLOW_SQL = "SELECT h.id, pg_sleep(%s) IS NULL AS slow FROM hotels h WHERE h.id = %s"


@pytest.fixture
def reset_after(clean_lab):
    """The seeded lab again afterwards: the HPA, cache switches and replicas a remediation leaves stay after a
    fault clear (as on a real site), and an HPA left behind would fight tests that scale the orchestrator."""
    yield
    lab("reset")


def _connect(secrets) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1", port=15432, user="voicehive", dbname="voicehive", password=secrets["postgres_password"]
    )


@contextlib.contextmanager
def _busy_sessions(secrets, count: int):
    """``count`` sessions busy (active in pg_stat_activity) until the block ends: the pool's active connections."""
    conns = [_connect(secrets) for _n in range(count)]

    def sleep(conn):
        with contextlib.suppress(psycopg.Error):
            conn.execute("SELECT pg_sleep(120)")

    threads = [threading.Thread(target=sleep, args=(c,), daemon=True) for c in conns]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for conn in conns:
            conn.cancel()
        for thread in threads:
            thread.join(5)
        for conn in conns:
            conn.close()


def _live_pods(kube) -> list:
    pods = k8s_client.CoreV1Api(kube).list_namespaced_pod(NS, label_selector="app=orchestrator").items
    return [p for p in pods if not p.metadata.deletion_timestamp]


def _wait(predicate, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.3)


def _state(kube) -> dict:
    apps, core = k8s_client.AppsV1Api(kube), k8s_client.CoreV1Api(kube)
    dep = apps.read_namespaced_deployment("orchestrator", NS)
    cm = core.read_namespaced_config_map("database-config", NS)
    hpas = k8s_client.AutoscalingV2Api(kube).list_namespaced_horizontal_pod_autoscaler(NS).items
    env = {e.name: e.value for e in dep.spec.template.spec.containers[0].env or []}
    return {
        "version": dep.metadata.resource_version,
        "replicas": dep.spec.replicas,
        "ready": dep.status.ready_replicas or 0,
        "env": {k: env.get(k) for k in ("CACHE_ENABLED", "CACHE_TTL")},
        "pool": cm.data["max_connections"],
        "previous": (cm.metadata.annotations or {}).get(PREVIOUS),
        "cm_version": cm.metadata.resource_version,
        "hpas": {h.metadata.name: (h.spec.min_replicas, h.spec.max_replicas) for h in hpas},
    }


def _by(items: list[dict], key: str) -> dict[str, dict]:
    return {item[key]: item for item in items}


def _statuses(run) -> dict[str, str]:
    return {a["action"]: a["status"] for a in run.report["actions"]}


def test_causes_made_in_the_services_are_remediated_and_the_pool_raise_gated(reset_after, kube, secrets, request):
    apps, core = k8s_client.AppsV1Api(kube), k8s_client.CoreV1Api(kube)
    apps.patch_namespaced_deployment_scale("orchestrator", NS, {"spec": {"replicas": 1}})
    _wait(lambda: len(_live_pods(kube)) == 1)
    core.patch_namespaced_pod(_live_pods(kube)[0].metadata.name, NS, {"metadata": {"annotations": {CPU: "950m"}}})
    core.patch_namespaced_config_map("database-config", NS, {"data": {"max_connections": "2"}})
    with _connect(secrets) as conn:
        for _n in range(2):
            conn.execute(SLOW_SQL, (1.1, "hotel-001")).fetchall()
    busy = contextlib.ExitStack()  # closed after the unapproved run, or at teardown when the test fails first
    request.addfinalizer(busy.close)
    busy.enter_context(_busy_sessions(secrets, 2))
    time.sleep(2.5)  # the orchestrator reads database-config every 2 s
    before = _state(kube)

    check = run_playbook(REMEDIATE, "--check", "--diff", "--tags", "performance")
    assert check.rc == 0, check.output[-3000:]
    assert _state(kube) == before  # nothing changed, no HPA created
    report = check.report
    assert report["check_mode"] is True
    findings = _by(report["findings"], "id")
    assert set(findings) == {
        "performance.cpu_saturated",
        "performance.no_autoscaler",
        "performance.cache_disabled",
        "performance.pool_saturated",
        "performance.slow_queries",
    }, findings.keys()
    cpu = findings["performance.cpu_saturated"]["evidence"]["deployments"][0]
    assert (cpu["name"], cpu["cpu_limit_ratio"], cpu["cpu_request_utilization"], cpu["target"]) == (
        "orchestrator",
        0.95,
        190,
        3,
    )
    assert findings["performance.cpu_saturated"]["evidence"]["nodes"][0]["allocatable"]["cpu_m"] == 8000
    assert findings["performance.no_autoscaler"]["severity"] == "warning"
    pool = findings["performance.pool_saturated"]["evidence"]["pool"]
    assert pool["max"] == 2 and pool["active"] >= 2 and pool["source"] == "orchestrator /metrics"
    slow = findings["performance.slow_queries"]
    assert slow["severity"] == "info"
    statement = slow["evidence"]["statements"][0]
    assert "pg_sleep($1)" in statement["query"] and "hotel-001" not in json.dumps(slow)
    assert statement["calls"] == 2 and statement["mean_ms"] >= 1100
    assert _statuses(check) == {
        "scale_up": "would_change",
        "enable_caching": "would_change",
        "create_autoscaler": "would_change",
        "raise_pool_size": "skipped_needs_approval",
    }

    run = run_playbook(REMEDIATE, "--tags", "performance")
    assert run.rc == 0, run.output[-3000:]
    after = _state(kube)
    assert after["replicas"] >= 3 and after["ready"] == after["replicas"]
    assert after["env"] == {"CACHE_ENABLED": "true", "CACHE_TTL": "300"}
    assert after["hpas"] == {"orchestrator": (3, 10)}
    assert after["pool"] == "2" and after["previous"] is None  # not approved: untouched
    assert run.report["outcome"] == "action_required"
    assert run.report["summary"]["needs_approval"] == ["raise_pool_size"]
    statuses = _statuses(run)
    assert statuses["raise_pool_size"] == "skipped_needs_approval"
    assert all(statuses[a] == "done" for a in ("scale_up", "enable_caching", "create_autoscaler"))
    scale = _by(run.report["actions"], "action")["scale_up"]
    assert (scale["before"]["replicas"], scale["after"]["replicas"], scale["after"]["ready_replicas"]) == (1, 3, 3)
    done = _by(run.report["findings"], "id")
    assert {k: v["status"] for k, v in done.items()} == {
        "performance.cpu_saturated": "resolved",
        "performance.no_autoscaler": "resolved",
        "performance.cache_disabled": "resolved",
        "performance.pool_saturated": "unresolved",
        "performance.slow_queries": "unresolved",
    }

    approved = {"voicehive_approved_actions": ["raise_pool_size"]}
    run = run_playbook(REMEDIATE, "--tags", "performance", extra_vars=approved)
    assert run.rc == 0, run.output[-3000:]
    raised = _state(kube)
    busy.close()
    with _connect(secrets) as conn:
        server = int(conn.execute("SHOW max_connections").fetchone()[0])
        reserved = int(conn.execute("SHOW superuser_reserved_connections").fetchone()[0])
    # every orchestrator pod opens its own pool: together they must fit in what the server lets users open
    allowed = min(50, (server - reserved) // raised["replicas"])
    assert (raised["pool"], raised["previous"]) == (str(allowed), "2")
    assert raised["replicas"] == after["replicas"] and raised["hpas"] == after["hpas"]
    statuses = _statuses(run)
    assert statuses == {"raise_pool_size": "done", "restart_orchestrator": "done"}, statuses
    action = _by(run.report["actions"], "action")["raise_pool_size"]
    assert (action["before"]["max_connections"], action["after"]["max_connections"]) == ("2", str(allowed))
    assert action["after"]["server_capacity"] == server - reserved
    assert ("Capped at" in action["reason"]) == (allowed < 50)
    assert _by(run.report["findings"], "id")["performance.pool_saturated"]["status"] == "resolved"
    assert run.report["outcome"] == "resolved"

    run = run_playbook(
        REMEDIATE, "--tags", "performance", extra_vars={**approved, "performance_restore_pool_size": True}
    )
    assert run.rc == 0, run.output[-3000:]
    restored = _state(kube)
    assert (restored["pool"], restored["previous"]) == ("2", None)
    assert _statuses(run)["restore_pool_size"] == "done"


def test_bad_input_is_refused_before_anything_is_read_or_changed(lab_up, kube):
    before = _state(kube)
    run = run_playbook(
        REMEDIATE,
        "--tags",
        "performance",
        extra_vars={
            "performance_max_replicas": -2,
            "performance_hpa_cpu_utilization": 150,
            "performance_latency_window": "five minutes",
            "performance_raised_pool_size": 5000,
        },
    )
    assert run.rc != 0
    text = " ".join(run.output.split())
    for sentence in (
        "performance_max_replicas -2 must be from 1 to 100",
        "performance_hpa_cpu_utilization 150 must be from 1 to 100",
        "performance_latency_window 'five minutes' must be a Prometheus duration",
        "performance_raised_pool_size 5000 must be from 1 to performance_max_pool_size (100)",
    ):
        assert sentence in text, text[-3000:]
    assert _state(kube) == before


def test_the_fault_with_an_hpa_that_ignores_cpu_is_fixed_through_the_hpa(reset_after, kube):
    fault("inject", "high-latency")
    hpa_api = k8s_client.AutoscalingV2Api(kube)
    hpa_api.create_namespaced_horizontal_pod_autoscaler(
        NS,
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "orchestrator-memory"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "orchestrator"},
                "minReplicas": 1,
                "maxReplicas": 5,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 90}},
                    }
                ],
            },
        },
    )
    try:
        run = run_playbook(REMEDIATE, "--tags", "performance")
        assert run.rc == 0, run.output[-3000:]
        findings = _by(run.report["findings"], "id")
        assert {k: v["status"] for k, v in findings.items()} == {
            "performance.cpu_saturated": "resolved",
            "performance.autoscaler_not_scaling": "resolved",
            "performance.cache_disabled": "resolved",
            "performance.slow_queries": "unresolved",
        }
        assert "it has no CPU metric" in findings["performance.autoscaler_not_scaling"]["summary"]
        actions = _by(run.report["actions"], "action")
        assert actions["scale_up"]["before"]["hpa_min_replicas"] == 1
        assert actions["scale_up"]["after"] == {"replicas": 3, "ready_replicas": 3, "hpa_min_replicas": 3}
        assert actions["create_autoscaler"]["target"] == "horizontalpodautoscaler/orchestrator-memory"
        assert actions["create_autoscaler"]["before"]["max_replicas"] == 5
        state = _state(kube)
        assert state["hpas"] == {"orchestrator-memory": (3, 10)} and state["ready"] >= 3
        spec = hpa_api.read_namespaced_horizontal_pod_autoscaler("orchestrator-memory", NS).spec
        assert [(m.resource.name, m.resource.target.average_utilization) for m in spec.metrics] == [("cpu", 70)]
    finally:
        try:
            hpa_api.delete_namespaced_horizontal_pod_autoscaler("orchestrator-memory", NS)
        except ApiException as exc:
            if exc.status != 404:
                raise
