# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/filter/monitoring.py: durations, the scrape configuration, alert rule thresholds, Alertmanager grouping."""

from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.voicehive.remediation.plugins.filter import monitoring as f

SEEDED = """\
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: voicehive-orchestrator
    static_configs:
      - targets: ['127.0.0.1:8000']
        labels:
          site: lab
      - targets: ['127.0.0.1:18090']
        labels:
          site: lab-dr
  - job_name: node
    static_configs:
      - targets: ['node:9100']
"""
SHIPPED = [
    {
        "job_name": "voicehive-orchestrator",
        "metrics_path": "/metrics",
        "static_configs": [{"targets": ["127.0.0.1:18080"], "labels": {"site": "lab"}}],
    }
]
RULES = """\
groups:
  - name: voicehive
    rules:
      - alert: VoiceHiveHighLatency
        expr: histogram_quantile(0.95, rate(voicehive_request_duration_seconds_bucket[5m])) > 2
        for: 3m
      - alert: VoiceHiveHighErrorRate
        expr: sum(rate(voicehive_requests_total{status=~"5.."}[5m])) / sum(rate(voicehive_requests_total[5m])) > 0.05
      - alert: NoNumber
        expr: absent(up)
"""


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("0s", 0.0), ("1d", 86400.0), ("500ms", 0.5), (15, 15.0)],
)
def test_duration_seconds(value, seconds):
    assert f.duration_seconds(value) == seconds


@pytest.mark.parametrize("value", ["", "abc", "5x", "m5", None, True, -1, "30 s"])
def test_duration_seconds_refuses_what_is_no_duration(value):
    assert f.duration_seconds(value) is None


def test_scrape_config_apply_replaces_this_sites_targets_only():
    out = f.scrape_config_apply(SEEDED, SHIPPED)
    assert out["changed"] is True and out["error"] is None
    doc = yaml.safe_load(out["text"])
    job = doc["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [
        {"targets": ["127.0.0.1:18080"], "labels": {"site": "lab"}},
        {"targets": ["127.0.0.1:18090"], "labels": {"site": "lab-dr"}},
    ]
    assert doc["scrape_configs"][1]["job_name"] == "node" and doc["global"] == {"scrape_interval": "15s"}
    assert out["before"] == {"voicehive-orchestrator": ["127.0.0.1:8000 (site=lab)", "127.0.0.1:18090 (site=lab-dr)"]}
    assert out["after"]["voicehive-orchestrator"][0] == "127.0.0.1:18080 (site=lab)"
    again = f.scrape_config_apply(out["text"], SHIPPED)
    assert again["changed"] is False and again["text"] == out["text"]


def test_scrape_config_apply_appends_missing_jobs_and_sites_and_drops_duplicates():
    text = "scrape_configs:\n  - job_name: voicehive-orchestrator\n    static_configs:\n" + (
        "      - {targets: ['a:1'], labels: {site: lab}}\n      - {targets: ['b:1'], labels: {site: lab}}\n"
    )
    out = f.scrape_config_apply(text, [*SHIPPED, {"job_name": "extra", "static_configs": [{"targets": ["x:1"]}]}])
    doc = yaml.safe_load(out["text"])
    assert doc["scrape_configs"][0]["static_configs"] == SHIPPED[0]["static_configs"]
    assert doc["scrape_configs"][1] == {"job_name": "extra", "static_configs": [{"targets": ["x:1"]}]}
    assert out["before"]["extra"] == [] and out["after"]["extra"] == ["x:1"]
    other = f.scrape_config_apply("scrape_configs:\n  - job_name: voicehive-orchestrator\n", SHIPPED)
    assert yaml.safe_load(other["text"])["scrape_configs"][0]["static_configs"] == SHIPPED[0]["static_configs"]
    empty = f.scrape_config_apply("global: {}\n", SHIPPED)
    assert yaml.safe_load(empty["text"])["scrape_configs"] == SHIPPED


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("scrape_configs: [", "not valid YAML"),
        ("- a\n", "not a mapping"),
        ("scrape_configs: 3\n", "is not a list"),
        (None, "is not text"),
    ],
)
def test_scrape_config_apply_reports_an_unusable_configuration(text, error):
    out = f.scrape_config_apply(text, SHIPPED)
    assert out["changed"] is False and error in out["error"]


@pytest.mark.parametrize("jobs", [None, [{"static_configs": []}], ["x"]])
def test_scrape_config_apply_refuses_bad_jobs(jobs):
    with pytest.raises(AnsibleFilterError, match="job_name"):
        f.scrape_config_apply(SEEDED, jobs)


