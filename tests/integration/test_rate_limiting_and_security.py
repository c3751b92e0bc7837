# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rate limiting and security, with their causes made directly in the services (not through lab/bin/fault).

One story per test, several causes at once:

1. Rate limits: counters written straight into Redis for a client inside the trusted network, a partner API key,
   an untrusted client with nothing against it, and an untrusted client whose IP also failed 12 real logins.
   One diagnose gives each its verdict; one remediation clears and allow-lists the trusted two and touches
   nothing else; raise_rate_limits (approved) writes the bounded limit and keeps the old one, and
   rate_limiting_restore_limits puts it back.
2. Malformed input (an address, a CIDR, a client id) stops the run before anything is read or changed.
3. Security: a brute force from an address inside a protected network and one from outside, a malformed entry
   already in blocked_ips, and enhanced logging whose time is up. With block_ips and rotate_secrets approved
   (-vvv): only the outside address is blocked, the logging from before is back, the JWT secret and the API key
   are rotated (the old key revoked in Vault, the new one working), and no key is ever printed; the same run
   again changes nothing.

The per-cause checks through lab/bin/fault are the molecule scenarios (molecule/rate_limiting_*, security_*).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest
import requests
from kubernetes import client as k8s_client
from vh_lab import request_log_offset, run_playbook, service_account_requests

NS = "voicehive"
ORCHESTRATOR = "http://127.0.0.1:18080"
VAULT = "http://127.0.0.1:18200"
ANNOTATION = "voicehive.io/enhanced-logging-until"

OFFICE = "203.0.113.5"  # inside the lab's trusted network 203.0.113.0/28
PARTNER = "vh_live_0a1b2c3d"  # the first 16 characters of a partner's API key
STRANGER = "192.0.2.44"  # over the limit, nothing else against it
PROBER = "192.0.2.77"  # over the limit and failing logins

COUNTERS = {
    f"rate_limit:ip:{OFFICE}:/api/v1/calls:per_minute": 150,
    f"rate_limit:ip:{OFFICE}:/api/v1/hotels/hotel-001:per_minute": 90,
    f"rate_limit:apikey:{PARTNER}:/webhooks/apaleo:per_minute": 200,
    f"rate_limit:ip:{STRANGER}:/api/v1/hotels/hotel-002:per_minute": 75,
    f"rate_limit:ip:{PROBER}:/api/v1/hotels/hotel-003:per_minute": 80,
}
RATE_VARS = {"rate_limiting_partner_api_keys": [PARTNER], "rate_limiting_abuse_median_factor": 100000}


def _failed_logins(ip: str, count: int) -> None:
    for n in range(count):
        answer = requests.post(
            f"{ORCHESTRATOR}/auth/login",
            json={"username": f"admin{n % 3}", "password": f"guess-{n}"},
            headers={"X-Forwarded-For": ip},
            timeout=10,
        )
        assert answer.status_code in (401, 403), answer.text


def _by(items: list[dict], key: str) -> dict[str, dict]:
    return {item[key]: item for item in items}


def _other_keys(r) -> dict[str, int]:
    """Keys that no rate-limiting remediation may touch, by family."""
    families = ("circuit_breaker:", "session:", "refresh_token:")
    return {f: len(list(r.scan_iter(match=f + "*", count=1000))) for f in families}


