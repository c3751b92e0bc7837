# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long reading breakers takes on a Redis with many keys.

Loads N unrelated keys into a throw-away DB (15) of the lab's primary Redis and
times (1) circuit_breaker_info's discovery (SCAN MATCH on the breaker prefix)
and (2) the site read's whole Redis read (INFO, one bounded SCAN pass counting
every key family, the breakers), printing a Markdown table row per size. The
DB is flushed afterwards; the lab's DB 0 is never touched.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.voicehive.remediation.plugins.module_utils import _redis  # noqa: E402

FAMILIES = {"sessions": "session:", "rate_limits": "rate_limit:", "circuit_breakers": "circuit_breaker:"}


def main() -> None:
    secrets = json.loads((ROOT / "lab" / ".state" / "secrets.json").read_text())
    client = redis.Redis(host="127.0.0.1", port=16379, db=15, password=secrets["redis_password"], decode_responses=True)
    for size in (1_000, 10_000, 100_000):
        client.flushdb()
        pipe = client.pipeline(transaction=False)
        for i in range(size):
            pipe.set(f"rate_limit:ip:10.0.{i // 250}.{i % 250}:/api/v1/hotels:per_minute", 1, ex=600)
            if i % 5000 == 4999:
                pipe.execute()
        for name in ("pms_connector", "tts_service", "apaleo_api"):
            pipe.set(f"circuit_breaker:{name}:state", "open", ex=3600)
        pipe.execute()
        t0 = time.perf_counter()
        result = _redis.scan_keys(client, "circuit_breaker:*", count=1000, limit=10_000)
        keys, truncated = result.keys, result.truncated
        elapsed = time.perf_counter() - t0
        print(
            f"| SCAN discovery of 3 breakers among {size:,} keys (count=1000) | {elapsed * 1000:.1f} ms "
            f"| `python benchmarks/redis_scan.py` (found {len(keys)}, truncated={truncated}) |"
        )
        t0 = time.perf_counter()
        read = _redis.read_site(client, db=15, families=FAMILIES, scan_count=1000, max_keys=20_000)
        elapsed = time.perf_counter() - t0
        print(
            f"| site read of Redis among {size:,} keys (INFO, one SCAN pass, breakers) | {elapsed * 1000:.1f} ms "
            f"| `python benchmarks/redis_scan.py` (examined {read['scan']['examined']:,}, "
            f"complete={read['scan']['complete']}, open={len(read['breakers']['open'])}) |"
        )
    client.flushdb()


if __name__ == "__main__":
    main()
