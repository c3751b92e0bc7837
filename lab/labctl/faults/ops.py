"""Small building blocks the fault modules share (so each fault module stays a few lines)."""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

import requests

from .. import secrets as lab_secrets
from ..kube import Kube
from ..services import BY_NAME
from ..services.redis_svc import BREAKER_TTL

ANN = "kubesim.voicehive.io/"
CONDITION = ANN + "condition"
CPU = ANN + "cpu"
MEMORY = ANN + "memory"
MANUAL_ENDPOINTS = ANN + "manual-endpoints"
APALEO_URL = "http://127.0.0.1:18081"
ORCHESTRATOR_URL = "http://127.0.0.1:18080"


# --- processes ------------------------------------------------------------------
def stop_service(name: str) -> None:
    BY_NAME[name].stop()


def start_service(name: str) -> None:
    from ..lab import bring_up

    secrets = lab_secrets.load()
    result, detail = bring_up(BY_NAME[name], secrets)
    if result == "failed":
        raise RuntimeError(f"cannot restart {name}: {detail}")


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --- kubesim ----------------------------------------------------------------------
def set_pod_annotations(kube: Kube, namespace: str, selector: str, values: dict[str, str]) -> list[str]:
    return kube.annotate_pods(namespace, selector, dict(values))


def drop_pod_annotations(kube: Kube, namespace: str, selector: str, keys: list[str]) -> None:
    kube.annotate_pods(namespace, selector, dict.fromkeys(keys))


def pods_matching(kube: Kube, namespace: str, selector: str, predicate: Any) -> list[str]:
    return [p["metadata"]["name"] for p in kube.pods(namespace, selector) if predicate(p)]


def pod_is_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def snapshot_configmap(kube: Kube, namespace: str, name: str) -> dict[str, str] | None:
    cm = kube.configmap(namespace, name)
    return dict(cm.get("data") or {}) if cm else None


def restore_configmap(kube: Kube, namespace: str, name: str, data: dict[str, str] | None) -> None:
    """Put back the recorded data (keys added since are removed)."""
    if data is None:
        return
    current = kube.configmap(namespace, name)
    if current is None:
        kube.post(
            f"/api/v1/namespaces/{namespace}/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data},
        )
        return
    patch: dict[str, str | None] = dict(data)
    for key in current.get("data") or {}:
        if key not in data:
            patch[key] = None
    kube.patch_configmap(namespace, name, patch)


# --- Redis circuit breakers (the orchestrator's own keys, contract) -------------------
def open_breaker(r: Any, name: str, failures: int, last_failure_age: float) -> None:
    now = time.time()
    pipe = r.pipeline()
    pipe.set(f"circuit_breaker:{name}:state", "open", ex=BREAKER_TTL)
    pipe.hset(
        f"circuit_breaker:{name}:stats",
        mapping={
            "failure_count": failures,
            "success_count": 0,
            "last_failure_time": f"{now - last_failure_age:.3f}",
        },
    )
    pipe.hincrby(f"circuit_breaker:{name}:stats", "total_failures", failures)
    pipe.hincrby(f"circuit_breaker:{name}:stats", "total_requests", failures)
    pipe.expire(f"circuit_breaker:{name}:stats", BREAKER_TTL)
    pipe.execute()


def reset_breaker(r: Any, name: str) -> None:
    """The service's own reset: closed, counters zeroed, totals kept."""
    pipe = r.pipeline()
    pipe.set(f"circuit_breaker:{name}:state", "closed", ex=BREAKER_TTL)
    pipe.hset(
        f"circuit_breaker:{name}:stats",
        mapping={"failure_count": 0, "success_count": 0, "last_failure_time": 0, "last_success_time": 0},
    )
    pipe.expire(f"circuit_breaker:{name}:stats", BREAKER_TTL)
    pipe.execute()


def breaker_state(r: Any, name: str) -> str:
    return r.get(f"circuit_breaker:{name}:state") or "closed"


# --- simulators' lab controls -------------------------------------------------------
def apaleo_lab(path: str, body: dict[str, Any] | None = None, method: str = "POST") -> dict[str, Any]:
    answer = requests.request(
        method,
        APALEO_URL + path,
        json=body if method != "GET" else None,
        headers={"X-Lab-Token": lab_secrets.get("apaleo_lab_token")},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()


def orchestrator_lab_reset(base: str = ORCHESTRATOR_URL) -> None:
    with contextlib.suppress(requests.RequestException):
        requests.post(base + "/_lab/reset", headers={"X-Lab-Token": lab_secrets.get("apaleo_lab_token")}, timeout=5)
