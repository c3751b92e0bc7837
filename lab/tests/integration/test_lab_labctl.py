"""labctl's pure helpers (no running lab needed): config mapping, scrape-config breaking, secrets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

LAB = Path(__file__).resolve().parents[2]
if str(LAB) not in sys.path:
    sys.path.insert(0, str(LAB))

from labctl import promsync, secrets  # noqa: E402
from labctl.faults import monitoring as monitoring_faults  # noqa: E402
from labctl.faults import registry  # noqa: E402
from labctl.services import monitoring  # noqa: E402


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("127.0.0.1:18080", "127.0.0.1:18080"),
        ("localhost:18090", "127.0.0.1:18090"),
        ("orchestrator.voicehive.svc.cluster.local:9090", "127.0.0.1:18080"),
        ("orchestrator.voicehive-dr.svc:8080", "127.0.0.1:18090"),
        ("orchestrator.voicehive:8000", "127.0.0.1:18000"),
    ],
)
def test_in_cluster_targets_map_to_lab_ports(target: str, expected: str) -> None:
    assert promsync.map_target(target) == expected


def test_targets_and_grouping_from_configmaps() -> None:
    cm = {
        "data": {
            "prometheus.yml": yaml.safe_dump(
                {
                    "scrape_configs": [
                        {
                            "job_name": "voicehive-orchestrator",
                            "static_configs": [
                                {"targets": ["127.0.0.1:18080"], "labels": {"site": "lab"}},
                                {"targets": ["127.0.0.1:18090"], "labels": {"site": "lab-dr"}},
                            ],
                        }
                    ]
                }
            )
        }
    }
    assert promsync.targets_from_configmap(cm)[0] == {"lab": "127.0.0.1:18080", "lab-dr": "127.0.0.1:18090"}
    broken = {"data": {"prometheus.yml": monitoring_faults.break_scrape_config(cm["data"]["prometheus.yml"])}}
    assert promsync.targets_from_configmap(broken)[0] == {"lab": "127.0.0.1:8000", "lab-dr": "127.0.0.1:18090"}
    assert promsync.grouping_from_configmap({"data": {"group_wait": "0s"}}) == {"group_wait": "0s"}
    am = {"data": {"alertmanager.yml": "route:\n  group_wait: 45s\n"}}
    assert promsync.grouping_from_configmap(am) == {"group_wait": "45s"}


def test_generated_configs_are_valid() -> None:
    config = monitoring.prometheus_config()
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert "voicehive-orchestrator" in jobs
    assert config["global"]["scrape_interval"] == config["global"]["evaluation_interval"] == "5s"
    route = monitoring.alertmanager_config(group_wait="0s")["route"]
    assert route["group_wait"] == "0s"
    # every alert reaches the notification sink and the EDA rulebook's webhook; no child routes
    assert "routes" not in route and route["receiver"] == "voicehive-notify"
    (receiver,) = monitoring.alertmanager_config()["receivers"]
    urls = [w["url"] for w in receiver["webhook_configs"] if w["send_resolved"]]
    assert urls == [monitoring.NOTIFY_WEBHOOK, f"http://127.0.0.1:{monitoring.EDA_PORT}/alertmanager"]


def test_secret_generators_cover_the_readme_keys() -> None:
    for key in (
        "kube_admin_token",
        "vault_root_token",
        "redis_password",
        "postgres_password",
        "jwt_secret",
        "apaleo_client_id",
        "apaleo_client_secret",
        "livekit_api_key",
        "livekit_api_secret",
        "api_key",
        "apaleo_lab_token",
        "demo_user_password",
    ):
        assert secrets.GENERATORS[key]()
    assert secrets.GENERATORS["api_key"]().startswith("vh_live_")


def test_fault_names_are_unique_and_documented() -> None:
    faults = registry.all_faults()
    assert len(faults) == 23
    readme = (LAB / "README.md").read_text()
    for name, fault in faults.items():
        assert fault.summary and fault.guide, name
        assert f"| {name} |" in readme, name
