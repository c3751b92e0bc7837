# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
from unittest import mock

import pytest
import redis

from ansible_collections.voicehive.remediation.plugins.module_utils import _rate_limit as rl
from ansible_collections.voicehive.remediation.plugins.module_utils import _redis

WRONGTYPE = redis.exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
NOPERM = redis.exceptions.NoPermissionError("NOPERM this user has no permissions to run the 'get' command")


# ------------------------------------------------------------------------------------------
# names
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "window", "seconds"),
    [
        ("minute", True, 60),
        ("hour", True, 3600),
        ("day", True, 86400),
        ("second", True, 1),
        ("week", True, 604800),
        ("per_minute", True, 60),
        ("per_second", True, 1),
        ("per_hour", True, 3600),
        ("per_day", True, 86400),
        ("per_fortnight", True, None),  # a window, of unknown length
        ("per_", False, None),
        ("minutes", False, None),
        ("1700000000", False, None),
        ("/api", False, None),
        ("", False, None),
    ],
)
def test_windows(name, window, seconds):
    assert rl.is_window(name) is window
    assert rl.window_seconds(name) == seconds


@pytest.mark.parametrize(
    ("client", "parsed"),
    [
        ("ip:10.0.0.5", ("ip", "10.0.0.5")),
        ("ip:2001:db8::7", ("ip", "2001:db8::7")),
        ("ip:::1", ("ip", "::1")),
        ("jwt:9f2c41d07a3b8e65", ("jwt", "9f2c41d07a3b8e65")),
        ("apikey:vh_live_abcdefgh", ("apikey", "vh_live_abcdefgh")),
        ("internal:tts-router", ("internal", "tts-router")),
        ("internal:svc:eu", ("internal", "svc:eu")),
        ("user:123", ("user", "123")),
        ("user:a*b", ("user", "a*b")),
    ],
)
def test_parse_client(client, parsed):
    assert rl.parse_client(client) == parsed


@pytest.mark.parametrize(
    ("client", "fragment"),
    [
        ("10.0.0.5", "must be <kind>:<id> with kind one of ip, jwt, apikey, internal, user"),
        ("tenant:abc", "must be <kind>:<id>"),
        ("IP:10.0.0.5", "must be <kind>:<id>"),
        ("", "must be <kind>:<id>"),
        (None, "must be <kind>:<id>"),
        ("user:", "empty id"),
        ("user: 123", "surrounding blanks"),
        ("ip:10.0.0.256", "'10.0.0.256' is not an IPv4 or IPv6 address"),
        ("ip:10.0.0.0/8", "is not an IPv4 or IPv6 address"),
        ("ip:*", "is not an IPv4 or IPv6 address"),
        ("ip:2001:db8:::7", "is not an IPv4 or IPv6 address"),
    ],
)
def test_parse_client_refuses(client, fragment):
    with pytest.raises(ValueError, match="client") as caught:
        rl.parse_client(client)
    assert fragment in str(caught.value)


def test_allowlist_key():
    assert rl.allowlist_key("rate_limit:whitelist", "ip:10.0.0.5") == "rate_limit:whitelist:10.0.0.5"
    assert rl.allowlist_key("allow", "ip:::1") == "allow:::1"
    assert rl.allowlist_key("rate_limit:whitelist", "user:123") == "rate_limit:whitelist:user:123"
    assert rl.allowlist_key("rate_limit:whitelist", "jwt:1") == "rate_limit:whitelist:jwt:1"
    assert rl.allowlist_key("allow", "internal:svc:eu") == "allow:internal:svc:eu"


@pytest.mark.parametrize(
    ("name", "client"),
    [
        ("10.0.0.5", "ip:10.0.0.5"),
        ("2001:db8::7", "ip:2001:db8::7"),
        ("::1", "ip:::1"),
        ("ip:10.0.0.5", "ip:10.0.0.5"),  # the client id of an ip: client, which the service checks too
        ("user:123", "user:123"),
        ("jwt:1", "jwt:1"),
        ("apikey:vh_live_abcdefgh", "apikey:vh_live_abcdefgh"),
        ("internal:svc:eu", "internal:svc:eu"),
    ],
)
def test_allowlist_client(name, client):
    assert rl.allowlist_client(name) == client
    assert rl.allowlist_client(rl.allowlist_key("p", client)[len("p:") :]) == client  # the key maps back


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("10.0.0.256", "client '10.0.0.256' must be <kind>:<id>"),
        ("tenant:acme", "client 'tenant:acme' must be <kind>:<id>"),
        ("user:", "client 'user:' has an empty id"),
        ("ip:10.0.0.256", "'10.0.0.256' is not an IPv4 or IPv6 address"),
        ("enabled", "client 'enabled' must be <kind>:<id>"),
    ],
)
def test_allowlist_client_refuses(name, fragment):
    with pytest.raises(ValueError, match=r"^allow-list key names neither an IP address nor a client id: ") as caught:
        rl.allowlist_client(name)
    assert fragment in str(caught.value)


