# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from unittest import mock

import pytest
import redis
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.voicehive.remediation.plugins.doc_fragments.redis import ModuleDocFragment
from ansible_collections.voicehive.remediation.plugins.module_utils import _redis

SECRET = "s3cr3t-Pa55"


def params(**overrides):
    """Module params as AnsibleModule would produce them (defaults filled in)."""
    values = {name: spec.get("default") for name, spec in _redis.redis_common_argument_spec().items()}
    values.update(overrides)
    return values


# ------------------------------------------------------------------------------------------
# argument spec vs doc fragment
# ------------------------------------------------------------------------------------------


def test_doc_fragment_matches_argument_spec():
    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = _redis.redis_common_argument_spec()
    assert sorted(doc) == sorted(spec)
    for name, option in spec.items():
        assert doc[name]["type"] == option["type"], name
        assert doc[name].get("default") == option.get("default"), name
        assert doc[name].get("required", False) == option.get("required", False), name


@pytest.mark.parametrize("name", ["url", "password"])
def test_secrets_are_no_log(name):
    assert _redis.redis_common_argument_spec()[name]["no_log"] is True


def test_tls_defaults_to_false_unlike_community_general():
    assert _redis.redis_common_argument_spec()["tls"]["default"] is False


# ------------------------------------------------------------------------------------------
# URL parsing and client kwargs
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost", dict(host="localhost", port=6379, db=0, username=None, password=None, tls=False)),
        ("redis://10.0.0.5:16379/2", dict(host="10.0.0.5", port=16379, db=2, username=None, password=None, tls=False)),
        ("rediss://cache.example:6380", dict(host="cache.example", port=6380, db=0, tls=True)),
        (f"redis://:{SECRET}@h:1/0", dict(host="h", port=1, username=None, password=SECRET)),
        ("redis://app:p%40ss%3Aw@h/3", dict(username="app", password="p@ss:w", db=3)),
        ("redis://h?db=4", dict(host="h", db=4)),
        ("REDIS://H:7", dict(host="h", port=7)),
        ("redis://[::1]:6390", dict(host="::1", port=6390)),
    ],
)
def test_parse_redis_url(url, expected):
    parsed = _redis.parse_redis_url(url)
    for key, value in expected.items():
        assert parsed[key] == value, key


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        (f"http://user:{SECRET}@h", "unsupported URL scheme 'http'"),
        (f"unix://user:{SECRET}@/tmp/redis.sock", "unsupported URL scheme 'unix'"),
        (f"redis://user:{SECRET}@h:notaport", "invalid url"),
        (f"redis://user:{SECRET}@h/zero", "database 'zero' is not a number"),
    ],
)
def test_parse_redis_url_errors_never_show_the_password(url, fragment):
    with pytest.raises(ValueError, match="invalid url") as caught:
        _redis.parse_redis_url(url)
    assert fragment in str(caught.value)
    assert SECRET not in str(caught.value)


def test_client_kwargs_from_separate_options():
    kwargs = _redis.redis_client_kwargs(params(host="10.1.1.1", port=16379, db=1, password=SECRET))
    assert kwargs["host"] == "10.1.1.1"
    assert kwargs["port"] == 16379
    assert kwargs["db"] == 1
    assert kwargs["password"] == SECRET
    assert kwargs["decode_responses"] is True
    assert kwargs["socket_connect_timeout"] == 5.0
    assert kwargs["socket_timeout"] == 10.0
    assert "ssl" not in kwargs


def test_url_overrides_host_and_enables_tls_for_rediss():
    kwargs = _redis.redis_client_kwargs(params(url=f"rediss://app:{SECRET}@cache:6380/5", password="other"))
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache", 6380, 5)
    assert (kwargs["username"], kwargs["password"]) == ("app", SECRET)
    assert kwargs["ssl"] is True
    assert kwargs["ssl_cert_reqs"] == "required"
    assert kwargs["ssl_check_hostname"] is True


def test_password_option_used_when_url_has_none():
    kwargs = _redis.redis_client_kwargs(params(url="redis://cache:6380", username="app", password=SECRET))
    assert (kwargs["username"], kwargs["password"]) == ("app", SECRET)


def test_tls_options():
    kwargs = _redis.redis_client_kwargs(
        params(tls=True, validate_certs=False, ca_certs="/ca.pem", client_cert="/c.pem", client_key="/k.pem")
    )
    assert kwargs["ssl"] is True
    assert kwargs["ssl_cert_reqs"] == "none"
    assert kwargs["ssl_check_hostname"] is False
    assert (kwargs["ssl_ca_certs"], kwargs["ssl_certfile"], kwargs["ssl_keyfile"]) == ("/ca.pem", "/c.pem", "/k.pem")


