# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event-Driven Ansible end to end, with the real pieces.

A stuck-open breaker (the lab fault, and one more opened directly in Redis) makes the lab's Prometheus fire
VoiceHiveCircuitBreakerOpen; Alertmanager's voicehive-eda receiver posts it to a running ansible-rulebook
(extensions/eda/rulebooks/alertmanager.yml, port 15050), whose rule runs the circuit-breakers remediation
through the launcher; the breakers close and the alert resolves. The same alert again within the throttle
window starts nothing, and neither does the resolved alert. A second category: VoiceHiveSecurityIncident runs the
security remediation, which does the safe part unattended and names the gated actions as needing approval.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time

import pytest
import requests
import vh_lab
import yaml
from vh_lab import ROOT, VENV_BIN, fault, wait_for

PROM = "http://127.0.0.1:19090"
AM = "http://127.0.0.1:19093"
EDA = "http://127.0.0.1:15050"
ALERT = "VoiceHiveCircuitBreakerOpen"
LAUNCH = f"TASK [Run the playbook with the rule's tags for {ALERT} on lab]"
BREAKERS = ("pms_connector", "apaleo_auth")  # the fault's, and one opened directly in Redis


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _silence_other_alerts(alert: str) -> str:
    """Only the alert under test reaches the rulebook (the lab fires others, e.g. no calls processed)."""
    now = dt.datetime.now(dt.UTC)
    body = {
        "matchers": [
            {"name": "alertname", "value": "VoiceHive.+", "isRegex": True, "isEqual": True},
            {"name": "alertname", "value": alert, "isRegex": False, "isEqual": False},
        ],
        "startsAt": _iso(now),
        "endsAt": _iso(now + dt.timedelta(hours=1)),
        "createdBy": "tests/integration/test_eda.py",
        "comment": "only the alert under test",
    }
    answer = requests.post(f"{AM}/api/v2/silences", json=body, timeout=5)
    answer.raise_for_status()
    return answer.json()["silenceID"]


def _prom_alerts(state: str = "firing", alert: str = ALERT) -> list[dict]:
    alerts = requests.get(f"{PROM}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return [
        a
        for a in alerts
        if a["labels"]["alertname"] == alert and a["labels"].get("site") == "lab" and a["state"] == state
    ]


def _new_reports(before: set) -> list[dict]:
    """The run reports written since ``before`` (oldest first): one per run the rulebook started (the launcher's
    own output is logged twice by ansible-rulebook when the run fails, so the log is no count of runs)."""
    reports = ROOT / "reports"
    new = sorted(set(reports.glob("*.json")) - before, key=lambda p: p.stat().st_mtime)
    return [json.loads(p.read_text()) for p in new]


def _reports() -> set:
    reports = ROOT / "reports"
    return set(reports.glob("*.json")) if reports.exists() else set()


def _fired_lately(alert: str, window: str = "45s") -> bool:
    query = f'max_over_time(ALERTS{{alertname="{alert}",site="lab",alertstate="firing"}}[{window}])'
    answer = requests.get(f"{PROM}/api/v1/query", params={"query": query}, timeout=5).json()
    return bool(answer["data"]["result"])


def _am_alerts(alert: str) -> list[dict]:
    alerts = requests.get(f"{AM}/api/v2/alerts", params={"filter": f'alertname="{alert}"'}, timeout=5).json()
    return [a for a in alerts if a["labels"].get("site") == "lab"]


def resolve_and_deliver(alert: str, log) -> None:
    """Reset the lab (the alert's cause goes) and wait until Alertmanager has posted the resolution to the
    rulebook (its next group interval, 30 s)."""
    posts = log.read_text(errors="replace").count("POST /alertmanager")
    vh_lab.lab("reset")
    wait_for(lambda: not _am_alerts(alert), timeout=90, what=f"{alert} resolved in Alertmanager")
    wait_for(
        lambda: log.read_text(errors="replace").count("POST /alertmanager") > posts,
        timeout=45,
        what=f"Alertmanager posting the resolution of {alert} to the rulebook",
    )


