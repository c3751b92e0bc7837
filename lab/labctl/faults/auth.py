"""Guide: Authentication Issues — Users Cannot Login (401); API Key Authentication Failing."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import requests

from ..services import openbao
from . import ops
from .base import Context, Fault

NS = "voicehive"
ORCH = "app=orchestrator"
GUIDE_LOGIN = "Authentication Issues / Users Cannot Login (401 Unauthorized)"
GUIDE_API_KEY = "Authentication Issues / API Key Authentication Failing"


class PodsNotReady(Fault):
    name = "login-401-pods-not-ready"
    summary = "every orchestrator pod NotReady (kubesim condition); a rollout restart brings healthy pods"
    guide = GUIDE_LOGIN

    def inject(self, ctx: Context) -> dict[str, Any]:
        return {"pods": ops.set_pod_annotations(ctx.kube, NS, ORCH, {ops.CONDITION: "NotReady"})}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        ops.drop_pod_annotations(ctx.kube, NS, ORCH, [ops.CONDITION])

    def active(self, ctx: Context) -> bool:
        pods = ctx.kube.pods(NS, ORCH)
        return bool(pods) and not any(ops.pod_is_ready(p) for p in pods)


class JwtSecretCorrupted(Fault):
    name = "login-401-jwt-secret"
    summary = "Secret jwt-secret key 'secret' truncated to 12 characters (too short to sign JWTs)"
    guide = GUIDE_LOGIN
    path = f"/api/v1/namespaces/{NS}/secrets/jwt-secret"

    def inject(self, ctx: Context) -> dict[str, Any]:
        good = ctx.kube.secret_value(NS, "jwt-secret", "secret") or ctx.secrets["jwt_secret"]
        bad = base64.b64encode(good[:12].encode()).decode()
        ctx.kube.merge_patch(self.path, {"data": {"secret": bad}})
        return {}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        good = base64.b64encode(ctx.secrets["jwt_secret"].encode()).decode()
        ctx.kube.merge_patch(self.path, {"data": {"secret": good}})

    def active(self, ctx: Context) -> bool:
        value = ctx.kube.secret_value(NS, "jwt-secret", "secret") or ""
        return len(value) < 32


class RedisSessionsCorrupted(Fault):
    name = "login-401-redis-session"
    summary = "corrupted session:* keys in Redis (strings/lists where the orchestrator expects hashes)"
    guide = GUIDE_LOGIN
    count = 25

    def inject(self, ctx: Context) -> dict[str, Any]:
        r = ctx.redis()
        keys = []
        pipe = r.pipeline()
        for index in range(self.count):
            key = f"session:{secrets.token_hex(16)}"
            if index % 5 == 0:
                pipe.rpush(key, "\x00corrupt", "partial-write")
            else:
                pipe.set(key, "\x80\x04\x95 truncated pickle")
            keys.append(key)
        pipe.execute()
        return {"keys": keys}

    def corrupted(self, ctx: Context) -> list[str]:
        r = ctx.redis()
        keys = list(r.scan_iter(match="session:*", count=500))
        pipe = r.pipeline()
        for key in keys:
            pipe.type(key)
        return [key for key, kind in zip(keys, pipe.execute(), strict=True) if kind not in ("hash", "none")]

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        bad = self.corrupted(ctx)
        if bad:
            ctx.redis().delete(*bad)

    def active(self, ctx: Context) -> bool:
        return bool(self.corrupted(ctx))


class VaultSealed(Fault):
    name = "api-key-auth-vault-sealed"
    summary = "OpenBao sealed through sys/seal (API key and PMS credential reads fail)"
    guide = GUIDE_API_KEY

    def inject(self, ctx: Context) -> dict[str, Any]:
        openbao.client(ctx.secrets).sys.seal()
        return {}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        if self.active(ctx):
            openbao.client(ctx.secrets).sys.submit_unseal_key(ctx.secrets["vault_unseal_key"])

    def active(self, ctx: Context) -> bool:
        return bool(requests.get(f"{openbao.URL}/v1/sys/seal-status", timeout=5).json().get("sealed"))


class ApiKeyMissing(Fault):
    name = "api-key-auth-key-missing"
    summary = "the live API key's entry secret/api-keys/<vh_live_ key> deleted from Vault (all versions)"
    guide = GUIDE_API_KEY

    def inject(self, ctx: Context) -> dict[str, Any]:
        openbao.client(ctx.secrets).secrets.kv.v2.delete_metadata_and_all_versions(
            path=f"api-keys/{ctx.secrets['api_key']}", mount_point="secret"
        )
        return {}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        vault = openbao.client(ctx.secrets)
        for mount, path, data in openbao.kv_secrets(ctx.secrets):
            if path.startswith("api-keys/"):
                vault.secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point=mount)

    def active(self, ctx: Context) -> bool:
        answer = requests.get(
            f"{openbao.URL}/v1/secret/data/api-keys/{ctx.secrets['api_key']}",
            headers={"X-Vault-Token": ctx.secrets["vault_root_token"]},
            timeout=5,
        )
        return answer.status_code == 404


FAULTS = [PodsNotReady(), JwtSecretCorrupted(), RedisSessionsCorrupted(), VaultSealed(), ApiKeyMissing()]
