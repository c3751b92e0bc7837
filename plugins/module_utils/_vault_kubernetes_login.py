# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""The Vault login of ``vault_kubernetes_login`` (TokenRequest, kubernetes auth login, the stored token), shared by
the module and its action plugin.

``OPERATION`` is the module's work (``_k8s.Operation``): options, their checks, and ``run(module, conn)``, which asks
the API server for a service account token (``POST .../serviceaccounts/<name>/token``) through a
``_kube_read.KubeConnection``, logs in to Vault with it (``_vault.VaultClient``) and, with ``store_secret``, checks
the token stored in the Secret and replaces it only when it is not valid. Every token it sees goes into
``module.no_log_values`` and is masked in its texts. The options and results are documented in
plugins/modules/vault_kubernetes_login.py.
"""

from __future__ import annotations

import base64
import binascii
import re
import typing as t
from urllib.parse import quote

from ansible.module_utils.basic import env_fallback

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import (
    MAX_CONFLICTS,
    REQUEST_TIMEOUT,
    K8sModuleError,
    KubeSecret,
    Operation,
    api_error_message,
    body_for_replace,
    empty_options,
)
from ansible_collections.voicehive.remediation.plugins.module_utils._kube_read import KubeConnection
from ansible_collections.voicehive.remediation.plugins.module_utils._vault import (
    DEFAULT_MOUNT,
    VaultClient,
    VaultUnreachable,
    auth_facts,
    client_token,
    fingerprint,
    header_safe,
    token_validity,
)

MIN_SA_TOKEN_TTL = 600  # the API server refuses a TokenRequest for less
MAX_SA_TOKEN_TTL = 2**32 - 1
SECRET_KEY_RE = re.compile(r"[-._a-zA-Z0-9]{1,253}")
MIN_MASKED_LENGTH = 8  # shorter stored values are not masked in texts: that would garble every message


class LoginError(K8sModuleError):
    """A failure with a message for fail_json (masked), and result fields to return with it."""


def argument_spec() -> dict[str, t.Any]:
    return dict(
        namespace=dict(type="str", required=True),
        service_account=dict(type="str", required=True),
        role=dict(type="str", required=True),
        mount=dict(type="str", default=DEFAULT_MOUNT),
        sa_token_ttl=dict(type="int", default=MIN_SA_TOKEN_TTL, no_log=False),
        audiences=dict(type="list", elements="str", default=[]),
        store_secret=dict(
            type="dict",
            no_log=False,
            options=dict(name=dict(type="str", required=True), key=dict(type="str", required=True, no_log=False)),
        ),
        vault_url=dict(type="str", required=True, fallback=(env_fallback, ["VAULT_ADDR"])),
        vault_validate_certs=dict(type="bool", default=True),
        vault_ca_cert=dict(type="path", fallback=(env_fallback, ["VAULT_CACERT"])),
        timeout=dict(type="float", default=10.0),
    )


def validate_params(params: dict[str, t.Any]) -> list[str]:
    errors = empty_options(params, ("namespace", "service_account", "role", "mount", "vault_url"))
    url = (params.get("vault_url") or "").strip()
    if url and not url.lower().startswith(("http://", "https://")):
        errors.append("vault_url must be an http:// or https:// URL")
    if not MIN_SA_TOKEN_TTL <= params["sa_token_ttl"] <= MAX_SA_TOKEN_TTL:
        errors.append(
            f"sa_token_ttl must be from {MIN_SA_TOKEN_TTL} to {MAX_SA_TOKEN_TTL} seconds, got {params['sa_token_ttl']}"
        )
    if params["timeout"] <= 0:
        errors.append(f"timeout must be positive, got {params['timeout']}")
    if any(not (a or "").strip() for a in params.get("audiences") or []):
        errors.append("audiences must not contain empty names")
    store = params.get("store_secret")
    if store is not None:
        if not (store.get("name") or "").strip():
            errors.append("store_secret.name must not be empty")
        if not SECRET_KEY_RE.fullmatch(store.get("key") or ""):
            errors.append("store_secret.key must be a Secret key: letters, digits, '-', '_' or '.', at most 253")
    return errors


def stored_value(data: dict[str, t.Any] | None, key: str) -> bytes | None:
    """The value stored under ``key`` of a Secret's ``data`` (which is base64 of it); ``None`` when missing."""
    value = (data or {}).get(key)
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):  # never from a real API server; an unusable value all the same
        return str(value).encode("utf-8", errors="replace")


