# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""The run of ``pms_token`` (Apaleo client credentials, the property tests, the stored token), shared by the module
and its action plugin.

- ``argument_spec()``, ``CONSTRAINTS`` (the combinations ``AnsibleModule`` refuses), ``validate_params()``,
  ``invalid_options_message()``: the options and their checks.
- ``perform(module)``: the module's result, from the module or the action plugin's stand-in for it (``params``,
  ``check_mode``, ``_diff``, ``no_log_values``). Only with ``store=kubernetes_secret`` is a Kubernetes connection
  made (``_k8s.with_connection()``, the collection's own client); ``failed`` and ``msg`` when its options cannot make
  one. Every secret it sees goes into ``module.no_log_values`` and is masked in its texts.

The HTTP calls are in ``_apaleo``; the options and results are documented in plugins/modules/pms_token.py.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import time
import typing as t

from ansible.module_utils.basic import env_fallback

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
from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import (
    K8sModuleError,
    KubeSecret,
    body_for_replace,
    k8s_common_argument_spec,
    managed_metadata,
    with_connection,
)
from ansible_collections.voicehive.remediation.plugins.module_utils._kube_read import KubeConnection
from ansible_collections.voicehive.remediation.plugins.module_utils._redact import REDACTED

WHAT = "Cannot refresh the Apaleo access token"
MAX_STORE_ATTEMPTS = 5  # writes lost to a concurrent writer (check-and-set, resourceVersion) before giving up
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def kubernetes_connection_spec() -> dict[str, t.Any]:
    """The collection's Kubernetes connection options (``_k8s.k8s_common_argument_spec()``). ``validate_certs``
    is this module's own (it also covers Apaleo and Vault), so it takes no ``K8S_AUTH_VERIFY_SSL`` fallback."""
    spec = k8s_common_argument_spec()
    spec["validate_certs"] = dict(type="bool", aliases=["verify_ssl"])
    return spec


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


# what AnsibleModule (or, in the worker process, the action plugin's validation) refuses besides the types
CONSTRAINTS: dict[str, t.Any] = dict(
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


def invalid_options_message(errors: list[str]) -> str:
    return f"{WHAT}: " + "; ".join(errors) + "."


# ---------------------------------------------------------------------------------------------
# the stores
# ---------------------------------------------------------------------------------------------


class StoreError(K8sModuleError):
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


class StoredSecret(KubeSecret):
    ERROR = StoreError


class SecretStore:
    """The token as the keys ``access_token`` and ``expires_at`` of a Kubernetes Secret (other keys kept)."""

    def __init__(self, module: t.Any, conn: KubeConnection) -> None:
        params = module.params
        self.secret = StoredSecret(module, conn, namespace=params["store_namespace"], name=params["store_secret_name"])
        self.target = f"secret:{self.secret.namespace}/{self.secret.name}"

    def read(self) -> tuple[t.Any, dict[str, t.Any] | None]:
        """``(the Secret or None, {access_token, expires_at} or None)``."""
        secret = self.secret.read()
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
                "metadata": managed_metadata(self.secret.namespace, self.secret.name),
                "data": encoded,
            }
            return self.secret.create(body) is not None
        body = body_for_replace(secret)
        body["data"] = dict(body.get("data") or {}, **encoded)
        return self.secret.replace(body) is not None


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------


class Finished(Exception):
    """The run is over: ``Run.result`` is what the module returns."""


class Run:
    """One run of the module: credentials, token, properties, store; ``run()`` returns the result.

    ``conn`` is the connection to the Kubernetes API server, with ``store=kubernetes_secret`` only.
    """

    def __init__(self, module: t.Any, conn: KubeConnection | None = None) -> None:
        self.module = module
        self.params = params = module.params
        self.conn = conn
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

    def finish(self, outcome: str, message: str) -> t.NoReturn:
        """Complete the result with ``outcome`` and ``message`` (masked), and end the run (``Finished``)."""
        self.result["outcome"] = outcome
        self.result["msg"] = self.mask(message)
        if outcome != OK:
            self.result["error"] = self.result["msg"]
        if self.module._diff and self.params["store"] != "none":
            self.result["diff"] = self.diff
        raise Finished

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
        store = VaultStore(p, self.context) if p["store"] == "vault" else SecretStore(self.module, self.conn)
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

    def run(self) -> dict[str, t.Any]:
        with contextlib.suppress(Finished):
            self.steps()
        return self.result

    def steps(self) -> t.NoReturn:
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


def perform(module: t.Any) -> dict[str, t.Any]:
    """The module's result. With ``store=kubernetes_secret`` the run gets a connection to the Kubernetes API server,
    made from the connection options before any request is sent; ``failed`` and ``msg`` when they cannot make one."""
    if module.params["store"] != "kubernetes_secret":
        return Run(module).run()
    return with_connection(module.params, lambda conn: Run(module, conn).run())
