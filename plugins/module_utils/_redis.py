# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""Shared Redis plumbing for the voicehive.remediation modules.

- ``redis_common_argument_spec()`` / ``REDIS_MUTUALLY_EXCLUSIVE``: the connection options,
  documented by the ``voicehive.remediation.redis`` doc fragment.
- ``RedisModule``: an ``AnsibleModule`` that merges those options into the module's own
  spec and refuses to run without the redis library.
- ``connect(module)``: the client factory (unit tests patch it).
- ``connection_error_message()`` / ``redis_error_message()`` / ``redact()``: error texts that never
  carry a password.
- ``RedisError``, ``RedisConnectionError``, ``RedisTimeoutError``, ``WatchError``: the library's
  exceptions (``OSError`` stand-ins without the library).
- ``scan_keys()``: bounded ``SCAN``, never ``KEYS``.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import time
import traceback
import typing as t
from collections import namedtuple
from urllib.parse import parse_qs, unquote, urlsplit

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.voicehive.remediation.plugins.module_utils import _redact

REDIS_IMPORT_ERROR: str | None
try:
    import redis
    import redis.exceptions
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry
except ImportError:
    HAS_REDIS = False
    REDIS_IMPORT_ERROR = traceback.format_exc()
    # stand-ins so the modules' ``except`` clauses still compile; RedisModule reports the missing library
    RedisError = RedisConnectionError = RedisTimeoutError = WatchError = OSError
else:
    HAS_REDIS = True
    REDIS_IMPORT_ERROR = None
    # the library's exceptions, for the modules' except clauses
    RedisError = redis.exceptions.RedisError
    RedisConnectionError = redis.exceptions.ConnectionError
    RedisTimeoutError = redis.exceptions.TimeoutError
    WatchError = redis.exceptions.WatchError

REDIS_LIBRARY = "redis>=5.0.0"
DEFAULT_PORT = 6379

# One quick retry on a dropped connection or a timeout, the same on every redis-py version (redis-py 6+
# defaults to three retries with up to 10 s backoff, which turns a down server into a long hang).
# The modules' writes set fixed values, so a retried command is harmless.
CONNECTION_RETRIES = 1

REDIS_MUTUALLY_EXCLUSIVE = [("url", "host"), ("url", "port"), ("url", "db")]

ScanResult = namedtuple("ScanResult", ["keys", "truncated"])

# scheme://userinfo@ -> scheme://***@  (any scheme, so a DSN quoted in an exception text is covered too)
URL_MASK = "***"


def redis_common_argument_spec() -> dict[str, t.Any]:
    """Connection options of every Redis module; see the ``voicehive.remediation.redis`` doc fragment."""
    return dict(
        url=dict(type="str", no_log=True),
        host=dict(type="str", default="localhost"),
        port=dict(type="int", default=DEFAULT_PORT),
        db=dict(type="int", default=0),
        username=dict(type="str"),
        password=dict(type="str", no_log=True, fallback=(env_fallback, ["REDIS_PASSWORD"])),
        tls=dict(type="bool", default=False),
        validate_certs=dict(type="bool", default=True),
        ca_certs=dict(type="path"),
        client_cert=dict(type="path"),
        client_key=dict(type="path"),
        connect_timeout=dict(type="float", default=5.0),
        socket_timeout=dict(type="float", default=10.0),
    )


class RedisModule(AnsibleModule):
    """An AnsibleModule with the common Redis connection options merged in.

    The module's own ``argument_spec`` wins on a name clash; ``mutually_exclusive`` is extended
    with ``url`` vs ``host``/``port``/``db``. Fails cleanly when the redis library is missing.
    """

    def __init__(self, argument_spec: dict[str, t.Any] | None = None, mutually_exclusive=None, **kwargs) -> None:
        spec = redis_common_argument_spec()
        spec.update(argument_spec or {})
        exclusive = list(REDIS_MUTUALLY_EXCLUSIVE) + list(mutually_exclusive or [])
        super().__init__(argument_spec=spec, mutually_exclusive=exclusive, **kwargs)
        if not HAS_REDIS:
            self.fail_json(msg=missing_required_lib(REDIS_LIBRARY), exception=REDIS_IMPORT_ERROR)


def redact_url(text: str) -> str:
    """Replace the ``user:password@`` part of every URL in ``text`` with ``***@``."""
    return _redact.redact_url(text, URL_MASK)


