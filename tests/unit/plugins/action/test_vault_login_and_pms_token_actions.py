# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action plugins of vault_kubernetes_login and pms_token in the worker process (a local connection): against a
scripted Vault, a scripted Apaleo and the fake Kubernetes API server (``kube_api``), all behind the one local HTTP
server of ``http_server``. The same results and messages as the modules, check and diff mode from the task, failures
returned (not raised), bad input refused before any request, tokens, client secrets and Vault tokens never in a
result, a message or a warning. Where the module runs instead: test_kube_operation_actions.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import urllib.parse
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.voicehive.remediation.plugins.action import pms_token as pms_token_action
from ansible_collections.voicehive.remediation.plugins.action import vault_kubernetes_login as vault_login_action
from ansible_collections.voicehive.remediation.plugins.module_utils import _k8s
from ansible_collections.voicehive.remediation.plugins.modules import pms_token, vault_kubernetes_login

NS = "voicehive"
SA = "voicehive-orchestrator"
KUBE_TOKEN = "kube-token-" + "q" * 24
CLIENT_ID = "voicehive-hotel-001"
CLIENT_SECRET = "client-s3cr3t-" + "w" * 20
VAULT_SECRET = f"/api/v1/namespaces/{NS}/secrets/voicehive-secrets"
TOKEN_SECRET = f"/api/v1/namespaces/{NS}/secrets/apaleo-access-token"


def fp(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Vault:
    """Vault's kubernetes login (a new ``hvs.`` token each time), lookup-self and revoke-self; ``lookup`` may be set
    to ``(token) -> (status, body)`` to answer lookup-self otherwise."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.lookup = None

    def handle(self, path: str, token: str | None) -> tuple[int, object]:
        if path == "/v1/auth/kubernetes/login":
            issued = "hvs." + secrets.token_urlsafe(24)
            self.issued.append(issued)
            self.valid.add(issued)
            auth = {"client_token": issued, "policies": ["voicehive-orchestrator", "default"]}
            return 200, {"auth": dict(auth, lease_duration=3600, renewable=True)}
        if path == "/v1/auth/token/lookup-self":
            if self.lookup is not None:
                return self.lookup(token)
            return (200, {"data": {"ttl": 60}}) if token in self.valid else (403, {"errors": ["permission denied"]})
        if path == "/v1/auth/token/revoke-self":
            self.valid.discard(token)
            return 204, b""
        return 404, {"errors": []}


class Apaleo:
    """Apaleo's token endpoint (the client credentials above; with ``echo`` a 401 that repeats the secret) and the
    property MUC for the tokens it issued."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.echo = False

    def handle(self, path: str, authorization: str) -> tuple[int, object]:
        if path == "/connect/token":
            basic = base64.b64encode(f"{CLIENT_ID}:{urllib.parse.quote_plus(CLIENT_SECRET)}".encode()).decode()
            if self.echo or authorization != f"Basic {basic}":
                return 401, {"error": "invalid_client", "error_description": f"bad secret {CLIENT_SECRET}"}
            self.tokens.append("eyJ.apaleo-" + secrets.token_urlsafe(24))
            return 200, {"access_token": self.tokens[-1], "expires_in": 3600, "token_type": "Bearer"}
        if path == "/inventory/v1/properties/MUC" and authorization[len("Bearer ") :] in self.tokens:
            return 200, {"id": "MUC"}
        return 401, {"error": "unauthorized"}


class Services:
    """Vault (paths under /v1/), Apaleo (/connect/token, /inventory/) and the fake Kubernetes API server (the rest)
    on one local HTTP server; ``requests`` is what it was asked, ``jwts`` the service account tokens it issued."""

    def __init__(self, kube_api, http_state) -> None:
        self.url = kube_api.url
        self.kube = kube_api
        self.vault = Vault()
        self.apaleo = Apaleo()
        self.requests = http_state.requests
        self.jwts: list[str] = []
        kube_api.service_accounts.add((NS, SA))
        kube_api.issue = self.issue
        http_state.app = self.handle

    def issue(self, namespace: str, name: str, spec: dict) -> str:
        self.jwts.append("sa-jwt-" + secrets.token_urlsafe(24))
        return self.jwts[-1]

    def handle(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, object]:
        named = {name.lower(): value for name, value in headers.items()}
        route = urllib.parse.urlsplit(path).path
        if route.startswith("/v1/"):
            return self.vault.handle(route, named.get("x-vault-token"))
        if route == "/connect/token" or route.startswith("/inventory/"):
            return self.apaleo.handle(route, named.get("authorization", ""))
        return self.kube.handle(method, path, headers, body)

    def put_vault_secret(self, token: str) -> None:
        data = {"vault-token": base64.b64encode(token.encode()).decode()}
        self.kube.put(VAULT_SECRET, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "voicehive-secrets"},
                                     "data": data})  # fmt: skip

    def stored_vault_token(self) -> str:
        return base64.b64decode(self.kube.get(VAULT_SECRET)["data"]["vault-token"]).decode()

    def secrets(self) -> list[str]:
        """Every secret value these services issued or were given."""
        return [KUBE_TOKEN, CLIENT_SECRET, *self.vault.issued, *self.apaleo.tokens, *self.jwts]


