# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lease_lock against a fake Kubernetes API server (``kube_api``: resourceVersion semantics over HTTP), through the
module's real client; the connection factory is spied on (autospec) to prove bad input is refused before it."""

from __future__ import annotations

import datetime
import json
from unittest import mock

import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils import _k8s, _lease_lock
from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import format_microtime, parse_time
from ansible_collections.voicehive.remediation.plugins.modules import lease_lock

NS = "voicehive"
NAME = "voicehive-remediation"
LEASE = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{NAME}"
TOKEN = "tok3n-SECRET"


def put_lease(api, holder, renewed_ago=0.0, duration=900, transitions=0, annotations=None):
    """Store the Lease as another run (or the test) wrote it."""
    when = format_microtime(datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=renewed_ago))
    spec = {"leaseDurationSeconds": duration, "acquireTime": when, "renewTime": when, "leaseTransitions": transitions}
    if holder:
        spec["holderIdentity"] = holder
    metadata = {"name": NAME, "namespace": NS}
    if annotations:
        metadata["annotations"] = annotations
    api.put(LEASE, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec})


def lease(api):
    return api.get(LEASE)


@pytest.fixture
def connect():
    """``_k8s.connect`` spied on with autospec: the real client is built, the calls are counted."""
    with mock.patch.object(_k8s, "connect", autospec=True, side_effect=_k8s.connect) as spy:
        yield spy


@pytest.fixture
def run(run_module, kube_api, connect):
    """Run the module's main() against the fake API; returns the exit_json / fail_json payload."""

    def _run(check_mode=False, **args):
        module_args = {"namespace": NS, "holder": "run-a", "host": kube_api.url, "api_key": TOKEN}
        module_args.update(args)
        return run_module(lease_lock.main, module_args, check_mode=check_mode)

    return _run


def test_create_missing_lease(run, kube_api, connect):
    result = run()
    assert result["failed"] is False
    assert connect.call_count == 1
    assert result["changed"] is True
    assert result["acquired"] is True
    assert result["holder"] == "run-a"
    assert result["took_over"] is False
    assert result["previous_holder"] is None
    assert kube_api.writes[0][0] == "create"
    spec = lease(kube_api)["spec"]
    assert spec["holderIdentity"] == "run-a"
    assert spec["leaseDurationSeconds"] == 900
    assert spec["acquireTime"] == spec["renewTime"]
    assert parse_time(spec["acquireTime"]) is not None
    assert spec["acquireTime"].endswith("Z") and len(spec["acquireTime"].split(".")[1]) == 7  # 6 digits + Z
    assert lease(kube_api)["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "voicehive-remediation"}
    assert result["lease"]["holder_identity"] == "run-a"
    assert result["lease"]["expires_at"] is not None
    assert result["lease"]["resource_version"] == lease(kube_api)["metadata"]["resourceVersion"]


def test_requests_carry_the_token_and_json(run, kube_api, http_server):
    run()
    _base, state = http_server
    get, post = state.requests
    assert (get["method"], get["path"]) == ("GET", LEASE)
    assert (post["method"], post["path"]) == ("POST", LEASE.rsplit("/", 1)[0])
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in state.requests)
    assert post["headers"]["Content-Type"] == "application/json"
    assert json.loads(post["body"])["spec"]["holderIdentity"] == "run-a"


def test_renew_by_same_holder_is_not_a_change(run, kube_api):
    put_lease(kube_api, "run-a", renewed_ago=100, transitions=2, annotations={"keep": "me"})
    before = lease(kube_api)["spec"]["renewTime"]
    result = run(lease_duration=600)
    assert result["failed"] is False
    assert result["changed"] is False
    assert result["acquired"] is True
    assert kube_api.writes and kube_api.writes[-1][0] == "replace"
    spec = lease(kube_api)["spec"]
    assert parse_time(spec["renewTime"]) > parse_time(before)
    assert spec["acquireTime"] == kube_api.writes[-1][1]["spec"]["acquireTime"]
    assert spec["leaseTransitions"] == 2  # a renewal is no transition
    assert spec["leaseDurationSeconds"] == 600
    assert lease(kube_api)["metadata"]["annotations"] == {"keep": "me"}


def test_free_lease_is_taken(run, kube_api):
    put_lease(kube_api, None, transitions=4)
    result = run()
    assert result["failed"] is False
    assert result["changed"] is True
    assert result["took_over"] is False
    assert lease(kube_api)["spec"]["holderIdentity"] == "run-a"
    assert lease(kube_api)["spec"]["leaseTransitions"] == 5


def test_held_by_other_waits_then_fails(run, kube_api):
    put_lease(kube_api, "run-b", renewed_ago=10)
    result = run(wait_timeout=0.05, poll_interval=0.01)
    assert result["failed"] is True
    msg = result["msg"]
    assert msg.startswith(f"Cannot acquire lock {NS}/{NAME}: held by run-b since ")
    assert "(expires " in msg
    assert "another remediation is running on this site. Wait or check the AWX job of that holder." in msg
    assert result["holder"] == "run-b"
    assert result["acquired"] is False
    assert result["waited"] >= 0.04
    assert kube_api.writes == []
    assert TOKEN not in json.dumps(result)


