# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re
import socket
from unittest import mock

import pytest
import redis
import yaml

from ansible_collections.voicehive.remediation.plugins.modules import redis_keys

MODULE = "ansible_collections.voicehive.remediation.plugins.modules.redis_keys"
SESSIONS = ("session:*", "refresh_token:*")
FINGERPRINT = re.compile(r"^(session:|refresh_token:)#[0-9a-f]{10}$")


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(redis_keys.DOCUMENTATION)["options"]
    spec = redis_keys.argument_spec()
    assert sorted(doc) == sorted(spec)
    for name, option in spec.items():
        assert doc[name]["type"] == option["type"], name
        assert doc[name].get("default") == option.get("default"), name
        assert doc[name].get("choices") == option.get("choices"), name
        assert doc[name].get("required", False) == option.get("required", False), name
        assert doc[name].get("elements") == option.get("elements"), name
    for section in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(redis_keys, section))


# ==========================================================================================
# Pattern safety and bad input: refused before any command
# ==========================================================================================


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        ("session:*", "session:"),
        ("refresh_token:*", "refresh_token:"),
        ("exact:key", "exact:key"),
        ("abc?", "abc"),
        ("ab[c]*", "ab"),
        ("s*", "s"),
        ("*", ""),
        ("ab\\*c*", "ab*c"),
        ("\\**", "*"),
        ("tr\\", "tr\\"),
    ],
)
def test_literal_prefix(pattern, prefix):
    assert redis_keys.literal_prefix(pattern) == prefix


@pytest.fixture(scope="module")
def specced():
    """Autospecs of redis.Redis are slow to build: once per module, reset for every test."""
    return mock.create_autospec(redis.Redis, instance=True)


@pytest.fixture
def unused_client(specced):
    """A client that must not be used: bad input is refused before any command."""
    specced.reset_mock()
    with mock.patch(f"{MODULE}.connect", autospec=True, return_value=specced):
        yield specced


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (dict(patterns=["*"]), "pattern '*' is too broad: it needs at least 3 literal characters"),
        (dict(patterns=["*session*"]), "pattern '*session*' is too broad"),
        (dict(patterns=["s*"]), "pattern 's*' is too broad"),
        (dict(patterns=["se?sion:*"]), "pattern 'se?sion:*' is too broad"),
        (dict(patterns=["[s]ession:*"]), "pattern '[s]ession:*' is too broad"),
        (dict(patterns=["\\**"]), "pattern '\\\\**' is too broad"),
        (dict(patterns=["session:*", "*"]), "pattern '*' is too broad"),
        (dict(patterns=[]), "patterns must list at least one pattern"),
        (dict(patterns=["session:*"], max_keys=0), "max_keys must be at least 1, got 0"),
        (dict(patterns=["session:*"], batch_size=0), "batch_size must be at least 1"),
        (dict(patterns=["session:*"], scan_count=-5), "scan_count must be at least 1"),
        (dict(patterns=["session:*"], types=[]), "types must not be an empty list"),
        (dict(patterns=["session:*"], types=["json"]), "value of types must be one or more of"),
        (dict(patterns=["session:*"], state="present"), "value of state must be one of: absent"),
        (dict(), "missing required arguments: patterns"),
    ],
)
def test_bad_input_is_refused_before_any_command(run_module, unused_client, args, fragment):
    result = run_module(redis_keys.main, dict(host="127.0.0.1", port=16379, **args))
    assert result["failed"] is True
    assert fragment in result["msg"]
    if "too broad" in fragment:
        assert result["msg"].startswith("Cannot delete keys from Redis at 127.0.0.1:16379: pattern")
        assert result["msg"].endswith("nothing was deleted")
    assert unused_client.method_calls == []


class FakeScan:
    """SCAN over fixed pages ``{cursor: (next, keys)}``; any other command fails the test."""

    def __init__(self, pages):
        self.pages = pages

    def scan(self, cursor=0, match=None, count=None):
        return self.pages[cursor]


def test_scan_pattern_keeps_names_up_to_the_bound_then_only_counts():
    pages = {0: (4, ["a", "b"]), 4: (9, ["b", "c"]), 9: (0, ["d", "e"])}
    assert redis_keys.scan_pattern(FakeScan(pages), "x*", 10, keep=5) == ({"a", "b", "c", "d", "e"}, 5)
    # beyond keep=2 the names are dropped, and the rest is counted as SCAN returns it
    assert redis_keys.scan_pattern(FakeScan(pages), "x*", 10, keep=2) == (None, 5)


