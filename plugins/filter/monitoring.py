# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Monitoring configuration filters: duration_seconds, scrape_config_apply, alert_rule_thresholds,
alert_rule_set_threshold, alertmanager_grouping_apply.

Pure functions over the text of the monitoring ConfigMaps (Prometheus scrape configuration, alert rule files,
Alertmanager configuration), used by roles/monitoring to work out a change before it writes it (the write itself is
a kubernetes.core.k8s patch, so check mode and diff come from there). Each returns the new text only when something
changes, so a second run changes nothing. The documentation of each filter is in the matching .yml file.
"""

from __future__ import annotations

import copy
import re
import typing as t

import yaml
from ansible.errors import AnsibleFilterError

DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
# the comparison that ends an alert expression, and its number: `... > 0.05`, `... == 0`
THRESHOLD = re.compile(
    r"^(?P<head>.*?)(?P<op>\s*(?:>=|<=|==|!=|>|<)\s*)(?P<value>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*$", re.S
)
GROUPING_KEYS = ("group_wait", "group_interval", "repeat_interval")


def duration_seconds(value: t.Any) -> float | None:
    """Seconds of a Prometheus/Alertmanager duration (``30s``, ``5m``, ``1h30m``, ``0s``); ``None`` when it is none."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    text = str(value).strip()
    match = DURATION.match(text)
    if not text or not match or not any(match.groups()):
        return None
    seconds = sum(int(part) * unit for part, unit in zip(match.groups(), UNITS, strict=True) if part)
    return float(round(seconds, 3))


def _plain(value: t.Any) -> t.Any:
    """``value`` with plain Python types only (Ansible hands filters tagged str/int subclasses, which YAML's safe
    dumper cannot represent)."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _load(text: t.Any, what: str) -> tuple[t.Any, str | None]:
    if not isinstance(text, str):
        return None, f"the {what} is not text"
    try:
        return yaml.safe_load(text), None
    except yaml.YAMLError as exc:
        return None, f"the {what} is not valid YAML: {str(exc).splitlines()[0]}"


def _dump(doc: t.Any) -> str:
    return yaml.safe_dump(_plain(doc), sort_keys=False, default_flow_style=False, width=1000)


def _targets(job: dict[str, t.Any], site_label: str) -> list[str]:
    out = []
    for static in job.get("static_configs") or []:
        if not isinstance(static, dict):
            continue
        site = (static.get("labels") or {}).get(site_label)
        for target in static.get("targets") or []:
            out.append(f"{target} ({site_label}={site})" if site is not None else str(target))
    return out


def scrape_config_apply(text: t.Any, jobs: t.Any, site_label: str = "site") -> dict[str, t.Any]:
    """Put the shipped scrape ``jobs`` into the Prometheus configuration ``text``.

    A job missing from the configuration is appended. A job present gets the shipped job's settings, and each of its
    shipped static_configs replaces the job's static_config with the same ``site_label`` value (another site's
    targets, in a Prometheus that scrapes several sites, are kept); other jobs are kept as they are.
    """
    if not isinstance(jobs, list) or not all(isinstance(j, dict) and j.get("job_name") for j in jobs):
        raise AnsibleFilterError("scrape_config_apply: jobs must be a list of scrape jobs, each with a job_name")
    jobs = _plain(jobs)
    site_label = str(site_label)
    doc, error = _load(text, "Prometheus configuration")
    if error is None and not isinstance(doc, dict):
        error = "the Prometheus configuration is not a mapping"
    if error is None and not isinstance(doc.get("scrape_configs") or [], list):
        error = "scrape_configs of the Prometheus configuration is not a list"
    if error:
        return dict(changed=False, text=text, error=error, before={}, after={})
    new = copy.deepcopy(doc)
    configs = new.setdefault("scrape_configs", None) or []
    new["scrape_configs"] = configs
    before, after = {}, {}
    for job in jobs:
        name = job["job_name"]
        found = next((j for j in configs if isinstance(j, dict) and j.get("job_name") == name), None)
        before[name] = _targets(found, site_label) if found else []
        if found is None:
            configs.append(copy.deepcopy(job))
            after[name] = _targets(job, site_label)
            continue
        for key, value in job.items():
            if key != "static_configs":
                found[key] = copy.deepcopy(value)
        statics = [s for s in found.get("static_configs") or [] if isinstance(s, dict)]
        for shipped in job.get("static_configs") or []:
            site = (shipped.get("labels") or {}).get(site_label)
            same = [i for i, s in enumerate(statics) if (s.get("labels") or {}).get(site_label) == site]
            if same:
                statics[same[0]] = copy.deepcopy(shipped)
                statics = [s for i, s in enumerate(statics) if i not in same[1:]]
            else:
                statics.append(copy.deepcopy(shipped))
        found["static_configs"] = statics
        after[name] = _targets(found, site_label)
    changed = new != doc
    return dict(changed=changed, text=_dump(new) if changed else text, error=None, before=before, after=after)


def _rules(doc: t.Any) -> t.Iterator[dict[str, t.Any]]:
    if not isinstance(doc, dict):
        return
    for group in doc.get("groups") or []:
        if isinstance(group, dict):
            for rule in group.get("rules") or []:
                if isinstance(rule, dict) and rule.get("alert"):
                    yield rule


def _threshold(expr: t.Any) -> dict[str, t.Any]:
    match = THRESHOLD.match(str(expr or "").strip())
    if not match:
        return dict(expr=expr, op=None, threshold=None)
    return dict(expr=expr, op=match.group("op").strip(), threshold=float(match.group("value")))


def alert_rule_thresholds(data: t.Any) -> dict[str, dict[str, t.Any]]:
    """Every alert rule in the rule files of ConfigMap ``data`` (key -> text): ``{alert: {key, expr, op, threshold}}``
    (``threshold`` None when the expression does not end in a comparison with a number)."""
    if not isinstance(data, dict):
        raise AnsibleFilterError("alert_rule_thresholds: expects the data of a ConfigMap (a dictionary)")
    out: dict[str, dict[str, t.Any]] = {}
    for key, text in data.items():
        doc, error = _load(text, "rule file")
        if error:
            continue
        for rule in _rules(doc):
            out.setdefault(str(rule["alert"]), dict(key=key, **_threshold(rule.get("expr"))))
    return out


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def alert_rule_set_threshold(data: t.Any, alert: str, value: t.Any) -> dict[str, t.Any]:
    """Set the number that ends alert ``alert``'s expression to ``value`` in ConfigMap ``data``.

    Returns ``{changed, data (the changed keys only), key, before, after, error}``; ``error`` when the alert is not
    there or its expression ends in no comparison with a number (nothing is changed then)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"alert_rule_set_threshold: {value!r} is not a number") from None
    found = alert_rule_thresholds(data).get(alert)
    if not found:
        return dict(
            changed=False, data={}, key=None, before=None, after=None, error=f"alert {alert} is in no rule file"
        )
    if found["threshold"] is None:
        return dict(
            changed=False,
            data={},
            key=found["key"],
            before=None,
            after=None,
            error=f"the expression of {alert} does not end in a comparison with a number: {found['expr']}",
        )
    if found["threshold"] == number:
        return dict(changed=False, data={}, key=found["key"], before=number, after=number, error=None)
    doc = _load(data[found["key"]], "rule file")[0]
    for rule in _rules(doc):
        if str(rule["alert"]) == alert:
            match = THRESHOLD.match(str(rule["expr"]).strip())
            rule["expr"] = str(match.group("head") + match.group("op") + _number(number))
            break
    return dict(
        changed=True,
        data={found["key"]: _dump(doc)},
        key=found["key"],
        before=found["threshold"],
        after=number,
        error=None,
    )


