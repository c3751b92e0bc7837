# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_livekit: HS256 tokens (cross-checked with PyJWT), their verification, and the server probe."""

from __future__ import annotations

import base64
import json
import re
import socket
import time

import jwt
import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils import _livekit
from ansible_collections.voicehive.remediation.plugins.module_utils._livekit import (
    CHECKS,
    TokenError,
    b64url_decode,
    b64url_encode,
    build_claims,
    decode_hs256,
    encode_hs256,
    parse_server_url,
    probe_server,
    verify,
    video_grant,
)

API_KEY = "APIvoicehive0001"
API_SECRET = "lk-secret-0123456789abcdefghijklmnopqrstuv"
NOW = 1_795_968_000


def claims(**overrides):
    data = build_claims(API_KEY, "voicehive-remediation-probe", 300, NOW, video_grant("lobby"))
    data.update(overrides)
    return data


def expected(**overrides):
    data = {"iss": API_KEY, "sub": "voicehive-remediation-probe", "video": video_grant("lobby")}
    data.update(overrides)
    return data


# --------------------------------------------------------------------------------------------
# encoding
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"f", b"fo", b"foo", b"\xff\xfe\xfd", bytes(range(256))])
def test_b64url_round_trip_without_padding(data):
    encoded = b64url_encode(data)
    assert "=" not in encoded and "+" not in encoded and "/" not in encoded
    assert b64url_decode(encoded) == data


@pytest.mark.parametrize("text", ["a+b", "a/b", "ab==", "a b", "é"])
def test_b64url_decode_refuses_other_alphabets(text):
    with pytest.raises(TokenError, match="not base64url"):
        b64url_decode(text)


def test_video_grant_is_livekit_format():
    assert video_grant("lobby", can_publish=True) == {
        "roomJoin": True,
        "room": "lobby",
        "canPublish": True,
        "canSubscribe": True,
    }
    assert video_grant() == {"roomJoin": True, "canPublish": False, "canSubscribe": True}


def test_build_claims():
    assert claims() == {
        "iss": API_KEY,
        "sub": "voicehive-remediation-probe",
        "nbf": NOW,
        "exp": NOW + 300,
        "video": {"roomJoin": True, "room": "lobby", "canPublish": False, "canSubscribe": True},
    }
    assert build_claims("k", "i", 10, NOW + 0.9, {})["nbf"] == NOW


def test_token_verifies_with_pyjwt():
    token = encode_hs256(claims(), API_SECRET)
    decoded = jwt.decode(token, API_SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})
    assert decoded == claims()
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, API_SECRET + "x", algorithms=["HS256"], options={"verify_exp": False})


def test_fresh_token_passes_pyjwt_time_checks():
    now = time.time()
    token = encode_hs256(build_claims(API_KEY, "probe", 60, now, video_grant()), API_SECRET)
    decoded = jwt.decode(token, API_SECRET, algorithms=["HS256"], issuer=API_KEY)
    assert decoded["sub"] == "probe"


def test_decodes_a_pyjwt_token():
    token = jwt.encode(claims(), API_SECRET, algorithm="HS256")
    header, decoded = decode_hs256(token, API_SECRET)
    assert header["alg"] == "HS256"
    assert decoded == claims()


def test_decode_refuses_wrong_secret_and_tampering():
    token = encode_hs256(claims(), API_SECRET)
    with pytest.raises(TokenError, match="signature does not match"):
        decode_hs256(token, "another-secret")
    header, _payload, signature = token.split(".")
    forged = b64url_encode(json.dumps(claims(video=video_grant("lobby", can_publish=True))).encode())
    with pytest.raises(TokenError, match="signature does not match"):
        decode_hs256(f"{header}.{forged}.{signature}", API_SECRET)


