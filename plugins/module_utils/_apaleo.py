# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""Apaleo OAuth2 client credentials, the property probe and Vault KV v2, with the standard library.

Used by ``pms_token``. Like ``_http``, it avoids ``ansible.module_utils.urls`` and ``hvac`` so the
module starts fast; nothing here imports Ansible, so the unit tests call it directly.

- ``send(method, url, ...)``: one HTTP request -> ``Response`` (any status); ``Unreachable`` when
  nothing answered (refused, timed out, TLS failure).
- ``send_with_retries(call, retries, retry_on)``: repeats ``call`` on connection errors, timeouts and
  (by default) 5xx answers, sleeping 0.5 s, 1 s, 2 s, ... in between; never on 4xx.
- ``request_token()``, ``classify_token_answer()``: the client-credentials grant and what its answer means.
- ``check_property()``: ``GET /inventory/v1/properties/{id}`` with the bearer token.
- ``vault_read()``, ``vault_write()``: one KV v2 secret, read or written with check-and-set.
- ``token_needs_refresh()``: whether a stored ``{access_token, expires_at}`` must be replaced.

Every text these functions return is masked with the secret values they were given.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import re
import ssl
import time
import typing as t
import urllib.error
import urllib.parse
import urllib.request

from ansible_collections.voicehive.remediation.plugins.module_utils._http import (
    BODY_LIMIT,
    USER_AGENT,
    RedirectHTTPSHandler,
    Unreachable,
    ssl_context,
)
from ansible_collections.voicehive.remediation.plugins.module_utils._redact import mask_values, normalize_secret_values

UTC = datetime.timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11, modules may run on older targets

DEFAULT_IDENTITY_URL = "https://identity.apaleo.com"
DEFAULT_API_URL = "https://api.apaleo.com"
TOKEN_PATH = "/connect/token"  # noqa: S105 - a URL path, not a password
PROPERTY_PATH = "/inventory/v1/properties/"
DEFAULT_EXPIRES_IN = 3600  # what Apaleo issues, and what an answer without expires_in is taken to mean
BACKOFF = 0.5  # seconds before the first retry, doubled before each further one
REJECTED_CLIENT_ERRORS = ("invalid_client", "unauthorized_client")
TEXT_LIMIT = 300  # characters of a server's error text kept in a message

# outcomes
OK = "ok"
CREDENTIALS_REJECTED = "credentials_rejected"
TOKEN_REQUEST_REJECTED = "token_request_rejected"  # noqa: S105 - an outcome name
APALEO_UNAVAILABLE = "apaleo_unavailable"
PROPERTY_NOT_ACCESSIBLE = "property_not_accessible"
CREDENTIALS_MISSING = "credentials_missing"
VAULT_UNAVAILABLE = "vault_unavailable"
VAULT_DENIED = "vault_denied"
STORE_FAILED = "store_failed"
OUTCOMES = (
    OK,
    CREDENTIALS_REJECTED,
    TOKEN_REQUEST_REJECTED,
    APALEO_UNAVAILABLE,
    PROPERTY_NOT_ACCESSIBLE,
    CREDENTIALS_MISSING,
    VAULT_UNAVAILABLE,
    VAULT_DENIED,
    STORE_FAILED,
)

_ISO_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?(?P<tz>Z|z|[+-]\d{2}:?\d{2})?$"
)


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------


class Response:
    """One HTTP answer: ``status``, ``body`` (bytes), ``headers`` (lower-case names)."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}

    def json(self) -> t.Any:
        """The body as JSON, ``None`` when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    def text(self, limit: int = TEXT_LIMIT) -> str:
        """The body as one line of text, cut at ``limit`` characters."""
        text = " ".join(self.body.decode("utf-8", errors="replace").split())
        return text[:limit] + ("..." if len(text) > limit else "")


