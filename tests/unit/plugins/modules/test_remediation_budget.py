# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
from unittest import mock

import pytest
from k8s_fakes import FakeNamespacedStore, run_k8s_main
from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException

from ansible_collections.voicehive.remediation.plugins.modules import remediation_budget

NS = "voicehive"
CM = "voicehive-remediation-budget"
NOW = 1_800_000_000
KEY = "rollout_restart.2Fdeployment.2Forchestrator"


class FakeConfigMaps(FakeNamespacedStore):
    """An in-memory ConfigMap store with the API server's resourceVersion semantics."""

    def __init__(self):
        super().__init__(rv=10)

    def put(self, data, annotations=None):
        metadata = {"name": CM, "namespace": NS, "resourceVersion": self._next_rv()}
        if annotations:
            metadata["annotations"] = annotations
        self.objects[(NS, CM)] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}

    @property
    def data(self):
        obj = self.objects.get((NS, CM))
        return None if obj is None else obj.get("data")

    def read_namespaced_config_map(self, name, namespace, **kwargs):
        return self._read(name, namespace)

    def create_namespaced_config_map(self, namespace, body, **kwargs):
        return self._create(namespace, body)

    def replace_namespaced_config_map(self, name, namespace, body, **kwargs):
        return self._replace(name, namespace, body)


@pytest.fixture
def store():
    return FakeConfigMaps()


@pytest.fixture(scope="module")
def autospec_api():
    """One autospec of the (large) API class per module; each test resets it."""
    return mock.create_autospec(CoreV1Api, instance=True)


@pytest.fixture
def run(store, autospec_api, monkeypatch):
    monkeypatch.setattr(remediation_budget, "now_epoch", lambda: NOW)

    def _run(check_mode=False, **args):
        api = autospec_api
        api.reset_mock(return_value=True, side_effect=True)
        api.read_namespaced_config_map.side_effect = store.read_namespaced_config_map
        api.create_namespaced_config_map.side_effect = store.create_namespaced_config_map
        api.replace_namespaced_config_map.side_effect = store.replace_namespaced_config_map
        module_args = {
            "namespace": NS,
            "action": "rollout_restart",
            "target": "deployment/orchestrator",
            "kubeconfig": "/nonexistent/kubeconfig",
        }
        module_args.update(args)
        if check_mode:
            module_args["_ansible_check_mode"] = True
        return run_k8s_main(remediation_budget, "core_api", api, module_args)[:3]

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
    encoded = remediation_budget.encode_key(action, target)
    assert encoded == key
    assert all(c.isalnum() or c in "-._" for c in encoded)
    assert not encoded.startswith("..")
    assert remediation_budget.decode_key(encoded) == f"{action}/{target}"


