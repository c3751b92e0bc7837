# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy

import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils._redact import (
    REDACTED,
    is_secret_key,
    normalize_secret_values,
    redact,
    redact_text,
)


@pytest.mark.parametrize(
    "key, secret",
    [
        ("password", True),
        ("db_password", True),
        ("PASSWD", True),
        ("pass", True),
        ("client_secret", True),
        ("secret_id", True),
        ("token", True),
        ("access_token", True),
        ("api_key", True),
        ("X-Api-Key", True),
        ("apikey", True),
        ("Authorization", True),
        ("credentials", True),
        ("aws_credential_file", True),
        ("state", False),
        ("failure_count", False),
        ("user", False),
        ("url", False),
        (5, False),
    ],
)
def test_is_secret_key(key, secret):
    assert is_secret_key(key) is secret


@pytest.mark.parametrize(
    "values, expected",
    [
        (None, []),
        ("abc", ["abc"]),
        (["abc", "", "  ", None, True], ["abc"]),
        (["a", "abcd", "ab", ["abc", ["abcde"]]], ["abcde", "abcd", "abc", "ab", "a"]),
        ([1234, 12.5], ["12.5", "1234"]),
        ({"x": "val"}, ["val"]),
        ([b"bytes"], ["bytes"]),
        (["dup", "dup"], ["dup"]),
    ],
)
def test_normalize_secret_values(values, expected):
    assert normalize_secret_values(values) == expected


@pytest.mark.parametrize(
    "text, secrets, expected",
    [
        ("token is abc", ["abc"], f"token is {REDACTED}"),
        ("abcabc", ["abc"], REDACTED + REDACTED),
        ("prefix-longsecret", ["long", "longsecret"], f"prefix-{REDACTED}"),
        ("redis://:pw@redis:6379/0", [], f"redis://{REDACTED}@redis:6379/0"),
        ("see https://user:pa55@host/x and http://host/y", [], f"see https://{REDACTED}@host/x and http://host/y"),
        ("nothing here", ["abc"], "nothing here"),
        ("", ["abc"], ""),
    ],
)
def test_redact_text(text, secrets, expected):
    assert redact_text(text, secrets) == expected


def test_redact_is_deep_and_does_not_mutate():
    data = {
        "summary": "token s3cr3t used",
        "evidence": {
            "lines": ["a s3cr3t b", ("tuple", "s3cr3t")],
            "nested": [{"password": "hunter2", "password_set": True, "token": None}],
            "count": 3,
            "pin": 424242,
            "ratio": 0.5,
            "s3cr3t-key": "value",
            "credentials": {"user": "u", "pass": "p"},
        },
        "flag": False,
        "nothing": None,
    }
    original = copy.deepcopy(data)
    out = redact(data, ["s3cr3t", "424242"])
    assert data == original
    assert out == {
        "summary": f"token {REDACTED} used",
        "evidence": {
            "lines": [f"a {REDACTED} b", ["tuple", REDACTED]],
            "nested": [{"password": REDACTED, "password_set": True, "token": None}],
            "count": 3,
            "pin": REDACTED,
            "ratio": 0.5,
            f"{REDACTED}-key": "value",
            "credentials": REDACTED,
        },
        "flag": False,
        "nothing": None,
    }


def test_redact_scalars_and_empty_secrets():
    assert redact("plain", None) == "plain"
    assert redact("has abc", "abc") == f"has {REDACTED}"
    assert redact(None, ["x"]) is None
    assert redact(True, ["True"]) is True
    assert redact(b"bytes abc", ["abc"]) == f"bytes {REDACTED}"
    assert redact({"a": "b"}, ["", None]) == {"a": "b"}


def test_custom_key_pattern():
    import re

    assert redact({"pin": "1234", "password": "x"}, key_pattern=re.compile("pin")) == {"pin": REDACTED, "password": "x"}