def test_held_by_other_released_while_waiting(run, kube_api, monkeypatch):
    put_lease(kube_api, "run-b", renewed_ago=10)
    sleeps = []

    def fake_sleep(seconds):
        sleeps.append(seconds)
        put_lease(kube_api, None)  # the other run releases

    monkeypatch.setattr(_lease_lock, "sleep", fake_sleep)
    result = run(wait_timeout=5, poll_interval=0.5)
    assert result["failed"] is False
    assert sleeps == [0.5]
    assert result["acquired"] is True
    assert result["changed"] is True
    assert lease(kube_api)["spec"]["holderIdentity"] == "run-a"


def test_wait_timeout_zero_fails_at_once(run, kube_api, monkeypatch):
    put_lease(kube_api, "run-b")
    monkeypatch.setattr(_lease_lock, "sleep", mock.Mock(side_effect=AssertionError("must not sleep")))
    result = run(wait_timeout=0)
    assert result["failed"] is True
    assert "held by run-b" in result["msg"]


def test_expired_lease_is_taken_over(run, kube_api):
    put_lease(kube_api, "run-old", renewed_ago=2000, duration=900, transitions=1)
    result = run()
    assert result["failed"] is False
    assert result["changed"] is True
    assert result["acquired"] is True
    assert result["took_over"] is True
    assert result["previous_holder"] == "run-old"
    spec = lease(kube_api)["spec"]
    assert spec["holderIdentity"] == "run-a"
    assert spec["leaseTransitions"] == 2
    assert parse_time(spec["acquireTime"]) > datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=60)
    assert len(result["warnings"]) == 1 and "run-old" in result["warnings"][0]


def test_conflict_on_replace_is_retried(run, kube_api):
    put_lease(kube_api, "run-old", renewed_ago=2000)

    def concurrent_annotation(api):  # someone else writes the object between our read and our replace
        obj = api.get(LEASE)
        obj["metadata"]["annotations"] = {"touched": "yes"}
        api.put(LEASE, obj)

    kube_api.before_write = concurrent_annotation
    result = run()
    assert result["failed"] is False
    assert result["took_over"] is True
    assert [m for m, _p in kube_api.requests] == ["GET", "PUT", "GET", "PUT"]  # the 409 was read again
    assert lease(kube_api)["spec"]["holderIdentity"] == "run-a"
    assert lease(kube_api)["metadata"]["annotations"] == {"touched": "yes"}  # the re-read object was replaced


def test_concurrent_create_exactly_one_wins(run, kube_api):
    kube_api.before_write = lambda api: put_lease(api, "run-b")
    result = run(wait_timeout=0.02, poll_interval=0.01)
    assert result["failed"] is True
    assert "held by run-b" in result["msg"]
    assert lease(kube_api)["spec"]["holderIdentity"] == "run-b"
    assert kube_api.writes == []


def test_concurrent_takeover_loser_waits(run, kube_api):
    put_lease(kube_api, "run-old", renewed_ago=2000)
    kube_api.before_write = lambda api: put_lease(api, "run-b")
    result = run(wait_timeout=0.02, poll_interval=0.01)
    assert result["failed"] is True
    assert "held by run-b" in result["msg"]
    assert lease(kube_api)["spec"]["holderIdentity"] == "run-b"


def test_endless_conflicts_fail_clearly(run, kube_api):
    put_lease(kube_api, None)

    def always_conflict(api):
        api.put(LEASE, api.get(LEASE))  # a new resourceVersion before each of our writes
        api.before_write = always_conflict

    kube_api.before_write = always_conflict
    result = run()
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot acquire lock {NS}/{NAME}: the Lease changed under us 21 times in a row")
    assert result["acquired"] is False
    assert kube_api.writes == []


def test_release_by_holder_clears_holder_and_keeps_annotations(run, kube_api):
    put_lease(kube_api, "run-a", annotations={"keep": "me"}, transitions=3)
    result = run(state="released")
    assert result["failed"] is False
    assert result["changed"] is True
    assert result["acquired"] is False
    assert result["holder"] is None
    assert "holderIdentity" not in lease(kube_api)["spec"]
    assert lease(kube_api)["spec"]["leaseTransitions"] == 3
    assert lease(kube_api)["metadata"]["annotations"] == {"keep": "me"}


def test_release_conflict_is_retried(run, kube_api):
    put_lease(kube_api, "run-a")
    kube_api.before_write = lambda api: api.put(LEASE, api.get(LEASE))
    result = run(state="released")
    assert result["failed"] is False and result["changed"] is True
    assert [m for m, _p in kube_api.requests] == ["GET", "PUT", "GET", "PUT"]
    assert "holderIdentity" not in lease(kube_api)["spec"]


