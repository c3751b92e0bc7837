"""Guide: Rate Limiting Issues — Legitimate Traffic Being Rate Limited."""

from __future__ import annotations

from typing import Any

from .base import Context, Fault

# a hotel's front-desk office and one staff user, both legitimate, both over the per-minute limit
OFFICE_IP = "203.0.113.10"
COUNTERS = {
    f"rate_limit:ip:{OFFICE_IP}:/api/v1/hotels/hotel-001:per_minute": 240,
    f"rate_limit:ip:{OFFICE_IP}:/api/v1/calls:per_minute": 180,
    "rate_limit:user:123:per_minute": 150,
    "rate_limit:jwt:1:/api/v1/calls:per_minute": 130,
}
TTL = 900  # stuck windows (a real per-minute window would roll over; these do not for 15 min)


class LegitTrafficLimited(Fault):
    name = "rate-limit-legit"
    summary = f"a hotel office ({OFFICE_IP}) and user 123 over the per-minute limit in Redis for 15 min"
    guide = "Rate Limiting Issues / Legitimate Traffic Being Rate Limited"

    def inject(self, ctx: Context) -> dict[str, Any]:
        r = ctx.redis()
        pipe = r.pipeline()
        for key, value in COUNTERS.items():
            pipe.set(key, value, ex=TTL)
        pipe.execute()
        return {"keys": list(COUNTERS)}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        r = ctx.redis()
        doomed = set(COUNTERS)
        for pattern in (f"rate_limit:ip:{OFFICE_IP}:*", "rate_limit:user:123:*", "rate_limit:jwt:1:*"):
            doomed.update(r.scan_iter(match=pattern, count=500))
        doomed.update({f"rate_limit:whitelist:{OFFICE_IP}", "rate_limit:whitelist:user:123"})
        r.delete(*doomed)

    def active(self, ctx: Context) -> bool:
        values = ctx.redis().mget(list(COUNTERS))
        return any(v is not None and int(v) > 60 for v in values)


# a scraper walking the hotel API from an address nobody vouches for: over the limit on many paths
SCRAPER_IP = "198.51.100.99"
SCRAPED_PATHS = 30
SCRAPER_REQUESTS = 200  # per path and minute, against the default 60


def scraper_counters() -> dict[str, int]:
    return {
        f"rate_limit:ip:{SCRAPER_IP}:/api/v1/hotels/hotel-{n:03d}:per_minute": SCRAPER_REQUESTS
        for n in range(1, SCRAPED_PATHS + 1)
    }


class AbusiveClient(Fault):
    name = "rate-limit-abuse"
    summary = f"a scraper ({SCRAPER_IP}) over the per-minute limit on {SCRAPED_PATHS} paths in Redis for 15 min"
    guide = "Rate Limiting Issues / Legitimate Traffic Being Rate Limited (check for DDoS or abuse)"

    def inject(self, ctx: Context) -> dict[str, Any]:
        r = ctx.redis()
        pipe = r.pipeline()
        for key, value in scraper_counters().items():
            pipe.set(key, value, ex=TTL)
        pipe.execute()
        return {"keys": SCRAPED_PATHS}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        r = ctx.redis()
        doomed = set(r.scan_iter(match=f"rate_limit:ip:{SCRAPER_IP}:*", count=500))
        doomed.add(f"rate_limit:whitelist:{SCRAPER_IP}")
        r.delete(*doomed)

    def active(self, ctx: Context) -> bool:
        values = ctx.redis().mget(list(scraper_counters()))
        return sum(1 for v in values if v is not None and int(v) > 60) == SCRAPED_PATHS


FAULTS = [LegitTrafficLimited(), AbusiveClient()]
