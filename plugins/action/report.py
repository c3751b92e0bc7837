# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of voicehive.remediation.report: write the run report on the controller.

The documentation is in plugins/modules/report.py. The pure functions (outcome, summary,
Markdown, console table) are unit-tested on their own.
"""

from __future__ import annotations

import datetime
import difflib
import json
import os
import re
import tempfile
import typing as t

from ansible_collections.voicehive.remediation.plugins.module_utils._redact import redact, redact_text
from ansible_collections.voicehive.remediation.plugins.plugin_utils._action import (
    ACTION_STATUSES,
    FINDING_STATUSES,
    SEVERITIES,
    RecordActionBase,
    fail,
    secret_values_spec,
    unique,
)

UTC = datetime.timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11
SITE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
BLOCKED_STATUSES = ("skipped_needs_approval", "skipped_budget_exhausted", "skipped_guard_failed")
OUTCOMES = ("healthy", "resolved", "action_required", "failed", "findings_open")
FILE_MODE = 0o640
DIR_MODE = 0o750

ARGUMENT_SPEC = dict(
    site=dict(type="str", required=True),
    report_dir=dict(type="path", default="reports"),
    run_id=dict(type="str", default=""),
    launched_by=dict(type="dict", default={}),
    phase=dict(type="str", choices=["diagnose", "remediate", "health_check"], required=True),
    check_mode=dict(type="bool"),
    started_at=dict(type="str", default=""),
    category_durations=dict(type="dict", default={}),
    site_read=dict(type="dict", default={}),
    findings=dict(type="list", elements="dict", default=[]),
    actions=dict(type="list", elements="dict", default=[]),
    errors=dict(type="list", elements="raw", default=[]),
    synthetic=dict(type="list", elements="dict", default=[]),
    recovery=dict(type="dict", default={}),
    secret_values=secret_values_spec(),
)
SYNTHETIC_FIELDS = ("name", "target", "ok", "status", "elapsed_ms", "detail")


# ---------------------------------------------------------------------------------------------
# outcome and summary
# ---------------------------------------------------------------------------------------------


def compute_outcome(
    phase: str,
    check_mode: bool,
    findings: list[dict[str, t.Any]],
    actions: list[dict[str, t.Any]],
    errors: list[t.Any] | None = None,
) -> str:
    """The run's outcome, in this order of precedence.

    - ``failed``: a category could not run (``errors``), an action failed, or (remediate, not check
      mode) a critical finding is not resolved.
    - diagnose: ``healthy`` without findings, else ``findings_open``.
    - remediate without findings: ``healthy``.
    - ``action_required``: an action was skipped (needs approval, budget exhausted, guard failed), or
      (not check mode) a warning finding is not resolved.
    - check mode: ``findings_open`` while any finding is not resolved (nothing was changed).
    - ``resolved``: every critical and warning finding is resolved (info findings may stay open).
    """
    statuses = [a.get("status") for a in actions]
    if errors or "failed" in statuses:
        return "failed"
    if phase in ("diagnose", "health_check"):
        return "findings_open" if findings else "healthy"
    if not findings:
        return "action_required" if any(s in BLOCKED_STATUSES for s in statuses) else "healthy"
    unresolved = [f for f in findings if f.get("status") != "resolved"]
    if not check_mode and any(f.get("severity") == "critical" for f in unresolved):
        return "failed"
    if any(s in BLOCKED_STATUSES for s in statuses):
        return "action_required"
    if check_mode:
        return "findings_open" if unresolved else "resolved"
    if any(f.get("severity") == "warning" for f in unresolved):
        return "action_required"
    return "resolved"


def summarize(
    findings: list[dict[str, t.Any]], actions: list[dict[str, t.Any]], errors: list[t.Any] | None = None
) -> dict[str, t.Any]:
    by_severity = {s: 0 for s in SEVERITIES}
    by_status = {s: 0 for s in FINDING_STATUSES}
    for f in findings:
        by_severity[f.get("severity", "info")] = by_severity.get(f.get("severity", "info"), 0) + 1
        by_status[f.get("status", "open")] = by_status.get(f.get("status", "open"), 0) + 1
    actions_by_status = {s: 0 for s in ACTION_STATUSES}
    for a in actions:
        actions_by_status[a.get("status", "done")] = actions_by_status.get(a.get("status", "done"), 0) + 1
    unresolved = [f for f in findings if f.get("status") != "resolved"]
    return {
        "findings": len(findings),
        "findings_by_severity": by_severity,
        "findings_by_status": by_status,
        "actions": len(actions),
        "actions_by_status": actions_by_status,
        "changed": sum(1 for a in actions if a.get("status") == "done" and a.get("changed")),
        "would_change": actions_by_status.get("would_change", 0),
        "unresolved_critical": [f.get("id") for f in unresolved if f.get("severity") == "critical"],
        "unresolved_warning": [f.get("id") for f in unresolved if f.get("severity") == "warning"],
        "needs_approval": unique(a.get("action") for a in actions if a.get("status") == "skipped_needs_approval"),
        "budget_exhausted": unique(a.get("action") for a in actions if a.get("status") == "skipped_budget_exhausted"),
        "guard_failed": unique(a.get("action") for a in actions if a.get("status") == "skipped_guard_failed"),
        "failed_actions": unique(
            f"{a.get('action')} on {a.get('target')}" for a in actions if a.get("status") == "failed"
        ),
        "errors": len(errors or []),
    }


def approve_hint(actions: list[str]) -> str:
    return "-e '" + json.dumps({"voicehive_approved_actions": list(actions)}) + "'"


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------


def _json(value: t.Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _cell(value: t.Any) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: list[str], rows: t.Iterable[list[str]]) -> list[str]:
    """A Markdown table: the header, the separator and one line per row of (escaped) cells."""
    return [_row(header), "|" + "---|" * len(header), *(_row(cells) for cells in rows)]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _approved(action: dict[str, t.Any]) -> str:
    approved = action.get("approved")
    if approved is None:
        return "n/a"
    if approved:
        return f"yes ({action['approved_by']})" if action.get("approved_by") else "yes"
    return "no"


def before_after_diff(before: t.Any, after: t.Any) -> str:
    """A unified diff of the JSON forms of ``before`` and ``after`` (empty when equal)."""
    a = _json(before).splitlines()
    b = _json(after).splitlines()
    return "\n".join(difflib.unified_diff(a, b, fromfile="before", tofile="after", lineterm="", n=3))


def render_markdown(doc: dict[str, t.Any]) -> str:
    summary = doc["summary"]
    lines = [f"# {doc['site']}: {doc['outcome']}", ""]
    mode = " (check mode: nothing was changed)" if doc["check_mode"] else ""
    lines += [
        f"- **Site:** {_cell(doc['site'])}",
        f"- **Outcome:** {doc['outcome']}",
        f"- **Phase:** {doc['phase']}{mode}",
        f"- **Run id:** {_cell(doc['run_id'])}",
        f"- **Started:** {_cell(doc['started_at'])}",
        f"- **Finished:** {doc['finished_at']}",
    ]
    if doc.get("duration_seconds") is not None:
        lines.append(f"- **Duration:** {doc['duration_seconds']} s")
    launched = doc.get("launched_by") or {}
    if launched:
        lines.append("- **Launched by:** " + ", ".join(f"{_cell(k)}={_cell(v)}" for k, v in sorted(launched.items())))
    lines += [
        f"- **Findings:** {summary['findings']} "
        + "(" + ", ".join(f"{k} {v}" for k, v in summary["findings_by_severity"].items()) + "; "
        + ", ".join(f"{k} {v}" for k, v in summary["findings_by_status"].items()) + ")",
        f"- **Actions:** {summary['actions']} "
        + "(" + ", ".join(f"{k} {v}" for k, v in summary["actions_by_status"].items() if v) + ")",
        "",
    ]  # fmt: skip

    if summary["unresolved_critical"]:
        lines += ["**Unresolved critical findings:** " + ", ".join(summary["unresolved_critical"]), ""]

    if doc.get("recovery"):
        lines += ["## Disaster recovery", ""]
        lines += [f"- **{_cell(k)}:** {_cell(v)}" for k, v in doc["recovery"].items()]
        lines.append("")
    if "since_previous" in doc:
        lines += ["## Since the previous health check", ""]
        lines += [f"- {_cell(line)}" for line in change_lines(doc["since_previous"])]
        lines.append("")
    if doc.get("synthetic"):
        lines += ["## Synthetic checks", ""]
        lines += _table(
            ["check", "target", "result", "status", "ms", "detail"],
            ([_cell(c.get("name")), _cell(c.get("target")), "ok" if c.get("ok") else "FAILED", _cell(c.get("status")),
              _cell(c.get("elapsed_ms")), _cell(c.get("detail"))] for c in doc["synthetic"]),
        )  # fmt: skip
        lines.append("")

    if summary["needs_approval"]:
        lines += [
            "## Needs approval",
            "",
            "These actions were not run because they need approval:",
            "",
        ]
        lines += [f"- `{name}`" for name in summary["needs_approval"]]
        lines += [
            "",
            "To approve, run again with (or select them in the AWX survey):",
            "",
            _fence(approve_hint(summary["needs_approval"]), "shell"),
            "",
        ]
    if summary["budget_exhausted"]:
        lines += [
            "## Remediation budget exhausted",
            "",
            "These actions already ran as often as the budget allows and were not repeated; escalate:",
            "",
        ]
        lines += [f"- `{name}`" for name in summary["budget_exhausted"]]
        lines.append("")

    lines += ["## Findings", ""]
    if doc["findings"]:
        lines += _table(
            ["id", "severity", "status", "summary"],
            ([f"`{_cell(f.get('id'))}`", _cell(f.get("severity")), _cell(f.get("status")), _cell(f.get("summary"))]
             for f in doc["findings"]),
        )  # fmt: skip
        lines.append("")
        for f in doc["findings"]:
            lines += [f"### {_cell(f.get('id'))}", ""]
            lines.append(
                f"Severity {_cell(f.get('severity'))}, status {_cell(f.get('status'))}, "
                f"components {_cell(', '.join(f.get('component') or []))}, "
                f"recommended remediation: {_cell(f.get('remediation')) or 'none'}."
            )
            lines += ["", _cell(f.get("summary")), "", "Evidence:", "", _fence(_json(f.get("evidence")), "json"), ""]
            if "evidence_after" in f:
                lines += ["Evidence after remediation:", "", _fence(_json(f.get("evidence_after")), "json"), ""]
    else:
        lines += ["No findings.", ""]

    lines += ["## Actions", ""]
    if doc["actions"]:
        lines += _table(
            ["action", "target", "finding", "status", "approved"],
            ([f"`{_cell(a.get('action'))}`", _cell(a.get("target")), _cell(a.get("finding")), _cell(a.get("status")),
              _cell(_approved(a))] for a in doc["actions"]),
        )  # fmt: skip
        lines.append("")
        for a in doc["actions"]:
            lines += [f"### {_cell(a.get('action'))} on {_cell(a.get('target'))}: {_cell(a.get('status'))}", ""]
            if a.get("reason"):
                lines += [_cell(a.get("reason")), ""]
            if a.get("before") is not None or a.get("after") is not None:
                diff = before_after_diff(a.get("before"), a.get("after"))
                lines += [_fence(diff, "diff") if diff else "Before and after are the same.", ""]
    else:
        lines += ["No actions.", ""]

    if doc.get("errors"):
        lines += ["## Errors", "", "These parts of the run could not complete:", ""]
        for e in doc["errors"]:
            if isinstance(e, dict):
                lines.append(
                    f"- **{_cell(e.get('category', '?'))}** (task {_cell(e.get('task', '?'))}): {_cell(e.get('error'))}"
                )
            else:
                lines.append(f"- {_cell(e)}")
        lines.append("")

    durations = doc.get("category_durations") or {}
    lines += ["## Durations", ""]
    if durations:
        lines += _table(["category", "seconds"], ([_cell(k), _cell(v)] for k, v in sorted(durations.items())))
    else:
        lines.append("Not recorded.")
    lines.append("")
    site_read = doc.get("site_read") or {}
    if site_read:
        lines += ["## Site read", "", "What the run read from the site, once, before the categories judged it:", ""]
        rows = (
            [
                _cell(name),
                "yes" if read.get("available") else "no",
                _cell(read.get("elapsed_ms")),
                _cell(read.get("error") or ""),
            ]
            for name, read in sorted(site_read.items())
            if isinstance(read, dict)
        )
        lines += _table(["component", "answered", "ms", "error"], rows)
        lines.append("")
    return "\n".join(lines)


def _clip(text: t.Any, width: int) -> str:
    text = " ".join(("" if text is None else str(text)).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def render_console(doc: dict[str, t.Any], paths: dict[str, str] | None = None) -> list[str]:
    """A compact fixed-width summary for a debug task (a list of lines)."""
    summary = doc["summary"]
    mode = ", check mode" if doc["check_mode"] else ""
    lines = [f"{doc['site']}: {doc['outcome'].upper()} ({doc['phase']}{mode})"]
    if doc["findings"]:
        lines.append(f"{'SEVERITY':<9} {'STATUS':<11} {'FINDING':<36} SUMMARY")
        for f in doc["findings"]:
            lines.append(
                f"{_clip(f.get('severity'), 9):<9} {_clip(f.get('status'), 11):<11} "
                f"{_clip(f.get('id'), 36):<36} {_clip(f.get('summary'), 60)}"
            )
    else:
        lines.append("no findings")
    if doc["actions"]:
        lines.append(f"{'STATUS':<25} {'ACTION':<26} {'TARGET':<32} APPROVED")
        for a in doc["actions"]:
            lines.append(
                f"{_clip(a.get('status'), 25):<25} {_clip(a.get('action'), 26):<26} "
                f"{_clip(a.get('target'), 32):<32} {_approved(a)}"
            )
    for c in doc.get("synthetic") or []:
        result = "ok" if c.get("ok") else "FAILED"
        lines.append(f"synthetic {_clip(c.get('name'), 20):<20} {result:<6} {_clip(c.get('elapsed_ms'), 9):>9} ms")
    if doc.get("recovery"):
        rec = doc["recovery"]
        lines.append(
            "recovery: " + ", ".join(f"{k}={rec[k]}" for k in ("operation", "rto_seconds", "rpo_seconds") if k in rec)
        )
    if "since_previous" in doc:
        lines += ["since the previous health check: " + line for line in change_lines(doc["since_previous"])]
    if summary["needs_approval"]:
        lines.append("needs approval: " + ", ".join(summary["needs_approval"]))
        lines.append("  approve with: " + approve_hint(summary["needs_approval"]))
    if summary["budget_exhausted"]:
        lines.append("budget exhausted (escalate): " + ", ".join(summary["budget_exhausted"]))
    for e in doc.get("errors") or []:
        label = e.get("category", "?") if isinstance(e, dict) else "?"
        text = e.get("error", "") if isinstance(e, dict) else e
        lines.append(f"error in {label}: {_clip(text, 100)}")
    if paths:
        lines.append(f"report: {paths['md']}")
    return lines


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------


def _parse_iso(value: str) -> datetime.datetime | None:
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def reserve_paths(report_dir: str, site: str, stamp: str) -> dict[str, str]:
    """Create the directory and reserve ``<site>-<stamp>.json`` (``-2``, ``-3``... when taken)."""
    os.makedirs(report_dir, mode=DIR_MODE, exist_ok=True)
    for n in range(1, 1000):
        base = f"{site}-{stamp}" if n == 1 else f"{site}-{stamp}-{n}"
        json_path = os.path.join(report_dir, base + ".json")
        md_path = os.path.join(report_dir, base + ".md")
        if os.path.exists(md_path):
            continue
        try:
            fd = os.open(json_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
        except FileExistsError:
            continue
        os.close(fd)
        return {"json": json_path, "md": md_path}
    raise OSError(f"too many reports named {site}-{stamp}* in {report_dir}")


def atomic_write(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, mode 0640."""
    directory = os.path.dirname(path) or "."
    fd, tmp_path = tempfile.mkstemp(prefix=".report-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise


def previous_health_check(report_dir: str, site: str) -> dict[str, t.Any] | None:
    """The newest earlier health-check report of ``site`` in ``report_dir`` (None when there is none).

    Report names are ``<site>-<UTC stamp>[-n].json`` (``-2``, ``-3``... within one second). Unreadable files (a
    report being written) are passed over.
    """
    try:
        names = os.listdir(report_dir)
    except OSError:
        return None
    pattern = re.compile(r"^" + re.escape(site) + r"-(\d{8}T\d{6}Z)(?:-(\d+))?\.json$")
    matches = [m for m in (pattern.match(n) for n in names) if m]
    for match in sorted(matches, key=lambda m: (m.group(1), int(m.group(2) or 1)), reverse=True):
        name = match.group(0)
        try:
            with open(os.path.join(report_dir, name), encoding="utf-8") as handle:
                doc = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("phase") == "health_check" and doc.get("site") == site:
            return dict(doc, path=os.path.join(report_dir, name))
    return None


def changes_since(previous: dict[str, t.Any] | None, doc: dict[str, t.Any]) -> dict[str, t.Any]:
    """What changed since ``previous`` (a health-check report): outcome, findings and synthetic checks."""
    if previous is None:
        return {"previous": None, "first": True}
    before = {f.get("id"): f for f in previous.get("findings") or [] if isinstance(f, dict)}
    now = {f.get("id"): f for f in doc["findings"]}
    checks_before = {c.get("name"): c for c in previous.get("synthetic") or [] if isinstance(c, dict)}
    checks = []
    for check in doc.get("synthetic") or []:
        old = checks_before.get(check.get("name"))
        if old is None:
            if checks_before:  # a check added since; all of them new is a first run with checks
                checks.append({"name": check.get("name"), "change": "new", "ok": check.get("ok")})
        elif bool(old.get("ok")) != bool(check.get("ok")):
            checks.append(
                {
                    "name": check.get("name"),
                    "change": "recovered" if check.get("ok") else "failing",
                    "before": old.get("detail") or old.get("status"),
                    "after": check.get("detail") or check.get("status"),
                }
            )
    return {
        "previous": {
            "run_id": previous.get("run_id"),
            "finished_at": previous.get("finished_at"),
            "outcome": previous.get("outcome"),
            "report": previous.get("path"),
        },
        "first": False,
        "outcome": {"before": previous.get("outcome"), "after": doc["outcome"]},
        "new_findings": sorted(i for i in now if i not in before),
        "cleared_findings": sorted(i for i in before if i not in now),
        "severity_changed": sorted(
            f"{i}: {before[i].get('severity')} -> {now[i].get('severity')}"
            for i in now
            if i in before and before[i].get("severity") != now[i].get("severity")
        ),
        "synthetic": checks,
        "slower": sorted(
            f"{c.get('name')}: {checks_before[c.get('name')].get('elapsed_ms')} -> {c.get('elapsed_ms')} ms"
            for c in doc.get("synthetic") or []
            if c.get("name") in checks_before
            and isinstance(c.get("elapsed_ms"), (int, float))
            and isinstance(checks_before[c.get("name")].get("elapsed_ms"), (int, float))
            and c["elapsed_ms"] > 2 * checks_before[c.get("name")]["elapsed_ms"] + 100
        ),
    }


def change_lines(changes: dict[str, t.Any]) -> list[str]:
    """``changes_since`` in short sentences (the report's section and the console)."""
    if changes.get("first"):
        return ["first health check of this site in this report directory"]
    lines = []
    outcome = changes["outcome"]
    if outcome["before"] != outcome["after"]:
        lines.append(f"outcome {outcome['before']} -> {outcome['after']}")
    if changes["new_findings"]:
        lines.append("new findings: " + ", ".join(changes["new_findings"]))
    if changes["cleared_findings"]:
        lines.append("cleared findings: " + ", ".join(changes["cleared_findings"]))
    if changes["severity_changed"]:
        lines.append("severity changed: " + ", ".join(changes["severity_changed"]))
    for check in changes["synthetic"]:
        lines.append(f"synthetic check {check['name']}: {check['change']}")
    if changes["slower"]:
        lines.append("slower than twice the last time: " + ", ".join(changes["slower"]))
    prev = changes["previous"]
    return lines or [f"nothing changed since {prev['finished_at']} ({prev['outcome']})"]


def build_document(args: dict[str, t.Any], check_mode: bool, now: datetime.datetime) -> dict[str, t.Any]:
    findings = list(args["findings"])
    actions = list(args["actions"])
    errors = list(args["errors"])
    started = _parse_iso(args["started_at"])
    duration = round((now - started).total_seconds(), 1) if started else None
    return {
        "site": args["site"],
        "run_id": args["run_id"],
        "phase": args["phase"],
        "check_mode": check_mode,
        "outcome": compute_outcome(args["phase"], check_mode, findings, actions, errors),
        "started_at": args["started_at"],
        "finished_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_seconds": duration,
        "launched_by": args["launched_by"],
        "summary": summarize(findings, actions, errors),
        "category_durations": args["category_durations"],
        "site_read": args["site_read"],
        "findings": findings,
        "actions": actions,
        "errors": errors,
        **(
            {"synthetic": [{k: c.get(k) for k in SYNTHETIC_FIELDS} for c in args["synthetic"]]}
            if args["phase"] == "health_check"
            else {}
        ),
        **({"recovery": args["recovery"]} if args["recovery"] else {}),
        "generator": "voicehive.remediation.report",
    }


class ActionModule(RecordActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp

        args, secrets = self.validated_args(ARGUMENT_SPEC, "Cannot write the report")
        site = args["site"]
        if not SITE_PATTERN.match(site):
            fail(
                f"Cannot write the report: site {site!r} is not usable in a file name "
                f"(letters, digits, '.', '_' and '-', not starting with '.' or '-')",
                secrets,
            )
        check_mode = self.check_mode_of(args)
        now = datetime.datetime.now(UTC)
        doc = redact(build_document(args, check_mode, now), secrets)

        report_dir = os.path.abspath(args["report_dir"])
        if args["phase"] == "health_check":
            doc["since_previous"] = changes_since(previous_health_check(report_dir, site), doc)
        try:
            paths = reserve_paths(report_dir, site, now.strftime("%Y%m%dT%H%M%SZ"))
            atomic_write(paths["json"], json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")
            atomic_write(paths["md"], redact_text(render_markdown(doc), secrets))
        except OSError as exc:
            fail(f"Cannot write the report to {report_dir}: {exc.strerror or exc}", secrets)

        result.update(
            changed=False,  # the report is a record of the run, not a change to the site
            outcome=doc["outcome"],
            paths=paths,
            summary=doc["summary"],
            console=[redact_text(line, secrets) for line in render_console(doc, paths)],
        )
        return result
