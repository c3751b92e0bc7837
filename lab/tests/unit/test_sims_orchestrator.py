"""Unit tests of the orchestrator simulator against real services on private random ports.

Real: redis-server, PostgreSQL 15 (initdb in a temp dir), OpenBao dev server, the
Apaleo and LiveKit simulators. Fake: only the Kubernetes API (a tiny in-test HTTP
server speaking the few paths the simulator reads), because kubesim is written
separately.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import psycopg
import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from sims import apaleo, livekit, orchestrator
from sims.common import start_in_thread
from sims.orch.app import JwtSecretInvalid, validate_jwt_secret

PG_BIN = "/usr/lib/postgresql/15/bin"
REDIS_BIN = "/usr/bin/redis-server"
PG_OPTS = ("-c", "listen_addresses=127.0.0.1", "-c", "fsync=off")
LAB_TOKEN = "lab-token"
JWT_SECRET = base64.b64encode(b"k" * 32).decode()
LK_KEY, LK_SECRET = "APIorchtest", "livekit-secret-for-orchestrator-tests-000"
PASSWORD = "Correct-Horse-1"
APALEO_CREDS = {"client_id": "VOIC-AC-TEST", "client_secret": "apaleo-client-secret-000"}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate: Any, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: S110 - polling until the service answers
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# --------------------------------------------------------------------------- real services


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A private redis-server."""
    if not os.path.exists(REDIS_BIN):
        pytest.skip("redis-server not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [REDIS_BIN, "--save", "", "--appendonly", "no", "--port", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
    )
    _wait(lambda: redis.Redis(port=port).ping(), what="redis")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def pg_dsn() -> Iterator[str]:
    """A private PostgreSQL 15 cluster with the lab's ``hotels`` and ``users`` tables."""
    if not os.path.exists(f"{PG_BIN}/initdb"):
        pytest.skip("PostgreSQL 15 not installed")
    tmp = tempfile.mkdtemp(prefix="sims-pg-")
    prefix: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(tmp, "data")
    subprocess.run(
        [*prefix, f"{PG_BIN}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = _free_port()
    proc = subprocess.Popen(
        [*prefix, f"{PG_BIN}/postgres", "-D", data, "-p", str(port), "-k", tmp, *PG_OPTS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=2"
    _wait(lambda: psycopg.connect(dsn).close() is None, what="postgres")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE hotels (id text PRIMARY KEY, name text NOT NULL, apaleo_property_id text NOT NULL);"
            "CREATE TABLE users (id serial PRIMARY KEY, username text UNIQUE NOT NULL, password_hash text NOT NULL,"
            " hotel_id text REFERENCES hotels(id));"
        )
        conn.execute("INSERT INTO hotels VALUES ('hotel-001', 'Lab Grand Hotel', 'LAB001')")
        conn.execute(
            "INSERT INTO users (username, password_hash, hotel_id) VALUES (%s, %s, 'hotel-001')",
            ("frontdesk@hotel-001", hashlib.sha256(PASSWORD.encode()).hexdigest()),
        )
    yield dsn
    with open(os.path.join(data, "postmaster.pid")) as fh:
        os.kill(int(fh.readline()), signal.SIGINT)  # runuser does not forward signals: stop the postmaster itself
    proc.wait(timeout=20)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def vault() -> Iterator[dict[str, str]]:
    """A private OpenBao dev server (root token ``root``), with the unseal key parsed from its output."""
    bao = os.path.join(os.path.dirname(sys.executable), "bao")
    if not os.path.exists(bao):
        pytest.skip("bao not installed")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    out = tempfile.NamedTemporaryFile(prefix="bao-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [bao, "server", "-dev", "-dev-root-token-id=root", f"-dev-listen-address=127.0.0.1:{port}"],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": tempfile.gettempdir()},
    )
    _wait(lambda: requests.get(f"{url}/v1/sys/health", timeout=1).status_code == 200, what="openbao")

    def output() -> str:
        with open(out.name) as fh:
            return fh.read()

    _wait(lambda: "Unseal Key" in output(), what="unseal key")
    unseal = re.search(r"Unseal Key: (\S+)", output()).group(1)
    yield {"url": url, "token": "root", "unseal": unseal}
    proc.terminate()
    proc.wait(timeout=10)
    os.unlink(out.name)


def vault_put(vault: dict[str, str], path: str, data: dict[str, str]) -> None:
    """Write a KV v2 secret on mount ``secret``."""
    resp = requests.post(
        f"{vault['url']}/v1/secret/data/{path}", json={"data": data}, headers={"X-Vault-Token": "root"}, timeout=5
    )
    resp.raise_for_status()


# --------------------------------------------------------------------------- fake Kubernetes API


def pod(name: str, ready: bool = True) -> dict[str, Any]:
    """A Pod as the Kubernetes API returns it."""
    return {
        "metadata": {"name": name, "labels": {"app": "orchestrator"}},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "orchestrator", "ready": ready, "restartCount": 0, "lastState": {}}],
        },
    }


