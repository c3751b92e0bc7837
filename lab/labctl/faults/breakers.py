"""Guide: Circuit Breaker Issues — Circuit Breakers Stuck Open (dependency healthy, or still down)."""

from __future__ import annotations

from typing import Any

import requests

from . import ops
from .base import Context, Fault

GUIDE = "Circuit Breaker Issues / Circuit Breakers Stuck Open"


class BreakerStuckOpen(Fault):
    name = "breaker-stuck-open"
    summary = "pms_connector breaker open in Redis for 15 min although Apaleo is healthy"
    guide = GUIDE
    breakers = ("pms_connector",)

    def inject(self, ctx: Context) -> dict[str, Any]:
        for name in self.breakers:
            ops.open_breaker(ctx.redis(), name, failures=7, last_failure_age=900)
        return {"breakers": list(self.breakers)}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        for name in self.breakers:
            ops.reset_breaker(ctx.redis(), name)

    def active(self, ctx: Context) -> bool:
        return all(ops.breaker_state(ctx.redis(), name) == "open" for name in self.breakers)


class BreakerDependencyDown(BreakerStuckOpen):
    name = "breaker-dependency-down"
    summary = "Apaleo outage (503) and the pms_connector/apaleo_api breakers open: must NOT be reset"
    breakers = ("pms_connector", "apaleo_api")

    def inject(self, ctx: Context) -> dict[str, Any]:
        ops.apaleo_lab("/_lab/mode", {"mode": "outage"})
        for name in self.breakers:
            ops.open_breaker(ctx.redis(), name, failures=9, last_failure_age=5)
        return {"breakers": list(self.breakers)}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        ops.apaleo_lab("/_lab/mode", {"mode": "normal"})
        super().clear(ctx, record)

    def active(self, ctx: Context) -> bool:
        down = requests.get(ops.APALEO_URL + "/health", timeout=5).status_code >= 500
        return down and super().active(ctx)


FAULTS = [BreakerStuckOpen(), BreakerDependencyDown()]
