# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_apaleo: the HTTP helper and its retries, what Apaleo's and Vault's answers mean, the token's times.

GETs go to conftest's ``http_server``; the POSTs (token request, Vault write) go through ``send``
patched at its factory, since that server answers GET only. pms_token's tests cover the POSTs against
a real server and a real OpenBao.
"""

from __future__ import annotations

import base64
import json
import socket
import time

import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils import _apaleo
from ansible_collections.voicehive.remediation.plugins.module_utils._apaleo import (
    Masker,
    Response,
    Unreachable,
    basic_auth,
    check_property,
    check_url,
    classify_token_answer,
    expires_in_of,
    iso_utc,
    kv2_url,
    parse_iso,
    request_token,
    send,
    send_with_retries,
    token_needs_refresh,
    vault_read,
    vault_write,
)

SECRET = "client-s3cret-value"
TOKEN = "eyJ.access-token-value"
VAULT_TOKEN = "hvs.unit-vault-token"
CREDENTIALS = {"client_id": "hotel-001-client", "client_secret": SECRET}


@pytest.fixture(autouse=True)
def sleeps(monkeypatch):
    recorded: list[float] = []
    monkeypatch.setattr(_apaleo, "backoff_sleep", recorded.append)
    return recorded


@pytest.fixture
def closed_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


class FakeTransport:
    """Stands in for ``send``: answers from a list (a Response or an exception), records every call."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, method, url, timeout, headers=None, data=None, context=None):
        self.calls.append(dict(method=method, url=url, timeout=timeout, headers=headers or {}, data=data))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def json_response(status, body, headers=None):
    return Response(status, json.dumps(body).encode(), headers)


# --------------------------------------------------------------------------------------------
# send and retries
# --------------------------------------------------------------------------------------------


def test_send_returns_any_status(http_server):
    base, routes = http_server
    routes.routes["/ok"] = (200, {"a": 1})
    routes.routes["/bad"] = (500, "boom")
    ok = send("GET", base + "/ok", 2, headers={"X-Test": "1"})
    assert ok.status == 200 and ok.json() == {"a": 1}
    assert ok.headers["content-type"] == "application/json"
    bad = send("GET", base + "/bad", 2)
    assert bad.status == 500 and bad.json() is None and bad.text() == "boom"
    assert send("GET", base + "/none", 2).status == 404
    assert routes.requests[0]["headers"]["X-Test"] == "1"
    assert routes.requests[0]["headers"]["User-Agent"] == "voicehive-remediation"


def test_send_refused_is_unreachable(closed_url):
    with pytest.raises(Unreachable, match="ConnectionRefusedError"):
        send("GET", closed_url + "/x", 2)


def test_send_timeout_is_unreachable(http_server):
    base, routes = http_server
    # the answer comes after 2 s; send gives up at its 0.2 s timeout. The bound leaves room for a starved test
    # process (make test runs the unit tests at nice 19 beside the integration; 0.55 s was once exceeded there)
    routes.routes["/slow"] = lambda path, headers: (time.sleep(2.0), (200, "late"))[1]
    started = time.monotonic()
    with pytest.raises(Unreachable, match=r"^timed out after 0.2 s$"):
        send("GET", base + "/slow", 0.2)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/x", "identity.apaleo.com/connect/token"])
def test_send_refuses_other_schemes(url):
    with pytest.raises(Unreachable, match="not an http"):
        send("GET", url, 1)


def test_response_text_is_one_short_line():
    response = Response(500, ("line one\n  line   two " + "x" * 400).encode())
    text = response.text(limit=30)
    assert text == "line one line two xxxxxxxxxxxx..."