K = rl.RateLimitKey


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("rate_limit:ip:10.0.0.5:/api/v1/calls:minute", K("ip:10.0.0.5", "ip", "/api/v1/calls", "minute", None)),
        ("rate_limit:ip:10.0.0.5:/api:per_minute:1700000040", K("ip:10.0.0.5", "ip", "/api", "per_minute", 1700000040)),
        ("rate_limit:ip:2001:db8::7:/api:hour", K("ip:2001:db8::7", "ip", "/api", "hour", None)),
        ("rate_limit:ip:::1:/:per_second", K("ip:::1", "ip", "/", "per_second", None)),
        ("rate_limit:ip:fe80:::/x:day:86400", K("ip:fe80::", "ip", "/x", "day", 86400)),
        ("rate_limit:user:123:per_minute", K("user:123", "user", None, "per_minute", None)),
        ("rate_limit:ip:::1:minute", K("ip:::1", "ip", None, "minute", None)),
        ("rate_limit:ip:2001:db8::5:minute:1700000040", K("ip:2001:db8::5", "ip", None, "minute", 1700000040)),
        ("rate_limit:internal:svc:eu:/v1/x:hour", K("internal:svc:eu", "internal", "/v1/x", "hour", None)),
        ("rate_limit:jwt:abc:/v1/things:batch:minute", K("jwt:abc", "jwt", "/v1/things:batch", "minute", None)),
        ("rate_limit:apikey:vh_live_abcd:/a:/b:minute", K("apikey:vh_live_abcd", "apikey", "/a:/b", "minute", None)),
        # not counter keys
        ("rate_limit:whitelist:10.0.0.5", None),
        ("rate_limit:tenant:abc:/api:minute", None),
        ("rate_limit:ip:10.0.0.5:/api", None),
        ("rate_limit:ip:10.0.0.5:/api:fortnightly", None),
        ("rate_limit:ip:10.0.0.5:/api:1700000040", None),
        ("rate_limit:ip:10.0.0.5", None),
        ("rate_limit:ip:10.0.0.5:1700000040", None),
        ("rate_limit:user:per_minute", None),
        ("rate_limit:ip::/api:minute", None),
        ("rate_limit:ip", None),
        ("other:ip:10.0.0.5:/api:minute", None),
        ("rate_limits:ip:10.0.0.5:/api:minute", None),
    ],
)  # fmt: skip
def test_parse_key(key, parsed):
    assert rl.parse_key(key, "rate_limit") == parsed


def test_parse_key_other_prefix():
    assert rl.parse_key("rl:ip:1.2.3.4:/a:minute", "rl").client == "ip:1.2.3.4"
    assert rl.parse_key("rate_limit:ip:1.2.3.4:/a:minute", "rl") is None


@pytest.mark.parametrize(
    ("key", "client", "mine"),
    [
        ("rate_limit:ip:10.0.0.5:/api:minute", "ip:10.0.0.5", True),
        ("rate_limit:ip:10.0.0.5:/api:minute:1700000040", "ip:10.0.0.5", True),
        ("rate_limit:ip:10.0.0.5:/api", "ip:10.0.0.5", True),  # the service's reset deletes it too
        ("rate_limit:ip:10.0.0.5:per_minute", "ip:10.0.0.5", True),
        ("rate_limit:ip:10.0.0.5:minute:1700000040", "ip:10.0.0.5", True),
        ("rate_limit:ip:10.0.0.5:1700000040", "ip:10.0.0.5", True),  # fixed window without a name
        ("rate_limit:ip:10.0.0.50:/api:minute", "ip:10.0.0.5", False),
        ("rate_limit:ip:10.0.0.5", "ip:10.0.0.5", False),
        ("rate_limit:ip:10.0.0.5:junk", "ip:10.0.0.5", False),
        ("rate_limit:ip:10.0.0.5:minute:junk", "ip:10.0.0.5", False),
        # IPv6: ::1 and ::1:5 are different clients
        ("rate_limit:ip:::1:/api:minute", "ip:::1", True),
        ("rate_limit:ip:::1:5:/api:minute", "ip:::1", False),
        ("rate_limit:ip:::1:5:minute", "ip:::1", False),
        ("rate_limit:ip:::1:5", "ip:::1", False),  # could be client ::1:5's own key
        ("rate_limit:ip:::1:70000", "ip:::1", True),  # ::1:70000 is no address: a window start
        ("rate_limit:ip:::1:5:/api:minute", "ip:::1:5", True),
        ("rate_limit:internal:svc:eu:/a:hour", "internal:svc", False),
        ("rate_limit:internal:svc:/a:hour", "internal:svc", True),
        ("rate_limit:whitelist:10.0.0.5", "ip:10.0.0.5", False),
    ],
)
def test_belongs_to(key, client, mine):
    assert rl.belongs_to(key, "rate_limit", client) is mine