def parse_redis_url(url: str) -> dict[str, t.Any]:
    """Split a ``redis://`` / ``rediss://`` URL into connection settings.

    Raises ``ValueError`` with a message that never contains the credentials.
    """
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("redis", "rediss"):
            raise ValueError(f"unsupported URL scheme {scheme!r}, expected redis:// or rediss://")
        port = parts.port if parts.port is not None else DEFAULT_PORT
    except ValueError as e:
        raise ValueError(f"invalid url: {redact_url(str(e))}") from None

    db = 0
    path = parts.path.strip("/")
    query_db = parse_qs(parts.query).get("db")
    db_text = path or (query_db[0] if query_db else "")
    if db_text:
        try:
            db = int(db_text)
        except ValueError:
            raise ValueError(f"invalid url: database {db_text!r} is not a number") from None

    return dict(
        host=parts.hostname or "localhost",
        port=port,
        db=db,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=scheme == "rediss",
    )


def connection_settings(params: dict[str, t.Any]) -> dict[str, t.Any]:
    """Effective host/port/db/credentials/tls from module params (``url`` or the separate options)."""
    settings = dict(
        host=params.get("host") or "localhost",
        port=params.get("port") or DEFAULT_PORT,
        db=params.get("db") or 0,
        username=params.get("username"),
        password=params.get("password"),
        tls=bool(params.get("tls")),
    )
    if params.get("url"):
        from_url = parse_redis_url(params["url"])
        settings.update(host=from_url["host"], port=from_url["port"], db=from_url["db"])
        settings["tls"] = settings["tls"] or from_url["tls"]
        # credentials in the URL take precedence over username/password (which may come from the environment)
        if from_url["password"] is not None:
            settings["username"] = from_url["username"]
            settings["password"] = from_url["password"]
        elif from_url["username"] is not None:
            settings["username"] = from_url["username"]
    return settings


def redis_target(params: dict[str, t.Any]) -> str:
    """``host:port`` of the server the params point at, for messages (never credentials)."""
    try:
        settings = connection_settings(params)
    except ValueError:
        return "<invalid url>"
    host = settings["host"]
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{settings['port']}"


def redis_client_kwargs(params: dict[str, t.Any]) -> dict[str, t.Any]:
    """Keyword arguments for ``redis.Redis()``. Raises ``ValueError`` on a bad ``url``."""
    settings = connection_settings(params)
    kwargs: dict[str, t.Any] = dict(
        host=settings["host"],
        port=settings["port"],
        db=settings["db"],
        username=settings["username"],
        password=settings["password"],
        socket_connect_timeout=params.get("connect_timeout"),
        socket_timeout=params.get("socket_timeout"),
        decode_responses=True,
    )
    if HAS_REDIS:
        kwargs["retry"] = Retry(ExponentialBackoff(cap=1.0, base=0.1), CONNECTION_RETRIES)
    if settings["tls"]:
        validate = params.get("validate_certs", True)
        kwargs.update(
            ssl=True,
            ssl_cert_reqs="required" if validate else "none",
            ssl_check_hostname=bool(validate),
            ssl_ca_certs=params.get("ca_certs"),
            ssl_certfile=params.get("client_cert"),
            ssl_keyfile=params.get("client_key"),
        )
    return kwargs


def _secrets(params: dict[str, t.Any]) -> list[str]:
    values = [params.get("password"), params.get("url")]
    if params.get("url"):
        with contextlib.suppress(ValueError):
            values.append(parse_redis_url(params["url"])["password"])
    # longest first, so a secret that contains another one is replaced whole
    return sorted({v for v in values if v}, key=len, reverse=True)


def redact(text: str, params: dict[str, t.Any]) -> str:
    """Remove URL credentials and the configured password / URL from ``text``."""
    return _redact.mask_values(text, _secrets(params), URL_MASK)


def error_reason(exc: BaseException, params: dict[str, t.Any]) -> str:
    """A short, password-free description of a Redis (or other) exception."""
    text = str(exc).strip() or type(exc).__name__
    if HAS_REDIS:
        if isinstance(exc, redis.exceptions.AuthenticationError):
            text = f"authentication failed ({text})"
        elif isinstance(exc, redis.exceptions.TimeoutError):
            text = f"timed out ({text})"
    return redact(text, params)


