# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""remediation_budget against a fake Kubernetes API server (``kube_api``: resourceVersion semantics over HTTP),
through the module's real client; the connection factory is spied on (autospec)."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils import _k8s, _remediation_budget
from ansible_collections.voicehive.remediation.plugins.modules import remediation_budget

NS = "voicehive"
CM = "voicehive-remediation-budget"
CONFIGMAP = f"/api/v1/namespaces/{NS}/configmaps/{CM}"
NOW = 1_800_000_000
KEY = "rollout_restart.2Fdeployment.2Forchestrator"


def put_configmap(api, data, annotations=None):
    metadata = {"name": CM, "namespace": NS}
    if annotations:
        metadata["annotations"] = annotations
    api.put(CONFIGMAP, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})


def data_of(api):
    obj = api.get(CONFIGMAP)
    return None if obj is None else obj.get("data")


@pytest.fixture
def connect():
    with mock.patch.object(_k8s, "connect", autospec=True, side_effect=_k8s.connect) as spy:
        yield spy


@pytest.fixture
def run(run_module, kube_api, connect, monkeypatch):
    monkeypatch.setattr(_remediation_budget, "now_epoch", lambda: NOW)

    def _run(check_mode=False, **args):
        module_args = {
            "namespace": NS,
            "action": "rollout_restart",
            "target": "deployment/orchestrator",
            "host": kube_api.url,
            "api_key": "t0ken",
        }
        module_args.update(args)
        return run_module(remediation_budget.main, module_args, check_mode=check_mode)

    return _run


@pytest.mark.parametrize(
    "action, target, key",
    [
        ("rollout_restart", "deployment/orchestrator", KEY),
        ("reset_breaker", "circuit_breaker/pms_connector", "reset_breaker.2Fcircuit_breaker.2Fpms_connector"),
        ("scale", "deploy.v2:web", "scale.2Fdeploy.2Ev2.3Aweb"),
        ("x", "ü", "x.2F.C3.BC"),
    ],
)
def test_key_encoding_is_valid_and_reversible(action, target, key):
    encoded = _remediation_budget.encode_key(action, target)
    assert encoded == key
    assert all(c.isalnum() or c in "-._" for c in encoded)
    assert not encoded.startswith("..")
    assert _remediation_budget.decode_key(encoded) == f"{action}/{target}"


def test_check_without_configmap_is_allowed_and_writes_nothing(run, kube_api, connect):
    result = run()
    assert connect.call_count == 1
    assert result == {
        "changed": False,
        "failed": False,
        "warnings": [],
        "allowed": True,
        "exhausted": False,
        "used": 0,
        "remaining": 3,
        "budget": 3,
        "window": 3600,
        "oldest": None,
        "retry_after": 0,
        "uses": [],
        "key": KEY,
    }
    assert kube_api.writes == [] and kube_api.requests == [("GET", CONFIGMAP)]


