"""Unit tests of the Apaleo simulator (real HTTP against an in-process server)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
import requests

from sims import apaleo

LAB = "lab-token-1"
SECRET = "s3cret-value"


@pytest.fixture
def api(serve_sim: Any, tmp_path: Any) -> dict[str, Any]:
    """A running Apaleo simulator with one client and one property."""
    cfg = {
        "state_dir": str(tmp_path / "apaleo"),
        "lab_token": LAB,
        "client_id": "vh-client",
        "client_secret": "s3cret-value",
        "properties": ["MUC"],
    }
    return {"url": serve_sim(apaleo, cfg), "cfg": cfg}


def token(url: str, cid: str = "vh-client", secret: str = SECRET) -> requests.Response:
    """Ask for a client-credentials token."""
    return requests.post(
        f"{url}/connect/token", auth=(cid, secret), data={"grant_type": "client_credentials"}, timeout=5
    )


def lab(url: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    """Call a lab-control endpoint."""
    return requests.post(f"{url}/_lab/{path}", json=body or {}, headers={"X-Lab-Token": LAB}, timeout=5)


def test_token_and_property_probe(api: dict[str, Any]) -> None:
    url = api["url"]
    resp = token(url)
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
    hdr = {"Authorization": f"Bearer {body['access_token']}"}
    assert requests.get(f"{url}/inventory/v1/properties/MUC", headers=hdr, timeout=5).json()["id"] == "MUC"
    assert requests.get(f"{url}/inventory/v1/properties/NOPE", headers=hdr, timeout=5).status_code == 404
    assert requests.get(f"{url}/inventory/v1/properties/MUC", timeout=5).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert requests.get(f"{url}/inventory/v1/properties/MUC", headers=bad, timeout=5).status_code == 401


def test_invalid_client_and_grant(api: dict[str, Any]) -> None:
    url = api["url"]
    resp = token(url, secret="wrong")
    assert resp.status_code == 401 and resp.json() == {"error": "invalid_client"}
    resp = requests.post(
        f"{url}/connect/token", auth=("vh-client", "s3cret-value"), data={"grant_type": "password"}, timeout=5
    )
    assert resp.status_code == 400


def test_outage_mode(api: dict[str, Any]) -> None:
    url = api["url"]
    assert lab(url, "mode", {"mode": "outage"}).status_code == 200
    assert requests.get(f"{url}/health", timeout=5).status_code == 503
    assert token(url).status_code == 503
    assert lab(url, "mode", {"mode": "bogus"}).status_code == 422
    assert lab(url, "mode", {"mode": "normal"}).status_code == 200
    assert requests.get(f"{url}/health", timeout=5).status_code == 200


def test_lab_requires_token(api: dict[str, Any]) -> None:
    resp = requests.post(f"{api['url']}/_lab/mode", json={"mode": "outage"}, timeout=5)
    assert resp.status_code == 403
    assert requests.get(f"{api['url']}/health", timeout=5).status_code == 200


def test_rotate_old_secret_stops_working(api: dict[str, Any]) -> None:
    url = api["url"]
    old_token = token(url).json()["access_token"]
    rotated = lab(url, "rotate").json()
    assert rotated["client_id"] == "vh-client" and rotated["client_secret"] != "s3cret-value"
    assert token(url).status_code == 401
    assert token(url, secret=rotated["client_secret"]).status_code == 200
    with open(os.path.join(api["cfg"]["state_dir"], "credentials.json")) as fh:
        creds = json.load(fh)
    assert creds["client_secret"] == rotated["client_secret"]
    state = requests.get(f"{url}/_lab/state", headers={"X-Lab-Token": LAB}, timeout=5).json()
    assert rotated["client_secret"] not in json.dumps(state)
    # the client's tokens issued before the rotation are revoked with the old secret
    hdr = {"Authorization": f"Bearer {old_token}"}
    resp = requests.get(f"{url}/inventory/v1/properties/MUC", headers=hdr, timeout=5)
    assert resp.status_code == 401 and resp.json()["detail"] == "token_revoked"


def test_revoke_and_short_ttl(api: dict[str, Any]) -> None:
    url = api["url"]
    tok = token(url).json()["access_token"]
    assert lab(url, "revoke-tokens").status_code == 200
    hdr = {"Authorization": f"Bearer {tok}"}
    resp = requests.get(f"{url}/inventory/v1/properties/MUC", headers=hdr, timeout=5)
    assert resp.status_code == 401 and resp.json()["detail"] == "token_revoked"
    assert lab(url, "token-ttl", {"ttl": 1}).json() == {"token_ttl": 1}
    short = token(url).json()
    assert short["expires_in"] == 1
    time.sleep(2.1)
    hdr = {"Authorization": f"Bearer {short['access_token']}"}
    resp = requests.get(f"{url}/inventory/v1/properties/MUC", headers=hdr, timeout=5)
    assert resp.status_code == 401 and resp.json()["detail"] == "token_expired"


def test_state_persists_and_reset(api: dict[str, Any], serve_sim: Any) -> None:
    url = api["url"]
    new_secret = lab(url, "rotate").json()["client_secret"]
    # a second simulator on the same state dir keeps Apaleo's own store (not the config)
    url2 = serve_sim(apaleo, api["cfg"])
    assert token(url2).status_code == 401
    assert token(url2, secret=new_secret).status_code == 200
    assert lab(url2, "reset").status_code == 200
    assert token(url2).status_code == 200
