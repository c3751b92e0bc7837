# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""Redaction of secrets from findings, action records and reports.

``redact(data, secret_values)`` returns a redacted deep copy of ``data`` (dicts, lists, tuples,
strings, numbers, booleans, ``None``); it never modifies its argument. Three rules apply:

1. Every occurrence of one of ``secret_values`` inside any string (values *and* dict keys) is
   replaced with ``********``. Longer values are replaced first, so a secret that contains another
   secret is masked whole. Empty values are ignored. Numbers equal to a secret are masked too.
2. The value under a dict key matching ``SECRET_KEY_PATTERN`` (``password``, ``passwd``,
   ``client_secret``, ``access_token``, ``x-api-key``, ``Authorization``, ``credentials`` ...)
   is replaced whole by ``********``, whatever its type, except ``None`` and booleans, which carry
   no secret (``password_set: true`` stays readable).
3. The user-info part of URLs (``redis://:pw@host``) is replaced: ``redis://********@host``.

The functions are pure: no Ansible import, so the action plugins, the report, the Redis and
Kubernetes module utils (``redact_url()``, ``mask_values()``) and the unit tests share them.
"""

from __future__ import annotations

import re
import typing as t

REDACTED = "********"

SECRET_KEY_PATTERN = re.compile(r"(pass(word)?|secret|token|api[_-]?key|authorization|credential)", re.IGNORECASE)

# scheme://userinfo@host -> scheme://********@host (userinfo cannot hold '/', '@' or whitespace)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def normalize_secret_values(secret_values: t.Any) -> list[str]:
    """Flatten ``secret_values`` (a string, a list, nested lists, numbers) to unique non-empty strings.

    The result is sorted longest first, the order in which they must be replaced.
    """
    found: set[str] = set()

    def _walk(value: t.Any) -> None:
        if value is None or isinstance(value, bool):
            return
        if isinstance(value, (list, tuple, set, frozenset)):
            for item in value:
                _walk(item)
            return
        if isinstance(value, dict):
            for item in value.values():
                _walk(item)
            return
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        text = str(value)
        if text.strip():
            found.add(text)

    _walk(secret_values)
    return sorted(found, key=lambda s: (-len(s), s))


def is_secret_key(key: t.Any, pattern: re.Pattern[str] = SECRET_KEY_PATTERN) -> bool:
    """True when a dict key names a secret (``db_password``, ``X-Api-Key``, ``credentials`` ...)."""
    return isinstance(key, str) and pattern.search(key) is not None


def redact_text(text: str, secret_values: t.Iterable[str] = ()) -> str:
    """Mask the given secret values and URL credentials inside one string."""
    if not isinstance(text, str):
        return text
    return mask_values(text, normalize_secret_values(secret_values))


def redact_url(text: str, mask: str = REDACTED) -> str:
    """Replace the user-info part of every URL in ``text``: ``redis://:pw@host`` -> ``redis://********@host``."""
    return _URL_USERINFO.sub(lambda m: m.group("scheme") + mask + "@", text)


def mask_values(text: str, values: t.Iterable[str], url_mask: str = REDACTED) -> str:
    """Replace every one of ``values`` in ``text`` by ``********``, in their order (longest first, as
    ``normalize_secret_values()`` sorts them), then the URL credentials by ``url_mask``."""
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return redact_url(text, url_mask)


def redact(data: t.Any, secret_values: t.Any = None, key_pattern: re.Pattern[str] = SECRET_KEY_PATTERN) -> t.Any:
    """Return a redacted deep copy of ``data`` (see the module docstring for the rules)."""
    values = normalize_secret_values(secret_values)
    return _redact(data, values, key_pattern)


def _redact(data: t.Any, values: list[str], key_pattern: re.Pattern[str]) -> t.Any:
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            new_key = mask_values(key, values) if isinstance(key, str) else key
            if is_secret_key(key, key_pattern) and value is not None and not isinstance(value, bool):
                out[new_key] = REDACTED
            else:
                out[new_key] = _redact(value, values, key_pattern)
        return out
    if isinstance(data, (list, tuple, set, frozenset)):
        return [_redact(item, values, key_pattern) for item in data]
    if isinstance(data, bytes):
        return mask_values(data.decode("utf-8", errors="replace"), values)
    if isinstance(data, str):
        return mask_values(data, values)
    if isinstance(data, (int, float)) and not isinstance(data, bool) and str(data) in values:
        return REDACTED
    return data