@pytest.mark.parametrize(
    ("answers", "retries", "attempts", "sleeps_expected", "status"),
    [
        ([Response(200, b"")], 3, 1, [], 200),
        ([Response(404, b"")], 3, 1, [], 404),
        ([Response(401, b"")], 3, 1, [], 401),
        ([Response(429, b"")], 3, 1, [], 429),
        ([Response(500, b""), Response(200, b"")], 3, 2, [0.5], 200),
        ([Response(503, b"")], 3, 4, [0.5, 1.0, 2.0], 503),
        ([Response(503, b"")], 0, 1, [], 503),
        ([Unreachable("timed out after 1 s"), Response(200, b"")], 3, 2, [0.5], 200),
        ([Unreachable("ConnectionRefusedError: refused")], 2, 3, [0.5, 1.0], None),
    ],
)
def test_send_with_retries(sleeps, answers, retries, attempts, sleeps_expected, status):
    transport = FakeTransport(*answers)
    result = send_with_retries(lambda: transport("GET", "http://x", 1), retries)
    assert result.attempts == attempts == len(transport.calls)
    assert sleeps == sleeps_expected
    assert (result.response.status if result.response else None) == status
    assert (result.error is None) == (status is not None)
    assert result.latency_ms >= 0


def test_send_with_retries_custom_predicate(sleeps):
    transport = FakeTransport(Response(503, b""))
    result = send_with_retries(lambda: transport("GET", "http://x", 1), 3, retry_on=lambda r: False)
    assert result.attempts == 1 and sleeps == []


# --------------------------------------------------------------------------------------------
# Apaleo
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "payload", "outcome"),
    [
        (200, {"access_token": "t", "expires_in": 3600, "token_type": "Bearer"}, "ok"),
        (200, {"access_token": ""}, "apaleo_unavailable"),
        (200, {"token_type": "Bearer"}, "apaleo_unavailable"),
        (200, None, "apaleo_unavailable"),
        (400, {"error": "invalid_client"}, "credentials_rejected"),
        (400, {"error": "unauthorized_client"}, "credentials_rejected"),
        (403, {"error": "unauthorized_client"}, "credentials_rejected"),
        (401, {"error": "invalid_client"}, "credentials_rejected"),
        (401, None, "credentials_rejected"),
        (400, {"error": "unsupported_grant_type"}, "token_request_rejected"),
        (400, {"error": "invalid_scope"}, "token_request_rejected"),
        (404, None, "token_request_rejected"),
        (429, {"error": "too_many_requests"}, "apaleo_unavailable"),
        (500, {"error": "internal_error"}, "apaleo_unavailable"),
        (503, {"error": "invalid_client"}, "apaleo_unavailable"),
    ],
)
def test_classify_token_answer(status, payload, outcome):
    assert classify_token_answer(status, payload) == outcome


@pytest.mark.parametrize(
    ("payload", "seconds"),
    [
        ({"expires_in": 3600}, 3600),
        ({"expires_in": 120}, 120),
        ({"expires_in": "300"}, 300),
        ({"expires_in": 59.9}, 59),
        ({}, 3600),
        ({"expires_in": None}, 3600),
        ({"expires_in": "soon"}, 3600),
        ({"expires_in": True}, 3600),
        ({"expires_in": 0}, 3600),
        ({"expires_in": -5}, 3600),
        (None, 3600),
    ],
)
def test_expires_in_of(payload, seconds):
    assert expires_in_of(payload) == seconds


@pytest.mark.parametrize(
    ("client_id", "secret", "pair"),
    [
        ("hotel-001", "abc_DEF-123.~", "hotel-001:abc_DEF-123.~"),
        ("id", "a+b/c=d:e f%", "id:a%2Bb%2Fc%3Dd%3Ae+f%25"),
    ],
)
def test_basic_auth_form_encodes_then_base64(client_id, secret, pair):
    header = basic_auth(client_id, secret)
    assert header.startswith("Basic ")
    assert base64.b64decode(header[6:]).decode() == pair


