"""Redis-backed circuit breakers, with the keys and semantics of the orchestrator's circuit_breaker.py.

- ``circuit_breaker:{name}:state``: ``closed`` | ``open`` | ``half_open`` (3600 s expiry; missing = closed)
- ``circuit_breaker:{name}:stats``: hash ``failure_count``, ``success_count``, ``last_failure_time``,
  ``last_success_time``, ``total_requests``, ``total_failures``, ``total_successes`` (3600 s expiry)

Lab simplification (on purpose): the simulator never moves an ``open`` breaker to
``half_open`` after the recovery timeout. That is the "stuck open" bug the
troubleshooting guide describes, so an opened breaker stays open until someone
resets it (or its key expires after 3600 s). A breaker someone set to
``half_open`` is honoured: trial calls pass, ``success_threshold`` successes close
it, one failure re-opens it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

KNOWN_BREAKERS = (
    "tts_service",
    "pms_connector",
    "livekit_service",
    "vault_service",
    "external_api",
    "apaleo_auth",
    "apaleo_api",
    "database_connection",
    "database_query",
    "database_transaction",
)
TTL = 3600
STATES = ("closed", "open", "half_open")

Logger = Callable[..., Any]


def state_key(name: str) -> str:
    """Redis key of a breaker's state."""
    return f"circuit_breaker:{name}:state"


def stats_key(name: str) -> str:
    """Redis key of a breaker's statistics hash."""
    return f"circuit_breaker:{name}:stats"


def get_state(r: redis.Redis, name: str) -> str:
    """Current state (missing key = ``closed``); raises redis errors."""
    value = r.get(state_key(name))
    return value if value in STATES else "closed"


def all_states(r: redis.Redis) -> dict[str, str]:
    """States of the known breakers plus any found with SCAN (never KEYS)."""
    names = set(KNOWN_BREAKERS)
    for key in r.scan_iter(match="circuit_breaker:*:state", count=200):
        names.add(key[len("circuit_breaker:") : -len(":state")])
    ordered = sorted(names)
    values = r.mget([state_key(n) for n in ordered]) if ordered else []
    return {n: (v if v in STATES else "closed") for n, v in zip(ordered, values, strict=True)}


class Breakers:
    """Record outcomes and transitions; ``log`` is called as ``log(level, logger, message, **fields)``."""

    def __init__(self, r: redis.Redis, log: Logger, threshold: Callable[[], int], success_threshold: int = 3) -> None:
        """Use Redis client ``r``; ``threshold`` returns the current failure threshold (ConfigMap driven)."""
        self.r = r
        self.log = log
        self.threshold = threshold
        self.success_threshold = success_threshold

    def _transition(self, name: str, old: str, new: str, **fields: Any) -> None:
        self.r.set(state_key(name), new, ex=TTL)
        level = "WARNING" if new == "open" else "INFO"
        self.log(
            level,
            "orchestrator.circuit_breaker",
            "circuit_breaker_state_change",
            name=name,
            **{"from": old},
            to=new,
            **fields,
        )

    def record_failure(self, name: str, error: str) -> str:
        """Count a failure; open the breaker at the threshold. Returns the resulting state."""
        now = time.time()
        pipe = self.r.pipeline()
        key = stats_key(name)
        pipe.hincrby(key, "failure_count", 1)
        pipe.hincrby(key, "total_failures", 1)
        pipe.hincrby(key, "total_requests", 1)
        pipe.hset(key, "last_failure_time", f"{now:.3f}")
        pipe.expire(key, TTL)
        pipe.get(state_key(name))
        failures, *_rest, raw_state = pipe.execute()
        state = raw_state if raw_state in STATES else "closed"
        threshold = self.threshold()
        if state == "half_open" or (state == "closed" and int(failures) >= threshold):
            self._transition(name, state, "open", failures=failures, threshold=threshold, error=error)
            return "open"
        return state

    def record_success(self, name: str) -> str:
        """Count a success; close a half-open breaker after enough successes. Returns the resulting state."""
        now = time.time()
        key = stats_key(name)
        pipe = self.r.pipeline()
        pipe.hincrby(key, "success_count", 1)
        pipe.hincrby(key, "total_successes", 1)
        pipe.hincrby(key, "total_requests", 1)
        pipe.hset(key, "last_success_time", f"{now:.3f}")
        pipe.expire(key, TTL)
        pipe.get(state_key(name))
        successes, *_rest, raw_state = pipe.execute()
        state = raw_state if raw_state in STATES else "closed"
        if state == "closed":
            self.r.hset(key, "failure_count", 0)
        elif state == "half_open" and int(successes) >= self.success_threshold:
            self.r.hset(key, mapping={"failure_count": 0, "success_count": 0})
            self._transition(name, "half_open", "closed", successes=successes)
            return "closed"
        return state
