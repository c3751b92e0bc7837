"""The controller: what kube-controller-manager, the scheduler and the kubelet do, in one loop.

* Deployment -> ReplicaSet (``pod-template-hash``, revision annotation) -> Pods; a template change
  creates a new ReplicaSet and retires the old one once the new pods are ready.
* ReplicaSet and StatefulSet replica counts (pods ``<rs>-<5 random>`` and ``<sts>-<ordinal>``).
* Pod "kubelet": node, IP and a status rendered from the ``kubesim.voicehive.io/condition``
  annotation (Running, NotReady, CrashLoopBackOff, OOMKilled with a rising restartCount).
* Workload status (Deployment conditions Available/Progressing, so ``kubectl rollout status`` ends).
* Endpoints and EndpointSlices from Services' selectors and the ready pods (except Services
  annotated ``kubesim.voicehive.io/manual-endpoints: "true"``).
* Events for what it does, a ``default`` ServiceAccount per namespace, and the configured hooks.

Every write goes through the store (so watchers see it) and only happens when something changed,
so the loop reaches a fixed point.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import logging
import os
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from kubesim import jobs
from kubesim.api import random_suffix
from kubesim.discovery import by_storage
from kubesim.selectors import labels_match, parse_label_selector, selector_from_match_labels
from kubesim.store import Obj, Store, now_rfc3339, parse_time

LOG = logging.getLogger("kubesim.controller")
ANN = "kubesim.voicehive.io/"
CONDITION = ANN + "condition"
NEW_POD_CONDITION = ANN + "new-pod-condition"
MANUAL_ENDPOINTS = ANN + "manual-endpoints"
REVISION = "deployment.kubernetes.io/revision"
NODE_NAME = "kubesim-node-1"
CRASH_PERIOD = 10.0  # seconds between restarts of a crash-looping container
MAX_EVENTS_PER_NAMESPACE = 400
CONDITIONS = ("Running", "NotReady", "CrashLoopBackOff", "OOMKilled")
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
COMPONENTS = {
    "ReplicaSet": "replicaset-controller",
    "StatefulSet": "statefulset-controller",
    "DaemonSet": "daemonset-controller",
    "Job": "job-controller",
    "CronJob": "cronjob-controller",
}
SIMULATED_TIME = ANN + "simulated-time"
EXIT_CODE = ANN + "exit-code"
DISRUPTION = ANN + "disruption"
DEFAULT_STORAGE_CLASS = "standard"  # the emulated cluster's default StorageClass
PROVISIONER = "rancher.io/local-path"
IS_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
PV_PROTECTION = "kubernetes.io/pv-protection"
JOB_FINISH = 1.0  # seconds a Job's pod runs before it succeeds (emulated work)


def template_hash(template: Obj) -> str:
    """A stable pod-template-hash (10 characters of the apiserver's safe alphabet)."""
    digest = int(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16], 16)
    out = []
    for _ in range(10):
        digest, idx = divmod(digest, len(_ALPHABET))
        out.append(_ALPHABET[idx])
    return "".join(out)


def owner_ref(obj: Obj) -> Obj:
    """A controller ownerReference to ``obj``."""
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(obj: Obj, uid: str) -> bool:
    """True when ``obj`` has an ownerReference to ``uid``."""
    return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])


def pod_ready(pod: Obj) -> bool:
    """True when the pod's Ready condition is True."""
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in pod.get("status", {}).get("conditions") or []
    )


def pod_condition(pod: Obj) -> str:
    """The emulated condition of a pod (annotation, default Running)."""
    value = (pod["metadata"].get("annotations") or {}).get(CONDITION, "Running")
    return value if value in CONDITIONS else "Running"


def qos_class(pod: Obj) -> str:
    """Guaranteed / Burstable / BestEffort from the containers' resources."""
    containers = pod.get("spec", {}).get("containers") or []
    requests = [c.get("resources", {}).get("requests") for c in containers]
    limits = [c.get("resources", {}).get("limits") for c in containers]
    if not any(requests) and not any(limits):
        return "BestEffort"
    if all(
        lim and (req is None or req == lim) and {"cpu", "memory"} <= set(lim)
        for req, lim in zip(requests, limits, strict=True)
    ):
        return "Guaranteed"
    return "Burstable"


def _cid(pod: Obj, name: str, restart: int) -> str:
    seed = f"{pod['metadata'].get('uid')}/{name}/{restart}"
    return "containerd://" + hashlib.sha256(seed.encode()).hexdigest()


def render_pod_status(pod: Obj, now: float, node_ip: str = "127.0.0.1") -> Obj:
    """The status a kubelet would report for ``pod`` at time ``now`` (epoch seconds)."""
    old = pod.get("status") or {}
    cond = pod_condition(pod)
    ts = now_rfc3339_at(now)
    start = old.get("startTime") or ts
    previous = {cs.get("name"): cs for cs in old.get("containerStatuses") or []}
    statuses = []
    for container in pod.get("spec", {}).get("containers") or []:
        name = container.get("name", "")
        prev = previous.get(name) or {}
        restarts = int(prev.get("restartCount", 0))
        last_state = prev.get("lastState") or {}
        running_since = ((prev.get("state") or {}).get("running") or {}).get("startedAt") or start
        ready = cond == "Running"
        state: Obj = {"running": {"startedAt": running_since}}
        if cond in ("CrashLoopBackOff", "OOMKilled"):
            finished = parse_time((last_state.get("terminated") or {}).get("finishedAt"))
            if finished is None or now - finished.timestamp() >= CRASH_PERIOD:
                restarts += 1
                oom = cond == "OOMKilled"
                last_state = {
                    "terminated": {
                        "exitCode": 137 if oom else 1,
                        "reason": "OOMKilled" if oom else "Error",
                        "startedAt": running_since if finished is None else now_rfc3339_at(finished.timestamp() + 1),
                        "finishedAt": ts,
                        "containerID": _cid(pod, name, restarts - 1),
                    }
                }
            if cond == "OOMKilled":
                term = dict(last_state["terminated"])
                state = {"terminated": term}
            else:
                state = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 10s restarting failed container={name} "
                        f"pod={pod['metadata']['name']}_{pod['metadata'].get('namespace')}"
                        f"({pod['metadata'].get('uid')})",
                    }
                }
        elif cond == "Running" and prev and not prev.get("ready") and (prev.get("state") or {}).get("running"):
            state = {"running": {"startedAt": running_since}}
        statuses.append(
            {
                "name": name,
                "image": container.get("image", ""),
                "imageID": "docker.io/"
                + str(container.get("image", "")).split(":")[0]
                + "@sha256:"
                + hashlib.sha256(str(container.get("image", "")).encode()).hexdigest(),
                "containerID": _cid(pod, name, restarts),
                "ready": ready,
                "started": "running" in state,
                "restartCount": restarts,
                "state": state,
                "lastState": last_state,
            }
        )
    all_ready = bool(statuses) and all(s["ready"] for s in statuses)
    old_conds = {c.get("type"): c for c in old.get("conditions") or []}

    def condition(ctype: str, ok: bool, reason: str | None = None) -> Obj:
        status = "True" if ok else "False"
        prev = old_conds.get(ctype)
        since = prev.get("lastTransitionTime") if prev and prev.get("status") == status else ts
        out: Obj = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": since}
        if not ok and reason:
            out["reason"] = reason
            out["message"] = (
                "containers with unready status: [" + ",".join(s["name"] for s in statuses if not s["ready"]) + "]"
            )
        return out

    new = {
        "phase": "Running",
        "conditions": [
            condition("PodReadyToStartContainers", True),
            condition("Initialized", True),
            condition("Ready", all_ready, "ContainersNotReady"),
            condition("ContainersReady", all_ready, "ContainersNotReady"),
            condition("PodScheduled", True),
        ],
        "hostIP": node_ip,
        "hostIPs": [{"ip": node_ip}],
        "podIP": old.get("podIP"),
        "podIPs": old.get("podIPs"),
        "startTime": start,
        "containerStatuses": statuses,
        "qosClass": qos_class(pod),
    }
    return new


