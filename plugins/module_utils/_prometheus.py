# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""Prometheus text exposition format parser, shared by the ``prom_parse`` filters and ``site_info``.

Pure Python on purpose: prometheus_client may be absent on the controller or in the execution
environment. ``parse_text()`` raises ``PrometheusParseError`` (a ``ValueError``) with the line number.
"""

from __future__ import annotations

import re
import typing as t


class PrometheusParseError(ValueError):
    """The text is not valid Prometheus exposition format; the message names the line."""


METRIC_TYPES = ("counter", "gauge", "histogram", "summary", "untyped", "unknown", "info", "stateset", "gaugehistogram")
# sample name suffixes that belong to a family declared without them (# TYPE foo histogram -> foo_bucket ...)
FAMILY_SUFFIXES = ("_bucket", "_count", "_sum", "_created", "_total", "_gcount", "_gsum", "_info")

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_FLOAT = re.compile(r"[+-]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\Z", re.IGNORECASE)
_TIMESTAMP = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\Z")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class _LineError(ValueError):
    pass


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _read_quoted(line: str, pos: int) -> tuple[str, int]:
    """Read a double-quoted string starting at ``line[pos] == '"'``; returns (text, position after it)."""
    out = []
    i = pos + 1
    while i < len(line):
        char = line[i]
        if char == "\\":
            if i + 1 >= len(line):
                break
            nxt = line[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise _LineError("unterminated quoted string")


def _skip_spaces(line: str, pos: int) -> int:
    while pos < len(line) and line[pos] in " \t":
        pos += 1
    return pos


def _parse_labels(line: str, pos: int) -> tuple[dict[str, str], str | None, int]:
    """Parse ``label="value",...}`` from ``pos`` (just after ``{``).

    Returns (labels, quoted metric name or None, position after ``}``). A quoted string that is not
    followed by ``=`` is the metric name (the UTF-8 form ``{"my.metric", code="200"}``).
    """
    labels: dict[str, str] = {}
    quoted_name = None
    while True:
        pos = _skip_spaces(line, pos)
        if pos >= len(line):
            raise _LineError("missing '}' after the labels")
        if line[pos] == "}":
            return labels, quoted_name, pos + 1
        quoted = line[pos] == '"'
        if quoted:
            label, pos = _read_quoted(line, pos)
        else:
            match = _LABEL_NAME.match(line, pos)
            if not match:
                raise _LineError(f"invalid label name at column {pos + 1}")
            label, pos = match.group(), match.end()
        pos = _skip_spaces(line, pos)
        if pos < len(line) and line[pos] == "=":
            pos = _skip_spaces(line, pos + 1)
            if pos >= len(line) or line[pos] != '"':
                raise _LineError(f"label {label!r} has no quoted value")
            value, pos = _read_quoted(line, pos)
            if label in labels:
                raise _LineError(f"duplicate label {label!r}")
            labels[label] = value
        elif quoted and quoted_name is None and not labels:
            quoted_name = label
        else:
            raise _LineError(f"expected '=' after label {label!r}")
        pos = _skip_spaces(line, pos)
        if pos >= len(line):
            raise _LineError("missing '}' after the labels")
        if line[pos] == ",":
            pos += 1
        elif line[pos] != "}":
            raise _LineError("expected ',' or '}' between labels")


def _parse_value(text: str) -> float:
    if not _FLOAT.match(text):
        raise _LineError(f"invalid value {_short(text)}")
    return float(text)


def _parse_timestamp(text: str) -> int | float:
    if not _TIMESTAMP.match(text):
        raise _LineError(f"invalid timestamp {_short(text)}")
    number = float(text)
    return int(number) if number.is_integer() and "." not in text else number


def _parse_sample(line: str) -> tuple[str, dict[str, str], float, int | float | None]:
    match = _METRIC_NAME.match(line)
    name = match.group() if match else None
    pos = match.end() if match else 0
    labels: dict[str, str] = {}
    if pos < len(line) and line[pos] == "{":
        labels, quoted_name, pos = _parse_labels(line, pos + 1)
        if quoted_name is not None:
            if name:
                raise _LineError("metric name given twice")
            name = quoted_name
    if not name:
        raise _LineError("missing metric name")
    rest = line[pos:]
    if not rest or rest[0] not in " \t":
        raise _LineError(f"expected a space and a value after {_short(name)}")
    rest = rest.split(" # ", 1)[0]  # OpenMetrics exemplar
    fields = rest.split()
    if not fields or len(fields) > 2:
        raise _LineError("expected a value and an optional timestamp")
    value = _parse_value(fields[0])
    timestamp = _parse_timestamp(fields[1]) if len(fields) == 2 else None
    return name, labels, value, timestamp


def _unescape_help(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"\\": "\\", "n": "\n"}.get(m.group(1), m.group(0)), text)


def _family(name: str, types: dict[str, str]) -> str:
    if name in types:
        return name
    for suffix in FAMILY_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in types:
            return name[: -len(suffix)]
    return name


def parse_text(text: t.Any) -> list[dict[str, t.Any]]:
    """Parse Prometheus text exposition format into ``[{name, labels, value, timestamp, family, type, help}]``."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise PrometheusParseError(f"expected the text of a /metrics page, got {type(text).__name__}")

    types: dict[str, str] = {}
    helps: dict[str, str] = {}
    samples: list[dict[str, t.Any]] = []
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        try:
            if line.startswith("#"):
                words = line[1:].strip().split(None, 2)
                if words[:1] == ["EOF"] and len(words) == 1:
                    break
                if words[:1] not in (["HELP"], ["TYPE"]):
                    continue  # a plain comment
                if len(words) < 2 or not _METRIC_NAME.fullmatch(words[1]):
                    raise _LineError(f"{words[0]} line without a valid metric name")
                name = words[1]
                if words[0] == "HELP":
                    helps[name] = _unescape_help(words[2]) if len(words) > 2 else ""
                else:
                    kind = words[2].strip().lower() if len(words) > 2 else ""
                    if kind not in METRIC_TYPES:
                        raise _LineError(f"unknown metric type {kind!r} for {name!r}")
                    if types.get(name, kind) != kind:
                        raise _LineError(f"second TYPE line for {name!r} ({types[name]!r}, then {kind!r})")
                    types[name] = kind
                continue
            name, labels, value, timestamp = _parse_sample(line)
        except _LineError as e:
            shown = raw_line if len(raw_line) <= 200 else raw_line[:200] + "..."
            raise PrometheusParseError(f"line {lineno}: {e}: {shown!r}") from None
        family = _family(name, types)
        samples.append(
            dict(
                name=name,
                labels=labels,
                value=value,
                timestamp=timestamp,
                family=family,
                type=types.get(family, "untyped"),
                help=helps.get(family),
            )
        )
    return samples
