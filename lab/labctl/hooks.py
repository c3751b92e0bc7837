"""kubesim controller hooks: a pod (re)start in the emulator acts on the real service behind it."""

from __future__ import annotations

import os
import sys

from . import secrets as lab_secrets


def postgres_pod_started() -> int:
    from .lab import bring_up
    from .services import POSTGRES_DR, POSTGRES_PRIMARY

    svc = POSTGRES_DR if os.environ.get("KUBESIM_NAMESPACE") == "voicehive-dr" else POSTGRES_PRIMARY
    secrets = lab_secrets.load()
    result, detail = bring_up(svc, secrets)
    print(f"hook postgres-pod-started {svc.name}: {result} {detail}")
    return 0 if result != "failed" else 1


def monitoring_pod_started() -> int:
    from . import promsync
    from .lab import bring_up
    from .services import ALERTMANAGER, PROMETHEUS

    secrets = lab_secrets.load()
    for svc in (PROMETHEUS, ALERTMANAGER):
        result, detail = bring_up(svc, secrets)
        print(f"hook monitoring-pod-started {svc.name}: {result} {detail}")
    print(promsync.sync_all(secrets))
    return 0


HOOKS = {"postgres-pod-started": postgres_pod_started, "monitoring-pod-started": monitoring_pod_started}


def run(name: str) -> int:
    if name not in HOOKS:
        print(f"unknown hook {name!r}", file=sys.stderr)
        return 2
    return HOOKS[name]()
