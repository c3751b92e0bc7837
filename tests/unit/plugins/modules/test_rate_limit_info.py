# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import socket
from unittest import mock

import pytest
import redis
import yaml

from ansible_collections.voicehive.remediation.plugins.modules import rate_limit_info

MODULE = "ansible_collections.voicehive.remediation.plugins.modules.rate_limit_info"
LIMITS = {"minute": 60, "hour": 1000}


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(rate_limit_info.DOCUMENTATION)["options"]
    spec = rate_limit_info.argument_spec()
    assert sorted(doc) == sorted(spec)
    for name, option in spec.items():
        assert doc[name]["type"] == option["type"], name
        assert doc[name].get("default") == option.get("default"), name
        assert doc[name].get("elements") == option.get("elements"), name
    for section in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(rate_limit_info, section))


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
    ("args", "message"),
    [
        (dict(limits={"minute": "many"}), "limits.minute must be a whole number of requests of at least 1, got 'many'"),
        (dict(limits={"minute": 0}), "limits.minute must be a whole number of requests of at least 1, got 0"),
        (dict(limits={"minute": True}), "limits.minute must be a whole number of requests of at least 1, got True"),
        (dict(clients=["tenant:1"]), "client 'tenant:1' must be <kind>:<id> with kind one of"),
        (dict(clients=["ip:10.0.0.300"]), "client 'ip:10.0.0.300': '10.0.0.300' is not an IPv4 or IPv6 address"),
        (dict(top=-1), "top must be 0 or more, got -1"),
        (dict(scan_count=0), "scan_count must be at least 1, got 0"),
        (dict(max_keys=0), "max_keys must be at least 1, got 0"),
        (dict(key_prefix=""), "key_prefix must not be empty"),
        (dict(allowlist_prefix=""), "allowlist_prefix must not be empty"),
    ],
)
def test_bad_input_is_refused_before_any_command(run_module, unused_client, args, message):
    result = run_module(rate_limit_info.main, dict(host="127.0.0.1", port=16379, **args))
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot read rate limits: ")
    assert message in result["msg"]
    assert unused_client.method_calls == []


# ==========================================================================================
# The real commands, against the private redis-server
# ==========================================================================================


def zfill(pipe, key, n, now, ttl, spread=50.0):
    """A sliding-window sorted set with ``n`` request times in the last ``spread`` seconds."""
    pipe.zadd(key, {f"{now - spread * i / max(n, 1):.6f}": now - spread * i / max(n, 1) for i in range(n)})
    pipe.expire(key, ttl)


