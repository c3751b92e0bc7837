# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remediations need nothing beyond the shipped RBAC (docs/rbac/voicehive-remediation.yml).

The test binds the shipped Role to a ServiceAccount in kubesim, runs remediations
with that account's token, then checks every request the account made (kubesim's
request log) against the shipped rules with kubesim's RBAC rule matcher.
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import UTC, datetime

import pytest
import yaml
from kubernetes import client as k8s_client
from kubernetes.client.rest import ApiException
from vh_lab import ROOT, STATE, fault, lab, run_playbook

sys.path.insert(0, str(ROOT / "lab"))
from kubesim import rbac

pytestmark = pytest.mark.lab

MANIFEST = ROOT / "docs" / "rbac" / "voicehive-remediation.yml"
SA_USER = "system:serviceaccount:voicehive:voicehive-remediation"
DISCOVERY = ("/api", "/apis", "/version", "/openapi")


def _apply(kube, doc: dict) -> None:
    api = k8s_client.ApiClient.sanitize_for_serialization(kube, doc)
    dyn_kind = doc["kind"]
    ns = doc["metadata"].get("namespace")
    core, rbac_api = k8s_client.CoreV1Api(kube), k8s_client.RbacAuthorizationV1Api(kube)
    create = {
        "ServiceAccount": lambda: core.create_namespaced_service_account(ns, api),
        "Role": lambda: rbac_api.create_namespaced_role(ns, api),
        "RoleBinding": lambda: rbac_api.create_namespaced_role_binding(ns, api),
        "ClusterRole": lambda: rbac_api.create_cluster_role(api),
        "ClusterRoleBinding": lambda: rbac_api.create_cluster_role_binding(api),
    }[dyn_kind]
    try:
        create()
    except ApiException as exc:
        if exc.status != 409:
            raise


def _rules(docs: list[dict]) -> list[dict]:
    return [rule for d in docs if d["kind"] in ("Role", "ClusterRole") for rule in d["rules"]]


