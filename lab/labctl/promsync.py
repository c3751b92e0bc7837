"""Render the real Prometheus / Alertmanager configs from kubesim's monitoring ConfigMaps, then reload.

The lab's mapping from in-cluster addresses to the lab's fixed ports:
`orchestrator[.voicehive[.svc…]]:<9090|8080>` → 127.0.0.1:18080 (primary),
`orchestrator.voicehive-dr…:<9090|8080>` → 127.0.0.1:18090 (DR); any other port P on those hosts →
127.0.0.1:(10000+P), which nothing listens on (a wrong port in the ConfigMap gives a target that is
down, as in a real cluster); 127.0.0.1 / localhost targets are kept as they are.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .kube import Kube
from .services import monitoring

SITE_PORTS = {"lab": 18080, "lab-dr": 18090}
GOOD_PORTS = {"9090", "8080"}


def map_target(target: str) -> str:
    host, _, port = target.rpartition(":")
    if not host:
        host, port = target, "9090"
    if host in ("127.0.0.1", "localhost"):
        return f"127.0.0.1:{port}"
    site = "lab-dr" if re.search(r"voicehive-dr", host) else "lab"
    if port in GOOD_PORTS:
        return f"127.0.0.1:{SITE_PORTS[site]}"
    return f"127.0.0.1:{10000 + int(port) if port.isdigit() and int(port) < 55535 else 1}"


def targets_from_configmap(cm: dict[str, Any] | None) -> tuple[dict[str, str], str]:
    """(site → lab target, scrape_interval) of the orchestrator jobs in ConfigMap prometheus-config."""
    targets: dict[str, str] = {}
    interval = "5s"
    for text in ((cm or {}).get("data") or {}).values():
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if not isinstance(doc, dict) or "scrape_configs" not in doc:
            continue
        for job in doc.get("scrape_configs") or []:
            if not str(job.get("job_name", "")).startswith("voicehive-orchestrator"):
                continue
            for static in job.get("static_configs") or []:
                for target in static.get("targets") or []:
                    mapped = map_target(str(target))
                    labels = static.get("labels") or {}
                    dr = str(job.get("job_name")).endswith("-dr") or "voicehive-dr" in str(target)
                    dr = dr or labels.get("site") == "lab-dr" or labels.get("namespace") == "voicehive-dr"
                    targets.setdefault("lab-dr" if dr else "lab", mapped)
    return targets, interval


def sync_prometheus(kube: Kube) -> str:
    cm = kube.configmap("monitoring", "prometheus-config")
    targets, interval = targets_from_configmap(cm)
    config = monitoring.prometheus_config(targets, scrape_interval=interval)
    monitoring.write_yaml(monitoring.PROMETHEUS_CONFIG(), config)
    monitoring.reload(monitoring.PROM_URL)
    return f"prometheus: targets {config['scrape_configs'][0]['static_configs'][0]['targets']}"


def grouping_from_configmap(cm: dict[str, Any] | None) -> dict[str, str]:
    data = (cm or {}).get("data") or {}
    out: dict[str, str] = {}
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if data.get(key):
            out[key] = str(data[key])
    for text in data.values():
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("route"), dict):
            for key in ("group_wait", "group_interval", "repeat_interval"):
                if doc["route"].get(key) and key not in out:
                    out[key] = str(doc["route"][key])
    return out


def sync_alertmanager(kube: Kube) -> str:
    grouping = grouping_from_configmap(kube.configmap("monitoring", "alertmanager-config"))
    monitoring.write_yaml(monitoring.ALERTMANAGER_CONFIG(), monitoring.alertmanager_config(**grouping))
    monitoring.reload(monitoring.AM_URL)
    return f"alertmanager: {grouping or 'defaults'}"


def sync_all(secrets: dict[str, str]) -> str:
    kube = Kube(secrets["kube_admin_token"])
    return "; ".join((sync_prometheus(kube), sync_alertmanager(kube)))
