# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pms_token against a local Apaleo (answers as lab/sims/apaleo.py gives them), a private OpenBao,
and the fake Kubernetes API server over HTTP (``kube_api``, tests/unit/conftest.py).

conftest's ``http_server`` answers GET only, and the token endpoint is a POST, so ``apaleo`` below is a
server of the same kind (routes in Python, a request log) that answers both.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from vault_fixture import (  # pylint: disable=unused-import  # the fixtures bao_server and sealed_bao
    MOUNT,
    bao_server_fixture,  # noqa: F401
    free_port,
    sealed_bao_fixture,  # noqa: F401
)

from ansible_collections.voicehive.remediation.plugins.module_utils import _apaleo, _k8s, _pms_token
from ansible_collections.voicehive.remediation.plugins.module_utils._apaleo import parse_iso
from ansible_collections.voicehive.remediation.plugins.modules import pms_token

CLIENT_ID = "voicehive-hotel-001"
CLIENT_SECRET = "s3cr3t-" + secrets.token_urlsafe(16)
TOKEN_PATH = "/connect/token"
PROPERTY_PREFIX = "/inventory/v1/properties/"


# --------------------------------------------------------------------------------------------
# a local Apaleo
# --------------------------------------------------------------------------------------------


class FakeApaleo:
    """Apaleo's identity server and inventory API, answering like lab/sims/apaleo.py.

    - ``POST /connect/token``: HTTP Basic credentials, form ``grant_type=client_credentials``; 400
      ``unsupported_grant_type``, 401 ``invalid_client``, 200 ``{access_token, expires_in, token_type, scope}``.
    - ``GET /inventory/v1/properties/{id}``: 401 for an unknown bearer token, 403 for a property of another
      account (``forbidden``), 404 for an unknown one, 200 with the property.
    - ``token_script`` / ``property_script``: answers ``(status, body)`` given first, one per request;
      ``token_always`` / ``property_always``: an answer given to every request (503 forever);
      ``token_delay``: seconds the token endpoint waits before answering (timeouts).
    """

    def __init__(self) -> None:
        self.clients = {CLIENT_ID: CLIENT_SECRET}
        self.properties = {"MUC": "VoiceHive Lab Hotel MUC", "BER": "VoiceHive Lab Hotel BER"}
        self.forbidden = {"FRA"}
        self.tokens: list[str] = []
        self.token_ttl = 3600
        self.token_script: list[tuple[int, object]] = []
        self.token_always: tuple[int, object] | None = None
        self.property_script: list[tuple[int, object]] = []
        self.property_always: tuple[int, object] | None = None
        self.token_delay = 0.0
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.url = ""

    # what the tests look at
    def count(self, method: str, prefix: str) -> int:
        return sum(1 for r in self.requests if r["method"] == method and r["path"].startswith(prefix))

    @property
    def token_requests(self) -> int:
        return self.count("POST", TOKEN_PATH)

    @property
    def property_requests(self) -> int:
        return self.count("GET", PROPERTY_PREFIX)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    # answers
    def token(self, headers: dict, body: bytes) -> tuple[int, object, dict]:
        if self.token_delay:
            time.sleep(self.token_delay)
        if self.token_script:
            status, answer = self.token_script.pop(0)
            return status, answer, {}
        if self.token_always:
            return self.token_always[0], self.token_always[1], {"Retry-After": "30"}
        form = dict(urllib.parse.parse_qsl(body.decode()))
        auth = headers.get("Authorization", "")
        client_id = client_secret = ""
        if auth[:6].lower() == "basic ":
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
            client_id, _colon, client_secret = decoded.partition(":")
            client_id, client_secret = urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(client_secret)
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}, {}
        if not client_id or self.clients.get(client_id) != client_secret:
            return 401, {"error": "invalid_client"}, {}
        token = "eyJ.apaleo-" + secrets.token_urlsafe(24)
        self.tokens.append(token)
        answer = {
            "access_token": token,
            "expires_in": self.token_ttl,
            "token_type": "Bearer",
            "scope": "inventory.read",
        }
        return 200, answer, {"Cache-Control": "no-store"}

    def property(self, prop: str, headers: dict) -> tuple[int, object, dict]:
        if self.property_script:
            status, answer = self.property_script.pop(0)
            return status, answer, {}
        if self.property_always:
            return self.property_always[0], self.property_always[1], {}
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return (
                401,
                {"error": "unauthorized", "detail": "invalid_token"},
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if prop in self.forbidden:
            return 403, {"error": "forbidden", "detail": f"no access to property {prop}"}, {}
        if prop not in self.properties:
            return 404, {"error": "not_found", "detail": f"property {prop} not found"}, {}
        return (
            200,
            {"id": prop, "code": prop, "name": self.properties[prop], "status": "Live", "currencyCode": "EUR"},
            {},
        )

    def answer(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, object, dict]:
        with self.lock:
            self.requests.append(dict(method=method, path=path, headers=headers, body=body.decode()))
        route = urllib.parse.urlsplit(path).path
        if method == "POST" and route == TOKEN_PATH:
            return self.token(headers, body)
        if method == "GET" and route.startswith(PROPERTY_PREFIX):
            return self.property(urllib.parse.unquote(route[len(PROPERTY_PREFIX) :]), headers)
        return 404, {"error": "not_found"}, {}


@pytest.fixture
def apaleo():
    fake = FakeApaleo()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer, extra = fake.answer(method, self.path, dict(self.headers), body)
            data = json.dumps(answer).encode() if isinstance(answer, (dict, list)) else (answer or b"")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if isinstance(answer, dict) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout tests)

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def sleeps(monkeypatch):
    """The backoff pauses, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(_apaleo, "backoff_sleep", recorded.append)
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    return recorded


@pytest.fixture
def run(run_module, apaleo):
    """Run pms_token with direct credentials against the local Apaleo; ``args`` override."""

    def _run(check_mode=False, diff=False, **args):
        module_args = dict(
            identity_url=apaleo.url,
            api_url=apaleo.url,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            timeout=5,
        )
        module_args.update(args)
        module_args = {k: v for k, v in module_args.items() if v is not None}
        return run_module(pms_token.main, module_args, check_mode=check_mode, diff=diff)

    return _run


def assert_no_secret(result, *extra):
    text = json.dumps(result)
    for value in (CLIENT_SECRET, *extra):
        assert value not in text


# --------------------------------------------------------------------------------------------
# token and properties
# --------------------------------------------------------------------------------------------


def test_ok_gets_token_and_tests_properties(run, apaleo):
    before = time.time()
    result = run(property_ids=["MUC", "BER"])
    assert result["failed"] is False
    assert result["outcome"] == "ok"
    assert result["changed"] is False
    assert result["token_obtained"] is True
    assert result["token_status"] == 200
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3600
    assert before + 3600 - 2 <= parse_iso(result["expires_at"]) <= time.time() + 3600 + 1
    assert result["expires_at"].endswith("Z")
    assert result["attempts"] == 1
    assert result["latency_ms"] >= 0
    assert result["stored"] is False and result["store_target"] is None
    assert result["credentials_source"] == "options" and result["vault_path"] is None
    assert set(result["properties"]) == {"MUC", "BER"}
    for entry in result["properties"].values():
        assert entry["status"] == 200 and entry["accessible"] is True and entry["attempts"] == 1
        assert entry["error"] is None and entry["latency_ms"] >= 0
    assert result["msg"] == "Got an Apaleo access token (expires in 3600 s); properties MUC, BER are accessible"
    assert "error" not in result and "access_token" not in result
    # what was sent
    token_request = apaleo.requests[0]
    assert token_request["method"] == "POST" and token_request["path"] == "/connect/token"
    assert (
        token_request["headers"]["Authorization"]
        == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    )
    assert token_request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert token_request["body"] == "grant_type=client_credentials"
    assert [r["path"] for r in apaleo.requests[1:]] == [PROPERTY_PREFIX + "MUC", PROPERTY_PREFIX + "BER"]
    assert {r["headers"]["Authorization"] for r in apaleo.requests[1:]} == {f"Bearer {apaleo.tokens[0]}"}
    assert_no_secret(result, *apaleo.tokens)


def test_ok_without_properties_and_in_check_mode(run, apaleo):
    result = run(check_mode=True)
    assert result["outcome"] == "ok"
    assert result["properties"] == {}
    assert result["changed"] is False
    assert result["msg"] == "Got an Apaleo access token (expires in 3600 s)"
    assert apaleo.token_requests == 1 and apaleo.property_requests == 0


def test_expires_in_from_apaleo_is_used(run, apaleo):
    apaleo.token_ttl = 120
    result = run()
    assert result["expires_in"] == 120


def test_secret_with_reserved_characters_is_form_encoded(run, apaleo):
    secret = "a+b/c=d%e:f " + secrets.token_hex(4)
    apaleo.clients[CLIENT_ID] = secret
    result = run(client_secret=secret)
    assert result["outcome"] == "ok"
    decoded = base64.b64decode(apaleo.requests[0]["headers"]["Authorization"][6:]).decode()
    assert decoded == f"{CLIENT_ID}:{urllib.parse.quote_plus(secret)}"
    assert_no_secret(result, secret)


def test_wrong_secret_is_rejected_without_retry(run, apaleo, sleeps):
    result = run(client_secret="wrong-" + CLIENT_SECRET, retries=3)
    assert result["failed"] is False
    assert result["outcome"] == "credentials_rejected"
    assert result["token_obtained"] is False
    assert result["token_status"] == 401
    assert result["attempts"] == 1
    assert apaleo.token_requests == 1 and sleeps == []
    assert apaleo.property_requests == 0
    assert result["msg"] == (
        f"Cannot get an Apaleo access token: {apaleo.url}/connect/token answered 401 invalid_client. "
        "Apaleo rejected the client credentials (rotated or revoked). "
        "Update the client_id and client_secret given to the module."
    )
    assert result["error"] == result["msg"]
    assert_no_secret(result, "wrong-" + CLIENT_SECRET)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": "invalid_client"}),
        (400, {"error": "unauthorized_client", "error_description": "client is disabled"}),
        (401, {}),
        (401, ""),
    ],
)
def test_4xx_rejections_are_not_retried(run, apaleo, sleeps, status, body):
    apaleo.token_always = (status, body)
    result = run(retries=3, property_ids=["MUC"])
    assert result["outcome"] == "credentials_rejected"
    assert result["token_status"] == status
    assert apaleo.token_requests == 1 and result["attempts"] == 1 and sleeps == []
    assert apaleo.property_requests == 0


def test_other_4xx_is_token_request_rejected(run, apaleo, sleeps):
    apaleo.token_always = (400, {"error": "unsupported_grant_type"})
    result = run()
    assert result["outcome"] == "token_request_rejected"
    assert apaleo.token_requests == 1 and sleeps == []
    assert "answered 400 unsupported_grant_type" in result["msg"] and result["msg"].endswith("Check identity_url.")


def test_wrong_identity_url_is_token_request_rejected(run, apaleo):
    result = run(identity_url=apaleo.url + "/wrong")
    assert result["outcome"] == "token_request_rejected"
    assert result["token_status"] == 404


def test_429_is_unavailable_but_not_retried(run, apaleo, sleeps):
    apaleo.token_always = (429, {"error": "too_many_requests"})
    result = run(retries=3)
    assert result["outcome"] == "apaleo_unavailable"
    assert apaleo.token_requests == 1 and sleeps == []


def test_500_then_200_retries_and_succeeds(run, apaleo, sleeps):
    apaleo.token_script = [(500, {"error": "internal_error", "detail": "Apaleo internal error"})]
    result = run(property_ids=["MUC"])
    assert result["outcome"] == "ok"
    assert result["attempts"] == 2 and apaleo.token_requests == 2
    assert sleeps == [0.5]
    assert result["properties"]["MUC"]["accessible"] is True


def test_503_forever_is_unavailable_after_bounded_retries(run, apaleo, sleeps):
    apaleo.token_always = (503, {"error": "service_unavailable", "detail": "Apaleo is unavailable"})
    result = run(property_ids=["MUC"])
    assert result["failed"] is False
    assert result["outcome"] == "apaleo_unavailable"
    assert result["token_status"] == 503
    assert result["attempts"] == 4 and apaleo.token_requests == 4  # default retries=3
    assert sleeps == [0.5, 1.0, 2.0]
    assert apaleo.property_requests == 0
    assert result["msg"] == (
        f"Cannot get an Apaleo access token: {apaleo.url}/connect/token answered 503 service_unavailable: "
        "Apaleo is unavailable, after 4 attempts. Apaleo is unavailable; retry later."
    )


@pytest.mark.parametrize("retries", [0, 1, 5])
def test_retries_option_bounds_the_requests(run, apaleo, sleeps, retries):
    apaleo.token_always = (502, "Bad Gateway")
    result = run(retries=retries)
    assert result["outcome"] == "apaleo_unavailable"
    assert apaleo.token_requests == retries + 1 == result["attempts"]
    assert sleeps == [0.5 * 2**i for i in range(retries)]


def test_slow_answer_times_out_and_is_retried(run, apaleo, sleeps):
    apaleo.token_delay = 1.0
    result = run(timeout=0.2, retries=1)
    assert result["outcome"] == "apaleo_unavailable"
    assert result["token_status"] is None
    assert result["attempts"] == 2 and sleeps == [0.5]
    assert "did not answer (timed out after 0.2 s), after 2 attempts" in result["msg"]


def test_nothing_listening_is_unavailable(run, sleeps):
    url = f"http://127.0.0.1:{free_port()}"
    result = run(identity_url=url, api_url=url, retries=2)
    assert result["outcome"] == "apaleo_unavailable"
    assert result["attempts"] == 3 and sleeps == [0.5, 1.0]
    assert "did not answer" in result["msg"]


def test_200_without_token_is_unavailable_and_not_retried(run, apaleo, sleeps):
    apaleo.token_always = (200, {"token_type": "Bearer"})
    result = run()
    assert result["outcome"] == "apaleo_unavailable"
    assert result["token_obtained"] is False
    assert apaleo.token_requests == 1 and sleeps == []
    assert "answered 200 without an access_token" in result["msg"]


def test_forbidden_and_unknown_properties_are_not_accessible(run, apaleo, sleeps):
    result = run(property_ids=["MUC", "FRA", "XXX"])
    assert result["failed"] is False
    assert result["outcome"] == "property_not_accessible"
    assert result["token_obtained"] is True
    props = result["properties"]
    assert (props["MUC"]["status"], props["MUC"]["accessible"]) == (200, True)
    assert (props["FRA"]["status"], props["FRA"]["accessible"]) == (403, False)
    assert (props["XXX"]["status"], props["XXX"]["accessible"]) == (404, False)
    assert "no access to property FRA" in props["FRA"]["error"]
    assert "property XXX not found" in props["XXX"]["error"]
    assert apaleo.property_requests == 3 and sleeps == []  # one request each: 4xx is never retried
    assert result["msg"].startswith("Cannot access Apaleo properties FRA, XXX with the new token: ")
    assert result["msg"].endswith("Check the property ids and the app's access to them in Apaleo.")
    assert_no_secret(result, *apaleo.tokens)


def test_property_id_is_quoted_into_the_path(run, apaleo):
    result = run(property_ids=["a/b c"])
    assert result["outcome"] == "property_not_accessible"
    assert apaleo.requests[-1]["path"] == PROPERTY_PREFIX + "a%2Fb%20c"


def test_property_500_forever_is_unavailable_and_stops(run, apaleo, sleeps):
    apaleo.property_always = (500, {"error": "internal_error", "detail": "Apaleo internal error"})
    result = run(property_ids=["MUC", "BER"], retries=2)
    assert result["outcome"] == "apaleo_unavailable"
    assert result["properties"]["MUC"]["status"] == 500
    assert result["properties"]["MUC"]["accessible"] is None
    assert result["properties"]["MUC"]["attempts"] == 3
    assert result["properties"]["BER"] == dict(
        status=None, accessible=None, latency_ms=None, attempts=0, error="not tested: Apaleo was unavailable"
    )
    assert apaleo.property_requests == 3 and sleeps == [0.5, 1.0]
    assert result["msg"].endswith("Apaleo is unavailable; retry later.")


def test_property_500_then_200_is_retried(run, apaleo, sleeps):
    apaleo.property_script = [(503, {"error": "service_unavailable"})]
    result = run(property_ids=["MUC"])
    assert result["outcome"] == "ok"
    assert result["properties"]["MUC"]["attempts"] == 2 and sleeps == [0.5]


def test_error_texts_are_masked(run, apaleo):
    apaleo.token_always = (400, {"error": "invalid_client", "error_description": f"bad secret {CLIENT_SECRET}"})
    result = run()
    assert result["outcome"] == "credentials_rejected"
    assert "bad secret ********" in result["msg"]
    assert_no_secret(result)


def test_property_error_echoing_the_token_is_masked(run, apaleo, monkeypatch):
    def echo(prop, headers):
        return 403, {"error": "forbidden", "detail": f"token {apaleo.tokens[-1]} may not read {prop}"}, {}

    monkeypatch.setattr(apaleo, "property", echo)
    result = run(property_ids=["MUC"])
    assert result["outcome"] == "property_not_accessible"
    assert "token ******** may not read MUC" in result["properties"]["MUC"]["error"]
    assert_no_secret(result, *apaleo.tokens)


# --------------------------------------------------------------------------------------------
# bad input: refused before any request
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (dict(property_ids=["MUC", " "]), "property_ids must not contain empty ids"),
        (dict(timeout=0), "timeout must be above 0 seconds, got 0"),
        (dict(retries=11), "retries must be between 0 and 10, got 11"),
        (dict(retries=-1), "retries must be between 0 and 10, got -1"),
        (dict(refresh_before=-5), "refresh_before must be at least 0 seconds, got -5"),
        (dict(identity_url="ftp://identity.apaleo.com"), "identity_url: 'ftp://identity.apaleo.com' is not an http"),
        (dict(api_url="https://user:pw@api.apaleo.com"), "api_url: credentials in the URL are not accepted"),
        (dict(client_secret=""), "client_secret must not be empty"),
        (dict(store="kubernetes_secret", store_secret_name="Bad_Name"), "store_secret_name 'Bad_Name' is not a valid"),
        (
            dict(client_id=None, client_secret=None, vault_url="http://127.0.0.1:1", vault_token="t",
                 vault_path="pms/x", store="vault", store_vault_path="/pms/x/"),
            "store_vault_path must not be vault_path",
        ),
        (
            dict(client_id=None, client_secret=None, vault_url="http://127.0.0.1:1", vault_token=" ", vault_path="p"),
            "vault_token must not be empty",
        ),
        (
            dict(client_id=None, client_secret=None, vault_url="vault:8200", vault_token="t", vault_path="p"),
            "vault_url: 'vault:8200' is not an http(s) URL",
        ),
        (
            dict(client_id=None, client_secret=None, vault_url="http://127.0.0.1:1", vault_token="t", vault_path="/"),
            "vault_path must not be empty",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_refused_before_any_request(run, apaleo, args, message):
    result = run(**args)
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot refresh the Apaleo access token: ")
    assert message in result["msg"]
    assert apaleo.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (dict(vault_path="pms/x", vault_url="http://127.0.0.1:1", vault_token="t"), "mutually exclusive"),
        (dict(client_id=None, client_secret=None), "one of the following is required: client_id, vault_path"),
        (dict(client_secret=None), "parameters are required together: client_id, client_secret"),
        (dict(client_id=None, client_secret=None, vault_path="pms/x"), "missing parameter(s) required by 'vault_path'"),
        (dict(store="vault"), "store is vault but all of the following are missing"),
        (dict(store="kubernetes_secret"), "store is kubernetes_secret but all of the following are missing"),
    ],
)
def test_bad_combinations_are_refused_by_the_argument_spec(run, apaleo, args, message):
    result = run(**args)
    assert result["failed"] is True
    assert message in result["msg"]
    assert apaleo.requests == []
    assert_no_secret(result)


# --------------------------------------------------------------------------------------------
# credentials from a private OpenBao
# --------------------------------------------------------------------------------------------


@pytest.fixture
def hotel():
    return "hotel-" + secrets.token_hex(4)


@pytest.fixture
def vault_run(run, bao_server, hotel):
    """Run with the credentials read from the private OpenBao at pms/apaleo/<hotel>/api-credentials."""

    def _run(check_mode=False, diff=False, **args):
        module_args = dict(
            client_id=None,
            client_secret=None,
            vault_url=bao_server.url,
            vault_token=bao_server.token,
            vault_path=f"pms/apaleo/{hotel}/api-credentials",
        )
        module_args.update(args)
        return run(check_mode=check_mode, diff=diff, **module_args)

    return _run


def put_credentials(bao, hotel, **data):
    bao.put(f"pms/apaleo/{hotel}/api-credentials", data or {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})


def test_credentials_from_vault(vault_run, bao_server, hotel, apaleo):
    put_credentials(bao_server, hotel)
    result = vault_run(property_ids=["MUC"])
    assert result["outcome"] == "ok"
    assert result["credentials_source"] == "vault"
    assert result["vault_path"] == f"voicehive/pms/apaleo/{hotel}/api-credentials"
    assert apaleo.token_requests == 1
    assert_no_secret(result, bao_server.token, *apaleo.tokens)


def test_credentials_from_vault_with_other_field_names(vault_run, bao_server, hotel):
    put_credentials(bao_server, hotel, apaleo_client_id=CLIENT_ID, apaleo_client_secret=CLIENT_SECRET)
    result = vault_run(vault_client_id_field="apaleo_client_id", vault_client_secret_field="apaleo_client_secret")
    assert result["outcome"] == "ok"


def test_rejected_vault_credentials_name_the_vault_path(vault_run, bao_server, hotel, apaleo):
    put_credentials(bao_server, hotel, client_id=CLIENT_ID, client_secret="rotated-away")
    result = vault_run()
    assert result["outcome"] == "credentials_rejected"
    assert result["msg"].endswith(
        f"Update client_id and client_secret at Vault path voicehive/pms/apaleo/{hotel}/api-credentials."
    )
    assert apaleo.token_requests == 1
    assert_no_secret(result, "rotated-away", bao_server.token)


def test_missing_vault_path_is_credentials_missing(vault_run, hotel, apaleo):
    result = vault_run()
    assert result["failed"] is False
    assert result["outcome"] == "credentials_missing"
    assert result["msg"] == (
        f"Cannot read the Apaleo client credentials: Vault secret voicehive/pms/apaleo/{hotel}/api-credentials "
        f"does not exist. Write client_id and client_secret at Vault path voicehive/pms/apaleo/{hotel}/api-credentials."
    )
    assert apaleo.requests == []


def test_deleted_vault_secret_is_credentials_missing(vault_run, bao_server, hotel, apaleo):
    put_credentials(bao_server, hotel)
    status, _body = bao_server.request("DELETE", f"{MOUNT}/data/pms/apaleo/{hotel}/api-credentials")
    assert status == 204
    result = vault_run()
    assert result["outcome"] == "credentials_missing"
    assert "has no data (its latest version is deleted)" in result["msg"]
    assert apaleo.requests == []


@pytest.mark.parametrize(
    ("data", "missing"),
    [
        ({"client_id": CLIENT_ID}, "client_secret"),
        ({"client_secret": CLIENT_SECRET}, "client_id"),
        ({"client_id": CLIENT_ID, "client_secret": "  "}, "client_secret"),
        ({"other": "x"}, "client_id and client_secret"),
    ],
)
def test_missing_fields_are_credentials_missing(vault_run, bao_server, hotel, apaleo, data, missing):
    put_credentials(bao_server, hotel, **data)
    result = vault_run()
    assert result["outcome"] == "credentials_missing"
    assert f"has no (or an empty) {missing}. Write client_id and client_secret there." in result["msg"]
    assert apaleo.requests == []
    assert_no_secret(result)


def test_vault_token_without_access_is_vault_denied(vault_run, bao_server, hotel, apaleo, sleeps):
    put_credentials(bao_server, hotel)
    result = vault_run(vault_token="not-a-token-" + secrets.token_hex(8))
    assert result["outcome"] == "vault_denied"
    assert "Vault refused the token (403: permission denied); check vault_token and its policy" in result["msg"]
    assert sleeps == [] and apaleo.requests == []


def test_sealed_vault_is_unavailable_and_not_retried(run, sealed_bao, apaleo, sleeps):
    result = run(
        client_id=None,
        client_secret=None,
        vault_url=sealed_bao.url,
        vault_token=sealed_bao.token,
        vault_path="pms/apaleo/hotel-001/api-credentials",
    )
    assert result["failed"] is False
    assert result["outcome"] == "vault_unavailable"
    assert result["msg"] == (
        "Cannot read the Apaleo client credentials: Vault secret voicehive/pms/apaleo/hotel-001/api-credentials: "
        "Vault is sealed (503: Vault is sealed); unseal it."
    )
    assert sleeps == [] and apaleo.requests == []
    assert_no_secret(result, sealed_bao.token)


def test_unreachable_vault_is_unavailable_after_retries(run, apaleo, sleeps):
    result = run(
        client_id=None,
        client_secret=None,
        vault_url=f"http://127.0.0.1:{free_port()}",
        vault_token="root-" + secrets.token_hex(4),
        vault_path="pms/apaleo/hotel-001/api-credentials",
        retries=1,
    )
    assert result["outcome"] == "vault_unavailable"
    assert "Vault did not answer" in result["msg"] and "after 2 attempts" in result["msg"]
    assert sleeps == [0.5] and apaleo.requests == []


def test_vault_address_and_token_from_the_environment(run, bao_server, hotel, monkeypatch):
    put_credentials(bao_server, hotel)
    monkeypatch.setenv("VAULT_ADDR", bao_server.url)
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    result = run(client_id=None, client_secret=None, vault_path=f"pms/apaleo/{hotel}/api-credentials")
    assert result["outcome"] == "ok"
    assert_no_secret(result, bao_server.token)


# --------------------------------------------------------------------------------------------
# store: vault
# --------------------------------------------------------------------------------------------


@pytest.fixture
def store_run(vault_run, bao_server, hotel):
    put_credentials(bao_server, hotel)

    def _run(check_mode=False, diff=False, **args):
        module_args = dict(store="vault", store_vault_path=f"pms/apaleo/{hotel}/access-token")
        module_args.update(args)
        return vault_run(check_mode=check_mode, diff=diff, **module_args)

    return _run


def test_store_vault_writes_then_keeps(store_run, bao_server, hotel, apaleo):
    target = f"vault:voicehive/pms/apaleo/{hotel}/access-token"
    first = store_run(property_ids=["MUC"], diff=True)
    assert first["outcome"] == "ok"
    assert first["changed"] is True and first["stored"] is True
    assert first["store_target"] == target
    assert first["store_reason"] == "no token is stored"
    stored, version = bao_server.get(f"pms/apaleo/{hotel}/access-token")
    assert stored == {"access_token": apaleo.tokens[0], "expires_at": first["expires_at"]}
    assert version == 1
    assert first["diff"] == {
        "before": {target: None},
        "after": {target: {"access_token": "********", "expires_at": first["expires_at"]}},
    }
    assert first["msg"].endswith(f"; stored it at {target} (no token is stored)")
    assert_no_secret(first, bao_server.token, *apaleo.tokens)

    second = store_run(property_ids=["MUC"], diff=True)
    assert second["outcome"] == "ok"
    assert second["changed"] is False and second["stored"] is False
    assert second["store_reason"].startswith("the stored token is valid for ")
    assert second["diff"] == {"before": {}, "after": {}}
    assert bao_server.get(f"pms/apaleo/{hotel}/access-token")[1] == 1
    assert "; kept the token stored at " in second["msg"]
    assert_no_secret(second, bao_server.token, *apaleo.tokens)


def test_store_vault_replaces_a_token_about_to_expire(store_run, bao_server, hotel, apaleo):
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))
    bao_server.put(f"pms/apaleo/{hotel}/access-token", {"access_token": "old-token-xyz", "expires_at": soon})
    result = store_run(diff=True, refresh_before=600)
    assert result["changed"] is True and result["stored"] is True
    assert result["store_reason"].startswith("the stored token expires in ")
    assert result["store_reason"].endswith("within refresh_before=600 s")
    before = result["diff"]["before"][f"vault:voicehive/pms/apaleo/{hotel}/access-token"]
    assert before == {"access_token": "********", "expires_at": soon}
    stored, version = bao_server.get(f"pms/apaleo/{hotel}/access-token")
    assert stored["access_token"] == apaleo.tokens[-1] and version == 2
    assert_no_secret(result, "old-token-xyz")


def test_store_vault_refresh_before_longer_than_the_lifetime_always_replaces(store_run, bao_server, hotel):
    assert store_run()["stored"] is True
    again = store_run(refresh_before=7200)
    assert again["changed"] is True and again["stored"] is True
    assert bao_server.get(f"pms/apaleo/{hotel}/access-token")[1] == 2


@pytest.mark.parametrize(
    "stored",
    [
        {"access_token": "", "expires_at": "2099-01-01T00:00:00Z"},
        {"access_token": "tok", "expires_at": "next tuesday"},
        {"access_token": "tok"},
        {"something": "else"},
    ],
)
def test_store_vault_replaces_an_invalid_token(store_run, bao_server, hotel, stored):
    bao_server.put(f"pms/apaleo/{hotel}/access-token", stored)
    result = store_run()
    assert result["stored"] is True
    assert result["store_reason"].startswith("the stored token is invalid")


def test_store_vault_replaces_a_token_apaleo_refuses(store_run, bao_server, hotel, apaleo):
    assert store_run(property_ids=["MUC"])["stored"] is True
    apaleo.revoke_tokens()  # like the simulator's /_lab/revoke-tokens
    result = store_run(property_ids=["MUC"])
    assert result["stored"] is True
    assert result["store_reason"] == "the stored token is invalid: Apaleo refused it (401)"
    assert bao_server.get(f"pms/apaleo/{hotel}/access-token")[0]["access_token"] == apaleo.tokens[-1]


def test_store_vault_check_mode_stores_nothing(store_run, bao_server, hotel, apaleo):
    result = store_run(check_mode=True, diff=True, property_ids=["MUC"])
    assert result["outcome"] == "ok"
    assert result["changed"] is True and result["stored"] is False
    assert result["diff"]["after"][f"vault:voicehive/pms/apaleo/{hotel}/access-token"]["expires_at"]
    assert "; would store it at vault:" in result["msg"]
    assert bao_server.get(f"pms/apaleo/{hotel}/access-token") == (None, 0)
    assert apaleo.token_requests == 1 and apaleo.property_requests == 1  # read-only on Apaleo's side


@pytest.mark.parametrize(
    ("setup", "outcome"),
    [
        (lambda apaleo: setattr(apaleo, "token_always", (401, {"error": "invalid_client"})), "credentials_rejected"),
        (lambda apaleo: setattr(apaleo, "token_always", (503, {})), "apaleo_unavailable"),
        (lambda apaleo: apaleo.forbidden.add("MUC"), "property_not_accessible"),
    ],
)
def test_store_vault_stores_nothing_unless_ok(store_run, bao_server, hotel, apaleo, setup, outcome):
    setup(apaleo)
    result = store_run(property_ids=["MUC"], diff=True)
    assert result["outcome"] == outcome
    assert result["changed"] is False and result["stored"] is False
    assert result["diff"] == {"before": {}, "after": {}}
    assert bao_server.get(f"pms/apaleo/{hotel}/access-token") == (None, 0)


def test_store_vault_denied_is_store_failed(store_run, bao_server, hotel, apaleo):
    reader = bao_server.token_with_policy(
        f"read-{hotel}",
        f'path "{MOUNT}/data/pms/apaleo/{hotel}/*" {{ capabilities = ["read"] }}',
    )
    result = store_run(vault_token=reader)
    assert result["outcome"] == "store_failed"
    assert result["token_obtained"] is True
    assert result["changed"] is False and result["stored"] is False
    assert result["msg"] == (
        f"Cannot store the token: Vault secret voicehive/pms/apaleo/{hotel}/access-token: Vault refused the token "
        "(403: 1 error occurred: * permission denied); check vault_token and its policy. "
        "The new token is fine but was not stored."
    )
    assert bao_server.get(f"pms/apaleo/{hotel}/access-token") == (None, 0)
    assert_no_secret(result, reader, *apaleo.tokens)


@pytest.mark.parametrize(
    "scenario", ["ok_stored", "ok_kept", "check_mode", "rejected", "unavailable", "forbidden", "store_denied"]
)
def test_full_result_never_contains_a_secret(store_run, bao_server, hotel, apaleo, scenario):
    """json.dumps of the whole result never holds the client secret, an access token or a Vault token,
    even when Apaleo echoes them back in its error texts."""
    vault_token = bao_server.token
    if scenario == "ok_kept":
        store_run(property_ids=["MUC"])
    elif scenario == "rejected":
        apaleo.token_always = (401, {"error": "invalid_client", "error_description": f"bad secret {CLIENT_SECRET}"})
    elif scenario == "unavailable":
        apaleo.token_always = (503, {"error": "service_unavailable", "detail": f"{CLIENT_ID}:{CLIENT_SECRET}"})
    elif scenario == "forbidden":
        original = apaleo.property

        def echo(prop, headers):
            _status, _body, extra = original(prop, headers)
            return 403, {"error": "forbidden", "detail": f"no access with {headers.get('Authorization')}"}, extra

        apaleo.property = echo
    elif scenario == "store_denied":
        vault_token = bao_server.token_with_policy(
            f"read-only-{hotel}", f'path "{MOUNT}/data/pms/apaleo/{hotel}/*" {{ capabilities = ["read"] }}'
        )
    result = store_run(check_mode=scenario == "check_mode", diff=True, property_ids=["MUC"], vault_token=vault_token)
    expected = {
        "ok_stored": "ok",
        "ok_kept": "ok",
        "check_mode": "ok",
        "rejected": "credentials_rejected",
        "unavailable": "apaleo_unavailable",
        "forbidden": "property_not_accessible",
        "store_denied": "store_failed",
    }
    assert result["outcome"] == expected[scenario]
    text = json.dumps(result)
    for value in (CLIENT_SECRET, bao_server.token, vault_token, *apaleo.tokens):
        assert value not in text
    assert "access_token" not in result


def test_store_vault_with_direct_credentials(run, bao_server, hotel):
    result = run(
        vault_url=bao_server.url,
        vault_token=bao_server.token,
        store="vault",
        store_vault_path=f"pms/apaleo/{hotel}/access-token",
    )
    assert result["stored"] is True and result["credentials_source"] == "options"


def test_store_vault_retries_a_lost_check_and_set(store_run, bao_server, hotel, monkeypatch):
    """Someone writes the token between our read and our write: the write fails check-and-set, we read again."""
    real_write = _apaleo.vault_write
    calls = []

    def racing_write(*args, **kwargs):
        if not calls:
            bao_server.put(f"pms/apaleo/{hotel}/access-token", {"access_token": "theirs", "expires_at": "bad"})
        calls.append(args)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(_pms_token, "vault_write", racing_write)
    result = store_run()
    assert result["stored"] is True
    assert len(calls) == 2
    assert result["store_reason"].startswith("the stored token is invalid")  # what it read the second time
    assert bao_server.get(f"pms/apaleo/{hotel}/access-token")[1] == 2


def test_store_vault_someone_else_refreshed_meanwhile(store_run, bao_server, hotel, monkeypatch):
    """The write loses check-and-set to a fresh token written meanwhile: keep that one, report no change."""
    real_write = _apaleo.vault_write
    fresh = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3000))

    def racing_write(*args, **kwargs):
        bao_server.put(f"pms/apaleo/{hotel}/access-token", {"access_token": "theirs-fresh", "expires_at": fresh})
        return real_write(*args, **kwargs)

    monkeypatch.setattr(_pms_token, "vault_write", racing_write)
    result = store_run(diff=True)
    assert result["outcome"] == "ok"
    assert result["changed"] is False and result["stored"] is False
    assert result["diff"] == {"before": {}, "after": {}}
    assert result["store_reason"].startswith("the stored token is valid for ")
    assert bao_server.get(f"pms/apaleo/{hotel}/access-token")[0]["access_token"] == "theirs-fresh"
    assert_no_secret(result, "theirs-fresh")


def test_store_vault_write_applied_but_answer_lost(store_run, bao_server, hotel, monkeypatch):
    """A write that timed out was applied; its repeat fails check-and-set; the re-read finds our own token."""
    real_write = _apaleo.vault_write

    def applied_then_conflict(*args, **kwargs):
        real_write(*args, **kwargs)
        return dict(outcome="conflict", version=None, error="changed meanwhile")

    monkeypatch.setattr(_pms_token, "vault_write", applied_then_conflict)
    result = store_run()
    assert result["changed"] is True and result["stored"] is True
    assert result["store_reason"] == "the new token is stored"
    assert bao_server.get(f"pms/apaleo/{hotel}/access-token")[1] == 1


def test_store_vault_gives_up_after_repeated_conflicts(store_run, bao_server, hotel, monkeypatch):
    monkeypatch.setattr(
        _pms_token, "vault_write", lambda *a, **k: dict(outcome="conflict", version=None, error="changed meanwhile")
    )
    result = store_run()
    assert result["outcome"] == "store_failed"
    assert result["changed"] is False and result["stored"] is False
    assert result["msg"] == (
        f"Cannot store the token at vault:voicehive/pms/apaleo/{hotel}/access-token: it was changed by someone "
        "else 5 times in a row; run again. The new token is fine but was not stored."
    )


# --------------------------------------------------------------------------------------------
# store: kubernetes_secret (the fake API server)
# --------------------------------------------------------------------------------------------

NS = "voicehive"
SECRET = "apaleo-access-token"
SECRET_PATH = f"/api/v1/namespaces/{NS}/secrets/{SECRET}"


class Secrets:
    """The Secret in the fake API server (``kube_api``)."""

    def __init__(self, api):
        self.api = api

    def put(self, data):
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        metadata = {"name": SECRET, "namespace": NS}
        self.api.put(SECRET_PATH, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata,
                                   "data": encoded})  # fmt: skip

    @property
    def data(self):
        obj = self.api.get(SECRET_PATH)
        return None if obj is None else {k: base64.b64decode(v).decode() for k, v in obj["data"].items()}

    @property
    def writes(self):
        return self.api.writes


@pytest.fixture
def secrets_store(kube_api):
    return Secrets(kube_api)


@pytest.fixture
def connect():
    """The connection factory, spied on: whether (and how often) the module made a connection to the API server."""
    with mock.patch.object(_k8s, "connect", autospec=True, side_effect=_k8s.connect) as spy:
        yield spy


def secret_store_args(apaleo, kube_api):
    """Direct credentials, the token stored in the Secret of the fake API server."""
    return dict(
        identity_url=apaleo.url,
        api_url=apaleo.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        store="kubernetes_secret",
        store_secret_name=SECRET,
        host=kube_api.url,
        api_key="k8s-tok3n-SECRET",
    )


@pytest.fixture
def k8s_run(run_module, kube_api, connect, apaleo):
    def _run(check_mode=False, diff=False, **args):
        connect.reset_mock()
        module_args = dict(secret_store_args(apaleo, kube_api), **args)
        result = run_module(pms_token.main, module_args, check_mode=check_mode, diff=diff)
        return ("fail" if result["failed"] else "exit"), result, connect

    return _run


def test_store_secret_creates_then_keeps(k8s_run, secrets_store, apaleo):
    kind, first, factory = k8s_run(property_ids=["MUC"])
    assert kind == "exit" and factory.call_count == 1
    assert first["outcome"] == "ok"
    assert first["changed"] is True and first["stored"] is True
    assert first["store_target"] == f"secret:{NS}/{SECRET}"
    assert secrets_store.data == {"access_token": apaleo.tokens[0], "expires_at": first["expires_at"]}
    verb, body = secrets_store.writes[0]
    assert verb == "create" and body["type"] == "Opaque"
    assert body["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "voicehive-remediation"}
    assert_no_secret(first, "k8s-tok3n-SECRET", *apaleo.tokens)

    kind, second, _f = k8s_run(property_ids=["MUC"])
    assert kind == "exit"
    assert second["changed"] is False and second["stored"] is False
    assert len(secrets_store.writes) == 1
    assert second["store_reason"].startswith("the stored token is valid for ")


def test_store_secret_replaces_and_keeps_other_keys(k8s_run, secrets_store, apaleo):
    expired = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    secrets_store.put({"access_token": "old-one", "expires_at": expired, "other": "kept"})
    kind, result, _f = k8s_run(diff=True)
    assert kind == "exit"
    assert result["stored"] is True
    assert result["store_reason"].startswith("the stored token expired ")
    assert secrets_store.writes[-1][0] == "replace"
    assert secrets_store.data == {"access_token": apaleo.tokens[0], "expires_at": result["expires_at"], "other": "kept"}
    assert result["diff"]["before"] == {f"secret:{NS}/{SECRET}": {"access_token": "********", "expires_at": expired}}
    assert_no_secret(result, "old-one")


def test_store_secret_check_mode_writes_nothing(k8s_run, secrets_store):
    kind, result, _f = k8s_run(check_mode=True, diff=True)
    assert kind == "exit"
    assert result["changed"] is True and result["stored"] is False
    assert result["diff"]["before"] == {f"secret:{NS}/{SECRET}": None}
    assert secrets_store.writes == []


def test_store_secret_undecodable_value_is_replaced(k8s_run, secrets_store):
    secrets_store.put({"access_token": "x", "expires_at": "2099-01-01T00:00:00Z"})
    secrets_store.api.objects[SECRET_PATH]["data"]["expires_at"] = "%%% not base64"
    _kind, result, _f = k8s_run()
    assert result["stored"] is True
    assert result["store_reason"].startswith("the stored token is invalid")


def test_store_secret_conflict_is_retried(k8s_run, secrets_store):
    secrets_store.put({"access_token": "x", "expires_at": "bad"})
    secrets_store.api.before_write = lambda _api: secrets_store.put({"access_token": "y", "expires_at": "still bad"})
    kind, result, _f = k8s_run()
    assert kind == "exit"
    assert result["stored"] is True
    assert [verb for verb, _body in secrets_store.writes] == ["replace"]


def test_store_secret_forbidden_is_store_failed(k8s_run, secrets_store, apaleo):
    secrets_store.api.fail[("GET", SECRET_PATH)] = (403, 'secrets "apaleo-access-token" is forbidden')
    kind, result, _f = k8s_run()
    assert kind == "exit"
    assert result["outcome"] == "store_failed"
    assert result["token_obtained"] is True and result["stored"] is False and result["changed"] is False
    assert result["msg"].startswith(f"Cannot read Secret {NS}/{SECRET}: 403 Forbidden: ")
    assert "lack the RBAC permission to get secrets in namespace voicehive" in result["msg"]
    assert result["msg"].endswith("The new token is fine but was not stored.")
    assert ". ." not in result["msg"] and ".." not in result["msg"]
    assert_no_secret(result, "k8s-tok3n-SECRET", *apaleo.tokens)


def test_store_secret_not_written_unless_ok(k8s_run, secrets_store, apaleo):
    apaleo.token_always = (401, {"error": "invalid_client"})
    kind, result, _factory = k8s_run()
    assert kind == "exit"
    assert result["outcome"] == "credentials_rejected"
    assert secrets_store.writes == []


def test_store_secret_bad_input_is_refused_before_the_client_is_built(k8s_run, apaleo):
    kind, result, factory = k8s_run(store_namespace="Not A Namespace")
    assert kind == "fail"
    assert "store_namespace 'Not A Namespace' is not a valid Kubernetes name" in result["msg"]
    assert factory.call_count == 0 and apaleo.requests == []


def test_kubernetes_options_match_the_collection_spec():
    ours = _pms_token.kubernetes_connection_spec()
    theirs = _k8s.k8s_common_argument_spec()
    assert set(ours) == set(theirs)
    for name, spec in theirs.items():
        if name == "validate_certs":  # ours also covers Apaleo and Vault, without the K8S_AUTH_VERIFY_SSL fallback
            assert ours[name] == {k: v for k, v in spec.items() if k != "fallback"}
        else:
            assert ours[name] == spec, name


# --------------------------------------------------------------------------------------------
# the module as Ansible runs it: a separate Python, real no_log masking, no kubernetes import
# --------------------------------------------------------------------------------------------


def test_module_process_does_not_import_kubernetes(apaleo, module_process):
    module_args = {
        "identity_url": apaleo.url,
        "api_url": apaleo.url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "property_ids": ["MUC"],
    }
    result, kubernetes_imported = module_process("pms_token", module_args)
    assert result["outcome"] == "ok" and result["properties"]["MUC"]["accessible"] is True
    assert kubernetes_imported is False
    assert_no_secret(result, *apaleo.tokens)


def test_store_secret_without_the_kubernetes_library(apaleo, kube_api, module_process):
    """The Secret is written with the collection's own client: no kubernetes library needed, none imported."""
    module_args = secret_store_args(apaleo, kube_api)
    result, _imported = module_process("pms_token", module_args, kubernetes="blocked")
    assert result["outcome"] == "ok" and result["stored"] is True and result["changed"] is True
    assert [verb for verb, _body in kube_api.writes] == ["create"]
    assert module_process("pms_token", module_args)[1] is False  # kept: no import either where it is installed
    assert_no_secret(result, "k8s-tok3n-SECRET", *apaleo.tokens)


