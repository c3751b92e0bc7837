#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: circuit_breaker
short_description: Reset or force open the VoiceHive orchestrator's circuit breakers in Redis
version_added: 0.1.0
description:
  - Closes (resets) or opens the Redis-backed circuit breakers of the VoiceHive orchestrator,
    the keys C(<key_prefix>:<name>:state) (string) and C(<key_prefix>:<name>:stats) (hash).
  - O(state=closed) does exactly what the service's own reset does. The state key is set to
    V(closed) with an expiry of O(ttl) seconds, and the stats fields C(failure_count),
    C(success_count), C(last_failure_time) and C(last_success_time) are set to V(0). The totals
    (C(total_requests), C(total_failures), C(total_successes)) are kept. The stats hash keeps its
    expiry, or gets O(ttl) when it has none.
  - O(state=open) forces breakers open, for maintenance of the dependency behind them. The state
    key is set to V(open) with an expiry of O(ttl) seconds and C(last_failure_time) is set to the
    Redis server's clock, so the service counts its recovery timeout (C(recovery_timeout), 60
    seconds by default) from now rather than from an older failure. Counters and totals are kept.
  - Only what differs is written. A breaker already in the wanted state is left alone and the task
    reports no change; a missing state key counts as V(closed). A closed breaker keeps its
    counters unless O(reset_closed=true), because the service updates them with every call.
  - All targets are read and validated first; nothing is written when any of them is unknown
    or has a key of the wrong type. The writes then run in one C(MULTI)/C(EXEC) transaction,
    guarded by C(WATCH) on the keys read, and are retried (up to three times) when the
    orchestrator changes a key in between.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.redis
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    details: Reads the breakers and returns RV(commands) that would run, writes nothing.
  diff_mode:
    support: full
    details: The diff shows the exact keys and hash fields that change.
options:
  names:
    description:
      - Names of the breakers to change, for example V(pms_connector) or V(apaleo_auth).
      - Mutually exclusive with O(all_open); one of the two is required.
    type: list
    elements: str
  all_open:
    description:
      - Change every breaker whose state key holds V(open), found with a bounded C(SCAN).
      - Only with O(state=closed). V(false) is the same as not setting it.
      - Mutually exclusive with O(names); one of the two is required.
    type: bool
  state:
    description:
      - V(closed) resets the breakers the way the service does; V(open) forces them open.
    type: str
    required: true
    choices: [closed, open]
  create:
    description:
      - By default a name that has neither a state key nor a stats key in Redis is refused as an
        unknown breaker (most likely a typo), before anything is written.
      - Set to V(true) to accept such names. Closing one is then a no-op (no key means closed),
        opening one creates its keys.
    type: bool
    default: false
  reset_closed:
    description:
      - With O(state=closed), also reset the counters (C(failure_count), C(success_count),
        C(last_failure_time), C(last_success_time)) of breakers that are already closed.
      - By default an already closed breaker is not touched. Its counters move with live
        traffic, so resetting them would report a change on every run.
    type: bool
    default: false
  key_prefix:
    description:
      - Prefix of the breaker keys. The orchestrator uses V(circuit_breaker).
    type: str
    default: circuit_breaker
  ttl:
    description:
      - Expiry in seconds of the state key written, and of the stats hash when it has none.
      - The orchestrator uses V(3600).
    type: int
    default: 3600
  scan_count:
    description:
      - C(COUNT) hint of every C(SCAN) call, with O(all_open=true).
    type: int
    default: 500
  max_keys:
    description:
      - With O(all_open=true), stop scanning after this many state keys (a warning says so).
    type: int
    default: 10000
notes:
  - The service also keeps each breaker's state in the memory of every orchestrator pod.
    Whether a pod picks up a reset at once depends on the service; verify through
    C(/health/database/circuit-breakers) or the C(voicehive_circuit_breaker_state) metric,
    and restart the orchestrator if it does not.
seealso:
  - module: voicehive.remediation.circuit_breaker_info
