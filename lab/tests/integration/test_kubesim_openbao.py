"""OpenBao's kubernetes auth method validates kubesim service-account tokens through TokenReview."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

BAO = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "bao"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def openbao(tmp_path: Path) -> Any:
    if not BAO.exists():
        pytest.skip("bao is not installed in .venv")
    port = _free_port()
    log = open(tmp_path / "bao.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BAO), "server", "-dev", "-dev-root-token-id=root", f"-dev-listen-address=127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, HOME=str(tmp_path)),
    )
    log.close()
    env = dict(os.environ, BAO_ADDR=f"http://127.0.0.1:{port}", BAO_TOKEN="root", HOME=str(tmp_path))

    def bao(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BAO), *args], env=env, capture_output=True, text=True, timeout=30, check=check)

    deadline = time.monotonic() + 20
    while bao("status", check=False).returncode != 0:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("bao server -dev did not start: " + (tmp_path / "bao.log").read_text())
        time.sleep(0.2)
    yield bao
    proc.terminate()
    proc.wait(timeout=10)


def test_openbao_kubernetes_login(kubesim: Any, openbao: Any) -> None:
    openbao("auth", "enable", "kubernetes")
    openbao(
        "write",
        "auth/kubernetes/config",
        f"kubernetes_host={kubesim.url}",
        f"kubernetes_ca_cert=@{kubesim.ca}",
        f"token_reviewer_jwt={kubesim.token}",
        "disable_local_ca_jwt=true",
    )
    openbao(
        "write",
        "auth/kubernetes/role/voicehive-orchestrator",
        "bound_service_account_names=voicehive-orchestrator",
        "bound_service_account_namespaces=voicehive",
        "policies=default",
        "ttl=1h",
        "audience=vault",
    )
    token = kubesim.kubectl("create", "token", "voicehive-orchestrator", "-n", "voicehive", "--audience=vault").stdout
    login = openbao(
        "write", "-format=json", "auth/kubernetes/login", "role=voicehive-orchestrator", f"jwt={token.strip()}"
    )
    assert '"service_account_name": "voicehive-orchestrator"' in login.stdout
    reviews = [e for e in kubesim.requests() if e["resource"] == "tokenreviews"]
    assert reviews and reviews[-1]["code"] == 201
    # a token of another service account is refused by the role binding
    other = kubesim.kubectl("create", "token", "default", "-n", "voicehive", "--audience=vault").stdout
    refused = openbao(
        "write", "auth/kubernetes/login", "role=voicehive-orchestrator", f"jwt={other.strip()}", check=False
    )
    assert refused.returncode != 0
