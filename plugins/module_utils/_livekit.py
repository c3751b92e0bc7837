# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""LiveKit access tokens (HS256 JWTs) and a reachability probe of a LiveKit server, standard library only.

A LiveKit access token is a JWT signed HS256 with the API secret: ``iss`` is the API key, ``sub`` the
participant identity, ``nbf``/``exp`` its validity and ``video`` the grants (``roomJoin``, ``room``,
``canPublish``, ``canSubscribe``, ...).

- ``encode_hs256(claims, secret)`` / ``decode_hs256(token, secret)``: sign, and check and read, a JWT.
- ``video_grant()``, ``build_claims()``: the claims of a LiveKit access token.
- ``verify(token, secret, expected, now)``: every check of a token, by name, and what failed.
- ``parse_server_url()``, ``probe_server()``: a TCP connection to the server and, for http(s), ``GET /``.
- ``api_base()``, ``check_api()``: the server's own verdict on a token (Twirp ``RoomService/ListRooms``).

No Ansible import, so the unit tests call it directly (and cross-check it with PyJWT).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import socket
import ssl
import time
import typing as t
import urllib.parse

from ansible_collections.voicehive.remediation.plugins.module_utils._http import Unreachable, get, request

ALGORITHM = "HS256"
MIN_TTL = 10
MAX_TTL = 86400
DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}
UTC = datetime.timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11, modules may run on older targets
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
CHECKS = ("structure", "algorithm", "signature", "issuer", "subject", "not_before", "expiry", "grants")


class TokenError(Exception):
    """The token cannot be read or its signature does not match; the message never holds the token."""


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The inverse of ``b64url_encode`` (padding optional); ``TokenError`` when it is not base64url."""
    if not isinstance(text, str) or any(c not in _B64URL for c in text):
        raise TokenError("a part is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("a part is not base64url") from None


def _json_part(data: t.Any) -> str:
    return b64url_encode(json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def _signature(signing_input: str, secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()


def encode_hs256(claims: dict[str, t.Any], secret: str) -> str:
    """A compact JWS of ``claims``, signed HMAC-SHA256 with ``secret``."""
    signing_input = _json_part({"alg": ALGORITHM, "typ": "JWT"}) + "." + _json_part(claims)
    return signing_input + "." + b64url_encode(_signature(signing_input, secret))


def _decode_json(part: str, what: str) -> dict[str, t.Any]:
    try:
        data = json.loads(b64url_decode(part).decode("utf-8"))
    except (TokenError, UnicodeDecodeError, ValueError):
        raise TokenError(f"the {what} is not base64url JSON") from None
    if not isinstance(data, dict):
        raise TokenError(f"the {what} is not a JSON object")
    return data


def split_token(token: str) -> tuple[dict[str, t.Any], dict[str, t.Any], bytes, str]:
    """``(header, claims, signature, signing_input)`` of a compact JWS, unverified; ``TokenError`` when malformed."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise TokenError("not a JWT: it must have three dot-separated parts")
    header = _decode_json(parts[0], "header")
    claims = _decode_json(parts[1], "payload")
    signature = b64url_decode(parts[2])
    return header, claims, signature, parts[0] + "." + parts[1]


def decode_hs256(token: str, secret: str) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """``(header, claims)`` of an HS256 JWT whose signature matches ``secret``; ``TokenError`` otherwise.

    Only ``alg: HS256`` is accepted (never ``none``, never another algorithm named by the token).
    """
    header, claims, signature, signing_input = split_token(token)
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"the algorithm is {header.get('alg')!r}, expected {ALGORITHM}")
    if not hmac.compare_digest(signature, _signature(signing_input, secret)):
        raise TokenError("the signature does not match the API secret")
    return header, claims


