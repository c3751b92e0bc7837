#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_secret_key
short_description: Make sure one key of a Kubernetes Secret holds a valid random secret, or rotate it
version_added: 0.1.0
description:
  - Makes sure the key O(key) of the Secret O(name) in O(namespace) holds a valid random signing secret,
    such as the JWT signing secret of the VoiceHive orchestrator (Secret C(jwt-secret), key C(secret)), for
    the gated C(rotate_jwt_secret) remediation.
  - "A valid value is the standard base64 text (O(encoding=base64), what the orchestrator checks) or the hex
    text (O(encoding=hex)) of at least O(min_bytes) bytes; surrounding blanks are ignored."
  - O(state=present) generates a new value only when the key is missing, empty, not base64 (or hex) text, or
    decodes to fewer than O(min_bytes) bytes; a valid value is left as it is, so a second run changes nothing.
  - O(state=rotated) always generates a new value. Rotating a signing secret logs every user out, so it is
    only done with O(force=true); without it the module refuses, so a loop cannot rotate by accident.
  - New values are O(bytes) random bytes from C(secrets.token_bytes), written as base64 or hex text into the
    Secret's C(data) (which base64-encodes them once more, as every Secret value).
  - The Secret is replaced with the C(resourceVersion) that was read (its other keys, labels and annotations
    are kept), retrying on conflicts; a value written meanwhile by someone else is judged again.
  - The value never leaves the module. Results and the diff carry its length, how many bytes it decodes to
    and a fingerprint (the first 12 hex digits of its SHA-256), never the value.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.kubernetes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details:
      - Reads the Secret and reports what would be done; writes nothing. RV(after) then has no fingerprint,
        as the new value is generated at the real run.
  diff_mode:
    support: full
    details:
      - The diff shows the fingerprint of the value of O(key) before and after, never the value.
options:
  namespace:
    description:
      - Namespace of the Secret, the site's VoiceHive namespace.
    type: str
    required: true
  name:
    description:
      - Name of the Secret, for example V(jwt-secret).
    type: str
    required: true
  key:
    description:
      - Key of the Secret that holds the signing secret, for example V(secret).
    type: str
    required: true
  state:
    description:
      - V(present) generates a new value only when the current one is not valid.
      - V(rotated) always generates a new value; requires O(force=true).
    type: str
    choices: [present, rotated]
    default: present
  force:
    description:
      - Must be V(true) for O(state=rotated), to confirm the rotation.
    type: bool
    default: false
  bytes:
    description:
      - Number of random bytes of a new value, from V(32) to V(512), and at least O(min_bytes).
    type: int
    default: 48
  min_bytes:
    description:
      - The fewest bytes a stored value must decode to, to be valid with O(state=present). The orchestrator
        needs at least V(32).
    type: int
    default: 32
  encoding:
    description:
      - How the random bytes are written as text, and how the stored value is judged.
      - V(base64) is the standard base64 alphabet with padding, what the VoiceHive orchestrator validates.
    type: str
    choices: [base64, hex]
    default: base64
  create:
    description:
      - Whether to create the Secret (type C(Opaque)) when it does not exist. Otherwise the module fails then.
    type: bool
    default: false
notes:
  - "RBAC: C(get) and C(update) on the Secret O(name) in O(namespace) (a Role with C(resourceNames) can
    restrict it to that Secret); C(create) on C(secrets) with O(create=true)."
  - The orchestrator reads the secret when it starts; restart it to make it use a new value.
seealso:
  - module: voicehive.remediation.vault_kubernetes_login
"""

EXAMPLES = r"""
- name: Make sure the orchestrator has a valid JWT signing secret
  voicehive.remediation.k8s_secret_key:
    namespace: voicehive
    name: jwt-secret
    key: secret
  register: __authentication_jwt_secret

- name: Rotate the JWT signing secret (logs every user out)
  voicehive.remediation.k8s_secret_key:
    namespace: voicehive
    name: jwt-secret
    key: secret
    state: rotated
    force: true
  register: __authentication_jwt_rotation

