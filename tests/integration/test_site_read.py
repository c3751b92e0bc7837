# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's one read of the site (site_info, voicehive_state) against the lab's real services.

The test changes the services directly (not through lab/bin/fault): sessions and rate-limit keys in Redis, a
long query in PostgreSQL, an alert posted to Alertmanager, a ConfigMap in the Kubernetes API, the LiveKit
simulator stopped. Then one diagnose run, whose read is compared, service by service, with what each service
says itself.
"""

from __future__ import annotations

import contextlib
import json
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis
import requests
from kubernetes import client as k8s_client
from vh_lab import lab, run_playbook, wait_for

pytestmark = pytest.mark.lab

NS = "voicehive"
ALERT = "VoiceHiveSiteReadProbe"


def _post_alert() -> None:
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": ALERT, "severity": "warning", "site": "lab"},
        "annotations": {"summary": "posted by test_site_read"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=10)).isoformat(),
    }
    requests.post("http://127.0.0.1:19093/api/v2/alerts", json=[alert], timeout=5).raise_for_status()


@pytest.fixture(scope="module")
def read(lab_up, kube, secrets, tmp_path_factory):
    lab("reset")
    r = redis.Redis(host="127.0.0.1", port=16379, password=secrets["redis_password"], decode_responses=True)
    pipe = r.pipeline()
    for i in range(25):
        pipe.hset(f"session:site-read-{i}", mapping={"user_id": str(i), "created_at": "0"})
    for i in range(7):
        pipe.set(f"rate_limit:ip:10.77.0.{i}:/api/v1/calls:per_minute", 5, ex=300)
    pipe.execute()
    core = k8s_client.CoreV1Api(kube)
    core.create_namespaced_config_map(
        NS, k8s_client.V1ConfigMap(metadata=k8s_client.V1ObjectMeta(name="site-read-probe"), data={"answer": "42"})
    )
    _post_alert()
    wait_for(lambda: any(a["labels"]["alertname"] == ALERT for a in requests.get(
        "http://127.0.0.1:19093/api/v2/alerts", timeout=5).json()), what="the posted alert")  # fmt: skip
    conninfo = dict(
        host="127.0.0.1", port=15432, dbname="voicehive", user="voicehive", password=secrets["postgres_password"]
    )
    sleeper = psycopg.connect(**conninfo, autocommit=True)

    def long_query() -> None:
        with contextlib.suppress(psycopg.errors.QueryCanceled):
            sleeper.execute("SELECT pg_sleep(60), 'probe-literal-4711'")

    thread = threading.Thread(target=long_query, daemon=True)
    thread.start()
    lab("stop", "livekit")
    dump = tmp_path_factory.mktemp("site-read") / "state.json"

    def counts() -> dict:
        # the orchestrator simulator keeps writing and expiring rate-limit keys: count around the run
        return {
            "sessions": sum(1 for _key in r.scan_iter(match="session:*", count=1000)),
            "rate_limits": sum(1 for _key in r.scan_iter(match="rate_limit:*", count=1000)),
            "dbsize": r.dbsize(),
        }

    before = counts()
    try:
        run = run_playbook(
            "tests/integration/playbooks/diagnose_and_keep_state.yml",
            "--tags",
            "circuit_breakers,postgres,alertmanager,livekit",
            extra_vars={"keep_state_to": str(dump)},
        )
        after = counts()
        truth = {
            **{key: sorted((before[key], after[key])) for key in before},
            "deployments": {
                d.metadata.name: d for d in k8s_client.AppsV1Api(kube).list_namespaced_deployment(NS).items
            },
            "pods": {p.metadata.name for p in core.list_namespaced_pod(NS).items},
            "max_connections": int(psycopg.connect(**conninfo).execute("SHOW max_connections").fetchone()[0]),
            "vault_seal": requests.get("http://127.0.0.1:18200/v1/sys/seal-status", timeout=5).json(),
        }
    finally:
        lab("start", "livekit")
        sleeper.cancel()
        core.delete_namespaced_config_map("site-read-probe", NS)
    state = json.loads(dump.read_text()) if dump.exists() else {}
    yield run, state, truth
    lab("reset")


def test_the_run_read_every_selected_component_once(read):
    run, state, _truth = read
    assert run.rc == 0, run.output[-3000:]
    # circuit_breakers declares vault (the PMS credentials), so its seal status is part of the one read
    read_components = {"kubernetes", "redis", "postgres", "prometheus", "vault", "alertmanager", "http"}
    assert set(state["components"]) == read_components
    assert run.output.count("TASK [voicehive.remediation.voicehive : Read the site once") == 1
    assert run.report["site_read"] == state["components"]


def test_kubernetes_read_matches_the_api(read):
    _run, state, truth = read
    k8s = state["kubernetes"]
    assert k8s["namespace"] == {"name": NS, "exists": True, "phase": "Active"} and k8s["errors"] == {}
    assert (
        set(k8s["deployments"])
        == set(truth["deployments"])
        >= {"orchestrator", "livekit-agent", "tts-router", "asr-router"}
    )
    orchestrator = k8s["deployments"]["orchestrator"]
    assert orchestrator["replicas"]["ready"] == truth["deployments"]["orchestrator"].status.ready_replicas
    assert (
        orchestrator["template"]["containers"]["orchestrator"]["env"]["JWT_SECRET"] == "<from secret jwt-secret/secret>"
    )
    assert set(k8s["pods"]) == truth["pods"]
    assert "postgresql" in k8s["statefulsets"]
    assert k8s["configmaps"]["site-read-probe"]["data"] == {"answer": "42"}
    assert {"rate-limit-config", "circuit-breaker-config"} <= set(k8s["configmaps"])
    assert set(k8s["pod_metrics"]) & truth["pods"], "metrics.k8s.io gave no pod usage"
    assert k8s["events"]["total"] >= len(k8s["events"]["recent"]) > 0


def test_redis_read_matches_redis(read):
    _run, state, truth = read
    redis_state = state["redis"]
    assert redis_state["available"] and redis_state["scan"]["complete"]
    families = redis_state["scan"]["families"]
    # keys created and expired during the run (the simulator's own rate-limit windows) allow a little slack
    slack = {"sessions": 0, "rate_limits": 10}
    for key in ("sessions", "rate_limits"):
        low, high = truth[key]
        assert low - slack[key] <= families[key]["count"] <= high + slack[key], (key, families[key], truth[key])
    assert families["sessions"]["count"] >= 25 and families["rate_limits"]["count"] >= 7
    assert truth["dbsize"][0] - 10 <= redis_state["dbsize"] <= truth["dbsize"][1] + 10
    assert abs(redis_state["scan"]["examined"] - redis_state["dbsize"]) <= 10
    assert "pms_connector" in redis_state["breakers"]["breakers"] and redis_state["breakers"]["open"] == []


def test_postgres_read_sees_the_long_query_without_its_literals(read):
    _run, state, truth = read
    pg = state["postgres"]
    assert pg["available"] and pg["settings"]["max_connections"]["value"] == str(truth["max_connections"])
    sleeping = [a for a in pg["activity"] if "pg_sleep" in a["query"]]
    assert sleeping and sleeping[0]["query"] == "SELECT pg_sleep(?), ?", pg["activity"]
    assert "probe-literal-4711" not in json.dumps(pg)
    assert pg["statements"]["available"] is True and pg["connections"]["total"] >= 2


def test_prometheus_alertmanager_and_http_reads(read):
    _run, state, _truth = read
    prom = state["prometheus"]
    assert prom["healthy"] and prom["config_reload_success"] is True
    assert any(t["job"] == "voicehive-orchestrator" and t["health"] == "up" for t in prom["targets"]), prom["targets"]
    am = state["alertmanager"]
    assert any(a["name"] == ALERT for a in am["alerts"]), am["alerts"]
    assert am["config"]["route"]["receiver"] and am["config"]["receivers"]
    http = state["http"]
    assert http["orchestrator_health"]["json"]["status"] == "healthy"
    assert any(m["name"] == "voicehive_circuit_breaker_state" for m in http["orchestrator_metrics"]["metrics"])
    assert http["vault_health"]["json"]["sealed"] is False


def test_vault_read_matches_vault(read):
    _run, state, truth = read
    vault = state["vault"]
    seal = truth["vault_seal"]
    assert vault["available"] and vault["error"] is None
    assert (vault["sealed"], vault["initialized"], vault["threshold"], vault["shares"]) == (
        seal["sealed"], seal["initialized"], seal["t"], seal["n"])  # fmt: skip
    assert vault["token"]["valid"] is True and vault["token"]["policies"], vault["token"]


def test_a_stopped_service_is_named_with_its_variable(read):
    run, state, _truth = read
    down = {d["name"]: d["variable"] for d in state["down"]}
    assert down.get("livekit") == "voicehive_livekit_url", state["down"]
    assert "livekit does not answer" in run.output and "it comes from voicehive_livekit_url" in run.output
    assert state["components"]["http"]["available"] is False
