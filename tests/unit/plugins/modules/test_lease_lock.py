# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json
from unittest import mock

import pytest
from k8s_fakes import FakeNamespacedStore, run_k8s_main
from kubernetes.client import CoordinationV1Api
from kubernetes.client.exceptions import ApiException

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import format_microtime, parse_time
from ansible_collections.voicehive.remediation.plugins.modules import lease_lock

NS = "voicehive"
NAME = "voicehive-remediation"


class FakeLeases(FakeNamespacedStore):
    """An in-memory Lease store with the API server's resourceVersion semantics."""

    def __init__(self):
        super().__init__(rv=100)

    def put(self, holder, renewed_ago=0.0, duration=900, transitions=0, annotations=None):
        when = format_microtime(datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=renewed_ago))
        spec = {"leaseDurationSeconds": duration, "acquireTime": when, "renewTime": when}
        spec["leaseTransitions"] = transitions
        if holder:
            spec["holderIdentity"] = holder
        metadata = {"name": NAME, "namespace": NS, "resourceVersion": self._next_rv()}
        if annotations:
            metadata["annotations"] = annotations
        self.objects[(NS, NAME)] = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata}
        self.objects[(NS, NAME)]["spec"] = spec

    @property
    def lease(self):
        return self.objects.get((NS, NAME))

    def read_namespaced_lease(self, name, namespace, **kwargs):
        return self._read(name, namespace)

    def create_namespaced_lease(self, namespace, body, **kwargs):
        return self._create(namespace, body)

    def replace_namespaced_lease(self, name, namespace, body, **kwargs):
        return self._replace(name, namespace, body)


@pytest.fixture
def store():
    return FakeLeases()


@pytest.fixture(scope="module")
def autospec_api():
    """One autospec of the (large) API class per module; each test resets it."""
    return mock.create_autospec(CoordinationV1Api, instance=True)


@pytest.fixture
def run(store, autospec_api):
    """Run the module's main() with the client factory patched (autospec); return (kind, payload, factory)."""

    def _run(check_mode=False, **args):
        api = autospec_api
        api.reset_mock(return_value=True, side_effect=True)
        api.read_namespaced_lease.side_effect = store.read_namespaced_lease
        api.create_namespaced_lease.side_effect = store.create_namespaced_lease
        api.replace_namespaced_lease.side_effect = store.replace_namespaced_lease
        module_args = {"namespace": NS, "holder": "run-a", "host": "https://127.0.0.1:16443", "api_key": "tok3n-SECRET"}
        module_args.update(args)
        if check_mode:
            module_args["_ansible_check_mode"] = True
        return run_k8s_main(lease_lock, "coordination_api", api, module_args)

    return _run


