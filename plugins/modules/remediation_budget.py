#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: remediation_budget
short_description: Check or consume the per-site budget of repeated remediations
version_added: 0.1.0
description:
  - Limits how often the same remediation (O(action)) runs on the same O(target) of a site, so a
    remediation that does not stick escalates to a person instead of looping (restarting the same
    deployment every five minutes, say).
  - "The uses are stored in the cluster, in the ConfigMap O(configmap) of O(namespace): one data key
    per action and target holding a JSON list of the epoch seconds of its uses, for example key
    C(rollout_restart.2Fdeployment.2Forchestrator) with value C([1795968000,1795968900]). Every write
    drops the uses older than O(window)."
  - "Data key encoding: V(<action>/<target>) with every character outside C([A-Za-z0-9_-]) written as
    C(.XX), its UTF-8 bytes in upper-case hex (so V(/) becomes C(.2F) and V(.) becomes C(.2E)).
    The encoding is reversible and always a valid ConfigMap key; RV(key) returns it."
  - O(state=check) only reads. O(state=consume) records one use when the budget allows it; when the
    budget is exhausted it records nothing and returns RV(exhausted=true) without failing, so the
    caller can escalate.
  - Writes create the ConfigMap when missing, or replace it with the C(resourceVersion) that was read,
    retrying on conflicts, so concurrent runs never lose or double-count a use.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.kubernetes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
options:
  namespace:
    description:
      - Namespace of the ConfigMap, the site's VoiceHive namespace.
    type: str
    required: true
  configmap:
    description:
      - Name of the ConfigMap that holds the budgets.
    type: str
    default: voicehive-remediation-budget
  action:
    description:
      - Name of the remediation, for example V(rollout_restart) or V(reset_breaker).
    type: str
    required: true
  target:
    description:
      - What the remediation acts on, for example V(deployment/orchestrator) or V(breaker/pms_connector).
    type: str
    required: true
  budget:
    description:
      - How many uses of O(action) on O(target) are allowed within O(window). At least V(1).
    type: int
    default: 3
  window:
    description:
      - Length of the sliding window in seconds. At least V(1).
    type: int
    default: 3600
  state:
    description:
      - V(check) reports the budget without recording anything.
      - V(consume) records one use if the budget allows it.
    type: str
    choices: [check, consume]
    default: check
attributes:
  check_mode:
    details:
      - Nothing is written; the result is what O(state=consume) would return.
notes:
  - "RBAC: C(get), C(create), C(update) on C(configmaps) in O(namespace)."
  - The clock is the controller's; keep controllers in NTP sync.
seealso:
  - module: voicehive.remediation.lease_lock
"""

EXAMPLES = r"""
- name: Take one restart of the orchestrator out of the budget
  voicehive.remediation.remediation_budget:
    namespace: voicehive
    action: rollout_restart
    target: deployment/orchestrator
    budget: "{{ voicehive_remediation_budget }}"
    window: "{{ voicehive_remediation_budget_window }}"
    state: consume
  register: __memory_budget

- name: Escalate instead of restarting again
  ansible.builtin.debug:
    msg: >-
      Restarted {{ __memory_budget.used }} times within {{ __memory_budget.window }} s;
      next use possible in {{ __memory_budget.retry_after }} s.
  when: __memory_budget.exhausted

- name: Only look at the budget
  voicehive.remediation.remediation_budget:
    namespace: voicehive
    action: reset_breaker
    target: breaker/pms_connector
  register: __breaker_budget
"""

RETURN = r"""
allowed:
  description:
    - Whether the remediation may run. For O(state=consume), whether a use was recorded (would be, in check mode).
    - For O(state=check), whether at least one use is left.
  returned: always
  type: bool
  sample: true
exhausted:
  description: Whether the budget is used up (for O(state=consume), the use was refused and nothing recorded).
  returned: always
  type: bool
  sample: false
used:
  description: Uses within the window, including the one just recorded.
  returned: always
  type: int
  sample: 1
remaining:
  description: Uses still allowed within the window.
  returned: always
  type: int
  sample: 2
budget:
  description: The O(budget) applied.
  returned: always
  type: int
  sample: 3
window:
  description: The O(window) applied, in seconds.
  returned: always
  type: int
  sample: 3600
oldest:
  description: Epoch seconds of the oldest use within the window, V(null) when there is none.
  returned: always
  type: int
  sample: 1795968000
retry_after:
  description: When exhausted, seconds until the oldest use leaves the window; else V(0).
  returned: always
  type: int
  sample: 0
uses:
  description: Epoch seconds of the uses within the window, oldest first.
  returned: always
  type: list
  elements: int
  sample: [1795968000]
key:
  description: The ConfigMap data key of O(action) and O(target).
  returned: always
  type: str
  sample: rollout_restart.2Fdeployment.2Forchestrator
"""

import json
import time
import typing as t

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import (
    MAX_CONFLICTS,
    K8sModuleError,
    NamespacedObject,
    body_for_replace,
    core_api,
    empty_options,
    exit_with,
    k8s_main,
    managed_metadata,
    refuse_invalid,
    to_plain,
)

MAX_KEY_LENGTH = 253
_KEEP = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def now_epoch() -> int:
    """The controller's clock, epoch seconds."""
    return int(time.time())


class BudgetError(K8sModuleError):
    """A failure with a message for fail_json."""


def argument_spec() -> dict[str, t.Any]:
    return dict(
        namespace=dict(type="str", required=True),
        configmap=dict(type="str", default="voicehive-remediation-budget"),
        action=dict(type="str", required=True),
        target=dict(type="str", required=True),
        budget=dict(type="int", default=3),
        window=dict(type="int", default=3600),
        state=dict(type="str", choices=["check", "consume"], default="check"),
    )