def test_consume_creates_the_configmap(run, kube_api):
    result = run(state="consume")
    assert result["failed"] is False
    assert result["changed"] is True
    assert result["allowed"] is True
    assert result["exhausted"] is False
    assert result["used"] == 1
    assert result["remaining"] == 2
    assert kube_api.writes[0][0] == "create"
    assert kube_api.requests[-1] == ("POST", CONFIGMAP.rsplit("/", 1)[0])
    assert json.loads(data_of(kube_api)[KEY]) == [NOW]
    assert kube_api.get(CONFIGMAP)["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "voicehive-remediation"}


def test_consume_appends_keeps_other_keys_and_annotations(run, kube_api):
    put_configmap(kube_api, {KEY: json.dumps([NOW - 100]), "other.2Fkey": "[1]"}, annotations={"keep": "me"})
    result = run(state="consume")
    assert result["failed"] is False
    assert result["used"] == 2
    assert result["oldest"] == NOW - 100
    assert kube_api.writes[0][0] == "replace"
    assert json.loads(data_of(kube_api)[KEY]) == [NOW - 100, NOW]
    assert data_of(kube_api)["other.2Fkey"] == "[1]"
    assert kube_api.get(CONFIGMAP)["metadata"]["annotations"] == {"keep": "me"}


def test_consume_into_a_configmap_without_data(run, kube_api):
    put_configmap(kube_api, None)
    result = run(state="consume")
    assert result["failed"] is False and result["used"] == 1
    assert json.loads(data_of(kube_api)[KEY]) == [NOW]


def test_consume_exhausted_records_nothing_and_does_not_fail(run, kube_api):
    put_configmap(kube_api, {KEY: json.dumps([NOW - 300, NOW - 200, NOW - 100])})
    result = run(state="consume")
    assert result["failed"] is False
    assert result["changed"] is False
    assert result["allowed"] is False
    assert result["exhausted"] is True
    assert result["used"] == 3
    assert result["remaining"] == 0
    assert result["retry_after"] == 3600 - 300
    assert kube_api.writes == []


def test_check_exhausted(run, kube_api):
    put_configmap(kube_api, {KEY: json.dumps([NOW - 10, NOW - 5])})
    result = run(budget=2)
    assert result["failed"] is False
    assert result["allowed"] is False and result["exhausted"] is True
    assert result["used"] == 2 and result["remaining"] == 0
    assert kube_api.writes == []


def test_uses_outside_the_window_are_pruned_on_write(run, kube_api):
    put_configmap(kube_api, {KEY: json.dumps([NOW - 7200, NOW - 3600, NOW - 3599, NOW - 10])})
    result = run(state="consume")
    assert result["failed"] is False
    assert result["used"] == 3  # two in the window + this one
    assert result["uses"] == [NOW - 3599, NOW - 10, NOW]
    assert json.loads(data_of(kube_api)[KEY]) == [NOW - 3599, NOW - 10, NOW]


def test_old_uses_do_not_count_for_check(run, kube_api):
    put_configmap(kube_api, {KEY: json.dumps([NOW - 7200, NOW - 5000, NOW - 4000])})
    result = run(window=3600)
    assert result["failed"] is False
    assert result["allowed"] is True and result["used"] == 0
    assert kube_api.writes == []


def test_check_mode_consume_computes_without_writing(run, kube_api):
    put_configmap(kube_api, {KEY: json.dumps([NOW - 10])})
    result = run(check_mode=True, state="consume")
    assert result["failed"] is False
    assert result["changed"] is True
    assert result["allowed"] is True
    assert result["used"] == 2
    assert kube_api.writes == []
    assert json.loads(data_of(kube_api)[KEY]) == [NOW - 10]


def test_check_mode_consume_without_configmap_writes_nothing(run, kube_api):
    result = run(check_mode=True, state="consume")
    assert result["failed"] is False
    assert result["changed"] is True and result["used"] == 1
    assert kube_api.objects == {} and [m for m, _p in kube_api.requests] == ["GET"]


def test_conflict_is_retried_and_no_use_is_lost(run, kube_api):
    put_configmap(kube_api, {KEY: json.dumps([NOW - 50])})
    # another run records a use between our read and our write
    kube_api.before_write = lambda api: put_configmap(api, {KEY: json.dumps([NOW - 50, NOW - 1])})
    result = run(state="consume")
    assert result["failed"] is False
    assert result["used"] == 3
    assert json.loads(data_of(kube_api)[KEY]) == [NOW - 50, NOW - 1, NOW]
    assert len(kube_api.writes) == 1
    assert [m for m, _p in kube_api.requests] == ["GET", "PUT", "GET", "PUT"]


def test_conflict_on_create_is_retried(run, kube_api):
    kube_api.before_write = lambda api: put_configmap(api, {KEY: json.dumps([NOW - 1, NOW - 2])})
    result = run(state="consume", budget=2)
    assert result["failed"] is False
    assert result["exhausted"] is True
    assert result["changed"] is False
    assert kube_api.writes == []
    assert [m for m, _p in kube_api.requests] == ["GET", "POST", "GET"]


def test_endless_conflicts_fail_clearly(run, kube_api):
    put_configmap(kube_api, {})

    def always_conflict(api):
        api.put(CONFIGMAP, api.get(CONFIGMAP))
        api.before_write = always_conflict

    kube_api.before_write = always_conflict
    result = run(state="consume")
    assert result["failed"] is True
    assert result["msg"] == (
        f"Cannot record the remediation budget {NS}/{CM} key {KEY}: the ConfigMap changed under us 21 times in a row; "
        "another process keeps writing it. Run again."
    )


def test_corrupt_value_fails_instead_of_resetting(run, kube_api):
    put_configmap(kube_api, {KEY: "not json"})
    result = run(state="consume")
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot read the remediation budget {NS}/{CM} key {KEY}")
    assert kube_api.writes == []


@pytest.mark.parametrize(
    "args, text",
    [
        ({"budget": 0}, "budget must be at least 1, got 0"),
        ({"budget": -3}, "budget must be at least 1"),
        ({"window": 0}, "window must be at least 1 second"),
        ({"action": ""}, "action must not be empty"),
        ({"target": "x" * 300}, "too long"),
        ({"state": "spend"}, "value of state must be one of"),
    ],
)
def test_bad_input_is_refused_before_any_call(run, kube_api, connect, args, text):
    result = run(**args)
    assert result["failed"] is True
    assert text in result["msg"]
    assert connect.call_count == 0
    assert kube_api.requests == []


RBAC_HINT = "; check the Role bound to the remediation service account."


@pytest.mark.parametrize(
    "method, path, status, message, expected",
    [
        ("GET", CONFIGMAP, 403, 'configmaps "voicehive-remediation-budget" is forbidden',
         f'Cannot read ConfigMap {NS}/{CM}: 403 Forbidden: configmaps "voicehive-remediation-budget" is forbidden. '
         f"The credentials lack the RBAC permission to get configmaps in namespace voicehive{RBAC_HINT}"),
        ("POST", CONFIGMAP.rsplit("/", 1)[0], 403, "configmaps is forbidden",
         f"Cannot create ConfigMap {NS}/{CM}: 403 Forbidden: configmaps is forbidden. "
         f"The credentials lack the RBAC permission to create configmaps in namespace voicehive{RBAC_HINT}"),
        ("POST", CONFIGMAP.rsplit("/", 1)[0], 404, 'namespaces "voicehive" not found',
         f'Cannot create ConfigMap {NS}/{CM}: 404 Not Found: namespaces "voicehive" not found. '
         "Check that namespace voicehive exists."),
        ("POST", CONFIGMAP.rsplit("/", 1)[0], 422, 'ConfigMap "x" is invalid',
         f'Cannot create ConfigMap {NS}/{CM}: 422 Unprocessable Entity: ConfigMap "x" is invalid. '
         "The API server refused the object as invalid."),
    ],
    ids=["forbidden-read", "forbidden-create", "no-namespace", "invalid"],
)  # fmt: skip
def test_api_errors_are_clear_messages(run, kube_api, method, path, status, message, expected):
    kube_api.fail[(method, path)] = (status, message)
    result = run(state="consume")
    assert result["failed"] is True
    assert result["msg"] == expected
