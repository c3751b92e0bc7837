"""The orchestrator simulator's behaviour: dependency checks, PMS calls through breakers, rate limiting,
authentication, calls, and the background traffic that keeps metrics and logs moving.

Every answer is computed from the real services: Redis (breakers, rate limits,
sessions, cache), PostgreSQL (users, hotels, pg_stat_activity), Vault/OpenBao
(API keys, PMS credentials), the Apaleo and LiveKit simulators and the
Kubernetes API (its Deployment env, pods, ConfigMaps, Secrets).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import jwt
import psycopg
import redis
import requests
from psycopg.conninfo import make_conninfo

from sims.common import (
    AppLog,
    HTTPError,
    KubeReader,
    TTLCache,
    http_session,
    kube_from_config,
    resolvable,
    secret_value,
    truthy,
)
from sims.orch.breaker import Breakers, all_states, get_state
from sims.orch.kubeview import KubeView, Snapshot

DEFAULTS = {
    "requests_per_minute": 60,
    "failure_threshold": 5,
    "success_threshold": 3,
    "max_connections": 20,
    "cache_ttl": 300,
    "brute_force_threshold": 20,
    "call_duration": 6.0,
}
ENV_SWITCHES = (
    "FALLBACK_MODE",
    "PMS_FALLBACK_MODE",
    "CACHE_ENABLED",
    "CACHE_TTL",
    "MEMORY_OPTIMIZATION",
    "GC_THRESHOLD",
    "LOG_LEVEL",
    "AUDIT_LOGGING",
)
SECRET_KEYS = {"password", "secret", "token", "api_key", "api_secret", "jwt_secret", "database_url", "redis_url"}
SECRET_SUFFIXES = ("_password", "_secret", "_token", "_dsn")
_B64_RX = re.compile(r"\A[A-Za-z0-9+/_-]+={0,2}\Z")


class PMSError(Exception):
    """A failed step of a PMS call: HTTP-like ``status``, ``reason`` and the breaker of the step."""

    def __init__(self, status: int, reason: str, breaker: str) -> None:
        """Remember what failed and where."""
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.breaker = breaker


class JwtSecretInvalid(Exception):
    """The JWT signing secret is missing or corrupted."""


class SessionStoreError(Exception):
    """The Redis session store cannot be used."""


def validate_jwt_secret(value: str | None) -> str:
    """Return ``value`` when it is base64 (standard or URL-safe, padding optional) of >= 32 bytes."""
    if value is None:
        raise JwtSecretInvalid("missing")
    text = value.strip()
    if not _B64_RX.match(text):
        raise JwtSecretInvalid("not_base64")
    try:
        raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JwtSecretInvalid("not_base64") from exc
    if len(raw) < 32:
        raise JwtSecretInvalid("too_short")
    return text


def http_url(server_url: str) -> str:
    """LiveKit's ``ws(s)://`` server URL as the ``http(s)://`` URL of the same server."""
    if server_url.startswith("wss://"):
        return "https://" + server_url[6:]
    if server_url.startswith("ws://"):
        return "http://" + server_url[5:]
    return server_url


class DBPool:
    """A tiny connection pool (idle connections reused, broken ones dropped)."""

    def __init__(self, dsn: str, max_idle: int = 4) -> None:
        """Connections are opened lazily."""
        self.dsn = dsn
        self.max_idle = max_idle
        self.idle: list[psycopg.Connection] = []
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """Borrow a connection (autocommit); raises :class:`psycopg.Error` when the database is unusable."""
        with self.lock:
            conn = self.idle.pop() if self.idle else None
        if conn is None or conn.closed:
            conn = psycopg.connect(self.dsn, connect_timeout=2, autocommit=True, application_name="orchestrator")
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()
            raise
        with self.lock:
            if len(self.idle) < self.max_idle and not conn.closed:
                self.idle.append(conn)
                return
        conn.close()

    def clear(self) -> None:
        """Close every idle connection (a restarted process has a fresh pool)."""
        with self.lock:
            idle, self.idle = self.idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()


