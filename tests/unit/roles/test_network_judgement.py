# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/network/templates/judgement.j2: every cause judged from a site read, rendered by Ansible's templar."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = Path(__file__).resolve().parents[3] / "roles" / "network"
TEMPLATE = (ROLE / "templates" / "judgement.j2").read_text()
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
SERVICES = DEFAULTS["network_services"]
ENDPOINTS = [
    {"name": "redis", "url": "tcp://127.0.0.1:16379", "variable": "voicehive_redis_url"},
    {"name": "vault", "url": "tcp://vault.example.invalid:8200", "variable": "voicehive_vault_url"},
]


def pod(name, app, ready=True, deleting=False, reason=None):
    return {
        "name": name,
        "labels": {"app": app} if app else {"k8s-app": "kube-dns"},
        "ready": ready,
        "phase": "Running",
        "restarts": 0,
        "deleting": deleting,
        "containers": {
            "main": {"ready": ready, "current": {"state": "running" if ready else "waiting", "reason": reason}}
        },
    }


def service(name, selector=None, ports=None):
    spec = next(s for s in SERVICES if s["name"] == name)
    return {
        "name": name,
        "selector": spec["selector"] if selector is None else selector,
        "ports": [
            {"name": p["name"], "port": p["port"], "target_port": p["targetPort"], "protocol": "TCP"}
            for p in (spec["ports"] if ports is None else ports)
        ],
    }


def site():
    names = [s["name"] for s in SERVICES]
    pods = [pod(f"{n}-0", n) for n in names]
    return {
        "kubernetes": {
            "available": True,
            "errors": {},
            "services": {n: service(n) for n in names},
            "endpoints": {
                n: {"name": n, "ready": [{"ip": "10.0.0.1", "pod": f"{n}-0"}], "not_ready": []} for n in names
            },
            "pods": {p["name"]: p for p in pods},
            "other_namespaces": {
                "kube-system": {
                    "errors": {},
                    "pods": {"coredns-a": pod("coredns-a", None), "coredns-b": pod("coredns-b", None)},
                }
            },
        },
        "http": {
            "network_tcp_redis": {"url": "tcp://127.0.0.1:16379", "reachable": True, "elapsed_ms": 0.4, "error": None},
            "network_tcp_vault": {
                "url": "tcp://vault.example.invalid:8200",
                "reachable": True,
                "elapsed_ms": 3.0,
                "error": None,
            },
        },
    }


def judge(state, **overrides):
    variables = {
        "voicehive_state": state,
        "network_services": SERVICES,
        "network_endpoints": ENDPOINTS,
        "network_dns_namespace": "kube-system",
        "network_dns_selector": "k8s-app=kube-dns",
        "network_dns_deployment": "coredns",
        "network_connect_warn_ms": 500,
    }
    variables.update(overrides)
    return json.loads(Templar(loader=DataLoader(), variables=variables).template(trust_as_template(TEMPLATE)))


def by_name(verdict):
    return {s["name"]: s for s in verdict["services"]}


def test_healthy_site_has_no_problem():
    verdict = judge(site())
    assert verdict["problems"] == []
    assert verdict["checked"] is True and verdict["to_apply"] == []
    assert all(s["cause"] == "ok" and s["ready_addresses"] == 1 for s in verdict["services"])
    assert verdict["dns"]["ready"] == 2 and verdict["dns"]["total"] == 2 and verdict["restart_coredns"] is False
    assert [e["ms"] for e in verdict["endpoints"]] == [0.4, 3.0]


def test_the_lab_fault_selectors_dropped_endpoints_empty_coredns_not_ready():
    state = site()
    k = state["kubernetes"]
    for name in ("redis", "postgresql"):
        k["services"][name]["selector"] = {}
        k["endpoints"][name] = {"name": name, "ready": [], "not_ready": []}
    for p in k["other_namespaces"]["kube-system"]["pods"].values():
        p.update(ready=False)
        p["containers"]["main"]["ready"] = False
    verdict = judge(state)
    assert verdict["problems"] == ["network.service_no_endpoints", "network.dns_unready"]
    assert sorted(verdict["no_endpoints"]) == ["postgresql", "redis"]
    assert sorted(verdict["to_apply"]) == ["postgresql", "redis"] and verdict["drifted"] == []
    services = by_name(verdict)
    assert services["redis"]["cause"] == "selector_missing" and services["redis"]["selector"] == {}
    assert services["redis"]["pods_selected"] == 1 and services["redis"]["pods_ready"] == 1
    assert verdict["dns"]["ready"] == 0 and verdict["dns"]["unready_pods"] == ["coredns-a", "coredns-b"]
    assert verdict["restart_coredns"] is True


