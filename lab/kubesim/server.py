"""HTTPS server: routing, authentication, content negotiation, watch streams and the request log."""

from __future__ import annotations

import base64
import copy
import json
import logging
import os
import re
import select
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from kubesim import discovery, protobuf, rbac, table, views
from kubesim import patch as patches
from kubesim.api import Api, bad_request, to_version
from kubesim.controller import Controller
from kubesim.discovery import Resource
from kubesim.selectors import (
    SelectorError,
    check_field_selector,
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)
from kubesim.store import ApiError, Obj, Store, WatchEvent
from kubesim.tokens import TokenIssuer

LOG = logging.getLogger("kubesim.server")
ANONYMOUS_PATHS = {"/healthz", "/livez", "/readyz", "/version", "/.well-known/openid-configuration", "/openid/v1/jwks"}
DEFAULT_WATCH_TIMEOUT = 1800
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


class Route:
    """A parsed API path."""

    def __init__(self) -> None:
        self.kind = "other"  # "resource", "discovery", "other"
        self.group = ""
        self.version = ""
        self.namespace = ""
        self.name = ""
        self.subresource = ""
        self.res: Resource | None = None
        self.plural = ""


def parse_path(path: str) -> Route:
    """Split ``/apis/apps/v1/namespaces/x/deployments/y/scale`` into its parts."""
    route = Route()
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return route
    if parts[0] == "api":
        if len(parts) < 2:
            route.kind = "discovery"
            return route
        route.group, route.version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 3:
            route.kind = "discovery"
            route.group = parts[1] if len(parts) == 2 else ""
            return route
        route.group, route.version, rest = parts[1], parts[2], parts[3:]
    if not rest:
        route.kind = "discovery"
        return route
    route.kind = "resource"
    if rest[0] == "namespaces" and len(rest) >= 3:
        ns_res = discovery.lookup(route.group, route.version, "namespaces")
        if len(rest) == 3 and ns_res is not None and ns_res.subresource(rest[2]):
            route.plural, route.name, route.subresource = "namespaces", rest[1], rest[2]
        else:
            route.namespace = rest[1]
            rest = rest[2:]
            route.plural = rest[0]
            route.name = rest[1] if len(rest) > 1 else ""
            route.subresource = "/".join(rest[2:])
    else:
        route.plural = rest[0]
        route.name = rest[1] if len(rest) > 1 else ""
        route.subresource = "/".join(rest[2:])
    route.res = discovery.lookup(route.group, route.version, route.plural)
    return route


def resolve_placeholders(text: str, values: dict[str, Any]) -> str:
    """Replace ``${key}`` with ``values[key]`` (unknown keys are left empty and logged)."""

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            LOG.warning("seed placeholder ${%s} has no value in secrets.json", key)
            return ""
        return str(values[key])

    return _PLACEHOLDER.sub(sub, text)


