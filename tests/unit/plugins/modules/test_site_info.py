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
from unittest import mock

import pytest
import redis
import yaml

from ansible_collections.voicehive.remediation.plugins.module_utils import _rate_limit, _site_info
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


def test_nodes_are_read_only_when_asked_with_their_usage(run_module, site):
    base, routes, _url, _pw = site
    node = {
        "metadata": {"name": "node-1"},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}, "conditions": [{"type": "Ready", "status": "True"}]},
    }
    routes.routes["/api/v1/nodes"] = (200, {"items": [node]})
    routes.routes["/apis/metrics.k8s.io/v1beta1/nodes"] = (
        200,
        {"items": [{"metadata": {"name": "node-1"}, "usage": {"cpu": "1", "memory": "2Gi"}}]},
    )
    k8s = {"host": base, "api_key": TOKEN, "namespace": "voicehive", "kinds": []}
    result = run_module(site_info.main, {"kubernetes": k8s})
    assert "nodes" not in result["kubernetes"] and not any("nodes" in r["path"] for r in routes.requests)
    result = run_module(site_info.main, {"kubernetes": dict(k8s, nodes=True)})
    found = result["kubernetes"]["nodes"]["node-1"]
    assert found["ready"] and found["usage"] == {"cpu_m": 1000, "memory_bytes": 2 * 2**30}
    assert (found["cpu_ratio"], found["memory_ratio"]) == (0.25, 0.25)
    assert result["kubernetes"]["errors"] == {} and result["kubernetes"]["available"]


@pytest.mark.parametrize(
    ("forbidden", "errors", "usage"),
    [
        (["/apis/metrics.k8s.io/v1beta1/nodes"], ["node_metrics"], None),
        (["/api/v1/nodes", "/apis/metrics.k8s.io/v1beta1/nodes"], ["node_metrics", "nodes"], None),
    ],
)
def test_forbidden_nodes_are_an_error_entry_not_a_failed_read(run_module, site, forbidden, errors, usage):
    base, routes, _url, _pw = site
    routes.routes["/api/v1/nodes"] = (200, {"items": [{"metadata": {"name": "node-1"}, "status": {}}]})
    for path in forbidden:
        routes.routes[path] = (403, {"message": f"{path} is forbidden"})
    result = run_module(
        site_info.main,
        {"kubernetes": {"host": base, "api_key": TOKEN, "namespace": "voicehive", "kinds": ["pods"], "nodes": True}},
    )
    k8s = result["kubernetes"]
    assert not result["failed"] and k8s["available"] and list(k8s["pods"]) == ["orchestrator-1"]
    assert sorted(k8s["errors"]) == errors and all("403" in k8s["errors"][e] for e in errors)
    assert k8s["nodes"] == {} if "nodes" in errors else k8s["nodes"]["node-1"]["usage"] is usage


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
        (
            {"redis": {"url": "redis://h", "rate_limits": {"limits": {"minute": "many"}}}},
            "redis.rate_limits.limits.minute must be a whole number of requests of at least 1, got 'many'",
        ),
        (
            {"redis": {"url": "redis://h", "rate_limits": {"limits": {"hour": 0}}}},
            "redis.rate_limits.limits.hour must be a whole number of requests of at least 1, got 0",
        ),
        (
            {"redis": {"url": "redis://h", "rate_limits": {"clients": ["tenant:1"]}}},
            "redis.rate_limits.clients: client 'tenant:1' must be <kind>:<id> with kind one of",
        ),
        (
            {"redis": {"url": "redis://h", "rate_limits": {"clients": ["ip:10.0.0.300"]}}},
            "redis.rate_limits.clients: client 'ip:10.0.0.300': '10.0.0.300' is not an IPv4 or IPv6 address",
        ),
        ({"redis": {"url": "redis://h", "rate_limits": {"top": -1}}}, "redis.rate_limits.top must be 0 or more"),
        (
            {"redis": {"url": "redis://h", "rate_limits": {"max_keys": 0}}},
            "redis.rate_limits.max_keys must be at least 1, got 0",
        ),
        (
            {"redis": {"url": "redis://h", "rate_limits": {"key_prefix": ""}}},
            "redis.rate_limits.key_prefix must not be empty",
        ),
        (
            {"redis": {"url": "redis://h", "rate_limits": {"allowlist_prefix": ""}}},
            "redis.rate_limits.allowlist_prefix must not be empty",
        ),
        (
            {
                "redis": {
                    "url": "redis://h",
                    "rate_limits": {"limits_configmap": {"name": "c", "keys": {"minute": "m"}}},
                }
            },
            "redis.rate_limits.limits_configmap needs kubernetes with configmaps in kubernetes.kinds",
        ),
        (
            {
                "kubernetes": {"host": "http://h", "api_key": "t", "namespace": "n", "kinds": ["pods"]},
                "redis": {"url": "redis://h", "rate_limits": {"limits_configmap": {"name": "c", "keys": {"m": "m"}}}},
            },
            "redis.rate_limits.limits_configmap needs kubernetes with configmaps in kubernetes.kinds",
        ),
        (
            {"redis": {"url": "redis://h", "rate_limits": {"limits_configmap": {"name": " ", "keys": {"m": "m"}}}}},
            "redis.rate_limits.limits_configmap.name must not be empty",
        ),
        (
            {"redis": {"url": "redis://h", "rate_limits": {"limits_configmap": {"name": "c", "keys": {}}}}},
            "redis.rate_limits.limits_configmap.keys must map window names to ConfigMap data keys",
        ),
        (
            {"redis": {"url": "redis://h", "rate_limits": {"limits_configmap": {"name": "c", "keys": {"m": ""}}}}},
            "redis.rate_limits.limits_configmap.keys must map window names to ConfigMap data keys",
        ),
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


