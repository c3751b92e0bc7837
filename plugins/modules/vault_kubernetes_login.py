#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: vault_kubernetes_login
short_description: Log in to Vault's kubernetes auth method as a service account, optionally store the token
version_added: 0.1.0
description:
  - Logs in to Vault (or OpenBao) the way the VoiceHive orchestrator does, to tell whether that login works
    and, optionally, to hand a fresh Vault token to the orchestrator.
  - "Steps: requests a short-lived token for the service account O(service_account) of O(namespace) from the
    Kubernetes API (TokenRequest, C(serviceaccounts/token)); sends it with O(role) to
    C(POST <vault_url>/v1/auth/<mount>/login); reports the outcome."
  - "Without O(store_secret) the module is a probe: the Vault token of the login is revoked at once
    (C(POST /v1/auth/token/revoke-self)), so no unused token lingers."
  - "With O(store_secret) the Vault token is written into the key O(store_secret.key) of the Secret
    O(store_secret.name) in O(namespace), but only when the token stored there now is not valid: the
    stored token is first checked with C(GET /v1/auth/token/lookup-self). When it is valid nothing is
    written, RV(ignore:changed=false), and the fresh token is revoked. So a second run changes nothing."
  - The Secret is replaced with the C(resourceVersion) that was read (its other keys are kept), retrying
    on conflicts; a token written meanwhile by someone else is checked again before it is overwritten.
    The Secret must exist.
  - Like M(community.postgresql.postgresql_ping), the module does not fail when Vault refuses the login
    (wrong role, service account not bound to the role, audience mismatch, Vault failing or sealed). It
    returns RV(login_ok=false), Vault's RV(error) text and RV(vault_status), and the role decides.
  - It fails when Vault or the Kubernetes API cannot be reached at all, when the Kubernetes API refuses a
    call (for example for lack of RBAC permissions), and on bad options, refused before any call.
  - Returns facts only. The service account token, the Vault tokens and the stored token are never
    returned; messages and the diff carry a fingerprint at most (the first 12 hex digits of the SHA-256).
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.kubernetes
  - voicehive.remediation.kubernetes.in_process
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
      - Requests the service account token and logs in as a probe (the Vault token is revoked at once),
        checks the stored token, and reports whether a token would be stored; writes nothing.
  diff_mode:
    support: full
    details:
      - The diff shows the fingerprint of the token in O(store_secret.key) before and after, never the token.
options:
  namespace:
    description:
      - Namespace of the service account and of the Secret O(store_secret), the site's VoiceHive namespace.
    type: str
    required: true
  service_account:
    description:
      - Name of the service account to log in as, the orchestrator's V(voicehive-orchestrator).
    type: str
    required: true
  role:
    description:
      - Name of the Vault role of the kubernetes auth method, V(voicehive-orchestrator) for the orchestrator.
    type: str
    required: true
  mount:
    description:
      - Path where the kubernetes auth method is mounted in Vault, without C(auth/).
    type: str
    default: kubernetes
  sa_token_ttl:
    description:
      - Lifetime in seconds asked for the service account token (C(expirationSeconds) of the TokenRequest).
      - Kubernetes requires at least V(600); the API server may shorten it.
    type: int
    default: 600
  audiences:
    description:
      - Audiences of the service account token. Empty means the API server's own audience.
      - Must match the C(audience) of the Vault role when the role sets one.
    type: list
    elements: str
    default: []
  store_secret:
    description:
      - Where to store the Vault token for the orchestrator. Without it the module only probes the login.
    type: dict
    suboptions:
      name:
        description:
          - Name of the Secret in O(namespace), for example V(voicehive-secrets).
        type: str
        required: true
      key:
        description:
          - Key of the Secret that holds the token, for example V(vault-token).
        type: str
        required: true
  vault_url:
    description:
      - Base URL of Vault, for example V(https://vault.voicehive.svc:8200).
      - If not set, the value of the E(VAULT_ADDR) environment variable is used.
    type: str
    required: true
  vault_validate_certs:
    description:
      - Whether to verify Vault's TLS certificate. Only turn this off against a lab.
      - This is not O(validate_certs), which is about the Kubernetes API server.
    type: bool
    default: true
  vault_ca_cert:
    description:
      - Path to the PEM file of the CA that signed Vault's certificate.
      - If not set, the value of the E(VAULT_CACERT) environment variable is used.
    type: path
  timeout:
    description:
      - Seconds to wait for each answer of Vault.
    type: float
    default: 10
notes:
  - "RBAC: C(create) on C(serviceaccounts/token) for O(service_account) in O(namespace) (a Role with
    C(resourceNames) can restrict it to that service account); C(get) and C(update) on the Secret
    O(store_secret.name) when storing."
  - "Vault: the login needs no token. Revoking uses the fresh token itself (C(revoke-self)), which the
    C(default) policy allows; the stored token is checked with itself (C(lookup-self))."
  - The orchestrator reads the stored token when it starts; restart it (or let it reload the Secret) to
    make it use a newly stored token.
