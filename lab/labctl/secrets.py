"""Generated lab secrets in lab/.state/secrets.json (mode 0600, never committed)."""

from __future__ import annotations

import json
import os
import secrets as _rand
import string
from typing import Any

from . import paths

_ALNUM = string.ascii_letters + string.digits


def _alnum(n: int) -> str:
    return "".join(_rand.choice(_ALNUM) for _ in range(n))


GENERATORS: dict[str, Any] = {
    "kube_admin_token": lambda: "kubesim-admin-" + _rand.token_hex(24),
    "vault_root_token": lambda: "lab-root-" + _rand.token_hex(16),
    "redis_password": lambda: _alnum(32),
    "postgres_password": lambda: _alnum(32),
    "jwt_secret": lambda: _rand.token_urlsafe(32),
    "apaleo_client_id": lambda: "VOIC-AC-" + _alnum(8).upper(),
    "apaleo_client_secret": lambda: _alnum(40),
    "apaleo_lab_token": lambda: _rand.token_hex(24),
    "livekit_api_key": lambda: "API" + _alnum(12),
    "livekit_api_secret": lambda: _alnum(43),
    "api_key": lambda: "vh_live_" + _rand.token_hex(16),
    "demo_user_password": lambda: "Demo-" + _alnum(16),
    "pagerduty_routing_key": lambda: _rand.token_hex(16),
    "aws_access_key": lambda: "AKIALAB" + _alnum(13).upper(),
    "aws_secret_key": lambda: _alnum(40),
    "awx_token": lambda: _alnum(30),
    "awx_admin_password": lambda: "Awx-" + _alnum(20),
}


def load() -> dict[str, str]:
    if not paths.SECRETS.exists():
        return {}
    return json.loads(paths.SECRETS.read_text())


def save(data: dict[str, str]) -> None:
    paths.ensure_base()
    tmp = paths.SECRETS.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, paths.SECRETS)


def ensure() -> dict[str, str]:
    """Generate every missing secret; existing values are kept."""
    data = load()
    missing = [key for key in GENERATORS if key not in data]
    for key in missing:
        data[key] = GENERATORS[key]()
    if missing or not paths.SECRETS.exists():
        save(data)
    os.chmod(paths.SECRETS, 0o600)
    return data


def update(**values: str) -> None:
    data = load()
    data.update(values)
    save(data)


def get(key: str) -> str:
    data = load()
    if key not in data:
        data = ensure()
    return data[key]