class Kubesim:
    """The emulator: store, API, controller and configuration."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.admin_token: str = config.get("admin_token") or ""
        self.store = Store(config.get("state_file"))
        self.api = Api(self.store)
        self.controller = Controller(self.store, config.get("hooks") or [])
        ca = config.get("ca") or {}
        key_path = ca.get("key")
        if key_path:
            self.issuer = TokenIssuer(Path(key_path).read_bytes())
        else:
            from kubesim.certs import generate_ca

            self.issuer = TokenIssuer(generate_ca()[1])
        self.log_sources = [
            views.PodLogSource(p.get("namespace", ""), p.get("selector", ""), p["file"])
            for p in config.get("pod_logs") or []
        ]
        self.request_log_path = config.get("request_log")
        self._log_lock = threading.Lock()
        self._log_fh = None
        if self.request_log_path:
            os.makedirs(os.path.dirname(os.path.abspath(self.request_log_path)), exist_ok=True)
            self._log_fh = open(self.request_log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.server_address = "127.0.0.1:0"
        self.authorization: str = config.get("authorization") or "AlwaysAllow"

    # ------------------------------------------------------------------------------------------ state
    def secrets(self) -> dict[str, Any]:
        """The lab's generated secrets (for seed placeholders)."""
        path = self.config.get("secrets_file")
        if not path:
            return {}
        try:
            return json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def load_seed(self) -> int:
        """Create the seed objects (namespaces first); returns how many were created."""
        values = self.secrets()
        docs: list[Obj] = []
        for path in self.config.get("seed") or []:
            text = resolve_placeholders(Path(path).read_text(encoding="utf-8"), values)
            docs.extend(d for d in yaml.safe_load_all(text) if isinstance(d, dict))
        docs.sort(key=lambda d: 0 if d.get("kind") == "Namespace" else 1)
        created = 0
        for doc in docs:
            res = discovery.lookup_kind(doc.get("apiVersion", ""), doc.get("kind", ""))
            if res is None or res.virtual:
                LOG.warning("seed: unknown kind %s %s", doc.get("apiVersion"), doc.get("kind"))
                continue
            ns = (doc.get("metadata") or {}).get("namespace", "default") if res.namespaced else ""
            try:
                self.api.create(res, ns, doc)
                created += 1
            except ApiError as exc:
                LOG.warning("seed: cannot create %s %s: %s", doc.get("kind"), doc.get("metadata"), exc.message)
        return created

    def start(self) -> None:
        """Load the saved state (or the seed), settle the controller, start background threads."""
        state_file = self.config.get("state_file")
        loaded = bool(state_file and self.store.load(state_file))
        self.controller.boot()
        if not loaded:
            self.load_seed()
        self.controller.settle()
        self.controller.hooks_enabled = True
        self.controller.start()
        self.store.start_saver()

    def reset(self) -> None:
        """Restore the seeded objects (hooks suppressed while settling)."""
        self.controller.hooks_enabled = False
        with self.store.lock:
            self.store.clear()
            self.controller.boot()
            self.load_seed()
            self.controller.settle()
        self.controller.hooks_enabled = True
        self.store.save()

    def stop(self) -> None:
        """Stop threads and persist."""
        self.controller.stop()
        self.store.stop()
        if self._log_fh:
            self._log_fh.close()

    # ------------------------------------------------------------------------------------------ logging
    def log_request(self, entry: dict[str, Any]) -> None:
        """Append one JSON line to the request log."""
        if not self._log_fh:
            return
        line = json.dumps(entry, separators=(",", ":"))
        with self._log_lock:
            self._log_fh.write(line + "\n")


def _accepts_table(accept: str) -> str | None:
    """The Table apiVersion asked for by an Accept header, or None."""
    for part in accept.split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return "meta.k8s.io/" + params.get("v", "v1")
    return None


