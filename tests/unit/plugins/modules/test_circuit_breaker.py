# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import socket
import time
from unittest import mock

import pytest
import redis
import redis_fakes
import yaml
from redis_fakes import NOW, patched_connect, read_replies, run_breaker_module

from ansible_collections.voicehive.remediation.plugins.modules import circuit_breaker, circuit_breaker_info

MODULE = "ansible_collections.voicehive.remediation.plugins.modules.circuit_breaker"
SECRET = "cb-Pa55word"

OPEN_STATS = {
    "failure_count": "5",
    "success_count": "0",
    "last_failure_time": "1799999990.5",
    "last_success_time": "1799999000.0",
    "total_requests": "120",
    "total_failures": "9",
    "total_successes": "111",
}
RESET_STATS = dict(OPEN_STATS, failure_count="0", last_failure_time="0", last_success_time="0")


def breaker_replies(state=None, state_ttl=3000, stats=None, stats_ttl=3000, state_type=None, stats_type=None):
    """The six read replies for one breaker (TYPE/GET/TTL state, TYPE/HGETALL/TTL stats)."""
    return redis_fakes.breaker_replies(state, state_ttl, stats, stats_ttl, state_type, stats_type)


# ==========================================================================================
# The client patched at its factory (autospec)
# ==========================================================================================


@pytest.fixture(scope="module")
def specced():
    """Autospecs are slow to build: once per module, reset for every test."""
    return (
        mock.create_autospec(redis.Redis, instance=True),
        mock.create_autospec(redis.client.Pipeline, instance=True),  # reads (transaction=False)
        mock.create_autospec(redis.client.Pipeline, instance=True),  # WATCH + MULTI/EXEC
    )


@pytest.fixture
def client(specced):
    client, reads, tx = specced
    with patched_connect(MODULE, client, reads, tx):
        client.pipeline.side_effect = lambda transaction=True, shard_hint=None: tx if transaction else reads
        client.reads, client.tx = reads, tx
        yield client


def set_replies(client, *breakers):
    client.reads.execute.return_value = read_replies(*breakers)


def run(run_module, check_mode=False, diff=False, **args):
    return run_breaker_module(run_module, circuit_breaker.main, check_mode=check_mode, diff=diff, **args)


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(circuit_breaker.DOCUMENTATION)["options"]
    spec = circuit_breaker.argument_spec()
    assert sorted(doc) == sorted(spec)
    for name, option in spec.items():
        assert doc[name]["type"] == option["type"], name
        assert doc[name].get("default") == option.get("default"), name
        assert doc[name].get("choices") == option.get("choices"), name
        assert doc[name].get("required", False) == option.get("required", False), name
        assert doc[name].get("elements") == option.get("elements"), name
    for section in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(circuit_breaker, section))


def test_reset_open_breaker(run_module, client):
    set_replies(client, breaker_replies("open", 3000, OPEN_STATS, 2990))
    result = run(run_module, names=["pms_connector"], state="closed", password=SECRET)

    assert result["failed"] is False
    assert result["changed"] is True
    assert result["changed_breakers"] == ["pms_connector"]
    assert result["commands"] == [
        "SET circuit_breaker:pms_connector:state closed EX 3600",
        "HSET circuit_breaker:pms_connector:stats failure_count 0 last_failure_time 0 last_success_time 0",
    ]
    assert result["msg"] == "Closed 1 circuit breaker: pms_connector"
    entry = result["breakers"]["pms_connector"]
    assert entry["changed"] is True
    assert entry["before"] == dict(
        state="open", failure_count=5, success_count=0, last_failure_time=1799999990.5, last_success_time=1799999000.0
    )
    assert entry["after"] == dict(
        state="closed", failure_count=0, success_count=0, last_failure_time=0, last_success_time=0
    )
    assert "diff" not in result

    tx = client.tx
    tx.watch.assert_called_once_with("circuit_breaker:pms_connector:state", "circuit_breaker:pms_connector:stats")
    tx.multi.assert_called_once_with()
    tx.set.assert_called_once_with("circuit_breaker:pms_connector:state", "closed", ex=3600)
    tx.hset.assert_called_once_with(
        "circuit_breaker:pms_connector:stats",
        mapping={"failure_count": "0", "last_failure_time": "0", "last_success_time": "0"},
    )
    tx.expire.assert_not_called()  # the stats hash keeps its own expiry
    tx.execute.assert_called_once_with()
    tx.reset.assert_called_once_with()
    client.factory.assert_called_once()


