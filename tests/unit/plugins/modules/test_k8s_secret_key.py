# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import hashlib
import json
from unittest import mock

import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils import _k8s, _k8s_secret_key
from ansible_collections.voicehive.remediation.plugins.modules import k8s_secret_key

NS = "voicehive"
NAME = "jwt-secret"
KEY = "secret"
SECRET = f"/api/v1/namespaces/{NS}/secrets/{NAME}"
SECRETS = SECRET.rsplit("/", 1)[0]
API_KEY = "k8s-api-key-" + "S3CR3T" * 4


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def data_of(value: bytes) -> str:
    """A Secret's data entry for ``value``."""
    return b64(value)


def fp(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()[:12]


VALID_48 = b64(bytes(range(48))).encode()  # base64 text of 48 bytes
VALID_32 = b64(b"\x01" * 32).encode()
SHORT_16 = b64(b"\x02" * 16).encode()


class Secrets:
    """The Secret in the fake API server (``kube_api``), and every value it held or was sent."""

    def __init__(self, api, http_state):
        self.api = api
        self.http_state = http_state

    def put(self, data, **extra):
        metadata = {"name": NAME, "namespace": NS, "annotations": {"keep": "me"}}
        obj = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata, "data": data}
        obj.update(extra)
        self.api.put(SECRET, obj)

    def bump(self, **data):
        """Someone else changes keys of the Secret (a new resourceVersion)."""
        obj = self.api.get(SECRET)
        obj["data"].update(data)
        self.api.put(SECRET, obj)

    @property
    def secret(self):
        return self.api.get(SECRET)

    @property
    def writes(self):
        return self.api.writes

    def value(self, key=KEY):
        encoded = ((self.secret or {}).get("data") or {}).get(key)
        return None if encoded is None else base64.b64decode(encoded)

    def values(self):
        """Every value the Secret held or was sent, refused writes included (to check none leaks)."""
        found = []
        sent = [json.loads(r["body"]) for r in self.http_state.requests if r["method"] in ("POST", "PUT")]
        for obj in [self.secret, *sent]:
            for encoded in ((obj or {}).get("data") or {}).values():
                raw = base64.b64decode(encoded)
                if raw.strip():
                    found.append(raw.decode("utf-8", errors="replace"))
        return found


@pytest.fixture
def store(kube_api, http_server):
    return Secrets(kube_api, http_server[1])


@pytest.fixture
def connect():
    with mock.patch.object(_k8s, "connect", autospec=True, side_effect=_k8s.connect) as spy:
        yield spy


@pytest.fixture
def run(run_module, kube_api, connect):
    """Run main() against the fake API; returns the exit_json / fail_json payload."""

    def _run(check_mode=False, diff=False, **args):
        module_args = {"namespace": NS, "name": NAME, "key": KEY, "host": kube_api.url, "api_key": API_KEY}
        module_args.update(args)
        return run_module(k8s_secret_key.main, module_args, check_mode=check_mode, diff=diff)

    return _run


def assert_no_secret(payload, store, *extra):
    text = json.dumps(payload)
    leaked = [v[:8] + "..." for v in [*store.values(), *extra, API_KEY] if v in text]
    assert not leaked, f"secret values in the result: {leaked}"


# ---------------------------------------------------------------------------------------------
# state=present
# ---------------------------------------------------------------------------------------------


