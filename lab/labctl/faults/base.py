"""A fault: one guide issue made real through the services' own interfaces."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import redis

from .. import secrets as lab_secrets
from ..kube import Kube
from ..services import redis_svc


class Context:
    """Clients of the lab's services, built lazily with the lab's secrets."""

    def __init__(self) -> None:
        self.secrets = lab_secrets.load()

    @cached_property
    def kube(self) -> Kube:
        return Kube(self.secrets["kube_admin_token"])

    def redis(self, port: int = 16379) -> redis.Redis:
        return redis_svc.client(port, self.secrets["redis_password"])


class Fault:
    """Subclasses set name/summary/guide and implement inject and clear.

    `inject` returns a JSON-able record (what it changed, snapshots to restore) that is
    kept in faults.json and handed back to `clear`. `clear` must also work with an empty
    record (`fault clear` after a lost faults.json): it restores the seeded healthy state.
    """

    name: str = ""
    summary: str = ""
    guide: str = ""

    def inject(self, ctx: Context) -> dict[str, Any]:
        raise NotImplementedError

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def active(self, ctx: Context) -> bool:
        """Whether the fault is observable in the services right now (used by tests and `fault status`)."""
        raise NotImplementedError

    def healthy(self, ctx: Context) -> bool:
        """Whether what this fault breaks works again (default: the fault is no longer observable)."""
        return not self.active(ctx)
