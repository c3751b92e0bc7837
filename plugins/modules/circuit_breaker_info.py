#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: circuit_breaker_info
short_description: Read the VoiceHive orchestrator's circuit breakers from Redis
version_added: 0.1.0
description:
  - Reads the Redis-backed circuit breakers of the VoiceHive orchestrator, the keys
    C(<key_prefix>:<name>:state) (a string V(closed), V(open) or V(half_open); a missing key means
    V(closed)) and C(<key_prefix>:<name>:stats) (a hash of counters and timestamps).
  - Breakers are found with a bounded C(SCAN) (never C(KEYS)) and read in one pipelined round trip.
  - Never changes anything. A breaker whose keys have an unexpected type is reported with an
    C(breakers.<name>.error), it does not fail the task.
  - When Redis cannot be reached the task fails, unless O(fail_on_unreachable=false), in which case it
    returns RV(redis_available=false) and the RV(error) text, like M(community.postgresql.postgresql_ping).
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.redis
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    details: The module only reads.
  diff_mode:
    support: none
options:
  names:
    description:
      - Breakers to report, for example V(pms_connector) or V(database_connection).
      - A listed breaker that has no key in Redis is reported as V(closed) with
        C(breakers.<name>.exists=false).
      - When empty, every breaker found by C(SCAN) is reported.
    type: list
    elements: str
    default: []
  discover:
    description:
      - Also report the breakers found with C(SCAN) for C(<key_prefix>:*:state) and
        C(<key_prefix>:*:stats), in addition to O(names).
      - Set to V(false) to read only O(names) (no C(SCAN) at all). Ignored when O(names) is empty.
    type: bool
    default: true
  key_prefix:
    description:
      - Prefix of the breaker keys. The orchestrator uses V(circuit_breaker).
    type: str
    default: circuit_breaker
  scan_count:
    description:
      - C(COUNT) hint of every C(SCAN) call (keys examined per call).
    type: int
    default: 500
  max_keys:
    description:
      - Stop scanning a pattern after this many matching keys; RV(truncated) then says so.
    type: int
    default: 10000
  fail_on_unreachable:
    description:
      - Fail when Redis cannot be reached (connection refused, timeout, authentication failure).
      - When V(false), return RV(redis_available=false) and RV(error) instead.
    type: bool
    default: true
notes:
  - C(breakers.<name>.seconds_since_last_failure) and C(breakers.<name>.seconds_since_last_success)
    are measured against the Redis server's clock (C(TIME)), not the controller's.
seealso:
  - module: voicehive.remediation.circuit_breaker
"""

EXAMPLES = r"""
- name: Read every circuit breaker of the orchestrator
  voicehive.remediation.circuit_breaker_info:
    url: "{{ voicehive_redis_url }}"
  register: __circuit_breakers_info

- name: Show the open breakers
  ansible.builtin.debug:
    msg: "Open circuit breakers: {{ __circuit_breakers_info.open | join(', ') }}"
  when: __circuit_breakers_info.open | length > 0

- name: Read the service's known breakers even when they have no key yet, and nothing else
  voicehive.remediation.circuit_breaker_info:
    host: 127.0.0.1
    port: 16379
    password: "{{ voicehive_redis_password }}"
    names: [tts_service, pms_connector, livekit_service, vault_service, external_api]
    discover: false
  register: __circuit_breakers_info

- name: Diagnose without failing when Redis is down
  voicehive.remediation.circuit_breaker_info:
    url: "{{ voicehive_redis_url }}"
    fail_on_unreachable: false
  register: __circuit_breakers_info

- name: Record a finding when Redis could not be read
  ansible.builtin.set_fact:
    __circuit_breakers_unreadable: "{{ __circuit_breakers_info.error }}"
  when: not __circuit_breakers_info.redis_available
"""

RETURN = r"""
redis_available:
  description: Whether Redis answered. Only V(false) with O(fail_on_unreachable=false).
  returned: always
  type: bool
  sample: true
error:
  description: Why Redis could not be reached (host and port, never the password).
  returned: when RV(redis_available) is V(false)
  type: str
  sample: "Cannot connect to Redis at 127.0.0.1:16379: Error 111 connecting to 127.0.0.1:16379. Connection refused."
