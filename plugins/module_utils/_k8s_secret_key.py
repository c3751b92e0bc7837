# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""The signing secret of ``k8s_secret_key`` (one key of a Kubernetes Secret), shared by the module and its action
plugin.

``OPERATION`` is the module's work (``_k8s.Operation``): options, their checks, and ``run(module, conn)``, which
judges the stored value and writes a new random one through a ``_kube_read.KubeConnection`` when needed. Every
value it sees goes into ``module.no_log_values``. The options and results are documented in
plugins/modules/k8s_secret_key.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import typing as t

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import (
    MAX_CONFLICTS,
    K8sModuleError,
    KubeSecret,
    Operation,
    body_for_replace,
    empty_options,
    managed_metadata,
)

MIN_BYTES = 32
MAX_BYTES = 512
FINGERPRINT_LENGTH = 12
MIN_MASKED_LENGTH = 8  # shorter stored values are not masked by Ansible: that would garble its output
SECRET_KEY_RE = re.compile(r"[-._a-zA-Z0-9]{1,253}")
_HEX_RE = re.compile(r"(?:[0-9a-fA-F]{2})+")
CHECK_MODE_FINGERPRINT = "(new random value)"

# reasons
MISSING = "missing"
EMPTY = "empty"
NOT_BASE64 = "not_base64"
NOT_HEX = "not_hex"
TOO_SHORT = "too_short"
ROTATED = "rotated"
VALID = "valid"


class SecretKeyError(K8sModuleError):
    """A failure with a message for fail_json."""


def argument_spec() -> dict[str, t.Any]:
    return dict(
        namespace=dict(type="str", required=True),
        name=dict(type="str", required=True),
        key=dict(type="str", required=True, no_log=False),
        state=dict(type="str", choices=["present", "rotated"], default="present"),
        force=dict(type="bool", default=False),
        bytes=dict(type="int", default=48),
        min_bytes=dict(type="int", default=MIN_BYTES),
        encoding=dict(type="str", choices=["base64", "hex"], default="base64"),
        create=dict(type="bool", default=False),
    )


def validate_params(params: dict[str, t.Any]) -> list[str]:
    errors = empty_options(params, ("namespace", "name"))
    if not SECRET_KEY_RE.fullmatch(params.get("key") or ""):
        errors.append("key must be a Secret key: letters, digits, '-', '_' or '.', at most 253")
    if not MIN_BYTES <= params["bytes"] <= MAX_BYTES:
        errors.append(f"bytes must be from {MIN_BYTES} to {MAX_BYTES}, got {params['bytes']}")
    if not 1 <= params["min_bytes"] <= MAX_BYTES:
        errors.append(f"min_bytes must be from 1 to {MAX_BYTES}, got {params['min_bytes']}")
    elif params["bytes"] < params["min_bytes"]:
        errors.append(f"bytes ({params['bytes']}) must be at least min_bytes ({params['min_bytes']})")
    if params["state"] == "rotated" and not params["force"]:
        errors.append(
            "state=rotated replaces the secret even when it is valid (for a JWT signing secret, every user is "
            "logged out); set force=true to confirm the rotation"
        )
    return errors


def fingerprint(value: bytes | None) -> str | None:
    """The first 12 hex digits of the SHA-256 of ``value``; ``None`` for ``None``."""
    return None if value is None else hashlib.sha256(value).hexdigest()[:FINGERPRINT_LENGTH]


def as_text(value: bytes) -> str | None:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def decode_base64(text: str | None) -> bytes | None:
    """The bytes of standard base64 text (surrounding blanks ignored); ``None`` when it is not."""
    if text is None or not text.strip():
        return None
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def decode_hex(text: str | None) -> bytes | None:
    """The bytes of hex text (surrounding blanks ignored); ``None`` when it is not."""
    if text is None or not _HEX_RE.fullmatch(text.strip()):
        return None
    return bytes.fromhex(text.strip())


def judge(value: bytes | None, encoding: str, min_bytes: int) -> str:
    """Why ``value`` (the stored bytes, ``None`` when missing) needs a new value, or ``valid``."""
    if value is None:
        return MISSING
    text = as_text(value)
    if text is not None and not text.strip():
        return EMPTY
    decoded = decode_hex(text) if encoding == "hex" else decode_base64(text)
    if decoded is None:
        return NOT_HEX if encoding == "hex" else NOT_BASE64
    if len(decoded) < min_bytes:
        return TOO_SHORT
    return VALID