def test_kwargs_are_accepted_by_redis_py():
    client = redis.Redis(**_redis.redis_client_kwargs(params(tls=True, validate_certs=False, password=SECRET)))
    assert client.connection_pool.connection_kwargs["password"] == SECRET
    client.close()


@pytest.mark.parametrize(
    ("overrides", "target"),
    [
        (dict(), "localhost:6379"),
        (dict(host="10.0.0.1", port=16380), "10.0.0.1:16380"),
        (dict(url=f"redis://u:{SECRET}@cache.example:7000/1"), "cache.example:7000"),
        (dict(url="redis://[::1]:6390"), "[::1]:6390"),
        (dict(url=f"ftp://u:{SECRET}@x"), "<invalid url>"),
    ],
)
def test_redis_target(overrides, target):
    assert _redis.redis_target(params(**overrides)) == target


# ------------------------------------------------------------------------------------------
# redaction
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"redis://user:{SECRET}@h:1/0 refused", "redis://***@h:1/0 refused"),
        (f"rediss://:{SECRET}@h", "rediss://***@h"),
        (f"see postgresql://u:{SECRET}@db/x and redis://a:b@c", "see postgresql://***@db/x and redis://***@c"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("no url here", "no url here"),
    ],
)
def test_redact_url(text, expected):
    assert _redis.redact_url(text) == expected


def test_redact_removes_password_and_url():
    url = f"redis://app:{SECRET}@cache:6380/0"
    text = f"failed with {SECRET} via {url} and pw=other-secret"
    out = _redis.redact(text, params(url=url, password="other-secret"))
    assert SECRET not in out
    assert "other-secret" not in out
    assert "app:" not in out


