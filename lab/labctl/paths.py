"""Filesystem layout of the lab (see lab/README.md, "Runtime state")."""

from __future__ import annotations

import sys
from pathlib import Path

LAB = Path(__file__).resolve().parent.parent
ROOT = LAB.parent
STATE = LAB / ".state"
PIDS = STATE / "pids"
LOGS = STATE / "logs"
SECRETS = STATE / "secrets.json"
FAULTS = STATE / "faults.json"
ROUTE53 = STATE / "route53.json"
BACKUPS = STATE / "backups"
SERVICES_SRC = LAB / "services"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
HOST = "127.0.0.1"


def state_dir(name: str) -> Path:
    """Return (and create) the state directory of one service."""
    path = STATE / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_base() -> None:
    for path in (STATE, PIDS, LOGS, BACKUPS):
        path.mkdir(parents=True, exist_ok=True)
