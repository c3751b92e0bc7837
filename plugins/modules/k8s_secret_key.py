#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_secret_key
short_description: Make sure one key of a Kubernetes Secret holds a valid random secret, or rotate it
version_added: 0.1.0
description:
  - Makes sure the key O(key) of the Secret O(name) in O(namespace) holds a valid random signing secret,
    such as the JWT signing secret of the VoiceHive orchestrator (Secret C(jwt-secret), key C(secret)), for
    the gated C(rotate_jwt_secret) remediation.
  - "A valid value is the standard base64 text (O(encoding=base64), what the orchestrator checks) or the hex
    text (O(encoding=hex)) of at least O(min_bytes) bytes; surrounding blanks are ignored."
  - O(state=present) generates a new value only when the key is missing, empty, not base64 (or hex) text, or
    decodes to fewer than O(min_bytes) bytes; a valid value is left as it is, so a second run changes nothing.
  - O(state=rotated) always generates a new value. Rotating a signing secret logs every user out, so it is
    only done with O(force=true); without it the module refuses, so a loop cannot rotate by accident.
  - New values are O(bytes) random bytes from C(secrets.token_bytes), written as base64 or hex text into the
    Secret's C(data) (which base64-encodes them once more, as every Secret value).
  - The Secret is replaced with the C(resourceVersion) that was read (its other keys, labels and annotations
    are kept), retrying on conflicts; a value written meanwhile by someone else is judged again.
  - The value never leaves the module. Results and the diff carry its length, how many bytes it decodes to
    and a fingerprint (the first 12 hex digits of its SHA-256), never the value.
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
      - Reads the Secret and reports what would be done; writes nothing. RV(after) then has no fingerprint,
        as the new value is generated at the real run.
  diff_mode:
    support: full
    details:
      - The diff shows the fingerprint of the value of O(key) before and after, never the value.
options:
  namespace:
    description:
      - Namespace of the Secret, the site's VoiceHive namespace.
    type: str
    required: true
  name:
    description:
      - Name of the Secret, for example V(jwt-secret).
    type: str
    required: true
  key:
    description:
      - Key of the Secret that holds the signing secret, for example V(secret).
    type: str
    required: true
  state:
    description:
      - V(present) generates a new value only when the current one is not valid.
      - V(rotated) always generates a new value; requires O(force=true).
    type: str
    choices: [present, rotated]
    default: present
  force:
    description:
      - Must be V(true) for O(state=rotated), to confirm the rotation.
    type: bool
    default: false
  bytes:
    description:
      - Number of random bytes of a new value, from V(32) to V(512), and at least O(min_bytes).
    type: int
    default: 48
  min_bytes:
    description:
      - The fewest bytes a stored value must decode to, to be valid with O(state=present). The orchestrator
        needs at least V(32).
    type: int
    default: 32
  encoding:
    description:
      - How the random bytes are written as text, and how the stored value is judged.
      - V(base64) is the standard base64 alphabet with padding, what the VoiceHive orchestrator validates.
    type: str
    choices: [base64, hex]
    default: base64
  create:
    description:
      - Whether to create the Secret (type C(Opaque)) when it does not exist. Otherwise the module fails then.
    type: bool
    default: false
notes:
  - "RBAC: C(get) and C(update) on the Secret O(name) in O(namespace) (a Role with C(resourceNames) can
    restrict it to that Secret); C(create) on C(secrets) with O(create=true)."
  - The orchestrator reads the secret when it starts; restart it to make it use a new value.
seealso:
  - module: voicehive.remediation.vault_kubernetes_login
"""

EXAMPLES = r"""
- name: Make sure the orchestrator has a valid JWT signing secret
  voicehive.remediation.k8s_secret_key:
    namespace: voicehive
    name: jwt-secret
    key: secret
  register: __authentication_jwt_secret

- name: Rotate the JWT signing secret (logs every user out)
  voicehive.remediation.k8s_secret_key:
    namespace: voicehive
    name: jwt-secret
    key: secret
    state: rotated
    force: true
  register: __authentication_jwt_rotation

- name: Report the rotation without the value
  ansible.builtin.debug:
    msg: >-
      JWT secret {{ __authentication_jwt_rotation.before.fingerprint }} replaced by
      {{ __authentication_jwt_rotation.after.fingerprint }}
      ({{ __authentication_jwt_rotation.after.base64_bytes }} bytes)
"""

RETURN = r"""
reason:
  description:
    - Why a new value was generated, or V(valid) when the stored one was kept.
    - V(missing) (no such key, or the Secret was created), V(empty), V(not_base64) (V(not_hex) with
      O(encoding=hex)), V(too_short), V(rotated) or V(valid).
  returned: always
  type: str
  sample: too_short
before:
  description: The value of O(key) before the run, described without the value.
  returned: always
  type: dict
  contains:
    present:
      description: Whether the key exists.
      type: bool
      sample: true
    length:
      description: Length in characters of the stored text (bytes, when it is no UTF-8 text); V(0) when missing.
      type: int
      sample: 24
    base64_bytes:
      description: How many bytes the stored text decodes to as standard base64; V(null) when it is no base64 text.
      type: int
      sample: 16
    fingerprint:
      description: The first 12 hex digits of the SHA-256 of the stored value; V(null) when missing.
      type: str
      sample: 9f86d081884c
after:
  description:
    - The value of O(key) after the run, described as RV(before) (the same when nothing changed).
    - In check mode a new value is not generated yet, so its fingerprint is V(null).
  returned: always
  type: dict
  sample: {"present": true, "length": 64, "base64_bytes": 48, "fingerprint": "2c26b46b68ff"}
secret_resource_version:
  description: C(metadata.resourceVersion) of the Secret after the run; V(null) when it does not exist (check mode).
  returned: always
  type: str
  sample: "48213"
diff:
  description: The fingerprint of the value of O(key) before and after; an empty dict when the key is missing.
  returned: always
  type: dict
  sample: {"before": {"secret": "9f86d081884c"}, "after": {"secret": "2c26b46b68ff"}}
"""

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import operation_main
from ansible_collections.voicehive.remediation.plugins.module_utils._k8s_secret_key import OPERATION


def main() -> None:
    operation_main(OPERATION)


if __name__ == "__main__":
    main()