# ------------------------------------------------------------------------------------------
# values
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "count"), [("0", 0), ("42", 42), ("7.0", 7), (b"5".decode(), 5)])
def test_parse_counter(value, count):
    assert rl.parse_counter(value) == count


@pytest.mark.parametrize("value", [None, "", "abc", "1.5", "-3", "nan", "true"])
def test_parse_counter_refuses(value):
    with pytest.raises(ValueError):
        rl.parse_counter(value)


@pytest.mark.parametrize(
    ("value", "tokens"),
    [("7.5", 7.5), ("0", 0.0), (json.dumps({"tokens": 3.25, "last_refill": 1.0}), 3.25), (' {"tokens": "2"}', 2.0)],
)
def test_parse_tokens(value, tokens):
    assert rl.parse_tokens(value) == tokens


@pytest.mark.parametrize("value", [None, "", "{not json", "[1, 2]", '{"last_refill": 1}', '{"tokens": "x"}', "inf"])
def test_parse_tokens_refuses(value):
    with pytest.raises(ValueError):
        rl.parse_tokens(value)


# ------------------------------------------------------------------------------------------
# read_keys against the private redis-server
# ------------------------------------------------------------------------------------------


def command_calls(db):
    """``{command: calls}`` from the server's own statistics (pipelined commands included)."""
    return {name[len("cmdstat_") :]: stats["calls"] for name, stats in db.info("commandstats").items()}


def test_read_keys_reads_every_kind_of_counter(redis_db):
    now = float(redis_db.time()[0])
    redis_db.set("rate_limit:ip:10.0.0.1:/api:minute:1700000040", 7, ex=120)
    # sliding window: 3 requests inside the last minute, 2 older ones not yet trimmed by the service
    redis_db.zadd("rate_limit:ip:10.0.0.2:/api:minute", {"a": now - 1, "b": now - 2, "c": now - 30})
    redis_db.zadd("rate_limit:ip:10.0.0.2:/api:minute", {"old1": now - 300, "old2": now - 600})
    redis_db.expire("rate_limit:ip:10.0.0.2:/api:minute", 60)
    redis_db.zadd("rate_limit:ip:10.0.0.3:/api:per_fortnight", {"a": 1, "b": 2})  # unknown length: ZCARD
    redis_db.hset("rate_limit:ip:10.0.0.4:/api:hour", mapping={"tokens": "2.5", "last_refill": now})
    redis_db.rpush("rate_limit:ip:10.0.0.5:/api:minute", "x")
    redis_db.set("rate_limit:whitelist:10.9.9.9", "true", ex=600)
    keys = [*sorted(redis_db.scan_iter(match="rate_limit:*")), "rate_limit:ip:10.0.0.6:/gone:minute"]

    redis_db.config_resetstat()
    server_time, read = rl.read_keys(redis_db, keys, "rate_limit", batch=3)
    calls = command_calls(redis_db)

    assert abs(server_time - now) < 5
    assert read["rate_limit:ip:10.0.0.1:/api:minute:1700000040"] == dict(type="string", ttl=120, value="7", error=None)
    assert read["rate_limit:ip:10.0.0.2:/api:minute"]["value"] == 3
    assert read["rate_limit:ip:10.0.0.2:/api:minute"]["ttl"] == 60
    assert read["rate_limit:ip:10.0.0.3:/api:per_fortnight"]["value"] == 2
    assert read["rate_limit:ip:10.0.0.3:/api:per_fortnight"]["ttl"] == -1
    assert read["rate_limit:ip:10.0.0.4:/api:hour"]["value"] == "2.5"
    assert read["rate_limit:ip:10.0.0.5:/api:minute"] == dict(type="list", ttl=-1, value=None, error=None)
    assert read["rate_limit:whitelist:10.9.9.9"]["value"] == "true"
    assert read["rate_limit:ip:10.0.0.6:/gone:minute"] == dict(type="none", ttl=None, value=None, error=None)
    # pipelined, 7 keys in batches of 3: one MGET per batch and a TTL per key, TIME once; the non-strings
    # counted as sorted sets; TYPE and HGET only for the two that are not sorted sets either
    assert calls["mget"] == 3 and calls["ttl"] == 7 and calls["time"] == 1
    assert (calls["zcount"], calls["zcard"]) == (3, 1)
    assert calls["type"] == 2 and calls["hget"] == 2
    assert "get" not in calls and "keys" not in calls and "flushdb" not in calls