def alertmanager_grouping_apply(data: t.Any, settings: t.Any) -> dict[str, t.Any]:
    """Set the grouping ``settings`` (group_wait, group_interval, repeat_interval) in ConfigMap ``data``.

    Both places the guide and Alertmanager read are set: a top-level key of that name (the guide's
    ``kubectl patch ... {"data":{"group_wait":"30s"}}``) where there is one, and the top route of every Alertmanager
    configuration in the data. When the data has neither, the top-level keys are added. Returns ``{changed, data
    (the changed keys only), before, after}``; ``before`` has the value of each place (``group_wait`` for a
    top-level key, ``alertmanager.yml route.group_wait`` for a route), ``after`` the values set."""
    if not isinstance(data, dict):
        raise AnsibleFilterError("alertmanager_grouping_apply: expects the data of a ConfigMap (a dictionary)")
    if not isinstance(settings, dict) or not settings or not set(settings) <= set(GROUPING_KEYS):
        raise AnsibleFilterError(
            "alertmanager_grouping_apply: settings must be a dictionary of " + ", ".join(GROUPING_KEYS)
        )
    wanted = {str(k): str(v) for k, v in settings.items()}
    patch: dict[str, str] = {}
    before: dict[str, t.Any] = {}
    routes = 0
    for key, text in data.items():
        if key in wanted:
            before[key] = text
            if str(text) != wanted[key]:
                patch[key] = wanted[key]
            continue
        doc, error = _load(text, "Alertmanager configuration")
        if error or not isinstance(doc, dict) or not isinstance(doc.get("route"), dict):
            continue
        routes += 1
        for name in wanted:
            before[f"{key} route.{name}"] = doc["route"].get(name)
        if any(str(doc["route"].get(name)) != value for name, value in wanted.items()):
            doc["route"].update(wanted)
            patch[key] = _dump(doc)
    if not routes and not any(key in data for key in wanted):
        patch.update(wanted)
        before.update({key: None for key in wanted})
    return dict(changed=bool(patch), data=patch, before=before, after=wanted)


class FilterModule:
    """Filters on the monitoring ConfigMaps (Prometheus, alert rules, Alertmanager)."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "duration_seconds": duration_seconds,
            "scrape_config_apply": scrape_config_apply,
            "alert_rule_thresholds": alert_rule_thresholds,
            "alert_rule_set_threshold": alert_rule_set_threshold,
            "alertmanager_grouping_apply": alertmanager_grouping_apply,
        }
