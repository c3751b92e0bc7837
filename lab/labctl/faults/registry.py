"""All faults, by name, and the record of injected ones in lab/.state/faults.json."""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

from .. import paths
from .base import Context, Fault

MODULES = (
    "auth",
    "rate_limit",
    "breakers",
    "performance",
    "database",
    "pms",
    "livekit",
    "monitoring",
    "security",
    "network",
    "dr",
)


def all_faults() -> dict[str, Fault]:
    faults: dict[str, Fault] = {}
    for module in MODULES:
        try:
            mod = importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{module}":
                continue
            raise
        for fault in mod.FAULTS:
            faults[fault.name] = fault
    return faults


def load_record() -> dict[str, Any]:
    try:
        return json.loads(paths.FAULTS.read_text())
    except (OSError, ValueError):
        return {}


def save_record(data: dict[str, Any]) -> None:
    paths.ensure_base()
    tmp = paths.FAULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.chmod(0o600)
    tmp.replace(paths.FAULTS)


def get(name: str) -> Fault:
    faults = all_faults()
    if name not in faults:
        raise SystemExit(f"unknown fault {name!r}; `lab/bin/fault list` shows them")
    return faults[name]


def inject(name: str) -> dict[str, Any]:
    fault = get(name)
    record = load_record()
    if name in record:
        return record[name]
    data = fault.inject(Context())
    record = load_record()
    record[name] = {"injected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "data": data}
    save_record(record)
    return record[name]


def clear(name: str) -> None:
    fault = get(name)
    record = load_record()
    entry = record.get(name, {})
    fault.clear(Context(), entry.get("data", {}))
    record = load_record()
    record.pop(name, None)
    save_record(record)


def clear_all(quiet: bool = False) -> list[str]:
    """Clear every recorded fault, most recent first; a fault whose clear fails is retried once at the end
    (one fault can block another's clear, e.g. a sealed Vault). Raises when some still fail."""
    record = load_record()
    order = sorted(record, key=lambda n: record[n].get("injected_at", ""), reverse=True)
    failed: dict[str, str] = {}
    for attempt in (1, 2):
        todo = order if attempt == 1 else list(failed)
        failed = {}
        for name in todo:
            try:
                clear(name)
            except SystemExit:  # a fault that no longer exists
                remaining = load_record()
                remaining.pop(name, None)
                save_record(remaining)
            except Exception as exc:
                failed[name] = f"{type(exc).__name__}: {exc}"
                continue
            if not quiet:
                print(f"cleared {name}")
        if not failed:
            break
    if failed:
        raise RuntimeError("cannot clear " + "; ".join(f"{k} ({v})" for k, v in failed.items()))
    return order


def forget_all() -> None:
    save_record({})