def test_request_token_ok(monkeypatch):
    transport = FakeTransport(json_response(200, {"access_token": TOKEN, "expires_in": 1800, "token_type": "Bearer"}))
    monkeypatch.setattr(_apaleo, "send", transport)
    result = request_token("https://identity.apaleo.com/", "hotel-001", SECRET, 7, 3)
    assert result["outcome"] == "ok" and result["status"] == 200 and result["attempts"] == 1
    assert result["access_token"] == TOKEN and result["expires_in"] == 1800 and result["token_type"] == "Bearer"
    assert result["error"] is None
    call = transport.calls[0]
    assert call["method"] == "POST" and call["url"] == "https://identity.apaleo.com/connect/token"
    assert call["timeout"] == 7
    assert call["data"] == b"grant_type=client_credentials"
    assert call["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert call["headers"]["Authorization"] == basic_auth("hotel-001", SECRET)


def test_request_token_rejected_is_masked_and_not_retried(monkeypatch, sleeps):
    answer = json_response(400, {"error": "invalid_client", "error_description": f"secret {SECRET} unknown"})
    transport = FakeTransport(answer)
    monkeypatch.setattr(_apaleo, "send", transport)
    result = request_token("https://id", "hotel-001", SECRET, 1, 3)
    assert result["outcome"] == "credentials_rejected"
    assert result["error"] == "https://id/connect/token answered 400 invalid_client: secret ******** unknown"
    assert len(transport.calls) == 1 and sleeps == []
    assert "access_token" not in result


def test_request_token_unavailable_after_retries(monkeypatch, sleeps):
    monkeypatch.setattr(_apaleo, "send", FakeTransport(Response(502, b"<html>Bad Gateway</html>")))
    result = request_token("https://id", "hotel-001-client", SECRET, 1, 2)
    assert result["outcome"] == "apaleo_unavailable"
    assert result["attempts"] == 3 and sleeps == [0.5, 1.0]
    assert result["error"] == "https://id/connect/token answered 502: <html>Bad Gateway</html>, after 3 attempts"


def test_request_token_no_answer(monkeypatch):
    monkeypatch.setattr(_apaleo, "send", FakeTransport(Unreachable("timed out after 1 s")))
    result = request_token("https://id", "hotel-001-client", SECRET, 1, 0)
    assert result["outcome"] == "apaleo_unavailable" and result["status"] is None
    assert result["error"] == "https://id/connect/token did not answer (timed out after 1 s), after 1 attempt"


def test_request_token_token_in_a_broken_answer_is_never_echoed(monkeypatch):
    monkeypatch.setattr(_apaleo, "send", FakeTransport(json_response(200, {"access_token": None, "x": TOKEN})))
    result = request_token("https://id", "hotel-001-client", SECRET, 1, 0)
    assert result["outcome"] == "apaleo_unavailable"
    assert TOKEN not in json.dumps(result)


def apaleo_property(prop, token):
    """What Apaleo's inventory API answers (as lab/sims/apaleo.py gives it) for ``prop`` with ``token``."""
    if token != TOKEN:
        return json_response(401, {"error": "unauthorized", "detail": "invalid_token"})
    if prop == "FRA":
        return json_response(403, {"error": "forbidden", "detail": "no access to property FRA"})
    if prop == "ERR":
        return json_response(500, {"error": "internal_error", "detail": "Apaleo internal error"})
    if prop == "BUSY":
        return json_response(429, {"error": "too_many_requests"})
    if prop == "MUC":
        return json_response(200, {"id": "MUC", "code": "MUC", "name": "VoiceHive Lab Hotel MUC", "status": "Live"})
    return json_response(404, {"error": "not_found", "detail": f"property {prop} not found"})


@pytest.mark.parametrize(
    ("prop", "token", "outcome", "status", "accessible", "attempts", "error"),
    [
        ("MUC", TOKEN, "ok", 200, True, 1, None),
        ("FRA", TOKEN, "property_not_accessible", 403, False, 1, "403: no access to property FRA (the client has no"),
        ("XXX", TOKEN, "property_not_accessible", 404, False, 1, "404: property XXX not found (no such property"),
        ("MUC", "stale", "property_not_accessible", 401, False, 1, "401: invalid_token (the API refused the access"),
        ("ERR", TOKEN, "apaleo_unavailable", 500, None, 4, "500: Apaleo internal error, after 4 attempts"),
        ("BUSY", TOKEN, "apaleo_unavailable", 429, None, 1, "429: too_many_requests, after 1 attempt"),
    ],
)  # fmt: skip
def test_check_property(monkeypatch, sleeps, prop, token, outcome, status, accessible, attempts, error):
    transport = FakeTransport(apaleo_property(prop, token))
    monkeypatch.setattr(_apaleo, "send", transport)
    result = check_property("https://api.apaleo.com", prop, token, 2, 3)
    assert result["outcome"] == outcome
    assert result["status"] == status
    assert result["accessible"] is accessible
    assert result["attempts"] == attempts == len(transport.calls)
    assert len(sleeps) == attempts - 1
    if error is None:
        assert result["error"] is None
    else:
        assert error in result["error"]
    assert token not in json.dumps(result)
    assert transport.calls[0]["method"] == "GET"
    assert transport.calls[0]["url"] == f"https://api.apaleo.com/inventory/v1/properties/{prop}"


def test_check_property_over_http(http_server):
    """The real request: bearer header, quoted id, the answer read."""
    base, routes = http_server

    def route(path, headers):
        return (200, {"id": "a b"}) if headers.get("Authorization") == f"Bearer {TOKEN}" else (401, {})

    routes.routes["/inventory/v1/properties/a%20b%2Fc"] = route
    result = check_property(base + "/", "a b/c", TOKEN, 2, 0)
    assert result["outcome"] == "ok" and result["status"] == 200 and result["accessible"] is True
    assert [r["path"] for r in routes.requests] == ["/inventory/v1/properties/a%20b%2Fc"]
    assert routes.requests[0]["headers"]["Accept"] == "application/json"


def test_check_property_unreachable(closed_url, sleeps):
    result = check_property(closed_url, "MUC", TOKEN, 1, 1)
    assert result["outcome"] == "apaleo_unavailable" and result["status"] is None and result["accessible"] is None
    assert result["attempts"] == 2 and sleeps == [0.5]
    assert "did not answer (ConnectionRefusedError" in result["error"]


# --------------------------------------------------------------------------------------------
# Vault KV v2
# --------------------------------------------------------------------------------------------


def test_kv2_url():
    assert kv2_url("https://vault:8200/", "voicehive", "pms/apaleo/hotel-001/api-credentials") == (
        "https://vault:8200/v1/voicehive/data/pms/apaleo/hotel-001/api-credentials"
    )
    assert kv2_url("http://v", "/secret/", "/a b/c/") == "http://v/v1/secret/data/a%20b/c"


def kv2_answer(data, version=3):
    metadata = {"created_time": "2026-11-28T16:00:00Z", "deletion_time": "", "destroyed": False, "version": version}
    return {"request_id": "r", "data": {"data": data, "metadata": metadata}}


@pytest.mark.parametrize(
    ("status", "body", "outcome", "data", "version", "error"),
    [
        (200, kv2_answer(CREDENTIALS), "ok", CREDENTIALS, 3, None),
        (404, {"errors": []}, "credentials_missing", None, 0, "Vault secret voicehive/pms/x does not exist"),
        (404, kv2_answer(None, version=4), "credentials_missing", None, 4, "has no data (its latest version is"),
        (200, kv2_answer(None, version=2), "credentials_missing", None, 2, "has no data"),
        (200, kv2_answer("text"), "vault_unavailable", None, 3, "is not a KV v2 secret"),
        (403, {"errors": ["permission denied"]}, "vault_denied", None, 0,
         "Vault secret voicehive/pms/x: Vault refused the token (403: permission denied); check vault_token"),
        (401, {}, "vault_denied", None, 0, "Vault refused the token (401)"),
        (503, {"errors": ["Vault is sealed"]}, "vault_unavailable", None, 0,
         "Vault secret voicehive/pms/x: Vault is sealed (503: Vault is sealed); unseal it"),
        (500, {"errors": ["internal error"]}, "vault_unavailable", None, 0,
         "Vault answered 500: internal error, after 3 attempts"),
        (400, {"errors": ["bad request"]}, "vault_unavailable", None, 0, "Vault answered 400: bad request"),
    ],
)  # fmt: skip
def test_vault_read(monkeypatch, sleeps, status, body, outcome, data, version, error):
    transport = FakeTransport(json_response(status, body))
    monkeypatch.setattr(_apaleo, "send", transport)
    result = vault_read("http://vault:8200", VAULT_TOKEN, "voicehive", "pms/x", 2, 2)
    assert result["outcome"] == outcome
    assert result["data"] == data
    assert result["version"] == version
    if error is None:
        assert result["error"] is None
    else:
        assert error in result["error"]
    retried = status == 500
    assert len(transport.calls) == (3 if retried else 1)
    assert sleeps == ([0.5, 1.0] if retried else [])
    assert transport.calls[0]["method"] == "GET"
    assert transport.calls[0]["url"] == "http://vault:8200/v1/voicehive/data/pms/x"
    assert transport.calls[0]["headers"]["X-Vault-Token"] == VAULT_TOKEN
    assert VAULT_TOKEN not in json.dumps({k: v for k, v in result.items() if k != "data"})


def test_vault_read_over_http(http_server):
    base, routes = http_server
    routes.routes["/v1/voicehive/data/pms/apaleo/hotel-001/api-credentials"] = (200, kv2_answer({"client_id": "c"}, 7))
    result = vault_read(base, VAULT_TOKEN, "voicehive", "pms/apaleo/hotel-001/api-credentials", 2, 0)
    assert (result["outcome"], result["data"], result["version"]) == ("ok", {"client_id": "c"}, 7)
    assert routes.requests[0]["headers"]["X-Vault-Token"] == VAULT_TOKEN


def test_vault_read_unreachable(closed_url, sleeps):
    result = vault_read(closed_url, VAULT_TOKEN, "voicehive", "pms/x", 1, 1)
    assert result["outcome"] == "vault_unavailable"
    assert result["error"].startswith("Vault secret voicehive/pms/x: Vault did not answer (ConnectionRefusedError")
    assert result["error"].endswith("after 2 attempts")
    assert sleeps == [0.5]


def test_vault_errors_are_masked(monkeypatch):
    answer = json_response(403, {"errors": [f"token {VAULT_TOKEN} is not allowed"]})
    monkeypatch.setattr(_apaleo, "send", FakeTransport(answer))
    result = vault_read("http://v", VAULT_TOKEN, "voicehive", "pms/x", 1, 0)
    assert "token ******** is not allowed" in result["error"]


@pytest.mark.parametrize(
    ("answer", "outcome", "version", "error"),
    [
        (json_response(200, {"data": {"version": 5}}), "ok", 5, None),
        (Response(204, b""), "ok", None, None),
        (json_response(400, {"errors": ["check-and-set parameter did not match the current version"]}), "conflict",
         None, "Vault secret voicehive/pms/t was changed meanwhile"),
        (json_response(403, {"errors": ["1 error occurred:\n\t* permission denied\n\n"]}), "vault_denied", None,
         "Vault refused the token (403: 1 error occurred: * permission denied)"),
        (json_response(503, {"errors": ["Vault is sealed"]}), "vault_unavailable", None, "Vault is sealed"),
    ],
)  # fmt: skip
def test_vault_write(monkeypatch, sleeps, answer, outcome, version, error):
    transport = FakeTransport(answer)
    monkeypatch.setattr(_apaleo, "send", transport)
    result = vault_write("http://v", VAULT_TOKEN, "voicehive", "pms/t", {"access_token": TOKEN}, 4, 1, 3)
    assert result["outcome"] == outcome and result["version"] == version
    if error is None:
        assert result["error"] is None
    else:
        assert error in result["error"]
    assert len(transport.calls) == 1 and sleeps == []  # 4xx and sealed are not retried
    call = transport.calls[0]
    assert call["method"] == "POST" and call["url"] == "http://v/v1/voicehive/data/pms/t"
    assert json.loads(call["data"]) == {"data": {"access_token": TOKEN}, "options": {"cas": 4}}
    assert call["headers"]["X-Vault-Token"] == VAULT_TOKEN


def test_vault_write_without_cas_and_masked(monkeypatch):
    transport = FakeTransport(json_response(500, {"errors": [f"cannot store {TOKEN}"]}))
    monkeypatch.setattr(_apaleo, "send", transport)
    result = vault_write("http://v", VAULT_TOKEN, "voicehive", "pms/t", {"access_token": TOKEN}, None, 1, 1)
    assert json.loads(transport.calls[0]["data"]) == {"data": {"access_token": TOKEN}}
    assert result["outcome"] == "vault_unavailable" and len(transport.calls) == 2
    assert TOKEN not in result["error"] and "cannot store ********" in result["error"]


# --------------------------------------------------------------------------------------------
# URLs, masks, times, the stored token
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://identity.apaleo.com", None),
        ("http://127.0.0.1:18081/", None),
        ("ftp://x", "'ftp://x' is not an http(s) URL"),
        ("identity.apaleo.com", "'identity.apaleo.com' is not an http(s) URL"),
        ("https://", "'https://' is not an http(s) URL"),
        ("", "'' is not an http(s) URL"),
        ("https://u:p@host", "credentials in the URL are not accepted"),
        ("https://host/?a=1", "the URL must not have a query or a fragment"),
    ],
)
def test_check_url(url, problem):
    assert check_url(url) == problem