# --------------------------------------------------------------------------------------------
# hotels: several hotels in one call, validate only
# --------------------------------------------------------------------------------------------


@pytest.fixture
def hotels_run(run, bao_server):
    """Run with ``hotels`` (each item ``(hotel_id, property_ids)``, credentials at pms/apaleo/<id>/api-credentials)."""

    def _run(items, check_mode=False, **args):
        module_args = dict(
            client_id=None,
            client_secret=None,
            vault_url=bao_server.url,
            vault_token=bao_server.token,
            hotels=[
                dict(hotel_id=hid, vault_path=f"pms/apaleo/{hid}/api-credentials", property_ids=props)
                for hid, props in items
            ],
        )
        module_args.update(args)
        return run(check_mode=check_mode, **module_args)

    return _run


def test_hotels_sharing_credentials_get_one_token(hotels_run, bao_server, apaleo):
    first, second = "hotel-" + secrets.token_hex(4), "hotel-" + secrets.token_hex(4)
    put_credentials(bao_server, first)
    put_credentials(bao_server, second)
    result = hotels_run([(first, ["MUC"]), (second, ["BER"])], check_mode=True)
    assert result["failed"] is False
    assert result["changed"] is False
    assert result["outcome"] == "ok"
    assert result["msg"] == f"Got an Apaleo access token for each of 2 hotel(s) ({first}, {second})"
    assert apaleo.token_requests == 1
    assert result["attempts"] == 1
    assert result["token_obtained"] is True
    assert result["hotels"][first]["token_reused"] is False
    assert result["hotels"][second]["token_reused"] is True
    assert result["hotels"][second]["attempts"] == 0
    assert result["hotels"][first]["properties"]["MUC"]["accessible"] is True
    assert result["hotels"][second]["properties"]["BER"]["accessible"] is True
    assert result["hotels"][second]["vault_path"] == f"voicehive/pms/apaleo/{second}/api-credentials"
    assert result["stored"] is False
    assert "error" not in result
    assert_no_secret(result, bao_server.token, *apaleo.tokens)


