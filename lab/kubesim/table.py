"""``meta.k8s.io/v1 Table`` rendering with kubectl's columns (what ``kubectl get`` prints)."""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from kubesim.selectors import selector_string
from kubesim.store import Obj, parse_time

Column = tuple[str, str, int]  # (name, type, priority)
Cells = list[Any]


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery ``duration.HumanDuration``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def age(value: str | None) -> str:
    """Age of a timestamp like kubectl's AGE column."""
    when = parse_time(value)
    if when is None:
        return "<unknown>"
    return human_duration((dt.datetime.now(dt.UTC) - when).total_seconds())


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata", {})


def _age(obj: Obj) -> str:
    return age(_meta(obj).get("creationTimestamp"))


def pod_status_reason(pod: Obj) -> str:
    """The STATUS column of ``kubectl get pods`` (printPod in kubernetes/pkg/printers)."""
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state", {})
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif state.get("terminated"):
            code = state["terminated"].get("exitCode", 0)
            reason = f"ExitCode:{code}"
    if _meta(pod).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_row(pod: Obj) -> Cells:
    status = pod.get("status", {})
    statuses = status.get("containerStatuses") or []
    total = len(pod.get("spec", {}).get("containers") or [])
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount", 0)) for cs in statuses)
    last = None
    for cs in statuses:
        finished = parse_time(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        if finished and (last is None or finished > last):
            last = finished
    restart_text = str(restarts)
    if restarts and last:
        restart_text = f"{restarts} ({human_duration((dt.datetime.now(dt.UTC) - last).total_seconds())} ago)"
    return [
        _meta(pod)["name"],
        f"{ready}/{total}",
        pod_status_reason(pod),
        restart_text,
        _age(pod),
        status.get("podIP") or "<none>",
        pod.get("spec", {}).get("nodeName") or "<none>",
        "<none>",
        "<none>",
    ]


def _containers(obj: Obj) -> tuple[str, str]:
    containers = obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def _deploy_row(obj: Obj) -> Cells:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    names, images = _containers(obj)
    return [
        _meta(obj)["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def _rs_row(obj: Obj) -> Cells:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    names, images = _containers(obj)
    return [
        _meta(obj)["name"],
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(obj),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def _sts_row(obj: Obj) -> Cells:
    names, images = _containers(obj)
    ready = f"{obj.get('status', {}).get('readyReplicas', 0)}/{obj.get('spec', {}).get('replicas', 0)}"
    return [_meta(obj)["name"], ready, _age(obj), names, images]


def _ds_row(obj: Obj) -> Cells:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    names, images = _containers(obj)
    node_selector = (spec.get("template", {}).get("spec", {}) or {}).get("nodeSelector") or {}
    return [
        _meta(obj)["name"],
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or "<none>",
        _age(obj),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def job_state(obj: Obj) -> str:
    """The STATUS column of ``kubectl get jobs`` (Complete, Failed, Suspended, FailureTarget, Running)."""
    conds = {c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []}
    for ctype in ("Complete", "Failed", "FailureTarget", "Suspended"):
        if conds.get(ctype) == "True":
            return ctype
    return "Running"


def _job_row(obj: Obj) -> Cells:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    names, images = _containers(obj)
    completions = spec.get("completions")
    succeeded = status.get("succeeded", 0)
    if completions is not None:
        done = f"{succeeded}/{completions}"
    else:
        parallelism = spec.get("parallelism", 1)
        done = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    if start is None:
        duration = ""
    else:
        stop = end.timestamp() if end else time.time()
        duration = human_duration(stop - start.timestamp())
    return [
        _meta(obj)["name"],
        job_state(obj),
        done,
        duration,
        _age(obj),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def _cronjob_row(obj: Obj) -> Cells:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    jt = (spec.get("jobTemplate") or {}).get("spec") or {}
    containers = (jt.get("template") or {}).get("spec", {}).get("containers") or []
    last = status.get("lastScheduleTime")
    return [
        _meta(obj)["name"],
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        str(bool(spec.get("suspend"))),
        len(status.get("active") or []),
        age(last) if last else "<none>",
        _age(obj),
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
        selector_string(jt.get("selector")) if jt.get("selector") else "<none>",
    ]


def _revision_row(obj: Obj) -> Cells:
    refs = _meta(obj).get("ownerReferences") or []
    owner = next((r for r in refs if r.get("controller")), None)
    controller = f"{owner['kind'].lower()}.apps/{owner['name']}" if owner else "<none>"
    return [_meta(obj)["name"], controller, obj.get("revision", 0), _age(obj)]


def _svc_row(obj: Obj) -> Cells:
    spec = obj.get("spec", {})
    ports = []
    for p in spec.get("ports") or []:
        text = f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        if p.get("nodePort"):
            text = f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}"
        ports.append(text)
    ingress = obj.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or (
        ",".join(spec.get("externalIPs") or []) or ("<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
    )
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or "<none>"
    return [
        _meta(obj)["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        external,
        ",".join(ports) or "<none>",
        _age(obj),
        selector,
    ]


def _ep_row(obj: Obj) -> Cells:
    pairs = []
    for subset in obj.get("subsets") or []:
        for addr in subset.get("addresses") or []:
            for port in subset.get("ports") or [{}]:
                pairs.append(f"{addr.get('ip')}:{port.get('port')}" if port else addr.get("ip"))
    text = ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")
    return [_meta(obj)["name"], text or "<none>", _age(obj)]


def _event_row(ev: Obj) -> Cells:
    inv = ev.get("involvedObject") or ev.get("regarding") or {}
    last = ev.get("lastTimestamp") or ev.get("eventTime") or _meta(ev).get("creationTimestamp")
    return [
        age(last),
        ev.get("type", ""),
        ev.get("reason", ""),
        f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
        ev.get("message") or ev.get("note", ""),
    ]


def _node_row(node: Obj) -> Cells:
    conds = {c.get("type"): c.get("status") for c in node.get("status", {}).get("conditions") or []}
    ready = "Ready" if conds.get("Ready") == "True" else "NotReady"
    if node.get("spec", {}).get("unschedulable"):
        ready += ",SchedulingDisabled"
    roles = sorted(
        k.split("/", 1)[1] for k in (_meta(node).get("labels") or {}) if k.startswith("node-role.kubernetes.io/")
    )
    info = node.get("status", {}).get("nodeInfo", {})
    addrs = {a.get("type"): a.get("address") for a in node.get("status", {}).get("addresses") or []}
    return [
        _meta(node)["name"],
        ready,
        ",".join(roles) or "<none>",
        _age(node),
        info.get("kubeletVersion", ""),
        addrs.get("InternalIP", "<none>"),
        addrs.get("ExternalIP", "<none>"),
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


def _hpa_row(obj: Obj) -> Cells:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    ref = spec.get("scaleTargetRef", {})
    targets = []
    current = {m.get("resource", {}).get("name"): m for m in status.get("currentMetrics") or []}
    for metric in spec.get("metrics") or []:
        res = metric.get("resource") or {}
        want = (res.get("target") or {}).get("averageUtilization")
        cur = ((current.get(res.get("name")) or {}).get("resource") or {}).get("current", {})
        have = cur.get("averageUtilization")
        targets.append(f"{res.get('name')}: {have if have is not None else '<unknown>'}%/{want}%")
    if spec.get("targetCPUUtilizationPercentage") is not None:
        have = status.get("currentCPUUtilizationPercentage")
        targets.append(f"cpu: {have if have is not None else '<unknown>'}%/{spec['targetCPUUtilizationPercentage']}%")
    return [
        _meta(obj)["name"],
        f"{ref.get('kind')}/{ref.get('name')}",
        ", ".join(targets) or "<none>",
        spec.get("minReplicas", 1),
        spec.get("maxReplicas"),
        status.get("currentReplicas", 0),
        _age(obj),
    ]


def _secret_row(obj: Obj) -> Cells:
    return [_meta(obj)["name"], obj.get("type", "Opaque"), len(obj.get("data") or {}), _age(obj)]


def _lease_row(obj: Obj) -> Cells:
    return [_meta(obj)["name"], obj.get("spec", {}).get("holderIdentity") or "", _age(obj)]


def _namespace_row(obj: Obj) -> Cells:
    return [_meta(obj)["name"], obj.get("status", {}).get("phase", "Active"), _age(obj)]


def _name_age(obj: Obj) -> Cells:
    return [_meta(obj)["name"], _age(obj)]


def _slice_row(obj: Obj) -> Cells:
    ports = ",".join(str(p.get("port")) for p in obj.get("ports") or []) or "<unset>"
    addrs = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return [_meta(obj)["name"], obj.get("addressType", "IPv4"), ports, ",".join(addrs[:3]) or "<unset>", _age(obj)]


def _s(name: str, priority: int = 0) -> Column:
    return (name, "string", priority)


def _i(name: str, priority: int = 0) -> Column:
    return (name, "integer", priority)


ACCESS_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def _pvc_row(o: Obj) -> Cells:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    phase = "Terminating" if _meta(o).get("deletionTimestamp") else status.get("phase", "")
    storage_class = spec.get("storageClassName") or (_meta(o).get("annotations") or {}).get(
        "volume.beta.kubernetes.io/storage-class", ""
    )
    modes = ",".join(ACCESS_MODES.get(m, m) for m in status.get("accessModes") or []) if spec.get("volumeName") else ""
    capacity = (status.get("capacity") or {}).get("storage", "") if spec.get("volumeName") else ""
    return [
        _meta(o)["name"],
        phase,
        spec.get("volumeName", ""),
        capacity,
        modes,
        storage_class,
        spec.get("volumeAttributesClassName") or "<unset>",
        _age(o),
        spec.get("volumeMode", ""),
    ]


def _pv_row(o: Obj) -> Cells:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    ref = spec.get("claimRef") or {}
    claim = f"{ref.get('namespace')}/{ref.get('name')}" if ref else ""
    phase = "Terminating" if _meta(o).get("deletionTimestamp") else status.get("phase", "")
    return [
        _meta(o)["name"],
        (spec.get("capacity") or {}).get("storage", ""),
        ",".join(ACCESS_MODES.get(m, m) for m in spec.get("accessModes") or []),
        spec.get("persistentVolumeReclaimPolicy", ""),
        phase,
        claim,
        spec.get("storageClassName", ""),
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason", ""),
        _age(o),
        spec.get("volumeMode", ""),
    ]


def _storage_class_row(o: Obj) -> Cells:
    name = _meta(o)["name"]
    annotations = _meta(o).get("annotations") or {}
    if "true" in (
        annotations.get("storageclass.kubernetes.io/is-default-class"),
        annotations.get("storageclass.beta.kubernetes.io/is-default-class"),
    ):
        name += " (default)"
    return [
        name,
        o.get("provisioner", ""),
        o.get("reclaimPolicy") or "Delete",
        o.get("volumeBindingMode") or "Immediate",
        bool(o.get("allowVolumeExpansion")),
        _age(o),
    ]


TABLES: dict[str, tuple[list[Column], Callable[[Obj], Cells]]] = {
    "Pod": (
        [
            _s("Name"),
            _s("Ready"),
            _s("Status"),
            _s("Restarts"),
            _s("Age"),
            _s("IP", 1),
            _s("Node", 1),
            _s("Nominated Node", 1),
            _s("Readiness Gates", 1),
        ],
        _pod_row,
    ),
    "Deployment": (
        [
            _s("Name"),
            _s("Ready"),
            _i("Up-to-date"),
            _i("Available"),
            _s("Age"),
            _s("Containers", 1),
            _s("Images", 1),
            _s("Selector", 1),
        ],
        _deploy_row,
    ),
    "ReplicaSet": (
        [
            _s("Name"),
            _i("Desired"),
            _i("Current"),
            _i("Ready"),
            _s("Age"),
            _s("Containers", 1),
            _s("Images", 1),
            _s("Selector", 1),
        ],
        _rs_row,
    ),
    "StatefulSet": ([_s("Name"), _s("Ready"), _s("Age"), _s("Containers", 1), _s("Images", 1)], _sts_row),
    "DaemonSet": (
        [
            _s("Name"),
            _i("Desired"),
            _i("Current"),
            _i("Ready"),
            _i("Up-to-date"),
            _i("Available"),
            _s("Node Selector"),
            _s("Age"),
            _s("Containers", 1),
            _s("Images", 1),
            _s("Selector", 1),
        ],
        _ds_row,
    ),
    "Job": (
        [
            _s("Name"),
            _s("Status"),
            _s("Completions"),
            _s("Duration"),
            _s("Age"),
            _s("Containers", 1),
            _s("Images", 1),
            _s("Selector", 1),
        ],
        _job_row,
    ),
    "CronJob": (
        [
            _s("Name"),
            _s("Schedule"),
            _s("Timezone"),
            _s("Suspend"),
            _i("Active"),
            _s("Last Schedule"),
            _s("Age"),
            _s("Containers", 1),
            _s("Images", 1),
            _s("Selector", 1),
        ],
        _cronjob_row,
    ),
    "ControllerRevision": ([_s("Name"), _s("Controller"), _i("Revision"), _s("Age")], _revision_row),
    "Service": (
        [_s("Name"), _s("Type"), _s("Cluster-IP"), _s("External-IP"), _s("Port(s)"), _s("Age"), _s("Selector", 1)],
        _svc_row,
    ),
    "Endpoints": ([_s("Name"), _s("Endpoints"), _s("Age")], _ep_row),
    "PersistentVolumeClaim": (
        [
            _s("Name"),
            _s("Status"),
            _s("Volume"),
            _s("Capacity"),
            _s("Access Modes"),
            _s("StorageClass"),
            _s("VolumeAttributesClass"),
            _s("Age"),
            _s("VolumeMode", 1),
        ],
        _pvc_row,
    ),
    "PersistentVolume": (
        [
            _s("Name"),
            _s("Capacity"),
            _s("Access Modes"),
            _s("Reclaim Policy"),
            _s("Status"),
            _s("Claim"),
            _s("StorageClass"),
            _s("VolumeAttributesClass"),
            _s("Reason"),
            _s("Age"),
            _s("VolumeMode", 1),
        ],
        _pv_row,
    ),
    "StorageClass": (
        [
            _s("Name"),
            _s("Provisioner"),
            _s("ReclaimPolicy"),
            _s("VolumeBindingMode"),
            ("AllowVolumeExpansion", "string", 0),
            _s("Age"),
        ],
        _storage_class_row,
    ),
    "ConfigMap": (
        [_s("Name"), _i("Data"), _s("Age")],
        lambda o: [_meta(o)["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o)],
    ),
    "Secret": ([_s("Name"), _s("Type"), _i("Data"), _s("Age")], _secret_row),
    "Namespace": ([_s("Name"), _s("Status"), _s("Age")], _namespace_row),
    "Node": (
        [
            _s("Name"),
            _s("Status"),
            _s("Roles"),
            _s("Age"),
            _s("Version"),
            _s("Internal-IP", 1),
            _s("External-IP", 1),
            _s("OS-Image", 1),
            _s("Kernel-Version", 1),
            _s("Container-Runtime", 1),
        ],
        _node_row,
    ),
    "Event": ([_s("Last Seen"), _s("Type"), _s("Reason"), _s("Object"), _s("Message")], _event_row),
    "ServiceAccount": (
        [_s("Name"), _i("Secrets"), _s("Age")],
        lambda o: [_meta(o)["name"], len(o.get("secrets") or []), _age(o)],
    ),
    "Lease": ([_s("Name"), _s("Holder"), _s("Age")], _lease_row),
    "HorizontalPodAutoscaler": (
        [_s("Name"), _s("Reference"), _s("Targets"), _s("MinPods"), _i("MaxPods"), _i("Replicas"), _s("Age")],
        _hpa_row,
    ),
    "EndpointSlice": ([_s("Name"), _s("AddressType"), _s("Ports"), _s("Endpoints"), _s("Age")], _slice_row),
}

_DESCRIPTIONS = {
    "Name": "Name must be unique within a namespace. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    "Age": "CreationTimestamp is a timestamp representing the server time when this object was created.",
}


def columns_for(kind: str) -> list[Column]:
    """Column definitions for a kind (NAME/AGE when kubesim has no dedicated printer)."""
    return TABLES.get(kind, ([_s("Name"), _s("Age")], _name_age))[0]


def row_for(kind: str, obj: Obj) -> Cells:
    """The cells of one object."""
    return TABLES.get(kind, ([], _name_age))[1](obj)


def partial_metadata(obj: Obj) -> Obj:
    """PartialObjectMetadata for includeObject=Metadata."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def render_table(
    kind: str, objects: list[Obj], list_meta: Obj, include_object: str = "Metadata", no_headers: bool = False
) -> Obj:
    """A ``meta.k8s.io/v1 Table`` for ``objects`` of ``kind``."""
    cols = columns_for(kind)
    definitions = (
        []
        if no_headers
        else [
            {
                "name": name,
                "type": typ,
                "format": "name" if name == "Name" else "",
                "priority": prio,
                "description": _DESCRIPTIONS.get(name, name),
            }
            for name, typ, prio in cols
        ]
    )
    rows = []
    for obj in objects:
        row: Obj = {"cells": row_for(kind, obj)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": definitions,
        "rows": rows,
    }


def decode_secret(obj: Obj, key: str) -> str:
    """Decode a Secret value (convenience for tests)."""
    return base64.b64decode((obj.get("data") or {}).get(key, "")).decode()