def test_check_without_configmap_is_allowed_and_writes_nothing(run, store):
    kind, result, factory = run()
    assert kind == "exit"
    assert factory.call_count == 1
    assert result == {
        "changed": False,
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
    assert store.writes == []


def test_consume_creates_the_configmap(run, store):
    kind, result, _f = run(state="consume")
    assert kind == "exit"
    assert result["changed"] is True
    assert result["allowed"] is True
    assert result["exhausted"] is False
    assert result["used"] == 1
    assert result["remaining"] == 2
    assert store.writes[0][0] == "create"
    assert json.loads(store.data[KEY]) == [NOW]
    assert store.objects[(NS, CM)]["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "voicehive-remediation"}


def test_consume_appends_keeps_other_keys_and_annotations(run, store):
    store.put({KEY: json.dumps([NOW - 100]), "other.2Fkey": "[1]"}, annotations={"keep": "me"})
    kind, result, _f = run(state="consume")
    assert kind == "exit"
    assert result["used"] == 2
    assert result["oldest"] == NOW - 100
    assert json.loads(store.data[KEY]) == [NOW - 100, NOW]
    assert store.data["other.2Fkey"] == "[1]"
    assert store.objects[(NS, CM)]["metadata"]["annotations"] == {"keep": "me"}


def test_consume_exhausted_records_nothing_and_does_not_fail(run, store):
    store.put({KEY: json.dumps([NOW - 300, NOW - 200, NOW - 100])})
    kind, result, _f = run(state="consume")
    assert kind == "exit"
    assert result["changed"] is False
    assert result["allowed"] is False
    assert result["exhausted"] is True
    assert result["used"] == 3
    assert result["remaining"] == 0
    assert result["retry_after"] == 3600 - 300
    assert store.writes == []


def test_check_exhausted(run, store):
    store.put({KEY: json.dumps([NOW - 10, NOW - 5])})
    kind, result, _f = run(budget=2)
    assert kind == "exit"
    assert result["allowed"] is False and result["exhausted"] is True
    assert result["used"] == 2 and result["remaining"] == 0
    assert store.writes == []


def test_uses_outside_the_window_are_pruned_on_write(run, store):
    store.put({KEY: json.dumps([NOW - 7200, NOW - 3600, NOW - 3599, NOW - 10])})
    kind, result, _f = run(state="consume")
    assert kind == "exit"
    assert result["used"] == 3  # two in the window + this one
    assert result["uses"] == [NOW - 3599, NOW - 10, NOW]
    assert json.loads(store.data[KEY]) == [NOW - 3599, NOW - 10, NOW]


def test_old_uses_do_not_count_for_check(run, store):
    store.put({KEY: json.dumps([NOW - 7200, NOW - 5000, NOW - 4000])})
    kind, result, _f = run(window=3600)
    assert kind == "exit"
    assert result["allowed"] is True and result["used"] == 0
    assert store.writes == []


def test_check_mode_consume_computes_without_writing(run, store):
    store.put({KEY: json.dumps([NOW - 10])})
    kind, result, _f = run(check_mode=True, state="consume")
    assert kind == "exit"
    assert result["changed"] is True
    assert result["allowed"] is True
    assert result["used"] == 2
    assert store.writes == []
    assert json.loads(store.data[KEY]) == [NOW - 10]


def test_check_mode_consume_without_configmap_writes_nothing(run, store):
    kind, result, _f = run(check_mode=True, state="consume")
    assert kind == "exit"
    assert result["changed"] is True and result["used"] == 1
    assert store.objects == {}


def test_conflict_is_retried_and_no_use_is_lost(run, store):
    store.put({KEY: json.dumps([NOW - 50])})

    def concurrent_consume(s):  # another run records a use between our read and our write
        s.put({KEY: json.dumps([NOW - 50, NOW - 1])})

    store.before_write = concurrent_consume
    kind, result, _f = run(state="consume")
    assert kind == "exit"
    assert result["used"] == 3
    assert json.loads(store.data[KEY]) == [NOW - 50, NOW - 1, NOW]
    assert len(store.writes) == 1


def test_conflict_on_create_is_retried(run, store):
    def concurrent_create(s):
        s.put({KEY: json.dumps([NOW - 1, NOW - 2])})

    store.before_write = concurrent_create
    kind, result, _f = run(state="consume", budget=2)
    assert kind == "exit"
    assert result["exhausted"] is True
    assert result["changed"] is False
    assert store.writes == []


def test_endless_conflicts_fail_clearly(run, store):
    store.put({})
    real = store.replace_namespaced_config_map

    def always_conflict(name, namespace, body, **kwargs):
        store.objects[(NS, CM)]["metadata"]["resourceVersion"] = store._next_rv()
        return real(name, namespace, body, **kwargs)

    store.replace_namespaced_config_map = always_conflict
    kind, result, _f = run(state="consume")
    assert kind == "fail"
    assert "changed under us" in result["msg"]


def test_corrupt_value_fails_instead_of_resetting(run, store):
    store.put({KEY: "not json"})
    kind, result, _f = run(state="consume")
    assert kind == "fail"
    assert result["msg"].startswith(f"Cannot read the remediation budget {NS}/{CM} key {KEY}")
    assert store.writes == []


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
def test_bad_input_is_refused_before_any_call(run, store, args, text):
    kind, result, factory = run(**args)
    assert kind == "fail"
    assert text in result["msg"]
    assert factory.call_count == 0


def test_forbidden_is_a_clear_message(run, store):
    store.read_namespaced_config_map = mock.Mock(side_effect=ApiException(status=403, reason="Forbidden"))
    kind, result, _f = run()
    assert kind == "fail"
    assert result["msg"].startswith(f"Cannot read ConfigMap {NS}/{CM}: 403 Forbidden.")
    assert "permission to get configmaps in namespace voicehive" in result["msg"]
