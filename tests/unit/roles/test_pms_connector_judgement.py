# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/pms_connector/templates/judgement.j2: every cause judged from a site read, rendered by Ansible's templar."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

TEMPLATE = (Path(__file__).resolve().parents[3] / "roles" / "pms_connector" / "templates" / "judgement.j2").read_text()
BREAKERS = ("pms_connector", "apaleo_auth", "apaleo_api")


pytestmark = pytest.mark.usefixtures("collection_filters")


def ts(seconds_ago: float) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)  # noqa: UP017
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def site(health=200, connector=None, kv=True, breakers=None, pms=None, prometheus=True, fallback="false", vault=True):
    connector = connector or {"auth": "ok", "property": "ok", "status": "healthy", "health_http": 200}
    pms = pms if pms is not None else {"200": 40.0}
    samples = [{"labels": {"status": s}, "value": v} for s, v in pms.items()]
    return {
        "http": {
            "pms_connector_apaleo_health": {
                "url": "http://apaleo/health",
                "reachable": health is not None,
                "status": health,
                "error": None if health is not None else "Connection refused",
            },
            "apaleo_identity": {"url": "http://apaleo/", "reachable": True, "status": 404, "error": None},
            "pms_connector_health": {"status": 200, "json": {"connectors": {"apaleo": connector}}},
            "orchestrator_metrics": {
                "metrics": [{"name": "voicehive_pms_requests_total", "labels": {"status": "502"}, "value": 7.0}]
            },
        },
        "vault": {
            "available": vault,
            "sealed": False,
            "kv": {"pms_credentials:hotel-001": {"exists": kv, "current_version": 3 if kv else None}},
        },
        "redis": {
            "breakers": {
                "breakers": {
                    n: {"state": (breakers or {}).get(n, "closed"), "stats": {"failure_count": 0}} for n in BREAKERS
                }
            }
        },
        "prometheus": {"queries": {"pms_requests": {"ok": prometheus, "samples": samples if prometheus else []}}},
        "kubernetes": {
            "deployments": {
                "orchestrator": {
                    "selector": {"app": "orchestrator"},
                    "template": {"containers": {"orchestrator": {"env": {"PMS_FALLBACK_MODE": fallback}}}},
                }
            }
        },
    }


def token(outcome="ok", status=200):
    hotel = {
        "outcome": outcome,
        "msg": "m",
        "vault_path": "voicehive/pms/apaleo/hotel-001/api-credentials",
        "token_status": status,
        "attempts": 1,
        "properties": {},
    }
    return {"outcome": outcome, "hotels": {"hotel-001": hotel}}


def judge(state, token_result=None, lines=None, **overrides):
    variables = {
        "voicehive_state": state,
        "pms_connector_vendor": "apaleo",
        "pms_connector_hotels": [{"hotel_id": "hotel-001", "property_id": "LAB001"}],
        "pms_connector_credentials_mount": "voicehive",
        "pms_connector_credentials_path": "pms/{vendor}/{hotel_id}/api-credentials",
        "pms_connector_breakers": list(BREAKERS),
        "pms_connector_metric": "voicehive_pms_requests_total",
        "pms_connector_min_requests": 5,
        "pms_connector_error_rate": 0.1,
        "pms_connector_error_window": 300,
        "pms_connector_recent_seconds": 30,
        "pms_connector_deployment": "orchestrator",
        "pms_connector_container": "orchestrator",
    }
    if token_result is not None:
        variables["__pms_connector_token"] = token_result
    if lines is not None:
        variables["__pms_connector_log_lines"] = lines
    variables.update(overrides)
    return yaml.safe_load(Templar(loader=DataLoader(), variables=variables).template(trust_as_template(TEMPLATE)))


def test_healthy_site_needs_no_token_check_and_no_log():
    verdict = judge(site())
    assert verdict["problems"] == []
    assert verdict["suspect"] is False and verdict["token_check_due"] is False and verdict["read_log"] is False
    assert verdict["rate"]["requests"] == 40.0 and verdict["rate"]["share"] == 0
    assert verdict["token_hotels"] == [
        {"hotel_id": "hotel-001", "vault_path": "pms/apaleo/hotel-001/api-credentials", "property_ids": ["LAB001"]}
    ]
    assert verdict["hotels"][0]["vault_path"] == "voicehive/pms/apaleo/hotel-001/api-credentials"


def test_stale_token_is_a_finding_only_once_the_credentials_get_a_working_token():
    state = site(connector={"auth": "ok", "property": "token_rejected", "status": "unhealthy", "health_http": 200},
                 breakers={"pms_connector": "open", "apaleo_api": "open"})  # fmt: skip
    first = judge(state)
    assert first["problems"] == [] and first["token_check_due"] is True and first["read_log"] is True
    assert first["stale_seen"] is True and first["breakers_open"] == ["pms_connector", "apaleo_api"]
    verdict = judge(state, token(), lines=[])
    assert verdict["problems"] == ["pms_connector.stale_token", "pms_connector.breaker_open"]
    assert verdict["token_check_due"] is False and verdict["token_ok"] is True


