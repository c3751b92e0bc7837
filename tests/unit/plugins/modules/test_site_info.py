# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""site_info as a module: every component read in one run, what did not answer named, bad input refused.

The Kubernetes API, Prometheus, Alertmanager and the HTTP endpoints are a local test server; Redis is the
private redis-server of tests/unit/conftest.py; PostgreSQL is a closed port (an unreachable database).
"""

from __future__ import annotations

import json
import socket

import pytest
import yaml

from ansible_collections.voicehive.remediation.plugins.module_utils import _site_info
from ansible_collections.voicehive.remediation.plugins.modules import site_info

TOKEN = "kube-token-" + "z" * 24
POD = {
    "metadata": {"name": "orchestrator-1", "labels": {"app": "orchestrator"}},
    "spec": {"containers": [{"name": "orchestrator"}]},
    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def site(http_server, redis_db, redis_server):
    base, routes = http_server
    ns = "/api/v1/namespaces/voicehive"
    routes.routes.update(
        {
            ns: (200, {"status": {"phase": "Active"}}),
            f"{ns}/pods": (200, {"items": [POD]}),
            f"{ns}/configmaps": (
                200,
                {"items": [{"metadata": {"name": "rate-limit-config"}, "data": {"requests_per_minute": "100"}}]},
            ),
            f"{ns}/events": (200, {"items": []}),
            "/apis/apps/v1/namespaces/voicehive/deployments": (403, {"message": "deployments.apps is forbidden"}),
            "/api/v1/namespaces/kube-system/pods": (200, {"items": [dict(POD, metadata={"name": "coredns-1"})]}),
            "/-/healthy": (200, b"Prometheus is Healthy."),
            "/api/v1/query": (
                200,
                {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}]}},
            ),
            "/metrics": (200, b'voicehive_circuit_breaker_state{name="pms_connector",state="open"} 1\n'),
        }
    )
    redis_db.set("circuit_breaker:pms_connector:state", "open")
    redis_db.hset("session:1", "user_id", "1")
    url = f"redis://:{redis_server['password']}@127.0.0.1:{redis_server['port']}/0"
    return base, routes, url, redis_server["password"]


def args_for(base, redis_url, **extra):
    args = dict(
        timeout=3,
        kubernetes=dict(
            host=base,
            api_key=TOKEN,
            namespace="voicehive",
            kinds=["pods", "configmaps", "deployments", "events"],
            other_namespaces=[{"namespace": "kube-system", "kinds": ["pods"], "label_selector": "k8s-app=kube-dns"}],
        ),
        redis=dict(url=redis_url, families={"sessions": "session:"}),
        postgres=dict(login_host="127.0.0.1", port=closed_port(), login_password="pg-secret-xyz"),
        prometheus=dict(url=base, queries={"up": "up"}),
        http=[
            dict(
                name="orchestrator_metrics",
                url=f"{base}/metrics",
                parse="metrics",
                variable="voicehive_orchestrator_url",
            ),
            dict(name="livekit", url=f"ws://127.0.0.1:{closed_port()}", variable="voicehive_livekit_url"),
        ],
    )
    args.update(extra)
    return args


def test_reads_every_component_at_once_and_names_what_did_not_answer(run_module, site):
    base, routes, redis_url, redis_password = site
    result = run_module(site_info.main, args_for(base, redis_url))
    assert not result["failed"] and result["changed"] is False
    k8s = result["kubernetes"]
    assert k8s["available"] and k8s["namespace"]["exists"] and list(k8s["pods"]) == ["orchestrator-1"]
    assert k8s["configmaps"]["rate-limit-config"]["data"] == {"requests_per_minute": "100"}
    assert k8s["deployments"] == {} and "forbidden" in k8s["errors"]["deployments"]
    assert list(k8s["other_namespaces"]["kube-system"]["pods"]) == ["coredns-1"]
    assert any(r["path"].endswith("pods?labelSelector=k8s-app%3Dkube-dns") for r in routes.requests)
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in routes.requests if "namespaces" in r["path"])
    assert result["redis"]["available"] and result["redis"]["breakers"]["open"] == ["pms_connector"]
    assert result["redis"]["scan"]["families"]["sessions"]["count"] == 1
    assert result["prometheus"]["healthy"] and result["prometheus"]["queries"]["up"]["samples"][0]["value"] == 1.0
    assert result["http"]["orchestrator_metrics"]["metrics"][0]["labels"]["name"] == "pms_connector"
    assert result["postgres"]["available"] is False
    down = {d["name"]: d["variable"] for d in result["down"]}
    assert down == {"postgres": "voicehive_postgres_host", "livekit": "voicehive_livekit_url"}
    assert {w.split(" does not answer")[0] for w in result["warnings"]} == {"postgres", "livekit"}
    assert set(result["components"]) == {"kubernetes", "redis", "postgres", "prometheus", "http"}
    assert all(c["elapsed_ms"] is not None for c in result["components"].values())
    text = json.dumps(result)
    assert TOKEN not in text and redis_password not in text and "pg-secret-xyz" not in text


def test_only_the_components_asked_for_are_read(run_module, site):
    base, routes, _url, _pw = site
    result = run_module(
        site_info.main, {"kubernetes": {"host": base, "api_key": TOKEN, "namespace": "voicehive", "kinds": []}}
    )
    assert set(result["components"]) == {"kubernetes"} and "redis" not in result and result["down"] == []
    assert [r["path"] for r in routes.requests] == ["/api/v1/namespaces/voicehive"]


def test_an_unreachable_kubernetes_api_is_reported_not_raised(run_module):
    result = run_module(
        site_info.main,
        {
            "kubernetes": {
                "host": f"http://127.0.0.1:{closed_port()}",
                "api_key": TOKEN,
                "namespace": "voicehive",
                "kinds": ["pods"],
            }
        },
    )
    k8s = result["kubernetes"]
    assert not result["failed"] and k8s["available"] is False and k8s["namespace"]["exists"] is None
    assert k8s["error"].startswith("Cannot read namespace voicehive: cannot reach the Kubernetes API server")
    assert result["down"][0]["name"] == "kubernetes" and TOKEN not in json.dumps(result)


def test_unreachable_redis_is_reported_without_its_password(run_module):
    url = f"redis://:redis-pw-123@127.0.0.1:{closed_port()}/0"
    result = run_module(site_info.main, {"redis": {"url": url}})
    assert result["redis"]["available"] is False and result["redis"]["error"].startswith(
        "Cannot connect to Redis at 127.0.0.1:"
    )
    assert "redis-pw-123" not in json.dumps(result)


@pytest.mark.parametrize(
    "args, message",
    [
        ({"timeout": 0}, "timeout must be above 0 seconds"),
        (
            {"kubernetes": {"host": "http://h", "api_key": "t", "namespace": " "}},
            "kubernetes.namespace must not be empty",
        ),
        (
            {"kubernetes": {"host": "http://h", "api_key": "t", "namespace": "n", "events_limit": -1}},
            "events_limit must not be negative",
        ),
        (
            {
                "kubernetes": {
                    "host": "http://h",
                    "api_key": "t",
                    "namespace": "n",
                    "other_namespaces": [{"namespace": "kube-system", "kinds": ["nodes"]}],
                }
            },
            "kinds nodes are not among",
        ),
        ({"redis": {"url": "redis://h", "scan_count": 0}}, "redis.scan_count must be at least 1"),
        ({"redis": {"url": "redis://h", "breaker_prefix": ""}}, "redis.breaker_prefix must not be empty"),
        ({"redis": {"url": "redis://h", "families": {"sessions": ""}}}, "redis.families must map names"),
        ({"postgres": {"login_host": "h", "statements_top": 0}}, "postgres.statements_top must be at least 1"),
        ({"http": [{"name": "a", "url": "http://h"}, {"name": "a", "url": "http://h"}]}, "repeated: a"),
        ({"http": [{"name": "a", "url": "ftp://h"}]}, "http endpoint a has no usable URL"),
    ],
)
def test_bad_input_is_refused_before_anything_is_read(run_module, args, message):
    result = run_module(site_info.main, args)
    assert result["failed"] and result["msg"].startswith("Invalid options for site_info:") and message in result["msg"]


def test_options_it_cannot_use_fail_clearly(run_module, tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    result = run_module(site_info.main, {"kubernetes": {"kubeconfig": str(tmp_path / "nope"), "namespace": "n"}})
    assert result["failed"] and result["msg"].startswith(
        "Cannot configure the Kubernetes client: cannot read the kubeconfig"
    )
    result = run_module(site_info.main, {"redis": {"url": "http://:pw-77@h:6379"}})
    assert result["failed"] and "unsupported URL scheme" in result["msg"] and "pw-77" not in result["msg"]


def test_a_reader_bug_does_not_hide_the_other_components(run_module, site, monkeypatch):
    base, _routes, redis_url, _pw = site

    def broken(*_args):
        raise KeyError("surprise")

    monkeypatch.setattr(_site_info.reads, "read_http_endpoint", broken)
    result = run_module(
        site_info.main, {"redis": {"url": redis_url}, "http": [{"name": "x", "url": base + "/metrics"}]}
    )
    assert result["redis"]["available"] and result["http"]["x"]["error"] == "KeyError: 'surprise'"
    assert result["down"] == [{"name": "x", "variable": "x", "error": "KeyError: 'surprise'"}]


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(site_info.DOCUMENTATION)["options"]

    def compare(documented, spec, where):
        assert sorted(documented) == sorted(spec), where
        for name, option in spec.items():
            assert documented[name]["type"] == option["type"], f"{where}.{name}"
            assert documented[name].get("default") == option.get("default"), f"{where}.{name}"
            assert documented[name].get("required", False) == option.get("required", False), f"{where}.{name}"
            if "options" in option:
                compare(documented[name]["suboptions"], option["options"], f"{where}.{name}")

    compare(doc, _site_info.argument_spec(), "site_info")


def test_type_checks_must_name_known_families(run_module):
    result = run_module(
        site_info.main, {"redis": {"url": "redis://h", "families": {"s": "session:"}, "expect_types": {"x": "hash"}}}
    )
    assert (
        result["failed"] and "redis.expect_types names families that redis.families does not define: x" in result["msg"]
    )
    result = run_module(
        site_info.main, {"redis": {"url": "redis://h", "families": {"s": "session:"}, "expect_types": {"s": "blob"}}}
    )
    assert result["failed"] and "redis.expect_types values must be Redis types" in result["msg"]


def test_vault_and_secrets_are_read_without_values(run_module, http_server):
    base, routes = http_server
    api_key = "vh_live_" + "9" * 24

    def lookup_self(_path, headers):
        if headers.get("X-Vault-Token") == "vault-tok-1":
            return 200, {"data": {"ttl": 0, "policies": ["root"]}}
        return 403, {"errors": ["permission denied"]}

    jwt_secret = {"metadata": {"name": "jwt-secret"}, "data": {"secret": "YzJodmNuUT0="}}
    routes.routes.update(
        {
            "/api/v1/namespaces/voicehive": (200, {"status": {"phase": "Active"}}),
            "/api/v1/namespaces/voicehive/secrets/jwt-secret": (200, jwt_secret),
            "/v1/sys/seal-status": (200, {"sealed": False, "t": 1, "n": 1}),
            "/v1/auth/token/lookup-self": lookup_self,
            f"/v1/secret/metadata/api-keys/{api_key}": (404, {"errors": []}),
        }
    )
    kv_check = {"name": "api-key#1", "mount": "secret", "path": f"api-keys/{api_key}"}
    result = run_module(
        site_info.main,
        {
            "kubernetes": {
                "host": base, "api_key": TOKEN, "namespace": "voicehive", "kinds": [], "secrets": ["jwt-secret", "nope"]
            },
            "vault": {"url": base, "token": "vault-tok-1", "kv_checks": [kv_check]},
        },
    )  # fmt: skip
    assert result["kubernetes"]["secrets"]["jwt-secret"]["data"]["secret"]["base64_bytes"] == 5
    assert result["kubernetes"]["secrets"]["nope"]["exists"] is False
    vault = result["vault"]
    assert vault["token"]["valid"] and vault["kv"]["api-key#1"]["exists"] is False and vault["sealed"] is False
    assert result["components"]["vault"]["available"] is True
    text = json.dumps(result)
    assert "vault-tok-1" not in text and api_key not in text and "YzJodmNuUT0=" not in text and "c2hvcnQ=" not in text
