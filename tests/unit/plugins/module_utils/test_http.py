# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_http: plain-HTTP requests make no TLS context (loading the system CAs costs tens of milliseconds
in every worker process); a redirect from http:// to https:// still verifies, with the default context."""

from __future__ import annotations

import ssl

import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils import _http


@pytest.fixture
def no_tls(monkeypatch):
    """Every TLS context made in the test is counted."""
    made = []
    real = ssl.create_default_context

    def counting(*args, **kwargs):
        made.append(args or kwargs)
        return real(*args, **kwargs)

    _http._default_https_context.cache_clear()
    monkeypatch.setattr(ssl, "create_default_context", counting)
    yield made
    _http._default_https_context.cache_clear()


def test_plain_http_makes_no_tls_context(http_server, no_tls):
    base, routes = http_server
    routes.routes["/ok"] = (200, {"ok": True})
    assert _http.request("GET", base + "/ok", timeout=5) == (200, b'{"ok": true}')
    assert _http.request("POST", base + "/ok", timeout=5, body=b"{}", proxies={}) == (200, b'{"ok": true}')
    assert no_tls == []


def test_redirect_to_https_verifies_with_the_default_context(http_server, no_tls):
    base, routes = http_server
    # to https:// on a port where nothing listens: the redirect is followed with a context, then refused
    routes.routes["/moved"] = (302, b"", {"Location": "https://127.0.0.1:9/elsewhere"})
    with pytest.raises(_http.Unreachable, match="Connection refused"):
        _http.request("GET", base + "/moved", timeout=5)
    assert no_tls == [{}]  # the default (verifying) context, made for the redirect


def test_https_request_verifies(no_tls):
    with pytest.raises(_http.Unreachable):
        _http.request("GET", "https://127.0.0.1:9/", timeout=1)
    assert len(no_tls) == 1