def _requests_since(start: str) -> list[dict]:
    lines = (STATE / "kubesim" / "requests.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("user") == SA_USER and r["time"] >= start]


def _service_account(kube) -> tuple[list[dict], dict, str]:
    """The shipped RBAC applied; its documents, the extra-vars that run as its ServiceAccount, and a start time."""
    docs = yaml.safe_load(MANIFEST.read_text())["items"]
    for doc in docs:
        _apply(kube, doc)
    token = (
        k8s_client.CoreV1Api(kube)
        .create_namespaced_service_account_token(
            "voicehive-remediation",
            "voicehive",
            k8s_client.AuthenticationV1TokenRequest(
                spec=k8s_client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
            ),
        )
        .status.token
    )
    as_sa = {"voicehive_kubeconfig": "", "voicehive_kube_api_key": token}
    return docs, as_sa, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _denied(requests: list[dict], docs: list[dict]) -> list[str]:
    """The requests no rule of the shipped Role and ClusterRoles allows."""
    rules = _rules(docs)
    denied = []
    for r in requests:
        if r["path"].startswith(DISCOVERY) or not r["resource"]:
            continue
        attrs = rbac.Attributes(
            verb=r["verb"],
            group=r["group"],
            resource=r["resource"],
            subresource=r["subresource"],
            namespace=r["namespace"],
            name=r["name"],
        )
        if not any(rbac._rule_matches(rule, attrs) for rule in rules):
            denied.append(f"{r['verb']} {r['path']}")
    return denied


def _done(run) -> set[str]:
    return {a["action"] for a in run.report["actions"] if a["status"] == "done"}


def test_remediation_runs_with_the_shipped_role_only(clean_lab, kube):
    docs, as_sa, start = _service_account(kube)

    fault("inject", "breaker-stuck-open")
    run = run_playbook("playbooks/remediate.yml", "--tags", "circuit_breakers", extra_vars=as_sa)
    assert run.rc == 0, run.output[-3000:]
    assert run.report["outcome"] == "resolved"
    fault("clear")
    fault("inject", "breaker-dependency-down")
    approved = dict(
        as_sa,
        voicehive_approved_actions=["enable_fallback_mode", "tune_breaker_thresholds"],
        circuit_breakers_thresholds={"failure_threshold": "8"},
    )
    run = run_playbook("playbooks/remediate.yml", "--tags", "circuit_breakers", extra_vars=approved)
    assert run.rc == 0, run.output[-3000:]
    assert {a["action"] for a in run.report["actions"] if a["status"] == "done"} == {
        "enable_fallback_mode",
        "tune_breaker_thresholds",
    }

    breaker_requests = _requests_since(start)
    fault("clear")

    # authentication: a new JWT secret (Secret update, rollout), and a Vault re-login for the orchestrator
    # (a token of its service account, the new Vault token written into voicehive-secrets)
    fault("inject", "login-401-jwt-secret")
    core = k8s_client.CoreV1Api(kube)
    core.patch_namespaced_secret(
        "voicehive-secrets", "voicehive", {"data": {"vault-token": base64.b64encode(b"hvs.revoked-token").decode()}}
    )
    run = run_playbook(
        "playbooks/remediate.yml",
        "--tags",
        "authentication",
        extra_vars=dict(as_sa, voicehive_approved_actions=["rotate_jwt_secret"]),
    )
    assert run.rc == 0, run.output[-3000:]
    assert {a["action"] for a in run.report["actions"] if a["status"] == "done"} == {
        "rotate_jwt_secret",
        "restart_orchestrator",
        "vault_relogin",
    }

    fault("clear")

    # rate limiting and security: a higher limit (ConfigMap patch, rollout), the brute-force sources blocked
    # (security-config replaced), enhanced logging (Deployment patch), the JWT secret rotated, the log read
    fault("inject", "rate-limit-legit")
    fault("inject", "suspicious-activity")
    run = run_playbook(
        "playbooks/remediate.yml",
        "--tags",
        "rate_limiting,security",
        extra_vars=dict(as_sa, voicehive_approved_actions=["raise_rate_limits", "block_ips", "rotate_secrets"]),
    )
    assert run.rc == 0, run.output[-3000:]
    assert {
        "allowlist_client",
        "raise_rate_limits",
        "restart_orchestrator",
        "enable_enhanced_logging",
        "block_ips",
        "rotate_secrets",
    } <= {a["action"] for a in run.report["actions"] if a["status"] == "done"}, run.report["actions"]

    requests = _requests_since(start)
    assert requests, "the runs made no request as the ServiceAccount"
    denied = _denied(requests, docs)
    assert not denied, "requests outside the shipped Role:\n" + "\n".join(sorted(set(denied)))
    assert not [r for r in breaker_requests if r["resource"] == "secrets"], "a circuit breaker remediation read Secrets"
    secrets_touched = {(r["verb"], r["name"]) for r in requests if r["resource"] == "secrets"}
    assert {("get", "jwt-secret"), ("update", "jwt-secret")} <= secrets_touched, secrets_touched
    assert ("create", "voicehive-orchestrator") in {
        (r["verb"], r["name"]) for r in requests if r["resource"] == "serviceaccounts"
    }
    configmaps = {(r["verb"], r["name"]) for r in requests if r["resource"] == "configmaps"}
    assert {("patch", "rate-limit-config"), ("update", "security-config")} <= configmaps, configmaps
    assert ("get", None) not in {(r["verb"], r["name"]) for r in requests if r["subresource"] == "log"}
    assert all(r["code"] < 500 for r in requests)


def test_performance_memory_and_database_run_with_the_shipped_role_only(clean_lab, kube):
    """The verbs of the performance, memory and database remediations: the HPA created and its floor, scaling,
    env and limit patches, pods deleted one at a time, postgresql-0 deleted and waited for, the nodes read."""
    docs, as_sa, start = _service_account(kube)

    fault("inject", "high-latency")
    run = run_playbook("playbooks/remediate.yml", "--tags", "performance", extra_vars=as_sa)
    assert run.rc == 0, run.output[-3000:]
    assert {"scale_up", "enable_caching", "create_autoscaler"} <= _done(run), run.report["actions"]
    # only a reset removes the HPA (the next faults scale the orchestrator by hand); it removes the
    # ServiceAccount too, so it is made again (the same user in kubesim's request log)
    lab("reset")
    docs, as_sa, _start = _service_account(kube)

    # without the env rollout, so the leaking pods are restarted one by one (the Deployment patch is above)
    fault("inject", "memory-leak")
    run = run_playbook(
        "playbooks/remediate.yml", "--tags", "memory", extra_vars=dict(as_sa, memory_optimization_deployments=[])
    )
    assert run.rc == 0, run.output[-3000:]
    assert {"restart_leaking_pods"} <= _done(run), run.report["actions"]
    fault("clear")

    fault("inject", "db-connection-failure")
    run = run_playbook(
        "playbooks/remediate.yml",
        "--tags",
        "database",
        extra_vars=dict(as_sa, voicehive_approved_actions=["restart_database"]),
    )
    assert run.rc == 0, run.output[-3000:]
    assert {"restart_database", "restart_orchestrator"} <= _done(run), run.report["actions"]

    requests = _requests_since(start)
    denied = _denied(requests, docs)
    assert not denied, "requests outside the shipped Role:\n" + "\n".join(sorted(set(denied)))
    used = {(r["verb"], r["resource"], r["name"] or "") for r in requests}
    assert ("create", "horizontalpodautoscalers", "") in used, sorted(map(str, used))
    assert ("delete", "pods", "postgresql-0") in used
    assert ("list", "nodes", "") in used
    orchestrator_pods = {n for v, res, n in used if v == "delete" and res == "pods" and n != "postgresql-0"}
    assert orchestrator_pods, "memory deleted no orchestrator pod"
    assert all(r["code"] < 500 for r in requests)
