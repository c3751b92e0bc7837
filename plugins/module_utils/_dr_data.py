# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""Backups for disaster recovery and their restore (modules dr_backup and dr_restore).

A backup is a directory ``<backup_dir>/<label>-<UTC stamp>/`` with
- ``postgres/<table>.copy``: each table of the schema in PostgreSQL's COPY text format, lines sorted (so the
  checksum does not depend on the physical row order), and the sequences' values in the manifest;
- ``redis.jsonl``: one line per key, ``{"k": key, "t": PTTL ms or -1, "v": DUMP payload}`` (base64), keys
  found with a bounded SCAN, never KEYS;
- ``manifest.json``: time, source, per table rows/bytes/sha256, the tables in foreign-key order, sequences,
  Redis key count/bytes/sha256, total bytes.
A restore compares first (table checksums, Redis DUMP payloads) and writes only what differs: TRUNCATE + COPY of
the tables in one transaction and setval of the sequences, RESTORE ... REPLACE of the keys that differ. It then
counts again and verifies against the manifest.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import time
import typing as t

MANIFEST = "manifest.json"
REDIS_FILE = "redis.jsonl"
FORMAT = 1

TABLES_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname
"""

FK_SQL = """
SELECT c.relname, r.relname FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'f' AND n.nspname = %s AND c.oid <> r.oid
"""

COLUMNS_SQL = """
SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum
"""


class DrDataError(Exception):
    """Something a backup or restore cannot work with; the message is a sentence for the operator."""


def utc_stamp(now: float) -> str:
    return datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")  # noqa: UP017 (3.9)


def utc_iso(now: float) -> str:
    return datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: UP017 (3.9)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dependency_order(tables: t.Sequence[str], references: t.Iterable[tuple[str, str]]) -> list[str]:
    """Tables ordered so that a table comes after the tables it references (foreign keys). Cycles keep name order."""
    wanted = set(tables)
    needs: dict[str, set[str]] = {name: set() for name in tables}
    for child, parent in references:
        if child in wanted and parent in wanted:
            needs[child].add(parent)
    ordered: list[str] = []
    remaining = sorted(tables)
    while remaining:
        ready = [n for n in remaining if needs[n] <= set(ordered)]
        if not ready:  # a cycle: take the rest in name order
            ready = remaining
        ordered.extend(ready)
        remaining = [n for n in remaining if n not in ready]
    return ordered


def sorted_copy(raw: bytes) -> bytes:
    """COPY text output with its lines sorted (one row per line: COPY escapes newlines inside values)."""
    lines = [line for line in raw.split(b"\n") if line]
    lines.sort()
    return b"".join(line + b"\n" for line in lines)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"


def option_specs() -> dict[str, t.Any]:
    """The connection options dr_backup and dr_restore share (see their DOCUMENTATION)."""
    return dict(
        postgres=dict(
            type="dict",
            options=dict(
                login_host=dict(type="str", required=True),
                port=dict(type="int", default=5432),
                login_db=dict(type="str", required=True),
                login_user=dict(type="str", required=True),
                login_password=dict(type="str", no_log=True),
                ssl_mode=dict(
                    type="str",
                    default="prefer",
                    choices=["allow", "disable", "prefer", "require", "verify-ca", "verify-full"],
                ),
                ca_cert=dict(type="path"),
                schema=dict(type="str", default="public"),
            ),
        ),
        redis=dict(
            type="dict",
            options=dict(
                url=dict(type="str", required=True, no_log=True),
                validate_certs=dict(type="bool", default=True),
                ca_certs=dict(type="path"),
            ),
        ),
        timeout=dict(type="float", default=10.0),
    )


def pg_connect(psycopg: t.Any, params: dict[str, t.Any], timeout: float) -> t.Any:
    from ansible_collections.voicehive.remediation.plugins.module_utils._site_read import postgres_connect_kwargs

    kwargs = postgres_connect_kwargs(params, timeout)
    kwargs["application_name"] = "voicehive-dr"
    return psycopg.connect(autocommit=True, **kwargs)


def redis_connect(redis_utils: t.Any, params: dict[str, t.Any], timeout: float) -> t.Any:
    kwargs = redis_utils.redis_client_kwargs(dict(params, connect_timeout=timeout, socket_timeout=max(timeout, 10.0)))
    kwargs["decode_responses"] = False
    return redis_utils.redis.Redis(**kwargs)


# ----------------------------------------------------------------------------- PostgreSQL
def pg_tables(cur: t.Any, schema: str, only: t.Sequence[str]) -> list[str]:
    cur.execute(TABLES_SQL, (schema,))
    present = [row[0] for row in cur.fetchall()]
    if only:
        missing = sorted(set(only) - set(present))
        if missing:
            raise DrDataError(f"table(s) {', '.join(missing)} do not exist in schema {schema}")
        present = [name for name in present if name in only]
    cur.execute(FK_SQL, (schema,))
    return dependency_order(present, cur.fetchall())


def pg_columns(cur: t.Any, schema: str, table: str) -> list[str]:
    cur.execute(COLUMNS_SQL, (schema, table))
    return [row[0] for row in cur.fetchall()]


def pg_copy_out(cur: t.Any, schema: str, table: str, columns: t.Sequence[str]) -> bytes:
    cols = ", ".join(quote_ident(c) for c in columns)
    out = bytearray()
    # identifiers only, each quoted by quote_ident
    with cur.copy(f"COPY (SELECT {cols} FROM {qualified(schema, table)}) TO STDOUT") as copy:  # noqa: S608
        for chunk in copy:
            out.extend(chunk)
    return sorted_copy(bytes(out))


def pg_sequences(cur: t.Any, schema: str) -> dict[str, int]:
    cur.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = %s ORDER BY 1", (schema,))
    return {name: value for name, value in cur.fetchall() if value is not None}


def pg_snapshot(conn: t.Any, schema: str, only: t.Sequence[str]) -> dict[str, t.Any]:
    """Every table's data (sorted COPY text), row count and checksum, in one REPEATABLE READ snapshot."""
    with conn.cursor() as cur:
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            order = pg_tables(cur, schema, only)
            tables = {}
            for name in order:
                columns = pg_columns(cur, schema, name)
                data = pg_copy_out(cur, schema, name, columns)
                tables[name] = dict(
                    columns=columns, data=data, rows=data.count(b"\n"), bytes=len(data), sha256=sha256(data)
                )
            sequences = pg_sequences(cur, schema)
        finally:
            cur.execute("ROLLBACK")
    return dict(order=order, tables=tables, sequences=sequences)