def test_rate_limited_clients_get_a_verdict_and_only_trusted_ones_are_cleared(clean_lab, primary_redis, kube):
    r = primary_redis
    _failed_logins(PROBER, 12)
    pipe = r.pipeline()
    for key, value in COUNTERS.items():
        pipe.set(key, value, ex=900)
    pipe.execute()
    others = _other_keys(r)

    run = run_playbook("playbooks/diagnose.yml", "--tags", "rate_limiting", extra_vars=RATE_VARS)
    assert run.rc == 0, run.output[-3000:]
    findings = _by(run.report["findings"], "id")
    verdicts = {
        c["name"]: c
        for f in findings.values()
        for c in f["evidence"]["clients"]
        if f["id"].startswith("rate_limiting.") and "clients" in f["evidence"]
    }
    assert verdicts[f"ip:{OFFICE}"]["verdict"] == "legitimate"
    assert verdicts[f"ip:{OFFICE}"]["requests"] == {"per_minute": 240}
    assert verdicts[f"ip:{OFFICE}"]["stuck_windows"][0]["window_seconds"] == 60
    partner_name = "apikey:#" + hashlib.sha256(PARTNER.encode()).hexdigest()[:10]
    assert verdicts[partner_name]["verdict"] == "legitimate"
    assert PARTNER not in json.dumps(run.report)
    assert verdicts[f"ip:{STRANGER}"]["verdict"] == "unverified"
    assert verdicts[f"ip:{PROBER}"]["verdict"] == "abusive"
    assert verdicts[f"ip:{PROBER}"]["abuse_signs"] == ["12 authentication failures from its IP"]
    assert set(findings) == {
        "rate_limiting.legitimate_clients_limited",
        "rate_limiting.abusive_clients",
        "rate_limiting.unverified_clients",
    }
    assert (
        findings["rate_limiting.legitimate_clients_limited"]["evidence"]["limits_source"]["per_minute"] == "configmap"
    )

    run = run_playbook("playbooks/remediate.yml", "--tags", "rate_limiting", extra_vars=RATE_VARS)
    assert run.rc == 0, run.output[-3000:]
    done = {a["target"] for a in run.report["actions"] if a["action"] == "allowlist_client" and a["status"] == "done"}
    assert done == {f"rate_limit/ip:{OFFICE}", f"rate_limit/{partner_name}"}
    assert not list(r.scan_iter(match=f"rate_limit:ip:{OFFICE}:*"))
    assert not list(r.scan_iter(match=f"rate_limit:apikey:{PARTNER}:*"))
    assert 3000 < r.ttl(f"rate_limit:whitelist:{OFFICE}") <= 3600
    assert 3000 < r.ttl(f"rate_limit:whitelist:apikey:{PARTNER}") <= 3600
    for client in (STRANGER, PROBER):  # left alone: still counted, never allow-listed
        assert r.get(f"rate_limit:ip:{client}:/api/v1/hotels/hotel-00{2 if client == STRANGER else 3}:per_minute")
        assert not r.exists(f"rate_limit:whitelist:{client}")
    assert _other_keys(r) == others
    served = requests.get(f"{ORCHESTRATOR}/api/v1/hotels/hotel-001", headers={"X-Forwarded-For": OFFICE}, timeout=5)
    assert served.status_code == 200
    assert {a["action"]: a["status"] for a in run.report["actions"]}["raise_rate_limits"] == "skipped_needs_approval"

    # raise the limit (approved): bounded value written, the old one kept, the orchestrator rolled out
    core, apps = k8s_client.CoreV1Api(kube), k8s_client.AppsV1Api(kube)
    r.set(f"rate_limit:ip:{OFFICE}:/api/v1/calls:per_minute", 150, ex=900)
    r.delete(f"rate_limit:whitelist:{OFFICE}")
    offset = request_log_offset()
    run = run_playbook(
        "playbooks/remediate.yml",
        "--tags",
        "rate_limiting",
        extra_vars=dict(RATE_VARS, voicehive_approved_actions=["raise_rate_limits"]),
    )
    assert run.rc == 0, run.output[-3000:]
    statuses = {a["action"]: a for a in run.report["actions"]}
    assert statuses["raise_rate_limits"]["status"] == "done"
    assert statuses["raise_rate_limits"]["before"]["requests_per_minute"] == "60"
    assert statuses["restart_orchestrator"]["status"] == "done"
    cm = core.read_namespaced_config_map("rate-limit-config", NS)
    assert cm.data["requests_per_minute"] == "120"
    assert cm.metadata.annotations["voicehive.io/previous-requests-per-minute"] == "60"
    restarted = apps.read_namespaced_deployment("orchestrator", NS).spec.template.metadata.annotations
    assert "kubectl.kubernetes.io/restartedAt" in restarted
    written = {(q["verb"], q["name"]) for q in service_account_requests(offset) if q["resource"] == "configmaps"}
    assert ("patch", "rate-limit-config") in written, written  # as the shipped ServiceAccount

    run = run_playbook(
        "playbooks/remediate.yml",
        "--tags",
        "rate_limiting",
        extra_vars=dict(RATE_VARS, rate_limiting_restore_limits=True),
    )
    assert run.rc == 0, run.output[-3000:]
    assert {a["action"]: a["status"] for a in run.report["actions"]}["restore_rate_limits"] == "done"
    cm = core.read_namespaced_config_map("rate-limit-config", NS)
    assert cm.data["requests_per_minute"] == "60"
    assert "voicehive.io/previous-requests-per-minute" not in (cm.metadata.annotations or {})


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"rate_limiting_trusted_networks": ["10.0.0.300/8"], "rate_limiting_trusted_clients": ["customer:7"]},
            ["rate_limiting_trusted_networks: '10.0.0.300/8'", "rate_limiting_trusted_clients: 'customer:7'"],
        ),
        (
            {"security_block_ips": ["1.2.3", "10.0.0.5/24"], "voicehive_approved_actions": ["block_ips"]},
            ["security_block_ips: '1.2.3'", "did you mean 10.0.0.0/24?"],
        ),
    ],
)
def test_malformed_input_stops_the_run_before_anything(clean_lab, kube, extra, expected):
    core = k8s_client.CoreV1Api(kube)
    before = core.read_namespaced_config_map("security-config", NS).metadata.resource_version
    run = run_playbook("playbooks/remediate.yml", "--tags", "rate_limiting,security", extra_vars=extra)
    assert run.rc != 0
    report = run.report
    assert report["outcome"] == "failed" and report["actions"] == [] and report["findings"] == []
    for text in expected:
        assert text in run.output, run.output[-3000:]
    assert core.read_namespaced_config_map("security-config", NS).metadata.resource_version == before
    assert "Traceback" not in run.output