def as_token(value: bytes | None) -> str | None:
    """The stored value as a token that can be sent to Vault; ``None`` when it cannot be one."""
    if value is None:
        return None
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if header_safe(text) else None


class TokenSecret(KubeSecret):
    """The Secret that holds the orchestrator's Vault token (``store_secret``), in the module's namespace."""

    ERROR = LoginError

    def __init__(self, module: t.Any, conn: KubeConnection, name: str, key: str) -> None:
        super().__init__(module, conn, name=name)
        self.key = key

    def read(self) -> dict[str, t.Any]:
        secret = super().read()
        if secret is None:
            raise LoginError(
                f"Cannot read Secret {self.namespace}/{self.name}: it does not exist. Create it (the orchestrator's "
                f"deployment reads key {self.key} from it), then run again."
            )
        return secret

    def write(self, secret: dict[str, t.Any], value: str) -> bool:
        """Replace with the resourceVersion read; ``False`` on a conflict (409)."""
        if secret.get("immutable"):
            raise LoginError(
                f"Cannot replace Secret {self.namespace}/{self.name}: it is immutable. Delete and re-create it "
                "to change it."
            )
        body = body_for_replace(secret)
        data = body.get("data") or {}
        data[self.key] = base64.b64encode(value.encode("utf-8")).decode("ascii")
        body["data"] = data
        return self.replace(body) is not None