seealso:
  - module: voicehive.remediation.k8s_secret_key
  - name: Vault kubernetes auth method
    description: How Vault validates service account tokens with the TokenReview API.
    link: https://openbao.org/docs/auth/kubernetes/
"""

EXAMPLES = r"""
- name: Check that the orchestrator can log in to Vault
  voicehive.remediation.vault_kubernetes_login:
    namespace: voicehive
    service_account: voicehive-orchestrator
    role: voicehive-orchestrator
    vault_url: "{{ voicehive_vault_url }}"
  register: __authentication_vault_login

- name: Report a refused Vault login
  ansible.builtin.debug:
    msg: "Vault refused the orchestrator's login ({{ __authentication_vault_login.vault_status }}):
      {{ __authentication_vault_login.error }}"
  when: not __authentication_vault_login.login_ok

- name: Give the orchestrator a fresh Vault token when its stored one is no longer valid
  voicehive.remediation.vault_kubernetes_login:
    namespace: voicehive
    service_account: voicehive-orchestrator
    role: voicehive-orchestrator
    vault_url: "{{ voicehive_vault_url }}"
    vault_ca_cert: /etc/voicehive/vault-ca.pem
    store_secret:
      name: voicehive-secrets
      key: vault-token
  register: __authentication_vault_token
"""

RETURN = r"""
login_ok:
  description: Whether Vault accepted the login and issued a token.
  returned: always
  type: bool
  sample: true
vault_status:
  description: HTTP status of Vault's answer to the login.
  returned: always
  type: int
  sample: 200
error:
  description:
    - Vault's own error text when the login was refused, for example V(permission denied) or
      V(service account name not authorized); V(null) when the login worked.
    - Never contains a token.
  returned: always
  type: str
  sample: service account name not authorized
policies:
  description: Policies of the token Vault issued; empty when the login failed.
  returned: always
  type: list
  elements: str
  sample: [default, voicehive-orchestrator]
lease_duration:
  description: Lifetime in seconds of the token Vault issued; V(null) when the login failed.
  returned: always
  type: int
  sample: 3600
renewable:
  description: Whether the token Vault issued is renewable; V(null) when the login failed.
  returned: always
  type: bool
  sample: true
stored_token_valid:
  description:
    - Whether the token stored in O(store_secret) was valid (Vault answered C(lookup-self) with 200).
    - V(false) when there is none, it is unreadable, or Vault refused it; V(null) without O(store_secret)
      or when Vault's answer did not tell (Vault failing).
  returned: always
  type: bool
  sample: false
stored:
  description: Whether the new token was written into O(store_secret) (always V(false) in check mode).
  returned: always
  type: bool
  sample: true
revoked:
  description: Whether the token of this login was revoked because it was not stored (a probe, a valid stored
    token, check mode, or a failure after the login).
  returned: always
  type: bool
  sample: false
diff:
  description: Fingerprints of the token in O(store_secret.key) before and after; an empty dict when there is none.
  returned: in diff mode, with O(store_secret)
  type: dict
  sample: {"before": {"vault-token": "3f1c0a9e2b7d"}, "after": {"vault-token": "a94c61d02e58"}}
"""

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import operation_main
from ansible_collections.voicehive.remediation.plugins.module_utils._vault_kubernetes_login import OPERATION


def main() -> None:
    operation_main(OPERATION)


if __name__ == "__main__":
    main()