@pytest.fixture(scope="module")
def specced():
    """Autospecs are slow to build: once per module."""
    return (
        mock.create_autospec(redis.Redis, instance=True),
        mock.create_autospec(redis.client.Pipeline, instance=True),
        mock.create_autospec(redis.client.Pipeline, instance=True),
        mock.create_autospec(redis.client.Pipeline, instance=True),
    )


@pytest.fixture
def fake(specced):
    """``(client, first_pipeline, second_pipeline, third_pipeline)``, reset for every test."""
    for item in specced:
        item.reset_mock(return_value=True, side_effect=True)
    return specced


def test_read_keys_of_nothing_sends_nothing(fake):
    client = fake[0]
    assert rl.read_keys(client, [], "rate_limit") == (None, {})
    client.pipeline.assert_not_called()


def test_read_keys_reports_refused_commands_without_raising(fake):
    client, first, second, third = fake
    client.pipeline.side_effect = [first, second, third]
    keys = ["rate_limit:ip:1.1.1.1:/a:minute", "b", "c", "d", "e", "f", "g"]
    first.execute.return_value = [
        redis.exceptions.ResponseError("NOPERM time"),  # TIME refused: no server clock, ZCARD then
        [None, "7", None, None, None, None, None],  # MGET
        30, NOPERM, -2, 3000, 60, 60, -1,  # TTL: b's refused, c is gone
    ]  # fmt: skip
    second.execute.return_value = [4, WRONGTYPE, NOPERM, WRONGTYPE, WRONGTYPE]  # a d e f g
    third.execute.return_value = ["hash", NOPERM, NOPERM, WRONGTYPE, "list", WRONGTYPE]  # d f g: TYPE, HGET
    server_time, read = rl.read_keys(client, keys, "rate_limit")
    assert server_time is None
    assert read == {
        "rate_limit:ip:1.1.1.1:/a:minute": dict(type="zset", ttl=30, value=4, error=None),
        "b": dict(type="string", ttl=None, value="7", error=None),
        "c": dict(type="none", ttl=None, value=None, error=None),
        "d": dict(type="hash", ttl=3000, value=None, error=f"cannot read it: {NOPERM}"),
        "e": dict(type=None, ttl=60, value=None, error=f"cannot read it: {NOPERM}"),
        "f": dict(type=None, ttl=60, value=None, error=f"cannot read its type: {NOPERM}"),
        "g": dict(type="list", ttl=-1, value=None, error=None),
    }
    first.mget.assert_called_once_with(keys)
    assert second.zcard.call_count == 5 and second.zcount.call_count == 0
    assert [c.args for c in third.type.call_args_list] == [("d",), ("f",), ("g",)]
    third.hget.assert_any_call("d", "tokens")


def test_read_keys_with_mget_refused_reports_every_key(fake):
    client, first, _second, _third = fake
    client.pipeline.return_value = first
    first.execute.return_value = [["1700000000", "0"], NOPERM, 10, 20]
    server_time, read = rl.read_keys(client, ["a", "b"], "rate_limit")
    assert server_time == 1700000000.0
    assert read["a"] == dict(type=None, ttl=10, value=None, error=f"cannot read it: {NOPERM}")
    assert read["b"]["error"] == f"cannot read it: {NOPERM}"
    assert client.pipeline.call_count == 1


def test_read_keys_lets_connection_errors_raise(fake):
    client, first, _second, _third = fake
    client.pipeline.return_value = first
    first.execute.side_effect = redis.exceptions.ConnectionError("gone")
    with pytest.raises(redis.exceptions.ConnectionError):
        rl.read_keys(client, ["a"], "rate_limit")


# ------------------------------------------------------------------------------------------
# classify
# ------------------------------------------------------------------------------------------


def got(kind, value=None, ttl=60, error=None):
    return dict(type=kind, ttl=ttl, value=value, error=error)


