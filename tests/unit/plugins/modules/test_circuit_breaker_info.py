# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from unittest import mock

import pytest
import redis
import yaml
from redis_fakes import NOW, breaker_replies, patched_connect, read_replies, run_breaker_module

from ansible_collections.voicehive.remediation.plugins.modules import circuit_breaker_info

MODULE = "ansible_collections.voicehive.remediation.plugins.modules.circuit_breaker_info"
SECRET = "info-Pa55word"


@pytest.fixture(scope="module")
def specced():
    """Autospecs are slow to build (redis.Redis has hundreds of methods): build them once per module."""
    return mock.create_autospec(redis.Redis, instance=True), mock.create_autospec(redis.client.Pipeline, instance=True)


@pytest.fixture
def client(specced):
    """The redis client the module gets from its (patched, autospec) factory."""
    client, pipe = specced
    with patched_connect(MODULE, client, pipe):
        client.pipeline.return_value = pipe
        yield client


def set_replies(client, *breakers):
    client.pipeline.return_value.execute.return_value = read_replies(*breakers)


def set_scan(client, state_keys=(), stats_keys=()):
    def scan(cursor=0, match=None, count=None):
        return 0, list(state_keys if match.endswith(":state") else stats_keys)

    client.scan.side_effect = scan


def run(run_module, **args):
    return run_breaker_module(run_module, circuit_breaker_info.main, **args)


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(circuit_breaker_info.DOCUMENTATION)["options"]
    spec = circuit_breaker_info.argument_spec()
    assert sorted(doc) == sorted(spec)
    for name, option in spec.items():
        assert doc[name]["type"] == option["type"], name
        assert doc[name].get("default") == option.get("default"), name
        assert doc[name].get("elements") == option.get("elements"), name
    for section in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(circuit_breaker_info, section))


def test_reports_discovered_breakers(run_module, client):
    set_scan(
        client,
        state_keys=["circuit_breaker:pms_connector:state", "circuit_breaker:tts_service:state"],
        stats_keys=["circuit_breaker:pms_connector:stats", "circuit_breaker:vault_service:stats"],
    )
    stats = {
        "failure_count": "5",
        "success_count": "0",
        "total_requests": "120",
        "total_failures": "9",
        "total_successes": "111",
        "last_failure_time": str(NOW - 30.5),
        "last_success_time": "0",
    }
    set_replies(
        client,
        breaker_replies("open", 3412, stats, 3400),  # pms_connector
        breaker_replies("half_open", 100),  # tts_service
        breaker_replies(None, stats={"success_count": "3"}),  # vault_service: stats only
    )
    result = run(run_module, password=SECRET)

    assert result["failed"] is False
    assert result["changed"] is False
    assert result["redis_available"] is True
    assert result["count"] == 3
    assert result["open"] == ["pms_connector"]
    assert result["half_open"] == ["tts_service"]
    assert result["closed"] == ["vault_service"]
    assert result["invalid"] == []
    assert result["truncated"] is False
    pms = result["breakers"]["pms_connector"]
    assert pms["state"] == "open"
    assert pms["state_key_exists"] is True
    assert pms["ttl"] == 3412
    assert pms["stats_ttl"] == 3400
    assert pms["stats"] == {
        "failure_count": 5,
        "success_count": 0,
        "total_requests": 120,
        "total_failures": 9,
        "total_successes": 111,
        "last_failure_time": NOW - 30.5,
        "last_success_time": 0.0,
    }
    assert pms["seconds_since_last_failure"] == 30.5
    assert pms["seconds_since_last_success"] is None
    vault = result["breakers"]["vault_service"]
    assert vault["state"] == "closed"
    assert vault["state_key_exists"] is False
    assert vault["ttl"] is None
    assert vault["stats"]["success_count"] == 3
    assert "error" not in vault

    # SCAN (never KEYS) for both patterns, then one pipelined round trip
    assert client.keys.call_count == 0
    matches = sorted(call.kwargs["match"] for call in client.scan.call_args_list)
    assert matches == ["circuit_breaker:*:state", "circuit_breaker:*:stats"]
    client.pipeline.assert_called_once_with(transaction=False)
    client.pipeline.return_value.execute.assert_called_once_with(raise_on_error=False)
    client.factory.assert_called_once()


def test_listed_breaker_without_keys_is_closed(run_module, client):
    set_replies(client, breaker_replies(None))
    result = run(run_module, names=["apaleo_auth"], discover=False)
    assert client.scan.call_count == 0
    entry = result["breakers"]["apaleo_auth"]
    assert entry["state"] == "closed"
    assert entry["exists"] is False
    assert entry["stats"]["failure_count"] == 0
    assert result["closed"] == ["apaleo_auth"]


def test_names_are_added_to_discovered_ones(run_module, client):
    set_scan(client, state_keys=["circuit_breaker:pms_connector:state"])
    set_replies(client, breaker_replies(None), breaker_replies("open"))
    result = run(run_module, names=["apaleo_auth"])
    assert sorted(result["breakers"]) == ["apaleo_auth", "pms_connector"]
    assert result["open"] == ["pms_connector"]