def redis_error_message(params: dict[str, t.Any], exc: BaseException, doing: str) -> str:
    """``"<doing> Redis at <host:port>: <reason>"``, for example ``doing="Cannot read circuit breakers from"``."""
    return f"{doing} Redis at {redis_target(params)}: {error_reason(exc, params)}"


def connection_error_message(params: dict[str, t.Any], exc: BaseException) -> str:
    return redis_error_message(params, exc, "Cannot connect to")


def connect(module: AnsibleModule) -> t.Any:
    """Build a ``redis.Redis`` client from the module params (the client factory).

    Builds only: the first command opens the connection. Fails the module on a bad ``url``.
    """
    try:
        return redis.Redis(**redis_client_kwargs(module.params))
    except (ValueError, redis.exceptions.RedisError) as e:
        module.fail_json(msg=connection_error_message(module.params, e))


def check_connection(client: t.Any) -> None:
    """PING the server; lets ``redis.exceptions.RedisError`` (and OSError) propagate."""
    client.ping()


def escape_glob(text: str) -> str:
    """Escape Redis glob-style pattern characters (``*?[]\\``) so ``text`` matches literally."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def scan_keys(client: t.Any, match: str, count: int = 500, limit: int = 10000) -> ScanResult:
    """Collect the keys matching ``match`` with ``SCAN`` (never ``KEYS``).

    Stops once ``limit`` distinct keys were collected; ``truncated`` tells whether that bound
    was hit (more keys may exist). Keys are returned sorted.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    keys: set[str] = set()
    cursor = 0
    while True:
        cursor, batch = client.scan(cursor=cursor, match=match, count=count)
        keys.update(batch)  # SCAN may return a key more than once: keep a set
        done = int(cursor) == 0
        if len(keys) >= limit:
            return ScanResult(sorted(keys)[:limit], len(keys) > limit or not done)
        if done:
            return ScanResult(sorted(keys), False)


# ---------------------------------------------------------------------------------------------
# Circuit breakers of the VoiceHive orchestrator (services/orchestrator/circuit_breaker.py):
#   <prefix>:<name>:state  string closed|open|half_open, 3600 s expiry; missing = closed
#   <prefix>:<name>:stats  hash failure_count, success_count, last_failure_time, last_success_time,
#                          total_requests, total_failures, total_successes; 3600 s expiry
# ---------------------------------------------------------------------------------------------

BREAKER_STATES = ("closed", "open", "half_open")
BREAKER_COUNT_FIELDS = ("failure_count", "success_count", "total_requests", "total_failures", "total_successes")
BREAKER_TIME_FIELDS = ("last_failure_time", "last_success_time")
# what the service's own reset sets to 0 (totals are kept)
BREAKER_RESET_FIELDS = ("failure_count", "success_count", "last_failure_time", "last_success_time")
BREAKER_DEFAULT_TTL = 3600


def breaker_keys(prefix: str, name: str) -> tuple[str, str]:
    """``(state_key, stats_key)`` of breaker ``name``."""
    return f"{prefix}:{name}:state", f"{prefix}:{name}:stats"


def discover_breakers(
    client: t.Any, prefix: str, count: int = 500, limit: int = 10000, suffixes: t.Sequence[str] = ("state", "stats")
) -> ScanResult:
    """Names of the breakers that have a ``<prefix>:<name>:<suffix>`` key, found with bounded SCANs.

    ``limit`` bounds each pattern's scan; ``truncated`` is true when any scan hit it.
    """
    names: set[str] = set()
    truncated = False
    head = f"{prefix}:"
    for suffix in suffixes:
        tail = f":{suffix}"
        found = scan_keys(client, f"{escape_glob(prefix)}:*{tail}", count=count, limit=limit)
        truncated = truncated or found.truncated
        for key in found.keys:
            if key.startswith(head) and key.endswith(tail) and len(key) > len(head) + len(tail):
                names.add(key[len(head) : -len(tail)])
    return ScanResult(sorted(names), truncated)


def _ttl(value: t.Any) -> int | None:
    """Redis TTL answer -> seconds, ``-1`` for no expiry, ``None`` when the key does not exist."""
    if isinstance(value, Exception) or value is None:
        return None
    value = int(value)
    return None if value == -2 else value


