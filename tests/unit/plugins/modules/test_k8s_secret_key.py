# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import hashlib
import json
from unittest import mock

import pytest
from k8s_fakes import FakeNamespacedStore, run_k8s_main
from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException

from ansible_collections.voicehive.remediation.plugins.modules import k8s_secret_key

NS = "voicehive"
NAME = "jwt-secret"
KEY = "secret"
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


class FakeSecrets(FakeNamespacedStore):
    """An in-memory Secret store with the API server's resourceVersion semantics."""

    def __init__(self):
        super().__init__(rv=7000)

    def put(self, data, **extra):
        metadata = {"name": NAME, "namespace": NS, "resourceVersion": self._next_rv(), "annotations": {"keep": "me"}}
        self.objects[(NS, NAME)] = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata}
        self.objects[(NS, NAME)]["data"] = data
        self.objects[(NS, NAME)].update(extra)

    @property
    def secret(self):
        return self.objects.get((NS, NAME))

    def value(self, key=KEY):
        encoded = ((self.secret or {}).get("data") or {}).get(key)
        return None if encoded is None else base64.b64decode(encoded)

    def values(self):
        """Every value this store ever held or was sent (to check none leaks)."""
        found = []
        for obj in [self.secret, *[body for _verb, body in self.writes]]:
            for encoded in ((obj or {}).get("data") or {}).values():
                raw = base64.b64decode(encoded)
                if raw.strip():
                    found.append(raw.decode("utf-8", errors="replace"))
        return found

    def read_namespaced_secret(self, name, namespace, **kwargs):
        return self._read(name, namespace)

    def create_namespaced_secret(self, namespace, body, **kwargs):
        return self._create(namespace, body)

    def replace_namespaced_secret(self, name, namespace, body, **kwargs):
        return self._replace(name, namespace, body)


@pytest.fixture
def store():
    return FakeSecrets()


@pytest.fixture(scope="module")
def autospec_api():
    """One autospec of the (large) API class per module; each test resets it."""
    return mock.create_autospec(CoreV1Api, instance=True)


@pytest.fixture
def run(store, autospec_api):
    """Run main() with the client factory patched (autospec); returns (kind, payload, factory, warn)."""

    def _run(check_mode=False, diff=False, **args):
        api = autospec_api
        api.reset_mock(return_value=True, side_effect=True)
        for name in ("read_namespaced_secret", "create_namespaced_secret", "replace_namespaced_secret"):
            getattr(api, name).side_effect = getattr(store, name)
        module_args = {"namespace": NS, "name": NAME, "key": KEY, "host": "https://127.0.0.1:6443", "api_key": API_KEY}
        module_args.update(args)
        if check_mode:
            module_args["_ansible_check_mode"] = True
        if diff:
            module_args["_ansible_diff"] = True
        return run_k8s_main(k8s_secret_key, "core_api", api, module_args)

    return _run


def assert_no_secret(payload, warn, store, *extra):
    text = json.dumps(payload) + " " + json.dumps([str(c) for c in warn.call_args_list])
    leaked = [v[:8] + "..." for v in [*store.values(), *extra, API_KEY] if v in text]
    assert not leaked, f"secret values in the result: {leaked}"


# ---------------------------------------------------------------------------------------------
# state=present
# ---------------------------------------------------------------------------------------------


def test_create_missing_secret_then_second_run_changes_nothing(run, store):
    kind, first, factory, warn = run(create=True)
    assert kind == "exit", first
    assert factory.call_count == 1
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
    assert_no_secret(first, warn, store)

    kind, second, _f, warn = run(create=True)
    assert kind == "exit", second
    assert (second["changed"], second["reason"]) == (False, "valid")
    assert second["before"] == second["after"] == first["after"]
    assert second["diff"] == {"before": {KEY: fp(value)}, "after": {KEY: fp(value)}}
    assert len(store.writes) == 1 and store.value() == value
    assert second["secret_resource_version"] == first["secret_resource_version"]
    assert_no_secret(second, warn, store)


def test_missing_secret_without_create_fails(run, store):
    kind, result, _f, _w = run()
    assert kind == "fail"
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
    kind, result, _f, warn = run()
    assert kind == "exit", result
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
    assert_no_secret(result, warn, store)


@pytest.mark.parametrize(
    "value",
    [VALID_32, VALID_48, VALID_48 + b"\n", b"  " + VALID_32 + b" "],
    ids=["32-bytes", "48-bytes", "trailing-newline", "blanks"],
)
def test_valid_value_is_kept(run, store, value):
    store.put({KEY: data_of(value)})
    kind, result, _f, warn = run(diff=True)
    assert kind == "exit", result
    assert (result["changed"], result["reason"]) == (False, "valid")
    assert store.writes == []
    assert result["before"]["fingerprint"] == fp(value)
    assert result["diff"] == {"before": {KEY: fp(value)}, "after": {KEY: fp(value)}}
    assert_no_secret(result, warn, store)