"""

EXAMPLES = r"""
- name: Reset open circuit breaker pms_connector
  voicehive.remediation.circuit_breaker:
    url: "{{ voicehive_redis_url }}"
    names: [pms_connector]
    state: closed
  register: __circuit_breakers_reset

- name: Reset every open circuit breaker
  voicehive.remediation.circuit_breaker:
    url: "{{ voicehive_redis_url }}"
    all_open: true
    state: closed
  register: __circuit_breakers_reset

- name: Show what was reset
  ansible.builtin.debug:
    msg: "{{ __circuit_breakers_reset.changed_breakers }} via {{ __circuit_breakers_reset.commands }}"

- name: Force the Apaleo breakers open during Apaleo maintenance
  voicehive.remediation.circuit_breaker:
    host: 127.0.0.1
    port: 16379
    password: "{{ voicehive_redis_password }}"
    names: [apaleo_auth, apaleo_api]
    state: open
    ttl: 1800
  register: __circuit_breakers_opened
"""

RETURN = r"""
changed_breakers:
  description: Names of the breakers that were (in check mode, would be) changed, sorted.
  returned: always
  type: list
  elements: str
  sample: [pms_connector]
breakers:
  description:
    - Every targeted breaker, by name, with its state and reset fields before and after and
      whether it changed. Numbers are returned as numbers when they parse as such.
  returned: always
  type: dict
  sample:
    pms_connector:
      changed: true
      before:
        state: open
        failure_count: 5
        success_count: 0
        last_failure_time: 1795852800.25
        last_success_time: 1795852700.0
      after:
        state: closed
        failure_count: 0
        success_count: 0
        last_failure_time: 0
        last_success_time: 0
commands:
  description:
    - The Redis commands executed (in check mode, that would be executed), in order. They run
      inside one C(MULTI)/C(EXEC) transaction.
  returned: always
  type: list
  elements: str
  sample:
    - SET circuit_breaker:pms_connector:state closed EX 3600
    - HSET circuit_breaker:pms_connector:stats failure_count 0 last_failure_time 0 last_success_time 0
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: "Closed 1 circuit breaker: pms_connector"
diff:
  description:
    - With C(--diff), the keys that change, before and after. A string key is shown as
      C({value, ttl}), a hash as C({fields, ttl}) with only the fields that change; V(null)
      means the key does not exist.
  returned: when diff mode is on
  type: dict
  sample:
    before:
      "circuit_breaker:pms_connector:state": {value: open, ttl: 3120}
    after:
      "circuit_breaker:pms_connector:state": {value: closed, ttl: 3600}
