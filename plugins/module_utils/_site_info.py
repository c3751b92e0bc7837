# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""The site read of ``site_info``, shared by the module and its action plugin.

- ``argument_spec()``: the options (documented in plugins/modules/site_info.py).
- ``invalid_options(params)``: what is wrong with validated options, before anything is read.
- ``read_site(params)``: every component the options ask for, read at the same time in a thread
  pool (one job per Kubernetes list, HTTP endpoint and API path; one per Redis and PostgreSQL
  connection). The stdlib readers start first; the redis and psycopg libraries are imported in
  the calling thread while their requests are under way. Raises ``SiteInfoError`` only for options
  that cannot be used, never because a service is down.
- ``redis.rate_limits``: the orchestrator's rate-limit keys are read in the Redis reader, after the site
  read (from the keys its SCAN pass examined when the pass was complete, else with bounded MATCH scans),
  and summarised in the calling thread once the Kubernetes reads are in, with the limits of the ConfigMap.
"""

from __future__ import annotations

import importlib
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.voicehive.remediation.plugins.module_utils import _kube_read as kube
from ansible_collections.voicehive.remediation.plugins.module_utils import _site_read as reads
from ansible_collections.voicehive.remediation.plugins.module_utils._redact import redact_url

KINDS = list(kube.NAMESPACED_KINDS)
PG_SETTINGS = list(reads.DEFAULT_PG_SETTINGS)
MAX_WORKERS = 16


def argument_spec():
    return dict(
        timeout=dict(type="float", default=5.0),
        kubernetes=dict(
            type="dict",
            options=dict(
                kubeconfig=dict(type="raw"),
                context=dict(type="str"),
                host=dict(type="str"),
                api_key=dict(type="str", no_log=True),
                ca_cert=dict(type="path"),
                validate_certs=dict(type="bool"),
                client_cert=dict(type="path"),
                client_key=dict(type="path", no_log=False),
                namespace=dict(type="str", required=True),
                kinds=dict(type="list", elements="str", choices=KINDS, default=KINDS),
                secrets=dict(type="list", elements="str", default=[], no_log=False),
                events_limit=dict(type="int", default=50),
                nodes=dict(type="bool", default=False),
                other_namespaces=dict(
                    type="list",
                    elements="dict",
                    default=[],
                    options=dict(
                        namespace=dict(type="str", required=True),
                        kinds=dict(type="list", elements="str", required=True),
                        label_selector=dict(type="str"),
                    ),
                ),
                variable=dict(type="str", default="voicehive_kube_host"),
            ),
        ),
        redis=dict(
            type="dict",
            options=dict(
                url=dict(type="str", required=True, no_log=True),
                validate_certs=dict(type="bool", default=True),
                ca_certs=dict(type="path"),
                client_cert=dict(type="path"),
                client_key=dict(type="path", no_log=False),
                breaker_prefix=dict(type="str", default="circuit_breaker"),
                breaker_names=dict(type="list", elements="str", default=[]),
                families=dict(type="dict", default={}),
                scan_count=dict(type="int", default=1000),
                max_keys=dict(type="int", default=20000, no_log=False),
                sample=dict(type="int", default=20),
                expect_types=dict(type="dict", default={}),
                secret_families=dict(type="list", elements="str", default=[], no_log=False),
                rate_limits=dict(
                    type="dict",
                    options=dict(
                        key_prefix=dict(type="str", default="rate_limit", no_log=False),
                        allowlist_prefix=dict(type="str", default="rate_limit:whitelist", no_log=False),
                        limits=dict(type="dict", default={}),
                        limits_configmap=dict(
                            type="dict",
                            options=dict(
                                name=dict(type="str", required=True),
                                keys=dict(type="dict", required=True, no_log=False),
                            ),
                        ),
                        top=dict(type="int", default=20),
                        clients=dict(type="list", elements="str", default=[]),
                        max_keys=dict(type="int", default=200000, no_log=False),
                    ),
                ),
                variable=dict(type="str", default="voicehive_redis_url"),
            ),
        ),
        postgres=dict(
            type="dict",
            options=dict(
                login_host=dict(type="str", required=True),
                port=dict(type="int", default=5432),
                login_db=dict(type="str", default="postgres"),
                login_user=dict(type="str"),
                login_password=dict(type="str", no_log=True),
                ssl_mode=dict(
                    type="str",
                    default="prefer",
                    choices=["allow", "disable", "prefer", "require", "verify-ca", "verify-full"],
                ),
                ca_cert=dict(type="path"),
                statements_top=dict(type="int", default=10),
                settings=dict(type="list", elements="str", default=PG_SETTINGS),
                variable=dict(type="str", default="voicehive_postgres_host"),
            ),
        ),
        prometheus=dict(
            type="dict",
            options=dict(
                url=dict(type="str", required=True),
                validate_certs=dict(type="bool", default=True),
                ca_path=dict(type="path"),
                queries=dict(type="dict", default={}),
                variable=dict(type="str", default="voicehive_prometheus_url"),
            ),
        ),
        vault=dict(
            type="dict",
            options=dict(
                url=dict(type="str", required=True),
                token=dict(type="str", no_log=True),
                validate_certs=dict(type="bool", default=True),
                ca_path=dict(type="path"),
                kv_checks=dict(
                    type="list",
                    elements="dict",
                    default=[],
                    options=dict(
                        name=dict(type="str", required=True),
                        mount=dict(type="str", required=True),
                        path=dict(type="str", required=True, no_log=True),
                    ),
                ),
                variable=dict(type="str", default="voicehive_vault_url"),
            ),
        ),
        alertmanager=dict(
            type="dict",
            options=dict(
                url=dict(type="str", required=True),
                validate_certs=dict(type="bool", default=True),
                ca_path=dict(type="path"),
                variable=dict(type="str", default="voicehive_alertmanager_url"),
            ),
        ),
        route53=dict(
            type="dict",
            options=dict(
                zone_id=dict(type="str", required=True),
                records=dict(type="list", elements="str", default=[]),
                health_check_ids=dict(type="list", elements="str", default=[]),
                endpoint_url=dict(type="str"),
                region=dict(type="str", default="us-east-1"),
                access_key=dict(type="str", no_log=True),
                secret_key=dict(type="str", no_log=True),
                session_token=dict(type="str", no_log=True),
                variable=dict(type="str", default="voicehive_route53_zone_id"),
            ),
        ),
        http=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                name=dict(type="str", required=True),
                url=dict(type="str", required=True),
                expect_status=dict(type="list", elements="int", default=[200]),
                parse=dict(type="str", choices=["none", "json", "metrics"], default="none"),
                metrics_prefixes=dict(type="list", elements="str", default=["voicehive_"]),
                validate_certs=dict(type="bool", default=True),
                ca_path=dict(type="path"),
                variable=dict(type="str"),
            ),
        ),
    )


class SiteInfoError(Exception):
    """The options cannot be used (a kubeconfig that does not load, a Redis URL that does not parse, a missing
    library). ``fields`` go into the failed result (``exception`` for a traceback)."""

    def __init__(self, msg, **fields):
        super().__init__(msg)
        self.fields = fields


def invalid_options(p):
    """What is wrong with the (validated) options, before anything is read: one phrase each."""
    errors = []
    if p["timeout"] <= 0:
        errors.append(f"timeout must be above 0 seconds, got {p['timeout']}")
    k8s = p["kubernetes"]
    if k8s:
        if not k8s["namespace"].strip():
            errors.append("kubernetes.namespace must not be empty")
        if k8s["events_limit"] < 0:
            errors.append("kubernetes.events_limit must not be negative")
        for extra in k8s["other_namespaces"]:
            unknown = sorted(set(extra["kinds"]) - set(KINDS))
            if unknown:
                errors.append(
                    f"kubernetes.other_namespaces kinds {', '.join(unknown)} are not among {', '.join(KINDS)}"
                )
    redis = p["redis"]
    if redis:
        for option in ("scan_count", "max_keys"):
            if redis[option] < 1:
                errors.append(f"redis.{option} must be at least 1, got {redis[option]}")
        if not redis["breaker_prefix"]:
            errors.append("redis.breaker_prefix must not be empty")
        if any(not isinstance(v, str) or not v for v in redis["families"].values()):
            errors.append("redis.families must map names to non-empty key prefixes")
        for option in ("expect_types", "secret_families"):
            unknown = sorted(set(redis[option]) - set(redis["families"]))
            if unknown:
                errors.append(
                    f"redis.{option} names families that redis.families does not define: {', '.join(unknown)}"
                )
        kinds = {"string", "hash", "list", "set", "zset", "stream"}
        if any(v not in kinds for v in redis["expect_types"].values()):
            errors.append(f"redis.expect_types values must be Redis types ({', '.join(sorted(kinds))})")
        if redis["rate_limits"]:
            errors.extend(invalid_rate_limits(redis["rate_limits"], k8s))
    if p["postgres"] and p["postgres"]["statements_top"] < 1:
        errors.append("postgres.statements_top must be at least 1")
    if p["vault"]:
        checks = [c["name"] for c in p["vault"]["kv_checks"]]
        if len(set(checks)) != len(checks):
            errors.append("vault.kv_checks names must be unique")
    names = [e["name"] for e in p["http"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        errors.append(f"http endpoint names must be unique, repeated: {', '.join(duplicates)}")
    for endpoint in p["http"]:
        if not endpoint["url"].startswith(("http://", "https://")) and not reads.tcp_address(endpoint["url"]):
            errors.append(f"http endpoint {endpoint['name']} has no usable URL (http(s)://, ws(s)://, tcp://host:port)")
    return errors


def whole_limit(value):
    """A limit as an int of at least 1 (``"100"`` -> 100), ``None`` for anything else (``"many"``, ``0``, ``True``)."""
    try:
        limit = int(str(value).strip())
    except ValueError:
        return None
    return limit if limit >= 1 else None


def invalid_rate_limits(rate, k8s):
    """What is wrong with ``redis.rate_limits``, one phrase each."""
    errors = []
    where = "redis.rate_limits"
    for option in ("key_prefix", "allowlist_prefix"):
        if not rate[option]:
            errors.append(f"{where}.{option} must not be empty")
    if rate["max_keys"] < 1:
        errors.append(f"{where}.max_keys must be at least 1, got {rate['max_keys']}")
    if rate["top"] < 0:
        errors.append(f"{where}.top must be 0 or more, got {rate['top']}")
    for window, value in rate["limits"].items():
        if whole_limit(value) is None:
            errors.append(f"{where}.limits.{window} must be a whole number of requests of at least 1, got {value!r}")
    configmap = rate["limits_configmap"]
    if configmap:
        if not configmap["name"].strip():
            errors.append(f"{where}.limits_configmap.name must not be empty")
        if not configmap["keys"] or any(not isinstance(v, str) or not v for v in configmap["keys"].values()):
            errors.append(f"{where}.limits_configmap.keys must map window names to ConfigMap data keys")
        if not k8s or "configmaps" not in k8s["kinds"]:
            errors.append(f"{where}.limits_configmap needs kubernetes with configmaps in kubernetes.kinds")
    if rate["clients"]:
        # imports the redis library: only when there are client ids to check
        from ansible_collections.voicehive.remediation.plugins.module_utils._rate_limit import parse_client

        for client in rate["clients"]:
            try:
                parse_client(client)
            except ValueError as exc:
                errors.append(f"{where}.clients: {exc}")
    return errors


class Job:
    """One read, run in the pool: its value or the exception it ended with, and its wall time."""

    def __init__(self, pool, func, *args):
        self.elapsed_ms = None
        self._start = time.monotonic()
        self.future = pool.submit(self._run, func, *args)

    def _run(self, func, *args):
        try:
            return func(*args), None
        except Exception as exc:  # a reader's own bug must not hide the other components' state
            return None, exc
        finally:
            self.elapsed_ms = round((time.monotonic() - self._start) * 1000, 1)

    def result(self):
        return self.future.result()


def slowest(jobs):
    return max((job.elapsed_ms or 0.0 for job in jobs), default=0.0)


def _failed(exc):
    if isinstance(exc, kube.KubeReadError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if exc else None


def start_kubernetes(params, pool, timeout):
    try:
        conn = kube.connect(params)
    except kube.KubeConfigError as exc:
        raise SiteInfoError(f"Cannot configure the Kubernetes client: {exc}") from None
    jobs = dict(namespace=Job(pool, kube.read_namespace_object, conn, params["namespace"], timeout))
    for kind in params["kinds"]:
        jobs[kind] = Job(pool, kube.read_kind, conn, params["namespace"], kind, timeout, None, params["events_limit"])
    if params["nodes"]:
        # cluster-scoped: the nodes and their usage, each failing soft (an error entry, not a failed read)
        jobs["cluster:nodes"] = Job(pool, kube.read_nodes, conn, timeout)
        jobs["cluster:node_metrics"] = Job(pool, kube.read_node_metrics, conn, timeout)
    for name in params["secrets"]:
        jobs[f"secret:{name}"] = Job(pool, kube.read_secret, conn, params["namespace"], name, timeout)
    for extra in params["other_namespaces"]:
        for kind in extra["kinds"]:
            key = f"{extra['namespace']}/{kind}"
            jobs[key] = Job(
                pool,
                kube.read_kind,
                conn,
                extra["namespace"],
                kind,
                timeout,
                extra["label_selector"],
                params["events_limit"],
            )
    return conn, jobs


def finish_kubernetes(params, conn, jobs):
    elapsed = slowest(jobs.values())
    namespace, ns_error = jobs.pop("namespace").result()
    result = dict(
        available=namespace is not None,
        error=None,
        server=redact_url(conn.server),
        namespace=namespace or dict(name=params["namespace"], exists=None, phase=None),
        errors={},
        other_namespaces={},
    )
    if ns_error is not None:
        result["error"] = f"Cannot read namespace {params['namespace']}: {_failed(ns_error)}"
    if "cluster:nodes" in jobs:
        finish_nodes(result, jobs.pop("cluster:nodes").result(), jobs.pop("cluster:node_metrics").result())
    for key, job in jobs.items():
        value, exc = job.result()
        if key.startswith("secret:"):
            name = key.split(":", 1)[1]
            result.setdefault("secrets", {})[name] = value if exc is None else dict(name=name, exists=None, data={})
            if exc is not None:
                result["errors"][f"secret {name}"] = _failed(exc)
            continue
        if "/" in key:
            namespace_name, kind = key.split("/", 1)
            target = result["other_namespaces"].setdefault(namespace_name, dict(errors={}))
        else:
            kind, target = key, result
        if exc is None:
            target[kind] = value
        else:
            target[kind] = {} if kind != "events" else dict(total=0, complete=False, warnings=0, recent=[])
            target["errors"][kind] = _failed(exc)
    result["elapsed_ms"] = elapsed
    return result


def finish_nodes(result, nodes, metrics):
    """``nodes`` of the Kubernetes result: each node with its usage (``kube.merge_node_usage``); a list that cannot be
    read (403 without the ClusterRole's ``nodes`` or ``nodes.metrics.k8s.io`` list) is an entry in ``errors``
    (``nodes``, ``node_metrics``), never a failed read."""
    (found, nodes_error), (usage, metrics_error) = nodes, metrics
    if nodes_error is not None:
        result["errors"]["nodes"] = _failed(nodes_error)
    if metrics_error is not None:
        result["errors"]["node_metrics"] = _failed(metrics_error)
    result["nodes"] = kube.merge_node_usage(found or {}, usage if metrics_error is None else None)


def read_redis(redis_utils, client, params, rate_utils=None):
    """The Redis reader, run in the pool: never raises for an unreachable server.

    With ``redis.rate_limits`` (``rate_utils``, the ``_rate_limit`` module) the rate-limit keys are read too,
    under ``rate_limits``, raw (``finish_rate_limits`` summarises them).
    """
    settings = redis_utils.connection_settings(params)
    rate = params["rate_limits"]
    keep = (f"{rate['key_prefix']}:", f"{rate['allowlist_prefix']}:") if rate else ()
    try:
        client.ping()
        data = redis_utils.read_site(
            client,
            db=settings["db"],
            breaker_prefix=params["breaker_prefix"],
            breaker_names=params["breaker_names"],
            families=params["families"],
            scan_count=params["scan_count"],
            max_keys=params["max_keys"],
            sample=params["sample"],
            expect_types=params["expect_types"],
            secret_families=params["secret_families"],
            keep_prefixes=keep,
        )
    except (redis_utils.RedisError, OSError) as exc:
        unreachable = isinstance(exc, (redis_utils.RedisConnectionError, redis_utils.RedisTimeoutError, OSError))
        message = (
            redis_utils.connection_error_message(params, exc)
            if unreachable
            else redis_utils.redis_error_message(params, exc, "Cannot read the site state from")
        )
        return dict(available=False, error=message, target=redis_utils.redis_target(params))
    kept = data.pop("kept_keys", None)
    result = dict(data, available=True, error=None, target=redis_utils.redis_target(params))
    if rate:
        candidates = kept if data["scan"]["complete"] else None
        result["rate_limits"] = read_rate_limits(redis_utils, rate_utils, client, params, candidates)
    return result


def read_rate_limits(redis_utils, rate_utils, client, params, candidates):
    """The rate-limit keys, raw (``rate_utils.read_usage``): from ``candidates`` (the keys the complete SCAN pass
    examined) or, when ``None``, found with bounded MATCH scans. An error here leaves the rest of the Redis read."""
    rate = params["rate_limits"]
    started = time.monotonic()
    try:
        server_time, entries, allowlist, invalid, examined, truncated = rate_utils.read_usage(
            client,
            rate["key_prefix"],
            rate["allowlist_prefix"],
            params["scan_count"],
            rate["max_keys"],
            rate["clients"],
            candidates,
        )
    except (redis_utils.RedisError, OSError) as exc:
        error = redis_utils.redis_error_message(params, exc, "Cannot read rate limits from")
        return dict(available=False, error=error, elapsed_ms=round((time.monotonic() - started) * 1000, 1))
    except Exception as exc:  # a bug here must not hide the rest of the Redis read
        return dict(available=False, error=_failed(exc), elapsed_ms=round((time.monotonic() - started) * 1000, 1))
    return dict(
        available=True,
        error=None,
        server_time=server_time,
        entries=entries,
        allowlist=allowlist,
        invalid=invalid,
        keys_examined=examined,
        truncated=truncated,
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
    )


def effective_limits(rate, kubernetes):
    """``(limits, limits_source)``: ``redis.rate_limits.limits`` overridden per window by the whole-number values of
    the ``limits_configmap`` keys in the ConfigMap read by the same call. A missing ConfigMap or key, or a value
    that is no whole number of at least 1, leaves the option's limit (``limits_source`` says ``option``; a window
    without one has no limit)."""
    limits = {str(window): whole_limit(value) for window, value in rate["limits"].items()}
    source = {window: "option" for window in limits}
    configmap = rate["limits_configmap"]
    if configmap:
        found = ((kubernetes or {}).get("configmaps") or {}).get(configmap["name"]) or {}
        data = found.get("data") or {}
        for window, data_key in configmap["keys"].items():
            value = whole_limit(data.get(data_key))
            if value is not None:
                limits[str(window)] = value
                source[str(window)] = "configmap"
    return dict(sorted(limits.items())), dict(sorted(source.items()))


def finish_rate_limits(rate, redis, kubernetes):
    """``redis.rate_limits`` of the result, in the calling thread once the Kubernetes reads are in: the raw read
    of the Redis reader summarised with the effective limits, as ``rate_limit_info`` returns it, with ``limits``,
    ``limits_source`` and ``elapsed_ms``."""
    from ansible_collections.voicehive.remediation.plugins.module_utils import _rate_limit as rate_utils

    raw = redis.get("rate_limits")
    if raw is None:  # Redis was not read
        return dict(available=False, error=redis.get("error") or "Redis was not read", elapsed_ms=None)
    if not raw["available"]:
        return raw
    started = time.monotonic()
    limits, source = effective_limits(rate, kubernetes)
    summary = rate_utils.summarize_usage(
        raw["entries"], raw["allowlist"], limits=limits, top=rate["top"], wanted=rate["clients"]
    )
    result = dict(
        summary,
        available=True,
        error=None,
        keys_examined=raw["keys_examined"],
        truncated=raw["truncated"],
        invalid_keys=len(raw["invalid"]),
        invalid=raw["invalid"][: rate_utils.INVALID_SAMPLE],
        limits=limits,
        limits_source=source,
        elapsed_ms=round(raw["elapsed_ms"] + (time.monotonic() - started) * 1000, 1),
    )
    if raw["server_time"] is not None:
        result["server_time"] = raw["server_time"]
    return result


def start_redis(params, pool, timeout):
    """Import the library here, in the main thread, while the other reads are under way."""
    from ansible_collections.voicehive.remediation.plugins.module_utils import _rate_limit, _redis

    if not _redis.HAS_REDIS:
        raise SiteInfoError(missing_required_lib(_redis.REDIS_LIBRARY), exception=_redis.REDIS_IMPORT_ERROR)
    params = dict(params, connect_timeout=timeout, socket_timeout=max(timeout, 10.0))
    try:
        client = _redis.redis.Redis(**_redis.redis_client_kwargs(params))
    except (ValueError, _redis.RedisError) as exc:
        raise SiteInfoError(_redis.connection_error_message(params, exc)) from None
    return Job(pool, read_redis, _redis, client, params, _rate_limit)


def start_postgres(params, pool, timeout):
    try:
        psycopg = importlib.import_module("psycopg")
    except ImportError:
        raise SiteInfoError(missing_required_lib("psycopg (3)"), exception=traceback.format_exc()) from None
    return Job(pool, reads.read_postgres, psycopg, params, timeout, params["statements_top"], params["settings"])


def start_route53(params, pool, timeout):
    """Import boto3 here, in the main thread, while the other reads are under way."""
    try:
        boto3 = importlib.import_module("boto3")
        botocore_config = importlib.import_module("botocore.config")
    except ImportError:
        raise SiteInfoError(missing_required_lib("boto3"), exception=traceback.format_exc()) from None
    return Job(pool, read_route53, boto3, botocore_config, params, timeout)


def _rrset(data):
    """A Route53 record set, compact: type, TTL, values, and the routing fields of failover records."""
    out = dict(
        name=data.get("Name"),
        type=data.get("Type"),
        ttl=data.get("TTL"),
        values=[r.get("Value") for r in data.get("ResourceRecords") or []],
    )
    for key, field in (
        ("set_identifier", "SetIdentifier"),
        ("failover", "Failover"),
        ("health_check_id", "HealthCheckId"),
    ):
        if data.get(field) is not None:
            out[key] = data[field]
    if data.get("AliasTarget"):
        out["alias"] = data["AliasTarget"].get("DNSName")
    return out


def read_route53(boto3, botocore_config, params, timeout):
    """The record sets named in ``records`` (each name's sets, every type) and the health checks in
    ``health_check_ids`` (configuration and what Route53's checkers report) of one hosted zone."""
    kwargs = dict(
        region_name=params["region"],
        config=botocore_config.Config(
            connect_timeout=timeout, read_timeout=max(timeout, 10.0), retries=dict(max_attempts=2)
        ),
    )
    if params["endpoint_url"]:
        kwargs["endpoint_url"] = params["endpoint_url"]
    for key, arg in (
        ("access_key", "aws_access_key_id"),
        ("secret_key", "aws_secret_access_key"),
        ("session_token", "aws_session_token"),
    ):
        if params[key]:
            kwargs[arg] = params[key]
    zone = params["zone_id"].split("/")[-1]
    try:
        client = boto3.client("route53", **kwargs)
        records = {}
        for name in params["records"]:
            wanted = name.rstrip(".") + "."
            answer = client.list_resource_record_sets(HostedZoneId=zone, StartRecordName=wanted, MaxItems="20")
            records[name] = [
                _rrset(r) for r in answer.get("ResourceRecordSets", []) if r.get("Name", "").lower() == wanted.lower()
            ]
        checks = {}
        for check_id in params["health_check_ids"]:
            try:
                config = client.get_health_check(HealthCheckId=check_id)["HealthCheck"]["HealthCheckConfig"]
            except client.exceptions.NoSuchHealthCheck:
                checks[check_id] = dict(exists=False)
                continue
            observations = client.get_health_check_status(HealthCheckId=check_id).get("HealthCheckObservations", [])
            reports = [(o.get("StatusReport") or {}).get("Status", "") for o in observations]
            checks[check_id] = dict(
                exists=True,
                type=config.get("Type"),
                address=config.get("IPAddress") or config.get("FullyQualifiedDomainName"),
                port=config.get("Port"),
                path=config.get("ResourcePath"),
                disabled=bool(config.get("Disabled", False)),
                inverted=bool(config.get("Inverted", False)),
                reported_healthy=bool(reports) and all(r.startswith("Success") for r in reports),
                observations=len(reports),
            )
    except Exception as exc:  # botocore's errors (endpoint, credentials, API) all end the read the same way
        return dict(available=False, error=f"Cannot read Route53 zone {zone}: {exc}", zone_id=zone)
    return dict(available=True, error=None, zone_id=zone, records=records, health_checks=checks)


def start_http_reads(pool, base, paths, timeout, validate_certs, ca_path, headers=None):
    return {
        key: Job(pool, reads.read_json, base, path, timeout, validate_certs, ca_path, headers)
        for key, path in paths.items()
    }


def collect(jobs):
    out = {}
    for key, job in jobs.items():
        value, exc = job.result()
        out[key] = value if exc is None else dict(reachable=False, status=None, error=_failed(exc), json=None)
    return out


def finish_single(job):
    value, exc = job.result()
    value = value if exc is None else dict(available=False, error=_failed(exc))
    value["elapsed_ms"] = job.elapsed_ms
    return value


def read_site(p):
    """Read every component the options ask for, all at once: the result of ``site_info`` (without ``changed``).

    Raises ``SiteInfoError`` when an option cannot be used; never because a service is down.
    """
    timeout = p["timeout"]
    started = time.monotonic()
    result = dict(components={}, down=[])
    conn = None
    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
        try:
            # stdlib readers first, then the libraries are imported while their requests are under way
            k8s_jobs = None
            if p["kubernetes"]:
                conn, k8s_jobs = start_kubernetes(p["kubernetes"], pool, timeout)
            http_jobs = {e["name"]: Job(pool, reads.read_http_endpoint, e, timeout) for e in p["http"]}
            prom_jobs = am_jobs = None
            if p["prometheus"]:
                prom = p["prometheus"]
                paths = dict(reads.PROMETHEUS_READS)
                paths.update({f"query:{n}": reads.prometheus_query_path(q) for n, q in prom["queries"].items()})
                prom_jobs = start_http_reads(pool, prom["url"], paths, timeout, prom["validate_certs"], prom["ca_path"])
            vault_jobs = None
            if p["vault"]:
                vault = p["vault"]
                paths = dict(reads.VAULT_READS)
                paths.update(
                    {f"kv:{c['name']}": reads.vault_kv_path(c["mount"], c["path"]) for c in vault["kv_checks"]}
                )
                headers = {"X-Vault-Token": vault["token"]} if vault["token"] else None
                vault_jobs = start_http_reads(
                    pool, vault["url"], paths, timeout, vault["validate_certs"], vault["ca_path"], headers
                )
            if p["alertmanager"]:
                am = p["alertmanager"]
                am_jobs = start_http_reads(
                    pool, am["url"], reads.ALERTMANAGER_READS, timeout, am["validate_certs"], am["ca_path"]
                )
            redis_job = start_redis(p["redis"], pool, timeout) if p["redis"] else None
            pg_job = start_postgres(p["postgres"], pool, timeout) if p["postgres"] else None
            r53_job = start_route53(p["route53"], pool, timeout) if p.get("route53") else None

            if k8s_jobs is not None:
                result["kubernetes"] = finish_kubernetes(p["kubernetes"], conn, k8s_jobs)
            if redis_job is not None:
                result["redis"] = finish_single(redis_job)
                if p["redis"]["rate_limits"]:
                    result["redis"]["rate_limits"] = finish_rate_limits(
                        p["redis"]["rate_limits"], result["redis"], result.get("kubernetes")
                    )
            if pg_job is not None:
                result["postgres"] = finish_single(pg_job)
            if r53_job is not None:
                result["route53"] = finish_single(r53_job)
            if prom_jobs is not None:
                result["prometheus"] = reads.summarize_prometheus(collect(prom_jobs), p["prometheus"]["queries"])
                result["prometheus"]["elapsed_ms"] = slowest(prom_jobs.values())
            if vault_jobs is not None:
                names = [c["name"] for c in p["vault"]["kv_checks"]]
                result["vault"] = reads.summarize_vault(collect(vault_jobs), names)
                result["vault"]["elapsed_ms"] = slowest(vault_jobs.values())
            if am_jobs is not None:
                result["alertmanager"] = reads.summarize_alertmanager(collect(am_jobs))
                result["alertmanager"]["elapsed_ms"] = slowest(am_jobs.values())
            if p["http"]:
                result["http"] = {}
                for endpoint in p["http"]:
                    value, exc = http_jobs[endpoint["name"]].result()
                    if exc is not None:
                        value = dict(
                            url=redact_url(endpoint["url"]),
                            status=None,
                            reachable=False,
                            healthy=False,
                            error=_failed(exc),
                        )
                    result["http"][endpoint["name"]] = value
        finally:
            if conn is not None:
                conn.close()

    for name in ("kubernetes", "redis", "postgres", "prometheus", "vault", "alertmanager", "route53"):
        if name in result:
            data = result[name]
            result["components"][name] = dict(
                available=bool(data.get("available")), error=data.get("error"), elapsed_ms=data.get("elapsed_ms")
            )
            if not data.get("available"):
                result["down"].append(dict(name=name, variable=p[name]["variable"], error=data.get("error")))
    if p["http"]:
        result["components"]["http"] = dict(
            available=all(e.get("reachable") for e in result["http"].values()),
            error=None,
            elapsed_ms=slowest(http_jobs.values()),
        )
    for endpoint in p["http"]:
        data = result["http"][endpoint["name"]]
        if not data.get("reachable"):
            result["down"].append(
                dict(name=endpoint["name"], variable=endpoint["variable"] or endpoint["name"], error=data.get("error"))
            )
    result["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    result["finished_at"] = time.time()
    return result


def down_warnings(result):
    """One sentence per component or endpoint that did not answer, naming the variable to check."""
    return [
        f"{item['name']} does not answer ({item['error'] or 'no answer'}); it comes from {item['variable']}. "
        "The categories that need it will report it."
        for item in result.get("down", [])
    ]
