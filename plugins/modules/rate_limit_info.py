#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: rate_limit_info
short_description: Read the VoiceHive orchestrator's rate-limit usage per client from Redis
version_added: 0.1.0
description:
  - Reads the rate-limit keys of the VoiceHive orchestrator and reports the usage of each client
    per window, the clients at or over their limits, and the allow-list.
  - Counter keys are C(<key_prefix>:<client_id>:<path>:<window>), with a C(:<window_start>) suffix
    for fixed windows, or without a path as in C(rate_limit:user:123:per_minute). Client ids are
    C(ip:<address>) (IPv4 or IPv6), C(jwt:<id>), C(apikey:<first 16 characters>), C(internal:<service>)
    and C(user:<id>); windows are named V(minute), V(hour), V(day) (the service) or V(per_minute),
    V(per_hour), ... (the troubleshooting guide).
  - A counter may be a string (fixed window or plain counter), a sorted set of request times (sliding
    window, the service's default; the requests inside the window are counted by the Redis server
    clock), or a token bucket (a hash or a JSON string with C(tokens); it reports the tokens left,
    not requests).
  - Allow-list keys are C(<allowlist_prefix>:<ip>) for C(ip:) clients and C(<allowlist_prefix>:<client_id>) for
    every kind (C(rate_limit:whitelist:user:123)), = V(true) with a TTL; the orchestrator checks both.
  - Keys are found with a bounded C(SCAN) (never C(KEYS)) and read with pipelined C(TYPE), C(TTL)
    and C(GET) (then C(ZCOUNT) or C(HGET) for sorted sets and hashes), a thousand keys per round trip.
  - Never changes anything, and never fails because of a malformed key; those are counted in
    RV(invalid_keys) and listed in RV(invalid).
extends_documentation_fragment:
  - voicehive.remediation.redis
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    details: The module only reads.
  diff_mode:
    support: none
author:
  - VoiceHive SRE (@voicehive)
options:
  key_prefix:
    description:
      - Prefix of the counter keys. The orchestrator uses V(rate_limit).
    type: str
    default: rate_limit
  allowlist_prefix:
    description:
      - Prefix of the allow-list keys, C(<allowlist_prefix>:<ip>) and C(<allowlist_prefix>:<client_id>).
    type: str
    default: rate_limit:whitelist
  scan_count:
    description:
      - C(COUNT) hint of every C(SCAN) call (keys examined per call).
    type: int
    default: 1000
  max_keys:
    description:
      - Stop scanning after this many rate-limit and allow-list keys; RV(truncated) then says so and
        the figures cover the keys read.
      - The clients in O(clients) are then looked up with their own C(SCAN) (and their allow-list keys read),
        so they are reported in full.
    type: int
    default: 200000
  top:
    description:
      - Number of clients in RV(top_clients), the busiest first.
    type: int
    default: 10
  clients:
    description:
      - Client ids to report in RV(clients) even when they are not among the top, for example
        V(ip:10.0.0.5). A client without keys is reported with C(exists=false).
    type: list
    elements: str
    default: []
  limits:
    description:
      - Requests allowed per window name, to compute each client's utilisation and whether it is at
        or over the limit. For example V(minute=60) and V(hour=1000) for the service's defaults,
        or V(per_minute=100) for the guide's key names.
      - Without limits, only a token bucket with less than one token left counts as over the limit.
    type: dict
    default: {}
  fail_on_unreachable:
    description:
      - Fail when Redis cannot be reached (connection refused, timeout, authentication failure).
      - When V(false), return RV(redis_available=false) and RV(error) instead.
    type: bool
    default: true
notes:
  - Of the fixed-window counters of one client, path and window only the newest window counts.
  - A client at its limit is blocked by the service, so its count rarely goes past the limit; at the
    limit counts as over it.
seealso:
  - module: voicehive.remediation.rate_limit
"""

EXAMPLES = r"""
- name: Read rate-limit usage with the service's limits
  voicehive.remediation.rate_limit_info:
    url: "{{ voicehive_redis_url }}"
    limits:
      minute: 60
      hour: 1000
      day: 10000
  register: __rate_limiting_usage

- name: Show the clients at or over their limit
  ansible.builtin.debug:
    msg: "Over the limit: {{ __rate_limiting_usage.over_limit | join(', ') }}"
  when: __rate_limiting_usage.over_limit_count > 0

- name: Check one client, and whether it is allow-listed
  voicehive.remediation.rate_limit_info:
    host: 127.0.0.1
    port: 16379
    password: "{{ voicehive_redis_password }}"
    clients: [ip:10.0.0.5]
    top: 0
  register: __rate_limiting_client

