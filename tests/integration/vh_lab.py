# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for integration tests against the running lab (make lab-up).

The tests drive the collection exactly as a user does (ansible-playbook with
inventories/lab) and read the outcome from the services themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / "lab" / ".state"
VENV_BIN = ROOT / ".venv" / "bin"


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    reports: list[dict]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def report(self) -> dict:
        assert self.reports, f"the run wrote no report:\n{self.output[-3000:]}"
        return self.reports[-1]

    def recap_changed(self, host: str = "lab") -> int:
        for line in self.stdout.splitlines():
            if line.startswith(host + " ") and "changed=" in line:
                return int(line.split("changed=")[1].split()[0])
        raise AssertionError(f"no PLAY RECAP line for {host}:\n{self.stdout[-2000:]}")


def lab(*args: str) -> str:
    out = subprocess.run([str(ROOT / "lab" / "bin" / "lab"), *args], capture_output=True, text=True, check=False)
    assert out.returncode == 0, f"lab {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def fault(*args: str) -> str:
    out = subprocess.run([str(ROOT / "lab" / "bin" / "fault"), *args], capture_output=True, text=True, check=False)
    assert out.returncode == 0, f"fault {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def run_playbook(
    playbook: str,
    *args: str,
    extra_vars: dict | None = None,
    env: dict | None = None,
    target: str = "lab",
    timeout: int = 600,
) -> PlaybookRun:
    """Run a playbook against the lab and collect the reports it wrote."""
    report_dir = ROOT / "reports"
    before = set(report_dir.glob("*.json")) if report_dir.exists() else set()
    cmd = [
        str(VENV_BIN / "ansible-playbook"),
        "-i",
        str(ROOT / "inventories" / "lab"),
        playbook,
        "-e",
        f"voicehive_target={target}",
        *args,
    ]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    full_env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=f"{VENV_BIN}:{os.environ['PATH']}",
    )
    full_env.update(env or {})
    out = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout, check=False)
    after = set(report_dir.glob("*.json")) if report_dir.exists() else set()
    reports = [json.loads(p.read_text()) for p in sorted(after - before, key=lambda p: p.stat().st_mtime)]
    return PlaybookRun(out.returncode, out.stdout, out.stderr, reports)


def notifications(channel: str | None = None) -> list[dict]:
    params = {"channel": channel} if channel else {}
    resp = requests.get("http://127.0.0.1:18099/_lab/messages", params=params, timeout=5)
    resp.raise_for_status()
    body = resp.json()
    return body["messages"] if isinstance(body, dict) else body


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
