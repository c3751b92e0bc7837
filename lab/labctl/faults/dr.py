"""Guide: Disaster Recovery — Complete System Failure (the primary site is down)."""

from __future__ import annotations

from typing import Any

from ..services import moto_svc
from . import ops
from .base import Context, Fault

PRIMARY = ("orchestrator-primary", "redis-primary", "postgres-primary")
PORTS = (18080, 16379, 15432)
RECORD = moto_svc.RECORD


class CompleteFailure(Fault):
    name = "complete-failure"
    summary = "primary site down: orchestrator (18080), Redis (16379) and PostgreSQL (15432) processes stopped"
    guide = "Disaster Recovery / Complete System Failure"

    def inject(self, ctx: Context) -> dict[str, Any]:
        for name in PRIMARY:
            ops.stop_service(name)
        return {"stopped": list(PRIMARY)}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        """Primary back up, DNS back on the primary (as after a failback)."""
        for name in ("redis-primary", "postgres-primary", "orchestrator-primary"):
            ops.start_service(name)
        r53 = moto_svc.client(ctx.secrets)
        zone = moto_svc.zone_id(r53)
        if zone:
            r53.change_resource_record_sets(
                HostedZoneId=zone,
                ChangeBatch={
                    "Changes": [c for c in moto_svc.record_changes() if "api." in c["ResourceRecordSet"]["Name"]]
                },
            )

    def active(self, ctx: Context) -> bool:
        return not any(ops.port_open(port) for port in PORTS)


FAULTS = [CompleteFailure()]
