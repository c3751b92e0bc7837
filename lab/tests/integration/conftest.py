"""Fixtures of the lab integration tests — kubesim only: start it on a free port in a temp state dir."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
LAB = ROOT / "lab"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
KUBECTL = str(VENV_BIN / "kubectl") if (VENV_BIN / "kubectl").exists() else "kubectl"
if str(LAB) not in sys.path:
    sys.path.insert(0, str(LAB))

# Fixed, recognisable fake secrets: tests check they land in the seeded Secrets.
KUBESIM_TEST_SECRETS = {
    "jwt_secret": "test-jwt-secret-0123456789",
    "redis_password": "test-redis-pw",
    "postgres_password": "test-pg-pw",
    "vault_root_token": "test-vault-root",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class KubesimProc:
    """A running kubesim subprocess and the helpers to talk to it."""

    state: Path
    port: int
    token: str
    config: Path
    proc: subprocess.Popen[bytes] | None = None
    hook_file: Path = field(default_factory=Path)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubectl_bin(self) -> str:
        return KUBECTL

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def ca(self) -> Path:
        return self.state / "kubesim" / "ca.crt"

    @property
    def request_log(self) -> Path:
        return self.state / "kubesim" / "requests.jsonl"

    def env(self) -> dict[str, str]:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), HOME=str(self.state / "home"))
        env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
        return env

    def start(self) -> None:
        log = open(self.state / "kubesim.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "kubesim", "--config", str(self.config)],
            env=dict(os.environ, PYTHONPATH=str(LAB), PYTHONUNBUFFERED="1"),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kubesim exited: " + (self.state / "kubesim.log").read_text())
            try:
                code, _ = self.api("GET", "/readyz")
                if code == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("kubesim did not become ready")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        token: str | None = None,
        accept: str = "application/json",
    ) -> tuple[int, Any]:
        """One raw API request; returns (status code, decoded JSON or text)."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", accept)
        if data is not None:
            req.add_header("Content-Type", content_type)
        tok = self.token if token is None else token
        if tok:
            req.add_header("Authorization", f"Bearer {tok}")
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
                raw, code, ctype = resp.read(), resp.status, resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            raw, code, ctype = err.read(), err.code, err.headers.get("Content-Type", "")
        if "json" in ctype:
            return code, json.loads(raw)
        return code, raw.decode()

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this kubesim."""
        result = subprocess.run(
            [KUBECTL, *args], env=self.env(), capture_output=True, text=True, timeout=timeout, input=stdin, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def requests(self) -> list[dict[str, Any]]:
        """The request log entries so far."""
        return [json.loads(line) for line in self.request_log.read_text().splitlines() if line.strip()]

    def wait_for(self, predicate: Any, timeout: float = 10.0, interval: float = 0.1) -> Any:
        """Poll ``predicate()`` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s (last value {last!r})")


def make_kubesim(state: Path) -> KubesimProc:
    """init a state dir (fake secrets, orchestrator log, a recording hook) without starting kubesim."""
    state.mkdir(parents=True, exist_ok=True)
    (state / "home").mkdir(exist_ok=True)
    (state / "secrets.json").write_text(json.dumps(KUBESIM_TEST_SECRETS))
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(LAB))
    out = subprocess.run(
        [PYTHON, "-m", "kubesim", "init", "--state-dir", str(state), "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=str(ROOT),
    )
    config_path = Path(out.stdout.strip().splitlines()[-1])
    config = json.loads(config_path.read_text())
    hook_file = state / "hooks.log"
    hook = [
        sys.executable,
        "-c",
        "import os,sys; open(sys.argv[1],'a').write(os.environ['KUBESIM_EVENT']+' '"
        "+os.environ['KUBESIM_NAMESPACE']+' '+os.environ['KUBESIM_POD']+'\\n')",
        str(hook_file),
    ]
    config["hooks"] = [
        {"namespace": "voicehive", "selector": "app=postgresql", "event": "pod-deleted", "exec": hook},
        {"namespace": "voicehive", "selector": "app=postgresql", "event": "pod-started", "exec": hook},
    ]
    config_path.write_text(json.dumps(config))
    logs = state / "orchestrator"
    logs.mkdir(exist_ok=True)
    (logs / "lab.log").write_text("".join(f"2026-11-28T10:00:0{i}Z INFO orchestrator line {i}\n" for i in range(1, 6)))
    secrets = json.loads((state / "secrets.json").read_text())
    return KubesimProc(
        state=state, port=port, token=secrets["kube_admin_token"], config=config_path, hook_file=hook_file
    )


@pytest.fixture(scope="session")
def kubesim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubesimProc]:
    """A kubesim serving the VoiceHive seed on a free port (shared by the session; tests use distinct objects)."""
    for cache in glob.glob(os.path.join(tempfile.gettempdir(), "k8srcp-*.json")):
        with contextlib.suppress(OSError):
            os.unlink(cache)
    sim = make_kubesim(tmp_path_factory.mktemp("kubesim"))
    sim.start()
    yield sim
    sim.stop()
    shutil.rmtree(sim.state / "home", ignore_errors=True)


@pytest.fixture
def fresh_kubesim(tmp_path: Path) -> Iterator[KubesimProc]:
    """A kubesim of the test's own (for restart/persistence/reset tests)."""
    sim = make_kubesim(tmp_path / "state")
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def kubesim_factory(tmp_path: Path) -> Iterator[Any]:
    """Start kubesims of the test's own, with config overrides: ``factory(authorization="RBAC")``."""
    started: list[KubesimProc] = []

    def start(**overrides: Any) -> KubesimProc:
        sim = make_kubesim(tmp_path / f"state{len(started)}")
        config = json.loads(sim.config.read_text())
        config.update(overrides)
        sim.config.write_text(json.dumps(config))
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()
