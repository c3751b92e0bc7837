# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ip_blocklist, the module and its action plugin, against a fake Kubernetes API server (``kube_api``): validation
before any request, refusal of private and protected addresses, merge and removal, conflicts, check and diff mode."""

from __future__ import annotations

from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.voicehive.remediation.plugins.action import ip_blocklist as blocklist_action
from ansible_collections.voicehive.remediation.plugins.module_utils import _k8s
from ansible_collections.voicehive.remediation.plugins.modules import ip_blocklist

NS = "voicehive"
NAME = "security-config"
KEY = "blocked_ips"
CONFIGMAP = f"/api/v1/namespaces/{NS}/configmaps/{NAME}"
CONFIGMAPS = CONFIGMAP.rsplit("/", 1)[0]
TOKEN = "kube-token-" + "z" * 24
WHERE = f"ConfigMap {NS}/{NAME} key {KEY}"


class Store:
    """The ConfigMap in the fake API server."""

    def __init__(self, api):
        self.api = api

    def put(self, value=None, data=None, **extra):
        metadata = {"name": NAME, "namespace": NS, "annotations": {"keep": "me"}}
        if data is None:
            data = {"other": "kept"} if value is None else {KEY: value, "other": "kept"}
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
        obj.update(extra)
        self.api.put(CONFIGMAP, obj)

    def bump(self, **data):
        """Someone else changes keys of the ConfigMap (a new resourceVersion)."""
        obj = self.api.get(CONFIGMAP)
        obj["data"].update(data)
        self.api.put(CONFIGMAP, obj)

    @property
    def configmap(self):
        return self.api.get(CONFIGMAP)

    @property
    def value(self):
        return ((self.configmap or {}).get("data") or {}).get(KEY)

    @property
    def writes(self):
        return self.api.writes


@pytest.fixture
def store(kube_api):
    return Store(kube_api)


@pytest.fixture
def connect():
    with mock.patch.object(_k8s, "connect", autospec=True, side_effect=_k8s.connect) as spy:
        yield spy


@pytest.fixture
def run(run_module, kube_api, connect):
    """Run main() against the fake API; returns the exit_json / fail_json payload."""

    def _run(check_mode=False, diff=False, **args):
        module_args = {"namespace": NS, "host": kube_api.url, "api_key": TOKEN}
        module_args.update(args)
        return run_module(ip_blocklist.main, module_args, check_mode=check_mode, diff=diff)

    return _run


# ---------------------------------------------------------------------------------------------
# options: refused before any request
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, text",
    [
        ({"addresses": []}, "addresses must not be empty"),
        ({"addresses": ["10.0.0.5/24"]}, "addresses: '10.0.0.5/24' has host bits set; did you mean 10.0.0.0/24?"),
        ({"addresses": ["2001:db8::1/32"]}, "'2001:db8::1/32' has host bits set; did you mean 2001:db8::/32?"),
        ({"addresses": ["1.2.3"]}, "addresses: '1.2.3' is not an IPv4 or IPv6 address or network"),
        ({"addresses": [""]}, "addresses: '' is empty"),
        ({"addresses": ["  "]}, "addresses: '  ' is blank"),
        ({"addresses": [" 1.2.3.4"]}, "' 1.2.3.4' has blanks around it; did you mean 1.2.3.4?"),
        ({"addresses": ["attacker.example.com"]}, "'attacker.example.com' is a host name; give its IP address"),
        ({"addresses": ["203.0.113.7:8080"]}, "'203.0.113.7:8080' has a port or brackets; give the address alone"),
        ({"addresses": ["[2001:db8::7]:443"]}, "give the address alone: 2001:db8::7"),
        ({"addresses": ["fe80::1%eth0"]}, "'fe80::1%eth0' has a zone index (%eth0)"),
        (
            {"addresses": ["203.0.113.0/33"]},
            "'203.0.113.0/33' has an invalid prefix length /33; it must be from /0 to /32",
        ),
        (
            {"addresses": ["203.0.113.1,203.0.113.2"]},
            "holds several entries; give one address or network per list item",
        ),
        ({"addresses": ["ip:203.0.113.7"]}, "'ip:203.0.113.7' is not an IPv4 or IPv6 address or network"),
        (
            {"addresses": ["203.0.113.7"], "protected": ["10.0.0.0/8", "10.1.2.3/16"]},
            "protected: '10.1.2.3/16' has host",
        ),
        ({"addresses": ["203.0.113.7"], "namespace": " "}, "namespace must not be empty"),
        ({"addresses": ["203.0.113.7"], "configmap": ""}, "configmap must not be empty"),
        ({"addresses": ["203.0.113.7"], "key": "a/b"}, "key must be a ConfigMap key"),
        ({"addresses": ["203.0.113.7"], "separator": ""}, "separator must be a comma or blanks"),
        ({"addresses": ["203.0.113.7"], "separator": ";"}, "separator must be a comma or blanks"),
        ({"addresses": ["203.0.113.7"], "separator": ",,"}, "separator must be a comma or blanks"),
        ({"addresses": ["203.0.113.7"], "state": "blocked"}, "value of state must be one of: present, absent"),
    ],
)
def test_bad_input_is_refused_before_any_request(run, kube_api, connect, args, text):
    result = run(**args)
    assert result["failed"] is True
    assert result["msg"].startswith("Invalid options for ip_blocklist: ") or "value of state" in text
    assert text in result["msg"]
    assert connect.call_count == 0 and kube_api.requests == []


def test_every_problem_is_in_one_message(run, kube_api):
    result = run(addresses=["10.0.0.5/24", "203.0.113.7", "1.2.3", "host.example"], protected=["192.0.2.1/24"])
    assert result["failed"] is True
    assert result["msg"] == (
        "Invalid options for ip_blocklist: addresses: '10.0.0.5/24' has host bits set; did you mean 10.0.0.0/24?; "
        "addresses: '1.2.3' is not an IPv4 or IPv6 address or network; addresses: 'host.example' is a host name; "
        "give its IP address (the blocklist matches addresses); protected: '192.0.2.1/24' has host bits set; did you "
        "mean 192.0.2.0/24?."
    )
    assert kube_api.requests == []


@pytest.mark.parametrize(
    "address, why",
    [
        ("10.0.0.5", "is private"),
        ("172.16.4.4", "is private"),
        ("192.168.1.10", "is private"),
        ("100.64.0.9", "is private (carrier-grade NAT)"),
        ("127.0.0.1", "is loopback"),
        ("169.254.169.254", "is link-local"),
        ("224.0.0.251", "is multicast"),
        ("240.0.0.1", "is reserved"),
        ("255.255.255.255", "is reserved"),
        ("0.0.0.0", "is unspecified"),  # noqa: S104 - an address to block, not to bind
        ("0.1.2.3", "is reserved (this network)"),
        ("::", "is unspecified"),
        ("::1", "is loopback"),
        ("fd00::1", "is private (unique local)"),
        ("fe80::1", "is link-local"),
        ("ff02::1", "is multicast"),
        ("::ffff:10.0.0.5", "is private"),
        ("10.20.0.0/16", "is inside private network 10.0.0.0/8"),
        ("8.0.0.0/5", "overlaps private network 10.0.0.0/8"),
    ],
)
def test_special_addresses_are_refused(run, kube_api, address, why):
    result = run(addresses=["203.0.113.7", address])
    assert result["failed"] is True
    assert result["msg"] == (
        f"Invalid options for ip_blocklist: will not block {address} ({why}) (set force=true to block them anyway, "
        "or leave them out)."
    )
    assert kube_api.requests == []


def test_refusals_list_each_entry_with_why(run, kube_api):
    result = run(
        addresses=["0.0.0.0/0", "203.0.113.0/24", "198.51.100.23", "10.0.0.1"],
        protected=["203.0.113.50", "198.51.100.0/24"],
    )
    assert result["failed"] is True
    msg = result["msg"]
    assert "0.0.0.0/0 (overlaps reserved (this network) network 0.0.0.0/8, overlaps private network 10.0.0.0/8, " in msg
    assert "0.0.0.0/0 (" in msg and "overlaps protected 203.0.113.50, overlaps protected 198.51.100.0/24)" in msg
    assert "; 203.0.113.0/24 (overlaps protected 203.0.113.50); " in msg
    assert "; 198.51.100.23 (overlaps protected 198.51.100.0/24); " in msg
    assert "; 10.0.0.1 (is private) (set force=true to block them anyway, or leave them out)." in msg
    assert kube_api.requests == []


def test_documentation_networks_and_ipv6_are_not_special(run, store):
    store.put("")
    result = run(addresses=["198.51.100.23", "203.0.113.77", "192.0.2.200", "2001:db8::7", "::ffff:cb00:7109"])
    assert result["failed"] is False, result
    assert result["added"] == ["198.51.100.23", "203.0.113.77", "192.0.2.200", "2001:db8::7", "::ffff:203.0.113.9"]


def test_force_blocks_special_and_protected_addresses_with_warnings(run, store):
    store.put("203.0.113.1")
    result = run(addresses=["10.0.0.5", "203.0.113.8"], protected=["203.0.113.0/29"], force=True)
    assert result["failed"] is False, result
    assert result["changed"] is True and result["added"] == ["10.0.0.5", "203.0.113.8"]
    assert store.value == "203.0.113.1,10.0.0.5,203.0.113.8"
    assert result["warnings"] == [f"Blocking 10.0.0.5 (is private) in {WHERE} because force=true."]
    result = run(addresses=["203.0.113.2"], protected=["203.0.113.0/29"], force=True)
    assert result["warnings"] == [
        f"Blocking 203.0.113.2 (overlaps protected 203.0.113.0/29) in {WHERE} because force=true."
    ]
    assert result["added"] == ["203.0.113.2"]


def test_absent_may_name_private_and_protected_addresses(run, store):
    store.put("10.0.0.5,203.0.113.7")
    result = run(addresses=["10.0.0.5", "203.0.113.7"], protected=["203.0.113.0/24"], state="absent")
    assert result["failed"] is False, result
    assert result["removed"] == ["10.0.0.5", "203.0.113.7"] and store.value == ""
    assert result["warnings"] == []


# ---------------------------------------------------------------------------------------------
# state=present
# ---------------------------------------------------------------------------------------------


def test_missing_configmap_is_created_then_second_run_changes_nothing(run, store, connect):
    first = run(addresses=["198.51.100.23", "203.0.113.77"])
    assert first["failed"] is False, first
    assert connect.call_count == 1
    assert [verb for verb, _body in store.writes] == ["create"]
    assert store.configmap["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "voicehive-remediation"}
    assert store.configmap["data"] == {KEY: "198.51.100.23,203.0.113.77"}
    assert first == {
        "changed": True,
        "blocked": ["198.51.100.23", "203.0.113.77"],
        "added": ["198.51.100.23", "203.0.113.77"],
        "removed": [],
        "already_blocked": [],
        "invalid_existing": [],
        "configmap_existed": False,
        "before": "",
        "after": "198.51.100.23,203.0.113.77",
        "msg": f"Blocked 198.51.100.23, 203.0.113.77 in {WHERE}.",
        "failed": False,
        "warnings": [],
    }

    second = run(addresses=["198.51.100.23", "203.0.113.77"])
    assert second["failed"] is False, second
    assert second["changed"] is False and second["added"] == []
    assert second["already_blocked"] == ["198.51.100.23", "203.0.113.77"]
    assert second["before"] == second["after"] == "198.51.100.23,203.0.113.77"
    assert second["configmap_existed"] is True
    assert second["msg"] == f"Nothing to change: {WHERE} already blocks 198.51.100.23, 203.0.113.77."
    assert len(store.writes) == 1


def test_merge_keeps_existing_entries_and_appends_normalised_new_ones(run, store):
    before = "203.0.113.1, 198.51.100.0/24\n2001:db8::1 "
    store.put(before)
    rv = store.configmap["metadata"]["resourceVersion"]
    result = run(
        addresses=[
            "2001:DB8:0::1",  # listed, written otherwise
            "198.51.100.7",  # inside a listed network
            "203.0.113.9/32",  # a single address
            "203.0.113.9",  # the same again
            "2001:DB8:1::/48",
            "192.0.2.0/255.255.255.0",
        ]
    )
    assert result["failed"] is False, result
    assert result["changed"] is True
    assert result["added"] == ["198.51.100.7", "203.0.113.9", "2001:db8:1::/48", "192.0.2.0/24"]
    assert result["already_blocked"] == ["2001:db8::1"]
    after = "203.0.113.1, 198.51.100.0/24\n2001:db8::1,198.51.100.7,203.0.113.9,2001:db8:1::/48,192.0.2.0/24"
    assert (result["before"], result["after"], store.value) == (before, after, after)
    assert result["blocked"] == [
        "203.0.113.1", "198.51.100.0/24", "2001:db8::1", "198.51.100.7", "203.0.113.9", "2001:db8:1::/48",
        "192.0.2.0/24",
    ]  # fmt: skip
    ((verb, body),) = store.writes
    assert verb == "replace" and body["metadata"]["resourceVersion"] == rv
    assert store.configmap["data"]["other"] == "kept" and store.configmap["metadata"]["annotations"] == {"keep": "me"}
    assert result["warnings"] == [
        f"198.51.100.7 is added to {WHERE} although 198.51.100.0/24 in the list covers it: the orchestrator matches "
        "client addresses exactly."
    ]
    assert run(addresses=["198.51.100.7", "203.0.113.9", "2001:db8:1::/48", "192.0.2.0/24"])["changed"] is False


def test_only_existing_entries_cover_new_ones(run, store):
    store.put("")
    result = run(addresses=["203.0.113.0/24", "203.0.113.5", "203.0.113.0/24"])
    assert result["added"] == ["203.0.113.0/24", "203.0.113.5"] and result["already_blocked"] == []
    assert store.value == "203.0.113.0/24,203.0.113.5" and result["warnings"] == []


def test_an_address_listed_otherwise_written_is_added_with_a_warning(run, store):
    store.put("203.0.113.9/32")
    result = run(addresses=["203.0.113.9"])
    assert result["changed"] is True and result["already_blocked"] == [] and store.value == "203.0.113.9/32,203.0.113.9"
    assert result["warnings"][0].startswith(f"203.0.113.9 is added to {WHERE} although 203.0.113.9/32 in the list")


@pytest.mark.parametrize(
    "separator, before, after",
    [
        (",", "", "203.0.113.1,203.0.113.2"),
        (", ", "198.51.100.1", "198.51.100.1, 203.0.113.1, 203.0.113.2"),
        (" ", "198.51.100.1,\n", "198.51.100.1 203.0.113.1 203.0.113.2"),
        ("\n", " , ", "203.0.113.1\n203.0.113.2"),
    ],
)
def test_separator(run, store, separator, before, after):
    store.put(before)
    result = run(addresses=["203.0.113.1", "203.0.113.2"], separator=separator)
    assert result["failed"] is False, result
    assert store.value == after and result["blocked"][-2:] == ["203.0.113.1", "203.0.113.2"]


@pytest.mark.parametrize("data", [None, {}, {"other": "kept"}], ids=["no-data", "empty-data", "no-key"])
def test_configmap_without_the_key(run, store, data):
    store.put(data={} if data is None else data)
    if data is None:
        del store.api.objects[CONFIGMAP]["data"]
    result = run(addresses=["203.0.113.1"])
    assert result["failed"] is False, result
    assert result["configmap_existed"] is True and result["before"] == ""
    assert store.writes[0][0] == "replace" and store.value == "203.0.113.1"


def test_malformed_existing_entries_are_kept_and_reported(run, store):
    store.put("203.0.113.1,evil.example.com;10.0.0.5/24 ,2001:db8::zz")
    result = run(addresses=["203.0.113.2"])
    assert result["failed"] is False, result
    assert result["invalid_existing"] == ["evil.example.com;10.0.0.5/24", "2001:db8::zz"]
    assert store.value == "203.0.113.1,evil.example.com;10.0.0.5/24 ,2001:db8::zz,203.0.113.2"
    assert result["warnings"] == [
        f"{WHERE} holds entries that are no IPv4 or IPv6 address or network, kept as they are: "
        "'evil.example.com;10.0.0.5/24' holds several entries; give one address or network per list item; "
        "'2001:db8::zz' is not an IPv4 or IPv6 address or network."
    ]
    again = run(addresses=["2001:db8::1"], state="absent")
    assert again["invalid_existing"] == ["evil.example.com;10.0.0.5/24", "2001:db8::zz"]
    assert len(again["warnings"]) == 1 and again["changed"] is False


def test_immutable_configmap(run, store):
    store.put("203.0.113.1", immutable=True)
    assert run(addresses=["203.0.113.1"])["changed"] is False  # nothing to change: fine
    result = run(addresses=["203.0.113.2"], check_mode=True)
    assert result["failed"] is True
    assert result["msg"] == (
        f"Cannot replace ConfigMap {NS}/{NAME}: it is immutable, but key {KEY} needs a change. Delete and re-create "
        "the ConfigMap to change it."
    )
    assert store.writes == []


# ---------------------------------------------------------------------------------------------
# state=absent
# ---------------------------------------------------------------------------------------------


def test_absent_removes_exact_normalised_matches_only(run, store):
    store.put("203.0.113.1 203.0.113.9/32,198.51.100.0/24, 2001:db8::1,bogus,203.0.113.1,2001:DB8::1")
    result = run(addresses=["203.0.113.1", "203.0.113.9", "198.51.100.7", "2001:db8:0::1"], state="absent", diff=True)
    assert result["failed"] is False, result
    assert result["changed"] is True
    assert result["removed"] == ["203.0.113.1", "203.0.113.9/32", "2001:db8::1", "2001:DB8::1"]
    assert store.value == "198.51.100.0/24,bogus"
    assert result["blocked"] == ["198.51.100.0/24", "bogus"] and result["invalid_existing"] == ["bogus"]
    assert result["added"] == [] and result["already_blocked"] == []
    assert result["msg"] == f"Unblocked 203.0.113.1, 203.0.113.9/32, 2001:db8::1, 2001:DB8::1 in {WHERE}."
    assert result["diff"] == {
        "before": {KEY: "203.0.113.1 203.0.113.9/32,198.51.100.0/24, 2001:db8::1,bogus,203.0.113.1,2001:DB8::1"},
        "after": {KEY: "198.51.100.0/24,bogus"},
    }
    second = run(addresses=["203.0.113.1"], state="absent")
    assert second["changed"] is False and len(store.writes) == 1
    assert second["msg"] == f"Nothing to change: {WHERE} does not list 203.0.113.1."


def test_absent_with_a_missing_configmap_is_a_no_op(run, store, kube_api):
    result = run(addresses=["203.0.113.1"], state="absent", diff=True)
    assert result["failed"] is False, result
    assert result["changed"] is False and result["configmap_existed"] is False
    assert result["msg"] == f"Nothing to change: ConfigMap {NS}/{NAME} does not exist."
    assert result["diff"] == {"before": {KEY: ""}, "after": {KEY: ""}}
    assert [method for method, _path in kube_api.requests] == ["GET"] and store.configmap is None


# ---------------------------------------------------------------------------------------------
# check and diff mode
# ---------------------------------------------------------------------------------------------


def test_check_mode_reports_and_writes_nothing(run, store, kube_api):
    result = run(addresses=["203.0.113.1"], check_mode=True, diff=True)
    assert result["failed"] is False, result
    assert result["changed"] is True and result["added"] == ["203.0.113.1"] and result["configmap_existed"] is False
    assert result["msg"] == f"Would block 203.0.113.1 in {WHERE}."
    assert result["diff"] == {"before": {KEY: ""}, "after": {KEY: "203.0.113.1"}}
    assert store.configmap is None
    store.put("203.0.113.1,203.0.113.2")
    result = run(addresses=["203.0.113.2"], state="absent", check_mode=True)
    assert result["changed"] is True and result["removed"] == ["203.0.113.2"] and result["after"] == "203.0.113.1"
    assert result["msg"] == f"Would unblock 203.0.113.2 in {WHERE}."
    assert store.writes == [] and store.value == "203.0.113.1,203.0.113.2"
    assert {method for method, _path in kube_api.requests} == {"GET"}
    result = run(addresses=["203.0.113.2"], check_mode=True)
    assert result["changed"] is False and result["msg"].startswith("Nothing to change")


def test_diff_only_in_diff_mode(run, store):
    store.put("203.0.113.1")
    result = run(addresses=["203.0.113.2"], diff=True)
    assert result["diff"] == {"before": {KEY: "203.0.113.1"}, "after": {KEY: "203.0.113.1,203.0.113.2"}}
    assert "diff" not in run(addresses=["203.0.113.3"])


# ---------------------------------------------------------------------------------------------
# conflicts and API errors
# ---------------------------------------------------------------------------------------------


def test_conflict_is_retried_and_keeps_the_other_change(run, store):
    store.put("203.0.113.1")
    store.api.before_write = lambda _api: store.bump(other="changed meanwhile")
    result = run(addresses=["203.0.113.2"])
    assert result["failed"] is False, result
    assert result["changed"] is True and store.value == "203.0.113.1,203.0.113.2"
    assert store.configmap["data"]["other"] == "changed meanwhile"
    assert [method for method, _path in store.api.requests] == ["GET", "PUT", "GET", "PUT"]


def test_conflict_with_the_same_address_blocked_meanwhile(run, store):
    store.put("203.0.113.1")
    store.api.before_write = lambda _api: store.bump(**{KEY: "203.0.113.1 203.0.113.2"})
    result = run(addresses=["203.0.113.2"])
    assert result["failed"] is False, result
    assert result["changed"] is False and result["already_blocked"] == ["203.0.113.2"]
    assert store.writes == [] and store.value == "203.0.113.1 203.0.113.2"


def test_concurrent_create_is_retried(run, store):
    store.api.before_write = lambda _api: store.put("198.51.100.1")
    result = run(addresses=["203.0.113.2"])
    assert result["failed"] is False, result
    assert result["changed"] is True and result["configmap_existed"] is True
    assert store.value == "198.51.100.1,203.0.113.2"
    assert [verb for verb, _body in store.writes] == ["replace"]


def test_endless_conflicts_fail_clearly(run, store):
    store.put("203.0.113.1")

    def always_conflict(api):
        store.bump()
        api.before_write = always_conflict

    store.api.before_write = always_conflict
    result = run(addresses=["203.0.113.2"])
    assert result["failed"] is True
    assert result["msg"] == (
        f"Cannot replace ConfigMap {NS}/{NAME}: it changed under us 21 times in a row; another process keeps writing "
        "it. Run again."
    )
    assert store.writes == []


def test_forbidden_read_and_replace(run, store):
    store.api.fail[("GET", CONFIGMAP)] = (403, 'configmaps "security-config" is forbidden')
    result = run(addresses=["203.0.113.2"])
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot read ConfigMap {NS}/{NAME}: 403 Forbidden: configmaps ")
    assert "permission to get configmaps in namespace voicehive" in result["msg"]
    del store.api.fail[("GET", CONFIGMAP)]
    store.put("203.0.113.1")
    store.api.fail[("PUT", CONFIGMAP)] = (403, 'configmaps "security-config" is forbidden')
    result = run(addresses=["203.0.113.2"])
    assert result["failed"] is True
    assert "permission to update configmaps in namespace voicehive" in result["msg"]
    store.api.fail[("POST", CONFIGMAPS)] = (403, "configmaps is forbidden")
    del store.api.objects[CONFIGMAP]
    result = run(addresses=["203.0.113.2"])
    assert result["msg"].startswith(f"Cannot create ConfigMap {NS}/{NAME}: 403 Forbidden: configmaps is forbidden.")
    assert TOKEN not in str(result)


# ---------------------------------------------------------------------------------------------
# the action plugin, in-process
# ---------------------------------------------------------------------------------------------


def action_for(make_action, args, check_mode=False, diff=False):
    action = make_action(blocklist_action.ActionModule, args, check_mode=check_mode, diff=diff)
    action._connection.transport = "local"
    action._execute_module = mock.MagicMock(return_value={"changed": False, "from_module": True})
    return action


def connected(kube_api, **args):
    return dict({"namespace": NS, "host": kube_api.url, "api_key": TOKEN}, **args)


def test_action_runs_in_process_with_the_modules_result(make_action, kube_api, store, run):
    store.put("203.0.113.1,junk")
    args = connected(kube_api, addresses=["203.0.113.2", "203.0.113.1"])
    from_module = run(**args)
    module_writes, store.api.writes = store.api.writes, []
    store.put("203.0.113.1,junk")
    action = action_for(make_action, args)
    from_action = action.run(task_vars={})
    action._execute_module.assert_not_called()
    assert from_module.pop("failed") is False
    assert from_action == from_module
    assert from_action["added"] == ["203.0.113.2"] and len(from_action["warnings"]) == 1
    assert [body["data"] for _verb, body in store.writes] == [body["data"] for _verb, body in module_writes]


def test_action_check_and_diff_mode(make_action, kube_api, store):
    store.put("203.0.113.1")
    action = action_for(make_action, connected(kube_api, addresses=["203.0.113.2"]), check_mode=True, diff=True)
    result = action.run(task_vars={})
    assert result["changed"] is True and store.writes == []
    assert result["diff"] == {"before": {KEY: "203.0.113.1"}, "after": {KEY: "203.0.113.1,203.0.113.2"}}


def test_action_refuses_bad_input_before_any_request(make_action, kube_api):
    action = action_for(make_action, connected(kube_api, addresses=["10.0.0.5", "1.2.3"]))
    with pytest.raises(AnsibleActionFail) as caught:
        action.run(task_vars={})
    assert str(caught.value) == (
        "Invalid options for ip_blocklist: addresses: '1.2.3' is not an IPv4 or IPv6 address or network; will not "
        "block 10.0.0.5 (is private) (set force=true to block them anyway, or leave them out)."
    )
    assert kube_api.requests == []


def test_action_runs_the_module_elsewhere(make_action, kube_api):
    args = connected(kube_api, addresses=["203.0.113.2"])
    action = action_for(make_action, args)
    action._connection.transport = "ssh"
    action._remove_tmp_path = mock.MagicMock()
    assert action.run(task_vars={})["from_module"] is True
    action._execute_module.assert_called_once_with(
        module_name="voicehive.remediation.ip_blocklist", module_args=args, task_vars={}, wrap_async=0
    )
    assert kube_api.requests == []


def test_module_defaults_of_the_group_reach_the_action_plugin(kube_api, store, ansible_playbook):
    tasks = """
    - name: Block an attacker
      voicehive.remediation.ip_blocklist: {namespace: voicehive, addresses: [203.0.113.77]}
      register: __blocked
    - name: Check the result
      ansible.builtin.assert:
        that: __blocked.added == ['203.0.113.77'] and __blocked is changed
    """
    out = ansible_playbook(tasks, {"host": kube_api.url, "api_key": TOKEN})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert store.value == "203.0.113.77"
    assert "AnsiballZ" not in out.stdout