@pytest.mark.parametrize(
    "change, cause, apply",
    [
        (lambda k: k["services"].pop("redis"), "service_missing", True),
        (lambda k: k["services"]["redis"].update(selector={"app": "redis-typo"}), "selector_mismatch", True),
        (
            lambda k: k["services"]["redis"].update(ports=[{"name": "redis", "port": 6380, "target_port": 6379}]),
            "ports_drift",
            True,
        ),
        (lambda k: k["pods"]["redis-0"].update(ready=False), "no_ready_pods", False),
        (lambda k: k["pods"].pop("redis-0"), "no_pods", False),
        (lambda k: k["pods"]["redis-0"].update(deleting=True), "no_pods", False),
    ],
)
def test_each_cause_of_a_service_without_endpoints(change, cause, apply):
    state = site()
    k = state["kubernetes"]
    change(k)
    k["endpoints"]["redis"] = {"name": "redis", "ready": [], "not_ready": []}
    verdict = judge(state)
    assert verdict["problems"] == ["network.service_no_endpoints"]
    assert verdict["no_endpoints"] == ["redis"]
    assert by_name(verdict)["redis"]["cause"] == cause
    assert by_name(verdict)["redis"]["selector_patch"] == {"app": "redis"}
    assert verdict["to_apply"] == (["redis"] if apply else [])


def test_drift_with_ready_endpoints_is_a_warning_finding_to_apply():
    state = site()
    state["kubernetes"]["services"]["orchestrator"]["ports"].pop()  # the metrics port dropped
    verdict = judge(state)
    assert verdict["problems"] == ["network.service_drift"]
    assert verdict["drifted"] == ["orchestrator"] and verdict["to_apply"] == ["orchestrator"]
    assert by_name(verdict)["orchestrator"]["expected_ports"] == ["http/8080/http/TCP", "metrics/9090/metrics/TCP"]


def test_selector_values_compare_as_strings_and_extra_endpoints_are_ignored():
    services = [*copy.deepcopy(SERVICES), {"name": "extra", "selector": {"tier": 1}, "ports": [{"port": 1}]}]
    state = site()
    k = state["kubernetes"]
    k["services"]["extra"] = {
        "name": "extra",
        "selector": {"tier": "1"},
        "ports": [{"name": None, "port": 1, "target_port": 1}],
    }
    k["endpoints"]["extra"] = {"name": "extra", "ready": [{"ip": "10.0.0.9", "pod": None}], "not_ready": []}
    k["services"]["unrelated"] = {"name": "unrelated", "selector": {}, "ports": []}
    verdict = judge(state, network_services=services)
    assert verdict["problems"] == []


def test_some_coredns_ready_is_still_unready_and_no_pods_is_not_restartable():
    state = site()
    dns = state["kubernetes"]["other_namespaces"]["kube-system"]["pods"]
    dns["coredns-b"].update(ready=False)
    dns["coredns-b"]["containers"]["main"].update(
        ready=False, current={"state": "waiting", "reason": "CrashLoopBackOff"}
    )
    verdict = judge(state)
    assert verdict["problems"] == ["network.dns_unready"] and verdict["restart_coredns"] is True
    assert verdict["dns"]["pods"][1]["reasons"] == ["main: CrashLoopBackOff"]
    dns.clear()
    verdict = judge(state)
    assert verdict["problems"] == ["network.dns_unready"] and verdict["restart_coredns"] is False


def test_unreadable_parts_are_not_judged():
    state = site()
    k = state["kubernetes"]
    k["other_namespaces"]["kube-system"] = {"errors": {"pods": "403 Forbidden"}, "pods": {}}
    k["errors"]["endpoints"] = "403 Forbidden"
    k["endpoints"] = {}
    verdict = judge(state)
    assert verdict["problems"] == [] and verdict["checked"] is False and verdict["services"] == []
    assert verdict["dns"]["checked"] is False and verdict["dns"]["error"] == "403 Forbidden"
    verdict = judge({"kubernetes": {"available": False}})
    assert verdict["problems"] == [] and verdict["endpoints"] == []


def test_endpoints_that_do_not_resolve_refuse_or_are_slow():
    state = site()
    http = state["http"]
    http["network_tcp_vault"].update(reachable=False, error="[Errno -2] Name or service not known")
    http["network_tcp_redis"].update(reachable=False, error="[Errno 111] Connection refused")
    verdict = judge(state)
    assert verdict["problems"] == ["network.dns_resolution_failed", "network.unreachable"]
    assert verdict["unresolved"] == ["vault"] and verdict["unreachable"] == ["redis"]
    http["network_tcp_vault"].update(reachable=False, error="timed out")
    http["network_tcp_redis"].update(reachable=True, error=None, elapsed_ms=900.0)
    verdict = judge(state)
    assert verdict["problems"] == ["network.unreachable", "network.slow_connect"]
    assert verdict["unreachable"] == ["vault"] and verdict["slow"] == ["redis"]
    assert judge(state, network_connect_warn_ms=1000)["slow"] == []


def test_other_selector_keys_are_removed_by_the_patch():
    state = site()
    state["kubernetes"]["services"]["redis"]["selector"] = {"app": "redis", "track": "canary"}
    state["kubernetes"]["endpoints"]["redis"]["ready"] = []
    redis = by_name(judge(state))["redis"]
    assert redis["cause"] == "selector_mismatch" and redis["apply"] is True
    assert redis["selector_patch"] == {"app": "redis", "track": None}
