# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis at 1,000,000 keys (issue 16): the collection's SCAN-based reads and deletes beside the guide's KEYS.

Each round loads the lab's Redis (DB 0, the orchestrator's) to 1,000,000 keys: 50,000 sessions
(``session:*`` hashes), 50,000 refresh tokens, the counters of 5,000 other rate-limit clients and unrelated
keys for the rest; injects rate-limit-legit; then, one step after the other, while a probe thread sends PING
every 2 ms (the longest round trip in a step is how long Redis kept a client waiting, plus this machine's
scheduling) and SLOWLOG records every command over 1 ms (the longest is Redis's own figure):

- the guide's diagnosis, ``KEYS rate_limit:*``, and its session listing, ``KEYS session:*`` (the guide then
  FLUSHDBs, which would also drop breakers and rate limits; the collection never does);
- ``diagnose.yml --tags rate_limiting`` and ``remediate.yml --tags rate_limiting`` (the three trusted clients
  found over the limit and cleared);
- ``remediate.yml --tags authentication`` with ``clear_sessions`` approved and scope ``all``, Redis set to 95 %
  of its ``maxmemory`` (the finding that asks for it): every session and refresh token deleted by SCAN + UNLINK.

Checks every round that the trusted clients' counters are gone, every session and refresh token is gone and
nothing else was touched (the unrelated keys, the other clients' counters, the breakers). The loaded keys are
removed with SCAN + UNLINK and the lab is reset. Prints Markdown table rows (medians over the rounds).

    python benchmarks/redis_1m.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time

import redis
from _common import BIN, ROOT, run

PLAYBOOK = [str(BIN / "ansible-playbook"), "-i", "inventories/lab", "-e", "voicehive_target=lab"]
TOTAL = 1_000_000
SESSIONS = 50_000
OTHER_CLIENTS = 5_000
SLOW_US = 1_000
TRUSTED = ("ip:203.0.113.10", "user:123", "jwt:1")
CLEAR_ALL_SESSIONS = json.dumps(
    {"voicehive_approved_actions": ["clear_sessions"], "authentication_clear_sessions_scope": "all"}
)
STEPS = {
    "guide: KEYS rate_limit:*": "`redis-cli KEYS 'rate_limit:*'` (guide, Rate Limiting step 1)",
    "guide: KEYS session:*": "`redis-cli KEYS 'session:*'` (the sessions the guide's FLUSHDB would drop)",
    "diagnose --tags rate_limiting": "`ansible-playbook playbooks/diagnose.yml --tags rate_limiting`",
    "remediate --tags rate_limiting (3 clients cleared)": (
        "`ansible-playbook playbooks/remediate.yml --tags rate_limiting`"
    ),
    "remediate --tags authentication, clear_sessions scope all (100,000 keys deleted)": (
        "`ansible-playbook playbooks/remediate.yml --tags authentication -e '" + CLEAR_ALL_SESSIONS + "'`"
    ),
}


def count(client: redis.Redis, pattern: str) -> int:
    return sum(1 for _ in client.scan_iter(match=pattern, count=5000))


def load(client: redis.Redis) -> int:
    """Fill DB 0 up to TOTAL keys; returns how many unrelated keys were added."""
    unrelated = TOTAL - client.dbsize() - 2 * SESSIONS - OTHER_CLIENTS
    pipe = client.pipeline(transaction=False)
    for i in range(SESSIONS):
        pipe.hset(f"session:bench-{i}", mapping={"user_id": str(i), "created_at": "2026-12-07T00:00:00Z"})
        pipe.expire(f"session:bench-{i}", 3600)
        pipe.set(f"refresh_token:bench-{i}", f"bench-{i}", ex=3600)
        if i % 5_000 == 4_999:
            pipe.execute()
    for i in range(OTHER_CLIENTS):
        pipe.set(f"rate_limit:ip:10.9.{i // 250}.{i % 250}:/api/v1/calls:per_minute", 3, ex=3600)
    for i in range(unrelated):
        pipe.set(f"bench:unrelated:{i}", "x", ex=3600)
        if i % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()
    return unrelated


def unload(client: redis.Redis) -> None:
    for pattern in ("bench:unrelated:*", "rate_limit:ip:10.9.*", "session:bench-*", "refresh_token:bench-*"):
        batch = []
        for key in client.scan_iter(match=pattern, count=5000):
            batch.append(key)
            if len(batch) == 5000:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)


