#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: livekit_token
short_description: Build and verify a LiveKit access token, and optionally probe the LiveKit server
version_added: 0.1.0
description:
  - Builds a LiveKit access token the way the VoiceHive agents do, a JWT signed HS256 with the API secret,
    with C(iss) = O(api_key), C(sub) = O(identity), C(nbf) = now, C(exp) = now + O(ttl), and the
    C(video) grant C({roomJoin, room, canPublish, canSubscribe}).
  - Then verifies it by decoding it again with O(api_secret) (algorithm, signature, C(iss), C(sub),
    C(nbf), C(exp), grants) and returns each check, so a LiveKit key pair that cannot produce valid
    tokens on this controller shows up before a call fails.
  - With O(server_url), also opens a TCP connection to the LiveKit server and, for an V(http://) or
    V(https://) URL, sends C(GET /) (a LiveKit server answers 200). A server that does not answer is
    reported in RV(server), not failed on, like M(community.postgresql.postgresql_ping) does.
  - With O(api_check) as well, asks the server itself whether it accepts tokens of this key pair, by a
    C(POST /twirp/livekit.RoomService/ListRooms) with a second token that carries the C(roomList) grant,
    on the http(s) form of O(server_url) (LiveKit serves its API and WebSocket on one port). A 401 means
    the server does not know the API key or secret (rotated on one side only).
  - The token itself is never returned. The module fails only on bad options.
  - Uses only the Python standard library (no PyJWT, no LiveKit SDK).
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Building a token and connecting change nothing, so the module runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  api_key:
    description:
      - The LiveKit API key, the token's issuer (C(iss)). Not shown in output.
      - If not set, the value of the E(LIVEKIT_API_KEY) environment variable is used.
    type: str
    required: true
  api_secret:
    description:
      - The LiveKit API secret the token is signed with. Never shown.
      - If not set, the value of the E(LIVEKIT_API_SECRET) environment variable is used.
    type: str
    required: true
  identity:
    description:
      - The participant identity, the token's subject (C(sub)).
    type: str
    default: voicehive-remediation-probe
  room:
    description:
      - The room the token may join (C(video.room)). Without it the grant names no room.
    type: str
  ttl:
    description:
      - Seconds the token is valid, from V(10) to V(86400).
    type: int
    default: 300
  can_publish:
    description:
      - The C(video.canPublish) grant. A probe does not need to publish.
    type: bool
    default: false
  can_subscribe:
    description:
      - The C(video.canSubscribe) grant.
    type: bool
    default: true
  server_url:
    description:
      - URL of the LiveKit server to probe, V(wss://livekit.voicehive.com), V(ws://host:7880), or
        V(http(s)://host:port) to also check that C(GET /) answers 200.
      - Without a port, V(443) for V(wss) and V(https), V(80) for V(ws) and V(http). A path in the URL is ignored.
      - Not probed when not set.
      - If not set, the value of the E(LIVEKIT_URL) environment variable is used.
    type: str
  api_check:
    description:
      - Also ask the server at O(server_url) whether it accepts a token of this key pair (see above).
      - Only when O(server_url) is set and the TCP connection was accepted.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for the TCP connection and for each answer (C(GET /), the API check).
    type: float
    default: 5
  validate_certs:
    description:
      - Whether to verify the server's TLS certificate for an V(https://) O(server_url).
    type: bool
    default: true
notes:
  - The token is checked against the clock of the host that runs the module; LiveKit checks C(nbf) and
    C(exp) against the server's, so keep both in NTP sync.
seealso:
  - module: voicehive.remediation.endpoint_info
"""

EXAMPLES = r"""
- name: Check that the LiveKit key pair signs valid tokens and the server answers
  voicehive.remediation.livekit_token:
    api_key: "{{ voicehive_livekit_api_key }}"
    api_secret: "{{ voicehive_livekit_api_secret }}"
    room: voicehive-probe
    server_url: "{{ voicehive_livekit_url }}"
    api_check: true
  register: __livekit_token

- name: Say when the server refuses the key pair
  ansible.builtin.debug:
    msg: "{{ __livekit_token.server.api_error }}"
  when: __livekit_token.server.token_accepted is false

- name: Record a finding when the LiveKit server does not answer
  ansible.builtin.debug:
    msg: "{{ __livekit_token.server.error }}"
  when: not __livekit_token.server.healthy

- name: Only check the key pair, with a short-lived token
  voicehive.remediation.livekit_token:
    api_key: "{{ voicehive_livekit_api_key }}"
    api_secret: "{{ voicehive_livekit_api_secret }}"
    ttl: 60
  register: __livekit_token
"""

RETURN = r"""
token_valid:
  description: Whether the token built passed every check of RV(checks).
  returned: always
  type: bool
  sample: true
checks:
  description: Each verification of the token, by name, and whether it passed.
  returned: always
  type: dict
  sample: {structure: true, algorithm: true, signature: true, issuer: true, subject: true,
           not_before: true, expiry: true, grants: true}
errors:
  description: What failed in RV(checks); empty when the token is valid.
  returned: always
  type: list
  elements: str
  sample: []
claims:
  description:
    - The token's claims (its payload, without the signature). C(iss), the API key, is shown masked.
  returned: always
  type: dict
  sample:
    iss: "********"
    sub: voicehive-remediation-probe
    nbf: 1795968000
    exp: 1795968300
    video: {roomJoin: true, room: voicehive-probe, canPublish: false, canSubscribe: true}
issued_at:
  description: The token's C(nbf), ISO 8601 UTC.
  returned: always
  type: str
  sample: "2026-11-28T16:00:00Z"
expires_at:
  description: The token's C(exp), ISO 8601 UTC.
  returned: always
  type: str
  sample: "2026-11-28T16:05:00Z"
server:
  description: The probe of O(server_url); V(null) without one.
  returned: always
  type: dict
  sample:
    url: wss://livekit.voicehive.com
    host: livekit.voicehive.com
    port: 443
    reachable: true
    latency_ms: 12.4
    http_status: null
    http_latency_ms: null
    healthy: true
    error: null
    api_status: 200
    token_accepted: true
    api_error: null
  contains:
    url:
      description: The O(server_url) probed.
      type: str
    host:
      description: Host name of the server.
      type: str
    port:
      description: TCP port connected to.
      type: int
    reachable:
      description: Whether the TCP connection was accepted.
      type: bool
    latency_ms:
      description: Milliseconds the TCP connection took (or took to fail).
      type: float
    http_status:
      description: Status of C(GET /) for an http(s) URL; V(null) for ws(s) or without an answer.
      type: int
    http_latency_ms:
      description: Milliseconds C(GET /) took; V(null) when not sent.
      type: float
    healthy:
      description: Reachable, and for an http(s) URL C(GET /) answered 200.
      type: bool
    error:
      description: Why it is not healthy; V(null) when it is.
      type: str
    api_status:
      description: Status of the API check (O(api_check)); V(null) without an answer or without the check.
      type: int
    token_accepted:
      description:
        - Whether the server accepted the token (O(api_check)); V(false) on 401 or 403, V(null) when the check
          did not run or got another answer.
      type: bool
    api_error:
      description: Why the API check did not pass; V(null) when it passed or did not run.
      type: str
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: "Built and verified a LiveKit access token for voicehive-remediation-probe, valid until 2026-11-28T16:05:00Z"
"""

import time
import typing as t

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.voicehive.remediation.plugins.module_utils._http import ssl_context
from ansible_collections.voicehive.remediation.plugins.module_utils._livekit import (
    MAX_TTL,
    MIN_TTL,
    api_base,
    build_claims,
    check_api,
    encode_hs256,
    iso_utc,
    parse_server_url,
    probe_server,
    verify,
    video_grant,
)
from ansible_collections.voicehive.remediation.plugins.module_utils._redact import (
    REDACTED,
    mask_values,
    normalize_secret_values,
)

WHAT = "Cannot build a LiveKit access token"


def argument_spec() -> dict[str, t.Any]:
    return dict(
        api_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["LIVEKIT_API_KEY"])),
        api_secret=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["LIVEKIT_API_SECRET"])),
        identity=dict(type="str", default="voicehive-remediation-probe"),
        room=dict(type="str"),
        ttl=dict(type="int", default=300),
        can_publish=dict(type="bool", default=False),
        can_subscribe=dict(type="bool", default=True),
        server_url=dict(type="str", fallback=(env_fallback, ["LIVEKIT_URL"])),
        api_check=dict(type="bool", default=False),
        timeout=dict(type="float", default=5.0),
        validate_certs=dict(type="bool", default=True),
    )


def validate_params(params: dict[str, t.Any]) -> list[str]:
    """What is wrong with the options (empty when nothing is)."""
    errors = [f"{name} must not be empty" for name in ("api_key", "api_secret", "identity") if not params[name].strip()]
    if params["room"] is not None and not params["room"].strip():
        errors.append("room must not be empty when given")
    if not MIN_TTL <= params["ttl"] <= MAX_TTL:
        errors.append(f"ttl must be between {MIN_TTL} and {MAX_TTL} seconds, got {params['ttl']}")
    if params["timeout"] <= 0:
        errors.append(f"timeout must be above 0 seconds, got {params['timeout']:g}")
    if params["server_url"]:
        try:
            parse_server_url(params["server_url"])
        except ValueError as exc:
            errors.append(f"server_url: {exc}")
    return errors


def run_module(module: AnsibleModule) -> None:
    params = module.params
    secrets = normalize_secret_values([params["api_secret"], params["api_key"]])
    errors = validate_params(params)
    if errors:
        module.fail_json(msg=mask_values(f"{WHAT}: " + "; ".join(errors) + ".", secrets), changed=False)

    video = video_grant(params["room"], params["can_publish"], params["can_subscribe"])
    now = time.time()
    claims = build_claims(params["api_key"], params["identity"], params["ttl"], now, video)
    token = encode_hs256(claims, params["api_secret"])
    module.no_log_values.add(token)
    expected = {"iss": params["api_key"], "sub": params["identity"], "video": video}
    valid, checks, problems, decoded = verify(token, params["api_secret"], expected, time.time())
    shown = dict(decoded or claims)
    shown["iss"] = REDACTED

    result: dict[str, t.Any] = dict(
        changed=False,
        token_valid=valid,
        checks=checks,
        errors=[mask_values(p, secrets) for p in problems],
        claims=shown,
        issued_at=iso_utc(claims["nbf"]),
        expires_at=iso_utc(claims["exp"]),
        server=None,
    )
    for_room = f" in room {params['room']}" if params["room"] else ""
    if valid:
        message = (
            f"Built and verified a LiveKit access token for {params['identity']}{for_room}, "
            f"valid until {result['expires_at']}"
        )
    else:
        message = f"Cannot verify the LiveKit access token built for {params['identity']}: {'; '.join(problems)}"

    if params["server_url"]:
        context = ssl_context(params["validate_certs"]) if params["server_url"].lower().startswith("https") else None
        server = probe_server(params["server_url"], params["timeout"], context)
        server.update(api_status=None, token_accepted=None, api_error=None)
        if params["api_check"] and server["reachable"]:
            api_token = encode_hs256(
                build_claims(params["api_key"], params["identity"], params["ttl"], time.time(), {"roomList": True}),
                params["api_secret"],
            )
            module.no_log_values.add(api_token)
            use_tls = api_base(params["server_url"]).startswith("https")
            server.update(
                check_api(
                    params["server_url"],
                    api_token,
                    params["timeout"],
                    ssl_context(params["validate_certs"]) if use_tls else None,
                )
            )
            server["api_error"] = mask_values(server["api_error"], secrets) if server["api_error"] else None
        result["server"] = server
        if server["healthy"]:
            message += f"; LiveKit server {server['host']}:{server['port']} answers ({server['latency_ms']} ms)"
        else:
            message += f"; LiveKit server {server['host']}:{server['port']} is not healthy: {server['error']}"
        if server["token_accepted"] is True:
            message += " and accepts the key pair"
        elif server["api_error"]:
            message += f"; API check: {server['api_error']}"
    result["msg"] = mask_values(message, secrets)
    module.exit_json(**result)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
