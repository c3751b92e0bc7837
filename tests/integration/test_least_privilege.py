# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remediations need nothing beyond the shipped RBAC (docs/rbac/voicehive-remediation.yml).

Every playbook run of the integration tests goes to Kubernetes with a token of the
shipped ServiceAccount (vh_lab.run_playbook), and after every test conftest.py checks
each request that account made against the shipped rules with kubesim's own RBAC rule
matcher (vh_lab.unchecked_service_account_problems). The category tests assert the
requests particular to them (the breaker remediation reads no Secret, the JWT rotation
reads and writes jwt-secret, the raises patch their ConfigMaps). The lab's kubesim
authorizes every authenticated user (its default, `authorization` AlwaysAllow), so a
gap in the shipped RBAC is not a failure midway through a run but a named problem after
the test. This file proves that check can fail: a request the Role does not grant is
recorded under the account's name and named by the check.
"""

from __future__ import annotations

import pytest
from kubernetes import client as k8s_client
from vh_lab import (
    AS_SERVICE_ACCOUNT,
    SA_USER,
    request_log_offset,
    service_account_requests,
    shipped_rbac,
    unchecked_service_account_problems,
)

pytestmark = pytest.mark.lab


def _as_service_account(kube) -> k8s_client.ApiClient:
    cfg = k8s_client.Configuration()
    cfg.host = kube.configuration.host
    cfg.ssl_ca_cert = kube.configuration.ssl_ca_cert
    cfg.api_key = {"authorization": "Bearer " + AS_SERVICE_ACCOUNT["voicehive_kube_api_key"]}
    return k8s_client.ApiClient(cfg)


def test_the_service_account_gets_what_the_role_grants_and_nothing_else(clean_lab, kube):
    assert AS_SERVICE_ACCOUNT.get("voicehive_kube_api_key"), "playbook runs would use the admin kubeconfig"
    assert AS_SERVICE_ACCOUNT["voicehive_kubeconfig"] == ""
    kinds = {d["kind"] for d in shipped_rbac()}
    assert {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"} <= kinds

    unchecked_service_account_problems()  # what came before is the other tests' to answer for
    offset = request_log_offset()
    core = k8s_client.CoreV1Api(_as_service_account(kube))
    assert core.list_namespaced_pod("voicehive").items  # granted (the site read)
    core.list_namespaced_secret("kube-system")  # not granted: Secrets of another namespace (allowed by the lab)
    core.list_namespaced_pod("kube-system")  # granted there by the CoreDNS Role
    core.list_namespaced_service("monitoring")  # not granted: the site Role's Services hold in voicehive only

    made = service_account_requests(offset)
    assert [(r["user"], r["verb"], r["resource"], r["namespace"]) for r in made] == [
        (SA_USER, "list", "pods", "voicehive"),
        (SA_USER, "list", "secrets", "kube-system"),
        (SA_USER, "list", "pods", "kube-system"),
        (SA_USER, "list", "services", "monitoring"),
    ]
    problems = unchecked_service_account_problems()
    assert problems == [
        "outside the shipped rules: list /api/v1/namespaces/kube-system/secrets (200)",
        "outside the shipped rules: list /api/v1/namespaces/monitoring/services (200)",
    ], problems
