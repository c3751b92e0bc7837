"""Apaleo simulator: OAuth2 identity (``/connect/token``) and inventory API.

Run: ``PYTHONPATH=lab .venv/bin/python -m sims.apaleo --config apaleo.json``

Config keys: ``host`` (127.0.0.1), ``port`` (18081), ``state_dir`` (required),
``lab_token`` (required for ``/_lab``), ``client_id`` + ``client_secret`` and/or
``clients`` (list of ``{client_id, client_secret}``), ``properties`` (list of
ids or ``{id: name}``), ``token_ttl`` (3600).

The registered clients are Apaleo's own store, ``<state_dir>/apaleo-state.json``,
seeded from the config when it does not exist (or on ``POST /_lab/reset``).
``<state_dir>/credentials.json`` always holds the currently valid credentials
of the first client, as "the vendor issued these" (mode 0600).
Access tokens are HS256 JWTs signed with a key kept in the state file, so they
survive a restart; ``/_lab/revoke-tokens`` invalidates every token issued before
it, ``/_lab/rotate`` the rotated client's tokens (and its old secret).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import threading
import time
import uuid
from typing import Any

import jwt

from sims.common import (
    HTTPError,
    JSONHandler,
    LabHTTPServer,
    load_config,
    parse_args,
    route,
    serve,
    setup_logging,
    write_json_atomic,
)

LOG = logging.getLogger("sims.apaleo")
MODES = ("normal", "outage", "error")


class ApaleoState:
    """Apaleo's persisted store: clients, mode, token TTL, revocation time, signing key."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        """Load the store from ``state_dir`` or seed it from ``cfg``."""
        self.cfg = cfg
        self.state_dir = cfg["state_dir"]
        self.path = os.path.join(self.state_dir, "apaleo-state.json")
        self.creds_path = os.path.join(self.state_dir, "credentials.json")
        self.lock = threading.RLock()
        self.counters: dict[str, int] = {}
        self.data: dict[str, Any] = {}
        if os.path.exists(self.path):
            self.data = load_config(self.path)
            LOG.info("loaded Apaleo store from %s (%d clients)", self.path, len(self.data.get("clients", {})))
        else:
            self.reset()

    # -- persistence
    def seed_clients(self) -> dict[str, dict[str, Any]]:
        """Registered clients from the config."""
        clients: dict[str, dict[str, Any]] = {}
        entries = list(self.cfg.get("clients") or [])
        if self.cfg.get("client_id"):
            entries.insert(0, {"client_id": self.cfg["client_id"], "client_secret": self.cfg.get("client_secret", "")})
        for entry in entries:
            clients[str(entry["client_id"])] = {"secret": str(entry["client_secret"]), "issued_at": time.time()}
        return clients

    def properties(self) -> dict[str, str]:
        """Known property ids and names."""
        props = self.cfg.get("properties") or ["MUC"]
        if isinstance(props, dict):
            return {str(k): str(v) for k, v in props.items()}
        return {str(p): f"VoiceHive Lab Hotel {p}" for p in props}

    def reset(self) -> None:
        """Return to the seeded state (clients from config, normal mode, default TTL, no revocation)."""
        with self.lock:
            self.data = {
                "clients": self.seed_clients(),
                "mode": "normal",
                "token_ttl": int(self.cfg.get("token_ttl", 3600)),
                "revoked_before_ms": 0,
                "signing_key": secrets.token_urlsafe(32),
            }
            self.counters = {}
            self.save()

    def save(self) -> None:
        """Persist the store and the current first-client credentials."""
        with self.lock:
            write_json_atomic(self.path, self.data)
            clients = self.data.get("clients") or {}
            if clients:
                cid = next(iter(clients))
                write_json_atomic(
                    self.creds_path,
                    {"client_id": cid, "client_secret": clients[cid]["secret"], "issued_at": clients[cid]["issued_at"]},
                )

    def count(self, name: str) -> None:
        """Increment an observability counter (shown by ``/_lab/state``)."""
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + 1

    # -- identity
    def check_client(self, client_id: str, client_secret: str) -> bool:
        """Whether the pair is a registered client with its current secret."""
        client = (self.data.get("clients") or {}).get(client_id)
        return bool(client) and secrets.compare_digest(str(client["secret"]), client_secret)

    def issue_token(self, client_id: str) -> dict[str, Any]:
        """Issue an access token for ``client_id`` with the current TTL."""
        now_ms = int(time.time() * 1000)
        ttl = int(self.data.get("token_ttl", 3600))
        claims = {
            "iss": "https://identity.apaleo.com",
            "sub": client_id,
            "client_id": client_id,
            "iat": now_ms // 1000,
            "iat_ms": now_ms,
            "exp": now_ms // 1000 + ttl,
            "jti": uuid.uuid4().hex,
            "scope": "setup.read inventory.read",
        }
        token = jwt.encode(claims, self.data["signing_key"], algorithm="HS256")
        return {"access_token": token, "expires_in": ttl, "token_type": "Bearer", "scope": claims["scope"]}

    def validate_token(self, token: str | None) -> tuple[bool, str]:
        """Validate a bearer token: signature, expiry, revocation, client still registered."""
        if not token:
            return False, "missing_token"
        try:
            claims = jwt.decode(token, self.data["signing_key"], algorithms=["HS256"], options={"require": ["exp"]})
        except jwt.ExpiredSignatureError:
            return False, "token_expired"
        except jwt.InvalidTokenError:
            return False, "invalid_token"
        if int(claims.get("iat_ms", 0)) < int(self.data.get("revoked_before_ms", 0)):
            return False, "token_revoked"
        client = (self.data.get("clients") or {}).get(claims.get("client_id"))
        if not client:
            return False, "client_unknown"
        if int(claims.get("iat_ms", 0)) < int(client.get("tokens_valid_after_ms", 0)):
            return False, "token_revoked"
        return True, "ok"

    # -- lab controls
    def rotate(self, client_id: str | None) -> dict[str, Any]:
        """Vendor-side secret rotation: a new secret replaces the old one at once, and the client's
        outstanding access tokens are revoked."""
        with self.lock:
            clients = self.data.get("clients") or {}
            cid = client_id or (next(iter(clients)) if clients else None)
            if not cid or cid not in clients:
                raise HTTPError(404, {"detail": f"unknown client {cid!r}"})
            clients[cid] = {
                "secret": secrets.token_urlsafe(32),
                "issued_at": time.time(),
                "tokens_valid_after_ms": int(time.time() * 1000) + 1,
            }
            self.save()
            return {"client_id": cid, "client_secret": clients[cid]["secret"], "issued_at": clients[cid]["issued_at"]}

    def public_state(self) -> dict[str, Any]:
        """State without any secret value."""
        with self.lock:
            return {
                "mode": self.data.get("mode"),
                "token_ttl": self.data.get("token_ttl"),
                "revoked_before_ms": self.data.get("revoked_before_ms"),
                "clients": {cid: {"issued_at": c["issued_at"]} for cid, c in (self.data.get("clients") or {}).items()},
                "properties": sorted(self.properties()),
                "counters": dict(self.counters),
                "credentials_file": self.creds_path,
            }