def test_stats_without_expiry_get_the_ttl(run_module, client):
    set_replies(client, breaker_replies("open", 10, OPEN_STATS, -1))
    result = run(run_module, names=["x"], state="closed", ttl=600)
    assert result["commands"][-1] == "EXPIRE circuit_breaker:x:stats 600"
    client.tx.set.assert_called_once_with("circuit_breaker:x:state", "closed", ex=600)
    client.tx.expire.assert_called_once_with("circuit_breaker:x:stats", 600)


@pytest.mark.parametrize(
    ("replies", "state"),
    [
        (breaker_replies("closed", 100, RESET_STATS), "closed"),
        (breaker_replies("CLOSED", 100, {"failure_count": "0.0"}), "closed"),
        (breaker_replies(None, stats=RESET_STATS), "closed"),  # no state key: closed
        (breaker_replies("open", 100, OPEN_STATS), "open"),
    ],
)
def test_already_in_state_is_no_change(run_module, client, replies, state):
    set_replies(client, replies)
    result = run(run_module, names=["x"], state=state)
    assert result["changed"] is False
    assert result["commands"] == []
    assert result["changed_breakers"] == []
    assert result["breakers"]["x"]["changed"] is False
    assert result["msg"] == f"Circuit breakers already {state}: x"
    client.tx.multi.assert_not_called()
    client.tx.execute.assert_not_called()


def test_closed_breaker_keeps_its_live_counters(run_module, client):
    set_replies(client, breaker_replies("closed", 100, dict(RESET_STATS, success_count="2", last_success_time="9.5")))
    result = run(run_module, names=["x"], state="closed")
    assert result["changed"] is False
    assert result["commands"] == []
    client.tx.multi.assert_not_called()


def test_closed_breaker_counters_reset_on_request(run_module, client):
    set_replies(client, breaker_replies(None, stats=dict(RESET_STATS, success_count="2")))
    result = run(run_module, names=["x"], state="closed", reset_closed=True)
    assert result["changed"] is True
    assert result["commands"] == ["HSET circuit_breaker:x:stats success_count 0"]
    client.tx.set.assert_not_called()
    client.tx.hset.assert_called_once_with("circuit_breaker:x:stats", mapping={"success_count": "0"})


def test_check_mode_reports_and_writes_nothing(run_module, client):
    set_replies(client, breaker_replies("open", 3000, OPEN_STATS, 2990))
    result = run(run_module, check_mode=True, diff=True, names=["pms_connector"], state="closed")
    assert result["changed"] is True
    assert result["msg"] == "Would have closed 1 circuit breaker: pms_connector"
    assert len(result["commands"]) == 2
    assert result["diff"]["before"]["circuit_breaker:pms_connector:state"] == dict(value="open", ttl=3000)
    # no transactional pipeline at all in check mode: nothing can be written
    assert [c.kwargs.get("transaction", True) for c in client.pipeline.call_args_list] == [False]
    for method in ("watch", "multi", "set", "hset", "expire", "execute"):
        assert getattr(client.tx, method).call_count == 0, method
    for method in ("set", "hset", "expire", "delete", "flushdb", "keys"):
        assert getattr(client, method).call_count == 0, method


