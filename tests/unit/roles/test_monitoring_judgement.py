# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/monitoring/templates/judgement.j2: every cause judged from a site read, rendered by Ansible's templar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

TEMPLATE = (Path(__file__).resolve().parents[3] / "roles" / "monitoring" / "templates" / "judgement.j2").read_text()
NAMES = [
    "voicehive_http_requests_total",
    "voicehive_http_request_duration_seconds_bucket",
    "voicehive_http_request_duration_seconds_count",
    "voicehive_circuit_breaker_state",
    "voicehive_errors_total",
    "voicehive_active_calls",
    "voicehive_calls_total",
]
REFUSED = 'Get "http://127.0.0.1:8000/metrics": dial tcp 127.0.0.1:8000: connect: connection refused'


pytestmark = pytest.mark.usefixtures("collection_filters")


def target(instance, health="up", job="voicehive-orchestrator", error=None):
    return {
        "job": job,
        "instance": instance,
        "health": health,
        "last_error": error,
        "scrape_url": f"http://{instance}/metrics",
        "last_scrape": "2026-12-07T08:00:00Z",
    }


def up(instance, site, value=1.0, job="voicehive-orchestrator"):
    labels = {"job": job, "instance": instance}
    if site:
        labels["site"] = site
    return {"labels": labels, "value": value}


def alert(name, receivers=("notify",), state="active", n=0, **labels):
    return {
        "name": name,
        "state": state,
        "labels": {"alertname": name, "site": "lab", "pod": f"p{n}", **labels},
        "receivers": list(receivers),
        "fingerprint": f"{name}-{n}",
        "starts_at": "2026-12-07T08:00:00Z",
    }


def site(lab_target="127.0.0.1:18080", lab_up=True, alerts=(), wait="30s", interval="5m", routes=(), flapping=()):
    healthy_lab = "up" if lab_up else "down"
    return {
        "prometheus": {
            "available": True,
            "healthy": True,
            "error": None,
            "config_reload_success": True,
            "last_config_time": "2026-12-07T08:00:00Z",
            "targets": [
                target(lab_target, healthy_lab, error=None if lab_up else REFUSED),
                target("127.0.0.1:18090"),
                target("127.0.0.1:19090", job="prometheus"),
            ],
            "queries": {
                "monitoring_up": {
                    "ok": True,
                    "samples": [
                        up(lab_target, "lab", 1.0 if lab_up else 0.0),
                        up("127.0.0.1:18090", "lab-dr"),
                        up("127.0.0.1:19090", None, job="prometheus"),
                    ],
                },
                "monitoring_flapping": {
                    "ok": True,
                    "samples": [{"labels": {"alertname": n}, "value": v} for n, v in flapping],
                },
            },
        },
        "alertmanager": {
            "available": True,
            "healthy": True,
            "error": None,
            "alerts": list(alerts),
            "config": {
                "route": {
                    "receiver": "notify",
                    "group_by": ["alertname", "site"],
                    "group_wait": wait,
                    "group_interval": interval,
                    "routes": list(routes),
                    "matchers": [],
                },
                "receivers": ["notify"],
            },
        },
        "http": {
            "orchestrator_metrics": {
                "url": "http://127.0.0.1:18080/metrics",
                "reachable": True,
                "status": 200,
                "healthy": True,
                "error": None,
                "metric_names": [*NAMES, "process_cpu_seconds_total"],
            }
        },
    }


def judge(state, **overrides):
    variables = {
        "voicehive_state": state,
        "voicehive_site": "lab",
        "monitoring_site_label": "site",
        "monitoring_all_targets": False,
        "monitoring_scrape_jobs": [{"job_name": "voicehive-orchestrator"}],
        "monitoring_expected_metrics": [
            ["voicehive_http_requests_total", "voicehive_requests_total"],
            "voicehive_http_request_duration_seconds",
            "voicehive_circuit_breaker_state",
            "voicehive_calls_total",
        ],
        "monitoring_alert_storm": 20,
        "monitoring_alert_name_storm": 10,
        "monitoring_null_receivers": ["null", "blackhole"],
        "monitoring_min_group_wait": "10s",
        "monitoring_min_group_interval": "30s",
    }
    variables.update(overrides)
    return json.loads(Templar(loader=DataLoader(), variables=variables).template(trust_as_template(TEMPLATE)))