@pytest.fixture
def services(kube_api, http_server):
    return Services(kube_api, http_server[1])


def assert_no_secret(result: dict, services: Services) -> None:
    text = json.dumps(result)
    leaked = [value[:10] + "..." for value in services.secrets() if value and value in text]
    assert not leaked, f"secret values in the result: {leaked}"


def action_for(make_action, cls, args, check_mode=False, diff=False):
    action = make_action(cls, args, check_mode=check_mode, diff=diff)
    action._connection.transport = "local"
    action._execute_module = mock.MagicMock(side_effect=AssertionError("the module was started"))
    return action


@pytest.fixture
def connect():
    """The Kubernetes connection factory, spied on."""
    with mock.patch.object(_k8s, "connect", autospec=True, side_effect=_k8s.connect) as spy:
        yield spy


def login_args(services: Services, **extra) -> dict:
    args = {"namespace": NS, "service_account": SA, "role": SA, "vault_url": services.url, "host": services.url}
    return dict(args, api_key=KUBE_TOKEN, **extra)


def pms_args(services: Services, **extra) -> dict:
    args = {"identity_url": services.url, "api_url": services.url, "client_id": CLIENT_ID, "timeout": 5}
    return dict(args, client_secret=CLIENT_SECRET, retries=0, **extra)


# ---------------------------------------------------------------------------------------------
# vault_kubernetes_login
# ---------------------------------------------------------------------------------------------


def test_vault_login_probe_runs_in_process(make_action, services):
    action = action_for(make_action, vault_login_action.ActionModule, login_args(services))
    result = action.run(task_vars={})
    assert (result["login_ok"], result["vault_status"], result["error"]) == (True, 200, None)
    assert (result["changed"], result["stored"], result["revoked"]) == (False, False, True)
    assert result["policies"] == ["default", "voicehive-orchestrator"] and result["lease_duration"] == 3600
    assert "failed" not in result and "diff" not in result and "warnings" not in result
    assert services.vault.valid == set()  # the probe's token is revoked
    token_request = next(r for r in services.requests if r["path"].endswith(f"/serviceaccounts/{SA}/token"))
    assert token_request["headers"]["Authorization"] == f"Bearer {KUBE_TOKEN}"
    assert_no_secret(result, services)


def test_vault_login_check_and_diff_mode_come_from_the_task(make_action, services):
    services.put_vault_secret("hvs.revoked-long-ago-0123456789")
    args = login_args(services, store_secret={"name": "voicehive-secrets", "key": "vault-token"})
    checked = action_for(make_action, vault_login_action.ActionModule, args, check_mode=True).run(task_vars={})
    assert (checked["changed"], checked["stored"], checked["revoked"]) == (True, False, True)
    assert "diff" not in checked and services.kube.writes == []

    stored = action_for(make_action, vault_login_action.ActionModule, args, diff=True).run(task_vars={})
    assert (stored["changed"], stored["stored"], stored["stored_token_valid"]) == (True, True, False)
    token = services.stored_vault_token()
    assert token == services.vault.issued[-1] and token in services.vault.valid
    assert stored["diff"] == {
        "before": {"vault-token": fp("hvs.revoked-long-ago-0123456789")},
        "after": {"vault-token": fp(token)},
    }
    again = action_for(make_action, vault_login_action.ActionModule, args).run(task_vars={})
    assert (again["changed"], again["stored_token_valid"], again["revoked"]) == (False, True, True)
    assert len(services.kube.writes) == 1
    for result in (checked, stored, again):
        assert_no_secret(result, services)