def _accepts_partial(accept: str) -> bool:
    for part in accept.split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    """One HTTP request."""

    protocol_version = "HTTP/1.1"
    server_version = "kubesim"
    timeout = 300  # idle keep-alive connections are closed after 5 minutes
    sim: Kubesim  # set on the subclass by make_server

    # ------------------------------------------------------------------------------------------ plumbing
    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.settimeout(30)
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True
                raise
            self.connection.settimeout(self.timeout)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log (requests.jsonl has it)."""

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError):
            self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        if isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
        else:
            data = json.dumps(body, separators=(",", ":")).encode()
        self._code = code
        if not self._logged:
            self._log(code)
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", self._audit_id)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, exc: ApiError) -> None:
        self._send(exc.code, exc.status())

    # ------------------------------------------------------------------------------------------ dispatch
    def _dispatch(self) -> None:
        self._started = time.monotonic()
        self._code = 0
        self._logged = False
        self._audit_id = base64.b32encode(os.urandom(10)).decode().lower()
        url = urllib.parse.urlsplit(self.path)
        self._url_path = url.path
        self.params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        route = parse_path(url.path)
        self._route_info = route
        self.user = ""
        self._verb_name = self.command.lower()
        try:
            body = self._read_body() if self.command in ("POST", "PUT", "PATCH", "DELETE") else b""
            self._verb_name = self._verb(route)
            user = self._authenticate(url.path)
            self.user = user.get("username", "") if user else ""
            self.user_info = user or {}
            self._route(url.path, route, body)
        except ApiError as exc:
            self._error(exc)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:
            LOG.exception("internal error on %s %s", self.command, self.path)
            self._error(ApiError(500, "InternalError", f"Internal error occurred: {exc}"))
        finally:
            if not self._logged:
                self._log(self._code)

    def _log(self, code: int) -> None:
        """Write this request's line to the request log (before the response goes out)."""
        self._logged = True
        route = self._route_info
        res = route.res
        now = time.time()
        self.sim.log_request(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z",
                "method": self.command,
                "path": self._url_path,
                "verb": self._verb_name,
                "group": res.group if res else route.group,
                "version": route.version,
                "resource": route.plural,
                "subresource": route.subresource,
                "namespace": route.namespace,
                "name": route.name,
                "user": self.user,
                "code": code,
                "ms": round((time.monotonic() - self._started) * 1000, 2),
            }
        )

    def _verb(self, route: Route) -> str:
        method = self.command
        if route.kind != "resource":
            return method.lower()
        if method in ("GET", "HEAD"):
            if self.params.get("watch") in ("1", "true"):
                return "watch"
            return "get" if route.name else "list"
        return {
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if route.name else "deletecollection",
        }.get(method, method.lower())

    def _authenticate(self, path: str) -> Obj | None:
        header = self.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if token:
            user, _aud, _err = views.authenticate_token(self.sim.store, self.sim.issuer, self.sim.admin_token, token)
            if user is not None:
                return user
        if path in ANONYMOUS_PATHS:
            return {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
        raise ApiError(401, "Unauthorized", "Unauthorized")

    def _route(self, path: str, route: Route, body: bytes) -> None:
        method = self.command
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            self._send(200, "ok", "text/plain; charset=utf-8")
            return
        if path == "/version":
            self._send(200, discovery.SERVER_VERSION)
            return
        if path.startswith("/kubesim/"):
            self._kubesim(path, method)
            return
        if path == "/.well-known/openid-configuration":
            self._send(
                200,
                {
                    "issuer": "https://kubernetes.default.svc.cluster.local",
                    "jwks_uri": f"https://{self.sim.server_address}/openid/v1/jwks",
                    "response_types_supported": ["id_token"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                },
            )
            return
        if path == "/openid/v1/jwks":
            self._send(200, _jwks(self.sim.issuer))
            return
        if path == "/openapi/v2":
            self._openapi_v2()
            return
        if path == "/openapi/v3" or path == "/openapi/v3/":
            self._send(200, discovery.openapi_v3_root())
            return
        if path.startswith("/openapi/v3/"):
            self._openapi(path[len("/openapi/v3/") :])
            return
        if route.kind == "discovery":
            self._discovery(path, route)
            return
        if route.kind != "resource":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not discovery.is_known_group_version(route.group, route.version) or route.res is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if self.sim.authorization == "RBAC":
            attrs = rbac.Attributes(
                self._verb(route), route.res.group, route.plural, route.subresource, route.namespace, route.name
            )
            ok, _reason = rbac.allowed(self.sim.store, self.user_info, attrs)
            if not ok:
                raise ApiError(
                    403,
                    "Forbidden",
                    rbac.forbidden_message(self.user_info, attrs),
                    {"name": route.name, "group": route.res.group, "kind": route.plural},
                )
        self._resource(route, body)

    # ------------------------------------------------------------------------------------------ non-resource
    def _kubesim(self, path: str, method: str) -> None:
        if self.user != "kubesim-admin":
            raise ApiError(403, "Forbidden", "kubesim control endpoints need the admin token")
        if path == "/kubesim/v1/reset" and method == "POST":
            self.sim.reset()
            self._send(200, {"status": "ok", "resourceVersion": str(self.sim.store.rv)})
        elif path == "/kubesim/v1/sa-public-key" and method == "GET":
            self._send(200, self.sim.issuer.public_pem(), "application/x-pem-file")
        elif path == "/kubesim/v1/save" and method == "POST":
            self.sim.store.save()
            self._send(200, {"status": "ok"})
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _openapi_v2(self) -> None:
        """An empty swagger 2.0 document (protobuf or JSON): kubectl's client-side validation finds no schema
        for any kind and skips it (that is what it does for kinds missing from a real server's spec)."""
        version = discovery.SERVER_VERSION["gitVersion"]
        if "protobuf" in self.headers.get("Accept", ""):

            def field(num: int, data: bytes) -> bytes:
                return bytes([num << 3 | 2, len(data)]) + data

            info = field(1, b"Kubernetes") + field(2, version.encode())
            self._send(
                200, field(1, b"2.0") + field(2, info), "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
            )
            return
        self._send(
            200, {"swagger": "2.0", "info": {"title": "Kubernetes", "version": version}, "paths": {}, "definitions": {}}
        )

    def _openapi(self, rest: str) -> None:
        parts = rest.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not discovery.is_known_group_version(group, version):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self._send(200, discovery.openapi_v3_group_version(group, version))

    def _discovery(self, path: str, route: Route) -> None:
        parts = [p for p in path.split("/") if p]
        if parts == ["api"]:
            self._send(200, discovery.api_versions(self.sim.server_address))
        elif parts == ["apis"]:
            self._send(200, discovery.api_group_list())
        elif len(parts) == 2 and parts[0] == "apis" and parts[1] in discovery.GROUP_VERSIONS and parts[1]:
            self._send(200, discovery.api_group(parts[1]))
        elif len(parts) >= 2 and discovery.is_known_group_version(route.group, route.version):
            self._send(200, discovery.resource_list(route.group, route.version))
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")

    # ------------------------------------------------------------------------------------------ resources
    def _parse_body(self, body: bytes) -> Any:
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        if "protobuf" in ctype:
            try:
                return protobuf.decode(body)
            except (protobuf.ProtobufError, UnicodeDecodeError, KeyError, ValueError) as exc:
                raise ApiError(415, "UnsupportedMediaType", str(exc)) from None
        if "cbor" in ctype:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - "
                f"accepted media types include: application/json, "
                f"application/yaml (got {ctype})",
            )
        if not body.strip():
            return None
        try:
            if "yaml" in ctype:
                return yaml.safe_load(body)
            return json.loads(body)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"the body of the request was in an unknown format: {exc}") from None

    def _resource(self, route: Route, body: bytes) -> None:
        res = route.res
        assert res is not None
        method = self.command
        if route.namespace and not res.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        ns = route.namespace if res.namespaced else ""
        sub = route.subresource
        dry_run = self.params.get("dryRun") == "All"
        if sub and res.subresource(sub) is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        verb = self._verb(route)
        allowed = set(res.subresource(sub).verbs) if sub else set(res.verbs)  # type: ignore[union-attr]
        if verb == "watch" and not sub:
            verb_ok = "watch" in allowed
        else:
            verb_ok = verb in allowed or (verb == "get" and sub == "log")
        if not verb_ok:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        api = self.sim.api
        store = self.sim.store
        if res.group == "metrics.k8s.io":
            if res.plural == "pods":
                self._send(200, views.list_pod_metrics(store, ns, route.name, self.params))
            else:
                self._send(200, views.list_node_metrics(store, route.name, self.params))
            return
        if res.virtual:
            self._review(res, self._parse_body(body))
            return
        if sub == "log":
            text = views.pod_log(store, self.sim.log_sources, ns, route.name, self.params)
            if self.params.get("follow", "false").lower() in ("true", "1"):
                self._follow_log(ns, route.name, text)
            else:
                self._send(200, text, "text/plain")
            return
        if sub == "token":
            self._send(201, views.token_request(store, self.sim.issuer, ns, route.name, self._parse_body(body)))
            return
        if sub == "scale":
            if method == "GET":
                self._send(200, api.get_scale(res, ns, route.name))
            elif method == "PUT":
                self._send(200, api.update_scale(res, ns, route.name, None, self._parse_body(body), dry_run))
            else:
                self._send(
                    200, api.update_scale(res, ns, route.name, self._patch_type(), self._parse_body(body), dry_run)
                )
            return
        if sub == "eviction":
            api.delete(by_plural("pods"), ns, route.name)
            self._send(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
            return
        if method in ("GET", "HEAD"):
            if not route.name:
                if verb == "watch":
                    self._watch(res, ns)
                else:
                    self._list(res, ns)
                return
            self._send_object(res, api.get(res, ns, route.name))
            return
        if method == "POST":
            if route.name:
                raise ApiError(405, "MethodNotAllowed", "POST is not allowed on a named resource")
            obj = api.create(res, ns, self._parse_body(body), dry_run=dry_run, manager=self._field_manager())
            self._send_object(res, obj, 201)
            return
        if method == "PUT":
            obj = api.update(
                res, ns, route.name, self._parse_body(body), sub, dry_run=dry_run, manager=self._field_manager()
            )
            self._send_object(res, obj)
            return
        if method == "PATCH":
            ptype = self._patch_type()
            existed = store.get(res.storage_key, ns, route.name) is not None
            obj = api.patch(
                res, ns, route.name, ptype, self._parse_body(body), sub, dry_run=dry_run, manager=self._field_manager()
            )
            self._send_object(res, obj, 200 if existed else 201)
            return
        if method == "DELETE":
            options = self._parse_body(body) or {}
            if self.params.get("propagationPolicy"):
                options["propagationPolicy"] = self.params["propagationPolicy"]
            if not route.name:
                self._delete_collection(res, ns, options, dry_run)
                return
            out = api.delete(res, ns, route.name, options, dry_run=dry_run)
            self._send(200, out)
            return
        raise ApiError(405, "MethodNotAllowed", "method not allowed")

    def _field_manager(self) -> str:
        """Who writes, for managedFields: ``?fieldManager=`` or, as the API server does, the User-Agent's
        program name (``kubectl``, ``OpenAPI-Generator``)."""
        return (
            self.params.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0] or "unknown"
        )

    def _patch_type(self) -> str:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype not in patches.PATCH_TYPES:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - "
                f"accepted media types include: "
                f"{', '.join(patches.PATCH_TYPES)}",
            )
        return ctype

    def _send_object(self, res: Resource, obj: Obj, code: int = 200) -> None:
        accept = self.headers.get("Accept", "")
        table_version = _accepts_table(accept)
        if table_version and self.command == "GET":
            out = table.render_table(
                res.kind,
                [obj],
                {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                self.params.get("includeObject", "Metadata"),
            )
            out["apiVersion"] = table_version
            self._send(code, out)
            return
        self._send(code, obj)

    def _selectors(self, res: Resource) -> tuple[list[Any], list[Any]]:
        try:
            labels = parse_label_selector(self.params.get("labelSelector"))
            fields = parse_field_selector(self.params.get("fieldSelector"))
            check_field_selector(res.kind, fields)
        except SelectorError as exc:
            raise bad_request(str(exc)) from None
        return labels, fields

    def _list(self, res: Resource, ns: str) -> None:
        labels, fields = self._selectors(res)
        items, rv = self.sim.store.list(res.storage_key, ns or None, labels, fields)
        start = 0
        cont = self.params.get("continue")
        if cont:
            try:
                token = json.loads(base64.urlsafe_b64decode(cont.encode() + b"=="))
                start_key = token["start"]
            except (ValueError, KeyError):
                raise ApiError(400, "BadRequest", "continue key is not valid") from None
            start = next(
                (
                    i
                    for i, o in enumerate(items)
                    if f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}" > start_key
                ),
                len(items),
            )
        items = items[start:]
        meta: Obj = {"resourceVersion": str(rv)}
        limit = int(self.params.get("limit") or 0)
        if limit > 0 and len(items) > limit:
            last = items[limit - 1]["metadata"]
            meta["continue"] = (
                base64.urlsafe_b64encode(
                    json.dumps({"rv": rv, "start": f"{last.get('namespace', '')}/{last['name']}"}).encode()
                )
                .decode()
                .rstrip("=")
            )
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        items = [to_version(res, o) for o in items]
        accept = self.headers.get("Accept", "")
        table_version = _accepts_table(accept)
        if table_version:
            out = table.render_table(res.kind, items, meta, self.params.get("includeObject", "Metadata"))
            out["apiVersion"] = table_version
            self._send(200, out)
            return
        if _accepts_partial(accept):
            self._send(
                200,
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "items": [table.partial_metadata(o) for o in items],
                },
            )
            return
        for item in items:
            item.pop("kind", None)
            item.pop("apiVersion", None)
        self._send(200, {"kind": f"{res.kind}List", "apiVersion": res.group_version, "metadata": meta, "items": items})

    def _delete_collection(self, res: Resource, ns: str, options: Obj, dry_run: bool) -> None:
        labels, fields = self._selectors(res)
        items, _rv = self.sim.store.list(res.storage_key, ns or None, labels, fields)
        deleted = []
        for item in items:
            try:
                self.sim.api.delete(
                    res, item["metadata"].get("namespace", ""), item["metadata"]["name"], options, dry_run=dry_run
                )
                deleted.append(to_version(res, item))
            except ApiError:
                continue
        self._send(
            200,
            {
                "kind": f"{res.kind}List",
                "apiVersion": res.group_version,
                "metadata": {"resourceVersion": str(self.sim.store.rv)},
                "items": deleted,
            },
        )

    def _review(self, res: Resource, body: Any) -> None:
        if self.command != "POST":
            raise ApiError(405, "MethodNotAllowed", "only create is allowed")
        if res.plural == "tokenreviews":
            out = views.token_review(self.sim.store, self.sim.issuer, self.sim.admin_token, body)
        else:
            out = views.access_review(res.kind, res.group_version, body, self.user_info)
            if self.sim.authorization == "RBAC" and res.kind in ("SelfSubjectAccessReview", "SubjectAccessReview"):
                spec = (body or {}).get("spec") or {}
                who = (
                    self.user_info
                    if res.kind == "SelfSubjectAccessReview"
                    else {"username": spec.get("user", ""), "groups": spec.get("groups") or []}
                )
                out["status"] = rbac.review_status(self.sim.store, who, spec)
        self._send(201, out)

    # ------------------------------------------------------------------------------------------ watch
    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _watch(self, res: Resource, ns: str) -> None:
        labels, fields = self._selectors(res)
        store = self.sim.store
        timeout = int(self.params.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        rv_param = self.params.get("resourceVersion", "")
        send_initial = self.params.get("sendInitialEvents") in ("true", "1")
        bookmarks = self.params.get("allowWatchBookmarks") in ("true", "1")
        table_version = _accepts_table(self.headers.get("Accept", ""))
        include = self.params.get("includeObject", "Metadata")

        def matches(obj: Obj | None) -> bool:
            if obj is None:
                return False
            if ns and obj["metadata"].get("namespace") != ns:
                return False
            return labels_match(labels, obj["metadata"].get("labels")) and fields_match(fields, obj)

        first_table = [True]

        def render(obj: Obj) -> Obj:
            out = to_version(res, copy.deepcopy(obj))
            if table_version:
                tbl = table.render_table(
                    res.kind,
                    [out],
                    {"resourceVersion": out["metadata"]["resourceVersion"]},
                    include,
                    no_headers=not first_table[0],
                )
                tbl["apiVersion"] = table_version
                first_table[0] = False
                return tbl
            return out

        initial: list[Obj] = []
        with store.lock:
            if send_initial or rv_param in ("", "0"):
                initial, cursor = store.list(res.storage_key, ns or None, labels, fields)
            else:
                try:
                    cursor = int(rv_param)
                except ValueError:
                    raise bad_request(f"invalid resource version {rv_param!r}") from None
                if store.events_since(cursor) is None:
                    cursor = -1
        self._code = 200
        if not self._logged:
            self._log(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self._code = 200
        if cursor < 0:
            gone = ApiError(410, "Expired", f"too old resource version: {rv_param} ({store.rv})").status()
            self._write_chunk(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
            self._write_chunk(b"")
            return
        for obj in initial:
            self._write_chunk(json.dumps({"type": "ADDED", "object": render(obj)}).encode() + b"\n")
        if send_initial and bookmarks:
            mark = {
                "kind": res.kind,
                "apiVersion": res.group_version,
                "metadata": {"resourceVersion": str(cursor), "annotations": {"k8s.io/initial-events-end": "true"}},
            }
            self._write_chunk(json.dumps({"type": "BOOKMARK", "object": mark}).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = store.events_since(cursor)
            if events is None:
                gone = ApiError(410, "Expired", "too old resource version").status()
                self._write_chunk(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
                break
            out = []
            for ev in events:
                cursor = ev.rv
                item = self._watch_event(ev, res, matches)
                if item:
                    out.append(json.dumps({"type": item[0], "object": render(item[1])}).encode() + b"\n")
            for data in out:
                self._write_chunk(data)
            if not events:
                store.wait_for_change(cursor, min(2.0, max(0.0, deadline - time.monotonic())))
                if self.server.shutting_down or self._client_gone():  # type: ignore[attr-defined]
                    return
        self._write_chunk(b"")

    def _follow_log(self, ns: str, name: str, text: str) -> None:
        """``logs -f``: stream the log, then what is appended to its file, until the client or the pod goes."""
        self._code = 200
        if not self._logged:
            self._log(200)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if text:
            self._write_chunk(text.encode())
        pod = self.sim.store.get("/pods", ns, name)
        source = views.log_file_for(self.sim.log_sources, pod) if pod else None
        uid = pod["metadata"]["uid"] if pod else ""
        offset = os.path.getsize(source) if source and os.path.exists(source) else 0
        deadline = time.monotonic() + DEFAULT_WATCH_TIMEOUT
        while time.monotonic() < deadline and not self.server.shutting_down:  # type: ignore[attr-defined]
            time.sleep(0.5)
            if self._client_gone():
                return
            current = self.sim.store.get("/pods", ns, name)
            if current is None or current["metadata"]["uid"] != uid:
                break
            if source and os.path.exists(source):
                size = os.path.getsize(source)
                if size < offset:
                    offset = 0
                if size > offset:
                    with open(source, "rb") as fh:
                        fh.seek(offset)
                        data = fh.read(size - offset)
                    offset = size
                    self._write_chunk(data)
        self._write_chunk(b"")

    def _client_gone(self) -> bool:
        """True when the watching client closed its connection (a watch client never sends anything)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError):
            return True
        if readable:
            self.close_connection = True
            return True
        return False

    @staticmethod
    def _watch_event(ev: WatchEvent, res: Resource, matches: Any) -> tuple[str, Obj] | None:
        if ev.storage != res.storage_key:
            return None
        new_ok, old_ok = matches(ev.new), matches(ev.old)
        if ev.type == "DELETED":
            return ("DELETED", ev.new) if old_ok else None
        if new_ok and (old_ok or ev.type == "ADDED"):
            return (ev.type, ev.new)
        if new_ok:
            return ("ADDED", ev.new)
        if old_ok:
            return ("DELETED", ev.new)
        return None


def by_plural(plural: str) -> Resource:
    """Core resource by plural."""
    res = discovery.lookup("", "v1", plural)
    assert res is not None
    return res


def _jwks(issuer: TokenIssuer) -> Obj:
    numbers = issuer.public_key.public_numbers()  # type: ignore[union-attr]

    def b64(n: int) -> str:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return {
        "keys": [
            {"use": "sig", "kty": "RSA", "kid": issuer.kid, "alg": "RS256", "n": b64(numbers.n), "e": b64(numbers.e)}
        ]
    }


class KubesimServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that does the TLS handshake in the request thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[Handler], context: ssl.SSLContext | None) -> None:
        self.context = context
        self.shutting_down = False
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up or fail the TLS handshake (port probes); log anything else."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError, OSError)):
            return
        LOG.exception("error while serving %s", client_address)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


def make_server(sim: Kubesim) -> KubesimServer:
    """Bind the HTTPS server described by the config."""
    listen = sim.config.get("listen") or {}
    host, port = listen.get("host", "127.0.0.1"), int(listen.get("port", 16443))
    tls = sim.config.get("tls") or {}
    context = None
    if tls.get("cert"):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(tls["cert"], tls["key"])
        context.set_alpn_protocols(["http/1.1"])
    handler = type("BoundHandler", (Handler,), {"sim": sim})
    server = KubesimServer((host, port), handler, context)
    sim.server_address = f"{host}:{server.server_address[1]}"
    return server
