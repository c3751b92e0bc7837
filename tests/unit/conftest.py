# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared fixtures for the unit tests of voicehive.remediation.

- The checkout is made importable as ``ansible_collections.voicehive.remediation`` (through
  ``.collections/`` made by ``make setup``, or a temporary link when that is missing).
- ``run_module``: runs a module's ``main()`` with arguments given through
  ``ansible.module_utils.testing.patch_module_args`` (ansible-core >= 2.19) and returns the
  exit_json / fail_json payload as a dict (``failed`` tells which).
- ``module_process``: runs a module in a Python of its own, as Ansible starts it, and tells whether the
  kubernetes library was imported.
- ``redis_server``: a private ``redis-server`` on 127.0.0.1 and a random free port, with a
  password, no persistence; ``redis_db`` gives a client on it and empties it around each test.
- ``http_server``: a local HTTP server answering from routes (or an ``app``), recording every request.
- ``kube_api``: a fake Kubernetes API server on it (``FakeKubeApi``: namespaced objects with the API
  server's resourceVersion semantics, TokenRequests of service accounts) for the modules on the collection's own
  client.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _make_collection_importable() -> None:
    try:
        if importlib.util.find_spec("ansible_collections.voicehive.remediation") is not None:
            return
    except ModuleNotFoundError:
        pass
    link_parent = ROOT / ".collections"
    if not (link_parent / "ansible_collections" / "voicehive" / "remediation").exists():
        link_parent = Path(tempfile.mkdtemp(prefix="voicehive-unit-"))
        atexit.register(shutil.rmtree, link_parent, True)
        (link_parent / "ansible_collections" / "voicehive").mkdir(parents=True)
        (link_parent / "ansible_collections" / "voicehive" / "remediation").symlink_to(ROOT)
    sys.path.insert(0, str(link_parent))
    importlib.invalidate_caches()


_make_collection_importable()

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402

__all__ = ["patch_module_args"]


class AnsibleExitJson(Exception):
    """exit_json was called: ``result`` holds the payload."""

    def __init__(self, result: dict) -> None:
        super().__init__(result)
        self.result = result


class AnsibleFailJson(AnsibleExitJson):
    """fail_json was called: ``result`` holds the payload (``failed`` is true)."""


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    kwargs["failed"] = False
    kwargs["warnings"] = list(getattr(self, "_voicehive_warnings", []))
    raise AnsibleExitJson(kwargs)


def _fail_json(self, msg, **kwargs):
    kwargs["msg"] = msg
    kwargs["failed"] = True
    raise AnsibleFailJson(kwargs)


def _warn(self, warning):
    self.__dict__.setdefault("_voicehive_warnings", []).append(warning)


@pytest.fixture
def module_results(monkeypatch):
    """Make exit_json / fail_json raise AnsibleExitJson / AnsibleFailJson (payload unmasked, on purpose:
    the tests check that the modules themselves never put a secret in a message)."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "warn", _warn)
    return AnsibleExitJson, AnsibleFailJson


@pytest.fixture
def run_module(module_results, monkeypatch):
    """``run_module(main, args, check_mode=False, diff=False)`` -> payload dict of exit_json / fail_json."""
    monkeypatch.delenv("REDIS_PASSWORD", raising=False)

    def _run(main, args, check_mode=False, diff=False):
        args = dict(args)
        if check_mode:
            args["_ansible_check_mode"] = True
        if diff:
            args["_ansible_diff"] = True
        with patch_module_args(args), pytest.raises(AnsibleExitJson) as caught:
            main()
        return caught.value.result

    return _run


MODULE_PROCESS = """
import atexit, importlib, sys
module, kubernetes = sys.argv.pop(2), sys.argv.pop(2)  # the module reads its arguments from sys.argv[1] alone
if kubernetes == "blocked":
    sys.modules["kubernetes"] = None  # importing it fails, as where it is not installed
atexit.register(lambda: sys.stderr.write("KUBERNETES_IMPORTED=%s" % bool(sys.modules.get("kubernetes"))))
importlib.import_module("ansible_collections.voicehive.remediation.plugins.modules." + module).main()
"""


@pytest.fixture
def module_process(tmp_path):
    """``module_process(module, args, kubernetes="installed")`` -> ``(result, kubernetes_imported)``: the module
    (its short name) run in a Python of its own, as Ansible starts it, without the VAULT_* and K8S_AUTH_* variables;
    ``kubernetes="blocked"`` makes importing the kubernetes library fail, as where it is not installed."""

    def _run(module: str, args: dict, kubernetes: str = "installed") -> tuple[dict, bool]:
        import json

        path = tmp_path / f"{module}-args.json"
        path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "K8S_AUTH_"))}
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        proc = subprocess.run(
            [sys.executable, "-c", MODULE_PROCESS, str(path), module, kubernetes],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert proc.returncode in (0, 1), proc.stderr  # 1: the module failed (fail_json)
        assert "KUBERNETES_IMPORTED=" in proc.stderr, proc.stderr
        return json.loads(proc.stdout), "KUBERNETES_IMPORTED=True" in proc.stderr

    return _run


# --------------------------------------------------------------------------------------------
# A private redis-server for the tests that prove the real commands
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_redis(port: int, password: str, proc: subprocess.Popen, timeout: float = 10.0) -> bool:
    import redis

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=1).ping()
            return True
        except redis.exceptions.RedisError:
            time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """``{host, port, password}`` of a private redis-server (skips when redis-server is not installed)."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        pytest.skip("redis-server is not installed")
    pytest.importorskip("redis")
    workdir = tmp_path_factory.mktemp("redis")
    password = "unit-" + secrets.token_hex(12)
    for _attempt in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--requirepass", password, "--save", "",
             "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no", "--logfile", str(workdir / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if _wait_for_redis(port, password, proc):
            break
        proc.kill()
        proc.wait()
    else:
        pytest.fail(f"redis-server did not start, see {workdir / 'redis.log'}")
    try:
        yield dict(host="127.0.0.1", port=port, password=password)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def redis_db(redis_server):
    """A decoded client on the private server; the database is emptied before and after the test."""
    import redis

    client = redis.Redis(
        host=redis_server["host"], port=redis_server["port"], password=redis_server["password"], decode_responses=True
    )
    client.flushdb()  # private throw-away server: the only place FLUSHDB is fine
    yield client
    client.flushdb()
    client.close()


# --------------------------------------------------------------------------------------------
# A local HTTP server for the readers of site_info (HTTP endpoints, Prometheus, the Kubernetes API)
# --------------------------------------------------------------------------------------------


class _Routes:
    """What the test server answers: ``routes[path] = (status, body)``; a dict or list body is sent as JSON.

    ``requests`` records every request (method, path with query, headers, body) so tests can check what was asked.
    A route may also be a callable ``(path_with_query, headers) -> (status, body)``; ``app``, when set, answers
    every request instead: ``app(method, path_with_query, headers, body) -> (status, body)``.
    """

    def __init__(self) -> None:
        self.routes: dict = {}
        self.requests: list[dict] = []
        self.app = None


@pytest.fixture
def http_server():
    """``(base_url, routes)``: a threaded HTTP server on 127.0.0.1 answering from ``routes.routes``: a route is
    ``(status, body)`` or ``(status, body, headers)``."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    state = _Routes()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append(dict(method=self.command, path=self.path, headers=dict(self.headers), body=body))
            if state.app is not None:
                route = state.app(self.command, self.path, dict(self.headers), body)
            else:
                route = state.routes.get(urlsplit(self.path).path)
                if callable(route):
                    route = route(self.path, dict(self.headers))
            status, body, *extra = route if route is not None else (404, {"message": "no route"})
            data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
            if isinstance(data, str):
                data = data.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if isinstance(body, (dict, list)) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (extra[0] if extra else {}).items():  # (status, body, headers)
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------------------------
# A fake Kubernetes API server for the modules that write (lease_lock, remediation_budget, k8s_secret_key,
# vault_kubernetes_login, pms_token)
# --------------------------------------------------------------------------------------------

TOKEN_REQUEST_PATH = re.compile(r"/api/v1/namespaces/([^/]+)/serviceaccounts/([^/]+)/token")


class FakeKubeApi:
    """Namespaced objects in memory, by API path, with the API server's resourceVersion semantics.

    - GET of an object, 404 ``NotFound`` when missing; POST to a collection creates (409 ``AlreadyExists`` when the
      name is taken); PUT replaces, 409 ``Conflict`` when the body's resourceVersion is not the current one, 404
      when the object is gone. Writes must be ``application/json`` (415 otherwise).
    - ``put(path, obj)`` stores an object as if someone else wrote it (a new resourceVersion).
    - ``before_write``: a hook ``hook(api)`` called once before the next POST or PUT, to play a concurrent writer
      (it may set itself again to keep playing).
    - ``fail[(method, path)] = (status, message)``: answer that request with an error ``Status``.
    - ``writes``: ``(verb, body sent)`` of every accepted create/replace; ``requests``: ``(method, path)`` of all.
    - TokenRequests (``POST .../serviceaccounts/<name>/token``) of the ``(namespace, name)`` in ``service_accounts``
      are answered with ``issue(namespace, name, spec)`` as ``status.token`` (no token when it returns ``None``),
      others with 404; ``token_requests`` records their bodies. They are not writes.
    """

    def __init__(self, rv: int = 100) -> None:
        self.objects: dict[str, dict] = {}
        self.rv = rv
        self.writes: list[tuple[str, dict]] = []
        self.requests: list[tuple[str, str]] = []
        self.before_write = None
        self.fail: dict[tuple[str, str], tuple[int, str]] = {}
        self.url = ""
        self.service_accounts: set[tuple[str, str]] = set()
        self.issue = lambda namespace, name, spec: "sa-jwt-" + secrets.token_urlsafe(24)
        self.token_requests: list[dict] = []

    def next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def put(self, path: str, obj: dict) -> dict:
        import copy

        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {})["resourceVersion"] = self.next_rv()
        self.objects[path] = obj
        return obj

    def get(self, path: str) -> dict | None:
        return self.objects.get(path)

    @staticmethod
    def status(code: int, reason: str, message: str) -> tuple[int, dict]:
        return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                      "reason": reason, "code": code}  # fmt: skip

    def handle(self, method: str, path: str, headers: dict, raw: bytes) -> tuple[int, dict]:
        import copy
        import json
        from urllib.parse import urlsplit

        path = urlsplit(path).path
        self.requests.append((method, path))
        if (method, path) in self.fail:
            code, message = self.fail[(method, path)]
            return self.status(code, "Failure", message)
        name = path.rsplit("/", 1)[-1]
        if method == "GET":
            obj = self.objects.get(path)
            return (200, copy.deepcopy(obj)) if obj is not None else self.status(404, "NotFound", f'"{name}" not found')
        if method not in ("POST", "PUT"):
            return self.status(405, "MethodNotAllowed", f"{method} is not supported here")
        if headers.get("Content-Type") != "application/json":
            return self.status(415, "UnsupportedMediaType", f"unsupported media type {headers.get('Content-Type')}")
        body = json.loads(raw)
        account = TOKEN_REQUEST_PATH.fullmatch(path)
        if account and method == "POST":
            return self.token_request(account.group(1), account.group(2), body)
        if self.before_write:
            hook, self.before_write = self.before_write, None
            hook(self)
        if method == "POST":
            target = f"{path}/{body['metadata']['name']}"
            if target in self.objects:
                return self.status(409, "AlreadyExists", f'"{body["metadata"]["name"]}" already exists')
            verb, code = "create", 201
        else:
            target, verb, code = path, "replace", 200
            if target not in self.objects:
                return self.status(404, "NotFound", f'"{name}" not found')
            if body["metadata"].get("resourceVersion") != self.objects[target]["metadata"]["resourceVersion"]:
                return self.status(409, "Conflict", "the object has been modified; please apply your changes")
        self.writes.append((verb, copy.deepcopy(body)))
        return code, copy.deepcopy(self.put(target, body))

    def token_request(self, namespace: str, name: str, body: dict) -> tuple[int, dict]:
        self.token_requests.append(body)
        if (namespace, name) not in self.service_accounts:
            return self.status(404, "NotFound", f'serviceaccounts "{name}" not found')
        token = self.issue(namespace, name, body.get("spec") or {})
        status = {"token": token, "expirationTimestamp": "2099-01-01T00:00:00Z"} if token is not None else {}
        return 201, dict(body, status=status)


@pytest.fixture
def kube_api(http_server):
    """A ``FakeKubeApi`` served over HTTP at ``kube_api.url``."""
    base, state = http_server
    api = FakeKubeApi()
    api.url = base
    state.app = api.handle
    return api
