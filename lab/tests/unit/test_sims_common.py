"""Unit tests of the simulators' shared plumbing (sims.common)."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sims.common import AppLog, KubeClient, KubeError, TTLCache, parse_cpu, pod_ready, secret_value


def _cert(tmp: Any) -> tuple[str, str, str]:
    """A CA and a server certificate for 127.0.0.1 (paths: ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (str(tmp / "ca.crt"), str(tmp / "tls.crt"), str(tmp / "tls.key"))
    with open(paths[0], "wb") as fh:
        fh.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return paths


@pytest.fixture
def tls_api(tmp_path: Any) -> Any:
    """An HTTPS server that wants a bearer token and serves one ConfigMap."""
    ca, cert, key = _cert(tmp_path)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.headers.get("Authorization") != "Bearer tok":
                code, body = 401, {"kind": "Status", "code": 401}
            elif self.path.startswith("/api/v1/namespaces/voicehive/configmaps/rate-limit-config"):
                code, body = 200, {"data": {"requests_per_minute": "60"}}
            else:
                code, body = 404, {"kind": "Status", "code": 404}
            raw = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"https://127.0.0.1:{server.server_address[1]}", "ca": ca}
    server.shutdown()
    server.server_close()


def test_kube_client_uses_its_ca_even_with_requests_ca_bundle(tls_api: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    kube = KubeClient(tls_api["url"], token="tok", ca_file=tls_api["ca"])
    assert kube.get("/api/v1/namespaces/voicehive/configmaps/rate-limit-config") == {
        "data": {"requests_per_minute": "60"}
    }
    assert kube.get("/api/v1/namespaces/voicehive/configmaps/nope") is None
    with pytest.raises(KubeError, match="401"):
        KubeClient(tls_api["url"], token="bad", ca_file=tls_api["ca"]).get("/api/v1/namespaces/voicehive/configmaps/x")
    with pytest.raises(KubeError, match="unreachable"):
        KubeClient(tls_api["url"], token="tok").get("/api/v1/namespaces/voicehive/configmaps/x")  # unknown CA


def test_helpers() -> None:
    assert parse_cpu("950m") == pytest.approx(0.95)
    assert parse_cpu("1500000n") == pytest.approx(0.0015)
    assert parse_cpu("2") == 2.0
    secret = {"data": {"secret": base64.b64encode(b"value").decode()}, "stringData": {"plain": "p"}}
    assert secret_value(secret, "secret") == "value" and secret_value(secret, "plain") == "p"
    assert secret_value(secret, "missing") is None and secret_value(None, "x") is None
    ready = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}, "metadata": {}}
    assert pod_ready(ready)
    assert not pod_ready({**ready, "metadata": {"deletionTimestamp": "now"}})
    calls = []
    cache = TTLCache(ttl=60)
    assert cache.get("k", lambda: calls.append(1) or 1) == 1
    assert cache.get("k", lambda: calls.append(1) or 2) == 1 and calls == [1]


def test_app_log_format_level_and_rotation(tmp_path: Any) -> None:
    path = str(tmp_path / "app.log")
    log = AppLog(path, max_bytes=300)
    assert log.log("DEBUG", "x", "hidden") is None
    line = log.log("WARNING", "orchestrator.auth", "auth_failure", reason="invalid_password", user="a b")
    assert line is not None
    assert line.split(" ", 1)[1] == 'WARNING orchestrator.auth auth_failure reason=invalid_password user="a b"'
    for _ in range(10):
        log.log("INFO", "orchestrator.main", "filler", n="x" * 40)
    assert os.path.exists(path + ".1") and os.path.getsize(path) < 400


def test_app_log_rotate_starts_a_fresh_file(tmp_path: Any) -> None:
    path = str(tmp_path / "app.log")
    log = AppLog(path)
    log.log("WARNING", "orchestrator.auth", "auth_failure", ip="198.51.100.23")
    log.rotate()
    assert os.path.getsize(path) == 0 and log.recent == []
    assert "198.51.100.23" in Path(path + ".1").read_text(encoding="utf-8")
    log.log("INFO", "orchestrator.main", "started")
    assert Path(path).read_text(encoding="utf-8").count("\n") == 1
    AppLog(str(tmp_path / "never-written.log")).rotate()  # nothing to move: an empty log
    assert os.path.getsize(tmp_path / "never-written.log") == 0
