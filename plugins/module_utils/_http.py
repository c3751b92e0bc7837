# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""HTTP requests with the standard library, for ``site_info``'s reads, the Kubernetes API calls of ``_kube_read`` and
the Vault calls of the modules.

``ansible.module_utils.urls`` would do, but it is shipped in every module's payload and compiled at
every run (about a tenth of a second here); a read-only GET with TLS options needs none of its
extras. Proxies come from the environment (``https_proxy``, ``no_proxy``) as with ``open_url``, unless the caller
names them (``proxies``).

``request(method, url, ...)`` / ``get(url, ...)`` return ``(status, body)`` for any HTTP answer (4xx and 5xx
included) and raise ``Unreachable`` when nothing answered (refused, timed out, TLS failure, bad URL).
"""

from __future__ import annotations

import functools
import http.client
import ssl
import typing as t
import urllib.error
import urllib.request

USER_AGENT = "voicehive-remediation"
BODY_LIMIT = 8 * 1024 * 1024  # bytes read from one answer at most


class Unreachable(Exception):
    """Nothing answered; the message is ``<ExceptionType>: <reason>``."""


def ssl_context(
    validate_certs: bool = True,
    ca_path: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_path) if validate_certs else ssl.create_default_context()
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert:
        context.load_cert_chain(client_cert, client_key)
    return context


@functools.lru_cache(maxsize=1)
def _default_https_context() -> ssl.SSLContext:
    """A verifying context for where an http:// request may be redirected to, made once per process."""
    return ssl.create_default_context()


_NOT_YET = object()


class RedirectHTTPSHandler(urllib.request.HTTPSHandler):
    """The HTTPS handler of a plain-HTTP request: it makes the verifying context only if a redirect leads to
    https://. Loading the system CAs takes tens of milliseconds, which ``HTTPSHandler()`` (and ``build_opener()``,
    which adds one) would spend on every plain-HTTP request, in every worker process of a run."""

    def __init__(self) -> None:
        # a placeholder, not None: given None, HTTPSHandler (Python >= 3.12) loads the CAs right away
        super().__init__(context=t.cast(ssl.SSLContext, _NOT_YET))

    def https_open(self, req):
        return self.do_open(http.client.HTTPSConnection, req, context=_default_https_context())


def request(
    method: str,
    url: str,
    timeout: float,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    validate_certs: bool = True,
    ca_path: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    context: ssl.SSLContext | None = None,
    proxies: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request: ``(status, body)`` for any HTTP answer (4xx, 5xx too); ``Unreachable`` when there was none.

    ``proxies`` maps a scheme to a proxy URL (``{}``: no proxy); ``None`` takes them from the environment.
    Redirects are followed for GET only (the standard library's rule)."""
    try:
        # the scheme is the caller's (site URLs from the inventory); file:// and friends are refused just below
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {url.split(':', 1)[0]}")
        request = urllib.request.Request(  # noqa: S310
            url, data=body, headers={"User-Agent": USER_AGENT, **(headers or {})}, method=method
        )
        handlers: list[urllib.request.BaseHandler] = []
        if proxies is not None:
            handlers.append(urllib.request.ProxyHandler(proxies))
        if url.lower().startswith("https:"):
            context = context or ssl_context(validate_certs, ca_path, client_cert, client_key)
        handlers.append(urllib.request.HTTPSHandler(context=context) if context else RedirectHTTPSHandler())
        opener = urllib.request.build_opener(*handlers)
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(BODY_LIMIT)
    except urllib.error.HTTPError as exc:
        try:
            data = exc.read(BODY_LIMIT)
        except OSError:
            data = b""
        return exc.code, data
    except (urllib.error.URLError, OSError, ValueError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise Unreachable(f"{type(exc).__name__}: {reason}") from None


def get(url: str, timeout: float, headers: dict[str, str] | None = None, **tls: t.Any) -> tuple[int, bytes]:
    """GET ``url`` (see ``request``)."""
    return request("GET", url, timeout, headers, **tls)
