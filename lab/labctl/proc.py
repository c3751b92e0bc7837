"""Background processes of the lab: start in their own session, pid files, verified stop."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from . import paths


def pid_file(name: str) -> Path:
    return paths.PIDS / f"{name}.pid"


def log_file(name: str) -> Path:
    return paths.LOGS / f"{name}.log"


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def read_pid(name: str) -> int | None:
    try:
        return int(pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None


def running_pid(name: str, marker: str) -> int | None:
    """The pid of service `name` if its pid file names a live process whose cmdline contains `marker`."""
    pid = read_pid(name)
    if pid is None or _is_zombie(pid):
        return None
    if marker not in " ".join(cmdline(pid)):
        return None
    return pid


def start(
    name: str,
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    user: str | None = None,
    redact: Sequence[str] = (),
) -> int:
    """Start argv in the background (own session = own process group); record its pid."""
    paths.ensure_base()
    log = open(log_file(name), "ab")  # noqa: SIM115 - handed to the child
    shown = " ".join(argv)
    for value in redact:
        shown = shown.replace(value, "<redacted>")
    log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} start {shown}\n".encode())
    log.flush()
    # lab programs talk to 127.0.0.1 with the lab's own CA: a machine-wide CA bundle variable
    # would override the CA file that requests sessions set (requests' env precedence)
    full_env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    full_env.update(env or {})
    kwargs: dict = {}
    if user is not None and os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
        full_env.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)
    child = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=str(cwd) if cwd else None,
        env=full_env,
        start_new_session=True,
        close_fds=True,
        **kwargs,
    )
    log.close()
    pid_file(name).write_text(f"{child.pid}\n")
    return child.pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(name: str, marker: str, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
    """Stop service `name` if its pid file points at our process; SIGKILL its group after timeout."""
    pid = running_pid(name, marker)
    if pid is None:
        pid_file(name).unlink(missing_ok=True)
        return False
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        pgid = None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not _alive(pid):
            break
        time.sleep(0.1)
    else:
        if pgid is not None and pgid == pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            _reap(pid)
            if not _alive(pid):
                break
            time.sleep(0.1)
    # leftovers of the same process group (children) get SIGTERM too
    if pgid is not None and pgid == pid:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    pid_file(name).unlink(missing_ok=True)
    return True


@contextlib.contextmanager
def service_lock(name: str) -> Iterator[None]:
    """Serialise start/stop of one service across processes (lab up, faults, kubesim hooks)."""
    paths.ensure_base()
    with open(paths.PIDS / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def wait_for(check: Callable[[], object], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except Exception:  # noqa: S110 - any failure of the probe means "not yet"
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
