#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: vault_kubernetes_login
short_description: Log in to Vault's kubernetes auth method as a service account, optionally store the token
version_added: 0.1.0
description:
  - Logs in to Vault (or OpenBao) the way the VoiceHive orchestrator does, to tell whether that login works
    and, optionally, to hand a fresh Vault token to the orchestrator.
  - "Steps: requests a short-lived token for the service account O(service_account) of O(namespace) from the
    Kubernetes API (TokenRequest, C(serviceaccounts/token)); sends it with O(role) to
    C(POST <vault_url>/v1/auth/<mount>/login); reports the outcome."
  - "Without O(store_secret) the module is a probe: the Vault token of the login is revoked at once
    (C(POST /v1/auth/token/revoke-self)), so no unused token lingers."
  - "With O(store_secret) the Vault token is written into the key O(store_secret.key) of the Secret
    O(store_secret.name) in O(namespace), but only when the token stored there now is not valid: the
    stored token is first checked with C(GET /v1/auth/token/lookup-self). When it is valid nothing is
    written, RV(ignore:changed=false), and the fresh token is revoked. So a second run changes nothing."
  - The Secret is replaced with the C(resourceVersion) that was read (its other keys are kept), retrying
    on conflicts; a token written meanwhile by someone else is checked again before it is overwritten.
    The Secret must exist.
  - Like M(community.postgresql.postgresql_ping), the module does not fail when Vault refuses the login
    (wrong role, service account not bound to the role, audience mismatch, Vault failing or sealed). It
    returns RV(login_ok=false), Vault's RV(error) text and RV(vault_status), and the role decides.
  - It fails when Vault or the Kubernetes API cannot be reached at all, when the Kubernetes API refuses a
    call (for example for lack of RBAC permissions), and on bad options, refused before any call.
  - Returns facts only. The service account token, the Vault tokens and the stored token are never
    returned; messages and the diff carry a fingerprint at most (the first 12 hex digits of the SHA-256).
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
      - Requests the service account token and logs in as a probe (the Vault token is revoked at once),
        checks the stored token, and reports whether a token would be stored; writes nothing.
  diff_mode:
    support: full
    details:
      - The diff shows the fingerprint of the token in O(store_secret.key) before and after, never the token.
options:
  namespace:
    description:
      - Namespace of the service account and of the Secret O(store_secret), the site's VoiceHive namespace.
    type: str
    required: true
  service_account:
    description:
      - Name of the service account to log in as, the orchestrator's V(voicehive-orchestrator).
    type: str
    required: true
  role:
    description:
      - Name of the Vault role of the kubernetes auth method, V(voicehive-orchestrator) for the orchestrator.
    type: str
    required: true
  mount:
    description:
      - Path where the kubernetes auth method is mounted in Vault, without C(auth/).
    type: str
    default: kubernetes
  sa_token_ttl:
    description:
      - Lifetime in seconds asked for the service account token (C(expirationSeconds) of the TokenRequest).
      - Kubernetes requires at least V(600); the API server may shorten it.
    type: int
    default: 600
  audiences:
    description:
      - Audiences of the service account token. Empty means the API server's own audience.
      - Must match the C(audience) of the Vault role when the role sets one.
    type: list
    elements: str
    default: []
  store_secret:
    description:
      - Where to store the Vault token for the orchestrator. Without it the module only probes the login.
    type: dict
    suboptions:
      name:
        description:
          - Name of the Secret in O(namespace), for example V(voicehive-secrets).
        type: str
        required: true
      key:
        description:
          - Key of the Secret that holds the token, for example V(vault-token).
        type: str
        required: true
  vault_url:
    description:
      - Base URL of Vault, for example V(https://vault.voicehive.svc:8200).
      - If not set, the value of the E(VAULT_ADDR) environment variable is used.
    type: str
    required: true
  vault_validate_certs:
    description:
      - Whether to verify Vault's TLS certificate. Only turn this off against a lab.
      - This is not O(validate_certs), which is about the Kubernetes API server.
    type: bool
    default: true
  vault_ca_cert:
    description:
      - Path to the PEM file of the CA that signed Vault's certificate.
      - If not set, the value of the E(VAULT_CACERT) environment variable is used.
    type: path
  timeout:
    description:
      - Seconds to wait for each answer of Vault.
    type: float
    default: 10
requirements:
  - kubernetes >= 29.0.0 (the Python client, on the host that runs the module)
notes:
  - "RBAC: C(create) on C(serviceaccounts/token) for O(service_account) in O(namespace) (a Role with
    C(resourceNames) can restrict it to that service account); C(get) and C(update) on the Secret
    O(store_secret.name) when storing."
  - "Vault: the login needs no token. Revoking uses the fresh token itself (C(revoke-self)), which the
    C(default) policy allows; the stored token is checked with itself (C(lookup-self))."
  - The orchestrator reads the stored token when it starts; restart it (or let it reload the Secret) to
    make it use a newly stored token.
seealso:
  - module: voicehive.remediation.k8s_secret_key
  - name: Vault kubernetes auth method
    description: How Vault validates service account tokens with the TokenReview API.
    link: https://openbao.org/docs/auth/kubernetes/
"""

EXAMPLES = r"""
- name: Check that the orchestrator can log in to Vault
  voicehive.remediation.vault_kubernetes_login:
    namespace: voicehive
    service_account: voicehive-orchestrator
    role: voicehive-orchestrator
    vault_url: "{{ voicehive_vault_url }}"
  register: __authentication_vault_login

