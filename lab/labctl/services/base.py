"""A lab service: how to prepare, start, probe, seed and stop it."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from pathlib import Path

from .. import paths, proc


class Service:
    """One process of the lab, listening on one fixed port of lab/README.md."""

    name: str = ""
    port: int = 0
    stop_signal: int = signal.SIGTERM
    user: str | None = None
    start_timeout: float = 40.0
    # services whose start (not only health) this one waits for
    after: Sequence[str] = ()

    # --- what subclasses define -------------------------------------------------
    def markers(self) -> list[str]:
        """Substrings that the cmdline of our process contains (pid verification)."""
        raise NotImplementedError

    def argv(self, secrets: dict[str, str]) -> list[str]:
        raise NotImplementedError

    def env(self, secrets: dict[str, str]) -> dict[str, str]:
        return {}

    def prepare(self, secrets: dict[str, str]) -> None:
        """Write config files, create data directories (idempotent)."""

    def healthy(self, secrets: dict[str, str]) -> bool:
        raise NotImplementedError

    def booted(self, secrets: dict[str, str]) -> bool:
        """The fresh process answers well enough to be seeded (default: healthy)."""
        return self.healthy(secrets)

    def available(self) -> bool:
        """Whether this service's program exists in the checkout (simulators land separately)."""
        return True

    def seed(self, secrets: dict[str, str]) -> None:
        """Put the seeded healthy data in place (idempotent)."""

    def reset(self, secrets: dict[str, str]) -> None:
        """Return the service's data to the seeded healthy state (no restart)."""
        self.seed(secrets)

    def heal(self, secrets: dict[str, str]) -> None:
        """Cheap fix-ups on an already healthy service at `lab up` (e.g. config that depends on another service)."""

    def repair(self, secrets: dict[str, str]) -> None:
        """Try to make a running but unhealthy process healthy without a restart (e.g. unseal)."""

    def after_start(self, secrets: dict[str, str]) -> None:
        """Hook run once the freshly started process is healthy, before seeding."""

    # --- common behaviour -------------------------------------------------------
    @property
    def state(self) -> Path:
        return paths.state_dir(self.name)

    def pid(self) -> int | None:
        pid = proc.read_pid(self.name)
        if pid is None:
            return None
        line = " ".join(proc.cmdline(pid))
        if all(marker in line for marker in self.markers()) and proc.running_pid(self.name, self.markers()[0]):
            return pid
        return None

    def start(self, secrets: dict[str, str]) -> int:
        self.prepare(secrets)
        return proc.start(
            self.name,
            self.argv(secrets),
            cwd=self.state,
            env=self.env(secrets),
            user=self.user,
            redact=[value for value in secrets.values() if len(value) >= 8],
        )

    def stop(self, timeout: float = 10.0) -> bool:
        with proc.service_lock(self.name):
            return self.stop_unlocked(timeout)

    def stop_unlocked(self, timeout: float = 10.0) -> bool:
        """Stop our process (caller holds the service lock)."""
        if self.pid() is None:
            proc.pid_file(self.name).unlink(missing_ok=True)
            return False
        return proc.stop(self.name, self.markers()[0], sig=self.stop_signal, timeout=timeout)

    def safe_healthy(self, secrets: dict[str, str]) -> bool:
        try:
            return bool(self.healthy(secrets))
        except Exception:
            return False
