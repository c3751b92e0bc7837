# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench: playbook wall times against the lab, as paired runs, written to benchmarks/results.md.

Every round runs each measured command once, in the same order, so that the machine's drift over
the invocation touches them alike; a ratio is the median of the per-round ratios, a time the median
of its rounds. The baseline is benchmarks/ping.yml: one `ping` task on the same inventory (Ansible's
start-up, the inventory, one module), the smallest playbook that touches a site.

    python benchmarks/bench.py [--rounds N] [--only NAME ...] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from _common import BIN, LAB, ROOT, run, timed

RESULTS = ROOT / "benchmarks" / "results.md"
# sections measured by other means (the EDA end-to-end test), kept when make bench rewrites the file
KEPT = "## Event-Driven Ansible"
PLAYBOOK = [str(BIN / "ansible-playbook"), "-i", "inventories/lab", "-e", "voicehive_target=lab"]


def categories() -> list[str]:
    """The category roles the playbooks run (every role but the framework)."""
    return sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir() and p.name != "voicehive")


def commands() -> dict[str, list[str]]:
    out = {
        "ping": [*PLAYBOOK, "benchmarks/ping.yml"],
        "diagnose": [*PLAYBOOK, "playbooks/diagnose.yml"],
        "framework": [*PLAYBOOK, "playbooks/diagnose.yml", "--skip-tags", ",".join(categories())],
    }
    for category in categories():
        out[f"diagnose --tags {category}"] = [*PLAYBOOK, "playbooks/diagnose.yml", "--tags", category]
    return out


def lab(*args: str) -> None:
    run([str(LAB / args[0]), *args[1:]])


def sweep(rounds: int, only: list[str]) -> dict[str, list[float]]:
    cmds = {k: v for k, v in commands().items() if not only or k in only or k == "ping"}
    times: dict[str, list[float]] = {k: [] for k in cmds}
    lab("lab", "reset")
    for cmd in cmds.values():  # warm-up: module caches, the lab's first answers
        timed(cmd)
    for r in range(rounds):
        for name, cmd in cmds.items():
            times[name].append(timed(cmd))
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
    return times


# One lab fault per category for the faulted sweep (disaster_recovery's complete-failure is the DR site's: the
# sweep's target is the primary site, lab).
FAULTS = {
    "authentication": "login-401-jwt-secret",
    "circuit_breakers": "breaker-stuck-open",
    "database": "db-connection-failure",
    "livekit": "livekit-down",
    "memory": "memory-leak",
    "monitoring": "missing-metrics",
    "network": "service-discovery",
    "performance": "high-latency",
    "pms_connector": "pms-connector-outage",
    "rate_limiting": "rate-limit-legit",
    "security": "suspicious-activity",
}


def found_by() -> set[str]:
    """The categories with findings in the newest report (the run just timed)."""
    reports = sorted((ROOT / "reports").glob("*.json"), key=lambda p: p.stat().st_mtime)
    return {f["category"] for f in json.loads(reports[-1].read_text())["findings"]} if reports else set()


def faulted(rounds: int, only: list[str]) -> dict[str, list[float]]:
    """The whole-site diagnose.yml with one category's fault injected, once the fault shows, paired with ping in each
    round. Each run must have found a finding of the fault's category (else it would time a diagnosis that missed
    it)."""
    faults = {c: f for c, f in FAULTS.items() if not only or c in only}
    diagnose = [*PLAYBOOK, "playbooks/diagnose.yml"]
    times: dict[str, list[float]] = {"ping": [], **{c: [] for c in faults}}
    for r in range(rounds):
        times["ping"].append(timed(commands()["ping"]))
        for category, fault in faults.items():
            lab("lab", "reset")
            lab("fault", "inject", fault)
            # some faults show only after the services notice them (a Prometheus scrape, a pod restart): unmeasured
            # diagnoses of the category until it is seen, then the measured whole-site one
            deadline = time.monotonic() + 90
            run([*diagnose, "--tags", category])
            while category not in found_by():
                if time.monotonic() > deadline:
                    sys.exit(f"bench: diagnose.yml --tags {category} never found {fault} within 90 s")
                time.sleep(2)
                run([*diagnose, "--tags", category])
            times[category].append(timed(diagnose))
            if category not in (found := found_by()):
                sys.exit(f"bench: diagnose.yml with {fault} injected found no {category} finding (found {found})")
        shown = ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items())
        print(f"faulted round {r + 1}/{rounds}: {shown}", flush=True)
    lab("lab", "reset")
    return times


