"""Guide: External Service Issues — LiveKit Connection Problems."""

from __future__ import annotations

from typing import Any

from ..services import LIVEKIT
from . import ops
from .base import Context, Fault

NS = "voicehive"
GUIDE = "External Service Issues / LiveKit Connection Problems"
WRONG_URL = "wss://livekit.voicehive-old.invalid"


class WrongServerUrl(Fault):
    name = "livekit-server-url"
    summary = f"ConfigMap livekit-config server_url points at a retired host ({WRONG_URL})"
    guide = GUIDE

    def inject(self, ctx: Context) -> dict[str, Any]:
        before = ops.snapshot_configmap(ctx.kube, NS, "livekit-config")
        ctx.kube.patch_configmap(NS, "livekit-config", {"server_url": WRONG_URL})
        return {"data": before}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        if record.get("data") is not None:
            ops.restore_configmap(ctx.kube, NS, "livekit-config", record["data"])
        elif (ops.snapshot_configmap(ctx.kube, NS, "livekit-config") or {}).get("server_url") == WRONG_URL:
            ctx.kube.patch_configmap(NS, "livekit-config", {"server_url": "ws://127.0.0.1:17880"})

    def active(self, ctx: Context) -> bool:
        return (ops.snapshot_configmap(ctx.kube, NS, "livekit-config") or {}).get("server_url") == WRONG_URL


class ServerDown(Fault):
    name = "livekit-down"
    summary = "the LiveKit server (simulator process) is stopped: health and TCP connections refused"
    guide = GUIDE

    def inject(self, ctx: Context) -> dict[str, Any]:
        ops.stop_service(LIVEKIT.name)
        return {}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        ops.start_service(LIVEKIT.name)

    def active(self, ctx: Context) -> bool:
        return not ops.port_open(LIVEKIT.port)


FAULTS = [WrongServerUrl(), ServerDown()]