@pytest.mark.parametrize(
    ("exc", "fragment"),
    [
        (redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."), "refused"),
        (redis.exceptions.AuthenticationError("invalid username-password pair"), "authentication failed"),
        (redis.exceptions.TimeoutError("Timeout connecting to server"), "timed out"),
        (redis.exceptions.ConnectionError(""), "ConnectionError"),
    ],
)
def test_error_reason(exc, fragment):
    assert fragment in _redis.error_reason(exc, params())


def test_connection_error_message_never_contains_the_password():
    exc = redis.exceptions.ConnectionError(f"Error connecting to redis://app:{SECRET}@cache:6380 (pass {SECRET})")
    message = _redis.connection_error_message(params(url=f"redis://app:{SECRET}@cache:6380"), exc)
    assert message.startswith("Cannot connect to Redis at cache:6380: ")
    assert SECRET not in message


# ------------------------------------------------------------------------------------------
# RedisModule and connect()
# ------------------------------------------------------------------------------------------


def test_redis_module_merges_spec_and_refuses_url_with_host(module_results):
    _exit, fail = module_results
    with patch_module_args(dict(url="redis://h", host="other")), pytest.raises(fail) as caught:
        _redis.RedisModule(argument_spec=dict(extra=dict(type="str")))
    assert "mutually exclusive" in caught.value.result["msg"]
    assert "url|host" in caught.value.result["msg"]


def test_redis_module_accepts_url_alone_and_reads_password_from_env(module_results, monkeypatch):
    monkeypatch.setenv("REDIS_PASSWORD", SECRET)
    with patch_module_args(dict(url="redis://h:1", extra="x")):
        module = _redis.RedisModule(argument_spec=dict(extra=dict(type="str")), supports_check_mode=True)
    assert module.params["extra"] == "x"
    assert module.params["password"] == SECRET
    assert module.params["tls"] is False


def test_redis_module_fails_cleanly_without_the_library(module_results, monkeypatch):
    _exit, fail = module_results
    monkeypatch.setattr(_redis, "HAS_REDIS", False)
    monkeypatch.setattr(_redis, "REDIS_IMPORT_ERROR", "Traceback: No module named 'redis'")
    with patch_module_args({}), pytest.raises(fail) as caught:
        _redis.RedisModule(argument_spec={})
    assert "Failed to import the required Python library (redis>=5.0.0)" in caught.value.result["msg"]


def test_connect_builds_a_decoding_client_without_io(module_results):
    with patch_module_args(dict(host="127.0.0.1", port=1, password=SECRET)):
        module = _redis.RedisModule(argument_spec={})
    with mock.patch.object(_redis.redis, "Redis", autospec=True) as factory:
        client = _redis.connect(module)
    assert client is factory.return_value
    factory.assert_called_once()
    assert factory.call_args.kwargs["decode_responses"] is True
    assert factory.return_value.ping.call_count == 0


def test_connect_fails_on_a_bad_url_without_showing_it(module_results):
    _exit, fail = module_results
    with patch_module_args(dict(url=f"http://u:{SECRET}@h")):
        module = _redis.RedisModule(argument_spec={})
    with pytest.raises(fail) as caught:
        _redis.connect(module)
    assert caught.value.result["msg"].startswith("Cannot connect to Redis at <invalid url>: invalid url")
    assert SECRET not in caught.value.result["msg"]


# ------------------------------------------------------------------------------------------
# SCAN helpers
# ------------------------------------------------------------------------------------------


class FakeScanClient:
    """SCAN over fixed pages: pages[i] = (next_cursor, keys). Any other command fails the test."""

    def __init__(self, pages):
        self.pages = pages
        self.calls = []

    def scan(self, cursor=0, match=None, count=None):
        self.calls.append((cursor, match, count))
        return self.pages[cursor]

    def __getattr__(self, name):
        raise AssertionError(f"unexpected Redis command {name}")


def test_scan_keys_walks_every_page_and_dedupes():
    client = FakeScanClient({0: (7, ["b", "a"]), 7: (3, ["a", "c"]), 3: (0, [])})
    result = _redis.scan_keys(client, "x:*", count=50)
    assert result == _redis.ScanResult(["a", "b", "c"], False)
    assert client.calls == [(0, "x:*", 50), (7, "x:*", 50), (3, "x:*", 50)]


@pytest.mark.parametrize(
    ("pages", "limit", "keys", "truncated"),
    [
        ({0: (5, ["a", "b", "c"]), 5: (0, ["d"])}, 2, ["a", "b"], True),
        ({0: (0, ["a", "b"])}, 2, ["a", "b"], False),  # limit reached exactly on the last page
        ({0: (5, ["a", "b"]), 5: (0, ["c"])}, 2, ["a", "b"], True),  # limit reached, cursor not done
        ({0: (0, [])}, 2, [], False),
    ],
)
def test_scan_keys_bound(pages, limit, keys, truncated):
    result = _redis.scan_keys(FakeScanClient(pages), "*", limit=limit)
    assert result.keys == keys
    assert result.truncated is truncated


@pytest.mark.parametrize(("count", "limit"), [(0, 10), (10, 0)])
def test_scan_keys_refuses_bad_bounds(count, limit):
    with pytest.raises(ValueError, match="at least 1"):
        _redis.scan_keys(FakeScanClient({}), "*", count=count, limit=limit)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("circuit_breaker", "circuit_breaker"), ("a*b?c[d]e\\f", "a\\*b\\?c\\[d\\]e\\\\f")],
)
def test_escape_glob(text, escaped):
    assert _redis.escape_glob(text) == escaped


def test_discover_breakers_extracts_names():
    class Client(FakeScanClient):
        def scan(self, cursor=0, match=None, count=None):
            self.calls.append((cursor, match, count))
            if match == "cb\\*:*:state":
                return 0, ["cb*:a:state", "cb*:ns:with:colons:state", "cb*::state"]
            return 0, ["cb*:b:stats", "cb*:a:stats"]

    client = Client({})
    result = _redis.discover_breakers(client, "cb*", count=10, limit=100)
    assert result.keys == ["a", "b", "ns:with:colons"]
    assert [call[1] for call in client.calls] == ["cb\\*:*:state", "cb\\*:*:stats"]


# ------------------------------------------------------------------------------------------
# pipelined reads
# ------------------------------------------------------------------------------------------