def remediation(rounds: int) -> list[float]:
    """remediate.yml --tags circuit_breakers from an injected breaker-stuck-open to verified."""
    cmd = [*PLAYBOOK, "playbooks/remediate.yml", "--tags", "circuit_breakers"]
    times = []
    for r in range(rounds):
        lab("lab", "reset")
        lab("fault", "inject", "breaker-stuck-open")
        times.append(timed(cmd))
        print(f"remediation round {r + 1}/{rounds}: {times[-1]:.2f}s", flush=True)
    lab("lab", "reset")
    return times


def script_rows(script: str, *args: str) -> list[str]:
    """The Markdown table rows a benchmarks/ script prints (it exits non-zero when a check failed)."""
    out = run([str(BIN / "python"), f"benchmarks/{script}", *args])
    return [line for line in out.splitlines() if line.startswith("|")]


def median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def machine() -> str:
    core = subprocess.run([str(BIN / "python"), "-c", "import ansible.release as r; print(r.__version__)"],
                          capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, ansible-core {core}"


def render(
    times: dict[str, list[float]],
    faults: dict[str, list[float]],
    remediate: list[float],
    scans: list[str],
    limits: list[str],
    many: list[str],
    rounds: int,
) -> str:
    ping = times["ping"]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")  # noqa: UP017
    lines = [
        "# Benchmarks",
        "",
        f"Measured {stamp} on {machine()}, against the lab (`make lab-up`), by `make bench`",
        f"(`python benchmarks/bench.py --rounds {rounds}`): each figure is the median of {rounds} paired",
        "rounds (every command once per round, in the same order); a ratio is the median of the",
        "per-round ratios to the baseline measured in the same round. Baseline `ping`:",
        "`benchmarks/ping.yml`, one `ping` task on the same inventory. Targets (issue 8): healthy",
        "`diagnose.yml` at most 2.5x the baseline, the framework alone at most 1.5x.",
        "",
        "## Healthy site",
        "",
        "| what | median | x ping | command |",
        "|---|---|---|---|",
    ]
    for name, cmd in commands().items():
        if name not in times:
            continue
        shown = " ".join(cmd[1:]).replace(str(ROOT) + "/", "")
        ratio = "1.00" if name == "ping" else f"{median_ratio(times[name], ping):.2f}"
        lines.append(f"| {name} | {statistics.median(times[name]):.2f} s | {ratio} | `ansible-playbook {shown}` |")
    if "framework" in times:
        lines += [
            "",
            "## Marginal cost of each category (healthy)",
            "",
            "| category | median over the framework alone |",
            "|---|---|",
        ]
        for category in categories():
            key = f"diagnose --tags {category}"
            if key in times:
                extra = statistics.median(x - y for x, y in zip(times[key], times["framework"], strict=True))
                lines.append(f"| {category} | {extra:+.2f} s |")
    if faults:
        lines += [
            "",
            "## Whole-site diagnose with one fault injected",
            "",
            "Each round: ping, then for each category `lab/bin/lab reset; lab/bin/fault inject <fault>`, unmeasured",
            "`diagnose.yml --tags <category>` until the fault shows, and the measured whole-site `diagnose.yml`,",
            "which must find the category's finding. Healthy: the `diagnose` row above.",
            "",
            "| category | fault | median | x ping | command |",
            "|---|---|---|---|---|",
        ]
        for category, secs in faults.items():
            if category == "ping":
                continue
            lines.append(
                f"| {category} | {FAULTS[category]} | {statistics.median(secs):.2f} s "
                f"| {median_ratio(secs, faults['ping']):.2f} "
                f"| `lab/bin/fault inject {FAULTS[category]}; "
                "ansible-playbook -i inventories/lab -e voicehive_target=lab playbooks/diagnose.yml` |"
            )
    if remediate:
        lines += [
            "",
            "## Remediation",
            "",
            "| what | median | command |",
            "|---|---|---|",
            f"| breaker-stuck-open injected -> reset, verified, reported | {statistics.median(remediate):.2f} s "
            "| `lab/bin/fault inject breaker-stuck-open; ansible-playbook -i inventories/lab -e voicehive_target=lab "
            "playbooks/remediate.yml --tags circuit_breakers` |",
        ]
    if scans:
        lines += ["", "## Redis SCAN", "", "| what | time | command |", "|---|---|---|", *scans]
    if limits:
        lines += [
            "",
            "## Redis at 1,000,000 keys (issue 16)",
            "",
            "50,000 sessions, 50,000 refresh tokens, 5,000 other clients' rate-limit counters and unrelated",
            "keys in the orchestrator's Redis (1,000,000 in all), rate-limit-legit injected. During each step a",
            "probe sends PING every 2 ms (its longest round trip: how long a client waited, plus this machine's",
            "scheduling) and SLOWLOG records every command over 1 ms (the longest: Redis's own figure). Medians",
            "of the rounds; the longest over all rounds.",
            "",
            "| step | median | longest PING | longest command | command |",
            "|---|---|---|---|---|",
            *limits,
        ]
    if many:
        lines += [
            "",
            "## Many sites (issue 16)",
            "",
            "The whole-site `diagnose.yml` on 1, 4 and 8 sites in one run. Site 1 is the lab site; the others share",
            "the lab's services, each with its own namespace (a copy of the lab site's objects). x ping: against",
            "`benchmarks/ping.yml` on the same sites in the same round; x 1 site: against the one-site diagnose.",
            "",
            "| sites | forks | median | ping, same sites | x ping | x 1 site | command |",
            "|---|---|---|---|---|---|---|",
            *many,
        ]
    lines += ["", "Raw seconds per round:", "", "```json", json.dumps({k: [round(x, 3) for x in v] for k, v in
              dict(times, remediate=remediate, **{f"faulted {k}": v for k, v in faults.items()}).items()},
              indent=1), "```", ""]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_RUNS", "7")))
    parser.add_argument("--only", nargs="*", default=[], help="measure only these rows (ping always)")
    parser.add_argument("--no-remediation", action="store_true")
    parser.add_argument("--no-faults", action="store_true", help="skip the whole-site diagnose with one fault each")
    parser.add_argument("--no-scan", action="store_true", help="skip the Redis SCAN figures")
    parser.add_argument("--no-sites", action="store_true", help="skip the 1, 4 and 8 sites figures")
    parser.add_argument("--no-redis-1m", action="store_true", help="skip the 1,000,000-key Redis figures")
    parser.add_argument("--no-write", action="store_true", help="print, do not rewrite benchmarks/results.md")
    args = parser.parse_args()
    if args.rounds < 5 and not args.no_write:
        sys.exit("bench: results.md needs at least 5 rounds")
    times = sweep(args.rounds, args.only)
    faults = {} if args.no_faults else faulted(args.rounds, args.only)
    remediate = [] if args.no_remediation else remediation(args.rounds)
    scans = [] if args.no_scan else script_rows("redis_scan.py")  # breaker discovery among many keys
    limits = [] if args.no_redis_1m else script_rows("redis_1m.py", "--rounds", str(args.rounds))
    many = [] if args.no_sites else script_rows("sites.py", "--rounds", str(args.rounds))
    text = render(times, faults, remediate, scans, limits, many, args.rounds)
    if args.no_write:
        print(text)
    else:
        old = RESULTS.read_text() if RESULTS.exists() else ""
        if KEPT in old:
            text = text.rstrip("\n") + "\n\n" + old[old.index(KEPT) :]
        RESULTS.write_text(text)
        print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