- name: Diagnose without failing when Redis is down
  voicehive.remediation.rate_limit_info:
    url: "{{ voicehive_redis_url }}"
    fail_on_unreachable: false
  register: __rate_limiting_usage
"""

RETURN = r"""
redis_available:
  description: Whether Redis answered. Only V(false) with O(fail_on_unreachable=false).
  returned: always
  type: bool
  sample: true
error:
  description: Why Redis could not be read (host and port, never the password).
  returned: when RV(redis_available) is V(false)
  type: str
  sample: >-
    Cannot read rate limits from Redis at 127.0.0.1:16379: Error 111 connecting to 127.0.0.1:16379.
    Connection refused.
clients:
  description: The clients of RV(top_clients) and of O(clients), by client id.
  returned: always
  type: dict
  sample:
    "ip:10.0.0.5":
      kind: ip
      exists: true
      key_count: 4
      requests: {minute: 60, hour: 812}
      peak_requests: 812
      utilisation: 1.0
      windows:
        minute: {requests: 60, key_count: 2, paths: 2, max_ttl: 58, limit: 60, utilisation: 1.0, over_limit: true}
        hour: {requests: 812, key_count: 2, paths: 2, max_ttl: 3599, limit: 1000, utilisation: 0.812, over_limit: false}
      paths: 2
      top_paths:
        - {path: /api/v1/calls, requests: {hour: 700, minute: 55}}
        - {path: /health, requests: {hour: 112, minute: 5}}
      max_ttl: 3599
      over_limit: true
      over_limit_windows: [minute]
      allowlisted: false
      allowlist_ttl: null
  contains:
    kind:
      description: The client kind, V(ip), V(jwt), V(apikey), V(internal) or V(user).
      type: str
      returned: always
    exists:
      description: Whether the client has any counter key.
      type: bool
      returned: always
    key_count:
      description: Number of counter keys of the client (all windows, paths and window starts).
      type: int
      returned: always
    requests:
      description: Requests per window, summed over the paths; V(null) for a window with token buckets only.
      type: dict
      returned: always
    peak_requests:
      description: The largest of the client's RV(clients.requests) over the windows.
      type: int
      returned: always
    utilisation:
      description: The largest requests-to-limit ratio over the windows in O(limits); V(null) without one.
      type: float
      returned: always
    windows:
      description:
        - Per window, C(requests), C(key_count), C(paths) (distinct), C(max_ttl), C(over_limit), with
          O(limits) also C(limit) and C(utilisation), and C(tokens) (the fewest left) for token buckets.
      type: dict
      returned: always
    paths:
      description: Number of distinct paths.
      type: int
      returned: always
    top_paths:
      description:
        - Up to five paths, the busiest first, with their requests per window.
        - The path is V(null) for keys without one.
      type: list
      elements: dict
      returned: always
    max_ttl:
      description: The longest TTL of the client's keys; V(-1) when a key never expires (it then never resets).
      type: int
      returned: always
    over_limit:
      description: Whether the client is at or over a limit in any window (or has an empty token bucket).
      type: bool
      returned: always
    over_limit_windows:
      description: The windows where it is.
      type: list
      elements: str
      returned: always
    allowlisted:
      description: Whether an allow-list key of the client exists with V(true).
      type: bool
      returned: always
    allowlist_ttl:
      description: Seconds until the allow-list key expires, V(-1) without expiry, V(null) when not allow-listed.
      type: int
      returned: always
top_clients:
  description: Up to O(top) client ids, ranked over the limit first, then by utilisation, then by peak requests.
  returned: always
  type: list
  elements: str
  sample: ["ip:10.0.0.5", "jwt:9f2c41d07a3b8e65"]
over_limit:
  description: Client ids at or over a limit, ranked as RV(top_clients) (at most 1000; see RV(over_limit_count)).
  returned: always
  type: list
  elements: str
  sample: ["ip:10.0.0.5"]
over_limit_count:
  description: Number of clients at or over a limit.
  returned: always
  type: int
  sample: 1
clients_count:
  description: Number of distinct clients with counter keys.
  returned: always
  type: int
  sample: 212
median_requests:
  description:
    - Per window, the median of the clients' requests. A client far above it is a candidate abuser.
  returned: always
  type: dict
  sample: {minute: 4, hour: 51.5}
allowlist:
  description:
    - The allow-listed clients by client id (C(<allowlist_prefix>:<ip>) is C(ip:<ip>)) and the seconds until their
      entry expires (V(-1) never; of two entries of one client the longer).
  returned: always
  type: dict
  sample: {"ip:10.9.9.9": 3412, "user:123": -1}
