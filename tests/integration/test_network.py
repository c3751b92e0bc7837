# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service discovery, with its causes made directly in kubesim through the Kubernetes API (not lab/bin/fault).

1. Service redis given a selector that selects no pod (its Endpoints empty), Service livekit-agent deleted, the
   metrics port dropped from Service orchestrator (it still has endpoints: drift), one CoreDNS pod NotReady.
   remediate --check --diff changes nothing and says what it would do; remediate without approval applies the
   three shipped definitions (their Endpoints ready again, read through kubesim) and leaves CoreDNS alone
   ("needs approval"); with restart_coredns approved CoreDNS is rolled out and ready; once more changes nothing.
2. The lab fault (lab/bin/fault) diagnosed with two extra endpoints, one whose name does not resolve and one that
   refuses: each cause gets its finding, with the TCP latencies as evidence.
3. Bad input stops the run before anything is read or changed.
The lab fault's remediation end to end is the molecule scenario (molecule/network_service_discovery).
"""

from __future__ import annotations

import pytest
from kubernetes import client as k8s_client
from vh_lab import fault, lab, request_log_offset, run_playbook, service_account_requests, wait_for

pytestmark = pytest.mark.lab

NS = "voicehive"
DNS_NS = "kube-system"
DNS_PODS = "k8s-app=kube-dns"
CONDITION = "kubesim.voicehive.io/condition"
RESTARTED = "kubectl.kubernetes.io/restartedAt"
REMEDIATE = "playbooks/remediate.yml"
DIAGNOSE = "playbooks/diagnose.yml"


def _by(items: list[dict], key: str = "id") -> dict[str, dict]:
    return {item[key]: item for item in items}


def _services(core) -> dict[str, dict]:
    out = {}
    for svc in core.list_namespaced_service(NS).items:
        ep = core.read_namespaced_endpoints(svc.metadata.name, NS)
        out[svc.metadata.name] = {
            "selector": svc.spec.selector or {},
            "ports": sorted((p.name, p.port) for p in svc.spec.ports or []),
            "resource_version": svc.metadata.resource_version,
            "ready": sum(len(s.addresses or []) for s in ep.subsets or []),
        }
    return out


def _coredns(core, apps) -> dict:
    dep = apps.read_namespaced_deployment("coredns", DNS_NS)
    pods = [
        p for p in core.list_namespaced_pod(DNS_NS, label_selector=DNS_PODS).items if not p.metadata.deletion_timestamp
    ]
    return {
        "restarted_at": (dep.spec.template.metadata.annotations or {}).get(RESTARTED),
        "resource_version": dep.metadata.resource_version,
        "pods": sorted(p.metadata.name for p in pods),
        "ready": sum(1 for p in pods if all(c.ready for c in p.status.container_statuses or [])),
    }


@pytest.fixture(scope="module")
def story(lab_up, kube):
    lab("reset")
    core, apps = k8s_client.CoreV1Api(kube), k8s_client.AppsV1Api(kube)
    core.patch_namespaced_service("redis", NS, {"spec": {"selector": {"app": "redis-v2"}}})
    core.delete_namespaced_service("livekit-agent", NS)
    core.patch_namespaced_service("orchestrator", NS, [{"op": "remove", "path": "/spec/ports/1"}])  # metrics
    unready = core.list_namespaced_pod(DNS_NS, label_selector=DNS_PODS).items[0].metadata.name
    core.patch_namespaced_pod(unready, DNS_NS, {"metadata": {"annotations": {CONDITION: "NotReady"}}})
    wait_for(lambda: _services(core)["redis"]["ready"] == 0, what="redis's Endpoints to empty")
    wait_for(lambda: _coredns(core, apps)["ready"] == 1, what="one CoreDNS pod NotReady")
    story = {"unready": unready, "before": _services(core), "dns_before": _coredns(core, apps)}
    story["check"] = run_playbook(REMEDIATE, "--tags", "network", "--check", "--diff")
    story["after_check"], story["dns_after_check"] = _services(core), _coredns(core, apps)
    story["fix"] = run_playbook(REMEDIATE, "--tags", "network")
    story["after_fix"], story["dns_after_fix"] = _services(core), _coredns(core, apps)
    offset = request_log_offset()
    story["approved"] = run_playbook(
        REMEDIATE, "--tags", "network", extra_vars={"voicehive_approved_actions": ["restart_coredns"]}
    )
    story["dns_after_approved"] = _coredns(core, apps)
    story["approved_requests"] = service_account_requests(offset)
    story["again"] = run_playbook(
        REMEDIATE, "--tags", "network", extra_vars={"voicehive_approved_actions": ["restart_coredns"]}
    )
    story["after_again"], story["dns_after_again"] = _services(core), _coredns(core, apps)
    return story


def test_check_mode_changes_nothing_and_says_what_it_would_do(story):
    run = story["check"]
    assert run.rc == 0, run.output[-3000:]
    assert story["after_check"] == story["before"]
    assert story["dns_after_check"] == story["dns_before"]
    report = run.report
    assert report["check_mode"] is True
    findings = _by(report["findings"])
    assert set(findings) == {"network.service_no_endpoints", "network.service_drift", "network.dns_unready"}
    services = _by(findings["network.service_no_endpoints"]["evidence"]["services"], "name")
    assert set(services) == {"redis", "livekit-agent"}
    assert services["redis"]["cause"] == "selector_mismatch" and services["redis"]["selector"] == {"app": "redis-v2"}
    assert services["livekit-agent"]["cause"] == "service_missing"
    assert "redis (its selector is not the shipped one)" in findings["network.service_no_endpoints"]["summary"]
    assert findings["network.service_drift"]["severity"] == "warning"
    assert [s["name"] for s in findings["network.service_drift"]["evidence"]["services"]] == ["orchestrator"]
    dns = findings["network.dns_unready"]
    assert dns["severity"] == "warning" and story["unready"] in dns["summary"], dns
    assert dns["remediation"] == "restart_coredns"
    actions = [(a["action"], a["target"], a["status"]) for a in report["actions"]]
    assert actions == [
        ("apply_service_definitions", "service/orchestrator", "would_change"),
        ("apply_service_definitions", "service/redis", "would_change"),
        ("apply_service_definitions", "service/livekit-agent", "would_change"),
        ("restart_coredns", "deployment/kube-system/coredns", "skipped_needs_approval"),
    ], report["actions"]


def test_services_are_applied_again_and_their_endpoints_are_ready(story):
    run = story["fix"]
    assert run.rc == 0, run.output[-3000:]
    after = story["after_fix"]
    assert after["redis"]["selector"] == {"app": "redis"} and after["redis"]["ready"] >= 1
    assert after["livekit-agent"]["selector"] == {"app": "livekit-agent"} and after["livekit-agent"]["ready"] >= 1
    assert after["orchestrator"]["ports"] == [("http", 8080), ("metrics", 9090)]
    assert after["postgresql"]["resource_version"] == story["before"]["postgresql"]["resource_version"]
    # CoreDNS needs approval: untouched
    assert story["dns_after_fix"]["resource_version"] == story["dns_before"]["resource_version"]
    report = run.report
    assert report["outcome"] == "action_required", report["summary"]
    assert "restart_coredns" in report["summary"]["needs_approval"]
    findings = _by(report["findings"])
    assert {f: findings[f]["status"] for f in findings} == {
        "network.service_no_endpoints": "resolved",
        "network.service_drift": "resolved",
        "network.dns_unready": "unresolved",
    }
    applied = _by([a for a in report["actions"] if a["action"] == "apply_service_definitions"], "target")
    assert set(applied) == {"service/redis", "service/livekit-agent", "service/orchestrator"}
    assert all(a["status"] == "done" and a["changed"] for a in applied.values())
    redis = applied["service/redis"]
    assert redis["before"]["selector"] == {"app": "redis-v2"} and redis["before"]["ready_addresses"] == 0
    assert redis["after"]["selector"] == {"app": "redis"}
    assert applied["service/livekit-agent"]["before"]["exists"] is False


def test_coredns_is_restarted_only_with_approval(story):
    run = story["approved"]
    assert run.rc == 0, run.output[-3000:]
    dns = story["dns_after_approved"]
    assert dns["restarted_at"] and not story["dns_before"]["restarted_at"]
    assert story["unready"] not in dns["pods"] and dns["ready"] == len(dns["pods"]) == 2
    report = run.report
    assert report["outcome"] == "resolved"
    assert {f["id"]: f["status"] for f in report["findings"]} == {"network.dns_unready": "resolved"}
    (action,) = report["actions"]
    assert action["action"] == "restart_coredns" and action["status"] == "done" and action["approved"]
    assert action["before"]["ready_pods"] == "1 of 2" and action["before"]["restartedAt"] == "never"
    assert action["after"]["restartedAt"] == dns["restarted_at"]
    # as the ServiceAccount: in kube-system only the CoreDNS pods listed and Deployment coredns read and patched
    dns_requests = {
        (r["verb"], r["resource"], r.get("name") or "") for r in story["approved_requests"] if r["namespace"] == DNS_NS
    }
    assert dns_requests == {
        ("list", "pods", ""),
        ("get", "deployments", "coredns"),
        ("patch", "deployments", "coredns"),
    }


def test_second_run_changes_nothing(story):
    run = story["again"]
    assert run.rc == 0 and run.recap_changed() == 0, run.output[-3000:]
    assert run.report["outcome"] == "healthy"
    assert run.report["findings"] == [] and run.report["actions"] == []
    assert {n: s["resource_version"] for n, s in story["after_again"].items()} == {
        n: s["resource_version"] for n, s in story["after_fix"].items()
    }
    assert story["dns_after_again"]["resource_version"] == story["dns_after_approved"]["resource_version"]


def test_lab_fault_unresolvable_and_refusing_endpoints_are_diagnosed(clean_lab):
    fault("inject", "service-discovery")
    endpoints = [
        {"name": "redis", "url": "tcp://127.0.0.1:16379", "variable": "voicehive_redis_url"},
        {"name": "vault_dns", "url": "tcp://vault.voicehive.invalid:8200"},
        {"name": "closed", "url": "tcp://127.0.0.1:1"},
    ]
    run = run_playbook(
        DIAGNOSE, "--tags", "network", extra_vars={"network_endpoints": endpoints, "network_connect_warn_ms": 2000}
    )
    assert run.rc == 0, run.output[-3000:]
    findings = _by(run.report["findings"])
    assert set(findings) == {
        "network.service_no_endpoints",
        "network.dns_unready",
        "network.dns_resolution_failed",
        "network.unreachable",
    }
    services = _by(findings["network.service_no_endpoints"]["evidence"]["services"], "name")
    assert {n: s["cause"] for n, s in services.items()} == {
        "redis": "selector_missing",
        "postgresql": "selector_missing",
    }
    assert services["redis"]["pods_ready"] == 1, services["redis"]
    assert findings["network.service_no_endpoints"]["remediation"] == "apply_service_definitions"
    assert findings["network.dns_unready"]["severity"] == "critical"
    assert findings["network.dns_unready"]["evidence"]["dns"]["ready"] == 0
    (unresolved,) = findings["network.dns_resolution_failed"]["evidence"]["endpoints"]
    assert unresolved["name"] == "vault_dns" and unresolved["resolves"] is False
    (closed,) = findings["network.unreachable"]["evidence"]["endpoints"]
    assert closed["name"] == "closed" and "refused" in closed["error"].lower()
    assert closed["ms"] is not None
    assert run.report["actions"] == []


def test_bad_input_is_refused_before_anything_is_read(clean_lab, kube):
    core = k8s_client.CoreV1Api(kube)
    fault("inject", "service-discovery")
    before = _services(core)
    run = run_playbook(
        REMEDIATE,
        "--tags",
        "network",
        extra_vars={
            "network_services": [{"name": "Redis_Cache", "selector": {}, "ports": []}],
            "network_endpoints": [{"name": "vault", "url": "https://vault.example.com"}],
            "network_connect_warn_ms": -5,
            "voicehive_approved_actions": ["restart_coredns"],
        },
    )
    assert run.rc != 0
    assert "network_services name Redis_Cache is not a Kubernetes Service name" in run.output
    assert "network_services Redis_Cache has an empty selector" in run.output
    assert "network_endpoints must be a list of {name, url} with url tcp://host:port" in run.output
    assert "network_connect_warn_ms -5 must be above 0" in run.output
    assert "Nothing was changed." in run.output
    assert run.report["outcome"] == "failed" and run.report["actions"] == [] and run.report["site_read"] == {}
    assert _services(core) == before
