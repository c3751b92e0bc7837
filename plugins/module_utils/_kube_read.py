# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""Kubernetes API access without the kubernetes library: the reads of ``site_info`` (one GET per list, summaries of
what diagnoses need) and the requests of the collection's other Kubernetes modules (``lease_lock``,
``remediation_budget``, ``k8s_secret_key``, ``vault_kubernetes_login``, ``pms_token`` with a Secret as its store).

Why not the kubernetes library: importing it costs about half a second (it loads every model
class), more than all the reads of a namespace together, or than the one or two requests of a write module.
The connection is worked out here from the same options as every Kubernetes module of the collection
(``k8s_common_argument_spec()``): kubeconfig (path, several paths joined by the path separator, or a dict) and
context, host + api_key / client certificate + ca_cert, or the in-cluster service account. Static credentials
(token, token file, client certificate, basic auth) are read directly; a kubeconfig user with an ``exec`` or
``auth-provider`` plugin is handed to the kubernetes library's own loader (slow path, same result). The proxy is
the ``proxy`` option, else the cluster's ``proxy-url``, else the environment's (``https_proxy``, ``no_proxy``).

- ``connect(params)`` -> ``KubeConnection``: ``request(method, path, body)`` sends JSON and returns the decoded
  JSON answer, ``get(path)`` is a GET; ``KubeConfigError`` / ``KubeReadError`` (with the HTTP ``status``) carry
  messages without secrets.
- ``NAMESPACED_KINDS``: the lists a site read can ask for, each with its API path and summariser.
- ``read_nodes()``, ``read_node_metrics()``, ``merge_node_usage()``: the cluster's nodes (allocatable, readiness,
  pressure) with their usage from metrics.k8s.io.