def test_rejected_credentials_are_never_a_stale_token():
    connector = {"auth": "invalid_client", "property": "not_tried", "status": "unhealthy", "health_http": 200}
    state = site(connector=connector, breakers={"pms_connector": "open", "apaleo_auth": "open"})
    verdict = judge(state, token("credentials_rejected", 401), lines=[])
    assert verdict["problems"] == ["pms_connector.credentials_rejected"]
    assert verdict["results"] == [
        {
            "hotel_id": "hotel-001",
            "outcome": "credentials_rejected",
            "vault_path": "voicehive/pms/apaleo/hotel-001/api-credentials",
            "http_status": 401,
            "attempts": 1,
            "msg": "m",
        }
    ]


@pytest.mark.parametrize(
    ("health", "connector"),
    [
        (503, None),
        (None, None),
        (200, {"auth": "token_http_503", "property": "not_tried", "status": "unhealthy", "health_http": 503}),
        (200, {"auth": "apaleo_unreachable", "property": "not_tried", "status": "unhealthy", "health_http": 200}),
    ],
)
def test_apaleo_down_needs_no_token_check(health, connector):
    verdict = judge(site(health=health, connector=connector, pms={"503": 30.0, "200": 2.0}))
    assert verdict["problems"] == ["pms_connector.apaleo_unavailable"]
    assert verdict["token_check_due"] is False and verdict["apaleo_down"] is True
    assert verdict["rate"]["share"] == 0.938 and verdict["rate_high"] is True


def test_missing_credentials_are_found_from_the_metadata_alone():
    verdict = judge(
        site(kv=False, connector={"auth": "credentials_not_found", "property": "not_tried", "status": "unhealthy"})
    )
    assert verdict["problems"] == ["pms_connector.credentials_missing"]
    assert verdict["missing"] == ["hotel-001"] and verdict["token_check_due"] is False


def test_token_check_outcomes_become_their_findings():
    state = site(connector={"auth": "ok", "property": "api_http_403", "status": "unhealthy", "health_http": 200})
    assert judge(state, token("property_not_accessible", 200), lines=[])["problems"] == [
        "pms_connector.property_not_accessible"
    ]
    assert judge(state, token("vault_denied", None), lines=[])["problems"] == ["pms_connector.token_check_failed"]
    assert judge(state, token("apaleo_unavailable", 503), lines=[])["problems"] == ["pms_connector.apaleo_unavailable"]


def test_no_token_check_without_vault():
    state = site(vault=False, connector={"auth": "ok", "property": "token_rejected", "status": "unhealthy"})
    verdict = judge(state)
    assert verdict["token_check_due"] is False and verdict["problems"] == []


def test_fallback_left_on_is_found_once_apaleo_and_the_credentials_work():
    first = judge(site(fallback="true"))
    assert first["fallback_on"] is True and first["token_check_due"] is True and first["problems"] == []
    assert judge(site(fallback="true"), token(), lines=[])["problems"] == ["pms_connector.fallback_active"]
    assert judge(site(fallback="true", health=503))["problems"] == ["pms_connector.apaleo_unavailable"]


def test_error_rate_is_a_finding_only_while_the_connector_still_fails():
    state = site(pms={"502": 20.0, "200": 20.0})
    first = judge(state)
    assert first["rate_high"] is True and first["read_log"] is True and first["token_check_due"] is False
    failing = [f"{ts(5)} ERROR orchestrator.pms pms_request_failed vendor=apaleo status=502 reason=api_http_500"]
    verdict = judge(state, lines=failing)
    assert verdict["problems"] == ["pms_connector.error_rate"]
    assert verdict["log"]["by_reason"] == {"api_http_500": 1} and verdict["log"]["recent_failures"] == 1
    restarted = [*failing, f"{ts(1)} INFO orchestrator.main application_startup reason=rollout"]
    assert judge(state, lines=restarted)["problems"] == []
    old = [f"{ts(120)} ERROR orchestrator.pms pms_request_failed vendor=apaleo hotel_id=hotel-001 status=502 reason=x"]
    assert judge(state, lines=old)["problems"] == []


def test_without_prometheus_the_orchestrators_counters_since_start_are_used():
    verdict = judge(site(prometheus=False))
    assert verdict["rate"]["by_status"] == {"502": 7.0}
    assert verdict["rate"]["over"] == "since the orchestrator started (no Prometheus)"
    assert verdict["rate_high"] is True
