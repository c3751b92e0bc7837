# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/health_check.yml against the lab: every category's diagnosis, the timed synthetic checks
(orchestrator /health and /health/ready, an Apaleo token and property read, a LiveKit token offered to the
server), and what changed since the previous health check of the site.

A clean lab first: every check passes with its timing. Then the LiveKit server stops (lab fault
livekit-down): the livekit check fails, one finding names it, the livekit category finds its own cause, and
the report says what changed since the first run. Nothing is changed by either run.
"""

from __future__ import annotations

import pytest
from vh_lab import fault, run_playbook

pytestmark = pytest.mark.lab

CHECKS = {"orchestrator_health", "orchestrator_ready", "apaleo_probe", "livekit"}


def test_health_check_times_its_synthetic_checks_and_says_what_changed(clean_lab):
    first = run_playbook("playbooks/health_check.yml")
    assert first.rc == 0, first.output[-3000:]
    doc = first.report
    # the categories judge the site as it is: after other tests, Prometheus's alert history may hold a flapping
    # alert (monitoring.alert_fatigue), which is not this test's concern
    assert doc["phase"] == "health_check" and doc["outcome"] in ("healthy", "findings_open"), doc["findings"]
    assert "health_check.synthetic_failed" not in {f["id"] for f in doc["findings"]}
    assert doc["actions"] == [] and first.recap_changed() == 0
    checks = {c["name"]: c for c in doc["synthetic"]}
    assert set(checks) == CHECKS
    assert all(c["ok"] and c["detail"] == "" and c["elapsed_ms"] > 0 for c in checks.values()), checks
    assert checks["orchestrator_health"]["target"] == "http://127.0.0.1:18080/health"
    assert checks["orchestrator_ready"]["status"] == 200
    assert checks["apaleo_probe"]["status"] == 200 and "LAB001" in checks["apaleo_probe"]["target"]
    assert checks["livekit"]["target"] == "ws://127.0.0.1:17880"
    assert "synthetic apaleo_probe" in first.output and "since the previous health check" in first.output
    assert "since_previous" in doc

    fault("inject", "livekit-down")
    second = run_playbook("playbooks/health_check.yml")
    assert second.rc == 0, second.output[-3000:]  # a diagnosis: findings do not fail the run
    doc = second.report
    assert doc["outcome"] == "findings_open" and doc["actions"] == []
    checks = {c["name"]: c for c in doc["synthetic"]}
    assert [name for name, c in checks.items() if not c["ok"]] == ["livekit"]
    assert "refused" in checks["livekit"]["detail"].lower(), checks["livekit"]
    findings = {f["id"]: f for f in doc["findings"]}
    synthetic = findings["health_check.synthetic_failed"]
    assert synthetic["severity"] == "warning" and synthetic["component"] == ["livekit"]
    assert [c["name"] for c in synthetic["evidence"]["failing"]] == ["livekit"]
    assert set(synthetic["evidence"]["working"]) == CHECKS - {"livekit"}
    assert "livekit.server_unreachable" in findings
    since = doc["since_previous"]
    assert since["previous"]["run_id"] == first.report["run_id"]
    assert since["outcome"] == {"before": first.report["outcome"], "after": "findings_open"}
    assert {"health_check.synthetic_failed", "livekit.server_unreachable"} <= set(since["new_findings"])
    (change,) = [c for c in since["synthetic"] if c["name"] == "livekit"]
    assert change["change"] == "failing" and change["after"] == checks["livekit"]["detail"]
    assert "since the previous health check: synthetic check livekit: failing" in second.output
