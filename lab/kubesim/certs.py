"""CA, serving certificate, kubeconfig and config generation (``python -m kubesim init``)."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import secrets
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_SANS_DNS = [
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "kubesim",
]
SERVER_SANS_IP = ["127.0.0.1", "::1", "10.96.0.1"]
SEED_DIR = Path(__file__).resolve().parent / "seed"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def generate_ca(days: int = 3650) -> tuple[bytes, bytes]:
    """A self-signed CA: (cert PEM, key PEM)."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubesim-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def generate_server_cert(ca_cert_pem: bytes, ca_key_pem: bytes, days: int = 825) -> tuple[bytes, bytes]:
    """A serving certificate for 127.0.0.1/localhost/kubernetes.default… signed by the CA."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key = _key()
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_SANS_DNS]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_SANS_IP]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def kubeconfig(server: str, ca_pem: bytes, token: str, namespace: str = "voicehive") -> dict[str, Any]:
    """A kubeconfig with context ``lab`` (cluster and user ``lab``)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": "lab",
        "clusters": [
            {
                "name": "lab",
                "cluster": {"server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()},
            }
        ],
        "users": [{"name": "lab", "user": {"token": token}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab", "namespace": namespace}}],
    }


def load_secrets(path: Path) -> dict[str, Any]:
    """secrets.json as a dict ({} when absent)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def init(
    state_dir: str,
    port: int = 16443,
    host: str = "127.0.0.1",
    seeds: list[str] | None = None,
    force_certs: bool = False,
) -> Path:
    """Write ``<state>/kubesim/{ca.crt,ca.key,server.crt,server.key,config.json}`` and ``<state>/kubeconfig``.

    The admin token is kept in ``<state>/secrets.json`` (key ``kube_admin_token``; other keys are
    preserved). Existing CA/serving certificates are reused unless ``force_certs``; ``hooks`` and
    ``pod_logs`` already present in config.json are kept. Returns the config path.
    """
    state = Path(state_dir).resolve()
    kdir = state / "kubesim"
    kdir.mkdir(parents=True, exist_ok=True)
    secrets_path = state / "secrets.json"
    data = load_secrets(secrets_path)
    if not data.get("kube_admin_token"):
        data["kube_admin_token"] = "kubesim-" + secrets.token_urlsafe(32)
        _write(secrets_path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), 0o600)
    token = data["kube_admin_token"]
    ca_crt, ca_key = kdir / "ca.crt", kdir / "ca.key"
    srv_crt, srv_key = kdir / "server.crt", kdir / "server.key"
    if force_certs or not (ca_crt.exists() and ca_key.exists()):
        cert, key = generate_ca()
        _write(ca_crt, cert)
        _write(ca_key, key, 0o600)
        force_certs = True
    if force_certs or not (srv_crt.exists() and srv_key.exists()):
        cert, key = generate_server_cert(ca_crt.read_bytes(), ca_key.read_bytes())
        _write(srv_crt, cert)
        _write(srv_key, key, 0o600)
    config_path = kdir / "config.json"
    previous: dict[str, Any] = {}
    if config_path.exists():
        try:
            previous = json.loads(config_path.read_text(encoding="utf-8"))
        except ValueError:
            previous = {}
    default_logs = [
        {"namespace": "voicehive", "selector": "app=orchestrator", "file": str(state / "orchestrator" / "lab.log")},
        {
            "namespace": "voicehive-dr",
            "selector": "app=orchestrator",
            "file": str(state / "orchestrator" / "lab-dr.log"),
        },
    ]
    config = {
        "listen": {"host": host, "port": port},
        "tls": {"cert": str(srv_crt), "key": str(srv_key)},
        "ca": {"cert": str(ca_crt), "key": str(ca_key)},
        "admin_token": token,
        "secrets_file": str(secrets_path),
        "state_file": str(kdir / "state.json"),
        "request_log": str(kdir / "requests.jsonl"),
        "seed": seeds or previous.get("seed") or [str(SEED_DIR / "voicehive.yaml")],
        "pod_logs": previous.get("pod_logs", default_logs),
        "hooks": previous.get("hooks", []),
    }
    _write(config_path, (json.dumps(config, indent=2) + "\n").encode(), 0o600)
    kc = kubeconfig(f"https://{host}:{port}", ca_crt.read_bytes(), token)
    _write(state / "kubeconfig", yaml.safe_dump(kc, sort_keys=False).encode(), 0o600)
    return config_path