def test_read_breakers_one_round_trip_and_wrong_types():
    client = mock.create_autospec(redis.Redis, instance=True)
    pipe = mock.create_autospec(redis.client.Pipeline, instance=True)
    client.pipeline.return_value = pipe
    wrong = redis.exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
    pipe.execute.return_value = [
        ["1700000000", "500000"],
        # a: open, with stats
        "string", "open", 3000, "hash", {"failure_count": "5"}, 2999,
        # b: state key is a hash, stats missing
        "hash", wrong, -1, "none", {}, -2,
    ]  # fmt: skip
    now, raw = _redis.read_breakers(client, "circuit_breaker", ["a", "b"])
    client.pipeline.assert_called_once_with(transaction=False)
    pipe.execute.assert_called_once_with(raise_on_error=False)
    assert now == 1700000000.5
    assert raw["a"]["state_value"] == "open"
    assert raw["a"]["state_ttl"] == 3000
    assert raw["a"]["stats"] == {"failure_count": "5"}
    assert raw["a"]["errors"] == []
    assert raw["b"]["state_value"] is None
    assert raw["b"]["stats_ttl"] is None
    assert raw["b"]["errors"] == ["key circuit_breaker:b:state holds a hash, expected a string"]


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [("5", int, 5), ("5.0", int, 5), (None, int, 0), ("", float, 0.0), ("1700000000.25", float, 1700000000.25)],
)
def test_parse_number(value, kind, expected):
    assert _redis.parse_number(value, kind) == expected
    assert isinstance(_redis.parse_number(value, kind), kind)


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-Infinity"])
def test_parse_number_refuses_junk(value):
    with pytest.raises(ValueError):
        _redis.parse_number(value, int)


# ------------------------------------------------------------------------------------------
# the site read (site_info), against a private redis-server
# ------------------------------------------------------------------------------------------

FAMILIES = {
    "sessions": "session:",
    "rate_limits": "rate_limit:",
    "breakers": "circuit_breaker:",
    "allow": "rate_limit:whitelist:",
}


def seed(client):
    pipe = client.pipeline()
    for i in range(30):
        pipe.hset(f"session:{i}", mapping={"user_id": str(i)})
    for i in range(12):
        pipe.set(f"rate_limit:ip:10.0.0.{i}:/api/v1/calls:per_minute", 3, ex=60)
    pipe.set("rate_limit:whitelist:10.9.9.9", "true", ex=600)
    pipe.set("circuit_breaker:pms_connector:state", "open", ex=3600)
    pipe.hset("circuit_breaker:pms_connector:stats", mapping={"failure_count": 7, "last_failure_time": 1.5})
    pipe.set("circuit_breaker:tts_service:state", "half_open")
    pipe.set("unrelated:key", "x")
    pipe.execute()


def test_scan_families_one_pass_longest_prefix_wins(redis_db):
    seed(redis_db)
    keys = _redis.scan_families(redis_db, FAMILIES, count=7, max_keys=10_000, sample=5)
    assert keys["complete"] and keys["examined"] == redis_db.dbsize() and keys["calls"] > 1
    families = keys["families"]
    assert families["sessions"]["count"] == 30 and len(families["sessions"]["sample"]) == 5
    assert families["rate_limits"]["count"] == 12 and families["allow"]["count"] == 1
    assert families["breakers"]["count"] == 3 and keys["other"] == 1
    assert families["allow"]["sample"] == ["rate_limit:whitelist:10.9.9.9"]


def test_scan_families_is_bounded_and_estimates_from_its_sample(redis_db):
    seed(redis_db)
    keys = _redis.scan_families(redis_db, FAMILIES, count=5, max_keys=10)
    assert not keys["complete"] and 10 <= keys["examined"] < redis_db.dbsize()
    _redis.estimate_families(keys, 1000)
    sessions = keys["families"]["sessions"]
    assert sessions["estimate"] == max(sessions["count"], round(sessions["count"] * 1000 / keys["examined"]))
    _redis.estimate_families(keys, None)
    assert sessions["estimate"] is None
    complete = _redis.scan_families(redis_db, FAMILIES)
    _redis.estimate_families(complete, 999)
    assert complete["families"]["sessions"]["estimate"] == 30
    with pytest.raises(ValueError):
        _redis.scan_families(redis_db, FAMILIES, count=0)


def test_read_site_reads_info_keys_and_breakers_without_keys_command(redis_db):
    seed(redis_db)
    redis_db.config_set("maxmemory", str(64 * 2**20))
    seen = []
    original = redis_db.execute_command

    def spy(*args, **kwargs):
        seen.append(str(args[0]).upper())
        return original(*args, **kwargs)

    with mock.patch.object(redis_db, "execute_command", side_effect=spy):
        read = _redis.read_site(redis_db, breaker_names=["vault_service"], families=FAMILIES)
    assert "KEYS" not in seen and "FLUSHDB" not in seen
    assert read["dbsize"] == redis_db.dbsize() and read["version"] and read["role"] == "master"
    assert read["memory"]["maxmemory_bytes"] == 64 * 2**20 and 0 < read["memory"]["used_ratio"] < 1
    assert read["keyspace"]["key_count"] == read["dbsize"]
    breakers = read["breakers"]
    assert breakers["open"] == ["pms_connector"] and breakers["half_open"] == ["tts_service"]
    assert breakers["closed"] == ["vault_service"] and not breakers["breakers"]["vault_service"]["exists"]
    assert breakers["breakers"]["pms_connector"]["stats"]["failure_count"] == 7
    assert breakers["truncated"] is False and breakers["prefix"] == "circuit_breaker"
    redis_db.config_set("maxmemory", "0")


