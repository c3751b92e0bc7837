# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PMS connector (Apaleo), with the causes made directly in the services (not through lab/bin/fault).

1. The pms_token module against the lab's Apaleo simulator and OpenBao: check mode stores nothing, a token stored
   in a Kubernetes Secret and kept on the second call, several hotels in one call (a property Apaleo does not know,
   a hotel without credentials), and a wrong secret sent exactly once (counted at the simulator).
2. Apaleo revokes the connector's token (its own lab control): --check --diff finds the stale token and says what it
   would do (store a fresh token in Vault, restart the connector, reset its breakers) but changes nothing. (The fix
   itself, with the Vault token store, and its second run: molecule/pms_connector_token_expired.)
3. Apaleo down (its own lab control): enable_pms_fallback with the approval serves guests from the fallback; when
   Apaleo is back, pms_connector_revert_fallback turns it off again.
4. The secret in Vault made wrong and a second hotel without credentials: one diagnose names both Vault paths;
   bad input stops the run before anything is read.

The per-fault runs through lab/bin/fault (and the idempotence) are the molecule scenarios molecule/pms_connector_*.
"""

from __future__ import annotations

import base64
import json
import textwrap
import time

import requests
from kubernetes import client as k8s_client
from vh_lab import STATE, run_playbook, wait_for

NS = "voicehive"
ORCHESTRATOR = "http://127.0.0.1:18080"
APALEO = "http://127.0.0.1:18081"
VAULT = "http://127.0.0.1:18200"
CREDENTIALS = "pms/apaleo/hotel-001/api-credentials"
STORED_SECRET = "apaleo-access-token-hotel-001"
STORED_PATH = "pms/apaleo/hotel-001/access-token"


def _apaleo_lab(secrets, path, body=None, method="POST"):
    answer = requests.request(
        method, f"{APALEO}/_lab/{path}", json=body, headers={"X-Lab-Token": secrets["apaleo_lab_token"]}, timeout=5
    )
    answer.raise_for_status()
    return answer.json()


def _counters(secrets) -> dict:
    return _apaleo_lab(secrets, "state", method="GET")["counters"]


def _connector() -> dict:
    return requests.get(f"{ORCHESTRATOR}/health/connectors", timeout=5).json()["connectors"]["apaleo"]


def _sync() -> dict:
    return requests.post(f"{ORCHESTRATOR}/api/v1/pms/sync", json={"hotel_id": "hotel-001"}, timeout=10).json()


def _env(kube, name="PMS_FALLBACK_MODE"):
    deployment = k8s_client.AppsV1Api(kube).read_namespaced_deployment("orchestrator", NS)
    container = next(c for c in deployment.spec.template.spec.containers if c.name == "orchestrator")
    return next((e.value for e in container.env or [] if e.name == name), None), deployment.metadata.resource_version


def _vault(secrets, method, path, body=None):
    answer = requests.request(
        method,
        f"{VAULT}/v1/voicehive/data/{path}",
        json=body,
        headers={"X-Vault-Token": secrets["vault_root_token"]},
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json() if answer.content else {}


def _by_id(report) -> tuple[dict, dict]:
    return {f["id"]: f for f in report["findings"]}, {a["action"]: a for a in report["actions"]}


def _why(run) -> str:
    return json.dumps({k: run.report.get(k) for k in ("outcome", "errors", "findings")})[:3000] + run.output[-2000:]


def _no_secret(run, *values):
    text = run.output + json.dumps(run.reports)
    for value in values:
        assert value and value not in text


def _holding_a_token():
    # the orchestrator notices the reset's new pods within its 2 s Kubernetes poll and drops its token then: a
    # token revoked before that would never be the one it holds
    time.sleep(3)
    wait_for(lambda: _connector()["property"] == "ok", timeout=15, what="the connector to hold a working token")


def test_pms_token_against_the_apaleo_simulator(clean_lab, secrets, kube, tmp_path):
    results = tmp_path / "results.json"
    playbook = tmp_path / "pms_token.yml"
    playbook.write_text(
        textwrap.dedent(
            f"""\
            - name: pms_token against the lab
              hosts: lab
              connection: local
              gather_facts: false
              vars:
                ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
              module_defaults:
                voicehive.remediation.pms_token:
                  identity_url: "{{{{ voicehive_apaleo_identity_url }}}}"
                  api_url: "{{{{ voicehive_apaleo_api_url }}}}"
                  vault_url: "{{{{ voicehive_vault_url }}}}"
                  vault_token: "{{{{ voicehive_vault_token }}}}"
                  timeout: 5
              tasks:
                - name: Store the token in a Secret, in check mode
                  voicehive.remediation.pms_token:
                    vault_path: {CREDENTIALS}
                    property_ids: [LAB001]
                    store: kubernetes_secret
                    store_secret_name: {STORED_SECRET}
                    kubeconfig: "{{{{ voicehive_kubeconfig }}}}"
                    context: "{{{{ voicehive_kube_context }}}}"
                  check_mode: true
                  register: check
                - name: Store the token in a Secret
                  voicehive.remediation.pms_token:
                    vault_path: {CREDENTIALS}
                    property_ids: [LAB001]
                    store: kubernetes_secret
                    store_secret_name: {STORED_SECRET}
                    kubeconfig: "{{{{ voicehive_kubeconfig }}}}"
                    context: "{{{{ voicehive_kube_context }}}}"
                  register: first
                - name: Store it again
                  voicehive.remediation.pms_token:
                    vault_path: {CREDENTIALS}
                    property_ids: [LAB001]
                    store: kubernetes_secret
                    store_secret_name: {STORED_SECRET}
                    kubeconfig: "{{{{ voicehive_kubeconfig }}}}"
                    context: "{{{{ voicehive_kube_context }}}}"
                  register: second
                - name: Check several hotels in one call
                  voicehive.remediation.pms_token:
                    hotels:
                      - {{hotel_id: hotel-001, vault_path: {CREDENTIALS}, property_ids: [LAB001, LAB999]}}
                      - {{hotel_id: hotel-404, vault_path: pms/apaleo/hotel-404/api-credentials}}
                  register: hotels
                - name: Send a wrong secret
                  voicehive.remediation.pms_token:
                    client_id: "{{{{ voicehive_lab_secrets.apaleo_client_id }}}}"
                    client_secret: not-the-secret
                    vault_url: null
                    vault_token: null
                  register: wrong
                - name: Keep the results
                  ansible.builtin.copy:
                    content: >-
                      {{{{ {{'check': check, 'first': first, 'second': second,
                           'hotels': hotels, 'wrong': wrong}} | to_json }}}}
                    dest: {results}
                    mode: "0600"
            """
        )
    )
    before = _counters(secrets)
    # the module's own test, with the lab's admin kubeconfig (the role stores no Secret by default)
    run = run_playbook(str(playbook), "--diff", extra_vars={"voicehive_kubeconfig": str(STATE / "kubeconfig")})
    assert run.rc == 0, run.output[-3000:]
    after = _counters(secrets)
    got = json.loads(results.read_text())

    check, first, second = got["check"], got["first"], got["second"]
    assert check["changed"] is True and check["stored"] is False and check["outcome"] == "ok"
    assert first["changed"] is True and first["stored"] is True
    assert first["store_target"] == f"secret:{NS}/{STORED_SECRET}"
    assert first["properties"]["LAB001"]["accessible"] is True
    assert second["changed"] is False and second["stored"] is False
    assert "kept the token" in second["msg"]
    stored = k8s_client.CoreV1Api(kube).read_namespaced_secret(STORED_SECRET, NS).data
    token = base64.b64decode(stored["access_token"]).decode()
    assert base64.b64decode(stored["expires_at"]).decode() == first["expires_at"]
    probe = requests.get(
        f"{APALEO}/inventory/v1/properties/LAB001", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert probe.status_code == 200

    hotels = got["hotels"]
    assert hotels["outcome"] == "credentials_missing"
    assert hotels["hotels"]["hotel-001"]["outcome"] == "property_not_accessible"
    assert hotels["hotels"]["hotel-001"]["properties"]["LAB999"]["status"] == 404
    assert hotels["hotels"]["hotel-404"]["outcome"] == "credentials_missing"
    assert "voicehive/pms/apaleo/hotel-404/api-credentials" in hotels["msg"]

    wrong = got["wrong"]
    assert wrong["outcome"] == "credentials_rejected"
    assert wrong["attempts"] == 1 and wrong["token_status"] == 401
    # the one wrong secret was sent once; the connector's own calls keep working meanwhile
    rejected = after.get("token_invalid_client", 0) - before.get("token_invalid_client", 0)
    assert rejected == 1
    _no_secret(run, token, secrets["apaleo_client_secret"], "not-the-secret")
    k8s_client.CoreV1Api(kube).delete_namespaced_secret(STORED_SECRET, NS)


def test_refused_token_check_mode_changes_nothing(clean_lab, secrets, kube):
    _holding_a_token()
    _apaleo_lab(secrets, "revoke-tokens")
    wait_for(lambda: _connector()["property"] == "token_rejected", timeout=10, what="the connector's probe to fail")
    fallback, version = _env(kube)

    check = run_playbook(
        "playbooks/remediate.yml", "--tags", "pms_connector", "--check", "--diff",
        extra_vars={"pms_connector_token_store": "vault"},
    )  # fmt: skip
    assert check.rc == 0, check.output[-3000:]
    assert check.report["check_mode"] is True
    findings, actions = _by_id(check.report)
    assert "pms_connector.stale_token" in findings, _why(check)
    assert actions["refresh_pms_token"]["status"] == "would_change"
    assert _env(kube) == (fallback, version)
    stored = requests.get(
        f"{VAULT}/v1/voicehive/data/{STORED_PATH}", headers={"X-Vault-Token": secrets["vault_root_token"]}, timeout=5
    )
    assert stored.status_code == 404
    assert actions["restart_pms_connector"]["status"] == "would_change"
    assert _connector()["property"] == "token_rejected"

    _no_secret(check, secrets["apaleo_client_secret"])


def test_outage_fallback_with_approval_then_reverted(clean_lab, secrets, kube):
    _holding_a_token()
    _apaleo_lab(secrets, "mode", {"mode": "outage"})
    wait_for(lambda: _connector()["status"] == "unhealthy", timeout=10, what="the connector to see the outage")
    run = run_playbook(
        "playbooks/remediate.yml", "--tags", "pms_connector",
        extra_vars={"voicehive_approved_actions": ["enable_pms_fallback"]},
    )  # fmt: skip
    assert run.rc == 0, run.output[-3000:]
    findings, actions = _by_id(run.report)
    assert findings["pms_connector.apaleo_unavailable"]["status"] == "unresolved"
    assert actions["enable_pms_fallback"]["status"] == "done"
    assert actions["enable_pms_fallback"]["before"] == {"PMS_FALLBACK_MODE": "false"}
    assert "pms_connector_revert_fallback=true" in actions["enable_pms_fallback"]["reason"]
    assert _env(kube)[0] == "true"
    # the site read shows the outage: no token check against a down Apaleo
    assert "token request failed" not in findings["pms_connector.apaleo_unavailable"]["summary"]
    assert "/health answered 503" in findings["pms_connector.apaleo_unavailable"]["summary"]
    wait_for(lambda: _sync().get("source") == "fallback", timeout=10, what="a PMS call served from the fallback")

    _apaleo_lab(secrets, "mode", {"mode": "normal"})
    wait_for(lambda: _connector()["status"] == "healthy", timeout=10, what="Apaleo to answer again")
    revert = run_playbook(
        "playbooks/remediate.yml", "--tags", "pms_connector", "-e", "pms_connector_revert_fallback=true"
    )
    assert revert.rc == 0, revert.output[-3000:]
    findings, actions = _by_id(revert.report)
    assert findings["pms_connector.fallback_active"]["status"] == "resolved"
    assert actions["disable_pms_fallback"]["status"] == "done"
    assert _env(kube)[0] == "false"


def test_wrong_secret_in_vault_and_a_hotel_without_credentials(clean_lab, secrets):
    data = _vault(secrets, "GET", CREDENTIALS)["data"]["data"]
    _vault(secrets, "POST", CREDENTIALS, {"data": dict(data, client_secret="rotated-at-the-vendor")})
    hotels = [{"hotel_id": "hotel-001", "property_id": "LAB001"}, {"hotel_id": "hotel-009", "property_id": "LAB009"}]
    run = run_playbook("playbooks/diagnose.yml", "--tags", "pms_connector", extra_vars={"pms_connector_hotels": hotels})
    assert run.rc == 0, run.output[-3000:]
    findings, _actions = _by_id(run.report)
    rejected = findings["pms_connector.credentials_rejected"]
    assert (
        "credentials rotated or revoked — update Vault at voicehive/pms/apaleo/hotel-001/api-credentials"
        in rejected["summary"]
    )
    assert [h["attempts"] for h in rejected["evidence"]["hotels"]] == [1]
    missing = findings["pms_connector.credentials_missing"]
    assert "voicehive/pms/apaleo/hotel-009/api-credentials" in missing["summary"]
    assert "pms_connector.stale_token" not in findings
    assert run.report["actions"] == []
    _no_secret(run, "rotated-at-the-vendor", data["client_secret"])

    bad = run_playbook(
        "playbooks/remediate.yml", "--tags", "pms_connector",
        extra_vars={"pms_connector_hotels": [{"hotel_id": "hotel 1; rm"}], "pms_connector_token_store": "s3"},
    )  # fmt: skip
    assert bad.rc != 0
    assert 'hotel_id "hotel 1; rm" must be letters' in bad.output
    assert "pms_connector_token_store s3 must be none, vault or kubernetes_secret" in bad.output
    assert "Nothing was changed" in bad.output
