# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""Shared Kubernetes plumbing for the voicehive.remediation modules.

- ``k8s_common_argument_spec()``: the connection options, documented by the
  ``voicehive.remediation.kubernetes`` doc fragment, named as in kubernetes.core.
- ``Operation``, ``perform()``, ``operation_main()``, ``KubeObject``: a module that reads and writes namespaced
  objects (lease_lock, remediation_budget, k8s_secret_key, vault_kubernetes_login) with the collection's own client
  (``_kube_read.KubeConnection``, plain JSON dicts). Its action plugin runs the same ``Operation`` in the worker
  process when the connection is local (``plugin_utils/_in_process.py``). ``with_connection()`` is the connection
  part alone, for a module that needs the API server only sometimes (pms_token).
- ``api_error_message()``: a failed API call (``KubeReadError``) -> "Cannot read Lease ns/name: 403 Forbidden: ...".
- ``format_microtime()``, ``parse_time()``, ``body_for_replace()``, ``managed_metadata()``: times and bodies of API
  objects.
- ``K8sModuleError``, ``NamespacedObject``, ``KubeConfigMap`` (one key of a ConfigMap), ``KubeSecret``,
  ``empty_options()``, ``refuse_invalid()``: the
  scaffolding of a module on namespaced objects.

The kubernetes library is never imported here (it costs about half a second); only ``_kube_read`` falls back to it
for a kubeconfig user with an ``exec`` or ``auth-provider`` plugin.
"""

from __future__ import annotations

import datetime
import json
import re
import typing as t
from urllib.parse import quote

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.voicehive.remediation.plugins.module_utils._kube_read import (
    KubeConfigError,
    KubeConnection,
    KubeReadError,
    connect,
)
from ansible_collections.voicehive.remediation.plugins.module_utils._redact import redact_url

MICROTIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
UTC = datetime.timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11, modules may run on older targets
MANAGED_BY_LABEL = {"app.kubernetes.io/managed-by": "voicehive-remediation"}
# how often a read-modify-write may lose the race (409 Conflict) before the module gives up
MAX_CONFLICTS = 20
# seconds one request of a module may take (connect and answer)
REQUEST_TIMEOUT = 30.0

# module verb used in messages -> Kubernetes RBAC verb
_RBAC_VERBS = {"read": "get", "create": "create", "replace": "update", "delete": "delete", "list": "list"}

_TIME_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<tz>Z|z|[+-]\d{2}:?\d{2})?$"
)


def k8s_common_argument_spec() -> dict[str, t.Any]:
    """Connection options of every Kubernetes module; see the ``voicehive.remediation.kubernetes`` doc fragment."""
    return dict(
        kubeconfig=dict(type="raw", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
        context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
        host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
        api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
        ca_cert=dict(type="path", aliases=["ssl_ca_cert"], fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
        validate_certs=dict(type="bool", aliases=["verify_ssl"], fallback=(env_fallback, ["K8S_AUTH_VERIFY_SSL"])),
        client_cert=dict(type="path", aliases=["cert_file"], fallback=(env_fallback, ["K8S_AUTH_CERT_FILE"])),
        client_key=dict(type="path", aliases=["key_file"], fallback=(env_fallback, ["K8S_AUTH_KEY_FILE"])),
        proxy=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_PROXY"])),
    )


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a failed API call (a ``KubeReadError``, which carries ``status``, ``reason`` and ``body``);
    ``None`` when the API server did not answer."""
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) and not isinstance(status, bool) and status > 0 else None


def is_api_status(exc: BaseException, *statuses: int) -> bool:
    """True when ``exc`` is a failed API call with one of the HTTP ``statuses``."""
    return http_status(exc) in statuses


def _server_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not body:
        return ""
    try:
        data = json.loads(body)
    except ValueError:
        text = str(body).strip()
    else:
        text = str(data.get("message", "")).strip() if isinstance(data, dict) else ""
    text = " ".join(text.split())
    return text[:400] + ("..." if len(text) > 400 else "")


def api_error_message(verb: str, kind: str, namespace: str, name: str, exc: BaseException, resource: str = "") -> str:
    """A one-sentence description of a failed API call, without secrets.

    ``verb`` is the module's word (read, create, replace, delete), ``kind`` the object kind
    (Lease, ConfigMap), ``resource`` the RBAC resource (leases.coordination.k8s.io) for the 403 hint.
    """
    what = f"Cannot {verb} {kind} {namespace}/{name}"
    status = http_status(exc)
    if status:
        reason = (getattr(exc, "reason", None) or "").strip()
        detail = _server_message(exc)
        msg = f"{what}: {status} {reason}".rstrip()
        if detail:
            msg += f": {detail}"
        hint = ""
        if status == 401:
            hint = "The API server rejected the credentials; check api_key / client_cert or the kubeconfig user."
        elif status == 403:
            rbac_verb = _RBAC_VERBS.get(verb, verb)
            hint = (
                f"The credentials lack the RBAC permission to {rbac_verb} {resource or kind.lower() + 's'} "
                f"in namespace {namespace}; check the Role bound to the remediation service account."
            )
        elif status == 404:
            hint = f"Check that namespace {namespace} exists."
        elif status == 409:
            hint = "The object was changed by someone else meanwhile; run again."
        elif status == 422:
            hint = "The API server refused the object as invalid."
        elif status == 429 or status >= 500:
            hint = "The API server is overloaded or failing; retry later."
        return redact_url(f"{msg}. {hint}".strip() if hint else f"{msg}.")
    if isinstance(exc, KubeReadError):  # no answer, or no JSON: its message says which
        return redact_url(f"{what}: {exc}.")
    # anything else that went wrong on the way (OSError, TLS problems)
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact_url(f"{what}: cannot reach the Kubernetes API server ({type(exc).__name__}: {text[:400]}).")