def read_breakers(client: t.Any, prefix: str, names: t.Sequence[str]) -> tuple[float | None, dict[str, dict]]:
    """Read the keys of every breaker in ``names`` in one round trip (a non-transactional pipeline).

    Returns ``(server_time, raw)`` where ``server_time`` is the Redis server clock (``TIME``, epoch
    seconds, ``None`` if TIME is not allowed) and ``raw[name]`` is a dict with ``state_key``,
    ``state_type`` (``string``, ``none``, ``hash``, ...), ``state_value``, ``state_ttl``,
    ``stats_key``, ``stats_type``, ``stats`` (dict of raw field strings), ``stats_ttl`` and
    ``errors`` (list of texts: wrong key types, refused commands). Wrong types never raise.
    Connection problems raise ``redis.exceptions.RedisError``.
    """
    if not names:
        return None, {}
    pipe = client.pipeline(transaction=False)
    pipe.time()
    for name in names:
        state_key, stats_key = breaker_keys(prefix, name)
        pipe.type(state_key)
        pipe.get(state_key)
        pipe.ttl(state_key)
        pipe.type(stats_key)
        pipe.hgetall(stats_key)
        pipe.ttl(stats_key)
    replies = pipe.execute(raise_on_error=False)

    server_time = None
    with contextlib.suppress(TypeError, ValueError):  # TIME refused (an Exception reply) or odd
        seconds, micros = replies[0]
        server_time = int(seconds) + int(micros) / 1_000_000

    raw: dict[str, dict] = {}
    for i, name in enumerate(names):
        state_key, stats_key = breaker_keys(prefix, name)
        state_type, state_value, state_ttl, stats_type, stats, stats_ttl = replies[1 + 6 * i : 7 + 6 * i]
        errors = []
        for key, kind, expected, reply in (
            (state_key, state_type, "string", state_value),
            (stats_key, stats_type, "hash", stats),
        ):
            if isinstance(kind, Exception):
                errors.append(f"cannot read the type of key {key}: {kind}")
            elif kind not in ("none", expected):
                errors.append(f"key {key} holds a {kind}, expected a {expected}")
            elif isinstance(reply, Exception):
                errors.append(f"cannot read key {key}: {reply}")
        raw[name] = dict(
            state_key=state_key,
            state_type=state_type if not isinstance(state_type, Exception) else None,
            state_value=state_value if isinstance(state_value, str) else None,
            state_ttl=_ttl(state_ttl),
            stats_key=stats_key,
            stats_type=stats_type if not isinstance(stats_type, Exception) else None,
            stats=dict(stats) if isinstance(stats, dict) else {},
            stats_ttl=_ttl(stats_ttl),
            errors=errors,
        )
    return server_time, raw


def parse_number(value: t.Any, kind: type = float) -> t.Any:
    """``'5'`` -> 5 (``kind=int``) or 5.0 (``kind=float``); ``None`` or ``''`` -> 0.

    Raises ``ValueError`` for anything that is not a finite number.
    """
    if value is None or value == "":
        return kind(0)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return kind(number)


def describe_breaker(name: str, raw: dict[str, t.Any], now: float | None) -> dict[str, t.Any]:
    """Turn the raw keys of one breaker (from ``read_breakers``) into its reported entry."""
    errors = list(raw["errors"])
    state_exists = raw["state_type"] == "string"
    stats_exists = raw["stats_type"] == "hash"

    state = "closed"
    if state_exists and raw["state_value"] is not None:
        state = raw["state_value"].strip().lower()
        if state not in BREAKER_STATES:
            state = raw["state_value"]
            errors.append(f"key {raw['state_key']} holds the unexpected state {state!r}")

    stats = {}
    for field, kind in [(f, int) for f in BREAKER_COUNT_FIELDS] + [(f, float) for f in BREAKER_TIME_FIELDS]:
        value = raw["stats"].get(field)
        try:
            stats[field] = parse_number(value, kind)
        except ValueError:
            stats[field] = None
            errors.append(f"field {field} of {raw['stats_key']} is not a number: {value!r}")

    def since(field):
        when = stats.get(field)
        if not when or now is None:
            return None
        return round(now - when, 3)

    entry = dict(
        state=state,
        exists=state_exists or stats_exists,
        state_key=raw["state_key"],
        state_key_exists=state_exists,
        ttl=raw["state_ttl"] if state_exists else None,
        stats_key=raw["stats_key"],
        stats_key_exists=stats_exists,
        stats_ttl=raw["stats_ttl"] if stats_exists else None,
        stats=stats,
        seconds_since_last_failure=since("last_failure_time"),
        seconds_since_last_success=since("last_success_time"),
    )
    if errors:
        entry["error"] = "; ".join(errors)
    return entry