class ApaleoHandler(JSONHandler):
    """HTTP interface of the Apaleo simulator."""

    server_version = "apaleo-sim/1.0"

    @property
    def state(self) -> ApaleoState:
        """The shared store."""
        return self.app

    def before_request(self) -> None:
        """Outage mode: everything but ``/_lab`` answers 503."""
        if self.url_path.startswith("/_lab/"):
            return
        self.state.count("requests")
        if self.state.data.get("mode") == "outage":
            self.state.count("outage_503")
            raise HTTPError(
                503, {"error": "service_unavailable", "detail": "Apaleo is unavailable"}, {"Retry-After": "30"}
            )

    # -- public API
    @route("GET", "/health")
    def health(self) -> None:
        """Apaleo health."""
        self.send_json(200, {"status": "Healthy"})

    @route("POST", "/connect/token")
    def token(self) -> None:
        """OAuth2 client-credentials grant (HTTP Basic or form credentials)."""
        form = self.form_body()
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        auth = self.headers.get("Authorization", "")
        if auth[:6].lower() == "basic ":
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                client_id, client_secret = "", ""
        if form.get("grant_type") != "client_credentials":
            self.state.count("token_bad_grant")
            raise HTTPError(400, {"error": "unsupported_grant_type"})
        if not client_id or not self.state.check_client(client_id, client_secret):
            self.state.count("token_invalid_client")
            LOG.info("token refused: invalid_client")
            raise HTTPError(401, {"error": "invalid_client"})
        self.state.count("token_issued")
        self.send_json(200, self.state.issue_token(client_id), {"Cache-Control": "no-store"})

    def _authorize(self) -> None:
        ok, reason = self.state.validate_token(self.bearer_token())
        if not ok:
            self.state.count(f"api_401_{reason}")
            raise HTTPError(
                401,
                {"error": "unauthorized", "detail": reason},
                {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'},
            )
        if self.state.data.get("mode") == "error":
            self.state.count("api_500")
            raise HTTPError(500, {"error": "internal_error", "detail": "Apaleo internal error"})

    @route("GET", "/inventory/v1/properties")
    def list_properties(self) -> None:
        """List the known properties."""
        self._authorize()
        props = [{"id": pid, "name": name} for pid, name in sorted(self.state.properties().items())]
        self.send_json(200, {"properties": props, "count": len(props)})

    @route("GET", "/inventory/v1/properties/(?P<prop>[^/]+)")
    def get_property(self, prop: str) -> None:
        """One property (the connector's cheap authenticated probe)."""
        self._authorize()
        props = self.state.properties()
        if prop not in props:
            self.state.count("api_404")
            raise HTTPError(404, {"error": "not_found", "detail": f"property {prop} not found"})
        self.state.count("api_200")
        self.send_json(200, {"id": prop, "code": prop, "name": props[prop], "status": "Live", "currencyCode": "EUR"})

    # -- lab controls
    def _lab(self) -> dict[str, Any]:
        self.require_lab_token(str(self.state.cfg.get("lab_token", "")))
        return self.json_body()

    @route("GET", "/_lab/state")
    def lab_state(self) -> None:
        """Current store without secrets."""
        self._lab()
        self.send_json(200, self.state.public_state())

    @route("POST", "/_lab/mode")
    def lab_mode(self) -> None:
        """Switch mode: normal | outage (503 everywhere) | error (API 500, identity fine)."""
        body = self._lab()
        mode = body.get("mode")
        if mode not in MODES:
            raise HTTPError(422, {"detail": f"mode must be one of {', '.join(MODES)}"})
        with self.state.lock:
            self.state.data["mode"] = mode
            self.state.save()
        LOG.info("mode set to %s", mode)
        self.send_json(200, {"mode": mode})

    @route("POST", "/_lab/rotate")
    def lab_rotate(self) -> None:
        """Rotate a client's secret; the answer (and credentials.json) carries the new one."""
        body = self._lab()
        result = self.state.rotate(body.get("client_id"))
        LOG.info("secret of client %s rotated", result["client_id"])
        self.send_json(200, result)

    @route("POST", "/_lab/revoke-tokens")
    def lab_revoke(self) -> None:
        """Invalidate every access token issued so far."""
        self._lab()
        with self.state.lock:
            self.state.data["revoked_before_ms"] = int(time.time() * 1000) + 1
            self.state.save()
        LOG.info("all tokens revoked")
        self.send_json(200, {"revoked_before_ms": self.state.data["revoked_before_ms"]})

    @route("POST", "/_lab/token-ttl")
    def lab_token_ttl(self) -> None:
        """Set the TTL (seconds) of tokens issued from now on."""
        body = self._lab()
        ttl = body.get("ttl", body.get("token_ttl"))
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1:
            raise HTTPError(422, {"detail": "ttl must be a positive integer"})
        with self.state.lock:
            self.state.data["token_ttl"] = ttl
            self.state.save()
        self.send_json(200, {"token_ttl": ttl})

    @route("POST", "/_lab/reset")
    def lab_reset(self) -> None:
        """Back to the seeded state (clients from config, normal mode)."""
        self._lab()
        self.state.reset()
        LOG.info("reset to seeded state")
        self.send_json(200, self.state.public_state())


def build_server(cfg: dict[str, Any]) -> LabHTTPServer:
    """Create the (not yet serving) Apaleo simulator server."""
    state = ApaleoState(cfg)
    return LabHTTPServer((cfg.get("host", "127.0.0.1"), int(cfg.get("port", 18081))), ApaleoHandler, state)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    args = parse_args("VoiceHive lab Apaleo simulator", argv)
    cfg = load_config(args.config)
    setup_logging(cfg.get("log_level", "INFO"))
    serve(build_server(cfg), "apaleo")


if __name__ == "__main__":
    main()