def pg_restore(conn: t.Any, schema: str, manifest: dict[str, t.Any], files: dict[str, bytes]) -> None:
    """TRUNCATE the manifest's tables and COPY the backup in, setval the sequences: one transaction."""
    order = manifest["order"]
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        try:
            cur.execute("TRUNCATE " + ", ".join(qualified(schema, name) for name in order))
            for name in order:
                columns = manifest["tables"][name]["columns"]
                cols = ", ".join(quote_ident(c) for c in columns)
                with cur.copy(f"COPY {qualified(schema, name)} ({cols}) FROM STDIN") as copy:
                    copy.write(files[name])
            for seq, value in manifest.get("sequences", {}).items():
                cur.execute("SELECT setval(%s::regclass, %s, true)", (qualified(schema, seq), value))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise


def pg_compare(manifest_pg: dict[str, t.Any], current: dict[str, t.Any]) -> dict[str, t.Any]:
    """Per table of the backup: expected vs current rows and whether the data is identical; sequences behind."""
    tables = []
    for name in manifest_pg["order"]:
        want = manifest_pg["tables"][name]
        have = current["tables"].get(name)
        tables.append(
            dict(
                name=name,
                expected_rows=want["rows"],
                rows=None if have is None else have["rows"],
                identical=have is not None and have["sha256"] == want["sha256"] and have["columns"] == want["columns"],
                exists=have is not None,
            )
        )
    behind = sorted(
        name
        for name, value in manifest_pg.get("sequences", {}).items()
        if current["sequences"].get(name) is None or current["sequences"][name] < value
    )
    return dict(tables=tables, sequences_behind=behind, identical=all(x["identical"] for x in tables) and not behind)


# ----------------------------------------------------------------------------- Redis
def redis_scan(client: t.Any, count: int, max_keys: int) -> list[bytes]:
    """Every key by SCAN (never KEYS); more than ``max_keys`` is an error (a backup must be whole)."""
    keys: list[bytes] = []
    cursor = 0
    while True:
        cursor, batch = client.scan(cursor=cursor, count=count)
        keys.extend(batch)
        if len(keys) > max_keys:
            raise DrDataError(f"Redis holds more than max_keys={max_keys} keys; raise it to back them all up")
        if int(cursor) == 0:
            break
    return sorted(set(keys))


def redis_dump(client: t.Any, keys: t.Sequence[bytes], batch: int = 500) -> list[dict[str, t.Any]]:
    """DUMP and PTTL of each key, pipelined; keys gone meanwhile are left out."""
    entries = []
    for start in range(0, len(keys), batch):
        part = keys[start : start + batch]
        pipe = client.pipeline(transaction=False)
        for key in part:
            pipe.dump(key)
            pipe.pttl(key)
        answers = pipe.execute()
        for i, key in enumerate(part):
            payload, ttl = answers[2 * i], answers[2 * i + 1]
            if payload is None:
                continue
            entries.append(dict(key=key, ttl=int(ttl) if ttl is not None else -1, payload=payload))
    return entries


