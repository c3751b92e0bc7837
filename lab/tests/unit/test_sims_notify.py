"""Unit tests of the notification sink (in-process, plus one real subprocess for SIGTERM)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

from sims import notify


@pytest.fixture
def sink(serve_sim: Any, tmp_path: Any) -> dict[str, Any]:
    """A running sink writing to a JSONL file."""
    path = str(tmp_path / "messages.jsonl")
    return {"url": serve_sim(notify, {"messages_file": path}), "file": path}


def test_slack_recorded(sink: dict[str, Any]) -> None:
    url = sink["url"]
    resp = requests.post(url + "/slack/T000/B000/XXX", json={"text": "breaker reset"}, timeout=5)
    assert resp.status_code == 200 and resp.text == "ok"
    assert requests.post(url + "/slack/x", json={"nothing": 1}, timeout=5).status_code == 400
    msgs = requests.get(url + "/_lab/messages?channel=slack", timeout=5).json()
    assert msgs["count"] == 1 and msgs["messages"][0]["body"]["text"] == "breaker reset"
    assert msgs["rejected"] == 1
    with open(sink["file"]) as fh:
        assert json.loads(fh.readline())["path"] == "/slack/T000/B000/XXX"


def test_pagerduty_validation(sink: dict[str, Any]) -> None:
    url = sink["url"] + "/pagerduty/v2/enqueue"
    good = {
        "routing_key": "R0UT1NG",
        "event_action": "trigger",
        "payload": {"summary": "breaker stuck", "severity": "critical", "source": "lab"},
    }
    resp = requests.post(url, json=good, timeout=5)
    assert resp.status_code == 202 and resp.json()["status"] == "success" and resp.json()["dedup_key"]
    bad = {**good, "payload": {"summary": "x", "severity": "fatal", "source": "lab"}}
    resp = requests.post(url, json=bad, timeout=5)
    assert resp.status_code == 400 and "severity" in resp.json()["errors"][0]
    assert requests.post(url, json={"routing_key": "R", "event_action": "resolve"}, timeout=5).status_code == 400
    ok = requests.post(url, json={"routing_key": "R", "event_action": "resolve", "dedup_key": "k1"}, timeout=5)
    assert ok.status_code == 202 and ok.json()["dedup_key"] == "k1"
    msgs = requests.get(sink["url"] + "/_lab/messages?channel=pagerduty", timeout=5).json()
    assert msgs["count"] == 2


def test_webhook_and_clear(sink: dict[str, Any]) -> None:
    url = sink["url"]
    assert requests.post(url + "/webhook/awx", data=b"plain", timeout=5).status_code == 200
    assert requests.get(url + "/_lab/messages", timeout=5).json()["messages"][0]["body"] == "plain"
    assert requests.delete(url + "/_lab/messages", timeout=5).json() == {"deleted": 1}
    assert requests.get(url + "/_lab/messages", timeout=5).json()["count"] == 0
    assert os.path.getsize(sink["file"]) == 0


def test_cli_sigterm(tmp_path: Any, port: int, lab_dir: str) -> None:
    cfg = tmp_path / "notify.json"
    cfg.write_text(json.dumps({"port": port, "messages_file": str(tmp_path / "m.jsonl")}))
    env = {**os.environ, "PYTHONPATH": lab_dir}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sims.notify", "--config", str(cfg)], env=env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.time() + 10
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except requests.ConnectionError:
                assert time.time() < deadline, "sink did not start"
                time.sleep(0.1)
        requests.post(f"http://127.0.0.1:{port}/webhook/x", json={"a": 1}, timeout=5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert b"stopped" in proc.stderr.read()
