"""Guide: Monitoring and Alerting Issues — Missing Metrics; Alert Fatigue."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import requests
import yaml

from .. import promsync
from ..services import monitoring
from . import ops
from .base import Context, Fault

MON = "monitoring"
WRONG_PORT = "8000"  # the guide's own `curl localhost:8000/metrics`: not where the orchestrator serves metrics


def orchestrator_target(site: str = "lab") -> dict[str, Any] | None:
    answer = requests.get(f"{monitoring.PROM_URL}/api/v1/targets", params={"state": "active"}, timeout=5).json()
    for target in answer["data"]["activeTargets"]:
        labels = target.get("labels", {})
        if labels.get("job") == "voicehive-orchestrator" and labels.get("site") == site:
            return target
    return None


def break_scrape_config(text: str, site: str = "lab") -> str:
    """Point the primary site's orchestrator targets (job voicehive-orchestrator) at the wrong port."""
    doc = yaml.safe_load(text)
    for job in doc.get("scrape_configs") or []:
        if str(job.get("job_name", "")).startswith("voicehive-orchestrator"):
            for static in job.get("static_configs") or []:
                labels = static.get("labels") or {}
                if labels.get("site", site) != site or any("18090" in str(t) for t in static["targets"]):
                    continue
                static["targets"] = [re.sub(r":\d+$", "", str(t)) + f":{WRONG_PORT}" for t in static["targets"]]
    return yaml.safe_dump(doc, sort_keys=False)


class MissingMetrics(Fault):
    name = "missing-metrics"
    summary = "ConfigMap prometheus-config scrapes the orchestrator on the wrong port; Prometheus reloaded it"
    guide = "Monitoring and Alerting Issues / Missing Metrics"

    def inject(self, ctx: Context) -> dict[str, Any]:
        before = ops.snapshot_configmap(ctx.kube, MON, "prometheus-config")
        broken = {
            key: break_scrape_config(text)
            for key, text in (before or {}).items()
            if isinstance(yaml.safe_load(text), dict) and "scrape_configs" in yaml.safe_load(text)
        }
        if broken:
            ctx.kube.patch_configmap(MON, "prometheus-config", broken)
            promsync.sync_prometheus(ctx.kube)
        else:  # no usable ConfigMap: break the real config directly
            config = monitoring.prometheus_config({"lab": f"127.0.0.1:{10000 + int(WRONG_PORT)}"})
            monitoring.write_yaml(monitoring.PROMETHEUS_CONFIG(), config)
            monitoring.reload(monitoring.PROM_URL)
        return {"data": before}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        ops.restore_configmap(ctx.kube, MON, "prometheus-config", record.get("data"))
        if record.get("data"):
            promsync.sync_prometheus(ctx.kube)
        else:
            monitoring.write_yaml(monitoring.PROMETHEUS_CONFIG(), monitoring.prometheus_config())
            monitoring.reload(monitoring.PROM_URL)

    def active(self, ctx: Context) -> bool:
        target = orchestrator_target()
        return target is None or target.get("health") == "down" or ":18080" not in target.get("scrapeUrl", "")


ALERT_NAMES = (
    ("VoiceHiveHighLatency", "warning"),
    ("VoiceHiveHighCPUUsage", "warning"),
    ("VoiceHiveHighMemoryUsage", "warning"),
    ("VoiceHivePodCrashLooping", "warning"),
    ("VoiceHiveAuthenticationFailures", "warning"),
    ("VoiceHiveRateLimitExceeded", "warning"),
    ("VoiceHivePMSConnectorFailure", "warning"),
    ("VoiceHiveLowCallSuccessRate", "warning"),
)
STORM = 48


def storm_alerts() -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)
    stamp = "%Y-%m-%dT%H:%M:%S.000Z"
    alerts = []
    for index in range(STORM):
        name, severity = ALERT_NAMES[index % len(ALERT_NAMES)]
        alerts.append(
            {
                "labels": {
                    "alertname": name,
                    "severity": severity,
                    "site": "lab",
                    "namespace": "voicehive",
                    "pod": f"orchestrator-lab-{index // len(ALERT_NAMES):02d}",
                    "lab_fault": "alert-fatigue",
                },
                "annotations": {"summary": f"{name} flapping on orchestrator pod {index // len(ALERT_NAMES)}"},
                "startsAt": (now - dt.timedelta(minutes=index % 7)).strftime(stamp),
                "endsAt": (now + dt.timedelta(hours=1)).strftime(stamp),
                "generatorURL": f"{monitoring.PROM_URL}/graph",
            }
        )
    return alerts


def storm_count() -> int:
    answer = requests.get(
        f"{monitoring.AM_URL}/api/v2/alerts",
        params={"filter": 'lab_fault="alert-fatigue"', "active": "true"},
        timeout=5,
    )
    return len(answer.json())


class AlertFatigue(Fault):
    name = "alert-fatigue"
    summary = f"{STORM} flapping warning alerts in Alertmanager, and alertmanager-config group_wait 0s (no grouping)"
    guide = "Monitoring and Alerting Issues / Alert Fatigue"

    def inject(self, ctx: Context) -> dict[str, Any]:
        before = ops.snapshot_configmap(ctx.kube, MON, "alertmanager-config")
        ctx.kube.patch_configmap(MON, "alertmanager-config", {"group_wait": "0s", "group_interval": "1s"})
        promsync.sync_alertmanager(ctx.kube)
        requests.post(f"{monitoring.AM_URL}/api/v2/alerts", json=storm_alerts(), timeout=10).raise_for_status()
        return {"data": before}

    def clear(self, ctx: Context, record: dict[str, Any]) -> None:
        monitoring.expire_lab_alerts()
        ops.restore_configmap(ctx.kube, MON, "alertmanager-config", record.get("data"))
        promsync.sync_alertmanager(ctx.kube)

    def active(self, ctx: Context) -> bool:
        return storm_count() >= STORM // 2


FAULTS = [MissingMetrics(), AlertFatigue()]