def test_alert_rule_thresholds_reads_every_rule():
    rules = f.alert_rule_thresholds({"voicehive-alerts.yml": RULES, "broken.yml": "groups: [", "other": "x: 1"})
    assert rules["VoiceHiveHighLatency"]["threshold"] == 2.0 and rules["VoiceHiveHighLatency"]["op"] == ">"
    assert rules["VoiceHiveHighErrorRate"]["threshold"] == 0.05
    assert rules["NoNumber"]["threshold"] is None and rules["NoNumber"]["key"] == "voicehive-alerts.yml"
    with pytest.raises(AnsibleFilterError):
        f.alert_rule_thresholds("x")


def test_alert_rule_set_threshold_changes_one_number():
    data = {"voicehive-alerts.yml": RULES}
    out = f.alert_rule_set_threshold(data, "VoiceHiveHighErrorRate", 0.1)
    assert out["changed"] is True and out["before"] == 0.05 and out["after"] == 0.1
    rules = f.alert_rule_thresholds(out["data"])
    assert rules["VoiceHiveHighErrorRate"]["threshold"] == 0.1
    assert rules["VoiceHiveHighErrorRate"]["expr"].endswith("[5m])) > 0.1")
    assert rules["VoiceHiveHighLatency"]["threshold"] == 2.0
    assert (
        f.alert_rule_set_threshold(data, "VoiceHiveHighLatency", 3)["data"]["voicehive-alerts.yml"].count("> 3\n") == 1
    )
    same = f.alert_rule_set_threshold(data, "VoiceHiveHighLatency", "2")
    assert same["changed"] is False and same["data"] == {} and same["error"] is None
    assert "in no rule file" in f.alert_rule_set_threshold(data, "Nope", 1)["error"]
    assert "does not end in a comparison" in f.alert_rule_set_threshold(data, "NoNumber", 1)["error"]
    with pytest.raises(AnsibleFilterError, match="not a number"):
        f.alert_rule_set_threshold(data, "NoNumber", "x")


AM = "route:\n  receiver: notify\n  group_wait: 0s\n  group_interval: 1s\nreceivers:\n  - name: notify\n"


def test_alertmanager_grouping_apply_sets_both_places():
    data = {"group_wait": "0s", "group_interval": "1s", "repeat_interval": "4h", "alertmanager.yml": AM}
    out = f.alertmanager_grouping_apply(data, {"group_wait": "30s", "group_interval": "5m"})
    assert out["changed"] is True
    assert out["data"]["group_wait"] == "30s" and out["data"]["group_interval"] == "5m"
    route = yaml.safe_load(out["data"]["alertmanager.yml"])["route"]
    assert route["group_wait"] == "30s" and route["group_interval"] == "5m" and route["receiver"] == "notify"
    assert out["before"] == {
        "group_wait": "0s",
        "group_interval": "1s",
        "alertmanager.yml route.group_wait": "0s",
        "alertmanager.yml route.group_interval": "1s",
    }
    done = {**data, **out["data"]}
    assert f.alertmanager_grouping_apply(done, {"group_wait": "30s", "group_interval": "5m"})["changed"] is False


def test_alertmanager_grouping_apply_adds_the_keys_when_there_is_nothing():
    out = f.alertmanager_grouping_apply({"other": "[1"}, {"group_wait": "30s"})
    assert out["data"] == {"group_wait": "30s"} and out["before"] == {"group_wait": None}
    only_yaml = f.alertmanager_grouping_apply({"am.yml": AM}, {"group_wait": "30s"})
    assert list(only_yaml["data"]) == ["am.yml"]


@pytest.mark.parametrize(("data", "settings"), [("x", {"group_wait": "1s"}), ({}, {}), ({}, {"foo": "1s"}), ({}, "x")])
def test_alertmanager_grouping_apply_refuses_bad_input(data, settings):
    with pytest.raises(AnsibleFilterError):
        f.alertmanager_grouping_apply(data, settings)


def test_filter_module_lists_the_filters():
    assert set(f.FilterModule().filters()) == {
        "duration_seconds",
        "scrape_config_apply",
        "alert_rule_thresholds",
        "alert_rule_set_threshold",
        "alertmanager_grouping_apply",
    }


class Tagged(str):
    """A str subclass, as Ansible hands its tagged strings to filters."""


class TaggedInt(int):
    pass


def test_tagged_strings_from_ansible_are_written_as_plain_yaml():
    jobs = [
        {
            Tagged("job_name"): Tagged("voicehive-orchestrator"),
            "static_configs": [
                {
                    "targets": [Tagged("127.0.0.1:18080")],
                    "labels": {"site": Tagged("lab")},
                    "n": TaggedInt(3),
                    "f": 1.5,
                    "b": True,
                }
            ],
        }
    ]
    out = f.scrape_config_apply(Tagged(SEEDED), jobs, Tagged("site"))
    assert yaml.safe_load(out["text"])["scrape_configs"][0]["static_configs"][0]["n"] == 3
    grouping = f.alertmanager_grouping_apply({"alertmanager.yml": AM}, {Tagged("group_wait"): Tagged("30s")})
    assert "group_wait: 30s" in grouping["data"]["alertmanager.yml"]