def test_wrong_key_type_is_reported_not_failed(run_module, client):
    set_replies(
        client,
        breaker_replies(state_type="hash", stats={"failure_count": "2"}),
        breaker_replies("open", stats_type="list"),
    )
    result = run(run_module, names=["a", "b"], discover=False)
    assert result["failed"] is False
    assert result["invalid"] == ["a", "b"]
    assert result["breakers"]["a"]["error"] == "key circuit_breaker:a:state holds a hash, expected a string"
    assert result["breakers"]["b"]["error"] == "key circuit_breaker:b:stats holds a list, expected a hash"
    assert result["breakers"]["b"]["state"] == "open"
    assert result["open"] == ["b"]


@pytest.mark.parametrize(
    ("stored", "state", "error"),
    [
        ("OPEN", "open", None),
        (" half_open ", "half_open", None),
        ("tripped", "tripped", "unexpected state 'tripped'"),
    ],
)
def test_state_values(run_module, client, stored, state, error):
    set_replies(client, breaker_replies(stored))
    entry = run(run_module, names=["x"], discover=False)["breakers"]["x"]
    assert entry["state"] == state
    assert (error in entry["error"]) if error else ("error" not in entry)


def test_non_numeric_stats_field(run_module, client):
    set_replies(client, breaker_replies("closed", stats={"failure_count": "lots"}))
    entry = run(run_module, names=["x"], discover=False)["breakers"]["x"]
    assert entry["stats"]["failure_count"] is None
    assert "field failure_count of circuit_breaker:x:stats is not a number" in entry["error"]


def test_custom_prefix_is_escaped_for_scan(run_module, client):
    set_scan(client, state_keys=["cb[1]:a:state"])
    set_replies(client, breaker_replies("open"))
    result = run(run_module, key_prefix="cb[1]")
    assert result["open"] == ["a"]
    assert {call.kwargs["match"] for call in client.scan.call_args_list} == {"cb\\[1\\]:*:state", "cb\\[1\\]:*:stats"}


def test_scan_bound_is_reported(run_module, client):
    client.scan.return_value = (42, ["circuit_breaker:a:state", "circuit_breaker:b:state"])
    set_replies(client, breaker_replies("open"))
    result = run(run_module, max_keys=1, scan_count=10)
    assert result["truncated"] is True
    assert result["count"] == 1
    assert any("max_keys=1" in warning for warning in result["warnings"])
    assert all(call.kwargs["count"] == 10 for call in client.scan.call_args_list)


def test_unreachable_fails_with_host_port_and_no_password(run_module, client):
    client.ping.side_effect = redis.exceptions.ConnectionError(
        f"Error 111 connecting to redis://:{SECRET}@10.0.0.9:16379. Connection refused."
    )
    result = run(run_module, host="10.0.0.9", password=SECRET)
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot connect to Redis at 10.0.0.9:16379: Error 111")
    assert SECRET not in str(result)
    assert result["redis_available"] is False
    assert client.pipeline.call_count == 0


def test_unreachable_reported_when_fail_on_unreachable_is_false(run_module, client):
    client.ping.side_effect = redis.exceptions.TimeoutError("Timeout connecting to server")
    result = run(run_module, fail_on_unreachable=False, url=f"redis://app:{SECRET}@cache:6380/0")
    assert result["failed"] is False
    assert result["redis_available"] is False
    assert result["error"] == "Cannot connect to Redis at cache:6380: timed out (Timeout connecting to server)"
    assert result["breakers"] == {}
    assert SECRET not in str(result)


def test_authentication_failure_counts_as_unreachable(run_module, client):
    client.ping.side_effect = redis.exceptions.AuthenticationError("invalid username-password pair")
    result = run(run_module, fail_on_unreachable=False)
    assert result["redis_available"] is False
    assert "authentication failed" in result["error"]


def test_other_redis_errors_fail(run_module, client):
    client.scan.side_effect = redis.exceptions.NoPermissionError("NOPERM this user has no permissions to run 'scan'")
    result = run(run_module, fail_on_unreachable=False)
    assert result["failed"] is True
    assert result["msg"] == (
        "Cannot read circuit breakers from Redis at 127.0.0.1:16379: NOPERM this user has no permissions to run 'scan'"
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (dict(url="redis://h", db=1), "mutually exclusive"),
        (dict(max_keys=0), "max_keys must be at least 1"),
        (dict(scan_count=-1), "scan_count must be at least 1"),
        (dict(names=["ok", ""]), "must not contain empty names"),
        (dict(key_prefix=""), "key_prefix must not be empty"),
        (dict(bogus=1), "Unsupported parameters"),
    ],
)
def test_bad_input_is_refused_before_any_command(run_module, client, args, fragment):
    result = run(run_module, **args)
    assert result["failed"] is True
    assert fragment in result["msg"]
    assert client.ping.call_count == 0
    assert client.scan.call_count == 0


def test_check_mode_is_the_same_read(run_module, client):
    set_replies(client, breaker_replies("open"))
    result = run_module(circuit_breaker_info.main, dict(names=["x"], discover=False), check_mode=True)
    assert result["open"] == ["x"]
    assert result["changed"] is False