def storm(count=48, names=8):
    return [alert(f"VoiceHiveAlert{i % names}", n=i) for i in range(count)]


def test_healthy_site_has_no_problem():
    verdict = judge(site(alerts=storm(3)))
    assert verdict["problems"] == []
    assert verdict["targets"]["judged"] == 2 and verdict["targets"]["up"] == 2 and verdict["targets"]["down"] == []
    assert verdict["metrics"]["missing"] == [] and verdict["metrics"]["names"] == 7
    assert verdict["alerts"]["firing"] == 3 and verdict["alerts"]["groups"] == 3
    assert verdict["prometheus"]["healthy"] is True


def test_a_target_down_of_this_site_is_named_with_its_error():
    verdict = judge(site(lab_target="127.0.0.1:8000", lab_up=False))
    assert verdict["problems"] == ["monitoring.targets_down"]
    assert verdict["targets"]["down"] == [
        {
            "job": "voicehive-orchestrator",
            "instance": "127.0.0.1:8000",
            "scrape_url": "http://127.0.0.1:8000/metrics",
            "site": "lab",
            "last_error": REFUSED,
            "last_scrape": "2026-12-07T08:00:00Z",
        }
    ]
    assert judge(site(lab_target="127.0.0.1:8000", lab_up=False), voicehive_site="lab-dr")["problems"] == []
    assert judge(site(lab_up=False), voicehive_site="lab-dr", monitoring_all_targets=True)["problems"] == [
        "monitoring.targets_down"
    ]


def test_a_shipped_job_without_a_target_of_this_site_is_missing():
    state = site()
    state["prometheus"]["queries"]["monitoring_up"]["samples"] = [up("127.0.0.1:18090", "lab-dr")]
    verdict = judge(state)
    assert verdict["problems"] == ["monitoring.targets_down"]
    assert verdict["targets"]["missing_jobs"] == ["voicehive-orchestrator"]


def test_without_the_up_query_every_down_target_counts():
    state = site(lab_up=False)
    state["prometheus"]["queries"] = {}
    verdict = judge(state)
    assert verdict["problems"] == ["monitoring.targets_down"] and verdict["targets"]["missing_jobs"] == []


@pytest.mark.parametrize(
    ("change", "problems"),
    [
        ({"available": False, "healthy": False, "error": "connection refused"}, ["monitoring.prometheus_unhealthy"]),
        ({"healthy": False}, ["monitoring.prometheus_unhealthy"]),
        ({"config_reload_success": False}, ["monitoring.prometheus_unhealthy"]),
    ],
)
def test_prometheus_unhealthy_or_its_configuration_not_loaded(change, problems):
    state = site()
    state["prometheus"].update(change)
    if not change.get("available", True):
        state["prometheus"]["targets"] = []
        state["prometheus"]["queries"] = {}
    assert judge(state)["problems"] == problems


@pytest.mark.parametrize(
    ("metrics", "missing"),
    [
        ({"reachable": False, "status": None, "error": "connection refused"}, []),
        ({"status": 500}, []),
        (
            {
                "metric_names": [
                    "voicehive_requests_total",
                    "voicehive_calls_total",
                    "voicehive_http_request_duration_seconds_sum",
                ]
            },
            ["voicehive_circuit_breaker_state"],
        ),
    ],
)
def test_metrics_missing(metrics, missing):
    state = site()
    state["http"]["orchestrator_metrics"].update(metrics)
    verdict = judge(state)
    assert verdict["problems"] == ["monitoring.metrics_missing"]
    assert verdict["metrics"]["missing"] == missing


def test_no_metrics_read_is_no_problem():
    state = site()
    state["http"] = {}
    assert judge(state)["problems"] == [] and judge(state)["metrics"]["read"] is False


def test_storm_with_low_grouping_is_quantified():
    verdict = judge(site(alerts=storm(), wait="0s", interval="1s"))
    assert verdict["problems"] == ["monitoring.alert_fatigue", "monitoring.alert_grouping"]
    alerts = verdict["alerts"]
    assert alerts["firing"] == 48 and alerts["names"] == 8 and alerts["groups"] == 8
    assert alerts["by_name"][0]["count"] == 6
    assert alerts["grouping"]["low"] == ["group_wait 0s < 10s", "group_interval 1s < 30s"]
    assert verdict["fatigue_severity"] == "warning"


