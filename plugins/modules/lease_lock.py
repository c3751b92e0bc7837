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
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
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

import datetime
import time
import typing as t

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import (
    MAX_CONFLICTS,
    K8sModuleError,
    NamespacedObject,
    body_for_replace,
    coordination_api,
    empty_options,
    exit_with,
    format_microtime,
    k8s_main,
    managed_metadata,
    microtime_now,
    parse_time,
    refuse_invalid,
    to_plain,
)


def sleep(seconds: float) -> None:
    time.sleep(seconds)


class LockError(K8sModuleError):
    """A failure with a message for fail_json, and result fields to return with it."""


def argument_spec() -> dict[str, t.Any]:
    return dict(
        namespace=dict(type="str", required=True),
        name=dict(type="str", default="voicehive-remediation"),
        holder=dict(type="str", required=True),
        state=dict(type="str", choices=["acquired", "released"], default="acquired"),
        lease_duration=dict(type="int", default=900),
        wait_timeout=dict(type="float", default=120.0),
        poll_interval=dict(type="float", default=2.0),
    )


def validate_params(params: dict[str, t.Any]) -> list[str]:
    errors = empty_options(params, ("namespace", "name", "holder"))
    if params["lease_duration"] < 1:
        errors.append(f"lease_duration must be at least 1 second, got {params['lease_duration']}")
    if params["wait_timeout"] < 0:
        errors.append(f"wait_timeout must not be negative, got {params['wait_timeout']}")
    if params["poll_interval"] <= 0:
        errors.append(f"poll_interval must be positive, got {params['poll_interval']}")
    return errors


def lease_spec(lease: dict[str, t.Any] | None) -> dict[str, t.Any]:
    return (lease or {}).get("spec") or {}


def expires_at(lease: dict[str, t.Any] | None) -> datetime.datetime | None:
    spec = lease_spec(lease)
    if not spec.get("holderIdentity"):
        return None
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    if renewed is None or not duration:
        return None  # a lease without times or duration never expires by itself
    return renewed + datetime.timedelta(seconds=int(duration))


def is_expired(lease: dict[str, t.Any] | None, now: datetime.datetime) -> bool:
    until = expires_at(lease)
    return until is not None and until <= now


def summarize(lease: dict[str, t.Any] | None) -> dict[str, t.Any] | None:
    if lease is None:
        return None
    metadata = lease.get("metadata") or {}
    spec = lease_spec(lease)
    until = expires_at(lease)
    return dict(
        namespace=metadata.get("namespace"),
        name=metadata.get("name"),
        holder_identity=spec.get("holderIdentity") or None,
        acquire_time=spec.get("acquireTime"),
        renew_time=spec.get("renewTime"),
        lease_duration_seconds=spec.get("leaseDurationSeconds"),
        lease_transitions=spec.get("leaseTransitions"),
        expires_at=format_microtime(until) if until else None,
        resource_version=metadata.get("resourceVersion"),
    )


