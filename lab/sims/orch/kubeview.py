"""What the orchestrator knows about itself from the Kubernetes API (kubesim in the lab).

A :class:`KubeView` polls, every few seconds, the orchestrator Deployment (its
container env and pod template), the orchestrator pods (readiness, OOM kills),
the namespace's ConfigMaps, the Secrets ``jwt-secret`` and ``voicehive-secrets``
and the pods' metrics (metrics.k8s.io). Any :class:`sims.common.KubeReader`
works, so tests can pass a tiny fake API. When the API is unreachable the last
good snapshot is kept (a running process keeps the configuration it loaded);
before the first good read, :attr:`Snapshot.ok` is ``False`` and callers use
their defaults.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from sims.common import KubeError, KubeReader, parse_cpu, pod_ready

CONFIGMAPS = ("rate-limit-config", "circuit-breaker-config", "database-config", "livekit-config", "security-config")
SECRETS = ("jwt-secret", "voicehive-secrets")


@dataclass
class PodInfo:
    """The bits of a Pod the orchestrator cares about."""

    name: str
    ready: bool
    phase: str
    restarts: int
    last_terminated_reason: str | None
    cpu_cores: float | None = None


@dataclass
class Snapshot:
    """One consistent read of the orchestrator's Kubernetes objects."""

    ok: bool = False
    error: str | None = None
    deployment_found: bool = False
    env: dict[str, str] = field(default_factory=dict)
    template_hash: str | None = None
    replicas: int | None = None
    cpu_limit: float = 1.0
    pods: list[PodInfo] = field(default_factory=list)
    configmaps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    @property
    def ready_pods(self) -> int:
        """Number of Ready orchestrator pods."""
        return sum(1 for p in self.pods if p.ready)

    def cm(self, name: str, key: str, default: str | None = None) -> str | None:
        """A ConfigMap value (``default`` when the map or key is absent)."""
        value = (self.configmaps.get(name) or {}).get(key)
        return default if value is None else str(value)

    def cpu_pressure(self) -> float:
        """Mean CPU usage / limit over the ready pods that report metrics (0 when unknown)."""
        usage = [p.cpu_cores for p in self.pods if p.ready and p.cpu_cores is not None]
        if not usage:
            return 0.0
        return sum(usage) / len(usage) / (self.cpu_limit or 1.0)


def _container(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    containers = ((((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
    for container in containers:
        if container.get("name") == name:
            return container
    return containers[0] if containers else {}


def read_snapshot(kube: KubeReader, namespace: str, deployment: str, selector: str) -> Snapshot:
    """Read everything once; raises :class:`KubeError` when the API cannot be used."""
    snap = Snapshot(ok=True)
    dep = kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}")
    if dep:
        snap.deployment_found = True
        container = _container(dep, "orchestrator")
        snap.env = {e["name"]: str(e.get("value", "")) for e in container.get("env") or [] if "name" in e}
        template = (dep.get("spec") or {}).get("template") or {}
        snap.template_hash = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16]
        snap.replicas = (dep.get("spec") or {}).get("replicas")
        limit = ((container.get("resources") or {}).get("limits") or {}).get("cpu")
        if limit:
            snap.cpu_limit = parse_cpu(limit) or 1.0
    pods = kube.get(f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": selector}) or {}
    for pod in pods.get("items") or []:
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
        reason = None
        for status in statuses:
            terminated = (status.get("lastState") or {}).get("terminated") or {}
            reason = terminated.get("reason") or reason
        snap.pods.append(
            PodInfo(
                name=pod["metadata"]["name"],
                ready=pod_ready(pod),
                phase=str((pod.get("status") or {}).get("phase")),
                restarts=restarts,
                last_terminated_reason=reason,
            )
        )
    try:
        metrics = kube.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods", {"labelSelector": selector})
    except KubeError:
        metrics = None
    usage = {}
    for item in (metrics or {}).get("items") or []:
        usage[item["metadata"]["name"]] = sum(
            parse_cpu((c.get("usage") or {}).get("cpu", "0")) for c in item.get("containers") or []
        )
    for pod_info in snap.pods:
        pod_info.cpu_cores = usage.get(pod_info.name)
    cms = kube.get(f"/api/v1/namespaces/{namespace}/configmaps") or {}
    for item in cms.get("items") or []:
        name = item["metadata"]["name"]
        if name in CONFIGMAPS:
            snap.configmaps[name] = {k: str(v) for k, v in (item.get("data") or {}).items()}
    for name in SECRETS:
        snap.secrets[name] = kube.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
    return snap


class KubeView:
    """Thread-safe holder of the latest good :class:`Snapshot`."""

    def __init__(self, kube: KubeReader | None, namespace: str, deployment: str, selector: str) -> None:
        """Nothing is read until :meth:`refresh`."""
        self.kube = kube
        self.namespace = namespace
        self.deployment = deployment
        self.selector = selector
        self.snapshot = Snapshot(ok=False, error="not read yet" if kube else "no kubernetes API configured")
        self.reachable = False
        self.lock = threading.Lock()

    def refresh(self) -> Snapshot:
        """Read a new snapshot; on failure keep the previous one and mark the API unreachable."""
        if self.kube is None:
            return self.snapshot
        try:
            snap = read_snapshot(self.kube, self.namespace, self.deployment, self.selector)
        except (KubeError, KeyError, TypeError, ValueError) as exc:
            with self.lock:
                self.reachable = False
                self.snapshot.error = str(exc)
            return self.snapshot
        with self.lock:
            self.snapshot = snap
            self.reachable = True
        return snap
