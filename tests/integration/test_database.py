# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database category, with its causes made directly in the services (not through lab/bin/fault).

1. Long queries: real sessions opened here with psycopg - three long pg_sleep queries carrying a literal, one
   from a protected application (pg_dump), one from the superuser, a transaction holding a lock (idle in
   transaction) and a query blocked by it. --check (approved) would end exactly the unprotected long ones and
   ends nothing; bad input stops the run before anything; approved, a query started just before the run (under
   the threshold) survives, as do the protected, the superuser and the idle-in-transaction sessions, and exactly
   the long ones end, each recorded without its literal. Last, PostgreSQL stops in the middle of a run: a clear
   failure in the report, no traceback.
2. Pool exhausted and PostgreSQL stopped: database-config max_connections lowered to 3 with three active
   sessions (the orchestrator's pool full, and long queries whose termination is not approved: "needs
   approval"). raise_max_connections (capped at what the server allows per orchestrator pod) and
   scale_down_load keep the old values; then PostgreSQL is stopped with the lab's own `lab stop` (the pod
   stays Ready), and one run restarts it (restart_database), resets the pool and restores both old values.

The per-fault checks through lab/bin/fault are the molecule scenarios (molecule/database_*).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time

import psycopg
import requests
from kubernetes import client as k8s_client
from vh_lab import STATE, lab, remediate_while, run_playbook, wait_for

NS = "voicehive"
PORT = 15432
SOCKET_DIR = str(STATE / "postgres-primary" / "run")
LITERAL = "vh-literal-7731"
SLEEPER_QUERY = f"SELECT '{LITERAL}' AS tag, pg_sleep(600)"
NORMALISED = "SELECT ? AS tag, pg_sleep(?)"
ORCHESTRATOR = "http://127.0.0.1:18080"
PREVIOUS = "voicehive.io/previous-max-connections"
REPLICAS = "voicehive.io/replicas-before-scale-down"


class Session:
    """One real PostgreSQL session running a statement in a thread until it ends or is terminated."""

    def __init__(self, secrets: dict, application: str, sql: str, superuser: bool = False, setup: str = "") -> None:
        if superuser:  # trust over the lab's socket for the postgres superuser
            self.conn = psycopg.connect(
                host=SOCKET_DIR, port=PORT, user="postgres", dbname="voicehive", application_name=application
            )
        else:
            self.conn = psycopg.connect(
                host="127.0.0.1",
                port=PORT,
                user="voicehive",
                password=secrets["postgres_password"],
                dbname="voicehive",
                application_name=application,
            )
        self.conn.autocommit = not setup
        self.pid = self.conn.info.backend_pid
        self.error: str | None = None
        if setup:
            self.conn.execute(setup)
        self.thread = threading.Thread(target=self._run, args=(sql,), daemon=True) if sql else None
        if self.thread:
            self.thread.start()

    def _run(self, sql: str) -> None:
        try:
            self.conn.execute(sql)
        except psycopg.Error as exc:
            self.error = type(exc).__name__

    def close(self) -> None:
        # cancel, let the thread see its query end, then close: closing a connection another thread is still
        # executing on aborts the interpreter inside psycopg's C code (a fresh-clone make test died so)
        with contextlib.suppress(psycopg.Error):
            self.conn.cancel()
        if self.thread:
            self.thread.join(10)
        with contextlib.suppress(psycopg.Error):
            self.conn.close()


def _alive(secrets: dict) -> dict[int, str]:
    with psycopg.connect(
        host="127.0.0.1", port=PORT, user="voicehive", password=secrets["postgres_password"], dbname="voicehive"
    ) as conn:
        rows = conn.execute(
            "SELECT pid, coalesce(state, '') FROM pg_stat_activity WHERE backend_type = 'client backend'"
        ).fetchall()
    return dict(rows)


def _by(items: list[dict], key: str) -> dict:
    return {item[key]: item for item in items}


def _actions(report: dict) -> dict[str, dict]:
    return _by(report["actions"], "action")


