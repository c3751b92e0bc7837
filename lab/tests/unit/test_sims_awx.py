"""The AWX API simulator: AWX's authentication, lists and the rules controller_object relies on."""

from __future__ import annotations

import pytest
import requests

from sims import awx

TOKEN = "awx-unit-token"


@pytest.fixture
def api(serve_sim, tmp_path):
    base = serve_sim(awx, {"state_dir": str(tmp_path), "token": TOKEN, "admin_password": "pw", "lab_token": "lab"})
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    session.base = base  # type: ignore[attr-defined]
    return session


def test_ping_is_open_everything_else_needs_a_login(api):
    base = api.base
    assert requests.get(f"{base}/api/v2/ping/", timeout=5).json()["version"]
    assert requests.get(f"{base}/api/v2/me/", timeout=5).status_code == 401
    assert requests.get(f"{base}/api/v2/organizations/", timeout=5).json() == {
        "detail": "Authentication credentials were not provided."
    }
    wrong = requests.get(f"{base}/api/v2/organizations/", headers={"Authorization": "Bearer x"}, timeout=5)
    assert wrong.status_code == 401 and wrong.json()["detail"] == "Invalid token."
    assert requests.get(f"{base}/api/v2/organizations/", auth=("admin", "pw"), timeout=5).status_code == 200
    assert requests.get(f"{base}/api/v2/organizations/", auth=("admin", "no"), timeout=5).status_code == 401


def test_lists_page_and_filter_like_awx(api):
    for number in range(5):
        assert (
            api.post(f"{api.base}/api/v2/organizations/", json={"name": f"org{number}"}, timeout=5).status_code == 201
        )
    page = api.get(f"{api.base}/api/v2/organizations/", params={"page_size": 2}, timeout=5).json()
    assert page["count"] == 6 and len(page["results"]) == 2 and page["previous"] is None
    second = api.get(api.base + page["next"], timeout=5).json()
    assert [o["name"] for o in second["results"]] == ["org1", "org2"]
    found = api.get(f"{api.base}/api/v2/organizations/", params={"name": "org3"}, timeout=5).json()
    assert found["count"] == 1 and found["results"][0]["url"].startswith("/api/v2/organizations/")
    dup = api.post(f"{api.base}/api/v2/organizations/", json={"name": "org3"}, timeout=5)
    assert dup.status_code == 400 and dup.json() == {"__all__": ["Organization with this Name already exists."]}


@pytest.mark.parametrize(
    ("rrule", "problem"),
    [
        ("DTSTART:20261201T000000Z RRULE:FREQ=MINUTELY;INTERVAL=15", None),
        ("RRULE:FREQ=DAILY", "DTSTART required in rrule"),
        ("DTSTART:20261201T000000Z RRULE:FREQ=SECONDLY", "SECONDLY is not supported."),
        ("DTSTART:20261201T000000Z RRULE:FREQ=DAILY;COUNT=1000", "COUNT > 999 is unsupported."),
        ("DTSTART:20261201T000000Z", "RRULE required in rrule."),
        ("DTSTART:20261201T000000Z RRULE:FREQ=WEEKLY;BYDAY=1MO", "BYDAY with numeric prefix not supported"),
    ],
)
def test_rrule_rules(rrule, problem):
    found = awx.validate_rrule(rrule)
    assert (found is None) if problem is None else (problem in found), found


def test_workflow_links_refuse_cycles_and_other_workflows(api):
    base = api.base + "/api/v2"
    wf = api.post(f"{base}/workflow_job_templates/", json={"name": "wf"}, timeout=5).json()
    other = api.post(f"{base}/workflow_job_templates/", json={"name": "other"}, timeout=5).json()
    a, b = (
        api.post(f"{base}/workflow_job_templates/{wf['id']}/workflow_nodes/", json={"identifier": i}, timeout=5).json()
        for i in ("a", "b")
    )
    c = api.post(
        f"{base}/workflow_job_templates/{other['id']}/workflow_nodes/", json={"identifier": "c"}, timeout=5
    ).json()
    assert (
        api.post(
            f"{base}/workflow_job_template_nodes/{a['id']}/success_nodes/", json={"id": b["id"]}, timeout=5
        ).status_code
        == 204
    )
    cycle = api.post(f"{base}/workflow_job_template_nodes/{b['id']}/always_nodes/", json={"id": a["id"]}, timeout=5)
    assert cycle.status_code == 400 and cycle.json() == {"Error": "Cycle detected."}
    foreign = api.post(f"{base}/workflow_job_template_nodes/{a['id']}/success_nodes/", json={"id": c["id"]}, timeout=5)
    assert foreign.status_code == 400
    approval = api.post(
        f"{base}/workflow_job_template_nodes/{b['id']}/create_approval_template/",
        json={"name": "ok", "timeout": 60},
        timeout=5,
    )
    assert approval.status_code == 201
    node = api.get(f"{base}/workflow_job_template_nodes/{b['id']}/", timeout=5).json()
    assert node["summary_fields"]["unified_job_template"] == {
        "id": approval.json()["id"],
        "name": "ok",
        "type": "workflow_approval_template",
    }
    assert api.post(f"{base}/workflow_approval_templates/", json={"name": "x"}, timeout=5).status_code == 405
