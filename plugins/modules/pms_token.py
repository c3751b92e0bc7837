#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pms_token
short_description: Get an Apaleo access token with the OAuth2 client credentials, test it, optionally store it
version_added: 0.1.0
description:
  - Runs the OAuth2 client-credentials grant of the Apaleo PMS, C(POST <identity_url>/connect/token) with
    HTTP Basic authentication (client id and secret) and the form C(grant_type=client_credentials), the
    way the VoiceHive Apaleo connector does.
  - The client credentials come from a Vault (or OpenBao) KV v2 secret, O(vault_path) on O(vault_mount)
    (the connector's C(pms/apaleo/<hotel_id>/api-credentials) with fields C(client_id) and C(client_secret)),
    or are given directly with O(client_id) and O(client_secret).
  - With O(property_ids), the new token is then tested with C(GET <api_url>/inventory/v1/properties/<id>)
    for each property.
  - "Tells apart why it did not work and returns it as RV(outcome): V(ok); V(credentials_rejected) (the token
    endpoint answered 401, or 400 with C(invalid_client) or C(unauthorized_client): the secret was rotated
    or revoked, update it at the Vault path the message names); V(token_request_rejected) (any other 4xx
    of the token endpoint, for example a wrong O(identity_url)); V(apaleo_unavailable) (5xx, 429, a timeout
    or no connection, after the retries); V(property_not_accessible) (a property answered 401, 403, 404 or
    another 4xx); V(credentials_missing) (no secret at the Vault path, or a field missing or empty);
    V(vault_unavailable) (Vault sealed, failing or unreachable); V(vault_denied) (Vault refused O(vault_token));
    V(store_failed) (the token is fine but could not be stored)."
  - Like M(community.postgresql.postgresql_ping), the module does not fail because Apaleo or Vault is
    unhealthy, it reports the outcome and the role decides. It fails only on bad options, refused before
    any request is sent.
  - Only connection errors, timeouts and 5xx answers are retried, O(retries) times, waiting 0.5 s, then
    1 s, 2 s, ... in between. A 4xx answer is never retried (a rejected secret stays rejected;
    repeating it only adds failed logins). Vault is not retried either when it says it is sealed.
  - With O(store=vault) or O(store=kubernetes_secret), the new token and its expiry time are written
    as C(access_token) and C(expires_at) (ISO 8601 UTC), but only when RV(outcome=ok) and when the
    token already stored expires within O(refresh_before) seconds or is invalid (missing, unreadable, or
    refused by Apaleo when tested on the first of O(property_ids)). So a second run reports no change.
  - Returns facts only. The access token, the client secret and the Vault token are never returned,
    and every error text is masked.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.kubernetes
  - voicehive.remediation.kubernetes.in_process
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - ansible.builtin.action_common_attributes.flow
attributes:
  action_group:
    support: none
    details:
      - Not in the C(voicehive.remediation.kubernetes) group, although it takes the Kubernetes connection options for
        O(store=kubernetes_secret) - its O(validate_certs) also covers Apaleo and Vault. Give them on the task.
  check_mode:
    support: full
    details:
      - Validates the options, reads the credentials, requests a token and tests the properties
        (read-only on Apaleo's side) and reads the stored token, but stores nothing.
      - RV(ignore:changed) and the diff then say whether the token would have been stored.
  diff_mode:
    support: full
    details:
      - The diff shows the stored C(expires_at) before and after; the token itself is shown masked.
  platform:
    platforms: posix
options:
  identity_url:
    description:
      - Base URL of the Apaleo identity server; the token endpoint is C(<identity_url>/connect/token).
    type: str
    default: https://identity.apaleo.com
  api_url:
    description:
      - Base URL of the Apaleo API, for the property tests.
    type: str
    default: https://api.apaleo.com
  client_id:
    description:
      - The OAuth2 client id, when not read from Vault.
      - Requires O(client_secret). Mutually exclusive with O(vault_path).
    type: str
  client_secret:
    description:
      - The OAuth2 client secret, when not read from Vault. Never shown.
      - Requires O(client_id). Mutually exclusive with O(vault_path).
    type: str
  vault_url:
    description:
      - Address of Vault or OpenBao, for example V(https://vault.voicehive.com:8200).
      - Needed with O(vault_path) and with O(store=vault).
      - If not set, the value of the E(VAULT_ADDR) environment variable is used.
    type: str
  vault_token:
    description:
      - Vault token that can read O(vault_path) (and, with O(store=vault), read and write
        O(store_vault_path)). Never shown.
      - If not set, the value of the E(VAULT_TOKEN) environment variable is used.
    type: str
  vault_mount:
    description:
      - Mount point of the KV version 2 secrets engine that holds O(vault_path) and O(store_vault_path).
    type: str
    default: voicehive
  vault_path:
    description:
      - Path of the client credentials within O(vault_mount), for example
        V(pms/apaleo/hotel-001/api-credentials). Requires O(vault_url) and O(vault_token).
      - One of O(vault_path) and O(client_id) is required.
    type: str
  vault_client_id_field:
    description:
      - Field of the secret at O(vault_path) that holds the client id.
    type: str
    default: client_id
  vault_client_secret_field:
    description:
      - Field of the secret at O(vault_path) that holds the client secret.
    type: str
    default: client_secret
  property_ids:
    description:
      - Apaleo property ids (for example V(MUC)) to test the new token on, in this order.
      - After an RV(outcome=apaleo_unavailable) answer the remaining properties are not tested.
    type: list
    elements: str
    default: []
  hotels:
    description:
      - Check several hotels in one call, validate only (O(store=none)) - each hotel's credentials at its
        O(hotels[].vault_path), a token, and its O(hotels[].property_ids). The result is in RV(hotels), and
        RV(outcome) is the first of V(apaleo_unavailable), V(vault_unavailable), V(vault_denied),
        V(credentials_rejected), V(credentials_missing), V(token_request_rejected), V(property_not_accessible)
        that a hotel has, else V(ok).
      - The same credentials are sent once per call - a rejected client id and secret are not sent again for
        another hotel (no repeated failed logins), a token got with them is reused - and after Apaleo was
        unavailable for one hotel the remaining hotels are not tried.
      - Requires O(vault_url) and O(vault_token). Mutually exclusive with O(vault_path), O(client_id),
        O(client_secret) and O(property_ids).
    type: list
    elements: dict
    version_added: 0.1.0
    suboptions:
      hotel_id:
        description: The hotel's id, the key of its result in RV(hotels).
        type: str
        required: true
      vault_path:
        description: Path of the hotel's client credentials within O(vault_mount).
        type: str
        required: true
      property_ids:
        description: Apaleo property ids to test the hotel's token on.
        type: list
        elements: str
        default: []
  store:
    description:
      - Where to store the new token. V(none) stores nothing.
      - V(vault) writes the KV v2 secret O(store_vault_path) on O(vault_mount), with check-and-set.
      - V(kubernetes_secret) writes the keys C(access_token) and C(expires_at) of the Secret
        O(store_secret_name) in O(store_namespace) (created when missing, other keys kept). Only
        then are the Kubernetes connection options used.
    type: str
    choices: [none, vault, kubernetes_secret]
    default: none
  store_vault_path:
    description:
      - Path within O(vault_mount) to store the token at, with O(store=vault), for example
        V(pms/apaleo/hotel-001/access-token). Must not be O(vault_path).
    type: str
  store_secret_name:
    description:
      - Name of the Secret to store the token in, with O(store=kubernetes_secret).
    type: str
  store_namespace:
    description:
      - Namespace of O(store_secret_name).
    type: str
    default: voicehive
  refresh_before:
    description:
      - A stored token is replaced when it expires within this many seconds (or is invalid).
    type: int
    default: 600
  timeout:
    description:
      - Seconds to wait for each HTTP request (Apaleo and Vault).
    type: float
    default: 10
  retries:
    description:
      - How often a request is repeated after a connection error, a timeout or a 5xx answer, between
        V(0) and V(10). Never after a 4xx answer.
    type: int
    default: 3
  validate_certs:
    description:
      - Whether to verify the TLS certificates of Apaleo, Vault and (with O(store=kubernetes_secret)) the
        Kubernetes API server.
      - Unset means V(true) for Apaleo and Vault and the kubeconfig's setting for the Kubernetes API server.
      - Only turn this off against a lab or a server you control.
    type: bool
    aliases: [verify_ssl]
notes:
  - The Kubernetes connection options (O(kubeconfig), O(host), O(api_key), ...) are only used with
    O(store=kubernetes_secret); without it no connection to the Kubernetes API server is made.
  - "RBAC with O(store=kubernetes_secret): C(get), C(create), C(update) on C(secrets) in O(store_namespace)."
  - "Vault policy: C(read) on C(<vault_mount>/data/<vault_path>); with O(store=vault) also C(read), C(create)
    and C(update) on C(<vault_mount>/data/<store_vault_path>)."
  - Nothing is cached between runs; every run asks Apaleo for a new token.
"""

EXAMPLES = r"""
- name: Check that the Apaleo credentials in Vault still get a token for hotel-001
  voicehive.remediation.pms_token:
    vault_url: "{{ voicehive_vault_url }}"
    vault_token: "{{ voicehive_vault_token }}"
    vault_path: pms/apaleo/hotel-001/api-credentials
    property_ids: [MUC]
  register: __pms_connector_token

- name: Record a finding when Apaleo rejects the credentials
  ansible.builtin.debug:
    msg: "{{ __pms_connector_token.msg }}"
  when: __pms_connector_token.outcome == 'credentials_rejected'

- name: Refresh the stored access token when it expires within 10 minutes
  voicehive.remediation.pms_token:
    vault_url: "{{ voicehive_vault_url }}"
    vault_token: "{{ voicehive_vault_token }}"
    vault_path: pms/apaleo/hotel-001/api-credentials
    property_ids: [MUC]
    store: vault
    store_vault_path: pms/apaleo/hotel-001/access-token
    refresh_before: 600
  register: __pms_connector_refresh

- name: Check every hotel's credentials in one call, storing nothing
  voicehive.remediation.pms_token:
    vault_url: "{{ voicehive_vault_url }}"
    vault_token: "{{ voicehive_vault_token }}"
    hotels:
      - {hotel_id: hotel-001, vault_path: pms/apaleo/hotel-001/api-credentials, property_ids: [MUC]}
      - {hotel_id: hotel-002, vault_path: pms/apaleo/hotel-002/api-credentials, property_ids: [BER]}
  register: __pms_connector_token_check

- name: Keep the token in a Kubernetes Secret instead
  voicehive.remediation.pms_token:
    identity_url: "{{ voicehive_apaleo_identity_url }}"
    api_url: "{{ voicehive_apaleo_api_url }}"
    client_id: "{{ voicehive_apaleo_client_id }}"
    client_secret: "{{ voicehive_apaleo_client_secret }}"
    store: kubernetes_secret
    store_secret_name: apaleo-access-token
    store_namespace: voicehive
    kubeconfig: "{{ voicehive_kubeconfig }}"
  register: __pms_connector_refresh
"""

RETURN = r"""
outcome:
  description:
    - What happened, one of V(ok), V(credentials_rejected), V(token_request_rejected), V(apaleo_unavailable),
      V(property_not_accessible), V(credentials_missing), V(vault_unavailable), V(vault_denied),
      V(store_failed). See the description.
  returned: always
  type: str
  sample: ok
msg:
  description: A one-line summary; when RV(outcome) is not V(ok), what went wrong and what to do.
  returned: always
  type: str
  sample: "Got an Apaleo access token (expires in 3600 s); property MUC is accessible"
error:
  description: What went wrong (masked), when RV(outcome) is not V(ok).
  returned: when RV(outcome) is not V(ok)
  type: str
  sample: >-
    Cannot get an Apaleo access token: https://identity.apaleo.com/connect/token answered 401 invalid_client.
    Apaleo rejected the client credentials (rotated or revoked).
    Update client_id and client_secret at Vault path voicehive/pms/apaleo/hotel-001/api-credentials.
credentials_source:
  description: Where the client credentials came from, V(vault) or V(options).
  returned: always
  type: str
  sample: vault
vault_path:
  description: The Vault path of the credentials, as C(<mount>/<path>); V(null) when given directly.
  returned: always
  type: str
  sample: voicehive/pms/apaleo/hotel-001/api-credentials
token_obtained:
  description: Whether the token endpoint issued a token.
  returned: always
  type: bool
  sample: true
token_status:
  description: HTTP status of the (last) token request; V(null) when no request was answered or sent.
  returned: always
  type: int
  sample: 200
token_type:
  description: The token type Apaleo returned.
  returned: when RV(token_obtained)
  type: str
  sample: Bearer
expires_in:
  description: Lifetime of the new token in seconds (V(3600) when Apaleo did not say); V(null) without a token.
  returned: always
  type: int
  sample: 3600
expires_at:
  description: Expiry time of the new token, ISO 8601 UTC; V(null) without a token.
  returned: always
  type: str
  sample: "2026-11-28T17:00:00Z"
latency_ms:
  description: Milliseconds the last token request took; V(null) when none was sent.
  returned: always
  type: float
  sample: 84.2
attempts:
  description: Token requests sent (1 plus the retries used); with O(hotels), the sum over the hotels.
  returned: always
  type: int
  sample: 1
token_reused:
  description: With O(hotels), whether the token of an earlier hotel with the same credentials was reused.
  returned: when a token request was due
  type: bool
  sample: false
hotels:
  description:
    - With O(hotels), each hotel's result by O(hotels[].hotel_id) - RV(outcome), RV(msg), RV(error), RV(vault_path),
      RV(token_obtained), RV(token_status), RV(token_reused), RV(expires_in), RV(expires_at), RV(latency_ms),
      RV(attempts) and RV(properties) as for one hotel.
  returned: with O(hotels)
  type: dict
  sample:
    hotel-001: {outcome: ok, token_obtained: true, token_status: 200, attempts: 1, properties: {MUC: {status: 200}}}
    hotel-002:
      outcome: credentials_rejected
      token_status: 401
      attempts: 1
      msg: >-
        Cannot get an Apaleo access token: ... answered 401 invalid_client. Apaleo rejected the client
        credentials (rotated or revoked). Update client_id and client_secret at Vault path
        voicehive/pms/apaleo/hotel-002/api-credentials.
properties:
  description: The result of each property test, by property id. Empty without a token.
  returned: always
  type: dict
  sample:
    MUC: {status: 200, accessible: true, latency_ms: 41.7, attempts: 1, error: null}
    BER:
      status: 403
      accessible: false
      latency_ms: 38.0
      attempts: 1
      error: >-
        https://api.apaleo.com/inventory/v1/properties/BER answered 403 (the client has no access to this property)
  contains:
    status:
      description: HTTP status, V(null) when not answered or not tested.
      type: int
    accessible:
      description: Whether the property answered 2xx; V(null) when Apaleo did not tell (5xx, timeout, not tested).
      type: bool
    latency_ms:
      description: Milliseconds of the last request.
      type: float
    attempts:
      description: Requests sent (V(0) when not tested).
      type: int
    error:
      description: Why it is not accessible; V(null) when it is.
      type: str
stored:
  description: Whether the token was stored (never in check mode).
  returned: always
  type: bool
  sample: true
store_target:
  description:
    - Where the token is stored, V(vault:<mount>/<path>) or V(secret:<namespace>/<name>).
    - V(null) with O(store=none), or when the run did not get that far.
  returned: always
  type: str
  sample: vault:voicehive/pms/apaleo/hotel-001/access-token
store_reason:
  description: Why the token was (or would be) stored or not.
  returned: when the stored token was read (O(store) is not V(none), and a token was obtained)
  type: str
  sample: "the stored token expires in 412 s, within refresh_before=600 s"
diff:
  description: With C(--diff), the stored C(expires_at) before and after (the token itself masked).
  returned: when diff mode is on and O(store) is not V(none)
  type: dict
  sample:
    before:
      "vault:voicehive/pms/apaleo/hotel-001/access-token":
        {access_token: "********", expires_at: "2026-11-28T16:10:00Z"}
    after:
      "vault:voicehive/pms/apaleo/hotel-001/access-token":
        {access_token: "********", expires_at: "2026-11-28T17:00:00Z"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.voicehive.remediation.plugins.module_utils._pms_token import (
    CONSTRAINTS,
    argument_spec,
    invalid_options_message,
    perform,
    validate_params,
)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, **CONSTRAINTS)
    errors = validate_params(module.params)
    if errors:
        module.fail_json(msg=invalid_options_message(errors), changed=False)
    result = perform(module)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