def video_grant(
    room: str | None = None, can_publish: bool = False, can_subscribe: bool = True, room_join: bool = True
) -> dict[str, t.Any]:
    """LiveKit's ``video`` grant: ``{roomJoin, room, canPublish, canSubscribe}`` (``room`` only when given)."""
    grant: dict[str, t.Any] = {"roomJoin": room_join}
    if room:
        grant["room"] = room
    grant["canPublish"] = can_publish
    grant["canSubscribe"] = can_subscribe
    return grant


def build_claims(api_key: str, identity: str, ttl: int, now: float, video: dict[str, t.Any]) -> dict[str, t.Any]:
    """The claims of a LiveKit access token valid from ``now`` for ``ttl`` seconds."""
    issued = int(now)
    return {"iss": api_key, "sub": identity, "nbf": issued, "exp": issued + int(ttl), "video": video}


def _number(value: t.Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def verify(
    token: str, secret: str, expected: dict[str, t.Any], now: float, leeway: float = 0
) -> tuple[bool, dict[str, bool], list[str], dict[str, t.Any] | None]:
    """Check ``token`` against ``secret`` and the ``expected`` ``iss``, ``sub`` and ``video``.

    Returns ``(valid, checks, errors, claims)``: ``checks`` maps each of ``CHECKS`` to whether it passed,
    ``errors`` says what failed (without the token or the secret), ``claims`` is the payload (``None``
    when it cannot be read).
    """
    checks = dict.fromkeys(CHECKS, False)
    errors: list[str] = []
    try:
        header, claims, _signature_bytes, _input = split_token(token)
    except TokenError as exc:
        return False, checks, [str(exc)], None
    checks["structure"] = True
    checks["algorithm"] = header.get("alg") == ALGORITHM and header.get("typ", "JWT") == "JWT"
    if not checks["algorithm"]:
        errors.append(f"the header says alg={header.get('alg')!r} typ={header.get('typ')!r}, expected HS256 JWT")
    else:
        try:
            decode_hs256(token, secret)
            checks["signature"] = True
        except TokenError as exc:
            errors.append(str(exc))
    checks["issuer"] = claims.get("iss") == expected.get("iss")
    if not checks["issuer"]:
        errors.append("iss is not the API key")
    checks["subject"] = claims.get("sub") == expected.get("sub")
    if not checks["subject"]:
        errors.append(f"sub is {claims.get('sub')!r}, expected {expected.get('sub')!r}")
    nbf, exp = _number(claims.get("nbf")), _number(claims.get("exp"))
    checks["not_before"] = nbf is not None and nbf <= now + leeway
    if not checks["not_before"]:
        errors.append("nbf is missing" if nbf is None else f"not valid before {iso_utc(nbf)}")
    checks["expiry"] = exp is not None and exp > now - leeway and (nbf is None or exp > nbf)
    if not checks["expiry"]:
        errors.append("exp is missing" if exp is None else f"expired at {iso_utc(exp)}")
    checks["grants"] = claims.get("video") == expected.get("video")
    if not checks["grants"]:
        errors.append(f"the video grant is {claims.get('video')!r}, expected {expected.get('video')!r}")
    return all(checks.values()), checks, errors, claims


def iso_utc(epoch: float) -> str:
    """``2026-11-28T16:00:00Z``."""
    return datetime.datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# the server
# ---------------------------------------------------------------------------------------------


def parse_server_url(url: str) -> dict[str, t.Any]:
    """``{scheme, host, port, http_url}`` of a LiveKit server URL (ws, wss, http, https).

    ``http_url`` is the ``/`` to GET for http(s) URLs, ``None`` for ws(s). Raises ``ValueError`` with a
    sentence when the URL is not usable.
    """
    parts = urllib.parse.urlsplit((url or "").strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"{url!r} is not a ws://, wss://, http:// or https:// URL")
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    if parts.username or parts.password:
        raise ValueError("credentials in the URL are not accepted")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError(f"{url!r} has an invalid port") from None
    host = parts.hostname
    http_url = None
    if scheme in ("http", "https"):
        netloc = f"[{host}]" if ":" in host else host
        http_url = f"{scheme}://{netloc}:{port}/"
    return {"scheme": scheme, "host": host, "port": port, "http_url": http_url}


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def probe_server(url: str, timeout: float, context: ssl.SSLContext | None = None) -> dict[str, t.Any]:
    """Open a TCP connection to the server and, for http(s), ``GET /`` (LiveKit answers 200 ``OK``).

    Returns ``url``, ``host``, ``port``, ``reachable`` (TCP), ``latency_ms`` (TCP connect), ``http_status``,
    ``http_latency_ms``, ``healthy`` (reachable, and 200 for http(s)) and ``error`` (``None`` when healthy).
    """
    target = parse_server_url(url)
    result: dict[str, t.Any] = dict(
        url=url,
        host=target["host"],
        port=target["port"],
        reachable=False,
        latency_ms=None,
        http_status=None,
        http_latency_ms=None,
        healthy=False,
        error=None,
    )
    started = time.monotonic()
    try:
        with socket.create_connection((target["host"], target["port"]), timeout=timeout):
            result["latency_ms"] = _ms(started)
    except OSError as exc:
        result["latency_ms"] = _ms(started)
        reason = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc) or type(exc).__name__)
        result["error"] = f"no TCP connection to {target['host']}:{target['port']}: {reason}"
        return result
    result["reachable"] = True
    if target["http_url"] is None:
        result["healthy"] = True
        return result
    started = time.monotonic()
    try:
        status, _body = get(target["http_url"], timeout, context=context)
    except Unreachable as exc:
        result["http_latency_ms"] = _ms(started)
        result["error"] = f"GET {target['http_url']} got no answer: {exc}"
        return result
    result["http_latency_ms"] = _ms(started)
    result["http_status"] = status
    result["healthy"] = status == 200
    if status != 200:
        result["error"] = f"GET {target['http_url']} answered {status}, expected 200"
    return result