# ==========================================================================================
# The real commands, against the private redis-server
# ==========================================================================================


def seed(db, sessions=30, tokens=30):
    pipe = db.pipeline(transaction=False)
    for i in range(sessions):
        pipe.hset(f"session:{i:032x}", mapping={"user_id": str(i), "created": "1700000000"})
        pipe.expire(f"session:{i:032x}", 3600)
    for i in range(tokens):
        pipe.set(f"refresh_token:jti-{i:08d}", f"{i:032x}", ex=86400)
    pipe.set("blacklist:jti-revoked", "1", ex=3600)
    pipe.set("circuit_breaker:pms_connector:state", "open", ex=3600)
    pipe.hset("circuit_breaker:pms_connector:stats", mapping={"failure_count": "5"})
    pipe.set("rate_limit:ip:10.0.0.5:/api:minute:1700000040", 3, ex=120)
    pipe.set("rate_limit:whitelist:10.9.9.9", "true", ex=600)
    pipe.set("sessions_total", 60)  # looks alike, does not match session:*
    pipe.execute()


def others(db):
    """Every key that is neither a session nor a refresh token, with its type, value and whether it expires."""
    out = {}
    for key in db.scan_iter(count=500):
        if key.startswith(("session:", "refresh_token:")):
            continue
        kind = db.type(key)
        value = db.get(key) if kind == "string" else db.hgetall(key) if kind == "hash" else db.lrange(key, 0, -1)
        out[key] = (kind, value, db.ttl(key) > 0)
    return out


def count(db, pattern):
    return sum(1 for _key in db.scan_iter(match=pattern, count=500))


def command_calls(db):
    """``{command: calls}`` from the server's own statistics (pipelined commands included)."""
    return {name[len("cmdstat_") :]: stats["calls"] for name, stats in db.info("commandstats").items()}


