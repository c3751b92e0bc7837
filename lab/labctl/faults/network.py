"""Guide: Network Issues — Service Discovery Problems."""

from __future__ import annotations

from typing import Any

from . import ops
from .base import Context, Fault

NS = "voicehive"
SERVICES = ("redis", "postgresql")
DNS_NS = "kube-system"
DNS_PODS = "k8s-app=kube-dns"
DEFAULT_SELECTORS = {"redis": {"app": "redis"}, "postgresql": {"app": "postgresql"}}


def endpoints_path(name: str) -> str:
    return f"/api/v1/namespaces/{NS}/endpoints/{name}"


def service_path(name: str) -> str:
    return f"/api/v1/namespaces/{NS}/services/{name}"


def has_addresses(ctx: Context, name: str) -> bool:
    endpoints = ctx.kube.get(endpoints_path(name)) or {}
    return any(subset.get("addresses") for subset in endpoints.get("subsets") or [])


class ServiceDiscovery(Fault):
    """A bad deploy dropped the selectors of Services redis and postgresql: their Endpoints are empty.

    Kubernetes leaves the Endpoints of a selector-less Service alone, so they stay empty until the
    Service definition (with its selector) is applied again — the guide's "Update Service
    Configuration". CoreDNS pods are NotReady on top (the guide's "Restart CoreDNS").
    """

    name = "service-discovery"
    summary = "Services redis and postgresql lost their selectors (empty Endpoints); CoreDNS pods NotReady"
    guide = "Network Issues / Service Discovery Problems"

    def inject(self, ctx: Context) -> dict[str, Any]:
        selectors: dict[str, Any] = {}
        for name in SERVICES:
            service = ctx.kube.get(service_path(name))
            if service is None:
                continue
            selectors[name] = (service.get("spec") or {}).get("selector")
            ctx.kube.merge_patch(service_path(name), {"spec": {"selector": None}})
            ctx.kube.merge_patch(endpoints_path(name), {"subsets": None})
        ops.set_pod_annotations(ctx.kube, DNS_NS, DNS_PODS, {ops.CONDITION: "NotReady"})
        return {"selectors": selectors}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        recorded = record.get("selectors") or {}
        for name in SERVICES:
            service = ctx.kube.get(service_path(name))
            if service is None:
                continue
            selector = recorded.get(name) or DEFAULT_SELECTORS[name]
            if (service.get("spec") or {}).get("selector") != selector:
                # the controller fills the Endpoints again from the selector's ready pods
                ctx.kube.merge_patch(service_path(name), {"spec": {"selector": selector}})
        ops.drop_pod_annotations(ctx.kube, DNS_NS, DNS_PODS, [ops.CONDITION])

    def active(self, ctx: Context) -> bool:
        empty = [name for name in SERVICES if ctx.kube.get(service_path(name)) and not has_addresses(ctx, name)]
        dns = ctx.kube.pods(DNS_NS, DNS_PODS)
        return bool(empty) and bool(dns) and not any(ops.pod_is_ready(p) for p in dns)


FAULTS = [ServiceDiscovery()]
