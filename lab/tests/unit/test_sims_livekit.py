"""Unit tests of the LiveKit simulator."""

from __future__ import annotations

import socket
import time
from typing import Any

import jwt
import pytest
import requests

from sims import livekit

KEY, SECRET = "APIlabkey", "lab-livekit-secret-0123456789abcdef"


def lk_token(video: dict[str, Any], key: str = KEY, secret: str = SECRET, ttl: int = 60) -> str:
    """A LiveKit access token."""
    now = int(time.time())
    return jwt.encode(
        {"iss": key, "sub": "tester", "nbf": now, "exp": now + ttl, "video": video}, secret, algorithm="HS256"
    )


@pytest.fixture
def url(serve_sim: Any) -> str:
    """A running LiveKit simulator."""
    return serve_sim(livekit, {"api_key": KEY, "api_secret": SECRET, "lab_token": "t"})


def rpc(url: str, method: str, token: str | None, body: dict[str, Any] | None = None) -> requests.Response:
    """Call a Twirp RoomService method."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{url}/twirp/livekit.RoomService/{method}", json=body or {}, headers=headers, timeout=5)


def test_health_and_tcp(url: str) -> None:
    resp = requests.get(url + "/", timeout=5)
    assert resp.status_code == 200 and resp.text == "OK"
    host, port = url.rsplit("/", 1)[-1].split(":")
    with socket.create_connection((host, int(port)), timeout=2):
        pass


def test_list_rooms_requires_valid_token(url: str) -> None:
    assert rpc(url, "ListRooms", None).status_code == 401
    assert (
        rpc(url, "ListRooms", lk_token({"roomList": True}, secret="wrong-secret-of-sufficient-length-000")).status_code
        == 401
    )
    assert rpc(url, "ListRooms", lk_token({"roomList": True}, key="other")).status_code == 401
    assert rpc(url, "ListRooms", lk_token({"roomList": True}, ttl=-10)).status_code == 401
    assert rpc(url, "ListRooms", lk_token({"roomJoin": True})).status_code == 403
    resp = rpc(url, "ListRooms", lk_token({"roomList": True}))
    assert resp.status_code == 200 and resp.json() == {"rooms": []}


def test_rooms_are_real_state(url: str) -> None:
    admin = lk_token({"roomList": True, "roomCreate": True})
    assert rpc(url, "CreateRoom", admin, {"name": "call-1"}).status_code == 200
    assert [r["name"] for r in rpc(url, "ListRooms", admin).json()["rooms"]] == ["call-1"]
    assert rpc(url, "DeleteRoom", admin, {"room": "call-1"}).status_code == 200
    assert rpc(url, "ListRooms", admin).json()["rooms"] == []


def test_outage_mode(url: str) -> None:
    hdr = {"X-Lab-Token": "t"}
    assert requests.post(url + "/_lab/mode", json={"mode": "outage"}, headers=hdr, timeout=5).status_code == 200
    assert requests.get(url + "/", timeout=5).status_code == 503
    assert requests.post(url + "/_lab/mode", json={"mode": "normal"}, headers=hdr, timeout=5).status_code == 200
    assert requests.get(url + "/", timeout=5).status_code == 200
