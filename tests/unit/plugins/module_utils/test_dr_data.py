# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure helpers of the DR backups (module_utils/_dr_data.py)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils import _dr_data as dr


@pytest.mark.parametrize(
    ("tables", "refs", "expected"),
    [
        (["users", "hotels", "calls", "sessions"],
         [("users", "hotels"), ("calls", "hotels"), ("sessions", "users")],
         ["hotels", "calls", "users", "sessions"]),
        (["b", "a"], [], ["a", "b"]),
        (["a", "b"], [("a", "b"), ("b", "a")], ["a", "b"]),  # a cycle keeps name order
        (["a"], [("a", "elsewhere")], ["a"]),  # references outside the set are ignored
    ],
)  # fmt: skip
def test_dependency_order(tables, refs, expected):
    assert dr.dependency_order(tables, refs) == expected


def test_sorted_copy_sorts_rows_and_ends_every_line():
    assert dr.sorted_copy(b"2\tb\n1\ta\n") == b"1\ta\n2\tb\n"
    assert dr.sorted_copy(b"") == b""


def test_quote_ident_doubles_quotes():
    assert dr.qualified("public", 'we"ird') == '"public"."we""ird"'


@pytest.mark.parametrize(
    ("ttl", "age", "expected"), [(-1, 10, 0), (None, 1, 0), (60000, 10, 50000), (5000, 10, None), (10000, 10, None)]
)
def test_remaining_ttl(ttl, age, expected):
    assert dr.remaining_ttl(ttl, age) == expected


def test_redis_lines_round_trip():
    entries = [dict(key=b"session:\xff1", ttl=-1, payload=b"\x00\x01dump"), dict(key=b"k", ttl=500, payload=b"x")]
    assert dr.redis_parse(dr.redis_lines(entries)) == entries
    assert dr.redis_lines([]) == b""


def test_redis_parse_refuses_a_damaged_line():
    with pytest.raises(dr.DrDataError, match="line 2"):
        dr.redis_parse(b'{"k": "aw==", "t": -1, "v": "eA=="}\nnot json\n')


class FakeRedis:
    """Just enough of redis-py for SCAN, DUMP/PTTL/RESTORE pipelines and DBSIZE (payloads are the values)."""

    def __init__(self, data=None, page=2):
        self.data = dict(data or {})
        self.page = page
        self.restored = []

    def scan(self, cursor=0, count=10):
        keys = sorted(self.data)
        batch = keys[cursor : cursor + self.page]
        nxt = cursor + self.page
        return (0 if nxt >= len(keys) else nxt), batch

    def pipeline(self, transaction=False):
        return FakePipe(self)

    def dbsize(self):
        return len(self.data)


class FakePipe:
    def __init__(self, server):
        self.server, self.ops = server, []

    def dump(self, key):
        self.ops.append(lambda: self.server.data.get(key, (None, None))[0])

    def pttl(self, key):
        self.ops.append(lambda: self.server.data.get(key, (None, -2))[1])

    def restore(self, key, ttl, payload, replace=False):
        def op():
            self.server.data[key] = (payload, ttl or -1)
            self.server.restored.append((key, ttl))

        self.ops.append(op)

    def execute(self):
        return [op() for op in self.ops]


def test_redis_scan_and_dump_every_key():
    server = FakeRedis({b"a": (b"1", -1), b"b": (b"2", 1000), b"c": (b"3", -1)})
    keys = dr.redis_scan(server, 2, 10)
    assert keys == [b"a", b"b", b"c"]
    entries = dr.redis_dump(server, keys)
    assert [(e["key"], e["ttl"]) for e in entries] == [(b"a", -1), (b"b", 1000), (b"c", -1)]


def test_redis_scan_refuses_more_than_max_keys():
    server = FakeRedis({bytes([65 + i]): (b"x", -1) for i in range(5)})
    with pytest.raises(dr.DrDataError, match="max_keys=3"):
        dr.redis_scan(server, 2, 3)