keys_examined:
  description: Number of keys the module read (rate-limit and allow-list keys found by C(SCAN)).
  returned: always
  type: int
  sample: 1530
truncated:
  description: Whether C(SCAN) stopped at O(max_keys), so the figures cover part of the keys.
  returned: always
  type: bool
  sample: false
invalid_keys:
  description: Number of keys under the prefixes that are not well-formed counters or allow-list entries.
  returned: always
  type: int
  sample: 1
invalid:
  description: Up to 20 of those keys, with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{key: "rate_limit:ip:10.0.0.7:/api:minute", reason: "holds 'abc', not a request count"}]
server_time:
  description: The Redis server clock (epoch seconds) the sliding windows were counted at.
  returned: when Redis was read and had keys
  type: float
  sample: 1795852987.65
"""

from ansible_collections.voicehive.remediation.plugins.module_utils._rate_limit import (
    INVALID_SAMPLE,
    parse_client,
    read_usage,
    summarize_usage,
)
from ansible_collections.voicehive.remediation.plugins.module_utils._redis import (
    RedisConnectionError,
    RedisError,
    RedisModule,
    RedisTimeoutError,
    connect,
    redis_error_message,
)

DOING = "Cannot read rate limits from"


def argument_spec():
    return dict(
        key_prefix=dict(type="str", default="rate_limit", no_log=False),
        allowlist_prefix=dict(type="str", default="rate_limit:whitelist", no_log=False),
        scan_count=dict(type="int", default=1000),
        max_keys=dict(type="int", default=200000, no_log=False),
        top=dict(type="int", default=10),
        clients=dict(type="list", elements="str", default=[]),
        limits=dict(type="dict", default={}),
        fail_on_unreachable=dict(type="bool", default=True),
    )


def check_params(module):
    """Refuse bad input before any command; returns the limits as ``{window: int}``."""
    params = module.params

    def refuse(reason):
        module.fail_json(msg=f"Cannot read rate limits: {reason}")

    for option in ("key_prefix", "allowlist_prefix"):
        if not params[option]:
            refuse(f"{option} must not be empty")
    for option in ("scan_count", "max_keys"):
        if params[option] < 1:
            refuse(f"{option} must be at least 1, got {params[option]}")
    if params["top"] < 0:
        refuse(f"top must be 0 or more, got {params['top']}")
    for client in params["clients"]:
        try:
            parse_client(client)
        except ValueError as e:
            refuse(str(e))
    limits = {}
    for window, value in (params["limits"] or {}).items():
        try:
            limit = int(str(value).strip())
        except ValueError:
            limit = 0
        if limit < 1:
            refuse(f"limits.{window} must be a whole number of requests of at least 1, got {value!r}")
        limits[str(window)] = limit
    return limits


def run_module(module, client):
    limits = check_params(module)
    params = module.params
    result = dict(
        changed=False,
        redis_available=False,
        clients={},
        top_clients=[],
        over_limit=[],
        over_limit_count=0,
        clients_count=0,
        median_requests={},
        allowlist={},
        keys_examined=0,
        truncated=False,
        invalid_keys=0,
        invalid=[],
    )
    try:
        client.ping()
        server_time, entries, allowlist, invalid, examined, truncated = read_usage(
            client,
            params["key_prefix"],
            params["allowlist_prefix"],
            params["scan_count"],
            params["max_keys"],
            params["clients"],
        )
    except (RedisError, OSError) as e:
        message = redis_error_message(params, e, DOING)
        if not isinstance(e, (RedisConnectionError, RedisTimeoutError, OSError)) or params["fail_on_unreachable"]:
            # reachable but refused (ACL, ...) is a problem to fix, never a state to report
            module.fail_json(msg=message, **result)
        result["error"] = message
        module.exit_json(**result)

    result.update(
        summarize_usage(entries, allowlist, limits=limits, top=params["top"], wanted=params["clients"]),
        redis_available=True,
        keys_examined=examined,
        truncated=truncated,
        invalid_keys=len(invalid),
        invalid=invalid[:INVALID_SAMPLE],
    )
    if server_time is not None:
        result["server_time"] = server_time
    if truncated:
        module.warn(
            f"Stopped scanning for rate-limit keys after max_keys={params['max_keys']} keys; the figures cover "
            "only the keys read. Raise max_keys, or list the clients of interest in clients."
        )
    module.exit_json(**result)


def main():
    module = RedisModule(argument_spec=argument_spec(), supports_check_mode=True)
    client = connect(module)
    run_module(module, client)


if __name__ == "__main__":
    main()