@pytest.fixture
def rulebook(lab_up, tmp_path, request):
    """ansible-rulebook with the shipped rulebook, for the alert under test (request.param; default the breaker
    alert): the others are silenced in Alertmanager and left out by VOICEHIVE_EDA_ALERTS."""
    alert = getattr(request, "param", ALERT)
    silence = _silence_other_alerts(alert)
    vh_lab.lab("reset")
    # after the reset no alert of the kind under test is left in Alertmanager (its resolution is notified), and
    # none fired in the last 45 s: Alertmanager retries a notification the rulebook's port refused (no rulebook
    # listened then) for up to its group interval (30 s), and such a stale "firing" would start a run too early
    wait_for(lambda: not _am_alerts(alert), timeout=90, what=f"no {alert} left in Alertmanager")
    wait_for(lambda: not _fired_lately(alert), timeout=90, what=f"no {alert} fired in the last 45 s")
    variables = tmp_path / "eda-vars.yml"
    variables.write_text(
        yaml.safe_dump(
            {
                "voicehive_eda_host": "127.0.0.1",
                "voicehive_eda_port": 15050,
                "voicehive_eda_project": str(ROOT),
                "voicehive_eda_inventory": str(ROOT / "inventories" / "lab"),
            }
        )
    )
    log = tmp_path / "rulebook.log"
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=f"{VENV_BIN}:{os.environ['PATH']}",
        # the lab fires other alerts too (no calls processed...): only this one starts runs here
        VOICEHIVE_EDA_ALERTS=alert,
    )
    cmd = [
        str(VENV_BIN / "ansible-rulebook"),
        "--rulebook",
        "extensions/eda/rulebooks/alertmanager.yml",
        "--inventory",
        "extensions/eda/inventory.yml",
        "--vars",
        str(variables),
        "--verbose",
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def up() -> bool:
        assert proc.poll() is None, f"ansible-rulebook ended:\n{log.read_text()[-3000:]}"
        try:  # not an alert: the filter passes it on and no rule matches
            return requests.post(f"{EDA}/probe", json={"probe": True}, timeout=10).ok
        except requests.RequestException:
            return False

    try:
        wait_for(up, timeout=60, what="ansible-rulebook listening on 15050")
        yield proc, log
        if proc.poll() is None and _am_alerts(alert):
            # the alert under test still fires: its resolution must reach this rulebook before it stops, or
            # Alertmanager (whose notification log then says the rulebook was last told "firing") would not tell
            # the next rulebook of the same alert firing again within its repeat interval (1 h)
            resolve_and_deliver(alert, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        requests.delete(f"{AM}/api/v2/silence/{silence}", timeout=5)
        fault("clear")


def test_alert_runs_the_circuit_breakers_remediation_once(rulebook, primary_redis):
    proc, log = rulebook

    def text():
        return log.read_text(errors="replace")

    before = _reports()

    fault("inject", "breaker-stuck-open")
    # the same cause made directly in the service: the orchestrator's own breaker keys
    now = time.time()
    primary_redis.set("circuit_breaker:apaleo_auth:state", "open", ex=3600)
    primary_redis.hset(
        "circuit_breaker:apaleo_auth:stats",
        mapping={"failure_count": 6, "success_count": 0, "last_failure_time": now - 900, "last_success_time": 0},
    )
    fired = wait_for(_prom_alerts, timeout=40, what=f"Prometheus firing {ALERT}")
    fired_at = min(dt.datetime.fromisoformat(a["activeAt"].replace("Z", "+00:00")) for a in fired)

    wait_for(lambda: LAUNCH in text(), timeout=60, interval=0.2, what="the rule starting the launcher")
    launched_after = (dt.datetime.now(dt.UTC) - fired_at).total_seconds()
    closed = wait_for(
        lambda: all(primary_redis.get(f"circuit_breaker:{b}:state") in (None, "closed") for b in BREAKERS),
        timeout=90,
        interval=0.2,
        what="the breakers closed by the remediation",
    )
    assert closed
    closed_after = (dt.datetime.now(dt.UTC) - fired_at).total_seconds()
    wait_for(lambda: "PLAY RECAP" in text(), timeout=60, what="the launcher's recap")
    assert "failed=1" not in text(), text()[-4000:]

    # the remediation run's report: the breakers were stuck open, reset through the gate, verified
    runs = _new_reports(before)
    remediations = [r for r in runs if r.get("phase") == "remediate"]
    assert len(remediations) == 1, [(r.get("phase"), r.get("outcome")) for r in runs]
    report = remediations[0]
    assert report["outcome"] != "failed", report
    findings = {f["id"]: f for f in report["findings"]}
    assert findings["circuit_breakers.stuck_open"]["status"] == "resolved", findings
    resets = {
        a["target"] for a in report["actions"] if a["action"] == "reset_circuit_breaker" and a["status"] == "done"
    }
    assert {b for b in BREAKERS if any(b in t for t in resets)} == set(BREAKERS), report["actions"]
    assert not [f for f in findings if not f.startswith("circuit_breakers.")], "the rule's tags narrow the run"

    # the alert resolves in Prometheus and Alertmanager
    wait_for(lambda: not _prom_alerts() and not _prom_alerts("pending"), timeout=30, what="the alert resolved")
    assert len(_new_reports(before)) == 1, "one run for the alert"

    # the same alert again within the throttle window (as Alertmanager repeats it) starts nothing
    repeat = {
        "receiver": "voicehive-eda",
        "status": "firing",
        "alerts": [
            {"status": "firing", "labels": {**a["labels"]}, "annotations": a.get("annotations", {})} for a in fired
        ],
    }
    assert requests.post(f"{EDA}/alertmanager", json=repeat, timeout=5).ok
    posts = text().count("POST /alertmanager")
    # Alertmanager posts the resolution at its next group interval (30 s): a resolved alert starts nothing
    wait_for(lambda: text().count("POST /alertmanager") > posts, timeout=45, what="Alertmanager posting the resolution")
    time.sleep(2)
    assert len(_new_reports(before)) == 1, text()[-3000:]
    assert proc.poll() is None, "the rulebook keeps running"
    print(f"\nalert fired -> rule started the run: {launched_after:.1f} s, -> breakers closed: {closed_after:.1f} s")


SECURITY = "VoiceHiveSecurityIncident"


@pytest.mark.parametrize("rulebook", [SECURITY], indirect=True)
def test_security_incident_runs_the_safe_part_and_asks_for_the_rest(rulebook):
    """A second category end to end: the orchestrator counts a security incident (the lab's suspicious-activity
    fault: brute force from three sources), Prometheus fires VoiceHiveSecurityIncident, and the rule runs the
    security remediation with that category's tags, once. Unattended it does only the safe part (enhanced logging,
    time-boxed); blocking the sources and rotating secrets wait for approval, which the report and the
    notification name (the run ends failed: a critical finding is left)."""
    proc, log = rulebook

    def text():
        return log.read_text(errors="replace")

    launch = f"TASK [Run the playbook with the rule's tags for {SECURITY} on lab]"
    before = _reports()
    messages = len(vh_lab.notifications())
    fault("inject", "suspicious-activity")
    wait_for(lambda: _prom_alerts(alert=SECURITY), timeout=40, what=f"Prometheus firing {SECURITY}")
    wait_for(lambda: launch in text(), timeout=60, interval=0.2, what="the rule starting the launcher")
    wait_for(lambda: "PLAY RECAP" in text(), timeout=120, what="the launcher's recap")
    runs = _new_reports(before)
    assert [r.get("phase") for r in runs] == ["remediate"], text()[-4000:]
    report = runs[0]
    findings = {f["id"]: f for f in report["findings"]}
    assert findings["security.brute_force"]["status"] == "unresolved", findings
    assert not [f for f in findings if not f.startswith("security.")], "the rule's tags narrow the run"
    actions = {a["action"]: a["status"] for a in report["actions"]}
    assert actions == {
        "enable_enhanced_logging": "done",
        "block_ips": "skipped_needs_approval",
        "rotate_secrets": "skipped_needs_approval",
    }, report["actions"]
    assert set(report["summary"]["needs_approval"]) == {"block_ips", "rotate_secrets"}, report["summary"]
    told = json.dumps(vh_lab.notifications()[messages:])
    assert "block_ips" in told and report["run_id"] in told, told[-3000:]
    # the launcher says the run failed (a critical finding is left), plainly: no encoded runner events in its output
    assert "ended with rc 2" in text() and "Unresolved critical finding(s)" in text(), text()[-3000:]
    assert "\x1b[K" not in text(), "ansible-runner's event markers leaked into the run's output"
    # the incident is dealt with (here: the lab reset): its resolution reaches the rulebook and starts nothing
    resolve_and_deliver(SECURITY, log)
    time.sleep(2)
    assert len(_new_reports(before)) == 1, text()[-3000:]
    assert proc.poll() is None, "the rulebook keeps running"
