# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Prometheus text exposition format filters: prom_parse, prom_select, prom_value.

The parser lives in module_utils/_prometheus.py (site_info uses it too). The documentation of
each filter is in the matching .yml file.
"""

from __future__ import annotations

import math
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.voicehive.remediation.plugins.module_utils._prometheus import PrometheusParseError, parse_text

AGGREGATES = ("sum", "min", "max", "first", "count")


def prom_parse(text: t.Any) -> list[dict[str, t.Any]]:
    """Parse Prometheus text exposition format into ``[{name, labels, value, timestamp, family, type, help}]``."""
    try:
        return parse_text(text)
    except PrometheusParseError as e:
        raise AnsibleFilterError(f"prom_parse: {e}") from None


def _samples(data: t.Any, filter_name: str) -> list[dict[str, t.Any]]:
    if isinstance(data, (str, bytes, bytearray)):
        return prom_parse(data)
    if not isinstance(data, (list, tuple)) or any(
        not isinstance(sample, dict) or "name" not in sample or "value" not in sample for sample in data
    ):
        raise AnsibleFilterError(f"{filter_name}: expects the output of prom_parse (or the /metrics text)")
    return list(data)


def _matchers(filter_name: str, labels: t.Any, matchers: dict[str, t.Any]) -> dict[str, str | None]:
    if labels is None:
        labels = {}
    if not isinstance(labels, dict):
        raise AnsibleFilterError(f"{filter_name}: labels must be a dict of label name to value")
    merged = dict(labels)
    merged.update(matchers)
    return {key: None if value is None else str(value) for key, value in merged.items()}


def _select(samples: list[dict[str, t.Any]], metric: t.Any, wanted: dict[str, str | None]) -> list[dict[str, t.Any]]:
    if metric is None:
        names = None
    elif isinstance(metric, str):
        names = {metric}
    else:
        names = {str(m) for m in metric}
    selected = []
    for sample in samples:
        if names is not None and sample["name"] not in names:
            continue
        labels = sample.get("labels") or {}
        # None (or "") matches a label that is absent, as in PromQL where an empty value means absent
        if all(labels.get(key, "") == (value or "") for key, value in wanted.items()):
            selected.append(sample)
    return selected


def prom_select(data: t.Any, metric: t.Any = None, labels: t.Any = None, **matchers: t.Any) -> list[dict[str, t.Any]]:
    """Samples named ``metric`` (a name or a list; any when None) whose labels equal the matchers."""
    return _select(_samples(data, "prom_select"), metric, _matchers("prom_select", labels, matchers))


def prom_value(
    data: t.Any,
    metric: t.Any = None,
    labels: t.Any = None,
    default: t.Any = None,
    aggregate: str | None = None,
    **matchers: t.Any,
) -> t.Any:
    """The value of the one matching sample; ``default`` when none; ``aggregate`` combines several."""
    selected = _select(_samples(data, "prom_value"), metric, _matchers("prom_value", labels, matchers))
    if aggregate is not None and aggregate not in AGGREGATES:
        raise AnsibleFilterError(f"prom_value: aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
    if aggregate == "count":
        return len(selected)
    if not selected:
        return default
    values = [sample["value"] for sample in selected]
    if aggregate is None:
        if len(values) > 1:
            series = ", ".join(_series(sample) for sample in selected[:5])
            raise AnsibleFilterError(
                f"prom_value: {len(values)} samples match ({series}{', ...' if len(values) > 5 else ''}); "
                "add label matchers or set aggregate"
            )
        return values[0]
    if aggregate == "first":
        return values[0]
    if aggregate == "sum":
        return math.fsum(values)
    return min(values) if aggregate == "min" else max(values)


def _series(sample: dict[str, t.Any]) -> str:
    labels = ",".join(f'{key}="{value}"' for key, value in sorted((sample.get("labels") or {}).items()))
    return f"{sample['name']}{{{labels}}}"


class FilterModule:
    """Prometheus text exposition format filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "prom_parse": prom_parse,
            "prom_select": prom_select,
            "prom_value": prom_value,
        }
