# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import socket
import ssl

import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils import _http
from ansible_collections.voicehive.remediation.plugins.module_utils import _site_read as reads

METRICS = b"""# TYPE voicehive_circuit_breaker_state gauge
voicehive_circuit_breaker_state{name="pms_connector",state="open"} 1
voicehive_circuit_breaker_state{name="pms_connector",state="closed"} 0
process_cpu_seconds_total 12.5
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- HTTP -------------------------------------------------------------------------------------


def test_get_returns_every_http_answer_and_raises_only_without_one(http_server):
    base, routes = http_server
    routes.routes["/ok"] = (200, b"fine")
    assert _http.get(base + "/ok", 2) == (200, b"fine")
    assert _http.get(base + "/missing", 2)[0] == 404
    routes.routes["/boom"] = (503, {"error": "down"})
    assert _http.get(base + "/boom", 2) == (503, b'{"error": "down"}')
    assert routes.requests[0]["headers"]["User-Agent"] == _http.USER_AGENT
    with pytest.raises(_http.Unreachable, match="URLError"):
        _http.get(f"http://127.0.0.1:{closed_port()}/", 2)
    with pytest.raises(_http.Unreachable):
        _http.get("notaurl", 2)


def test_tls_context_options(tmp_path):
    strict = _http.ssl_context()
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    lax = _http.ssl_context(validate_certs=False)
    assert lax.verify_mode == ssl.CERT_NONE and not lax.check_hostname
    with pytest.raises((OSError, ssl.SSLError)):
        _http.ssl_context(ca_path=str(tmp_path / "missing.pem"))


def test_http_endpoint_status_latency_and_health(http_server):
    base, routes = http_server
    routes.routes["/health"] = (200, {"status": "healthy"})
    ok = reads.read_http_endpoint({"url": base + "/health", "parse": "json", "expect_status": [200]}, 2)
    assert ok["healthy"] and ok["reachable"] and ok["json"] == {"status": "healthy"} and ok["elapsed_ms"] >= 0
    routes.routes["/sys/health"] = (503, {"sealed": True})
    sealed = reads.read_http_endpoint({"url": base + "/sys/health", "parse": "json", "expect_status": [200]}, 2)
    assert (
        sealed["reachable"] and not sealed["healthy"] and sealed["json"] == {"sealed": True} and sealed["status"] == 503
    )
    anything = reads.read_http_endpoint({"url": base + "/nothing", "expect_status": []}, 2)
    assert anything["healthy"] and anything["status"] == 404
    down = reads.read_http_endpoint({"url": f"http://user:pw@127.0.0.1:{closed_port()}/x", "expect_status": [200]}, 2)
    assert not down["reachable"] and not down["healthy"] and down["error"]
    assert "pw" not in down["url"] and "pw" not in down["error"]
    routes.routes["/text"] = (200, b"not json")
    broken = reads.read_http_endpoint({"url": base + "/text", "parse": "json"}, 2)
    assert broken["json"] is None and broken["parse_error"] == "the answer is not JSON"


def test_metrics_endpoint_keeps_the_wanted_prefixes(http_server):
    base, routes = http_server
    routes.routes["/metrics"] = (200, METRICS)
    read = reads.read_http_endpoint(
        {"url": base + "/metrics", "parse": "metrics", "metrics_prefixes": ["voicehive_"]}, 2
    )
    assert read["metric_names"] == ["process_cpu_seconds_total", "voicehive_circuit_breaker_state"]
    assert read["metrics"] == [
        {
            "name": "voicehive_circuit_breaker_state",
            "labels": {"name": "pms_connector", "state": "open"},
            "value": 1.0,
            "type": "gauge",
        },
        {
            "name": "voicehive_circuit_breaker_state",
            "labels": {"name": "pms_connector", "state": "closed"},
            "value": 0.0,
            "type": "gauge",
        },
    ]
    routes.routes["/metrics"] = (200, b"voicehive_x{broken 1\n")
    bad = reads.read_http_endpoint({"url": base + "/metrics", "parse": "metrics"}, 2)
    assert bad["metrics"] == [] and bad["parse_error"].startswith("not Prometheus text format: line 1")


def test_tcp_endpoints_connect_only():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        up = reads.read_http_endpoint({"url": f"ws://127.0.0.1:{port}"}, 2)
    assert up["reachable"] and up["healthy"] and up["status"] is None
    down = reads.read_http_endpoint({"url": f"tcp://127.0.0.1:{closed_port()}"}, 2)
    assert not down["reachable"] and down["error"]


@pytest.mark.parametrize(
    "url, address",
    [
        ("wss://livekit.voicehive.com", ("livekit.voicehive.com", 443)),
        ("ws://h:7880", ("h", 7880)),
        ("tcp://10.0.0.1:5432", ("10.0.0.1", 5432)),
        ("redis://:pw@h/0", ("h", 6379)),
        ("https://h/", None),
        ("tcp://h", None),
    ],
)
def test_tcp_address(url, address):
    assert reads.tcp_address(url) == address


def test_check_endpoint_never_raises():
    result = reads.check_endpoint({"name": "x", "host": "127.0.0.1", "port": closed_port()}, 1)
    assert result["reachable"] is False and result["error"] and result["name"] == "x"


# --- Prometheus and Alertmanager ---------------------------------------------------------------


def answer(json_body, status=200):
    return {"status": status, "reachable": True, "error": None, "json": json_body}


def test_prometheus_summary():
    answers = {
        "healthy": answer(None),
        "runtime": answer({"status": "success", "data": {"reloadConfigSuccess": True, "lastConfigTime": "t"}}),
        "targets": answer(
            {
                "status": "success",
                "data": {
                    "activeTargets": [
                        {
                            "labels": {"job": "voicehive-orchestrator", "instance": "o:9090"},
                            "health": "down",
                            "lastError": "connection refused",
                            "scrapeUrl": "http://u:p@o:9090/metrics",
                        }
                    ]
                },
            }
        ),
        "alerts": answer(
            {
                "status": "success",
                "data": {
                    "alerts": [
                        {
                            "labels": {"alertname": "VoiceHiveHighLatency", "severity": "warning"},
                            "state": "firing",
                            "activeAt": "t",
                        }
                    ]
                },
            }
        ),
        "query:up": answer(
            {
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [{"metric": {"job": "voicehive-orchestrator"}, "value": [1, "0"]}],
                },
            }
        ),
        "query:bad": answer({"status": "error", "error": "parse error"}, 400),
        "query:scalar": answer({"status": "success", "data": {"resultType": "scalar", "result": [1, "2.5"]}}),
    }
    summary = reads.summarize_prometheus(answers, {"up": "up", "bad": "up(", "scalar": "2.5"})
    assert summary["available"] and summary["healthy"] and summary["config_reload_success"] is True
    target = summary["targets"][0]
    assert (
        target["health"] == "down"
        and target["last_error"] == "connection refused"
        and ":p@" not in target["scrape_url"]
    )
    assert summary["alerts"][0]["name"] == "VoiceHiveHighLatency" and summary["alerts"][0]["state"] == "firing"
    assert summary["queries"]["up"] == {
        "expr": "up",
        "ok": True,
        "samples": [{"labels": {"job": "voicehive-orchestrator"}, "value": 0.0}],
        "error": None,
    }
    assert summary["queries"]["bad"]["ok"] is False and summary["queries"]["bad"]["error"] == "parse error"
    assert summary["queries"]["scalar"]["samples"] == [{"labels": {}, "value": 2.5}]


def test_prometheus_down():
    down = {"status": None, "reachable": False, "error": "URLError: refused", "json": None}
    summary = reads.summarize_prometheus({"healthy": down, "targets": down}, {"up": "up"})
    assert summary["available"] is False and summary["error"] == "URLError: refused"
    assert summary["targets"] == [] and summary["queries"]["up"]["ok"] is False


def test_alertmanager_summary_keeps_routing_never_receiver_settings():
    config = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
    - receiver: pagerduty
      matchers: ['severity="critical"']
      match_re: {alertname: VoiceHive.*}
receivers:
  - name: default
    slack_configs: [{api_url: "https://hooks.slack.com/services/SECRET"}]
  - name: pagerduty
    pagerduty_configs: [{routing_key: SECRETKEY}]
"""
    answers = {
        "healthy": answer(None),
        "alerts": answer(
            [
                {
                    "labels": {"alertname": "VoiceHiveHighLatency", "severity": "warning"},
                    "status": {"state": "active"},
                    "receivers": [{"name": "default"}],
                    "fingerprint": "f1",
                }
            ]
        ),
        "status": answer({"cluster": {"status": "ready"}, "uptime": "t", "config": {"original": config}}),
    }
    summary = reads.summarize_alertmanager(answers)
    assert summary["alerts"][0]["receivers"] == ["default"] and summary["cluster_status"] == "ready"
    route = summary["config"]["route"]
    assert route["group_wait"] == "10s" and route["routes"][0]["matchers"] == [
        'severity="critical"',
        "alertname=~VoiceHive.*",
    ]
    assert summary["config"]["receivers"] == ["default", "pagerduty"]
    assert "SECRET" not in str(summary)
    assert "error" in reads.alertmanager_route("route: [")