def test_classify_sorts_counters_allowlist_and_malformed_keys():
    read = {
        "rate_limit:ip:10.0.0.1:/a:minute:1700000040": got("string", "7"),
        "rate_limit:ip:10.0.0.1:/a:minute": got("zset", 3),
        "rate_limit:user:123:per_minute": got("string", "4"),
        "rate_limit:jwt:abc:/a:hour": got("hash", "2.5", ttl=3000),
        "rate_limit:apikey:vh_live_abcdefgh:/a:hour": got("string", json.dumps({"tokens": 0.5, "last_refill": 1})),
        "rate_limit:whitelist:10.9.9.9": got("string", "TRUE ", ttl=-1),
        "rate_limit:whitelist:10.9.9.8": got("string", "false"),
        "rate_limit:whitelist:10.9.9.7": got("hash"),
        "rate_limit:ip:10.0.0.2:/a:minute": got("string", "abc"),
        "rate_limit:ip:10.0.0.3:/a:minute": got("list"),
        "rate_limit:ip:10.0.0.4:/a:minute": got("hash", None),
        "rate_limit:ip:10.0.0.5:/a:minute": got(None, error="cannot read its type: NOPERM"),
        "rate_limit:ip:10.0.0.6:/a:minute": got("none", ttl=None),
        "rate_limit:tenant:x": got("string", "1"),
    }
    entries, allowlist, invalid = rl.classify(read, "rate_limit", "rate_limit:whitelist")
    by_key = {e["key"]: e for e in entries}
    assert sorted(by_key) == [
        "rate_limit:apikey:vh_live_abcdefgh:/a:hour",
        "rate_limit:ip:10.0.0.1:/a:minute",
        "rate_limit:ip:10.0.0.1:/a:minute:1700000040",
        "rate_limit:jwt:abc:/a:hour",
        "rate_limit:user:123:per_minute",
    ]
    assert by_key["rate_limit:ip:10.0.0.1:/a:minute:1700000040"]["algorithm"] == "fixed_window"
    assert by_key["rate_limit:ip:10.0.0.1:/a:minute:1700000040"]["requests"] == 7
    assert by_key["rate_limit:ip:10.0.0.1:/a:minute"]["algorithm"] == "sliding_window"
    assert by_key["rate_limit:user:123:per_minute"]["algorithm"] == "counter"
    assert by_key["rate_limit:user:123:per_minute"]["path"] is None
    assert by_key["rate_limit:jwt:abc:/a:hour"]["tokens"] == 2.5
    assert by_key["rate_limit:jwt:abc:/a:hour"]["requests"] is None
    assert by_key["rate_limit:apikey:vh_live_abcdefgh:/a:hour"]["algorithm"] == "token_bucket"
    assert by_key["rate_limit:apikey:vh_live_abcdefgh:/a:hour"]["tokens"] == 0.5
    assert allowlist == {"ip:10.9.9.9": -1}
    reasons = {item["key"]: item["reason"] for item in invalid}
    assert reasons == {
        "rate_limit:whitelist:10.9.9.8": "allow-list key holds 'false', expected 'true'",
        "rate_limit:whitelist:10.9.9.7": "allow-list key holds a hash, expected a string",
        "rate_limit:ip:10.0.0.2:/a:minute": "holds 'abc', not a request count",
        "rate_limit:ip:10.0.0.3:/a:minute": "holds a list, expected a counter, a sorted set or a token bucket",
        "rate_limit:ip:10.0.0.4:/a:minute": "holds a token bucket without a numeric tokens field",
        "rate_limit:ip:10.0.0.5:/a:minute": "cannot read its type: NOPERM",
        "rate_limit:tenant:x": ("not rate_limit:<client>:<path>:<window>[:<window_start>] with a known client kind"),
    }


def test_classify_allowlist_of_every_client_kind():
    read = {
        "rate_limit:whitelist:user:123": got("string", "true", ttl=300),
        "rate_limit:whitelist:jwt:1": got("string", "true", ttl=-1),
        "rate_limit:whitelist:internal:svc:eu": got("string", "true", ttl=20),
        "rate_limit:whitelist:10.0.0.5": got("string", "true", ttl=30),
        "rate_limit:whitelist:ip:10.0.0.5": got("string", "true", ttl=90),  # the same client: the longer TTL
        "rate_limit:whitelist:::1": got("string", "true", ttl=-1),
        "rate_limit:whitelist:ip:::1": got("string", "true", ttl=10),  # -1 (never) wins
        "rate_limit:whitelist:tenant:acme": got("string", "true"),
        "rate_limit:whitelist:user:": got("string", "true"),
        "rate_limit:whitelist:ip:10.0.0.256": got("string", "true"),
        "rate_limit:whitelist:enabled": got("hash"),  # the name is wrong before the type
        "rate_limit:whitelist:apikey:vh_live_x": got("string", "yes"),
    }
    entries, allowlist, invalid = rl.classify(read, "rate_limit", "rate_limit:whitelist")
    assert entries == []
    assert allowlist == {"internal:svc:eu": 20, "ip:10.0.0.5": 90, "ip:::1": -1, "jwt:1": -1, "user:123": 300}
    head = "allow-list key names neither an IP address nor a client id: "
    assert {item["key"]: item["reason"] for item in invalid} == {
        "rate_limit:whitelist:tenant:acme": head + "client 'tenant:acme' must be <kind>:<id> with kind one of "
        "ip, jwt, apikey, internal, user",
        "rate_limit:whitelist:user:": head + "client 'user:' has an empty id or one with surrounding blanks",
        "rate_limit:whitelist:ip:10.0.0.256": head + "client 'ip:10.0.0.256': '10.0.0.256' is not an IPv4 or IPv6 "
        "address",
        "rate_limit:whitelist:enabled": head + "client 'enabled' must be <kind>:<id> with kind one of "
        "ip, jwt, apikey, internal, user",
        "rate_limit:whitelist:apikey:vh_live_x": "allow-list key holds 'yes', expected 'true'",
    }
    summary = rl.summarize_usage(entries, allowlist, top=0, wanted=["user:123", "jwt:2"])
    assert summary["clients"]["user:123"]["allowlisted"] is True and summary["clients"]["user:123"]["exists"] is False
    assert summary["clients"]["user:123"]["allowlist_ttl"] == 300
    assert summary["clients"]["jwt:2"]["allowlisted"] is False
    assert list(summary["allowlist"]) == ["internal:svc:eu", "ip:10.0.0.5", "ip:::1", "jwt:1", "user:123"]


