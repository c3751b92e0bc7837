"""Notification sink: records Slack, PagerDuty (Events API v2) and generic webhook posts.

Run: ``PYTHONPATH=lab .venv/bin/python -m sims.notify --config notify.json``

Config keys: ``host`` (127.0.0.1), ``port`` (18099), ``messages_file`` (JSONL,
optional; reloaded at start), ``max_messages`` (in memory, 2000).

- ``POST /slack/<anything>``: JSON (or form ``payload=``) with ``text`` or
  ``blocks`` → 200 ``ok``; otherwise 400 ``invalid_payload``.
- ``POST /pagerduty/v2/enqueue``: Events API v2; ``trigger`` needs
  ``routing_key``, ``payload.summary``, ``payload.severity``
  (critical|error|warning|info), ``payload.source``; ``acknowledge``/``resolve``
  need ``dedup_key`` → 202 ``{status, message, dedup_key}``; invalid → 400.
- ``POST /webhook/<anything>``: any body → 200.
- ``GET /_lab/messages[?channel=slack|pagerduty|webhook]``, ``DELETE /_lab/messages``.
Only valid posts are recorded; rejected ones are counted in ``/_lab/messages``' ``rejected``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs

from sims.common import (
    HTTPError,
    JSONHandler,
    LabHTTPServer,
    load_config,
    parse_args,
    route,
    serve,
    setup_logging,
    utc_now_iso,
)

LOG = logging.getLogger("sims.notify")
SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")


class Store:
    """Recorded messages in memory, mirrored to a JSONL file."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        """Load earlier messages from ``messages_file`` when it exists."""
        self.path: str | None = cfg.get("messages_file")
        self.max = int(cfg.get("max_messages", 2000))
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self.rejected = 0
        if self.path and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        self.messages.append(json.loads(line))
                    except ValueError:
                        continue
            del self.messages[: -self.max]

    def add(self, channel: str, path: str, body: Any) -> dict[str, Any]:
        """Record one message."""
        msg = {"id": uuid.uuid4().hex, "time": utc_now_iso(), "channel": channel, "path": path, "body": body}
        with self.lock:
            self.messages.append(msg)
            del self.messages[: -self.max]
            if self.path:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(msg) + "\n")
        LOG.info("recorded %s message on %s", channel, path)
        return msg

    def clear(self) -> int:
        """Forget every message (memory and file)."""
        with self.lock:
            count = len(self.messages)
            self.messages = []
            self.rejected = 0
            if self.path and os.path.exists(self.path):
                open(self.path, "w", encoding="utf-8").close()
        return count


def pagerduty_errors(event: dict[str, Any]) -> list[str]:
    """Validation errors of a PagerDuty Events API v2 event (empty when valid)."""
    errors = []
    if not isinstance(event.get("routing_key"), str) or not event.get("routing_key"):
        errors.append("'routing_key' is missing or blank")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
        else:
            for field in ("summary", "source"):
                if not isinstance(payload.get(field), str) or not payload.get(field):
                    errors.append(f"'payload.{field}' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' must be one of critical, error, warning, info")
    elif action in ("acknowledge", "resolve") and not event.get("dedup_key"):
        errors.append("'dedup_key' is required for acknowledge and resolve")
    return errors


class NotifyHandler(JSONHandler):
    """HTTP interface of the notification sink."""

    server_version = "notify-sink/1.0"

    @property
    def store(self) -> Store:
        """The message store."""
        return self.app

    def _reject(self, status: int, body: Any) -> None:
        with self.store.lock:
            self.store.rejected += 1
        raise HTTPError(status, body)

    @route("POST", "/slack/(?P<rest>.*)")
    def slack(self, rest: str) -> None:
        """Slack incoming webhook."""
        raw = self.read_body().decode("utf-8", "replace")
        try:
            if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                body = json.loads(parse_qs(raw).get("payload", ["{}"])[-1])
            else:
                body = json.loads(raw or "{}")
        except ValueError:
            self._reject(400, {"error": "invalid_payload"})
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks") or body.get("attachments")):
            self._reject(400, {"error": "invalid_payload", "detail": "no_text"})
        self.store.add("slack", self.url_path, body)
        self.send_text(200, "ok")

    @route("POST", "/pagerduty/v2/enqueue")
    def pagerduty(self) -> None:
        """PagerDuty Events API v2 enqueue."""
        try:
            event = json.loads(self.read_body() or b"{}")
        except ValueError:
            self._reject(400, {"status": "invalid event", "message": "Event object is invalid", "errors": ["bad JSON"]})
        if not isinstance(event, dict):
            self._reject(
                400, {"status": "invalid event", "message": "Event object is invalid", "errors": ["not an object"]}
            )
        errors = pagerduty_errors(event)
        if errors:
            self._reject(400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors})
        dedup = str(event.get("dedup_key") or uuid.uuid4().hex)
        self.store.add("pagerduty", self.url_path, {**event, "dedup_key": dedup})
        self.send_json(202, {"status": "success", "message": "Event processed", "dedup_key": dedup})

    @route("POST", "/webhook/(?P<rest>.*)")
    def webhook(self, rest: str) -> None:
        """Generic webhook: JSON bodies are stored decoded, others as text."""
        raw = self.read_body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.store.add("webhook", self.url_path, body)
        self.send_json(200, {"received": True})

    @route("GET", "/_lab/messages")
    def list_messages(self) -> None:
        """Recorded messages, optionally filtered by ``channel``."""
        channel = self.query.get("channel")
        with self.store.lock:
            msgs = [m for m in self.store.messages if not channel or m["channel"] == channel]
            rejected = self.store.rejected
        self.send_json(200, {"messages": msgs, "count": len(msgs), "rejected": rejected})

    @route("DELETE", "/_lab/messages")
    def clear_messages(self) -> None:
        """Forget every recorded message."""
        self.send_json(200, {"deleted": self.store.clear()})

    @route("GET", "/health")
    def health(self) -> None:
        """Liveness of the sink."""
        self.send_json(200, {"status": "ok"})


def build_server(cfg: dict[str, Any]) -> LabHTTPServer:
    """Create the (not yet serving) notification sink."""
    return LabHTTPServer((cfg.get("host", "127.0.0.1"), int(cfg.get("port", 18099))), NotifyHandler, Store(cfg))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    args = parse_args("VoiceHive lab notification sink", argv)
    cfg = load_config(args.config)
    setup_logging(cfg.get("log_level", "INFO"))
    serve(build_server(cfg), "notify")


if __name__ == "__main__":
    main()