def cm(name: str, data: dict[str, str]) -> dict[str, Any]:
    """A ConfigMap."""
    return {"metadata": {"name": name}, "data": data}


class FakeKube:
    """The few Kubernetes API paths the orchestrator reads, served over plain HTTP from a dict."""

    def __init__(self) -> None:
        """Seed a healthy site; tests mutate :attr:`objects` (e.g. via :meth:`set_cm`)."""
        self.env: dict[str, str] = {}
        self.pods = [pod("orchestrator-abc-1"), pod("orchestrator-abc-2")]
        self.configmaps: dict[str, dict[str, str]] = {
            "rate-limit-config": {"requests_per_minute": "60"},
            "circuit-breaker-config": {"failure_threshold": "3", "timeout": "30"},
            "database-config": {"max_connections": "25"},
            "security-config": {"blocked_ips": ""},
            "livekit-config": {"server_url": "ws://127.0.0.1:1"},
        }
        self.secrets: dict[str, dict[str, Any]] = {
            "jwt-secret": {
                "metadata": {"name": "jwt-secret"},
                "data": {"secret": base64.b64encode(JWT_SECRET.encode()).decode()},
            }
        }
        self.requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.requests += 1
                path = self.path.split("?")[0]
                body = fake.lookup(path)
                raw = json.dumps(body or {"kind": "Status", "code": 404}).encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def lookup(self, path: str) -> dict[str, Any] | None:
        """Answer one GET."""
        ns = "/api/v1/namespaces/voicehive"
        if path == "/apis/apps/v1/namespaces/voicehive/deployments/orchestrator":
            env = [{"name": k, "value": v} for k, v in self.env.items()]
            container = {"name": "orchestrator", "env": env, "resources": {"limits": {"cpu": "1000m"}}}
            return {"spec": {"replicas": len(self.pods), "template": {"spec": {"containers": [container]}}}}
        if path == f"{ns}/pods":
            return {"items": copy.deepcopy(self.pods)}
        if path == f"{ns}/configmaps":
            return {"items": [cm(k, v) for k, v in self.configmaps.items()]}
        if path.startswith(f"{ns}/secrets/"):
            return self.secrets.get(path.rsplit("/", 1)[1])
        return None

    def set_jwt(self, value: str | None) -> None:
        """Replace (or delete with ``None``) Secret ``jwt-secret``."""
        if value is None:
            self.secrets.pop("jwt-secret", None)
        else:
            data = {"secret": base64.b64encode(value.encode()).decode()}
            self.secrets["jwt-secret"] = {"metadata": {"name": "jwt-secret"}, "data": data}

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- the orchestrator under test