def summarize_breakers(raw: dict[str, dict], names: t.Sequence[str], now: float | None) -> dict[str, t.Any]:
    """``{breakers, open, half_open, closed, invalid, count}`` for ``names`` read by ``read_breakers``."""
    out: dict[str, t.Any] = dict(breakers={}, open=[], half_open=[], closed=[], invalid=[], count=0)
    for name in names:
        entry = describe_breaker(name, raw[name], now)
        out["breakers"][name] = entry
        if entry["state"] in BREAKER_STATES:
            out[entry["state"]].append(name)
        if "error" in entry:
            out["invalid"].append(name)
    out["count"] = len(out["breakers"])
    return out


# ---------------------------------------------------------------------------------------------
# The site read (site_info): INFO, the keyspace by family in one bounded SCAN, the breakers
# ---------------------------------------------------------------------------------------------


def _int(info: dict[str, t.Any], key: str) -> int | None:
    with contextlib.suppress(TypeError, ValueError):
        return int(info.get(key))
    return None


def _float(info: dict[str, t.Any], key: str) -> float | None:
    with contextlib.suppress(TypeError, ValueError):
        return float(info.get(key))
    return None


def summarize_info(info: dict[str, t.Any], db: int) -> dict[str, t.Any]:
    """The INFO fields diagnoses use: memory against maxmemory, eviction, clients, traffic, keyspace."""
    used, limit = _int(info, "used_memory"), _int(info, "maxmemory")
    keyspace = info.get(f"db{db}") if isinstance(info.get(f"db{db}"), dict) else {}
    return dict(
        version=info.get("redis_version"),
        role=info.get("role"),
        uptime_seconds=_int(info, "uptime_in_seconds"),
        memory=dict(
            used_bytes=used,
            peak_bytes=_int(info, "used_memory_peak"),
            maxmemory_bytes=limit,
            used_ratio=round(used / limit, 4) if used is not None and limit else None,
            policy=info.get("maxmemory_policy"),
            fragmentation_ratio=_float(info, "mem_fragmentation_ratio"),
        ),
        clients=dict(
            connected=_int(info, "connected_clients"),
            blocked=_int(info, "blocked_clients"),
            maxclients=_int(info, "maxclients"),
            rejected_connections=_int(info, "rejected_connections"),
        ),
        stats=dict(
            evicted_keys=_int(info, "evicted_keys"),
            expired_keys=_int(info, "expired_keys"),
            keyspace_hits=_int(info, "keyspace_hits"),
            keyspace_misses=_int(info, "keyspace_misses"),
            ops_per_sec=_int(info, "instantaneous_ops_per_sec"),
            total_connections_received=_int(info, "total_connections_received"),
        ),
        keyspace=dict(key_count=_int(keyspace, "keys"), expires=_int(keyspace, "expires")),
    )


def scan_families(
    client: t.Any, families: dict[str, str], count: int = 1000, max_keys: int = 100000, sample: int = 20
) -> dict[str, t.Any]:
    """One ``SCAN`` pass over the keyspace (no ``MATCH``), counting the keys of each family by prefix.

    Stops after ``max_keys`` keys were examined: ``complete`` is then false and the counts are lower
    bounds (``estimate_families()`` scales them; SCAN visits keys in hash order, a fair sample). Each
    family keeps a sample of up to ``sample`` key names; ``other`` counts the keys of no family.
    Returns ``{examined, calls, complete, families: {name: {prefix, count, sample}}, other, keys}``
    where ``keys`` is every examined key (for the callers' own classification).
    """
    if count < 1 or max_keys < 1:
        raise ValueError("count and max_keys must be at least 1")
    found = {name: dict(prefix=prefix, count=0, sample=[]) for name, prefix in families.items()}
    ordered = sorted(families.items(), key=lambda item: len(item[1]), reverse=True)  # longest prefix wins
    seen: set[str] = set()
    cursor, calls, other, complete = 0, 0, 0, False
    while len(seen) < max_keys:
        cursor, batch = client.scan(cursor=cursor, count=count)
        calls += 1
        for key in batch:
            if key in seen:  # SCAN may return a key twice
                continue
            seen.add(key)
            for name, prefix in ordered:
                if key.startswith(prefix):
                    family = found[name]
                    family["count"] += 1
                    if len(family["sample"]) < sample:
                        family["sample"].append(key)
                    break
            else:
                other += 1
        if int(cursor) == 0:
            complete = True
            break
    for family in found.values():
        family["sample"].sort()
    return dict(examined=len(seen), calls=calls, complete=complete, families=found, other=other, keys=seen)