def test_vault_login_failure_is_returned_with_the_facts(make_action, services):
    args = login_args(services, store_secret={"name": "voicehive-secrets", "key": "vault-token"})
    result = action_for(make_action, vault_login_action.ActionModule, args).run(task_vars={})
    assert result["failed"] is True
    assert result["msg"] == (
        f"Cannot read Secret {NS}/voicehive-secrets: it does not exist. Create it (the orchestrator's deployment "
        "reads key vault-token from it), then run again."
    )
    assert (result["login_ok"], result["revoked"], result["stored"]) == (True, True, False)
    assert "changed" not in result and services.vault.valid == set()
    assert_no_secret(result, services)


def test_vault_login_warnings_are_masked(make_action, services):
    """Vault echoes the stored token in its answer to lookup-self: the warning shows it masked."""
    stored = "hvs.stored-token-0123456789abcdef"
    services.put_vault_secret(stored)
    services.vault.lookup = lambda token: (500, {"errors": [f"internal error on {token}"]})
    args = login_args(services, store_secret={"name": "voicehive-secrets", "key": "vault-token"})
    result = action_for(make_action, vault_login_action.ActionModule, args).run(task_vars={})
    assert result["stored_token_valid"] is None and result["stored"] is True
    assert len(result["warnings"]) == 1
    assert result["warnings"][0].startswith(
        f"Cannot tell whether the Vault token in Secret {NS}/voicehive-secrets is valid: Vault answered 500: "
    )
    assert "internal error on ********" in result["warnings"][0] and stored not in json.dumps(result)
    assert_no_secret(result, services)


def test_vault_login_bad_input_is_refused_before_any_request(make_action, services):
    args = login_args(services, sa_token_ttl=60)
    with pytest.raises(AnsibleActionFail, match=r"^Invalid options for vault_kubernetes_login: sa_token_ttl must be"):
        action_for(make_action, vault_login_action.ActionModule, args).run(task_vars={})
    with pytest.raises(AnsibleActionFail, match="missing required arguments: role"):
        args = {k: v for k, v in login_args(services).items() if k != "role"}
        action_for(make_action, vault_login_action.ActionModule, args).run(task_vars={})
    assert services.requests == []


def test_vault_login_same_result_as_the_module(make_action, services, run_module, monkeypatch):
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    args = login_args(services)
    from_module = run_module(vault_kubernetes_login.main, args)
    from_action = action_for(make_action, vault_login_action.ActionModule, args).run(task_vars={})
    assert (from_module.pop("failed"), from_module.pop("warnings")) == (False, [])
    assert from_action == from_module
    assert len(services.vault.issued) == 2 and services.vault.valid == set()


# ---------------------------------------------------------------------------------------------
# pms_token
# ---------------------------------------------------------------------------------------------


def test_pms_token_runs_in_process_without_kubernetes(make_action, services, connect):
    action = action_for(make_action, pms_token_action.ActionModule, pms_args(services, property_ids=["MUC"]))
    result = action.run(task_vars={})
    assert result["outcome"] == "ok" and result["token_obtained"] is True and result["changed"] is False
    assert result["properties"]["MUC"]["accessible"] is True
    assert result["msg"] == "Got an Apaleo access token (expires in 3600 s); property MUC is accessible"
    assert connect.call_count == 0 and services.kube.requests == []
    assert "failed" not in result and "diff" not in result
    assert_no_secret(result, services)


def test_pms_token_stores_in_a_secret(make_action, services, connect):
    args = pms_args(services, store="kubernetes_secret", store_secret_name="apaleo-access-token", host=services.url,
                    api_key=KUBE_TOKEN)  # fmt: skip
    checked = action_for(make_action, pms_token_action.ActionModule, args, check_mode=True, diff=True).run(task_vars={})
    assert (checked["changed"], checked["stored"]) == (True, False) and services.kube.writes == []
    assert checked["diff"]["before"] == {f"secret:{NS}/apaleo-access-token": None}

    stored = action_for(make_action, pms_token_action.ActionModule, args).run(task_vars={})
    assert (stored["changed"], stored["stored"], stored["outcome"]) == (True, True, "ok")
    assert stored["msg"].endswith(f"; stored it at secret:{NS}/apaleo-access-token (no token is stored)")
    data = services.kube.get(TOKEN_SECRET)["data"]
    assert base64.b64decode(data["access_token"]).decode() == services.apaleo.tokens[-1]
    assert "diff" not in stored

    kept = action_for(make_action, pms_token_action.ActionModule, args).run(task_vars={})
    assert (kept["changed"], kept["stored"]) == (False, False)
    assert kept["store_reason"].startswith("the stored token is valid for ")
    assert [verb for verb, _body in services.kube.writes] == ["create"] and connect.call_count == 3
    for result in (checked, stored, kept):
        assert_no_secret(result, services)