def test_masker():
    mask = Masker(SECRET, None, "")
    assert mask(f"a {SECRET} b") == "a ******** b"
    mask.add(TOKEN)
    assert mask(f"{TOKEN}/{SECRET} https://user:pw@host") == "********/******** https://********@host"


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2026-11-28T16:00:00Z", 1795881600.0),
        ("2026-11-28T16:00:00", 1795881600.0),
        ("2026-11-28 16:00:00z", 1795881600.0),
        ("2026-11-28T16:00:00.250Z", 1795881600.25),
        ("2026-11-28T18:00:00+02:00", 1795881600.0),
        ("2026-11-28T14:30:00-0130", 1795881600.0),
        ("2026-11-28", None),
        ("next tuesday", None),
        ("2026-13-28T16:00:00Z", None),
        (1795881600, None),
        (None, None),
    ],
)
def test_parse_iso(text, epoch):
    assert parse_iso(text) == epoch


def test_iso_utc_round_trip():
    assert iso_utc(1795881600.9) == "2026-11-28T16:00:00Z"
    assert parse_iso(iso_utc(1795881600)) == 1795881600


NOW = 1795881600.0
NO_ACCESS_TOKEN = "the stored token is invalid: it has no access_token"


@pytest.mark.parametrize(
    ("stored", "refresh", "reason"),
    [
        (None, True, "no token is stored"),
        ({}, True, "no token is stored"),
        ({"access_token": "", "expires_at": "2026-11-28T17:00:00Z"}, True, NO_ACCESS_TOKEN),
        ({"access_token": 5, "expires_at": "2026-11-28T17:00:00Z"}, True, NO_ACCESS_TOKEN),
        ({"access_token": "t"}, True, "the stored token is invalid: expires_at is missing or not an ISO 8601 time"),
        ({"access_token": "t", "expires_at": "soon"}, True,
         "the stored token is invalid: expires_at is missing or not an ISO 8601 time"),
        ({"access_token": "t", "expires_at": "2026-11-28T15:59:00Z"}, True, "the stored token expired 60 s ago"),
        ({"access_token": "t", "expires_at": "2026-11-28T16:00:00Z"}, True, "the stored token expired 0 s ago"),
        ({"access_token": "t", "expires_at": "2026-11-28T16:10:00Z"}, True,
         "the stored token expires in 600 s, within refresh_before=600 s"),
        ({"access_token": "t", "expires_at": "2026-11-28T16:10:01Z"}, False,
         "the stored token is valid for 601 s more"),
    ],
)  # fmt: skip
def test_token_needs_refresh(stored, refresh, reason):
    assert token_needs_refresh(stored, NOW, 600) == (refresh, reason)


def test_token_needs_refresh_zero_window():
    assert token_needs_refresh({"access_token": "t", "expires_at": "2026-11-28T16:00:01Z"}, NOW, 0) == (
        False,
        "the stored token is valid for 1 s more",
    )