def test_brute_force_is_blocked_logging_reverted_and_secrets_rotated(clean_lab, kube, secrets):
    core, apps = k8s_client.CoreV1Api(kube), k8s_client.AppsV1Api(kube)
    # a malformed entry already in the list, and enhanced logging switched on an hour ago, its time up
    core.patch_namespaced_config_map("security-config", NS, {"data": {"blocked_ips": "999.1.1.1"}})
    expired = f"{int(time.time()) - 60} AUDIT_LOGGING=false,LOG_LEVEL=INFO"
    deployment = apps.read_namespaced_deployment("orchestrator", NS)
    deployment.spec.template.metadata.annotations = dict(deployment.spec.template.metadata.annotations or {})
    deployment.spec.template.metadata.annotations[ANNOTATION] = expired
    for entry in deployment.spec.template.spec.containers[0].env:
        entry.value = {"LOG_LEVEL": "DEBUG", "AUDIT_LOGGING": "true"}.get(entry.name, entry.value)
    apps.replace_namespaced_deployment("orchestrator", NS, deployment)
    _failed_logins("198.51.100.61", 25)
    _failed_logins("203.0.113.3", 25)  # inside the trusted network: protected
    api_key = secrets["api_key"]
    approved = {
        "voicehive_approved_actions": ["block_ips", "rotate_secrets"],
        "security_rotate_api_key_ids": [api_key],
    }

    offset = request_log_offset()
    run = run_playbook("playbooks/remediate.yml", "--tags", "security", "-vvv", extra_vars=approved)
    written = {(q["verb"], q["name"]) for q in service_account_requests(offset) if q["resource"] == "configmaps"}
    assert ("update", "security-config") in written, written  # as the shipped ServiceAccount
    assert run.rc != 0  # the protected source stays unblocked: a critical finding left
    findings = _by(run.report["findings"], "id")
    assert findings["security.blocklist_invalid"]["status"] == "unresolved"
    assert findings["security.enhanced_logging_expired"]["status"] == "resolved"
    sources = _by(findings["security.brute_force"]["evidence"]["sources"], "ip")
    assert sources["198.51.100.61"]["failures"] >= 25 and sources["203.0.113.3"]["protected"] is True
    actions = {a["action"]: a for a in run.report["actions"]}
    assert actions["revert_enhanced_logging"]["status"] == "done"
    assert "enable_enhanced_logging" not in actions  # the time-box just ended; the next run decides again
    assert actions["block_ips"]["status"] == "done"
    # (sources of earlier attacks still inside the window, from other tests, are blocked too)
    assert "198.51.100.61" in actions["block_ips"]["after"]["added"]
    blocked = core.read_namespaced_config_map("security-config", NS).data["blocked_ips"].split(",")
    assert blocked[0] == "999.1.1.1" and "198.51.100.61" in blocked and "203.0.113.3" not in blocked
    deployment = apps.read_namespaced_deployment("orchestrator", NS).spec.template
    env = {e.name: e.value for e in deployment.spec.containers[0].env}
    assert (env["LOG_LEVEL"], env["AUDIT_LOGGING"]) == ("INFO", "false")
    assert ANNOTATION not in (deployment.metadata.annotations or {})

    rotations = [a for a in run.report["actions"] if a["action"] == "rotate_secrets"]
    assert {a["status"] for a in rotations} == {"done"} and len(rotations) == 2
    root = {"X-Vault-Token": secrets["vault_root_token"]}
    old = requests.get(f"{VAULT}/v1/secret/data/api-keys/{api_key}", headers=root, timeout=5).json()["data"]["data"]
    assert old["status"] == "revoked" and old["replaced_by"].startswith("vh_live_")
    new_key = old["replaced_by"]
    fresh = requests.get(f"{VAULT}/v1/secret/data/api-keys/{new_key}", headers=root, timeout=5).json()["data"]["data"]
    assert fresh["status"] == "active"
    time.sleep(2.5)  # the orchestrator caches API key checks for 2 s
    headers = {"X-Forwarded-For": "10.20.0.15"}
    assert requests.get(f"{ORCHESTRATOR}/health", timeout=5).status_code == 200
    hotel = f"{ORCHESTRATOR}/api/v1/hotels/hotel-001"
    assert requests.get(hotel, headers=dict(headers, **{"X-API-Key": api_key}), timeout=5).status_code == 401
    assert requests.get(hotel, headers=dict(headers, **{"X-API-Key": new_key}), timeout=5).status_code == 200
    jwt = base64.b64decode(core.read_namespaced_secret("jwt-secret", NS).data["secret"]).decode()
    for secret in (api_key, new_key, jwt, secrets["jwt_secret"]):
        assert secret not in run.output
        assert secret not in json.dumps(run.reports)

    # the incident is still open (the protected source): enhanced logging goes on again for its time, nothing else
    again = run_playbook("playbooks/remediate.yml", "--tags", "security", extra_vars=approved)
    changed = {a["action"] for a in again.report["actions"] if a["status"] == "done" and a["changed"]}
    assert changed == {"enable_enhanced_logging"}, again.report["actions"]