def test_min_bytes_is_honoured(run, store):
    store.put({KEY: data_of(VALID_48)})
    kind, result, _f, _w = run(min_bytes=64, bytes=64)
    assert kind == "exit" and result["reason"] == "too_short" and result["changed"] is True
    assert result["before"]["base64_bytes"] == 48
    assert result["after"]["base64_bytes"] == 64
    assert len(base64.b64decode(store.value())) == 64


def test_generated_value_comes_from_token_bytes(run, store, monkeypatch):
    raw = bytes(range(100, 148))
    token_bytes = mock.Mock(return_value=raw)
    monkeypatch.setattr(k8s_secret_key.secrets, "token_bytes", token_bytes)
    store.put({})
    kind, _result, _f, _w = run()
    assert kind == "exit"
    token_bytes.assert_called_once_with(48)
    assert store.value() == base64.b64encode(raw)
    # the Secret's data is the base64 of the base64 text, as kubectl would write it
    assert store.secret["data"][KEY] == base64.b64encode(base64.b64encode(raw)).decode()


# ---------------------------------------------------------------------------------------------
# encoding=hex
# ---------------------------------------------------------------------------------------------


def test_hex_value_is_generated_and_kept(run, store):
    store.put({})
    kind, first, _f, _w = run(encoding="hex", bytes=32)
    assert kind == "exit" and first["reason"] == "missing"
    value = store.value()
    assert len(value) == 64 and bytes.fromhex(value.decode())
    assert first["after"]["length"] == 64
    kind, second, _f, _w = run(encoding="hex", bytes=32)
    assert kind == "exit" and (second["changed"], second["reason"]) == (False, "valid")


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
    kind, result, _f, _w = run(encoding="hex")
    assert kind == "exit", result
    assert result["reason"] == reason
    assert result["changed"] is (reason != "valid")


# ---------------------------------------------------------------------------------------------
# state=rotated
# ---------------------------------------------------------------------------------------------


def test_rotation_with_force_always_writes(run, store):
    store.put({KEY: data_of(VALID_48), "other": data_of(b"keep")})
    kind, first, _f, warn = run(state="rotated", force=True, diff=True)
    assert kind == "exit", first
    assert (first["changed"], first["reason"]) == (True, "rotated")
    new = store.value()
    assert new != VALID_48 and len(base64.b64decode(new)) == 48
    assert first["before"]["fingerprint"] == fp(VALID_48)
    assert first["after"]["fingerprint"] == fp(new)
    assert first["diff"] == {"before": {KEY: fp(VALID_48)}, "after": {KEY: fp(new)}}
    assert store.value("other") == b"keep"
    assert_no_secret(first, warn, store)
    kind, second, _f, _w = run(state="rotated", force=True)
    assert kind == "exit" and second["changed"] is True and store.value() != new


def test_rotation_without_force_is_refused(run, store):
    store.put({KEY: data_of(VALID_48)})
    kind, result, factory, _w = run(state="rotated")
    assert kind == "fail"
    assert "set force=true to confirm the rotation" in result["msg"]
    assert factory.call_count == 0 and store.writes == []


def test_force_alone_does_not_rotate(run, store):
    store.put({KEY: data_of(VALID_48)})
    kind, result, _f, _w = run(force=True)
    assert kind == "exit" and result["changed"] is False and result["reason"] == "valid"


# ---------------------------------------------------------------------------------------------
# check mode
# ---------------------------------------------------------------------------------------------


def test_check_mode_writes_nothing(run, store):
    store.put({KEY: data_of(SHORT_16)})
    kind, result, _f, warn = run(check_mode=True, diff=True)
    assert kind == "exit", result
    assert (result["changed"], result["reason"]) == (True, "too_short")
    assert result["after"] == {"present": True, "length": 64, "base64_bytes": 48, "fingerprint": None}
    assert result["diff"] == {"before": {KEY: fp(SHORT_16)}, "after": {KEY: "(new random value)"}}
    assert store.writes == [] and store.value() == SHORT_16
    assert result["secret_resource_version"] == store.secret["metadata"]["resourceVersion"]
    assert_no_secret(result, warn, store)


def test_check_mode_create_and_rotate(run, store):
    kind, result, _f, _w = run(check_mode=True, create=True)
    assert kind == "exit" and result["changed"] is True and result["reason"] == "missing"
    assert result["secret_resource_version"] is None and store.secret is None
    store.put({KEY: data_of(VALID_48)})
    kind, result, _f, _w = run(check_mode=True, state="rotated", force=True)
    assert kind == "exit" and result["changed"] is True and result["reason"] == "rotated"
    assert store.writes == [] and store.value() == VALID_48


def test_check_mode_valid_is_no_change(run, store):
    store.put({KEY: data_of(VALID_48)})
    kind, result, _f, _w = run(check_mode=True)
    assert kind == "exit" and result["changed"] is False and result["reason"] == "valid"


# ---------------------------------------------------------------------------------------------
# conflicts and API errors
# ---------------------------------------------------------------------------------------------


