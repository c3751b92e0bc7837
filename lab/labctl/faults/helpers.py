"""Background helper processes that some faults keep running (e.g. sessions holding DB connections)."""

from __future__ import annotations

from .. import paths, proc

PREFIX = "fault-"
MARKER = "labctl.faults"


def start(name: str, module: str, *args: str) -> int:
    """Run `python -m labctl.faults.<module> args...` in the background as helper `fault-<name>`."""
    stop(name)
    return proc.start(
        PREFIX + name,
        [paths.PYTHON, "-m", f"{MARKER}.{module}", *args],
        cwd=paths.STATE,
        env={"PYTHONPATH": str(paths.LAB)},
    )


def stop(name: str) -> bool:
    return proc.stop(PREFIX + name, MARKER, timeout=5.0)


def running(name: str) -> bool:
    return proc.running_pid(PREFIX + name, MARKER) is not None


def stop_all() -> None:
    if not paths.PIDS.exists():
        return
    for pid_path in paths.PIDS.glob(f"{PREFIX}*.pid"):
        proc.stop(pid_path.stem, MARKER, timeout=5.0)