LIST_ROOMS = "/twirp/livekit.RoomService/ListRooms"


def api_base(url: str) -> str:
    """The http(s) base URL of a LiveKit server URL: LiveKit serves its API and WebSocket on one port."""
    target = parse_server_url(url)
    scheme = {"ws": "http", "wss": "https"}.get(target["scheme"], target["scheme"])
    netloc = f"[{target['host']}]" if ":" in target["host"] else target["host"]
    return f"{scheme}://{netloc}:{target['port']}"


def check_api(url: str, token: str, timeout: float, context: ssl.SSLContext | None = None) -> dict[str, t.Any]:
    """Ask the server whether it accepts ``token`` (a ``roomList`` grant): ``POST RoomService/ListRooms``.

    Returns ``api_status`` (the HTTP status, ``None`` without an answer), ``token_accepted`` (``True`` on 200,
    ``False`` on 401/403, ``None`` otherwise) and ``api_error`` (``None`` when accepted). Never holds the token.
    """
    endpoint = api_base(url) + LIST_ROOMS
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        status, body = request("POST", endpoint, timeout, headers, b"{}", context=context)
    except Unreachable as exc:
        return {"api_status": None, "token_accepted": None, "api_error": f"POST {LIST_ROOMS} got no answer: {exc}"}
    if status == 200:
        return {"api_status": status, "token_accepted": True, "api_error": None}
    try:
        detail = json.loads(body.decode("utf-8")).get("msg") or ""
    except (ValueError, UnicodeDecodeError, AttributeError):
        detail = ""
    detail = f" ({str(detail)[:200]})" if detail else ""
    if status == 401:
        return {
            "api_status": status,
            "token_accepted": False,
            "api_error": f"the server refused the token with 401{detail}: the API key or secret is not the server's",
        }
    if status == 403:
        return {
            "api_status": status,
            "token_accepted": False,
            "api_error": f"the server refused the token's grant with 403{detail}",
        }
    return {"api_status": status, "token_accepted": None, "api_error": f"POST {LIST_ROOMS} answered {status}{detail}"}
