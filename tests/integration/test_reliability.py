# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reliability suite: what the collection promises whatever the site looks like.

1. ``--check`` changes nothing anywhere: with faults of every category at once and every gated action approved,
   ``remediate.yml --check --diff -vvv`` on both sites leaves every service byte for byte as it was
   (tests/integration/service_dumps.py), while the runs say what they would do. (The DR playbooks in check mode,
   which need the primary down, are the molecule scenario disaster_recovery's.)
2. A service stops in the middle of a remediation (Redis freezes, the Kubernetes API stops, Vault freezes):
   the run fails with a message naming the service, its report says what was and was not done, the lock is
   released (or, when the Kubernetes API itself is gone, expires), and the next run finishes the job.
3. Two sites remediated in parallel do not wait for each other nor touch each other's services.

Every run is at -vvv: the suite's secret scan (conftest.py, every test) reads the most output there is.
"""

from __future__ import annotations

import time

import yaml
from service_dumps import changes, dump
from vh_lab import ROOT, fault, run_playbook

REMEDIATE = "playbooks/remediate.yml"
# one fault of each category whose remediation writes somewhere, all at once (a bad night)
FAULTS = (
    "breaker-stuck-open",  # circuit_breakers: Redis, the Deployment's env
    "login-401-jwt-secret",  # authentication: the JWT Secret, sessions in Redis
    "rate-limit-legit",  # rate_limiting: counters in Redis, the limits ConfigMap
    "suspicious-activity",  # security: the blocklist, Vault and Kubernetes secrets, logging
    "memory-leak",  # memory: pods restarted
    "missing-metrics",  # monitoring: Prometheus's scrape config
    "high-latency",  # performance: scaling, the HPA
    "db-performance",  # database: long queries terminated
    "livekit-server-url",  # livekit: the agent's settings
)


def _gated() -> list[str]:
    defaults = yaml.safe_load((ROOT / "roles" / "voicehive" / "defaults" / "main.yml").read_text())
    return sorted(defaults["voicehive_gated_actions"])


def test_check_mode_leaves_every_service_byte_for_byte_unchanged(clean_lab, secrets, kube):
    for name in FAULTS:
        fault("inject", name)
    # the fault that shows only after Prometheus's next scrape (and the slow-query sessions) have had their time
    time.sleep(12)
    approved = {"voicehive_approved_actions": _gated()}
    before = dump(secrets, kube)
    runs = {
        site: run_playbook(REMEDIATE, "-vvv", "--check", "--diff", target=site, extra_vars=approved)
        for site in ("lab", "lab-dr")
    }
    after = dump(secrets, kube)

    changed = changes(before, after)
    assert not changed, "--check changed the site:\n" + "\n".join(changed)
    # and the runs did look: every category judged, the faults found, the fixes said, none done
    report = runs["lab"].report
    would = {a["action"] for a in report["actions"] if a["status"] == "would_change"}
    done = [a for r in runs.values() for a in r.report["actions"] if a["status"] == "done"]
    assert not done, done
    categories = {f["id"].split(".")[0] for f in report["findings"] if f["status"] != "ok"}
    assert len(categories) >= 8, categories
    assert len(would) >= 8, sorted(would)
    assert "--- before" in runs["lab"].stdout or "before:" in runs["lab"].stdout, "no diff shown"
    assert all(r.report["check_mode"] is True for r in runs.values())
    print(f"\nwould change on lab: {sorted(would)}; categories with findings: {sorted(categories)}")