- name: Report a refused Vault login
  ansible.builtin.debug:
    msg: "Vault refused the orchestrator's login ({{ __authentication_vault_login.vault_status }}):
      {{ __authentication_vault_login.error }}"
  when: not __authentication_vault_login.login_ok

- name: Give the orchestrator a fresh Vault token when its stored one is no longer valid
  voicehive.remediation.vault_kubernetes_login:
    namespace: voicehive
    service_account: voicehive-orchestrator
    role: voicehive-orchestrator
    vault_url: "{{ voicehive_vault_url }}"
    vault_ca_cert: /etc/voicehive/vault-ca.pem
    store_secret:
      name: voicehive-secrets
      key: vault-token
  register: __authentication_vault_token
"""

RETURN = r"""
login_ok:
  description: Whether Vault accepted the login and issued a token.
  returned: always
  type: bool
  sample: true
vault_status:
  description: HTTP status of Vault's answer to the login.
  returned: always
  type: int
  sample: 200
error:
  description:
    - Vault's own error text when the login was refused, for example V(permission denied) or
      V(service account name not authorized); V(null) when the login worked.
    - Never contains a token.
  returned: always
  type: str
  sample: service account name not authorized
policies:
  description: Policies of the token Vault issued; empty when the login failed.
  returned: always
  type: list
  elements: str
  sample: [default, voicehive-orchestrator]
lease_duration:
  description: Lifetime in seconds of the token Vault issued; V(null) when the login failed.
  returned: always
  type: int
  sample: 3600
renewable:
  description: Whether the token Vault issued is renewable; V(null) when the login failed.
  returned: always
  type: bool
  sample: true
stored_token_valid:
  description:
    - Whether the token stored in O(store_secret) was valid (Vault answered C(lookup-self) with 200).
    - V(false) when there is none, it is unreadable, or Vault refused it; V(null) without O(store_secret)
      or when Vault's answer did not tell (Vault failing).
  returned: always
  type: bool
  sample: false
stored:
  description: Whether the new token was written into O(store_secret) (always V(false) in check mode).
  returned: always
  type: bool
  sample: true
revoked:
  description: Whether the token of this login was revoked because it was not stored (a probe, a valid stored
    token, check mode, or a failure after the login).
  returned: always
  type: bool
  sample: false
diff:
  description: Fingerprints of the token in O(store_secret.key) before and after; an empty dict when there is none.
  returned: in diff mode, with O(store_secret)
  type: dict
  sample: {"before": {"vault-token": "3f1c0a9e2b7d"}, "after": {"vault-token": "a94c61d02e58"}}
"""

import base64
import binascii
import re
import typing as t

from ansible.module_utils.basic import env_fallback

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import (
    MAX_CONFLICTS,
    K8sModuleError,
    NamespacedObject,
    api_error_message,
    body_for_replace,
    core_api,
    empty_options,
    k8s_main,
    refuse_invalid,
    to_plain,
)
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


class TokenSecret(NamespacedObject):
    """The Secret that holds the orchestrator's Vault token."""

    KIND = "Secret"
    RESOURCE = "secrets"
    ERROR = LoginError

    def __init__(self, client: t.Any, namespace: str, name: str, key: str) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.key = key

    def read(self) -> dict[str, t.Any]:
        secret = to_plain(
            self.api_call(
                "read", self.client.read_namespaced_secret, tolerate=(404,), name=self.name, namespace=self.namespace
            )
        )
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
        written = self.api_call(
            "replace",
            self.client.replace_namespaced_secret,
            tolerate=(409,),
            fallback=False,
            name=self.name,
            namespace=self.namespace,
            body=body,
        )
        return written is not False


class Login:
    """One run of the module: TokenRequest, login, and the stored token."""

    def __init__(self, module: t.Any, client: t.Any, vault: VaultClient) -> None:
        self.module = module
        self.client = client
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
        what = ("create", "token for ServiceAccount", self.namespace, self.service_account)
        try:
            answer = to_plain(
                self.client.create_namespaced_service_account_token(
                    name=self.service_account, namespace=self.namespace, body=body
                )
            )
        except Exception as exc:
            raise LoginError(self.mask(api_error_message(*what, exc, "serviceaccounts/token"))) from None
        token = ((answer or {}).get("status") or {}).get("token")
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
        secret_store = TokenSecret(self.client, self.namespace, store["name"], store["key"])
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


def check_params(module: t.Any) -> None:
    """Refuse bad input before anything is touched."""
    refuse_invalid(module, "vault_kubernetes_login", validate_params(module.params))


def run_module(module: t.Any, client: t.Any) -> None:
    check_params(module)
    params = module.params
    vault = VaultClient(
        params["vault_url"].strip(), params["timeout"], params["vault_validate_certs"], params["vault_ca_cert"]
    )
    login = Login(module, client, vault)
    try:
        result = login.run()
    except K8sModuleError as exc:
        facts = {key: value for key, value in login.result.items() if key not in ("changed", "diff")}
        module.fail_json(msg=str(exc), **{**facts, **exc.fields})
    module.exit_json(**result)


def main() -> None:
    k8s_main(argument_spec(), check_params, core_api, run_module)


if __name__ == "__main__":
    main()
