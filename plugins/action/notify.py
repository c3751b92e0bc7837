# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of voicehive.remediation.notify: post a run message to Slack, PagerDuty and a webhook at once.

The documentation is in plugins/modules/notify.py.
"""

from __future__ import annotations

import json
import typing as t
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.voicehive.remediation.plugins.module_utils import _http
from ansible_collections.voicehive.remediation.plugins.module_utils._redact import redact, redact_text
from ansible_collections.voicehive.remediation.plugins.plugin_utils._action import RecordActionBase, secret_values_spec

OK_STATUSES = (200, 201, 202, 204)

ARGUMENT_SPEC = dict(
    event=dict(type="str", required=True, choices=["start", "finish", "escalation"]),
    site=dict(type="str", required=True),
    phase=dict(type="str", required=True, choices=["diagnose", "remediate", "health_check"]),
    run_id=dict(type="str", default=""),
    text=dict(type="str", required=True),
    outcome=dict(type="str", default="started"),
    summary=dict(type="dict", default={}),
    escalation_contacts=dict(type="list", elements="dict", default=[]),
    slack_webhook_url=dict(type="str", default="", no_log=True),
    pagerduty_url=dict(type="str", default="https://events.pagerduty.com/v2/enqueue"),
    pagerduty_routing_key=dict(type="str", default="", no_log=True),
    webhook_url=dict(type="str", default="", no_log=True),
    timeout=dict(type="float", default=10.0),
    validate_certs=dict(type="bool", default=True),
    secret_values=secret_values_spec(),
)


def messages(args: dict[str, t.Any], secrets: list[str]) -> dict[str, tuple[str, dict[str, t.Any]]]:
    """Channel name -> (URL, JSON body) for every channel that is configured (PagerDuty on escalations only)."""
    text = redact_text(args["text"], secrets)
    out: dict[str, tuple[str, dict[str, t.Any]]] = {}
    if args["slack_webhook_url"]:
        out["slack"] = (args["slack_webhook_url"], {"text": text})
    if args["event"] == "escalation" and args["pagerduty_routing_key"]:
        out["pagerduty"] = (
            args["pagerduty_url"],
            {
                "routing_key": args["pagerduty_routing_key"],
                "event_action": "trigger",
                "dedup_key": f"voicehive-remediation-{args['site']}",
                "payload": {
                    "summary": text[:1000],
                    "source": args["site"],
                    "severity": "critical" if args["outcome"] == "failed" else "warning",
                    "component": "voicehive.remediation",
                },
            },
        )
    if args["webhook_url"]:
        out["webhook"] = (
            args["webhook_url"],
            redact(
                {
                    "event": args["event"],
                    "site": args["site"],
                    "phase": args["phase"],
                    "run_id": args["run_id"],
                    "text": text,
                    "outcome": args["outcome"],
                    "summary": args["summary"],
                    "escalation_contacts": args["escalation_contacts"] if args["event"] == "escalation" else [],
                },
                secrets,
            ),
        )
    return out


def post(url: str, body: dict[str, t.Any], timeout: float, validate_certs: bool) -> int | None:
    """POST ``body`` as JSON: the HTTP status, ``None`` when nothing answered."""
    try:
        status, _answer = _http.request(
            "POST",
            url,
            timeout,
            {"Content-Type": "application/json"},
            json.dumps(body).encode(),
            validate_certs=validate_certs,
        )
    except _http.Unreachable:
        return None
    return status


class ActionModule(RecordActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args, secrets = self.validated_args(ARGUMENT_SPEC, "Cannot send the notification")
        secrets = secrets + [
            v for v in (args["slack_webhook_url"], args["pagerduty_routing_key"], args["webhook_url"]) if v
        ]
        channels = messages(args, secrets)
        delivered: dict[str, int | None] = {}
        if channels:
            with ThreadPoolExecutor(max_workers=len(channels)) as pool:
                futures = {
                    name: pool.submit(post, url, body, args["timeout"], args["validate_certs"])
                    for name, (url, body) in channels.items()
                }
                delivered = {name: future.result() for name, future in futures.items()}
        warnings = [
            f"Could not deliver the {name} notification ({f'HTTP {status}' if status else 'no answer'}). "
            f"Check voicehive_notify_{name}_* for site {args['site']}."
            for name, status in delivered.items()
            if status not in OK_STATUSES
        ]
        result.update(changed=False, delivered=delivered)  # telling people is not a change to the site
        if warnings:
            result["warnings"] = warnings
        return result