def estimate_families(keys: dict[str, t.Any], dbsize: int | None) -> None:
    """Add ``estimate`` to each family of ``scan_families()``: the count, scaled to ``dbsize`` when the pass
    stopped early (``None`` when DBSIZE is unknown)."""
    for family in keys["families"].values():
        if keys["complete"]:
            family["estimate"] = family["count"]
        elif dbsize and keys["examined"]:
            family["estimate"] = max(family["count"], round(family["count"] * dbsize / keys["examined"]))
        else:
            family["estimate"] = None


def key_fingerprint(key: str, prefix: str) -> str:
    """``<prefix>#<10 hex of sha256(key)>``: tells keys apart without showing the id in them (a session id)."""
    return f"{prefix}#{hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"


def family_of(key: str, families: dict[str, str]) -> str | None:
    """The family whose prefix is the longest that ``key`` starts with."""
    best = None
    for name, prefix in families.items():
        if key.startswith(prefix) and (best is None or len(prefix) > len(families[best])):
            best = name
    return best


def check_types(
    client: t.Any, keys: t.Iterable[str], families: dict[str, str], expect: dict[str, str], limit: int = 5000
) -> dict[str, dict[str, t.Any]]:
    """TYPE of up to ``limit`` keys of each family in ``expect`` (one pipeline), against the expected type.

    Returns per family ``{expected, checked, types: {type: n}, unexpected, unexpected_keys}`` (keys that
    vanished meanwhile are not counted).
    """
    wanted: dict[str, list[str]] = {name: [] for name in expect}
    for key in keys:
        name = family_of(key, families)
        if name in wanted and len(wanted[name]) < limit:
            wanted[name].append(key)
    pipe = client.pipeline(transaction=False)
    order = [(name, key) for name, members in wanted.items() for key in sorted(members)]
    for _name, key in order:
        pipe.type(key)
    replies = pipe.execute(raise_on_error=False) if order else []
    out = {name: dict(expected=expect[name], checked=0, types={}, unexpected=0, unexpected_keys=[]) for name in expect}
    for (name, key), kind in zip(order, replies):  # noqa: B905 - one reply per command; strict= needs Python 3.10
        if isinstance(kind, Exception) or kind == "none":
            continue
        entry = out[name]
        entry["checked"] += 1
        entry["types"][kind] = entry["types"].get(kind, 0) + 1
        if kind != expect[name]:
            entry["unexpected"] += 1
            entry["unexpected_keys"].append(key)
    return out


