# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""The readers of ``site_info`` other than Kubernetes and Redis: HTTP endpoints and TCP ports,
Prometheus, Alertmanager and PostgreSQL. Each reader reports what it found and never raises because
a service is down: it returns ``available: false`` and the error, as ``postgresql_ping`` does.

- ``check_endpoint()``: one TCP connection with its latency (``endpoint_info`` uses it too).
- ``http_get()``: one timed GET; ``read_http_endpoint()``: an endpoint's status, latency and, on
  request, its JSON or its Prometheus metrics.
- ``PROMETHEUS_READS`` / ``summarize_prometheus()``, ``ALERTMANAGER_READS`` /
  ``summarize_alertmanager()``: which API paths are read, and the compact view built from them.
- ``read_postgres()``: activity, locks, settings and the slowest statements over one connection;
  ``normalize_sql()`` keeps literals (and so secrets and personal data) out of query texts.
"""

from __future__ import annotations

import json
import re
import socket
import time
import typing as t
from urllib.parse import quote, urlsplit

from ansible_collections.voicehive.remediation.plugins.module_utils import _http
from ansible_collections.voicehive.remediation.plugins.module_utils._prometheus import PrometheusParseError, parse_text
from ansible_collections.voicehive.remediation.plugins.module_utils._redact import mask_values, redact_url

ERROR_LIMIT = 300
TCP_SCHEMES = ("tcp", "ws", "wss", "redis", "rediss", "postgres", "postgresql")
# the port a URL of each scheme means when it names none (also the filter tcp_url's)
DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "redis": 6379,
    "rediss": 6379,
    "postgres": 5432,
    "postgresql": 5432,
}


def _ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)


def _short(text: t.Any, limit: int = ERROR_LIMIT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


# ---------------------------------------------------------------------------------------------
# TCP and HTTP
# ---------------------------------------------------------------------------------------------


def check_endpoint(endpoint: dict[str, t.Any], timeout: float) -> dict[str, t.Any]:
    """Try one TCP connection to ``endpoint['host']:endpoint['port']``; never raises."""
    result = dict(endpoint, reachable=False, error=None, elapsed_ms=None)
    start = time.monotonic()
    try:
        with socket.create_connection((endpoint["host"], endpoint["port"]), timeout=timeout):
            result["reachable"] = True
    except (OSError, ValueError) as exc:
        result["error"] = str(exc) or type(exc).__name__
    result["elapsed_ms"] = _ms(start)
    return result


def tcp_address(url: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``tcp://``, ``ws(s)://``, ``redis://`` ... URL (default ports by scheme); else ``None``."""
    parts = urlsplit(url)
    if parts.scheme not in TCP_SCHEMES or not parts.hostname:
        return None
    port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    return (parts.hostname, port) if port else None


def http_get(
    url: str,
    timeout: float,
    validate_certs: bool = True,
    ca_path: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, t.Any]:
    """One GET: ``{status, reachable, elapsed_ms, error, body}``. An HTTP error status is an answer."""
    start = time.monotonic()
    out: dict[str, t.Any] = dict(status=None, reachable=False, error=None, body=b"")
    try:
        status, body = _http.get(url, timeout, headers, validate_certs=validate_certs, ca_path=ca_path)
        out.update(status=status, reachable=True, body=body)
    except _http.Unreachable as exc:
        out["error"] = redact_url(_short(exc))
    except (OSError, ValueError) as exc:  # the TLS settings cannot be used (missing CA file, ...)
        out["error"] = redact_url(_short(f"{type(exc).__name__}: {exc}"))
    out["elapsed_ms"] = _ms(start)
    return out