def test_classify_allowlist_elsewhere():
    read = {"allow:10.0.0.1": got("string", "true", ttl=30), "allow:": got("string", "true")}
    entries, allowlist, invalid = rl.classify(read, "rate_limit", "allow")
    assert entries == []
    assert allowlist == {"ip:10.0.0.1": 30}
    assert [item["key"] for item in invalid] == ["allow:"]


# ------------------------------------------------------------------------------------------
# find_keys, select_keys, read_usage
# ------------------------------------------------------------------------------------------


def seed_keys(db):
    pipe = db.pipeline(transaction=False)
    for i in range(40):
        pipe.set(f"rate_limit:ip:10.1.0.{i}:/api:minute", i + 1, ex=60)
    pipe.set("rate_limit:user:123:per_minute", 4, ex=60)
    pipe.set("rate_limit:whitelist:10.9.9.9", "true", ex=600)
    pipe.set("rate_limit:whitelist:user:123", "true", ex=600)
    pipe.set("rate_limit:whitelist:nonsense", "true")
    pipe.set("session:1", "x")
    pipe.execute()


def test_find_keys_scans_both_prefixes(redis_db):
    seed_keys(redis_db)
    keys, truncated = rl.find_keys(redis_db, "rate_limit", "rate_limit:whitelist", 10, 1000)
    assert truncated is False and len(keys) == 44 and keys == sorted(keys) and "session:1" not in keys
    redis_db.set("allow:user:7", "true")
    keys, truncated = rl.find_keys(redis_db, "rate_limit", "allow", 10, 1000)
    assert truncated is False and "allow:user:7" in keys and len(keys) == 45


def test_find_keys_bounded_still_reads_the_wanted_clients_and_their_allowlist_keys(redis_db):
    seed_keys(redis_db)
    with mock.patch.object(redis_db, "scan", wraps=redis_db.scan) as scans:
        keys, truncated = rl.find_keys(
            redis_db, "rate_limit", "rate_limit:whitelist", 5, 10, wanted=["user:123", "jwt:none"]
        )
    assert truncated is True
    assert {"rate_limit:user:123:per_minute", "rate_limit:whitelist:user:123", "rate_limit:whitelist:jwt:none"} <= set(
        keys
    )
    assert len(keys) <= 10 + 3
    matches = {call.kwargs["match"] for call in scans.call_args_list}
    assert matches == {"rate_limit:*", "rate_limit:user:123:*", "rate_limit:jwt:none:*"}


def test_select_keys_from_known_keys_sends_nothing():
    known = [f"rate_limit:ip:10.1.0.{i}:/api:minute" for i in range(5)]
    known += ["rate_limit:whitelist:user:123", "rate_limit:user:123:per_minute", "rate_limit:user:1234:per_minute"]
    known += ["session:1", "rate_limits:x", "circuit_breaker:a:state"]
    keys, truncated = rl.select_keys(set(known), "rate_limit", "rate_limit:whitelist", 100)
    assert truncated is False and keys == sorted(k for k in known if k.startswith("rate_limit:"))
    keys, truncated = rl.select_keys(known, "rate_limit", "rate_limit:whitelist", 2, wanted=["user:123", "user:9"])
    assert truncated is True
    assert keys == [
        "rate_limit:ip:10.1.0.0:/api:minute",
        "rate_limit:ip:10.1.0.1:/api:minute",
        "rate_limit:user:123:per_minute",  # the wanted client's own key, not user:1234's
        "rate_limit:whitelist:user:123",  # its allow-list key; user:9 has none
    ]
    keys, truncated = rl.select_keys(known, "rate_limit", "allow", 100)
    assert "rate_limit:whitelist:user:123" in keys  # under the counter prefix: a malformed counter key then
    assert rl.select_keys([], "rate_limit", "rate_limit:whitelist") == ([], False)


