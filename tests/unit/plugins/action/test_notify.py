# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""notify: one post per configured channel, all at once, warnings for undeliverable ones, no secret sent."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.voicehive.remediation.plugins.action.notify import ActionModule, messages

SECRET = "s3cret-db-password"
HOOK = "T0/B0/secret-path"


@pytest.fixture
def sink():
    """A local receiver that records every POST (path and JSON body) and answers 200 (or 500 on /broken)."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, body))
            self.send_response(500 if self.path.startswith("/broken") else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def args(base, **overrides):
    values = dict(
        event="escalation",
        site="prod-eu-west-1",
        phase="remediate",
        run_id="cli-prod-1",
        text=f"[voicehive.remediation] prod-eu-west-1 remediate escalation: failed ({SECRET})",
        outcome="failed",
        summary={"findings": 1},
        escalation_contacts=[{"name": "On-Call Engineer"}],
        slack_webhook_url=f"{base}/slack/{HOOK}",
        pagerduty_url=f"{base}/pagerduty",
        pagerduty_routing_key="pd-routing-key-123",
        webhook_url=f"{base}/webhook",
        secret_values=[SECRET],
    )
    values.update(overrides)
    return values


def test_every_channel_gets_its_message_masked(make_action, sink):
    base, received = sink
    result = make_action(ActionModule, args(base)).run(task_vars={})
    assert result["changed"] is False and result["delivered"] == {"slack": 200, "pagerduty": 200, "webhook": 200}
    assert "warnings" not in result
    bodies = dict(received)
    assert bodies[f"/slack/{HOOK}"]["text"].endswith("failed (********)")
    page = bodies["/pagerduty"]
    assert page["routing_key"] == "pd-routing-key-123" and page["payload"]["severity"] == "critical"
    assert page["dedup_key"] == "voicehive-remediation-prod-eu-west-1"
    hook = bodies["/webhook"]
    assert hook["event"] == "escalation" and hook["escalation_contacts"] == [{"name": "On-Call Engineer"}]
    assert SECRET not in json.dumps(received)
    assert HOOK not in json.dumps(result) and "pd-routing-key-123" not in json.dumps(result)


def test_pagerduty_only_pages_on_escalations_and_contacts_only_go_with_them(make_action, sink):
    base, received = sink
    make_action(ActionModule, args(base, event="finish", outcome="resolved")).run(task_vars={})
    paths = [path for path, _body in received]
    assert "/pagerduty" not in paths
    assert dict(received)["/webhook"]["escalation_contacts"] == []


def test_undeliverable_channels_are_warnings(make_action, sink):
    base, _received = sink
    down = f"http://127.0.0.1:{closed_port()}/hook"
    result = make_action(
        ActionModule, args(base, slack_webhook_url=f"{base}/broken", webhook_url=down, pagerduty_routing_key="")
    ).run(task_vars={})
    assert result["delivered"] == {"slack": 500, "webhook": None}
    assert result["warnings"] == [
        "Could not deliver the slack notification (HTTP 500). Check voicehive_notify_slack_* for site prod-eu-west-1.",
        "Could not deliver the webhook notification (no answer). "
        "Check voicehive_notify_webhook_* for site prod-eu-west-1.",
    ]


def test_nothing_configured_posts_nothing(make_action):
    result = make_action(ActionModule, dict(event="start", site="s", phase="remediate", text="t")).run(task_vars={})
    assert result["delivered"] == {} and result["changed"] is False


def test_messages_lists_only_configured_channels():
    built = messages(
        dict(
            event="start",
            site="s",
            phase="remediate",
            run_id="",
            text="t",
            outcome="started",
            summary={},
            escalation_contacts=[],
            slack_webhook_url="",
            pagerduty_url="u",
            pagerduty_routing_key="k",
            webhook_url="http://w",
        ),
        [],
    )
    assert list(built) == ["webhook"]
