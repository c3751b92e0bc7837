"""Guide: Security Issues — Suspicious Activity Detected (credential brute force)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from . import ops
from .base import Context, Fault

NS = "voicehive"
ATTACKERS = ("198.51.100.23", "203.0.113.77", "192.0.2.200")
ATTEMPTS = 30  # per attacker: above the orchestrator's brute-force threshold (20 failures / minute)
USERS = ("frontdesk@hotel-001", "manager@hotel-001", "admin", "root")


def failed_login(ip: str, attempt: int) -> int:
    answer = requests.post(
        ops.ORCHESTRATOR_URL + "/auth/login",
        json={"username": USERS[attempt % len(USERS)], "password": f"Winter2026!{attempt}"},
        headers={"X-Forwarded-For": ip, "User-Agent": "python-requests/2.31 hydra"},
        timeout=10,
    )
    return answer.status_code


def orchestrator_log_mentions(ips: tuple[str, ...]) -> set[str]:
    from .. import paths

    try:
        text = (paths.STATE / "orchestrator" / "lab.log").read_text(errors="replace")[-400_000:]
    except OSError:
        return set()
    return {ip for ip in ips if f"ip={ip}" in text}


class BruteForce(Fault):
    name = "suspicious-activity"
    summary = f"{ATTEMPTS} real failed logins from each of {', '.join(ATTACKERS)} against the orchestrator"
    guide = "Security Issues / Suspicious Activity Detected"

    def inject(self, ctx: Context) -> dict[str, Any]:
        before = ops.snapshot_configmap(ctx.kube, NS, "security-config")
        jobs = [(ip, n) for n in range(ATTEMPTS) for ip in ATTACKERS]
        with ThreadPoolExecutor(max_workers=6) as pool:
            codes = list(pool.map(lambda job: failed_login(*job), jobs))
        return {"data": before, "codes": sorted(set(codes))}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        """Forget the attack: unblock the IPs, drop their rate-limit windows, reset the process counters."""
        ops.restore_configmap(ctx.kube, NS, "security-config", record.get("data"))
        r = ctx.redis()
        for ip in ATTACKERS:
            doomed = list(r.scan_iter(match=f"rate_limit:ip:{ip}:*", count=500))
            if doomed:
                r.delete(*doomed)
        ops.orchestrator_lab_reset()

    def active(self, ctx: Context) -> bool:
        """The attack is in the orchestrator's own log (what `kubectl logs` shows for its pods)."""
        return len(orchestrator_log_mentions(ATTACKERS)) == len(ATTACKERS)

    def healthy(self, ctx: Context) -> bool:
        """The log keeps the history; health = a staff login works and no attacker state is left."""
        blocked = (ops.snapshot_configmap(ctx.kube, NS, "security-config") or {}).get("blocked_ips", "")
        r = ctx.redis()
        leftovers = [key for ip in ATTACKERS for key in r.scan_iter(match=f"rate_limit:ip:{ip}:*", count=500)]
        answer = requests.post(
            ops.ORCHESTRATOR_URL + "/auth/login",
            json={"username": "frontdesk@hotel-001", "password": ctx.secrets["demo_user_password"]},
            headers={"X-Forwarded-For": "10.20.0.15"},
            timeout=10,
        )
        return answer.status_code == 200 and not leftovers and not any(ip in blocked for ip in ATTACKERS)


FAULTS = [BruteForce()]
