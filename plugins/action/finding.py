# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of voicehive.remediation.finding: record or update a finding, on the controller.

The documentation is in plugins/modules/finding.py.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.voicehive.remediation.plugins.module_utils._redact import redact
from ansible_collections.voicehive.remediation.plugins.plugin_utils._action import (
    FINDING_STATUSES,
    ID_PATTERN,
    SEVERITIES,
    RecordActionBase,
    existing_list,
    fail,
    register_fact,
    secret_values_spec,
    unique,
    utc_now_iso,
)

FACT = "voicehive_findings"
CATEGORY_PATTERN = re.compile(r"^[a-z_]+$")
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
    status=dict(type="str", choices=list(FINDING_STATUSES), default="open"),
    evidence_after=dict(type="raw"),
    secret_values=secret_values_spec(),
)


def normalize_components(value: t.Any, where: str) -> list[str]:
    """``"redis"`` or ``["redis", "kubernetes"]`` -> a list without duplicates; raises ValueError."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"{where}: component must be one of {', '.join(COMPONENTS)}, or a non-empty list of them")
    for item in items:
        if not isinstance(item, str) or item not in COMPONENTS:
            raise ValueError(f"{where}: component {item!r} is not one of {', '.join(COMPONENTS)}")
    return unique(items)


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


class ActionModule(RecordActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp

        args, secrets = self.validated_args(ARGUMENT_SPEC, f"Invalid finding {self._task.args.get('id', '?')}")
        if not ID_PATTERN.match(args["id"]):
            fail(
                f"Invalid finding id {args['id']!r}: use <category>.<name> in lower-case snake_case, "
                f"for example circuit_breakers.stuck_open",
                secrets,
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
            fail(str(exc), secrets)

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