@pytest.mark.parametrize("alg", ["none", "HS512", "RS256", None])
def test_decode_refuses_other_algorithms(alg):
    header = b64url_encode(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64url_encode(json.dumps(claims()).encode())
    with pytest.raises(TokenError, match="algorithm"):
        decode_hs256(f"{header}.{payload}.", API_SECRET)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "three dot-separated parts"),
        ("a.b", "three dot-separated parts"),
        ("a.b.c.d", "three dot-separated parts"),
        ("!!!.e30.", "header is not base64url JSON"),
        (b64url_encode(b"not json") + ".e30.", "header is not base64url JSON"),
        (b64url_encode(b"[1]") + ".e30.", "header is not a JSON object"),
        (b64url_encode(b'{"alg":"HS256"}') + "." + b64url_encode(b"\xff") + ".", "payload is not base64url JSON"),
        (b64url_encode(b'{"alg":"HS256"}') + ".e30.a+b", "not base64url"),
    ],
)
def test_decode_refuses_malformed_tokens(token, message):
    with pytest.raises(TokenError, match=message):
        decode_hs256(token, API_SECRET)


# --------------------------------------------------------------------------------------------
# verification
# --------------------------------------------------------------------------------------------


def test_verify_valid_token():
    valid, checks, errors, decoded = verify(encode_hs256(claims(), API_SECRET), API_SECRET, expected(), NOW + 1)
    assert valid is True
    assert checks == dict.fromkeys(CHECKS, True)
    assert errors == []
    assert decoded == claims()


@pytest.mark.parametrize(
    ("token_claims", "secret", "now", "failed", "error"),
    [
        (claims(), "wrong-secret", NOW, {"signature"}, "the signature does not match the API secret"),
        (claims(iss="APIother"), API_SECRET, NOW, {"issuer"}, "iss is not the API key"),
        (claims(sub="someone"), API_SECRET, NOW, {"subject"},
         "sub is 'someone', expected 'voicehive-remediation-probe'"),
        (claims(), API_SECRET, NOW - 10, {"not_before"}, "not valid before 2026-11-29T16:00:00Z"),
        (claims(), API_SECRET, NOW + 300, {"expiry"}, "expired at 2026-11-29T16:05:00Z"),
        (claims(exp=None), API_SECRET, NOW, {"expiry"}, "exp is missing"),
        (claims(nbf="soon"), API_SECRET, NOW, {"not_before"}, "nbf is missing"),
        (claims(exp=NOW - 1, nbf=NOW - 1), API_SECRET, NOW, {"expiry"}, "expired at"),
        (claims(video={"roomJoin": True}), API_SECRET, NOW, {"grants"}, "the video grant is {'roomJoin': True}"),
    ],
)  # fmt: skip
def test_verify_names_what_failed(token_claims, secret, now, failed, error):
    token_claims = {k: v for k, v in token_claims.items() if v is not None}
    valid, checks, errors, _decoded = verify(encode_hs256(token_claims, API_SECRET), secret, expected(), now)
    assert valid is False
    assert {name for name, ok in checks.items() if not ok} == failed
    assert any(e.startswith(error) for e in errors), errors
    assert all(API_SECRET not in e for e in errors)


def test_verify_leeway_allows_clock_skew():
    token = encode_hs256(claims(), API_SECRET)
    assert verify(token, API_SECRET, expected(), NOW - 5, leeway=10)[0] is True
    assert verify(token, API_SECRET, expected(), NOW + 305, leeway=10)[0] is True


def test_verify_unreadable_token():
    valid, checks, errors, decoded = verify("garbage", API_SECRET, expected(), NOW)
    assert valid is False and decoded is None
    assert not any(checks.values())
    assert errors == ["not a JWT: it must have three dot-separated parts"]


def test_verify_refuses_alg_none_token():
    header = b64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    token = f"{header}.{b64url_encode(json.dumps(claims()).encode())}."
    valid, checks, errors, _decoded = verify(token, API_SECRET, expected(), NOW)
    assert valid is False
    assert checks["algorithm"] is False and checks["signature"] is False
    assert errors[0] == "the header says alg='none' typ='JWT', expected HS256 JWT"


