# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the benchmark scripts share: where the checkout and its venv are, the environment their commands run in,
and running a command that must succeed (the script stops with its output when it does not)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
LAB = ROOT / "lab" / "bin"
STATE = ROOT / "lab" / ".state"


def env(**extra: str) -> dict[str, str]:
    return (
        dict(
            os.environ,
            PATH=f"{BIN}:{os.environ['PATH']}",
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
        )
        | extra
    )


def run(cmd: list[str], ok: tuple[int, ...] = (0,), stdin: str | None = None, **extra_env: str) -> str:
    """Runs cmd in the checkout; its stdout. Exits naming the script and the command when it fails."""
    out = subprocess.run(cmd, cwd=ROOT, env=env(**extra_env), input=stdin, capture_output=True, text=True, check=False)
    if out.returncode not in ok:
        script = Path(sys.argv[0]).stem
        sys.exit(f"{script}: {' '.join(cmd)} exited {out.returncode}:\n{out.stdout[-3000:]}{out.stderr[-2000:]}")
    return out.stdout


def timed(cmd: list[str], ok: tuple[int, ...] = (0,), **extra_env: str) -> float:
    """Seconds cmd took (it must succeed)."""
    start = time.perf_counter()
    run(cmd, ok, **extra_env)
    return time.perf_counter() - start
