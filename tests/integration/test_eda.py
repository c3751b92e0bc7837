# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event-Driven Ansible end to end, with the real pieces.

A stuck-open breaker (the lab fault, and one more opened directly in Redis) makes the lab's Prometheus fire
VoiceHiveCircuitBreakerOpen; Alertmanager's voicehive-eda receiver posts it to a running ansible-rulebook
(extensions/eda/rulebooks/alertmanager.yml, port 15050), whose rule runs the circuit-breakers remediation
through the launcher; the breakers close and the alert resolves. The same alert again within the throttle
window starts nothing, and neither does the resolved alert.
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


def _silence_other_alerts() -> str:
    """Only the alert under test reaches the rulebook (the lab fires others, e.g. no calls processed)."""
    now = dt.datetime.now(dt.UTC)
    body = {
        "matchers": [
            {"name": "alertname", "value": "VoiceHive.+", "isRegex": True, "isEqual": True},
            {"name": "alertname", "value": ALERT, "isRegex": False, "isEqual": False},
        ],
        "startsAt": _iso(now),
        "endsAt": _iso(now + dt.timedelta(hours=1)),
        "createdBy": "tests/integration/test_eda.py",
        "comment": "only the alert under test",
    }
    answer = requests.post(f"{AM}/api/v2/silences", json=body, timeout=5)
    answer.raise_for_status()
    return answer.json()["silenceID"]


def _breaker_alerts(state: str = "firing") -> list[dict]:
    alerts = requests.get(f"{PROM}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return [
        a
        for a in alerts
        if a["labels"]["alertname"] == ALERT and a["labels"].get("site") == "lab" and a["state"] == state
    ]


def _am_breaker_alerts() -> list[dict]:
    alerts = requests.get(f"{AM}/api/v2/alerts", params={"filter": f'alertname="{ALERT}"'}, timeout=5).json()
    return [a for a in alerts if a["labels"].get("site") == "lab"]


@pytest.fixture
def rulebook(lab_up, tmp_path):
    silence = _silence_other_alerts()
    vh_lab.lab("reset")
    # after the reset no breaker alert of site lab is left in Alertmanager (its resolution is notified)
    wait_for(lambda: not _am_breaker_alerts(), timeout=40, what="no breaker alert left in Alertmanager")
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
        VOICEHIVE_EDA_ALERTS=ALERT,
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

    reports = ROOT / "reports"
    before = set(reports.glob("*.json")) if reports.exists() else set()

    fault("inject", "breaker-stuck-open")
    # the same cause made directly in the service: the orchestrator's own breaker keys
    now = time.time()
    primary_redis.set("circuit_breaker:apaleo_auth:state", "open", ex=3600)
    primary_redis.hset(
        "circuit_breaker:apaleo_auth:stats",
        mapping={"failure_count": 6, "success_count": 0, "last_failure_time": now - 900, "last_success_time": 0},
    )
    fired = wait_for(_breaker_alerts, timeout=40, what=f"Prometheus firing {ALERT}")
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
    new = sorted(set(reports.glob("*.json")) - before, key=lambda p: p.stat().st_mtime)
    runs = [json.loads(p.read_text()) for p in new]
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
    wait_for(lambda: not _breaker_alerts() and not _breaker_alerts("pending"), timeout=30, what="the alert resolved")
    launches = text().count(LAUNCH)
    assert launches == 1

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
    assert text().count(LAUNCH) == launches, text()[-3000:]
    assert proc.poll() is None, "the rulebook keeps running"
    print(f"\nalert fired -> rule started the run: {launched_after:.1f} s, -> breakers closed: {closed_after:.1f} s")