@pytest.fixture(scope="module")
def peers(vault: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Apaleo and LiveKit simulators, and the Apaleo credentials in Vault."""
    servers = []
    state_dir = tempfile.mkdtemp(prefix="sims-apaleo-")
    cfgs = {
        "apaleo": {
            "host": "127.0.0.1",
            "port": _free_port(),
            "state_dir": state_dir,
            "lab_token": LAB_TOKEN,
            "client_id": "VOIC-AC-TEST",
            "client_secret": "apaleo-client-secret-000",
            "properties": {"LAB001": "Lab Grand Hotel"},
        },
        "livekit": {"host": "127.0.0.1", "port": _free_port(), "api_key": LK_KEY, "api_secret": LK_SECRET},
    }
    for module, cfg in ((apaleo, cfgs["apaleo"]), (livekit, cfgs["livekit"])):
        server = module.build_server(cfg)
        start_in_thread(server)
        servers.append(server)
    vault_put(
        vault, "pms/apaleo/credentials", {"client_id": "VOIC-AC-TEST", "client_secret": "apaleo-client-secret-000"}
    )
    yield {
        "apaleo": f"http://127.0.0.1:{cfgs['apaleo']['port']}",
        "livekit": f"http://127.0.0.1:{cfgs['livekit']['port']}",
        "livekit_ws": f"ws://127.0.0.1:{cfgs['livekit']['port']}",
    }
    for server in servers:
        server.shutdown()
        server.server_close()
    shutil.rmtree(state_dir, ignore_errors=True)


def orch_config(redis_url: str, pg_dsn: str, vault: dict[str, str], peers: dict[str, Any], tmp: str) -> dict[str, Any]:
    """Configuration of an orchestrator on a free port with traffic off."""
    return {
        "host": "127.0.0.1",
        "port": _free_port(),
        "site": "lab",
        "namespace": "voicehive",
        "lab_token": LAB_TOKEN,
        "log_file": os.path.join(tmp, "orchestrator", "lab.log"),
        "redis_url": redis_url,
        "database_url": pg_dsn,
        "vault": {"url": vault["url"], "token": vault["token"], "kv_mount": "voicehive", "api_key_mount": "secret"},
        "apaleo": {
            "identity_url": peers["apaleo"],
            "api_url": peers["apaleo"],
            "hotel_id": "hotel-001",
            "property_id": "LAB001",
        },
        "livekit": {"url": peers["livekit_ws"], "api_key": LK_KEY, "api_secret": LK_SECRET},
        "traffic": {"enabled": False},
        "kube_refresh_seconds": 0.1,
        "health_cache_seconds": 0.0,
        "defaults": {"brute_force_threshold": 4},
    }


class Site:
    """A running orchestrator with handles on what backs it."""

    def __init__(self, cfg: dict[str, Any], kube: FakeKube | None) -> None:
        """Start the server in a thread."""
        from sims.common import KubeClient

        self.cfg = cfg
        self.kube = kube
        self.server = orchestrator.build_server(cfg, kube=KubeClient(kube.url) if kube else None)
        start_in_thread(self.server)
        self.orch = self.server.app
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.redis = redis.Redis.from_url(cfg["redis_url"], decode_responses=True)

    def sync(self) -> None:
        """Make the orchestrator see the fake API's current objects now."""
        old = self.orch.snap
        self.orch.apply_snapshot(old, self.orch.kubeview.refresh())

    def get(self, path: str, **kw: Any) -> requests.Response:
        """GET on the orchestrator."""
        return requests.get(self.url + path, timeout=15, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        """POST on the orchestrator."""
        return requests.post(self.url + path, timeout=15, **kw)

    def log(self) -> str:
        """The application log so far."""
        with open(self.cfg["log_file"]) as fh:
            return fh.read()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Parse /metrics with prometheus_client's parser."""
        text = self.get("/metrics").text
        out = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out

    def metric(self, metric_name: str, **labels: str) -> float:
        """Sum of the samples of ``metric_name`` matching ``labels``."""
        total = 0.0
        for (sname, slabels), value in self.metrics().items():
            if sname == metric_name and all(dict(slabels).get(k) == v for k, v in labels.items()):
                total += value
        return total

    def close(self) -> None:
        """Stop everything."""
        self.server.shutdown()
        self.orch.stop()
        self.server.server_close()


@pytest.fixture
def site(redis_url: str, pg_dsn: str, vault: dict[str, str], peers: dict[str, Any], tmp_path: Any) -> Iterator[Site]:
    """A fresh orchestrator on a clean Redis, with a fake Kubernetes API."""
    redis.Redis.from_url(redis_url).flushdb()
    requests.post(f"{peers['apaleo']}/_lab/reset", headers={"X-Lab-Token": LAB_TOKEN}, timeout=5)
    vault_put(vault, "pms/apaleo/credentials", APALEO_CREDS)
    kube = FakeKube()
    kube.configmaps["livekit-config"]["server_url"] = peers["livekit_ws"]
    s = Site(orch_config(redis_url, pg_dsn, vault, peers, str(tmp_path)), kube)
    yield s
    s.close()
    kube.close()


# --------------------------------------------------------------------------- tests


def test_jwt_secret_validation() -> None:
    assert validate_jwt_secret(JWT_SECRET) == JWT_SECRET
    assert validate_jwt_secret(base64.urlsafe_b64encode(b"\xff" * 32).decode().rstrip("="))
    for bad, reason in (
        ("not base64!!", "not_base64"),
        (base64.b64encode(b"short").decode(), "too_short"),
        (None, "missing"),
    ):
        with pytest.raises(JwtSecretInvalid, match=reason):
            validate_jwt_secret(bad)


def test_health_endpoints_live(site: Site) -> None:
    assert site.get("/health").json()["status"] == "healthy"
    assert site.get("/healthz").status_code == 200
    assert site.get("/health/live").status_code == 200
    assert site.get("/health/ready").json()["checks"] == {
        "redis": "healthy",
        "database": "healthy",
        "kubernetes": "healthy",
    }
    detailed = site.get("/health/detailed").json()
    assert detailed["components"]["vault"]["status"] == "healthy"
    assert detailed["components"]["kubernetes"]["ready_pods"] == 2
    conns = site.get("/health/connectors")
    assert conns.status_code == 200, conns.text
    assert conns.json()["connectors"]["apaleo"]["property"] == "ok"
    db = site.get("/health/database").json()
    assert db["pool"]["max"] == 25 and db["database"]["active_connections"] >= 0
    assert site.get("/health/vault").json()["vault"]["sealed"] is False
    assert site.get("/health/dr").json()["role"] == "primary"
    assert site.get("/health/dependencies").status_code == 200
    # a dead dependency is reported, not fatal
    requests.post(
        f"{site.cfg['apaleo']['api_url']}/_lab/mode",
        json={"mode": "outage"},
        headers={"X-Lab-Token": LAB_TOKEN},
        timeout=5,
    )
    conns = site.get("/health/connectors")
    assert conns.status_code == 503 and conns.json()["connectors"]["apaleo"]["health_http"] == 503
    assert site.get("/health/detailed").json()["status"] == "degraded"


def test_metrics_reflect_redis(site: Site) -> None:
    site.redis.set("circuit_breaker:tts_service:state", "open", ex=3600)
    site.redis.set("circuit_breaker:custom_thing:state", "half_open", ex=3600)
    m = site.metrics()
    key = ("voicehive_circuit_breaker_state", (("name", "tts_service"), ("state", "open")))
    assert m[key] == 1.0
    assert m[("voicehive_circuit_breaker_state", (("name", "tts_service"), ("state", "closed")))] == 0.0
    assert m[("voicehive_circuit_breaker_state", (("name", "pms_connector"), ("state", "closed")))] == 1.0
    assert m[("voicehive_circuit_breaker_state", (("name", "custom_thing"), ("state", "half_open")))] == 1.0
    assert site.metric("voicehive_redis_up") == 1.0
    assert site.metric("voicehive_database_up") == 1.0
    assert site.metric("voicehive_connection_pool_max") == 25.0
    site.kube.configmaps["database-config"]["max_connections"] = "50"
    site.sync()
    assert site.metric("voicehive_connection_pool_max") == 50.0
    site.get("/health")
    assert site.metric("voicehive_requests_total", endpoint="/health", status="200") >= 1
    assert site.metric("voicehive_http_request_duration_seconds_count", endpoint="/health") >= 1
    assert site.metric("voicehive_request_duration_seconds_count", endpoint="/health") >= 1


def test_breaker_opens_after_threshold_and_stays_open(site: Site, peers: dict[str, Any]) -> None:
    assert site.post("/api/v1/pms/sync", json={"hotel_id": "hotel-001"}).status_code == 200
    assert site.metric("voicehive_pms_requests_total", status="200") == 1
    mode = f"{peers['apaleo']}/_lab/mode"
    requests.post(mode, json={"mode": "error"}, headers={"X-Lab-Token": LAB_TOKEN}, timeout=5)
    codes = [site.post("/api/v1/pms/sync").status_code for _ in range(3)]  # threshold 3 from the ConfigMap
    assert codes == [502, 502, 502]
    assert site.redis.get("circuit_breaker:pms_connector:state") == "open"
    assert site.redis.get("circuit_breaker:apaleo_api:state") == "open"
    stats = site.redis.hgetall("circuit_breaker:pms_connector:stats")
    assert stats["failure_count"] == "3" and float(stats["last_failure_time"]) > 0
    assert 0 < site.redis.ttl("circuit_breaker:pms_connector:stats") <= 3600
    assert "circuit_breaker_state_change name=pms_connector from=closed to=open failures=3" in site.log()
    # Apaleo recovers, the breaker stays open (the guide's "stuck open"), calls fail fast without reaching Apaleo
    requests.post(mode, json={"mode": "normal"}, headers={"X-Lab-Token": LAB_TOKEN}, timeout=5)
    before = requests.get(f"{peers['apaleo']}/_lab/state", headers={"X-Lab-Token": LAB_TOKEN}, timeout=5).json()
    resp = site.post("/api/v1/pms/sync")
    assert resp.status_code == 503 and resp.json()["reason"] == "circuit_breaker_open"
    after = requests.get(f"{peers['apaleo']}/_lab/state", headers={"X-Lab-Token": LAB_TOKEN}, timeout=5).json()
    assert after["counters"].get("requests") == before["counters"].get("requests")
    assert site.metric("voicehive_circuit_breaker_state", name="pms_connector", state="open") == 1.0
    assert site.metric("voicehive_pms_requests_total", status="503") == 1
    # the service's own reset makes it work again
    for name in ("pms_connector", "apaleo_api"):
        site.redis.set(f"circuit_breaker:{name}:state", "closed", ex=3600)
        site.redis.hset(f"circuit_breaker:{name}:stats", mapping={"failure_count": 0, "success_count": 0})
    assert site.post("/api/v1/pms/sync").status_code == 200


def test_fallback_mode_from_deployment_env(site: Site) -> None:
    site.redis.set("circuit_breaker:pms_connector:state", "open", ex=3600)
    assert site.post("/api/v1/pms/sync").status_code == 503
    site.kube.env["PMS_FALLBACK_MODE"] = "true"
    site.sync()
    resp = site.post("/api/v1/pms/sync")
    assert resp.status_code == 200 and resp.json()["source"] == "fallback"
    assert site.metric("voicehive_pms_requests_total", status="fallback") == 1


def test_rotated_apaleo_secret_fails_until_vault_updated(
    site: Site, peers: dict[str, Any], vault: dict[str, str]
) -> None:
    rotated = requests.post(
        f"{peers['apaleo']}/_lab/rotate", headers={"X-Lab-Token": LAB_TOKEN}, json={}, timeout=5
    ).json()
    site.orch.reset()  # a restarted process has no cached token
    resp = site.post("/api/v1/pms/sync")
    assert resp.status_code == 502 and resp.json()["reason"] == "invalid_client"
    assert "pms_request_failed vendor=apaleo hotel_id=hotel-001 status=401 reason=invalid_client" in site.log()
    vault_put(
        vault, "pms/apaleo/credentials", {"client_id": rotated["client_id"], "client_secret": rotated["client_secret"]}
    )
    time.sleep(2.1)  # credentials are cached ~2 s
    assert site.post("/api/v1/pms/sync").status_code == 200
    assert rotated["client_secret"] not in site.log()


def test_revoked_token_stays_until_restart(site: Site, peers: dict[str, Any]) -> None:
    assert site.post("/api/v1/pms/sync").status_code == 200
    requests.post(f"{peers['apaleo']}/_lab/revoke-tokens", headers={"X-Lab-Token": LAB_TOKEN}, json={}, timeout=5)
    for _ in range(2):  # the connector keeps its rejected token (below the breaker threshold of 3)
        resp = site.post("/api/v1/pms/sync")
        assert resp.status_code == 502 and resp.json()["reason"] == "token_rejected"
    conns = site.get("/health/connectors").json()["connectors"]["apaleo"]
    assert conns["status"] == "unhealthy" and conns["property"] == "token_rejected"
    site.kube.env["RESTARTED"] = "1"  # any pod-template change = rollout restart = fresh process state
    site.sync()
    assert site.post("/api/v1/pms/sync").status_code == 200
    assert "application_startup reason=rollout" in site.log()


def test_rate_limit_and_allow_list(site: Site) -> None:
    site.kube.configmaps["rate-limit-config"]["requests_per_minute"] = "3"
    site.sync()
    hdr = {"X-Forwarded-For": "1.2.3.4"}
    codes = [site.get("/api/v1/hotels/hotel-001", headers=hdr).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    key = "rate_limit:ip:1.2.3.4:/api/v1/hotels/hotel-001:per_minute"
    assert site.redis.get(key) == "4" and 0 < site.redis.ttl(key) <= 60
    resp = site.get("/api/v1/hotels/hotel-001", headers=hdr)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert "rate_limit_exceeded client_id=ip:1.2.3.4 path=/api/v1/hotels/hotel-001 limit=3" in site.log()
    assert site.metric("voicehive_rate_limit_exceeded_total", client_id="ip:1.2.3.4") == 2
    # another client is not affected; the allow-list bypasses; clearing the counter resets
    assert site.get("/api/v1/hotels/hotel-001", headers={"X-Forwarded-For": "5.6.7.8"}).status_code == 200
    site.redis.set("rate_limit:whitelist:1.2.3.4", "true", ex=3600)
    assert site.get("/api/v1/hotels/hotel-001", headers=hdr).status_code == 200
    site.redis.delete("rate_limit:whitelist:1.2.3.4", key)
    assert site.get("/api/v1/hotels/hotel-001", headers=hdr).status_code == 200
    # a raised limit (ConfigMap) is honoured
    site.kube.configmaps["rate-limit-config"]["requests_per_minute"] = "100"
    site.sync()
    assert all(site.get("/api/v1/hotels/hotel-001", headers=hdr).status_code == 200 for _ in range(5))


def test_login_success_creates_session(site: Site) -> None:
    resp = site.post("/auth/login", json={"username": "frontdesk@hotel-001", "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    claims = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"])
    assert claims["username"] == "frontdesk@hotel-001" and claims["hotel_id"] == "hotel-001"
    assert site.redis.type(f"session:{claims['sid']}") == "hash"
    refresh = jwt.decode(body["refresh_token"], JWT_SECRET, algorithms=["HS256"])
    assert site.redis.get(f"refresh_token:{refresh['jti']}") == claims["sid"]
    me = site.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["sid"] == claims["sid"]
    # rotating the secret invalidates the token
    site.kube.set_jwt(base64.b64encode(b"n" * 32).decode())
    site.sync()
    assert site.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}).status_code == 401


@pytest.mark.parametrize(
    ("breakage", "status", "reason", "detail"),
    [
        ("wrong_password", 401, "invalid_password", "Invalid credentials"),
        ("unknown_user", 401, "user_not_found", "Invalid credentials"),
        ("jwt_corrupted", 401, "jwt_secret_invalid", "Authentication failed"),
        ("jwt_short", 401, "jwt_secret_invalid", "Authentication failed"),
        ("jwt_missing", 401, "jwt_secret_invalid", "Authentication failed"),
        ("session_wrongtype", 401, "session_store_error", "Authentication failed"),
        ("no_ready_pods", 503, "no_ready_pods", "Service Unavailable"),
    ],
)
def test_login_failures(site: Site, breakage: str, status: int, reason: str, detail: str) -> None:
    user, password = "frontdesk@hotel-001", PASSWORD
    if breakage == "wrong_password":
        password = "nope"
    elif breakage == "unknown_user":
        user = "ghost"
    elif breakage == "jwt_corrupted":
        site.kube.set_jwt("%%% not base64 %%%")
    elif breakage == "jwt_short":
        site.kube.set_jwt(base64.b64encode(b"tiny").decode())
    elif breakage == "jwt_missing":
        site.kube.set_jwt(None)
    elif breakage == "session_wrongtype":
        site.redis.set("session:corrupted", "not-a-hash")
    elif breakage == "no_ready_pods":
        site.kube.pods = [pod("orchestrator-abc-1", ready=False)]
    site.sync()
    resp = site.post(
        "/auth/login", json={"username": user, "password": password}, headers={"X-Forwarded-For": "203.0.113.7"}
    )
    assert resp.status_code == status and resp.json()["detail"] == detail
    assert f"auth_failure reason={reason} ip=203.0.113.7 user={user}" in site.log()
    assert site.metric("voicehive_auth_failures_total", reason=reason) == 1
    if reason == "jwt_secret_invalid":
        assert "ERROR orchestrator.auth jwt_secret_invalid reason=" in site.log()
    if reason == "session_store_error":
        assert "session_store_error" in site.log() and "WRONGTYPE" in site.log()
        site.redis.delete("session:corrupted")  # the guide's fix: clear sessions
        assert site.post("/auth/login", json={"username": user, "password": password}).status_code == 200


def test_login_with_dead_redis_and_database(site: Site, tmp_path: Any) -> None:
    cfg = {**site.cfg, "port": _free_port(), "log_file": str(tmp_path / "dead.log")}
    cfg["redis_url"] = f"redis://127.0.0.1:{_free_port()}/0"
    dead_redis = Site(cfg, site.kube)
    try:
        resp = dead_redis.post("/auth/login", json={"username": "frontdesk@hotel-001", "password": PASSWORD})
        assert resp.status_code == 401 and "reason=session_store_error" in dead_redis.log()
        assert dead_redis.metric("voicehive_redis_up") == 0.0
        assert dead_redis.get("/health").status_code == 503
    finally:
        dead_redis.close()
    cfg = {**site.cfg, "port": _free_port(), "log_file": str(tmp_path / "deaddb.log")}
    cfg["database_url"] = f"host=127.0.0.1 port={_free_port()} user=postgres dbname=postgres"
    dead_db = Site(cfg, site.kube)
    try:
        resp = dead_db.post("/auth/login", json={"username": "frontdesk@hotel-001", "password": PASSWORD})
        assert resp.status_code == 401 and "auth_failure reason=database_error" in dead_db.log()
        assert dead_db.metric("voicehive_database_up") == 0.0
        assert dead_db.get("/api/v1/hotels/hotel-001").status_code == 500
        assert dead_db.get("/health/database").status_code == 503
    finally:
        dead_db.close()


def test_api_keys_in_vault(site: Site, vault: dict[str, str]) -> None:
    key = "vh_live_" + "ab" * 16
    vault_put(vault, f"api-keys/{key}", {"client": "apaleo-webhooks", "status": "active"})
    resp = site.post("/webhooks/apaleo", headers={"X-API-Key": key}, json={})
    assert resp.status_code == 200 and resp.json()["client_id"] == f"apikey:{key[:16]}"
    unknown = "vh_live_" + "cd" * 16
    assert site.post("/webhooks/apaleo", headers={"X-API-Key": unknown}, json={}).status_code == 401
    assert "api_key_auth_failed reason=key_not_found" in site.log()
    assert site.post("/webhooks/apaleo", json={}).status_code == 401
    hdr = {"X-Vault-Token": "root"}
    requests.put(f"{vault['url']}/v1/sys/seal", headers=hdr, timeout=5).raise_for_status()
    try:
        time.sleep(2.1)  # API key answers are cached ~2 s
        assert site.post("/webhooks/apaleo", headers={"X-API-Key": key}, json={}).status_code == 401
        assert "api_key_auth_failed reason=vault_sealed" in site.log()
        health = site.get("/health/vault")
        assert health.status_code == 503 and health.json()["vault"]["sealed"] is True
        assert site.metric("voicehive_auth_failures_total", reason="api_key_vault_sealed") == 1
    finally:
        requests.put(f"{vault['url']}/v1/sys/unseal", json={"key": vault["unseal"]}, timeout=5).raise_for_status()
    time.sleep(2.1)
    assert site.post("/webhooks/apaleo", headers={"X-API-Key": key}, json={}).status_code == 200
    assert key not in site.log()


def test_calls_follow_livekit_server_url(site: Site, peers: dict[str, Any]) -> None:
    resp = site.post("/api/v1/calls", json={"hotel_id": "hotel-001"})
    assert resp.status_code == 201, resp.text
    assert site.metric("voicehive_active_calls") == 1.0
    rooms = requests.get(f"{peers['livekit']}/twirp/livekit.RoomService/ListRooms", timeout=5)
    assert rooms.status_code in (401, 405)  # needs a token (and POST): the room is checked below via the token
    token = site.orch.livekit_token({"roomList": True})
    listed = requests.post(
        f"{peers['livekit']}/twirp/livekit.RoomService/ListRooms",
        headers={"Authorization": f"Bearer {token}"},
        json={},
        timeout=5,
    ).json()["rooms"]
    assert resp.json()["room"] in [r["name"] for r in listed]
    site.kube.configmaps["livekit-config"]["server_url"] = f"ws://127.0.0.1:{_free_port()}"
    site.sync()
    resp = site.post("/api/v1/calls")
    assert resp.status_code == 503
    assert site.metric("voicehive_calls_total", status="failed") == 1
    assert site.get("/health/connectors").json()["connectors"]["livekit"]["status"] == "unhealthy"
    assert "call_setup_failed reason=livekit_unreachable" in site.log()
    site.kube.configmaps["livekit-config"]["server_url"] = "wss://livekit.voicehive-old.invalid"
    site.sync()
    assert site.post("/api/v1/calls").json()["reason"] == "livekit_dns_failed"
    assert site.get("/health/connectors").json()["connectors"]["livekit"]["error"] == "dns_resolution_failed"
    site.kube.configmaps["livekit-config"]["server_url"] = peers["livekit_ws"]  # the guide's fix
    site.sync()
    assert site.post("/api/v1/calls").status_code == 201


def test_blocked_ips_and_brute_force(site: Site) -> None:
    site.kube.configmaps["security-config"]["blocked_ips"] = "1.2.3.4, 5.6.7.8"
    site.sync()
    resp = site.post("/auth/login", json={"username": "x", "password": "y"}, headers={"X-Forwarded-For": "5.6.7.8"})
    assert resp.status_code == 403
    assert site.get("/api/v1/hotels/hotel-001", headers={"X-Forwarded-For": "1.2.3.4"}).status_code == 403
    assert site.metric("voicehive_auth_failures_total") == 0
    assert "request_blocked ip=5.6.7.8" in site.log()
    for _ in range(4):  # brute_force_threshold 4 in this test config
        site.post(
            "/auth/login", json={"username": "admin", "password": "guess"}, headers={"X-Forwarded-For": "198.18.0.9"}
        )
    assert site.metric("voicehive_security_incidents_total", type="brute_force") == 1
    assert "security_incident type=brute_force ip=198.18.0.9" in site.log()
    # a lab reset is a freshly deployed site: a fresh log, security counters from zero
    assert site.post("/_lab/reset", headers={"X-Lab-Token": LAB_TOKEN}).status_code == 200
    assert site.metric("voicehive_security_incidents_total", type="brute_force") == 0
    assert site.metric("voicehive_auth_failures_total") == 0
    assert "198.18.0.9" not in site.log()


def test_env_switches_logging_and_cache(site: Site) -> None:
    site.kube.env.update({"LOG_LEVEL": "DEBUG", "AUDIT_LOGGING": "true", "CACHE_ENABLED": "true", "CACHE_TTL": "120"})
    site.sync()
    first = site.get("/api/v1/hotels/hotel-001").json()
    second = site.get("/api/v1/hotels/hotel-001").json()
    assert first["source"] == "database" and second["source"] == "cache"
    assert 0 < site.redis.ttl("cache:hotel:hotel-001") <= 120
    log = site.log()
    assert "DEBUG orchestrator.http request_completed method=GET path=/api/v1/hotels/hotel-001" in log
    assert "orchestrator.audit audit_event action=request" in log


def test_pool_exhaustion_logged(site: Site, pg_dsn: str) -> None:
    site.kube.configmaps["database-config"]["max_connections"] = "2"
    site.sync()
    holders = [psycopg.connect(pg_dsn, autocommit=True) for _ in range(2)]

    def hold(conn: psycopg.Connection) -> None:
        with contextlib.suppress(psycopg.Error):
            conn.execute("SELECT pg_sleep(60) AS pool_holder")

    threads = [threading.Thread(target=hold, args=(c,)) for c in holders]
    for t in threads:
        t.start()
    try:
        _wait(lambda: site.metric("voicehive_connection_pool_active") >= 2, timeout=10, what="active connections")
        assert site.metric("voicehive_connection_pool_max") == 2.0
        start = time.time()
        assert site.get("/api/v1/hotels/hotel-001").status_code == 200
        assert time.time() - start >= 0.5
        assert "connection_pool_exhausted active=" in site.log() and "max=2" in site.log()
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query = %s",
                ("SELECT pg_sleep(60) AS pool_holder",),
            )
        for t in threads:
            t.join()
        for c in holders:
            c.close()