def test_long_queries_end_only_over_the_threshold_and_never_protected(clean_lab, secrets):
    sessions = [Session(secrets, "vh-test-report", SLEEPER_QUERY) for _n in range(3)]
    dump = Session(secrets, "pg_dump", "SELECT pg_sleep(600)")
    superuser = Session(secrets, "vh-test-admin", "SELECT pg_sleep(600)", superuser=True)
    locker = Session(secrets, "vh-test-locker", "", setup="LOCK TABLE calls IN ACCESS EXCLUSIVE MODE")
    waiter = Session(secrets, "vh-test-waiter", "SELECT count(*) FROM calls")
    started = time.monotonic()
    try:
        long_pids = {s.pid for s in sessions} | {waiter.pid}
        kept_pids = {dump.pid, superuser.pid, locker.pid}
        wait_for(lambda: long_pids | kept_pids <= set(_alive(secrets)), 10, 0.2, "test sessions")
        time.sleep(3)

        # --check with the approval: the findings, would end exactly the unprotected long ones, ends nothing
        approved = {"voicehive_approved_actions": ["terminate_long_queries"]}
        run = run_playbook(
            "playbooks/remediate.yml",
            "--tags",
            "database",
            "--check",
            "--diff",
            extra_vars=dict(approved, database_long_query_threshold=2, database_blocked_threshold=2),
        )
        assert run.rc == 0, run.output[-3000:]
        report = run.report
        findings = _by(report["findings"], "id")
        assert {"database.long_queries", "database.blocking_locks"} <= set(findings), findings.keys()
        long = _by(findings["database.long_queries"]["evidence"]["sessions"], "pid")
        assert long_pids | {dump.pid, superuser.pid} <= set(long)
        assert long[dump.pid]["protected"] == "protected application pg_dump"
        assert long[superuser.pid]["protected"] == "superuser postgres"
        assert all(long[p]["protected"] is None for p in long_pids)
        assert {long[s.pid]["query"] for s in sessions} == {NORMALISED}
        assert "2 protected session(s) left alone" in findings["database.long_queries"]["summary"]
        blockers = _by(findings["database.blocking_locks"]["evidence"]["blockers"], "pid")
        assert blockers[locker.pid]["state"] == "idle in transaction"
        assert blockers[locker.pid]["blocks"] >= 1
        assert findings["database.long_queries"]["severity"] == "warning"
        action = _actions(report)["terminate_long_queries"]
        assert action["status"] == "would_change"
        assert {s["pid"] for s in action["after"]["terminated"]} == long_pids
        assert LITERAL not in json.dumps(report) and LITERAL not in run.output
        assert long_pids | kept_pids <= set(_alive(secrets))

        # bad input: refused before anything is read or changed
        run = run_playbook(
            "playbooks/remediate.yml",
            "--tags",
            "database",
            extra_vars={
                "database_long_query_threshold": -5,
                "database_scale_down_replicas": 0,
                "database_raised_max_connections": 900,
                "voicehive_approved_actions": ["terminate_long_queries", "scale_down_load"],
            },
        )
        assert run.rc != 0
        assert run.report["outcome"] == "failed" and run.report["actions"] == [] and run.report["findings"] == []
        for text in (
            "database_long_query_threshold -5 must be",
            "database_scale_down_replicas 0 must be",
            "database_raised_max_connections 900 must be from 1 to database_max_connections_limit (500)",
        ):
            assert text in run.output, run.output[-3000:]
        assert "Traceback" not in run.output
        assert long_pids | kept_pids <= set(_alive(secrets))

        # approved, with a threshold the long queries are over and a query started now stays under
        time.sleep(max(0.0, started + 18 - time.monotonic()))  # old enough to leave room under the threshold
        short = Session(secrets, "vh-test-short", "SELECT pg_sleep(600)")
        threshold = int(time.monotonic() - started) - 4
        run = run_playbook(
            "playbooks/remediate.yml",
            "--tags",
            "database",
            extra_vars=dict(approved, database_long_query_threshold=threshold, database_blocked_threshold=2),
        )
        assert run.rc == 0, run.output[-3000:]
        action = _actions(run.report)["terminate_long_queries"]
        assert action["status"] == "done", action
        ended = _by(action["after"]["terminated"], "pid")
        assert set(ended) == long_pids, (ended.keys(), long_pids)
        for entry in ended.values():
            assert entry["query_seconds"] > threshold
            assert entry["user"] == "voicehive"
            assert entry["application"] in ("vh-test-report", "vh-test-waiter")
        assert {ended[s.pid]["query"] for s in sessions} == {NORMALISED}
        alive = _alive(secrets)
        assert not long_pids & set(alive)
        assert kept_pids | {short.pid} <= set(alive)
        assert alive[locker.pid] == "idle in transaction"
        findings = _by(run.report["findings"], "id")
        assert findings["database.long_queries"]["status"] == "resolved"
        assert findings["database.blocking_locks"]["status"] == "resolved"
        assert LITERAL not in json.dumps(run.report) and LITERAL not in run.output
        assert "restart_orchestrator" not in _actions(run.report)

        # PostgreSQL stops after the diagnosis, before the statement that ends the queries: a clear failure
        sessions += [Session(secrets, "vh-test-report", SLEEPER_QUERY) for _n in range(2)]
        time.sleep(2)
        rc, output, report = _remediate_while_postgres_stops(dict(approved, database_long_query_threshold=1))
        assert rc in (0, 2), output[-3000:]
        assert "Traceback" not in output
        action = _actions(report)["terminate_long_queries"]
        assert action["status"] == "failed", action
        assert action["reason"].startswith("Cannot end the long queries")
        finding = _by(report["findings"], "id")["database.long_queries"]
        assert finding["status"] == "unresolved"
        assert finding["evidence_after"]["unknown"] is True
        assert report["outcome"] != "resolved"
        short.close()
    finally:
        for s in [*sessions, dump, superuser, locker, waiter]:
            s.close()