# ------------------------------------------------------------------------------------------
# redis.rate_limits
# ------------------------------------------------------------------------------------------

JINJA_DICT_METHODS = {"keys", "items", "values", "get", "update", "copy", "pop"}
RATE_LIMITS = dict(
    limits={"minute": 60, "per_minute": 50, "hour": 1000},
    limits_configmap=dict(
        name="rate-limit-config", keys={"minute": "requests_per_minute", "per_minute": "requests_per_minute"}
    ),
    clients=["user:123", "jwt:none"],
)


def names_in(value):
    """Every dict key in ``value``, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from names_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from names_in(item)


def seed_rate_limits(db):
    now = float(db.time()[0])
    pipe = db.pipeline(transaction=False)
    pipe.zadd("rate_limit:ip:10.0.0.5:/api/v1/calls:minute", {f"r{i}": now - i * 0.25 for i in range(120)})
    pipe.expire("rate_limit:ip:10.0.0.5:/api/v1/calls:minute", 60)
    pipe.set("rate_limit:user:123:per_minute", 70, ex=60)  # over the option's 50, under the ConfigMap's 100
    pipe.set("rate_limit:jwt:1:/api:hour", 500, ex=3600)
    pipe.set("rate_limit:whitelist:10.9.9.9", "true", ex=600)
    pipe.set("rate_limit:whitelist:user:123", "true", ex=600)
    pipe.set("rate_limit:whitelist:tenant:acme", "true")
    pipe.execute()


def rate_args(base, redis_url, kinds=("configmaps",), **rate):
    return {
        "kubernetes": {"host": base, "api_key": TOKEN, "namespace": "voicehive", "kinds": list(kinds)},
        "redis": {
            "url": redis_url,
            "families": {"rate_limits": "rate_limit:"},
            "rate_limits": dict(RATE_LIMITS, **rate),
        },
    }


@pytest.fixture
def find_keys(monkeypatch):
    """``_rate_limit.find_keys``, recording its calls (the bounded MATCH scans)."""
    spy = mock.Mock(wraps=_rate_limit.find_keys)
    monkeypatch.setattr(_rate_limit, "find_keys", spy)
    return spy


def test_rate_limits_from_a_complete_pass_with_the_configmap_limits(run_module, site, redis_db, find_keys):
    base, _routes, redis_url, redis_password = site
    seed_rate_limits(redis_db)
    result = run_module(site_info.main, rate_args(base, redis_url))
    assert result["redis"]["available"] and result["redis"]["scan"]["complete"]
    assert "kept_keys" not in result["redis"]
    find_keys.assert_not_called()  # the keys the pass examined, no other SCAN
    rate = result["redis"]["rate_limits"]
    assert rate["available"] is True and rate["error"] is None
    assert rate["limits"] == {"hour": 1000, "minute": 100, "per_minute": 100}
    assert rate["limits_source"] == {"hour": "option", "minute": "configmap", "per_minute": "configmap"}
    assert rate["keys_examined"] == 6 and rate["truncated"] is False
    assert rate["clients_count"] == 3
    assert rate["top_clients"] == ["ip:10.0.0.5", "user:123", "jwt:1"]
    assert rate["over_limit"] == ["ip:10.0.0.5"] and rate["over_limit_count"] == 1
    assert rate["median_requests"] == {"hour": 500, "minute": 120, "per_minute": 70}
    assert set(rate["allowlist"]) == {"ip:10.9.9.9", "user:123"}
    assert list(rate["clients"]) == ["ip:10.0.0.5", "user:123", "jwt:1", "jwt:none"]
    abuser = rate["clients"]["ip:10.0.0.5"]
    assert abuser["windows"]["minute"]["limit"] == 100 and abuser["windows"]["minute"]["utilisation"] == 1.2
    assert abuser["over_limit_windows"] == ["minute"] and abuser["allowlisted"] is False
    user = rate["clients"]["user:123"]
    assert user["utilisation"] == 0.7 and user["over_limit"] is False
    assert user["allowlisted"] is True and 590 <= user["allowlist_ttl"] <= 600
    assert rate["clients"]["jwt:none"]["exists"] is False
    assert rate["invalid_keys"] == 1 and rate["invalid"][0]["key"] == "rate_limit:whitelist:tenant:acme"
    assert abs(rate["server_time"] - result["redis"]["server_time"]) < 5
    assert isinstance(rate["elapsed_ms"], float)
    assert not JINJA_DICT_METHODS & set(names_in(rate))
    assert redis_password not in json.dumps(result)


def test_rate_limits_cap_the_keys_of_a_complete_pass(run_module, site, redis_db, find_keys):
    base, _routes, redis_url, _pw = site
    seed_rate_limits(redis_db)
    result = run_module(site_info.main, rate_args(base, redis_url, max_keys=2, clients=["user:123"]))
    find_keys.assert_not_called()
    rate = result["redis"]["rate_limits"]
    assert rate["truncated"] is True and rate["keys_examined"] == 4  # two, and user:123's counter and allow-list key
    assert rate["clients"]["user:123"]["requests"] == {"per_minute": 70}
    assert rate["clients"]["user:123"]["allowlisted"] is True


def test_rate_limits_after_a_truncated_pass_are_found_with_match_scans(run_module, site, redis_db, find_keys):
    base, _routes, redis_url, _pw = site
    seed_rate_limits(redis_db)
    pipe = redis_db.pipeline(transaction=False)
    for i in range(200):
        pipe.set(f"noise:{i}", 1)
    pipe.execute()
    args = rate_args(base, redis_url)
    args["redis"].update(max_keys=10, scan_count=5)
    result = run_module(site_info.main, args)
    assert result["redis"]["scan"]["complete"] is False
    find_keys.assert_called_once()
    assert find_keys.call_args.args[1:] == ("rate_limit", "rate_limit:whitelist", 5, 200000, ["user:123", "jwt:none"])
    rate = result["redis"]["rate_limits"]
    assert rate["available"] is True and rate["keys_examined"] == 6 and rate["truncated"] is False
    assert rate["over_limit"] == ["ip:10.0.0.5"] and set(rate["allowlist"]) == {"ip:10.9.9.9", "user:123"}


@pytest.mark.parametrize(
    ("configmaps", "rate", "limits", "source"),
    [
        # the ConfigMap is missing: the option's limits
        ((200, {"items": []}), {}, {"hour": 1000, "minute": 60, "per_minute": 50}, "option"),
        # the key is missing
        (
            (200, {"items": [{"metadata": {"name": "rate-limit-config"}, "data": {"other": "5"}}]}),
            {},
            {"hour": 1000, "minute": 60, "per_minute": 50},
            "option",
        ),
        # the value is no whole number of at least 1
        (
            (200, {"items": [{"metadata": {"name": "rate-limit-config"}, "data": {"requests_per_minute": "lots"}}]}),
            {},
            {"hour": 1000, "minute": 60, "per_minute": 50},
            "option",
        ),
        (
            (200, {"items": [{"metadata": {"name": "rate-limit-config"}, "data": {"requests_per_minute": "0"}}]}),
            {},
            {"hour": 1000, "minute": 60, "per_minute": 50},
            "option",
        ),
        # the ConfigMaps cannot be read
        ((403, {"message": "configmaps is forbidden"}), {}, {"hour": 1000, "minute": 60, "per_minute": 50}, "option"),
        # a window of the ConfigMap alone, without a value: no limit
        ((200, {"items": []}), {"limits": {"hour": 1000}}, {"hour": 1000}, "option"),
    ],
)
def test_rate_limits_fall_back_to_the_option(run_module, site, redis_db, configmaps, rate, limits, source):
    base, routes, redis_url, _pw = site
    routes.routes["/api/v1/namespaces/voicehive/configmaps"] = configmaps
    seed_rate_limits(redis_db)
    result = run_module(site_info.main, rate_args(base, redis_url, **rate))
    got = result["redis"]["rate_limits"]
    assert got["limits"] == limits and got["limits_source"] == dict.fromkeys(limits, source)
    assert got["clients"]["user:123"]["over_limit"] is ("per_minute" in limits)  # 70 against 50


def test_rate_limits_from_the_configmap_alone(run_module, site, redis_db):
    base, _routes, redis_url, _pw = site
    seed_rate_limits(redis_db)
    result = run_module(site_info.main, rate_args(base, redis_url, limits={}))
    rate = result["redis"]["rate_limits"]
    assert rate["limits"] == {"minute": 100, "per_minute": 100}
    assert rate["limits_source"] == {"minute": "configmap", "per_minute": "configmap"}


def test_rate_limits_without_options_use_the_defaults(run_module, site, redis_db):
    _base, _routes, redis_url, _pw = site
    seed_rate_limits(redis_db)
    result = run_module(site_info.main, {"redis": {"url": redis_url, "rate_limits": {}}})
    rate = result["redis"]["rate_limits"]
    assert rate["available"] and rate["limits"] == {} and rate["limits_source"] == {}
    assert rate["top_clients"] == ["jwt:1", "ip:10.0.0.5", "user:123"]  # by peak requests: no limits
    assert rate["over_limit"] == [] and rate["keys_examined"] == 6
    plain = run_module(site_info.main, {"redis": {"url": redis_url}})
    assert "rate_limits" not in plain["redis"]


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            redis.exceptions.ConnectionError("Connection reset by peer"),
            "Cannot read rate limits from Redis at 127.0.0.1:",
        ),
        (KeyError("surprise"), "KeyError: 'surprise'"),
    ],
)
def test_an_error_in_the_rate_limits_keeps_the_rest_of_the_redis_read(
    run_module, site, redis_db, monkeypatch, error, message
):
    base, _routes, redis_url, redis_password = site
    seed_rate_limits(redis_db)
    monkeypatch.setattr(_rate_limit, "read_usage", mock.Mock(side_effect=error))
    result = run_module(site_info.main, rate_args(base, redis_url))
    assert result["redis"]["available"] is True and result["redis"]["breakers"]["open"] == ["pms_connector"]
    assert result["redis"]["scan"]["families"]["rate_limits"]["count"] == 6
    assert result["components"]["redis"]["available"] is True and result["down"] == []
    rate = result["redis"]["rate_limits"]
    assert set(rate) == {"available", "error", "elapsed_ms"}
    assert rate["available"] is False and rate["error"].startswith(message)
    assert redis_password not in json.dumps(result)


def test_unreachable_redis_reports_the_rate_limits_unavailable(run_module):
    url = f"redis://:redis-pw-123@127.0.0.1:{closed_port()}/0"
    result = run_module(site_info.main, {"redis": {"url": url, "rate_limits": {"clients": ["user:1"]}}})
    rate = result["redis"]["rate_limits"]
    assert rate["available"] is False and rate["error"] == result["redis"]["error"]
    assert rate["error"].startswith("Cannot connect to Redis at 127.0.0.1:") and "redis-pw-123" not in rate["error"]