class Orchestrator:
    """State and behaviour of one orchestrator site."""

    def __init__(self, cfg: dict[str, Any], kube: KubeReader | None = None) -> None:
        """Wire the clients from ``cfg``; ``kube`` overrides the ``kube`` config block (tests)."""
        self.cfg = cfg
        self.site = str(cfg.get("site", "lab"))
        self.role = str(cfg.get("role") or ("dr" if self.site.endswith("-dr") else "primary"))
        self.namespace = str(cfg.get("namespace", "voicehive"))
        self.defaults = {**DEFAULTS, **(cfg.get("defaults") or {})}
        self._secrets = self._collect_secrets(cfg)
        self.applog = AppLog(
            cfg.get("log_file") or cfg.get("app_log"), int(cfg.get("app_log_max_bytes", 4 * 1024 * 1024))
        )
        self.redis = redis.Redis.from_url(
            cfg["redis_url"], decode_responses=True, socket_timeout=1.0, socket_connect_timeout=1.0
        )
        self.pool = DBPool(self._dsn(cfg))
        vault = cfg.get("vault") or {}
        self.vault_url = str(vault.get("url") or cfg.get("vault_addr") or "http://127.0.0.1:8200").rstrip("/")
        self.vault_token_cfg = str(vault.get("token") or cfg.get("vault_token") or "")
        self.kv_mount = str(vault.get("kv_mount", "voicehive"))
        self.api_key_mount = str(vault.get("api_key_mount", "secret"))
        self.apaleo = cfg.get("apaleo") or {}
        self.livekit = cfg.get("livekit") or {}
        self.http = http_session()
        self.kubeview = KubeView(
            kube if kube is not None else kube_from_config(cfg.get("kube")),
            self.namespace,
            str(cfg.get("deployment", "orchestrator")),
            str(cfg.get("pod_selector", "app=orchestrator")),
        )
        self.cache = TTLCache(float(cfg.get("health_cache_seconds", 1.0)))
        self.breakers = Breakers(self.redis, self.log, self.failure_threshold, int(self.defaults["success_threshold"]))
        self.metrics: Any = None  # set by sims.orch.metrics.Metrics
        self.lock = threading.Lock()
        self.token_cache: dict[str, tuple[str, float]] = {}
        self.calls: list[tuple[float, str]] = []
        self.auth_failures_by_ip: dict[str, deque[float]] = {}
        self.incident_at: dict[str, float] = {}
        self.seen_restarts: dict[str, int] = {}
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.base_url: str | None = None
        self.started_at = time.time()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _dsn(cfg: dict[str, Any]) -> str:
        if cfg.get("database_url") or cfg.get("postgres_dsn"):
            return str(cfg.get("database_url") or cfg.get("postgres_dsn"))
        pg = cfg.get("postgres") or {}
        return make_conninfo(**{k: str(v) for k, v in pg.items()})

    @staticmethod
    def _collect_secrets(cfg: Any, key: str = "") -> set[str]:
        found: set[str] = set()
        if isinstance(cfg, dict):
            for k, v in cfg.items():
                found |= Orchestrator._collect_secrets(v, str(k))
        elif isinstance(cfg, list):
            for v in cfg:
                found |= Orchestrator._collect_secrets(v, key)
        elif isinstance(cfg, str) and len(cfg) >= 8 and (key in SECRET_KEYS or key.endswith(SECRET_SUFFIXES)):
            found.add(cfg)
            if "://" in cfg:
                password = urlsplit(cfg).password
                if password and len(password) >= 6:
                    found |= {password, unquote(password), quote(password)}
        return found

    def scrub(self, text: Any) -> str:
        """``text`` with every configured secret value masked."""
        out = str(text)
        for value in self._secrets:
            if value in out:
                out = out.replace(value, "***")
        return out

    def log(self, level: str, logger: str, message: str, **fields: Any) -> None:
        """Append one structured line to the application log (secret values masked)."""
        self.applog.log(level, logger, message, **{k: self.scrub(v) for k, v in fields.items()})

    @property
    def snap(self) -> Snapshot:
        """Latest Kubernetes snapshot."""
        return self.kubeview.snapshot

    def env(self, name: str, default: str = "") -> str:
        """A switch from the Deployment's container env."""
        return self.snap.env.get(name, default)

    def _cm_int(self, cm: str, key: str, default_key: str) -> int:
        raw = self.snap.cm(cm, key)
        try:
            return int(str(raw).strip()) if raw is not None else int(self.defaults[default_key])
        except ValueError:
            return int(self.defaults[default_key])

    def failure_threshold(self) -> int:
        """ConfigMap ``circuit-breaker-config`` ``failure_threshold`` (default 5)."""
        return max(1, self._cm_int("circuit-breaker-config", "failure_threshold", "failure_threshold"))

    def rate_limit(self) -> int:
        """ConfigMap ``rate-limit-config`` ``requests_per_minute`` (default 60)."""
        return max(1, self._cm_int("rate-limit-config", "requests_per_minute", "requests_per_minute"))

    def pool_max(self) -> int:
        """ConfigMap ``database-config`` ``max_connections`` (default 20)."""
        return max(1, self._cm_int("database-config", "max_connections", "max_connections"))

    def blocked_ips(self) -> set[str]:
        """ConfigMap ``security-config`` ``blocked_ips`` (comma or whitespace separated)."""
        raw = self.snap.cm("security-config", "blocked_ips", "") or ""
        return {p for p in re.split(r"[,\s]+", raw) if p}

    def livekit_server_url(self) -> str:
        """ConfigMap ``livekit-config`` ``server_url``, else the configured URL."""
        return str(self.snap.cm("livekit-config", "server_url") or self.livekit.get("url") or "")

    def no_ready_pods(self) -> bool:
        """True when Kubernetes says the orchestrator has no Ready pod (unknown counts as ready)."""
        snap = self.snap
        return snap.ok and snap.deployment_found and snap.ready_pods == 0

    def count_error(self, kind: str) -> None:
        """Increment ``voicehive_errors_total{type}``."""
        if self.metrics:
            self.metrics.errors.labels(type=kind).inc()

    # ------------------------------------------------------------------ lifecycle
    def start(self, base_url: str) -> None:
        """Start the Kubernetes poller and the traffic generator."""
        self.base_url = base_url
        self.kubeview.refresh()
        self.apply_snapshot(None, self.snap)
        self.log(
            "INFO",
            "orchestrator.main",
            "application_startup",
            site=self.site,
            role=self.role,
            pid=os.getpid(),
            ready_pods=self.snap.ready_pods,
        )
        self.threads = [threading.Thread(target=self._kube_loop, name="kube-poller", daemon=True)]
        if (self.cfg.get("traffic") or {}).get("enabled", True):
            self.threads.append(threading.Thread(target=self._traffic_loop, name="traffic", daemon=True))
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        """Stop background threads and close connections."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.pool.clear()
        with contextlib.suppress(Exception):
            self.redis.close()

    def reset(self) -> None:
        """Forget in-memory state (what a process restart forgets)."""
        with self.lock:
            self.token_cache.clear()
            self.auth_failures_by_ip.clear()
            self.incident_at.clear()
        self.cache.clear()
        self.pool.clear()

    def _kube_loop(self) -> None:
        interval = float(self.cfg.get("kube_refresh_seconds", 2.0))
        while not self.stop_event.wait(interval):
            old = self.snap
            new = self.kubeview.refresh()
            if new is not old:
                try:
                    self.apply_snapshot(old, new)
                except Exception as exc:
                    self.log("ERROR", "orchestrator.config", "config_apply_failed", error=type(exc).__name__)

    def apply_snapshot(self, old: Snapshot | None, new: Snapshot) -> None:
        """React to what changed in Kubernetes: restarts, env switches, ConfigMaps, OOM kills."""
        self.applog.level = (new.env.get("LOG_LEVEL") or "INFO").upper()
        old_pods = {p.name for p in old.pods} if old is not None and old.ok else set()
        new_pods = {p.name for p in new.pods}
        rollout = bool(old is not None and old.ok and new.template_hash and old.template_hash != new.template_hash)
        replaced = bool(old_pods and new_pods and not old_pods & new_pods)  # e.g. kubectl delete pods -l app=...
        if rollout or replaced:
            self.reset()
            changed = {k: new.env.get(k) for k in ENV_SWITCHES if old.env.get(k) != new.env.get(k)}
            self.log(
                "INFO",
                "orchestrator.main",
                "application_startup",
                reason="rollout" if rollout else "pods_replaced",
                template=new.template_hash,
                **{k.lower(): v for k, v in changed.items()},
            )
            if truthy(new.env.get("MEMORY_OPTIMIZATION")):
                self.log(
                    "INFO",
                    "orchestrator.memory",
                    "memory_optimization_enabled",
                    gc_threshold=new.env.get("GC_THRESHOLD", "700"),
                )
        if old is not None and old.ok:
            for name in sorted(set(old.configmaps) | set(new.configmaps)):
                if old.configmaps.get(name) != new.configmaps.get(name):
                    self.log(
                        "INFO", "orchestrator.config", "config_reloaded", configmap=name, **new.configmaps.get(name, {})
                    )
        for pod in new.pods:
            previous = self.seen_restarts.get(pod.name)
            self.seen_restarts[pod.name] = pod.restarts
            if previous is not None and pod.restarts > previous and pod.last_terminated_reason:
                level = "ERROR" if pod.last_terminated_reason == "OOMKilled" else "WARNING"
                message = "memory_limit_exceeded" if pod.last_terminated_reason == "OOMKilled" else "worker_restarted"
                self.log(
                    level,
                    "orchestrator.memory",
                    message,
                    pod=pod.name,
                    reason=pod.last_terminated_reason,
                    restarts=pod.restarts,
                )

    # ------------------------------------------------------------------ dependency checks
    def check_redis(self) -> dict[str, Any]:
        """PING Redis (cached ~1 s)."""

        def run() -> dict[str, Any]:
            start = time.perf_counter()
            try:
                self.redis.ping()
                return {"status": "healthy", "latency_ms": round((time.perf_counter() - start) * 1000, 2)}
            except redis.RedisError as exc:
                return {"status": "unhealthy", "error": self.scrub(f"{type(exc).__name__}: {exc}")[:300]}

        return self.cache.get("redis", run)

    def check_database(self) -> dict[str, Any]:
        """Connect + ``SELECT 1`` + active connections from pg_stat_activity (cached ~1 s)."""

        def run() -> dict[str, Any]:
            start = time.perf_counter()
            try:
                with self.pool.connection() as conn:
                    conn.execute("SELECT 1").fetchone()
                    active, total = conn.execute(
                        "SELECT count(*) FILTER (WHERE state = 'active' AND pid <> pg_backend_pid()), "
                        "count(*) FILTER (WHERE datname = current_database()) FROM pg_stat_activity"
                    ).fetchone()
                return {
                    "status": "healthy",
                    "latency_ms": round((time.perf_counter() - start) * 1000, 2),
                    "active_connections": int(active),
                    "total_connections": int(total),
                    "max_connections": self.pool_max(),
                }
            except psycopg.Error as exc:
                return {
                    "status": "unhealthy",
                    "error": self.scrub(f"{type(exc).__name__}: {exc}")[:300],
                    "max_connections": self.pool_max(),
                }

        return self.cache.get("database", run)

    def vault_token(self) -> str:
        """Vault token: Secret ``voicehive-secrets`` key ``vault-token`` when present, else the config."""
        value = secret_value(self.snap.secrets.get("voicehive-secrets"), "vault-token")
        return value.strip() if value else self.vault_token_cfg

    def check_vault(self) -> dict[str, Any]:
        """``/v1/sys/health`` plus a token self-lookup (cached ~1 s)."""

        def run() -> dict[str, Any]:
            try:
                resp = self.http.get(f"{self.vault_url}/v1/sys/health", timeout=1.0)
                data = resp.json() if resp.content else {}
            except (requests.RequestException, ValueError) as exc:
                return {"status": "unhealthy", "reachable": False, "error": type(exc).__name__}
            result: dict[str, Any] = {
                "reachable": True,
                "http_status": resp.status_code,
                "initialized": data.get("initialized"),
                "sealed": data.get("sealed"),
                "version": data.get("version"),
            }
            token_ok = False
            if not data.get("sealed"):
                try:
                    look = self.http.get(
                        f"{self.vault_url}/v1/auth/token/lookup-self",
                        headers={"X-Vault-Token": self.vault_token()},
                        timeout=1.0,
                    )
                    token_ok = look.status_code == 200
                except requests.RequestException:
                    token_ok = False
            result["authenticated"] = token_ok
            result["status"] = "healthy" if resp.status_code in (200, 429) and token_ok else "unhealthy"
            return result

        return self.cache.get("vault", run)

    def vault_read(self, mount: str, path: str) -> dict[str, Any] | None:
        """Read a KV v2 secret; ``None`` when absent; ``RuntimeError(reason)`` when Vault cannot answer."""
        try:
            resp = self.http.get(
                f"{self.vault_url}/v1/{mount}/data/{path}", headers={"X-Vault-Token": self.vault_token()}, timeout=1.0
            )
        except requests.RequestException as exc:
            raise RuntimeError("vault_unreachable") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code == 503:
            raise RuntimeError("vault_sealed")
        if resp.status_code in (401, 403):
            raise RuntimeError("vault_auth_failed")
        if resp.status_code != 200:
            raise RuntimeError(f"vault_http_{resp.status_code}")
        return ((resp.json() or {}).get("data") or {}).get("data") or {}

    def check_livekit(self) -> dict[str, Any]:
        """Reachability of the ``server_url`` in ConfigMap ``livekit-config`` (cached ~1 s)."""

        def run() -> dict[str, Any]:
            server_url = self.livekit_server_url()
            if not server_url:
                return {"status": "unhealthy", "server_url": None, "error": "no server_url configured"}
            if not resolvable(http_url(server_url)):
                return {"status": "unhealthy", "server_url": server_url, "error": "dns_resolution_failed"}
            try:
                resp = self.http.get(http_url(server_url).rstrip("/") + "/", timeout=1.0)
            except requests.RequestException as exc:
                return {"status": "unhealthy", "server_url": server_url, "error": type(exc).__name__}
            healthy = resp.status_code == 200
            return {
                "status": "healthy" if healthy else "unhealthy",
                "server_url": server_url,
                "http_status": resp.status_code,
            }

        return self.cache.get("livekit", run)

    def check_apaleo(self) -> dict[str, Any]:
        """Apaleo ``/health`` plus the connector's token and a property probe (cached ~1 s)."""

        def run() -> dict[str, Any]:
            api = str(self.apaleo.get("api_url") or self.apaleo.get("url") or "").rstrip("/")
            result: dict[str, Any] = {"url": api}
            try:
                result["health_http"] = self.http.get(f"{api}/health", timeout=1.0).status_code
            except requests.RequestException as exc:
                return {**result, "status": "unhealthy", "error": type(exc).__name__}
            hotel = str(self.apaleo.get("hotel_id", "hotel-001"))
            try:
                creds = self.pms_credentials(hotel)
                token = self.apaleo_token(creds)  # the connector's test_connection(): its own cached token
                result["auth"] = "ok"
                self.apaleo_property(token, self.property_for(hotel))
                result["property"] = "ok"
            except PMSError as exc:
                result.setdefault("auth", exc.reason if exc.breaker == "apaleo_auth" else "ok")
                result["property"] = exc.reason if exc.breaker == "apaleo_api" else "not_tried"
                result["error"] = exc.reason
            healthy = result.get("health_http") == 200 and result.get("property") == "ok"
            result["status"] = "healthy" if healthy else "unhealthy"
            return result

        return self.cache.get("apaleo", run)

    def check_kubernetes(self) -> dict[str, Any]:
        """What the last Kubernetes poll saw."""
        snap = self.snap
        ready = snap.ready_pods
        status = "healthy" if snap.ok and self.kubeview.reachable and ready > 0 else "unhealthy"
        if not snap.ok:
            status = "unknown"
        return {
            "status": status,
            "api_reachable": self.kubeview.reachable,
            "ready_pods": ready,
            "pods": len(snap.pods),
            "error": snap.error,
        }

    def breaker_states(self) -> dict[str, str] | None:
        """All breaker states from Redis (cached ~1 s); ``None`` when Redis is down."""

        def run() -> dict[str, str] | None:
            try:
                return all_states(self.redis)
            except redis.RedisError:
                return None

        return self.cache.get("breakers", run)

    # ------------------------------------------------------------------ PMS
    def property_for(self, hotel_id: str) -> str:
        """Apaleo property of a hotel (table ``hotels``; config fallback)."""

        def run() -> dict[str, str]:
            try:
                with self.pool.connection() as conn:
                    return dict(conn.execute("SELECT id, apaleo_property_id FROM hotels").fetchall())
            except psycopg.Error:
                return {}

        mapping = self.cache.get("hotels", run, ttl=30.0)
        return mapping.get(hotel_id) or str(self.apaleo.get("property_id", "LAB001"))

    def pms_credentials(self, hotel_id: str) -> dict[str, str]:
        """Apaleo client credentials from Vault (``{kv_mount}/pms/apaleo/{hotel}/api-credentials``, then
        ``secret/pms/apaleo/credentials``), cached ~2 s."""

        def run() -> dict[str, str] | str:
            try:
                for mount, path in (
                    (self.kv_mount, f"pms/apaleo/{hotel_id}/api-credentials"),
                    ("secret", "pms/apaleo/credentials"),
                ):
                    data = self.vault_read(mount, path)
                    if data and data.get("client_id") and data.get("client_secret"):
                        return {"client_id": str(data["client_id"]), "client_secret": str(data["client_secret"])}
                return "credentials_not_found"
            except RuntimeError as exc:
                return str(exc)

        result = self.cache.get(f"pmscreds:{hotel_id}", run, ttl=2.0)
        if isinstance(result, str):
            raise PMSError(500, result, "apaleo_auth")
        return result

    def apaleo_token(self, creds: dict[str, str], use_cache: bool = True) -> str:
        """Client-credentials token from Apaleo (cached until shortly before it expires)."""
        cache_key = hashlib.sha256(f"{creds['client_id']}:{creds['client_secret']}".encode()).hexdigest()
        now = time.time()
        if use_cache:
            hit = self.token_cache.get(cache_key)
            if hit and hit[1] > now:
                return hit[0]
        identity = str(self.apaleo.get("identity_url") or self.apaleo.get("url") or "").rstrip("/")
        try:
            resp = self.http.post(
                f"{identity}/connect/token",
                auth=(creds["client_id"], creds["client_secret"]),
                data={"grant_type": "client_credentials"},
                timeout=2.0,
            )
        except requests.RequestException as exc:
            raise PMSError(503, "apaleo_unreachable", "apaleo_auth") from exc
        if resp.status_code == 401:
            raise PMSError(401, "invalid_client", "apaleo_auth")
        if resp.status_code != 200:
            raise PMSError(resp.status_code, f"token_http_{resp.status_code}", "apaleo_auth")
        body = resp.json()
        token = str(body["access_token"])
        ttl = float(body.get("expires_in", 3600))
        if use_cache:
            self.token_cache[cache_key] = (token, now + max(0.0, ttl - min(30.0, ttl / 10)))
        return token

    def apaleo_property(self, token: str, property_id: str) -> dict[str, Any]:
        """``GET /inventory/v1/properties/{id}``."""
        api = str(self.apaleo.get("api_url") or self.apaleo.get("url") or "").rstrip("/")
        try:
            resp = self.http.get(
                f"{api}/inventory/v1/properties/{property_id}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=2.0,
            )
        except requests.RequestException as exc:
            raise PMSError(503, "apaleo_unreachable", "apaleo_api") from exc
        if resp.status_code == 401:
            # like the real connector, a token Apaleo rejects stays cached until it expires or the
            # process restarts (the guide's "refresh_token()" / "restart PMS connector" steps)
            raise PMSError(401, "token_rejected", "apaleo_api")
        if resp.status_code != 200:
            raise PMSError(resp.status_code, f"api_http_{resp.status_code}", "apaleo_api")
        return resp.json()

    def pms_sync(self, hotel_id: str) -> tuple[int, dict[str, Any]]:
        """One PMS call through breakers ``pms_connector`` / ``apaleo_auth`` / ``apaleo_api``."""
        fallback = truthy(self.env("FALLBACK_MODE")) or truthy(self.env("PMS_FALLBACK_MODE"))
        error: PMSError | None = None
        body: dict[str, Any] = {}
        try:
            for name in ("pms_connector", "apaleo_api", "apaleo_auth"):
                if get_state(self.redis, name) == "open":
                    error = PMSError(503, "circuit_breaker_open", name)
                    self.log(
                        "WARNING",
                        "orchestrator.circuit_breaker",
                        "circuit_breaker_rejected",
                        name=name,
                        hotel_id=hotel_id,
                    )
                    break
        except redis.RedisError:
            pass  # breaker state unknown: the breaker fails open
        if error is None:
            try:
                creds = self.pms_credentials(hotel_id)
                token = self.apaleo_token(creds)
                prop = self.apaleo_property(token, self.property_for(hotel_id))
                body = {"hotel_id": hotel_id, "property": prop.get("id"), "name": prop.get("name"), "source": "apaleo"}
                with contextlib.suppress(redis.RedisError):
                    for name in ("apaleo_auth", "apaleo_api", "pms_connector"):
                        self.breakers.record_success(name)
            except PMSError as exc:
                error = exc
                self.count_error("pms")
                self.log(
                    "ERROR",
                    "orchestrator.pms",
                    "pms_request_failed",
                    vendor="apaleo",
                    hotel_id=hotel_id,
                    status=exc.status,
                    reason=exc.reason,
                )
                with contextlib.suppress(redis.RedisError):
                    for name in dict.fromkeys((exc.breaker, "pms_connector")):
                        self.breakers.record_failure(name, exc.reason)
        if error is None:
            self.metrics.pms.labels(status="200").inc()
            return 200, body
        if fallback:
            self.metrics.pms.labels(status="fallback").inc()
            self.log("INFO", "orchestrator.pms", "pms_fallback_served", hotel_id=hotel_id, reason=error.reason)
            return 200, {"hotel_id": hotel_id, "source": "fallback", "reason": error.reason}
        if error.reason == "circuit_breaker_open" or error.status == 503:
            status = 503  # fail fast, or the PMS itself is unavailable
        elif error.status == 500 and error.breaker == "apaleo_auth":
            status = 500  # our side: credentials could not be read
        else:
            status = 502  # the PMS answered with an error
        self.metrics.pms.labels(status=str(status)).inc()
        return status, {"detail": "PMS unavailable", "reason": error.reason}

    # ------------------------------------------------------------------ rate limiting
    def check_rate_limit(self, client_id: str, ip: str, path: str) -> None:
        """Fixed one-minute window per client and path; raises 429 past ConfigMap ``requests_per_minute``."""
        limit = self.rate_limit()
        try:
            allow = self.redis.mget(f"rate_limit:whitelist:{ip}", f"rate_limit:whitelist:{client_id}")
            if any(v is not None and v.strip().lower() not in ("", "0", "false") for v in allow):
                return
            key = f"rate_limit:{client_id}:{path}:per_minute"
            pipe = self.redis.pipeline()
            pipe.incr(key)
            pipe.ttl(key)
            count, ttl = pipe.execute()
            if ttl is None or int(ttl) < 0:
                self.redis.expire(key, 60)
                ttl = 60
        except redis.RedisError as exc:
            self.log("WARNING", "orchestrator.rate_limit", "rate_limiter_unavailable", error=type(exc).__name__)
            return
        if int(count) > limit:
            self.metrics.rate_limited.labels(client_id=client_id).inc()
            self.log(
                "WARNING",
                "orchestrator.rate_limit",
                "rate_limit_exceeded",
                client_id=client_id,
                path=path,
                limit=limit,
                count=count,
            )
            raise HTTPError(
                429,
                {"detail": "Too Many Requests", "limit": limit, "retry_after": int(ttl)},
                {"Retry-After": str(max(1, int(ttl))), "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"},
            )

    # ------------------------------------------------------------------ authentication
    def auth_failed(self, status: int, detail: str, reason: str, ip: str, user: str = "-") -> HTTPError:
        """Log and count an authentication failure; return the error to raise."""
        self.metrics.auth_failures.labels(reason=reason).inc()
        self.log("WARNING", "orchestrator.auth", "auth_failure", reason=reason, ip=ip, user=user)
        self.audit("auth", result="failure", reason=reason, ip=ip, user=user)
        now = time.time()
        with self.lock:
            window = self.auth_failures_by_ip.setdefault(ip, deque())
            window.append(now)
            while window and window[0] < now - 60:
                window.popleft()
            count = len(window)
            fire = count >= int(self.defaults["brute_force_threshold"]) and now - self.incident_at.get(ip, 0) > 300
            if fire:
                self.incident_at[ip] = now
        if fire:
            self.metrics.security_incidents.labels(type="brute_force").inc()
            self.log(
                "CRITICAL", "orchestrator.security", "security_incident", type="brute_force", ip=ip, failures=count
            )
        return HTTPError(status, {"detail": detail})

    def audit(self, action: str, **fields: Any) -> None:
        """Audit line when ``AUDIT_LOGGING=true``."""
        if truthy(self.env("AUDIT_LOGGING")):
            self.log("INFO", "orchestrator.audit", "audit_event", action=action, **fields)

    def jwt_secret(self) -> str:
        """The signing secret from Secret ``jwt-secret`` key ``secret``, validated."""
        snap = self.snap
        if snap.ok:
            secret = snap.secrets.get("jwt-secret")
            if secret is None:
                raise JwtSecretInvalid("secret_missing")
            value = secret_value(secret, "secret")
            if value is None:
                raise JwtSecretInvalid("key_missing")
        else:
            value = self.cfg.get("jwt_secret")
            if not value:
                raise JwtSecretInvalid("unavailable")
        return validate_jwt_secret(value)

    def check_session_store(self) -> None:
        """Every ``session:*`` key must be a hash (SCAN + TYPE, bounded)."""
        try:
            keys = []
            for key in self.redis.scan_iter(match="session:*", count=500):
                keys.append(key)
                if len(keys) >= 2000:
                    break
            if keys:
                pipe = self.redis.pipeline()
                for key in keys:
                    pipe.type(key)
                for key, kind in zip(keys, pipe.execute(), strict=True):
                    if kind not in ("hash", "none"):
                        raise SessionStoreError(f"WRONGTYPE key={key} type={kind}")
        except redis.RedisError as exc:
            raise SessionStoreError(f"{type(exc).__name__}: {exc}") from exc

    def login(self, username: Any, password: Any, ip: str) -> dict[str, Any]:
        """Authenticate against PostgreSQL, create the Redis session, issue JWTs."""
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            raise HTTPError(422, {"detail": "username and password are required strings"})
        if self.no_ready_pods():
            self.log("ERROR", "orchestrator.auth", "auth_service_unavailable", ready_pods=0)
            raise self.auth_failed(503, "Service Unavailable", "no_ready_pods", ip, username)
        try:
            secret = self.jwt_secret()
        except JwtSecretInvalid as exc:
            self.log("ERROR", "orchestrator.auth", "jwt_secret_invalid", reason=str(exc), secret="jwt-secret")
            raise self.auth_failed(401, "Authentication failed", "jwt_secret_invalid", ip, username) from exc
        try:
            with self.pool.connection() as conn:
                row = conn.execute(
                    "SELECT id, username, password_hash, hotel_id FROM users WHERE username = %s", (username,)
                ).fetchone()
        except psycopg.Error as exc:
            self.count_error("database")
            self.log("ERROR", "orchestrator.database", "database_connection_failed", error=type(exc).__name__)
            raise self.auth_failed(401, "Authentication failed", "database_error", ip, username) from exc
        if row is None:
            raise self.auth_failed(401, "Invalid credentials", "user_not_found", ip, username)
        user_id, _name, password_hash, hotel_id = row
        if not secrets.compare_digest(hashlib.sha256(password.encode()).hexdigest(), str(password_hash)):
            raise self.auth_failed(401, "Invalid credentials", "invalid_password", ip, username)
        now = int(time.time())
        session_id, access_jti, refresh_jti = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
        try:
            self.check_session_store()
            pipe = self.redis.pipeline()
            pipe.hset(
                f"session:{session_id}",
                mapping={
                    "user_id": str(user_id),
                    "username": username,
                    "hotel_id": hotel_id or "",
                    "created_at": str(now),
                    "ip": ip,
                    "jti": access_jti,
                },
            )
            pipe.expire(f"session:{session_id}", 86400)
            pipe.set(f"refresh_token:{refresh_jti}", session_id, ex=7 * 86400)
            pipe.execute()
        except (SessionStoreError, redis.RedisError) as exc:
            self.count_error("redis")
            self.log("ERROR", "orchestrator.auth", "session_store_error", error=str(exc)[:200])
            raise self.auth_failed(401, "Authentication failed", "session_store_error", ip, username) from exc
        claims = {"sub": str(user_id), "username": username, "hotel_id": hotel_id, "sid": session_id, "iat": now}
        access = jwt.encode(
            {**claims, "jti": access_jti, "exp": now + 900, "type": "access"}, secret, algorithm="HS256"
        )
        refresh = jwt.encode(
            {**claims, "jti": refresh_jti, "exp": now + 7 * 86400, "type": "refresh"}, secret, algorithm="HS256"
        )
        self.log("INFO", "orchestrator.auth", "login_success", user=username, ip=ip, session=session_id[:8])
        self.audit("login", result="success", user=username, ip=ip)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": 900,
            "session_id": session_id,
        }

    def verify_bearer(self, token: str, ip: str) -> dict[str, Any]:
        """Validate an access token: signature with the current secret, live session, not blacklisted."""
        try:
            secret = self.jwt_secret()
        except JwtSecretInvalid as exc:
            self.log("ERROR", "orchestrator.auth", "jwt_secret_invalid", reason=str(exc), secret="jwt-secret")
            raise self.auth_failed(401, "Authentication failed", "jwt_secret_invalid", ip) from exc
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sid", "jti"]})
        except jwt.InvalidTokenError as exc:
            raise self.auth_failed(401, "Invalid token", "invalid_token", ip) from exc
        try:
            alive = self.redis.exists(f"session:{claims['sid']}") and not self.redis.exists(
                f"blacklist:{claims['jti']}"
            )
        except redis.RedisError as exc:
            self.log("ERROR", "orchestrator.auth", "session_store_error", error=type(exc).__name__)
            raise self.auth_failed(401, "Authentication failed", "session_store_error", ip) from exc
        if not alive:
            raise self.auth_failed(401, "Session expired", "session_invalid", ip, str(claims.get("username", "-")))
        return claims

    def verify_api_key(self, key: str, ip: str) -> dict[str, Any]:
        """``X-API-Key`` against Vault ``secret/api-keys/{key}`` (results cached ~2 s)."""
        prefix = key[:12]
        if not key.startswith("vh_live_"):
            self.log(
                "WARNING", "orchestrator.auth", "api_key_auth_failed", reason="invalid_format", key_prefix=prefix, ip=ip
            )
            raise self.auth_failed(401, "Invalid API key", "api_key_invalid_format", ip)

        def run() -> dict[str, Any] | str:
            try:
                data = self.vault_read(self.api_key_mount, f"api-keys/{key}")
            except RuntimeError as exc:
                return str(exc)
            if data is None:
                return "key_not_found"
            if str(data.get("status", "active")) != "active":
                return "key_revoked"
            return data

        digest = hashlib.sha256(key.encode()).hexdigest()
        result = self.cache.get(f"apikey:{digest}", run, ttl=2.0)
        if isinstance(result, str):
            self.log("WARNING", "orchestrator.auth", "api_key_auth_failed", reason=result, key_prefix=prefix, ip=ip)
            raise self.auth_failed(401, "Invalid API key", f"api_key_{result}", ip)
        return result

    # ------------------------------------------------------------------ API work
    def get_hotel(self, hotel_id: str) -> tuple[int, dict[str, Any]]:
        """Hotel lookup: Redis cache (``CACHE_ENABLED``) or PostgreSQL, with pool pressure and CPU latency."""
        cache_on = truthy(self.env("CACHE_ENABLED"))
        cache_key = f"cache:hotel:{hotel_id}"
        if cache_on:
            with contextlib.suppress(redis.RedisError):
                hit = self.redis.hgetall(cache_key)
                if hit:
                    return 200, {**hit, "source": "cache"}
        db = self.check_database()
        active, pool_max = int(db.get("active_connections", 0)), self.pool_max()
        delay = 0.0
        if db["status"] == "healthy" and active >= pool_max:
            delay += min(3.0, 0.5 + 0.1 * (active - pool_max))
            self.log("WARNING", "orchestrator.database", "connection_pool_exhausted", active=active, max=pool_max)
        cpu = self.snap.cpu_pressure()
        if cpu > 0.8:
            delay += min(3.0, 2.5 * cpu)
            self.log("DEBUG", "orchestrator.performance", "cpu_pressure", ratio=f"{cpu:.2f}")
        if delay:
            self.stop_event.wait(delay)
        try:
            with self.pool.connection() as conn:
                row = conn.execute(
                    "SELECT h.id, h.name, h.apaleo_property_id, count(u.id) FROM hotels h "
                    "LEFT JOIN users u ON u.hotel_id = h.id WHERE h.id = %s GROUP BY h.id",
                    (hotel_id,),
                ).fetchone()
        except psycopg.Error as exc:
            self.count_error("database")
            self.log("ERROR", "orchestrator.database", "database_query_failed", error=type(exc).__name__)
            return 500, {"detail": "Internal Server Error"}
        if row is None:
            return 404, {"detail": f"hotel {hotel_id} not found"}
        body = {"id": row[0], "name": row[1], "apaleo_property_id": row[2], "users": str(row[3])}
        if cache_on:
            with contextlib.suppress(redis.RedisError, ValueError):
                ttl = int(self.env("CACHE_TTL") or self.defaults["cache_ttl"])
                pipe = self.redis.pipeline()
                pipe.hset(cache_key, mapping=body)
                pipe.expire(cache_key, max(1, ttl))
                pipe.execute()
        return 200, {**body, "source": "database"}

    def livekit_token(self, grants: dict[str, Any]) -> str:
        """A LiveKit access token for the orchestrator."""
        now = int(time.time())
        claims = {
            "iss": self.livekit.get("api_key", ""),
            "sub": f"orchestrator-{self.site}",
            "nbf": now,
            "exp": now + 600,
        }
        return jwt.encode({**claims, "video": grants}, str(self.livekit.get("api_secret", "")), algorithm="HS256")

    def start_call(self, hotel_id: str) -> tuple[int, dict[str, Any]]:
        """Set up a call: LiveKit must be reachable at the configured ``server_url`` and accept our token."""
        server_url = self.livekit_server_url()
        room = f"call-{self.site}-{uuid.uuid4().hex[:10]}"
        base = http_url(server_url).rstrip("/")
        try:
            if not server_url:
                raise RuntimeError("no_server_url")
            if not resolvable(base):
                raise RuntimeError("livekit_dns_failed")
            if self.http.get(base + "/", timeout=1.0).status_code != 200:
                raise RuntimeError("livekit_unhealthy")
            resp = self.http.post(
                base + "/twirp/livekit.RoomService/CreateRoom",
                json={"name": room},
                headers={"Authorization": f"Bearer {self.livekit_token({'roomCreate': True})}"},
                timeout=1.0,
            )
            if resp.status_code != 200:
                raise RuntimeError(f"livekit_http_{resp.status_code}")
        except (requests.RequestException, RuntimeError) as exc:
            reason = str(exc) if isinstance(exc, RuntimeError) else "livekit_unreachable"
            self.metrics.calls.labels(status="failed").inc()
            self.count_error("livekit")
            self.log("ERROR", "orchestrator.livekit", "call_setup_failed", reason=reason, server_url=server_url)
            return 503, {"detail": "Call setup failed", "reason": reason}
        with self.lock:
            self.calls.append((time.time() + float(self.defaults["call_duration"]), room))
        self.metrics.calls.labels(status="success").inc()
        self.log("INFO", "orchestrator.livekit", "call_started", room=room, hotel_id=hotel_id)
        return 201, {"room": room, "server_url": server_url, "hotel_id": hotel_id}

    def active_calls(self) -> int:
        """Calls set up and not yet ended."""
        now = time.time()
        with self.lock:
            return sum(1 for end, _room in self.calls if end > now)

    def _end_calls(self) -> None:
        now = time.time()
        with self.lock:
            ended = [room for end, room in self.calls if end <= now]
            self.calls = [(end, room) for end, room in self.calls if end > now]
        base = http_url(self.livekit_server_url()).rstrip("/")
        for room in ended:
            with contextlib.suppress(requests.RequestException):
                self.http.post(
                    base + "/twirp/livekit.RoomService/DeleteRoom",
                    json={"room": room},
                    headers={"Authorization": f"Bearer {self.livekit_token({'roomCreate': True})}"},
                    timeout=1.0,
                )

    # ------------------------------------------------------------------ background traffic
    def _traffic_loop(self) -> None:
        """A few cheap requests per second through the public API, as customers would make them."""
        traffic = self.cfg.get("traffic") or {}
        interval = float(traffic.get("interval", 0.5))
        clients = list(traffic.get("client_ips") or ["198.51.100.10", "198.51.100.11"])
        hotel = str(self.apaleo.get("hotel_id", "hotel-001"))
        session = http_session()
        tick = 0
        while not self.stop_event.wait(interval):
            tick += 1
            step = tick % 4
            headers = {"X-Forwarded-For": clients[(tick // 4) % len(clients)], "User-Agent": "voicehive-traffic/1.0"}
            try:
                if step == 0:
                    session.get(f"{self.base_url}/api/v1/hotels/{hotel}", headers=headers, timeout=10)
                elif step == 1:
                    session.post(
                        f"{self.base_url}/api/v1/pms/sync", json={"hotel_id": hotel}, headers=headers, timeout=10
                    )
                elif step == 2:
                    session.post(f"{self.base_url}/api/v1/calls", json={"hotel_id": hotel}, headers=headers, timeout=10)
                elif self.cfg.get("api_key"):
                    session.post(
                        f"{self.base_url}/webhooks/apaleo",
                        json={"type": "reservation.changed", "hotel_id": hotel},
                        headers={**headers, "X-API-Key": str(self.cfg["api_key"])},
                        timeout=10,
                    )
                self._end_calls()
            except requests.RequestException:
                continue