def _remediate_while_postgres_stops(extra_vars: dict) -> tuple[int, str, dict]:
    """remediate.yml, with PostgreSQL stopped (lab stop) once the diagnosis has read it and probes further."""
    return remediate_while(
        "database",
        "Read the recent log lines of pod",
        lambda: lab("stop", "postgres-primary"),
        lambda: lab("start", "postgres-primary"),
        extra_vars,
    )


def _metric(name: str) -> float | None:
    text = requests.get(f"{ORCHESTRATOR}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_pool_exhausted_then_database_stopped_raise_scale_restart_restore(clean_lab, secrets, kube):
    core, apps = k8s_client.CoreV1Api(kube), k8s_client.AppsV1Api(kube)
    original = core.read_namespaced_config_map("database-config", NS).data["max_connections"]
    replicas = apps.read_namespaced_deployment("orchestrator", NS).spec.replicas
    core.patch_namespaced_config_map("database-config", NS, {"data": {"max_connections": "3"}})
    try:
        _pool_then_database(core, apps, secrets)
    finally:  # the seeded lab's pool size and replicas back for whoever comes next, whatever happened
        core.patch_namespaced_config_map(
            "database-config",
            NS,
            {"metadata": {"annotations": {PREVIOUS: None}}, "data": {"max_connections": original}},
        )
        apps.patch_namespaced_deployment(
            "orchestrator", NS, {"metadata": {"annotations": {REPLICAS: None}}, "spec": {"replicas": replicas}}
        )


def _pool_then_database(core, apps, secrets) -> None:
    holders = [Session(secrets, "vh-test-pool", "SELECT pg_sleep(600)") for _n in range(3)]
    try:
        wait_for(lambda: _metric("voicehive_connection_pool_max") == 3.0, 20, 0.5, "pool max 3 in the metrics")
        wait_for(lambda: (_metric("voicehive_connection_pool_active") or 0) >= 3, 20, 0.5, "pool full")
        # the holders are long queries too (threshold 2 s): terminate_long_queries is not approved
        approved = ["raise_max_connections", "scale_down_load"]
        run = run_playbook(
            "playbooks/remediate.yml",
            "--tags",
            "database",
            extra_vars={"voicehive_approved_actions": approved, "database_long_query_threshold": 2},
        )
        assert run.rc == 0, run.output[-3000:]
        findings = _by(run.report["findings"], "id")
        assert _actions(run.report)["terminate_long_queries"]["status"] == "skipped_needs_approval"
        assert "needs approval: terminate_long_queries" in run.output
        assert {h.pid for h in holders} <= set(_alive(secrets))
        assert findings["database.long_queries"]["status"] == "unresolved"
        pool = findings["database.pool_exhausted"]
        assert pool["severity"] == "critical"
        assert pool["evidence"]["pool"]["max"] == 3 and pool["evidence"]["pool"]["active"] >= 3
        # 100 asked; the server allows 100 - 3 reserved, shared by the 3 orchestrator pods
        assert pool["evidence"]["raise_max_connections"]["target"] == 32
        capacity = "what the server allows non-superusers (100 - 3 reserved, shared by 3 orchestrator pods)"
        assert f"capped at {capacity}" in pool["summary"]
        assert pool["status"] == "resolved"
        actions = _actions(run.report)
        assert actions["raise_max_connections"]["status"] == "done"
        assert actions["raise_max_connections"]["before"]["max_connections"] == "3"
        assert actions["scale_down_load"]["status"] == "done"
        assert actions["restart_orchestrator"]["status"] == "done"
        assert [a["action"] for a in run.report["actions"]].count("restart_orchestrator") == 1
        cm = core.read_namespaced_config_map("database-config", NS)
        assert cm.data["max_connections"] == "32"
        assert cm.metadata.annotations[PREVIOUS] == "3"
        dep = apps.read_namespaced_deployment("orchestrator", NS)
        assert dep.spec.replicas == 1
        assert dep.metadata.annotations[REPLICAS] == "3"
    finally:
        for s in holders:
            s.close()

    # PostgreSQL stopped with the lab's own means (the pod stays Ready): restart_database, pool reset, restores
    pod_before = core.read_namespaced_pod("postgresql-0", NS).metadata.uid
    lab("stop", "postgres-primary")
    run = run_playbook(
        "playbooks/remediate.yml",
        "--tags",
        "database",
        extra_vars={
            "voicehive_approved_actions": ["restart_database"],
            "database_restore_load": True,
            "database_restore_max_connections": True,
        },
    )
    assert run.rc == 0, run.output[-3000:]
    findings = _by(run.report["findings"], "id")
    assert set(findings) == {"database.unreachable"}, findings.keys()
    assert "Connection refused" in findings["database.unreachable"]["summary"]
    assert findings["database.unreachable"]["evidence"]["log_tail"], "the database log is read when it is down"
    assert findings["database.unreachable"]["status"] == "resolved"
    actions = _actions(run.report)
    assert actions["restart_database"]["status"] == "done"
    assert actions["restart_database"]["after"]["postgres_available"] is True
    assert actions["restore_max_connections"]["status"] == "done"
    assert actions["restore_load"]["status"] == "done"
    assert actions["restart_orchestrator"]["status"] == "done"
    assert core.read_namespaced_pod("postgresql-0", NS).metadata.uid != pod_before
    assert _alive(secrets)
    cm = core.read_namespaced_config_map("database-config", NS)
    assert cm.data["max_connections"] == "3"
    assert PREVIOUS not in (cm.metadata.annotations or {})
    dep = apps.read_namespaced_deployment("orchestrator", NS)
    assert dep.spec.replicas == 3
    assert REPLICAS not in (dep.metadata.annotations or {})
    wait_for(lambda: _metric("voicehive_database_up") == 1.0, 20, 0.5, "the orchestrator reaches PostgreSQL")
