# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""The VoiceHive orchestrator's rate-limit keys in Redis: parsing, reading and aggregating.

What the service writes (services/orchestrator/rate_limiter.py, rate_limit_middleware.py):

- ``rate_limit:{client_id}:{path}:{window}``: a sorted set of request timestamps (sliding window,
  the default algorithm; expires after the window), a hash ``tokens``/``last_refill`` (token bucket,
  expires after 3600 s), or a string counter;
- ``rate_limit:{client_id}:{path}:{window}:{window_start}``: a string counter (fixed window);
- the guide's form without a path, ``rate_limit:user:123:per_minute``;
- ``rate_limit:whitelist:{ip}`` and ``rate_limit:whitelist:{client_id}`` (``rate_limit:whitelist:user:123``)
  = ``true`` with a TTL: the allow-list; the service checks both for every request.

Client ids are ``ip:{addr}`` (IPv6 addresses contain colons), ``jwt:{id}``, ``apikey:{first 16 chars}``,
``internal:{service}`` and the guide's ``user:{id}``. Paths start with ``/``. Windows are named
``minute``/``hour``/``day`` by the service and ``per_minute``/``per_hour``/... by the guide.
"""

from __future__ import annotations

import ipaddress
import json
import re
import statistics
import typing as t
from collections import namedtuple

from ansible_collections.voicehive.remediation.plugins.module_utils._redis import escape_glob, parse_number, scan_keys

CLIENT_KINDS = ("ip", "jwt", "apikey", "internal", "user")
WINDOW_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
ALLOWLIST_VALUE = "true"
READ_BATCH = 1000  # keys per pipelined round trip when reading
INVALID_SAMPLE = 20  # malformed keys listed by name (the rest are only counted)
OVER_LIMIT_LIST = 1000  # client ids listed in ``over_limit`` (the rest are only counted)

_WINDOW_RE = re.compile(r"^(?:per_[a-z0-9_]+|second|minute|hour|day|week)$")
_DIGITS_RE = re.compile(r"^[0-9]+$")

RateLimitKey = namedtuple("RateLimitKey", ["client", "kind", "path", "window", "window_start"])


# ---------------------------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------------------------


def is_window(name: str) -> bool:
    """Whether ``name`` is a window name (``minute``, ``per_minute``, ``per_hour``, ...)."""
    return bool(_WINDOW_RE.match(name))


def window_seconds(name: str) -> int | None:
    """Length of a named window in seconds (``per_minute`` -> 60), ``None`` when unknown."""
    base = name[4:] if name.startswith("per_") else name
    return WINDOW_SECONDS.get(base)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_client(client: str) -> tuple[str, str]:
    """``"ip:10.0.0.5"`` -> ``("ip", "10.0.0.5")``. Raises ``ValueError`` with a message saying what is wrong.

    The kind must be one of ``CLIENT_KINDS``; an ``ip:`` client must carry an IPv4 or IPv6 address.
    """
    kind, sep, value = (client or "").partition(":")
    if not sep or kind not in CLIENT_KINDS:
        raise ValueError(f"client {client!r} must be <kind>:<id> with kind one of {', '.join(CLIENT_KINDS)}")
    if not value or value != value.strip():
        raise ValueError(f"client {client!r} has an empty id or one with surrounding blanks")
    if kind == "ip" and not _is_ip(value):
        raise ValueError(f"client {client!r}: {value!r} is not an IPv4 or IPv6 address")
    return kind, value


def allowlist_key(allowlist_prefix: str, client: str) -> str:
    """The allow-list key of a client: ``<prefix>:<addr>`` for an ``ip:`` client, ``<prefix>:<client>`` for the
    other kinds (``rate_limit:whitelist:user:123``)."""
    kind, _sep, value = client.partition(":")
    return f"{allowlist_prefix}:{value}" if kind == "ip" else f"{allowlist_prefix}:{client}"


def allowlist_client(name: str) -> str:
    """The client an allow-list key names from what follows its prefix: an IP address -> ``ip:<addr>``, a client
    id ``<kind>:<id>`` -> itself. Raises ``ValueError`` with a message saying what is wrong."""
    if _is_ip(name):
        return f"ip:{name}"
    try:
        parse_client(name)
    except ValueError as e:
        raise ValueError(f"allow-list key names neither an IP address nor a client id: {e}") from None
    return name


def _split_window(text: str) -> tuple[str, str, int | None] | None:
    """``"<head>:<window>"`` or ``"<head>:<window>:<start>"`` -> ``(head, window, start)``; ``None`` otherwise."""
    head, sep, last = text.rpartition(":")
    if not sep:
        return None
    if _DIGITS_RE.match(last):
        head, sep, window = head.rpartition(":")
        if not sep or not is_window(window):
            return None
        return head, window, int(last)
    if is_window(last):
        return head, last, None
    return None


def parse_key(key: str, prefix: str = "rate_limit") -> RateLimitKey | None:
    """Split a counter key into client, path, window and fixed-window start; ``None`` when it is not one.

    The client id ends where the path begins (``:/``; no client id contains ``:/``), so IPv6 addresses
    and ids with colons are kept whole. Without a path (the guide's ``rate_limit:user:123:per_minute``)
    the window is read from the end and ``path`` is ``None``.
    """
    head = f"{prefix}:"
    if not key.startswith(head):
        return None
    kind, sep, rest = key[len(head) :].partition(":")
    if not sep or kind not in CLIENT_KINDS:
        return None
    cut = rest.find(":/")
    if cut >= 0:
        value, tail = rest[:cut], rest[cut + 1 :]
        parsed = _split_window(tail)
        if parsed is None:
            return None
        path, window, start = parsed
    else:
        parsed = _split_window(rest)
        if parsed is None:
            return None
        value, window, start = parsed
        path = None
    if not value:
        return None
    return RateLimitKey(f"{kind}:{value}", kind, path, window, start)


def belongs_to(key: str, prefix: str, client: str) -> bool:
    """Whether ``key`` (found with ``SCAN MATCH <prefix>:<client>:*``) is one of ``client``'s own keys.

    The pattern also matches the keys of longer client ids that start the same way: IPv6 ``ip:::1``
    vs ``ip:::1:5``, ``internal:svc`` vs ``internal:svc:eu``. A key is ``client``'s when what follows
    ``<prefix>:<client>:`` is a path (``/...``), a window name (``per_minute``, ``minute:1700000040``), or
    a bare window start (the service's fixed-window key without a name) that does not extend an IPv6
    address into another valid one.
    """
    head = f"{prefix}:{client}:"
    if not key.startswith(head):
        return False
    tail = key[len(head) :]
    if tail.startswith("/"):
        return True
    first, _sep, rest = tail.partition(":")
    if is_window(first):
        return rest == "" or bool(_DIGITS_RE.match(rest))
    if _DIGITS_RE.match(first) and rest == "":
        kind, _sep, value = client.partition(":")
        return not (kind == "ip" and _is_ip(f"{value}:{first}"))
    return False


# ---------------------------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------------------------


def parse_counter(value: t.Any) -> int:
    """A counter string (``"42"``) -> 42. Raises ``ValueError`` for anything that is not a whole number."""
    if value is None or value == "":
        raise ValueError("empty value")
    number = parse_number(value, float)
    if number != int(number) or number < 0:
        raise ValueError(f"{value!r} is not a request count")
    return int(number)


def parse_tokens(value: t.Any) -> float:
    """Tokens left in a bucket: a number, or the middleware's JSON ``{"tokens": .., "last_refill": ..}``."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value).get("tokens")
        except (ValueError, AttributeError):
            raise ValueError("not a token bucket") from None
    if value is None or value == "":
        raise ValueError("no tokens field")
    return parse_number(value, float)


def _ttl(value: t.Any) -> int | None:
    if isinstance(value, Exception) or value is None:
        return None
    value = int(value)
    return None if value == -2 else value


def _server_time(reply: t.Any) -> float | None:
    try:
        seconds, micros = reply
        return int(seconds) + int(micros) / 1_000_000
    except (TypeError, ValueError):
        return None


def _count_requests(pipe: t.Any, key: str, prefix: str, server_time: float | None) -> None:
    """Queue the count of a sliding window: ``ZCOUNT`` over the window, ``ZCARD`` when its length is unknown."""
    parsed = parse_key(key, prefix)
    seconds = window_seconds(parsed.window) if parsed else None
    if seconds and server_time:
        pipe.zcount(key, server_time - seconds, "+inf")
    else:
        pipe.zcard(key)


def _wrong_type(reply: t.Any) -> bool:
    return isinstance(reply, Exception) and str(reply).startswith("WRONGTYPE")


def read_keys(
    client: t.Any, keys: t.Sequence[str], prefix: str, batch: int = READ_BATCH
) -> tuple[float | None, dict[str, dict[str, t.Any]]]:
    """Read ``keys`` pipelined, ``batch`` keys per round trip, with as few commands as their types allow.

    1. ``MGET`` of the batch and ``TTL`` of every key (and ``TIME``, once): strings are read, and a TTL
       of -2 means the key is gone.
    2. The other keys are counted as sliding-window sorted sets (the service's default): ``ZCOUNT`` of
       the requests inside the window by the server clock, ``ZCARD`` for a window of unknown length.
    3. Only the keys that are no sorted set either get a ``TYPE`` and an ``HGET tokens`` (token-bucket hash).

    Returns ``(server_time, read)`` with ``read[key] = {type, ttl, value, error}``: ``value`` is the string,
    the request count of a sorted set, or the tokens of a hash. Refused commands and wrong types are in
    ``error``, never raised; connection problems raise.
    """
    out: dict[str, dict[str, t.Any]] = {}
    server_time = None
    for start in range(0, len(keys), batch):
        chunk = list(keys[start : start + batch])
        pipe = client.pipeline(transaction=False)
        if start == 0:
            pipe.time()
        pipe.mget(chunk)
        for key in chunk:
            pipe.ttl(key)
        replies = pipe.execute(raise_on_error=False)
        if start == 0:
            server_time = _server_time(replies[0])
            replies = replies[1:]
        values, ttls = replies[0], replies[1:]
        second = []
        for i, (key, ttl) in enumerate(zip(chunk, ttls)):  # noqa: B905 - one reply per command; strict= needs Python 3.10
            entry = dict(type=None, ttl=_ttl(ttl), value=None, error=None)
            out[key] = entry
            if isinstance(values, Exception):
                entry["error"] = f"cannot read it: {values}"
            elif values[i] is not None:
                entry.update(type="string", value=values[i])
            elif ttl == -2:
                entry["type"] = "none"
            else:
                second.append(key)
        if not second:
            continue
        pipe = client.pipeline(transaction=False)
        for key in second:
            _count_requests(pipe, key, prefix, server_time)
        third = []
        for key, count in zip(second, pipe.execute(raise_on_error=False)):  # noqa: B905 - as above
            if _wrong_type(count):
                third.append(key)
            elif isinstance(count, Exception):
                out[key]["error"] = f"cannot read it: {count}"
            else:
                out[key].update(type="zset", value=count)
        if not third:
            continue
        pipe = client.pipeline(transaction=False)
        for key in third:
            pipe.type(key)
            pipe.hget(key, "tokens")
        replies = pipe.execute(raise_on_error=False)
        for i, key in enumerate(third):
            kind, tokens = replies[2 * i : 2 * i + 2]
            if isinstance(kind, Exception):
                out[key]["error"] = f"cannot read its type: {kind}"
                continue
            out[key]["type"] = kind
            if kind == "hash":
                if isinstance(tokens, Exception):
                    out[key]["error"] = f"cannot read it: {tokens}"
                else:
                    out[key]["value"] = tokens
    return server_time, out


def classify(
    read: dict[str, dict[str, t.Any]], prefix: str, allowlist_prefix: str
) -> tuple[list[dict[str, t.Any]], dict[str, int | None], list[dict[str, str]]]:
    """Sort what ``read_keys`` read into counter entries, the allow-list and malformed keys.

    Returns ``(entries, allowlist, invalid)``: ``entries`` one dict per counter key (``key``, ``client``,
    ``kind``, ``path``, ``window``, ``window_start``, ``algorithm``, ``requests``, ``tokens``, ``ttl``),
    ``allowlist`` ``{client: ttl}`` (``<prefix>:<ip>`` is client ``ip:<ip>``; of two keys of one client the
    longer TTL), ``invalid`` ``[{key, reason}]``. Keys that vanished meanwhile are left out. Never raises for
    a malformed key.
    """
    entries: list[dict[str, t.Any]] = []
    allowlist: dict[str, int | None] = {}
    invalid: list[dict[str, str]] = []
    allow_head = f"{allowlist_prefix}:"
    for key in sorted(read):
        got = read[key]
        if got["type"] == "none":
            continue  # expired or deleted since SCAN saw it
        if got["error"]:
            invalid.append(dict(key=key, reason=got["error"]))
            continue
        if key.startswith(allow_head) and len(key) > len(allow_head):
            try:
                who = allowlist_client(key[len(allow_head) :])
            except ValueError as e:
                invalid.append(dict(key=key, reason=str(e)))
                continue
            if got["type"] != "string":
                invalid.append(dict(key=key, reason=f"allow-list key holds a {got['type']}, expected a string"))
            elif str(got["value"]).strip().lower() != ALLOWLIST_VALUE:
                invalid.append(dict(key=key, reason=f"allow-list key holds {got['value']!r}, expected 'true'"))
            elif who in allowlist:
                allowlist[who] = _max_ttl(allowlist[who], got["ttl"])
            else:
                allowlist[who] = got["ttl"]
            continue
        parsed = parse_key(key, prefix)
        if parsed is None:
            invalid.append(
                dict(key=key, reason=f"not {prefix}:<client>:<path>:<window>[:<window_start>] with a known client kind")
            )
            continue
        entry = dict(parsed._asdict(), key=key, ttl=got["ttl"], requests=None, tokens=None)
        kind, value = got["type"], got["value"]
        bucket = kind == "hash" or (kind == "string" and str(value).lstrip().startswith("{"))
        try:
            if kind == "zset":
                entry.update(algorithm="sliding_window", requests=int(value))
            elif bucket:
                entry.update(algorithm="token_bucket", tokens=parse_tokens(value))
            elif kind == "string":
                algorithm = "fixed_window" if parsed.window_start is not None else "counter"
                entry.update(algorithm=algorithm, requests=parse_counter(value))
            else:
                invalid.append(
                    dict(key=key, reason=f"holds a {kind}, expected a counter, a sorted set or a token bucket")
                )
                continue
        except (TypeError, ValueError):
            what = "a token bucket without a numeric tokens field" if bucket else f"{value!r}, not a request count"
            invalid.append(dict(key=key, reason=f"holds {what}"))
            continue
        entries.append(entry)
    return entries, allowlist, invalid


# ---------------------------------------------------------------------------------------------
# the keys of a read
# ---------------------------------------------------------------------------------------------


def find_keys(
    client: t.Any,
    prefix: str,
    allowlist_prefix: str,
    scan_count: int = 1000,
    max_keys: int = 200000,
    wanted: t.Sequence[str] = (),
) -> tuple[list[str], bool]:
    """``(keys, truncated)``: the counter and allow-list keys, found with bounded ``SCAN`` ``MATCH`` calls.

    At most ``max_keys`` keys (``truncated`` then says so); the clients in ``wanted`` are then looked up with
    their own ``SCAN``, and their allow-list keys added, so they are reported in full.
    """
    found = scan_keys(client, f"{escape_glob(prefix)}:*", count=scan_count, limit=max_keys)
    keys, truncated = set(found.keys), found.truncated
    if not f"{allowlist_prefix}:".startswith(f"{prefix}:"):  # the allow-list lives elsewhere: scan it too
        if len(keys) < max_keys:
            more = scan_keys(client, f"{escape_glob(allowlist_prefix)}:*", count=scan_count, limit=max_keys - len(keys))
            keys.update(more.keys)
            truncated = truncated or more.truncated
        else:
            truncated = True
    if truncated:
        # the pass stopped early: look the wanted clients up on their own, so they are reported in full
        for who in wanted:
            mine = scan_keys(client, f"{escape_glob(prefix)}:{escape_glob(who)}:*", count=scan_count, limit=max_keys)
            keys.update(mine.keys)
            keys.add(allowlist_key(allowlist_prefix, who))
    return sorted(keys), truncated


def select_keys(
    candidates: t.Iterable[str],
    prefix: str,
    allowlist_prefix: str,
    max_keys: int = 200000,
    wanted: t.Sequence[str] = (),
) -> tuple[list[str], bool]:
    """``(keys, truncated)`` as ``find_keys`` returns them, from keys already known (the examined keys of a complete
    ``SCAN`` pass of the keyspace), without a command: those under either prefix, at most ``max_keys`` (the first
    in order) plus the wanted clients' own keys and allow-list keys."""
    heads = (f"{prefix}:", f"{allowlist_prefix}:")
    found = sorted(key for key in candidates if key.startswith(heads))
    if len(found) <= max_keys:
        return found, False
    keys = set(found[:max_keys])
    known = set(found)
    for who in wanted:
        head = f"{prefix}:{who}:"
        keys.update(key for key in found if key.startswith(head))
        allow = allowlist_key(allowlist_prefix, who)
        if allow in known:
            keys.add(allow)
    return sorted(keys), True


def read_usage(
    client: t.Any,
    prefix: str,
    allowlist_prefix: str,
    scan_count: int = 1000,
    max_keys: int = 200000,
    wanted: t.Sequence[str] = (),
    candidates: t.Iterable[str] | None = None,
) -> tuple[float | None, list[dict[str, t.Any]], dict[str, int | None], list[dict[str, str]], int, bool]:
    """Read and classify the rate-limit keys, ready for ``summarize_usage`` (run later, with the limits).

    The keys are taken from ``candidates`` (``select_keys``: keys already known, no ``SCAN``) or, when it is
    ``None``, found with ``find_keys``; then read pipelined (``read_keys``) and sorted (``classify``).
    Returns ``(server_time, entries, allowlist, invalid, keys_examined, truncated)``. Connection problems raise.
    """
    if candidates is None:
        keys, truncated = find_keys(client, prefix, allowlist_prefix, scan_count, max_keys, wanted)
    else:
        keys, truncated = select_keys(candidates, prefix, allowlist_prefix, max_keys, wanted)
    server_time, read = read_keys(client, keys, prefix)
    entries, allowlist, invalid = classify(read, prefix, allowlist_prefix)
    return server_time, entries, allowlist, invalid, len(keys), truncated


# ---------------------------------------------------------------------------------------------
# aggregation
# ---------------------------------------------------------------------------------------------


def _max_ttl(current: int | None, ttl: int | None) -> int | None:
    """Largest TTL; ``-1`` (no expiry) wins over any number."""
    if ttl is None:
        return current
    if current is None:
        return ttl
    if -1 in (current, ttl):
        return -1
    return max(current, ttl)


def _new_client(kind: str, exists: bool = True) -> dict[str, t.Any]:
    return dict(kind=kind, exists=exists, key_count=0, windows={}, paths={})


def _add(total: int | None, requests: int) -> int:
    return requests if total is None else total + requests


def _verdict(requests: int | None, tokens: float | None, limit: int | None) -> tuple[float | None, bool]:
    """``(utilisation, over_limit)`` of one window: at or over ``limit``, or an empty token bucket."""
    utilisation = round(requests / limit, 4) if limit and requests is not None else None
    over = (tokens is not None and tokens < 1) or (utilisation is not None and requests >= limit)
    return utilisation, over


def _window_order(name: str) -> tuple[int, str]:
    return (window_seconds(name) or 10**9, name)


def _finish_client(raw: dict[str, t.Any], limits: dict[str, int], top_paths: int) -> dict[str, t.Any]:
    """The reported entry of one client from its raw sums."""
    windows = {}
    over = []
    utilisations = []
    max_ttl = None
    for name in sorted(raw["windows"], key=_window_order):
        w = raw["windows"][name]
        max_ttl = _max_ttl(max_ttl, w["max_ttl"])
        entry = dict(requests=w["requests"], key_count=w["key_count"], paths=len(w["paths"]), max_ttl=w["max_ttl"])
        if w["tokens"] is not None:
            entry["tokens"] = w["tokens"]
        limit = limits.get(name)
        utilisation, over_limit = _verdict(w["requests"], w["tokens"], limit)
        if limit:
            entry["limit"] = limit
        if utilisation is not None:
            entry["utilisation"] = utilisation
            utilisations.append(utilisation)
        entry["over_limit"] = over_limit
        if over_limit:
            over.append(name)
        windows[name] = entry
    counted = [w["requests"] for w in windows.values() if w["requests"] is not None]
    paths = sorted(
        raw["paths"].items(),
        key=lambda item: (
            -max((n for n in item[1].values() if n is not None), default=0),
            item[0] is None,
            item[0] or "",
        ),
    )
    return dict(
        kind=raw["kind"],
        exists=raw["exists"],
        key_count=raw["key_count"],
        requests={name: w["requests"] for name, w in windows.items()},
        peak_requests=max(counted, default=0),
        utilisation=max(utilisations) if utilisations else None,
        windows=windows,
        paths=len([p for p in raw["paths"] if p is not None]),
        top_paths=[dict(path=path, requests=dict(sorted(counts.items()))) for path, counts in paths[:top_paths]],
        max_ttl=max_ttl,
        over_limit=bool(over),
        over_limit_windows=over,
    )


def _rank_key(client: str, windows: dict[str, list], limits: dict[str, int]) -> tuple:
    """Sort key of a client from its ``{window: [requests, tokens]}``: over the limit first, then the highest
    utilisation, then the largest window count, then the id."""
    over, utilisation, peak = False, -1.0, 0
    for name, (requests, tokens) in windows.items():
        ratio, over_limit = _verdict(requests, tokens, limits.get(name))
        over = over or over_limit
        if ratio is not None:
            utilisation = max(utilisation, ratio)
        if requests is not None:
            peak = max(peak, requests)
    return (not over, -utilisation, -peak, client)


def summarize_usage(
    entries: t.Sequence[dict[str, t.Any]],
    allowlist: dict[str, int | None],
    limits: dict[str, int] | None = None,
    top: int = 10,
    wanted: t.Sequence[str] = (),
    top_paths: int = 5,
) -> dict[str, t.Any]:
    """Usage per client and window from ``classify()``'s entries.

    Requests of a window are summed over the client's paths; of the fixed-window counters of one
    client, path and window only the newest window start counts (the older one is the previous window).
    A window with token buckets only has ``requests`` ``None`` (a bucket holds tokens left, not requests).
    Clients are ranked over limit first, then by utilisation (with ``limits``), then by their largest
    window count. ``clients`` holds the ``top`` ranked clients and every client in ``wanted``; only those
    get the full detail (a DDoS leaves hundreds of thousands of clients).
    """
    limits = dict(limits or {})
    latest: dict[tuple, int] = {}
    for e in entries:
        if e["window_start"] is not None:
            group = (e["client"], e["path"], e["window"])
            latest[group] = max(latest.get(group, e["window_start"]), e["window_start"])

    def counts(e: dict[str, t.Any]) -> bool:
        """Whether the entry's requests count: not the previous fixed window."""
        if e["requests"] is None:
            return False
        return e["window_start"] is None or e["window_start"] == latest[(e["client"], e["path"], e["window"])]

    # pass 1, every client: what ranking needs, {client: {window: [requests, tokens]}}
    sums: dict[str, dict[str, list]] = {}
    for e in entries:
        w = sums.setdefault(e["client"], {}).setdefault(e["window"], [None, None])
        if e["tokens"] is not None:
            w[1] = e["tokens"] if w[1] is None else min(w[1], e["tokens"])
        if counts(e):
            w[0] = _add(w[0], e["requests"])
    rank = {client: _rank_key(client, windows, limits) for client, windows in sums.items()}
    ranked = sorted(sums, key=rank.__getitem__)
    top_clients = ranked[:top]
    over_limit = [client for client in ranked if not rank[client][0]]
    per_window: dict[str, list[int]] = {}
    for windows in sums.values():
        for name, (requests, _tokens) in windows.items():
            if requests is not None:
                per_window.setdefault(name, []).append(requests)
    median_requests = {name: statistics.median(values) for name, values in sorted(per_window.items())}

    # pass 2, the reported clients only: the detail
    reported = list(top_clients) + [c for c in dict.fromkeys(wanted) if c not in top_clients]
    raw: dict[str, dict[str, t.Any]] = {c: _new_client(c.partition(":")[0], exists=c in sums) for c in reported}
    for e in entries:
        client = raw.get(e["client"])
        if client is None:
            continue
        client["key_count"] += 1
        w = client["windows"].setdefault(
            e["window"], dict(requests=None, key_count=0, paths=set(), max_ttl=None, tokens=None)
        )
        w["key_count"] += 1
        w["max_ttl"] = _max_ttl(w["max_ttl"], e["ttl"])
        if e["path"] is not None:
            w["paths"].add(e["path"])
        path_counts = client["paths"].setdefault(e["path"], {})
        path_counts.setdefault(e["window"], None)
        if e["tokens"] is not None:
            w["tokens"] = e["tokens"] if w["tokens"] is None else min(w["tokens"], e["tokens"])
        if counts(e):
            w["requests"] = _add(w["requests"], e["requests"])
            path_counts[e["window"]] = _add(path_counts[e["window"]], e["requests"])

    clients = {}
    for client in reported:
        entry = _finish_client(raw[client], limits, top_paths)
        clients[client] = dict(entry, allowlisted=client in allowlist, allowlist_ttl=allowlist.get(client))
    return dict(
        clients=clients,
        top_clients=top_clients,
        over_limit=over_limit[:OVER_LIMIT_LIST],
        over_limit_count=len(over_limit),
        clients_count=len(sums),
        median_requests=median_requests,
        allowlist=dict(sorted(allowlist.items())),
    )