def test_create_missing_secret_then_second_run_changes_nothing(run, store, connect):
    first = run(create=True)
    assert first["failed"] is False, first
    assert connect.call_count == 1
    assert (first["changed"], first["reason"]) == (True, "missing")
    value = store.value()
    raw = base64.b64decode(value, validate=True)
    assert len(raw) == 48 and len(value) == 64
    assert store.writes[0][0] == "create"
    assert store.secret["type"] == "Opaque"
    assert store.secret["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "voicehive-remediation"}
    assert first["before"] == {"present": False, "length": 0, "base64_bytes": None, "fingerprint": None}
    assert first["after"] == {"present": True, "length": 64, "base64_bytes": 48, "fingerprint": fp(value)}
    assert first["secret_resource_version"] == store.secret["metadata"]["resourceVersion"]
    assert first["diff"] == {"before": {}, "after": {KEY: fp(value)}}
    assert_no_secret(first, store)

    second = run(create=True)
    assert second["failed"] is False, second
    assert (second["changed"], second["reason"]) == (False, "valid")
    assert second["before"] == second["after"] == first["after"]
    assert second["diff"] == {"before": {KEY: fp(value)}, "after": {KEY: fp(value)}}
    assert len(store.writes) == 1 and store.value() == value
    assert second["secret_resource_version"] == first["secret_resource_version"]
    assert_no_secret(second, store)


def test_missing_secret_without_create_fails(run, store):
    result = run()
    assert result["failed"] is True
    assert result["msg"] == (
        f"Cannot read Secret {NS}/{NAME}: it does not exist. Set create=true to create it, or check namespace and name."
    )
    assert store.writes == []


@pytest.mark.parametrize(
    "data, reason, before",
    [
        ({"other": data_of(b"keep")}, "missing", {"present": False, "length": 0, "base64_bytes": None}),
        (None, "missing", {"present": False, "length": 0, "base64_bytes": None}),
        ({KEY: ""}, "empty", {"present": True, "length": 0, "base64_bytes": None}),
        ({KEY: data_of(b"  \n")}, "empty", {"present": True, "length": 3, "base64_bytes": None}),
        ({KEY: data_of(b"not base64 at all!")}, "not_base64", {"present": True, "length": 18, "base64_bytes": None}),
        (
            {KEY: data_of(base64.urlsafe_b64encode(b"\xfb\xff" * 24))},
            "not_base64",
            {"present": True, "length": 64, "base64_bytes": None},
        ),
        ({KEY: data_of(b"\xff\xfe" * 30)}, "not_base64", {"present": True, "length": 60, "base64_bytes": None}),
        ({KEY: data_of(b"changeme")}, "too_short", {"present": True, "length": 8, "base64_bytes": 6}),
        ({KEY: data_of(SHORT_16)}, "too_short", {"present": True, "length": 24, "base64_bytes": 16}),
    ],
    ids=["key-missing", "no-data", "empty", "blank", "not-base64", "urlsafe", "binary", "changeme", "too-short"],
)
def test_invalid_value_is_replaced(run, store, data, reason, before):
    store.put(data)
    old = store.value()
    result = run()
    assert result["failed"] is False, result
    assert (result["changed"], result["reason"]) == (True, reason)
    assert {k: v for k, v in result["before"].items() if k != "fingerprint"} == before
    assert result["before"]["fingerprint"] == (fp(old) if old is not None else None)
    new = store.value()
    assert len(base64.b64decode(new, validate=True)) == 48
    assert result["after"] == {"present": True, "length": 64, "base64_bytes": 48, "fingerprint": fp(new)}
    assert store.writes[-1][0] == "replace"
    assert store.secret["metadata"]["annotations"] == {"keep": "me"}
    if data and "other" in data:
        assert store.value("other") == b"keep"
    assert_no_secret(result, store)


@pytest.mark.parametrize(
    "value",
    [VALID_32, VALID_48, VALID_48 + b"\n", b"  " + VALID_32 + b" "],
    ids=["32-bytes", "48-bytes", "trailing-newline", "blanks"],
)
def test_valid_value_is_kept(run, store, value):
    store.put({KEY: data_of(value)})
    result = run(diff=True)
    assert result["failed"] is False, result
    assert (result["changed"], result["reason"]) == (False, "valid")
    assert store.writes == []
    assert result["before"]["fingerprint"] == fp(value)
    assert result["diff"] == {"before": {KEY: fp(value)}, "after": {KEY: fp(value)}}
    assert_no_secret(result, store)


def test_min_bytes_is_honoured(run, store):
    store.put({KEY: data_of(VALID_48)})
    result = run(min_bytes=64, bytes=64)
    assert result["failed"] is False and result["reason"] == "too_short" and result["changed"] is True
    assert result["before"]["base64_bytes"] == 48
    assert result["after"]["base64_bytes"] == 64
    assert len(base64.b64decode(store.value())) == 64


def test_generated_value_comes_from_token_bytes(run, store, monkeypatch):
    raw = bytes(range(100, 148))
    token_bytes = mock.Mock(return_value=raw)
    monkeypatch.setattr(_k8s_secret_key.secrets, "token_bytes", token_bytes)
    store.put({})
    result = run()
    assert result["failed"] is False
    token_bytes.assert_called_once_with(48)
    assert store.value() == base64.b64encode(raw)
    # the Secret's data is the base64 of the base64 text, as kubectl would write it
    assert store.secret["data"][KEY] == base64.b64encode(base64.b64encode(raw)).decode()


# ---------------------------------------------------------------------------------------------
# encoding=hex
# ---------------------------------------------------------------------------------------------


def test_hex_value_is_generated_and_kept(run, store):
    store.put({})
    first = run(encoding="hex", bytes=32)
    assert first["failed"] is False and first["reason"] == "missing"
    value = store.value()
    assert len(value) == 64 and bytes.fromhex(value.decode())
    assert first["after"]["length"] == 64
    second = run(encoding="hex", bytes=32)
    assert second["failed"] is False and (second["changed"], second["reason"]) == (False, "valid")


@pytest.mark.parametrize(
    "value, reason",
    [
        (VALID_48, "not_hex"),
        (b"ab" * 16, "too_short"),
        (b"abc" * 31, "not_hex"),
        (b"zz" * 40, "not_hex"),
        (b"ab" * 40, "valid"),
        (b"AB" * 40 + b"\n", "valid"),
    ],
    ids=["base64", "short", "odd-length", "not-hex-digits", "valid", "upper-case-newline"],
)
def test_hex_values_are_judged_as_hex(run, store, value, reason):
    store.put({KEY: data_of(value)})
    result = run(encoding="hex")
    assert result["failed"] is False, result
    assert result["reason"] == reason
    assert result["changed"] is (reason != "valid")


# ---------------------------------------------------------------------------------------------
# state=rotated
# ---------------------------------------------------------------------------------------------


def test_rotation_with_force_always_writes(run, store):
    store.put({KEY: data_of(VALID_48), "other": data_of(b"keep")})
    first = run(state="rotated", force=True, diff=True)
    assert first["failed"] is False, first
    assert (first["changed"], first["reason"]) == (True, "rotated")
    new = store.value()
    assert new != VALID_48 and len(base64.b64decode(new)) == 48
    assert first["before"]["fingerprint"] == fp(VALID_48)
    assert first["after"]["fingerprint"] == fp(new)
    assert first["diff"] == {"before": {KEY: fp(VALID_48)}, "after": {KEY: fp(new)}}
    assert store.value("other") == b"keep"
    assert_no_secret(first, store)
    second = run(state="rotated", force=True)
    assert second["failed"] is False and second["changed"] is True and store.value() != new


def test_rotation_without_force_is_refused(run, store, kube_api, connect):
    store.put({KEY: data_of(VALID_48)})
    result = run(state="rotated")
    assert result["failed"] is True
    assert "set force=true to confirm the rotation" in result["msg"]
    assert connect.call_count == 0 and kube_api.requests == []


def test_force_alone_does_not_rotate(run, store):
    store.put({KEY: data_of(VALID_48)})
    result = run(force=True)
    assert result["failed"] is False and result["changed"] is False and result["reason"] == "valid"


# ---------------------------------------------------------------------------------------------
# check mode
# ---------------------------------------------------------------------------------------------


def test_check_mode_writes_nothing(run, store):
    store.put({KEY: data_of(SHORT_16)})
    result = run(check_mode=True, diff=True)
    assert result["failed"] is False, result
    assert (result["changed"], result["reason"]) == (True, "too_short")
    assert result["after"] == {"present": True, "length": 64, "base64_bytes": 48, "fingerprint": None}
    assert result["diff"] == {"before": {KEY: fp(SHORT_16)}, "after": {KEY: "(new random value)"}}
    assert store.writes == [] and store.value() == SHORT_16
    assert result["secret_resource_version"] == store.secret["metadata"]["resourceVersion"]
    assert_no_secret(result, store)


def test_check_mode_create_and_rotate(run, store):
    result = run(check_mode=True, create=True)
    assert result["failed"] is False and result["changed"] is True and result["reason"] == "missing"
    assert result["secret_resource_version"] is None and store.secret is None
    store.put({KEY: data_of(VALID_48)})
    result = run(check_mode=True, state="rotated", force=True)
    assert result["failed"] is False and result["changed"] is True and result["reason"] == "rotated"
    assert store.writes == [] and store.value() == VALID_48


def test_check_mode_valid_is_no_change(run, store):
    store.put({KEY: data_of(VALID_48)})
    result = run(check_mode=True)
    assert result["failed"] is False and result["changed"] is False and result["reason"] == "valid"


# ---------------------------------------------------------------------------------------------
# conflicts and API errors
# ---------------------------------------------------------------------------------------------


def test_conflict_with_a_valid_value_written_meanwhile(run, store):
    store.put({KEY: data_of(SHORT_16)})

    store.api.before_write = lambda _api: store.bump(**{KEY: data_of(VALID_32)})
    result = run()
    assert result["failed"] is False, result
    assert (result["changed"], result["reason"]) == (False, "valid")
    assert store.value() == VALID_32 and store.writes == []


def test_conflict_on_another_key_is_retried(run, store):
    store.put({KEY: data_of(SHORT_16), "other": data_of(b"a")})

    store.api.before_write = lambda _api: store.bump(other=data_of(b"b"))
    result = run()
    assert result["failed"] is False, result
    assert result["changed"] is True and result["reason"] == "too_short"
    assert store.value("other") == b"b" and len(base64.b64decode(store.value())) == 48


def test_concurrent_create_is_retried(run, store):
    store.api.before_write = lambda _api: store.put({KEY: data_of(VALID_48)})
    result = run(create=True)
    assert result["failed"] is False, result
    assert (result["changed"], result["reason"]) == (False, "valid")
    assert store.writes == []


def test_endless_conflicts_fail_clearly(run, store):
    store.put({})

    def always_conflict(api):
        store.bump()
        api.before_write = always_conflict

    store.api.before_write = always_conflict
    result = run()
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot replace Secret {NS}/{NAME}: it changed under us 21 times in a row")
    assert_no_secret(result, store)


def test_immutable_secret(run, store):
    store.put({KEY: data_of(VALID_48)}, immutable=True)
    result = run()
    assert result["failed"] is False and result["changed"] is False  # nothing to change: fine
    store.put({KEY: data_of(SHORT_16)}, immutable=True)
    result = run()
    assert result["failed"] is True
    assert result["msg"] == (
        f"Cannot replace Secret {NS}/{NAME}: it is immutable, but key {KEY} needs a new value (too_short). "
        "Delete and re-create the Secret to change it."
    )
    assert store.writes == []
    assert_no_secret(result, store)


def test_forbidden_read(run, store):
    store.api.fail[("GET", SECRET)] = (403, 'secrets "jwt-secret" is forbidden')
    result = run()
    assert result["failed"] is True
    assert result["msg"].startswith(f'Cannot read Secret {NS}/{NAME}: 403 Forbidden: secrets "jwt-secret" is forbidden')
    assert "permission to get secrets in namespace voicehive" in result["msg"]


def test_forbidden_replace_does_not_show_the_value(run, store):
    store.put({KEY: data_of(SHORT_16)})
    store.api.fail[("PUT", SECRET)] = (403, 'secrets "jwt-secret" is forbidden')
    result = run()
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot replace Secret {NS}/{NAME}: 403 Forbidden")
    assert "permission to update secrets in namespace voicehive" in result["msg"]
    (sent,) = [json.loads(r["body"])["data"][KEY] for r in store.http_state.requests if r["method"] == "PUT"]
    assert store.writes == [] and store.value() == SHORT_16
    assert_no_secret(result, store, base64.b64decode(sent).decode(), sent)


def test_forbidden_create(run, store):
    store.api.fail[("POST", SECRETS)] = (403, "secrets is forbidden")
    result = run(create=True)
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot create Secret {NS}/{NAME}: 403 Forbidden: secrets is forbidden.")
    assert "permission to create secrets" in result["msg"]


# ---------------------------------------------------------------------------------------------
# options
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, text",
    [
        ({"namespace": " "}, "namespace must not be empty"),
        ({"name": ""}, "name must not be empty"),
        ({"key": ""}, "key must be a Secret key"),
        ({"key": "a/b"}, "key must be a Secret key"),
        ({"key": "secret\n"}, "key must be a Secret key"),
        ({"bytes": 31}, "bytes must be from 32 to 512, got 31"),
        ({"bytes": 513}, "bytes must be from 32 to 512, got 513"),
        ({"min_bytes": 0}, "min_bytes must be from 1 to 512, got 0"),
        ({"min_bytes": 64}, "bytes (48) must be at least min_bytes (64)"),
        ({"state": "rotated", "force": False}, "set force=true to confirm the rotation"),
        ({"state": "absent"}, "value of state must be one of"),
        ({"encoding": "base32"}, "value of encoding must be one of"),
    ],
)
def test_bad_input_is_refused_before_any_call(run, kube_api, connect, args, text):
    result = run(**args)
    assert result["failed"] is True
    assert text in result["msg"]
    assert connect.call_count == 0
    assert kube_api.requests == []