def test_pms_token_echoed_client_secret_is_masked(make_action, services):
    services.apaleo.echo = True
    result = action_for(make_action, pms_token_action.ActionModule, pms_args(services)).run(task_vars={})
    assert result["outcome"] == "credentials_rejected" and "failed" not in result
    assert "bad secret ********" in result["msg"] and result["error"] == result["msg"]
    assert_no_secret(result, services)


def test_pms_token_bad_input_is_refused_before_any_request(make_action, services):
    args = pms_args(services, vault_path="pms/x", vault_url=services.url, vault_token="t")
    with pytest.raises(AnsibleActionFail, match=re.escape("parameters are mutually exclusive: client_id|vault_path")):
        action_for(make_action, pms_token_action.ActionModule, args).run(task_vars={})
    with pytest.raises(AnsibleActionFail, match=r"^Cannot refresh the Apaleo access token: timeout must be above 0"):
        action_for(make_action, pms_token_action.ActionModule, pms_args(services, timeout=0)).run(task_vars={})
    assert services.requests == []


def test_pms_token_unusable_kubernetes_settings_are_returned(make_action, services):
    args = pms_args(services, store="kubernetes_secret", store_secret_name="apaleo-access-token",
                    kubeconfig="/nonexistent/kubeconfig")  # fmt: skip
    result = action_for(make_action, pms_token_action.ActionModule, args).run(task_vars={})
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot configure the Kubernetes client: cannot read the kubeconfig /nonexistent")
    assert services.requests == []


def test_pms_token_same_result_as_the_module(make_action, services, run_module, monkeypatch):
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    args = pms_args(services, property_ids=["MUC"])
    from_module = run_module(pms_token.main, args)
    from_action = action_for(make_action, pms_token_action.ActionModule, args).run(task_vars={})
    assert (from_module.pop("failed"), from_module.pop("warnings")) == (False, [])
    for result in (from_module, from_action):  # the times differ
        del result["latency_ms"], result["expires_at"], result["properties"]["MUC"]["latency_ms"]
    assert from_action == from_module


# ---------------------------------------------------------------------------------------------
# a real ansible-playbook run: in-process, module_defaults applied, no secret in the -vvv output
# ---------------------------------------------------------------------------------------------

TASKS = """
- name: Log in to Vault as the orchestrator
  voicehive.remediation.vault_kubernetes_login:
    {{namespace: voicehive, service_account: {sa}, role: {sa}, vault_url: "{url}"}}
- name: Get an Apaleo token
  voicehive.remediation.pms_token:
    {{identity_url: "{url}", api_url: "{url}", client_id: {client_id}, client_secret: "{client_secret}",
      property_ids: [MUC], store: kubernetes_secret, store_secret_name: apaleo-access-token,
      host: "{url}", api_key: "{kube_token}"}}
"""


def test_playbook_runs_both_in_process_without_showing_a_secret(services, ansible_playbook):
    tasks = TASKS.format(
        url=services.url, sa=SA, kube_token=KUBE_TOKEN, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    out = ansible_playbook(tasks, {"host": services.url, "api_key": KUBE_TOKEN})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "ok=2" in out.stdout and "changed=1" in out.stdout and "failed=0" in out.stdout
    assert "AnsiballZ" not in out.stdout  # no module was started
    assert len(services.vault.issued) == 1 and services.vault.valid == set()
    assert [verb for verb, _body in services.kube.writes] == ["create"]
    leaked = [value[:10] + "..." for value in services.secrets() if value and value in out.stdout + out.stderr]
    assert not leaked, f"secret values in the output: {leaked}"
