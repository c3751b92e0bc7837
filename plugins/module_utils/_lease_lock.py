# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""The lock of ``lease_lock`` (a Kubernetes Lease), shared by the module and its action plugin.

``OPERATION`` is the module's work (``_k8s.Operation``): options, their checks, and ``run(module, conn)``, which
takes or releases the Lease through a ``_kube_read.KubeConnection``. The options and results are documented in
plugins/modules/lease_lock.py.
"""

from __future__ import annotations

import datetime
import time
import typing as t

from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import (
    MAX_CONFLICTS,
    K8sModuleError,
    KubeObject,
    Operation,
    body_for_replace,
    empty_options,
    format_microtime,
    managed_metadata,
    microtime_now,
    parse_time,
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


class LeaseLock(KubeObject):
    KIND = "Lease"
    RESOURCE = "leases.coordination.k8s.io"
    API = "/apis/coordination.k8s.io/v1"
    PLURAL = "leases"
    ERROR = LockError

    def __init__(self, module: t.Any, conn: t.Any) -> None:
        super().__init__(module, conn)
        self.holder = self.params["holder"]
        self.check_mode = module.check_mode

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


def run(module: t.Any, conn: t.Any) -> dict[str, t.Any]:
    lock = LeaseLock(module, conn)
    return lock.acquire() if module.params["state"] == "acquired" else lock.release()


OPERATION = Operation("lease_lock", argument_spec, validate_params, run, {"acquired": False})