- name: Report the rotation without the value
  ansible.builtin.debug:
    msg: >-
      JWT secret {{ __authentication_jwt_rotation.before.fingerprint }} replaced by
      {{ __authentication_jwt_rotation.after.fingerprint }}
      ({{ __authentication_jwt_rotation.after.base64_bytes }} bytes)
"""

RETURN = r"""
reason:
  description:
    - Why a new value was generated, or V(valid) when the stored one was kept.
    - V(missing) (no such key, or the Secret was created), V(empty), V(not_base64) (V(not_hex) with
      O(encoding=hex)), V(too_short), V(rotated) or V(valid).
  returned: always
  type: str
  sample: too_short
before:
  description: The value of O(key) before the run, described without the value.
  returned: always
  type: dict
  contains:
    present:
      description: Whether the key exists.
      type: bool
      sample: true
    length:
      description: Length in characters of the stored text (bytes, when it is no UTF-8 text); V(0) when missing.
      type: int
      sample: 24
    base64_bytes:
      description: How many bytes the stored text decodes to as standard base64; V(null) when it is no base64 text.
      type: int
      sample: 16
    fingerprint:
      description: The first 12 hex digits of the SHA-256 of the stored value; V(null) when missing.
      type: str
      sample: 9f86d081884c
after:
  description:
    - The value of O(key) after the run, described as RV(before) (the same when nothing changed).
    - In check mode a new value is not generated yet, so its fingerprint is V(null).
  returned: always
  type: dict
  sample: {"present": true, "length": 64, "base64_bytes": 48, "fingerprint": "2c26b46b68ff"}
secret_resource_version:
  description: C(metadata.resourceVersion) of the Secret after the run; V(null) when it does not exist (check mode).
  returned: always
  type: str
  sample: "48213"
diff:
  description: The fingerprint of the value of O(key) before and after; an empty dict when the key is missing.
  returned: always
  type: dict
  sample: {"before": {"secret": "9f86d081884c"}, "after": {"secret": "2c26b46b68ff"}}
"""

import base64
import binascii
import hashlib
import re
import secrets
import typing as t

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import (
    MAX_CONFLICTS,
    K8sModuleError,
    NamespacedObject,
    body_for_replace,
    core_api,
    empty_options,
    exit_with,
    k8s_main,
    managed_metadata,
    refuse_invalid,
    to_plain,
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


class SecretKey(NamespacedObject):
    KIND = "Secret"
    RESOURCE = "secrets"
    ERROR = SecretKeyError

    def __init__(self, module: t.Any, client: t.Any) -> None:
        self.module = module
        self.client = client
        self.params = module.params
        self.namespace = self.params["namespace"]
        self.name = self.params["name"]
        self.key = self.params["key"]

    # -- API calls ---------------------------------------------------------------------------------

    def read(self) -> dict[str, t.Any] | None:
        """The Secret; ``None`` when there is none (404)."""
        return to_plain(
            self.api_call(
                "read", self.client.read_namespaced_secret, tolerate=(404,), name=self.name, namespace=self.namespace
            )
        )

    def write(self, secret: dict[str, t.Any] | None, value: bytes) -> dict[str, t.Any] | None:
        """Create, or replace with the resourceVersion read; ``None`` on a conflict (409)."""
        encoded = base64.b64encode(value).decode("ascii")
        if secret is None:
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": managed_metadata(self.namespace, self.name),
                "type": "Opaque",
                "data": {self.key: encoded},
            }
            verb, call, kwargs = "create", self.client.create_namespaced_secret, {}
        else:
            body = body_for_replace(secret)
            data = body.get("data") or {}
            data[self.key] = encoded
            body["data"] = data
            verb, call, kwargs = "replace", self.client.replace_namespaced_secret, {"name": self.name}
        return to_plain(self.api_call(verb, call, tolerate=(409,), namespace=self.namespace, body=body, **kwargs))

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


def check_params(module: t.Any) -> None:
    """Refuse bad input before anything is touched."""
    refuse_invalid(module, "k8s_secret_key", validate_params(module.params))


def run_module(module: t.Any, client: t.Any) -> None:
    check_params(module)
    exit_with(module, SecretKey(module, client).run)


def main() -> None:
    k8s_main(argument_spec(), check_params, core_api, run_module)


if __name__ == "__main__":
    main()