def test_rollout_restart_logs_startup(site: Site) -> None:
    site.kube.env["MEMORY_OPTIMIZATION"] = "true"
    site.sync()
    log = site.log()
    assert "application_startup reason=rollout" in log and "memory_optimization_enabled" in log
    site.kube.pods = [pod("orchestrator-new-1"), pod("orchestrator-new-2")]  # kubectl delete pods -l app=orchestrator
    site.sync()
    assert "application_startup reason=pods_replaced" in site.log()


def test_tolerates_absent_kubernetes_and_traffic_loop(
    redis_url: str, pg_dsn: str, vault: dict[str, str], peers: dict[str, Any], tmp_path: Any
) -> None:
    cfg = orch_config(redis_url, pg_dsn, vault, peers, str(tmp_path))
    cfg["kube"] = {"server": f"https://127.0.0.1:{_free_port()}", "token": "x", "timeout": 0.5}
    cfg["traffic"] = {"enabled": True, "interval": 0.05}
    cfg["jwt_secret"] = JWT_SECRET
    cfg["api_key"] = "vh_live_" + "ef" * 16
    s = Site(cfg, None)
    try:
        _wait(
            lambda: s.metric("voicehive_pms_requests_total") >= 2 and s.metric("voicehive_calls_total") >= 2,
            what="traffic",
        )
        assert s.get("/health/detailed").json()["components"]["kubernetes"]["status"] == "unknown"
        # the traffic's API key is not in Vault: the failures are visible, not fatal
        assert s.metric("voicehive_auth_failures_total", reason="api_key_key_not_found") >= 1
        assert s.post("/auth/login", json={"username": "frontdesk@hotel-001", "password": PASSWORD}).status_code == 200
    finally:
        s.close()


def test_cli_starts_and_stops_on_sigterm(tmp_path: Any, lab_dir: str) -> None:
    port = _free_port()
    cfg = {
        "port": port,
        "redis_url": f"redis://127.0.0.1:{_free_port()}/0",
        "database_url": f"host=127.0.0.1 port={_free_port()} user=x dbname=x",
        "log_file": str(tmp_path / "o.log"),
        "traffic": {"enabled": True, "interval": 0.2},
    }
    path = tmp_path / "orch.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sims.orchestrator", "--config", str(path)],
        env={**os.environ, "PYTHONPATH": lab_dir},
        stderr=subprocess.PIPE,
    )
    try:
        _wait(lambda: requests.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200, what="cli")
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 503
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "voicehive_redis_up 0.0" in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
