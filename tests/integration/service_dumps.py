# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dumps of everything the collection may change in the lab, for before/after comparisons.

``dump(secrets, kube)`` reads each service the roles write to, the way a person would check it by hand:

- Redis (both sites): every key's type, serialized value (``DUMP``, byte for byte) and when it expires, and
  the server's configuration (``CONFIG GET *``);
- PostgreSQL (both sites): the settings (``pg_settings``), when the server started (a restart shows), the queries
  running for more than 5 s (pid and start: a terminated one shows), and a checksum of every row of every
  table in the ``voicehive`` database (a restore shows);
- Kubernetes: every object of the kinds the roles touch in every namespace: uid, generation, labels,
  annotations and the object's spec or data (status is the controllers' and the kubelet's, not ours);
- Vault: every KV secret's current version and the auth methods and policies;
- Route53: every record set of every hosted zone.

Values the lab changes by itself are left out, each named where it is left out.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import boto3
import psycopg
import redis
import requests
from kubernetes import client as k8s_client
from psycopg import sql

VAULT = "http://127.0.0.1:18200"
ROUTE53 = "http://127.0.0.1:15000"
REDIS_PORTS = {"lab": 16379, "lab-dr": 16380}
POSTGRES_PORTS = {"lab": 15432, "lab-dr": 15433}
# (api group/version path, plural) of the kinds the roles read and write
KINDS = (
    ("api/v1", "configmaps"),
    ("api/v1", "secrets"),
    ("api/v1", "services"),
    ("api/v1", "endpoints"),
    ("api/v1", "pods"),
    ("apis/apps/v1", "deployments"),
    ("apis/apps/v1", "statefulsets"),
    ("apis/apps/v1", "daemonsets"),
    ("apis/autoscaling/v2", "horizontalpodautoscalers"),
    ("apis/networking.k8s.io/v1", "networkpolicies"),
    ("apis/coordination.k8s.io/v1", "leases"),
    ("apis/policy/v1", "poddisruptionbudgets"),
)
# the lab's own writers, not the collection's: the orchestrator simulators' background traffic (a request every
# 0.5 s from two client addresses and the API key, lab/sims/orch/app.py) moves the breakers' statistics and the
# rate-limit counters of those clients (window keys come and go each minute)
TRAFFIC_CLIENTS = ("rate_limit:ip:198.51.100.10:", "rate_limit:ip:198.51.100.11:")
BREAKER_STATS = ("circuit_breaker:", ":stats")
LEASES_OF_THE_CLUSTER = ("kube-system",)  # leader election of the emulated control plane


def _moved_by_traffic(name: str, api_key: str) -> bool:
    if name.startswith(TRAFFIC_CLIENTS) or name.startswith(f"rate_limit:apikey:{api_key[:16]}:"):
        return True
    return name.startswith(BREAKER_STATS[0]) and name.endswith(BREAKER_STATS[1])


def _redis(port: int, password: str, api_key: str) -> dict[str, Any]:
    r = redis.Redis(host="127.0.0.1", port=port, password=password)
    keys = {}
    for key in r.scan_iter(count=1000):
        name = key.decode(errors="replace")
        if _moved_by_traffic(name, api_key):
            continue
        value = r.dump(key)
        ttl = r.pttl(key)
        keys[name] = {
            "type": r.type(key).decode(),
            "value": hashlib.sha256(value).hexdigest() if value is not None else None,
            "expires_at": time.time() + ttl / 1000 if ttl >= 0 else None,
        }
    config = {k: v for k, v in r.config_get("*").items() if k not in ("rdb-key-save-delay",)}
    return {"keys": keys, "config": config}


def _postgres(port: int, password: str) -> dict[str, Any]:
    dsn = f"host=127.0.0.1 port={port} dbname=voicehive user=voicehive password={password} sslmode=disable"
    out: dict[str, Any] = {}
    with psycopg.connect(dsn, autocommit=True, application_name="tests-service-dump") as conn:
        out["settings"] = dict(conn.execute("SELECT name, setting FROM pg_settings").fetchall())
        out["started"] = str(conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0])
        # the sessions the database role may end: queries running for more than 5 s (the lab's orchestrators
        # open and close pooled connections by themselves; ``changes`` reports only the ones that ended)
        out["long_queries"] = sorted(
            (r[0], str(r[1]))
            for r in conn.execute(
                "SELECT pid, query_start FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND state = 'active' AND now() - query_start > interval '5 seconds' AND pid <> pg_backend_pid()"
            ).fetchall()
        )
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        out["tables"] = {}
        for schema, table in tables:
            query = sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {}.{} t")
            rows = conn.execute(query.format(sql.Identifier(schema), sql.Identifier(table)))
            out["tables"][f"{schema}.{table}"] = rows.fetchone()[0]
    return out