# --- PostgreSQL --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, normalized",
    [
        ("SELECT * FROM users WHERE email = 'a@b.c' AND id = 42", "SELECT * FROM users WHERE email = ? AND id = ?"),
        ("ALTER ROLE app PASSWORD 's3cr''et'", "ALTER ROLE app PASSWORD ?"),
        ("SELECT $$body$$, $tag$x$tag$, E'\\n'", "SELECT ?, ?, ?"),
        ("select  x1, t2.col\n  from t2 where v > -3.5e2", "select x1, t2.col from t2 where v > ?"),
        ("SELECT $1 FROM calls", "SELECT $1 FROM calls"),
    ],
)
def test_normalize_sql_drops_literals(query, normalized):
    assert reads.normalize_sql(query) == normalized


def test_normalize_sql_truncates():
    assert reads.normalize_sql("SELECT " + "a, " * 500, limit=50).endswith("...")


class FakeCursor:
    def __init__(self, db):
        self.db = db
        self.rows = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, params=None):
        self.db.executed.append(sql)
        for key, rows in self.db.answers.items():
            if key in sql:
                if isinstance(rows, Exception):
                    raise rows
                self.rows = rows
                return
        raise AssertionError(f"unexpected SQL: {sql}")

    def fetchone(self):
        return self.rows[0]

    def fetchall(self):
        return self.rows


