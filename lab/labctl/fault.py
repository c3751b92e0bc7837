"""`lab/bin/fault list|inject NAME|clear [NAME]|status` — see lab/README.md."""

from __future__ import annotations

import argparse
import json

from .faults import registry
from .faults.base import Context


def main(argv: list[str]) -> int:
    """Run the fault CLI; a service that cannot be reached gives one clear line, not a traceback."""
    try:
        return _main(argv)
    except (OSError, ConnectionError) as exc:
        raise SystemExit(f"fault: cannot reach a lab service ({exc}). Is the lab up? Try: lab/bin/lab status") from exc
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in {"redis", "psycopg", "hvac", "requests", "urllib3", "kubernetes"}:
            raise SystemExit(
                f"fault: cannot change the lab ({type(exc).__name__}: {exc}). "
                "Is the lab up? Check lab/bin/lab status and lab/.state/logs/."
            ) from exc
        raise


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fault", description="Inject troubleshooting-guide faults into the lab.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("list", help="one fault name per line")
    p.add_argument("-v", "--verbose", action="store_true", help="with summary and guide section")
    p = sub.add_parser("inject", help="inject a fault")
    p.add_argument("name")
    p = sub.add_parser("clear", help="clear one fault, or all recorded faults")
    p.add_argument("name", nargs="?")
    p = sub.add_parser("status", help="recorded faults and whether each is observable now")
    p.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        for name, fault in registry.all_faults().items():
            print(f"{name}\t{fault.guide}\t{fault.summary}" if args.verbose else name)
        return 0
    if args.cmd == "inject":
        entry = registry.inject(args.name)
        print(f"injected {args.name}: {registry.get(args.name).summary}")
        return 0 if entry else 1
    if args.cmd == "clear":
        if args.name:
            registry.clear(args.name)
            print(f"cleared {args.name}")
        else:
            registry.clear_all()
        return 0
    if args.cmd == "status":
        ctx = Context()
        out = {}
        for name in registry.load_record():
            try:
                out[name] = registry.get(name).active(ctx)
            except Exception as exc:
                out[name] = f"unknown ({type(exc).__name__})"
        print(json.dumps(out, indent=2) if args.json else "\n".join(f"{k} active={v}" for k, v in out.items()))
        return 0
    return 2