def read_http_endpoint(endpoint: dict[str, t.Any], timeout: float) -> dict[str, t.Any]:
    """Read one endpoint of the site: ``{url, status, reachable, healthy, elapsed_ms, error}`` and, as asked,
    ``json`` (the decoded body) or ``metrics`` (Prometheus samples whose name starts with a prefix of
    ``metrics_prefixes``) and ``metric_names``. A ``tcp://`` or ``ws(s)://`` URL is a TCP connection only."""
    url = endpoint["url"]
    shown = redact_url(url)
    address = tcp_address(url)
    if address:
        probe = check_endpoint(dict(host=address[0], port=address[1]), timeout)
        return dict(
            url=shown,
            status=None,
            reachable=probe["reachable"],
            healthy=probe["reachable"],
            elapsed_ms=probe["elapsed_ms"],
            error=probe["error"],
        )
    answer = http_get(url, timeout, endpoint.get("validate_certs", True), endpoint.get("ca_path"))
    expect = endpoint.get("expect_status") or []
    result = dict(
        url=shown,
        status=answer["status"],
        reachable=answer["reachable"],
        healthy=answer["reachable"] and (not expect or answer["status"] in expect),
        elapsed_ms=answer["elapsed_ms"],
        error=answer["error"],
    )
    parse = endpoint.get("parse") or "none"
    if answer["reachable"] and parse == "json":
        try:
            result["json"] = json.loads(answer["body"] or b"null")
        except ValueError:
            result["json"] = None
            result["parse_error"] = "the answer is not JSON"
    elif answer["reachable"] and parse == "metrics" and answer["status"] == 200:
        prefixes = tuple(endpoint.get("metrics_prefixes") or ("",))
        try:
            samples = parse_text(answer["body"])
        except PrometheusParseError as exc:
            result.update(metrics=[], metric_names=[], parse_error=f"not Prometheus text format: {exc}")
        else:
            result["metric_names"] = sorted({s["name"] for s in samples})
            result["metrics"] = [
                dict(name=s["name"], labels=s["labels"], value=s["value"], type=s["type"])
                for s in samples
                if s["name"].startswith(prefixes)
            ]
    return result


def read_json(
    base: str,
    path: str,
    timeout: float,
    validate_certs: bool = True,
    ca_path: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, t.Any]:
    """GET ``base + path`` and decode JSON: ``{status, reachable, elapsed_ms, error, json}``."""
    answer = http_get(
        base.rstrip("/") + path,
        timeout,
        validate_certs,
        ca_path,
        dict({"Accept": "application/json"}, **(headers or {})),
    )
    body = answer.pop("body")
    answer["json"] = None
    if answer["reachable"]:
        try:
            answer["json"] = json.loads(body or b"null")
        except ValueError:
            answer["error"] = f"{path} answered HTTP {answer['status']} with something that is not JSON"
    return answer


# ---------------------------------------------------------------------------------------------
# Prometheus and Alertmanager
# ---------------------------------------------------------------------------------------------

PROMETHEUS_READS = {
    "healthy": "/-/healthy",
    "runtime": "/api/v1/status/runtimeinfo",
    "targets": "/api/v1/targets?state=active",
    "alerts": "/api/v1/alerts",
}


def prometheus_query_path(expr: str) -> str:
    return "/api/v1/query?query=" + quote(expr, safe="")


def _data(answer: dict[str, t.Any]) -> t.Any:
    body = answer.get("json")
    return body.get("data") if isinstance(body, dict) and body.get("status") == "success" else None


def _vector(data: t.Any) -> list[dict[str, t.Any]] | None:
    if not isinstance(data, dict):
        return None
    kind, result = data.get("resultType"), data.get("result")
    if kind == "vector":
        return [dict(labels=r.get("metric") or {}, value=_number(r.get("value"))) for r in result or []]
    if kind == "scalar":
        return [dict(labels={}, value=_number(result))]
    return None


def _number(pair: t.Any) -> float | None:
    try:
        return float(pair[1])
    except (TypeError, ValueError, IndexError):
        return None


def summarize_prometheus(answers: dict[str, dict[str, t.Any]], queries: dict[str, str]) -> dict[str, t.Any]:
    """The view of Prometheus from its answers (keys of ``PROMETHEUS_READS`` and ``query:<name>``)."""
    health = answers.get("healthy") or {}
    available = any((answers.get(key) or {}).get("reachable") for key in answers)
    errors = sorted({a["error"] for a in answers.values() if a.get("error")})
    runtime = _data(answers.get("runtime") or {}) or {}
    targets = (_data(answers.get("targets") or {}) or {}).get("activeTargets") or []
    alerts = (_data(answers.get("alerts") or {}) or {}).get("alerts") or []
    result: dict[str, t.Any] = dict(
        available=available,
        healthy=health.get("status") == 200,
        error=errors[0] if errors and not available else None,
        config_reload_success=runtime.get("reloadConfigSuccess"),
        last_config_time=runtime.get("lastConfigTime"),
        targets=[
            dict(
                job=(target.get("labels") or {}).get("job") or target.get("scrapePool"),
                instance=(target.get("labels") or {}).get("instance"),
                health=target.get("health"),
                last_error=_short(target.get("lastError") or "") or None,
                scrape_url=redact_url(target.get("scrapeUrl") or ""),
                last_scrape=target.get("lastScrape"),
            )
            for target in targets
        ],
        alerts=[
            dict(
                name=(alert.get("labels") or {}).get("alertname"),
                state=alert.get("state"),
                severity=(alert.get("labels") or {}).get("severity"),
                labels=alert.get("labels") or {},
                active_at=alert.get("activeAt"),
            )
            for alert in alerts
        ],
        queries={},
    )
    for name, expr in queries.items():
        answer = answers.get(f"query:{name}") or {}
        samples = _vector(_data(answer))
        body = answer.get("json") if isinstance(answer.get("json"), dict) else {}
        result["queries"][name] = dict(
            expr=expr,
            ok=samples is not None,
            samples=samples or [],
            error=None
            if samples is not None
            else (body.get("error") or answer.get("error") or f"HTTP {answer.get('status')}"),
        )
    return result


