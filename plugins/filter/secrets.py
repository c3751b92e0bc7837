# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that let evidence name a secret without showing it: fingerprint, vault_kv_checks.

The documentation of each filter is in the matching .yml file.
"""

from __future__ import annotations

import hashlib
import typing as t

from ansible.errors import AnsibleFilterError

FINGERPRINT_HEX = 10


def fingerprint(value: t.Any, keep: int = 0) -> str:
    """``<first keep characters>#<10 hex of sha256(value)>``."""
    if not isinstance(value, str) or not value:
        raise AnsibleFilterError("fingerprint: expects a non-empty string")
    if not isinstance(keep, int) or keep < 0 or keep > 16:
        raise AnsibleFilterError("fingerprint: keep must be an integer from 0 to 16")
    digest = hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:FINGERPRINT_HEX]
    shown = value[:keep] if keep < len(value) // 2 else ""  # never most of the value
    return f"{shown}#{digest}"


def vault_kv_checks(ids: t.Any, mount: str, path: str, keep: int = 8) -> list[dict[str, str]]:
    """``site_info`` ``vault.kv_checks`` entries for secret ids (API keys): the path is ``path`` with ``{id}``
    replaced by the id, the name its fingerprint, so the read never shows the id."""
    if not isinstance(ids, (list, tuple)) or not all(isinstance(i, str) and i for i in ids):
        raise AnsibleFilterError("vault_kv_checks: expects a list of non-empty strings")
    if "{id}" not in path:
        raise AnsibleFilterError("vault_kv_checks: path must contain {id}")
    return [dict(name=fingerprint(i, keep), mount=mount, path=path.replace("{id}", i)) for i in ids]


class FilterModule:
    """Filters that name secrets by fingerprint."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"fingerprint": fingerprint, "vault_kv_checks": vault_kv_checks}
