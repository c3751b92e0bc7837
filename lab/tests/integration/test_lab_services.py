"""The running lab: every service healthy through its own protocol, seeded as lab/README.md says."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import time
from typing import Any

import boto3
import pytest
import redis
import requests
import yaml

pytest.register_assert_rewrite("lab_fixtures")
from lab_fixtures import (  # noqa: E402
    LAB,
    ROOT,
    STATE,
    VENV_BIN,
    KubeApi,
    lab,
    pg_connect,
    prom_target,
    run,
    vault_get,
    wait_for,
)

pytestmark = pytest.mark.lab
pytest_plugins = ("lab_fixtures",)

SERVICES = {
    "kubesim": 16443,
    "redis-primary": 16379,
    "redis-dr": 16380,
    "postgres-primary": 15432,
    "postgres-dr": 15433,
    "openbao": 18200,
    "prometheus": 19090,
    "alertmanager": 19093,
    "moto": 15000,
    "orchestrator-primary": 18080,
    "orchestrator-dr": 18090,
    "apaleo": 18081,
    "livekit": 17880,
    "notify": 18099,
    "awx": 18052,
}
CONTRACT_ALERTS = {
    "VoiceHiveServiceDown": ("1m", "critical"),
    "VoiceHiveHighErrorRate": ("2m", "critical"),
    "VoiceHiveHighLatency": ("3m", "warning"),
    "VoiceHiveAuthenticationFailures": ("1m", "warning"),
    "VoiceHiveRateLimitExceeded": ("2m", "warning"),
    "VoiceHiveSecurityIncident": ("0s", "critical"),
    "VoiceHiveHighCPUUsage": ("5m", "warning"),
    "VoiceHiveHighMemoryUsage": ("5m", "warning"),
    "VoiceHiveConnectionPoolExhaustion": ("2m", "critical"),
    "VoiceHiveDatabaseDown": ("1m", "critical"),
    "VoiceHiveRedisDown": ("1m", "critical"),
    "VoiceHivePMSConnectorFailure": ("3m", "warning"),
    "VoiceHiveCircuitBreakerOpen": ("0s", "warning"),
    "VoiceHiveLowCallSuccessRate": ("5m", "warning"),
    "VoiceHiveNoCallsProcessed": ("10m", "critical"),
    "VoiceHivePodCrashLooping": ("5m", "warning"),
    "VoiceHiveDeploymentFailed": ("10m", "critical"),
    "VoiceHiveHPAScalingIssue": ("15m", "warning"),
}
SECRET_KEYS = (
    "kube_admin_token",
    "vault_root_token",
    "redis_password",
    "postgres_password",
    "jwt_secret",
    "apaleo_client_id",
    "apaleo_client_secret",
    "livekit_api_key",
    "livekit_api_secret",
    "api_key",
    "apaleo_lab_token",
    "demo_user_password",
    "vault_unseal_key",
    "awx_token",
    "awx_admin_password",
)


def test_status_lists_every_service_healthy(running_lab: dict[str, str]) -> None:
    out = lab("status").stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in out}
    assert set(rows) == set(SERVICES)
    for name, port in SERVICES.items():
        _name, shown_port, pid, health = rows[name]
        assert (int(shown_port), health) == (port, "healthy"), rows[name]
        assert pid.isdigit(), f"{name} has no pid file: {rows[name]}"


def test_up_is_idempotent_and_fast(running_lab: dict[str, str]) -> None:
    began = time.monotonic()
    out = lab("up").stdout
    assert time.monotonic() - began < 15
    assert "failed" not in out.split("lab up:")[0]
    assert out.count("already running") == len(SERVICES)


def test_secrets_file_is_private_and_complete(running_lab: dict[str, str]) -> None:
    mode = stat.S_IMODE(os.stat(STATE / "secrets.json").st_mode)
    assert mode == 0o600
    for key in SECRET_KEYS:
        assert running_lab.get(key), key
    assert running_lab["api_key"].startswith("vh_live_")


def test_no_secret_in_committed_files(running_lab: dict[str, str]) -> None:
    tracked = run("git", "-C", str(ROOT), "ls-files", "inventories/lab", "lab/labctl", "lab/services").stdout.split()
    values = [v for v in running_lab.values() if len(v) >= 8]
    for rel in tracked:
        text = (ROOT / rel).read_text(errors="replace")
        assert not [v for v in values if v in text], rel


def test_redis_requires_password_and_is_seeded(primary_redis: redis.Redis, secrets: dict[str, str]) -> None:
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=16379).ping()
    for port in (16379, 16380):
        r = redis.Redis(host="127.0.0.1", port=port, password=secrets["redis_password"], decode_responses=True)
        assert r.ping()
        assert r.get("circuit_breaker:pms_connector:state") in ("closed", None)
        stats = r.hgetall("circuit_breaker:pms_connector:stats")
        assert {"failure_count", "success_count", "total_requests"} <= set(stats)
        assert any(True for _ in r.scan_iter(match="session:*", count=100))
    assert primary_redis.hget("circuit_breaker:tts_service:stats", "failure_count") == "0"


@pytest.mark.parametrize("port", [15432, 15433])
def test_postgres_schema_users_and_stat_statements(secrets: dict[str, str], port: int) -> None:
    with pg_connect(secrets, port) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"hotels", "users", "calls", "sessions"} <= tables
        digest = conn.execute("SELECT password_hash FROM users WHERE username = 'frontdesk@hotel-001'").fetchone()
        assert digest == (hashlib.sha256(secrets["demo_user_password"].encode()).hexdigest(),)
        assert conn.execute("SELECT count(*) FROM calls").fetchone()[0] > 100  # type: ignore[index]
        assert conn.execute("SHOW shared_preload_libraries").fetchone() == ("pg_stat_statements",)
        assert conn.execute("SELECT count(*) >= 0 FROM pg_stat_statements").fetchone() == (True,)
        assert conn.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)
    backup = (STATE / "backups" / "voicehive-latest.sql").read_text()
    assert "CREATE TABLE public.users" in backup and "COPY public.calls" in backup


def test_postgres_refuses_wrong_password(secrets: dict[str, str]) -> None:
    import psycopg

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg_connect({**secrets, "postgres_password": "wrong"})


def test_openbao_unsealed_with_seeded_secrets(secrets: dict[str, str]) -> None:
    health = requests.get("http://127.0.0.1:18200/v1/sys/health", timeout=5).json()
    assert health["initialized"] and not health["sealed"]
    token = secrets["vault_root_token"]
    for hotel in ("hotel-001", "hotel-002"):
        data = vault_get(f"voicehive/data/pms/apaleo/{hotel}/api-credentials", token).json()["data"]["data"]
        assert data == {"client_id": secrets["apaleo_client_id"], "client_secret": secrets["apaleo_client_secret"]}
    assert vault_get("secret/data/pms/apaleo/credentials", token).status_code == 200
    assert vault_get(f"secret/data/api-keys/{secrets['api_key']}", token).status_code == 200
    policy = vault_get("sys/policies/acl/voicehive-orchestrator", token).json()["data"]["policy"]
    assert "secret/data/api-keys/*" in policy
    bao = run(str(VENV_BIN / "bao"), "status", "-address=http://127.0.0.1:18200", check=False)
    assert bao.returncode == 0 and "Sealed" in bao.stdout


def test_openbao_kubernetes_login_with_a_kubesim_service_account_token(secrets: dict[str, str], kube: KubeApi) -> None:
    answer = kube.call(
        "POST",
        "/api/v1/namespaces/voicehive/serviceaccounts/voicehive-orchestrator/token",
        json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}},
    )
    assert answer.status_code == 201, answer.text
    jwt = answer.json()["status"]["token"]
    login = requests.post(
        "http://127.0.0.1:18200/v1/auth/kubernetes/login",
        json={"role": "voicehive-orchestrator", "jwt": jwt},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    auth = login.json()["auth"]
    assert "voicehive-orchestrator" in auth["policies"]
    assert auth["metadata"]["service_account_name"] == "voicehive-orchestrator"
    # the orchestrator's token reads its PMS credentials, not more
    assert vault_get("voicehive/data/pms/apaleo/hotel-001/api-credentials", auth["client_token"]).status_code == 200
    assert vault_get("sys/policies/acl", auth["client_token"]).status_code == 403
    bad = requests.post(
        "http://127.0.0.1:18200/v1/auth/kubernetes/login",
        json={"role": "voicehive-orchestrator", "jwt": jwt[:-4] + "AAAA"},
        timeout=10,
    )
    assert bad.status_code in (400, 403)


def test_prometheus_loads_exactly_the_contract_alert_rules(running_lab: dict[str, str]) -> None:
    assert requests.get("http://127.0.0.1:19090/-/ready", timeout=5).status_code == 200
    groups = requests.get("http://127.0.0.1:19090/api/v1/rules", timeout=5).json()["data"]["groups"]
    rules = {r["name"]: r for g in groups for r in g["rules"] if r["type"] == "alerting"}
    assert set(rules) == set(CONTRACT_ALERTS)
    for name, (duration, severity) in CONTRACT_ALERTS.items():
        assert rules[name]["labels"]["severity"] == severity, name
        seconds = {"s": 1, "m": 60}[duration[-1]] * int(duration[:-1])
        assert rules[name]["duration"] == seconds, name
    assert rules["VoiceHiveServiceDown"]["query"] == 'up{job="voicehive-orchestrator"} == 0'
    assert rules["VoiceHiveCircuitBreakerOpen"]["query"] == 'voicehive_circuit_breaker_state{state="open"} == 1'
    promtool = run("promtool", "check", "rules", str(LAB / "services" / "prometheus" / "alert-rules.yml"), check=False)
    assert promtool.returncode == 0, promtool.stdout + promtool.stderr


def test_prometheus_scrapes_both_orchestrators(running_lab: dict[str, str]) -> None:
    for site, port in (("lab", 18080), ("lab-dr", 18090)):
        target = wait_for(lambda s=site: (t := prom_target(s)) and t["health"] == "up" and t, 20, 1, f"{site} up")
        assert f":{port}/metrics" in target["scrapeUrl"]
    query = requests.get(
        "http://127.0.0.1:19090/api/v1/query", params={"query": 'up{job="voicehive-orchestrator"}'}, timeout=5
    ).json()
    assert query["data"]["result"][0]["value"][1] == "1"


def test_alertmanager_routes_to_the_notification_sink(running_lab: dict[str, str]) -> None:
    status = requests.get("http://127.0.0.1:19093/api/v2/status", timeout=5).json()
    config = yaml.safe_load(status["config"]["original"])
    assert config["route"]["group_wait"]
    hooks = [h["url"] for r in config["receivers"] for h in r.get("webhook_configs", [])]
    assert "http://127.0.0.1:18099/webhook/alertmanager" in hooks
    assert status["cluster"]["status"] == "disabled"


def test_route53_zone_record_and_health_check(running_lab: dict[str, str]) -> None:
    info = json.loads((STATE / "route53.json").read_text())
    r53 = boto3.client(
        "route53",
        endpoint_url="http://127.0.0.1:15000",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    records = r53.list_resource_record_sets(HostedZoneId=info["zone_id"])["ResourceRecordSets"]
    api = [r for r in records if r["Name"] == "api.voicehive.test." and r["Type"] == "CNAME"]
    assert api and api[0]["ResourceRecords"][0]["Value"] in ("primary.voicehive.test.", "primary.voicehive.test")
    assert any(r["Name"] == "dr.voicehive.test." for r in records)
    check = r53.get_health_check(HealthCheckId=info["health_check_id"])["HealthCheck"]["HealthCheckConfig"]
    assert (check["Port"], check["ResourcePath"]) == (18080, "/health")


def test_kubesim_serves_the_voicehive_site_and_pod_logs(kube: KubeApi) -> None:
    pods = kube.pods("voicehive", "app=orchestrator")
    assert len(pods) >= 1
    name = pods[0]["metadata"]["name"]
    log = kube.call("GET", f"/api/v1/namespaces/voicehive/pods/{name}/log", params={"tailLines": "20"})
    assert log.status_code == 200 and "orchestrator" in log.text
    assert kube.pods("voicehive", "app=postgresql")[0]["metadata"]["name"] == "postgresql-0"
    config = json.loads((STATE / "kubesim" / "config.json").read_text())
    assert {h["selector"] for h in config["hooks"]} >= {"app=postgresql", "app=prometheus"}


@pytest.mark.parametrize(
    ("url", "expect"),
    [
        ("http://127.0.0.1:18080/health", 200),
        ("http://127.0.0.1:18090/health", 200),
        ("http://127.0.0.1:18081/health", 200),
        ("http://127.0.0.1:17880/", 200),
        ("http://127.0.0.1:18099/health", 200),
        ("http://127.0.0.1:18052/api/v2/ping/", 200),
    ],
)
def test_simulators_answer(running_lab: dict[str, str], url: str, expect: int) -> None:
    assert wait_for(lambda: requests.get(url, timeout=5).status_code == expect, 20, 1, url)


def test_orchestrator_login_against_the_seeded_users(secrets: dict[str, str]) -> None:
    ok = requests.post(
        "http://127.0.0.1:18080/auth/login",
        json={"username": "frontdesk@hotel-001", "password": secrets["demo_user_password"]},
        timeout=10,
    )
    assert ok.status_code == 200, ok.text
    bad = requests.post(
        "http://127.0.0.1:18080/auth/login", json={"username": "frontdesk@hotel-001", "password": "x"}, timeout=10
    )
    assert bad.status_code == 401


def test_apaleo_client_credentials_with_the_vault_secret(secrets: dict[str, str]) -> None:
    token = requests.post(
        "http://127.0.0.1:18081/connect/token",
        data={"grant_type": "client_credentials"},
        auth=(secrets["apaleo_client_id"], secrets["apaleo_client_secret"]),
        timeout=5,
    )
    assert token.status_code == 200
    prop = requests.get(
        "http://127.0.0.1:18081/inventory/v1/properties/LAB001",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=5,
    )
    assert prop.status_code == 200


def test_lab_inventory_resolves_every_connection_variable(running_lab: dict[str, str]) -> None:
    names = [
        "voicehive_site",
        "voicehive_namespace",
        "voicehive_kube_host",
        "voicehive_kube_ca_cert",
        "voicehive_kubeconfig",
        "voicehive_kube_context",
        "voicehive_redis_url",
        "voicehive_postgres_host",
        "voicehive_postgres_port",
        "voicehive_postgres_db",
        "voicehive_postgres_user",
        "voicehive_vault_url",
        "voicehive_vault_kv_mount",
        "voicehive_prometheus_url",
        "voicehive_alertmanager_url",
        "voicehive_orchestrator_url",
        "voicehive_apaleo_identity_url",
        "voicehive_apaleo_api_url",
        "voicehive_apaleo_property_id",
        "voicehive_livekit_url",
        "voicehive_route53_endpoint_url",
        "voicehive_route53_zone",
        "voicehive_route53_zone_id",
        "voicehive_route53_record",
        "voicehive_notify_slack_webhook_url",
        "voicehive_notify_pagerduty_url",
        "voicehive_notify_webhook_url",
    ]
    secret_names = [
        "voicehive_kube_api_key",
        "voicehive_vault_token",
        "voicehive_postgres_password",
        "voicehive_livekit_api_key",
        "voicehive_livekit_api_secret",
        "voicehive_aws_access_key",
        "voicehive_aws_secret_key",
        "voicehive_notify_pagerduty_routing_key",
    ]
    result = subprocess.run(
        [
            str(VENV_BIN / "ansible"),
            "-i",
            str(ROOT / "inventories" / "lab"),
            "voicehive",
            "-m",
            "ansible.builtin.debug",
            "-a",
            "msg={{ q('ansible.builtin.vars', *names) | zip(names) | map('reverse') | community.general.dict }}",
            "-e",
            json.dumps({"names": names + secret_names}),
            "-o",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=str(ROOT),
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = {line.split(" | ")[0]: line for line in result.stdout.splitlines() if " | SUCCESS" in line}
    assert set(lines) == {"lab", "lab-dr"}
    parsed: dict[str, Any] = {}
    for host, line in lines.items():
        parsed[host] = json.loads(line.split("=> ", 1)[1])["msg"]
    assert parsed["lab"]["voicehive_redis_url"] == f"redis://:{running_lab['redis_password']}@127.0.0.1:16379/0"
    assert parsed["lab-dr"]["voicehive_postgres_port"] == 15433
    assert parsed["lab-dr"]["voicehive_namespace"] == "voicehive-dr"
    assert parsed["lab"]["voicehive_vault_token"] == running_lab["vault_root_token"]
    assert parsed["lab"]["voicehive_kube_api_key"] == running_lab["kube_admin_token"]
    assert os.path.exists(parsed["lab"]["voicehive_kube_ca_cert"])
    assert all(parsed["lab"][name] not in ("", None) for name in names + secret_names)


def test_no_secret_value_in_lab_logs(running_lab: dict[str, str]) -> None:
    """Service logs, the orchestrator's application log and kubesim's request log never carry a secret.

    `apaleo_client_id` is an identifier (Apaleo logs it on rotation), not a credential.
    """
    values = {k: v for k, v in running_lab.items() if len(v) >= 8 and k != "apaleo_client_id"}
    files = [*(STATE / "logs").glob("*.log"), *(STATE / "orchestrator").glob("*.log")]
    files.append(STATE / "kubesim" / "requests.jsonl")
    leaks = {}
    for path in files:
        text = path.read_text(errors="replace") if path.exists() else ""
        found = [key for key, value in values.items() if value in text]
        if found:
            leaks[path.name] = found
    assert not leaks
