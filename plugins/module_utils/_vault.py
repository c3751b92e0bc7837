# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""Vault (and OpenBao) token calls over ``_http``, for ``vault_kubernetes_login``.

- ``VaultClient(url, timeout, validate_certs, ca_path)``: ``login_kubernetes(mount, role, jwt)``
  (``POST /v1/auth/<mount>/login``), ``lookup_self(token)`` (``GET /v1/auth/token/lookup-self``) and
  ``revoke_self(token)`` (``POST /v1/auth/token/revoke-self``). Each returns an ``Answer`` (HTTP status,
  JSON payload, Vault's own error text) for any HTTP answer and raises ``VaultUnreachable`` when
  nothing answered.
- The client remembers every secret it is given or receives (the service account JWT, the client
  tokens) and masks them in every text it returns: ``Answer.error``, ``VaultUnreachable`` and
  ``client.mask(text)``.
- ``auth_facts()``, ``client_token()``, ``token_validity()``: what an answer means, without secrets.
- ``fingerprint(value)``: the first 12 hex digits of the SHA-256 of a value, to tell values apart
  in results and diffs without showing them.

Nothing here imports Ansible, so the unit tests call it directly.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing as t
import urllib.parse

from ansible_collections.voicehive.remediation.plugins.module_utils import _http
from ansible_collections.voicehive.remediation.plugins.module_utils._redact import mask_values, normalize_secret_values

DEFAULT_MOUNT = "kubernetes"
TEXT_LIMIT = 300  # characters of an error text kept
FINGERPRINT_LENGTH = 12
# what a token may look like to be sent in a header at all (printable ASCII, no blanks)
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


class VaultUnreachable(Exception):
    """Nothing answered (refused, timed out, TLS failure, bad URL); the message is masked."""


class Answer:
    """One HTTP answer of Vault: ``status``, ``payload`` (the JSON object, or ``None``), ``error``
    (Vault's ``errors`` joined, or a short description of a non-Vault answer; ``""`` on success)."""

    def __init__(self, status: int, payload: dict[str, t.Any] | None, error: str) -> None:
        self.status = status
        self.payload = payload
        self.error = error

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def __repr__(self) -> str:  # never the payload: it may hold a token
        return f"Answer(status={self.status}, error={self.error!r})"


def fingerprint(value: str | bytes | None) -> str | None:
    """The first 12 hex digits of the SHA-256 of ``value`` (UTF-8); ``None`` for ``None``."""
    if value is None:
        return None
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return hashlib.sha256(raw).hexdigest()[:FINGERPRINT_LENGTH]


def header_safe(token: str | None) -> bool:
    """Whether ``token`` can be sent as an ``X-Vault-Token`` header (printable ASCII, no blanks)."""
    return bool(token) and _HEADER_SAFE.fullmatch(t.cast(str, token)) is not None


def login_path(mount: str) -> str:
    """``/v1/auth/<mount>/login``; the mount may hold slashes (``k8s/eu-west-1``)."""
    return "/v1/auth/" + urllib.parse.quote(mount.strip("/"), safe="/-_.~") + "/login"


def _collapse(text: str, limit: int = TEXT_LIMIT) -> str:
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def error_text(status: int, payload: t.Any, body: bytes, mask: t.Callable[[str], str] = lambda text: text) -> str:
    """Vault's own error text (``{"errors": [...]}`` joined with ``; ``), else a short description.

    ``mask`` is applied before the text is shortened, so a secret cut in half cannot slip through."""
    if 200 <= status < 300:
        return ""
    if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
        errors = [str(e).strip() for e in payload["errors"] if str(e).strip()]
        if errors:
            return _collapse(mask("; ".join(errors)))
        return f"HTTP {status} without an error text"
    text = body.decode("utf-8", errors="replace") if body else ""
    return f"HTTP {status}: {_collapse(mask(text))}" if text.strip() else f"HTTP {status} without an error text"


def client_token(answer: Answer) -> str | None:
    """The ``auth.client_token`` of a successful login answer, else ``None``."""
    auth = (answer.payload or {}).get("auth") if answer.ok else None
    token = auth.get("client_token") if isinstance(auth, dict) else None
    return token if isinstance(token, str) and token else None


def auth_facts(answer: Answer) -> dict[str, t.Any]:
    """The non-secret facts of a login answer: ``policies``, ``lease_duration``, ``renewable``."""
    auth = (answer.payload or {}).get("auth") if answer.ok else None
    if not isinstance(auth, dict):
        return dict(policies=[], lease_duration=None, renewable=None)
    policies = auth.get("policies") or auth.get("token_policies") or []
    lease = auth.get("lease_duration")
    return dict(
        policies=sorted(str(p) for p in policies) if isinstance(policies, list) else [],
        lease_duration=lease if isinstance(lease, int) and not isinstance(lease, bool) else None,
        renewable=auth.get("renewable") if isinstance(auth.get("renewable"), bool) else None,
    )


def token_validity(answer: Answer) -> bool | None:
    """What a lookup-self answer says of the token: ``True`` (200), ``False`` (400, 401, 403: unknown,
    expired or revoked), ``None`` (anything else: Vault sealed or failing, cannot tell)."""
    if answer.status == 200:
        return True
    if answer.status in (400, 401, 403):
        return False
    return None


class VaultClient:
    """Calls to one Vault server; every secret seen is masked in the texts it returns."""

    def __init__(self, url: str, timeout: float, validate_certs: bool = True, ca_path: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self._secrets: set[str] = set()
        self._context: t.Any = None

    # -- masking ---------------------------------------------------------------------------------

    def remember(self, *values: str | None) -> None:
        """Add secret values to mask from now on."""
        self._secrets.update(v for v in normalize_secret_values(list(values)) if v)

    @property
    def secrets(self) -> list[str]:
        """The secret values seen so far, longest first."""
        return normalize_secret_values(sorted(self._secrets))

    def mask(self, text: str) -> str:
        """``text`` with every secret seen and URL credentials masked."""
        return mask_values(text, self.secrets)

    # -- requests ----------------------------------------------------------------------------------

    def call(self, method: str, path: str, token: str | None = None, payload: dict[str, t.Any] | None = None) -> Answer:
        """One request to ``<url><path>``; ``VaultUnreachable`` (masked) when nothing answered."""
        headers = {"Accept": "application/json"}
        if token is not None:
            self.remember(token)
            headers["X-Vault-Token"] = token
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload).encode("utf-8")
        try:
            if self._context is None and self.url.lower().startswith("https:"):
                self._context = _http.ssl_context(self.validate_certs, self.ca_path)
            status, raw = _http.request(method, self.url + path, self.timeout, headers, body, context=self._context)
        except _http.Unreachable as exc:
            raise VaultUnreachable(self.mask(str(exc))) from None
        except (OSError, ValueError) as exc:  # the CA file cannot be read or parsed
            raise VaultUnreachable(self.mask(f"{type(exc).__name__}: {exc}")) from None
        try:
            data = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            data = None
        data = data if isinstance(data, dict) else None
        answer = Answer(status, data, "")
        token_seen = client_token(answer)
        if token_seen:
            self.remember(token_seen)
        answer.error = error_text(status, data, raw, self.mask)
        return answer

    def login_kubernetes(self, mount: str, role: str, jwt: str) -> Answer:
        """``POST /v1/auth/<mount>/login`` with ``{"role": role, "jwt": jwt}`` (no token needed)."""
        self.remember(jwt)
        return self.call("POST", login_path(mount), payload={"role": role, "jwt": jwt})

    def lookup_self(self, token: str) -> Answer:
        """``GET /v1/auth/token/lookup-self`` with ``token``."""
        return self.call("GET", "/v1/auth/token/lookup-self", token=token)

    def revoke_self(self, token: str) -> Answer:
        """``POST /v1/auth/token/revoke-self`` with ``token`` (204 when revoked)."""
        return self.call("POST", "/v1/auth/token/revoke-self", token=token)