- ``summarize_*``: compact, JSON-ready views of API objects (no ``managedFields``, no Secret data).
- ``parse_quantity()``, ``cpu_millicores()``, ``memory_bytes()``: Kubernetes resource quantities.
"""

from __future__ import annotations

import base64
import hashlib
import http
import json
import os
import re
import shutil
import tempfile
import typing as t
from urllib.parse import quote, urlencode

from ansible_collections.voicehive.remediation.plugins.module_utils import _http
from ansible_collections.voicehive.remediation.plugins.module_utils._redact import redact_url

IN_CLUSTER_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# how many events one read keeps (the newest), and how many it pages through at most
EVENTS_PAGE = 500
EVENTS_MAX_PAGES = 4
MESSAGE_LIMIT = 300
# what a request body is sent as: JSON, and for PATCH a JSON merge patch (RFC 7386)
CONTENT_TYPES = {"PATCH": "application/merge-patch+json"}
JSON_CONTENT_TYPE = "application/json"


class KubeConfigError(Exception):
    """The connection options cannot produce a connection; the message is safe to show."""


class KubeReadError(Exception):
    """A request failed. ``status`` is the HTTP status; ``None`` when no answer came, or one that is not JSON.

    With a status, ``reason`` is its phrase (``Forbidden``) and ``body`` the API server's answer (a ``Status``
    object), as on the kubernetes library's ``ApiException``, so ``_k8s.api_error_message()`` reads either.
    """

    def __init__(self, msg: str, status: int | None = None, body: bytes = b"") -> None:
        super().__init__(msg)
        self.status = status
        self.reason = _phrase(status)
        self.body = body


# the API server's reason phrases (Go's net/http) where Python's differ, or changed between Python versions
_SERVER_PHRASES = {
    413: "Request Entity Too Large",
    414: "Request URI Too Long",
    416: "Requested Range Not Satisfiable",
    422: "Unprocessable Entity",
}


def _phrase(status: int | None) -> str:
    if not status:
        return ""
    try:
        return _SERVER_PHRASES.get(status) or http.HTTPStatus(status).phrase
    except ValueError:
        return ""


# ---------------------------------------------------------------------------------------------
# connection
# ---------------------------------------------------------------------------------------------


class KubeConnection:
    """Where and how to send requests: server URL, headers, TLS files, proxy. ``close()`` removes temp files."""

    def __init__(
        self,
        server: str,
        headers: dict[str, str] | None = None,
        ca_path: str | None = None,
        validate_certs: bool = True,
        client_cert: str | None = None,
        client_key: str | None = None,
        tempdir: str | None = None,
        proxy: str | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.headers = dict(headers or {})
        self.ca_path = ca_path
        self.validate_certs = validate_certs
        self.client_cert = client_cert
        self.client_key = client_key
        self.proxy = proxy
        self._tempdir = tempdir
        self._context: t.Any = None  # one TLS context for every request

    def close(self) -> None:
        if self._tempdir:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    def url(self, path: str, params: dict[str, t.Any] | None = None) -> str:
        query = urlencode({k: v for k, v in (params or {}).items() if v not in (None, "")})
        return f"{self.server}{path}{'?' + query if query else ''}"

    def request(
        self,
        method: str,
        path: str,
        body: t.Any = None,
        params: dict[str, t.Any] | None = None,
        timeout: float = 10.0,
    ) -> t.Any:
        """Send ``method`` to ``path`` and decode the JSON answer; raises ``KubeReadError``.

        ``body`` (JSON data) is sent as ``application/json``, with PATCH as a JSON merge patch.
        """
        method = method.upper()
        if self._context is None and self.server.lower().startswith("https:"):
            try:
                self._context = _http.ssl_context(self.validate_certs, self.ca_path, self.client_cert, self.client_key)
            except (OSError, ValueError) as exc:
                raise KubeReadError(f"cannot set up TLS for {self.server}: {exc}") from None
        headers = dict(self.headers, Accept=JSON_CONTENT_TYPE)
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = CONTENT_TYPES.get(method, JSON_CONTENT_TYPE)
        proxies = {"http": self.proxy, "https": self.proxy} if self.proxy else None
        try:
            status, answer = _http.request(
                method, self.url(path, params), timeout, headers, data, context=self._context, proxies=proxies
            )
        except _http.Unreachable as exc:
            raise KubeReadError(
                redact_url(f"cannot reach the Kubernetes API server at {self.server} ({exc})")
            ) from None
        if status >= 400:
            raise KubeReadError(_http_error_message(status, answer), status=status, body=answer)
        try:
            return json.loads(answer)
        except ValueError:
            raise KubeReadError(f"the API server answered {path} with something that is not JSON") from None

    def get(self, path: str, params: dict[str, t.Any] | None = None, timeout: float = 10.0) -> t.Any:
        """GET ``path`` and decode the JSON answer; raises ``KubeReadError``."""
        return self.request("GET", path, params=params, timeout=timeout)


def _http_error_message(status: int, body: bytes) -> str:
    detail = ""
    try:
        data = json.loads(body or b"{}")
        detail = " ".join(str(data.get("message", "")).split()) if isinstance(data, dict) else ""
    except ValueError:
        pass
    msg = f"HTTP {status}"
    if detail:
        msg += f": {detail[:MESSAGE_LIMIT]}"
    hint = {
        401: "the API server rejected the credentials",
        403: "the credentials lack the RBAC permission (see docs/rbac/voicehive-remediation.yml)",
    }.get(status)
    return redact_url(f"{msg} ({hint})" if hint else msg)


def _write(tempdir: str, name: str, data_b64: str) -> str:
    path = os.path.join(tempdir, name)
    try:
        raw = base64.b64decode(data_b64, validate=False)
    except (ValueError, TypeError):
        raise KubeConfigError(f"the kubeconfig's {name} data is not base64") from None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)
    return path


def _load_yaml(path: str) -> dict[str, t.Any]:
    import yaml  # PyYAML ships with ansible-core

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise KubeConfigError(f"cannot read the kubeconfig {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise KubeConfigError(f"the kubeconfig {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise KubeConfigError(f"the kubeconfig {path} is not a mapping")
    return data


def kubeconfig_paths(kubeconfig: t.Any) -> list[str]:
    """The kubeconfig files to read: the option (paths joined by the path separator), else ``$KUBECONFIG``,
    else ``~/.kube/config`` when it exists."""
    text = kubeconfig if kubeconfig else os.environ.get("KUBECONFIG", "")
    paths = [os.path.expanduser(p) for p in str(text).split(os.pathsep) if p]
    if not kubeconfig and not paths and os.path.exists(os.path.expanduser("~/.kube/config")):
        paths = [os.path.expanduser("~/.kube/config")]
    return paths


def merge_kubeconfigs(docs: list[tuple[dict[str, t.Any], str]]) -> dict[str, t.Any]:
    """Merge kubeconfig documents as kubectl does: the first definition of a name wins.

    Each entry of the result's ``clusters``/``users``/``contexts`` dicts keeps the directory of its
    file (``_dir``) so that relative certificate paths resolve against it.
    """
    merged: dict[str, t.Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": ""}
    for doc, base in docs:
        for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for entry in doc.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") and entry["name"] not in merged[section]:
                    merged[section][entry["name"]] = dict(entry.get(inner) or {}, _dir=base)
        if not merged["current-context"] and doc.get("current-context"):
            merged["current-context"] = doc["current-context"]
    return merged


def _resolve(entry: dict[str, t.Any], key: str) -> str | None:
    value = entry.get(key)
    if not value:
        return None
    value = os.path.expanduser(str(value))
    return value if os.path.isabs(value) else os.path.join(entry.get("_dir") or os.getcwd(), value)


def _from_library(params: dict[str, t.Any], context: str | None) -> dict[str, t.Any]:
    """Let the kubernetes library load an ``exec`` / ``auth-provider`` user (it runs the plugin)."""
    try:
        import kubernetes.client
        import kubernetes.config
    except ImportError:
        raise KubeConfigError(
            "the kubeconfig user needs an exec or auth-provider plugin, which needs the kubernetes Python library"
        ) from None
    configuration = kubernetes.client.Configuration()
    kubeconfig = params.get("kubeconfig")
    try:
        if isinstance(kubeconfig, dict):
            kubernetes.config.load_kube_config_from_dict(
                config_dict=kubeconfig, context=context, client_configuration=configuration, persist_config=False
            )
        else:
            kubernetes.config.load_kube_config(
                config_file=os.path.expanduser(kubeconfig) if kubeconfig else None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        token = configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
    except Exception as exc:  # the loader raises ConfigException, OSError, plugin errors...
        raise KubeConfigError(f"cannot load the kubeconfig: {redact_url(str(exc))}") from None
    return dict(
        server=configuration.host,
        token=token,
        ca_path=configuration.ssl_ca_cert,
        validate_certs=bool(configuration.verify_ssl),
        client_cert=configuration.cert_file,
        client_key=configuration.key_file,
    )


def _from_kubeconfig(params: dict[str, t.Any], tempdir: str) -> dict[str, t.Any]:
    kubeconfig = params.get("kubeconfig")
    if isinstance(kubeconfig, dict):
        docs = [(kubeconfig, os.getcwd())]
    else:
        if kubeconfig is not None and not isinstance(kubeconfig, str):
            raise KubeConfigError("kubeconfig must be a path or a dictionary")
        docs = []
        for path in kubeconfig_paths(kubeconfig):
            if os.path.exists(path) or kubeconfig:
                docs.append((_load_yaml(path), os.path.dirname(os.path.abspath(path))))
    merged = merge_kubeconfigs(docs)
    context_name = params.get("context") or merged["current-context"]
    if not context_name:
        raise KubeConfigError("the kubeconfig has no current-context; set context")
    context = merged["contexts"].get(context_name)
    if context is None:
        raise KubeConfigError(f"context {context_name!r} is not in the kubeconfig")
    cluster = merged["clusters"].get(context.get("cluster", ""))
    if cluster is None:
        raise KubeConfigError(
            f"cluster {context.get('cluster')!r} of context {context_name!r} is not in the kubeconfig"
        )
    user = merged["users"].get(context.get("user", ""), {})
    if user.get("exec") or user.get("auth-provider"):
        return dict(_from_library(params, context_name), proxy=cluster.get("proxy-url"))

    conn: dict[str, t.Any] = dict(
        server=cluster.get("server"),
        proxy=cluster.get("proxy-url"),
        validate_certs=not cluster.get("insecure-skip-tls-verify", False),
        ca_path=_resolve(cluster, "certificate-authority"),
        client_cert=_resolve(user, "client-certificate"),
        client_key=_resolve(user, "client-key"),
        token=user.get("token"),
    )
    if cluster.get("certificate-authority-data"):
        conn["ca_path"] = _write(tempdir, "ca.crt", cluster["certificate-authority-data"])
    if user.get("client-certificate-data"):
        conn["client_cert"] = _write(tempdir, "client.crt", user["client-certificate-data"])
    if user.get("client-key-data"):
        conn["client_key"] = _write(tempdir, "client.key", user["client-key-data"])
    if not conn["token"] and user.get("tokenFile"):
        conn["token"] = _read_token(_resolve(user, "tokenFile") or "")
    if not conn["token"] and user.get("username") and user.get("password"):
        basic = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()
        conn["authorization"] = f"Basic {basic}"
    return conn


def _read_token(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as exc:
        raise KubeConfigError(f"cannot read the token file {path}: {exc.strerror or exc}") from None


def _in_cluster() -> dict[str, t.Any]:
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    return dict(
        server=f"https://{host}:{port}",
        token=_read_token(os.path.join(IN_CLUSTER_DIR, "token")),
        ca_path=os.path.join(IN_CLUSTER_DIR, "ca.crt"),
        validate_certs=True,
    )


def connect(params: dict[str, t.Any]) -> KubeConnection:
    """A ``KubeConnection`` from the common Kubernetes options, resolved as the kubernetes library's loaders do.

    - ``host`` without ``kubeconfig``/``context``: host + api_key / client certificate + ca_cert only;
    - otherwise the kubeconfig (option, ``$KUBECONFIG``, ``~/.kube/config``) or, without one, the in-cluster
      service account; then ``host``, ``api_key``, ``ca_cert``, ``validate_certs``, ``client_cert``,
      ``client_key`` and ``proxy`` override what it says.

    Nothing is sent. Raises ``KubeConfigError`` with a message that never carries a secret.
    """
    tempdir = tempfile.mkdtemp(prefix="voicehive-kube-")
    try:
        conn: dict[str, t.Any] = {}
        host, api_key = params.get("host"), params.get("api_key")
        if not (host and not params.get("kubeconfig") and not params.get("context")):
            if params.get("kubeconfig") or params.get("context") or kubeconfig_paths(None):
                conn = _from_kubeconfig(params, tempdir)
            elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                conn = _in_cluster()
            elif not api_key:
                raise KubeConfigError(
                    "no connection settings: set host and api_key (and ca_cert), or kubeconfig (and context); "
                    "no kubeconfig was found at ~/.kube/config"
                )
        if host:
            conn["server"] = host
        if api_key:
            conn["token"] = api_key
        for option, key in (("ca_cert", "ca_path"), ("client_cert", "client_cert"), ("client_key", "client_key")):
            if params.get(option):
                conn[key] = params[option]
        if params.get("validate_certs") is not None:
            conn["validate_certs"] = bool(params["validate_certs"])
        if not conn.get("server"):
            raise KubeConfigError("no API server: set host, or a kubeconfig whose cluster has a server")
        headers = {}
        token = (conn.get("token") or "").strip()
        if token:
            headers["Authorization"] = token if token.lower().startswith("bearer ") else f"Bearer {token}"
        elif conn.get("authorization"):
            headers["Authorization"] = conn["authorization"]
        return KubeConnection(
            server=conn["server"],
            headers=headers,
            ca_path=conn.get("ca_path"),
            validate_certs=conn.get("validate_certs", True),
            client_cert=conn.get("client_cert"),
            client_key=conn.get("client_key"),
            tempdir=tempdir,
            proxy=params.get("proxy") or conn.get("proxy"),
        )
    except BaseException:
        shutil.rmtree(tempdir, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------------------------
# quantities and times
# ---------------------------------------------------------------------------------------------

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$")
_SUFFIXES = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def parse_quantity(value: t.Any) -> float | None:
    """A Kubernetes quantity (``250m``, ``512Mi``, ``1e3``, ``2``) as a number; ``None`` when absent or invalid."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    number = float(match.group(1))
    if match.group(2):
        return number * 10 ** int(match.group(2)[1:])
    return number * _SUFFIXES.get(match.group(3) or "", 1)