# ---------------------------------------------------------------------------------------------
# objects and times
# ---------------------------------------------------------------------------------------------


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(UTC)


def microtime_now() -> datetime.datetime:
    """The current UTC time for a MicroTime field, never on a whole second.

    kubernetes client >= 34 re-serializes times with ``datetime.isoformat()``, which drops the
    fraction on a whole second; the API server's MicroTime parser needs the six digits.
    """
    now = utcnow()
    return now if now.microsecond else now.replace(microsecond=1)


def format_microtime(value: datetime.datetime) -> str:
    """A Kubernetes MicroTime: ``2026-11-28T16:00:00.123456Z`` (UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(MICROTIME_FORMAT)


def parse_time(value: t.Any) -> datetime.datetime | None:
    """Parse a Kubernetes Time / MicroTime (or a datetime) into an aware UTC datetime; ``None`` if absent/bad."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    match = _TIME_RE.match(str(value).strip())
    if not match:
        return None
    frac = (match.group("frac") or "0")[:6].ljust(6, "0")
    try:
        parsed = datetime.datetime.strptime(f"{match.group('date')}T{match.group('time')}", "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    parsed = parsed.replace(microsecond=int(frac))
    tz = match.group("tz")
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return (parsed - sign * offset).replace(tzinfo=UTC)
    return parsed.replace(tzinfo=UTC)


def body_for_replace(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    """A copy of a read object fit to send back with replace: keeps resourceVersion, drops managedFields."""
    body = json.loads(json.dumps(obj))
    metadata = body.setdefault("metadata", {})
    metadata.pop("managedFields", None)
    return body


def managed_metadata(namespace: str, name: str) -> dict[str, t.Any]:
    """The metadata of an object the collection creates (labelled as managed by it)."""
    return {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY_LABEL)}


# ---------------------------------------------------------------------------------------------
# module scaffolding
# ---------------------------------------------------------------------------------------------


class K8sModuleError(Exception):
    """A failure with a message for fail_json, and result fields to return with it."""

    def __init__(self, msg: str, **fields: t.Any) -> None:
        super().__init__(msg)
        self.fields = fields


class NamespacedObject:
    """Base of a module's operations on one namespaced object ``namespace``/``name`` of ``KIND``.

    ``api_call()`` turns a failed API call into ``ERROR`` with ``api_error_message()``.
    """

    KIND = ""
    RESOURCE = ""  # the RBAC resource, for the 403 hint
    ERROR: type[K8sModuleError] = K8sModuleError
    namespace: str
    name: str

    def api_call(
        self, verb: str, call: t.Callable[..., t.Any], tolerate: tuple[int, ...] = (), fallback: t.Any = None, **kwargs
    ) -> t.Any:
        """``call(**kwargs)``; ``fallback`` when it fails with an HTTP status in ``tolerate`` (404, 409)."""
        try:
            return call(**kwargs)
        except Exception as exc:
            if is_api_status(exc, *tolerate):
                return fallback
            raise self.ERROR(
                api_error_message(verb, self.KIND, self.namespace, self.name, exc, self.RESOURCE)
            ) from None


class KubeObject(NamespacedObject):
    """A ``NamespacedObject`` of a module (or its stand-in, ``module``; the options ``namespace`` and ``NAME_OPTION``
    name it unless ``namespace`` and ``name`` are given), read and written as plain JSON through a ``KubeConnection``
    (``conn``).

    ``read()`` is ``None`` when there is none (404); ``create(body)`` and ``replace(body)`` (which carries the
    ``resourceVersion`` that was read) are ``None`` on a conflict (409), so the caller reads again.
    """

    API = "/api/v1"  # the API group and version of KIND, as a path
    PLURAL = ""  # the resource name in paths (leases, configmaps, secrets)
    NAME_OPTION = "name"  # the module option that names the object

    def __init__(
        self, module: t.Any, conn: KubeConnection, namespace: str | None = None, name: str | None = None
    ) -> None:
        self.module = module
        self.conn = conn
        self.params = module.params
        self.namespace = self.params["namespace"] if namespace is None else namespace
        self.name = self.params[self.NAME_OPTION] if name is None else name

    def path(self, named: bool = True) -> str:
        """The object's path, or with ``named=False`` the path of its collection (where it is created)."""
        collection = f"{self.API}/namespaces/{quote(self.namespace, safe='')}/{self.PLURAL}"
        return f"{collection}/{quote(self.name, safe='')}" if named else collection

    def _request(self, verb: str, method: str, path: str, tolerate: int, body: t.Any = None) -> t.Any:
        return self.api_call(
            verb, self.conn.request, tolerate=(tolerate,), method=method, path=path, body=body, timeout=REQUEST_TIMEOUT
        )

    def read(self) -> dict[str, t.Any] | None:
        return self._request("read", "GET", self.path(), 404)

    def create(self, body: dict[str, t.Any]) -> dict[str, t.Any] | None:
        return self._request("create", "POST", self.path(named=False), 409, body)

    def replace(self, body: dict[str, t.Any]) -> dict[str, t.Any] | None:
        return self._request("replace", "PUT", self.path(), 409, body)


class KubeConfigMap(KubeObject):
    """A ConfigMap whose one key (``self.key``) a module keeps (remediation_budget, ip_blocklist)."""

    KIND = "ConfigMap"
    RESOURCE = "configmaps"
    PLURAL = "configmaps"
    NAME_OPTION = "configmap"
    key = ""

    def write_key(self, configmap: dict[str, t.Any] | None, value: str) -> bool:
        """Create the ConfigMap with ``key`` = ``value``, or replace the one read (with its resourceVersion) with that
        key set and the rest kept; ``False`` on a conflict (409), so the caller reads again."""
        if configmap is None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": managed_metadata(self.namespace, self.name),
                "data": {self.key: value},
            }
            return self.create(body) is not None
        body = body_for_replace(configmap)
        if body.get("data") is None:
            body["data"] = {}
        body["data"][self.key] = value
        return self.replace(body) is not None  # the API answers with the object written; None only on a conflict