ALERTMANAGER_READS = {
    "healthy": "/-/healthy",
    "alerts": "/api/v2/alerts?active=true&silenced=false&inhibited=false",
    "status": "/api/v2/status",
}

ROUTE_FIELDS = ("receiver", "group_by", "group_wait", "group_interval", "repeat_interval", "continue")


def _route(route: dict[str, t.Any]) -> dict[str, t.Any]:
    out = {key: route[key] for key in ROUTE_FIELDS if key in route}
    matchers = route.get("matchers") or []
    for key in ("match", "match_re"):
        matchers += [f"{k}={v}" if key == "match" else f"{k}=~{v}" for k, v in (route.get(key) or {}).items()]
    out["matchers"] = [str(m) for m in matchers]
    out["routes"] = [_route(r) for r in route.get("routes") or [] if isinstance(r, dict)]
    return out


def alertmanager_route(config_yaml: str) -> dict[str, t.Any]:
    """The routing tree and the receiver names of an Alertmanager configuration; never receiver settings
    (they hold webhook URLs and keys)."""
    import yaml  # PyYAML ships with ansible-core

    try:
        config = yaml.safe_load(config_yaml or "") or {}
    except yaml.YAMLError as exc:
        return dict(error=f"the configuration is not valid YAML: {str(exc).splitlines()[0]}")
    if not isinstance(config, dict):
        return dict(error="the configuration is not a mapping")
    return dict(
        route=_route(config.get("route") or {}),
        receivers=sorted(str(r.get("name")) for r in config.get("receivers") or [] if isinstance(r, dict)),
    )


def summarize_alertmanager(answers: dict[str, dict[str, t.Any]]) -> dict[str, t.Any]:
    available = any((answers.get(key) or {}).get("reachable") for key in answers)
    errors = sorted({a["error"] for a in answers.values() if a.get("error")})
    alerts = (answers.get("alerts") or {}).get("json")
    status = (answers.get("status") or {}).get("json")
    status = status if isinstance(status, dict) else {}
    result = dict(
        available=available,
        healthy=(answers.get("healthy") or {}).get("status") == 200,
        error=errors[0] if errors and not available else None,
        alerts=[
            dict(
                name=(alert.get("labels") or {}).get("alertname"),
                state=(alert.get("status") or {}).get("state"),
                severity=(alert.get("labels") or {}).get("severity"),
                labels=alert.get("labels") or {},
                starts_at=alert.get("startsAt"),
                receivers=[r.get("name") for r in alert.get("receivers") or []],
                fingerprint=alert.get("fingerprint"),
            )
            for alert in (alerts if isinstance(alerts, list) else [])
        ],
        cluster_status=(status.get("cluster") or {}).get("status"),
        uptime=status.get("uptime"),
    )
    config = (status.get("config") or {}).get("original")
    result["config"] = alertmanager_route(config) if config else None
    return result


# ---------------------------------------------------------------------------------------------
# Vault (OpenBao)
# ---------------------------------------------------------------------------------------------

VAULT_READS = {"seal": "/v1/sys/seal-status", "token": "/v1/auth/token/lookup-self"}


def vault_kv_path(mount: str, path: str) -> str:
    """The KV v2 metadata path of ``mount``/``path`` (the secret's versions, never its data)."""
    return f"/v1/{quote(mount.strip('/'), safe='/')}/metadata/{quote(path.strip('/'), safe='/')}"