"""

import time

from ansible_collections.voicehive.remediation.plugins.module_utils._redis import (
    BREAKER_RESET_FIELDS,
    RedisError,
    RedisModule,
    WatchError,
    breaker_keys,
    connect,
    connection_error_message,
    discover_breakers,
    parse_number,
    read_breakers,
    redis_error_message,
)

MAX_ATTEMPTS = 3
VERBS = dict(closed=("reset", "Closed"), open=("open", "Opened"))


def argument_spec():
    return dict(
        names=dict(type="list", elements="str"),
        all_open=dict(type="bool"),
        state=dict(type="str", required=True, choices=["closed", "open"]),
        create=dict(type="bool", default=False),
        reset_closed=dict(type="bool", default=False),
        key_prefix=dict(type="str", default="circuit_breaker", no_log=False),
        ttl=dict(type="int", default=3600),
        scan_count=dict(type="int", default=500),
        max_keys=dict(type="int", default=10000, no_log=False),
    )


def _is_zero(value):
    try:
        return parse_number(value) == 0
    except ValueError:
        return False


def _shown(value):
    """A stored field as a number when it is one, else as stored (None when absent)."""
    if value is None:
        return None
    try:
        return parse_number(value)
    except ValueError:
        return value


def _current_state(raw):
    if raw["state_type"] != "string" or raw["state_value"] is None:
        return None  # no key: the service treats it as closed
    return raw["state_value"].strip().lower()


def plan_breaker(raw, state, ttl, now, reset_closed=False):
    """Operations that bring one breaker to ``state``: a list of (command, key, argument) tuples."""
    ops = []
    current = _current_state(raw)
    fields = {}
    if state == "closed":
        already_closed = current in (None, "closed")
        if not already_closed:
            ops.append(("SET", raw["state_key"], "closed"))
        if not already_closed or reset_closed:
            fields = {f: "0" for f in BREAKER_RESET_FIELDS if not _is_zero(raw["stats"].get(f))}
    elif current != "open":
        ops.append(("SET", raw["state_key"], "open"))
        fields = {"last_failure_time": repr(float(now))}
    if fields:
        ops.append(("HSET", raw["stats_key"], fields))
        if raw["stats_ttl"] is None or raw["stats_ttl"] < 0:
            ops.append(("EXPIRE", raw["stats_key"], ttl))
    return ops


def render(op, ttl):
    command, key, arg = op
    if command == "SET":
        return f"SET {key} {arg} EX {ttl}"
    if command == "HSET":
        return "HSET " + key + "".join(f" {field} {value}" for field, value in arg.items())
    return f"EXPIRE {key} {arg}"


def queue(pipe, op, ttl):
    command, key, arg = op
    if command == "SET":
        pipe.set(key, arg, ex=ttl)
    elif command == "HSET":
        pipe.hset(key, mapping=arg)
    else:
        pipe.expire(key, arg)


def views(raw, ops, ttl):
    """(before, after, diff_before, diff_after) of one breaker."""
    before = dict(state=_current_state(raw) or "closed")
    before.update(
        (f, _shown(raw["stats"].get(f)) if raw["stats_type"] == "hash" else None) for f in BREAKER_RESET_FIELDS
    )
    after = dict(before)
    diff_before, diff_after = {}, {}
    for command, key, arg in ops:
        if command == "SET":
            after["state"] = arg
            diff_before[key] = (
                None if raw["state_type"] != "string" else dict(value=raw["state_value"], ttl=raw["state_ttl"])
            )
            diff_after[key] = dict(value=arg, ttl=ttl)
        elif command == "HSET":
            after.update((f, _shown(v)) for f, v in arg.items())
            old = {f: raw["stats"].get(f) for f in arg}
            diff_before[key] = None if raw["stats_type"] != "hash" else dict(fields=old, ttl=raw["stats_ttl"])
            diff_after[key] = dict(fields=dict(arg), ttl=raw["stats_ttl"] if raw["stats_type"] == "hash" else -1)
        else:  # EXPIRE follows the HSET of the same key
            diff_after[key]["ttl"] = arg
    return before, after, diff_before, diff_after


def fail(module, message, **extra):
    extra.setdefault("changed", False)
    module.fail_json(msg=message, **extra)


def check_params(module):
    params = module.params
    state = params["state"]
    verb = VERBS[state][0]
    if not params["names"] and not params["all_open"]:
        fail(module, f"Cannot {verb} circuit breakers: give names, or all_open=true")
    if params["all_open"] and state != "closed":
        fail(module, "Cannot open circuit breakers: all_open=true only goes with state=closed")
    if any(not name for name in params["names"] or []):
        fail(module, f"Cannot {verb} circuit breakers: names must not contain empty names")
    if not params["key_prefix"]:
        fail(module, f"Cannot {verb} circuit breakers: key_prefix must not be empty")
    for option in ("ttl", "scan_count", "max_keys"):
        if params[option] < 1:
            fail(module, f"Cannot {verb} circuit breakers: {option} must be at least 1, got {params[option]}")


def validate(module, targets, raw, verb):
    """Refuse (before any write) unknown breakers and keys of the wrong type."""
    problems = []
    for name in targets:
        entry = raw[name]
        if entry["errors"]:
            problems.extend(f"Cannot {verb} circuit breaker {name}: {error}" for error in entry["errors"])
        elif entry["state_type"] == "none" and entry["stats_type"] == "none" and not module.params["create"]:
            problems.append(
                f"Cannot {verb} circuit breaker {name}: unknown breaker, neither {entry['state_key']} nor "
                f"{entry['stats_key']} exists (check the name, or set create=true)"
            )
    return problems


def run_module(module, client):
    check_params(module)
    params = module.params
    state, ttl, prefix = params["state"], params["ttl"], params["key_prefix"]
    verb, past = VERBS[state]

    try:
        client.ping()
    except (RedisError, OSError) as e:
        fail(module, connection_error_message(params, e))

    result = dict(changed=False, breakers={}, changed_breakers=[], commands=[])
    diff = dict(before={}, after={})
    truncated, targets, raw, plans, sent = False, [], {}, {}, []
    try:
        for _attempt in range(MAX_ATTEMPTS):
            truncated = False
            if params["all_open"]:
                found = discover_breakers(
                    client, prefix, count=params["scan_count"], limit=params["max_keys"], suffixes=("state",)
                )
                candidates, truncated = found.keys, found.truncated
            else:
                candidates = list(dict.fromkeys(params["names"]))

            pipe = None
            if not module.check_mode and candidates:
                pipe = client.pipeline(transaction=True)
                pipe.watch(*[key for name in candidates for key in breaker_keys(prefix, name)])
            try:
                server_time, raw = read_breakers(client, prefix, candidates)
                if params["all_open"]:
                    targets = [n for n in candidates if not raw[n]["errors"] and _current_state(raw[n]) == "open"]
                    for name in candidates:
                        if raw[name]["errors"]:
                            module.warn(f"Skipped circuit breaker {name}: {'; '.join(raw[name]['errors'])}")
                else:
                    targets = candidates
                problems = validate(module, targets, raw, verb)
                if problems:
                    fail(module, "; ".join(problems), errors=problems)

                now = server_time if server_time is not None else time.time()
                plans = {name: plan_breaker(raw[name], state, ttl, now, params["reset_closed"]) for name in targets}
                ops = [op for name in targets for op in plans[name]]
                if ops and pipe is not None:
                    pipe.multi()
                    for op in ops:
                        queue(pipe, op, ttl)
                    sent = [render(op, ttl) for op in ops]
                    pipe.execute()
            except WatchError:
                continue
            finally:
                if pipe is not None:
                    pipe.reset()
            break
        else:
            fail(
                module,
                f"Cannot {verb} circuit breakers: their keys kept changing while being updated "
                f"({MAX_ATTEMPTS} attempts); the orchestrator is writing them, try again",
            )
    except (RedisError, OSError) as e:
        message = redis_error_message(params, e, f"Cannot {verb} circuit breakers in")
        if sent:
            # EXEC was sent: Redis applies the queued commands that it can, so report what was attempted
            message += "; the transaction was sent, check the breakers with voicehive.remediation.circuit_breaker_info"
            result["commands"] = sent
        fail(module, message, **result)

    if truncated:
        module.warn(
            f"Stopped scanning for circuit breaker state keys after max_keys={params['max_keys']} keys; "
            "open breakers beyond that were not looked at."
        )

    for name in targets:
        before, after, diff_before, diff_after = views(raw[name], plans[name], ttl)
        changed = bool(plans[name])
        result["breakers"][name] = dict(before=before, after=after, changed=changed)
        if changed:
            result["changed_breakers"].append(name)
            result["commands"].extend(render(op, ttl) for op in plans[name])
            diff["before"].update(diff_before)
            diff["after"].update(diff_after)
    result["changed_breakers"].sort()
    result["changed"] = bool(result["changed_breakers"])
    if result["changed"]:
        count = len(result["changed_breakers"])
        would = "Would have " + past.lower() if module.check_mode else past
        result["msg"] = (
            f"{would} {count} circuit breaker{'s' if count > 1 else ''}: {', '.join(result['changed_breakers'])}"
        )
    elif targets:
        result["msg"] = f"Circuit breakers already {state}: {', '.join(sorted(targets))}"
    else:
        result["msg"] = "No open circuit breaker found"
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


def main():
    module = RedisModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("names", "all_open")],
        required_one_of=[("names", "all_open")],
    )
    client = connect(module)
    run_module(module, client)


if __name__ == "__main__":
    main()
