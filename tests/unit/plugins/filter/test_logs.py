"""Unit tests of the log_events and count_by filters."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.voicehive.remediation.plugins.filter.logs import FilterModule, count_by, log_events, parse_line

LINES = [
    "2026-12-06T21:20:00.000Z INFO orchestrator.livekit call_started room=call-1 hotel_id=hotel-001",
    "2026-12-06T21:21:00.100Z WARNING orchestrator.auth auth_failure reason=bad_password ip=198.51.100.23 user=admin",
    '2026-12-06T21:21:00.200Z WARNING orchestrator.auth auth_failure reason=user_not_found ip=203.0.113.77 user="a b"',
    "2026-12-06T21:21:01.000Z WARNING orchestrator.auth auth_failure reason=bad_password ip=198.51.100.23 user=root",
    "not a log line",
    '{"timestamp": "2026-12-06T21:22:00Z", "level": "warning", "event": "auth_failure", "ip": "192.0.2.200"}',
    '{"message": 5}',
    "[1, 2]",
    '2026-12-06T21:23:00.000Z WARNING orchestrator.auth auth_failure ip=192.0.2.1 user="unbalanced',
]


def test_text_lines_are_parsed_with_quoted_values() -> None:
    event = parse_line(LINES[2])
    assert event == {
        "ts": "2026-12-06T21:21:00.200Z",
        "level": "WARNING",
        "logger": "orchestrator.auth",
        "event": "auth_failure",
        "reason": "user_not_found",
        "ip": "203.0.113.77",
        "user": "a b",
    }


def test_json_lines_are_parsed_and_other_lines_left_out() -> None:
    assert parse_line(LINES[5])["ts"] == "2026-12-06T21:22:00Z"
    assert parse_line(LINES[5])["level"] == "WARNING"
    assert parse_line(LINES[4]) is None
    assert parse_line(LINES[6]) is None
    assert parse_line(LINES[7]) is None
    assert parse_line("") is None


def test_unbalanced_quotes_fall_back_to_blanks() -> None:
    assert parse_line(LINES[8])["ip"] == "192.0.2.1"


def test_events_and_since_select_lines() -> None:
    failures = log_events(LINES, ["auth_failure"])
    assert [e["ip"] for e in failures] == ["198.51.100.23", "203.0.113.77", "198.51.100.23", "192.0.2.200", "192.0.2.1"]
    assert len(log_events(LINES)) == 6
    assert len(log_events("\n".join(LINES), "call_started")) == 1
    assert [e["ip"] for e in log_events(LINES, ["auth_failure"], "2026-12-06T21:21:01")] == [
        "198.51.100.23",
        "192.0.2.200",
        "192.0.2.1",
    ]
    assert log_events([None, 5, LINES[1]], ["auth_failure"])[0]["user"] == "admin"


def test_count_by_orders_by_count_then_value() -> None:
    counts = count_by(log_events(LINES, ["auth_failure"]), "ip")
    assert list(counts.items()) == [("198.51.100.23", 2), ("192.0.2.1", 1), ("192.0.2.200", 1), ("203.0.113.77", 1)]
    assert count_by([{"ip": ""}, {"x": 1}, "text"], "ip") == {}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: log_events(5), "expects a list"),
        (lambda: log_events([], 5), "events must be"),
        (lambda: count_by("x", "ip"), "expects a list"),
        (lambda: count_by([], ""), "key must be"),
    ],
)
def test_bad_input_is_refused(call, message) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        call()


def test_filters_are_registered() -> None:
    assert set(FilterModule().filters()) == {"log_events", "count_by"}
