"""Every service of the lab's port table (lab/README.md), in status order."""

from __future__ import annotations

from .base import Service
from .kubesim_svc import KubesimService
from .monitoring import AlertmanagerService, PrometheusService
from .moto_svc import MotoService
from .openbao import OpenBaoService
from .postgres import PostgresService
from .redis_svc import RedisService
from .sims import (
    ApaleoSim,
    AWXSim,
    LiveKitSim,
    NotifySim,
    OrchestratorSim,
    apaleo_config,
    awx_config,
    livekit_config,
    notify_config,
    orchestrator_config,
)

REDIS_PRIMARY = RedisService("redis-primary", 16379)
REDIS_DR = RedisService("redis-dr", 16380)
POSTGRES_PRIMARY = PostgresService("postgres-primary", 15432)
POSTGRES_DR = PostgresService("postgres-dr", 15433)
KUBESIM = KubesimService()
OPENBAO = OpenBaoService()
PROMETHEUS = PrometheusService()
ALERTMANAGER = AlertmanagerService()
MOTO = MotoService()
APALEO = ApaleoSim("apaleo", "apaleo", 18081, apaleo_config)
LIVEKIT = LiveKitSim("livekit", "livekit", 17880, livekit_config)
AWX = AWXSim("awx", "awx", 18052, awx_config, health_path="/api/v2/ping/")
NOTIFY = NotifySim("notify", "notify", 18099, notify_config)
ORCHESTRATOR_PRIMARY = OrchestratorSim(
    "orchestrator-primary", "orchestrator", 18080, orchestrator_config("lab", "voicehive", 16379, 15432)
)
ORCHESTRATOR_DR = OrchestratorSim(
    "orchestrator-dr", "orchestrator", 18090, orchestrator_config("lab-dr", "voicehive-dr", 16380, 15433)
)

OPENBAO.after = ("kubesim",)
for _orch in (ORCHESTRATOR_PRIMARY, ORCHESTRATOR_DR):
    _orch.after = ("kubesim", "redis-primary", "redis-dr", "postgres-primary", "postgres-dr", "openbao", "apaleo")

SERVICES: list[Service] = [
    KUBESIM,
    REDIS_PRIMARY,
    REDIS_DR,
    POSTGRES_PRIMARY,
    POSTGRES_DR,
    OPENBAO,
    PROMETHEUS,
    ALERTMANAGER,
    MOTO,
    ORCHESTRATOR_PRIMARY,
    ORCHESTRATOR_DR,
    APALEO,
    LIVEKIT,
    NOTIFY,
    AWX,
]
BY_NAME: dict[str, Service] = {svc.name: svc for svc in SERVICES}


def get(name: str) -> Service:
    try:
        return BY_NAME[name]
    except KeyError:
        raise SystemExit(f"unknown lab service {name!r}; known: {', '.join(BY_NAME)}") from None
