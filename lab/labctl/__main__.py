"""Entry point: `python -m labctl lab ...` or `python -m labctl fault ...`."""

from __future__ import annotations

import sys


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("lab", "fault"):
        print("usage: python -m labctl lab|fault ...", file=sys.stderr)
        return 2
    if sys.argv[1] == "lab":
        from .lab import main as lab_main

        return lab_main(sys.argv[2:])
    from .fault import main as fault_main

    return fault_main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
