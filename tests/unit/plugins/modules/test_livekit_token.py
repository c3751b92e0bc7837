# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""livekit_token: the token it builds (checked with PyJWT too), its options, and the server probe."""

from __future__ import annotations

import json
import socket
import time

import jwt
import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils import _livekit
from ansible_collections.voicehive.remediation.plugins.modules import livekit_token

API_KEY = "APIunit0001"
API_SECRET = "lk-unit-secret-0123456789abcdefghijklmnop"


@pytest.fixture
def tokens(monkeypatch):
    """Every token the module builds, captured so tests can check it (and that it is never returned)."""
    built = []
    real = _livekit.encode_hs256

    def capture(claims, secret):
        token = real(claims, secret)
        built.append(token)
        return token

    monkeypatch.setattr(livekit_token, "encode_hs256", capture)
    for name in ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_URL"):
        monkeypatch.delenv(name, raising=False)
    return built


@pytest.fixture
def run(run_module, tokens):
    def _run(check_mode=False, **args):
        module_args = dict(api_key=API_KEY, api_secret=API_SECRET)
        module_args.update(args)
        module_args = {k: v for k, v in module_args.items() if v is not None}
        return run_module(livekit_token.main, module_args, check_mode=check_mode)

    return _run


def assert_no_secret(result, tokens):
    text = json.dumps(result)
    for value in (API_SECRET, API_KEY, *tokens):
        assert value not in text


def test_defaults_build_a_valid_token(run, tokens):
    before = int(time.time())
    result = run()
    assert result["failed"] is False and result["changed"] is False
    assert result["token_valid"] is True
    assert result["errors"] == []
    assert result["checks"] == dict.fromkeys(_livekit.CHECKS, True)
    claims = result["claims"]
    assert claims["iss"] == "********"
    assert claims["sub"] == "voicehive-remediation-probe"
    assert before <= claims["nbf"] <= int(time.time())
    assert claims["exp"] == claims["nbf"] + 300
    assert claims["video"] == {"roomJoin": True, "canPublish": False, "canSubscribe": True}
    assert result["issued_at"] == _livekit.iso_utc(claims["nbf"])
    assert result["expires_at"] == _livekit.iso_utc(claims["exp"])
    assert result["server"] is None
    assert result["msg"] == (
        f"Built and verified a LiveKit access token for voicehive-remediation-probe, valid until {result['expires_at']}"
    )
    assert "token" not in result
    assert len(tokens) == 1
    assert_no_secret(result, tokens)


def test_token_is_a_livekit_token_pyjwt_accepts(run, tokens):
    result = run(identity="agent-7", room="hotel-001-call", ttl=600, can_publish=True, can_subscribe=False)
    assert result["token_valid"] is True
    decoded = jwt.decode(tokens[0], API_SECRET, algorithms=["HS256"], issuer=API_KEY)
    assert decoded == {
        "iss": API_KEY,
        "sub": "agent-7",
        "nbf": result["claims"]["nbf"],
        "exp": result["claims"]["nbf"] + 600,
        "video": {"roomJoin": True, "room": "hotel-001-call", "canPublish": True, "canSubscribe": False},
    }
    assert jwt.get_unverified_header(tokens[0])["alg"] == "HS256"
    assert result["msg"].startswith("Built and verified a LiveKit access token for agent-7 in room hotel-001-call,")
    assert_no_secret(result, tokens)


def test_check_mode_is_the_same(run, tokens):
    result = run(check_mode=True)
    assert result["token_valid"] is True and result["changed"] is False


def test_credentials_from_the_environment(run_module, tokens, monkeypatch):
    monkeypatch.setenv("LIVEKIT_API_KEY", API_KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", API_SECRET)
    result = run_module(livekit_token.main, {})
    assert result["token_valid"] is True
    jwt.decode(tokens[0], API_SECRET, algorithms=["HS256"], issuer=API_KEY)


def test_a_failed_verification_is_reported_not_failed(run, tokens, monkeypatch):
    """If the token built did not verify (a broken signer), the result says which check failed."""
    monkeypatch.setattr(livekit_token, "encode_hs256", lambda claims, secret: _livekit.encode_hs256(claims, "other"))
    result = run()
    assert result["failed"] is False
    assert result["token_valid"] is False
    assert result["checks"]["signature"] is False
    assert result["errors"] == ["the signature does not match the API secret"]
    assert result["msg"] == (
        "Cannot verify the LiveKit access token built for voicehive-remediation-probe: "
        "the signature does not match the API secret"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (dict(ttl=9), "ttl must be between 10 and 86400 seconds, got 9"),
        (dict(ttl=86401), "ttl must be between 10 and 86400 seconds, got 86401"),
        (dict(api_key=" "), "api_key must not be empty"),
        (dict(api_secret=""), "api_secret must not be empty"),
        (dict(identity=""), "identity must not be empty"),
        (dict(room=" "), "room must not be empty when given"),
        (dict(timeout=0), "timeout must be above 0 seconds, got 0"),
        (dict(server_url="livekit.voicehive.com"), "server_url: 'livekit.voicehive.com' is not a ws://"),
        (dict(server_url="wss://u:pw@livekit"), "server_url: credentials in the URL are not accepted"),
    ],
)
def test_bad_input_fails(run, tokens, args, message):
    result = run(**args)
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot build a LiveKit access token: ")
    assert message in result["msg"]
    assert tokens == []
    assert API_SECRET not in json.dumps(result)


@pytest.mark.parametrize("ttl", [10, 86400])
def test_ttl_bounds_are_inclusive(run, ttl):
    result = run(ttl=ttl)
    assert result["token_valid"] is True
    assert result["claims"]["exp"] - result["claims"]["nbf"] == ttl