def test_read_usage_from_known_keys_does_not_scan(redis_db):
    seed_keys(redis_db)
    known = set(redis_db.scan_iter(count=1000))
    redis_db.config_resetstat()
    server_time, entries, allowlist, invalid, examined, truncated = rl.read_usage(
        redis_db, "rate_limit", "rate_limit:whitelist", candidates=known, wanted=["user:123"]
    )
    calls = command_calls(redis_db)
    assert "scan" not in calls and calls["mget"] == 1 and calls["ttl"] == 44
    assert server_time is not None and examined == 44 and truncated is False
    assert len(entries) == 41
    assert set(allowlist) == {"ip:10.9.9.9", "user:123"}
    assert [item["key"] for item in invalid] == ["rate_limit:whitelist:nonsense"]


def test_read_usage_finds_the_keys_itself_without_candidates(redis_db):
    seed_keys(redis_db)
    redis_db.config_resetstat()
    found = rl.read_usage(redis_db, "rate_limit", "rate_limit:whitelist", scan_count=10, max_keys=20)
    calls = command_calls(redis_db)
    _server_time, entries, _allowlist, _invalid, examined, truncated = found
    assert calls["scan"] >= 2 and truncated is True and examined == 20 and len(entries) <= 20


# ------------------------------------------------------------------------------------------
# summarize_usage
# ------------------------------------------------------------------------------------------


def entry(key, requests=None, tokens=None, ttl=60):
    parsed = rl.parse_key(key, "rate_limit")
    return dict(parsed._asdict(), key=key, ttl=ttl, requests=requests, tokens=tokens)


def test_summary_sums_paths_and_keeps_the_newest_fixed_window():
    entries = [
        entry("rate_limit:ip:10.0.0.5:/api/v1/calls:minute:1700000040", 40, ttl=100),
        entry("rate_limit:ip:10.0.0.5:/api/v1/calls:minute:1699999980", 55, ttl=40),  # previous window
        entry("rate_limit:ip:10.0.0.5:/health:minute", 5, ttl=59),
        entry("rate_limit:ip:10.0.0.5:/api/v1/calls:hour", 700, ttl=3500),
        entry("rate_limit:ip:10.0.0.5:/health:hour", 112, ttl=3599),
        entry("rate_limit:ip:10.0.0.6:/api/v1/calls:minute", 2),
    ]
    summary = rl.summarize_usage(entries, {}, top=10)
    client = summary["clients"]["ip:10.0.0.5"]
    assert client["requests"] == {"minute": 45, "hour": 812}
    assert list(client["windows"]) == ["minute", "hour"]  # shortest window first
    assert client["windows"]["minute"] == dict(requests=45, key_count=3, paths=2, max_ttl=100, over_limit=False)
    assert client["key_count"] == 5
    assert client["paths"] == 2
    assert client["top_paths"] == [
        dict(path="/api/v1/calls", requests={"hour": 700, "minute": 40}),
        dict(path="/health", requests={"hour": 112, "minute": 5}),
    ]
    assert client["max_ttl"] == 3599
    assert client["peak_requests"] == 812
    assert client["utilisation"] is None
    assert client["over_limit"] is False
    assert client["allowlisted"] is False and client["allowlist_ttl"] is None
    assert summary["top_clients"] == ["ip:10.0.0.5", "ip:10.0.0.6"]
    assert summary["median_requests"] == {"hour": 812, "minute": 23.5}
    assert summary["clients_count"] == 2
    assert summary["over_limit"] == [] and summary["over_limit_count"] == 0


