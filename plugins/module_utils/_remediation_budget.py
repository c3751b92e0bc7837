# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""The budget of ``remediation_budget`` (uses per action and target in a ConfigMap), shared by the module and its
action plugin.

``OPERATION`` is the module's work (``_k8s.Operation``): options, their checks, and ``run(module, conn)``, which
checks or consumes the budget through a ``_kube_read.KubeConnection``. The options, results and the data key
encoding (``encode_key()``) are documented in plugins/modules/remediation_budget.py.
"""

from __future__ import annotations

import json
import time
import typing as t

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import (
    MAX_CONFLICTS,
    K8sModuleError,
    KubeConfigMap,
    Operation,
    empty_options,
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


class Budget(KubeConfigMap):
    ERROR = BudgetError

    def __init__(self, module: t.Any, conn: t.Any) -> None:
        super().__init__(module, conn)
        self.budget = self.params["budget"]
        self.window = self.params["window"]
        self.key = encode_key(self.params["action"], self.params["target"])
        self.where = f"{self.namespace}/{self.name} key {self.key}"

    def write(self, configmap: dict[str, t.Any] | None, uses: list[int]) -> bool:
        """Create or replace (with resourceVersion); ``False`` on a conflict."""
        return self.write_key(configmap, json.dumps(uses, separators=(",", ":")))

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


def run(module: t.Any, conn: t.Any) -> dict[str, t.Any]:
    return Budget(module, conn).run(module.params["state"])


OPERATION = Operation("remediation_budget", argument_spec, validate_params, run, {})