def test_create_missing_lease(run, store):
    kind, result, factory, _warn = run()
    assert kind == "exit"
    assert factory.call_count == 1
    assert result["changed"] is True
    assert result["acquired"] is True
    assert result["holder"] == "run-a"
    assert result["took_over"] is False
    assert result["previous_holder"] is None
    spec = store.lease["spec"]
    assert spec["holderIdentity"] == "run-a"
    assert spec["leaseDurationSeconds"] == 900
    assert spec["acquireTime"] == spec["renewTime"]
    assert parse_time(spec["acquireTime"]) is not None
    assert spec["acquireTime"].endswith("Z") and len(spec["acquireTime"].split(".")[1]) == 7  # 6 digits + Z
    assert store.lease["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "voicehive-remediation"}
    assert result["lease"]["holder_identity"] == "run-a"
    assert result["lease"]["expires_at"] is not None


def test_renew_by_same_holder_is_not_a_change(run, store):
    store.put("run-a", renewed_ago=100, transitions=2, annotations={"keep": "me"})
    before = store.lease["spec"]["renewTime"]
    kind, result, _f, _w = run(lease_duration=600)
    assert kind == "exit"
    assert result["changed"] is False
    assert result["acquired"] is True
    assert store.writes and store.writes[-1][0] == "replace"
    spec = store.lease["spec"]
    assert parse_time(spec["renewTime"]) > parse_time(before)
    assert spec["acquireTime"] == store.writes[-1][1]["spec"]["acquireTime"]
    assert spec["leaseTransitions"] == 2  # a renewal is no transition
    assert spec["leaseDurationSeconds"] == 600
    assert store.lease["metadata"]["annotations"] == {"keep": "me"}


def test_free_lease_is_taken(run, store):
    store.put(None, transitions=4)
    kind, result, _f, _w = run()
    assert kind == "exit"
    assert result["changed"] is True
    assert result["took_over"] is False
    assert store.lease["spec"]["holderIdentity"] == "run-a"
    assert store.lease["spec"]["leaseTransitions"] == 5


def test_held_by_other_waits_then_fails(run, store):
    store.put("run-b", renewed_ago=10)
    kind, result, _f, _w = run(wait_timeout=0.05, poll_interval=0.01)
    assert kind == "fail"
    msg = result["msg"]
    assert msg.startswith(f"Cannot acquire lock {NS}/{NAME}: held by run-b since ")
    assert "(expires " in msg
    assert "another remediation is running on this site. Wait or check the AWX job of that holder." in msg
    assert result["holder"] == "run-b"
    assert result["acquired"] is False
    assert result["waited"] >= 0.04
    assert store.writes == []
    assert "tok3n-SECRET" not in json.dumps(result)


def test_held_by_other_released_while_waiting(run, store, monkeypatch):
    store.put("run-b", renewed_ago=10)
    sleeps = []

    def fake_sleep(seconds):
        sleeps.append(seconds)
        store.put(None)  # the other run releases

    monkeypatch.setattr(lease_lock, "sleep", fake_sleep)
    kind, result, _f, _w = run(wait_timeout=5, poll_interval=0.5)
    assert kind == "exit"
    assert sleeps == [0.5]
    assert result["acquired"] is True
    assert result["changed"] is True
    assert store.lease["spec"]["holderIdentity"] == "run-a"


def test_wait_timeout_zero_fails_at_once(run, store, monkeypatch):
    store.put("run-b")
    monkeypatch.setattr(lease_lock, "sleep", mock.Mock(side_effect=AssertionError("must not sleep")))
    kind, result, _f, _w = run(wait_timeout=0)
    assert kind == "fail"
    assert "held by run-b" in result["msg"]


def test_expired_lease_is_taken_over(run, store):
    store.put("run-old", renewed_ago=2000, duration=900, transitions=1)
    kind, result, _f, warn = run()
    assert kind == "exit"
    assert result["changed"] is True
    assert result["acquired"] is True
    assert result["took_over"] is True
    assert result["previous_holder"] == "run-old"
    spec = store.lease["spec"]
    assert spec["holderIdentity"] == "run-a"
    assert spec["leaseTransitions"] == 2
    assert parse_time(spec["acquireTime"]) > datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=60)
    assert "run-old" in warn.call_args[0][1]


def test_conflict_on_replace_is_retried(run, store):
    store.put("run-old", renewed_ago=2000)

    def concurrent_annotation(s):  # someone else writes the object between our read and our replace
        s.objects[(NS, NAME)]["metadata"]["annotations"] = {"touched": "yes"}
        s.objects[(NS, NAME)]["metadata"]["resourceVersion"] = s._next_rv()

    store.before_write = concurrent_annotation
    kind, result, _f, _w = run()
    assert kind == "exit"
    assert result["took_over"] is True
    assert store.lease["spec"]["holderIdentity"] == "run-a"
    assert store.lease["metadata"]["annotations"] == {"touched": "yes"}  # the re-read object was replaced


def test_concurrent_create_exactly_one_wins(run, store):
    def other_run_creates_first(s):
        s.put("run-b")

    store.before_write = other_run_creates_first
    kind, result, _f, _w = run(wait_timeout=0.02, poll_interval=0.01)
    assert kind == "fail"
    assert "held by run-b" in result["msg"]
    assert store.lease["spec"]["holderIdentity"] == "run-b"
    assert store.writes == []


def test_concurrent_takeover_loser_waits(run, store):
    store.put("run-old", renewed_ago=2000)

    def other_takes_over(s):
        s.put("run-b")

    store.before_write = other_takes_over
    kind, result, _f, _w = run(wait_timeout=0.02, poll_interval=0.01)
    assert kind == "fail"
    assert "held by run-b" in result["msg"]
    assert store.lease["spec"]["holderIdentity"] == "run-b"