def test_diff_shows_exact_keys_and_fields(run_module, client):
    set_replies(client, breaker_replies("open", 3000, dict(OPEN_STATS, success_count="1"), -1))
    result = run(run_module, diff=True, names=["x"], state="closed")
    assert result["diff"] == {
        "before": {
            "circuit_breaker:x:state": {"value": "open", "ttl": 3000},
            "circuit_breaker:x:stats": {
                "fields": {
                    "failure_count": "5",
                    "success_count": "1",
                    "last_failure_time": "1799999990.5",
                    "last_success_time": "1799999000.0",
                },
                "ttl": -1,
            },
        },
        "after": {
            "circuit_breaker:x:state": {"value": "closed", "ttl": 3600},
            "circuit_breaker:x:stats": {
                "fields": {
                    "failure_count": "0",
                    "success_count": "0",
                    "last_failure_time": "0",
                    "last_success_time": "0",
                },
                "ttl": 3600,
            },
        },
    }


def test_force_open_sets_last_failure_time_to_server_time_and_keeps_counts(run_module, client):
    set_replies(client, breaker_replies("closed", 3000, RESET_STATS, 3000))
    result = run(run_module, names=["apaleo_api"], state="open", ttl=1800)
    assert result["changed"] is True
    assert result["commands"] == [
        "SET circuit_breaker:apaleo_api:state open EX 1800",
        f"HSET circuit_breaker:apaleo_api:stats last_failure_time {NOW!r}",
    ]
    client.tx.hset.assert_called_once_with("circuit_breaker:apaleo_api:stats", mapping={"last_failure_time": repr(NOW)})
    assert result["breakers"]["apaleo_api"]["after"]["failure_count"] == 0
    assert result["msg"] == "Opened 1 circuit breaker: apaleo_api"


def test_wrong_key_type_fails_before_writing(run_module, client):
    set_replies(client, breaker_replies("open", stats=OPEN_STATS), breaker_replies(state_type="hash"))
    result = run(run_module, names=["good", "pms_connector"], state="closed")
    assert result["failed"] is True
    assert result["msg"] == (
        "Cannot reset circuit breaker pms_connector: key circuit_breaker:pms_connector:state holds a hash, "
        "expected a string"
    )
    client.tx.multi.assert_not_called()
    client.tx.set.assert_not_called()
    client.tx.execute.assert_not_called()
    client.tx.reset.assert_called_once_with()  # the WATCH is released


def test_unknown_breaker_is_refused(run_module, client):
    set_replies(client, breaker_replies(None))
    result = run(run_module, names=["pms_conector"], state="open")
    assert result["failed"] is True
    assert result["msg"] == (
        "Cannot open circuit breaker pms_conector: unknown breaker, neither circuit_breaker:pms_conector:state "
        "nor circuit_breaker:pms_conector:stats exists (check the name, or set create=true)"
    )
    client.tx.execute.assert_not_called()


def test_unknown_breaker_created_on_request(run_module, client):
    set_replies(client, breaker_replies(None))
    result = run(run_module, names=["new"], state="open", create=True)
    assert result["commands"] == [
        "SET circuit_breaker:new:state open EX 3600",
        f"HSET circuit_breaker:new:stats last_failure_time {NOW!r}",
        "EXPIRE circuit_breaker:new:stats 3600",
    ]


def test_all_open_resets_only_open_breakers(run_module, client):
    client.scan.return_value = (0, ["circuit_breaker:a:state", "circuit_breaker:b:state", "circuit_breaker:c:state"])
    set_replies(
        client,
        breaker_replies("open", stats=OPEN_STATS),
        breaker_replies("half_open", stats=OPEN_STATS),
        breaker_replies(state_type="hash"),
    )
    result = run(run_module, all_open=True, state="closed")
    assert result["changed_breakers"] == ["a"]
    assert list(result["breakers"]) == ["a"]
    assert any("Skipped circuit breaker c" in warning for warning in result["warnings"])
    assert client.scan.call_args.kwargs["match"] == "circuit_breaker:*:state"
    assert client.keys.call_count == 0


def test_all_open_with_nothing_open(run_module, client):
    result = run(run_module, all_open=True, state="closed")
    assert result["changed"] is False
    assert result["msg"] == "No open circuit breaker found"
    client.pipeline.assert_not_called()