def test_hotels_rejected_credentials_are_sent_once(hotels_run, bao_server, apaleo, sleeps):
    first, second = "hotel-" + secrets.token_hex(4), "hotel-" + secrets.token_hex(4)
    for hid in (first, second):
        put_credentials(bao_server, hid, client_id=CLIENT_ID, client_secret="rotated-away")
    result = hotels_run([(first, ["MUC"]), (second, [])])
    assert result["outcome"] == "credentials_rejected"
    assert apaleo.token_requests == 1
    assert sleeps == []
    assert result["attempts"] == 1
    assert result["token_obtained"] is False
    one, two = result["hotels"][first], result["hotels"][second]
    assert one["outcome"] == two["outcome"] == "credentials_rejected"
    assert one["token_status"] == 401
    assert two["attempts"] == 0
    assert "not requested again" in two["msg"]
    assert f"voicehive/pms/apaleo/{first}/api-credentials" in two["msg"]
    assert two["msg"].endswith(
        f"Update client_id and client_secret at Vault path voicehive/pms/apaleo/{second}/api-credentials."
    )
    assert result["error"] == result["msg"]
    assert result["msg"].startswith(f"{first}: Cannot get an Apaleo access token")
    assert_no_secret(result, "rotated-away", bao_server.token)


def test_hotels_outcome_is_the_worst_and_missing_credentials_are_named(hotels_run, bao_server, apaleo):
    good, missing, elsewhere = ("hotel-" + secrets.token_hex(4) for _n in range(3))
    put_credentials(bao_server, good)
    put_credentials(bao_server, elsewhere)
    result = hotels_run([(good, ["MUC"]), (missing, []), (elsewhere, ["FRA"])])
    assert result["outcome"] == "credentials_missing"
    assert result["hotels"][good]["outcome"] == "ok"
    assert result["hotels"][missing]["outcome"] == "credentials_missing"
    assert result["hotels"][missing]["token_obtained"] is False
    assert result["hotels"][elsewhere]["outcome"] == "property_not_accessible"
    assert f"voicehive/pms/apaleo/{missing}/api-credentials" in result["msg"]
    assert good not in result["msg"]
    assert apaleo.token_requests == 1


