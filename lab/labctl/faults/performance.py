"""Guide: Performance Issues — High Response Times; Memory Leaks."""

from __future__ import annotations

from typing import Any

import psycopg

from ..proc import wait_for
from ..services import POSTGRES_PRIMARY
from . import ops
from .base import Context, Fault

NS = "voicehive"
ORCH = "app=orchestrator"
DEPLOY = f"/apis/apps/v1/namespaces/{NS}/deployments/orchestrator"
# the slow report query the orchestrator runs in this scenario (shows up in pg_stat_statements)
SLOW_SQL = (
    "SELECT c.hotel_id, count(*) AS calls, avg(c.duration_seconds) AS avg_duration, pg_sleep(1.2) IS NULL AS slow "
    "FROM calls c JOIN hotels h ON h.id = c.hotel_id WHERE c.status = %s GROUP BY c.hotel_id"
)
SLOW_RUNS = 3


def slow_queries(ctx: Context, runs: int = SLOW_RUNS) -> None:
    with POSTGRES_PRIMARY.app(ctx.secrets) as conn:
        for _ in range(runs):
            conn.execute(SLOW_SQL, ("completed",)).fetchall()


def slowest_mean_ms(ctx: Context) -> float:
    with POSTGRES_PRIMARY.app(ctx.secrets) as conn:
        row = conn.execute(
            "SELECT coalesce(max(mean_exec_time), 0) FROM pg_stat_statements WHERE query ILIKE %s AND calls > 0",
            ("%pg_sleep(%",),
        ).fetchone()
    return float(row[0]) if row else 0.0


def cpu_millicores(ctx: Context, namespace: str = NS, selector: str = ORCH) -> list[int]:
    data = ctx.kube.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods", labelSelector=selector) or {}
    out = []
    for item in data.get("items", []):
        for container in item.get("containers", []):
            raw = str(container.get("usage", {}).get("cpu", "0"))
            out.append(int(float(raw[:-1]) / 1e6) if raw.endswith("n") else int(float(raw.rstrip("m"))))
    return out


def memory_mib(ctx: Context, namespace: str = NS, selector: str = ORCH) -> list[int]:
    data = ctx.kube.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods", labelSelector=selector) or {}
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    out = []
    for item in data.get("items", []):
        for container in item.get("containers", []):
            raw = str(container.get("usage", {}).get("memory", "0"))
            unit = raw[-2:] if raw[-2:] in units else ""
            value = float(raw[: -len(unit)] if unit else raw)
            out.append(int(value * units[unit]) if unit else int(value / 1048576))
    return out


def live_pods(ctx: Context) -> list[dict[str, Any]]:
    return [p for p in ctx.kube.pods(NS, ORCH) if not p["metadata"].get("deletionTimestamp")]


class HighLatency(Fault):
    name = "high-latency"
    summary = "orchestrator scaled to 1 replica at 980m CPU, and slow report queries in pg_stat_statements"
    guide = "Performance Issues / High Response Times"

    def inject(self, ctx: Context) -> dict[str, Any]:
        deployment = ctx.kube.get(DEPLOY) or {}
        replicas = int((deployment.get("spec") or {}).get("replicas") or 3)
        ctx.kube.merge_patch(f"{DEPLOY}/scale", {"spec": {"replicas": 1}})
        wait_for(lambda: len(live_pods(ctx)) == 1, 10)
        ops.set_pod_annotations(ctx.kube, NS, ORCH, {ops.CPU: "980m"})
        slow_queries(ctx)
        return {"replicas": replicas}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        ctx.kube.merge_patch(f"{DEPLOY}/scale", {"spec": {"replicas": int(record.get("replicas", 3))}})
        ops.drop_pod_annotations(ctx.kube, NS, ORCH, [ops.CPU])
        try:
            with POSTGRES_PRIMARY.admin("voicehive") as conn:
                conn.execute("SELECT pg_stat_statements_reset()")
        except psycopg.Error:
            pass

    def active(self, ctx: Context) -> bool:
        return max(cpu_millicores(ctx) or [0]) >= 900 and slowest_mean_ms(ctx) >= 1000


class MemoryLeak(Fault):
    name = "memory-leak"
    summary = "orchestrator pods at 1000Mi of a 1Gi limit, one of them OOMKilled with rising restarts"
    guide = "Performance Issues / Memory Leaks"

    def inject(self, ctx: Context) -> dict[str, Any]:
        pods = ops.set_pod_annotations(ctx.kube, NS, ORCH, {ops.MEMORY: "1000Mi"})
        if pods:
            ctx.kube.merge_patch(
                f"/api/v1/namespaces/{NS}/pods/{pods[0]}", {"metadata": {"annotations": {ops.CONDITION: "OOMKilled"}}}
            )
        return {"pods": pods}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        ops.drop_pod_annotations(ctx.kube, NS, ORCH, [ops.MEMORY, ops.CONDITION])

    def active(self, ctx: Context) -> bool:
        """Some pod near its limit (metrics.k8s.io), or not ready after an OOM kill."""

        def oom_down(pod: dict[str, Any]) -> bool:
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                last = (status.get("lastState") or {}).get("terminated") or {}
                if last.get("reason") == "OOMKilled" and not status.get("ready"):
                    return True
            return False

        return max(memory_mib(ctx) or [0]) >= 900 or bool(ops.pods_matching(ctx.kube, NS, ORCH, oom_down))


FAULTS = [HighLatency(), MemoryLeak()]
