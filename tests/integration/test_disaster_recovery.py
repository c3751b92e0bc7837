# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disaster recovery, with the primary's failure made directly in the services (Redis SHUTDOWN through its own
protocol, the orchestrator and PostgreSQL processes stopped) and the record moved with boto3, not lab/bin/fault.

1. Bad input (an unknown approval, a DNS mode that does not exist, a drill record that is the production one) stops
   dr_failover.yml before anything is read or changed.
2. A backup (playbooks/backup.yml) and a marker row written into the DR database only; dr_drill.yml with the
   restore approvals restores the backup into DR (the marker row is gone, the rows are the manifest's), switches
   only the scratch record and removes it, and leaves the production record as it was.
3. The primary fails; a marker row again. dr_failover.yml without approvals changes nothing (the record, the DR
   data), names the three missing approvals and fails (the primary is down and nothing answers it).
4. With the record already on DR (moved with boto3), dr_failover.yml is a no-op: no action, nothing changed.
5. The failover DNS mode on a record of its own (a fresh name each run, so reruns in one lab never reuse a deleted
   name): dr_failover.yml replaces its simple record with PRIMARY (the primary's target, with the health check) and
   SECONDARY (DR) failover records; the primary comes back and dr_failback.yml restores the simple record. The
   DNS part only (disaster_recovery_restore []): restore and sync do not depend on the mode. The production record
   stays where it was.
The failover and failback end to end (with check mode and idempotence) are the molecule scenario
molecule/disaster_recovery_complete_failure.
"""

from __future__ import annotations

import contextlib
import json
import uuid

import boto3
import psycopg
import pytest
import redis
from vh_lab import STATE, lab, request_log_offset, run_playbook, service_account_requests

pytestmark = pytest.mark.lab

FAILOVER = "playbooks/dr_failover.yml"
FAILBACK = "playbooks/dr_failback.yml"
DRILL = "playbooks/dr_drill.yml"
RECORD = "api.voicehive.test."


def _route53(secrets):
    return boto3.client(
        "route53",
        endpoint_url="http://127.0.0.1:15000",
        region_name="us-east-1",
        aws_access_key_id=secrets["aws_access_key"],
        aws_secret_access_key=secrets["aws_secret_key"],
    )


def _records(secrets) -> dict[str, list]:
    zone = json.loads((STATE / "route53.json").read_text())["zone_id"]
    sets = _route53(secrets).list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    out: dict[str, list] = {}
    for rrset in sets:
        out.setdefault(rrset["Name"], []).append(rrset)
    return out


def _point(secrets, target: str, name: str = RECORD) -> None:
    zone = json.loads((STATE / "route53.json").read_text())["zone_id"]
    _route53(secrets).change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "CNAME",
                        "TTL": 30,
                        "ResourceRecords": [{"Value": target}],
                    },
                }
            ]
        },
    )


def _dr_db(secrets):
    return psycopg.connect(
        host="127.0.0.1",
        port=15433,
        dbname="voicehive",
        user="voicehive",
        password=secrets["postgres_password"],
        autocommit=True,
    )


def _mark(secrets) -> None:
    """A row only the DR database has: a restore of the primary's backup removes it."""
    with _dr_db(secrets) as conn:
        conn.execute(
            "INSERT INTO hotels (id, name, apaleo_property_id) VALUES ('hotel-drill-marker', 'on DR only', 'LAB999')"
            " ON CONFLICT (id) DO NOTHING"
        )


def _dr_counts(secrets) -> dict:
    with _dr_db(secrets) as conn:
        return {
            "calls": conn.execute("SELECT count(*) FROM calls").fetchone()[0],
            "marker": conn.execute("SELECT count(*) FROM hotels WHERE id = 'hotel-drill-marker'").fetchone()[0],
        }


@pytest.fixture(scope="module")
def story(lab_up, secrets):
    lab("reset")
    story = {"bad": run_playbook(
        FAILOVER,
        target="lab-dr",
        extra_vars={
            "voicehive_approved_actions": ["dns_failover", "fail_over_everything"],
            "disaster_recovery_dns_mode": "weighted",
            "disaster_recovery_drill_record": "api.voicehive.test",
        },
    )}  # fmt: skip
    story["records_at_start"] = _records(secrets)
    story["requests_from"] = request_log_offset()
    story["backup"] = run_playbook("playbooks/backup.yml", target="lab")
    _mark(secrets)
    story["dr_before_drill"] = _dr_counts(secrets)
    story["drill"] = run_playbook(
        DRILL, target="lab-dr", extra_vars={"voicehive_approved_actions": ["restore_database", "restore_redis"]}
    )
    story["records_after_drill"] = _records(secrets)
    story["drill_requests"] = service_account_requests(story["requests_from"])
    story["dr_after_drill"] = _dr_counts(secrets)
    # the primary fails: Redis shut down through its own protocol, the orchestrator and PostgreSQL stopped
    primary = redis.Redis(host="127.0.0.1", port=16379, password=secrets["redis_password"])
    with contextlib.suppress(redis.exceptions.ConnectionError):  # SHUTDOWN closes the connection: its answer
        primary.shutdown(nosave=True)
    lab("stop", "orchestrator-primary", "postgres-primary")
    _mark(secrets)
    story["dr_before"] = _dr_counts(secrets)
    story["unapproved"] = run_playbook(FAILOVER, target="lab-dr")
    story["records_after_unapproved"] = _records(secrets)
    story["dr_after_unapproved"] = _dr_counts(secrets)
    _point(secrets, "dr.voicehive.test.")
    story["again"] = run_playbook(
        FAILOVER,
        target="lab-dr",
        extra_vars={"voicehive_approved_actions": ["restore_database", "restore_redis", "dns_failover"]},
    )
    story["records_after_again"] = _records(secrets)
    # the failover DNS mode, on a simple record of its own pointing at the primary
    story["fo_record"] = record = f"dr-fo-{uuid.uuid4().hex[:8]}.voicehive.test."
    _point(secrets, "primary.voicehive.test.", name=record)
    fo_vars = {  # the DNS part only: the restores and the sync are the same in both modes (the drill, molecule)
        "voicehive_approved_actions": ["dns_failover", "dns_failback"],
        "disaster_recovery_restore": [],
        "disaster_recovery_dns_mode": "failover",
        "disaster_recovery_record": record.rstrip("."),
    }
    story["fo_failover"] = run_playbook(FAILOVER, target="lab-dr", extra_vars=fo_vars)
    story["fo_records_failover"] = _records(secrets)
    lab("start", "redis-primary", "postgres-primary", "orchestrator-primary")
    story["fo_failback"] = run_playbook(FAILBACK, target="lab-dr", extra_vars=fo_vars)
    story["fo_records_failback"] = _records(secrets)
    yield story
    lab("reset")
    with _dr_db(secrets) as conn:
        conn.execute("DELETE FROM hotels WHERE id = 'hotel-drill-marker'")


def test_bad_input_is_refused_before_anything_is_read(story):
    run = story["bad"]
    assert run.rc != 0
    for text in ("fail_over_everything", "disaster_recovery_dns_mode weighted", "disaster_recovery_drill_record"):
        assert text in run.output, text
    assert "Nothing was changed" in run.output
    assert story["records_at_start"][RECORD][0]["ResourceRecords"] == [{"Value": "primary.voicehive.test."}]


def test_failover_without_approvals_changes_nothing_and_names_them(story):
    run = story["unapproved"]
    assert story["backup"].rc == 0, story["backup"].output[-2000:]
    assert run.rc != 0, "the primary is down and nothing answered it: the run must fail"
    report = run.report
    findings = {f["id"]: f for f in report["findings"]}
    assert findings["disaster_recovery.primary_down"]["status"] == "unresolved"
    assert "orchestrator, postgres, redis" in findings["disaster_recovery.primary_down"]["summary"]
    assert sorted(report["summary"]["needs_approval"]) == ["dns_failover", "restore_database", "restore_redis"]
    assert {a["status"] for a in report["actions"]} == {"skipped_needs_approval"}
    assert not any(a["changed"] for a in report["actions"])
    assert "recovery" not in report
    assert story["records_after_unapproved"][RECORD] == story["records_at_start"][RECORD]
    assert story["dr_after_unapproved"] == story["dr_before"]
    assert story["dr_before"]["marker"] == 1
    assert run.recap_changed("lab-dr") == 0


def test_drill_restores_dr_and_leaves_the_production_record_untouched(story):
    run = story["drill"]
    assert run.rc == 0, run.output[-3000:]
    report = run.report
    actions = {a["action"]: a for a in report["actions"]}
    assert set(actions) == {"restore_database", "restore_redis", "dns_drill"}
    assert {a["status"] for a in actions.values()} == {"done"}
    assert actions["restore_database"]["after"]["verified"] is True
    assert actions["restore_database"]["after"]["rows"] == actions["restore_database"]["after"]["expected_rows"]
    assert actions["restore_redis"]["after"]["verified"] is True
    assert story["dr_before_drill"]["marker"] == 1
    assert story["dr_after_drill"] == {"calls": 500, "marker": 0}, "the backup was not restored into DR"
    assert story["records_after_drill"][RECORD] == story["records_at_start"][RECORD]
    assert not [name for name in story["records_after_drill"] if name.startswith("dr-drill-")]
    assert actions["dns_drill"]["target"].startswith("record/dr-drill-")
    recovery = report["recovery"]
    assert recovery["operation"] == "drill" and recovery["validated"] is True
    assert recovery["production_record_unchanged"] is True
    assert 0 < recovery["rto_seconds"] < 300
    assert 0 <= recovery["rpo_seconds"] < 3600


def test_failover_when_the_record_is_already_on_dr_is_a_no_op(story):
    run = story["again"]
    assert run.rc == 0, run.output[-3000:]
    assert run.report["actions"] == []
    assert run.recap_changed("lab-dr") == 0
    assert story["records_after_again"][RECORD][0]["ResourceRecords"] == [{"Value": "dr.voicehive.test."}]
    findings = {f["id"]: f for f in run.report["findings"]}
    assert "disaster_recovery.primary_down" not in findings
    assert findings["disaster_recovery.failed_over"]["severity"] == "info"


def test_failover_mode_writes_failover_records_and_failback_restores_the_simple_record(story):
    record = story["fo_record"]
    check_id = json.loads((STATE / "route53.json").read_text())["health_check_id"]
    run = story["fo_failover"]
    assert run.rc == 0, run.output[-3000:]
    report = run.report
    actions = {a["action"]: a for a in report["actions"]}
    assert set(actions) == {"dns_failover"} and actions["dns_failover"]["status"] == "done"
    dns = actions["dns_failover"]
    assert dns["before"] == {"mode": "simple", "values": ["primary.voicehive.test."], "ttl": 30}
    assert dns["after"]["mode"] == "failover" and dns["after"]["health_check"] == check_id
    sets = {r.get("Failover", "simple"): r for r in story["fo_records_failover"][record]}
    assert set(sets) == {"PRIMARY", "SECONDARY"}
    assert sets["PRIMARY"]["ResourceRecords"] == [{"Value": "primary.voicehive.test."}]
    assert sets["PRIMARY"]["HealthCheckId"] == check_id
    assert sets["SECONDARY"]["ResourceRecords"] == [{"Value": "dr.voicehive.test."}]
    assert "HealthCheckId" not in sets["SECONDARY"]
    assert {r["TTL"] for r in sets.values()} == {30}
    findings = {f["id"]: f for f in report["findings"]}
    assert findings["disaster_recovery.primary_down"]["status"] == "resolved"
    recovery = report["recovery"]
    assert recovery["operation"] == "failover" and recovery["validated"] is True
    assert recovery["dns_mode"] == "failover" and recovery["record_shape"] == "failover"
    # moto reports every health check healthy: Route53 would still answer with the PRIMARY, and the report says so
    assert recovery["dns_answer"].startswith("PRIMARY primary.voicehive.test")
    assert 0 < recovery["rto_seconds"] < 300
    # the production record is where the earlier steps left it
    assert story["fo_records_failover"][RECORD] == story["records_after_again"][RECORD]

    run = story["fo_failback"]
    assert run.rc == 0, run.output[-3000:]
    report = run.report
    actions = {a["action"]: a for a in report["actions"]}
    assert set(actions) == {"dns_failback"} and actions["dns_failback"]["status"] == "done"
    assert actions["dns_failback"]["before"]["mode"] == "failover"
    assert actions["dns_failback"]["after"]["mode"] == "simple"
    findings = {f["id"]: f for f in report["findings"]}
    assert findings["disaster_recovery.failed_over"]["severity"] == "warning"
    assert "failover records" in findings["disaster_recovery.failed_over"]["summary"]
    assert findings["disaster_recovery.failed_over"]["status"] == "resolved"
    (only,) = story["fo_records_failback"][record]
    assert "Failover" not in only and only["ResourceRecords"] == [{"Value": "primary.voicehive.test."}]
    assert only["TTL"] == 30
    recovery = report["recovery"]
    assert recovery["operation"] == "failback" and recovery["validated"] is True
    assert recovery["site"] == "lab" and recovery["record_shape"] == "simple"
    assert story["fo_records_failback"][RECORD] == story["records_after_again"][RECORD]


def test_the_dr_runs_go_to_kubernetes_as_the_shipped_service_account(story):
    """lab-dr is run as the ServiceAccount of docs/rbac/voicehive-remediation.yml (its Role in voicehive-dr);
    conftest.py checks every request against the shipped rules after each test."""
    made = {(r["verb"], r["resource"], r["namespace"] or r["name"]) for r in story["drill_requests"]}
    for request in (
        ("get", "namespaces", "voicehive-dr"),  # preflight
        ("list", "pods", "voicehive-dr"),  # the site read
        ("create", "leases", "voicehive-dr"),  # the site lock
        ("update", "configmaps", "voicehive-dr"),  # the remediation budget of the drill's restores
    ):
        assert request in made, request
