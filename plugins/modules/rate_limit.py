#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: rate_limit
short_description: Clear one client's rate-limit counters, or allow-list it, in the VoiceHive Redis
version_added: 0.1.0
description:
  - Changes the rate-limit state of one client of the VoiceHive orchestrator.
  - O(state=cleared) deletes the client's counters, the keys C(<key_prefix>:<client>:*), as the
    service's own reset does. They are found with C(SCAN) C(MATCH) (glob characters in the client id
    escaped, never C(KEYS)) and deleted with C(UNLINK) in pipelined batches. Keys of other clients
    that the pattern also matches (IPv6 C(ip:::1) against C(ip:::1:5), C(internal:svc) against
    C(internal:svc:eu)) and the allow-list are never touched.
  - O(state=allowlisted) sets the client's allow-list key to V(true) with an expiry of O(ttl) seconds,
    C(<allowlist_prefix>:<ip>) for an C(ip:) client and C(<allowlist_prefix>:<client>) for the other kinds
    (C(rate_limit:whitelist:user:123)), as the orchestrator checks them. An entry that already has V(true)
    and an expiry of at least 90% of O(ttl) (or none) is left alone.
  - O(state=not_allowlisted) deletes the allow-list key.
  - Bad input (an unknown client kind, an C(ip:) client that is not an IPv4 or IPv6 address, a TTL
    out of bounds) is refused before any command is sent.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.redis
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    details: Reads the counters and the allow-list, returns RV(commands) that would run, writes nothing.
  diff_mode:
    support: full
    details: The diff shows the number of counter keys and the allow-list entry (presence, TTL) before and after.
options:
  client:
    description:
      - The client id as the service writes it, C(<kind>:<id>) with kind V(ip), V(jwt), V(apikey),
        V(internal) or V(user); for example V(ip:10.0.0.5), V(ip:2001:db8::7) or V(user:123).
      - An C(ip:) id must be an IPv4 or IPv6 address, written as the service writes it (the key
        names are not normalised).
    type: str
    required: true
  state:
    description:
      - V(cleared) deletes the client's counters; V(allowlisted) puts it on the allow-list for
        O(ttl) seconds; V(not_allowlisted) takes it off.
    type: str
    required: true
    choices: [cleared, allowlisted, not_allowlisted]
  ttl:
    description:
      - Seconds the allow-list entry lasts, from 60 to 604800 (a week).
      - Required with O(state=allowlisted), refused with the other states.
    type: int
  key_prefix:
    description:
      - Prefix of the counter keys. The orchestrator uses V(rate_limit).
    type: str
    default: rate_limit
  allowlist_prefix:
    description:
      - Prefix of the allow-list keys, C(<allowlist_prefix>:<ip>) and C(<allowlist_prefix>:<client>).
    type: str
    default: rate_limit:whitelist
  max_keys:
    description:
      - Fail, before deleting anything, when the client has more counter keys than this.
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
  - The service counts again from zero after O(state=cleared); a client still sending too many
    requests is limited again within its window.
seealso:
  - module: voicehive.remediation.rate_limit_info
  - module: voicehive.remediation.redis_keys
"""

EXAMPLES = r"""
- name: Clear the rate-limit counters of client ip:10.0.0.5
  voicehive.remediation.rate_limit:
    url: "{{ voicehive_redis_url }}"
    client: ip:10.0.0.5
    state: cleared
  register: __rate_limiting_cleared

- name: Allow-list the monitoring probe for an hour
  voicehive.remediation.rate_limit:
    url: "{{ voicehive_redis_url }}"
    client: ip:10.20.0.9
    state: allowlisted
    ttl: 3600
  register: __rate_limiting_allowlisted

- name: Allow-list an internal service's client id for a day
  voicehive.remediation.rate_limit:
    url: "{{ voicehive_redis_url }}"
    client: internal:tts-router
    state: allowlisted
    ttl: 86400
  register: __rate_limiting_allowlisted

- name: Take the probe off the allow-list
  voicehive.remediation.rate_limit:
    host: 127.0.0.1
    port: 16379
    password: "{{ voicehive_redis_password }}"
    client: ip:10.20.0.9
    state: not_allowlisted
  register: __rate_limiting_allowlist_removed
"""

RETURN = r"""
client:
  description: The client, as given.
  returned: always
  type: str
  sample: ip:10.0.0.5
counter_keys:
  description: Number of the client's counter keys before the task.
  returned: always
  type: int
  sample: 6
deleted:
  description: Number of counter keys deleted (V(0) in check mode and for the allow-list states).
  returned: always
  type: int
  sample: 6
remaining:
  description:
    - Number of the client's counter keys after the task, counted again with C(SCAN) after a delete
      (the service may already have written new ones); in check mode, what would remain.
  returned: always
  type: int
  sample: 0
