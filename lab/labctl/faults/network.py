"""Guide: Network Issues — Service Discovery Problems."""

from __future__ import annotations

from typing import Any

from . import ops
from .base import Context, Fault

NS = "voicehive"
SERVICES = ("redis", "postgresql")
DNS_NS = "kube-system"
DNS_PODS = "k8s-app=kube-dns"


def endpoints_path(name: str) -> str:
    return f"/api/v1/namespaces/{NS}/endpoints/{name}"


def service_path(name: str) -> str:
    return f"/api/v1/namespaces/{NS}/services/{name}"


def has_addresses(ctx: Context, name: str) -> bool:
    endpoints = ctx.kube.get(endpoints_path(name)) or {}
    return any(subset.get("addresses") for subset in endpoints.get("subsets") or [])


class ServiceDiscovery(Fault):
    name = "service-discovery"
    summary = "Services redis and postgresql with empty Endpoints (manual endpoints), CoreDNS pods NotReady"
    guide = "Network Issues / Service Discovery Problems"

    def inject(self, ctx: Context) -> dict[str, Any]:
        for name in SERVICES:
            if ctx.kube.get(service_path(name)) is None:
                continue
            ctx.kube.merge_patch(service_path(name), {"metadata": {"annotations": {ops.MANUAL_ENDPOINTS: "true"}}})
            ctx.kube.merge_patch(endpoints_path(name), {"subsets": None})
        ops.set_pod_annotations(ctx.kube, DNS_NS, DNS_PODS, {ops.CONDITION: "NotReady"})
        return {"services": list(SERVICES)}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        for name in SERVICES:
            if ctx.kube.get(service_path(name)) is not None:
                # the controller fills Endpoints again once the Service is no longer manual
                ctx.kube.merge_patch(service_path(name), {"metadata": {"annotations": {ops.MANUAL_ENDPOINTS: None}}})
        ops.drop_pod_annotations(ctx.kube, DNS_NS, DNS_PODS, [ops.CONDITION])

    def active(self, ctx: Context) -> bool:
        empty = [name for name in SERVICES if ctx.kube.get(service_path(name)) and not has_addresses(ctx, name)]
        dns = ctx.kube.pods(DNS_NS, DNS_PODS)
        return bool(empty) and bool(dns) and not any(ops.pod_is_ready(p) for p in dns)


FAULTS = [ServiceDiscovery()]
