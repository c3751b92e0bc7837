# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of voicehive.remediation.finding: record or update a finding, on the controller.

The documentation is in plugins/modules/finding.py.
"""

from __future__ import annotations

import datetime
import re
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.voicehive.remediation.plugins.module_utils._redact import (
    normalize_secret_values,
    redact,
    redact_text,
)

try:  # ansible-core >= 2.19: register at the set_fact layer, so the fact overrides an earlier set_fact
    from ansible.plugins.action import VariableLayer
except ImportError:  # pragma: no cover - older ansible-core: the legacy ansible_facts result is used
    VariableLayer = None

FACT = "voicehive_findings"
ID_PATTERN = re.compile(r"^[a-z_]+\.[a-z_]+$")
CATEGORY_PATTERN = re.compile(r"^[a-z_]+$")
SEVERITIES = ("critical", "warning", "info")
STATUSES = ("open", "resolved", "unresolved")
COMPONENTS = (
    "kubernetes",
    "redis",
    "postgres",
    "vault",
    "prometheus",
    "alertmanager",
    "apaleo",
    "livekit",
    "dns",
    "route53",
)
# options that make the task a full record (else it updates the status of a recorded finding)
RECORD_OPTIONS = ("category", "severity", "summary", "evidence", "remediation", "component")

ARGUMENT_SPEC = dict(
    id=dict(type="str", required=True),
    category=dict(type="str"),
    severity=dict(type="str", choices=list(SEVERITIES)),
    summary=dict(type="str"),
    evidence=dict(type="raw"),
    remediation=dict(type="str"),
    component=dict(type="raw"),
    status=dict(type="str", choices=list(STATUSES), default="open"),
    evidence_after=dict(type="raw"),
    secret_values=dict(type="list", elements="raw", no_log=True, default=[]),
)


def utc_now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: UP017


def normalize_components(value: t.Any, where: str) -> list[str]:
    """``"redis"`` or ``["redis", "kubernetes"]`` -> a list without duplicates; raises ValueError."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"{where}: component must be one of {', '.join(COMPONENTS)}, or a non-empty list of them")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or item not in COMPONENTS:
            raise ValueError(f"{where}: component {item!r} is not one of {', '.join(COMPONENTS)}")
        if item not in out:
            out.append(item)
    return out


def build_record(args: dict[str, t.Any], now: str) -> dict[str, t.Any]:
    """A complete finding from validated task args; raises ValueError with a clear message."""
    fid = args["id"]
    where = f"Invalid finding {fid}"
    category = args.get("category") or fid.split(".", 1)[0]
    if not CATEGORY_PATTERN.match(category):
        raise ValueError(f"{where}: category {category!r} must be snake_case letters (a role name)")
    if not args.get("severity"):
        raise ValueError(f"{where}: severity is required (one of {', '.join(SEVERITIES)})")
    if not (args.get("summary") or "").strip():
        raise ValueError(f"{where}: summary is required")
    if args.get("component") in (None, "", []):
        raise ValueError(f"{where}: component is required (one or more of {', '.join(COMPONENTS)})")
    evidence = args.get("evidence")
    record = {
        "id": fid,
        "category": category,
        "severity": args["severity"],
        "status": args["status"],
        "summary": " ".join(args["summary"].split()),
        "component": normalize_components(args["component"], where),
        "remediation": args.get("remediation") or "",
        "evidence": {} if evidence is None else evidence,
        "recorded_at": now,
    }
    if args.get("evidence_after") is not None:
        record["evidence_after"] = args["evidence_after"]
    if args["status"] != "open":
        record["updated_at"] = now
    return record


def update_record(existing: dict[str, t.Any], args: dict[str, t.Any], now: str) -> dict[str, t.Any]:
    """The stored finding with the new status (and evidence_after)."""
    record = dict(existing)
    record["status"] = args["status"]
    record["updated_at"] = now
    if args.get("evidence_after") is not None:
        record["evidence_after"] = args["evidence_after"]
    return record


def existing_list(task_vars: dict[str, t.Any], fact: str) -> list[dict[str, t.Any]]:
    """The fact's current value: the host variable, else ``ansible_facts[fact]``, else ``[]``."""
    value = task_vars.get(fact)
    if value is None:
        value = (task_vars.get("ansible_facts") or {}).get(fact)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise AnsibleActionFail(f"Cannot record: the variable {fact} is not a list of records; do not set it by hand.")
    return list(value)


def register_fact(action: ActionBase, fact: str, value: t.Any) -> dict[str, t.Any]:
    """Publish ``{fact: value}`` like set_fact does; returns the ``ansible_facts`` result entry."""
    facts = {fact: value}
    if VariableLayer is not None and hasattr(action, "register_host_variables"):
        action.register_host_variables({}, VariableLayer.CACHEABLE_FACT)  # no legacy ansible_facts handling
        action.register_host_variables(facts, VariableLayer.EPHEMERAL_FACT)
    return facts


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp

        secrets = normalize_secret_values(self._task.args.get("secret_values"))
        fid = self._task.args.get("id", "?")
        try:
            _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        except AnsibleActionFail as exc:
            raise AnsibleActionFail(redact_text(f"Invalid finding {fid}: {exc.message}", secrets)) from None
        secrets = normalize_secret_values(args.get("secret_values"))

        if not ID_PATTERN.match(args["id"]):
            raise AnsibleActionFail(
                redact_text(
                    f"Invalid finding id {args['id']!r}: use <category>.<name> in lower-case snake_case, "
                    f"for example circuit_breakers.stuck_open",
                    secrets,
                )
            )

        findings = existing_list(task_vars, FACT)
        index = next((i for i, item in enumerate(findings) if item.get("id") == args["id"]), None)
        now = utc_now_iso()
        full = any(args.get(name) is not None for name in RECORD_OPTIONS)
        try:
            if full:
                record = build_record(args, now)
            elif index is None:
                raise ValueError(
                    f"Cannot set finding {args['id']} to {args['status']}: no finding with that id was recorded "
                    f"in this run; give category, severity, summary and component to record it"
                )
            else:
                record = update_record(findings[index], args, now)
        except ValueError as exc:
            raise AnsibleActionFail(redact_text(str(exc), secrets)) from None

        record = redact(record, secrets)
        if index is None:
            findings.append(record)
        else:
            findings[index] = record

        result.update(
            changed=False,  # recording a finding changes nothing on the site
            finding=record,
            ansible_facts=register_fact(self, FACT, findings),
        )
        return result