def describe(value: bytes | None) -> dict[str, t.Any]:
    """A stored value without the value: ``present``, ``length``, ``base64_bytes``, ``fingerprint``."""
    if value is None:
        return dict(present=False, length=0, base64_bytes=None, fingerprint=None)
    text = as_text(value)
    decoded = decode_base64(text)
    return dict(
        present=True,
        length=len(text) if text is not None else len(value),
        base64_bytes=len(decoded) if decoded is not None else None,
        fingerprint=fingerprint(value),
    )


def generate(size: int, encoding: str) -> bytes:
    """``size`` random bytes as base64 or hex text (ASCII bytes)."""
    raw = secrets.token_bytes(size)
    return raw.hex().encode("ascii") if encoding == "hex" else base64.b64encode(raw)


class SecretKey(KubeSecret):
    ERROR = SecretKeyError

    def __init__(self, module: t.Any, conn: t.Any) -> None:
        super().__init__(module, conn)
        self.key = self.params["key"]

    def write(self, secret: dict[str, t.Any] | None, value: bytes) -> dict[str, t.Any] | None:
        """Create, or replace with the resourceVersion read; ``None`` on a conflict (409)."""
        encoded = base64.b64encode(value).decode("ascii")
        if secret is None:
            return self.create(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": managed_metadata(self.namespace, self.name),
                    "type": "Opaque",
                    "data": {self.key: encoded},
                }
            )
        body = body_for_replace(secret)
        data = body.get("data") or {}
        data[self.key] = encoded
        body["data"] = data
        return self.replace(body)

    # -- the operation -------------------------------------------------------------------------------

    def stored(self, secret: dict[str, t.Any] | None) -> bytes | None:
        """The value of the key (the Secret's data is base64 of it); ``None`` when missing."""
        data = (secret or {}).get("data") or {}
        if self.key not in data or data[self.key] is None:
            return None
        try:
            value = base64.b64decode(data[self.key], validate=True)
        except (binascii.Error, ValueError):
            raise SecretKeyError(
                f"Cannot read Secret {self.namespace}/{self.name}: the data of key {self.key} is not base64, "
                "which the API server never returns; check the API server or proxy in between."
            ) from None
        if len(value.strip()) >= MIN_MASKED_LENGTH:
            self.module.no_log_values.add(value.decode("utf-8", errors="replace"))
        return value

    def result(self, changed, reason, before, after, secret) -> dict[str, t.Any]:
        metadata = (secret or {}).get("metadata") or {}
        return dict(
            changed=changed,
            reason=reason,
            before=before,
            after=after,
            secret_resource_version=metadata.get("resourceVersion"),
            diff=dict(
                before={self.key: before["fingerprint"]} if before["present"] else {},
                after={self.key: after["fingerprint"] or CHECK_MODE_FINGERPRINT} if after["present"] else {},
            ),
        )

    def run(self) -> dict[str, t.Any]:
        params = self.params
        for _attempt in range(MAX_CONFLICTS + 1):
            secret = self.read()
            if secret is None and not params["create"]:
                raise SecretKeyError(
                    f"Cannot read Secret {self.namespace}/{self.name}: it does not exist. Set create=true to "
                    "create it, or check namespace and name."
                )
            value = self.stored(secret)
            before = describe(value)
            reason = ROTATED if params["state"] == "rotated" else judge(value, params["encoding"], params["min_bytes"])
            if reason == VALID:
                return self.result(False, reason, before, before, secret)
            new_value = generate(params["bytes"], params["encoding"])
            after = describe(new_value)
            if secret is not None and secret.get("immutable"):
                raise SecretKeyError(
                    f"Cannot replace Secret {self.namespace}/{self.name}: it is immutable, but key {self.key} needs a "
                    f"new value ({reason}). Delete and re-create the Secret to change it."
                )
            if self.module.check_mode:
                after["fingerprint"] = None
                return self.result(True, reason, before, after, secret)
            self.module.no_log_values.add(new_value.decode("ascii"))
            written = self.write(secret, new_value)
            if written is not None:
                return self.result(True, reason, before, after, written)
        raise SecretKeyError(
            f"Cannot replace Secret {self.namespace}/{self.name}: it changed under us {MAX_CONFLICTS + 1} times in a "
            "row; another process keeps writing it. Run again."
        )


def run(module: t.Any, conn: t.Any) -> dict[str, t.Any]:
    return SecretKey(module, conn).run()


OPERATION = Operation("k8s_secret_key", argument_spec, validate_params, run, {})