def test_endless_conflicts_fail_clearly(run, store):
    store.put(None)
    real_replace = store.replace_namespaced_lease

    def always_conflict(name, namespace, body, **kwargs):
        store.objects[(NS, NAME)]["metadata"]["resourceVersion"] = store._next_rv()
        return real_replace(name, namespace, body, **kwargs)

    store.replace_namespaced_lease = always_conflict
    kind, result, _f, _w = run()
    assert kind == "fail"
    assert "changed under us" in result["msg"]


def test_release_by_holder_clears_holder_and_keeps_annotations(run, store):
    store.put("run-a", annotations={"keep": "me"}, transitions=3)
    kind, result, _f, _w = run(state="released")
    assert kind == "exit"
    assert result["changed"] is True
    assert result["acquired"] is False
    assert result["holder"] is None
    assert "holderIdentity" not in store.lease["spec"]
    assert store.lease["spec"]["leaseTransitions"] == 3
    assert store.lease["metadata"]["annotations"] == {"keep": "me"}


def test_release_held_by_other_warns_and_changes_nothing(run, store):
    store.put("run-b")
    kind, result, _f, warn = run(state="released")
    assert kind == "exit"
    assert result["changed"] is False
    assert result["holder"] == "run-b"
    assert store.writes == []
    assert "held by run-b, not by run-a" in warn.call_args[0][1]


@pytest.mark.parametrize("holder", [None, "nobody"], ids=["missing", "free"])
def test_release_missing_or_free_is_no_change(run, store, holder):
    if holder:
        store.put(None)
    kind, result, _f, _w = run(state="released")
    assert kind == "exit"
    assert result["changed"] is False
    assert store.writes == []


def test_check_mode_create_writes_nothing(run, store):
    kind, result, _f, _w = run(check_mode=True)
    assert kind == "exit"
    assert result["changed"] is True
    assert result["acquired"] is True
    assert store.lease is None
    assert store.writes == []


def test_check_mode_held_by_other_does_not_wait(run, store, monkeypatch):
    store.put("run-b")
    monkeypatch.setattr(lease_lock, "sleep", mock.Mock(side_effect=AssertionError("must not sleep")))
    kind, result, _f, _w = run(check_mode=True, wait_timeout=60)
    assert kind == "exit"
    assert result["would_wait"] is True
    assert result["holder"] == "run-b"
    assert result["acquired"] is False
    assert result["changed"] is False


def test_check_mode_takeover_and_release(run, store):
    store.put("run-old", renewed_ago=5000)
    kind, result, _f, _w = run(check_mode=True)
    assert kind == "exit" and result["took_over"] is True and result["changed"] is True
    store.put("run-a")
    kind, result, _f, _w = run(check_mode=True, state="released")
    assert kind == "exit" and result["changed"] is True
    assert store.writes == []
    assert store.lease["spec"]["holderIdentity"] == "run-a"


@pytest.mark.parametrize(
    "args, text",
    [
        ({"lease_duration": 0}, "lease_duration must be at least 1"),
        ({"wait_timeout": -1}, "wait_timeout must not be negative"),
        ({"poll_interval": 0}, "poll_interval must be positive"),
        ({"holder": " "}, "holder must not be empty"),
        ({"state": "locked"}, "value of state must be one of"),
    ],
)
def test_bad_input_is_refused_before_any_call(run, store, args, text):
    kind, result, factory, _w = run(**args)
    assert kind == "fail"
    assert text in result["msg"]
    assert factory.call_count == 0


def test_api_error_becomes_a_clear_message(run, store):
    store.read_namespaced_lease = mock.Mock(
        side_effect=ApiException(
            status=403,
            reason="Forbidden",
            body=json.dumps({"message": 'leases.coordination.k8s.io "voicehive-remediation" is forbidden'}),
        )
    )
    kind, result, _f, _w = run()
    assert kind == "fail"
    assert result["msg"].startswith(f"Cannot read Lease {NS}/{NAME}: 403 Forbidden: leases.coordination.k8s.io")
    assert "permission to get leases.coordination.k8s.io in namespace voicehive" in result["msg"]
