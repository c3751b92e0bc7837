"""Guide: Database Issues — Connection Failures; Performance Problems."""

from __future__ import annotations

from typing import Any

import psycopg

from ..services import POSTGRES_PRIMARY
from . import helpers, ops
from .base import Context, Fault
from .pgsleeper import APP_NAME

NS = "voicehive"
PG_POD = "app=postgresql"
SESSIONS = 12


class ConnectionFailure(Fault):
    name = "db-connection-failure"
    summary = "the real PostgreSQL primary stopped and pod postgresql-0 NotReady (deleting the pod restarts it)"
    guide = "Database Issues / Database Connection Failures"

    def inject(self, ctx: Context) -> dict[str, Any]:
        ops.set_pod_annotations(ctx.kube, NS, PG_POD, {ops.CONDITION: "NotReady"})
        ops.stop_service("postgres-primary")
        return {}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        ops.start_service("postgres-primary")
        ops.drop_pod_annotations(ctx.kube, NS, PG_POD, [ops.CONDITION])

    def active(self, ctx: Context) -> bool:
        return not ops.port_open(POSTGRES_PRIMARY.port)


def held_sessions(ctx: Context) -> int:
    with POSTGRES_PRIMARY.app(ctx.secrets) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'active'", (APP_NAME,)
        ).fetchone()
    return int(row[0]) if row else 0


class PerformanceProblems(Fault):
    name = "db-performance"
    summary = f"{SESSIONS} real long-running queries (pg_sleep) holding connections on the primary"
    guide = "Database Issues / Database Performance Problems"

    def inject(self, ctx: Context) -> dict[str, Any]:
        helpers.start(
            self.name,
            "pgsleeper",
            "--port",
            str(POSTGRES_PRIMARY.port),
            "--sessions",
            str(SESSIONS),
            "--seconds",
            "900",
        )
        from ..proc import wait_for

        wait_for(lambda: held_sessions(ctx) >= SESSIONS, 15.0)
        return {"application_name": APP_NAME}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        helpers.stop(self.name)
        try:
            with POSTGRES_PRIMARY.admin() as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,)
                )
        except psycopg.Error:
            pass

    def active(self, ctx: Context) -> bool:
        return held_sessions(ctx) >= SESSIONS // 2


FAULTS = [ConnectionFailure(), PerformanceProblems()]
