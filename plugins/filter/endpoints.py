# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Endpoint filters: tcp_url. The documentation of each filter is in the matching .yml file."""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

from ansible_collections.voicehive.remediation.plugins.module_utils._site_read import DEFAULT_PORTS


def _port(value: t.Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        port = int(str(value).strip())
    except ValueError:
        return None
    return port if 0 < port < 65536 else None


def tcp_url(value: t.Any, default_port: t.Any = None) -> str:
    """``tcp://host:port`` of a service URL (``redis://:secret@host:6379/0``, ``https://vault:8200``), a
    ``host:port`` or a bare host (with ``default_port``); ``''`` for an empty value or one without a usable host
    and port. User names and passwords of the URL are dropped."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AnsibleFilterError(f"tcp_url: expects a URL or host name string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return ""
    fallback = _port(default_port)
    if default_port not in (None, "") and fallback is None:
        raise AnsibleFilterError(f"tcp_url: default_port must be a TCP port (1 to 65535), got {default_port!r}")
    parts = urlsplit(text if "://" in text else "tcp://" + text)
    try:
        explicit = parts.port
    except ValueError:
        return ""
    host = parts.hostname
    port = explicit or DEFAULT_PORTS.get(parts.scheme) or fallback
    if not host or not port or any(c.isspace() for c in host):
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"tcp://{host}:{port}"


class FilterModule:
    """Filters on the site's service endpoints."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"tcp_url": tcp_url}