def encode_key(action: str, target: str) -> str:
    """``<action>/<target>`` as a ConfigMap data key: characters outside ``[A-Za-z0-9_-]`` -> ``.XX`` (UTF-8 hex)."""
    out = []
    for char in f"{action}/{target}":
        if char in _KEEP:
            out.append(char)
        else:
            out.extend(f".{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def decode_key(key: str) -> str:
    """The inverse of ``encode_key``: ``<action>/<target>``."""
    raw = bytearray()
    i = 0
    while i < len(key):
        if key[i] == ".":
            raw.append(int(key[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(key[i].encode("ascii"))
            i += 1
    return raw.decode("utf-8")


def validate_params(params: dict[str, t.Any]) -> list[str]:
    errors = empty_options(params, ("namespace", "configmap", "action", "target"))
    if params["budget"] < 1:
        errors.append(f"budget must be at least 1, got {params['budget']}")
    if params["window"] < 1:
        errors.append(f"window must be at least 1 second, got {params['window']}")
    if not errors:
        key = encode_key(params["action"], params["target"])
        if len(key) > MAX_KEY_LENGTH:
            errors.append(
                f"action and target are too long: their ConfigMap key would be {len(key)} characters, "
                f"at most {MAX_KEY_LENGTH} are allowed"
            )
    return errors


def parse_uses(value: t.Any, where: str) -> list[int]:
    """A data value -> sorted list of epoch seconds. Raises BudgetError on anything else."""
    if value is None or value == "":
        return []
    try:
        data = json.loads(value)
        if not isinstance(data, list) or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in data):
            raise ValueError("not a list of numbers")
    except ValueError:
        raise BudgetError(
            f"Cannot read the remediation budget {where}: the value is not a JSON list of epoch seconds. "
            f"Fix or delete that data key (the budget then starts afresh)."
        ) from None
    return sorted(int(x) for x in data)


class Budget(NamespacedObject):
    KIND = "ConfigMap"
    RESOURCE = "configmaps"
    ERROR = BudgetError

    def __init__(self, module: t.Any, client: t.Any) -> None:
        self.module = module
        self.client = client
        params = module.params
        self.namespace = params["namespace"]
        self.name = params["configmap"]
        self.budget = params["budget"]
        self.window = params["window"]
        self.key = encode_key(params["action"], params["target"])
        self.where = f"{self.namespace}/{self.name} key {self.key}"

    def read(self) -> dict[str, t.Any] | None:
        """The ConfigMap; ``None`` when there is none (404)."""
        return to_plain(
            self.api_call(
                "read",
                self.client.read_namespaced_config_map,
                tolerate=(404,),
                name=self.name,
                namespace=self.namespace,
            )
        )

    def write(self, configmap: dict[str, t.Any] | None, uses: list[int]) -> bool:
        """Create or replace (with resourceVersion); ``False`` on a conflict."""
        value = json.dumps(uses, separators=(",", ":"))
        if configmap is None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": managed_metadata(self.namespace, self.name),
                "data": {self.key: value},
            }
            verb, call, kwargs = "create", self.client.create_namespaced_config_map, {}
        else:
            body = body_for_replace(configmap)
            body.setdefault("data", {})
            if body["data"] is None:
                body["data"] = {}
            body["data"][self.key] = value
            verb, call, kwargs = "replace", self.client.replace_namespaced_config_map, {"name": self.name}
        written = self.api_call(
            verb, call, tolerate=(409,), fallback=False, namespace=self.namespace, body=body, **kwargs
        )
        return written is not False  # the API answers with the object written; False only on a conflict

    def result(self, uses: list[int], now: int, allowed: bool, exhausted: bool, changed: bool) -> dict[str, t.Any]:
        retry_after = 0
        if exhausted and uses:
            retry_after = max(0, uses[0] + self.window - now)
        return dict(
            changed=changed,
            allowed=allowed,
            exhausted=exhausted,
            used=len(uses),
            remaining=max(0, self.budget - len(uses)),
            budget=self.budget,
            window=self.window,
            oldest=uses[0] if uses else None,
            retry_after=retry_after,
            uses=uses,
            key=self.key,
        )

    def run(self, state: str) -> dict[str, t.Any]:
        for _attempt in range(MAX_CONFLICTS + 1):
            configmap = self.read()
            now = now_epoch()
            data = (configmap or {}).get("data") or {}
            uses = [u for u in parse_uses(data.get(self.key), self.where) if u > now - self.window]
            if state == "check":
                allowed = len(uses) < self.budget
                return self.result(uses, now, allowed=allowed, exhausted=not allowed, changed=False)
            if len(uses) >= self.budget:
                return self.result(uses, now, allowed=False, exhausted=True, changed=False)
            uses.append(now)
            if self.module.check_mode or self.write(configmap, uses):
                return self.result(uses, now, allowed=True, exhausted=False, changed=True)
        raise BudgetError(
            f"Cannot record the remediation budget {self.where}: the ConfigMap changed under us "
            f"{MAX_CONFLICTS + 1} times in a row; another process keeps writing it. Run again."
        )


def check_params(module: t.Any) -> None:
    """Refuse bad input before anything is touched."""
    refuse_invalid(module, "remediation_budget", validate_params(module.params))


def run_module(module: t.Any, client: t.Any) -> None:
    check_params(module)
    budget = Budget(module, client)
    exit_with(module, lambda: budget.run(module.params["state"]))


def main() -> None:
    k8s_main(argument_spec(), check_params, core_api, run_module)


if __name__ == "__main__":
    main()
