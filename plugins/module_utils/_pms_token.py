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
import hashlib
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
    PROPERTY_NOT_ACCESSIBLE,
    STORE_FAILED,
    TOKEN_REQUEST_REJECTED,
    VAULT_DENIED,
    VAULT_UNAVAILABLE,
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
        hotels=dict(
            type="list",
            elements="dict",
            options=dict(
                hotel_id=dict(type="str", required=True),
                vault_path=dict(type="str", required=True),
                property_ids=dict(type="list", elements="str", default=[]),
            ),
        ),
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
    mutually_exclusive=[
        ("client_id", "vault_path"),
        ("client_secret", "vault_path"),
        ("hotels", "vault_path"),
        ("hotels", "client_id"),
        ("hotels", "client_secret"),
        ("hotels", "property_ids"),
    ],
    required_together=[("client_id", "client_secret")],
    required_one_of=[("client_id", "vault_path", "hotels")],
    required_by={"vault_path": ("vault_url", "vault_token"), "hotels": ("vault_url", "vault_token")},
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
    hotels = params.get("hotels")
    uses_vault = bool(params["vault_path"]) or params["store"] == "vault" or hotels is not None
    if uses_vault:
        problem = check_url(params["vault_url"] or "")
        if problem:
            errors.append(f"vault_url: {problem}")
        if not (params["vault_token"] or "").strip():
            errors.append("vault_token must not be empty")
        if not (params["vault_mount"] or "").strip("/ "):
            errors.append("vault_mount must not be empty")
    if hotels is not None:
        errors.extend(hotels_problems(params))
    elif params["vault_path"] is not None:
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


def hotels_problems(params: dict[str, t.Any]) -> list[str]:
    """What is wrong with ``hotels`` (several hotels checked in one run, validate only)."""
    hotels = params["hotels"]
    errors = []
    if not hotels:
        errors.append("hotels must name at least one hotel")
    ids = [(h["hotel_id"] or "").strip() for h in hotels]
    if any(not i for i in ids):
        errors.append("hotels must not contain an empty hotel_id")
    if len(set(ids)) != len(ids):
        errors.append("hotels must not name a hotel_id twice")
    if any(not (h["vault_path"] or "").strip("/ ") for h in hotels):
        errors.append("hotels must not contain an empty vault_path")
    if any(not (pid or "").strip() for h in hotels for pid in h["property_ids"] or []):
        errors.append("hotels must not contain empty property ids")
    if params["store"] != "none":
        errors.append(
            "hotels checks the hotels without storing anything: store must be none (store one hotel at a time)"
        )
    for name in ("vault_client_id_field", "vault_client_secret_field"):
        if not (params[name] or "").strip():
            errors.append(f"{name} must not be empty")
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

    def __init__(
        self, module: t.Any, conn: KubeConnection | None = None, shared: dict[str, t.Any] | None = None
    ) -> None:
        self.module = module
        # with hotels: what the runs of one module call share (credentials rejected or tokens got, by a digest
        # of the credentials), so the same credentials are never sent twice in one call
        self.shared = shared if shared is not None else {"rejected": {}, "tokens": {}}
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
        digest = hashlib.sha256(f"{client_id}\0{client_secret}".encode()).hexdigest()
        if digest in self.shared["rejected"]:
            self.finish(
                CREDENTIALS_REJECTED,
                f"Cannot get an Apaleo access token: not requested again, Apaleo rejected the same client credentials "
                f"(for {self.shared['rejected'][digest]}) in this run. Apaleo rejected the client credentials "
                f"(rotated or revoked). {self.where_to_update()}",
            )
        reused = digest in self.shared["tokens"]
        if reused:
            answer, requested_at = self.shared["tokens"][digest]
        else:
            answer = request_token(
                p["identity_url"], client_id, client_secret, p["timeout"], p["retries"], self.context
            )
            requested_at = time.time()
            if answer["outcome"] == CREDENTIALS_REJECTED:
                self.shared["rejected"][digest] = self.vault_path or "the given client_id"
            elif answer["outcome"] == OK:
                self.shared["tokens"][digest] = (answer, requested_at)
        self.result.update(
            token_status=answer["status"],
            latency_ms=answer["latency_ms"],
            attempts=0 if reused else answer["attempts"],
            token_reused=reused,
        )
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