def test_signature_is_over_the_exact_bytes():
    token = encode_hs256(claims(), API_SECRET)
    header, payload, signature = token.split(".")
    padded = payload + "="  # same claims once decoded, different bytes signed
    with pytest.raises(TokenError):
        decode_hs256(f"{header}.{padded}.{signature}", API_SECRET)
    raw = base64.urlsafe_b64decode(signature + "==")
    assert len(raw) == 32  # SHA-256


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("wss://livekit.voicehive.com", ("wss", "livekit.voicehive.com", 443, None)),
        ("ws://127.0.0.1:7880", ("ws", "127.0.0.1", 7880, None)),
        ("https://livekit.voicehive.com", ("https", "livekit.voicehive.com", 443, "https://livekit.voicehive.com:443/")),
        ("http://[::1]:7880/rtc", ("http", "::1", 7880, "http://[::1]:7880/")),
        ("WSS://LiveKit.example:8443", ("wss", "livekit.example", 8443, None)),
    ],
)  # fmt: skip
def test_parse_server_url(url, parsed):
    result = parse_server_url(url)
    assert (result["scheme"], result["host"], result["port"], result["http_url"]) == parsed


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("livekit.voicehive.com", "is not a ws://, wss://, http:// or https:// URL"),
        ("ftp://livekit", "is not a ws://"),
        ("wss://", "has no host"),
        ("wss://user:pw@livekit", "credentials in the URL are not accepted"),
        ("wss://livekit:99999", "has an invalid port"),
        ("", "is not a ws://"),
    ],
)
def test_parse_server_url_refuses(url, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_server_url(url)


@pytest.fixture
def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_probe_ws_is_tcp_only(http_server):
    base, routes = http_server
    result = probe_server(base.replace("http://", "ws://"), 2)
    assert result["reachable"] is True and result["healthy"] is True
    assert result["http_status"] is None and result["http_latency_ms"] is None
    assert result["latency_ms"] >= 0 and result["error"] is None
    assert routes.requests == []


def test_probe_http_gets_root(http_server):
    base, routes = http_server
    routes.routes["/"] = (200, "OK")
    result = probe_server(base, 2)
    assert result["healthy"] is True and result["http_status"] == 200
    assert result["http_latency_ms"] >= 0
    assert [r["path"] for r in routes.requests] == ["/"]


def test_probe_http_not_200_is_unhealthy(http_server):
    base, _routes = http_server
    result = probe_server(base + "/ignored/path", 2)
    assert result["reachable"] is True and result["healthy"] is False
    assert result["http_status"] == 404
    assert result["error"] == f"GET {base}/ answered 404, expected 200"


def test_probe_closed_port(closed_port):
    result = probe_server(f"wss://127.0.0.1:{closed_port}", 2)
    assert result["reachable"] is False and result["healthy"] is False
    assert result["port"] == closed_port
    assert result["error"].startswith(f"no TCP connection to 127.0.0.1:{closed_port}: ")


def test_probe_http_without_answer(monkeypatch, http_server):
    base, _routes = http_server

    def silent(*args, **kwargs):
        raise _livekit.Unreachable("TimeoutError: timed out")

    monkeypatch.setattr(_livekit, "get", silent)
    result = probe_server(base, 0.5)
    assert result["reachable"] is True and result["healthy"] is False
    assert result["http_status"] is None
    assert result["error"] == f"GET {base}/ got no answer: TimeoutError: timed out"


def test_probe_tcp_timeout(monkeypatch):
    def slow(*args, **kwargs):
        raise TimeoutError("timed out")

    monkeypatch.setattr(_livekit.socket, "create_connection", slow)
    result = probe_server("wss://livekit.voicehive.com", 0.1)
    assert result["reachable"] is False
    assert result["error"] == "no TCP connection to livekit.voicehive.com:443: timed out"