def test_watch_conflict_is_retried(run_module, client):
    set_replies(client, breaker_replies("open", stats=OPEN_STATS))
    client.tx.execute.side_effect = [redis.exceptions.WatchError("changed"), [True, 3]]
    result = run(run_module, names=["x"], state="closed")
    assert result["changed"] is True
    assert client.tx.execute.call_count == 2
    assert client.tx.watch.call_count == 2
    assert client.tx.reset.call_count == 2


def test_watch_conflict_gives_up(run_module, client):
    set_replies(client, breaker_replies("open", stats=OPEN_STATS))
    client.tx.execute.side_effect = redis.exceptions.WatchError("changed")
    result = run(run_module, names=["x"], state="closed")
    assert result["failed"] is True
    assert "kept changing while being updated (3 attempts)" in result["msg"]
    assert client.tx.execute.call_count == 3


def test_unreachable_fails_without_password(run_module, client):
    client.ping.side_effect = redis.exceptions.ConnectionError(f"cannot reach redis://:{SECRET}@cache:6390")
    result = run(run_module, url=f"redis://:{SECRET}@cache:6390/0", names=["x"], state="closed")
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot connect to Redis at cache:6390: ")
    assert SECRET not in str(result)
    client.pipeline.assert_not_called()


def test_error_during_write_is_reported(run_module, client):
    set_replies(client, breaker_replies("open", stats=OPEN_STATS))
    client.tx.execute.side_effect = redis.exceptions.ResponseError("OOM command not allowed")
    result = run(run_module, names=["x"], state="closed")
    assert result["failed"] is True
    assert result["msg"].startswith(
        "Cannot reset circuit breakers in Redis at 127.0.0.1:16379: OOM command not allowed; the transaction was sent"
    )
    assert result["commands"][0] == "SET circuit_breaker:x:state closed EX 3600"


def test_error_while_reading_is_reported(run_module, client):
    client.reads.execute.side_effect = redis.exceptions.TimeoutError("Timeout reading from socket")
    result = run(run_module, names=["x"], state="closed")
    assert result["failed"] is True
    assert result["msg"] == (
        "Cannot reset circuit breakers in Redis at 127.0.0.1:16379: timed out (Timeout reading from socket)"
    )
    assert result["commands"] == []
    client.tx.execute.assert_not_called()
    client.tx.reset.assert_called_once_with()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (dict(state="closed"), "one of the following is required: names, all_open"),
        (dict(names=["x"], all_open=True, state="closed"), "mutually exclusive"),
        (dict(names=["x"]), "missing required arguments: state"),
        (dict(names=["x"], state="half_open"), "value of state must be one of"),
        (dict(all_open=True, state="open"), "all_open=true only goes with state=closed"),
        (dict(all_open=False, state="closed"), "give names, or all_open=true"),
        (dict(names=["x", ""], state="closed"), "must not contain empty names"),
        (dict(names=["x"], state="closed", ttl=0), "ttl must be at least 1"),
        (dict(names=["x"], state="closed", key_prefix=""), "key_prefix must not be empty"),
        (dict(names=["x"], state="closed", ttl="soon"), "ttl"),
    ],
)
def test_bad_input_is_refused_before_any_command(run_module, client, args, fragment):
    result = run(run_module, **args)
    assert result["failed"] is True
    assert fragment in result["msg"]
    assert client.ping.call_count == 0
    assert client.pipeline.call_count == 0


# ==========================================================================================
# The real commands, against a private redis-server
# ==========================================================================================


def seed_open(db, name, stats=None, state="open", stats_ttl=3000):
    db.set(f"circuit_breaker:{name}:state", state, ex=3000)
    db.hset(f"circuit_breaker:{name}:stats", mapping=stats or OPEN_STATS)
    if stats_ttl:
        db.expire(f"circuit_breaker:{name}:stats", stats_ttl)


def snapshot(db):
    """Every key with its type, value and TTL (the private server only holds the test's keys)."""
    out = {}
    for key in sorted(db.scan_iter(count=100)):
        kind = db.type(key)
        value = db.get(key) if kind == "string" else db.hgetall(key) if kind == "hash" else db.dump(key)
        out[key] = (kind, value, db.ttl(key))
    return out


