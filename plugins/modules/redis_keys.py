#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_keys
short_description: Delete Redis keys by glob pattern, safely (bounded SCAN, batched UNLINK)
version_added: 0.1.0
description:
  - Deletes the keys that match glob-style O(patterns), for example V(session:*) and
    V(refresh_token:*) to log every user out without C(FLUSHDB), which would also wipe the circuit
    breakers and the rate limits.
  - Every pattern must start with a literal prefix of at least three characters before its first
    glob character (C(*), C(?), C([)); V(*), V(*session*) and V(s*) are refused before Redis is
    touched.
  - The keys are found with C(SCAN) C(MATCH) (never C(KEYS)) and counted per pattern, and with
    O(types) their types are read (C(TYPE), pipelined). When more than O(max_keys) keys match, the
    task fails before deleting anything. Otherwise the keys are deleted with C(UNLINK), O(batch_size)
    keys per pipelined round trip (C(DEL) when the server refuses C(UNLINK)), and the patterns are
    counted again.
  - Key names are never returned, since session and token ids are secrets; RV(sample) gives a few
    fingerprints instead.
  - A second run finds nothing to delete and reports no change.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.redis
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    details: Scans and counts (and reads the types), deletes nothing; RV(to_delete) says what would go.
  diff_mode:
    support: full
    details: The diff shows the number of matching keys per pattern before and after, never key names.
options:
  patterns:
    description:
      - Glob-style patterns (as C(SCAN MATCH) takes them) of the keys to delete.
      - Each must start with at least three literal characters before its first C(*), C(?) or C([).
        A backslash makes the next character literal.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(absent) deletes the matching keys. No other state exists yet.
    type: str
    choices: [absent]
    default: absent
  types:
    description:
      - Only delete matching keys of these Redis types; by default every type is deleted.
      - For example V([string, list]) with O(patterns=[session:*]) deletes only malformed sessions
        (a session is a hash) and keeps the valid ones.
    type: list
    elements: str
    choices: [string, list, set, zset, hash, stream]
  max_keys:
    description:
      - Fail, before deleting anything, when more keys than this match the patterns (all types
        counted). The message says how many matched; raise O(max_keys) to delete them anyway.
    type: int
    default: 100000
  batch_size:
    description:
      - Keys deleted per pipelined round trip (one C(UNLINK) per key).
    type: int
    default: 500
  scan_count:
    description:
      - C(COUNT) hint of every C(SCAN) call (keys examined per call).
    type: int
    default: 1000
notes:
  - Keys created while the task runs (new logins) may or may not be deleted, and are counted in
    RV(remaining).
  - With O(types), a key whose type changes between the C(TYPE) read and the delete is deleted as read.
seealso:
  - module: voicehive.remediation.rate_limit
"""

EXAMPLES = r"""
- name: Log every user out (delete sessions and refresh tokens, keep breakers and rate limits)
  voicehive.remediation.redis_keys:
    url: "{{ voicehive_redis_url }}"
    patterns:
      - "session:*"
      - "refresh_token:*"
  register: __authentication_sessions_cleared

- name: Show how many sessions were deleted
  ansible.builtin.debug:
    msg: >-
      Deleted {{ __authentication_sessions_cleared.deleted }} keys,
      left: {{ __authentication_sessions_cleared.remaining }}

- name: Delete only malformed sessions (sessions are hashes)
  voicehive.remediation.redis_keys:
    host: 127.0.0.1
    port: 16379
    password: "{{ voicehive_redis_password }}"
    patterns: ["session:*"]
    types: [string, list, set, zset, stream]
  register: __authentication_malformed_sessions

- name: Count what would be deleted, and fail beyond 500000 keys
  voicehive.remediation.redis_keys:
    url: "{{ voicehive_redis_url }}"
    patterns: ["session:*", "refresh_token:*"]
    max_keys: 500000
  check_mode: true
  register: __authentication_sessions_dry_run
"""

RETURN = r"""
matched:
  description: Number of keys that matched each pattern before anything was deleted (all types).
  returned: always
  type: dict
  sample: {"session:*": 1204, "refresh_token:*": 1187}
matched_types:
  description: Per pattern, the number of matching keys of each Redis type.
  returned: when O(types) is set
  type: dict
  sample: {"session:*": {hash: 1200, string: 4}}
to_delete:
  description:
    - Number of keys selected for deletion (matching, and of one of O(types) when set).
    - In check mode, the number that would be deleted.
  returned: always
  type: int
  sample: 2391
deleted:
  description: Number of keys deleted; V(0) in check mode.
  returned: always
  type: int
  sample: 2391
remaining:
  description:
    - Number of keys matching each pattern after the run, counted again with C(SCAN); in check mode,
      the matching keys that would be kept.
  returned: always
  type: dict
  sample: {"session:*": 0, "refresh_token:*": 0}
command:
  description:
    - The delete command used, V(UNLINK), or V(DEL) when the server refused C(UNLINK).
    - V(null) when nothing was deleted.
  returned: always
  type: str
  sample: UNLINK
sample:
  description:
    - Per pattern, up to five fingerprints C(<prefix>#<first 10 hex of sha256(key)>) of keys selected
      for deletion, so runs can be compared without showing session or token ids.
  returned: always
  type: dict
  sample: {"session:*": ["session:#3f1c0a9b2e"]}
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: "Deleted 2391 keys matching session:*, refresh_token:*"
diff:
  description: Number of matching keys per pattern, before and after.
  returned: when diff mode is on
  type: dict
  sample: {before: {"session:*": 1204}, after: {"session:*": 0}}
"""

from ansible_collections.voicehive.remediation.plugins.module_utils._redis import (
    RedisError,
    RedisModule,
    connect,
    delete_batches,
    key_fingerprint,
    redis_error_message,
    redis_target,
)

GLOB_CHARS = "*?["
MIN_PREFIX = 3
SAMPLE = 5
DOING = "Cannot delete keys from"


def argument_spec():
    return dict(
        patterns=dict(type="list", elements="str", required=True),
        state=dict(type="str", choices=["absent"], default="absent"),
        types=dict(type="list", elements="str", choices=["string", "list", "set", "zset", "hash", "stream"]),
        max_keys=dict(type="int", default=100000, no_log=False),
        batch_size=dict(type="int", default=500),
        scan_count=dict(type="int", default=1000),
    )


def literal_prefix(pattern):
    """The characters of ``pattern`` before its first glob character (backslash escapes unescaped)."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
            continue
        if char in GLOB_CHARS:
            break
        out.append(char)
        i += 1
    return "".join(out)


def pattern_problem(pattern):
    """Why ``pattern`` is refused, or ``None``."""
    prefix = literal_prefix(pattern)
    if len(prefix) < MIN_PREFIX:
        return (
            f"pattern {pattern!r} is too broad: it needs at least {MIN_PREFIX} literal characters before its "
            f"first glob character (*, ? or [), for example 'session:*'"
        )
    return None


def fail(module, reason, **extra):
    extra.setdefault("changed", False)
    module.fail_json(msg=f"{DOING} Redis at {redis_target(module.params)}: {reason}", **extra)


def check_params(module):
    params = module.params
    patterns = params["patterns"] or []
    if not patterns:
        fail(module, "patterns must list at least one pattern")
    problems = [p for p in (pattern_problem(pattern) for pattern in patterns) if p]
    if problems:
        fail(module, "; ".join(problems) + "; nothing was deleted")
    for option in ("max_keys", "batch_size", "scan_count"):
        if params[option] < 1:
            fail(module, f"{option} must be at least 1, got {params[option]}")
    if params["types"] is not None and not params["types"]:
        fail(module, "types must not be an empty list (leave it unset to delete keys of every type)")


def scan_pattern(client, pattern, count, keep):
    """``(keys, n)``: the distinct keys matching ``pattern`` (``None`` once more than ``keep``) and their number.

    Beyond ``keep`` keys the names are dropped and the scan only counts on (a key SCAN returns twice
    is then counted twice), so the caller can say how many keys match without holding them all.
    """
    keys = set()
    counted = 0
    cursor = 0
    while True:
        cursor, batch = client.scan(cursor=cursor, match=pattern, count=count)
        if keys is None:
            counted += len(batch)
        else:
            keys.update(batch)
            if len(keys) > keep:
                counted = len(keys)
                keys = None
        if int(cursor) == 0:
            break
    return (keys, len(keys)) if keys is not None else (None, counted)


def read_types(client, keys, batch_size):
    """``{key: type}`` of ``keys`` (pipelined TYPE, ``batch_size`` per round trip); vanished keys left out."""
    types = {}
    for start in range(0, len(keys), batch_size):
        batch = keys[start : start + batch_size]
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.type(key)
        for key, kind in zip(batch, pipe.execute(raise_on_error=False)):  # noqa: B905 - one reply per command; strict= needs Python 3.10
            if isinstance(kind, Exception):
                raise kind
            if kind != "none":
                types[key] = kind
    return types


def run_module(module, client):
    check_params(module)
    params = module.params
    patterns = list(dict.fromkeys(params["patterns"]))
    wanted_types = set(params["types"] or [])
    result = dict(changed=False, matched={}, to_delete=0, deleted=0, remaining={}, command=None, sample={})
    deleted, deleting = 0, False

    try:
        client.ping()
        members = {}  # pattern -> its keys
        for pattern in patterns:
            keys, n = scan_pattern(client, pattern, params["scan_count"], params["max_keys"])
            result["matched"][pattern] = n
            members[pattern] = keys
        if any(keys is None for keys in members.values()):
            total = sum(result["matched"].values())
        else:
            total = len(set().union(*members.values()))
        if total > params["max_keys"]:
            counts = ", ".join(f"{pattern}: {n}" for pattern, n in result["matched"].items())
            fail(
                module,
                f"{total} keys match ({counts}), more than max_keys={params['max_keys']}; nothing was deleted. "
                f"Check the patterns, or set max_keys to at least {total} to delete them all",
                **result,
            )

        ordered = sorted(set().union(*members.values()))
        if wanted_types:
            types = read_types(client, ordered, params["batch_size"])
            result["matched_types"] = {pattern: _count_types(types, members[pattern]) for pattern in patterns}
            selected = [key for key in ordered if types.get(key) in wanted_types]
        else:
            selected = ordered
        chosen = set(selected)
        result["to_delete"] = len(selected)
        for pattern in patterns:
            prefix = literal_prefix(pattern)
            mine = sorted(key for key in members[pattern] if key in chosen)[:SAMPLE]
            result["sample"][pattern] = sorted(key_fingerprint(key, prefix) for key in mine)

        if module.check_mode:
            for pattern in patterns:
                result["remaining"][pattern] = len(members[pattern]) - len(members[pattern] & chosen)
        else:
            deleting = True
            for command, n in delete_batches(client, selected, params["batch_size"]):
                result["command"] = command
                deleted += n
            result["deleted"] = deleted
            for pattern in patterns:
                _keys, n = scan_pattern(client, pattern, params["scan_count"], params["max_keys"])
                result["remaining"][pattern] = n
    except (RedisError, OSError) as e:
        message = redis_error_message(params, e, DOING)
        if deleting:
            message += f"; {deleted} of {result['to_delete']} keys were deleted before the error"
            result.update(deleted=deleted, changed=deleted > 0)
        module.fail_json(msg=message, **result)

    result["changed"] = (result["to_delete"] > 0) if module.check_mode else (result["deleted"] > 0)
    described = ", ".join(patterns)
    if module.check_mode and result["to_delete"]:
        result["msg"] = f"Would delete {result['to_delete']} keys matching {described}"
    elif result["changed"]:
        result["msg"] = f"Deleted {result['deleted']} keys matching {described}"
    elif wanted_types and sum(result["matched"].values()):
        result["msg"] = f"No key of type {', '.join(sorted(wanted_types))} matches {described}"
    else:
        result["msg"] = f"No key matches {described}"
    if module._diff:
        result["diff"] = dict(before=dict(result["matched"]), after=dict(result["remaining"]))
    module.exit_json(**result)


def _count_types(types, keys):
    counts = {}
    for key in keys:
        kind = types.get(key)
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def main():
    module = RedisModule(argument_spec=argument_spec(), supports_check_mode=True)
    client = connect(module)
    run_module(module, client)


if __name__ == "__main__":
    main()