class KubeSecret(KubeObject):
    """A Secret (its ``data`` is base64)."""

    KIND = "Secret"
    RESOURCE = "secrets"
    PLURAL = "secrets"


def empty_options(params: dict[str, t.Any], names: t.Iterable[str]) -> list[str]:
    """``"<name> must not be empty"`` for each of the string options ``names`` that is empty or blank."""
    return [f"{name} must not be empty" for name in names if not (params.get(name) or "").strip()]


def invalid_options_message(module_name: str, errors: list[str]) -> str:
    return f"Invalid options for {module_name}: " + "; ".join(errors) + "."


def refuse_invalid(module: AnsibleModule, module_name: str, errors: list[str]) -> None:
    """Fail the module, before anything is touched, when its options have ``errors``."""
    if errors:
        module.fail_json(msg=invalid_options_message(module_name, errors))


# ---------------------------------------------------------------------------------------------
# operations: one module's work, run by the module or in-process by its action plugin
# ---------------------------------------------------------------------------------------------


class Operation(t.NamedTuple):
    """What a Kubernetes module does, run by the module (``operation_main()``) or, in the worker process, by its
    action plugin (``plugin_utils/_in_process.py``): the same code either way.

    ``run(module, conn)`` takes the module, or the action plugin's stand-in for it (``params``, ``check_mode``,
    ``warn()``, ``no_log_values``), and a ``KubeConnection``; it returns the result or raises ``K8sModuleError``.
    """

    name: str  # the module's short name, for messages
    argument_spec: t.Callable[[], dict[str, t.Any]]  # the module's own options
    validate: t.Callable[[dict[str, t.Any]], list[str]]  # problems of valid-typed options, [] when none
    run: t.Callable[[t.Any, KubeConnection], dict[str, t.Any]]
    fail_fields: t.Mapping[str, t.Any]  # result fields of every failure (lease_lock: acquired=false)

    def full_argument_spec(self) -> dict[str, t.Any]:
        """The module's options with the connection options (the module's win on a name clash)."""
        spec = k8s_common_argument_spec()
        spec.update(self.argument_spec())
        return spec


def with_connection(params: dict[str, t.Any], work: t.Callable[[KubeConnection], dict[str, t.Any]]) -> dict[str, t.Any]:
    """``work(conn)`` with a connection made from the connection options in ``params``, closed afterwards; ``failed``
    and ``msg`` when the options cannot make one (nothing is sent then)."""
    try:
        conn = connect(params)
    except KubeConfigError as exc:
        return dict(failed=True, msg=f"Cannot configure the Kubernetes client: {exc}")
    try:
        return work(conn)
    finally:
        conn.close()


def perform(operation: Operation, module: t.Any) -> dict[str, t.Any]:
    """Connect with ``module.params``, run ``operation`` and close the connection: the result, or ``failed`` and
    ``msg`` (with the operation's ``fail_fields``) when it could not be done."""

    def work(conn: KubeConnection) -> dict[str, t.Any]:
        try:
            return operation.run(module, conn)
        except K8sModuleError as exc:
            return dict(failed=True, msg=str(exc), **{**operation.fail_fields, **exc.fields})

    return with_connection(module.params, work)


def operation_main(operation: Operation) -> None:
    """The ``main()`` of a module that is an ``Operation``: build the module, refuse bad options, perform it."""
    module = AnsibleModule(argument_spec=operation.full_argument_spec(), supports_check_mode=True)
    refuse_invalid(module, operation.name, operation.validate(module.params))
    result = perform(operation, module)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)
