# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import socket
from unittest import mock

import pytest
import redis
import yaml

from ansible_collections.voicehive.remediation.plugins.modules import rate_limit

MODULE = "ansible_collections.voicehive.remediation.plugins.modules.rate_limit"
CLIENT = "ip:10.0.0.5"
ALLOW = "rate_limit:whitelist:10.0.0.5"


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(rate_limit.DOCUMENTATION)["options"]
    spec = rate_limit.argument_spec()
    assert sorted(doc) == sorted(spec)
    for name, option in spec.items():
        assert doc[name]["type"] == option["type"], name
        assert doc[name].get("default") == option.get("default"), name
        assert doc[name].get("choices") == option.get("choices"), name
        assert doc[name].get("required", False) == option.get("required", False), name
    for section in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(rate_limit, section))


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
        (
            dict(client="tenant:acme", state="cleared"),
            "Cannot clear the rate limits of tenant:acme: client 'tenant:acme' must be <kind>:<id> with kind one of "
            "ip, jwt, apikey, internal, user",
        ),
        (
            dict(client="ip:10.0.0.256", state="cleared"),
            "Cannot clear the rate limits of ip:10.0.0.256: client 'ip:10.0.0.256': '10.0.0.256' is not an IPv4 or "
            "IPv6 address",
        ),
        (dict(client="ip:*", state="cleared"), "'*' is not an IPv4 or IPv6 address"),
        (dict(client="user:", state="cleared"), "has an empty id"),
        (
            dict(client=CLIENT, state="allowlisted"),
            "Cannot allow-list ip:10.0.0.5: ttl is required with state=allowlisted",
        ),
        (dict(client=CLIENT, state="allowlisted", ttl=59), "ttl must be between 60 and 604800 seconds, got 59"),
        (dict(client=CLIENT, state="allowlisted", ttl=604801), "ttl must be between 60 and 604800 seconds, got 604801"),
        (dict(client=CLIENT, state="cleared", ttl=600), "ttl only goes with state=allowlisted, not state=cleared"),
        (dict(client="user:123", state="allowlisted"), "Cannot allow-list user:123: ttl is required"),
        (
            dict(client="jwt:", state="not_allowlisted"),
            "Cannot remove jwt: from the allow-list: client 'jwt:' has an empty id",
        ),
        (dict(client=CLIENT, state="cleared", key_prefix=""), "key_prefix must not be empty"),
        (dict(client=CLIENT, state="not_allowlisted", allowlist_prefix=""), "allowlist_prefix must not be empty"),
        (dict(client=CLIENT, state="cleared", max_keys=0), "max_keys must be at least 1, got 0"),
        (dict(client=CLIENT, state="cleared", batch_size=0), "batch_size must be at least 1, got 0"),
        (dict(client=CLIENT, state="cleared", scan_count=0), "scan_count must be at least 1, got 0"),
        (dict(client=CLIENT), "missing required arguments: state"),
        (dict(client=CLIENT, state="blocked"), "value of state must be one of: cleared, allowlisted, not_allowlisted"),
    ],
)
def test_bad_input_is_refused_before_any_command(run_module, unused_client, args, message):
    result = run_module(rate_limit.main, dict(host="127.0.0.1", port=16379, **args))
    assert result["failed"] is True
    assert message in result["msg"]
    assert unused_client.method_calls == []


# ==========================================================================================
# The real commands, against the private redis-server
# ==========================================================================================


def client_keys(client, start):
    """The counter keys the service writes for ``client``: sliding windows, fixed windows, the guide's form."""
    return [
        f"rate_limit:{client}:/api/v1/calls:minute",
        f"rate_limit:{client}:/api/v1/calls:hour",
        f"rate_limit:{client}:/health:minute",
        f"rate_limit:{client}:/api/v1/bookings:minute:{start}",
        f"rate_limit:{client}:/api/v1/bookings:minute:{start - 60}",
        f"rate_limit:{client}:per_minute",
    ]


