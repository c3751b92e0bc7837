# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""The blocked addresses of ``ip_blocklist`` (one key of a ConfigMap the VoiceHive orchestrator reads), shared by the
module and its action plugin.

``OPERATION`` is the module's work (``_k8s.Operation``): options, their checks (every address and network, and the
refusal to block private or protected ones, before any API call), and ``run(module, conn)``, which adds or removes
entries through a ``_kube_read.KubeConnection``. The addresses themselves are handled by ``_networks``. The options
and results are documented in plugins/modules/ip_blocklist.py.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import (
    MAX_CONFLICTS,
    K8sModuleError,
    KubeConfigMap,
    Operation,
    empty_options,
)
from ansible_collections.voicehive.remediation.plugins.module_utils._networks import (
    Network,
    normalise,
    overlap,
    parse,
    problem,
    special_uses,
    within,
)

CONFIGMAP_KEY_RE = re.compile(r"[-._a-zA-Z0-9]{1,253}")
SEPARATOR_RE = re.compile(r"[ \t\n]*,?[ \t\n]*")
# what separates the entries of the stored value, as the orchestrator splits it
ENTRY_SEPARATOR_RE = re.compile(r"[,\s]+")


class BlocklistError(K8sModuleError):
    """A failure with a message for fail_json."""


