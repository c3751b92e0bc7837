# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authentication, with its causes made directly in the services (not through lab/bin/fault).

One story, several causes at once, as a bad night looks: the JWT signing secret
overwritten with text that is not base64, session keys of the wrong types
written into Redis next to good sessions, refresh tokens, breakers and rate
limits, and the orchestrator's Vault token replaced by a revoked one. Then:

1. remediate without approvals (-vvv): the safe Vault re-login is done, the
   gated rotate_jwt_secret and clear_sessions change nothing and say
   "needs approval";
2. remediate with both approved: users can log in again (the orchestrator's
   own /auth/login), only the malformed session keys are gone;
3. the same run again changes nothing.

Then a sealed Vault and a soft-deleted API key, each read by one diagnose run.
The per-cause checks through lab/bin/fault are the molecule scenarios
(molecule/authentication_*).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets as pysecrets

import pytest
import redis
import requests
from kubernetes import client as k8s_client
from vh_lab import ROOT, lab, request_log_offset, run_playbook, service_account_requests, wait_for

NS = "voicehive"
ORCHESTRATOR = "http://127.0.0.1:18080"
VAULT = "http://127.0.0.1:18200"
APPROVED = {"voicehive_approved_actions": ["rotate_jwt_secret", "clear_sessions"]}
NOT_BASE64 = "this is not a signing key, it has spaces!"


def _secret_value(core, name: str, key: str) -> str | None:
    data = core.read_namespaced_secret(name, NS).data or {}
    return base64.b64decode(data[key]).decode() if key in data else None


def _patch_secret(core, name: str, key: str, value: str) -> None:
    core.patch_namespaced_secret(name, NS, {"data": {key: base64.b64encode(value.encode()).decode()}})


def _login(secrets: dict) -> requests.Response:
    return requests.post(
        f"{ORCHESTRATOR}/auth/login",
        json={"username": "frontdesk@hotel-001", "password": secrets["demo_user_password"]},
        timeout=10,
    )


def _by_id(items: list[dict], key: str = "id") -> dict[str, dict]:
    return {item[key]: item for item in items}


@pytest.fixture(scope="module")
def story(lab_up, kube, secrets):
    lab("reset")
    core = k8s_client.CoreV1Api(kube)
    r = redis.Redis(host="127.0.0.1", port=16379, password=secrets["redis_password"], decode_responses=True)
    # keys that clear_sessions must leave alone, and the malformed ones it must delete
    keep = {
        "good_sessions": [f"session:auth-story-good-{i}" for i in range(5)],
        "refresh_tokens": [f"refresh_token:auth-story-{i}" for i in range(5)],
        "breakers": ["circuit_breaker:auth_story:state"],
        "rate_limits": ["rate_limit:ip:10.66.0.1:/api/v1/calls:per_minute", "rate_limit:whitelist:10.66.0.2"],
    }
    malformed = [f"session:auth-story-bad-{i}" for i in range(12)]
    pipe = r.pipeline()
    for key in keep["good_sessions"]:
        pipe.hset(key, mapping={"user_id": "1", "created_at": "0"})
    for key in keep["refresh_tokens"]:
        pipe.set(key, "auth-story-good-0", ex=3600)
    pipe.set(keep["breakers"][0], "closed")
    pipe.set(keep["rate_limits"][0], 3, ex=3600)
    pipe.set(keep["rate_limits"][1], "true", ex=3600)
    for i, key in enumerate(malformed):
        if i % 2:
            pipe.zadd(key, {"half-written": 1})
        else:
            pipe.sadd(key, "half-written")
    pipe.execute()
    jwt_before = _secret_value(core, "jwt-secret", "secret")
    token_before = _secret_value(core, "voicehive-secrets", "vault-token")
    _patch_secret(core, "jwt-secret", "secret", NOT_BASE64)
    _patch_secret(core, "voicehive-secrets", "vault-token", "hvs.revoked-" + pysecrets.token_hex(12))
    wait_for(lambda: _login(secrets).status_code == 401, what="logins to fail with the broken secret")
    wait_for(
        lambda: requests.get(f"{ORCHESTRATOR}/health/vault", timeout=5).json()["vault"]["authenticated"] is False,
        what="the orchestrator to lose its Vault login",
    )

    story = {"secrets": secrets, "keep": keep, "malformed": malformed, "jwt_before": jwt_before}
    offset = request_log_offset()
    story["unapproved"] = run_playbook("playbooks/remediate.yml", "--tags", "authentication", "-vvv")
    story["unapproved_requests"] = service_account_requests(offset)
    story["after_unapproved"] = {
        "jwt": _secret_value(core, "jwt-secret", "secret"),
        "malformed": sum(r.exists(key) for key in malformed),
        "vault_token": _secret_value(core, "voicehive-secrets", "vault-token"),
    }
    offset = request_log_offset()
    story["approved"] = run_playbook("playbooks/remediate.yml", "--tags", "authentication", extra_vars=APPROVED)
    story["approved_requests"] = service_account_requests(offset)
    story["jwt_after"] = _secret_value(core, "jwt-secret", "secret")
    story["vault_token_after"] = _secret_value(core, "voicehive-secrets", "vault-token")
    story["login"] = _login(secrets)
    story["ready"] = requests.get(f"{ORCHESTRATOR}/health/ready", timeout=5)
    story["orchestrator_vault"] = requests.get(f"{ORCHESTRATOR}/health/vault", timeout=5).json()
    story["pods"] = core.list_namespaced_pod(NS, label_selector="app=orchestrator").items
    story["secret_updated"] = max(
        entry.time for entry in core.read_namespaced_secret("jwt-secret", NS).metadata.managed_fields or []
    )
    story["keys_after"] = {
        family: {key: r.type(key) for key in keys} for family, keys in {**keep, "malformed": malformed}.items()
    }
    story["second"] = run_playbook("playbooks/remediate.yml", "--tags", "authentication", extra_vars=APPROVED)
    story["token_before"] = token_before
    yield story
    lab("reset")