class TestAgainstRealRedis:
    @pytest.fixture(autouse=True)
    def _server(self, redis_server, redis_db, run_module):
        self.db = redis_db
        self.conn = dict(host=redis_server["host"], port=redis_server["port"], password=redis_server["password"])
        self.password = redis_server["password"]
        self._run = run_module

    def run(self, check_mode=False, diff=False, **args):
        return self._run(circuit_breaker.main, dict(self.conn, **args), check_mode=check_mode, diff=diff)

    def info(self, **args):
        return self._run(circuit_breaker_info.main, dict(self.conn, **args))

    def test_reset_keeps_totals_and_sets_ttl(self):
        seed_open(self.db, "pms_connector", stats_ttl=1234)
        result = self.run(names=["pms_connector"], state="closed")
        assert result["changed"] is True
        assert self.db.get("circuit_breaker:pms_connector:state") == "closed"
        assert 3590 <= self.db.ttl("circuit_breaker:pms_connector:state") <= 3600
        stats = self.db.hgetall("circuit_breaker:pms_connector:stats")
        assert stats == RESET_STATS | {"success_count": "0"}
        assert (stats["total_requests"], stats["total_failures"], stats["total_successes"]) == ("120", "9", "111")
        assert 1200 <= self.db.ttl("circuit_breaker:pms_connector:stats") <= 1234  # kept its own expiry

    def test_closed_breaker_with_live_traffic_is_idempotent(self):
        seed_open(self.db, "tts_service", state="closed", stats=dict(RESET_STATS, success_count="41"))
        assert self.run(names=["tts_service"], state="closed")["changed"] is False
        self.db.hincrby("circuit_breaker:tts_service:stats", "success_count", 1)  # traffic goes on
        assert self.run(names=["tts_service"], state="closed")["changed"] is False
        forced = self.run(names=["tts_service"], state="closed", reset_closed=True)
        assert forced["changed"] is True
        assert self.db.hget("circuit_breaker:tts_service:stats", "success_count") == "0"
        assert self.db.hget("circuit_breaker:tts_service:stats", "total_requests") == "120"

    def test_stats_without_expiry_get_one(self):
        seed_open(self.db, "x", stats_ttl=None)
        assert self.db.ttl("circuit_breaker:x:stats") == -1
        self.run(names=["x"], state="closed", ttl=900)
        assert 890 <= self.db.ttl("circuit_breaker:x:stats") <= 900
        assert 890 <= self.db.ttl("circuit_breaker:x:state") <= 900

    def test_second_run_changes_nothing(self):
        seed_open(self.db, "pms_connector")
        first = self.run(names=["pms_connector"], state="closed")
        before = snapshot(self.db)
        second = self.run(names=["pms_connector"], state="closed")
        assert first["changed"] is True
        assert second["changed"] is False
        assert second["commands"] == []
        assert {k: v[:2] for k, v in snapshot(self.db).items()} == {k: v[:2] for k, v in before.items()}

    def test_check_mode_writes_nothing(self):
        seed_open(self.db, "pms_connector")
        before = snapshot(self.db)
        result = self.run(check_mode=True, diff=True, names=["pms_connector"], state="closed")
        assert result["changed"] is True
        assert result["commands"][0] == "SET circuit_breaker:pms_connector:state closed EX 3600"
        after = snapshot(self.db)
        assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in before.items()}
        assert self.db.get("circuit_breaker:pms_connector:state") == "open"

    def test_wrong_type_fails_and_nothing_is_written(self):
        seed_open(self.db, "good")
        self.db.hset("circuit_breaker:bad:state", mapping={"state": "open"})
        before = snapshot(self.db)
        result = self.run(names=["good", "bad"], state="closed")
        assert result["failed"] is True
        assert result["msg"] == (
            "Cannot reset circuit breaker bad: key circuit_breaker:bad:state holds a hash, expected a string"
        )
        assert {k: v[:2] for k, v in snapshot(self.db).items()} == {k: v[:2] for k, v in before.items()}

    def test_unknown_breaker_refused_and_nothing_written(self):
        seed_open(self.db, "pms_connector")
        result = self.run(names=["pms_connector", "pms_conector"], state="closed")
        assert result["failed"] is True
        assert "Cannot reset circuit breaker pms_conector: unknown breaker" in result["msg"]
        assert self.db.get("circuit_breaker:pms_connector:state") == "open"

    def test_force_open_then_reset(self):
        seed_open(self.db, "apaleo_api", stats=RESET_STATS, state="closed")
        opened = self.run(names=["apaleo_api"], state="open", ttl=1800)
        assert opened["changed"] is True
        assert self.db.get("circuit_breaker:apaleo_api:state") == "open"
        assert 1790 <= self.db.ttl("circuit_breaker:apaleo_api:state") <= 1800
        last_failure = float(self.db.hget("circuit_breaker:apaleo_api:stats", "last_failure_time"))
        server_now = self.db.time()[0]
        assert abs(last_failure - server_now) < 5
        assert self.db.hget("circuit_breaker:apaleo_api:stats", "total_requests") == "120"
        assert self.run(names=["apaleo_api"], state="open")["changed"] is False

        info = self.info(names=["apaleo_api"], discover=False)["breakers"]["apaleo_api"]
        assert info["state"] == "open"
        assert 0 <= info["seconds_since_last_failure"] < 5

        closed = self.run(names=["apaleo_api"], state="closed")
        assert closed["changed"] is True
        assert self.db.hget("circuit_breaker:apaleo_api:stats", "last_failure_time") == "0"

    def test_all_open(self):
        seed_open(self.db, "a")
        seed_open(self.db, "b", state="half_open")
        seed_open(self.db, "c", state="closed", stats=RESET_STATS)
        result = self.run(all_open=True, state="closed")
        assert result["changed_breakers"] == ["a"]
        assert self.db.get("circuit_breaker:a:state") == "closed"
        assert self.db.get("circuit_breaker:b:state") == "half_open"
        assert self.run(all_open=True, state="closed")["changed"] is False

    def test_info_reads_the_real_keys(self):
        seed_open(self.db, "pms_connector")
        self.db.hset("circuit_breaker:tts_service:stats", mapping={"total_requests": "4"})
        self.db.set("circuit_breaker:weird:state", "open")
        self.db.rpush("circuit_breaker:weird:stats", "x")
        result = self.info()
        assert result["open"] == ["pms_connector", "weird"]
        assert result["closed"] == ["tts_service"]
        assert result["invalid"] == ["weird"]
        assert result["breakers"]["weird"]["ttl"] == -1
        assert result["breakers"]["weird"]["error"] == "key circuit_breaker:weird:stats holds a list, expected a hash"
        pms = result["breakers"]["pms_connector"]
        assert pms["stats"]["failure_count"] == 5
        assert pms["stats"]["total_requests"] == 120
        assert abs(result["server_time"] - time.time()) < 5

    def test_wrong_password_never_in_messages(self):
        wrong = "not-the-" + self.password
        result = self._run(
            circuit_breaker.main,
            dict(host=self.conn["host"], port=self.conn["port"], password=wrong, names=["x"], state="closed"),
        )
        assert result["failed"] is True
        assert result["msg"].startswith(f"Cannot connect to Redis at 127.0.0.1:{self.conn['port']}: ")
        assert "authentication failed" in result["msg"] or "NOAUTH" in result["msg"] or "WRONGPASS" in result["msg"]
        assert wrong not in str(result)
        assert self.password not in str(result)

    def test_url_with_password_to_a_closed_port_never_in_messages(self):
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"redis://default:{self.password}@127.0.0.1:{port}/0"
        result = self._run(circuit_breaker_info.main, dict(url=url, fail_on_unreachable=False, connect_timeout=2))
        assert result["redis_available"] is False
        assert self.password not in str(result)
        assert url not in str(result)
        assert result["error"].startswith("Cannot connect to Redis at 127.0.0.1:")