other_client_keys:
  description: Number of keys the pattern matched that belong to other clients (left alone).
  returned: always
  type: int
  sample: 0
allowlisted:
  description: Whether the client is on the allow-list after the task (in check mode, would be).
  returned: always
  type: bool
  sample: true
allowlist_ttl:
  description: Seconds until the allow-list entry expires after the task; V(-1) without expiry; V(null) when absent.
  returned: always
  type: int
  sample: 3600
commands:
  description: The Redis commands executed (in check mode, that would be executed), a delete summarised in one line.
  returned: always
  type: list
  elements: str
  sample: ["UNLINK 6 keys matching rate_limit:ip:10.0.0.5:*"]
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: "Cleared 6 rate-limit counters of ip:10.0.0.5"
diff:
  description: The counter keys and the allow-list entry, before and after.
  returned: when diff mode is on
  type: dict
  sample:
    before: {counter_keys: 6, allowlisted: false, allowlist_ttl: null}
    after: {counter_keys: 0, allowlisted: false, allowlist_ttl: null}
"""

from ansible_collections.voicehive.remediation.plugins.module_utils._rate_limit import (
    ALLOWLIST_VALUE,
    allowlist_key,
    belongs_to,
    parse_client,
)
from ansible_collections.voicehive.remediation.plugins.module_utils._redis import (
    RedisError,
    RedisModule,
    connect,
    delete_batches,
    escape_glob,
    redis_error_message,
    redis_target,
)

TTL_MIN = 60
TTL_MAX = 604800  # a week
TTL_SLACK = 0.9  # an existing entry with at least 90% of the requested TTL left is kept


def argument_spec():
    return dict(
        client=dict(type="str", required=True),
        state=dict(type="str", required=True, choices=["cleared", "allowlisted", "not_allowlisted"]),
        ttl=dict(type="int"),
        key_prefix=dict(type="str", default="rate_limit", no_log=False),
        allowlist_prefix=dict(type="str", default="rate_limit:whitelist", no_log=False),
        max_keys=dict(type="int", default=100000, no_log=False),
        batch_size=dict(type="int", default=500),
        scan_count=dict(type="int", default=1000),
    )


def doing(state, client):
    """The start of every failure message of ``state``."""
    if state == "cleared":
        return f"Cannot clear the rate limits of {client}"
    if state == "allowlisted":
        return f"Cannot allow-list {client}"
    return f"Cannot remove {client} from the allow-list"


def check_params(module):
    params = module.params
    state, client = params["state"], params["client"]

    def refuse(reason):
        module.fail_json(msg=f"{doing(state, client)}: {reason}", changed=False)

    try:
        parse_client(client)
    except ValueError as e:
        refuse(str(e))
    if state == "allowlisted":
        ttl = params["ttl"]
        if ttl is None:
            refuse("ttl is required with state=allowlisted")
        if not TTL_MIN <= ttl <= TTL_MAX:
            refuse(f"ttl must be between {TTL_MIN} and {TTL_MAX} seconds, got {ttl}")
    elif params["ttl"] is not None:
        refuse(f"ttl only goes with state=allowlisted, not state={state}")
    for option in ("key_prefix", "allowlist_prefix"):
        if not params[option]:
            refuse(f"{option} must not be empty")
    for option in ("max_keys", "batch_size", "scan_count"):
        if params[option] < 1:
            refuse(f"{option} must be at least 1, got {params[option]}")


def counter_pattern(prefix, client):
    return f"{escape_glob(prefix)}:{escape_glob(client)}:*"


def find_counters(client, params):
    """``(own, skipped, over)``: the client's counter keys, how many other keys matched, and whether the scan
    stopped because the client has more than ``max_keys`` keys (``own`` then holds the ones found so far)."""
    pattern = counter_pattern(params["key_prefix"], params["client"])
    own, skipped, cursor = set(), 0, 0
    while True:
        cursor, batch = client.scan(cursor=cursor, match=pattern, count=params["scan_count"])
        for key in batch:
            if belongs_to(key, params["key_prefix"], params["client"]):
                own.add(key)
            else:
                skipped += 1
        if len(own) > params["max_keys"]:
            return sorted(own), skipped, True
        if int(cursor) == 0:
            return sorted(own), skipped, False


def read_allowlist(client, key):
    """``(exists, allowlisted, ttl)`` of the allow-list key ``key``: ``allowlisted`` when it holds ``true``,
    ``ttl`` ``-1`` without expiry, ``None`` when the key does not exist."""
    pipe = client.pipeline(transaction=False)
    pipe.type(key)
    pipe.get(key)
    pipe.ttl(key)
    kind, value, ttl = pipe.execute(raise_on_error=False)
    for reply in (kind, ttl):
        if isinstance(reply, Exception):
            raise reply
    if kind == "none":
        return False, False, None
    allowlisted = kind == "string" and not isinstance(value, Exception) and value.strip().lower() == ALLOWLIST_VALUE
    return True, allowlisted, int(ttl)


def run_module(module, client):
    check_params(module)
    params = module.params
    state, who = params["state"], params["client"]
    allow_key = allowlist_key(params["allowlist_prefix"], who)
    result = dict(
        changed=False,
        client=who,
        counter_keys=0,
        deleted=0,
        remaining=0,
        other_client_keys=0,
        allowlisted=None,
        allowlist_ttl=None,
        commands=[],
    )
    deleting = False
    try:
        client.ping()
        own, skipped, over = find_counters(client, params)
        if over and state == "cleared":
            module.fail_json(
                msg=f"{doing(state, who)} in Redis at {redis_target(params)}: it has more than "
                f"max_keys={params['max_keys']} counter keys; nothing was deleted. Raise max_keys to clear them",
                **result,
            )
        if over:
            module.warn(
                f"{who} has more than max_keys={params['max_keys']} counter keys; counter_keys is a lower bound."
            )
        exists, present, ttl = read_allowlist(client, allow_key)
        result.update(counter_keys=len(own), remaining=len(own), other_client_keys=skipped)
        result.update(allowlisted=present, allowlist_ttl=ttl if present else None)
        before = dict(counter_keys=len(own), allowlisted=result["allowlisted"], allowlist_ttl=result["allowlist_ttl"])

        if state == "cleared" and own:
            result["commands"] = [f"UNLINK {len(own)} keys matching {counter_pattern(params['key_prefix'], who)}"]
            result["remaining"] = 0
            if not module.check_mode:
                deleting = True
                for command, n in delete_batches(client, own, params["batch_size"]):
                    result["deleted"] += n
                    result["commands"] = [
                        f"{command} {len(own)} keys matching {counter_pattern(params['key_prefix'], who)}"
                    ]
                rest, _skipped, _over = find_counters(client, params)
                result["remaining"] = len(rest)
        elif state == "allowlisted":
            long_enough = ttl == -1 or (ttl is not None and ttl >= TTL_SLACK * params["ttl"])
            if present and long_enough:
                if ttl == -1:
                    module.warn(
                        f"The allow-list entry {allow_key} never expires; take it off when it is no longer needed."
                    )
            else:
                result["commands"] = [f"SET {allow_key} {ALLOWLIST_VALUE} EX {params['ttl']}"]
                if not module.check_mode:
                    client.set(allow_key, ALLOWLIST_VALUE, ex=params["ttl"])
                result.update(allowlisted=True, allowlist_ttl=params["ttl"])
        elif state == "not_allowlisted" and exists:
            result["commands"] = [f"DEL {allow_key}"]
            if not module.check_mode:
                client.delete(allow_key)
            result.update(allowlisted=False, allowlist_ttl=None)
    except (RedisError, OSError) as e:
        message = redis_error_message(params, e, doing(state, who) + " in")
        if deleting:
            message += f"; {result['deleted']} of {result['counter_keys']} counter keys were deleted before the error"
            result["changed"] = result["deleted"] > 0
        module.fail_json(msg=message, **result)

    result["changed"] = bool(result["commands"]) if module.check_mode else _changed(state, result)
    after = dict(
        counter_keys=result["remaining"], allowlisted=result["allowlisted"], allowlist_ttl=result["allowlist_ttl"]
    )
    result["msg"] = summary(state, who, result, module.check_mode)
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


def _changed(state, result):
    if state == "cleared":
        return result["deleted"] > 0
    return bool(result["commands"])


def summary(state, who, result, check_mode):
    if not result["changed"]:
        if state == "cleared":
            return f"No rate-limit counter of {who} to clear"
        if state == "allowlisted":
            return f"{who} is already allow-listed ({result['allowlist_ttl']} s left)"
        return f"{who} is not on the allow-list"
    if state == "cleared":
        n = result["counter_keys"] if check_mode else result["deleted"]
        return f"{'Would clear' if check_mode else 'Cleared'} {n} rate-limit counters of {who}"
    if state == "allowlisted":
        return f"{'Would allow-list' if check_mode else 'Allow-listed'} {who} for {result['allowlist_ttl']} s"
    return f"{'Would remove' if check_mode else 'Removed'} {who} from the allow-list"


def main():
    module = RedisModule(argument_spec=argument_spec(), supports_check_mode=True)
    client = connect(module)
    run_module(module, client)


if __name__ == "__main__":
    main()