def test_release_held_by_other_warns_and_changes_nothing(run, kube_api):
    put_lease(kube_api, "run-b")
    result = run(state="released")
    assert result["failed"] is False
    assert result["changed"] is False
    assert result["holder"] == "run-b"
    assert kube_api.writes == []
    assert "held by run-b, not by run-a" in result["warnings"][0]


@pytest.mark.parametrize("holder", [None, "nobody"], ids=["missing", "free"])
def test_release_missing_or_free_is_no_change(run, kube_api, holder):
    if holder:
        put_lease(kube_api, None)
    result = run(state="released")
    assert result["failed"] is False
    assert result["changed"] is False
    assert kube_api.writes == []


def test_check_mode_create_writes_nothing(run, kube_api):
    result = run(check_mode=True)
    assert result["failed"] is False
    assert result["changed"] is True
    assert result["acquired"] is True
    assert result["lease"]["resource_version"] is None
    assert lease(kube_api) is None
    assert kube_api.writes == [] and [m for m, _p in kube_api.requests] == ["GET"]


def test_check_mode_held_by_other_does_not_wait(run, kube_api, monkeypatch):
    put_lease(kube_api, "run-b")
    monkeypatch.setattr(_lease_lock, "sleep", mock.Mock(side_effect=AssertionError("must not sleep")))
    result = run(check_mode=True, wait_timeout=60)
    assert result["failed"] is False
    assert result["would_wait"] is True
    assert result["holder"] == "run-b"
    assert result["acquired"] is False
    assert result["changed"] is False


def test_check_mode_takeover_and_release(run, kube_api):
    put_lease(kube_api, "run-old", renewed_ago=5000)
    result = run(check_mode=True)
    assert result["failed"] is False and result["took_over"] is True and result["changed"] is True
    put_lease(kube_api, "run-a")
    result = run(check_mode=True, state="released")
    assert result["failed"] is False and result["changed"] is True
    assert kube_api.writes == []
    assert lease(kube_api)["spec"]["holderIdentity"] == "run-a"


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
def test_bad_input_is_refused_before_any_call(run, kube_api, connect, args, text):
    result = run(**args)
    assert result["failed"] is True
    assert text in result["msg"]
    assert connect.call_count == 0
    assert kube_api.requests == []


@pytest.mark.parametrize(
    "status, message, expected",
    [
        (403, 'leases.coordination.k8s.io "voicehive-remediation" is forbidden',
         f'Cannot read Lease {NS}/{NAME}: 403 Forbidden: leases.coordination.k8s.io "voicehive-remediation" is '
         "forbidden. The credentials lack the RBAC permission to get leases.coordination.k8s.io in namespace "
         "voicehive; check the Role bound to the remediation service account."),
        (401, "Unauthorized", f"Cannot read Lease {NS}/{NAME}: 401 Unauthorized: Unauthorized. The API server "
         "rejected the credentials; check api_key / client_cert or the kubeconfig user."),
        (500, "etcdserver: request timed out", f"Cannot read Lease {NS}/{NAME}: 500 Internal Server Error: "
         "etcdserver: request timed out. The API server is overloaded or failing; retry later."),
    ],
)  # fmt: skip
def test_api_error_becomes_a_clear_message(run, kube_api, status, message, expected):
    kube_api.fail[("GET", LEASE)] = (status, message)
    result = run()
    assert result["failed"] is True
    assert result["msg"] == expected
    assert result["acquired"] is False


def test_forbidden_write_names_the_rbac_verb(run, kube_api):
    put_lease(kube_api, None)
    kube_api.fail[("PUT", LEASE)] = (403, 'leases.coordination.k8s.io "voicehive-remediation" is forbidden')
    result = run()
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot replace Lease {NS}/{NAME}: 403 Forbidden: ")
    assert "permission to update leases.coordination.k8s.io in namespace voicehive" in result["msg"]


def test_lease_deleted_between_read_and_replace(run, kube_api):
    put_lease(kube_api, None)
    kube_api.before_write = lambda api: api.objects.pop(LEASE)
    result = run()
    assert result["failed"] is True
    assert result["msg"].startswith(f'Cannot replace Lease {NS}/{NAME}: 404 Not Found: "{NAME}" not found.')


def test_unreachable_api_server(run_module, connect):
    result = run_module(
        lease_lock.main, {"namespace": NS, "holder": "run-a", "host": "http://127.0.0.1:9", "api_key": TOKEN}
    )
    assert result["failed"] is True
    assert result["msg"].startswith(
        f"Cannot read Lease {NS}/{NAME}: cannot reach the Kubernetes API server at http://127.0.0.1:9 ("
    )
    assert TOKEN not in result["msg"]


def test_unusable_connection_settings(run_module, monkeypatch, tmp_path):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    result = run_module(lease_lock.main, {"namespace": NS, "holder": "run-a"})
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot configure the Kubernetes client: no connection settings")