def test_summary_with_limits_ranks_over_limit_first():
    entries = [
        entry("rate_limit:ip:10.0.0.1:/a:per_minute", 500),  # busy, under its per_minute limit of 1000
        entry("rate_limit:user:7:per_minute", 60),
        entry("rate_limit:user:7:per_hour", 100),
        entry("rate_limit:ip:10.0.0.3:/a:per_minute", 10),
        entry("rate_limit:jwt:abc:/a:per_minute", tokens=0.4),  # empty bucket
        entry("rate_limit:jwt:abc:/b:per_minute", tokens=3.0),
    ]
    summary = rl.summarize_usage(entries, {"ip:10.0.0.1": 120}, limits={"per_minute": 1000, "per_hour": 50}, top=3)
    assert summary["top_clients"] == ["user:7", "jwt:abc", "ip:10.0.0.1"]
    assert summary["over_limit"] == ["user:7", "jwt:abc"]
    assert summary["over_limit_count"] == 2
    user = summary["clients"]["user:7"]
    assert user["windows"]["per_hour"] == dict(
        requests=100, key_count=1, paths=0, max_ttl=60, limit=50, utilisation=2.0, over_limit=True
    )
    assert user["utilisation"] == 2.0
    assert user["over_limit_windows"] == ["per_hour"]
    assert user["paths"] == 0
    assert user["top_paths"] == [dict(path=None, requests={"per_hour": 100, "per_minute": 60})]
    jwt = summary["clients"]["jwt:abc"]
    assert jwt["requests"] == {"per_minute": None}  # a bucket holds tokens, not requests
    assert jwt["windows"]["per_minute"]["tokens"] == 0.4
    assert jwt["windows"]["per_minute"]["limit"] == 1000
    assert "utilisation" not in jwt["windows"]["per_minute"]
    assert jwt["over_limit_windows"] == ["per_minute"]
    busy = summary["clients"]["ip:10.0.0.1"]
    assert busy["utilisation"] == 0.5
    assert busy["allowlisted"] is True and busy["allowlist_ttl"] == 120
    assert "ip:10.0.0.3" not in summary["clients"]
    assert summary["median_requests"] == {"per_hour": 100, "per_minute": 60}  # the bucket has no count


def test_summary_reports_wanted_clients_and_no_expiry():
    entries = [
        entry("rate_limit:ip:10.0.0.1:/a:minute", 5, ttl=30),
        entry("rate_limit:ip:10.0.0.1:/b:minute", 5, ttl=-1),
        entry("rate_limit:ip:10.0.0.2:/a:minute", 1, ttl=None),
    ]
    summary = rl.summarize_usage(entries, {"ip:10.0.0.9": 60}, top=0, wanted=["ip:10.0.0.9", "ip:10.0.0.2"])
    assert summary["top_clients"] == []
    assert list(summary["clients"]) == ["ip:10.0.0.9", "ip:10.0.0.2"]
    absent = summary["clients"]["ip:10.0.0.9"]
    assert absent["exists"] is False and absent["key_count"] == 0 and absent["requests"] == {}
    assert absent["allowlisted"] is True and absent["allowlist_ttl"] == 60
    assert absent["max_ttl"] is None and absent["top_paths"] == [] and absent["peak_requests"] == 0
    assert summary["clients"]["ip:10.0.0.2"]["max_ttl"] is None  # expired between SCAN and TTL
    full = rl.summarize_usage(entries, {}, top=5)
    assert full["clients"]["ip:10.0.0.1"]["max_ttl"] == -1  # a key without expiry never resets


def test_summary_lists_at_most_so_many_over_limit_clients(monkeypatch):
    monkeypatch.setattr(rl, "OVER_LIMIT_LIST", 2)
    entries = [entry(f"rate_limit:ip:10.0.0.{i}:/a:minute", 10 + i) for i in range(5)]
    summary = rl.summarize_usage(entries, {}, limits={"minute": 10}, top=1)
    assert summary["over_limit"] == ["ip:10.0.0.4", "ip:10.0.0.3"]
    assert summary["over_limit_count"] == 5
    assert summary["top_clients"] == ["ip:10.0.0.4"]


def test_summary_of_nothing():
    assert rl.summarize_usage([], {}) == dict(
        clients={},
        top_clients=[],
        over_limit=[],
        over_limit_count=0,
        clients_count=0,
        median_requests={},
        allowlist={},
    )


def test_max_ttl():
    assert rl._max_ttl(None, None) is None
    assert rl._max_ttl(None, 5) == 5
    assert rl._max_ttl(5, None) == 5
    assert rl._max_ttl(5, 9) == 9
    assert rl._max_ttl(-1, 9) == -1
    assert rl._max_ttl(9, -1) == -1


# ------------------------------------------------------------------------------------------
# delete_batches (plugins/module_utils/_redis.py), used by redis_keys and rate_limit
# ------------------------------------------------------------------------------------------


def test_delete_batches_unlinks_in_pipelined_batches(redis_db):
    redis_db.mset({f"doomed:{i}": i for i in range(7)})
    redis_db.set("kept", 1)
    keys = [f"doomed:{i}" for i in range(7)] + ["doomed:missing"]
    redis_db.config_resetstat()
    done = list(_redis.delete_batches(redis_db, keys, batch_size=3))
    calls = command_calls(redis_db)
    assert done == [("UNLINK", 3), ("UNLINK", 3), ("UNLINK", 1)]
    assert calls["unlink"] == 8 and "del" not in calls
    assert list(redis_db.scan_iter()) == ["kept"]


def test_delete_batches_refuses_a_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        list(_redis.delete_batches(mock.Mock(), ["a"], batch_size=0))