def now_rfc3339_at(epoch: float) -> str:
    """RFC 3339 (seconds) for an epoch time."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass
class Hook:
    """A configured hook: run ``exec`` when a matching pod starts or is deleted."""

    namespace: str
    selector: str
    event: str
    exec: list[str]


class Controller:
    """Background reconciler; call :meth:`start` once, :meth:`settle` after loading objects."""

    def __init__(self, store: Store, hooks: list[dict[str, Any]] | None = None) -> None:
        self.store = store
        self.hooks = [
            Hook(h.get("namespace", ""), h.get("selector", ""), h["event"], list(h["exec"])) for h in hooks or []
        ]
        self.hooks_enabled = False
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending_hooks: list[tuple[Hook, str, str]] = []
        self._noted: set[tuple[Any, ...]] = set()
        self._booted = False
        self.hook_procs: list[subprocess.Popen[bytes]] = []
        store.listeners.append(self._on_change)

    # ------------------------------------------------------------------------------------------ plumbing
    def _on_change(self, storage: str, etype: str, obj: Obj) -> None:
        self.wake.set()
        if storage == "/pods" and etype == "DELETED" and self.hooks_enabled:
            self._queue_hooks("pod-deleted", obj)

    def _queue_hooks(self, event: str, pod: Obj) -> None:
        meta = pod["metadata"]
        for hook in self.hooks:
            if hook.event != event or (hook.namespace and hook.namespace != meta.get("namespace")):
                continue
            if labels_match(parse_label_selector(hook.selector), meta.get("labels")):
                self._pending_hooks.append((hook, meta["name"], meta.get("namespace", "")))

    def _run_hooks(self) -> None:
        pending, self._pending_hooks = self._pending_hooks, []
        for hook, pod, namespace in pending:
            env = dict(os.environ, KUBESIM_POD=pod, KUBESIM_NAMESPACE=namespace, KUBESIM_EVENT=hook.event)
            LOG.info("hook %s for %s/%s: %s", hook.event, namespace, pod, " ".join(hook.exec))
            try:
                proc = subprocess.Popen(hook.exec, env=env, stdin=subprocess.DEVNULL)
            except OSError as exc:
                LOG.error("hook %s failed to start: %s", hook.exec, exc)
                continue
            self.hook_procs.append(proc)
        self.hook_procs = [p for p in self.hook_procs if p.poll() is None]

    def start(self) -> None:
        """Start the reconcile thread."""
        self._thread = threading.Thread(target=self._loop, name="kubesim-controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the reconcile thread."""
        self._stop.set()
        self.wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.wake.wait(1.0)
            self.wake.clear()
            if self._stop.is_set():
                break
            try:
                self.reconcile()
            except Exception:
                LOG.exception("reconcile failed")
            time.sleep(0.02)  # coalesce bursts of writes

    def settle(self, rounds: int = 20) -> None:
        """Reconcile until nothing changes (used after seeding, with hooks suppressed)."""
        for _ in range(rounds):
            before = self.store.rv
            self.reconcile()
            if self.store.rv == before:
                break
        self._pending_hooks.clear()

    # ------------------------------------------------------------------------------------------ helpers
    def _write(self, storage: str, old: Obj, new: Obj) -> Obj:
        if old == new:
            return old
        return self.store.replace(storage, new)

    def event(
        self, obj: Obj, reason: str, message: str, etype: str = "Normal", component: str = "kubesim-controller"
    ) -> None:
        """Record a core/v1 Event about ``obj``."""
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        ns_obj = self.store.peek("/namespaces", "", ns)
        if ns_obj is None or ns_obj["metadata"].get("deletionTimestamp"):
            return  # the apiserver refuses new content in a missing or terminating namespace
        ts = now_rfc3339()
        for (ens, _), existing in self.store.objects["events"].items():
            inv = existing.get("involvedObject") or {}
            if (
                ens == ns
                and inv.get("uid") == meta.get("uid")
                and existing.get("reason") == reason
                and existing.get("message") == message
                and existing.get("type") == etype
            ):
                bumped = copy.deepcopy(existing)  # aggregate like the apiserver's event correlator
                bumped["count"] = int(existing.get("count") or 1) + 1
                bumped["lastTimestamp"] = ts
                self.store.replace("events", bumped)
                return
        name = f"{meta['name']}.{time.time_ns():x}"
        while self.store.peek("events", ns, name) is not None:
            name = f"{meta['name']}.{time.time_ns() + 1:x}"
        ev = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": etype,
            "count": 1,
            "source": {"component": component, "host": NODE_NAME if component == "kubelet" else None},
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": NODE_NAME if component == "kubelet" else "",
        }
        if ev["source"]["host"] is None:
            del ev["source"]["host"]
        self.store.create("events", ev)
        events = [e for (ens, _), e in self.store.objects["events"].items() if ens == ns]
        if len(events) > MAX_EVENTS_PER_NAMESPACE:
            events.sort(key=lambda e: int(e["metadata"]["resourceVersion"]))
            for old in events[: len(events) - MAX_EVENTS_PER_NAMESPACE]:
                self.store.delete("events", ns, old["metadata"]["name"])

    def _workload_annotation(self, pod_owner: Obj | None, key: str) -> str | None:
        """Annotation ``key`` on the Deployment/StatefulSet that (indirectly) owns new pods."""
        if pod_owner is None:
            return None
        annotations = pod_owner["metadata"].get("annotations") or {}
        if key in annotations:
            return annotations[key]
        for ref in pod_owner["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "Deployment":
                dep = self.store.peek("apps/deployments", pod_owner["metadata"]["namespace"], ref["name"])
                if dep is not None:
                    return (dep["metadata"].get("annotations") or {}).get(key)
        return None

    def _new_pod(
        self,
        owner: Obj,
        name: str,
        extra_labels: dict[str, str],
        node: str | None = None,
        extra_ann: Obj | None = None,
        volumes: list[Obj] | None = None,
    ) -> None:
        template = copy.deepcopy(owner["spec"].get("template") or {})
        tmeta = template.get("metadata") or {}
        labels = dict(tmeta.get("labels") or {}, **extra_labels)
        annotations = dict(tmeta.get("annotations") or {})
        condition = self._workload_annotation(owner, NEW_POD_CONDITION)
        if condition:
            annotations[CONDITION] = condition
        annotations.update(extra_ann or {})
        meta: Obj = {
            "name": name,
            "namespace": owner["metadata"]["namespace"],
            "labels": labels,
            "ownerReferences": [owner_ref(owner)],
            "generateName": name.rsplit("-", 1)[0] + "-",
        }
        if owner["kind"] == "StatefulSet":
            meta.pop("generateName")
        if annotations:
            meta["annotations"] = annotations
        spec = template.get("spec") or {}
        if node:
            spec["nodeName"] = node
        if volumes:
            claimed = {v["name"] for v in volumes}
            spec["volumes"] = [v for v in spec.get("volumes") or [] if v.get("name") not in claimed] + volumes
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }
        pod["metadata"]["generation"] = 1
        self.store.create("/pods", pod)
        kind = owner["kind"]
        self.event(
            owner,
            "SuccessfulCreate",
            f"create Pod {name} in StatefulSet {owner['metadata']['name']} successful"
            if kind == "StatefulSet"
            else f"Created pod: {name}",
            component=COMPONENTS.get(kind, "replicaset-controller"),
        )

    def _delete_pod(self, owner: Obj, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        self.event(
            pod,
            "Killing",
            f"Stopping container {', '.join(c['name'] for c in pod['spec']['containers'])}",
            component="kubelet",
        )
        self.store.delete("/pods", pod["metadata"]["namespace"], name)
        if owner["kind"] == "StatefulSet":
            self.event(
                owner,
                "SuccessfulDelete",
                f"delete Pod {name} in StatefulSet {owner['metadata']['name']} successful",
                component="statefulset-controller",
            )
        else:
            self.event(
                owner,
                "SuccessfulDelete",
                f"Deleted pod: {name}",
                component=COMPONENTS.get(owner["kind"], "replicaset-controller"),
            )

    # ------------------------------------------------------------------------------------------ reconcile
    def reconcile(self) -> None:
        """One pass over everything."""
        with self.store.lock:
            self._defaults()
            self._namespaces()
            self._deployments()
            self._replicasets()
            self._statefulsets()
            self._claims()
            self._volumes()
            self._daemonsets()
            self._revisions()
            self._cronjobs()
            self._jobs()
            self._kubelet()
            self._replicaset_status()
            self._deployment_status()
            self._statefulset_status()
            self._daemonset_status()
            self._job_status()
            self._finished_job_ttl()
            self._foreground_deletions()
            self._endpoints()
            self._autoscalers()
            self._garbage()
        if self.hooks_enabled:
            self._run_hooks()
        else:
            self._pending_hooks.clear()

    def _namespaces(self) -> None:
        for (_, ns), obj in list(self.store.objects["/namespaces"].items()):
            if obj["metadata"].get("deletionTimestamp"):
                self._terminate_namespace(obj)
                continue
            if self.store.peek("/serviceaccounts", ns, "default") is None:
                self.store.create(
                    "/serviceaccounts",
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}},
                )

    def _terminate_namespace(self, ns_obj: Obj) -> None:
        """The namespace controller: empty a Terminating namespace, then finalize and remove it.

        Every object in the namespace is deleted (one with finalizers of its own gets a
        ``deletionTimestamp`` and stays until they are removed); the status conditions say what
        remains, as the namespace controller's do. Once it is empty the ``kubernetes`` finalizer is
        removed from ``spec.finalizers`` and, with no ``metadata.finalizers`` left, the namespace goes.
        """
        name = ns_obj["metadata"]["name"]
        now = now_rfc3339()
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        for storage, objs in list(self.store.objects.items()):
            if storage == "/namespaces":
                continue
            for (obj_ns, obj_name), obj in list(objs.items()):
                if obj_ns != name:
                    continue
                held = obj["metadata"].get("finalizers") or []
                if not held:
                    self.store.delete(storage, obj_ns, obj_name)
                    continue
                res = by_storage(storage)
                group_resource = f"{res.plural}.{res.group}"  # "pods." for the core group, as the controller says
                remaining[group_resource] = remaining.get(group_resource, 0) + 1
                for finalizer in held:
                    finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
                if not obj["metadata"].get("deletionTimestamp"):
                    marked = copy.deepcopy(obj)
                    marked["metadata"]["deletionTimestamp"] = now
                    marked["metadata"]["deletionGracePeriodSeconds"] = 0
                    self.store.replace(storage, marked)
        spec_finalizers = (ns_obj.get("spec") or {}).get("finalizers") or []
        if not remaining:
            if ns_obj["metadata"].get("finalizers"):
                return  # someone else's finalizer: the namespace stays Terminating until it is removed
            self.store.delete("/namespaces", "", name)
            return
        if "kubernetes" not in spec_finalizers and not ns_obj["metadata"].get("finalizers"):
            self.store.delete("/namespaces", "", name)  # finalized by hand (PUT .../finalize) with content left
            return
        old_conditions = {c.get("type"): c for c in (ns_obj.get("status") or {}).get("conditions") or []}

        def cond(ctype: str, failing: bool, reason: str, message: str = "") -> Obj:
            status = "True" if failing else "False"
            before = old_conditions.get(ctype) or {}
            since = before.get("lastTransitionTime", now) if before.get("status") == status else now
            out = {"type": ctype, "status": status, "reason": reason, "lastTransitionTime": since}
            if message:
                out["message"] = message
            return out

        listing = ", ".join(f"{gr} has {n} resource instances" for gr, n in sorted(remaining.items()))
        held_by = ", ".join(f"{f} in {n} resource instances" for f, n in sorted(finalizers.items()))
        conditions = [
            cond("NamespaceDeletionDiscoveryFailure", False, "ResourcesDiscovered",
                 "All resources successfully discovered"),
            cond("NamespaceDeletionGroupVersionParsingFailure", False, "ParsedGroupVersions",
                 "All legacy kube types successfully parsed"),
            cond("NamespaceDeletionContentFailure", False, "ContentDeleted",
                 "All content successfully deleted, may be waiting on finalization"),
            cond("NamespaceContentRemaining", True, "SomeResourcesRemain",
                 f"Some resources are remaining: {listing}"),
            cond("NamespaceFinalizersRemaining", True, "SomeFinalizersRemain",
                 f"Some content in the namespace has finalizers remaining: {held_by}"),
        ]  # fmt: skip
        updated = copy.deepcopy(ns_obj)
        updated["status"] = {"phase": "Terminating", "conditions": conditions}
        self._write("/namespaces", ns_obj, updated)

    def _deployments(self) -> None:
        for (ns, _), dep in list(self.store.objects["apps/deployments"].items()):
            if dep["metadata"].get("deletionTimestamp"):
                continue
            spec = dep["spec"]
            desired = int(spec.get("replicas", 1))
            uid = dep["metadata"]["uid"]
            rs_all = [
                rs for (rns, _), rs in self.store.objects["apps/replicasets"].items() if rns == ns and owned_by(rs, uid)
            ]
            phash = template_hash(spec["template"])
            new_rs = next(
                (rs for rs in rs_all if (rs["metadata"].get("labels") or {}).get("pod-template-hash") == phash), None
            )
            max_rev = max(
                (int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")) for rs in rs_all), default=0
            )
            if spec.get("paused"):
                continue
            if new_rs is None:
                template = copy.deepcopy(spec["template"])
                template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = phash
                selector = copy.deepcopy(spec["selector"])
                selector.setdefault("matchLabels", {})["pod-template-hash"] = phash
                name = f"{dep['metadata']['name']}-{phash}"
                rs = {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "labels": dict(template["metadata"]["labels"]),
                        "annotations": {
                            REVISION: str(max_rev + 1),
                            "deployment.kubernetes.io/desired-replicas": str(desired),
                            "deployment.kubernetes.io/max-replicas": str(desired + 1),
                        },
                        "ownerReferences": [owner_ref(dep)],
                        "generation": 1,
                    },
                    "spec": {
                        "replicas": 0,
                        "minReadySeconds": spec.get("minReadySeconds", 0),
                        "selector": selector,
                        "template": template,
                    },
                    "status": {"replicas": 0},
                }
                new_rs = self.store.create("apps/replicasets", rs)
                rs_all.append(new_rs)
                max_rev += 1
            else:
                rev = int((new_rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
                if rev < max_rev:
                    updated = copy.deepcopy(new_rs)
                    updated["metadata"].setdefault("annotations", {})[REVISION] = str(max_rev + 1)
                    new_rs = self._write("apps/replicasets", new_rs, updated)
                    max_rev += 1
            new_name = new_rs["metadata"]["name"]
            new_ready = self._ready_count(new_rs)
            recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
            for rs in rs_all:
                if rs["metadata"]["name"] == new_name:
                    want = desired
                    if recreate and any(self._pod_count(o) for o in rs_all if o is not rs):
                        want = 0
                else:
                    current = int(rs["spec"].get("replicas", 0))
                    want = 0 if (recreate or new_ready >= desired) else min(current, desired)
                if int(rs["spec"].get("replicas", 0)) != want:
                    old = int(rs["spec"].get("replicas", 0))
                    updated = copy.deepcopy(rs)
                    updated["spec"]["replicas"] = want
                    updated["metadata"]["generation"] = rs["metadata"].get("generation", 1) + 1
                    ann = updated["metadata"].setdefault("annotations", {})
                    ann["deployment.kubernetes.io/desired-replicas"] = str(desired)
                    self.store.replace("apps/replicasets", updated)
                    verb = "up" if want > old else "down"
                    self.event(
                        dep,
                        "ScalingReplicaSet",
                        f"Scaled {verb} replica set {rs['metadata']['name']} from {old} to {want}",
                        component="deployment-controller",
                    )
            ann = dep["metadata"].get("annotations") or {}
            if ann.get(REVISION) != str(max_rev):
                updated = copy.deepcopy(dep)
                updated["metadata"].setdefault("annotations", {})[REVISION] = str(max_rev)
                self.store.replace("apps/deployments", updated)
            self._prune_history(dep, rs_all, new_name)

    def _prune_history(self, dep: Obj, rs_all: list[Obj], new_name: str) -> None:
        limit = int(dep["spec"].get("revisionHistoryLimit", 10))
        old = [
            rs
            for rs in rs_all
            if rs["metadata"]["name"] != new_name
            and int(rs["spec"].get("replicas", 0)) == 0
            and self._pod_count(rs) == 0
        ]
        old.sort(key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")))
        for rs in old[: max(0, len(old) - limit)]:
            self.store.delete("apps/replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])

    def _owned_pods(self, owner: Obj) -> list[Obj]:
        ns, uid = owner["metadata"]["namespace"], owner["metadata"]["uid"]
        return [p for (pns, _), p in self.store.objects["/pods"].items() if pns == ns and owned_by(p, uid)]

    def _pod_count(self, owner: Obj) -> int:
        return len(self._owned_pods(owner))

    def _ready_count(self, owner: Obj) -> int:
        return sum(1 for p in self._owned_pods(owner) if pod_ready(p))

    def _replicasets(self) -> None:
        for (_ns, _), rs in list(self.store.objects["apps/replicasets"].items()):
            pods = self._owned_pods(rs)
            want = int(rs["spec"].get("replicas", 0))
            labels = {"pod-template-hash": (rs["metadata"].get("labels") or {}).get("pod-template-hash", "")}
            labels = {k: v for k, v in labels.items() if v}
            for _ in range(want - len(pods)):
                name = f"{rs['metadata']['name']}-{random_suffix()}"
                while self.store.peek("/pods", rs["metadata"]["namespace"], name) is not None:
                    name = f"{rs['metadata']['name']}-{random_suffix()}"
                self._new_pod(rs, name, labels)
            if len(pods) > want:
                pods.sort(key=lambda p: (pod_ready(p), p["metadata"]["creationTimestamp"]))
                for pod in pods[: len(pods) - want]:
                    self._delete_pod(rs, pod)

    def _statefulsets(self) -> None:
        for (_ns, _), sts in list(self.store.objects["apps/statefulsets"].items()):
            if sts["metadata"].get("deletionTimestamp"):
                continue
            name = sts["metadata"]["name"]
            want = int(sts["spec"].get("replicas", 1))
            revision = f"{name}-{template_hash(sts['spec']['template'])}"
            pods = {p["metadata"]["name"]: p for p in self._owned_pods(sts)}
            strategy = sts["spec"].get("updateStrategy") or {}
            partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
            # OrderedReady (the default): one pod at a time, in ordinal order, each once the ones before
            # it are Running and Ready; scale-down from the highest ordinal, one at a time. Parallel: all at once.
            ordered = sts["spec"].get("podManagementPolicy", "OrderedReady") != "Parallel"
            # a RollingUpdate with a partition keeps (and re-creates) the ordinals below it at the
            # current revision; OnDelete re-creates deleted pods at the update revision
            kept = self._revision_owner(sts) if strategy.get("type") != "OnDelete" and partition else None
            waiting = False
            for ordinal in range(want):
                pod_name = f"{name}-{ordinal}"
                pod = pods.get(pod_name) or self.store.peek("/pods", sts["metadata"]["namespace"], pod_name)
                if pod is None:
                    source = kept if kept is not None and ordinal < partition else sts
                    claims = self._claims_for(sts, ordinal)
                    self._new_pod(
                        source,
                        pod_name,
                        {
                            "controller-revision-hash": f"{name}-{template_hash(source['spec']['template'])}",
                            "statefulset.kubernetes.io/pod-name": pod_name,
                            "apps.kubernetes.io/pod-index": str(ordinal),
                        },
                        volumes=claims,
                    )
                    if ordered:
                        waiting = True
                        break
                elif ordered and not pod_ready(pod):
                    waiting = True
                    break
            condemned = sorted(
                (p for n, p in pods.items() if not n.rsplit("-", 1)[-1].isdigit() or int(n.rsplit("-", 1)[-1]) >= want),
                key=lambda p: _ordinal(p),
                reverse=True,
            )
            if ordered and condemned:
                # the highest ordinal first, one at a time, only while the pods kept are Running and Ready
                # (an unready condemned pod goes only when it is the first unhealthy one)
                top, lower = condemned[0], condemned[1:]
                first_unhealthy = not any(not pod_ready(p) for p in lower)
                condemned = [top] if not waiting and (pod_ready(top) or first_unhealthy) else []
            for pod in condemned:
                self._retain_or_release_claims(sts, pod)
                self._delete_pod(sts, pod)
            current = [p for n, p in pods.items() if n.rsplit("-", 1)[-1].isdigit() and _ordinal(p) < want]
            stale = [
                p
                for p in current
                if (p["metadata"].get("labels") or {}).get("controller-revision-hash") != revision
                and _ordinal(p) >= partition
            ]
            if strategy.get("type") == "OnDelete" or (ordered and (waiting or condemned)):
                continue
            if stale and all(pod_ready(p) for p in current):
                stale.sort(key=_ordinal, reverse=True)
                self._delete_pod(sts, stale[0])

    def _claims_for(self, sts: Obj, ordinal: int) -> list[Obj]:
        """PersistentVolumeClaims ``<template>-<sts>-<ordinal>`` of the volumeClaimTemplates (created if missing).

        The claims carry the template's labels and the StatefulSet's selector labels; they outlive the pod
        (persistentVolumeClaimRetentionPolicy whenDeleted/whenScaled default Retain). With whenDeleted:
        Delete the StatefulSet owns them, so the garbage collector removes them with it.
        """
        meta = sts["metadata"]
        ns, name = meta["namespace"], meta["name"]
        policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
        volumes = []
        for template in sts["spec"].get("volumeClaimTemplates") or []:
            tname = (template.get("metadata") or {}).get("name")
            if not tname:
                continue
            claim_name = f"{tname}-{name}-{ordinal}"
            volumes.append({"name": tname, "persistentVolumeClaim": {"claimName": claim_name}})
            if self.store.peek("/persistentvolumeclaims", ns, claim_name) is not None:
                continue
            tmeta = template.get("metadata") or {}
            labels = dict(tmeta.get("labels") or {}, **((sts["spec"].get("selector") or {}).get("matchLabels") or {}))
            claim: Obj = {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim_name, "namespace": ns, "labels": labels},
                "spec": copy.deepcopy(template.get("spec") or {}),
                "status": {"phase": "Pending"},
            }
            if tmeta.get("annotations"):
                claim["metadata"]["annotations"] = dict(tmeta["annotations"])
            if policy.get("whenDeleted") == "Delete":
                claim["metadata"]["ownerReferences"] = [dict(owner_ref(sts), blockOwnerDeletion=True)]
            default_claim_spec(claim["spec"], self.store)
            self.store.create("/persistentvolumeclaims", claim)
            self.event(
                sts,
                "SuccessfulCreate",
                f"create Claim {claim_name} Pod {name}-{ordinal} in StatefulSet {name} success",
                component="statefulset-controller",
            )
        return volumes

    def _retain_or_release_claims(self, sts: Obj, pod: Obj) -> None:
        """whenScaled: Delete: a condemned pod's claims become the pod's, so they go with it."""
        policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
        if policy.get("whenScaled") != "Delete" or pod["metadata"].get("deletionTimestamp"):
            return
        ns = sts["metadata"]["namespace"]
        for template in sts["spec"].get("volumeClaimTemplates") or []:
            claim_name = f"{(template.get('metadata') or {}).get('name')}-{pod['metadata']['name']}"
            claim = self.store.peek("/persistentvolumeclaims", ns, claim_name)
            if claim is None:
                continue
            owned = copy.deepcopy(claim)
            owned["metadata"]["ownerReferences"] = [
                r for r in claim["metadata"].get("ownerReferences") or [] if r.get("uid") != sts["metadata"]["uid"]
            ] + [dict(owner_ref(pod), controller=False, blockOwnerDeletion=True)]
            self.store.replace("/persistentvolumeclaims", owned)

    def _claims(self) -> None:
        """The volume binder and a default dynamic provisioner: a Pending claim is Bound to a new volume."""
        for (ns, name), claim in list(self.store.objects["/persistentvolumeclaims"].items()):
            if claim["metadata"].get("deletionTimestamp"):
                # pvc-protection: the finalizer goes once no pod uses the claim
                in_use = any(
                    (v.get("persistentVolumeClaim") or {}).get("claimName") == name
                    for (pns, _), pod in self.store.objects["/pods"].items()
                    if pns == ns
                    for v in (pod.get("spec") or {}).get("volumes") or []
                )
                held = claim["metadata"].get("finalizers") or []
                if not in_use and "kubernetes.io/pvc-protection" in held:
                    rest = [f for f in held if f != "kubernetes.io/pvc-protection"]
                    if rest:
                        kept = copy.deepcopy(claim)
                        kept["metadata"]["finalizers"] = rest
                        self.store.replace("/persistentvolumeclaims", kept)
                    else:
                        self.store.delete("/persistentvolumeclaims", ns, name)
                continue
            if (claim.get("status") or {}).get("phase") == "Bound":
                continue
            spec = claim.get("spec") or {}
            klass = self.store.peek("storage.k8s.io/storageclasses", "", spec.get("storageClassName") or "")
            if klass is None or klass.get("provisioner") != PROVISIONER:
                continue  # no provisioner for the claim's class: it stays Pending, as on a cluster
            node = None
            if klass.get("volumeBindingMode") == "WaitForFirstConsumer":
                node = next(
                    (
                        pod["spec"]["nodeName"]
                        for (pns, _), pod in self.store.objects["/pods"].items()
                        if pns == ns
                        and (pod.get("spec") or {}).get("nodeName")
                        and any(
                            (v.get("persistentVolumeClaim") or {}).get("claimName") == name
                            for v in pod["spec"].get("volumes") or []
                        )
                    ),
                    None,
                )
                if node is None:
                    self._note(claim, "WaitForFirstConsumer",
                               "waiting for first consumer to be created before binding", "Normal",
                               "persistentvolume-controller")  # fmt: skip
                    continue
            bound = copy.deepcopy(claim)
            volume = spec.get("volumeName") or f"pvc-{claim['metadata']['uid']}"
            bound["spec"]["volumeName"] = volume
            annotations = bound["metadata"].setdefault("annotations", {})
            annotations.setdefault("pv.kubernetes.io/bind-completed", "yes")
            annotations.setdefault("pv.kubernetes.io/bound-by-controller", "yes")
            annotations.setdefault("volume.beta.kubernetes.io/storage-provisioner", PROVISIONER)
            annotations.setdefault("volume.kubernetes.io/storage-provisioner", PROVISIONER)
            if node:
                annotations.setdefault("volume.kubernetes.io/selected-node", node)
            bound["metadata"]["finalizers"] = list(
                dict.fromkeys((claim["metadata"].get("finalizers") or []) + ["kubernetes.io/pvc-protection"])
            )
            bound["status"] = {
                "phase": "Bound",
                "accessModes": list(spec.get("accessModes") or []),
                "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")},
            }
            if self.store.peek("/persistentvolumes", "", volume) is None:
                self.store.create("/persistentvolumes", self._volume_for(bound, klass, node or NODE_NAME))
            self.store.replace("/persistentvolumeclaims", bound)
            self.event(
                claim,
                "ProvisioningSucceeded",
                f"Successfully provisioned volume {volume}",
                component=PROVISIONER,
            )

    def _volume_for(self, claim: Obj, klass: Obj, node: str) -> Obj:
        """The PersistentVolume the local-path provisioner makes for a claim (bound to it, on ``node``)."""
        meta, spec = claim["metadata"], claim["spec"]
        name, ns = spec["volumeName"], meta["namespace"]
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": name,
                "annotations": {
                    "local.path.provisioner/selected-node": node,
                    "pv.kubernetes.io/provisioned-by": PROVISIONER,
                },
                "finalizers": [PV_PROTECTION],
            },
            "spec": {
                "accessModes": list(spec.get("accessModes") or []),
                "capacity": dict(claim["status"]["capacity"]),
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "name": meta["name"],
                    "namespace": ns,
                    "uid": meta["uid"],
                    "resourceVersion": meta.get("resourceVersion"),
                },
                "hostPath": {
                    "path": f"/var/local-path-provisioner/{name}_{ns}_{meta['name']}",
                    "type": "DirectoryOrCreate",
                },
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
                                ]
                            }
                        ]
                    }
                },
                "persistentVolumeReclaimPolicy": klass.get("reclaimPolicy", "Delete"),
                "storageClassName": klass["metadata"]["name"],
                "volumeMode": spec.get("volumeMode", "Filesystem"),
            },
            "status": {"phase": "Bound", "lastPhaseTransitionTime": now_rfc3339()},
        }

    def _volumes(self) -> None:
        """PersistentVolumes whose claim is gone: Released, then deleted (reclaimPolicy Delete) or kept (Retain).

        ``kubernetes.io/pv-protection`` keeps a deleted volume while it is Bound to a claim.
        """
        for (_, name), pv in list(self.store.objects["/persistentvolumes"].items()):
            ref = (pv.get("spec") or {}).get("claimRef") or {}
            claim = self.store.peek("/persistentvolumeclaims", ref.get("namespace", ""), ref.get("name", ""))
            claimed = claim is not None and claim["metadata"].get("uid") == ref.get("uid")
            phase = (pv.get("status") or {}).get("phase")
            if pv["metadata"].get("deletionTimestamp") and not claimed:
                rest = [f for f in pv["metadata"].get("finalizers") or [] if f != PV_PROTECTION]
                if rest:
                    kept = copy.deepcopy(pv)
                    kept["metadata"]["finalizers"] = rest
                    self._write("/persistentvolumes", pv, kept)
                else:
                    self.store.delete("/persistentvolumes", "", name)
                continue
            if claimed or not ref or phase not in ("Bound", "Released"):
                continue
            if pv["spec"].get("persistentVolumeReclaimPolicy", "Retain") == "Delete":
                self.store.delete("/persistentvolumes", "", name)  # the provisioner deletes the volume
                continue
            if phase != "Released":
                released = copy.deepcopy(pv)
                released["status"] = {"phase": "Released", "lastPhaseTransitionTime": now_rfc3339()}
                self.store.replace("/persistentvolumes", released)

    def boot(self) -> None:
        """Make the cluster's default objects now (kubesim start, reset), as a new kind cluster has them."""
        self._booted = False
        self._defaults()

    def _defaults(self) -> None:
        """What a kind cluster is created with: the default StorageClass ``standard`` (local-path provisioner)."""
        if self._booted:
            return
        self._booted = True
        if self.store.peek("storage.k8s.io/storageclasses", "", DEFAULT_STORAGE_CLASS) is None:
            self.store.create(
                "storage.k8s.io/storageclasses",
                {
                    "apiVersion": "storage.k8s.io/v1",
                    "kind": "StorageClass",
                    "metadata": {"name": DEFAULT_STORAGE_CLASS, "annotations": {IS_DEFAULT_CLASS: "true"}},
                    "provisioner": PROVISIONER,
                    "reclaimPolicy": "Delete",
                    "volumeBindingMode": "WaitForFirstConsumer",
                },
            )

    def _revision_owner(self, sts: Obj) -> Obj | None:
        """The StatefulSet as of its status.currentRevision (its template from that ControllerRevision)."""
        current = (sts.get("status") or {}).get("currentRevision")
        cr = self.store.peek("apps/controllerrevisions", sts["metadata"]["namespace"], current) if current else None
        template = copy.deepcopy(((cr or {}).get("data") or {}).get("spec", {}).get("template"))
        if not isinstance(template, dict):
            return None
        template.pop("$patch", None)
        return dict(sts, spec=dict(sts["spec"], template=template))

    def _kubelet(self) -> None:
        now = time.time()
        node = self.store.peek("/nodes", "", NODE_NAME)
        if node is None or (node.get("spec") or {}).get("unschedulable"):
            # the scheduler: kubesim-node-1 first, else any other schedulable node
            node = next(
                (
                    n
                    for _, n in sorted(self.store.objects["/nodes"].items())
                    if not (n.get("spec") or {}).get("unschedulable")
                ),
                node,
            )
        target = node["metadata"]["name"] if node else NODE_NAME
        node_ip = "127.0.0.1"
        if node:
            for addr in node.get("status", {}).get("addresses") or []:
                if addr.get("type") == "InternalIP":
                    node_ip = addr.get("address", node_ip)
        for (_ns, _), pod in list(self.store.objects["/pods"].items()):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            new = copy.deepcopy(pod)
            spec = new.setdefault("spec", {})
            first_start = not pod.get("status", {}).get("startTime")
            if not spec.get("nodeName"):
                if node is None or (node.get("spec") or {}).get("unschedulable"):
                    self._unschedulable(pod)
                    continue
                spec["nodeName"] = target
                self.event(
                    pod,
                    "Scheduled",
                    f"Successfully assigned {pod['metadata']['namespace']}/{pod['metadata']['name']} to {target}",
                    component="default-scheduler",
                )
            status = new.setdefault("status", {})
            if not status.get("podIP"):
                n = self.store.next_counter("pod-ip")
                status["podIP"] = f"10.244.{(n // 250) % 250}.{n % 250 + 2}"
                status["podIPs"] = [{"ip": status["podIP"]}]
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue  # terminated pods stay as they ended
            new["status"] = render_pod_status(new, now, node_ip)
            _maybe_terminate(new, now)
            was_ready = pod_ready(pod)
            if new != pod:
                self.store.replace("/pods", new)
            if first_start:
                for container in spec.get("containers") or []:
                    cname, image = container.get("name"), container.get("image")
                    self.event(
                        new, "Pulled", f'Container image "{image}" already present on machine', component="kubelet"
                    )
                    self.event(new, "Created", f"Created container: {cname}", component="kubelet")
                    self.event(new, "Started", f"Started container {cname}", component="kubelet")
                self._queue_hooks("pod-started", new)
            restarts_before = sum(
                cs.get("restartCount", 0) for cs in pod.get("status", {}).get("containerStatuses") or []
            )
            restarts_after = sum(cs.get("restartCount", 0) for cs in new["status"]["containerStatuses"])
            if restarts_after > restarts_before:
                cond = pod_condition(new)
                for cs in new["status"]["containerStatuses"]:
                    if cond == "OOMKilled":
                        self.event(
                            new,
                            "OOMKilling",
                            f"Memory cgroup out of memory: Killed process (container {cs['name']})",
                            "Warning",
                            component="kubelet",
                        )
                    self.event(
                        new,
                        "BackOff",
                        f"Back-off restarting failed container {cs['name']} in pod {new['metadata']['name']}",
                        "Warning",
                        component="kubelet",
                    )
            if was_ready and not pod_ready(new) and pod_condition(new) == "NotReady":
                self.event(
                    new,
                    "Unhealthy",
                    "Readiness probe failed: HTTP probe failed with statuscode: 503",
                    "Warning",
                    component="kubelet",
                )

    def _unschedulable(self, pod: Obj) -> None:
        """Leave the pod Pending with PodScheduled=False (the only node is cordoned or missing)."""
        message = "0/1 nodes are available: 1 node(s) were unschedulable."
        conds = (pod.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conds):
            return
        new = copy.deepcopy(pod)
        new["status"] = {
            "phase": "Pending",
            "qosClass": qos_class(pod),
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                    "lastProbeTime": None,
                    "lastTransitionTime": now_rfc3339(),
                }
            ],
        }
        self.store.replace("/pods", new)
        self.event(pod, "FailedScheduling", message, "Warning", component="default-scheduler")

    def _replicaset_status(self) -> None:
        for (_ns, _), rs in list(self.store.objects["apps/replicasets"].items()):
            pods = self._owned_pods(rs)
            ready = sum(1 for p in pods if pod_ready(p))
            status = {
                "replicas": len(pods),
                "fullyLabeledReplicas": len(pods),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "observedGeneration": rs["metadata"].get("generation", 1),
            }
            status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
            if rs.get("status") != status:
                new = copy.deepcopy(rs)
                new["status"] = status
                self.store.replace("apps/replicasets", new)

    def _deployment_status(self) -> None:
        now = now_rfc3339()
        for (ns, _), dep in list(self.store.objects["apps/deployments"].items()):
            uid = dep["metadata"]["uid"]
            rs_all = [
                rs for (rns, _), rs in self.store.objects["apps/replicasets"].items() if rns == ns and owned_by(rs, uid)
            ]
            phash = template_hash(dep["spec"]["template"])
            new_rs = next(
                (rs for rs in rs_all if (rs["metadata"].get("labels") or {}).get("pod-template-hash") == phash), None
            )
            desired = int(dep["spec"].get("replicas", 1))
            total = sum(self._pod_count(rs) for rs in rs_all)
            updated = self._pod_count(new_rs) if new_rs else 0
            ready = sum(self._ready_count(rs) for rs in rs_all)
            spec_total = sum(int(rs["spec"].get("replicas", 0)) for rs in rs_all)
            unavailable = max(spec_total - ready, 0)
            max_unavailable = _percent(
                ((dep["spec"].get("strategy") or {}).get("rollingUpdate") or {}).get("maxUnavailable", "25%"), desired
            )
            complete = updated == desired and total == desired and ready >= desired
            old = {c.get("type"): c for c in (dep.get("status") or {}).get("conditions") or []}

            def cond(ctype: str, ok: bool, reason: str, message: str, old: dict[str, Obj] = old) -> Obj:
                status = "True" if ok else "False"
                prev = old.get(ctype) or {}
                same = prev.get("status") == status
                changed_reason = prev.get("reason") != reason
                return {
                    "type": ctype,
                    "status": status,
                    "lastUpdateTime": prev.get("lastUpdateTime") if same and not changed_reason else now,
                    "lastTransitionTime": prev.get("lastTransitionTime") if same and prev else now,
                    "reason": reason,
                    "message": message,
                }

            available_ok = ready >= desired - max_unavailable
            available = cond(
                "Available",
                available_ok,
                "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available_ok
                else "Deployment does not have minimum availability.",
            )
            rs_name = new_rs["metadata"]["name"] if new_rs else dep["metadata"]["name"]
            if complete:
                progressing = cond(
                    "Progressing",
                    True,
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                )
            else:
                progressing = cond("Progressing", True, "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
                prev = old.get("Progressing") or {}
                started = parse_time(progressing["lastUpdateTime"])
                deadline = int(dep["spec"].get("progressDeadlineSeconds", 600))
                if prev.get("reason") == "ProgressDeadlineExceeded" or (
                    started and time.time() - started.timestamp() > deadline
                ):
                    progressing = cond(
                        "Progressing",
                        False,
                        "ProgressDeadlineExceeded",
                        f'ReplicaSet "{rs_name}" has timed out progressing.',
                    )
            status: Obj = {
                "observedGeneration": dep["metadata"].get("generation", 1),
                "replicas": total,
                "updatedReplicas": updated,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "unavailableReplicas": unavailable,
                "conditions": [available, progressing],
            }
            status = {k: v for k, v in status.items() if v or k in ("observedGeneration", "conditions")}
            if dep.get("status") != status:
                new = copy.deepcopy(dep)
                new["status"] = status
                self.store.replace("apps/deployments", new)

    def _statefulset_status(self) -> None:
        for (_ns, _), sts in list(self.store.objects["apps/statefulsets"].items()):
            revision = f"{sts['metadata']['name']}-{template_hash(sts['spec']['template'])}"
            pods = self._owned_pods(sts)
            ready = sum(1 for p in pods if pod_ready(p))
            updated = sum(
                1 for p in pods if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == revision
            )
            old = sts.get("status") or {}
            current_rev = old.get("currentRevision") or revision
            if updated == len(pods) == int(sts["spec"].get("replicas", 1)):
                current_rev = revision
            status = {
                "observedGeneration": sts["metadata"].get("generation", 1),
                "replicas": len(pods),
                "readyReplicas": ready,
                "currentReplicas": len(pods) - updated if current_rev != revision else len(pods),
                "updatedReplicas": updated,
                "availableReplicas": ready,
                "currentRevision": current_rev,
                "updateRevision": revision,
                "collisionCount": 0,
            }
            if old != status:
                new = copy.deepcopy(sts)
                new["status"] = status
                self.store.replace("apps/statefulsets", new)

    # ------------------------------------------------------------------------------------------ history
    def _revisions(self) -> None:
        """ControllerRevisions of DaemonSets and StatefulSets (what ``kubectl rollout history|undo`` read)."""
        for storage in ("apps/daemonsets", "apps/statefulsets"):
            for (ns, _), owner in list(self.store.objects[storage].items()):
                if owner["metadata"].get("deletionTimestamp"):
                    continue
                template = owner["spec"].get("template") or {}
                name = f"{owner['metadata']['name']}-{template_hash(template)}"
                uid = owner["metadata"]["uid"]
                mine = [
                    cr
                    for (cns, _), cr in self.store.objects["apps/controllerrevisions"].items()
                    if cns == ns and owned_by(cr, uid)
                ]
                top = max((int(cr.get("revision", 0)) for cr in mine), default=0)
                current = next((cr for cr in mine if cr["metadata"]["name"] == name), None)
                if current is None:
                    labels = dict((template.get("metadata") or {}).get("labels") or {})
                    key = (
                        "controller-revision-hash" if owner["kind"] == "DaemonSet" else "controller.kubernetes.io/hash"
                    )
                    labels[key] = template_hash(template)
                    data_template = copy.deepcopy(template)
                    data_template["$patch"] = "replace"
                    self.store.create(
                        "apps/controllerrevisions",
                        {
                            "apiVersion": "apps/v1",
                            "kind": "ControllerRevision",
                            "metadata": {
                                "name": name,
                                "namespace": ns,
                                "labels": labels,
                                "ownerReferences": [owner_ref(owner)],
                            },
                            "data": {"spec": {"template": data_template}},
                            "revision": top + 1,
                        },
                    )
                    mine = [*mine, {"metadata": {"name": name}, "revision": top + 1}]
                elif int(current.get("revision", 0)) < top:  # rolled back to an older template
                    bumped = copy.deepcopy(current)
                    bumped["revision"] = top + 1
                    self.store.replace("apps/controllerrevisions", bumped)
                limit = int(owner["spec"].get("revisionHistoryLimit", 10))
                old = sorted((cr for cr in mine if cr["metadata"]["name"] != name), key=lambda cr: int(cr["revision"]))
                for cr in old[: max(0, len(old) - limit)]:
                    self.store.delete("apps/controllerrevisions", ns, cr["metadata"]["name"])

    # ------------------------------------------------------------------------------------------ DaemonSet
    def _nodes_for(self, ds: Obj) -> list[str]:
        """Nodes a DaemonSet's pods belong on: every node matching the template's nodeSelector."""
        selector = ((ds["spec"].get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
        out = []
        for (_, name), node in sorted(self.store.objects["/nodes"].items()):
            labels = node["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in selector.items()):
                out.append(name)
        return out

    def _daemonsets(self) -> None:
        for (_ns, _), ds in list(self.store.objects["apps/daemonsets"].items()):
            if ds["metadata"].get("deletionTimestamp"):
                continue
            revision = template_hash(ds["spec"].get("template") or {})
            wanted = self._nodes_for(ds)
            by_node: dict[str, Obj] = {}
            for pod in sorted(self._owned_pods(ds), key=lambda p: p["metadata"]["creationTimestamp"]):
                node = (pod.get("spec") or {}).get("nodeName")
                if node not in wanted or node in by_node:
                    self._delete_pod(ds, pod)
                else:
                    by_node[node] = pod
            generation = str(ds["metadata"].get("generation", 1))
            for node in wanted:
                if node in by_node:
                    continue
                name = f"{ds['metadata']['name']}-{random_suffix()}"
                labels = {"controller-revision-hash": revision, "pod-template-generation": generation}
                self._new_pod(ds, name, labels, node=node)
            strategy = ds["spec"].get("updateStrategy") or {}
            if strategy.get("type") == "OnDelete":
                continue
            max_unavailable = max(
                1, _percent((strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1), len(wanted))
            )
            stale = [
                p
                for p in by_node.values()
                if (p["metadata"].get("labels") or {}).get("controller-revision-hash") != revision
            ]
            unavailable = sum(1 for p in by_node.values() if not pod_ready(p))
            for pod in stale[: max(0, max_unavailable - unavailable)]:
                self._delete_pod(ds, pod)

    def _daemonset_status(self) -> None:
        for (_ns, _), ds in list(self.store.objects["apps/daemonsets"].items()):
            revision = template_hash(ds["spec"].get("template") or {})
            wanted = set(self._nodes_for(ds))
            pods = self._owned_pods(ds)
            scheduled = [p for p in pods if (p.get("spec") or {}).get("nodeName") in wanted]
            ready = sum(1 for p in scheduled if pod_ready(p))
            updated = sum(
                1 for p in scheduled if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == revision
            )
            status: Obj = {
                "currentNumberScheduled": len({p["spec"]["nodeName"] for p in scheduled}),
                "desiredNumberScheduled": len(wanted),
                "numberMisscheduled": len(pods) - len(scheduled),
                "numberReady": ready,
                "observedGeneration": ds["metadata"].get("generation", 1),
                "updatedNumberScheduled": updated,
                "numberAvailable": ready,
                "numberUnavailable": max(len(wanted) - ready, 0),
            }
            status = {
                k: v
                for k, v in status.items()
                if v or k not in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable")
            }
            if ds.get("status") != status:
                new = copy.deepcopy(ds)
                new["status"] = status
                self.store.replace("apps/daemonsets", new)

    # ------------------------------------------------------------------------------------------ Job
    def _jobs(self) -> None:
        """The Job controller's pod management: parallelism pods at a time until the completions are reached.

        Indexed Jobs run each index until it succeeds; with ``backoffLimitPerIndex`` an index whose failures
        exceed it (or a pod matching a FailIndex rule) is failed and not retried. A finished Job's remaining pods
        are terminated (a Job that met its successPolicy first gets SuccessCriteriaMet, then its pods go).
        """
        for (_ns, _), job in list(self.store.objects["batch/jobs"].items()):
            if job["metadata"].get("deletionTimestamp"):
                continue
            spec, status = job["spec"], job.get("status") or {}
            ended = _job_finished(job) or any(
                c.get("type") in ("FailureTarget", "SuccessCriteriaMet") and c.get("status") == "True"
                for c in status.get("conditions") or []
            )
            if ended:
                for pod in self._owned_pods(job):
                    if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                        self._delete_pod(job, pod)
                continue
            pods = self._owned_pods(job)
            seen = jobs.progress(job, pods)
            active = seen.active
            succeeded = max(seen.succeeded, int(status.get("succeeded", 0)))
            if spec.get("suspend"):
                for pod in active:
                    self._delete_pod(job, pod)
                continue
            completions = spec.get("completions")
            parallelism = int(spec.get("parallelism", 1))
            remaining = parallelism if completions is None else min(parallelism, int(completions) - succeeded)
            if completions is None and succeeded:
                remaining = 0  # a work-queue Job stops starting pods once one succeeds
            indexed = spec.get("completionMode") == "Indexed"
            free: list[int] = []
            if indexed:
                busy = {jobs.pod_index(p) for p in active} | seen.succeeded_indexes | seen.failed_indexes
                free = [i for i in range(int(completions or 0)) if i not in busy]
            for _ in range(max(0, remaining - len(active))):
                labels = {
                    "batch.kubernetes.io/controller-uid": job["metadata"]["uid"],
                    "controller-uid": job["metadata"]["uid"],
                }
                labels["batch.kubernetes.io/job-name"] = labels["job-name"] = job["metadata"]["name"]
                extra_ann: Obj = {}
                name = f"{job['metadata']['name']}-{random_suffix()}"
                if indexed:
                    if not free:
                        break
                    index = free.pop(0)
                    extra_ann[jobs.INDEX] = labels[jobs.INDEX] = str(index)
                    if spec.get("backoffLimitPerIndex") is not None:
                        extra_ann[jobs.INDEX_FAILURES] = str(seen.index_failures.get(index, 0))
                        if seen.index_ignored.get(index):
                            extra_ann[jobs.INDEX_IGNORED] = str(seen.index_ignored[index])
                    name = f"{job['metadata']['name']}-{index}-{random_suffix()}"
                self._new_pod(job, name, labels, extra_ann=extra_ann)

    def _job_status(self) -> None:
        """Job status and its terminal conditions, checked in the Job controller's order.

        A pod matching a FailJob rule of the podFailurePolicy, then the backoffLimit, activeDeadlineSeconds,
        maxFailedIndexes / failed indexes (backoffLimitPerIndex), then the successPolicy and the completions.
        Failure: FailureTarget, then (the pods terminated) Failed; success: SuccessCriteriaMet, then Complete.
        """
        now = now_rfc3339()
        for (_ns, _), job in list(self.store.objects["batch/jobs"].items()):
            spec = job["spec"]
            old = job.get("status") or {}
            pods = self._owned_pods(job)
            seen = jobs.progress(job, pods)
            succeeded = max(seen.succeeded, int(old.get("succeeded", 0)))
            failed = max(seen.failed, int(old.get("failed", 0)))
            active = seen.active
            status: Obj = {k: v for k, v in old.items() if k in ("startTime", "completionTime", "conditions")}
            conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Suspended"]
            finished = _job_finished(job)
            indexed = spec.get("completionMode") == "Indexed"
            completions = spec.get("completions")
            if spec.get("suspend") and not finished:
                conditions.append(_cond("Suspended", "JobSuspended", "Job suspended", now, old))
                status.pop("startTime", None)
            elif not finished:
                status.setdefault("startTime", now)
                held = {c.get("type"): c for c in conditions if c.get("status") == "True"}
                deadline = spec.get("activeDeadlineSeconds")
                started = parse_time(status["startTime"])
                running_for = (parse_time(now) - started).total_seconds() if started else 0  # type: ignore[operator]
                per_index = indexed and spec.get("backoffLimitPerIndex") is not None
                failure: tuple[str, str] | None = None
                success: tuple[str, str] | None = None
                if "FailureTarget" in held:
                    failure = (held["FailureTarget"].get("reason", ""), held["FailureTarget"].get("message", ""))
                elif "SuccessCriteriaMet" in held:
                    met = held["SuccessCriteriaMet"]
                    success = (met.get("reason", ""), met.get("message", ""))
                elif seen.fail_job:
                    failure = ("PodFailurePolicy", seen.fail_job)
                elif failed > int(spec.get("backoffLimit", 6)):
                    failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
                elif deadline is not None and running_for >= int(deadline):
                    failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
                elif (
                    per_index
                    and spec.get("maxFailedIndexes") is not None
                    and len(seen.failed_indexes) > int(spec["maxFailedIndexes"])
                ):
                    failure = ("MaxFailedIndexesExceeded",
                               "Job has exceeded the specified maximal number of failed indexes")  # fmt: skip
                elif (
                    per_index
                    and seen.failed_indexes
                    and len(seen.failed_indexes) + len(seen.succeeded_indexes) >= int(completions or 0)
                ):
                    failure = ("FailedIndexes", "Job has failed indexes")
                else:
                    rule = None
                    if indexed:
                        policy = spec.get("successPolicy")
                        rule = jobs.match_success_policy(policy, int(completions or 0), seen.succeeded_indexes)
                    if rule:
                        success = ("SuccessPolicy", rule)
                    elif (completions is not None and succeeded >= int(completions)) or (
                        completions is None and succeeded and not active
                    ):
                        success = ("CompletionsReached", "Reached expected number of succeeded pods")
                if failure is not None:
                    conditions = [c for c in conditions if c.get("type") != "FailureTarget"]
                    conditions.append(_cond("FailureTarget", *failure, now, old))
                    if not active:  # the Job's pods are terminated (the controller does it this pass)
                        conditions.append(_cond("Failed", *failure, now, old))
                        self.event(job, failure[0], failure[1], "Warning", component="job-controller")
                elif success is not None:
                    conditions = [c for c in conditions if c.get("type") != "SuccessCriteriaMet"]
                    conditions.append(_cond("SuccessCriteriaMet", *success, now, old))
                    if not active:
                        conditions.append(_cond("Complete", *success, now, old))
                        status["completionTime"] = now
                        self.event(job, "Completed", "Job completed", component="job-controller")
            if conditions:
                status["conditions"] = conditions
            else:
                status.pop("conditions", None)
            if active and not any(c.get("type") in ("FailureTarget", "SuccessCriteriaMet") for c in conditions):
                status["active"] = len(active)
            if succeeded:
                status["succeeded"] = succeeded
            if failed:
                status["failed"] = failed
            status["ready"] = sum(1 for p in active if pod_ready(p))
            status["terminating"] = 0
            status["uncountedTerminatedPods"] = {}
            if indexed:
                if seen.succeeded_indexes:
                    status["completedIndexes"] = jobs.ranges(seen.succeeded_indexes)
                if spec.get("backoffLimitPerIndex") is not None:
                    status["failedIndexes"] = jobs.ranges(seen.failed_indexes)
            if status != old:
                new = copy.deepcopy(job)
                new["status"] = status
                self.store.replace("batch/jobs", new)

    def _finished_job_ttl(self) -> None:
        """The TTL-after-finished controller: a finished Job goes ``ttlSecondsAfterFinished`` after it finished.

        It is deleted with background propagation (the garbage collector removes its pods).
        """
        now = parse_time(now_rfc3339())
        for (ns, name), job in list(self.store.objects["batch/jobs"].items()):
            ttl = job["spec"].get("ttlSecondsAfterFinished")
            if ttl is None or job["metadata"].get("deletionTimestamp") or not _job_finished(job):
                continue
            status = job.get("status") or {}
            ends = [
                parse_time(c.get("lastTransitionTime"))
                for c in status.get("conditions") or []
                if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            ]
            finished = parse_time(status.get("completionTime")) or max((e for e in ends if e), default=None)
            if finished is not None and now is not None and (now - finished).total_seconds() >= int(ttl):
                self.store.delete("batch/jobs", ns, name)

    # ------------------------------------------------------------------------------------------ CronJob
    def _cronjobs(self) -> None:
        from kubesim.cron import CronError, most_recent, zone  # local: only the CronJob controller needs it

        for (ns, _), cj in list(self.store.objects["batch/cronjobs"].items()):
            if cj["metadata"].get("deletionTimestamp"):
                continue
            spec, old = cj["spec"], cj.get("status") or {}
            uid = cj["metadata"]["uid"]
            jobs = sorted(
                (j for (jns, _), j in self.store.objects["batch/jobs"].items() if jns == ns and owned_by(j, uid)),
                key=lambda j: j["metadata"]["creationTimestamp"],
            )
            status: Obj = {k: v for k, v in old.items() if k in ("lastScheduleTime", "lastSuccessfulTime")}
            annotations = cj["metadata"].get("annotations") or {}
            clock = parse_time(annotations.get(SIMULATED_TIME)) or parse_time(now_rfc3339())
            assert clock is not None
            due = None
            place: Any = None
            try:
                place = zone(spec.get("timeZone"))
            except CronError as exc:  # the apiserver refuses unknown zones; the controller checks again
                self._note(cj, "UnknownTimeZone", f'invalid timeZone: "{spec.get("timeZone")}": {exc}')
            if place is not None and not spec.get("suspend"):
                due = self._due(cj, clock, place, most_recent)
            active = [j for j in jobs if not _job_finished(j)]
            if due is not None:
                policy = spec.get("concurrencyPolicy", "Allow")
                if policy == "Forbid" and active:
                    due = None
                    self._note(cj, "JobAlreadyActive", "Not starting job because prior execution is running and "
                               "concurrency policy is Forbid", "Normal")  # fmt: skip
                elif policy == "Replace":
                    for job in active:
                        self._cascade_delete("batch/jobs", job)
                        self.event(cj, "SuccessfulDelete", f"Deleted job {job['metadata']['name']}",
                                   component="cronjob-controller")  # fmt: skip
                    active = []
            if due is not None:
                name = f"{cj['metadata']['name']}-{int(due.timestamp()) // 60}"
                if self.store.peek("batch/jobs", ns, name) is None:
                    jt = copy.deepcopy(spec.get("jobTemplate") or {})
                    jmeta = jt.get("metadata") or {}
                    job = {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "metadata": {
                            "name": name,
                            "namespace": ns,
                            "labels": dict(jmeta.get("labels") or {}),
                            "annotations": dict(
                                jmeta.get("annotations") or {},
                                **{"batch.kubernetes.io/cronjob-scheduled-timestamp": _rfc3339_in(due, place)},
                            ),
                            "ownerReferences": [owner_ref(cj)],
                            "generation": 1,
                        },
                        "spec": jt.get("spec") or {},
                        "status": {},
                    }
                    from kubesim.api import apply_defaults  # local: api imports this module's helpers
                    from kubesim.discovery import lookup

                    res = lookup("batch", "v1", "jobs")
                    assert res is not None
                    job["metadata"]["uid"] = str(uuid.uuid4())
                    job["spec"].pop("selector", None)
                    apply_defaults(self.store, res, job)
                    created = self.store.create("batch/jobs", job)
                    active.append(created)
                    self.event(cj, "SuccessfulCreate", f"Created job {name}", component="cronjob-controller")
                status["lastScheduleTime"] = due.strftime("%Y-%m-%dT%H:%M:%SZ")
            for job in jobs:
                if _job_state(job) == "Complete":
                    done = (job.get("status") or {}).get("completionTime")
                    if done and done > status.get("lastSuccessfulTime", ""):
                        status["lastSuccessfulTime"] = done
            if active:
                status["active"] = [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": j["metadata"]["name"],
                        "namespace": ns,
                        "uid": j["metadata"]["uid"],
                        "resourceVersion": j["metadata"]["resourceVersion"],
                    }
                    for j in active
                ]
            for state, limit_key, default in (
                ("Complete", "successfulJobsHistoryLimit", 3),
                ("Failed", "failedJobsHistoryLimit", 1),
            ):
                finished = [j for j in jobs if _job_state(j) == state]
                limit = int(spec.get(limit_key, default))
                for job in finished[: max(0, len(finished) - limit)]:
                    self._cascade_delete("batch/jobs", job)
                    self.event(cj, "SawCompletedJob" if state == "Complete" else "SuccessfulDelete",
                               f"Deleted job {job['metadata']['name']}", component="cronjob-controller")  # fmt: skip
            if status != old:
                new = copy.deepcopy(cj)
                new["status"] = status
                self.store.replace("batch/cronjobs", new)

    def _due(self, cj: Obj, clock: Any, place: Any, most_recent: Any) -> Any:
        """The scheduled time to run now, if any, as the CronJob controller's nextScheduleTime decides.

        Times are looked for after status.lastScheduleTime (else the creation time), or after now minus
        ``startingDeadlineSeconds`` when that is later: a run missed by more than the deadline is not started.
        More than 100 missed times give the TooManyMissedTimes warning (the latest one still starts).
        """
        from kubesim.cron import CronError  # local: only the CronJob controller needs it

        spec, status = cj["spec"], cj.get("status") or {}
        earliest = parse_time(status.get("lastScheduleTime")) or parse_time(cj["metadata"]["creationTimestamp"])
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, clock - datetime.timedelta(seconds=int(deadline)))
        try:
            due, missed = most_recent(spec.get("schedule", ""), earliest, clock, place)
        except CronError:
            return None
        if due is None:
            return None
        if missed > 100:
            self._note(cj, "TooManyMissedTimes", "too many missed start times. Set or decrease "
                       ".spec.startingDeadlineSeconds or check clock skew")  # fmt: skip
        if deadline is not None and due + datetime.timedelta(seconds=int(deadline)) < clock:
            stamp = due.strftime("%a, %d %b %Y %H:%M:%S +0000")
            self._note(cj, "MissSchedule", f"Missed scheduled time to start a job: {stamp}")
            return None
        return due

    def _note(
        self, obj: Obj, reason: str, message: str, etype: str = "Warning", component: str = "cronjob-controller"
    ) -> None:
        """An event a controller records once per state of the object (not on every pass)."""
        key = (obj["metadata"]["uid"], obj["metadata"].get("generation"), reason, message,
               (obj.get("status") or {}).get("lastScheduleTime"))  # fmt: skip
        if key in self._noted:
            return
        if len(self._noted) > 10000:
            self._noted.clear()  # states long past: forgetting them at worst repeats an event once
        self._noted.add(key)
        self.event(obj, reason, message, etype, component=component)

    # ------------------------------------------------------------------------------------------ deletion
    def _cascade_delete(self, storage: str, obj: Obj) -> None:
        """Delete ``obj`` and (background propagation) everything it owns."""
        meta = obj["metadata"]
        self.store.delete(storage, meta.get("namespace", ""), meta["name"])

    def _foreground_deletions(self) -> None:
        """Owners deleted with propagationPolicy=Foreground: remove dependents first, then the owner."""
        for storage, objs in list(self.store.objects.items()):
            for (ns, name), obj in list(objs.items()):
                meta = obj["metadata"]
                if not meta.get("deletionTimestamp") or "foregroundDeletion" not in (meta.get("finalizers") or []):
                    continue
                blocking = 0
                for dstorage, dobjs in list(self.store.objects.items()):
                    for (dns, dname), dep in list(dobjs.items()):
                        refs = dep["metadata"].get("ownerReferences") or []
                        if dns != ns or not any(r.get("uid") == meta["uid"] for r in refs):
                            continue
                        if any(r.get("uid") == meta["uid"] and r.get("blockOwnerDeletion") for r in refs):
                            blocking += 1
                        if not dep["metadata"].get("deletionTimestamp"):
                            if _has_dependents(self.store, dep):
                                marked = copy.deepcopy(dep)
                                marked["metadata"]["deletionTimestamp"] = now_rfc3339()
                                marked["metadata"]["deletionGracePeriodSeconds"] = 0
                                marked["metadata"]["finalizers"] = list(
                                    dict.fromkeys((dep["metadata"].get("finalizers") or []) + ["foregroundDeletion"])
                                )
                                self.store.replace(dstorage, marked)
                            else:
                                self.store.delete(dstorage, dns, dname)
                if blocking == 0 or not _has_dependents(self.store, obj):
                    rest = [f for f in meta.get("finalizers") or [] if f != "foregroundDeletion"]
                    if rest:
                        kept = copy.deepcopy(obj)
                        kept["metadata"]["finalizers"] = rest
                        self.store.replace(storage, kept)
                    else:
                        self.store.delete(storage, ns, name)

    def _endpoints(self) -> None:
        for (ns, name), svc in list(self.store.objects["/services"].items()):
            spec = svc.get("spec") or {}
            manual = (svc["metadata"].get("annotations") or {}).get(MANUAL_ENDPOINTS) == "true"
            selector = spec.get("selector")
            if selector and not manual:
                self._sync_endpoints(ns, name, svc, selector)
            ep = self.store.peek("/endpoints", ns, name)
            self._sync_slice(ns, name, svc, ep)

    def _sync_endpoints(self, ns: str, name: str, svc: Obj, selector: dict[str, str]) -> None:
        reqs = selector_from_match_labels({"matchLabels": selector})
        ready, not_ready = [], []
        first_pod = None
        for (pns, _), pod in sorted(self.store.objects["/pods"].items()):
            if pns != ns or not labels_match(reqs, pod["metadata"].get("labels")):
                continue
            ip = pod.get("status", {}).get("podIP")
            if not ip or pod["metadata"].get("deletionTimestamp"):
                continue
            first_pod = first_pod or pod
            addr = {
                "ip": ip,
                "nodeName": pod.get("spec", {}).get("nodeName", NODE_NAME),
                "targetRef": {
                    "kind": "Pod",
                    "namespace": ns,
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"],
                },
            }
            (ready if pod_ready(pod) else not_ready).append(addr)
        ports = []
        for port in svc["spec"].get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, str) and first_pod is not None:
                for container in first_pod["spec"].get("containers") or []:
                    for cport in container.get("ports") or []:
                        if cport.get("name") == target:
                            target = cport.get("containerPort")
            entry = {
                "port": target if isinstance(target, int) else port.get("port"),
                "protocol": port.get("protocol", "TCP"),
            }
            if port.get("name"):
                entry["name"] = port["name"]
            ports.append(entry)
        subset: Obj = {}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        existing = self.store.peek("/endpoints", ns, name)
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name, "namespace": ns, "labels": dict(svc["metadata"].get("labels") or {})},
        }
        if subset:
            subset["ports"] = ports
            body["subsets"] = [subset]
        if existing is None:
            self.store.create("/endpoints", body)
            return
        new = copy.deepcopy(existing)
        new.pop("subsets", None)
        if "subsets" in body:
            new["subsets"] = body["subsets"]
        new["metadata"]["labels"] = body["metadata"]["labels"]
        if not new["metadata"]["labels"]:
            new["metadata"].pop("labels")
            if not existing["metadata"].get("labels"):
                existing_labels = existing["metadata"].get("labels")
                if existing_labels is not None:
                    new["metadata"]["labels"] = existing_labels
        self._write("/endpoints", existing, new)

    def _sync_slice(self, ns: str, name: str, svc: Obj, ep: Obj | None) -> None:
        slice_name = f"{name}-{template_hash({'svc': name})[:5]}"
        endpoints = []
        ports: list[Obj] = []
        for subset in (ep or {}).get("subsets") or []:
            ports = [
                {k: v for k, v in p.items() if k in ("name", "port", "protocol")} for p in subset.get("ports") or []
            ]
            for key, ok in (("addresses", True), ("notReadyAddresses", False)):
                for addr in subset.get(key) or []:
                    entry: Obj = {
                        "addresses": [addr.get("ip")],
                        "conditions": {"ready": ok, "serving": ok, "terminating": False},
                    }
                    if addr.get("nodeName"):
                        entry["nodeName"] = addr["nodeName"]
                    if addr.get("targetRef"):
                        entry["targetRef"] = addr["targetRef"]
                    endpoints.append(entry)
        body: Obj = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": slice_name,
                "namespace": ns,
                "labels": {
                    "kubernetes.io/service-name": name,
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                },
                "ownerReferences": [owner_ref(svc)],
            },
            "addressType": "IPv4",
            "endpoints": endpoints or None,
            "ports": ports or None,
        }
        existing = self.store.peek("discovery.k8s.io/endpointslices", ns, slice_name)
        if existing is None:
            self.store.create("discovery.k8s.io/endpointslices", body)
            return
        new = copy.deepcopy(existing)
        new["endpoints"], new["ports"] = body["endpoints"], body["ports"]
        self._write("discovery.k8s.io/endpointslices", existing, new)

    def _autoscalers(self) -> None:
        """HorizontalPodAutoscaler: CPU utilisation from the emulated metrics, status, and scaling."""
        from kubesim.views import parse_cpu, pod_usage  # local import: views imports this module

        for (ns, _), hpa in list(self.store.objects["autoscaling/horizontalpodautoscalers"].items()):
            spec = hpa.get("spec") or {}
            ref = spec.get("scaleTargetRef") or {}
            storage = {
                "Deployment": "apps/deployments",
                "StatefulSet": "apps/statefulsets",
                "ReplicaSet": "apps/replicasets",
            }.get(ref.get("kind", ""))
            target = self.store.peek(storage, ns, ref.get("name", "")) if storage else None
            now = now_rfc3339()
            status: Obj = dict(hpa.get("status") or {})
            if target is None:
                status.update(
                    {
                        "currentReplicas": 0,
                        "desiredReplicas": 0,
                        "conditions": [
                            {
                                "type": "AbleToScale",
                                "status": "False",
                                "reason": "FailedGetScale",
                                "message": f"the HPA controller was unable to get the target's "
                                f"current scale: {ref.get('kind')} {ref.get('name')} "
                                "not found",
                                "lastTransitionTime": now,
                            }
                        ],
                    }
                )
            else:
                pods = [p for p in self._owned_pods_deep(target) if pod_ready(p)]
                current = int(target["spec"].get("replicas", 1))
                want_util = None
                for metric in spec.get("metrics") or []:
                    res = metric.get("resource") or {}
                    if res.get("name") == "cpu":
                        want_util = (res.get("target") or {}).get("averageUtilization")
                if spec.get("targetCPUUtilizationPercentage") is not None:
                    want_util = spec["targetCPUUtilizationPercentage"]
                used = sum(parse_cpu(pod_usage(p)[0]) for p in pods)
                requested = sum(
                    parse_cpu(str(((c.get("resources") or {}).get("requests") or {}).get("cpu", "0")))
                    for p in pods
                    for c in p["spec"].get("containers") or []
                )
                util = round(used / requested * 100) if requested else None
                desired = current
                if want_util and util is not None and pods:
                    desired = max(1, -(-len(pods) * util // int(want_util)))
                desired = max(int(spec.get("minReplicas", 1)), min(int(spec.get("maxReplicas", desired)), desired))
                status["currentReplicas"] = int(target.get("status", {}).get("replicas", 0))
                status["desiredReplicas"] = desired
                if util is not None:
                    status["currentMetrics"] = [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "current": {
                                    "averageUtilization": util,
                                    "averageValue": f"{int(used * 1000 / max(len(pods), 1))}m",
                                },
                            },
                        }
                    ]
                    status["currentCPUUtilizationPercentage"] = util
                status["conditions"] = [
                    {
                        "type": "AbleToScale",
                        "status": "True",
                        "reason": "ReadyForNewScale",
                        "message": "recommended size matches current size",
                        "lastTransitionTime": now,
                    },
                    {
                        "type": "ScalingActive",
                        "status": "True" if util is not None else "False",
                        "reason": "ValidMetricFound" if util is not None else "FailedGetResourceMetric",
                        "message": "the HPA was able to successfully calculate a replica count",
                        "lastTransitionTime": now,
                    },
                ]
                window = int(
                    ((spec.get("behavior") or {}).get("scaleDown") or {}).get("stabilizationWindowSeconds", 300)
                )
                last = parse_time(status.get("lastScaleTime"))
                if desired < current and last is not None and time.time() - last.timestamp() < window:
                    desired = current  # scale-down stabilisation window
                    status["desiredReplicas"] = desired
                if desired != current:
                    scaled = copy.deepcopy(target)
                    scaled["spec"]["replicas"] = desired
                    scaled["metadata"]["generation"] = target["metadata"].get("generation", 1) + 1
                    self.store.replace(storage, scaled)  # type: ignore[arg-type]
                    status["lastScaleTime"] = now
                    self.event(
                        hpa,
                        "SuccessfulRescale",
                        f"New size: {desired}; reason: cpu resource utilization "
                        "(percentage of request) above/below target",
                        component="horizontal-pod-autoscaler",
                    )
            old = hpa.get("status") or {}
            keep = {k: v for k, v in status.items() if k != "conditions"}
            old_keep = {k: v for k, v in old.items() if k != "conditions"}
            old_conds = [(c.get("type"), c.get("status"), c.get("reason")) for c in old.get("conditions") or []]
            new_conds = [(c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions") or []]
            if keep != old_keep or old_conds != new_conds:
                new = copy.deepcopy(hpa)
                new["status"] = status
                self.store.replace("autoscaling/horizontalpodautoscalers", new)

    def _owned_pods_deep(self, owner: Obj) -> list[Obj]:
        """Pods of a workload, through its ReplicaSets for a Deployment."""
        if owner["kind"] != "Deployment":
            return self._owned_pods(owner)
        ns, uid = owner["metadata"]["namespace"], owner["metadata"]["uid"]
        out: list[Obj] = []
        for (rns, _), rs in self.store.objects["apps/replicasets"].items():
            if rns == ns and owned_by(rs, uid):
                out.extend(self._owned_pods(rs))
        return out

    def _garbage(self) -> None:
        uids: set[str] = set()
        for objs in self.store.objects.values():
            for obj in objs.values():
                uids.add(obj["metadata"].get("uid", ""))
        for storage in list(self.store.objects):
            for (ns, name), obj in list(self.store.objects[storage].items()):
                refs = obj["metadata"].get("ownerReferences") or []
                if refs and not any(r.get("uid") in uids for r in refs):
                    self.store.delete(storage, ns, name)
        for (ns, name), _ep in list(self.store.objects["discovery.k8s.io/endpointslices"].items()):
            svc_name = name.rsplit("-", 1)[0]
            if self.store.peek("/services", ns, svc_name) is None:
                self.store.delete("discovery.k8s.io/endpointslices", ns, name)


def _ordinal(pod: Obj) -> int:
    """The ordinal of a StatefulSet pod ``<sts>-<n>`` (-1 when the name has none)."""
    tail = pod["metadata"]["name"].rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def default_claim_spec(spec: Obj, store: Store | None = None) -> None:
    """What the apiserver and the DefaultStorageClass admission fill in a PersistentVolumeClaim's spec.

    A claim without ``storageClassName`` gets the default class (annotation
    ``storageclass.kubernetes.io/is-default-class: "true"``; the newest when several are); none when there is none.
    """
    spec.setdefault("volumeMode", "Filesystem")
    if "storageClassName" in spec:
        return
    if store is None:
        spec["storageClassName"] = DEFAULT_STORAGE_CLASS
        return
    defaults = [
        sc
        for sc in store.objects["storage.k8s.io/storageclasses"].values()
        if (sc["metadata"].get("annotations") or {}).get(IS_DEFAULT_CLASS) == "true"
    ]
    if defaults:
        newest = max(defaults, key=lambda sc: (sc["metadata"].get("creationTimestamp", ""), sc["metadata"]["name"]))
        spec["storageClassName"] = newest["metadata"]["name"]


def _percent(value: Any, total: int) -> int:
    """Resolve an IntOrString like ``25%`` against ``total`` (rounded down, like maxUnavailable)."""
    if isinstance(value, str) and value.endswith("%"):
        return int(total * int(value[:-1]) / 100)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _cond(ctype: str, reason: str, message: str, now: str, old_status: Obj) -> Obj:
    """A Job condition (keeping the transition time of an identical previous one)."""
    prev = next((c for c in old_status.get("conditions") or [] if c.get("type") == ctype), None)
    since = prev.get("lastTransitionTime", now) if prev and prev.get("status") == "True" else now
    return {"type": ctype, "status": "True", "reason": reason, "message": message,
            "lastProbeTime": since, "lastTransitionTime": since}  # fmt: skip


def _job_state(job: Obj) -> str:
    """Complete, Failed or Running from a Job's conditions."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return cond["type"]
    return "Running"


def _job_finished(job: Obj) -> bool:
    return _job_state(job) != "Running"


def _rfc3339_in(when: Any, place: Any) -> str:
    """RFC 3339 in a zone, as Go formats it (``Z`` for UTC, else the offset)."""
    local = when.astimezone(place)
    if local.utcoffset() == datetime.timedelta(0):
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.isoformat(timespec="seconds")


def _has_dependents(store: Store, owner: Obj) -> bool:
    uid = owner["metadata"]["uid"]
    ns = owner["metadata"].get("namespace", "")
    for objs in store.objects.values():
        for (dns, _), dep in objs.items():
            if dns == ns and owned_by(dep, uid):
                return True
    return False


def exit_codes(pod: Obj) -> dict[str, int]:
    """The exit code of each container of a run-to-completion pod (emulator controls, default 0).

    ``kubesim.voicehive.io/exit-code``: ``"42"`` (every container) or ``"main=42,sidecar=0"``;
    ``kubesim.voicehive.io/condition: Failed``: every container exits 1.
    """
    annotations = pod["metadata"].get("annotations") or {}
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    codes = dict.fromkeys(names, 1 if annotations.get(CONDITION) == "Failed" else 0)
    text = str(annotations.get(EXIT_CODE, "")).strip()
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.rpartition("=")
        try:
            code = int(value)
        except ValueError:
            continue
        for container in names if not name else [name]:
            if container in codes:
                codes[container] = code
    return codes


DISRUPTIONS = {
    "EvictionByEvictionAPI": "Eviction API: evicting",
    "PreemptionByScheduler": "default-scheduler: preempting to accommodate a higher priority pod",
    "DeletionByTaintManager": "Taint manager: deleting due to NoExecute taint",
    "DeletionByPodGC": "PodGC: node no longer exists",
    "TerminationByKubelet": "The node was low on resource: memory.",
}


def _maybe_terminate(pod: Obj, now: float) -> None:
    """Run-to-completion pods (those of Jobs, restartPolicy Never/OnFailure) end after ``JOB_FINISH`` s.

    Each container exits with its code from :func:`exit_codes`; the pod Succeeds when all exit 0, else
    it Fails. Annotation ``kubesim.voicehive.io/disruption: <reason>`` disrupts the pod at once instead:
    condition DisruptionTarget (that reason), containers killed (exit 137), phase Failed.
    """
    spec = pod.get("spec") or {}
    labels = pod["metadata"].get("labels") or {}
    if spec.get("restartPolicy") not in ("Never", "OnFailure") or "batch.kubernetes.io/job-name" not in labels:
        return
    status = pod["status"]
    disruption = (pod["metadata"].get("annotations") or {}).get(DISRUPTION)
    started = parse_time(status.get("startTime"))
    if not disruption and (started is None or now - started.timestamp() < JOB_FINISH):
        return
    ts = now_rfc3339_at(now)
    codes = exit_codes(pod)
    if disruption:
        codes = dict.fromkeys(codes, 137)
    failed = any(codes.values())
    status["phase"] = "Failed" if failed else "Succeeded"
    for cs in status.get("containerStatuses") or []:
        code = codes.get(cs.get("name"), 0)
        cs["ready"] = False
        cs["started"] = False
        cs["state"] = {
            "terminated": {
                "exitCode": code,
                "reason": "Completed" if code == 0 else "Error",
                "startedAt": status.get("startTime"),
                "finishedAt": ts,
                "containerID": cs.get("containerID"),
            }
        }
    for cond in status.get("conditions") or []:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond.update({"status": "False", "reason": "PodCompleted", "lastTransitionTime": ts})
            cond.pop("message", None)
        if cond["type"] == "PodReadyToStartContainers":
            cond.update({"status": "False", "lastTransitionTime": ts})
    if disruption:
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        status["conditions"].insert(0, {
            "type": "DisruptionTarget", "status": "True", "reason": disruption,
            "message": DISRUPTIONS.get(disruption, disruption), "lastProbeTime": None, "lastTransitionTime": ts,
        })  # fmt: skip