def seed_client(db, client, now=1_800_000_000):
    keys = client_keys(client, int(now // 60) * 60)
    pipe = db.pipeline(transaction=False)
    for key in keys:
        if key.endswith(("calls:minute", "calls:hour", "health:minute")):
            pipe.zadd(key, {str(now - i): now - i for i in range(5)})
            pipe.expire(key, 3600)
        else:
            pipe.set(key, 7, ex=120)
    pipe.execute()
    return keys


def everything(db):
    return set(db.scan_iter(count=1000))


def command_calls(db):
    return {name[len("cmdstat_") :]: stats["calls"] for name, stats in db.info("commandstats").items()}


class TestAgainstRealRedis:
    @pytest.fixture(autouse=True)
    def _server(self, redis_server, redis_db, run_module):
        self.db = redis_db
        self.conn = dict(host=redis_server["host"], port=redis_server["port"], password=redis_server["password"])
        self._run = run_module

    def run(self, check_mode=False, diff=False, **args):
        return self._run(rate_limit.main, dict(self.conn, **args), check_mode=check_mode, diff=diff)

    # --- cleared -------------------------------------------------------------------------------

    def test_clear_deletes_only_the_clients_counters(self):
        mine = seed_client(self.db, CLIENT)
        neighbours = seed_client(self.db, "ip:10.0.0.50") + seed_client(self.db, "ip:10.0.0.55")
        self.db.set(ALLOW, "true", ex=600)
        self.db.set("rate_limit:ip:10.0.0.5", "x")  # not under rate_limit:ip:10.0.0.5:* (nor the service's reset)
        before = everything(self.db)

        result = self.run(diff=True, client=CLIENT, state="cleared", batch_size=4)
        assert result["failed"] is False
        assert result["changed"] is True
        assert result["counter_keys"] == 6 and result["deleted"] == 6 and result["remaining"] == 0
        assert result["other_client_keys"] == 0
        assert result["commands"] == ["UNLINK 6 keys matching rate_limit:ip:10.0.0.5:*"]
        assert result["msg"] == "Cleared 6 rate-limit counters of ip:10.0.0.5"
        assert result["allowlisted"] is True  # the allow-list is left alone
        assert 590 <= result["allowlist_ttl"] <= 600
        assert result["diff"]["before"]["counter_keys"] == 6
        assert result["diff"]["after"] == dict(counter_keys=0, allowlisted=True, allowlist_ttl=result["allowlist_ttl"])
        assert everything(self.db) == before - set(mine)
        assert set(neighbours) <= everything(self.db)
        assert self.db.get(ALLOW) == "true" and self.db.ttl(ALLOW) > 0

        again = self.run(client=CLIENT, state="cleared")
        assert again["changed"] is False
        assert again["counter_keys"] == 0 and again["commands"] == []
        assert again["msg"] == "No rate-limit counter of ip:10.0.0.5 to clear"

    def test_clear_touches_only_the_client_among_20000_unrelated_keys(self):
        pipe = self.db.pipeline(transaction=False)
        for i in range(20_000):
            family = i % 4
            if family == 0:
                pipe.set(f"rate_limit:ip:10.{i // 65536}.{(i // 256) % 256}.{i % 256}:/api:minute", 1, ex=600)
            elif family == 1:
                pipe.set(f"rate_limit:ip:10.0.0.5{i}:/api:minute", 1, ex=600)  # ip:10.0.0.5<digits>: not ours
            elif family == 2:
                pipe.hset(f"session:{i:032x}", mapping={"user_id": str(i)})
            else:
                pipe.set(f"refresh_token:{i:08d}", "x")
        pipe.execute()
        mine = seed_client(self.db, CLIENT)
        before = everything(self.db)
        assert len(before) == 20_000 + len(mine)

        client = redis.Redis(**self.conn, decode_responses=True)
        deleted = []
        real_pipeline = client.pipeline

        def pipeline(transaction=True, shard_hint=None):
            pipe = real_pipeline(transaction=transaction, shard_hint=shard_hint)
            original = pipe.pipeline_execute_command

            def record(*args, **options):
                if args[0] in ("UNLINK", "DEL"):
                    deleted.extend(args[1:])
                return original(*args, **options)

            pipe.pipeline_execute_command = record
            return pipe

        self.db.config_resetstat()
        with (
            mock.patch.object(client, "pipeline", side_effect=pipeline),
            mock.patch(f"{MODULE}.connect", return_value=client),
        ):
            result = self.run(client=CLIENT, state="cleared")
        client.close()
        calls = command_calls(self.db)

        assert result["deleted"] == len(mine) == 6
        assert sorted(deleted) == sorted(mine)  # every delete named one of its keys, nothing else
        assert everything(self.db) == before - set(mine)
        assert calls["unlink"] == 6 and "del" not in calls
        assert "keys" not in calls and "flushdb" not in calls and "flushall" not in calls

    def test_check_mode_clears_nothing(self):
        mine = seed_client(self.db, CLIENT)
        result = self.run(check_mode=True, diff=True, client=CLIENT, state="cleared")
        assert result["changed"] is True
        assert result["deleted"] == 0 and result["counter_keys"] == 6 and result["remaining"] == 0
        assert result["commands"] == ["UNLINK 6 keys matching rate_limit:ip:10.0.0.5:*"]
        assert result["msg"] == "Would clear 6 rate-limit counters of ip:10.0.0.5"
        assert result["diff"] == dict(
            before=dict(counter_keys=6, allowlisted=False, allowlist_ttl=None),
            after=dict(counter_keys=0, allowlisted=False, allowlist_ttl=None),
        )
        assert everything(self.db) == set(mine)

    def test_clear_ipv6_client_leaves_longer_addresses_alone(self):
        mine = seed_client(self.db, "ip:::1")
        other = seed_client(self.db, "ip:::1:5")
        result = self.run(client="ip:::1", state="cleared")
        assert result["deleted"] == 6
        assert result["other_client_keys"] == 6  # ip:::1:5's keys matched the pattern, and were left
        assert everything(self.db) == set(other)
        assert not set(mine) & everything(self.db)

    def test_glob_characters_in_the_client_id_are_literal(self):
        mine = seed_client(self.db, "user:a*b")
        other = seed_client(self.db, "user:aXXb") + seed_client(self.db, "user:a*b?")
        result = self.run(client="user:a*b", state="cleared")
        assert result["commands"] == ["UNLINK 6 keys matching rate_limit:user:a\\*b:*"]
        assert result["deleted"] == 6
        assert result["allowlisted"] is False and result["allowlist_ttl"] is None
        assert everything(self.db) == set(other)
        assert not set(mine) & everything(self.db)

    def test_too_many_counters_fail_before_deleting(self):
        seed_client(self.db, CLIENT)
        result = self.run(client=CLIENT, state="cleared", max_keys=3, scan_count=2)
        assert result["failed"] is True and result["changed"] is False
        assert result["msg"] == (
            f"Cannot clear the rate limits of ip:10.0.0.5 in Redis at 127.0.0.1:{self.conn['port']}: it has more "
            "than max_keys=3 counter keys; nothing was deleted. Raise max_keys to clear them"
        )
        assert len(everything(self.db)) == 6

    def test_unlink_refused_falls_back_to_del(self):
        mine = seed_client(self.db, CLIENT)
        self.db.execute_command("ACL", "SETUSER", "rl-no-unlink", "reset", "on", ">pw1", "~*", "+@all", "-unlink")
        try:
            self.db.config_resetstat()
            result = self._run(
                rate_limit.main,
                dict(host=self.conn["host"], port=self.conn["port"], username="rl-no-unlink", password="pw1")
                | dict(client=CLIENT, state="cleared"),
            )
        finally:
            self.db.acl_deluser("rl-no-unlink")
        assert result["deleted"] == 6
        assert result["commands"] == ["DEL 6 keys matching rate_limit:ip:10.0.0.5:*"]
        assert command_calls(self.db)["del"] == 6
        assert not set(mine) & everything(self.db)

    def test_connection_lost_while_clearing_reports_progress(self):
        seed_client(self.db, CLIENT)
        client = redis.Redis(**self.conn, decode_responses=True)
        made = []
        real_pipeline = client.pipeline

        def pipeline(transaction=True, shard_hint=None):
            pipe = real_pipeline(transaction=transaction, shard_hint=shard_hint)
            made.append(pipe)
            if len(made) == 3:  # the allow-list read, the first delete batch, then the second batch fails
                pipe.execute = mock.Mock(side_effect=redis.exceptions.TimeoutError("Timeout reading from socket"))
            return pipe

        with (
            mock.patch.object(client, "pipeline", side_effect=pipeline),
            mock.patch(f"{MODULE}.connect", return_value=client),
        ):
            result = self.run(client=CLIENT, state="cleared", batch_size=4)
        client.close()
        assert result["failed"] is True and result["changed"] is True
        assert result["msg"] == (
            f"Cannot clear the rate limits of ip:10.0.0.5 in Redis at 127.0.0.1:{self.conn['port']}: timed out "
            "(Timeout reading from socket); 4 of 6 counter keys were deleted before the error"
        )
        assert len(everything(self.db)) == 2

    # --- allowlisted ---------------------------------------------------------------------------

    def test_allowlist_sets_true_with_the_ttl_and_is_idempotent(self):
        seed_client(self.db, CLIENT)
        result = self.run(diff=True, client=CLIENT, state="allowlisted", ttl=3600)
        assert result["changed"] is True
        assert result["commands"] == [f"SET {ALLOW} true EX 3600"]
        assert result["msg"] == "Allow-listed ip:10.0.0.5 for 3600 s"
        assert result["diff"] == dict(
            before=dict(counter_keys=6, allowlisted=False, allowlist_ttl=None),
            after=dict(counter_keys=6, allowlisted=True, allowlist_ttl=3600),
        )
        assert self.db.get(ALLOW) == "true" and 3590 <= self.db.ttl(ALLOW) <= 3600
        assert result["deleted"] == 0 and len(everything(self.db)) == 7  # the counters are kept

        again = self.run(client=CLIENT, state="allowlisted", ttl=3600)
        assert again["changed"] is False and again["commands"] == []
        assert again["msg"].startswith("ip:10.0.0.5 is already allow-listed (")

    @pytest.mark.parametrize(
        ("existing_ttl", "changed"),
        [(3300, False), (3240, False), (3000, True), (7200, False), (None, False)],
    )
    def test_allowlist_keeps_an_entry_within_ten_percent(self, existing_ttl, changed):
        self.db.set(ALLOW, "true", ex=existing_ttl)
        result = self.run(client=CLIENT, state="allowlisted", ttl=3600)
        assert result["changed"] is changed
        ttl = self.db.ttl(ALLOW)
        if changed:
            assert 3590 <= ttl <= 3600
        elif existing_ttl is None:
            assert ttl == -1
            assert any("never expires" in warning for warning in result["warnings"])
        else:
            assert existing_ttl - 10 <= ttl <= existing_ttl

    @pytest.mark.parametrize("kind", ["false", "hash"])
    def test_allowlist_overwrites_a_wrong_entry(self, kind):
        if kind == "hash":
            self.db.hset(ALLOW, mapping={"enabled": "true"})
        else:
            self.db.set(ALLOW, "false", ex=9999)
        result = self.run(client=CLIENT, state="allowlisted", ttl=600)
        assert result["changed"] is True
        assert self.db.get(ALLOW) == "true" and 590 <= self.db.ttl(ALLOW) <= 600

    def test_allowlist_check_mode_writes_nothing(self):
        result = self.run(check_mode=True, client="ip:2001:db8::7", state="allowlisted", ttl=600)
        assert result["changed"] is True
        assert result["commands"] == ["SET rate_limit:whitelist:2001:db8::7 true EX 600"]
        assert result["msg"] == "Would allow-list ip:2001:db8::7 for 600 s"
        assert result["allowlisted"] is True
        assert everything(self.db) == set()

    @pytest.mark.parametrize("who", ["user:123", "jwt:9f2c41d07a3b8e65", "internal:svc:eu", "apikey:vh_live_abcd"])
    def test_allowlist_every_client_kind_by_its_client_id(self, who):
        key = f"rate_limit:whitelist:{who}"
        seed_client(self.db, who)
        result = self.run(diff=True, client=who, state="allowlisted", ttl=600)
        assert result["changed"] is True and result["commands"] == [f"SET {key} true EX 600"]
        assert result["allowlisted"] is True and result["allowlist_ttl"] == 600
        assert result["diff"]["before"] == dict(counter_keys=6, allowlisted=False, allowlist_ttl=None)
        assert self.db.get(key) == "true" and 590 <= self.db.ttl(key) <= 600
        assert len(everything(self.db)) == 7  # the counters are kept

        again = self.run(client=who, state="allowlisted", ttl=600)
        assert again["changed"] is False and again["allowlisted"] is True

        removed = self.run(diff=True, client=who, state="not_allowlisted")
        assert removed["changed"] is True and removed["commands"] == [f"DEL {key}"]
        assert removed["diff"]["before"]["allowlisted"] is True and removed["allowlisted"] is False
        assert self.db.exists(key) == 0 and len(everything(self.db)) == 6

    def test_a_client_id_allowlist_leaves_the_ip_entries_alone(self):
        self.db.set("rate_limit:whitelist:10.0.0.5", "true", ex=600)
        result = self.run(client="user:10.0.0.5", state="not_allowlisted")
        assert result["changed"] is False and result["allowlisted"] is False
        assert self.db.exists("rate_limit:whitelist:10.0.0.5") == 1
        ip = self.run(client=CLIENT, state="allowlisted", ttl=600)
        assert ip["changed"] is False and ip["allowlisted"] is True  # the ip: client's key is <prefix>:<addr>

    def test_allowlist_works_for_a_client_with_very_many_counters(self):
        seed_client(self.db, CLIENT)
        result = self.run(client=CLIENT, state="allowlisted", ttl=600, max_keys=2)
        assert result["changed"] is True
        assert result["counter_keys"] >= 3  # a lower bound
        assert any("counter_keys is a lower bound" in warning for warning in result["warnings"])

    def test_allowlist_refused_write_fails_cleanly(self):
        self.db.execute_command("ACL", "SETUSER", "rl-no-set", "reset", "on", ">pw2", "~*", "+@all", "-set")
        try:
            result = self._run(
                rate_limit.main,
                dict(host=self.conn["host"], port=self.conn["port"], username="rl-no-set", password="pw2")
                | dict(client=CLIENT, state="allowlisted", ttl=600),
            )
        finally:
            self.db.acl_deluser("rl-no-set")
        assert result["failed"] is True
        assert result["msg"].startswith(f"Cannot allow-list ip:10.0.0.5 in Redis at 127.0.0.1:{self.conn['port']}: ")
        assert "no permissions to run the 'set' command" in result["msg"]
        assert "pw2" not in str(result)

    # --- not_allowlisted -----------------------------------------------------------------------

    def test_remove_from_allowlist(self):
        seed_client(self.db, CLIENT)
        self.db.set(ALLOW, "true", ex=600)
        dry = self.run(check_mode=True, client=CLIENT, state="not_allowlisted")
        assert dry["changed"] is True and dry["msg"] == "Would remove ip:10.0.0.5 from the allow-list"
        assert self.db.exists(ALLOW) == 1

        result = self.run(diff=True, client=CLIENT, state="not_allowlisted")
        assert result["changed"] is True
        assert result["commands"] == [f"DEL {ALLOW}"]
        assert result["msg"] == "Removed ip:10.0.0.5 from the allow-list"
        assert result["diff"]["before"]["allowlisted"] is True
        assert result["diff"]["after"] == dict(counter_keys=6, allowlisted=False, allowlist_ttl=None)
        assert self.db.exists(ALLOW) == 0
        assert len(everything(self.db)) == 6  # the counters are kept

        again = self.run(client=CLIENT, state="not_allowlisted")
        assert again["changed"] is False and again["msg"] == "ip:10.0.0.5 is not on the allow-list"

    def test_refused_allowlist_read_fails_before_writing(self):
        self.db.set(ALLOW, "true", ex=600)
        self.db.execute_command("ACL", "SETUSER", "rl-no-ttl", "reset", "on", ">pw3", "~*", "+@all", "-ttl")
        try:
            result = self._run(
                rate_limit.main,
                dict(host=self.conn["host"], port=self.conn["port"], username="rl-no-ttl", password="pw3")
                | dict(client=CLIENT, state="not_allowlisted"),
            )
        finally:
            self.db.acl_deluser("rl-no-ttl")
        assert result["failed"] is True and result["changed"] is False
        assert "no permissions to run the 'ttl' command" in result["msg"]
        assert result["commands"] == []
        assert self.db.exists(ALLOW) == 1

    def test_remove_a_malformed_allowlist_entry(self):
        self.db.rpush(ALLOW, "true")
        result = self.run(client=CLIENT, state="not_allowlisted")
        assert result["changed"] is True
        assert self.db.exists(ALLOW) == 0

    def test_wrong_password_never_in_messages(self):
        wrong = "not-the-" + self.conn["password"]
        result = self.run(password=wrong, client=CLIENT, state="cleared")
        assert result["failed"] is True
        assert result["msg"].startswith(
            f"Cannot clear the rate limits of ip:10.0.0.5 in Redis at 127.0.0.1:{self.conn['port']}: "
        )
        assert wrong not in str(result) and self.conn["password"] not in str(result)


def test_connection_refused_never_shows_the_password(run_module):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"redis://default:S3cret-pw@127.0.0.1:{port}/0"
    result = run_module(rate_limit.main, dict(url=url, client=CLIENT, state="not_allowlisted", connect_timeout=2))
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot remove ip:10.0.0.5 from the allow-list in Redis at 127.0.0.1:{port}: ")
    assert "S3cret-pw" not in str(result)
