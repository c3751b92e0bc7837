"""HTTP interface of the orchestrator simulator: health endpoints, /metrics, auth, API, lab controls."""

from __future__ import annotations

import re
import time
from typing import Any

from sims.common import HTTPError, JSONHandler, route, utc_now_iso
from sims.orch.app import ENV_SWITCHES, Orchestrator
from sims.orch.breaker import stats_key

VERSION = "1.0.0-lab"
UNCOUNTED = ("/metrics", "/_lab/")


def endpoint_label(pattern: str | None) -> str:
    """Route template for metric labels (``/api/v1/hotels/{hotel_id}``), ``unmatched`` for 404s."""
    if not pattern:
        return "unmatched"
    if pattern.endswith("\\Z"):
        pattern = pattern[:-2]
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)


class OrchestratorHandler(JSONHandler):
    """Routes of the simulated FastAPI orchestrator."""

    server_version = "uvicorn"

    @property
    def orch(self) -> Orchestrator:
        """The site's orchestrator."""
        return self.app

    # ------------------------------------------------------------------ plumbing
    def send_response(self, code: int, message: str | None = None) -> None:
        """Remember the status for metrics."""
        self.status_sent = code
        super().send_response(code, message)

    def _dispatch(self, method: str) -> None:
        start = time.perf_counter()
        self.status_sent = 0
        super()._dispatch(method)
        if self.url_path.startswith(UNCOUNTED):
            return
        seconds = time.perf_counter() - start
        self.orch.metrics.observe(method, endpoint_label(self.route_pattern), self.status_sent, seconds)
        self.orch.log(
            "DEBUG",
            "orchestrator.http",
            "request_completed",
            method=method,
            path=self.url_path,
            status=self.status_sent,
            duration_ms=f"{seconds * 1000:.1f}",
            ip=self.client_ip(),
        )

    def _health(self, ok: bool, body: dict[str, Any]) -> None:
        self.send_json(200 if ok else 503, {**body, "timestamp": utc_now_iso()})

    def guard(self, api_key_required: bool = False) -> tuple[str, str]:
        """Blocked IPs, Service without ready pods, optional/required authentication; returns (client_id, ip)."""
        orch, ip = self.orch, self.client_ip()
        if ip in orch.blocked_ips():
            orch.log(
                "WARNING", "orchestrator.security", "request_blocked", ip=ip, path=self.url_path, reason="blocked_ip"
            )
            raise HTTPError(403, {"detail": "Forbidden"})
        if orch.no_ready_pods():
            raise HTTPError(503, {"detail": "no healthy upstream"})
        client_id = f"ip:{ip}"
        api_key = self.headers.get("X-API-Key")
        bearer = self.bearer_token()
        if api_key:
            orch.verify_api_key(api_key.strip(), ip)
            client_id = f"apikey:{api_key.strip()[:16]}"
        elif api_key_required:
            orch.log("WARNING", "orchestrator.auth", "api_key_auth_failed", reason="missing", ip=ip)
            raise orch.auth_failed(401, "API key required", "api_key_missing", ip)
        elif bearer:
            client_id = f"jwt:{orch.verify_bearer(bearer, ip)['sub']}"
        client_id = self.headers.get("X-Client-Id", "").strip() or client_id
        orch.check_rate_limit(client_id, ip, self.url_path)
        orch.audit("request", method=self.command, path=self.url_path, client_id=client_id, ip=ip)
        return client_id, ip

    # ------------------------------------------------------------------ health
    @route("GET", "/health")
    def health(self) -> None:
        """Basic health: the process and its critical stores (Redis, PostgreSQL)."""
        redis_ok = self.orch.check_redis()["status"] == "healthy"
        db_ok = self.orch.check_database()["status"] == "healthy"
        ok = redis_ok and db_ok
        self._health(
            ok,
            {
                "status": "healthy" if ok else "unhealthy",
                "service": "voicehive-orchestrator",
                "version": VERSION,
                "site": self.orch.site,
            },
        )

    @route("GET", "/healthz")
    def healthz(self) -> None:
        """Liveness probe used by Kubernetes."""
        self._health(True, {"status": "ok"})

    @route("GET", "/health/live")
    def live(self) -> None:
        """Liveness: the process answers."""
        self._health(True, {"status": "alive", "uptime_seconds": round(time.time() - self.orch.started_at, 1)})

    @route("GET", "/health/ready")
    def ready(self) -> None:
        """Readiness: Redis, PostgreSQL and at least one Ready pod (when Kubernetes is known)."""
        checks = {
            "redis": self.orch.check_redis()["status"],
            "database": self.orch.check_database()["status"],
            "kubernetes": "healthy" if not self.orch.no_ready_pods() else "unhealthy",
        }
        ok = all(v == "healthy" for v in checks.values())
        self._health(ok, {"status": "ready" if ok else "not_ready", "checks": checks})

    def _components(self) -> dict[str, dict[str, Any]]:
        orch = self.orch
        return {
            "redis": orch.check_redis(),
            "database": orch.check_database(),
            "vault": orch.check_vault(),
            "apaleo": orch.check_apaleo(),
            "livekit": orch.check_livekit(),
            "kubernetes": orch.check_kubernetes(),
        }

    @route("GET", "/health/detailed")
    def detailed(self) -> None:
        """Every component; 503 when a critical one (Redis, PostgreSQL) is down, ``degraded`` otherwise."""
        components = self._components()
        states = self.orch.breaker_states()
        open_breakers = sorted(n for n, s in (states or {}).items() if s == "open")
        components["circuit_breakers"] = {
            "status": "unknown" if states is None else ("degraded" if open_breakers else "healthy"),
            "open": open_breakers,
            "states": states or {},
        }
        critical_ok = all(components[c]["status"] == "healthy" for c in ("redis", "database"))
        others_ok = all(
            v["status"] in ("healthy", "unknown") for k, v in components.items() if k not in ("redis", "database")
        )
        status = "unhealthy" if not critical_ok else ("healthy" if others_ok else "degraded")
        env = {
            k: self.orch.env(k)
            for k in ("FALLBACK_MODE", "PMS_FALLBACK_MODE", "CACHE_ENABLED", "LOG_LEVEL")
            if self.orch.env(k)
        }
        self._health(
            critical_ok,
            {"status": status, "site": self.orch.site, "version": VERSION, "components": components, "env": env},
        )

    @route("GET", "/health/vault")
    def vault(self) -> None:
        """Vault reachability, seal status and token validity."""
        result = self.orch.check_vault()
        self._health(result["status"] == "healthy", {"status": result["status"], "vault": result})

    @route("GET", "/health/connectors")
    def connectors(self) -> None:
        """PMS (Apaleo) and LiveKit connectors."""
        conns = {"apaleo": self.orch.check_apaleo(), "livekit": self.orch.check_livekit()}
        ok = all(c["status"] == "healthy" for c in conns.values())
        self._health(ok, {"status": "healthy" if ok else "unhealthy", "connectors": conns})

    @route("GET", "/health/dependencies")
    def dependencies(self) -> None:
        """Every external dependency."""
        deps = self._components()
        ok = all(d["status"] in ("healthy", "unknown") for d in deps.values())
        self._health(ok, {"status": "healthy" if ok else "unhealthy", "dependencies": deps})

    @route("GET", "/health/database")
    def database(self) -> None:
        """PostgreSQL connectivity and connection pool usage."""
        db = self.orch.check_database()
        active, pool_max = int(db.get("active_connections", 0)), int(db["max_connections"])
        pool = {"active": active, "max": pool_max, "utilization": round(active / pool_max, 3) if pool_max else None}
        self._health(db["status"] == "healthy", {"status": db["status"], "database": db, "pool": pool})

    @route("GET", "/health/database/circuit-breakers")
    def database_breakers(self) -> None:
        """The database layer's breakers with their Redis statistics."""
        states = self.orch.breaker_states()
        if states is None:
            self._health(False, {"status": "unknown", "error": "redis unavailable", "circuit_breakers": {}})
            return
        names = sorted(n for n in states if n.startswith("database_"))
        try:
            pipe = self.orch.redis.pipeline()
            for name in names:
                pipe.hgetall(stats_key(name))
            stats = pipe.execute()
        except Exception:
            stats = [{} for _ in names]
        breakers = {n: {"state": states[n], "stats": s} for n, s in zip(names, stats, strict=True)}
        any_open = any(b["state"] == "open" for b in breakers.values())
        self._health(True, {"status": "degraded" if any_open else "healthy", "circuit_breakers": breakers})

    @route("GET", "/health/dr")
    def dr(self) -> None:
        """Disaster-recovery readiness of this site."""
        comps = {
            "redis": self.orch.check_redis()["status"],
            "database": self.orch.check_database()["status"],
            "vault": self.orch.check_vault()["status"],
        }
        ok = comps["redis"] == "healthy" and comps["database"] == "healthy"
        self._health(
            ok,
            {
                "status": "healthy" if ok else "unhealthy",
                "site": self.orch.site,
                "role": self.orch.role,
                "components": comps,
                "ready_pods": self.orch.snap.ready_pods,
            },
        )

    @route("GET", "/metrics")
    def metrics(self) -> None:
        """Prometheus text exposition."""
        self.send_bytes(200, self.orch.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")

    # ------------------------------------------------------------------ auth
    @route("POST", "/auth/login")
    def login(self) -> None:
        """Username/password login → JWT access + refresh tokens and a Redis session."""
        ip = self.client_ip()
        if ip in self.orch.blocked_ips():
            self.orch.log(
                "WARNING", "orchestrator.security", "request_blocked", ip=ip, path=self.url_path, reason="blocked_ip"
            )
            raise HTTPError(403, {"detail": "Forbidden"})
        body = self.json_body()
        self.send_json(200, self.orch.login(body.get("username"), body.get("password"), ip))

    @route("GET", "/auth/me")
    def me(self) -> None:
        """Claims of a valid access token."""
        token = self.bearer_token()
        if not token:
            raise self.orch.auth_failed(401, "Not authenticated", "missing_token", self.client_ip())
        claims = self.orch.verify_bearer(token, self.client_ip())
        self.send_json(200, {k: claims.get(k) for k in ("sub", "username", "hotel_id", "sid", "exp")})

    @route("POST", "/auth/logout")
    def logout(self) -> None:
        """Revoke the token (``blacklist:{jti}``) and delete its session."""
        token = self.bearer_token()
        if not token:
            raise self.orch.auth_failed(401, "Not authenticated", "missing_token", self.client_ip())
        claims = self.orch.verify_bearer(token, self.client_ip())
        ttl = max(1, int(claims["exp"] - time.time()))
        self.orch.redis.set(f"blacklist:{claims['jti']}", "revoked", ex=ttl)
        self.orch.redis.delete(f"session:{claims['sid']}")
        self.send_json(200, {"status": "logged_out"})

    # ------------------------------------------------------------------ API
    @route("GET", "/api/v1/hotels/(?P<hotel_id>[^/]+)")
    def hotel(self, hotel_id: str) -> None:
        """Hotel details (rate limited; cache when ``CACHE_ENABLED``)."""
        self.guard()
        status, body = self.orch.get_hotel(hotel_id)
        self.send_json(status, body)

    @route("POST", "/api/v1/pms/sync")
    def pms_sync(self) -> None:
        """PMS sync through the breakers (fallback when ``FALLBACK_MODE``/``PMS_FALLBACK_MODE``)."""
        self.guard()
        hotel_id = str(self.json_body().get("hotel_id") or self.orch.apaleo.get("hotel_id", "hotel-001"))
        status, body = self.orch.pms_sync(hotel_id)
        self.send_json(status, body)

    @route("POST", "/api/v1/calls")
    def calls(self) -> None:
        """Start a call (LiveKit room at ConfigMap ``livekit-config`` ``server_url``)."""
        self.guard()
        hotel_id = str(self.json_body().get("hotel_id") or self.orch.apaleo.get("hotel_id", "hotel-001"))
        status, body = self.orch.start_call(hotel_id)
        self.send_json(status, body)

    @route("POST", "/webhooks/apaleo")
    def webhook(self) -> None:
        """Apaleo webhook delivery: needs a valid ``X-API-Key`` (checked in Vault)."""
        client_id, _ip = self.guard(api_key_required=True)
        self.send_json(200, {"received": True, "client_id": client_id})

    # ------------------------------------------------------------------ lab controls
    @route("POST", "/_lab/reset")
    def lab_reset(self) -> None:
        """Forget in-memory state (token cache, brute-force windows, caches, pool), start a fresh log and count
        authentication failures and security incidents from zero: the site as freshly deployed (`lab reset`, a
        fault's clear), so one test's attack does not reach the next."""
        self.require_lab_token(str(self.orch.cfg.get("lab_token", "")))
        self.orch.reset()
        self.orch.applog.rotate()
        self.orch.metrics.reset_security()
        self.send_json(200, {"status": "reset"})

    @route("GET", "/_lab/state")
    def lab_state(self) -> None:
        """Internal view: Kubernetes snapshot summary and in-memory state (no secrets)."""
        self.require_lab_token(str(self.orch.cfg.get("lab_token", "")))
        snap = self.orch.snap
        self.send_json(
            200,
            {
                "site": self.orch.site,
                "kube_ok": snap.ok,
                "kube_reachable": self.orch.kubeview.reachable,
                "ready_pods": snap.ready_pods,
                "env": {k: v for k, v in snap.env.items() if k in ENV_SWITCHES},
                "configmaps": snap.configmaps,
                "rate_limit": self.orch.rate_limit(),
                "failure_threshold": self.orch.failure_threshold(),
                "pool_max": self.orch.pool_max(),
                "active_calls": self.orch.active_calls(),
                "cached_tokens": len(self.orch.token_cache),
                "log_level": self.orch.applog.level,
            },
        )
