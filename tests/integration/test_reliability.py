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

import base64
import os
import signal
import threading
import time

import pytest
import redis
import yaml
from kubernetes import client as k8s_client
from service_dumps import changes, dump
from vh_lab import ROOT, STATE, fault, lab, remediate_while, run_playbook

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


def _pid(service: str) -> int:
    return int((STATE / "pids" / f"{service}.pid").read_text().split()[0])


def _freeze(service: str):
    """The service stops answering (SIGSTOP: its port is open, nothing replies, as a hung server), until thawed."""
    pid = _pid(service)
    return lambda: os.kill(pid, signal.SIGSTOP), lambda: os.kill(pid, signal.SIGCONT)


def _stop(service: str):
    """The service is gone (its port refuses), until started again."""
    return lambda: lab("stop", service), lambda: lab("start", service)


def _lease_holder(kube) -> str | None:
    try:
        lease = k8s_client.CoordinationV1Api(kube).read_namespaced_lease("voicehive-remediation", "voicehive")
    except k8s_client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return lease.spec.holder_identity or None


def _revoke_vault_token(kube, secrets) -> None:
    """The orchestrator's Vault token is revoked: authentication's unattended vault_relogin is the fix."""
    core = k8s_client.CoreV1Api(kube)
    revoked = base64.b64encode(b"hvs.revoked-reliability").decode()
    core.patch_namespaced_secret("voicehive-secrets", "voicehive", {"data": {"vault-token": revoked}})


# service → (what breaks the site, tags, the task line after which the service stops, how it stops, the service's
# name in the failure, whether the fix is in place)
MIDWAY = {
    "redis": (
        lambda kube, secrets: fault("inject", "breaker-stuck-open"),
        "circuit_breakers",
        "TASK [voicehive.remediation.circuit_breakers : Work out what to remediate]",
        lambda: _freeze("redis-primary"),
        "Redis",
        lambda kube, secrets: _redis(secrets).get("circuit_breaker:pms_connector:state") in (None, "closed"),
    ),
    "kubernetes": (
        lambda kube, secrets: fault("inject", "memory-leak"),
        "memory",
        "TASK [voicehive.remediation.memory : Change the Deployments and wait for their rollout",
        lambda: _stop("kubesim"),
        "Kubernetes",
        None,
    ),
    "vault": (
        _revoke_vault_token,
        "authentication",
        "TASK [voicehive.remediation.authentication : Work out what to remediate]",
        lambda: _freeze("openbao"),
        "Vault",
        None,
    ),
}


def _redis(secrets) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=16379, password=secrets["redis_password"], decode_responses=True)


@pytest.mark.parametrize("service", sorted(MIDWAY))
def test_a_service_stopping_midway_fails_plainly_and_the_next_run_finishes(service, clean_lab, secrets, kube):
    """(PostgreSQL stopping midway is test_database.py's: the database role's own story.)"""
    breaks, tags, trigger, stops, name, fixed = MIDWAY[service]
    breaks(kube, secrets)
    time.sleep(3)
    stop, resume = stops()
    # a short lease, so that when the Kubernetes API itself is gone (the lock cannot be given back) the next
    # run can take it after it expires, as it would after voicehive_lock_duration on a site
    short_lease = {"voicehive_lock_duration": 60, "voicehive_lock_wait_timeout": 90}
    rc, output, report = remediate_while(tags, trigger, stop, resume, short_lease, "-vvv", as_service_account=True)

    assert rc != 0, output[-3000:]
    assert "Traceback" not in output, output[-5000:]
    assert report["outcome"] == "failed", report
    errors = " ".join(str(e) for e in report["errors"])
    assert name in errors, (report["errors"], output[-3000:])
    done_before = [a for a in report["actions"] if a["status"] == "done"]
    # nothing is called resolved that was not verified (a re-read that failed proves nothing)
    assert not [f for f in report["findings"] if f["status"] == "resolved"], report["findings"]
    assert all(e["task"] and e["category"] for e in report["errors"]), report["errors"]
    # the lock: given back, or (the Kubernetes API gone) expiring by itself
    if service != "kubernetes":
        assert _lease_holder(kube) is None
    print(f"\n{service}: rc {rc}; errors: {report['errors']}; done: {[a['action'] for a in done_before]}")

    again = run_playbook(REMEDIATE, "-vvv", "--tags", tags, extra_vars=short_lease)
    assert again.rc == 0, again.output[-4000:]
    # the job finished: every finding of the category resolved (an action still waiting for approval may be named)
    left = [f["id"] for f in again.report["findings"] if f["status"] not in ("resolved", "ok")]
    assert not left, again.report
    assert not again.report["errors"], again.report["errors"]
    assert _lease_holder(kube) is None
    if fixed is not None:
        assert fixed(kube, secrets)


def test_two_sites_remediated_in_parallel_do_not_interfere(clean_lab, secrets, kube):
    """Each site has its own lock (a Lease in its namespace), Redis and budget: two runs at once, one per site,
    overlap in time and each fixes only its own site. (Two runs on one site serialise through the lock:
    test_framework.py.)"""
    stuck = {"lab": 16379, "lab-dr": 16380}
    breakers = {"lab": "pms_connector", "lab-dr": "apaleo_auth"}
    now = time.time()
    for site, port in stuck.items():
        r = redis.Redis(host="127.0.0.1", port=port, password=secrets["redis_password"], decode_responses=True)
        r.set(f"circuit_breaker:{breakers[site]}:state", "open", ex=3600)
        r.hset(
            f"circuit_breaker:{breakers[site]}:stats",
            mapping={"failure_count": 6, "success_count": 0, "last_failure_time": now - 900, "last_success_time": 0},
        )
    runs = {}

    def go(site: str) -> None:
        runs[site] = run_playbook(REMEDIATE, "-vvv", "--tags", "circuit_breakers", target=site)

    threads = [threading.Thread(target=go, args=(site,)) for site in stuck]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # both runs write to one report directory at once: each run's report is the one of its site
    reports = {site: next(r for r in run.reports if r["site"] == site) for site, run in runs.items()}
    for site, run in runs.items():
        assert run.rc == 0, (site, run.output[-3000:])
        resets = [a["target"] for a in reports[site]["actions"] if a["status"] == "done"]
        assert resets == [f"circuit_breaker/{breakers[site]}"], (site, reports[site]["actions"])
    for site, port in stuck.items():
        r = redis.Redis(host="127.0.0.1", port=port, password=secrets["redis_password"], decode_responses=True)
        assert r.get(f"circuit_breaker:{breakers[site]}:state") in (None, "closed"), site
        other = breakers["lab-dr" if site == "lab" else "lab"]
        assert r.get(f"circuit_breaker:{other}:state") in (None, "closed"), f"{site}: the other site's breaker"
    # they ran at the same time: neither waited for the other's lock
    starts = [r["started_at"] for r in reports.values()]
    ends = [r["finished_at"] for r in reports.values()]
    assert max(starts) < min(ends), (starts, ends)
    coordination = k8s_client.CoordinationV1Api(kube)
    for namespace in ("voicehive", "voicehive-dr"):
        lease = coordination.read_namespaced_lease("voicehive-remediation", namespace)
        assert not lease.spec.holder_identity, (namespace, lease.spec)
