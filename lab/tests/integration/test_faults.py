"""Every fault of `lab/bin/fault list`: inject -> visible in the real service it touches -> clear -> healthy.

The checks below talk to each service over its own protocol (Redis, SQL, the Vault API and `bao`,
kubesim's Kubernetes API, Prometheus / Alertmanager HTTP APIs, Route53 via moto, the simulators'
HTTP APIs), independently of the injector's own code.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
import redis
import requests

pytest.register_assert_rewrite("lab_fixtures")
from lab_fixtures import (  # noqa: E402
    LAB,
    STATE,
    VENV_BIN,
    KubeApi,
    fault,
    pg_connect,
    pod_ready,
    prom_target,
    vault_get,
    wait_for,
)

pytestmark = pytest.mark.lab
pytest_plugins = ("lab_fixtures",)

ORCH = "http://127.0.0.1:18080"
APALEO = "http://127.0.0.1:18081"
AM = "http://127.0.0.1:19093"


def listed_faults() -> list[str]:
    out = subprocess.run([str(LAB / "bin" / "fault"), "list"], capture_output=True, text=True, check=False)
    return out.stdout.split() if out.returncode == 0 else []


class Lab:
    """What the checks need: secrets and clients."""

    def __init__(self, secrets: dict[str, str], kube: KubeApi) -> None:
        self.s = secrets
        self.kube = kube
        self.r = redis.Redis(host="127.0.0.1", port=16379, password=secrets["redis_password"], decode_responses=True)
        self.memo: dict[str, Any] = {}

    # --- probes ---------------------------------------------------------------
    def login(self, ip: str = "10.20.0.15") -> int:
        return requests.post(
            ORCH + "/auth/login",
            json={"username": "frontdesk@hotel-001", "password": self.s["demo_user_password"]},
            headers={"X-Forwarded-For": ip},
            timeout=10,
        ).status_code

    def port_open(self, port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    def pods(self, ns: str, selector: str) -> list[dict[str, Any]]:
        return self.kube.pods(ns, selector)

    def metrics_pods(self, ns: str, selector: str) -> list[dict[str, Any]]:
        path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods"
        return self.kube.get(path, labelSelector=selector)["items"]

    def cm(self, ns: str, name: str) -> dict[str, str]:
        return self.kube.get(f"/api/v1/namespaces/{ns}/configmaps/{name}").get("data") or {}

    def breaker(self, name: str) -> str:
        return self.r.get(f"circuit_breaker:{name}:state") or "closed"

    def breaker_metric_open(self, name: str) -> bool:
        text = requests.get(ORCH + "/metrics", timeout=5).text
        return f'voicehive_circuit_breaker_state{{name="{name}",state="open"}} 1.0' in text or any(
            line.startswith("voicehive_circuit_breaker_state{")
            and f'name="{name}"' in line
            and 'state="open"' in line
            and line.rstrip().endswith((" 1", " 1.0"))
            for line in text.splitlines()
        )

    def apaleo_token(self, client_id: str, secret: str) -> requests.Response:
        return requests.post(
            APALEO + "/connect/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=5
        )

    def vault_creds(self) -> dict[str, str]:
        path = "voicehive/data/pms/apaleo/hotel-001/api-credentials"
        return vault_get(path, self.s["vault_root_token"]).json()["data"]["data"]

    def property_with(self, token: str) -> int:
        return requests.get(
            APALEO + "/inventory/v1/properties/LAB001", headers={"Authorization": f"Bearer {token}"}, timeout=5
        ).status_code

    def bao_status(self) -> int:
        return subprocess.run(
            [str(VENV_BIN / "bao"), "status", "-address=http://127.0.0.1:18200"], capture_output=True, check=False
        ).returncode

    def pg_ok(self) -> bool:
        try:
            with pg_connect(self.s) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.OperationalError:
            return False

    def pg_sleepers(self) -> int:
        with pg_connect(self.s) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query ILIKE '%pg_sleep(%' "
                "AND pid <> pg_backend_pid()"
            ).fetchone()
        return int(row[0]) if row else 0

    def slow_statements_ms(self) -> float:
        with pg_connect(self.s) as conn:
            row = conn.execute(
                "SELECT coalesce(max(mean_exec_time), 0) FROM pg_stat_statements WHERE query ILIKE '%pg_sleep(%'"
            ).fetchone()
        return float(row[0]) if row else 0.0

    def am_alerts(self, **labels: str) -> list[dict[str, Any]]:
        filters = [f'{k}="{v}"' for k, v in labels.items()]
        return requests.get(f"{AM}/api/v2/alerts", params={"filter": filters, "active": "true"}, timeout=5).json()

    def am_group_wait(self) -> str:
        import yaml

        config = requests.get(f"{AM}/api/v2/status", timeout=5).json()["config"]["original"]
        return str(yaml.safe_load(config)["route"]["group_wait"])

    def counter(self, name: str) -> float:
        total = 0.0
        for line in requests.get(ORCH + "/metrics", timeout=5).text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def endpoints_empty(self, name: str) -> bool:
        ep = self.kube.get(f"/api/v1/namespaces/voicehive/endpoints/{name}")
        return not any(s.get("addresses") for s in ep.get("subsets") or [])


def cpu_m(raw: str) -> float:
    return float(raw[:-1]) / 1e6 if raw.endswith("n") else float(raw.rstrip("m"))


def mem_mi(raw: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0}
    return float(raw[:-2]) * units[raw[-2:]] if raw[-2:] in units else float(raw) / 1048576


# name -> (before inject, broken?, healthy?) ; each returns truthy when the condition holds
Check = Callable[[Lab], Any]


def _nothing(lab: Lab) -> None:
    return None


def _token_before(lab: Lab) -> None:
    creds = lab.vault_creds()
    lab.memo["token"] = lab.apaleo_token(creds["client_id"], creds["client_secret"]).json()["access_token"]


def _fresh_token_works(lab: Lab) -> bool:
    creds = lab.vault_creds()
    answer = lab.apaleo_token(creds["client_id"], creds["client_secret"])
    return answer.status_code == 200 and lab.property_with(answer.json()["access_token"]) == 200


def _auth_failures_before(lab: Lab) -> None:
    lab.memo["auth_failures"] = lab.counter("voicehive_auth_failures_total")


CHECKS: dict[str, tuple[Check, Check, Check]] = {
    "login-401-pods-not-ready": (
        _nothing,
        lambda lab: not any(pod_ready(p) for p in lab.pods("voicehive", "app=orchestrator")) and lab.login() != 200,
        lambda lab: any(pod_ready(p) for p in lab.pods("voicehive", "app=orchestrator")) and lab.login() == 200,
    ),
    "login-401-jwt-secret": (
        _nothing,
        lambda lab: (
            len(base64.b64decode(lab.kube.get("/api/v1/namespaces/voicehive/secrets/jwt-secret")["data"]["secret"]))
            < 32
            and lab.login() == 401
        ),
        lambda lab: lab.login() == 200,
    ),
    "login-401-redis-session": (
        _nothing,
        lambda lab: (
            any(lab.r.type(k) != "hash" for k in lab.r.scan_iter(match="session:*", count=500)) and lab.login() == 401
        ),
        lambda lab: (
            all(lab.r.type(k) in ("hash", "none") for k in lab.r.scan_iter(match="session:*", count=500))
            and lab.login() == 200
        ),
    ),
    "api-key-auth-vault-sealed": (
        _nothing,
        lambda lab: lab.bao_status() == 2,
        lambda lab: lab.bao_status() == 0,
    ),
    "api-key-auth-key-missing": (
        _nothing,
        lambda lab: vault_get(f"secret/data/api-keys/{lab.s['api_key']}", lab.s["vault_root_token"]).status_code == 404,
        lambda lab: vault_get(f"secret/data/api-keys/{lab.s['api_key']}", lab.s["vault_root_token"]).status_code == 200,
    ),
    "rate-limit-legit": (
        _nothing,
        lambda lab: (
            requests.get(
                ORCH + "/api/v1/hotels/hotel-001", headers={"X-Forwarded-For": "203.0.113.10"}, timeout=5
            ).status_code
            == 429
        ),
        lambda lab: (
            requests.get(
                ORCH + "/api/v1/hotels/hotel-001", headers={"X-Forwarded-For": "203.0.113.10"}, timeout=5
            ).status_code
            != 429
        ),
    ),
    "rate-limit-abuse": (
        _nothing,
        lambda lab: (
            requests.get(
                ORCH + "/api/v1/hotels/hotel-007", headers={"X-Forwarded-For": "198.51.100.99"}, timeout=5
            ).status_code
            == 429
        ),
        lambda lab: (
            requests.get(
                ORCH + "/api/v1/hotels/hotel-007", headers={"X-Forwarded-For": "198.51.100.99"}, timeout=5
            ).status_code
            != 429
        ),
    ),
    "breaker-stuck-open": (
        _nothing,
        lambda lab: (
            lab.breaker("pms_connector") == "open"
            and lab.breaker_metric_open("pms_connector")
            and requests.get(APALEO + "/health", timeout=5).status_code == 200
        ),
        lambda lab: lab.breaker("pms_connector") == "closed" and not lab.breaker_metric_open("pms_connector"),
    ),
    "breaker-dependency-down": (
        _nothing,
        lambda lab: (
            lab.breaker("pms_connector") == "open" and requests.get(APALEO + "/health", timeout=5).status_code == 503
        ),
        lambda lab: (
            lab.breaker("pms_connector") == "closed" and requests.get(APALEO + "/health", timeout=5).status_code == 200
        ),
    ),
    "high-latency": (
        _nothing,
        lambda lab: (
            max(
                cpu_m(c["usage"]["cpu"])
                for p in lab.metrics_pods("voicehive", "app=orchestrator")
                for c in p["containers"]
            )
            >= 900
            and lab.slow_statements_ms() >= 1000
            and lab.kube.get("/apis/apps/v1/namespaces/voicehive/deployments/orchestrator")["spec"]["replicas"] == 1
        ),
        lambda lab: (
            lab.kube.get("/apis/apps/v1/namespaces/voicehive/deployments/orchestrator")["spec"]["replicas"] >= 3
            and max(
                cpu_m(c["usage"]["cpu"])
                for p in lab.metrics_pods("voicehive", "app=orchestrator")
                for c in p["containers"]
            )
            < 900
        ),
    ),
    "memory-leak": (
        _nothing,
        lambda lab: (
            any(
                (cs.get("lastState") or {}).get("terminated", {}).get("reason") == "OOMKilled"
                for p in lab.pods("voicehive", "app=orchestrator")
                for cs in p["status"].get("containerStatuses") or []
            )
            and max(
                mem_mi(c["usage"]["memory"])
                for p in lab.metrics_pods("voicehive", "app=orchestrator")
                for c in p["containers"]
            )
            >= 900
        ),
        lambda lab: (
            max(
                mem_mi(c["usage"]["memory"])
                for p in lab.metrics_pods("voicehive", "app=orchestrator")
                for c in p["containers"]
            )
            < 900
            and all(pod_ready(p) for p in lab.pods("voicehive", "app=orchestrator"))
        ),
    ),
    "db-connection-failure": (
        _nothing,
        lambda lab: not lab.pg_ok() and not pod_ready(lab.pods("voicehive", "app=postgresql")[0]),
        lambda lab: lab.pg_ok() and pod_ready(lab.pods("voicehive", "app=postgresql")[0]),
    ),
    "db-performance": (
        _nothing,
        lambda lab: lab.pg_sleepers() >= 10,
        lambda lab: lab.pg_sleepers() == 0,
    ),
    "pms-connector-token-expired": (
        _token_before,
        lambda lab: lab.property_with(lab.memo["token"]) == 401,
        _fresh_token_works,
    ),
    "pms-connector-credentials-rotated": (
        _nothing,
        lambda lab: (
            lab.apaleo_token(
                **{"client_id": lab.vault_creds()["client_id"], "secret": lab.vault_creds()["client_secret"]}
            ).status_code
            == 401
        ),
        _fresh_token_works,
    ),
    "pms-connector-outage": (
        _nothing,
        lambda lab: (
            requests.get(APALEO + "/health", timeout=5).status_code == 503
            and lab.apaleo_token(lab.s["apaleo_client_id"], lab.s["apaleo_client_secret"]).status_code == 503
        ),
        lambda lab: requests.get(APALEO + "/health", timeout=5).status_code == 200,
    ),
    "livekit-server-url": (
        _nothing,
        lambda lab: lab.cm("voicehive", "livekit-config")["server_url"] != "ws://127.0.0.1:17880",
        lambda lab: lab.cm("voicehive", "livekit-config")["server_url"] == "ws://127.0.0.1:17880",
    ),
    "livekit-down": (
        _nothing,
        lambda lab: not lab.port_open(17880),
        lambda lab: requests.get("http://127.0.0.1:17880/", timeout=5).status_code == 200,
    ),
    "missing-metrics": (
        _nothing,
        lambda lab: (t := prom_target("lab")) is not None and t["health"] == "down",
        lambda lab: (t := prom_target("lab")) is not None and t["health"] == "up" and ":18080/" in t["scrapeUrl"],
    ),
    "alert-fatigue": (
        _nothing,
        lambda lab: len(lab.am_alerts(lab_fault="alert-fatigue")) >= 40 and lab.am_group_wait() == "0s",
        lambda lab: not lab.am_alerts(lab_fault="alert-fatigue") and lab.am_group_wait() != "0s",
    ),
    "suspicious-activity": (
        _auth_failures_before,
        lambda lab: (
            lab.counter("voicehive_auth_failures_total") - lab.memo["auth_failures"] >= 80
            and "ip=198.51.100.23" in (STATE / "orchestrator" / "lab.log").read_text(errors="replace")
        ),
        lambda lab: (
            lab.login() == 200 and "198.51.100.23" not in lab.cm("voicehive", "security-config").get("blocked_ips", "")
        ),
    ),
    "service-discovery": (
        _nothing,
        lambda lab: (
            lab.endpoints_empty("redis") and not any(pod_ready(p) for p in lab.pods("kube-system", "k8s-app=kube-dns"))
        ),
        lambda lab: (
            not lab.endpoints_empty("redis") and all(pod_ready(p) for p in lab.pods("kube-system", "k8s-app=kube-dns"))
        ),
    ),
    "complete-failure": (
        _nothing,
        lambda lab: not any(lab.port_open(p) for p in (18080, 16379, 15432)),
        lambda lab: requests.get(ORCH + "/health", timeout=5).status_code == 200 and lab.pg_ok() and lab.r.ping(),
    ),
}
# faults whose visible effect needs a scrape / poll cycle of another component
SLOW = {"missing-metrics": 30.0}


def test_every_listed_fault_has_a_check() -> None:
    names = listed_faults()
    assert len(names) >= 23
    assert set(names) == set(CHECKS), set(names) ^ set(CHECKS)


@pytest.fixture
def lab_checks(secrets: dict[str, str], kube: KubeApi) -> Lab:
    fault("clear")
    return Lab(secrets, kube)


@pytest.mark.parametrize("name", listed_faults() or sorted(CHECKS))
def test_fault_inject_detect_clear(name: str, lab_checks: Lab) -> None:
    before, broken, healthy = CHECKS[name]
    wait_for(lambda: healthy(lab_checks), 30, 0.5, f"{name}: healthy before injection")
    before(lab_checks)
    fault("inject", name)
    try:
        recorded = json.loads((STATE / "faults.json").read_text())
        assert name in recorded
        wait_for(lambda: broken(lab_checks), SLOW.get(name, 15.0), 0.5, f"{name}: visible after injection")
    finally:
        fault("clear", name)
    assert name not in json.loads((STATE / "faults.json").read_text())
    wait_for(lambda: healthy(lab_checks), SLOW.get(name, 20.0), 0.5, f"{name}: healthy after clear")


def test_deleting_postgresql_pod_restarts_the_real_database(lab_checks: Lab) -> None:
    """The guide's fix for db-connection-failure (`kubectl delete pod postgresql-0`) works through the hook."""
    fault("inject", "db-connection-failure")
    try:
        assert not lab_checks.pg_ok()
        answer = lab_checks.kube.call("DELETE", "/api/v1/namespaces/voicehive/pods/postgresql-0")
        assert answer.status_code in (200, 202), answer.text
        wait_for(lab_checks.pg_ok, 40, 0.5, "PostgreSQL restarted by the pod-started hook")
        wait_for(lambda: pod_ready(lab_checks.pods("voicehive", "app=postgresql")[0]), 20, 0.5, "postgresql-0 Ready")
    finally:
        fault("clear", "db-connection-failure")