def test_storm_already_grouped_is_info():
    verdict = judge(site(alerts=storm()))
    assert verdict["problems"] == ["monitoring.alert_fatigue"] and verdict["fatigue_severity"] == "info"


def firing(state, *names, site="lab", status="firing"):
    """The alerts Prometheus has pending or firing now (the flapping series are its own)."""
    state["prometheus"]["alerts"] = [
        {"name": n, "state": status, "labels": {"alertname": n, **({"site": site} if site else {})}} for n in names
    ]
    return state


def test_one_name_storming_and_flapping():
    verdict = judge(
        firing(
            site(alerts=[*storm(12, names=1), alert("VoiceHiveHighLatency")], flapping=[("VoiceHiveHighLatency", 4.0)]),
            "VoiceHiveHighLatency",
        )
    )
    assert verdict["problems"] == ["monitoring.alert_fatigue"]
    assert verdict["alerts"]["storming_names"] == ["VoiceHiveAlert0"]
    assert verdict["alerts"]["flapping"] == [{"name": "VoiceHiveHighLatency", "starts": 4}]
    assert verdict["fatigue_severity"] == "warning"


def test_flapping_alone_is_fatigue_while_prometheus_fires_the_alert():
    flapped = judge(firing(site(alerts=[alert("A")], flapping=[("A", 3.0)]), "A"))
    assert flapped["problems"] == ["monitoring.alert_fatigue"] and flapped["fatigue_severity"] == "warning"
    quiet = judge(firing(site(alerts=[alert("B")], flapping=[("A", 3.0)]), "B"))
    assert quiet["problems"] == [] and quiet["alerts"]["flapping"] == []
    pending = firing(site(flapping=[("A", 3.0)]), "A", site=None, status="pending")
    assert judge(pending)["alerts"]["flapping"] == [{"name": "A", "starts": 3}]


def test_flapping_is_prometheus_own_alert_of_this_site():
    # a storm posted to Alertmanager under a name that flapped in Prometheus earlier (quiet there now): history
    history = judge(site(alerts=storm(12, names=1), flapping=[("VoiceHiveAlert0", 5.0)]))
    assert history["alerts"]["flapping"] == [] and history["fatigue_severity"] == "info"
    # another site's alert of that name firing and flapping does not count here
    other = firing(site(alerts=[alert("A")], flapping=[("A", 4.0)]), "A", site="lab-dr")
    other["prometheus"]["queries"]["monitoring_flapping"]["samples"][0]["labels"]["site"] = "lab-dr"
    assert judge(other)["alerts"]["flapping"] == []
    # this site's series and a site-less one of one name: counted once, the most starts
    both = firing(site(alerts=[alert("A")], flapping=[("A", 3.0), ("A", 6.0)]), "A")
    both["prometheus"]["queries"]["monitoring_flapping"]["samples"][0]["labels"]["site"] = "lab"
    assert judge(both)["alerts"]["flapping"] == [{"name": "A", "starts": 6}]


def test_unrouted_alerts():
    alerts = [
        alert("A", receivers=()),
        alert("B", receivers=("null",)),
        alert("C", receivers=("notify",)),
        alert("D", receivers=("team",)),
        alert("E", state="suppressed"),
    ]
    verdict = judge(site(alerts=alerts, routes=[{"receiver": "team", "matchers": ["team=x"]}]))
    assert verdict["problems"] == ["monitoring.alerts_unrouted"]
    assert verdict["alerts"]["unrouted"] == [
        {"name": "A", "count": 1},
        {"name": "B", "count": 1},
        {"name": "C", "count": 1},
    ]
    assert judge(site(alerts=alerts))["alerts"]["unrouted"] == [{"name": "A", "count": 1}, {"name": "B", "count": 1}]


def test_alertmanager_unhealthy_and_default_grouping():
    state = site()
    state["alertmanager"] = {"available": False, "healthy": False, "error": "refused", "alerts": [], "config": None}
    verdict = judge(state)
    assert verdict["problems"] == ["monitoring.alertmanager_unhealthy"]
    assert verdict["alerts"]["grouping"]["read"] is False
    route = site()
    del route["alertmanager"]["config"]["route"]["group_wait"]
    assert judge(route)["alerts"]["grouping"]["group_wait"] == "30s"


def test_components_not_read_are_not_judged():
    assert judge({})["problems"] == []