def test_without_approval_only_the_safe_relogin_happens(story):
    run = story["unapproved"]
    findings = _by_id(run.report["findings"])
    assert {
        "authentication.jwt_secret_invalid",
        "authentication.sessions_malformed",
        "authentication.vault_token_invalid",
    } <= set(findings), sorted(findings)
    jwt = findings["authentication.jwt_secret_invalid"]
    assert jwt["evidence"]["jwt"]["problem"] == "not_base64" and jwt["status"] == "unresolved"
    assert findings["authentication.sessions_malformed"]["evidence"]["malformed"] == len(story["malformed"])
    actions = _by_id(run.report["actions"], "action")
    assert actions["rotate_jwt_secret"]["status"] == "skipped_needs_approval"
    assert actions["clear_sessions"]["status"] == "skipped_needs_approval"
    assert actions["vault_relogin"]["status"] == "done" and actions["vault_relogin"]["changed"] is True
    assert findings["authentication.vault_token_invalid"]["status"] == "resolved"
    assert "needs approval" in run.output
    # the re-login asked Kubernetes for a token of the orchestrator's ServiceAccount, as the shipped one
    assert ("create", "voicehive-orchestrator") in {
        (r["verb"], r["name"]) for r in story["unapproved_requests"] if r["resource"] == "serviceaccounts"
    }
    # the gated causes are exactly as they were; the run fails honestly on them
    after = story["after_unapproved"]
    assert after["jwt"] == NOT_BASE64 and after["malformed"] == len(story["malformed"])
    assert run.rc != 0 and run.report["outcome"] != "resolved"


def test_with_approval_users_log_in_again_with_a_new_rolled_out_secret(story):
    run = story["approved"]
    assert run.rc == 0, run.output[-3000:]
    actions = _by_id(run.report["actions"], "action")
    rotated = actions["rotate_jwt_secret"]
    assert rotated["status"] == "done" and rotated["changed"] is True
    new = story["jwt_after"]
    assert len(base64.b64decode(new)) >= 32
    assert rotated["after"]["fingerprint"] == hashlib.sha256(new.encode()).hexdigest()[:12]
    assert rotated["before"]["fingerprint"] == hashlib.sha256(NOT_BASE64.encode()).hexdigest()[:12]
    assert actions["restart_orchestrator"]["status"] == "done"
    assert all(pod.status.start_time >= story["secret_updated"] for pod in story["pods"]), "a pod runs the old secret"
    assert all(f["status"] == "resolved" for f in run.report["findings"]), run.report["findings"]
    assert story["login"].status_code == 200 and story["login"].json().get("access_token")
    assert story["ready"].status_code == 200
    assert story["orchestrator_vault"]["vault"]["authenticated"] is True
    # as the shipped ServiceAccount: the JWT Secret read and written, no other Secret written
    secrets_touched = {(r["verb"], r["name"]) for r in story["approved_requests"] if r["resource"] == "secrets"}
    assert {("get", "jwt-secret"), ("update", "jwt-secret")} <= secrets_touched, secrets_touched