def argument_spec() -> dict[str, t.Any]:
    return dict(
        namespace=dict(type="str", required=True),
        configmap=dict(type="str", default="security-config"),
        key=dict(type="str", default="blocked_ips", no_log=False),
        addresses=dict(type="list", elements="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        protected=dict(type="list", elements="str", default=[]),
        force=dict(type="bool", default=False),
        separator=dict(type="str", default=","),
    )


def refusals(params: dict[str, t.Any]) -> list[str]:
    """``<entry> (<why>)`` for each valid entry of ``addresses`` that is not to be blocked without ``force``: private,
    loopback and other special networks (``_networks.SPECIAL``), and whatever overlaps a ``protected`` network."""
    protected = [(p, parse(p)) for p in params["protected"] or [] if problem(p) is None]
    found = []
    for address in params["addresses"] or []:
        if problem(address) is not None:
            continue
        net = parse(address)
        why = special_uses(net)
        why.extend(f"overlaps protected {text}" for text, other in protected if overlap(net, other))
        if why:
            found.append(f"{address} ({', '.join(why)})")
    return found


def validate_params(params: dict[str, t.Any]) -> list[str]:
    errors = empty_options(params, ("namespace", "configmap"))
    if not CONFIGMAP_KEY_RE.fullmatch(params.get("key") or ""):
        errors.append("key must be a ConfigMap key: letters, digits, '-', '_' or '.', at most 253")
    separator = params["separator"]
    if not separator or not SEPARATOR_RE.fullmatch(separator):
        errors.append(f"separator must be a comma or blanks, or a comma with blanks around it, got {separator!r}")
    if not params["addresses"]:
        errors.append("addresses must not be empty")
    for option in ("addresses", "protected"):
        errors.extend(f"{option}: {p}" for p in map(problem, params[option] or []) if p is not None)
    if params["state"] == "present" and not params["force"]:
        refused = refusals(params)
        if refused:
            errors.append(
                "will not block " + "; ".join(refused) + " (set force=true to block them anyway, or leave them out)"
            )
    return errors


def split_entries(value: str) -> list[str]:
    """The entries of the stored value, split on commas and blanks as the orchestrator splits it."""
    return [entry for entry in ENTRY_SEPARATOR_RE.split(value) if entry]


class Blocklist(KubeConfigMap):
    ERROR = BlocklistError

    def __init__(self, module: t.Any, conn: t.Any) -> None:
        super().__init__(module, conn)
        self.key = self.params["key"]
        self.where = f"ConfigMap {self.namespace}/{self.name} key {self.key}"
        self.wanted: list[tuple[str, Network]] = []  # normalised, without duplicates, in the order given
        for address in self.params["addresses"]:
            net = parse(address)
            if normalise(net) not in [text for text, _net in self.wanted]:
                self.wanted.append((normalise(net), net))

    # -- the operation -------------------------------------------------------------------------------

    def add(self, before: str, entries: list[str], valid: list[tuple[str, Network]]) -> dict[str, t.Any]:
        """The new value: ``before`` (kept as it is) with the wanted entries appended that it does not list as they
        are written. The orchestrator matches a client address against the entries' text exactly, so an address
        inside a listed network (or listed as ``<address>/32``) is added too, with a note."""
        added, already, warnings = [], [], []
        for text, net in self.wanted:
            if text in entries:
                already.append(text)
                continue
            added.append(text)
            covering = [entry for entry, other in valid if within(net, other)]
            if covering:
                warnings.append(
                    f"{text} is added to {self.where} although {', '.join(covering)} in the list covers it: the "
                    "orchestrator matches client addresses exactly."
                )
        after = before
        if added:
            kept = before.rstrip(", \t\r\n")
            after = self.params["separator"].join([kept, *added] if kept.strip(", \t\r\n") else added)
        return dict(after=after, added=added, removed=[], already_blocked=already, warnings=warnings)

    def remove(self, before: str, entries: list[str], valid: list[tuple[str, Network]]) -> dict[str, t.Any]:
        """The new value without the entries that are (once normalised) one of the wanted ones."""
        doomed = {text for text, _net in self.wanted}
        removed = []
        for entry, net in valid:
            if normalise(net) in doomed and entry not in removed:
                removed.append(entry)
        after = before
        if removed:
            after = self.params["separator"].join(entry for entry in entries if entry not in removed)
        return dict(after=after, added=[], removed=removed, already_blocked=[], warnings=[])

    def plan(self, configmap: dict[str, t.Any] | None) -> dict[str, t.Any]:
        """What the run does to the ConfigMap read: the values before and after, and the result fields."""
        data = (configmap or {}).get("data") or {}
        before = data.get(self.key) or ""
        entries = split_entries(before)
        invalid = [entry for entry in entries if problem(entry) is not None]
        valid = [(entry, parse(entry)) for entry in entries if problem(entry) is None]
        change = (self.add if self.params["state"] == "present" else self.remove)(before, entries, valid)
        change.update(before=before, invalid_existing=invalid, configmap_existed=configmap is not None)
        if invalid:
            change["warnings"].insert(
                0,
                f"{self.where} holds entries that are no IPv4 or IPv6 address or network, kept as they are: "
                + "; ".join(p for p in map(problem, invalid) if p is not None)
                + ".",
            )
        return change

    def message(self, change: dict[str, t.Any], changed: bool) -> str:
        would = "Would " if self.module.check_mode and changed else ""
        if change["added"]:
            verb = "block" if would else "Blocked"
            return f"{would}{verb} {', '.join(change['added'])} in {self.where}."
        if change["removed"]:
            verb = "unblock" if would else "Unblocked"
            return f"{would}{verb} {', '.join(change['removed'])} in {self.where}."
        if self.params["state"] == "present":
            return f"Nothing to change: {self.where} already blocks {', '.join(change['already_blocked'])}."
        if not change["configmap_existed"]:
            return f"Nothing to change: ConfigMap {self.namespace}/{self.name} does not exist."
        return f"Nothing to change: {self.where} does not list {', '.join(text for text, _net in self.wanted)}."

    def result(self, change: dict[str, t.Any], changed: bool) -> dict[str, t.Any]:
        for warning in change["warnings"]:
            self.module.warn(warning)
        result = dict(
            changed=changed,
            blocked=split_entries(change["after"]),
            added=change["added"],
            removed=change["removed"],
            already_blocked=change["already_blocked"],
            invalid_existing=change["invalid_existing"],
            configmap_existed=change["configmap_existed"],
            before=change["before"],
            after=change["after"],
            msg=self.message(change, changed),
        )
        if self.module._diff:
            result["diff"] = dict(before={self.key: change["before"]}, after={self.key: change["after"]})
        return result

    def run(self) -> dict[str, t.Any]:
        if self.params["state"] == "present" and self.params["force"]:
            for refused in refusals(self.params):
                self.module.warn(f"Blocking {refused} in {self.where} because force=true.")
        for _attempt in range(MAX_CONFLICTS + 1):
            configmap = self.read()
            change = self.plan(configmap)
            changed = change["after"] != change["before"]
            if changed and configmap is not None and configmap.get("immutable"):
                raise BlocklistError(
                    f"Cannot replace ConfigMap {self.namespace}/{self.name}: it is immutable, but key {self.key} needs "
                    "a change. Delete and re-create the ConfigMap to change it."
                )
            if not changed or self.module.check_mode:
                return self.result(change, changed)
            if self.write_key(configmap, change["after"]):
                return self.result(change, changed)
        raise BlocklistError(
            f"Cannot replace ConfigMap {self.namespace}/{self.name}: it changed under us {MAX_CONFLICTS + 1} times in "
            "a row; another process keeps writing it. Run again."
        )


def run(module: t.Any, conn: t.Any) -> dict[str, t.Any]:
    return Blocklist(module, conn).run()


OPERATION = Operation("ip_blocklist", argument_spec, validate_params, run, {})