def test_reapplied_scrape_config_and_prometheus_restart_restore_metrics(lab_checks: Lab) -> None:
    """The guide's fix for missing metrics: re-apply the scrape config, restart Prometheus (hook reloads it)."""
    good = lab_checks.cm("monitoring", "prometheus-config")
    fault("inject", "missing-metrics")
    try:
        wait_for(lambda: (t := prom_target("lab")) and t["health"] == "down", 30, 1, "target down")
        lab_checks.kube.merge_patch("/api/v1/namespaces/monitoring/configmaps/prometheus-config", {"data": good})
        restarted_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()) + f"-{time.monotonic_ns()}"
        lab_checks.kube.merge_patch(
            "/apis/apps/v1/namespaces/monitoring/deployments/prometheus",
            {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": restarted_at}}}}},
        )
        wait_for(lambda: (t := prom_target("lab")) and ":18080/" in t["scrapeUrl"], 40, 1, "config reloaded")
        wait_for(lambda: (t := prom_target("lab")) and t["health"] == "up", 30, 1, "target up again")
    finally:
        fault("clear", "missing-metrics")


def test_lab_reset_clears_every_fault(lab_checks: Lab) -> None:
    for name in ("breaker-stuck-open", "rate-limit-legit", "livekit-server-url"):
        fault("inject", name)
    subprocess.run([str(LAB / "bin" / "lab"), "reset"], check=True, capture_output=True, timeout=120)
    assert json.loads((STATE / "faults.json").read_text()) == {}
    for name in ("breaker-stuck-open", "rate-limit-legit", "livekit-server-url"):
        wait_for(lambda n=name: CHECKS[n][2](lab_checks), 20, 0.5, f"{name} healthy after reset")
