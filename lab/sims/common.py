"""Shared plumbing for the lab simulators.

- configuration loading (``--config <json>``) and stderr logging;
- a threaded HTTP server that stops cleanly on SIGTERM/SIGINT;
- :class:`JSONHandler`, a request handler base with a tiny regex router and
  JSON helpers;
- :class:`TTLCache` so that health checks of external services are cheap;
- :class:`AppLog`, the structured, size-bounded application log that kubesim
  serves as pod logs;
- :class:`KubeClient`, a minimal Kubernetes API reader (bearer token + CA)
  behind the :class:`KubeReader` interface, so tests can substitute a fake.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as _dt
import json
import logging
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qs, urlsplit

import requests

LOG = logging.getLogger("sims")


# --------------------------------------------------------------------------- config / process


def load_config(path: str) -> dict[str, Any]:
    """Read a simulator's JSON configuration file."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: configuration must be a JSON object")
    return data


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the common command line (``--config PATH``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", required=True, help="JSON configuration file")
    return parser.parse_args(argv)


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr with timestamps (the lab redirects stderr to logs/<service>.log)."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def write_json_atomic(path: str, data: Any, mode: int = 0o600) -> None:
    """Write ``data`` as JSON to ``path`` atomically with the given file mode."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def utc_now_iso() -> str:
    """ISO-8601 UTC timestamp with milliseconds and a ``Z`` suffix."""
    now = _dt.datetime.now(_dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def truthy(value: Any) -> bool:
    """Interpret env-style booleans (``true``, ``1``, ``yes``, ``on``)."""
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def http_session() -> requests.Session:
    """A requests session that ignores proxy and CA-bundle environment variables.

    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` would otherwise silently replace a
    session's own ``verify`` (CA file), and a ``HTTP(S)_PROXY`` would route lab
    traffic to 127.0.0.1 through a proxy.
    """
    session = requests.Session()
    session.trust_env = False
    return session


def resolvable(url: str, timeout: float = 1.0) -> bool:
    """Whether the host of ``url`` resolves within ``timeout`` (getaddrinfo ignores socket timeouts)."""
    host = urlsplit(url).hostname
    if not host:
        return False
    result: list[bool] = []

    def run() -> None:
        try:
            socket.getaddrinfo(host, None)
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


# --------------------------------------------------------------------------- HTTP server


class LabHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP server with daemon threads and address reuse."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], app: Any) -> None:
        """Bind the server and attach the application object handlers read from ``self.server.app``."""
        self.app = app
        super().__init__(address, handler)


def serve(server: LabHTTPServer, name: str, on_stop: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT, then stop cleanly and run ``on_stop``."""

    def _stop(signum: int, _frame: Any) -> None:
        LOG.info("%s: signal %d received, shutting down", name, signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    host, port = server.server_address[:2]
    LOG.info("%s: listening on http://%s:%s", name, host, port)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        if on_stop is not None:
            on_stop()
        server.server_close()
        LOG.info("%s: stopped", name)


def start_in_thread(server: LabHTTPServer) -> threading.Thread:
    """Run ``server`` in a daemon thread (tests and embedded use)."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return thread


class HTTPError(Exception):
    """Raised by handlers to answer with a JSON error."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        """Remember the status, JSON body and extra headers of the error answer."""
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


Route = tuple[str, "re.Pattern[str]", str]


def route(method: str, pattern: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate a handler method: ``pattern`` is a regex matched against the whole path."""

    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        routes = list(getattr(fn, "_routes", []))
        routes.append((method.upper(), re.compile(pattern + r"\Z")))
        fn._routes = routes  # type: ignore[attr-defined]
        return fn

    return deco


class JSONHandler(BaseHTTPRequestHandler):
    """Request handler base: regex routing, JSON bodies, quiet structured logging."""

    protocol_version = "HTTP/1.1"
    server_version = "voicehive-lab-sim/1.0"
    _route_table: ClassVar[list[Route]] = []
    server: LabHTTPServer

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Collect the ``@route`` decorated methods of the subclass."""
        super().__init_subclass__(**kwargs)
        table: list[Route] = []
        for attr in dir(cls):
            fn = getattr(cls, attr, None)
            for method, rx in getattr(fn, "_routes", []):
                table.append((method, rx, attr))
        # longest pattern first so specific routes win over catch-alls
        table.sort(key=lambda item: -len(item[1].pattern))
        cls._route_table = table

    # -- plumbing
    @property
    def app(self) -> Any:
        """The simulator application attached to the server."""
        return self.server.app

    def log_message(self, format: str, *args: Any) -> None:
        """Send access logs to the ``sims.http`` logger at DEBUG level."""
        logging.getLogger("sims.http").debug("%s %s", self.address_string(), format % args)

    def _dispatch(self, method: str) -> None:
        self._body_cache: bytes | None = None
        self.route_pattern: str | None = None
        parts = urlsplit(self.path)
        self.url_path = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        allowed: list[str] = []
        try:
            for rmethod, rx, attr in self._route_table:
                match = rx.match(self.url_path)
                if not match:
                    continue
                if rmethod != method:
                    allowed.append(rmethod)
                    continue
                self.route_pattern = rx.pattern
                self.before_request()
                getattr(self, attr)(**match.groupdict())
                return
            self.read_body()
            if allowed:
                raise HTTPError(405, {"detail": "Method Not Allowed"}, {"Allow": ", ".join(sorted(set(allowed)))})
            raise HTTPError(404, {"detail": "Not Found"})
        except HTTPError as err:
            self.send_json(err.status, err.body, err.headers)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:
            logging.getLogger("sims.http").exception("unhandled error on %s %s", method, self.url_path)
            with contextlib.suppress(OSError):
                self.send_json(500, {"detail": "Internal Server Error", "error": type(exc).__name__})

    def before_request(self) -> None:
        """Hook run after routing, before the route method (override in subclasses)."""

    def do_GET(self) -> None:
        """Dispatch GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Dispatch POST."""
        self._dispatch("POST")

    def do_PUT(self) -> None:
        """Dispatch PUT."""
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        """Dispatch DELETE."""
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        """Dispatch PATCH."""
        self._dispatch("PATCH")

    # -- request helpers
    def read_body(self) -> bytes:
        """Read the request body once (Content-Length framed)."""
        if getattr(self, "_body_cache", None) is None:
            length = int(self.headers.get("Content-Length") or 0)
            self._body_cache = self.rfile.read(length) if length > 0 else b""
        return self._body_cache or b""

    def json_body(self) -> dict[str, Any]:
        """Decode the body as a JSON object (422 otherwise)."""
        raw = self.read_body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise HTTPError(422, {"detail": f"invalid JSON body: {exc}"}) from exc
        if not isinstance(data, dict):
            raise HTTPError(422, {"detail": "JSON body must be an object"})
        return data

    def form_body(self) -> dict[str, str]:
        """Decode an ``application/x-www-form-urlencoded`` body."""
        return {k: v[-1] for k, v in parse_qs(self.read_body().decode("utf-8", "replace")).items()}

    def client_ip(self) -> str:
        """First address of X-Forwarded-For, else the peer address."""
        xff = self.headers.get("X-Forwarded-For", "")
        if xff.strip():
            return xff.split(",")[0].strip()
        return str(self.client_address[0])

    def bearer_token(self) -> str | None:
        """The bearer token of the Authorization header, if any."""
        auth = self.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip() or None
        return None

    def require_lab_token(self, expected: str) -> None:
        """Refuse lab-control requests without the right ``X-Lab-Token`` header."""
        if not expected or self.headers.get("X-Lab-Token", "") != expected:
            raise HTTPError(403, {"detail": "missing or wrong X-Lab-Token"})

    # -- response helpers
    def send_bytes(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        """Send a complete response with Content-Length."""
        self.read_body()  # drain so keep-alive stays in sync
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """Send ``body`` as JSON."""
        self.send_bytes(status, json.dumps(body).encode(), "application/json", headers)

    def send_text(self, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
        """Send a text response."""
        self.send_bytes(status, text.encode(), content_type)


# --------------------------------------------------------------------------- caching


class TTLCache:
    """Thread-safe memo of expensive calls (health checks) for ``ttl`` seconds."""

    def __init__(self, ttl: float = 1.0) -> None:
        """Create an empty cache whose entries live ``ttl`` seconds."""
        self.ttl = ttl
        self._data: dict[str, tuple[float, Any]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str, compute: Callable[[], Any], ttl: float | None = None) -> Any:
        """Return the cached value of ``key`` or compute it (one caller at a time per key)."""
        life = self.ttl if ttl is None else ttl
        hit = self._data.get(key)
        if hit and time.monotonic() - hit[0] < life:
            return hit[1]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._data.get(key)
            if hit and time.monotonic() - hit[0] < life:
                return hit[1]
            value = compute()
            self._data[key] = (time.monotonic(), value)
            return value

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()


# --------------------------------------------------------------------------- application log

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def _fmt_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n'):
        return json.dumps(text)
    return text


class AppLog:
    """Structured application log: ``<ISO time> <LEVEL> <logger> <message> k=v ...``, size bounded.

    When the file grows beyond ``max_bytes`` it is moved to ``<path>.1``
    (replacing an older one) and a fresh file is started.
    """

    def __init__(self, path: str | None, max_bytes: int = 4 * 1024 * 1024, level: str = "INFO") -> None:
        """Open (append) the log at ``path``; ``None`` keeps lines in memory only."""
        self.path = path
        self.max_bytes = max_bytes
        self.level = level
        self._lock = threading.Lock()
        self.recent: list[str] = []
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def rotate(self) -> None:
        """Start a fresh file (the old one becomes ``<path>.1``), as a restarted container's log starts empty."""
        with self._lock:
            self.recent.clear()
            if self.path and os.path.exists(self.path):
                os.replace(self.path, self.path + ".1")
            if self.path:
                open(self.path, "w", encoding="utf-8").close()  # an empty file, as a new container's log

    def enabled(self, level: str) -> bool:
        """Whether ``level`` passes the current minimum level."""
        return _LEVELS.get(level, 20) >= _LEVELS.get(self.level.upper(), 20)

    def log(self, level: str, logger: str, message: str, **fields: Any) -> str | None:
        """Append one line; returns it (or ``None`` when filtered out by level)."""
        if not self.enabled(level):
            return None
        parts = [utc_now_iso(), level, logger, message]
        parts += [f"{key}={_fmt_value(value)}" for key, value in fields.items()]
        line = " ".join(parts)
        with self._lock:
            self.recent.append(line)
            del self.recent[:-200]
            if self.path:
                try:
                    if os.path.exists(self.path) and os.path.getsize(self.path) > self.max_bytes:
                        os.replace(self.path, self.path + ".1")
                    with open(self.path, "a", encoding="utf-8") as fh:
                        fh.write(line + "\n")
                except OSError as exc:
                    LOG.warning("cannot write app log %s: %s", self.path, exc)
        return line


# --------------------------------------------------------------------------- Kubernetes access


class KubeError(Exception):
    """The Kubernetes API could not be reached or answered an error."""


class KubeReader(Protocol):
    """What the simulators need from a Kubernetes API: GET a path, ``None`` on 404."""

    def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any] | None:
        """GET ``path`` and return the decoded JSON object, ``None`` when it does not exist."""
        ...


class KubeClient:
    """Minimal Kubernetes API reader over HTTPS with a bearer token and a CA file."""

    def __init__(self, server: str, token: str | None = None, ca_file: str | None = None, timeout: float = 2.0) -> None:
        """Remember the API server URL and credentials; nothing is contacted yet."""
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.session = http_session()
        self.verify: str | bool = ca_file if ca_file else True
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"

    def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any] | None:
        """GET ``path``; ``None`` on 404, :class:`KubeError` on anything else that is not 200."""
        try:
            resp = self.session.get(self.server + path, params=params, timeout=self.timeout, verify=self.verify)
        except (requests.RequestException, OSError) as exc:
            raise KubeError(f"kubernetes API unreachable: {type(exc).__name__}") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise KubeError(f"kubernetes API answered {resp.status_code} for {path}")
        try:
            return resp.json()
        except ValueError as exc:
            raise KubeError(f"kubernetes API sent invalid JSON for {path}") from exc


def kube_from_config(cfg: dict[str, Any] | None) -> KubeClient | None:
    """Build a :class:`KubeClient` from a ``kube`` config block (``server``, ``token``, ``ca_file``)."""
    if not cfg or not cfg.get("server"):
        return None
    token = cfg.get("token")
    if not token and cfg.get("token_file"):
        with open(cfg["token_file"], encoding="utf-8") as fh:
            token = fh.read().strip()
    return KubeClient(cfg["server"], token=token, ca_file=cfg.get("ca_file"), timeout=float(cfg.get("timeout", 2.0)))


def secret_value(secret: dict[str, Any] | None, key: str) -> str | None:
    """Decoded value of ``key`` in a Secret object (``data`` is base64, ``stringData`` plain)."""
    if not secret:
        return None
    data = secret.get("data") or {}
    if key in data and data[key] is not None:
        try:
            return base64.b64decode(data[key], validate=True).decode("utf-8", "replace")
        except ValueError:
            return None
    string_data = secret.get("stringData") or {}
    value = string_data.get(key)
    return None if value is None else str(value)


def pod_ready(pod: dict[str, Any]) -> bool:
    """Whether a Pod is Running with condition Ready=True."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def parse_cpu(quantity: str) -> float:
    """Kubernetes CPU quantity to cores (``950m`` → 0.95, ``2`` → 2.0, ``1500000n``)."""
    q = str(quantity).strip()
    if not q:
        return 0.0
    units = {"n": 1e-9, "u": 1e-6, "m": 1e-3}
    if q[-1] in units:
        return float(q[:-1]) * units[q[-1]]
    return float(q)
