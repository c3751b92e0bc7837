# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Kubernetes memory quantities: memory_bytes.

The quantity grammar is the site read's (module_utils/_kube_read.py parse_quantity), so a value a play checks is
read the way the site read reads the cluster's own values. The documentation is in memory_bytes.yml.
"""

from __future__ import annotations

import typing as t

from ansible_collections.voicehive.remediation.plugins.module_utils._kube_read import parse_quantity

# fractions of a byte make no sense for memory (Kubernetes accepts them, then rounds up)
_FRACTION_SUFFIXES = ("n", "u", "m")


def memory_bytes(value: t.Any) -> int | None:
    """The bytes of a Kubernetes memory quantity (``512Mi``, ``2Gi``, ``1G``, ``1073741824``); ``None`` when the
    value is missing, no quantity, negative, zero or in fractions of a byte (``500m``)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if value.endswith(_FRACTION_SUFFIXES):
            return None
    number = parse_quantity(value)
    if number is None or number <= 0:
        return None
    return round(number)


class FilterModule:
    """Filters on Kubernetes resource quantities."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"memory_bytes": memory_bytes}
