"""Prometheus metrics of the orchestrator simulator (private registry, contract names).

Counters and histograms are updated by the request path; gauges that mirror
live state (breakers in Redis, Redis/PostgreSQL reachability, the connection
pool, active calls) are computed at scrape time from ~1 s cached checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sims.orch.breaker import STATES

if TYPE_CHECKING:
    from sims.orch.app import Orchestrator

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0)
disable_created_metrics()


class LiveState(Collector):
    """Gauges computed from the real services at scrape time."""

    def __init__(self, app: Orchestrator) -> None:
        """Read state through ``app``'s cached checks."""
        self.app = app

    def collect(self) -> Iterator[Metric]:
        """Yield the live gauges."""
        app = self.app
        states = app.breaker_states()
        breaker = GaugeMetricFamily(
            "voicehive_circuit_breaker_state", "Circuit breaker state (1 = current state)", labels=["name", "state"]
        )
        for name, current in sorted((states or {}).items()):
            for state in STATES:
                breaker.add_metric([name, state], 1.0 if state == current else 0.0)
        yield breaker
        yield GaugeMetricFamily(
            "voicehive_redis_up", "Redis reachable", value=1.0 if app.check_redis()["status"] == "healthy" else 0.0
        )
        db = app.check_database()
        yield GaugeMetricFamily(
            "voicehive_database_up", "PostgreSQL reachable", value=1.0 if db["status"] == "healthy" else 0.0
        )
        yield GaugeMetricFamily(
            "voicehive_connection_pool_active",
            "Active database connections (pg_stat_activity state = active)",
            value=float(db.get("active_connections", 0)),
        )
        yield GaugeMetricFamily(
            "voicehive_connection_pool_max",
            "Maximum pool size (ConfigMap database-config max_connections)",
            value=float(app.pool_max()),
        )
        yield GaugeMetricFamily("voicehive_active_calls", "Calls in progress", value=float(app.active_calls()))


class Metrics:
    """The registry and the instruments the request path updates."""

    def __init__(self, app: Orchestrator) -> None:
        """Create every instrument in a private registry and attach to ``app``."""
        self.registry = CollectorRegistry()
        reg = self.registry
        labels = ["method", "endpoint", "status"]
        self.http_requests = Counter("voicehive_http_requests", "HTTP requests", labels, registry=reg)
        self.requests = Counter("voicehive_requests", "Requests (alert rules' name)", labels, registry=reg)
        self.http_duration = Histogram(
            "voicehive_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "endpoint"],
            buckets=BUCKETS,
            registry=reg,
        )
        self.duration = Histogram(
            "voicehive_request_duration_seconds",
            "Request duration (alert rules' name)",
            ["method", "endpoint"],
            buckets=BUCKETS,
            registry=reg,
        )
        self.errors = Counter("voicehive_errors", "Errors by type", ["type"], registry=reg)
        self.auth_failures = Counter("voicehive_auth_failures", "Authentication failures", ["reason"], registry=reg)
        self.rate_limited = Counter(
            "voicehive_rate_limit_exceeded", "Requests refused by the rate limiter", ["client_id"], registry=reg
        )
        self.pms = Counter("voicehive_pms_requests", "PMS requests by outcome", ["status"], registry=reg)
        self.calls = Counter("voicehive_calls", "Call setups by outcome", ["status"], registry=reg)
        self.security_incidents = Counter(
            "voicehive_security_incidents", "Detected security incidents", ["type"], registry=reg
        )
        self.security_incidents.labels(type="brute_force")
        for status in ("success", "failed"):
            self.calls.labels(status=status)
        reg.register(LiveState(app))
        app.metrics = self

    def reset_security(self) -> None:
        """Authentication failures and security incidents from zero, as a freshly started process counts them."""
        self.auth_failures.clear()
        self.security_incidents.clear()
        self.security_incidents.labels(type="brute_force")

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        """Record one served request under both metric families."""
        for counter in (self.http_requests, self.requests):
            counter.labels(method=method, endpoint=endpoint, status=str(status)).inc()
        for hist in (self.http_duration, self.duration):
            hist.labels(method=method, endpoint=endpoint).observe(seconds)
        if status >= 500:
            self.errors.labels(type="http_5xx").inc()

    def render(self) -> bytes:
        """Prometheus text exposition."""
        return generate_latest(self.registry)
