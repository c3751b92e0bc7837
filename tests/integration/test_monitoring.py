# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Monitoring, against the lab's real Prometheus and Alertmanager, causes made directly in the services.

1. Both causes made in the services at once: ConfigMap monitoring/prometheus-config patched with the kubernetes
   client to scrape the primary site's orchestrator where nothing listens, and Prometheus rolled out so it loads
   it (the lab renders the real configuration from the ConfigMap when a Prometheus pod starts); 30 warning alerts
   posted to Alertmanager's API, alertmanager-config grouping 0s/1s loaded by an Alertmanager rollout. Malformed
   input stops the run before anything. Without approval the remediation names the target and its scrape error,
   re-applies the shipped job (the DR site's target kept) and Prometheus then reports every target up, while the
   storm is quantified and the gated changes wait; check mode with approval changes nothing; with approval the
   grouping applies (verified through /api/v2/status), the old values kept, and a named alert's threshold is
   changed within its bound (one beyond it refused).
2. Both lab faults at once (lab/bin/fault): one diagnosis finds and quantifies both.

The per-fault remediation through lab/bin/fault is in molecule/monitoring_missing_metrics and
molecule/monitoring_alert_fatigue.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
import yaml
from kubernetes import client as k8s_client
from vh_lab import fault, run_playbook, wait_for

pytestmark = pytest.mark.lab

MON = "monitoring"
PROM = "http://127.0.0.1:19090"
AM = "http://127.0.0.1:19093"
NOWHERE = "127.0.0.1:18079"  # nothing listens there: connection refused
STORM = {"VoiceHiveHighLatency": 10, "VoiceHiveHighErrorRate": 10, "VoiceHiveHighCPUUsage": 10}
EXTRA_RULES = """\
groups:
  - name: voicehive-slo
    rules:
      - alert: VoiceHiveHighLatency
        expr: histogram_quantile(0.95, sum(rate(voicehive_request_duration_seconds_bucket[5m])) by (le)) > 2
        for: 3m
        labels:
          severity: warning
      - alert: VoiceHiveHighErrorRate
        expr: sum(rate(voicehive_requests_total{status=~"5.."}[5m])) / sum(rate(voicehive_requests_total[5m])) > 0.05
        for: 2m
        labels:
          severity: critical
"""


def _restart(apps: k8s_client.AppsV1Api, name: str) -> None:
    stamp = dt.datetime.now(dt.UTC).isoformat()
    body = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
    apps.patch_namespaced_deployment(name, MON, body)


def _targets() -> list[dict]:
    return requests.get(f"{PROM}/api/v1/targets", params={"state": "active"}, timeout=5).json()["data"]["activeTargets"]


def _site_target(site: str = "lab") -> dict:
    return next(t for t in _targets() if t["labels"].get("site") == site)


def _versions(core: k8s_client.CoreV1Api, apps: k8s_client.AppsV1Api) -> dict:
    return {
        **{n: core.read_namespaced_config_map(n, MON).metadata.resource_version for n in _CONFIGMAPS},
        **{
            d: (apps.read_namespaced_deployment(d, MON).spec.template.metadata.annotations or {}).get(
                "kubectl.kubernetes.io/restartedAt"
            )
            for d in ("prometheus", "alertmanager")
        },
    }


_CONFIGMAPS = ("prometheus-config", "alertmanager-config", "alert-rules")
GATED = ("alertmanager-config", "alert-rules", "alertmanager")  # what only the gated actions change


def _by(items: list[dict], key: str) -> dict[str, dict]:
    return {item[key]: item for item in items}


def _am_route() -> dict:
    status = requests.get(f"{AM}/api/v2/status", timeout=5).json()
    return yaml.safe_load(status["config"]["original"])["route"]


def _storm(ends_in: dt.timedelta) -> list[dict]:
    now = dt.datetime.now(dt.UTC)
    alerts = []
    for name, count in STORM.items():
        for n in range(count):
            alerts.append(
                {
                    "labels": {
                        "alertname": name,
                        # as the shipped rules label them: a warning copy of a critical alert is inhibited by the
                        # real one (lab Alertmanager: critical inhibits warning of the same alertname and site)
                        "severity": "critical" if name == "VoiceHiveHighErrorRate" else "warning",
                        "site": "lab",
                        "pod": f"orchestrator-{n}",
                        "lab_fault": "monitoring-test",
                    },
                    "startsAt": (now - dt.timedelta(minutes=n)).isoformat(),
                    "endsAt": (now + ends_in).isoformat(),
                }
            )
    return alerts


def test_target_down_and_alert_storm_made_in_the_services(clean_lab, kube):
    core, apps = k8s_client.CoreV1Api(kube), k8s_client.AppsV1Api(kube)
    # a scrape target where nothing listens, loaded by a Prometheus rollout
    shipped = core.read_namespaced_config_map("prometheus-config", MON).data["prometheus.yml"]
    broken = shipped.replace("127.0.0.1:18080", NOWHERE)
    assert broken != shipped
    core.patch_namespaced_config_map("prometheus-config", MON, {"data": {"prometheus.yml": broken}})
    _restart(apps, "prometheus")
    # no grouping, loaded by an Alertmanager rollout; two SLO rules; a storm of 30 alerts
    am_config = core.read_namespaced_config_map("alertmanager-config", MON).data["alertmanager.yml"]
    low = am_config.replace("group_wait: 30s", "group_wait: 0s").replace("group_interval: 5m", "group_interval: 1s")
    core.patch_namespaced_config_map(
        "alertmanager-config", MON, {"data": {"group_wait": "0s", "group_interval": "1s", "alertmanager.yml": low}}
    )
    core.patch_namespaced_config_map("alert-rules", MON, {"data": {"voicehive-slo.yml": EXTRA_RULES}})
    _restart(apps, "alertmanager")
    wait_for(lambda: NOWHERE in _site_target()["scrapeUrl"] and _site_target()["health"] == "down", 30, 1, "down")
    wait_for(lambda: _am_route()["group_wait"] == "0s", 20, 0.5, "Alertmanager grouping 0s")
    requests.post(f"{AM}/api/v2/alerts", json=_storm(dt.timedelta(hours=1)), timeout=10).raise_for_status()
    thresholds = {"VoiceHiveHighLatency": 3, "VoiceHiveHighErrorRate": 5, "VoiceHiveRedisDown": 2}
    try:
        # malformed input: refused before anything is read or changed
        before = _versions(core, apps)
        bad = {
            "monitoring_group_wait": "1h",
            "monitoring_prometheus_reload": "sometimes",
            "monitoring_flapping_step": "x",
        }
        run = run_playbook("playbooks/remediate.yml", "--tags", "monitoring", extra_vars=bad)
        assert run.rc != 0 and "Traceback" not in run.output
        assert run.report["outcome"] == "failed" and run.report["actions"] == [] and run.report["findings"] == []
        for text in (
            "monitoring_group_wait 1h must be from monitoring_min_group_wait (10s) to monitoring_max_group_wait (5m)",
            "monitoring_prometheus_reload sometimes must be restart or reload",
            "monitoring_flapping_step x is not a duration",
        ):
            assert text in run.output, run.output[-3000:]
        assert _versions(core, apps) == before

        # without approval: the scrape job is re-applied (safe), the storm quantified, the gated changes wait
        run = run_playbook(
            "playbooks/remediate.yml", "--tags", "monitoring", extra_vars={"monitoring_alert_thresholds": thresholds}
        )
        assert run.rc == 0, run.output[-3000:]
        findings = _by(run.report["findings"], "id")
        down = findings["monitoring.targets_down"]
        assert NOWHERE in down["summary"] and "connection refused" in down["summary"], down["summary"]
        assert down["evidence"]["down"][0]["instance"] == NOWHERE and down["evidence"]["config_differs"] is True
        assert down["status"] == "resolved"
        fatigue = findings["monitoring.alert_fatigue"]
        assert fatigue["evidence"]["firing"] >= 30 and fatigue["evidence"]["groups"] >= 3
        counts = {n["name"]: n["count"] for n in fatigue["evidence"]["by_name"]}
        assert all(counts[name] >= count for name, count in STORM.items()), counts
        assert set(fatigue["evidence"]["storming_names"]) >= set(STORM)
        assert fatigue["severity"] == "warning" and "alert(s) firing" in fatigue["summary"]
        grouping = findings["monitoring.alert_grouping"]
        assert grouping["evidence"]["low"] == ["group_wait 0s < 10s", "group_interval 1s < 30s"]
        actions = _by(run.report["actions"], "action")
        assert actions["apply_scrape_config"]["status"] == "done" and actions["apply_scrape_config"]["changed"]
        assert f"{NOWHERE} (site=lab)" in actions["apply_scrape_config"]["before"]["targets"]["voicehive-orchestrator"]
        assert actions["restart_prometheus"]["status"] == "done"
        assert actions["tune_alert_grouping"]["status"] == "skipped_needs_approval"
        assert actions["tune_alert_thresholds"]["status"] == "skipped_needs_approval"
        assert run.report["outcome"] == "action_required"
        # Prometheus itself: every target up, the primary on the shipped address, the DR site's target kept
        health = wait_for(lambda: all(t["health"] == "up" for t in _targets()) or None, 15, 0.5, "every target up")
        assert health, [(t["scrapeUrl"], t["health"], t["lastError"]) for t in _targets()]
        assert _site_target()["scrapeUrl"] == "http://127.0.0.1:18080/metrics"
        job = yaml.safe_load(core.read_namespaced_config_map("prometheus-config", MON).data["prometheus.yml"])
        statics = {s["labels"]["site"]: s["targets"] for s in job["scrape_configs"][0]["static_configs"]}
        assert statics == {"lab": ["127.0.0.1:18080"], "lab-dr": ["127.0.0.1:18090"]}
        now = _versions(core, apps)
        assert {k: now[k] for k in GATED} == {k: before[k] for k in GATED}
        assert _am_route()["group_wait"] == "0s"

        # check mode with approval: nothing changes
        approved = {
            "monitoring_alert_thresholds": thresholds,
            "voicehive_approved_actions": ["tune_alert_grouping", "tune_alert_thresholds"],
        }
        everything = _versions(core, apps)
        run = run_playbook("playbooks/remediate.yml", "--tags", "monitoring", "--check", "--diff", extra_vars=approved)
        assert run.rc == 0, run.output[-3000:]
        statuses = {a["action"]: a["status"] for a in run.report["actions"]}
        assert statuses["tune_alert_grouping"] == "would_change" and statuses["tune_alert_thresholds"] == "would_change"
        assert _versions(core, apps) == everything and _am_route()["group_wait"] == "0s"

        # approved: the grouping applies in Alertmanager, one threshold within its bound, the other refused
        run = run_playbook("playbooks/remediate.yml", "--tags", "monitoring", extra_vars=approved)
        assert run.rc == 0, run.output[-3000:]
        findings = _by(run.report["findings"], "id")
        assert findings["monitoring.alert_grouping"]["status"] == "resolved"
        assert findings["monitoring.alert_fatigue"]["status"] == "unresolved"  # the alerts still fire
        assert "monitoring.targets_down" not in findings
        actions = _by(run.report["actions"], "action")
        assert actions["tune_alert_grouping"]["status"] == "done"
        assert actions["tune_alert_grouping"]["before"]["group_wait"] == "0s"
        thresholds_done = actions["tune_alert_thresholds"]
        assert thresholds_done["before"] == {"VoiceHiveHighLatency": 2.0, "VoiceHiveHighErrorRate": 0.05}
        assert thresholds_done["after"] == {"VoiceHiveHighLatency": 3.0, "VoiceHiveHighErrorRate": 0.05}
        assert "beyond 4.0x the current 0.05" in thresholds_done["reason"]
        assert actions["restart_prometheus"]["status"] == "done"
        # Alertmanager runs with the tuned grouping, the old values are kept, the rule file holds the new threshold
        route = _am_route()
        assert (route["group_wait"], route["group_interval"]) == ("30s", "5m")
        am = core.read_namespaced_config_map("alertmanager-config", MON)
        assert am.metadata.annotations["voicehive.io/previous-grouping"] == "group_wait=0s,group_interval=1s"
        rules = core.read_namespaced_config_map("alert-rules", MON)
        kept = json.loads(rules.metadata.annotations["voicehive.io/previous-alert-thresholds"])
        assert kept == {"VoiceHiveHighLatency": 2.0}
        slo = yaml.safe_load(rules.data["voicehive-slo.yml"])["groups"][0]["rules"]
        assert slo[0]["expr"].endswith("by (le)) > 3") and slo[1]["expr"].endswith("> 0.05")
    finally:
        requests.post(f"{AM}/api/v2/alerts", json=_storm(dt.timedelta(seconds=0)), timeout=10)


def test_both_lab_faults_are_found_in_one_diagnosis(clean_lab):
    fault("inject", "missing-metrics")
    fault("inject", "alert-fatigue")
    wait_for(lambda: _site_target()["health"] == "down", 30, 1, "the orchestrator target down")
    run = run_playbook("playbooks/diagnose.yml", "--tags", "monitoring")
    assert run.rc == 0, run.output[-3000:]
    findings = _by(run.report["findings"], "id")
    down = findings["monitoring.targets_down"]
    assert "127.0.0.1:8000" in down["summary"] and "connection refused" in down["summary"], down["summary"]
    assert down["remediation"] == "apply_scrape_config"
    fatigue = findings["monitoring.alert_fatigue"]
    assert fatigue["evidence"]["firing"] >= 48 and fatigue["evidence"]["groups"] >= 8
    assert findings["monitoring.alert_grouping"]["remediation"] == "tune_alert_grouping"
    assert run.report["actions"] == [] and run.report["outcome"] == "findings_open"