class Login:
    """One run of the module: TokenRequest, login, and the stored token."""

    def __init__(self, module: t.Any, conn: KubeConnection, vault: VaultClient) -> None:
        self.module = module
        self.conn = conn
        self.vault = vault
        self.params = module.params
        self.namespace = self.params["namespace"]
        self.service_account = self.params["service_account"]
        self.fresh: str | None = None  # the Vault token of this login, until it is stored or revoked
        self.revoked = False
        self.result: dict[str, t.Any] = dict(
            changed=False,
            login_ok=False,
            vault_status=None,
            error=None,
            policies=[],
            lease_duration=None,
            renewable=None,
            stored_token_valid=None,
            stored=False,
            revoked=False,
        )

    # -- secrets -------------------------------------------------------------------------------------

    def hide(self, *values: str | None) -> None:
        """Remember secret values: masked in our texts, and by Ansible in anything it prints."""
        values = tuple(v for v in values if v and len(v.strip()) >= MIN_MASKED_LENGTH)
        self.vault.remember(*values)
        self.module.no_log_values.update(values)

    def mask(self, text: str) -> str:
        return self.vault.mask(text)

    # -- steps ---------------------------------------------------------------------------------------

    def service_account_token(self) -> str:
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"audiences": list(self.params["audiences"]), "expirationSeconds": self.params["sa_token_ttl"]},
        }
        path = (
            f"/api/v1/namespaces/{quote(self.namespace, safe='')}/serviceaccounts/"
            f"{quote(self.service_account, safe='')}/token"
        )
        what = ("create", "token for ServiceAccount", self.namespace, self.service_account)
        try:
            answer = self.conn.request("POST", path, body=body, timeout=REQUEST_TIMEOUT)
        except Exception as exc:  # KubeReadError, or whatever else broke on the way
            raise LoginError(self.mask(api_error_message(*what, exc, "serviceaccounts/token"))) from None
        token = ((answer if isinstance(answer, dict) else {}).get("status") or {}).get("token")
        if not isinstance(token, str) or not token:
            raise LoginError(
                f"Cannot create token for ServiceAccount {self.namespace}/{self.service_account}: "
                "the API server answered without a token."
            )
        self.hide(token)
        return token

    def revoke_fresh(self) -> None:
        """Revoke the token of this login (best effort: a warning when Vault does not)."""
        token, self.fresh = self.fresh, None
        if token is None:
            return
        try:
            answer = self.vault.revoke_self(token)
        except VaultUnreachable as exc:
            reason = str(exc)
        else:
            if answer.ok:
                self.revoked = True
                return
            reason = f"Vault answered {answer.status}: {answer.error}"
        self.module.warn(
            self.mask(
                f"Cannot revoke the unused Vault token of this login at {self.vault.url}: {reason}. "
                "It expires at the end of its lease_duration."
            )
        )

    def check_stored(self, stored: bytes | None) -> bool | None:
        """Whether the stored token is valid (lookup-self); ``False`` when there is none or it is unusable."""
        if stored is not None:
            self.hide(stored.decode("utf-8", errors="replace"))
        token = as_token(stored)
        if token is None:
            return False
        try:
            answer = self.vault.lookup_self(token)
        except VaultUnreachable as exc:
            raise LoginError(self.mask(f"Cannot check the stored Vault token at {self.vault.url}: {exc}")) from None
        valid = token_validity(answer)
        if valid is None:
            self.module.warn(
                self.mask(
                    f"Cannot tell whether the Vault token in Secret {self.namespace}/"
                    f"{self.params['store_secret']['name']} is valid: Vault answered {answer.status}: {answer.error}"
                )
            )
        return valid

    def run(self) -> dict[str, t.Any]:
        """The module's result; on ``LoginError``, ``self.result`` holds the facts found until then."""
        result = self.result
        jwt = self.service_account_token()
        try:
            answer = self.vault.login_kubernetes(self.params["mount"], self.params["role"], jwt)
        except VaultUnreachable as exc:
            raise LoginError(self.mask(f"Cannot log in to Vault at {self.vault.url}: {exc}")) from None
        self.fresh = client_token(answer)
        self.hide(self.fresh)
        result.update(auth_facts(answer), vault_status=answer.status, login_ok=self.fresh is not None)
        if answer.ok and self.fresh is None:
            result["error"] = "Vault answered the login without a client token"
        elif not answer.ok:
            result["error"] = answer.error
        try:
            if self.params["store_secret"] is not None:
                self.store(result)
        finally:
            self.revoke_fresh()  # a no-op once the token is stored
            result["revoked"] = self.revoked
        return result

    def store(self, result: dict[str, t.Any]) -> None:
        store = self.params["store_secret"]
        secret_store = TokenSecret(self.module, self.conn, store["name"], store["key"])
        checked: dict[bytes | None, bool | None] = {}  # stored value -> validity, checked once each
        for _attempt in range(MAX_CONFLICTS + 1):
            secret = secret_store.read()
            stored = stored_value(secret.get("data"), store["key"])
            if stored not in checked:
                checked[stored] = self.check_stored(stored)
            valid = checked[stored]
            result["stored_token_valid"] = valid
            before = {store["key"]: fingerprint(stored)} if stored is not None else {}
            write = self.fresh is not None and valid is not True
            if self.module._diff:
                after = {store["key"]: fingerprint(self.fresh)} if write else dict(before)
                result["diff"] = dict(before=before, after=after)
            if not write or self.module.check_mode:
                result["changed"] = write
                return
            if secret_store.write(secret, t.cast(str, self.fresh)):
                self.fresh = None  # stored: not to be revoked
                result.update(changed=True, stored=True)
                return
        raise LoginError(
            f"Cannot replace Secret {self.namespace}/{store['name']}: it changed under us {MAX_CONFLICTS + 1} times "
            "in a row; another process keeps writing it. Run again."
        )


def run(module: t.Any, conn: KubeConnection) -> dict[str, t.Any]:
    """The module's result; a ``LoginError`` carries the facts found until the failure (``login_ok``, ``revoked``,
    ...) as its result fields."""
    params = module.params
    vault = VaultClient(
        params["vault_url"].strip(), params["timeout"], params["vault_validate_certs"], params["vault_ca_cert"]
    )
    login = Login(module, conn, vault)
    try:
        return login.run()
    except LoginError as exc:
        facts = {key: value for key, value in login.result.items() if key not in ("changed", "diff")}
        raise LoginError(str(exc), **{**facts, **exc.fields}) from None


OPERATION = Operation("vault_kubernetes_login", argument_spec, validate_params, run, {})