class FakePsycopg:
    class Error(Exception):
        pass

    def __init__(self, answers, connect_error=None):
        self.answers = answers
        self.connect_error = connect_error
        self.executed: list[str] = []
        self.kwargs = None
        self.read_only = None

    def connect(self, **kwargs):
        self.kwargs = kwargs
        if self.connect_error:
            raise self.connect_error
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def cursor(self):
        return FakeCursor(self)

    def rollback(self):
        pass


PG = {
    "login_host": "db",
    "port": 5432,
    "login_db": "voicehive",
    "login_user": "app",
    "login_password": "pg-secret-123",
    "ssl_mode": "require",
}


def pg_answers(statements=True, version_num=150000):
    return {
        "current_setting('server_version')": [("15.4", version_num, False, 3600, "voicehive", 8_000_000)],
        "FROM pg_settings": [("max_connections", "100", None), ("work_mem", "4096", "kB")],
        "GROUP BY 1": [("active", 3), ("idle", 5), ("idle in transaction", 2)],
        "FROM pg_stat_activity\nWHERE": [
            (
                41,
                "app",
                "orchestrator",
                "10.0.0.9",
                "active",
                "Lock",
                "transactionid",
                12.5,
                600.0,
                "UPDATE bookings SET guest = 'Ada' WHERE id = 7",
                1,
            )
        ],
        "FROM pg_locks": [(20, 1)],
        "pg_extension": [(statements,)],
        "FROM pg_stat_statements": [("123", "SELECT * FROM calls WHERE hotel_id = $1", 40, 12.34567, 493.8, 90.1, 400)],
    }


def test_read_postgres():
    psycopg = FakePsycopg(pg_answers())
    read = reads.read_postgres(psycopg, PG, 5, top=5)
    assert psycopg.kwargs["password"] == "pg-secret-123" and psycopg.kwargs["sslmode"] == "require"
    assert psycopg.read_only is True
    assert read["available"] and read["version"] == "15.4" and read["in_recovery"] is False
    assert read["connections"] == {
        "total": 10,
        "max": 100,
        "used_ratio": 0.1,
        "by_state": {"active": 3, "idle": 5, "idle in transaction": 2},
    }
    session = read["activity"][0]
    assert session["query"] == "UPDATE bookings SET guest = ? WHERE id = ?" and session["blocked_by"] == 1
    assert read["locks"] == {"granted": 20, "waiting": 1}
    top = read["statements"]["top"][0]
    assert top["mean_ms"] == 12.346 and top["query"] == "SELECT * FROM calls WHERE hotel_id = $1"
    assert any("mean_exec_time" in sql for sql in psycopg.executed)