def test_missing_secret_is_refused_by_the_argument_spec(run_module, tokens):
    result = run_module(livekit_token.main, {"api_key": API_KEY})
    assert result["failed"] is True
    assert "missing required arguments: api_secret" in result["msg"]


def test_probe_http_server(run, tokens, http_server):
    base, routes = http_server
    routes.routes["/"] = (200, "OK")
    result = run(server_url=base)
    server = result["server"]
    assert server["reachable"] is True and server["healthy"] is True
    assert server["http_status"] == 200 and server["error"] is None
    assert server["host"] == "127.0.0.1" and server["port"] == int(base.rsplit(":", 1)[1])
    assert server["latency_ms"] >= 0 and server["http_latency_ms"] >= 0
    assert [r["path"] for r in routes.requests] == ["/"]
    assert "; LiveKit server 127.0.0.1:" in result["msg"] and " answers (" in result["msg"]
    assert_no_secret(result, tokens)


def test_probe_http_server_not_ok(run, http_server):
    base, routes = http_server
    routes.routes["/"] = (503, "starting")
    result = run(server_url=base)
    assert result["failed"] is False
    assert result["token_valid"] is True
    assert result["server"]["healthy"] is False and result["server"]["http_status"] == 503
    assert result["msg"].endswith(f"is not healthy: GET {base}/ answered 503, expected 200")


def test_probe_ws_server_is_tcp_only(run, http_server):
    base, routes = http_server
    result = run(server_url=base.replace("http://", "ws://"))
    assert result["server"]["reachable"] is True and result["server"]["healthy"] is True
    assert result["server"]["http_status"] is None
    assert routes.requests == []


def test_probe_server_down_is_reported(run, monkeypatch):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    monkeypatch.setenv("LIVEKIT_URL", f"wss://127.0.0.1:{port}")
    result = run()
    assert result["failed"] is False
    assert result["token_valid"] is True
    assert result["server"]["reachable"] is False and result["server"]["healthy"] is False
    assert result["server"]["url"] == f"wss://127.0.0.1:{port}"
    assert f"LiveKit server 127.0.0.1:{port} is not healthy: no TCP connection to 127.0.0.1:{port}: " in result["msg"]


def _list_rooms(answer):
    """A ListRooms route checking the bearer token like the LiveKit server does, then answering ``answer``."""
    seen = []

    def route(path, headers):
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        seen.append(jwt.decode(token, API_SECRET, algorithms=["HS256"]))
        return answer

    return route, seen


def test_api_check_accepted_on_the_ws_url(run, tokens, http_server):
    base, routes = http_server
    route, seen = _list_rooms((200, {"rooms": []}))
    routes.routes[_livekit.LIST_ROOMS] = route
    result = run(server_url=base.replace("http://", "ws://"), api_check=True)
    server = result["server"]
    assert server["healthy"] is True and server["http_status"] is None
    assert server["api_status"] == 200 and server["token_accepted"] is True and server["api_error"] is None
    assert [(r["method"], r["path"]) for r in routes.requests] == [("POST", _livekit.LIST_ROOMS)]
    assert seen[0]["video"] == {"roomList": True} and seen[0]["iss"] == API_KEY
    assert result["msg"].endswith(" and accepts the key pair")
    assert len(tokens) == 2
    assert_no_secret(result, tokens)


@pytest.mark.parametrize(
    ("answer", "accepted", "error"),
    [
        ((401, {"msg": "invalid token: InvalidSignatureError"}), False, "refused the token with 401 (invalid token"),
        ((403, {"msg": "missing video grant roomList"}), False, "refused the token's grant with 403 (missing"),
        ((503, "unavailable"), None, f"POST {_livekit.LIST_ROOMS} answered 503"),
    ],
)
def test_api_check_refused_or_failing(run, tokens, http_server, answer, accepted, error):
    base, routes = http_server
    routes.routes["/"] = (200, "OK")
    routes.routes[_livekit.LIST_ROOMS] = answer
    result = run(server_url=base, api_check=True)
    server = result["server"]
    assert result["failed"] is False and server["healthy"] is True
    assert server["api_status"] == answer[0] and server["token_accepted"] is accepted
    assert error in server["api_error"]
    assert "; API check: " in result["msg"]
    assert_no_secret(result, tokens)


def test_api_check_without_an_answer(run, tokens, monkeypatch, http_server):
    base = http_server[0]

    def silent(*args, **kwargs):
        raise _livekit.Unreachable("TimeoutError: timed out")

    monkeypatch.setattr(_livekit, "request", silent)
    result = run(server_url=base.replace("http://", "ws://"), api_check=True)
    server = result["server"]
    assert server["api_status"] is None and server["token_accepted"] is None
    assert server["api_error"] == f"POST {_livekit.LIST_ROOMS} got no answer: TimeoutError: timed out"


def test_api_check_skipped_when_unreachable_or_not_asked(run, tokens, http_server):
    base, routes = http_server
    routes.routes["/"] = (200, "OK")
    result = run(server_url=base)
    assert result["server"]["api_status"] is None and result["server"]["token_accepted"] is None
    assert [r["path"] for r in routes.requests] == ["/"]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = run(server_url=f"ws://127.0.0.1:{port}", api_check=True)
    assert result["server"]["reachable"] is False and result["server"]["token_accepted"] is None
    assert len(tokens) == 2


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("wss://livekit.voicehive.com", "https://livekit.voicehive.com:443"),
        ("ws://127.0.0.1:17880/rtc", "http://127.0.0.1:17880"),
        ("https://[::1]:7880", "https://[::1]:7880"),
        ("http://lk", "http://lk:80"),
    ],
)
def test_api_base(url, base):
    assert _livekit.api_base(url) == base