def redis_lines(entries: t.Sequence[dict[str, t.Any]]) -> bytes:
    out = []
    for e in entries:
        line = dict(k=base64.b64encode(e["key"]).decode(), t=e["ttl"], v=base64.b64encode(e["payload"]).decode())
        out.append(json.dumps(line, sort_keys=True))
    return ("\n".join(out) + "\n").encode() if out else b""


def redis_parse(data: bytes) -> list[dict[str, t.Any]]:
    entries = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            entries.append(
                dict(key=base64.b64decode(item["k"]), ttl=int(item["t"]), payload=base64.b64decode(item["v"]))
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise DrDataError(f"line {number} of the Redis backup is not a key entry ({exc})") from None
    return entries


def remaining_ttl(ttl_ms: int, age_s: float) -> int | None:
    """The TTL to restore a key with (0 = none), or None when the key would have expired by now."""
    if ttl_ms is None or ttl_ms < 0:
        return 0
    left = int(ttl_ms - age_s * 1000)
    return left if left > 0 else None


def redis_compare(client: t.Any, entries: t.Sequence[dict[str, t.Any]], age_s: float) -> dict[str, t.Any]:
    """Which backed-up keys (not expired by now) are missing or differ on the target (DUMP payloads compared)."""
    live = [e for e in entries if remaining_ttl(e["ttl"], age_s) is not None]
    current = redis_dump(client, [e["key"] for e in live])
    have = {c["key"]: c["payload"] for c in current}
    differ = [e for e in live if have.get(e["key"]) != e["payload"]]
    return dict(
        expected=len(live),
        expired=len(entries) - len(live),
        present=sum(1 for e in live if e["key"] in have),
        differ=differ,
        identical=not differ,
    )


def redis_restore(client: t.Any, entries: t.Sequence[dict[str, t.Any]], age_s: float, batch: int = 200) -> int:
    """RESTORE ... REPLACE each entry with its remaining TTL; returns how many were written."""
    written = 0
    for start in range(0, len(entries), batch):
        pipe = client.pipeline(transaction=False)
        count = 0
        for e in entries[start : start + batch]:
            ttl = remaining_ttl(e["ttl"], age_s)
            if ttl is None:
                continue
            pipe.restore(e["key"], ttl, e["payload"], replace=True)
            count += 1
        pipe.execute()
        written += count
    return written


# ----------------------------------------------------------------------------- backups on disk
def write_file(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def latest_path(backup_dir: str, label: str) -> str:
    """The index of the newest backup of ``label`` (its manifest and ``manifest_path``)."""
    return os.path.join(backup_dir, f"latest-{label}.json")


def newest_manifest(backup_dir: str, label: str | None = None) -> str | None:
    """Path of the newest manifest under ``backup_dir`` (by its ``created_epoch``), optionally of one label."""
    best: tuple[float, str] | None = None
    if not os.path.isdir(backup_dir):
        return None
    for entry in os.listdir(backup_dir):
        path = os.path.join(backup_dir, entry, MANIFEST)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                doc = json.load(handle)
        except (OSError, ValueError):
            continue
        if label and doc.get("label") != label:
            continue
        key = (float(doc.get("created_epoch", 0)), path)
        if best is None or key > best:
            best = key
    return best[1] if best else None


def load_manifest(path: str) -> dict[str, t.Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError) as exc:
        raise DrDataError(f"cannot read the backup manifest {path}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DrDataError(f"{path} is not a backup manifest of format {FORMAT}")
    return doc


def read_backup_file(directory: str, name: str, expect_sha: str) -> bytes:
    path = os.path.join(directory, name)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise DrDataError(f"cannot read backup file {path}: {exc}") from None
    if sha256(data) != expect_sha:
        raise DrDataError(f"backup file {path} does not match its checksum in the manifest (damaged or changed)")
    return data


def manifest_summary(doc: dict[str, t.Any], now: float | None = None) -> dict[str, t.Any]:
    """What a report needs of a manifest: time, age, sizes, counts (no data)."""
    now = time.time() if now is None else now
    pg = doc.get("postgres") or {}
    rd = doc.get("redis") or {}
    return dict(
        label=doc.get("label"),
        created_at=doc.get("created_at"),
        age_seconds=round(now - float(doc.get("created_epoch", now)), 1),
        total_bytes=doc.get("total_bytes"),
        tables={name: pg["tables"][name]["rows"] for name in pg.get("order", [])},
        redis_keys=rd.get("keys"),
    )
