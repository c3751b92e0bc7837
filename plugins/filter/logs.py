# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that read the orchestrator's structured log lines: log_events, count_by.

The documentation of each filter is in the matching .yml file.
"""

from __future__ import annotations

import json
import re
import shlex
import typing as t

from ansible.errors import AnsibleFilterError

# <ISO time> <LEVEL> <logger> <event> key=value ... (values with blanks, quotes or '=' JSON-quoted)
_LINE_RE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT[0-9:.]+Z?)\s+(?P<level>[A-Z]+)\s+(?P<logger>\S+)\s+(?P<event>\S+)(?P<rest>.*)$"
)
_JSON_NAMES = {"ts": ("timestamp", "ts", "time", "@timestamp"), "level": ("level", "levelname", "severity")}


def _fields(rest: str) -> dict[str, str]:
    try:
        words = shlex.split(rest)
    except ValueError:  # an unbalanced quote: split on blanks
        words = rest.split()
    out = {}
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key:
            out[key] = value
    return out


def _from_json(line: str) -> dict[str, t.Any] | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("event", data.get("message")), str):
        return None
    event = dict(data)
    event["event"] = data.get("event", data.get("message"))
    for name, candidates in _JSON_NAMES.items():
        event[name] = next((str(data[c]) for c in candidates if c in data), "")
    event["level"] = event["level"].upper()
    event["logger"] = str(data.get("logger", data.get("name", "")))
    return event


def parse_line(line: str) -> dict[str, t.Any] | None:
    """One log line -> ``{ts, level, logger, event, <field>: <value>, ...}``; ``None`` when it is neither the
    orchestrator's text form nor a JSON object with an ``event`` (or ``message``)."""
    line = line.strip()
    if line.startswith("{"):
        return _from_json(line)
    match = _LINE_RE.match(line)
    if not match:
        return None
    event = _fields(match.group("rest"))
    event.update(ts=match.group("ts"), level=match.group("level"), logger=match.group("logger"))
    event["event"] = match.group("event")
    return event


def log_events(lines: t.Any, events: t.Any = None, since: str = "") -> list[dict[str, t.Any]]:
    """The parsed lines, only those whose event is in ``events`` (all when empty) and whose time is at or after
    ``since`` (an ISO time; compared as text, as the log writes UTC)."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    if not isinstance(lines, (list, tuple)):
        raise AnsibleFilterError("log_events: expects a list of log lines or a text")
    if events is not None and not isinstance(events, (list, tuple, str)):
        raise AnsibleFilterError("log_events: events must be a list of event names")
    wanted = {events} if isinstance(events, str) else set(events or ())
    out = []
    for line in lines:
        if not isinstance(line, str):
            continue
        event = parse_line(line)
        if event is None or (wanted and event["event"] not in wanted):
            continue
        if since and event["ts"] and event["ts"] < since:
            continue
        out.append(event)
    return out


def count_by(items: t.Any, key: str) -> dict[str, int]:
    """How many of ``items`` (dictionaries) have each value of ``key``, the most frequent first; items without the
    key are not counted."""
    if not isinstance(items, (list, tuple)):
        raise AnsibleFilterError("count_by: expects a list of dictionaries")
    if not isinstance(key, str) or not key:
        raise AnsibleFilterError("count_by: key must be a non-empty string")
    counts: dict[str, int] = {}
    for item in items:
        if isinstance(item, dict) and item.get(key) not in (None, ""):
            value = str(item[key])
            counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"log_events": log_events, "count_by": count_by}