breakers:
  description: Every breaker read, by name.
  returned: always
  type: dict
  sample:
    pms_connector:
      state: open
      exists: true
      state_key: circuit_breaker:pms_connector:state
      state_key_exists: true
      ttl: 3412
      stats_key: circuit_breaker:pms_connector:stats
      stats_key_exists: true
      stats_ttl: 3412
      stats:
        failure_count: 5
        success_count: 0
        total_requests: 120
        total_failures: 9
        total_successes: 111
        last_failure_time: 1795852800.25
        last_success_time: 1795852700.0
      seconds_since_last_failure: 187.4
      seconds_since_last_success: 287.65
  contains:
    state:
      description:
        - V(closed), V(open) or V(half_open) (lower-cased); V(closed) when the state key does not exist.
        - Any other value is returned as found, with C(breakers.<name>.error) set.
      type: str
      returned: always
    exists:
      description: Whether the state key or the stats key exists.
      type: bool
      returned: always
    state_key:
      description: Name of the state key.
      type: str
      returned: always
    state_key_exists:
      description: Whether the state key exists.
      type: bool
      returned: always
    ttl:
      description: Seconds until the state key expires; V(-1) without expiry; V(null) when it does not exist.
      type: int
      returned: always
    stats_key:
      description: Name of the stats hash.
      type: str
      returned: always
    stats_key_exists:
      description: Whether the stats hash exists.
      type: bool
      returned: always
    stats_ttl:
      description: Seconds until the stats hash expires; V(-1) without expiry; V(null) when it does not exist.
      type: int
      returned: always
    stats:
      description:
        - The counters (integers, V(0) when missing) and the last failure and success times
          (epoch seconds, floats, V(0) meaning never). A field that is not a number is V(null)
          and C(breakers.<name>.error) says so.
      type: dict
      returned: always
    seconds_since_last_failure:
      description: Seconds since C(breakers.<name>.stats.last_failure_time), V(null) if there was none.
      type: float
      returned: always
    seconds_since_last_success:
      description: Seconds since C(breakers.<name>.stats.last_success_time), V(null) if there was none.
      type: float
      returned: always
    error:
      description: What is wrong with the breaker's keys (wrong type, value that is not a number or not a state).
      type: str
      returned: when something is wrong
      sample: key circuit_breaker:pms_connector:state holds a hash, expected a string
open:
  description: Names of the breakers in state V(open), sorted.
  returned: always
  type: list
  elements: str
  sample: [pms_connector]
half_open:
  description: Names of the breakers in state V(half_open), sorted.
  returned: always
  type: list
  elements: str
  sample: []
closed:
  description: Names of the breakers in state V(closed) (including the ones without keys), sorted.
  returned: always
  type: list
  elements: str
  sample: [tts_service, vault_service]
invalid:
  description: Names of the breakers that have an C(breakers.<name>.error), sorted.
  returned: always
  type: list
  elements: str
  sample: []
count:
  description: Number of breakers in RV(breakers).
  returned: always
  type: int
  sample: 3
truncated:
  description: Whether a C(SCAN) stopped at O(max_keys), so more breakers may exist.
  returned: always
  type: bool
  sample: false
server_time:
  description: The Redis server clock (epoch seconds) the ages were computed from.
  returned: when Redis was read
  type: float
  sample: 1795852987.65
"""

import time

from ansible_collections.voicehive.remediation.plugins.module_utils._redis import (
    RedisConnectionError,
    RedisError,
    RedisModule,
    RedisTimeoutError,
    connect,
    connection_error_message,
    discover_breakers,
    read_breakers,
    redis_error_message,
    summarize_breakers,
)


def argument_spec():
    return dict(
        names=dict(type="list", elements="str", default=[]),
        discover=dict(type="bool", default=True),
        key_prefix=dict(type="str", default="circuit_breaker", no_log=False),
        scan_count=dict(type="int", default=500),
        max_keys=dict(type="int", default=10000, no_log=False),
        fail_on_unreachable=dict(type="bool", default=True),
    )


def run_module(module, client):
    params = module.params
    prefix = params["key_prefix"]
    names = params["names"] or []
    for option in ("scan_count", "max_keys"):
        if params[option] < 1:
            module.fail_json(msg=f"Cannot read circuit breakers: {option} must be at least 1, got {params[option]}")
    if not prefix:
        module.fail_json(msg="Cannot read circuit breakers: key_prefix must not be empty")
    if any(not name for name in names):
        module.fail_json(msg="Cannot read circuit breakers: names must not contain empty names")

    result = dict(
        changed=False,
        redis_available=False,
        breakers={},
        open=[],
        half_open=[],
        closed=[],
        invalid=[],
        count=0,
        truncated=False,
    )

    try:
        client.ping()
        wanted = set(names)
        if params["discover"] or not names:
            found = discover_breakers(client, prefix, count=params["scan_count"], limit=params["max_keys"])
            wanted.update(found.keys)
            result["truncated"] = found.truncated
        ordered = sorted(wanted)
        server_time, raw = read_breakers(client, prefix, ordered)
    except (RedisError, OSError) as e:
        if not isinstance(e, (RedisConnectionError, RedisTimeoutError, OSError)):
            # reachable, but a command was refused (ACL, ...): a problem to fix, not a state to report
            module.fail_json(
                msg=redis_error_message(params, e, "Cannot read circuit breakers from"),
                **result,
            )
        # unreachable (refused, timed out, authentication failed): this module cannot diagnose at all
        message = connection_error_message(params, e)
        if params["fail_on_unreachable"]:
            module.fail_json(msg=message, **result)
        result["error"] = message
        module.exit_json(**result)

    now = server_time if server_time is not None else time.time()
    result["redis_available"] = True
    result["server_time"] = now
    result.update(summarize_breakers(raw, ordered, now))
    if result["truncated"]:
        module.warn(
            f"Stopped scanning for circuit breaker keys after max_keys={params['max_keys']} keys; "
            "more breakers may exist. Raise max_keys or list the breakers in names."
        )
    module.exit_json(**result)


def main():
    module = RedisModule(argument_spec=argument_spec(), supports_check_mode=True)
    client = connect(module)
    run_module(module, client)


if __name__ == "__main__":
    main()