def seed(db):
    now = float(db.time()[0])
    start = int(now // 60) * 60
    pipe = db.pipeline(transaction=False)
    # the abuser: sliding windows (the service's default algorithm)
    zfill(pipe, "rate_limit:ip:10.0.0.5:/api/v1/calls:minute", 90, now, 60)
    zfill(pipe, "rate_limit:ip:10.0.0.5:/api/v1/calls:hour", 900, now, 3600, spread=3000)
    zfill(pipe, "rate_limit:ip:10.0.0.5:/health:minute", 5, now, 60)
    pipe.zadd("rate_limit:ip:10.0.0.5:/health:minute", {"stale": now - 600})  # not yet trimmed: not counted
    zfill(pipe, "rate_limit:ip:2001:db8::7:/api/v1/calls:minute", 3, now, 60)
    zfill(pipe, "rate_limit:internal:tts-router:/tts/synthesize:minute", 2, now, 60)
    # the guide's key without a path, and fixed windows (only the newest counts)
    pipe.set("rate_limit:user:123:per_minute", 4, ex=60)
    pipe.set(f"rate_limit:jwt:9f2c41d07a3b8e65:/api/v1/bookings:minute:{start}", 8, ex=120)
    pipe.set(f"rate_limit:jwt:9f2c41d07a3b8e65:/api/v1/bookings:minute:{start - 60}", 50, ex=60)
    # token buckets: the resilience limiter's hash, the enhanced middleware's JSON string
    pipe.hset("rate_limit:apikey:vh_live_abcdefgh:/api/v1/calls:hour", mapping={"tokens": "0.2", "last_refill": now})
    pipe.expire("rate_limit:apikey:vh_live_abcdefgh:/api/v1/calls:hour", 3600)
    pipe.set("rate_limit:apikey:vh_live_zzzzzzzz:/api:hour", json.dumps({"tokens": 9.5, "last_refill": now}), ex=3600)
    # the allow-list
    pipe.set("rate_limit:whitelist:10.9.9.9", "true", ex=600)
    pipe.set("rate_limit:whitelist:2001:db8::7", "true")
    # malformed keys: reported, never fatal
    pipe.set("rate_limit:ip:10.0.0.8:/api:minute", "abc")
    pipe.rpush("rate_limit:ip:10.0.0.9:/api:minute", "x")
    pipe.set("rate_limit:tenant:acme", 1)
    # unrelated keys
    pipe.hset("session:0123456789abcdef", mapping={"user_id": "1"})
    pipe.set("circuit_breaker:pms_connector:state", "open")
    pipe.execute()
    return now


def command_calls(db):
    return {name[len("cmdstat_") :]: stats["calls"] for name, stats in db.info("commandstats").items()}


class TestAgainstRealRedis:
    @pytest.fixture(autouse=True)
    def _server(self, redis_server, redis_db, run_module):
        self.db = redis_db
        self.conn = dict(host=redis_server["host"], port=redis_server["port"], password=redis_server["password"])
        self._run = run_module

    def run(self, **args):
        return self._run(rate_limit_info.main, dict(self.conn, **args))

    def test_usage_per_client_and_window(self):
        now = seed(self.db)
        self.db.config_resetstat()
        result = self.run(limits=dict(LIMITS), top=3)
        calls = command_calls(self.db)

        assert result["failed"] is False and result["changed"] is False
        assert result["redis_available"] is True
        assert abs(result["server_time"] - now) < 5
        assert result["keys_examined"] == 15  # every rate_limit:* key, allow-list and malformed ones included
        assert result["truncated"] is False
        assert result["clients_count"] == 7
        assert result["top_clients"] == ["ip:10.0.0.5", "apikey:vh_live_abcdefgh", "jwt:9f2c41d07a3b8e65"]
        assert result["over_limit"] == ["ip:10.0.0.5", "apikey:vh_live_abcdefgh"]
        assert result["over_limit_count"] == 2
        assert result["median_requests"] == {"hour": 900, "minute": 5.5, "per_minute": 4}
        assert result["allowlist"] == {"ip:10.9.9.9": result["allowlist"]["ip:10.9.9.9"], "ip:2001:db8::7": -1}
        assert 590 <= result["allowlist"]["ip:10.9.9.9"] <= 600

        abuser = result["clients"]["ip:10.0.0.5"]
        assert abuser["kind"] == "ip" and abuser["exists"] is True
        assert abuser["key_count"] == 3
        assert abuser["requests"] == {"minute": 95, "hour": 900}
        assert abuser["windows"]["minute"] == dict(
            requests=95, key_count=2, paths=2, max_ttl=60, limit=60, utilisation=1.5833, over_limit=True
        )
        assert abuser["windows"]["hour"]["utilisation"] == 0.9
        assert abuser["windows"]["hour"]["over_limit"] is False
        assert abuser["paths"] == 2
        assert abuser["top_paths"] == [
            dict(path="/api/v1/calls", requests={"hour": 900, "minute": 90}),
            dict(path="/health", requests={"minute": 5}),
        ]
        assert 3590 <= abuser["max_ttl"] <= 3600
        assert abuser["over_limit_windows"] == ["minute"]
        assert abuser["utilisation"] == 1.5833
        assert abuser["allowlisted"] is False and abuser["allowlist_ttl"] is None

        bucket = result["clients"]["apikey:vh_live_abcdefgh"]
        assert bucket["requests"] == {"hour": None}
        assert bucket["windows"]["hour"]["tokens"] == 0.2
        jwt = result["clients"]["jwt:9f2c41d07a3b8e65"]
        assert jwt["requests"] == {"minute": 8}  # the newest fixed window, not the previous one
        assert jwt["key_count"] == 2

        assert result["invalid_keys"] == 3
        assert {item["key"]: item["reason"] for item in result["invalid"]} == {
            "rate_limit:ip:10.0.0.8:/api:minute": "holds 'abc', not a request count",
            "rate_limit:ip:10.0.0.9:/api:minute": "holds a list, expected a counter, a sorted set or a token bucket",
            "rate_limit:tenant:acme": (
                "not rate_limit:<client>:<path>:<window>[:<window_start>] with a known client kind"
            ),
        }
        assert "session:0123456789abcdef" not in str(result)
        # bounded SCAN, pipelined reads, nothing written, never KEYS
        assert "keys" not in calls and "flushdb" not in calls
        assert calls["mget"] == 1 and calls["ttl"] == 15 and "get" not in calls
        assert calls["zcount"] == 7  # the 5 sorted sets, and the hash and the list found not to be ones
        assert calls["type"] == 2 and calls["hget"] == 2
        for written in ("set", "del", "unlink", "zadd", "expire", "hset", "zremrangebyscore"):
            assert written not in calls, written

    def test_wanted_clients_are_reported_even_outside_the_top(self):
        seed(self.db)
        result = self.run(top=0, clients=["ip:2001:db8::7", "ip:10.1.1.1", "user:123"])
        assert result["top_clients"] == []
        assert list(result["clients"]) == ["ip:2001:db8::7", "ip:10.1.1.1", "user:123"]
        v6 = result["clients"]["ip:2001:db8::7"]
        assert v6["requests"] == {"minute": 3}
        assert v6["allowlisted"] is True and v6["allowlist_ttl"] == -1
        assert result["clients"]["ip:10.1.1.1"]["exists"] is False
        user = result["clients"]["user:123"]
        assert user["requests"] == {"per_minute": 4} and user["paths"] == 0
        assert user["utilisation"] is None  # no limits given

    def test_scan_is_bounded_and_wanted_clients_are_still_complete(self):
        seed(self.db)
        pipe = self.db.pipeline(transaction=False)
        for i in range(300):
            pipe.set(f"rate_limit:ip:172.16.{i // 250}.{i % 250}:/api:minute", 1, ex=60)
        pipe.execute()
        client = redis.Redis(**self.conn, decode_responses=True)
        with (
            mock.patch.object(client, "scan", wraps=client.scan) as scans,
            mock.patch(f"{MODULE}.connect", return_value=client),
        ):
            result = self.run(max_keys=50, scan_count=20, clients=["ip:10.0.0.5", "ip:10.9.9.9", "user:123"])
        client.close()

        assert result["truncated"] is True
        assert any("Stopped scanning for rate-limit keys after max_keys=50" in w for w in result["warnings"])
        assert result["keys_examined"] <= 50 + 4 + 1 + 2  # the bound, plus the wanted clients' keys and allow-list keys
        matches = [call.kwargs["match"] for call in scans.call_args_list]
        assert set(matches) == {
            "rate_limit:*",
            "rate_limit:ip:10.0.0.5:*",
            "rate_limit:ip:10.9.9.9:*",
            "rate_limit:user:123:*",
        }
        assert all(call.kwargs["count"] == 20 for call in scans.call_args_list)
        assert result["clients"]["ip:10.0.0.5"]["requests"] == {"minute": 95, "hour": 900}  # complete
        assert result["clients"]["ip:10.9.9.9"]["allowlisted"] is True
        assert result["clients"]["user:123"]["requests"] == {"per_minute": 4}

    def test_allowlist_of_every_client_kind(self):
        seed(self.db)
        self.db.set("rate_limit:whitelist:user:123", "true", ex=300)
        self.db.set("rate_limit:whitelist:jwt:1", "true")
        self.db.set("rate_limit:whitelist:ip:10.0.0.5", "true", ex=100)
        self.db.set("rate_limit:whitelist:tenant:acme", "true")
        result = self.run(top=0, clients=["user:123", "jwt:1", "ip:10.0.0.5", "jwt:9f2c41d07a3b8e65"])
        assert set(result["allowlist"]) == {"ip:10.9.9.9", "ip:2001:db8::7", "user:123", "jwt:1", "ip:10.0.0.5"}
        clients = result["clients"]
        assert clients["user:123"]["allowlisted"] is True and 290 <= clients["user:123"]["allowlist_ttl"] <= 300
        assert clients["user:123"]["requests"] == {"per_minute": 4}
        assert clients["jwt:1"]["allowlisted"] is True and clients["jwt:1"]["exists"] is False
        assert clients["jwt:1"]["allowlist_ttl"] == -1
        assert clients["ip:10.0.0.5"]["allowlisted"] is True  # by its client id
        assert clients["jwt:9f2c41d07a3b8e65"]["allowlisted"] is False
        assert result["invalid_keys"] == 4
        assert {item["key"]: item["reason"] for item in result["invalid"]}["rate_limit:whitelist:tenant:acme"] == (
            "allow-list key names neither an IP address nor a client id: client 'tenant:acme' must be <kind>:<id> "
            "with kind one of ip, jwt, apikey, internal, user"
        )

    def test_allowlist_keys_of_wanted_clients_of_every_kind_are_read_when_truncated(self):
        pipe = self.db.pipeline(transaction=False)
        for i in range(100):
            pipe.set(f"rate_limit:ip:172.16.0.{i}:/api:minute", 1, ex=60)
        pipe.execute()
        self.db.set("rate_limit:whitelist:user:123", "true", ex=300)
        self.db.set("rate_limit:whitelist:internal:svc:eu", "true", ex=300)
        result = self.run(max_keys=10, scan_count=10, clients=["user:123", "internal:svc:eu", "jwt:1"])
        assert result["truncated"] is True
        assert result["clients"]["user:123"]["allowlisted"] is True
        assert result["clients"]["internal:svc:eu"]["allowlisted"] is True
        assert result["clients"]["jwt:1"]["allowlisted"] is False

    def test_allowlist_under_another_prefix_is_scanned_too(self):
        self.db.set("rate_limit:ip:10.0.0.1:/a:minute", 3, ex=60)
        self.db.set("allow:10.0.0.1", "true", ex=100)
        self.db.set("allow:10.0.0.2", "true", ex=100)
        result = self.run(allowlist_prefix="allow", clients=["ip:10.0.0.1"])
        assert set(result["allowlist"]) == {"ip:10.0.0.1", "ip:10.0.0.2"}
        assert result["clients"]["ip:10.0.0.1"]["allowlisted"] is True
        assert result["keys_examined"] == 3 and result["truncated"] is False
        # the counters alone fill max_keys: the allow-list is not scanned, and truncated says so
        capped = self.run(allowlist_prefix="allow", max_keys=1)
        assert capped["truncated"] is True and capped["allowlist"] == {}
        partly = self.run(allowlist_prefix="allow", max_keys=2)
        assert partly["truncated"] is True and len(partly["allowlist"]) == 1

    def test_empty_redis(self):
        result = self.run(limits=dict(LIMITS))
        assert result["redis_available"] is True
        assert result["clients"] == {} and result["top_clients"] == [] and result["median_requests"] == {}
        assert result["keys_examined"] == 0 and result["invalid_keys"] == 0
        assert "server_time" not in result

    def test_refused_command_fails_even_when_unreachable_is_tolerated(self):
        seed(self.db)
        self.db.execute_command("ACL", "SETUSER", "no-scan", "reset", "on", ">no-scan-pw", "~*", "+@all", "-scan")
        try:
            result = self._run(
                rate_limit_info.main,
                dict(host=self.conn["host"], port=self.conn["port"], username="no-scan", password="no-scan-pw")
                | dict(fail_on_unreachable=False),
            )
        finally:
            self.db.acl_deluser("no-scan")
        assert result["failed"] is True
        assert result["msg"].startswith(f"Cannot read rate limits from Redis at 127.0.0.1:{self.conn['port']}: ")
        assert "no permissions to run the 'scan' command" in result["msg"]
        assert "no-scan-pw" not in str(result)

    def test_wrong_password(self):
        wrong = "not-the-" + self.conn["password"]
        result = self.run(password=wrong)
        assert result["failed"] is True
        assert wrong not in str(result) and self.conn["password"] not in str(result)
        tolerated = self.run(password=wrong, fail_on_unreachable=False)
        assert tolerated["failed"] is False and tolerated["redis_available"] is False
        assert tolerated["error"].startswith(f"Cannot read rate limits from Redis at 127.0.0.1:{self.conn['port']}: ")


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_fails_without_the_password(run_module, closed_port):
    url = f"redis://default:S3cret-pw@127.0.0.1:{closed_port}/0"
    result = run_module(rate_limit_info.main, dict(url=url, connect_timeout=2))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot read rate limits from Redis at 127.0.0.1:{closed_port}: ")
    assert "S3cret-pw" not in str(result)
    assert result["redis_available"] is False


def test_unreachable_is_reported_when_tolerated(run_module, closed_port):
    url = f"redis://default:S3cret-pw@127.0.0.1:{closed_port}/0"
    result = run_module(rate_limit_info.main, dict(url=url, connect_timeout=2, fail_on_unreachable=False))
    assert result["failed"] is False
    assert result["redis_available"] is False
    assert result["error"].startswith(f"Cannot read rate limits from Redis at 127.0.0.1:{closed_port}: ")
    assert "S3cret-pw" not in str(result)
    assert result["clients"] == {}