def _kv_entry(answer: dict[str, t.Any]) -> dict[str, t.Any]:
    status = answer.get("status")
    if not answer.get("reachable"):
        return dict(exists=None, error=answer.get("error"))
    if status == 404:
        return dict(exists=False, error=None)
    data = (answer.get("json") or {}).get("data") if isinstance(answer.get("json"), dict) else None
    if status != 200 or not isinstance(data, dict):
        errors = (answer.get("json") or {}).get("errors") if isinstance(answer.get("json"), dict) else None
        return dict(exists=None, error=f"HTTP {status}" + (f": {'; '.join(map(str, errors))}" if errors else ""))
    current = str(data.get("current_version") or "")
    version = (data.get("versions") or {}).get(current) or {}
    deleted = bool(version.get("deletion_time")) or bool(version.get("destroyed"))
    return dict(
        exists=bool(current) and not deleted,
        current_version=int(current) if current.isdigit() else None,
        updated_time=data.get("updated_time"),
        current_deleted=deleted,
        error=None,
    )


def summarize_vault(answers: dict[str, dict[str, t.Any]], kv_names: t.Sequence[str]) -> dict[str, t.Any]:
    """Seal status, the run's own token (lookup-self: valid, ttl, policies) and the KV paths asked about
    (``kv:<name>`` answers): whether each exists, its current version and when it changed; never a value."""
    seal = answers.get("seal") or {}
    seal_json = seal.get("json") if isinstance(seal.get("json"), dict) else {}
    token = answers.get("token") or {}
    token_data = (token.get("json") or {}).get("data") if isinstance(token.get("json"), dict) else None
    available = any((a or {}).get("reachable") for a in answers.values())
    errors = sorted({a["error"] for a in answers.values() if a and a.get("error")})
    return dict(
        available=available,
        error=errors[0] if errors and not available else None,
        sealed=seal_json.get("sealed"),
        initialized=seal_json.get("initialized"),
        threshold=seal_json.get("t"),
        shares=seal_json.get("n"),
        unseal_progress=seal_json.get("progress"),
        version=seal_json.get("version"),
        token=dict(
            valid=token.get("status") == 200 and isinstance(token_data, dict),
            status=token.get("status"),
            ttl=(token_data or {}).get("ttl"),
            policies=sorted((token_data or {}).get("policies") or []),
            renewable=(token_data or {}).get("renewable"),
        ),
        kv={name: _kv_entry(answers.get(f"kv:{name}") or {}) for name in kv_names},
    )


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------

_SQL_STRING = re.compile(r"(?:[EeBbXxUu]&?)?'(?:[^']|'')*'")
_SQL_DOLLAR = re.compile(r"\$([A-Za-z_]*)\$.*?\$\1\$", re.DOTALL)
_SQL_NUMBER = re.compile(r"(?<![\w$.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b")
_SQL_SPACE = re.compile(r"\s+")

DEFAULT_PG_SETTINGS = (
    "max_connections",
    "superuser_reserved_connections",
    "shared_buffers",
    "work_mem",
    "effective_cache_size",
    "statement_timeout",
    "idle_in_transaction_session_timeout",
    "lock_timeout",
    "log_min_duration_statement",
)


def normalize_sql(text: t.Any, limit: int = 300) -> str:
    """A query text without its literals: strings and numbers become ``?``, whitespace collapses."""
    text = _SQL_DOLLAR.sub("?", str(text or ""))
    text = _SQL_STRING.sub("?", text)
    text = _SQL_NUMBER.sub("?", text)
    text = _SQL_SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[:limit] + "..."


def postgres_target(conn: dict[str, t.Any]) -> str:
    return f"{conn.get('login_host') or 'localhost'}:{conn.get('port') or 5432}/{conn.get('login_db') or 'postgres'}"


def postgres_connect_kwargs(conn: dict[str, t.Any], timeout: float) -> dict[str, t.Any]:
    kwargs = dict(
        host=conn.get("login_host") or None,
        port=conn.get("port") or 5432,
        dbname=conn.get("login_db") or "postgres",
        user=conn.get("login_user") or None,
        password=conn.get("login_password") or None,
        sslmode=conn.get("ssl_mode") or "prefer",
        connect_timeout=max(1, int(conn.get("connect_timeout") or timeout)),
        application_name="voicehive-remediation",
    )
    if conn.get("ca_cert"):
        kwargs["sslrootcert"] = conn["ca_cert"]
    return {key: value for key, value in kwargs.items() if value is not None}


ACTIVITY_SQL = """
SELECT pid, usename, application_name, client_addr::text, state, wait_event_type, wait_event,
       round(extract(epoch FROM now() - xact_start)::numeric, 1)::float8,
       round(extract(epoch FROM now() - query_start)::numeric, 1)::float8,
       left(query, 4000), cardinality(pg_blocking_pids(pid))
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'
ORDER BY query_start NULLS LAST
LIMIT %s
"""