class TestAgainstRealRedis:
    @pytest.fixture(autouse=True)
    def _server(self, redis_server, redis_db, run_module):
        self.db = redis_db
        self.server = redis_server
        self.conn = dict(host=redis_server["host"], port=redis_server["port"], password=redis_server["password"])
        self._run = run_module

    def run(self, check_mode=False, diff=False, **args):
        args = dict(self.conn, **args)
        return self._run(redis_keys.main, args, check_mode=check_mode, diff=diff)

    def test_deletes_sessions_and_refresh_tokens_only(self):
        seed(self.db)
        kept = others(self.db)
        self.db.config_resetstat()
        result = self.run(diff=True, patterns=list(SESSIONS), batch_size=7, scan_count=10)
        calls = command_calls(self.db)

        assert result["failed"] is False
        assert result["changed"] is True
        assert result["matched"] == {"session:*": 30, "refresh_token:*": 30}
        assert result["to_delete"] == 60 and result["deleted"] == 60
        assert result["remaining"] == {"session:*": 0, "refresh_token:*": 0}
        assert result["command"] == "UNLINK"
        assert result["msg"] == "Deleted 60 keys matching session:*, refresh_token:*"
        assert result["diff"] == {
            "before": {"session:*": 30, "refresh_token:*": 30},
            "after": {"session:*": 0, "refresh_token:*": 0},
        }
        assert "matched_types" not in result
        # fingerprints only: no session or token id anywhere in the result
        for pattern in SESSIONS:
            assert len(result["sample"][pattern]) == 5
            assert all(FINGERPRINT.match(fp) for fp in result["sample"][pattern])
        assert "0000000000000000" not in str(result) and "jti-" not in str(result)

        assert count(self.db, "session:*") == 0 and count(self.db, "refresh_token:*") == 0
        assert others(self.db) == kept  # breakers, rate limits, allow-list, blacklist untouched
        assert "keys" not in calls and "flushdb" not in calls and "flushall" not in calls
        assert calls["unlink"] == 60 and "del" not in calls
        assert calls["scan"] >= 4  # SCAN MATCH for each pattern, before and after

    def test_second_run_changes_nothing(self):
        seed(self.db)
        first = self.run(patterns=list(SESSIONS))
        second = self.run(patterns=list(SESSIONS), diff=True)
        assert first["changed"] is True
        assert second["changed"] is False
        assert second["deleted"] == 0 and second["to_delete"] == 0
        assert second["command"] is None
        assert second["msg"] == "No key matches session:*, refresh_token:*"
        assert second["diff"] == {"before": {"session:*": 0, "refresh_token:*": 0}, "after": second["remaining"]}

    def test_check_mode_deletes_nothing(self):
        seed(self.db)
        self.db.config_resetstat()
        result = self.run(check_mode=True, diff=True, patterns=list(SESSIONS))
        calls = command_calls(self.db)
        assert result["changed"] is True
        assert result["to_delete"] == 60 and result["deleted"] == 0
        assert result["remaining"] == {"session:*": 0, "refresh_token:*": 0}  # what would remain
        assert result["command"] is None
        assert result["msg"] == "Would delete 60 keys matching session:*, refresh_token:*"
        assert count(self.db, "session:*") == 30 and count(self.db, "refresh_token:*") == 30
        assert "unlink" not in calls and "del" not in calls

    def test_types_deletes_only_malformed_sessions(self):
        seed(self.db, sessions=10, tokens=3)
        self.db.set("session:broken-string", "not a hash")
        self.db.rpush("session:broken-list", "x")
        self.db.sadd("session:a-set", "x")  # not listed in types: kept

        dry = self.run(check_mode=True, patterns=["session:*"], types=["string", "list"])
        assert dry["matched_types"] == {"session:*": {"hash": 10, "list": 1, "set": 1, "string": 1}}
        assert dry["to_delete"] == 2 and dry["remaining"] == {"session:*": 11}
        assert dry["changed"] is True
        assert count(self.db, "session:*") == 13

        result = self.run(patterns=["session:*"], types=["string", "list"], batch_size=1)
        assert result["changed"] is True
        assert result["deleted"] == 2
        assert result["remaining"] == {"session:*": 11}
        assert sorted(result["sample"]["session:*"]) == sorted(
            [redis_keys.key_fingerprint(k, "session:") for k in ("session:broken-list", "session:broken-string")]
        )
        assert self.db.exists("session:broken-string", "session:broken-list") == 0
        assert self.db.type("session:a-set") == "set"
        assert count(self.db, "session:*") == 11

        again = self.run(patterns=["session:*"], types=["string", "list"])
        assert again["changed"] is False
        assert again["msg"] == "No key of type list, string matches session:*"

    def test_key_gone_between_scan_and_type_is_not_counted(self):
        self.db.set("session:broken", "x")
        client = redis.Redis(**self.conn, decode_responses=True)
        real_scan = client.scan

        def scan(cursor=0, match=None, count=None):
            cursor, keys = real_scan(cursor=cursor, match=match, count=count)
            return cursor, [*keys, "session:expired-meanwhile"]

        with mock.patch.object(client, "scan", side_effect=scan), mock.patch(f"{MODULE}.connect", return_value=client):
            result = self.run(patterns=["session:*"], types=["string"])
        client.close()
        assert result["matched"] == {"session:*": 2}  # what SCAN saw
        assert result["matched_types"] == {"session:*": {"string": 1}}
        assert result["deleted"] == 1

    def test_too_many_keys_fails_before_deleting_anything(self):
        seed(self.db)
        self.db.config_resetstat()
        result = self.run(patterns=["session:*"], max_keys=5, scan_count=7)
        assert result["failed"] is True
        assert result["changed"] is False
        assert result["msg"] == (
            f"Cannot delete keys from Redis at 127.0.0.1:{self.server['port']}: 30 keys match (session:*: 30), "
            "more than max_keys=5; nothing was deleted. Check the patterns, or set max_keys to at least 30 "
            "to delete them all"
        )
        assert result["matched"] == {"session:*": 30}
        assert count(self.db, "session:*") == 30
        assert "unlink" not in command_calls(self.db)

    def test_cap_counts_the_union_of_the_patterns(self):
        seed(self.db)
        result = self.run(patterns=list(SESSIONS), max_keys=59)
        assert result["failed"] is True
        assert "60 keys match (session:*: 30, refresh_token:*: 30), more than max_keys=59" in result["msg"]
        assert count(self.db, "session:*") == 30
        assert self.run(patterns=list(SESSIONS), max_keys=60)["deleted"] == 60

    def test_overlapping_patterns_delete_each_key_once(self):
        seed(self.db, sessions=0, tokens=0)
        for name in ("session:aa1", "session:aa2", "session:b"):
            self.db.set(name, "x")
        result = self.run(patterns=["session:*", "session:aa*", "session:*"])
        assert result["matched"] == {"session:*": 3, "session:aa*": 2}
        assert result["to_delete"] == 3 and result["deleted"] == 3

    def test_batches_are_pipelined(self):
        seed(self.db)
        client = redis.Redis(**self.conn, decode_responses=True)
        with (
            mock.patch.object(client, "pipeline", wraps=client.pipeline) as pipelines,
            mock.patch(f"{MODULE}.connect", return_value=client),
        ):
            result = self.run(patterns=list(SESSIONS), batch_size=25)
        assert result["deleted"] == 60
        assert pipelines.call_count == 3  # 25 + 25 + 10 keys, one round trip each
        assert all(call.kwargs == {"transaction": False} for call in pipelines.call_args_list)
        client.close()

    def acl_user(self, name, *rules):
        password = f"{name}-pw"
        self.db.execute_command("ACL", "SETUSER", name, "reset", "on", f">{password}", "~*", "&*", "+@all", *rules)
        return dict(host=self.conn["host"], port=self.conn["port"], username=name, password=password)

    def test_unlink_refused_falls_back_to_del(self):
        seed(self.db)
        conn = self.acl_user("no-unlink", "-unlink")
        try:
            self.db.config_resetstat()
            result = self._run(redis_keys.main, dict(conn, patterns=list(SESSIONS), batch_size=20))
        finally:
            self.db.acl_deluser("no-unlink")
        calls = command_calls(self.db)
        assert result["changed"] is True
        assert result["deleted"] == 60
        assert result["command"] == "DEL"
        assert calls["del"] == 60
        assert calls.get("unlink", 0) == 0  # refused by the ACL, before it ran
        assert count(self.db, "session:*") == 0

    def test_unlink_and_del_refused_fails_cleanly(self):
        seed(self.db)
        conn = self.acl_user("no-delete", "-unlink", "-del")
        try:
            result = self._run(redis_keys.main, dict(conn, patterns=list(SESSIONS)))
        finally:
            self.db.acl_deluser("no-delete")
        assert result["failed"] is True
        assert result["changed"] is False
        assert result["msg"].startswith(f"Cannot delete keys from Redis at 127.0.0.1:{self.conn['port']}: ")
        assert "no permissions to run the 'del' command" in result["msg"]
        assert result["msg"].endswith("0 of 60 keys were deleted before the error")
        assert "no-delete-pw" not in str(result)
        assert count(self.db, "session:*") == 30

    def test_type_refused_fails_before_deleting(self):
        seed(self.db)
        conn = self.acl_user("no-type", "-type")
        try:
            result = self._run(redis_keys.main, dict(conn, patterns=["session:*"], types=["string"]))
        finally:
            self.db.acl_deluser("no-type")
        assert result["failed"] is True
        assert "no permissions to run the 'type' command" in result["msg"]
        assert "deleted before the error" not in result["msg"]
        assert count(self.db, "session:*") == 30

    def test_connection_lost_while_deleting_reports_progress(self):
        seed(self.db)
        client = redis.Redis(**self.conn, decode_responses=True)
        made = []

        def pipeline(transaction=True, shard_hint=None):
            pipe = redis.client.Pipeline(client.connection_pool, client.response_callbacks, transaction, shard_hint)
            made.append(pipe)
            if len(made) == 2:
                pipe.execute = mock.Mock(side_effect=redis.exceptions.ConnectionError("Connection reset by peer"))
            return pipe

        with (
            mock.patch.object(client, "pipeline", side_effect=pipeline),
            mock.patch(f"{MODULE}.connect", return_value=client),
        ):
            result = self.run(patterns=list(SESSIONS), batch_size=25)
        assert result["failed"] is True
        assert result["changed"] is True
        assert result["deleted"] == 25
        assert result["msg"] == (
            f"Cannot delete keys from Redis at 127.0.0.1:{self.conn['port']}: Connection reset by peer; "
            "25 of 60 keys were deleted before the error"
        )
        assert count(self.db, "session:*") + count(self.db, "refresh_token:*") == 35
        client.close()

    def test_wrong_password_never_in_messages(self):
        wrong = "not-the-" + self.conn["password"]
        result = self._run(redis_keys.main, dict(self.conn, password=wrong, patterns=["session:*"]))
        assert result["failed"] is True
        assert result["msg"].startswith(f"Cannot delete keys from Redis at 127.0.0.1:{self.conn['port']}: ")
        assert wrong not in str(result) and self.conn["password"] not in str(result)


def test_connection_refused_never_shows_the_password(run_module):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"redis://default:S3cret-pw@127.0.0.1:{port}/0"
    result = run_module(redis_keys.main, dict(url=url, patterns=["session:*"], connect_timeout=2))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot delete keys from Redis at 127.0.0.1:{port}: ")
    assert "S3cret-pw" not in str(result)
    assert result["deleted"] == 0 and result["changed"] is False
