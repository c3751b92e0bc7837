"""LiveKit simulator: the HTTP health endpoint and a Twirp RoomService subset.

Run: ``PYTHONPATH=lab .venv/bin/python -m sims.livekit --config livekit.json``

Config keys: ``host`` (127.0.0.1), ``port`` (17880), ``api_key`` + ``api_secret``
and/or ``keys`` (``{api_key: api_secret}``), ``lab_token`` (for ``/_lab``).

Access tokens are checked like LiveKit does: a JWT signed HS256 with the API
secret of the key named in ``iss``, with a ``video`` grant (``roomList`` for
ListRooms, ``roomCreate`` for CreateRoom/DeleteRoom). Rooms live in memory.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import jwt

from sims.common import HTTPError, JSONHandler, LabHTTPServer, load_config, parse_args, route, serve, setup_logging

LOG = logging.getLogger("sims.livekit")


class LiveKitState:
    """API keys, rooms and mode of the simulator."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        """Read the API keys from ``cfg``."""
        self.cfg = cfg
        self.keys: dict[str, str] = {str(k): str(v) for k, v in (cfg.get("keys") or {}).items()}
        if cfg.get("api_key"):
            self.keys[str(cfg["api_key"])] = str(cfg.get("api_secret", ""))
        self.rooms: dict[str, dict[str, Any]] = {}
        self.mode = "normal"
        self.lock = threading.Lock()

    def verify(self, token: str | None, grant: str) -> dict[str, Any]:
        """Return the claims of a valid token carrying ``video.<grant>``; raise 401/403 otherwise."""
        if not token:
            raise HTTPError(401, {"code": "unauthenticated", "msg": "authorization header missing"})
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.InvalidTokenError as exc:
            raise HTTPError(401, {"code": "unauthenticated", "msg": "invalid token"}) from exc
        secret = self.keys.get(str(issuer))
        if not secret:
            raise HTTPError(401, {"code": "unauthenticated", "msg": "invalid API key"})
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "iss"]})
        except jwt.InvalidTokenError as exc:
            raise HTTPError(401, {"code": "unauthenticated", "msg": f"invalid token: {type(exc).__name__}"}) from exc
        video = claims.get("video") or {}
        if not isinstance(video, dict) or video.get(grant) is not True:
            raise HTTPError(403, {"code": "permission_denied", "msg": f"missing video grant {grant}"})
        return claims


class LiveKitHandler(JSONHandler):
    """HTTP interface of the LiveKit simulator."""

    server_version = "livekit-sim/1.0"

    @property
    def state(self) -> LiveKitState:
        """Shared simulator state."""
        return self.app

    def before_request(self) -> None:
        """In outage mode everything but ``/_lab`` answers 503."""
        if self.state.mode == "outage" and not self.url_path.startswith("/_lab/"):
            raise HTTPError(503, {"code": "unavailable", "msg": "LiveKit unavailable"})

    @route("GET", "/")
    def root(self) -> None:
        """LiveKit's health check answers ``OK``."""
        self.send_text(200, "OK")

    @route("GET", "/health")
    def health(self) -> None:
        """Same as ``/`` (the guide curls ``/health``)."""
        self.send_text(200, "OK")

    @route("POST", "/twirp/livekit.RoomService/ListRooms")
    def list_rooms(self) -> None:
        """List rooms (needs ``roomList``); an optional ``names`` filter is honoured."""
        self.state.verify(self.bearer_token(), "roomList")
        names = self.json_body().get("names") or []
        with self.state.lock:
            rooms = [r for r in self.state.rooms.values() if not names or r["name"] in names]
        self.send_json(200, {"rooms": rooms})

    @route("POST", "/twirp/livekit.RoomService/CreateRoom")
    def create_room(self) -> None:
        """Create (or return) a room (needs ``roomCreate``)."""
        self.state.verify(self.bearer_token(), "roomCreate")
        name = str(self.json_body().get("name") or "")
        if not name:
            raise HTTPError(400, {"code": "invalid_argument", "msg": "name is required"})
        with self.state.lock:
            room = self.state.rooms.setdefault(
                name,
                {
                    "sid": "RM_" + uuid.uuid4().hex[:12],
                    "name": name,
                    "creation_time": int(time.time()),
                    "num_participants": 0,
                },
            )
        self.send_json(200, room)

    @route("POST", "/twirp/livekit.RoomService/DeleteRoom")
    def delete_room(self) -> None:
        """Delete a room (needs ``roomCreate``)."""
        self.state.verify(self.bearer_token(), "roomCreate")
        name = str(self.json_body().get("room") or "")
        with self.state.lock:
            self.state.rooms.pop(name, None)
        self.send_json(200, {})

    @route("POST", "/_lab/mode")
    def lab_mode(self) -> None:
        """Switch between ``normal`` and ``outage``."""
        self.require_lab_token(str(self.state.cfg.get("lab_token", "")))
        mode = self.json_body().get("mode")
        if mode not in ("normal", "outage"):
            raise HTTPError(422, {"detail": "mode must be normal or outage"})
        self.state.mode = mode
        self.send_json(200, {"mode": mode})

    @route("GET", "/_lab/state")
    def lab_state(self) -> None:
        """Mode and rooms."""
        self.require_lab_token(str(self.state.cfg.get("lab_token", "")))
        with self.state.lock:
            self.send_json(200, {"mode": self.state.mode, "rooms": list(self.state.rooms.values())})


def build_server(cfg: dict[str, Any]) -> LabHTTPServer:
    """Create the (not yet serving) LiveKit simulator server."""
    return LabHTTPServer((cfg.get("host", "127.0.0.1"), int(cfg.get("port", 17880))), LiveKitHandler, LiveKitState(cfg))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    args = parse_args("VoiceHive lab LiveKit simulator", argv)
    cfg = load_config(args.config)
    setup_logging(cfg.get("log_level", "INFO"))
    serve(build_server(cfg), "livekit")


if __name__ == "__main__":
    main()
