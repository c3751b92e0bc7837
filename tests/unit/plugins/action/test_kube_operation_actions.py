# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action plugins of lease_lock, remediation_budget and k8s_secret_key: in-process against a fake Kubernetes API
server (``kube_api``) with a local connection, the module otherwise (also vault_kubernetes_login's and pms_token's,
tested in test_vault_login_and_pms_token_actions.py); the same results and messages as the module, failures returned
(not raised), no_log values masked, module_defaults of the action group applied."""

from __future__ import annotations

import base64
import json
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.voicehive.remediation.plugins.action import k8s_secret_key as secret_action
from ansible_collections.voicehive.remediation.plugins.action import lease_lock as lock_action
from ansible_collections.voicehive.remediation.plugins.action import pms_token as pms_token_action
from ansible_collections.voicehive.remediation.plugins.action import remediation_budget as budget_action
from ansible_collections.voicehive.remediation.plugins.action import site_info as site_info_action
from ansible_collections.voicehive.remediation.plugins.action import vault_kubernetes_login as vault_login_action
from ansible_collections.voicehive.remediation.plugins.module_utils import _remediation_budget
from ansible_collections.voicehive.remediation.plugins.modules import remediation_budget

NS = "voicehive"
TOKEN = "kube-token-" + "z" * 24
LEASE = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/voicehive-remediation"
CONFIGMAP = f"/api/v1/namespaces/{NS}/configmaps/voicehive-remediation-budget"
SECRET = f"/api/v1/namespaces/{NS}/secrets/jwt-secret"
NOW = 1_800_000_000

LOCK_ARGS = {"namespace": NS, "holder": "run-a"}
BUDGET_ARGS = {"namespace": NS, "action": "rollout_restart", "target": "deployment/orchestrator", "state": "consume"}
SECRET_ARGS = {"namespace": NS, "name": "jwt-secret", "key": "secret", "create": True}
VAULT_LOGIN_ARGS = {"namespace": NS, "service_account": "sa", "role": "r", "vault_url": "http://127.0.0.1:1"}
PMS_TOKEN_ARGS = {"client_id": "c", "client_secret": "s", "identity_url": "http://127.0.0.1:1"}


def action_for(make_action, cls, args, transport="local", check_mode=False):
    action = make_action(cls, args, check_mode=check_mode)
    action._connection.transport = transport
    action._execute_module = mock.MagicMock(return_value={"changed": False, "from_module": True})
    return action


def connected(kube_api, args):
    return dict(args, host=kube_api.url, api_key=TOKEN)


def put_lease(api, holder, renew_time="2026-11-28T16:00:00.000001Z", duration=900):
    spec = {"holderIdentity": holder, "leaseDurationSeconds": duration, "acquireTime": renew_time}
    spec["renewTime"] = renew_time
    api.put(LEASE, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {}, "spec": spec})


# ---------------------------------------------------------------------------------------------
# in-process
# ---------------------------------------------------------------------------------------------


def test_lease_lock_runs_in_process(make_action, kube_api, http_server):
    action = action_for(make_action, lock_action.ActionModule, connected(kube_api, LOCK_ARGS))
    result = action.run(task_vars={})
    action._execute_module.assert_not_called()
    assert result["changed"] is True and result["acquired"] is True and result["holder"] == "run-a"
    assert result["lease"]["resource_version"] == kube_api.get(LEASE)["metadata"]["resourceVersion"]
    assert kube_api.writes[0][0] == "create"
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in http_server[1].requests)
    assert "failed" not in result and TOKEN not in json.dumps(result)


def test_lease_lock_failure_is_returned_with_the_modules_message(make_action, kube_api):
    put_lease(kube_api, "run-b", renew_time="2099-01-01T00:00:00.000001Z")
    args = dict(connected(kube_api, LOCK_ARGS), wait_timeout=0)
    result = action_for(make_action, lock_action.ActionModule, args).run(task_vars={})
    assert result["failed"] is True
    assert result["msg"] == (
        f"Cannot acquire lock {NS}/voicehive-remediation: held by run-b since 2099-01-01T00:00:00.000001Z (expires "
        "2099-01-01T00:15:00.000001Z); another remediation is running on this site. Wait or check the AWX job of "
        "that holder."
    )
    assert result["acquired"] is False and result["holder"] == "run-b" and result["lease"]["holder_identity"] == "run-b"
    assert kube_api.writes == []


def test_lease_lock_takeover_warns(make_action, kube_api):
    put_lease(kube_api, "run-old")  # renewed in 2026, 900 s: long expired
    result = action_for(make_action, lock_action.ActionModule, connected(kube_api, LOCK_ARGS)).run(task_vars={})
    assert result["took_over"] is True and result["previous_holder"] == "run-old"
    assert len(result["warnings"]) == 1
    assert result["warnings"][0].startswith(f"Took over expired lock {NS}/voicehive-remediation from run-old")


def test_api_errors_are_returned_not_raised(make_action, kube_api):
    kube_api.fail[("GET", CONFIGMAP)] = (403, 'configmaps "voicehive-remediation-budget" is forbidden')
    result = action_for(make_action, budget_action.ActionModule, connected(kube_api, BUDGET_ARGS)).run(task_vars={})
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot read ConfigMap {NS}/voicehive-remediation-budget: 403 Forbidden: ")
    assert "permission to get configmaps in namespace voicehive" in result["msg"]


def test_check_mode_comes_from_the_play_context(make_action, kube_api):
    action = action_for(make_action, budget_action.ActionModule, connected(kube_api, BUDGET_ARGS), check_mode=True)
    result = action.run(task_vars={})
    assert result["changed"] is True and result["allowed"] is True and result["used"] == 1
    assert kube_api.objects == {} and [m for m, _p in kube_api.requests] == ["GET"]
    action = action_for(make_action, budget_action.ActionModule, connected(kube_api, BUDGET_ARGS))
    action._play_context.check_mode = False
    assert action.run(task_vars={})["changed"] is True
    assert kube_api.writes[0][0] == "create"


def test_same_result_and_writes_as_the_module(make_action, kube_api, run_module, monkeypatch):
    monkeypatch.setattr(_remediation_budget, "now_epoch", lambda: NOW)
    args = connected(kube_api, BUDGET_ARGS)
    from_module = run_module(remediation_budget.main, args)
    module_writes, kube_api.writes, kube_api.objects = kube_api.writes, [], {}
    from_action = action_for(make_action, budget_action.ActionModule, args).run(task_vars={})
    assert (from_module.pop("failed"), from_module.pop("warnings")) == (False, [])
    assert from_action == from_module
    assert from_action["used"] == 1 and from_action["uses"] == [NOW]
    assert kube_api.writes == module_writes


def test_secret_key_in_process_never_returns_the_value(make_action, kube_api):
    action = action_for(make_action, secret_action.ActionModule, connected(kube_api, SECRET_ARGS))
    result = action.run(task_vars={})
    value = base64.b64decode(kube_api.get(SECRET)["data"]["secret"]).decode()
    assert result["changed"] is True and result["reason"] == "missing"
    assert result["after"]["base64_bytes"] == 48 and result["diff"]["before"] == {}
    assert result["diff"]["after"] == {"secret": result["after"]["fingerprint"]}
    assert value not in json.dumps(result) and TOKEN not in json.dumps(result)


def test_no_log_values_are_masked(make_action, kube_api):
    """The stored value (a module's no_log value) and the api_key are masked even when the API server echoes them."""
    stored = "stored-secret-value-not-base64!"
    kube_api.put(
        SECRET, {"metadata": {"name": "jwt-secret"}, "data": {"secret": base64.b64encode(stored.encode()).decode()}}
    )
    kube_api.fail[("PUT", SECRET)] = (403, f"forbidden to replace {stored} with token {TOKEN}")
    result = action_for(make_action, secret_action.ActionModule, connected(kube_api, SECRET_ARGS)).run(task_vars={})
    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot replace Secret {NS}/jwt-secret: 403 Forbidden: forbidden to replace ")
    assert stored not in result["msg"] and TOKEN not in result["msg"]
    assert result["msg"].count("********") == 2


def test_bad_input_is_refused_before_any_request(make_action, kube_api):
    args = dict(connected(kube_api, BUDGET_ARGS), budget=0)
    with pytest.raises(AnsibleActionFail, match=r"^Invalid options for remediation_budget: budget must be at least 1"):
        action_for(make_action, budget_action.ActionModule, args).run(task_vars={})
    args = dict(connected(kube_api, LOCK_ARGS), state="locked")
    with pytest.raises(AnsibleActionFail, match="value of state must be one of: acquired, released"):
        action_for(make_action, lock_action.ActionModule, args).run(task_vars={})
    assert kube_api.requests == []


def test_unusable_connection_settings_are_returned(make_action, monkeypatch, tmp_path):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    result = action_for(make_action, lock_action.ActionModule, LOCK_ARGS).run(task_vars={})
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot configure the Kubernetes client: no connection settings")


# ---------------------------------------------------------------------------------------------
# the module, where it would not run here
# ---------------------------------------------------------------------------------------------

ACTIONS = [
    (lock_action.ActionModule, "voicehive.remediation.lease_lock", LOCK_ARGS),
    (budget_action.ActionModule, "voicehive.remediation.remediation_budget", BUDGET_ARGS),
    (secret_action.ActionModule, "voicehive.remediation.k8s_secret_key", SECRET_ARGS),
    (vault_login_action.ActionModule, "voicehive.remediation.vault_kubernetes_login", VAULT_LOGIN_ARGS),
    (pms_token_action.ActionModule, "voicehive.remediation.pms_token", PMS_TOKEN_ARGS),
    (site_info_action.ActionModule, "voicehive.remediation.site_info", {"timeout": 1}),
]


@pytest.mark.parametrize("cls, module, args", ACTIONS, ids=[m.rsplit(".", 1)[1] for _c, m, _a in ACTIONS])
@pytest.mark.parametrize("why", ["ssh", "become", "environment", "async"])
def test_the_module_runs_where_it_would_not_run_here(make_action, kube_api, cls, module, args, why):
    args = connected(kube_api, args) if cls is not site_info_action.ActionModule else args
    action = action_for(make_action, cls, args, transport="ssh" if why == "ssh" else "local")
    action._remove_tmp_path = mock.MagicMock()
    if why == "become":
        action._play_context.become = True
    if why == "environment":
        action._task.environment = [{"HTTPS_PROXY": "http://squid:3128"}]
    if why == "async":
        action._task.async_val = 60
    result = action.run(task_vars={"x": 1})
    assert result["from_module"] is True
    action._execute_module.assert_called_once_with(
        module_name=module, module_args=args, task_vars={"x": 1}, wrap_async=60 if why == "async" else 0
    )
    assert action._remove_tmp_path.call_count == (0 if why == "async" else 1)
    assert kube_api.requests == []


def test_empty_task_environment_still_runs_here(make_action, kube_api):
    action = action_for(make_action, lock_action.ActionModule, connected(kube_api, LOCK_ARGS))
    action._task.environment = [{}]
    assert action.run(task_vars={})["acquired"] is True
    action._execute_module.assert_not_called()


# ---------------------------------------------------------------------------------------------
# module_defaults of the action group reach the action plugins (a real ansible-playbook run)
# ---------------------------------------------------------------------------------------------

TASKS = """
- name: Take the lock
  voicehive.remediation.lease_lock: {namespace: voicehive, holder: run-a}
- name: Consume the budget
  voicehive.remediation.remediation_budget: {namespace: voicehive, action: a, target: t, state: consume}
- name: Make sure of the secret
  voicehive.remediation.k8s_secret_key: {namespace: voicehive, name: jwt-secret, key: secret, create: true}
"""


def test_module_defaults_of_the_group_reach_the_action_plugins(kube_api, ansible_playbook):
    # no ~/.kube/config: the connection can only come from module_defaults
    out = ansible_playbook(TASKS, {"host": kube_api.url, "api_key": TOKEN})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "ok=3" in out.stdout and "failed=0" in out.stdout
    assert [verb for verb, _body in kube_api.writes] == ["create", "create", "create"]
    assert "AnsiballZ" not in out.stdout  # no module was started: the action plugins ran the code in-process
