#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: lease_lock
short_description: Take or release the per-site remediation lock, a Kubernetes Lease
version_added: 0.1.0
description:
  - Takes (O(state=acquired)) or releases (O(state=released)) a C(coordination.k8s.io/v1) Lease that
    serializes remediation runs on one site, so two runs (a person and AWX, or two Alertmanager
    events) never act on the same site at once.
  - A free Lease (missing, or without a holder) is taken at once. A Lease held by another holder
    is waited for, polling every O(poll_interval) seconds for at most O(wait_timeout) seconds,
    then the module fails and names the holder. A Lease whose holder did not renew it within its
    C(leaseDurationSeconds) is expired and is taken over (RV(took_over), RV(previous_holder)).
  - Re-acquiring a Lease already held by O(holder) renews it (a write of C(renewTime)) but reports
    RV(ignore:changed=false), so a long run can renew its lock between categories idempotently.
  - Every write is a create, or a replace carrying the C(resourceVersion) that was read, so of
    concurrent acquirers exactly one wins; the others get a conflict, read again and wait.
  - Releasing clears C(holderIdentity) (and keeps the Lease object, its labels and annotations).
    A Lease held by someone else is left alone with a warning.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.kubernetes
  - voicehive.remediation.kubernetes.in_process
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - ansible.builtin.action_common_attributes.flow
options:
  namespace:
    description:
      - Namespace of the Lease, the site's VoiceHive namespace.
    type: str
    required: true
  name:
    description:
      - Name of the Lease.
    type: str
    default: voicehive-remediation
  holder:
    description:
      - Identity of the run that takes or releases the lock, the run id (for example
        V(4711-prod-eu-west-1-20261128T160000Z-123456)). It is what another run's failure message shows.
    type: str
    required: true
  state:
    description:
      - V(acquired) takes (or renews) the lock, V(released) gives it back.
    type: str
    choices: [acquired, released]
    default: acquired
  lease_duration:
    description:
      - Seconds the lock stays valid without renewal (C(leaseDurationSeconds)). After that another
        run may take it over, so set it above the longest expected run.
    type: int
    default: 900
  wait_timeout:
    description:
      - Seconds to wait for a lock held by another holder before failing. V(0) fails at once.
    type: float
    default: 120.0
  poll_interval:
    description:
      - Seconds between two reads of a held lock while waiting.
    type: float
    default: 2.0
attributes:
  check_mode:
    details:
      - Nothing is written. The result says what would happen.
      - A lock held by another holder is not waited for and does not fail; the result has
        RV(would_wait=true) and the RV(holder).
notes:
  - The Lease's C(leaseTransitions) counts holder changes, as with Kubernetes leader election.
  - Times are written as MicroTime (V(2026-11-28T16:00:00.123456Z)). Expiry is judged by the controller's clock
    against the holder's C(renewTime); keep controllers in NTP sync.
  - "RBAC: C(get), C(create), C(update) on C(leases.coordination.k8s.io) in O(namespace)."
seealso:
  - module: voicehive.remediation.remediation_budget
"""

EXAMPLES = r"""
- name: Take the remediation lock of the site
  voicehive.remediation.lease_lock:
    namespace: voicehive
    holder: "{{ __voicehive_run_id }}"
    lease_duration: 900
    wait_timeout: 120
  register: __incident_lock

- name: Give the remediation lock back
  voicehive.remediation.lease_lock:
    namespace: voicehive
    holder: "{{ __voicehive_run_id }}"
    state: released
  register: __incident_unlock

- name: Use the lab's API server directly
  voicehive.remediation.lease_lock:
    host: https://127.0.0.1:16443
    api_key: "{{ voicehive_kube_api_key }}"
    ca_cert: lab/.state/kubesim/ca.crt
    namespace: voicehive
    holder: manual-check
  register: __lock
"""

RETURN = r"""
holder:
  description: Holder of the Lease after the operation (who would hold it, in check mode); V(null) if free or missing.
  returned: always
  type: str
  sample: 4711-prod-eu-west-1-20261128T160000Z-123456
acquired:
  description: Whether O(holder) holds the lock after the operation (would hold it, in check mode).
  returned: always
  type: bool
  sample: true
took_over:
  description: Whether an expired Lease of another holder was taken over.
  returned: always
  type: bool
  sample: false
previous_holder:
  description: Holder of an expired Lease that was taken over, else V(null).
  returned: always
  type: str
  sample: 4698-prod-eu-west-1-20261128T140000Z-654321
would_wait:
  description:
    - In check mode, whether acquiring would have to wait for another holder.
    - Always V(false) outside check mode.
  returned: always
  type: bool
  sample: false
waited:
  description: Seconds spent waiting for another holder.
  returned: always
  type: float
  sample: 0.0
lease:
  description: The Lease after the operation (as it would be, in check mode); V(null) when it does not exist.
  returned: always
  type: dict
  contains:
    namespace:
      description: Namespace of the Lease.
      type: str
      sample: voicehive
    name:
      description: Name of the Lease.
      type: str
      sample: voicehive-remediation
    holder_identity:
      description: C(spec.holderIdentity), V(null) when free.
      type: str
      sample: 4711-prod-eu-west-1-20261128T160000Z-123456
    acquire_time:
      description: C(spec.acquireTime).
      type: str
      sample: "2026-11-28T16:00:00.123456Z"
    renew_time:
      description: C(spec.renewTime).
      type: str
      sample: "2026-11-28T16:00:00.123456Z"
    lease_duration_seconds:
      description: C(spec.leaseDurationSeconds).
      type: int
      sample: 900
    lease_transitions:
      description: C(spec.leaseTransitions).
      type: int
      sample: 3
    expires_at:
      description: When the lock expires unless renewed (renew time + duration), V(null) when free.
      type: str
      sample: "2026-11-28T16:15:00.123456Z"
    resource_version:
      description: C(metadata.resourceVersion) (V(null) in check mode for a Lease not yet written).
      type: str
      sample: "12345"
"""

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import operation_main
from ansible_collections.voicehive.remediation.plugins.module_utils._lease_lock import OPERATION


def main() -> None:
    operation_main(OPERATION)


if __name__ == "__main__":
    main()
