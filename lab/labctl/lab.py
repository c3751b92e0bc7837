"""`lab/bin/lab up|down|status|reset|start|stop|restart|logs|hook` — see lab/README.md."""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import paths, proc
from . import secrets as lab_secrets
from .services import BY_NAME, KUBESIM, POSTGRES_PRIMARY, SERVICES, Service, get

RESULT_OK = ("started", "healthy")


def clear_discovery_cache() -> None:
    """kubernetes.core caches API discovery in $TMPDIR/k8srcp-*.json: stale after a lab restart."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "k8srcp-*.json")):
        with contextlib.suppress(OSError):
            os.unlink(path)


def bring_up(svc: Service, secrets: dict[str, str], *, reseed: bool = False) -> tuple[str, str]:
    """Start one service unless it is already healthy; wait for it; seed it. Returns (result, detail)."""
    with proc.service_lock(svc.name):
        return _bring_up(svc, secrets, reseed=reseed)


def _bring_up(svc: Service, secrets: dict[str, str], *, reseed: bool) -> tuple[str, str]:
    if not svc.available():
        return "skipped", "program not in the checkout yet"
    if svc.safe_healthy(secrets):
        if reseed:
            svc.seed(secrets)
        else:
            svc.heal(secrets)
        return "healthy", "already running"
    if svc.pid() is not None:
        # a process of ours that is still booting, or is wedged: repair it, give it a moment, then replace it
        with contextlib.suppress(Exception):
            svc.repair(secrets)
        if proc.wait_for(lambda: svc.healthy(secrets), 5.0):
            return "healthy", "already running"
        svc.stop_unlocked()
    started = time.monotonic()
    svc.start(secrets)
    if not proc.wait_for(lambda: svc.booted(secrets), svc.start_timeout):
        tail = tail_log(svc.name, 5)
        return "failed", f"not healthy after {svc.start_timeout:.0f} s; log tail:\n{tail}"
    svc.after_start(secrets)
    svc.seed(secrets)
    if svc is POSTGRES_PRIMARY:
        POSTGRES_PRIMARY.dump(paths.BACKUPS / "voicehive-latest.sql")
    if not proc.wait_for(lambda: svc.healthy(secrets), 10.0):
        return "failed", "seeded but not healthy"
    return "started", f"{time.monotonic() - started:.1f} s"


def tail_log(name: str, lines: int) -> str:
    try:
        return "\n".join(proc.log_file(name).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def up(names: list[str] | None = None) -> int:
    began = time.monotonic()
    paths.ensure_base()
    secrets = lab_secrets.ensure()
    clear_discovery_cache()
    chosen = [get(n) for n in names] if names else SERVICES
    if KUBESIM in chosen and KUBESIM.available():
        try:
            KUBESIM.init(secrets)
        except Exception as exc:
            print(f"kubesim init failed: {exc}", file=sys.stderr)
    elif not KUBESIM.available():
        print("note: lab/kubesim is not in the checkout yet: kubesim skipped", file=sys.stderr)
    done: dict[str, threading.Event] = {svc.name: threading.Event() for svc in SERVICES}
    for svc in SERVICES:
        if svc not in chosen:
            done[svc.name].set()
    results: dict[str, tuple[str, str]] = {}

    def run(svc: Service) -> None:
        try:
            for dep in svc.after:
                done[dep].wait(timeout=60)
            results[svc.name] = bring_up(svc, secrets)
        except Exception as exc:
            results[svc.name] = ("failed", f"{type(exc).__name__}: {exc}")
        finally:
            done[svc.name].set()

    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        list(pool.map(run, chosen))
    failed = 0
    for svc in chosen:
        result, detail = results.get(svc.name, ("failed", "?"))
        failed += result == "failed"
        print(f"{svc.name:22} {svc.port:5} {result:8} {detail}")
    print(f"lab up: {time.monotonic() - began:.1f} s, {failed} failed")
    return 1 if failed else 0


def down() -> int:
    from .faults import helpers

    helpers.stop_all()
    order = [s for s in reversed(SERVICES)]
    with ThreadPoolExecutor(max_workers=len(order)) as pool:
        stopped = list(pool.map(lambda s: (s.name, s.stop()), order))
    for name, was in stopped:
        if was:
            print(f"stopped {name}")
    leftovers = [p.stem for p in paths.PIDS.glob("*.pid")] if paths.PIDS.exists() else []
    for name in leftovers:
        proc.pid_file(name).unlink(missing_ok=True)
    clear_discovery_cache()
    return 0


def status_lines(secrets: dict[str, str]) -> list[tuple[Service, int | None, bool]]:
    with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:
        health = list(pool.map(lambda s: s.safe_healthy(secrets), SERVICES))
    return [(svc, svc.pid(), ok) for svc, ok in zip(SERVICES, health, strict=True)]


def status() -> int:
    secrets = lab_secrets.load()
    if not secrets:
        for svc in SERVICES:
            print(f"{svc.name} {svc.port} - down")
        return 1
    bad = 0
    for svc, pid, ok in status_lines(secrets):
        bad += not ok
        print(f"{svc.name} {svc.port} {pid if pid is not None else '-'} {'healthy' if ok else 'down'}")
    return 1 if bad else 0


def reset() -> int:
    """Seeded healthy state without restarting healthy services: faults cleared, data re-seeded."""
    from .faults import registry
    from .services import OPENBAO

    began = time.monotonic()
    code = up()  # restarts whatever a fault (or a person) stopped
    secrets = lab_secrets.load()
    errors: list[str] = []
    try:
        OPENBAO.reset(secrets)  # unsealed first: other faults' clear needs Vault
    except Exception as exc:
        errors.append(f"openbao: {type(exc).__name__}: {exc}")
    try:
        registry.clear_all(quiet=True)
    except Exception as exc:
        errors.append(str(exc))

    def one(svc: Service) -> None:
        if not svc.available():
            return
        try:
            svc.reset(secrets)
        except Exception as exc:
            errors.append(f"{svc.name}: {type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:
        list(pool.map(one, [s for s in SERVICES if s.name not in ("orchestrator-primary", "orchestrator-dr")]))
    for svc in (BY_NAME["orchestrator-primary"], BY_NAME["orchestrator-dr"]):
        one(svc)
    registry.forget_all()
    for err in errors:
        print(f"reset error: {err}", file=sys.stderr)
    print(f"lab reset: {time.monotonic() - began:.1f} s")
    return 1 if errors or code else 0


def start(names: list[str]) -> int:
    return up(names)


def stop(names: list[str]) -> int:
    for name in names:
        print(f"{name}: {'stopped' if get(name).stop() else 'not running'}")
    return 0


def logs(name: str, lines: int) -> int:
    get(name)
    print(tail_log(name, lines))
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="lab", description="The local VoiceHive lab (lab/README.md).")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("up", help="start every service (idempotent)")
    sub.add_parser("down", help="stop every lab process")
    sub.add_parser("status", help="one line per service; exit 1 if any is down")
    sub.add_parser("reset", help="clear faults and re-seed without a full restart")
    for cmd in ("start", "stop", "restart"):
        p = sub.add_parser(cmd, help=f"{cmd} named services")
        p.add_argument("names", nargs="+", choices=list(BY_NAME))
    p = sub.add_parser("logs", help="tail a service's log")
    p.add_argument("name", choices=list(BY_NAME))
    p.add_argument("-n", "--lines", type=int, default=50)
    p = sub.add_parser("hook", help="kubesim controller hook (internal)")
    p.add_argument("hook")
    args: Any = parser.parse_args(argv)
    if args.cmd == "up":
        return up()
    if args.cmd == "down":
        return down()
    if args.cmd == "status":
        return status()
    if args.cmd == "reset":
        return reset()
    if args.cmd == "start":
        return start(args.names)
    if args.cmd == "stop":
        return stop(args.names)
    if args.cmd == "restart":
        stop(args.names)
        return start(args.names)
    if args.cmd == "logs":
        return logs(args.name, args.lines)
    if args.cmd == "hook":
        from . import hooks

        return hooks.run(args.hook)
    return 2
