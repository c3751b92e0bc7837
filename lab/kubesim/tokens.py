"""Service-account tokens: RS256 JWTs signed with the CA key, and their review (TokenReview)."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_AUDIENCES = [ISSUER]


class TokenIssuer:
    """Issues and verifies service-account JWTs."""

    def __init__(self, key_pem: bytes) -> None:
        self.private_key = serialization.load_pem_private_key(key_pem, password=None)
        self.public_key = self.private_key.public_key()  # type: ignore[union-attr]
        der = self.public_key.public_bytes(
            serialization.Encoding.DER,  # type: ignore[union-attr]
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")

    def public_pem(self) -> str:
        """The verification key (PEM), e.g. for OpenBao's ``pem_keys``."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM,  # type: ignore[union-attr]
            serialization.PublicFormat.SubjectPublicKeyInfo,
        ).decode()

    def issue(
        self,
        namespace: str,
        name: str,
        uid: str,
        audiences: list[str] | None = None,
        expiration_seconds: int = 3600,
        pod: dict[str, str] | None = None,
    ) -> tuple[str, int]:
        """A token for ``system:serviceaccount:<namespace>:<name>``; returns (token, exp)."""
        now = int(time.time())
        exp = now + max(int(expiration_seconds), 600)
        k8s: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}
        if pod:
            k8s["pod"] = pod
        claims = {
            "iss": ISSUER,
            "sub": f"system:serviceaccount:{namespace}:{name}",
            "aud": audiences or DEFAULT_AUDIENCES,
            "iat": now,
            "nbf": now,
            "exp": exp,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": k8s,
        }
        token = jwt.encode(
            claims,
            self.private_key,
            algorithm="RS256",  # type: ignore[arg-type]
            headers={"kid": self.kid},
        )
        return token, exp

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired kubesim SA token; None otherwise (audience checked by callers)."""
        if token.count(".") != 2:
            return None
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["RS256"],  # type: ignore[arg-type]
                options={"verify_aud": False},
                issuer=ISSUER,
            )
        except jwt.PyJWTError:
            return None
        if not str(claims.get("sub", "")).startswith("system:serviceaccount:"):
            return None
        return claims


def user_info(claims: dict[str, Any]) -> dict[str, Any]:
    """The TokenReview ``status.user`` for SA token claims."""
    k8s = claims.get("kubernetes.io", {})
    ns = k8s.get("namespace", "")
    sa = k8s.get("serviceaccount", {})
    extra: dict[str, list[str]] = {"authentication.kubernetes.io/credential-id": [f"JTI={claims.get('jti', '')}"]}
    if k8s.get("pod"):
        extra["authentication.kubernetes.io/pod-name"] = [k8s["pod"].get("name", "")]
        extra["authentication.kubernetes.io/pod-uid"] = [k8s["pod"].get("uid", "")]
    return {
        "username": claims["sub"],
        "uid": sa.get("uid", ""),
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
        "extra": extra,
    }