def test_read_site_finds_breakers_by_match_when_the_pass_stops_early(redis_db):
    seed(redis_db)
    for i in range(200):
        redis_db.set(f"noise:{i}", 1)
    read = _redis.read_site(redis_db, families=FAMILIES, scan_count=10, max_keys=20)
    assert read["scan"]["complete"] is False
    assert read["breakers"]["open"] == ["pms_connector"] and read["breakers"]["half_open"] == ["tts_service"]


def test_read_site_keeps_the_examined_keys_asked_for(redis_db):
    seed(redis_db)
    plain = _redis.read_site(redis_db, families=FAMILIES)
    assert "kept_keys" not in plain
    read = _redis.read_site(redis_db, families=FAMILIES, keep_prefixes=("rate_limit:", "circuit_breaker:tts"))
    kept = read["kept_keys"]
    assert kept == sorted(kept) and len(kept) == 12 + 1 + 1
    assert "rate_limit:whitelist:10.9.9.9" in kept and "circuit_breaker:tts_service:state" in kept
    assert not any(k.startswith(("session:", "unrelated:", "circuit_breaker:pms")) for k in kept)
    bounded = _redis.read_site(redis_db, families=FAMILIES, scan_count=5, max_keys=10, keep_prefixes=("rate_limit:",))
    assert bounded["scan"]["complete"] is False and len(bounded["kept_keys"]) <= bounded["scan"]["examined"]


def test_read_site_reports_a_refused_info():
    client = mock.MagicMock()
    pipe = client.pipeline.return_value
    pipe.execute.side_effect = [
        [redis.exceptions.ResponseError("NOPERM this user has no permissions to run the 'info' command"), 3],
        [[str(1_800_000_000), "0"]],
    ]
    client.scan.return_value = (0, ["session:1"])
    read = _redis.read_site(client, families={"sessions": "session:"})
    assert read["errors"] == ["INFO refused: NOPERM this user has no permissions to run the 'info' command"]
    assert read["dbsize"] == 3 and read["memory"]["used_bytes"] is None
    assert read["scan"]["families"]["sessions"]["count"] == 1


def test_summarize_info_without_maxmemory():
    info = {"used_memory": 1000, "maxmemory": 0, "maxmemory_policy": "noeviction", "db2": {"keys": 5, "expires": 1}}
    summary = _redis.summarize_info(info, 2)
    assert summary["memory"]["used_ratio"] is None and summary["keyspace"] == {"key_count": 5, "expires": 1}
    assert summary["clients"]["connected"] is None


def test_read_site_checks_types_and_hides_secret_key_names(redis_db):
    seed(redis_db)
    redis_db.set("session:broken-1", "\x80 truncated pickle")
    redis_db.rpush("session:broken-2", "partial")
    read = _redis.read_site(
        redis_db, families=FAMILIES, expect_types={"sessions": "hash"}, secret_families=["sessions"], sample=50
    )
    sessions = read["scan"]["families"]["sessions"]
    assert sessions["checked"] == 32 and sessions["types"] == {"hash": 30, "string": 1, "list": 1}
    assert sessions["unexpected"] == 2 and len(sessions["unexpected_keys"]) == 2
    shown = sessions["sample"] + sessions["unexpected_keys"]
    assert all(k.startswith("session:#") and len(k) == len("session:#") + 10 for k in shown)
    assert _redis.key_fingerprint("session:broken-1", "session:") in sessions["unexpected_keys"]
    assert "broken" not in str(sessions)
    rate_limits = read["scan"]["families"]["rate_limits"]
    assert "types" not in rate_limits and rate_limits["sample"][0].startswith("rate_limit:ip:")


def test_family_of_prefers_the_longest_prefix():
    assert _redis.family_of("rate_limit:whitelist:1.2.3.4", FAMILIES) == "allow"
    assert _redis.family_of("rate_limit:ip:1", FAMILIES) == "rate_limits"
    assert _redis.family_of("nothing", FAMILIES) is None