def test_hotels_after_apaleo_was_unavailable_the_rest_are_not_tried(hotels_run, bao_server, apaleo, sleeps):
    first, second = "hotel-" + secrets.token_hex(4), "hotel-" + secrets.token_hex(4)
    put_credentials(bao_server, first)
    put_credentials(bao_server, second, client_id="other", client_secret="other-secret")
    apaleo.token_always = (503, {"error": "service_unavailable"})
    result = hotels_run([(first, ["MUC"]), (second, ["BER"])], retries=1)
    assert result["outcome"] == "apaleo_unavailable"
    assert apaleo.token_requests == 2  # the first hotel's request and its one retry, nothing for the second
    assert sleeps == [0.5]
    assert result["hotels"][second] | {"vault_path": None} == dict(
        {k: None for k in _pms_token.HOTEL_KEYS},
        outcome="apaleo_unavailable",
        msg="Not tried: Apaleo was unavailable for a hotel before.",
        error="Not tried: Apaleo was unavailable for a hotel before.",
        token_obtained=False,
        token_reused=False,
        attempts=0,
        properties={},
    )
    assert result["hotels"][second]["vault_path"] == f"voicehive/pms/apaleo/{second}/api-credentials"


@pytest.mark.parametrize(
    ("items", "args", "message"),
    [
        ([], {}, "hotels must name at least one hotel"),
        ([("h1", []), ("h1", [])], {}, "hotels must not name a hotel_id twice"),
        ([(" ", [])], {}, "hotels must not contain an empty hotel_id"),
        ([("h1", [""])], {}, "hotels must not contain empty property ids"),
        ([("h1", [])], dict(store="vault", store_vault_path="pms/x/token"), "store must be none"),
        ([("h1", [])], dict(vault_client_secret_field=" "), "vault_client_secret_field must not be empty"),
        ([("h1", [])], dict(vault_token=" "), "vault_token must not be empty"),
    ],
)
def test_hotels_bad_input_is_refused_before_any_request(hotels_run, apaleo, items, args, message):
    result = hotels_run(items, **args)
    assert result["failed"] is True
    assert message in result["msg"]
    assert apaleo.requests == []


def test_hotels_empty_vault_path_is_refused(run, bao_server, apaleo):
    hotels = [dict(hotel_id="h1", vault_path="/")]
    result = run(client_id=None, client_secret=None, vault_url=bao_server.url, vault_token="t", hotels=hotels)
    assert result["failed"] is True
    assert "hotels must not contain an empty vault_path" in result["msg"]


@pytest.mark.parametrize(
    "args",
    [
        dict(vault_path="pms/x"),
        dict(client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
        dict(property_ids=["MUC"]),
    ],
)
def test_hotels_with_single_hotel_options_is_refused(run, bao_server, apaleo, args):
    module_args = dict(client_id=None, client_secret=None, vault_url=bao_server.url, vault_token="t")
    module_args.update(args, hotels=[dict(hotel_id="h1", vault_path="pms/h1")])
    result = run(**module_args)
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]
    assert apaleo.requests == []
    assert_no_secret(result)


def test_hotels_need_vault(run, apaleo):
    result = run(client_id=None, client_secret=None, hotels=[dict(hotel_id="h1", vault_path="pms/h1")])
    assert result["failed"] is True
    assert "missing parameter(s) required by 'hotels'" in result["msg"]