def send(
    method: str,
    url: str,
    timeout: float,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    context: ssl.SSLContext | None = None,
) -> Response:
    """Send one request: a ``Response`` for any HTTP answer (4xx and 5xx included).

    Raises ``Unreachable`` (``<ExceptionType>: <reason>``) when nothing answered. Proxies come from
    the environment (``https_proxy``, ``no_proxy``).
    """
    try:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {url.split(':', 1)[0]}")
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
            url, data=data, headers={"User-Agent": USER_AGENT, **(headers or {})}, method=method
        )
        if url.lower().startswith("https:"):
            opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context or ssl_context()))
        else:  # a context only if redirected to https:// (build_opener()'s own handler makes one every time)
            opener = urllib.request.build_opener(RedirectHTTPSHandler())
        with opener.open(request, timeout=timeout) as response:
            return Response(response.status, response.read(BODY_LIMIT), _lower(response.headers))
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(BODY_LIMIT)
        except (OSError, http.client.HTTPException):
            body = b""
        return Response(exc.code, body, _lower(exc.headers))
    except (urllib.error.URLError, OSError, ValueError, ssl.SSLError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise Unreachable(f"timed out after {timeout:g} s") from None
        raise Unreachable(f"{type(reason).__name__}: {reason}") from None


def _lower(headers: t.Any) -> dict[str, str]:
    try:
        return {str(k).lower(): str(v) for k, v in headers.items()}
    except AttributeError:
        return {}


def is_transient(response: Response | None) -> bool:
    """Worth another try: no answer at all (refused, timeout) or a 5xx answer. Never a 4xx."""
    return response is None or response.status >= 500


def backoff_sleep(seconds: float) -> None:
    """The pause between two attempts (unit tests replace it)."""
    time.sleep(seconds)


class Attempts:
    """What ``send_with_retries`` got: the last ``response`` or the ``error`` of the last attempt,
    how many ``attempts`` were made, and the ``latency_ms`` of the last one."""

    def __init__(self) -> None:
        self.response: Response | None = None
        self.error: str | None = None
        self.attempts = 0
        self.latency_ms: float | None = None


def send_with_retries(
    call: t.Callable[[], Response],
    retries: int,
    retry_on: t.Callable[[Response | None], bool] = is_transient,
    backoff: float = BACKOFF,
) -> Attempts:
    """Run ``call`` once, and again up to ``retries`` times while ``retry_on(response)`` holds
    (``response`` is ``None`` when nothing answered), waiting ``backoff`` seconds, doubled each time."""
    result = Attempts()
    delay = backoff
    while True:
        result.attempts += 1
        started = time.monotonic()
        try:
            result.response, result.error = call(), None
        except Unreachable as exc:
            result.response, result.error = None, str(exc)
        result.latency_ms = elapsed_ms(started)
        if result.attempts > retries or not retry_on(result.response):
            return result
        backoff_sleep(delay)
        delay *= 2


def elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def join_url(base: str, path: str) -> str:
    return base.rstrip("/") + path


def check_url(value: str) -> str | None:
    """Why ``value`` is not a usable http(s) base URL, or ``None``."""
    parts = urllib.parse.urlsplit(value or "")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"{value!r} is not an http(s) URL"
    if parts.username or parts.password:
        return "credentials in the URL are not accepted"
    if parts.query or parts.fragment:
        return "the URL must not have a query or a fragment"
    return None


class Masker:
    """Masks the given secret values (and URL credentials) in texts; values can be added later."""

    def __init__(self, *values: t.Any) -> None:
        self.values: list[str] = normalize_secret_values(values)

    def add(self, *values: t.Any) -> None:
        self.values = normalize_secret_values([self.values, values])

    def __call__(self, text: str) -> str:
        return mask_values(text, self.values)


# ---------------------------------------------------------------------------------------------
# Apaleo
# ---------------------------------------------------------------------------------------------


def basic_auth(client_id: str, client_secret: str) -> str:
    """The HTTP Basic header of RFC 6749 2.3.1: both parts form-url-encoded, then base64."""
    pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def oauth_error(payload: t.Any) -> tuple[str, str]:
    """``(error, error_description)`` of an OAuth2 error answer (empty strings when absent)."""
    if not isinstance(payload, dict):
        return "", ""
    error = payload.get("error")
    description = payload.get("error_description") or payload.get("detail") or payload.get("message")
    return (error if isinstance(error, str) else ""), (description if isinstance(description, str) else "")


def classify_token_answer(status: int, payload: t.Any) -> str:
    """The outcome of a token endpoint answer.

    - 2xx with an ``access_token``: ``ok``; 2xx without one: ``apaleo_unavailable`` (a broken answer).
    - 401, or 400/403 with ``invalid_client``/``unauthorized_client``: ``credentials_rejected``.
    - 429 and 5xx: ``apaleo_unavailable``.
    - any other 4xx (``unsupported_grant_type``, 404 on a wrong ``identity_url``): ``token_request_rejected``.
    """
    if 200 <= status < 300:
        token = payload.get("access_token") if isinstance(payload, dict) else None
        return OK if isinstance(token, str) and token else APALEO_UNAVAILABLE
    error, _description = oauth_error(payload)
    if status == 401 or (400 <= status < 500 and error in REJECTED_CLIENT_ERRORS):
        return CREDENTIALS_REJECTED
    if status == 429 or status >= 500:
        return APALEO_UNAVAILABLE
    return TOKEN_REQUEST_REJECTED


def expires_in_of(payload: t.Any) -> int:
    """``expires_in`` of a token answer as whole seconds; ``DEFAULT_EXPIRES_IN`` when absent or not a number."""
    value = payload.get("expires_in") if isinstance(payload, dict) else None
    if isinstance(value, bool):
        return DEFAULT_EXPIRES_IN
    try:
        seconds = int(float(value))
    except (TypeError, ValueError):
        return DEFAULT_EXPIRES_IN
    return seconds if seconds > 0 else DEFAULT_EXPIRES_IN


def request_token(
    identity_url: str,
    client_id: str,
    client_secret: str,
    timeout: float,
    retries: int,
    context: ssl.SSLContext | None = None,
) -> dict[str, t.Any]:
    """The client-credentials grant against ``<identity_url>/connect/token``.

    Returns ``outcome``, ``status`` (``None`` when nothing answered), ``attempts``, ``latency_ms``,
    ``error`` (masked text, ``None`` on success) and on success ``access_token``, ``expires_in``,
    ``token_type``. Only connection errors, timeouts and 5xx answers are retried.
    """
    mask = Masker(client_secret, client_id)
    url = join_url(identity_url, TOKEN_PATH)
    headers = {
        "Authorization": basic_auth(client_id, client_secret),
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    data = urllib.parse.urlencode({"grant_type": "client_credentials"}).encode("ascii")
    tried = send_with_retries(lambda: send("POST", url, timeout, headers, data, context), retries)
    result: dict[str, t.Any] = dict(
        outcome=APALEO_UNAVAILABLE,
        status=None,
        attempts=tried.attempts,
        latency_ms=tried.latency_ms,
        error=None,
    )
    response = tried.response
    if response is None:
        result["error"] = mask(f"{url} did not answer ({tried.error}), {_tries(tried.attempts)}")
        return result
    payload = response.json()
    outcome = classify_token_answer(response.status, payload)
    result.update(outcome=outcome, status=response.status)
    if outcome == OK:
        mask.add(payload["access_token"])
        token_type = payload.get("token_type")
        result.update(
            access_token=payload["access_token"],
            expires_in=expires_in_of(payload),
            token_type=token_type if isinstance(token_type, str) else "Bearer",
        )
        return result
    error, description = oauth_error(payload)
    what = f"{response.status} {error}".strip()
    if description:
        what += f": {description[:TEXT_LIMIT]}"
    elif not error and response.body:
        what += f": {response.text()}"
    if outcome == APALEO_UNAVAILABLE and 200 <= response.status < 300:
        result["error"] = mask(f"{url} answered {response.status} without an access_token")
    elif outcome == APALEO_UNAVAILABLE:
        result["error"] = mask(f"{url} answered {what}, {_tries(tried.attempts)}")
    else:
        result["error"] = mask(f"{url} answered {what}")
    return result


def _tries(attempts: int) -> str:
    return "after 1 attempt" if attempts == 1 else f"after {attempts} attempts"


def check_property(
    api_url: str,
    property_id: str,
    access_token: str,
    timeout: float,
    retries: int,
    context: ssl.SSLContext | None = None,
) -> dict[str, t.Any]:
    """``GET <api_url>/inventory/v1/properties/<id>`` with the bearer token.

    Returns ``outcome`` (``ok``, ``property_not_accessible`` for any 4xx but 429,
    ``apaleo_unavailable`` for 429, 5xx and no answer), ``status``, ``accessible`` (``None`` when Apaleo
    did not tell), ``latency_ms``, ``attempts`` and ``error`` (masked, ``None`` when accessible).
    """
    mask = Masker(access_token)
    url = join_url(api_url, PROPERTY_PATH + urllib.parse.quote(property_id, safe=""))
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    tried = send_with_retries(lambda: send("GET", url, timeout, headers, None, context), retries)
    response = tried.response
    result: dict[str, t.Any] = dict(
        outcome=APALEO_UNAVAILABLE,
        status=None if response is None else response.status,
        accessible=None,
        latency_ms=tried.latency_ms,
        attempts=tried.attempts,
        error=None,
    )
    if response is None:
        result["error"] = mask(f"{url} did not answer ({tried.error}), {_tries(tried.attempts)}")
        return result
    if 200 <= response.status < 300:
        result.update(outcome=OK, accessible=True)
        return result
    payload = response.json()
    error, description = oauth_error(payload)
    detail = description or error or (response.text() if response.body else "")
    what = f"{response.status}: {detail[:TEXT_LIMIT]}" if detail else str(response.status)
    if response.status == 429 or response.status >= 500:
        result["error"] = mask(f"{url} answered {what}, {_tries(tried.attempts)}")
        return result
    result.update(outcome=PROPERTY_NOT_ACCESSIBLE, accessible=False)
    if response.status == 401:
        hint = "the API refused the access token"
    elif response.status == 403:
        hint = "the client has no access to this property"
    elif response.status == 404:
        hint = "no such property, or not visible to this client"
    else:
        hint = "the API refused the request"
    result["error"] = mask(f"{url} answered {what} ({hint})")
    return result


# ---------------------------------------------------------------------------------------------
# Vault KV v2
# ---------------------------------------------------------------------------------------------


def kv2_url(vault_url: str, mount: str, path: str) -> str:
    """The KV v2 data URL of ``path`` on ``mount``."""
    return (
        vault_url.rstrip("/")
        + "/v1/"
        + urllib.parse.quote(mount.strip("/"), safe="/")
        + "/data/"
        + urllib.parse.quote(path.strip("/"), safe="/")
    )


def shown_path(mount: str, path: str) -> str:
    """How a person names a KV v2 secret (as ``bao kv get`` takes it): ``<mount>/<path>``."""
    return f"{mount.strip('/')}/{path.strip('/')}"


def vault_errors(response: Response) -> str:
    payload = response.json()
    if isinstance(payload, dict):
        errors = payload.get("errors") if isinstance(payload.get("errors"), list) else []
        return " ".join("; ".join(str(e) for e in errors if e).split())[:TEXT_LIMIT]
    return response.text() if response.body else ""


def is_sealed(response: Response | None) -> bool:
    return response is not None and response.status == 503 and "sealed" in vault_errors(response).lower()


def _vault_retry(response: Response | None) -> bool:
    """Retry Vault on no answer and 5xx, but not when it says it is sealed (that does not heal in seconds)."""
    return is_transient(response) and not is_sealed(response)


def _vault_failure(where: str, tried: Attempts, mask: Masker) -> tuple[str, str]:
    """``(outcome, error)`` of a failed Vault call; the error starts with ``where``."""
    response = tried.response
    if response is None:
        return VAULT_UNAVAILABLE, mask(f"{where}: Vault did not answer ({tried.error}), {_tries(tried.attempts)}")
    detail = vault_errors(response)
    what = f"{response.status}: {detail}" if detail else str(response.status)
    if is_sealed(response):
        return VAULT_UNAVAILABLE, mask(f"{where}: Vault is sealed ({what}); unseal it")
    if response.status in (401, 403):
        return VAULT_DENIED, mask(f"{where}: Vault refused the token ({what}); check vault_token and its policy")
    if response.status >= 500:
        return VAULT_UNAVAILABLE, mask(f"{where}: Vault answered {what}, {_tries(tried.attempts)}")
    return VAULT_UNAVAILABLE, mask(f"{where}: Vault answered {what}")


def vault_read(
    vault_url: str,
    vault_token: str,
    mount: str,
    path: str,
    timeout: float,
    retries: int,
    context: ssl.SSLContext | None = None,
) -> dict[str, t.Any]:
    """Read a KV v2 secret.

    Returns ``outcome`` (``ok``; ``credentials_missing`` when there is no secret at the path (404,
    or deleted); ``vault_denied`` for 401/403; ``vault_unavailable`` when sealed, 5xx, or no answer),
    ``data`` (the secret's fields, ``None`` unless ok), ``version`` (``0`` when absent, for check-and-set)
    and ``error`` (masked, starting with ``Vault secret <mount>/<path>``; ``None`` when ok).
    """
    mask = Masker(vault_token)
    where = f"Vault secret {shown_path(mount, path)}"
    headers = {"X-Vault-Token": vault_token, "Accept": "application/json"}
    url = kv2_url(vault_url, mount, path)
    tried = send_with_retries(lambda: send("GET", url, timeout, headers, None, context), retries, _vault_retry)
    response = tried.response
    if response is not None and response.status in (200, 404):
        payload = response.json()
        body = payload.get("data") if isinstance(payload, dict) else None
        metadata = body.get("metadata") if isinstance(body, dict) else None
        version = metadata.get("version") if isinstance(metadata, dict) else None
        version = version if isinstance(version, int) and not isinstance(version, bool) else 0
        data = body.get("data") if isinstance(body, dict) else None
        if response.status == 404 and not version:
            return dict(outcome=CREDENTIALS_MISSING, data=None, version=0, error=f"{where} does not exist")
        if data is None:  # the latest version is deleted or destroyed: the path exists, its data does not
            return dict(
                outcome=CREDENTIALS_MISSING,
                data=None,
                version=version,
                error=f"{where} has no data (its latest version is deleted)",
            )
        if not isinstance(data, dict):
            return dict(outcome=VAULT_UNAVAILABLE, data=None, version=version, error=f"{where} is not a KV v2 secret")
        return dict(outcome=OK, data=data, version=version, error=None)
    outcome, error = _vault_failure(where, tried, mask)
    return dict(outcome=outcome, data=None, version=0, error=error)


def vault_write(
    vault_url: str,
    vault_token: str,
    mount: str,
    path: str,
    data: dict[str, t.Any],
    cas: int | None,
    timeout: float,
    retries: int,
    context: ssl.SSLContext | None = None,
) -> dict[str, t.Any]:
    """Write a KV v2 secret (a new version), with check-and-set ``cas`` unless ``None``.

    Returns ``outcome`` (``ok``; ``conflict`` when the secret changed since it was read;
    else as ``vault_read``), ``version`` written and ``error`` (masked with the token and the values written).
    """
    mask = Masker(vault_token, list(data.values()))
    where = f"Vault secret {shown_path(mount, path)}"
    headers = {"X-Vault-Token": vault_token, "Content-Type": "application/json", "Accept": "application/json"}
    body: dict[str, t.Any] = {"data": data}
    if cas is not None:
        body["options"] = {"cas": cas}
    raw = json.dumps(body).encode("utf-8")
    url = kv2_url(vault_url, mount, path)
    # a POST that timed out may have been applied: with check-and-set a repeat then fails as a conflict
    tried = send_with_retries(lambda: send("POST", url, timeout, headers, raw, context), retries, _vault_retry)
    response = tried.response
    if response is not None and response.status in (200, 204):
        payload = response.json()
        written = payload.get("data") if isinstance(payload, dict) else None
        version = written.get("version") if isinstance(written, dict) else None
        return dict(outcome=OK, version=version, error=None)
    if response is not None and response.status == 400 and "check-and-set" in vault_errors(response):
        return dict(outcome="conflict", version=None, error=mask(f"{where} was changed meanwhile"))
    outcome, error = _vault_failure(where, tried, mask)
    return dict(outcome=outcome, version=None, error=error)


# ---------------------------------------------------------------------------------------------
# times and the stored token
# ---------------------------------------------------------------------------------------------


def iso_utc(epoch: float) -> str:
    """``2026-11-28T16:00:00Z``: epoch seconds as an ISO 8601 UTC time, whole seconds."""
    return datetime.datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: t.Any) -> float | None:
    """Epoch seconds of an ISO 8601 time (``Z`` or an offset; no offset means UTC); ``None`` if it is not one."""
    if not isinstance(value, str):
        return None
    match = _ISO_RE.match(value.strip())
    if not match:
        return None
    try:
        parsed = datetime.datetime.strptime(f"{match.group('date')}T{match.group('time')}", "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    parsed = parsed.replace(tzinfo=UTC)
    tz = match.group("tz")
    if tz and tz not in ("Z", "z"):
        digits = tz[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        parsed = parsed - offset if tz[0] == "+" else parsed + offset
    fraction = float("0." + match.group("frac")) if match.group("frac") else 0.0
    return parsed.timestamp() + fraction


def token_needs_refresh(stored: dict[str, t.Any] | None, now: float, refresh_before: int) -> tuple[bool, str]:
    """Whether a stored ``{access_token, expires_at}`` must be replaced, and why (a text without the token).

    It must when there is none, when it is invalid (no ``access_token``, ``expires_at`` not an ISO time),
    or when it expires within ``refresh_before`` seconds.
    """
    if not stored:
        return True, "no token is stored"
    token = stored.get("access_token")
    if not isinstance(token, str) or not token.strip():
        return True, "the stored token is invalid: it has no access_token"
    expires_at = parse_iso(stored.get("expires_at"))
    if expires_at is None:
        return True, "the stored token is invalid: expires_at is missing or not an ISO 8601 time"
    remaining = int(expires_at - now)
    if remaining <= 0:
        return True, f"the stored token expired {-remaining} s ago"
    if remaining <= refresh_before:
        return True, f"the stored token expires in {remaining} s, within refresh_before={refresh_before} s"
    return False, f"the stored token is valid for {remaining} s more"