class LeaseLock(NamespacedObject):
    KIND = "Lease"
    RESOURCE = "leases.coordination.k8s.io"
    ERROR = LockError

    def __init__(self, module: t.Any, client: t.Any) -> None:
        self.module = module
        self.client = client
        self.params = module.params
        self.namespace = self.params["namespace"]
        self.name = self.params["name"]
        self.holder = self.params["holder"]
        self.check_mode = module.check_mode

    # -- API calls -----------------------------------------------------------------------------

    def read(self) -> dict[str, t.Any] | None:
        """The Lease; ``None`` when there is none (404)."""
        return to_plain(
            self.api_call(
                "read", self.client.read_namespaced_lease, tolerate=(404,), name=self.name, namespace=self.namespace
            )
        )

    def create(self, body: dict[str, t.Any]) -> dict[str, t.Any] | None:
        """Create; ``None`` when someone else created it first (409)."""
        return to_plain(
            self.api_call(
                "create", self.client.create_namespaced_lease, tolerate=(409,), namespace=self.namespace, body=body
            )
        )

    def replace(self, body: dict[str, t.Any]) -> dict[str, t.Any] | None:
        """Replace with the resourceVersion read; ``None`` on a conflict (409)."""
        return to_plain(
            self.api_call(
                "replace",
                self.client.replace_namespaced_lease,
                tolerate=(409,),
                name=self.name,
                namespace=self.namespace,
                body=body,
            )
        )

    # -- bodies --------------------------------------------------------------------------------

    def new_lease(self, now_text: str) -> dict[str, t.Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": managed_metadata(self.namespace, self.name),
            "spec": {
                "holderIdentity": self.holder,
                "leaseDurationSeconds": self.params["lease_duration"],
                "acquireTime": now_text,
                "renewTime": now_text,
                "leaseTransitions": 0,
            },
        }

    def taken(self, lease: dict[str, t.Any], now_text: str, renew: bool) -> dict[str, t.Any]:
        body = body_for_replace(lease)
        spec = body.setdefault("spec", {})
        spec["holderIdentity"] = self.holder
        spec["leaseDurationSeconds"] = self.params["lease_duration"]
        spec["renewTime"] = now_text
        if not renew:
            spec["acquireTime"] = now_text
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        return body

    def freed(self, lease: dict[str, t.Any], now_text: str) -> dict[str, t.Any]:
        body = body_for_replace(lease)
        spec = body.setdefault("spec", {})
        spec.pop("holderIdentity", None)
        spec["renewTime"] = now_text
        return body

    # -- operations ----------------------------------------------------------------------------

    def result(self, lease, changed, **extra) -> dict[str, t.Any]:
        holder = lease_spec(lease).get("holderIdentity") or None
        out = dict(
            changed=changed,
            holder=holder,
            acquired=holder == self.holder,
            took_over=False,
            previous_holder=None,
            would_wait=False,
            waited=0.0,
            lease=summarize(lease),
        )
        out.update(extra)
        return out

    def acquire(self) -> dict[str, t.Any]:
        started = time.monotonic()
        deadline = started + self.params["wait_timeout"]
        conflicts = 0
        while True:
            if conflicts > MAX_CONFLICTS:
                raise LockError(
                    f"Cannot acquire lock {self.namespace}/{self.name}: the Lease changed under us "
                    f"{conflicts} times in a row; another process keeps writing it. Run again."
                )
            lease = self.read()
            now = microtime_now()
            now_text = format_microtime(now)
            waited = round(time.monotonic() - started, 3)

            if lease is None:
                body = self.new_lease(now_text)
                if self.check_mode:
                    return self.result(body, True, waited=waited)
                written = self.create(body)
                if written is None:
                    conflicts += 1
                    continue
                return self.result(written, True, waited=waited)

            current = lease_spec(lease).get("holderIdentity") or None
            if current == self.holder or current is None or is_expired(lease, now):
                renew = current == self.holder
                took_over = current is not None and not renew
                body = self.taken(lease, now_text, renew=renew)
                extra = dict(waited=waited, took_over=took_over, previous_holder=current if took_over else None)
                if self.check_mode:
                    return self.result(body, not renew, **extra)
                written = self.replace(body)
                if written is None:
                    conflicts += 1
                    continue
                if took_over:
                    self.module.warn(
                        f"Took over expired lock {self.namespace}/{self.name} from {current} "
                        f"(expired {format_microtime(expires_at(lease))}); that run did not release it."
                    )
                return self.result(written, not renew, **extra)

            # held by another holder, not expired
            if self.check_mode:
                return self.result(lease, False, acquired=False, would_wait=True, waited=waited)
            conflicts = 0
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                spec = lease_spec(lease)
                since = spec.get("acquireTime") or spec.get("renewTime") or "an unknown time"
                until = expires_at(lease)
                raise LockError(
                    f"Cannot acquire lock {self.namespace}/{self.name}: held by {current} since {since} "
                    f"(expires {format_microtime(until) if until else 'never'}); another remediation is running "
                    f"on this site. Wait or check the AWX job of that holder.",
                    holder=current,
                    waited=round(time.monotonic() - started, 3),
                    lease=summarize(lease),
                )
            sleep(min(self.params["poll_interval"], remaining))

    def release(self) -> dict[str, t.Any]:
        conflicts = 0
        while True:
            if conflicts > MAX_CONFLICTS:
                raise LockError(
                    f"Cannot release lock {self.namespace}/{self.name}: the Lease changed under us "
                    f"{conflicts} times in a row. Run again."
                )
            lease = self.read()
            if lease is None:
                return self.result(None, False)
            current = lease_spec(lease).get("holderIdentity") or None
            if current is None:
                return self.result(lease, False)
            if current != self.holder:
                self.module.warn(
                    f"Lock {self.namespace}/{self.name} is held by {current}, not by {self.holder}; left as it is."
                )
                return self.result(lease, False)
            body = self.freed(lease, format_microtime(microtime_now()))
            if self.check_mode:
                return self.result(body, True)
            written = self.replace(body)
            if written is None:
                conflicts += 1
                continue
            return self.result(written, True)


def check_params(module: t.Any) -> None:
    """Refuse bad input before anything is touched."""
    refuse_invalid(module, "lease_lock", validate_params(module.params))


def run_module(module: t.Any, client: t.Any) -> None:
    check_params(module)
    lock = LeaseLock(module, client)
    exit_with(module, lock.acquire if module.params["state"] == "acquired" else lock.release, acquired=False)


def main() -> None:
    k8s_main(argument_spec(), check_params, coordination_api, run_module)


if __name__ == "__main__":
    main()
