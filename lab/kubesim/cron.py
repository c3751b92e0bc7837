"""Standard cron schedules (the 5-field syntax and the ``@hourly``-style macros CronJobs accept)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
NAMES = [
    {},
    {},
    {},
    {
        m: i + 1
        for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))
    },
    {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
]


class CronError(ValueError):
    """An unparsable schedule."""


def _value(text: str, idx: int) -> int:
    text = text.lower()
    if text in NAMES[idx]:
        return NAMES[idx][text]
    if not text.isdigit():
        raise CronError(f"failed to parse int from {text}: strconv.Atoi: parsing {text!r}: invalid syntax")
    value = int(text)
    if idx == 4 and value == 7:
        value = 0
    lo, hi = FIELDS[idx]
    if not lo <= value <= hi:
        raise CronError(f"end of range ({value}) above maximum ({hi}): {text}")
    return value


def _field(text: str, idx: int) -> set[int]:
    lo, hi = FIELDS[idx]
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"invalid step {step_text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, idx), _value(b, idx)
        else:
            start = _value(part, idx)
            end = hi if step > 1 else start
        if start > end:
            raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {part}")
        out.update(range(start, end + 1, step))
    return out


def parse_cron(schedule: str) -> tuple[set[int], ...]:
    """Minutes, hours, days of month, months, days of week (a ``CronError`` when invalid)."""
    text = schedule.strip()
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        raise CronError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    text = MACROS.get(text.lower(), text)
    if text.startswith("@every "):
        raise CronError("@every is not supported by CronJobs")
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(parts)}: {schedule}")
    return tuple(_field(p, i) for i, p in enumerate(parts))


def zone(name: str | None) -> dt.tzinfo:
    """The IANA time zone of a CronJob's ``timeZone`` (UTC when unset); ``CronError`` like Go's LoadLocation."""
    if not name:
        return dt.UTC
    if name.lower() == "local" or name.startswith("/") or ".." in name.split("/"):
        raise CronError(f"unknown time zone {name}")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise CronError(f"unknown time zone {name}") from None


def next_after(schedule: str, after: dt.datetime, tz: dt.tzinfo | None = None) -> dt.datetime:
    """The first scheduled minute strictly after ``after``, the schedule read in ``tz`` (UTC); returned in UTC.

    Wall-clock times that do not exist in ``tz`` (a daylight-saving gap) are skipped.
    """
    minutes, hours, doms, months, dows = parse_cron(schedule)
    dom_star = schedule.split()[2:3] in (["*"], ["?"]) if not schedule.startswith("@") else True
    dow_star = schedule.split()[4:5] in (["*"], ["?"]) if not schedule.startswith("@") else schedule != "@weekly"
    place = tz or dt.UTC
    when = after.astimezone(place).replace(tzinfo=None, second=0, microsecond=0) + dt.timedelta(minutes=1)
    for _ in range(366 * 24 * 60 * 5):
        if when.month not in months:
            when = (when.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
            continue
        dow = (when.weekday() + 1) % 7
        day_ok = (when.day in doms and dow in dows) if dom_star or dow_star else (when.day in doms or dow in dows)
        if not day_ok:
            when = when.replace(hour=0, minute=0) + dt.timedelta(days=1)
            continue
        if when.hour not in hours:
            when = when.replace(minute=0) + dt.timedelta(hours=1)
            continue
        if when.minute not in minutes:
            when += dt.timedelta(minutes=1)
            continue
        utc = when.replace(tzinfo=place).astimezone(dt.UTC)
        if utc.astimezone(place).replace(tzinfo=None) != when or utc <= after:
            when += dt.timedelta(minutes=1)  # not a wall-clock time of this zone (DST gap), or not after
            continue
        return utc
    raise CronError(f"no time matches {schedule}")


def most_recent(
    schedule: str, earliest: dt.datetime, now: dt.datetime, tz: dt.tzinfo | None = None
) -> tuple[dt.datetime | None, int]:
    """The latest scheduled time in (earliest, now] and how many were missed, as the CronJob controller reckons.

    Like mostRecentScheduleTime: the count is the elapsed time over the first interval (an approximation for
    irregular schedules), and the latest time is found from one interval before the estimate.
    """
    t1 = next_after(schedule, earliest, tz)
    if now < t1:
        return None, 0
    t2 = next_after(schedule, t1, tz)
    if now < t2:
        return t1, 1
    interval = round((t2 - t1).total_seconds())
    missed = int((now - t1).total_seconds()) // interval + 1
    latest = None
    when = t1 + dt.timedelta(seconds=(missed - 2) * interval)
    while True:
        when = next_after(schedule, when, tz)
        if when > now:
            break
        latest = when
    return latest, missed