def test_redis_compare_and_restore_only_what_differs():
    backup = [
        dict(key=b"same", ttl=-1, payload=b"v1"),
        dict(key=b"changed", ttl=-1, payload=b"v2"),
        dict(key=b"missing", ttl=60000, payload=b"v3"),
        dict(key=b"expired", ttl=1000, payload=b"v4"),
    ]
    target = FakeRedis({b"same": (b"v1", -1), b"changed": (b"old", -1), b"extra": (b"x", -1)})
    before = dr.redis_compare(target, backup, age_s=10)
    assert before["expected"] == 3 and before["expired"] == 1 and before["present"] == 2
    assert [e["key"] for e in before["differ"]] == [b"changed", b"missing"]
    assert dr.redis_restore(target, before["differ"], age_s=10) == 2
    assert (b"missing", 50000) in target.restored
    after = dr.redis_compare(target, backup, age_s=10)
    assert after["identical"] and after["present"] == 3
    assert b"extra" in target.data  # nothing is flushed


def test_pg_compare_says_what_differs():
    manifest = {
        "order": ["hotels", "calls"],
        "tables": {
            "hotels": {"rows": 2, "sha256": "a", "columns": ["id"]},
            "calls": {"rows": 5, "sha256": "b", "columns": ["id"]},
        },
        "sequences": {"calls_id_seq": 5, "users_id_seq": 3},
    }
    current = {
        "tables": {"hotels": {"rows": 2, "sha256": "a", "columns": ["id"]}},
        "sequences": {"calls_id_seq": 4, "users_id_seq": 9},
    }
    out = dr.pg_compare(manifest, current)
    assert out["tables"][0]["identical"] and not out["tables"][1]["exists"]
    assert out["sequences_behind"] == ["calls_id_seq"]
    assert not out["identical"]
    current["tables"]["calls"] = {"rows": 5, "sha256": "b", "columns": ["id"]}
    current["sequences"]["calls_id_seq"] = 5
    assert dr.pg_compare(manifest, current)["identical"]


def test_manifests_on_disk(tmp_path):
    assert dr.newest_manifest(str(tmp_path / "none")) is None
    for label, epoch in (("lab", 10), ("lab", 20), ("other", 30)):
        d = tmp_path / f"{label}-{epoch}"
        d.mkdir()
        (d / dr.MANIFEST).write_text(json.dumps({"format": 1, "label": label, "created_epoch": epoch}))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / dr.MANIFEST).write_text("{")
    assert dr.newest_manifest(str(tmp_path), "lab").endswith("lab-20/manifest.json")
    assert dr.newest_manifest(str(tmp_path)).endswith("other-30/manifest.json")
    assert dr.load_manifest(str(tmp_path / "lab-20" / dr.MANIFEST))["created_epoch"] == 20
    with pytest.raises(dr.DrDataError, match="cannot read"):
        dr.load_manifest(str(tmp_path / "broken" / dr.MANIFEST))
    (tmp_path / "old.json").write_text('{"format": 0}')
    with pytest.raises(dr.DrDataError, match="format 1"):
        dr.load_manifest(str(tmp_path / "old.json"))
    assert dr.latest_path("/b", "lab") == "/b/latest-lab.json"


def test_read_backup_file_checks_the_checksum(tmp_path):
    (tmp_path / "f").write_bytes(b"data")
    assert dr.read_backup_file(str(tmp_path), "f", dr.sha256(b"data")) == b"data"
    with pytest.raises(dr.DrDataError, match="checksum"):
        dr.read_backup_file(str(tmp_path), "f", dr.sha256(b"other"))
    with pytest.raises(dr.DrDataError, match="cannot read"):
        dr.read_backup_file(str(tmp_path), "missing", "x")


def test_manifest_summary():
    doc = {
        "label": "lab",
        "created_at": "t",
        "created_epoch": 100,
        "total_bytes": 9,
        "postgres": {"order": ["hotels"], "tables": {"hotels": {"rows": 2}}},
        "redis": {"keys": 3},
    }
    assert dr.manifest_summary(doc, now=160) == dict(
        label="lab", created_at="t", age_seconds=60.0, total_bytes=9, tables={"hotels": 2}, redis_keys=3
    )