def test_clear_sessions_deletes_only_malformed_sessions(story):
    cleared = _by_id(story["approved"].report["actions"], "action")["clear_sessions"]
    assert cleared["after"]["deleted"] == len(story["malformed"])
    # what still matches session:* are the good sessions (and any the orchestrator made meanwhile)
    assert cleared["after"]["remaining"]["session:*"] >= len(story["keep"]["good_sessions"])
    keys = story["keys_after"]
    assert set(keys["malformed"].values()) == {"none"}
    assert set(keys["good_sessions"].values()) == {"hash"}
    for family in ("refresh_tokens", "breakers", "rate_limits"):
        assert set(keys[family].values()) == {"string"}, (family, keys[family])


def test_second_run_changes_nothing(story):
    run = story["second"]
    assert run.rc == 0 and run.recap_changed() == 0, run.output[-3000:]
    assert run.report["findings"] == [] and run.report["actions"] == []


def test_no_secret_in_reports_or_verbose_output(story):
    secrets = story["secrets"]
    values = {
        "new JWT secret": story["jwt_after"],
        "old JWT secret": story["jwt_before"],
        "Vault token given to the orchestrator": story["vault_token_after"],
        "the orchestrator's first Vault token": story["token_before"],
        "API key": secrets["api_key"],
        "Vault root token": secrets["vault_root_token"],
    }
    texts = {
        name: run.output + json.dumps(run.reports)
        for name, run in (("unapproved -vvv", story["unapproved"]), ("approved", story["approved"]))
    }
    for path in (ROOT / "reports").glob("*.md"):
        texts[path.name] = path.read_text()
    for name, run in (("unapproved", story["unapproved"]), ("approved", story["approved"])):
        # nothing in the evidence needed masking: it carries lengths and fingerprints, never a value
        records = json.dumps([run.report["findings"], run.report["actions"]])
        assert "********" not in records, f"masked evidence in the {name} run: {records}"
    for what, value in values.items():
        assert value and len(value) >= 16, what
        for where, text in texts.items():
            assert value not in text, f"the {what} appears in {where}"


@pytest.fixture
def restore_vault(secrets):
    headers = {"X-Vault-Token": secrets["vault_root_token"]}
    yield headers
    if requests.get(f"{VAULT}/v1/sys/seal-status", timeout=5).json()["sealed"]:
        requests.put(f"{VAULT}/v1/sys/unseal", json={"key": secrets["vault_unseal_key"]}, timeout=5)
    lab("reset")


def test_deleted_api_key_then_sealed_vault_are_reported_with_the_next_step(restore_vault, secrets):
    key_path = f"{VAULT}/v1/secret/data/api-keys/{secrets['api_key']}"
    # a soft delete of the current version (kv delete), not the lab fault's destroy of every version
    assert requests.delete(key_path, headers=restore_vault, timeout=5).status_code == 204
    deleted = run_playbook("playbooks/diagnose.yml", "--tags", "authentication")
    findings = _by_id(deleted.report["findings"])
    missing = findings["authentication.api_key_missing"]
    assert [k["current_deleted"] for k in missing["evidence"]["vault_keys"]] == [True]
    assert "never recreated automatically" in missing["summary"]
    assert requests.put(f"{VAULT}/v1/sys/seal", headers=restore_vault, timeout=5).status_code == 204
    sealed = run_playbook("playbooks/remediate.yml", "--tags", "authentication", extra_vars=APPROVED)
    findings = _by_id(sealed.report["findings"])
    vault = findings["authentication.vault_sealed"]
    assert vault["status"] == "unresolved" and vault["evidence"]["sealed"] is True
    assert "operator unseal" in vault["summary"] and "1 of 1 unseal key shares" in vault["summary"]
    assert sealed.report["actions"] == [] and sealed.rc != 0
    assert requests.get(f"{VAULT}/v1/sys/seal-status", timeout=5).json()["sealed"] is True
    for run in (deleted, sealed):
        assert secrets["api_key"] not in run.output + json.dumps(run.reports)