def test_read_postgres_old_server_and_no_extension():
    psycopg = FakePsycopg(pg_answers(version_num=120000))
    reads.read_postgres(psycopg, PG, 5)
    assert any("mean_time" in sql and "mean_exec_time" not in sql for sql in psycopg.executed)
    none = reads.read_postgres(FakePsycopg(pg_answers(statements=False)), PG, 5)
    assert none["statements"] == {"available": False, "top": [], "error": None}


def test_read_postgres_unreachable_never_shows_the_password():
    error = FakePsycopg.Error('connection failed: password authentication failed for user "app" (pg-secret-123)')
    read = reads.read_postgres(FakePsycopg({}, connect_error=error), PG, 5)
    assert read["available"] is False
    assert read["error"].startswith("Cannot connect to PostgreSQL at db:5432/voicehive: connection failed")
    assert "pg-secret-123" not in read["error"]


def test_read_postgres_statements_error_is_reported():
    answers = pg_answers()
    answers["FROM pg_stat_statements"] = FakePsycopg.Error("permission denied for view pg_stat_statements")
    read = reads.read_postgres(FakePsycopg(answers), PG, 5)
    assert read["available"] and read["statements"]["error"] == "permission denied for view pg_stat_statements"


def test_postgres_connect_kwargs_defaults():
    kwargs = reads.postgres_connect_kwargs({"login_host": "db"}, 2.5)
    assert kwargs == {
        "host": "db",
        "port": 5432,
        "dbname": "postgres",
        "sslmode": "prefer",
        "connect_timeout": 2,
        "application_name": "voicehive-remediation",
    }


# --- Vault -------------------------------------------------------------------------------------


def test_vault_summary_seal_token_and_kv():
    answers = {
        "seal": answer({"sealed": True, "initialized": True, "t": 3, "n": 5, "progress": 1, "version": "2.7.2"}),
        "token": answer({"errors": ["Vault is sealed"]}, 503),
        "kv:present": answer({"data": {"current_version": 2, "updated_time": "t2",
                                       "versions": {"2": {"deletion_time": "", "destroyed": False}}}}),
        "kv:soft-deleted": answer({"data": {"current_version": 1,
                                            "versions": {"1": {"deletion_time": "t", "destroyed": False}}}}),
        "kv:missing": answer(None, 404),
        "kv:forbidden": answer({"errors": ["permission denied"]}, 403),
    }  # fmt: skip
    summary = reads.summarize_vault(answers, ["present", "soft-deleted", "missing", "forbidden", "unasked"])
    assert summary["sealed"] is True and (summary["threshold"], summary["shares"], summary["unseal_progress"]) == (
        3,
        5,
        1,
    )
    assert summary["token"]["valid"] is False and summary["token"]["status"] == 503
    kv = summary["kv"]
    assert kv["present"] == {
        "exists": True,
        "current_version": 2,
        "updated_time": "t2",
        "current_deleted": False,
        "error": None,
    }
    assert kv["soft-deleted"]["exists"] is False and kv["soft-deleted"]["current_deleted"] is True
    assert kv["missing"] == {"exists": False, "error": None}
    assert kv["forbidden"] == {"exists": None, "error": "HTTP 403: permission denied"}
    assert kv["unasked"]["exists"] is None


def test_vault_token_lookup_and_kv_paths():
    ok = {
        "seal": answer({"sealed": False}),
        "token": answer({"data": {"ttl": 3600, "policies": ["voicehive", "default"]}}),
    }
    summary = reads.summarize_vault(ok, [])
    assert summary["token"] == {
        "valid": True,
        "status": 200,
        "ttl": 3600,
        "policies": ["default", "voicehive"],
        "renewable": None,
    }
    assert reads.vault_kv_path("/secret/", "api-keys/vh live") == "/v1/secret/metadata/api-keys/vh%20live"


def test_request_posts_a_body(http_server):
    base, _routes = http_server
    assert _http.request("POST", base + "/nothing", 2, {"Content-Type": "application/json"}, b"{}")[0] in (404, 501)
    with pytest.raises(_http.Unreachable, match="not an http"):
        _http.request("POST", "file:///etc/passwd", 2)