def read_site(
    client: t.Any,
    db: int = 0,
    breaker_prefix: str = "circuit_breaker",
    breaker_names: t.Sequence[str] = (),
    families: dict[str, str] | None = None,
    scan_count: int = 1000,
    max_keys: int = 20000,
    sample: int = 20,
    expect_types: dict[str, str] | None = None,
    secret_families: t.Sequence[str] = (),
    keep_prefixes: t.Sequence[str] = (),
) -> dict[str, t.Any]:
    """Everything a site diagnosis reads from Redis, in a few round trips (never ``KEYS``).

    INFO and DBSIZE in one pipeline; one bounded SCAN pass classifying keys into ``families``
    (prefix by name); the TYPE of the examined keys of the families in ``expect_types`` (one pipeline:
    malformed sessions); the breakers (``breaker_names`` and the ones the pass found, read with
    ``read_breakers``). When the pass stopped early, breakers are found with a ``MATCH`` scan of
    their prefix as ``circuit_breaker_info`` does, so none is missed. Key names of ``secret_families``
    (session ids, token ids) are returned as fingerprints only. With ``keep_prefixes``, ``kept_keys`` lists the
    examined keys that start with one of them (sorted), for the caller's own reads. Connection problems raise.
    """
    pipe = client.pipeline(transaction=False)
    pipe.info("all")
    pipe.dbsize()
    info, dbsize = pipe.execute(raise_on_error=False)
    errors = []
    if isinstance(info, Exception):
        errors.append(f"INFO refused: {info}")
        info = {}
    if isinstance(dbsize, Exception):
        errors.append(f"DBSIZE refused: {dbsize}")
        dbsize = None

    families = dict(families or {})
    scan = scan_families(client, families, count=scan_count, max_keys=max_keys, sample=sample)
    estimate_families(scan, dbsize)
    examined = scan.pop("keys")
    checked = check_types(client, examined, families, {k: v for k, v in (expect_types or {}).items() if k in families})
    for name, entry in checked.items():
        scan["families"][name].update(entry)
    for name in secret_families:
        family = scan["families"].get(name)
        if family:
            family["sample"] = sorted(key_fingerprint(k, family["prefix"]) for k in family["sample"])
            if "unexpected_keys" in family:
                family["unexpected_keys"] = sorted(
                    key_fingerprint(k, family["prefix"]) for k in family["unexpected_keys"]
                )
    head = f"{breaker_prefix}:"
    names = set(breaker_names)
    for key in examined:
        for tail in (":state", ":stats"):
            if key.startswith(head) and key.endswith(tail) and len(key) > len(head) + len(tail):
                names.add(key[len(head) : -len(tail)])
    truncated = False
    if not scan["complete"]:
        found = discover_breakers(client, breaker_prefix, count=scan_count, limit=max_keys)
        names.update(found.keys)
        truncated = found.truncated
    ordered = sorted(names)
    server_time, raw = read_breakers(client, breaker_prefix, ordered)
    server_time = server_time if server_time is not None else time.time()
    breakers = summarize_breakers(raw, ordered, server_time)
    breakers.update(prefix=breaker_prefix, truncated=truncated)
    out = dict(
        summarize_info(info, db),
        dbsize=dbsize,
        server_time=server_time,
        scan=scan,
        breakers=breakers,
        errors=errors,
    )
    if keep_prefixes:
        heads = tuple(keep_prefixes)
        out["kept_keys"] = sorted(key for key in examined if key.startswith(heads))
    return out


# ---------------------------------------------------------------------------------------------
# Deleting keys (redis_keys, rate_limit): UNLINK in pipelined batches, DEL when UNLINK is refused
# ---------------------------------------------------------------------------------------------


def _refused(reply: t.Any) -> bool:
    """Whether a reply is the server refusing the command itself (unknown command, ACL NOPERM)."""
    text = str(reply).lower()
    return isinstance(reply, Exception) and ("unknown command" in text or "noperm" in text or "no permissions" in text)


def delete_batches(client: t.Any, keys: t.Sequence[str], batch_size: int = 500) -> t.Iterator[tuple[str, int]]:
    """Delete ``keys``, ``batch_size`` single-key commands per pipelined round trip; yield ``(command, deleted)``.

    Uses ``UNLINK`` (the memory is freed in the background); from the first batch where the server refuses
    ``UNLINK`` (Redis < 4, renamed command, ACL) the batches use ``DEL``. A generator, so a caller that
    catches an error knows how much was deleted before it. Raises ``redis.exceptions.ResponseError`` when
    ``DEL`` is refused too; connection problems raise.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    command = "UNLINK"
    for start in range(0, len(keys), batch_size):
        batch = keys[start : start + batch_size]
        replies = _delete_batch(client, command, batch)
        if command == "UNLINK" and replies and all(_refused(reply) for reply in replies):
            command = "DEL"
            replies = _delete_batch(client, command, batch)
        errors = [reply for reply in replies if isinstance(reply, Exception)]
        if errors:
            raise errors[0]
        yield command, sum(int(reply) for reply in replies)


def _delete_batch(client: t.Any, command: str, batch: t.Sequence[str]) -> list[t.Any]:
    pipe = client.pipeline(transaction=False)
    for key in batch:
        if command == "UNLINK":
            pipe.unlink(key)
        else:
            pipe.delete(key)
    return pipe.execute(raise_on_error=False)