def cpu_millicores(value: t.Any) -> int | None:
    number = parse_quantity(value)
    return None if number is None else round(number * 1000)


def memory_bytes(value: t.Any) -> int | None:
    number = parse_quantity(value)
    return None if number is None else round(number)


# ---------------------------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------------------------


def _meta(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    meta = obj.get("metadata") or {}
    return dict(
        name=meta.get("name"),
        labels=meta.get("labels") or {},
        created=meta.get("creationTimestamp"),
        updated=last_write(meta),
        resource_version=meta.get("resourceVersion"),
    )


def _resources(container: dict[str, t.Any]) -> dict[str, t.Any]:
    res = container.get("resources") or {}
    out = {}
    for kind in ("requests", "limits"):
        values = res.get(kind) or {}
        out[kind] = dict(
            cpu_m=cpu_millicores(values.get("cpu")),
            memory_bytes=memory_bytes(values.get("memory")),
            cpu=values.get("cpu"),
            memory=values.get("memory"),
        )
    return out


def _env(container: dict[str, t.Any]) -> dict[str, str]:
    """Environment variables by name; references are described, never resolved."""
    out = {}
    for item in container.get("env") or []:
        name = item.get("name")
        if not name:
            continue
        if "value" in item:
            out[name] = str(item.get("value") if item.get("value") is not None else "")
            continue
        ref = item.get("valueFrom") or {}
        for kind, label in (("secretKeyRef", "secret"), ("configMapKeyRef", "configmap")):
            if ref.get(kind):
                out[name] = f"<from {label} {ref[kind].get('name')}/{ref[kind].get('key')}>"
                break
        else:
            out[name] = "<from field>" if ref else ""
    return out


def _conditions(status: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    return {
        c.get("type"): dict(status=c.get("status"), reason=c.get("reason"), message=_short(c.get("message")))
        for c in status.get("conditions") or []
        if c.get("type")
    }


def _short(text: t.Any, limit: int = MESSAGE_LIMIT) -> str | None:
    if text is None:
        return None
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def summarize_deployment(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    template = spec.get("template") or {}
    tmeta = template.get("metadata") or {}
    desired = spec.get("replicas", 1)
    return dict(
        _meta(obj),
        generation=(obj.get("metadata") or {}).get("generation"),
        observed_generation=status.get("observedGeneration"),
        revision=((obj.get("metadata") or {}).get("annotations") or {}).get("deployment.kubernetes.io/revision"),
        paused=bool(spec.get("paused", False)),
        selector=(spec.get("selector") or {}).get("matchLabels") or {},
        replicas=dict(
            desired=desired,
            current=status.get("replicas", 0),
            ready=status.get("readyReplicas", 0),
            available=status.get("availableReplicas", 0),
            updated=status.get("updatedReplicas", 0),
            unavailable=status.get("unavailableReplicas", 0),
        ),
        template=dict(
            labels=tmeta.get("labels") or {},
            annotations=tmeta.get("annotations") or {},
            containers={
                c.get("name"): _container_spec(c) for c in (template.get("spec") or {}).get("containers") or []
            },
        ),
        conditions=_conditions(status),
    )


def _container_spec(container: dict[str, t.Any]) -> dict[str, t.Any]:
    return dict(
        image=container.get("image"),
        env=_env(container),
        resources=_resources(container),
        ports={
            str(p.get("name") or p.get("containerPort")): p.get("containerPort") for p in container.get("ports") or []
        },
    )


def summarize_replicaset(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
    owner = next(iter(meta.get("ownerReferences") or []), {})
    return dict(
        _meta(obj),
        owner=f"{owner.get('kind')}/{owner.get('name')}" if owner else None,
        revision=(meta.get("annotations") or {}).get("deployment.kubernetes.io/revision"),
        replicas=dict(desired=spec.get("replicas", 0), ready=status.get("readyReplicas", 0)),
    )


def summarize_statefulset(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return dict(
        _meta(obj),
        replicas=dict(
            desired=spec.get("replicas", 1),
            current=status.get("currentReplicas", 0),
            ready=status.get("readyReplicas", 0),
            updated=status.get("updatedReplicas", 0),
        ),
        current_revision=status.get("currentRevision"),
        update_revision=status.get("updateRevision"),
        containers={
            c.get("name"): _container_spec(c)
            for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        },
    )


def _container_state(state: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """``{state: running|waiting|terminated|unknown, reason, exit_code, started_at, finished_at, message}``."""
    state = state or {}
    for name in ("running", "waiting", "terminated"):
        if name in state and state[name] is not None:
            detail = state[name] or {}
            out = dict(state=name, reason=detail.get("reason"))
            if name == "running":
                out["started_at"] = detail.get("startedAt")
            if name == "terminated":
                out.update(exit_code=detail.get("exitCode"), finished_at=detail.get("finishedAt"))
            if detail.get("message"):
                out["message"] = _short(detail["message"])
            return out
    return dict(state="unknown", reason=None)


def summarize_pod(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
    owner = next(iter(meta.get("ownerReferences") or []), {})
    statuses = {c.get("name"): c for c in status.get("containerStatuses") or []}
    containers = {}
    for c in spec.get("containers") or []:
        cs = statuses.get(c.get("name"), {})
        containers[c.get("name")] = dict(
            ready=bool(cs.get("ready", False)),
            restarts=cs.get("restartCount", 0),
            image=c.get("image"),
            resources=_resources(c),
            current=_container_state(cs.get("state")),
            last=_container_state(cs.get("lastState")) if cs.get("lastState") else None,
        )
    conditions = _conditions(status)
    return dict(
        _meta(obj),
        owner=f"{owner.get('kind')}/{owner.get('name')}" if owner else None,
        phase=status.get("phase"),
        reason=status.get("reason"),
        node=spec.get("nodeName"),
        ready=(conditions.get("Ready") or {}).get("status") == "True",
        started=status.get("startTime"),
        deleting=bool(meta.get("deletionTimestamp")),
        restarts=sum(c["restarts"] or 0 for c in containers.values()),
        containers=containers,
        conditions=conditions,
    )


def summarize_service(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    spec = obj.get("spec") or {}
    return dict(
        _meta(obj),
        type=spec.get("type", "ClusterIP"),
        cluster_ip=spec.get("clusterIP"),
        selector=spec.get("selector") or {},
        ports=[
            dict(
                name=p.get("name"),
                port=p.get("port"),
                target_port=p.get("targetPort"),
                protocol=p.get("protocol", "TCP"),
            )
            for p in spec.get("ports") or []
        ],
    )


def summarize_endpoints(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    ready, not_ready, ports = [], [], set()
    for subset in obj.get("subsets") or []:
        subset_ports = [p.get("port") for p in subset.get("ports") or []]
        ports.update(p for p in subset_ports if p)
        for key, bucket in (("addresses", ready), ("notReadyAddresses", not_ready)):
            for address in subset.get(key) or []:
                target = (address.get("targetRef") or {}).get("name")
                bucket.append(dict(ip=address.get("ip"), pod=target))
    return dict(_meta(obj), ready=ready, not_ready=not_ready, ports=sorted(ports))


def summarize_configmap(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    return dict(
        _meta(obj),
        data=obj.get("data") or {},
        binary_keys=sorted((obj.get("binaryData") or {}).keys()),
        annotations=(obj.get("metadata") or {}).get("annotations") or {},
    )


def summarize_hpa(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    target = spec.get("scaleTargetRef") or {}
    return dict(
        _meta(obj),
        target=f"{target.get('kind')}/{target.get('name')}",
        min_replicas=spec.get("minReplicas", 1),
        max_replicas=spec.get("maxReplicas"),
        current_replicas=status.get("currentReplicas"),
        desired_replicas=status.get("desiredReplicas"),
        metrics=spec.get("metrics") or [],
        current_metrics=status.get("currentMetrics") or [],
        conditions=_conditions(status),
    )


def summarize_pod_metrics(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    containers = {
        c.get("name"): dict(
            cpu_m=cpu_millicores((c.get("usage") or {}).get("cpu")),
            memory_bytes=memory_bytes((c.get("usage") or {}).get("memory")),
        )
        for c in obj.get("containers") or []
    }
    return dict(
        name=(obj.get("metadata") or {}).get("name"),
        timestamp=obj.get("timestamp"),
        window=obj.get("window"),
        cpu_m=sum(c["cpu_m"] or 0 for c in containers.values()),
        memory_bytes=sum(c["memory_bytes"] or 0 for c in containers.values()),
        containers=containers,
    )


def summarize_event(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    involved = obj.get("involvedObject") or {}
    return dict(
        type=obj.get("type"),
        reason=obj.get("reason"),
        message=_short(obj.get("message")),
        object=f"{involved.get('kind')}/{involved.get('name')}",
        count=obj.get("count") or 1,
        last=obj.get("lastTimestamp") or obj.get("eventTime") or (obj.get("metadata") or {}).get("creationTimestamp"),
    )


def summarize_node(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    """A Node: readiness, whether it takes new pods, what it offers pods (allocatable) and its pressure conditions."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    allocatable, capacity = status.get("allocatable") or {}, status.get("capacity") or {}
    conditions = _conditions(status)
    return dict(
        _meta(obj),
        ready=(conditions.get("Ready") or {}).get("status") == "True",
        unschedulable=bool(spec.get("unschedulable", False)),
        allocatable=dict(
            cpu_m=cpu_millicores(allocatable.get("cpu")),
            memory_bytes=memory_bytes(allocatable.get("memory")),
            pods=parse_quantity(allocatable.get("pods")),
        ),
        capacity=dict(cpu_m=cpu_millicores(capacity.get("cpu")), memory_bytes=memory_bytes(capacity.get("memory"))),
        pressure=sorted(
            name for name, c in conditions.items() if name.endswith("Pressure") and c.get("status") == "True"
        ),
    )


def summarize_node_metrics(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    """A NodeMetrics of metrics.k8s.io: usage in millicores and bytes."""
    usage = obj.get("usage") or {}
    return dict(
        name=(obj.get("metadata") or {}).get("name"),
        timestamp=obj.get("timestamp"),
        window=obj.get("window"),
        cpu_m=cpu_millicores(usage.get("cpu")),
        memory_bytes=memory_bytes(usage.get("memory")),
    )


# cluster-scoped reads (``site_info`` option ``kubernetes.nodes``): lists, not namespaced
NODES_PATH = "/api/v1/nodes"
NODE_METRICS_PATH = "/apis/metrics.k8s.io/v1beta1/nodes"


def read_nodes(conn: KubeConnection, timeout: float) -> dict[str, dict[str, t.Any]]:
    """``summarize_node`` of every node, by name; raises ``KubeReadError`` (403 without ``nodes`` list)."""
    items = conn.get(NODES_PATH, timeout=timeout).get("items") or []
    return {s["name"]: s for s in (summarize_node(item) for item in items) if s.get("name")}


def read_node_metrics(conn: KubeConnection, timeout: float) -> dict[str, dict[str, t.Any]]:
    """``summarize_node_metrics`` of every node, by name; raises ``KubeReadError``."""
    items = conn.get(NODE_METRICS_PATH, timeout=timeout).get("items") or []
    return {s["name"]: s for s in (summarize_node_metrics(item) for item in items) if s.get("name")}


def _ratio(used: t.Any, offered: t.Any) -> float | None:
    return round(used / offered, 3) if isinstance(used, (int, float)) and offered else None


def merge_node_usage(
    nodes: dict[str, dict[str, t.Any]], metrics: dict[str, dict[str, t.Any]] | None
) -> dict[str, dict[str, t.Any]]:
    """Each node with its ``usage`` (``None`` when metrics.k8s.io did not say) and ``cpu_ratio`` /
    ``memory_ratio``, usage against allocatable."""
    out = {}
    for name, node in nodes.items():
        found = (metrics or {}).get(name)
        usage = dict(cpu_m=found["cpu_m"], memory_bytes=found["memory_bytes"]) if found else None
        out[name] = dict(
            node,
            usage=usage,
            cpu_ratio=_ratio((usage or {}).get("cpu_m"), node["allocatable"]["cpu_m"]),
            memory_ratio=_ratio((usage or {}).get("memory_bytes"), node["allocatable"]["memory_bytes"]),
        )
    return out


class Kind(t.NamedTuple):
    path: str  # API path of the namespaced list, {namespace} filled in
    summarize: t.Callable[[dict[str, t.Any]], dict[str, t.Any]]
    rbac: str  # resource.group, for messages


NAMESPACED_KINDS: dict[str, Kind] = {
    "deployments": Kind("/apis/apps/v1/namespaces/{namespace}/deployments", summarize_deployment, "deployments.apps"),
    "replicasets": Kind("/apis/apps/v1/namespaces/{namespace}/replicasets", summarize_replicaset, "replicasets.apps"),
    "statefulsets": Kind(
        "/apis/apps/v1/namespaces/{namespace}/statefulsets", summarize_statefulset, "statefulsets.apps"
    ),
    "pods": Kind("/api/v1/namespaces/{namespace}/pods", summarize_pod, "pods"),
    "services": Kind("/api/v1/namespaces/{namespace}/services", summarize_service, "services"),
    "endpoints": Kind("/api/v1/namespaces/{namespace}/endpoints", summarize_endpoints, "endpoints"),
    "configmaps": Kind("/api/v1/namespaces/{namespace}/configmaps", summarize_configmap, "configmaps"),
    "horizontalpodautoscalers": Kind(
        "/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers",
        summarize_hpa,
        "horizontalpodautoscalers.autoscaling",
    ),
    "pod_metrics": Kind(
        "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods", summarize_pod_metrics, "pods.metrics.k8s.io"
    ),
    "events": Kind("/api/v1/namespaces/{namespace}/events", summarize_event, "events"),
}


def last_write(meta: dict[str, t.Any]) -> str | None:
    """When the object was last changed: the newest ``managedFields`` time, else its creation time."""
    times = [e.get("time") for e in meta.get("managedFields") or [] if e.get("time")]
    return max(times) if times else meta.get("creationTimestamp")


def value_facts(raw: bytes) -> dict[str, t.Any]:
    """What can be said of a secret value without showing it: its length, a short fingerprint and, when
    the value is itself base64 text (a signing key), how many bytes it decodes to."""
    decoded = None
    text = raw.decode("ascii", errors="replace").strip()
    if text and re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", text):
        try:
            decoded = len(
                base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text.rstrip("=")) % 4))
            )
        except (ValueError, TypeError):
            decoded = None
    return dict(length=len(raw), fingerprint=hashlib.sha256(raw).hexdigest()[:12], base64_bytes=decoded)


def summarize_secret(obj: dict[str, t.Any]) -> dict[str, t.Any]:
    """A Secret without its values: ``data`` has per key the length, a fingerprint and the base64 length
    (``value_facts``)."""
    meta = obj.get("metadata") or {}
    keys = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            raw = base64.b64decode(value or "", validate=True)
        except (ValueError, TypeError):
            keys[key] = dict(length=None, fingerprint=None, base64_bytes=None, error="the Secret's data is not base64")
            continue
        keys[key] = value_facts(raw)
    return dict(
        name=meta.get("name"),
        exists=True,
        type=obj.get("type"),
        created=meta.get("creationTimestamp"),
        updated=last_write(meta),
        resource_version=meta.get("resourceVersion"),
        data=keys,
    )


def read_secret(conn: KubeConnection, namespace: str, name: str, timeout: float) -> dict[str, t.Any]:
    """``summarize_secret`` of one named Secret (``exists=False`` on 404); values never leave this function."""
    try:
        obj = conn.get(
            f"/api/v1/namespaces/{quote(namespace, safe='')}/secrets/{quote(name, safe='')}", timeout=timeout
        )
    except KubeReadError as exc:
        if exc.status == 404:
            return dict(name=name, exists=False, data={})
        raise
    return summarize_secret(obj)


def read_namespace_object(conn: KubeConnection, namespace: str, timeout: float) -> dict[str, t.Any]:
    """``{exists, phase}`` of the namespace; ``exists=False`` on 404, other errors raise ``KubeReadError``."""
    try:
        obj = conn.get(f"/api/v1/namespaces/{quote(namespace, safe='')}", timeout=timeout)
    except KubeReadError as exc:
        if exc.status == 404:
            return dict(name=namespace, exists=False, phase=None)
        raise
    return dict(name=namespace, exists=True, phase=(obj.get("status") or {}).get("phase"))


def read_kind(
    conn: KubeConnection,
    namespace: str,
    kind: str,
    timeout: float,
    label_selector: str | None = None,
    events_limit: int = 50,
) -> t.Any:
    """The summaries of one kind in ``namespace``: a dict by name, or for events the newest ``events_limit``."""
    spec = NAMESPACED_KINDS[kind]
    path = spec.path.format(namespace=quote(namespace, safe=""))
    if kind != "events":
        items = conn.get(path, {"labelSelector": label_selector}, timeout=timeout).get("items") or []
        return {s["name"]: s for s in (spec.summarize(item) for item in items) if s.get("name")}
    items: list[dict[str, t.Any]] = []
    token = None
    for _page in range(EVENTS_MAX_PAGES):
        page = conn.get(
            path, {"labelSelector": label_selector, "limit": EVENTS_PAGE, "continue": token}, timeout=timeout
        )
        items.extend(page.get("items") or [])
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            break
    events = sorted((summarize_event(item) for item in items), key=lambda e: e["last"] or "", reverse=True)
    return dict(
        total=len(items),
        complete=not token,
        warnings=sum(1 for e in events if e["type"] == "Warning"),
        recent=events[:events_limit],
    )