def test_conflict_with_a_valid_value_written_meanwhile(run, store):
    store.put({KEY: data_of(SHORT_16)})

    def other_run_fixes_it(s):
        s.objects[(NS, NAME)]["data"][KEY] = data_of(VALID_32)
        s.objects[(NS, NAME)]["metadata"]["resourceVersion"] = s._next_rv()

    store.before_write = other_run_fixes_it
    kind, result, _f, _w = run()
    assert kind == "exit", result
    assert (result["changed"], result["reason"]) == (False, "valid")
    assert store.value() == VALID_32 and store.writes == []


def test_conflict_on_another_key_is_retried(run, store):
    store.put({KEY: data_of(SHORT_16), "other": data_of(b"a")})

    def other_key_changes(s):
        s.objects[(NS, NAME)]["data"]["other"] = data_of(b"b")
        s.objects[(NS, NAME)]["metadata"]["resourceVersion"] = s._next_rv()

    store.before_write = other_key_changes
    kind, result, _f, _w = run()
    assert kind == "exit", result
    assert result["changed"] is True and result["reason"] == "too_short"
    assert store.value("other") == b"b" and len(base64.b64decode(store.value())) == 48


def test_concurrent_create_is_retried(run, store):
    def other_run_creates(s):
        s.put({KEY: data_of(VALID_48)})

    store.before_write = other_run_creates
    kind, result, _f, _w = run(create=True)
    assert kind == "exit", result
    assert (result["changed"], result["reason"]) == (False, "valid")
    assert store.writes == []


def test_endless_conflicts_fail_clearly(run, store):
    store.put({})
    real_replace = store.replace_namespaced_secret

    def always_conflict(name, namespace, body, **kwargs):
        store.objects[(NS, NAME)]["metadata"]["resourceVersion"] = store._next_rv()
        return real_replace(name, namespace, body, **kwargs)

    store.replace_namespaced_secret = always_conflict
    kind, result, _f, warn = run()
    assert kind == "fail"
    assert result["msg"].startswith(f"Cannot replace Secret {NS}/{NAME}: it changed under us 21 times in a row")
    assert_no_secret(result, warn, store)


def test_immutable_secret(run, store):
    store.put({KEY: data_of(VALID_48)}, immutable=True)
    kind, result, _f, _w = run()
    assert kind == "exit" and result["changed"] is False  # nothing to change: fine
    store.put({KEY: data_of(SHORT_16)}, immutable=True)
    kind, result, _f, warn = run()
    assert kind == "fail"
    assert result["msg"] == (
        f"Cannot replace Secret {NS}/{NAME}: it is immutable, but key {KEY} needs a new value (too_short). "
        "Delete and re-create the Secret to change it."
    )
    assert store.writes == []
    assert_no_secret(result, warn, store)


def test_forbidden_read(run, store):
    store.read_namespaced_secret = mock.Mock(
        side_effect=ApiException(
            status=403, reason="Forbidden", body=json.dumps({"message": 'secrets "jwt-secret" is forbidden'})
        )
    )
    kind, result, _f, _w = run()
    assert kind == "fail"
    assert result["msg"].startswith(f'Cannot read Secret {NS}/{NAME}: 403 Forbidden: secrets "jwt-secret" is forbidden')
    assert "permission to get secrets in namespace voicehive" in result["msg"]


def test_forbidden_replace_does_not_show_the_value(run, store):
    store.put({KEY: data_of(SHORT_16)})
    store.replace_namespaced_secret = mock.Mock(
        side_effect=ApiException(
            status=403, reason="Forbidden", body=json.dumps({"message": 'secrets "jwt-secret" is forbidden'})
        )
    )
    kind, result, _f, warn = run()
    assert kind == "fail"
    assert result["msg"].startswith(f"Cannot replace Secret {NS}/{NAME}: 403 Forbidden")
    assert "permission to update secrets in namespace voicehive" in result["msg"]
    sent = store.replace_namespaced_secret.call_args.kwargs["body"]["data"][KEY]
    assert_no_secret(result, warn, store, base64.b64decode(sent).decode(), sent)


def test_forbidden_create(run, store):
    store.create_namespaced_secret = mock.Mock(side_effect=ApiException(status=403, reason="Forbidden"))
    kind, result, _f, _w = run(create=True)
    assert kind == "fail"
    assert result["msg"].startswith(f"Cannot create Secret {NS}/{NAME}: 403 Forbidden.")
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
def test_bad_input_is_refused_before_any_call(run, store, args, text):
    kind, result, factory, _w = run(**args)
    assert kind == "fail"
    assert text in result["msg"]
    assert factory.call_count == 0
    assert store.writes == []


def test_module_source_is_python39_compatible():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(k8s_secret_key.__file__).read_text(), feature_version=(3, 9))
    assert not [n for n in ast.walk(tree) if type(n).__name__ == "Match"]
    assert not [k for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords if k.arg == "strict"]
