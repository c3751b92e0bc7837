#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pms_token
short_description: Get an Apaleo access token with the OAuth2 client credentials, test it, optionally store it
version_added: 0.1.0
description:
  - Runs the OAuth2 client-credentials grant of the Apaleo PMS, C(POST <identity_url>/connect/token) with
    HTTP Basic authentication (client id and secret) and the form C(grant_type=client_credentials), the
    way the VoiceHive Apaleo connector does.
  - The client credentials come from a Vault (or OpenBao) KV v2 secret, O(vault_path) on O(vault_mount)
    (the connector's C(pms/apaleo/<hotel_id>/api-credentials) with fields C(client_id) and C(client_secret)),
    or are given directly with O(client_id) and O(client_secret).
  - With O(property_ids), the new token is then tested with C(GET <api_url>/inventory/v1/properties/<id>)
    for each property.
  - "Tells apart why it did not work and returns it as RV(outcome): V(ok); V(credentials_rejected) (the token
    endpoint answered 401, or 400 with C(invalid_client) or C(unauthorized_client): the secret was rotated
    or revoked, update it at the Vault path the message names); V(token_request_rejected) (any other 4xx
    of the token endpoint, for example a wrong O(identity_url)); V(apaleo_unavailable) (5xx, 429, a timeout
    or no connection, after the retries); V(property_not_accessible) (a property answered 401, 403, 404 or
    another 4xx); V(credentials_missing) (no secret at the Vault path, or a field missing or empty);
    V(vault_unavailable) (Vault sealed, failing or unreachable); V(vault_denied) (Vault refused O(vault_token));
    V(store_failed) (the token is fine but could not be stored)."
  - Like M(community.postgresql.postgresql_ping), the module does not fail because Apaleo or Vault is
    unhealthy, it reports the outcome and the role decides. It fails only on bad options, refused before
    any request is sent.
  - Only connection errors, timeouts and 5xx answers are retried, O(retries) times, waiting 0.5 s, then
    1 s, 2 s, ... in between. A 4xx answer is never retried (a rejected secret stays rejected;
    repeating it only adds failed logins). Vault is not retried either when it says it is sealed.
  - With O(store=vault) or O(store=kubernetes_secret), the new token and its expiry time are written
    as C(access_token) and C(expires_at) (ISO 8601 UTC), but only when RV(outcome=ok) and when the
    token already stored expires within O(refresh_before) seconds or is invalid (missing, unreadable, or
    refused by Apaleo when tested on the first of O(property_ids)). So a second run reports no change.
  - Returns facts only. The access token, the client secret and the Vault token are never returned,
    and every error text is masked.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.kubernetes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  action_group:
    support: none
    details:
      - Not in the C(voicehive.remediation.kubernetes) group, although it takes the Kubernetes connection options for
        O(store=kubernetes_secret) - its O(validate_certs) also covers Apaleo and Vault. Give them on the task.
  check_mode:
    support: full
    details:
      - Validates the options, reads the credentials, requests a token and tests the properties
        (read-only on Apaleo's side) and reads the stored token, but stores nothing.
      - RV(ignore:changed) and the diff then say whether the token would have been stored.
  diff_mode:
    support: full
    details:
      - The diff shows the stored C(expires_at) before and after; the token itself is shown masked.
  platform:
    platforms: posix
options:
  identity_url:
    description:
      - Base URL of the Apaleo identity server; the token endpoint is C(<identity_url>/connect/token).
    type: str
    default: https://identity.apaleo.com
  api_url:
    description:
      - Base URL of the Apaleo API, for the property tests.
    type: str
    default: https://api.apaleo.com
  client_id:
    description:
      - The OAuth2 client id, when not read from Vault.
      - Requires O(client_secret). Mutually exclusive with O(vault_path).
    type: str
  client_secret:
    description:
      - The OAuth2 client secret, when not read from Vault. Never shown.
      - Requires O(client_id). Mutually exclusive with O(vault_path).
    type: str
  vault_url:
    description:
      - Address of Vault or OpenBao, for example V(https://vault.voicehive.com:8200).
      - Needed with O(vault_path) and with O(store=vault).
      - If not set, the value of the E(VAULT_ADDR) environment variable is used.
    type: str
  vault_token:
    description:
      - Vault token that can read O(vault_path) (and, with O(store=vault), read and write
        O(store_vault_path)). Never shown.
      - If not set, the value of the E(VAULT_TOKEN) environment variable is used.
    type: str
  vault_mount:
    description:
      - Mount point of the KV version 2 secrets engine that holds O(vault_path) and O(store_vault_path).
    type: str
    default: voicehive
  vault_path:
    description:
      - Path of the client credentials within O(vault_mount), for example
        V(pms/apaleo/hotel-001/api-credentials). Requires O(vault_url) and O(vault_token).
      - One of O(vault_path) and O(client_id) is required.
    type: str
  vault_client_id_field:
    description:
      - Field of the secret at O(vault_path) that holds the client id.
    type: str
    default: client_id
  vault_client_secret_field:
    description:
      - Field of the secret at O(vault_path) that holds the client secret.
    type: str
    default: client_secret
  property_ids:
    description:
      - Apaleo property ids (for example V(MUC)) to test the new token on, in this order.
      - After an RV(outcome=apaleo_unavailable) answer the remaining properties are not tested.
    type: list
    elements: str
    default: []
  store:
    description:
      - Where to store the new token. V(none) stores nothing.
      - V(vault) writes the KV v2 secret O(store_vault_path) on O(vault_mount), with check-and-set.
      - V(kubernetes_secret) writes the keys C(access_token) and C(expires_at) of the Secret
        O(store_secret_name) in O(store_namespace) (created when missing, other keys kept). Only
        then are the Kubernetes connection options used and the kubernetes library needed.
    type: str
    choices: [none, vault, kubernetes_secret]
    default: none
  store_vault_path:
    description:
      - Path within O(vault_mount) to store the token at, with O(store=vault), for example
        V(pms/apaleo/hotel-001/access-token). Must not be O(vault_path).
    type: str
  store_secret_name:
    description:
      - Name of the Secret to store the token in, with O(store=kubernetes_secret).
    type: str
  store_namespace:
    description:
      - Namespace of O(store_secret_name).
    type: str
    default: voicehive
  refresh_before:
    description:
      - A stored token is replaced when it expires within this many seconds (or is invalid).
    type: int
    default: 600
  timeout:
    description:
      - Seconds to wait for each HTTP request (Apaleo and Vault).
    type: float
    default: 10
  retries:
    description:
      - How often a request is repeated after a connection error, a timeout or a 5xx answer, between
        V(0) and V(10). Never after a 4xx answer.
    type: int
    default: 3
  validate_certs:
    description:
      - Whether to verify the TLS certificates of Apaleo, Vault and (with O(store=kubernetes_secret)) the
        Kubernetes API server.
      - Unset means V(true) for Apaleo and Vault and the kubeconfig's setting for the Kubernetes API server.
      - Only turn this off against a lab or a server you control.
    type: bool
    aliases: [verify_ssl]
requirements:
  - kubernetes >= 29.0.0 (the Python client, on the host that runs the module)
notes:
  - The Kubernetes connection options (O(kubeconfig), O(host), O(api_key), ...) and the kubernetes library
    are only needed with O(store=kubernetes_secret); the library is not even imported otherwise.
  - "RBAC with O(store=kubernetes_secret): C(get), C(create), C(update) on C(secrets) in O(store_namespace)."
  - "Vault policy: C(read) on C(<vault_mount>/data/<vault_path>); with O(store=vault) also C(read), C(create)
    and C(update) on C(<vault_mount>/data/<store_vault_path>)."
  - Nothing is cached between runs; every run asks Apaleo for a new token.
"""

EXAMPLES = r"""
- name: Check that the Apaleo credentials in Vault still get a token for hotel-001
  voicehive.remediation.pms_token:
    vault_url: "{{ voicehive_vault_url }}"
    vault_token: "{{ voicehive_vault_token }}"
    vault_path: pms/apaleo/hotel-001/api-credentials
    property_ids: [MUC]
  register: __pms_connector_token

- name: Record a finding when Apaleo rejects the credentials
  ansible.builtin.debug:
    msg: "{{ __pms_connector_token.msg }}"
  when: __pms_connector_token.outcome == 'credentials_rejected'

- name: Refresh the stored access token when it expires within 10 minutes
  voicehive.remediation.pms_token:
    vault_url: "{{ voicehive_vault_url }}"
    vault_token: "{{ voicehive_vault_token }}"
    vault_path: pms/apaleo/hotel-001/api-credentials
    property_ids: [MUC]
    store: vault
    store_vault_path: pms/apaleo/hotel-001/access-token
    refresh_before: 600
  register: __pms_connector_refresh

- name: Keep the token in a Kubernetes Secret instead
  voicehive.remediation.pms_token:
    identity_url: "{{ voicehive_apaleo_identity_url }}"
    api_url: "{{ voicehive_apaleo_api_url }}"
    client_id: "{{ voicehive_apaleo_client_id }}"
    client_secret: "{{ voicehive_apaleo_client_secret }}"
    store: kubernetes_secret
    store_secret_name: apaleo-access-token
    store_namespace: voicehive
    kubeconfig: "{{ voicehive_kubeconfig }}"
  register: __pms_connector_refresh
"""

RETURN = r"""
outcome:
  description:
    - What happened, one of V(ok), V(credentials_rejected), V(token_request_rejected), V(apaleo_unavailable),
      V(property_not_accessible), V(credentials_missing), V(vault_unavailable), V(vault_denied),
      V(store_failed). See the description.
  returned: always
  type: str
  sample: ok
msg:
  description: A one-line summary; when RV(outcome) is not V(ok), what went wrong and what to do.
  returned: always
  type: str
  sample: "Got an Apaleo access token (expires in 3600 s); property MUC is accessible"
error:
  description: What went wrong (masked), when RV(outcome) is not V(ok).
  returned: when RV(outcome) is not V(ok)
  type: str
  sample: >-
    Cannot get an Apaleo access token: https://identity.apaleo.com/connect/token answered 401 invalid_client.
    Apaleo rejected the client credentials (rotated or revoked).
    Update client_id and client_secret at Vault path voicehive/pms/apaleo/hotel-001/api-credentials.
credentials_source:
  description: Where the client credentials came from, V(vault) or V(options).
  returned: always
  type: str
  sample: vault
vault_path:
  description: The Vault path of the credentials, as C(<mount>/<path>); V(null) when given directly.
  returned: always
  type: str
  sample: voicehive/pms/apaleo/hotel-001/api-credentials
token_obtained:
  description: Whether the token endpoint issued a token.
  returned: always
  type: bool
  sample: true
token_status:
  description: HTTP status of the (last) token request; V(null) when no request was answered or sent.
  returned: always
  type: int
  sample: 200
token_type:
  description: The token type Apaleo returned.
  returned: when RV(token_obtained)
  type: str
  sample: Bearer
expires_in:
  description: Lifetime of the new token in seconds (V(3600) when Apaleo did not say); V(null) without a token.
  returned: always
  type: int
  sample: 3600
expires_at:
  description: Expiry time of the new token, ISO 8601 UTC; V(null) without a token.
  returned: always
  type: str
  sample: "2026-11-28T17:00:00Z"
latency_ms:
  description: Milliseconds the last token request took; V(null) when none was sent.
  returned: always
  type: float
  sample: 84.2
attempts:
  description: Token requests sent (1 plus the retries used).
  returned: always
  type: int
  sample: 1
properties:
  description: The result of each property test, by property id. Empty without a token.
  returned: always
  type: dict
  sample:
    MUC: {status: 200, accessible: true, latency_ms: 41.7, attempts: 1, error: null}
    BER:
      status: 403
      accessible: false
      latency_ms: 38.0
      attempts: 1
      error: >-
        https://api.apaleo.com/inventory/v1/properties/BER answered 403 (the client has no access to this property)
  contains:
    status:
      description: HTTP status, V(null) when not answered or not tested.
      type: int
    accessible:
      description: Whether the property answered 2xx; V(null) when Apaleo did not tell (5xx, timeout, not tested).
      type: bool
    latency_ms:
      description: Milliseconds of the last request.
      type: float
    attempts:
      description: Requests sent (V(0) when not tested).
      type: int
    error:
      description: Why it is not accessible; V(null) when it is.
      type: str
stored:
  description: Whether the token was stored (never in check mode).
  returned: always
  type: bool
  sample: true
store_target:
  description:
    - Where the token is stored, V(vault:<mount>/<path>) or V(secret:<namespace>/<name>).
    - V(null) with O(store=none), or when the run did not get that far.
  returned: always
  type: str
  sample: vault:voicehive/pms/apaleo/hotel-001/access-token
store_reason:
  description: Why the token was (or would be) stored or not.
  returned: when the stored token was read (O(store) is not V(none), and a token was obtained)
  type: str
  sample: "the stored token expires in 412 s, within refresh_before=600 s"
diff:
  description: With C(--diff), the stored C(expires_at) before and after (the token itself masked).
  returned: when diff mode is on and O(store) is not V(none)
  type: dict
  sample:
    before:
      "vault:voicehive/pms/apaleo/hotel-001/access-token":
        {access_token: "********", expires_at: "2026-11-28T16:10:00Z"}
    after:
      "vault:voicehive/pms/apaleo/hotel-001/access-token":
        {access_token: "********", expires_at: "2026-11-28T17:00:00Z"}
"""

import base64
import binascii
import re
import time
import typing as t

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.voicehive.remediation.plugins.module_utils._apaleo import (
    APALEO_UNAVAILABLE,
    CREDENTIALS_MISSING,
    CREDENTIALS_REJECTED,
    DEFAULT_API_URL,
    DEFAULT_IDENTITY_URL,
    OK,
    STORE_FAILED,
    Masker,
    check_property,
    check_url,
    iso_utc,
    request_token,
    shown_path,
    ssl_context,
    token_needs_refresh,
    vault_read,
    vault_write,
)
from ansible_collections.voicehive.remediation.plugins.module_utils._redact import REDACTED

WHAT = "Cannot refresh the Apaleo access token"
MAX_STORE_ATTEMPTS = 5  # writes lost to a concurrent writer (check-and-set, resourceVersion) before giving up
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def kubernetes_connection_spec() -> dict[str, t.Any]:
    """The collection's Kubernetes connection options (``_k8s.k8s_common_argument_spec()``), written out here so
    the default path never imports the kubernetes library; a unit test keeps the two equal. ``validate_certs``
    is this module's own (it also covers Apaleo and Vault), so it takes no ``K8S_AUTH_VERIFY_SSL`` fallback."""
    return dict(
        kubeconfig=dict(type="raw", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
        context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
        host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
        api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
        ca_cert=dict(type="path", aliases=["ssl_ca_cert"], fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
        validate_certs=dict(type="bool", aliases=["verify_ssl"]),
        client_cert=dict(type="path", aliases=["cert_file"], fallback=(env_fallback, ["K8S_AUTH_CERT_FILE"])),
        client_key=dict(type="path", aliases=["key_file"], fallback=(env_fallback, ["K8S_AUTH_KEY_FILE"])),
        proxy=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_PROXY"])),
    )


def argument_spec() -> dict[str, t.Any]:
    spec = kubernetes_connection_spec()
    spec.update(
        identity_url=dict(type="str", default=DEFAULT_IDENTITY_URL),
        api_url=dict(type="str", default=DEFAULT_API_URL),
        client_id=dict(type="str", no_log=True),
        client_secret=dict(type="str", no_log=True),
        vault_url=dict(type="str", fallback=(env_fallback, ["VAULT_ADDR"])),
        vault_token=dict(type="str", no_log=True, fallback=(env_fallback, ["VAULT_TOKEN"])),
        vault_mount=dict(type="str", default="voicehive"),
        vault_path=dict(type="str"),
        vault_client_id_field=dict(type="str", default="client_id"),
        vault_client_secret_field=dict(type="str", default="client_secret", no_log=False),
        property_ids=dict(type="list", elements="str", default=[]),
        store=dict(type="str", choices=["none", "vault", "kubernetes_secret"], default="none"),
        store_vault_path=dict(type="str"),
        store_secret_name=dict(type="str", no_log=False),
        store_namespace=dict(type="str", default="voicehive"),
        refresh_before=dict(type="int", default=600),
        timeout=dict(type="float", default=10.0),
        retries=dict(type="int", default=3),
    )
    return spec


MODULE_KWARGS: dict[str, t.Any] = dict(
    supports_check_mode=True,
    mutually_exclusive=[("client_id", "vault_path"), ("client_secret", "vault_path")],
    required_together=[("client_id", "client_secret")],
    required_one_of=[("client_id", "vault_path")],
    required_by={"vault_path": ("vault_url", "vault_token")},
    required_if=[
        ("store", "vault", ("vault_url", "vault_token", "store_vault_path")),
        ("store", "kubernetes_secret", ("store_secret_name",)),
    ],
)


# ---------------------------------------------------------------------------------------------
# options
# ---------------------------------------------------------------------------------------------


def validate_params(params: dict[str, t.Any]) -> list[str]:
    """What is wrong with the options (empty when nothing is)."""
    errors = []
    for name in ("identity_url", "api_url"):
        problem = check_url(params[name])
        if problem:
            errors.append(f"{name}: {problem}")
    uses_vault = bool(params["vault_path"]) or params["store"] == "vault"
    if uses_vault:
        problem = check_url(params["vault_url"] or "")
        if problem:
            errors.append(f"vault_url: {problem}")
        if not (params["vault_token"] or "").strip():
            errors.append("vault_token must not be empty")
        if not (params["vault_mount"] or "").strip("/ "):
            errors.append("vault_mount must not be empty")
    if params["vault_path"] is not None:
        if not params["vault_path"].strip("/ "):
            errors.append("vault_path must not be empty")
        for name in ("vault_client_id_field", "vault_client_secret_field"):
            if not (params[name] or "").strip():
                errors.append(f"{name} must not be empty")
    else:
        for name in ("client_id", "client_secret"):
            if not (params[name] or "").strip():
                errors.append(f"{name} must not be empty")
    if any(not (pid or "").strip() for pid in params["property_ids"]):
        errors.append("property_ids must not contain empty ids")
    if params["store"] == "vault":
        store_path = (params["store_vault_path"] or "").strip("/ ")
        if not store_path:
            errors.append("store_vault_path must not be empty")
        elif params["vault_path"] and store_path == params["vault_path"].strip("/ "):
            errors.append("store_vault_path must not be vault_path: storing the token would overwrite the credentials")
    if params["store"] == "kubernetes_secret":
        for name in ("store_secret_name", "store_namespace"):
            value = params[name] or ""
            if not _DNS_SUBDOMAIN.match(value) or len(value) > 253:
                errors.append(f"{name} {value!r} is not a valid Kubernetes name")
    if params["refresh_before"] < 0:
        errors.append(f"refresh_before must be at least 0 seconds, got {params['refresh_before']}")
    if params["timeout"] <= 0:
        errors.append(f"timeout must be above 0 seconds, got {params['timeout']:g}")
    if not 0 <= params["retries"] <= 10:
        errors.append(f"retries must be between 0 and 10, got {params['retries']}")
    return errors


def sentence(text: str) -> str:
    """``text`` ending with exactly one full stop."""
    return text.rstrip(". ") + "."


def check_params(module: AnsibleModule) -> None:
    """Refuse bad input before any request is sent."""
    errors = validate_params(module.params)
    if errors:
        module.fail_json(msg=f"{WHAT}: " + "; ".join(errors) + ".", changed=False)


# ---------------------------------------------------------------------------------------------
# the stores
# ---------------------------------------------------------------------------------------------


def _k8s() -> t.Any:
    """The collection's Kubernetes plumbing, imported only when a Secret is the store (it imports kubernetes)."""
    from ansible_collections.voicehive.remediation.plugins.module_utils import _k8s as k8s

    return k8s


def secrets_api(module: AnsibleModule) -> t.Any:
    """The ``CoreV1Api`` client factory for O(store=kubernetes_secret) (unit tests patch it)."""
    k8s = _k8s()
    if not k8s.HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib(k8s.KUBERNETES_LIBRARY), exception=k8s.KUBERNETES_IMPORT_ERROR)
    return k8s.core_api(module)


class StoreError(Exception):
    """The store could not be read or written; the message is masked."""


class VaultStore:
    """The token as the KV v2 secret ``store_vault_path``, written with check-and-set."""

    def __init__(self, params: dict[str, t.Any], context: t.Any) -> None:
        self.params = params
        self.context = context
        self.mount = params["vault_mount"].strip("/ ")
        self.path = params["store_vault_path"].strip("/ ")
        self.target = "vault:" + shown_path(self.mount, self.path)

    def _call(self, function: t.Callable[..., dict[str, t.Any]], *args: t.Any) -> dict[str, t.Any]:
        p = self.params
        return function(
            p["vault_url"], p["vault_token"], self.mount, self.path, *args, p["timeout"], p["retries"], self.context
        )

    def read(self) -> tuple[t.Any, dict[str, t.Any] | None]:
        """``(version, {access_token, expires_at} or None)``."""
        answer = self._call(vault_read)
        if answer["outcome"] == OK:
            return answer["version"], answer["data"]
        if answer["outcome"] == CREDENTIALS_MISSING:  # nothing stored yet
            return answer["version"], None
        raise StoreError(f"Cannot read the stored token: {answer['error']}")

    def write(self, version: t.Any, data: dict[str, str]) -> bool:
        """Write a new version; ``False`` when someone else wrote in between."""
        answer = self._call(vault_write, data, version)
        if answer["outcome"] == "conflict":
            return False
        if answer["outcome"] != OK:
            raise StoreError(f"Cannot store the token: {answer['error']}")
        return True


class SecretStore:
    """The token as the keys ``access_token`` and ``expires_at`` of a Kubernetes Secret (other keys kept)."""

    def __init__(self, params: dict[str, t.Any], client: t.Any) -> None:
        self.client = client
        self.k8s = _k8s()
        self.namespace = params["store_namespace"]
        self.name = params["store_secret_name"]
        self.target = f"secret:{self.namespace}/{self.name}"

    def _api(self, verb: str, call: t.Callable[..., t.Any], tolerate: tuple[int, ...] = (), **kwargs: t.Any) -> t.Any:
        try:
            return call(**kwargs)
        except Exception as exc:
            if self.k8s.is_api_status(exc, *tolerate):
                return None
            raise StoreError(
                self.k8s.api_error_message(verb, "Secret", self.namespace, self.name, exc, "secrets")
            ) from None

    def read(self) -> tuple[t.Any, dict[str, t.Any] | None]:
        """``(the Secret or None, {access_token, expires_at} or None)``."""
        secret = self.k8s.to_plain(
            self._api("read", self.client.read_namespaced_secret, (404,), name=self.name, namespace=self.namespace)
        )
        if not secret:
            return None, None
        data = secret.get("data") or {}
        stored = {}
        for key in ("access_token", "expires_at"):
            try:
                stored[key] = base64.b64decode(data[key], validate=True).decode("utf-8") if key in data else None
            except (binascii.Error, UnicodeDecodeError, TypeError):
                stored[key] = None
        return secret, (stored if any(stored.values()) else None)

    def write(self, secret: t.Any, data: dict[str, str]) -> bool:
        """Create the Secret, or replace it with the resourceVersion read; ``False`` on a conflict."""
        encoded = {k: base64.b64encode(v.encode("utf-8")).decode("ascii") for k, v in data.items()}
        if secret is None:
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": self.k8s.managed_metadata(self.namespace, self.name),
                "data": encoded,
            }
            verb, call, kwargs = "create", self.client.create_namespaced_secret, {}
        else:
            body = self.k8s.body_for_replace(secret)
            body["data"] = dict(body.get("data") or {}, **encoded)
            verb, call, kwargs = "replace", self.client.replace_namespaced_secret, {"name": self.name}
        written = self._api(verb, call, (409,), namespace=self.namespace, body=body, **kwargs)
        return written is not None


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------


class Run:
    """One run of the module: credentials, token, properties, store; ``result`` is what it returns."""

    def __init__(self, module: AnsibleModule, secrets_client: t.Any = None) -> None:
        self.module = module
        self.params = params = module.params
        self.secrets_client = secrets_client
        self.context = ssl_context(params["validate_certs"] is not False)
        self.mask = Masker(params["client_secret"], params["vault_token"], params["client_id"], params["api_key"])
        self.mount = (params["vault_mount"] or "").strip("/ ")
        self.vault_path = shown_path(self.mount, params["vault_path"]) if params["vault_path"] else None
        self.result: dict[str, t.Any] = dict(
            changed=False,
            outcome=OK,
            credentials_source="vault" if params["vault_path"] else "options",
            vault_path=self.vault_path,
            token_obtained=False,
            token_status=None,
            expires_in=None,
            expires_at=None,
            latency_ms=None,
            attempts=0,
            properties={},
            stored=False,
            store_target=None,
        )
        self.diff: dict[str, t.Any] = dict(before={}, after={})

    def secret(self, *values: str) -> None:
        """Values never to show: masked in texts, and in whatever Ansible prints."""
        for value in values:
            if value:
                self.module.no_log_values.add(value)
        self.mask.add(*values)

    def finish(self, outcome: str, message: str) -> None:
        self.result["outcome"] = outcome
        self.result["msg"] = self.mask(message)
        if outcome != OK:
            self.result["error"] = self.result["msg"]
        if self.module._diff and self.params["store"] != "none":
            self.result["diff"] = self.diff
        self.module.exit_json(**self.result)

    # -- credentials
    def credentials(self) -> tuple[str, str]:
        p = self.params
        if not p["vault_path"]:
            return p["client_id"], p["client_secret"]
        answer = vault_read(
            p["vault_url"], p["vault_token"], self.mount, p["vault_path"], p["timeout"], p["retries"], self.context
        )
        fields = (p["vault_client_id_field"], p["vault_client_secret_field"])
        if answer["outcome"] == CREDENTIALS_MISSING:
            self.finish(
                CREDENTIALS_MISSING,
                f"Cannot read the Apaleo client credentials: {answer['error']}. "
                f"Write {fields[0]} and {fields[1]} at Vault path {self.vault_path}.",
            )
        if answer["outcome"] != OK:
            self.finish(answer["outcome"], sentence(f"Cannot read the Apaleo client credentials: {answer['error']}"))
        values = [answer["data"].get(field) for field in fields]
        self.secret(*[v for v in values if isinstance(v, str)])
        missing = [field for field in fields if not isinstance(answer["data"].get(field), str)]
        missing += [field for field in fields if field not in missing and not answer["data"][field].strip()]
        if missing:
            self.finish(
                CREDENTIALS_MISSING,
                f"Cannot read the Apaleo client credentials: Vault secret {self.vault_path} has no (or an empty) "
                f"{' and '.join(missing)}. Write {fields[0]} and {fields[1]} there.",
            )
        return values[0], values[1]

    def where_to_update(self) -> str:
        if self.vault_path:
            fields = f"{self.params['vault_client_id_field']} and {self.params['vault_client_secret_field']}"
            return f"Update {fields} at Vault path {self.vault_path}."
        return "Update the client_id and client_secret given to the module."

    # -- token
    def token(self, client_id: str, client_secret: str) -> tuple[str, float]:
        p = self.params
        answer = request_token(p["identity_url"], client_id, client_secret, p["timeout"], p["retries"], self.context)
        requested_at = time.time()
        self.result.update(token_status=answer["status"], latency_ms=answer["latency_ms"], attempts=answer["attempts"])
        if answer["outcome"] != OK:
            message = sentence(f"Cannot get an Apaleo access token: {answer['error']}")
            if answer["outcome"] == CREDENTIALS_REJECTED:
                message += " Apaleo rejected the client credentials (rotated or revoked). " + self.where_to_update()
            elif answer["outcome"] == APALEO_UNAVAILABLE:
                message += " Apaleo is unavailable; retry later."
            else:
                message += " Check identity_url."
            self.finish(answer["outcome"], message)
        token = answer["access_token"]
        self.secret(token)
        expires_at = requested_at + answer["expires_in"]
        self.result.update(
            token_obtained=True,
            token_type=answer["token_type"],
            expires_in=answer["expires_in"],
            expires_at=iso_utc(expires_at),
        )
        return token, expires_at

    # -- properties
    def properties(self, token: str) -> tuple[str, str]:
        """``(outcome, message)`` of the property tests."""
        p = self.params
        ids = list(dict.fromkeys(p["property_ids"]))
        found = self.result["properties"]
        outcome, problems = OK, []
        for property_id in ids:
            if outcome == APALEO_UNAVAILABLE:
                found[property_id] = dict(
                    status=None,
                    accessible=None,
                    latency_ms=None,
                    attempts=0,
                    error="not tested: Apaleo was unavailable",
                )
                continue
            answer = check_property(p["api_url"], property_id, token, p["timeout"], p["retries"], self.context)
            answer["error"] = self.mask(answer["error"]) if answer["error"] else None
            found[property_id] = {k: answer[k] for k in ("status", "accessible", "latency_ms", "attempts", "error")}
            if answer["outcome"] != OK:
                problems.append(answer["error"])
                if answer["outcome"] == APALEO_UNAVAILABLE or outcome == OK:
                    outcome = answer["outcome"]
        lifetime = f"expires in {self.result['expires_in']} s"
        if outcome == OK:
            if not ids:
                return OK, f"Got an Apaleo access token ({lifetime})"
            noun = "property" if len(ids) == 1 else "properties"
            verb = "is" if len(ids) == 1 else "are"
            return OK, f"Got an Apaleo access token ({lifetime}); {noun} {', '.join(ids)} {verb} accessible"
        if outcome == APALEO_UNAVAILABLE:
            return outcome, sentence(f"Cannot test the Apaleo properties: {'; '.join(problems)}") + (
                " Apaleo is unavailable; retry later."
            )
        bad = [pid for pid in ids if found[pid]["accessible"] is False]
        return outcome, sentence(
            f"Cannot access Apaleo {'property' if len(bad) == 1 else 'properties'} {', '.join(bad)} "
            f"with the new token: {'; '.join(problems)}"
        ) + " Check the property ids and the app's access to them in Apaleo."

    # -- store
    def store(self, token: str, expires_at: float) -> None:
        p = self.params
        store = VaultStore(p, self.context) if p["store"] == "vault" else SecretStore(p, self.secrets_client)
        self.result["store_target"] = store.target
        new = {"access_token": token, "expires_at": iso_utc(expires_at)}
        for _attempt in range(MAX_STORE_ATTEMPTS):
            self.result["changed"] = False
            self.diff = dict(before={}, after={})
            handle, stored = store.read()
            if stored and isinstance(stored.get("access_token"), str):
                if stored["access_token"] == token:  # written by a request of ours that timed out, then lost a race
                    self.result.update(changed=True, stored=True, store_reason="the new token is stored")
                    return
                self.secret(stored["access_token"])
            refresh, reason = token_needs_refresh(stored, time.time(), p["refresh_before"])
            if not refresh:
                refresh, reason = self.stored_token_refused(stored["access_token"], reason)
            self.result["store_reason"] = reason
            if not refresh:
                return
            self.diff["before"][store.target] = (
                None if not stored else {"access_token": REDACTED, "expires_at": stored.get("expires_at")}
            )
            self.diff["after"][store.target] = {"access_token": REDACTED, "expires_at": new["expires_at"]}
            self.result["changed"] = True
            if self.module.check_mode:
                return
            if store.write(handle, new):
                self.result["stored"] = True
                return
        raise StoreError(
            f"Cannot store the token at {store.target}: it was changed by someone else {MAX_STORE_ATTEMPTS} times "
            "in a row; run again"
        )

    def stored_token_refused(self, stored_token: str, reason: str) -> tuple[bool, str]:
        """Whether Apaleo refuses the stored token (401 on the first property); tested only with property_ids."""
        p = self.params
        if not p["property_ids"]:
            return False, reason
        answer = check_property(
            p["api_url"], p["property_ids"][0], stored_token, p["timeout"], p["retries"], self.context
        )
        if answer["status"] == 401:
            return True, "the stored token is invalid: Apaleo refused it (401)"
        return False, reason

    def run(self) -> None:
        client_id, client_secret = self.credentials()
        token, expires_at = self.token(client_id, client_secret)
        outcome, message = self.properties(token)
        if outcome != OK or self.params["store"] == "none":
            self.finish(outcome, message)
        try:
            self.store(token, expires_at)
        except StoreError as exc:
            self.result["changed"] = False
            self.diff = dict(before={}, after={})
            self.finish(STORE_FAILED, sentence(str(exc)) + " The new token is fine but was not stored.")
        if self.result["stored"]:
            message += f"; stored it at {self.result['store_target']}"
        elif self.result["changed"]:
            message += f"; would store it at {self.result['store_target']}"
        else:
            message += f"; kept the token stored at {self.result['store_target']}"
        self.finish(OK, f"{message} ({self.result['store_reason']})")


def run_module(module: AnsibleModule, secrets_client: t.Any = None) -> None:
    check_params(module)
    Run(module, secrets_client).run()


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), **MODULE_KWARGS)
    check_params(module)
    client = secrets_api(module) if module.params["store"] == "kubernetes_secret" else None
    run_module(module, client)


if __name__ == "__main__":
    main()
