"""Guide: External Service Issues — PMS Connector Failures (Apaleo)."""

from __future__ import annotations

import time
from typing import Any

import requests

from ..services import openbao
from . import ops
from .base import Context, Fault

GUIDE = "External Service Issues / PMS Connector Failures"


def vault_credentials_work(ctx: Context, probe_api: bool = False) -> bool:
    """Do the credentials in Vault still get a token from Apaleo's identity endpoint (and does it work)?"""
    creds = openbao.client(ctx.secrets).secrets.kv.v2.read_secret_version(
        path="pms/apaleo/hotel-001/api-credentials", mount_point=openbao.KV_MOUNT, raise_on_deleted_version=True
    )["data"]["data"]
    answer = requests.post(
        ops.APALEO_URL + "/connect/token",
        data={"grant_type": "client_credentials"},
        auth=(creds["client_id"], creds["client_secret"]),
        timeout=5,
    )
    if answer.status_code != 200 or not probe_api:
        return answer.status_code == 200
    probe = requests.get(
        ops.APALEO_URL + "/inventory/v1/properties/LAB001",
        headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
        timeout=5,
    )
    return probe.status_code == 200


def reseed_vault_credentials(ctx: Context) -> None:
    vault = openbao.client(ctx.secrets)
    for mount, path, data in openbao.kv_secrets(ctx.secrets):
        if path.startswith("pms/"):
            vault.secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point=mount)


class TokenExpired(Fault):
    name = "pms-connector-token-expired"
    summary = "Apaleo revoked every access token issued so far (the connector's cached token now gets 401)"
    guide = GUIDE

    def inject(self, ctx: Context) -> dict[str, Any]:
        answer = ops.apaleo_lab("/_lab/revoke-tokens")
        return {"revoked_before_ms": answer.get("revoked_before_ms", int(time.time() * 1000))}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        """Nothing to undo at Apaleo: tokens issued from now on are valid. Drop the connector's stale token."""
        ops.orchestrator_lab_reset()

    def active(self, ctx: Context) -> bool:
        """Apaleo records a revocation: every token issued before it is rejected (401 token_revoked)."""
        state = ops.apaleo_lab("/_lab/state", method="GET")
        return int(state.get("revoked_before_ms") or 0) > 0

    def healthy(self, ctx: Context) -> bool:
        """A refreshed token (client credentials from Vault) reads the property again."""
        return vault_credentials_work(ctx, probe_api=True)


class CredentialsRotated(Fault):
    name = "pms-connector-credentials-rotated"
    summary = "Apaleo client secret rotated at the vendor; Vault still holds the old one (token requests 401)"
    guide = GUIDE

    def inject(self, ctx: Context) -> dict[str, Any]:
        ops.apaleo_lab("/_lab/rotate", {"client_id": ctx.secrets["apaleo_client_id"]})
        return {}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        ops.apaleo_lab("/_lab/reset")
        reseed_vault_credentials(ctx)
        ops.orchestrator_lab_reset()

    def active(self, ctx: Context) -> bool:
        return not vault_credentials_work(ctx)


class Outage(Fault):
    name = "pms-connector-outage"
    summary = "Apaleo outage: identity and API answer 503"
    guide = GUIDE

    def inject(self, ctx: Context) -> dict[str, Any]:
        ops.apaleo_lab("/_lab/mode", {"mode": "outage"})
        return {}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        ops.apaleo_lab("/_lab/mode", {"mode": "normal"})

    def active(self, ctx: Context) -> bool:
        return requests.get(ops.APALEO_URL + "/health", timeout=5).status_code == 503


FAULTS = [TokenExpired(), CredentialsRotated(), Outage()]