class Probe(threading.Thread):
    """PING every 2 ms; keeps the round trips in milliseconds."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(daemon=True)
        self.client, self.rtts, self.stop = client, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            t0 = time.perf_counter()
            self.client.ping()
            self.rtts.append((time.perf_counter() - t0) * 1000)
            self.stop.wait(0.002)


def step(client: redis.Redis, probe_client: redis.Redis, action) -> dict:
    """Times action() with the probe running; the longest PING and the longest SLOWLOG command meanwhile."""
    client.slowlog_reset()
    probe = Probe(probe_client)
    probe.start()
    t0 = time.perf_counter()
    action()
    elapsed = time.perf_counter() - t0
    probe.stop.set()
    probe.join()
    slow = [e for e in client.slowlog_get(1024) if not e["command"].startswith((b"SLOWLOG", b"slowlog"))]
    longest = max(slow, key=lambda e: e["duration"], default=None)
    return {
        "seconds": elapsed,
        "probe_max_ms": max(probe.rtts, default=0.0),
        "slowest": (longest["command"].decode(errors="replace").split(" ")[0].upper(), longest["duration"] / 1000)
        if longest
        else ("-", 0.0),
    }


def one_round(client: redis.Redis, probe_client: redis.Redis) -> dict:
    lab = str(ROOT / "lab" / "bin")
    run([f"{lab}/lab", "reset"])
    load(client)
    out: dict = {}
    try:
        run([f"{lab}/fault", "inject", "rate-limit-legit"])
        dbsize = client.dbsize()
        watched = ("bench:unrelated:*", "rate_limit:ip:10.9.*", "circuit_breaker:*")
        before = {p: count(client, p) for p in watched}
        old_threshold = client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
        client.config_set("slowlog-log-slower-than", SLOW_US)
        names = list(STEPS)
        out[names[0]] = step(client, probe_client, lambda: client.keys("rate_limit:*"))
        out[names[1]] = step(client, probe_client, lambda: client.keys("session:*"))
        out[names[2]] = step(
            client, probe_client, lambda: run([*PLAYBOOK, "playbooks/diagnose.yml", "--tags", "rate_limiting"])
        )
        out[names[3]] = step(
            client, probe_client, lambda: run([*PLAYBOOK, "playbooks/remediate.yml", "--tags", "rate_limiting"])
        )
        client.config_set("maxmemory", int(client.info("memory")["used_memory"] / 0.95))
        out[names[4]] = step(
            client,
            probe_client,
            lambda: run([*PLAYBOOK, "playbooks/remediate.yml", "--tags", "authentication", "-e", CLEAR_ALL_SESSIONS]),
        )
        client.config_set("maxmemory", 0)
        client.config_set("slowlog-log-slower-than", old_threshold)
        after = {p: count(client, p) for p in watched}
        left = {c: count(client, f"rate_limit:{c}:*") for c in TRUSTED}
        sessions_left = count(client, "session:*") + count(client, "refresh_token:*")
        problems = []
        if after != before:
            problems.append(f"other keys touched: before {before}, after {after}")
        if any(left.values()):
            problems.append(f"trusted clients' counters left: {left}")
        if sessions_left:
            problems.append(f"{sessions_left} sessions/refresh tokens left")
        out["dbsize"], out["problems"] = dbsize, problems
    finally:
        client.config_set("maxmemory", 0)
        unload(client)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    secrets = json.loads((ROOT / "lab" / ".state" / "secrets.json").read_text())
    kw = dict(host="127.0.0.1", port=16379, password=secrets["redis_password"], decode_responses=False)
    client, probe_client = redis.Redis(**kw), redis.Redis(**kw)
    rounds = []
    for r in range(args.rounds):
        rounds.append(one_round(client, probe_client))
        shown = ", ".join(f"{k[:30]} {v['seconds']:.2f}s" for k, v in rounds[-1].items() if isinstance(v, dict))
        print(f"# round {r + 1}/{args.rounds}: {shown}", file=sys.stderr, flush=True)
    run([str(ROOT / "lab" / "bin" / "lab"), "reset"])
    cmd = f"`python benchmarks/redis_1m.py --rounds {args.rounds}`"
    for name, how in STEPS.items():
        figures = [r[name] for r in rounds]
        slowest = max((f["slowest"] for f in figures), key=lambda s: s[1])
        print(
            f"| {name} | {statistics.median(f['seconds'] for f in figures):.3f} s "
            f"| {max(f['probe_max_ms'] for f in figures):.1f} ms "
            f"| {slowest[0]} {slowest[1]:.1f} ms | {how} |"
        )
    broken = [p for r in rounds for p in r["problems"]]
    print(f"| untouched: unrelated keys, other clients' counters, breakers; all sessions gone | "
          f"{'yes' if not broken else 'NO'} | | | {cmd}, {rounds[0]['dbsize']:,} keys |")  # fmt: skip
    if broken:
        sys.exit(f"redis_1m: failed: {broken}")


if __name__ == "__main__":
    main()