def _kubernetes(kube: k8s_client.ApiClient) -> dict[str, Any]:
    out = {}
    conf = kube.configuration
    auth = {"Authorization": conf.api_key.get("authorization") or conf.get_api_key_with_prefix("BearerToken")}
    for group, plural in KINDS:
        answer = requests.get(f"{conf.host}/{group}/{plural}", headers=auth, verify=conf.ssl_ca_cert, timeout=10)
        answer.raise_for_status()
        data = answer.json()
        for item in data.get("items", []):
            meta = item["metadata"]
            if plural == "leases" and meta.get("namespace") in LEASES_OF_THE_CLUSTER:
                continue
            key = f"{plural}/{meta.get('namespace', '')}/{meta['name']}"
            body = {k: v for k, v in item.items() if k not in ("metadata", "status", "kind", "apiVersion")}
            out[key] = {
                "uid": meta.get("uid"),
                "generation": meta.get("generation"),
                "labels": meta.get("labels") or {},
                "annotations": meta.get("annotations") or {},
                "body": hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
            }
    return out


def _vault(token: str) -> dict[str, Any]:
    headers = {"X-Vault-Token": token}

    def get(path: str, **params) -> dict:
        answer = requests.request(params.pop("method", "GET"), f"{VAULT}/v1/{path}", headers=headers, timeout=10)
        return answer.json() if answer.status_code == 200 else {}

    versions = {}
    mounts = get("sys/mounts")
    for mount, info in (mounts.get("data") or mounts).items():
        if not isinstance(info, dict) or info.get("type") != "kv":
            continue
        pending = [""]
        while pending:
            prefix = pending.pop()
            listed = get(f"{mount}metadata/{prefix}", method="LIST").get("data", {}).get("keys", [])
            for name in listed:
                if name.endswith("/"):
                    pending.append(prefix + name)
                else:
                    meta = get(f"{mount}metadata/{prefix}{name}").get("data", {})
                    versions[f"{mount}{prefix}{name}"] = meta.get("current_version")
    auths = get("sys/auth")
    policies = get("sys/policies/acl", method="LIST")
    return {
        "kv_versions": versions,
        "auth": sorted((auths.get("data") or auths).keys()),
        "policies": sorted(policies.get("data", {}).get("keys", [])),
    }


def _route53(secrets: dict) -> dict[str, Any]:
    client = boto3.client(
        "route53",
        endpoint_url=ROUTE53,
        region_name="us-east-1",
        aws_access_key_id=secrets["aws_access_key"],
        aws_secret_access_key=secrets["aws_secret_key"],
    )
    out = {}
    for zone in client.list_hosted_zones()["HostedZones"]:
        records = client.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
        out[zone["Name"]] = sorted(json.dumps(r, sort_keys=True, default=str) for r in records)
    return out


def dump(secrets: dict, kube: k8s_client.ApiClient) -> dict[str, Any]:
    return {
        "taken_at": time.time(),
        "redis": {
            site: _redis(port, secrets["redis_password"], secrets["api_key"]) for site, port in REDIS_PORTS.items()
        },
        "postgres": {site: _postgres(port, secrets["postgres_password"]) for site, port in POSTGRES_PORTS.items()},
        "kubernetes": _kubernetes(kube),
        "vault": _vault(secrets["vault_root_token"]),
        "route53": _route53(secrets),
    }


def changes(before: dict, after: dict) -> list[str]:
    """Every difference between two dumps: exact, except for what time does by itself between them: a Redis key
    whose expiry came went, and a long query may have started (one of ``before``'s that ended is a difference)."""
    out = []
    for site, was in before["postgres"].items():
        now = {tuple(q) for q in after["postgres"][site]["long_queries"]}
        out += [
            f"postgres.{site}: the query of pid {pid} ended"
            for pid, start in was["long_queries"]
            if (pid, start) not in now
        ]
    for site, was in before["redis"].items():
        now = after["redis"][site]["keys"]
        for name, key in was["keys"].items():
            if name not in now:
                if key["expires_at"] is None or key["expires_at"] > after["taken_at"]:
                    out.append(f"redis.{site}.keys.{name}: removed")
                continue
            if (key["type"], key["value"]) != (now[name]["type"], now[name]["value"]):
                out.append(f"redis.{site}.keys.{name}: {key['type']} value changed")
            ends = (key["expires_at"], now[name]["expires_at"])
            if (None in ends and ends != (None, None)) or (None not in ends and abs(ends[0] - ends[1]) > 2):
                out.append(f"redis.{site}.keys.{name}: expiry {ends[0]} -> {ends[1]}")
        out += [f"redis.{site}.keys.{name}: added" for name in sorted(set(now) - set(was["keys"]))]

    def exact(d: dict) -> dict:
        return {
            "redis": {site: {"config": r["config"]} for site, r in d["redis"].items()},
            "postgres": {
                site: {k: v for k, v in p.items() if k != "long_queries"} for site, p in d["postgres"].items()
            },
            **{k: d[k] for k in ("kubernetes", "vault", "route53")},
        }

    return out + differences(exact(before), exact(after))


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Where two dumps differ, as 'path: before -> after' lines."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in after:
                out.append(f"{where}: removed")
            elif key not in before:
                out.append(f"{where}: added")
            else:
                out.extend(differences(before[key], after[key], where))
        return out
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"[:400]]