STATEMENTS_SQL = """
SELECT queryid::text, query, calls, {mean} AS mean_ms, {total} AS total_ms, {max} AS max_ms, rows
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY {mean} DESC
LIMIT %s
"""


def activity(row: t.Sequence[t.Any]) -> dict[str, t.Any]:
    """One row of ``ACTIVITY_SQL`` as a session, its query without literals."""
    pid, user, app, client, state, wait_type, wait_event, xact_s, query_s, query, blocked_by = row
    return dict(
        pid=pid,
        user=user,
        application=app,
        client=client,
        state=state,
        wait_event_type=wait_type,
        wait_event=wait_event,
        xact_seconds=xact_s,
        query_seconds=query_s,
        query=normalize_sql(query),
        blocked_by=blocked_by,
    )


def read_postgres(
    psycopg: t.Any,
    conn: dict[str, t.Any],
    timeout: float,
    top: int = 10,
    settings: t.Sequence[str] = DEFAULT_PG_SETTINGS,
) -> dict[str, t.Any]:
    """Everything a diagnosis reads from PostgreSQL, over one read-only connection.

    ``psycopg`` is the imported library (the caller imports it, so the import can overlap other reads).
    Never raises: an unreachable server gives ``available: false`` and the reason (no password).
    """
    start = time.monotonic()
    secrets = [v for v in (conn.get("login_password"),) if v]
    result: dict[str, t.Any] = dict(available=False, target=postgres_target(conn), error=None)
    try:
        with psycopg.connect(**postgres_connect_kwargs(conn, timeout)) as db:
            db.read_only = True
            with db.cursor() as cur:
                cur.execute(
                    "SELECT current_setting('server_version'), current_setting('server_version_num')::int, "
                    "pg_is_in_recovery(), round(extract(epoch FROM now() - pg_postmaster_start_time()))::bigint, "
                    "current_database(), pg_database_size(current_database())"
                )
                version, version_num, in_recovery, uptime, database, size = cur.fetchone()
                result.update(
                    available=True,
                    version=version,
                    in_recovery=in_recovery,
                    uptime_seconds=uptime,
                    database=database,
                    size_bytes=size,
                )
                cur.execute("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", (list(settings),))
                result["settings"] = {name: dict(value=value, unit=unit) for name, value, unit in cur.fetchall()}
                cur.execute(
                    "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
                    "WHERE backend_type = 'client backend' GROUP BY 1"
                )
                by_state = dict(cur.fetchall())
                max_connections = int((result["settings"].get("max_connections") or {}).get("value") or 0) or None
                total = sum(by_state.values())
                result["connections"] = dict(
                    total=total,
                    max=max_connections,
                    used_ratio=round(total / max_connections, 4) if max_connections else None,
                    by_state=by_state,
                )
                cur.execute(ACTIVITY_SQL, (top,))
                result["activity"] = [activity(row) for row in cur.fetchall()]
                cur.execute("SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) FROM pg_locks")
                granted, waiting = cur.fetchone()
                result["locks"] = dict(granted=granted, waiting=waiting)
                cur.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')")
                has_statements = cur.fetchone()[0]
                result["statements"] = dict(available=bool(has_statements), top=[], error=None)
                if has_statements:
                    columns = (
                        dict(mean="mean_exec_time", total="total_exec_time", max="max_exec_time")
                        if version_num >= 130000
                        else dict(mean="mean_time", total="total_time", max="max_time")
                    )
                    try:
                        cur.execute(STATEMENTS_SQL.format(**columns), (top,))
                    except psycopg.Error as exc:
                        db.rollback()
                        result["statements"]["error"] = mask_values(_short(exc), secrets)
                    else:
                        result["statements"]["top"] = [
                            dict(
                                queryid=queryid,
                                query=normalize_sql(query),
                                calls=calls,
                                mean_ms=round(mean, 3),
                                total_ms=round(total, 3),
                                max_ms=round(maximum, 3),
                                rows=rows,
                            )
                            for queryid, query, calls, mean, total, maximum, rows in cur.fetchall()
                        ]
    except psycopg.Error as exc:
        reason = mask_values(_short(str(exc).strip() or type(exc).__name__), secrets)
        what = "connect to" if not result["available"] else "read"
        result.update(available=result["available"], error=f"Cannot {what} PostgreSQL at {result['target']}: {reason}")
    result["elapsed_ms"] = _ms(start)
    return result