# the outcome a check of several hotels reports, the first of these any hotel has
HOTELS_PRIORITY = (
    APALEO_UNAVAILABLE,
    VAULT_UNAVAILABLE,
    VAULT_DENIED,
    CREDENTIALS_REJECTED,
    CREDENTIALS_MISSING,
    TOKEN_REQUEST_REJECTED,
    PROPERTY_NOT_ACCESSIBLE,
    OK,
)
HOTEL_KEYS = (
    "outcome",
    "msg",
    "error",
    "vault_path",
    "token_obtained",
    "token_status",
    "token_reused",
    "expires_in",
    "expires_at",
    "latency_ms",
    "attempts",
    "properties",
)


class HotelModule:
    """The module as the run of one of ``hotels`` sees it: that hotel's ``vault_path`` and ``property_ids``."""

    def __init__(self, module: t.Any, hotel: dict[str, t.Any]) -> None:
        self.params = dict(
            module.params, vault_path=hotel["vault_path"], property_ids=hotel["property_ids"] or [], hotels=None
        )
        self.check_mode = module.check_mode
        self._diff = False
        self.no_log_values = module.no_log_values


def check_hotels(module: t.Any) -> dict[str, t.Any]:
    """``hotels``: each hotel's credentials, token and properties, validate only, in one call. The same credentials
    are sent once (a rejection is not repeated, a token is reused), and after Apaleo was unavailable the remaining
    hotels are not tried."""
    shared: dict[str, t.Any] = {"rejected": {}, "tokens": {}}
    found: dict[str, dict[str, t.Any]] = {}
    for hotel in module.params["hotels"]:
        hotel_id = hotel["hotel_id"].strip()
        if any(r["outcome"] == APALEO_UNAVAILABLE for r in found.values()):
            mount = (module.params["vault_mount"] or "").strip("/ ")
            found[hotel_id] = dict(
                {k: None for k in HOTEL_KEYS},
                outcome=APALEO_UNAVAILABLE,
                msg="Not tried: Apaleo was unavailable for a hotel before.",
                error="Not tried: Apaleo was unavailable for a hotel before.",
                vault_path=shown_path(mount, hotel["vault_path"]),
                token_obtained=False,
                token_reused=False,
                attempts=0,
                properties={},
            )
            continue
        result = Run(HotelModule(module, hotel), shared=shared).run()
        found[hotel_id] = {k: result.get(k) for k in HOTEL_KEYS}
    outcomes = [r["outcome"] for r in found.values()]
    outcome = next((o for o in HOTELS_PRIORITY if o in outcomes), OK)
    if outcome == OK:
        msg = f"Got an Apaleo access token for each of {len(found)} hotel(s) ({', '.join(found)})"
    else:
        msg = " ".join(f"{hid}: {r['msg']}" for hid, r in found.items() if r["outcome"] != OK)
    result = dict(
        changed=False,
        outcome=outcome,
        msg=msg,
        credentials_source="vault",
        vault_path=None,
        token_obtained=all(r["token_obtained"] for r in found.values()),
        token_status=None,
        expires_in=None,
        expires_at=None,
        latency_ms=None,
        attempts=sum(r["attempts"] or 0 for r in found.values()),
        properties={},
        stored=False,
        store_target=None,
        hotels=found,
    )
    if outcome != OK:
        result["error"] = msg
    return result


def perform(module: t.Any) -> dict[str, t.Any]:
    """The module's result. With ``store=kubernetes_secret`` the run gets a connection to the Kubernetes API server,
    made from the connection options before any request is sent; ``failed`` and ``msg`` when they cannot make one."""
    if module.params.get("hotels") is not None:
        return check_hotels(module)
    if module.params["store"] != "kubernetes_secret":
        return Run(module).run()
    return with_connection(module.params, lambda conn: Run(module, conn).run())
