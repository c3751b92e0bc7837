"""API semantics on top of the store: defaulting, validation, status/scale subresources, conversions.

The HTTP layer (:mod:`kubesim.server`) parses requests and calls these functions; the controller
uses the store directly.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import random
import re
import uuid
from typing import Any

from kubesim import patch as patches
from kubesim.discovery import Resource, by_storage, lookup
from kubesim.selectors import selector_from_match_labels, selector_string
from kubesim.store import ApiError, Obj, Store, conflict, not_found, now_rfc3339, parse_time

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
RANDOM_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")
# resources whose DELETE answers with the deleted object instead of a Status
RETURN_DELETED = {"pods", "namespaces", "services"}


def random_suffix(length: int = 5) -> str:
    """Random suffix like the apiserver's generateName / ReplicaSet pod names."""
    return "".join(random.choice(RANDOM_ALPHABET) for _ in range(length))


def qualified_kind(res: Resource) -> str:
    """``Deployment.apps`` or ``Pod``: the kind as apiserver error messages spell it."""
    return f"{res.kind}.{res.group}" if res.group else res.kind


def invalid(res: Resource, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid with one cause per (field, message)."""
    text = ", ".join(f"{f}: {m}" for f, m in causes)
    if len(causes) > 1:
        text = f"[{text}]"
    return ApiError(
        422,
        "Invalid",
        f'{qualified_kind(res)} "{name}" is invalid: {text}',
        {
            "name": name,
            "group": res.group,
            "kind": res.kind,
            "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes],
        },
    )


def bad_request(message: str) -> ApiError:
    """400 BadRequest."""
    return ApiError(400, "BadRequest", message)


# ---------------------------------------------------------------------------------------------- conversions
def to_storage(res: Resource, obj: Obj) -> Obj:
    """Convert an object received on ``res``'s version into the stored representation."""
    if res.group == "events.k8s.io":
        return event_from_v1(obj)
    return obj


def drop_nulls(value: Any) -> Any:
    """What decoding into the API's Go types does to explicit JSON nulls: the field is unset.

    A null on an optional field (``metadata.annotations: null``, ``env: null``, ``nodeSelector:
    null``...) decodes to a nil map/slice/pointer, and the omitempty encoding never serves it back,
    so an apiserver never stores or returns a null-valued field. Clients rely on that: kubernetes.core's
    client-side apply reads ``metadata.get("annotations", {})`` and merges the stored object with
    ``dict.get(key, {})``, which a stored null breaks. Keys whose value is null are removed at every
    depth (list elements are kept: a null element is the validator's business).
    """
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for item in value.values():
            drop_nulls(item)
    elif isinstance(value, list):
        for item in value:
            drop_nulls(item)
    return value


def to_version(res: Resource, obj: Obj) -> Obj:
    """Render a stored object for ``res``'s group/version (sets apiVersion/kind)."""
    if res.group == "events.k8s.io":
        return event_to_v1(obj)
    obj["apiVersion"] = res.group_version
    obj["kind"] = res.kind
    return obj


def event_to_v1(ev: Obj) -> Obj:
    """core/v1 Event -> events.k8s.io/v1 Event."""
    out: Obj = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": ev.get("metadata", {})}
    out["eventTime"] = ev.get("eventTime")
    if ev.get("involvedObject"):
        out["regarding"] = ev["involvedObject"]
    for src, dst in (
        ("message", "note"),
        ("reason", "reason"),
        ("type", "type"),
        ("action", "action"),
        ("reportingComponent", "reportingController"),
        ("reportingInstance", "reportingInstance"),
        ("related", "related"),
        ("series", "series"),
    ):
        if ev.get(src) is not None:
            out[dst] = ev[src]
    if ev.get("firstTimestamp"):
        out["deprecatedFirstTimestamp"] = ev["firstTimestamp"]
    if ev.get("lastTimestamp"):
        out["deprecatedLastTimestamp"] = ev["lastTimestamp"]
    if ev.get("count"):
        out["deprecatedCount"] = ev["count"]
    if ev.get("source"):
        out["deprecatedSource"] = ev["source"]
    return out


def event_from_v1(ev: Obj) -> Obj:
    """events.k8s.io/v1 Event -> core/v1 Event."""
    out: Obj = {"apiVersion": "v1", "kind": "Event", "metadata": ev.get("metadata", {})}
    for src, dst in (
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("reason", "reason"),
        ("type", "type"),
        ("action", "action"),
        ("reportingController", "reportingComponent"),
        ("reportingInstance", "reportingInstance"),
        ("related", "related"),
        ("series", "series"),
        ("eventTime", "eventTime"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("deprecatedSource", "source"),
    ):
        if ev.get(src) is not None:
            out[dst] = ev[src]
    return out


# ---------------------------------------------------------------------------------------------- defaulting
def _default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        untagged = ":" not in image.rsplit("/", 1)[-1] and "@" not in image
        container.setdefault("imagePullPolicy", "Always" if untagged or image.endswith(":latest") else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def apply_defaults(store: Store, res: Resource, obj: Obj) -> None:
    """Fill the defaults the apiserver would (only where the field is missing)."""
    kind = res.kind
    spec = obj.get("spec")
    if kind in ("Deployment", "ReplicaSet", "StatefulSet") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            if not (spec.get("strategy") or {}).get("type"):
                spec["strategy"] = {"type": "RollingUpdate"}
            if spec["strategy"]["type"] == "RollingUpdate":
                spec["strategy"].setdefault("rollingUpdate", {"maxSurge": "25%", "maxUnavailable": "25%"})
        if kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
            spec.setdefault("serviceName", obj["metadata"]["name"])
        template = spec.get("template")
        if isinstance(template, dict):
            template.setdefault("metadata", {})
            if isinstance(template.get("spec"), dict):
                _default_pod_spec(template["spec"])
    elif kind == "DaemonSet" and isinstance(spec, dict):
        spec.setdefault("revisionHistoryLimit", 10)
        if not (spec.get("updateStrategy") or {}).get("type"):
            spec["updateStrategy"] = {"type": "RollingUpdate"}
        if spec["updateStrategy"]["type"] == "RollingUpdate":
            spec["updateStrategy"].setdefault("rollingUpdate", {"maxUnavailable": 1, "maxSurge": 0})
        _default_template(spec)
    elif kind == "Job" and isinstance(spec, dict):
        _default_job_spec(obj["metadata"], spec)
    elif kind == "CronJob" and isinstance(spec, dict):
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_template = spec.setdefault("jobTemplate", {})
        jt_spec = job_template.setdefault("spec", {}) if isinstance(job_template, dict) else None
        if isinstance(jt_spec, dict):
            for key, value in (("backoffLimit", 6), ("completionMode", "NonIndexed"), ("suspend", False)):
                jt_spec.setdefault(key, value)
            _default_template(jt_spec)
    elif kind == "Pod" and isinstance(spec, dict):
        _default_pod_spec(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
    elif kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if not spec.get("clusterIP"):
            n = store.next_counter("cluster-ip")
            spec["clusterIP"] = f"10.96.{(n // 200) % 250}.{n % 200 + 20}"
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind == "Service":
        raise invalid(res, obj["metadata"]["name"], [("spec.ports", "Required value")])
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {}) or {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data
    elif kind == "Namespace":
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
    elif kind == "PersistentVolumeClaim" and isinstance(spec, dict):
        from kubesim.controller import default_claim_spec  # local: the controller imports this module

        default_claim_spec(spec, store)
        obj.setdefault("status", {"phase": "Pending"})
    elif kind == "StorageClass":
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
    elif kind == "PersistentVolume" and isinstance(spec, dict):
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")
        obj.setdefault("status", {"phase": "Pending"})
    elif kind == "ServiceAccount":
        pass
    elif kind == "HorizontalPodAutoscaler" and isinstance(spec, dict):
        spec.setdefault("minReplicas", 1)
    elif kind == "Lease" and isinstance(spec, dict):
        for field in ("acquireTime", "renewTime"):
            if spec.get(field):
                spec[field] = micro_time(spec[field], f"spec.{field}")


def _default_template(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        if isinstance(template.get("spec"), dict):
            _default_pod_spec(template["spec"])


def _default_job_spec(meta: Obj, spec: Obj) -> None:
    """What the Job defaulting and the Job strategy's PrepareForCreate do (selector, labels)."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    # with backoffLimitPerIndex the Job-wide limit defaults to the largest int32 (the per-index limit rules)
    spec.setdefault("backoffLimit", 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6)
    for rule in (spec.get("podFailurePolicy") or {}).get("rules") or []:
        for pattern in (rule.get("onPodConditions") or []) if isinstance(rule, dict) else []:
            if isinstance(pattern, dict):
                pattern.setdefault("status", "True")
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    _default_template(spec)
    template = spec.get("template")
    if not isinstance(template, dict) or spec.get("manualSelector") or spec.get("selector"):
        return
    uid = meta.setdefault("uid", str(uuid.uuid4()))
    labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": meta.get("name", ""),
        "controller-uid": uid,
        "job-name": meta.get("name", ""),
    }
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    tmeta = template.setdefault("metadata", {})
    tmeta["labels"] = dict(tmeta.get("labels") or {}, **labels)


def micro_time(value: Any, field: str) -> str:
    """Normalise an RFC 3339 time to the MicroTime wire format ``2026-11-28T10:00:00.000000Z`` (400 if invalid)."""
    when = parse_time(value) if isinstance(value, str) else None
    if when is None:
        raise bad_request(f"{field}: parsing time {value!r} as RFC 3339: cannot parse")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------------------------- validation
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate(res: Resource, obj: Obj, old: Obj | None = None) -> None:
    """Raise 422 Invalid (or 400) for objects a real apiserver refuses."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    name = meta.get("name") or ""
    causes: list[tuple[str, str]] = []
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif len(name) > 253 or not NAME_RE.match(name):
        causes.append(
            (
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist '
                "of lower case alphanumeric characters, '-' or '.', and must start and end "
                "with an alphanumeric character",
            )
        )
    elif res.kind in ("Namespace", "Service") and (len(name) > 63 or not LABEL_RE.match(name)):
        causes.append(
            (
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of '
                "lower case alphanumeric characters or '-'",
            )
        )
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if values is not None and not isinstance(values, dict):
            raise bad_request(f"metadata.{field} must be a map")
        for key, value in (values or {}).items():
            if not isinstance(value, str):
                raise bad_request(
                    f"json: cannot unmarshal {type(value).__name__} into Go struct field "
                    f"ObjectMeta.metadata.{field} of type string (key {key})"
                )
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    kind = res.kind
    if kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        replicas = spec.get("replicas", 1)
        if not _is_int(replicas):
            raise bad_request(
                f"json: cannot unmarshal {type(replicas).__name__} into Go struct field "
                f"{kind}Spec.spec.replicas of type int32"
            )
        if replicas < 0:
            causes.append(("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
        selector = spec.get("selector")
        template = spec.get("template") or {}
        tlabels = (template.get("metadata") or {}).get("labels") or {}
        if not selector:
            causes.append(("spec.selector", "Required value"))
        else:
            from kubesim.selectors import labels_match  # local: avoid a cycle at import time

            if not labels_match(selector_from_match_labels(selector), tlabels):
                causes.append(
                    (
                        "spec.template.metadata.labels",
                        f"Invalid value: {tlabels!r}: `selector` does not match template `labels`",
                    )
                )
        containers = (template.get("spec") or {}).get("containers")
        if not containers:
            causes.append(("spec.template.spec.containers", "Required value"))
        else:
            causes.extend(_container_causes("spec.template.spec.containers", containers))
        if old is not None and old.get("spec", {}).get("selector") != spec.get("selector"):
            causes.append(("spec.selector", f"Invalid value: {spec.get('selector')!r}: field is immutable"))
    elif kind in ("DaemonSet", "Job", "CronJob"):
        causes.extend(_controller_causes(kind, spec, old))
    elif kind == "Pod":
        containers = spec.get("containers")
        if not containers:
            causes.append(("spec.containers", "Required value"))
        else:
            causes.extend(_container_causes("spec.containers", containers))
    elif kind == "Service":
        for i, port in enumerate(spec.get("ports") or []):
            value = port.get("port") if isinstance(port, dict) else None
            if not _is_int(value) or not 0 < value < 65536:
                causes.append(
                    (f"spec.ports[{i}].port", f"Invalid value: {value}: must be between 1 and 65535, inclusive")
                )
    elif kind in ("ConfigMap", "Secret"):
        data = obj.get("data")
        if data is not None and not isinstance(data, dict):
            raise bad_request(f"{kind}.data must be a map")
        for key, value in (data or {}).items():
            if not isinstance(value, str):
                raise bad_request(
                    f"json: cannot unmarshal {type(value).__name__} into Go struct field "
                    f"{kind}.data of type string (key {key})"
                )
            if kind == "Secret":
                try:
                    base64.b64decode(value, validate=True)
                except ValueError:
                    raise bad_request(f"illegal base64 data in Secret.data[{key}]") from None
        if old is not None and old.get("immutable") and (old.get("data") != obj.get("data")):
            causes.append(("data", "Forbidden: field is immutable when `immutable` is set"))
    elif kind == "HorizontalPodAutoscaler":
        lo, hi = spec.get("minReplicas", 1), spec.get("maxReplicas")
        if not _is_int(hi) or hi < 1:
            causes.append(("spec.maxReplicas", f"Invalid value: {hi}: must be greater than or equal to 1"))
        elif _is_int(lo) and lo > hi:
            causes.append(("spec.maxReplicas", f"Invalid value: {hi}: must be greater than or equal to `minReplicas`"))
        if _is_int(lo) and lo < 1:
            causes.append(("spec.minReplicas", f"Invalid value: {lo}: must be greater than or equal to 1"))
    elif kind == "Lease":
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and (not _is_int(duration) or duration < 1):
            causes.append(("spec.leaseDurationSeconds", f"Invalid value: {duration}: must be greater than 0"))
    if causes:
        raise invalid(res, name, causes)


def _controller_causes(kind: str, spec: Obj, old: Obj | None) -> list[tuple[str, str]]:
    """Validation of DaemonSet, Job and CronJob specs (the parts a client notices)."""
    causes: list[tuple[str, str]] = []
    prefix = "spec"
    if kind == "CronJob":
        from kubesim.cron import CronError, parse_cron  # local: keep api importable alone

        schedule = spec.get("schedule")
        if not schedule:
            causes.append(("spec.schedule", "Required value"))
        else:
            try:
                parse_cron(str(schedule))
            except CronError as exc:
                causes.append(("spec.schedule", f'Invalid value: "{schedule}": {exc}'))
        time_zone = spec.get("timeZone")
        if time_zone is not None:
            from kubesim.cron import zone

            try:
                if not isinstance(time_zone, str) or not time_zone:
                    raise CronError("timeZone must be nil or non-empty string")
                zone(time_zone)
            except CronError as exc:
                causes.append(("spec.timeZone", f'Invalid value: "{time_zone}": {exc}'))
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and (not _is_int(deadline) or deadline < 0):
            causes.append(("spec.startingDeadlineSeconds",
                           f"Invalid value: {deadline}: must be greater than or equal to 0"))  # fmt: skip
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        prefix = "spec.jobTemplate.spec"
    template = spec.get("template") or {}
    tspec = template.get("spec") or {}
    containers = tspec.get("containers")
    if not containers:
        causes.append((f"{prefix}.template.spec.containers", "Required value"))
    else:
        causes.extend(_container_causes(f"{prefix}.template.spec.containers", containers))
    if kind == "DaemonSet":
        selector = spec.get("selector")
        tlabels = (template.get("metadata") or {}).get("labels") or {}
        if not selector:
            causes.append(("spec.selector", "Required value"))
        else:
            from kubesim.selectors import labels_match

            if not labels_match(selector_from_match_labels(selector), tlabels):
                causes.append(
                    (
                        "spec.template.metadata.labels",
                        f"Invalid value: {tlabels!r}: `selector` does not match template `labels`",
                    )
                )
        if old is not None and old.get("spec", {}).get("selector") != spec.get("selector"):
            causes.append(("spec.selector", f"Invalid value: {spec.get('selector')!r}: field is immutable"))
        if tspec.get("restartPolicy", "Always") != "Always":
            causes.append(
                (
                    "spec.template.spec.restartPolicy",
                    f'Unsupported value: "{tspec.get("restartPolicy")}": supported values: "Always"',
                )
            )
    else:
        policy = tspec.get("restartPolicy")
        if policy not in ("OnFailure", "Never"):
            causes.append(
                (
                    f"{prefix}.template.spec.restartPolicy",
                    'Required value: valid values: "OnFailure", "Never"'
                    if policy is None
                    else f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"',
                )
            )
        for field in ("parallelism", "completions", "backoffLimit"):
            value = spec.get(field)
            if value is not None and (not _is_int(value) or value < 0):
                causes.append((f"{prefix}.{field}", f"Invalid value: {value}: must be greater than or equal to 0"))
        causes.extend(_job_policy_causes(prefix, spec, policy))
        if kind == "Job" and old is not None:
            old_spec = old.get("spec") or {}
            if spec.get("selector") is not None and old_spec.get("selector") != spec.get("selector"):
                causes.append(("spec.selector", f"Invalid value: {spec.get('selector')!r}: field is immutable"))
            if spec.get("completions") != old_spec.get("completions") and spec.get("completions") is not None:
                causes.append(("spec.completions", f"Invalid value: {spec.get('completions')}: field is immutable"))
    return causes


def _job_policy_causes(prefix: str, spec: Obj, restart_policy: Any) -> list[tuple[str, str]]:
    """podFailurePolicy, backoffLimitPerIndex, maxFailedIndexes and successPolicy (the Job validation's rules)."""
    causes: list[tuple[str, str]] = []
    indexed = spec.get("completionMode") == "Indexed"
    completions = spec.get("completions")
    per_index = spec.get("backoffLimitPerIndex")
    if per_index is not None:
        if not _is_int(per_index) or per_index < 0:
            causes.append((f"{prefix}.backoffLimitPerIndex",
                           f"Invalid value: {per_index}: must be greater than or equal to 0"))  # fmt: skip
        if not indexed:
            causes.append((f"{prefix}.backoffLimitPerIndex",
                           f"Invalid value: {per_index}: requires indexed completion mode"))  # fmt: skip
    max_failed = spec.get("maxFailedIndexes")
    if max_failed is not None:
        if per_index is None:
            causes.append((f"{prefix}.maxFailedIndexes", "Required value: requires backoffLimitPerIndex"))
        elif _is_int(max_failed) and _is_int(completions) and max_failed > completions:
            causes.append((f"{prefix}.maxFailedIndexes",
                           f"Invalid value: {max_failed}: must be less than or equal to completions"))  # fmt: skip
    policy = spec.get("podFailurePolicy")
    if policy is not None:
        path = f"{prefix}.podFailurePolicy"
        if restart_policy != "Never":
            causes.append((f"{prefix}.template.spec.restartPolicy",
                           f'Invalid value: "{restart_policy}": only "Never" is supported when podFailurePolicy '
                           "is specified"))  # fmt: skip
        actions = ("Count", "FailIndex", "FailJob", "Ignore")
        for i, rule in enumerate((policy or {}).get("rules") or []):
            rpath = f"{path}.rules[{i}]"
            action = rule.get("action")
            if action not in actions:
                causes.append((f"{rpath}.action", f'Unsupported value: "{action}": supported values: '
                               + ", ".join(f'"{a}"' for a in actions)))  # fmt: skip
            elif action == "FailIndex" and per_index is None:
                causes.append((f"{rpath}.action", 'Invalid value: "FailIndex": requires the backoffLimitPerIndex '
                               "to be set"))  # fmt: skip
            codes, conds = rule.get("onExitCodes"), rule.get("onPodConditions")
            if codes is None and conds is None:
                causes.append((rpath, "Invalid value: specifying one of OnExitCodes and OnPodConditions is required"))
            elif codes is not None and conds is not None:
                causes.append((rpath, "Invalid value: specifying both OnExitCodes and OnPodConditions is not "
                               "supported"))  # fmt: skip
            elif codes is not None:
                operator = codes.get("operator")
                if operator not in ("In", "NotIn"):
                    causes.append((f"{rpath}.onExitCodes.operator",
                                   f'Unsupported value: "{operator}": supported values: "In", "NotIn"'))  # fmt: skip
                values = codes.get("values") or []
                if not values:
                    causes.append((f"{rpath}.onExitCodes.values", "Invalid value: at least one value is required"))
                for j, value in enumerate(values):
                    if operator == "In" and value == 0:
                        causes.append((f"{rpath}.onExitCodes.values[{j}]",
                                       "Invalid value: 0: must not be 0 for the In operator"))  # fmt: skip
    success = spec.get("successPolicy")
    if success is not None:
        path = f"{prefix}.successPolicy"
        if not indexed:
            causes.append((path, "Invalid value: requires indexed completion mode"))
        rules = (success or {}).get("rules") or []
        if not rules:
            causes.append((f"{path}.rules", "Required value: at least one rules must be specified"))
        for i, rule in enumerate(rules):
            count = rule.get("succeededCount")
            if rule.get("succeededIndexes") is None and count is None:
                causes.append((f"{path}.rules[{i}]",
                               "Required value: at least one of succeededCount or succeededIndexes must be "
                               "specified"))  # fmt: skip
            if count is not None and _is_int(completions) and (not _is_int(count) or count > completions):
                causes.append((f"{path}.rules[{i}].succeededCount",
                               f"Invalid value: {count}: must be less than or equal to {completions} "
                               "(the number of specified completions)"))  # fmt: skip
    return causes


def _container_causes(path: str, containers: Any) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    if not isinstance(containers, list):
        return [(path, "Invalid value: must be a list")]
    seen: set[str] = set()
    for i, container in enumerate(containers):
        if not isinstance(container, dict):
            causes.append((f"{path}[{i}]", "Invalid value: must be an object"))
            continue
        cname = container.get("name")
        if not cname:
            causes.append((f"{path}[{i}].name", "Required value"))
        elif cname in seen:
            causes.append((f"{path}[{i}].name", f'Duplicate value: "{cname}"'))
        seen.add(cname or "")
        if not container.get("image"):
            causes.append((f"{path}[{i}].image", "Required value"))
        for j, env in enumerate(container.get("env") or []):
            if not isinstance(env, dict) or not env.get("name"):
                causes.append((f"{path}[{i}].env[{j}].name", "Required value"))
            elif "value" in env and env["value"] is not None and not isinstance(env["value"], str):
                causes.append((f"{path}[{i}].env[{j}].value", "Invalid value: must be a string"))
    return causes


# ---------------------------------------------------------------------------------------------- operations


def stamp_managed_fields(meta: Obj, manager: str, operation: str, api_version: str, subresource: str = "") -> None:
    """Record that ``manager`` wrote the object now, as the API server's ``metadata.managedFields`` do.

    One entry per manager, operation and subresource, its ``time`` the last write that changed something
    (a no-op write keeps it). ``fieldsV1`` stays empty: kubesim does not track field ownership.
    """
    manager = manager or "unknown"
    entries = [
        e
        for e in meta.get("managedFields") or []
        if (e.get("manager"), e.get("operation"), e.get("subresource", "")) != (manager, operation, subresource)
    ]
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now_rfc3339(),
             "fieldsType": "FieldsV1", "fieldsV1": {}}  # fmt: skip
    if subresource:
        entry["subresource"] = subresource
    entries.append(entry)
    meta["managedFields"] = entries


class Api:
    """Create/read/update/patch/delete with apiserver semantics."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- reads
    def get(self, res: Resource, namespace: str, name: str) -> Obj:
        """GET one object (rendered for ``res``'s version)."""
        obj = self.store.get(res.storage_key, namespace if res.namespaced else "", name)
        if obj is None:
            raise not_found(res.group_resource, name, res.group, res.plural)
        return to_version(res, obj)

    def require_namespace(self, namespace: str, res: Resource | None = None, name: str = "") -> None:
        """404 when a namespaced create targets a namespace that does not exist, 403 while it terminates.

        The apiserver's NamespaceLifecycle admission: no new content in a namespace being deleted
        (``deletionTimestamp`` set, phase Terminating) until the namespace controller has emptied it.
        """
        ns = self.store.peek("/namespaces", "", namespace)
        if ns is None:
            raise not_found("namespaces", namespace, "", "namespaces")
        if ns["metadata"].get("deletionTimestamp") and res is not None:
            subject = f'{res.group_resource} "{name}"' if name else res.group_resource
            raise ApiError(
                403,
                "Forbidden",
                f"{subject} is forbidden: unable to create new content in namespace {namespace} "
                "because it is being terminated",
                {
                    "name": name,
                    "group": res.group,
                    "kind": res.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    # ---- create
    def create(self, res: Resource, namespace: str, body: Any, dry_run: bool = False, manager: str = "") -> Obj:
        """POST: default, validate and store a new object."""
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format")
        obj = to_storage(res, copy.deepcopy(body))
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        body_kind = body.get("kind")
        if body_kind and body_kind != res.kind:
            raise bad_request(
                f"the API version in the data ({body.get('apiVersion')}) does not match the expected "
                f"API version ({res.group_version}) or kind {body_kind} != {res.kind}"
            )
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            for _ in range(20):
                candidate = meta["generateName"] + random_suffix()
                if self.store.get(res.storage_key, meta.get("namespace", ""), candidate) is None:
                    meta["name"] = candidate
                    break
        if res.namespaced and res.kind != "Event":
            self.require_namespace(namespace, res, meta.get("name") or "")
        for field in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "managedFields", "selfLink"):
            meta.pop(field, None)
        obj["apiVersion"] = "v1" if res.storage_key == "events" else by_storage(res.storage_key).group_version
        obj["kind"] = res.kind
        stamp_managed_fields(meta, manager, "Update", obj["apiVersion"])
        validate(res, obj)
        drop_nulls(obj)
        apply_defaults(self.store, res, obj)
        if isinstance(obj.get("spec"), dict) and res.kind not in ("Namespace",):
            meta["generation"] = 1
        if res.kind in (*WORKLOAD_KINDS, "Job", "CronJob") and not isinstance(obj.get("status"), dict):
            obj["status"] = {}
        try:
            created = self.store.create(res.storage_key, obj, dry_run=dry_run)
        except ApiError as exc:
            if exc.reason == "AlreadyExists":
                existing = self.store.peek(res.storage_key, meta.get("namespace", ""), meta["name"])
                being_deleted = (
                    "object is being deleted: " if existing and existing["metadata"].get("deletionTimestamp") else ""
                )
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{being_deleted}{res.group_resource} "{meta["name"]}" already exists',
                    {"name": meta["name"], "group": res.group, "kind": res.plural},
                ) from None
            raise
        return to_version(res, created)

    # ---- update
    def _finish_update(
        self,
        res: Resource,
        old: Obj,
        new: Obj,
        subresource: str,
        dry_run: bool,
        manager: str = "",
        operation: str = "Update",
    ) -> Obj:
        """Common tail of PUT and PATCH: preconditions, immutable fields, generation, no-op detection."""
        name = old["metadata"]["name"]
        if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
            raise bad_request("the body of the request was in an unknown format")
        new_meta = new["metadata"]
        want_rv = new_meta.get("resourceVersion")
        if want_rv not in (None, "") and str(want_rv) != old["metadata"]["resourceVersion"]:
            raise conflict(res.group_resource, name, res.group, res.plural)
        if new_meta.get("name") not in (None, name):
            raise bad_request(
                f"the name of the object ({new_meta.get('name')}) does not match the name on the URL ({name})"
            )
        if res.namespaced and new_meta.get("namespace") not in (None, "", old["metadata"].get("namespace")):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        if subresource == "status":
            merged = copy.deepcopy(old)
            merged["status"] = new.get("status", {})
            new = merged
        else:
            if res.has_status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            for field in ("uid", "creationTimestamp", "generation", "namespace", "name", "deletionTimestamp"):
                if field in old["metadata"]:
                    new_meta[field] = old["metadata"][field]
                else:
                    new_meta.pop(field, None)
            new_meta["managedFields"] = copy.deepcopy(old["metadata"].get("managedFields", []))
            new["apiVersion"] = old.get("apiVersion")
            new["kind"] = old.get("kind")
            if res.kind == "Service" and isinstance(new.get("spec"), dict) and not new["spec"].get("clusterIP"):
                for field in ("clusterIP", "clusterIPs"):
                    if field in old.get("spec", {}):
                        new["spec"][field] = old["spec"][field]
            validate(res, new, old)
            # the client's nulls go; the stored status (kept above) is served as the controllers wrote it
            for key in [k for k, v in new.items() if v is None]:
                del new[key]
            for key, value in new.items():
                if key != "status" or not res.has_status:
                    drop_nulls(value)
            apply_defaults(self.store, res, new)
            if "generation" in old["metadata"] and new.get("spec") != old.get("spec"):
                new_meta["generation"] = old["metadata"]["generation"] + 1
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old:
            return to_version(res, old)
        stamp_managed_fields(new["metadata"], manager, operation, old.get("apiVersion") or "v1", subresource)
        if (
            new["metadata"].get("deletionTimestamp")
            and not new["metadata"].get("finalizers")
            and res.kind != "Namespace"
        ):
            # the last finalizer removed from an object being deleted: it goes now
            if not dry_run:
                self._cascade(old["metadata"]["uid"], old["metadata"].get("namespace", ""), "Background")
                self.store.delete(res.storage_key, old["metadata"].get("namespace", ""), name)
            return to_version(res, new)
        return to_version(res, self.store.replace(res.storage_key, new, dry_run=dry_run))

    def update(
        self,
        res: Resource,
        namespace: str,
        name: str,
        body: Any,
        subresource: str = "",
        dry_run: bool = False,
        manager: str = "",
    ) -> Obj:
        """PUT on an object or its status subresource."""
        ns = namespace if res.namespaced else ""
        with self.store.lock:
            old = self.store.get(res.storage_key, ns, name)
            if old is None:
                raise not_found(res.group_resource, name, res.group, res.plural)
            if not isinstance(body, dict):
                raise bad_request("the body of the request was in an unknown format")
            new = to_storage(res, copy.deepcopy(body))
            new.setdefault("metadata", {})
            if res.kind == "Namespace" and subresource == "finalize":
                subresource = ""
            return self._finish_update(res, old, new, subresource, dry_run, manager)

    def patch(
        self,
        res: Resource,
        namespace: str,
        name: str,
        content_type: str,
        body: Any,
        subresource: str = "",
        dry_run: bool = False,
        manager: str = "",
    ) -> Obj:
        """PATCH (merge, strategic, json, apply) on an object or its status subresource."""
        ns = namespace if res.namespaced else ""
        with self.store.lock:
            old = self.store.get(res.storage_key, ns, name)
            if old is None:
                if content_type == patches.APPLY_PATCH and not subresource:
                    return self.create(res, namespace, body, dry_run=dry_run, manager=manager)
                raise not_found(res.group_resource, name, res.group, res.plural)
            current = to_version(res, copy.deepcopy(old))
            if content_type == patches.APPLY_PATCH and isinstance(body, dict):
                body = copy.deepcopy(body)
                if isinstance(body.get("metadata"), dict):
                    body["metadata"].pop("resourceVersion", None)
            try:
                patched = patches.apply_any(content_type, current, body)
            except patches.PatchError as exc:
                raise ApiError(
                    422 if content_type == patches.JSON_PATCH else 400,
                    "Invalid" if content_type == patches.JSON_PATCH else "BadRequest",
                    str(exc),
                ) from None
            if not isinstance(patched, dict):
                raise bad_request("the patched object is not an object")
            new = to_storage(res, patched)
            new.setdefault("metadata", {})
            operation = "Apply" if content_type == patches.APPLY_PATCH else "Update"
            return self._finish_update(res, old, new, subresource, dry_run, manager, operation)

    # ---- scale subresource
    def get_scale(self, res: Resource, namespace: str, name: str) -> Obj:
        """GET .../scale: an autoscaling/v1 Scale built from the workload."""
        obj = self.store.get(res.storage_key, namespace, name)
        if obj is None:
            raise not_found(res.group_resource, name, res.group, res.plural)
        return scale_of(obj)

    def update_scale(
        self, res: Resource, namespace: str, name: str, content_type: str | None, body: Any, dry_run: bool = False
    ) -> Obj:
        """PUT or PATCH .../scale: changes spec.replicas of the workload."""
        with self.store.lock:
            obj = self.store.get(res.storage_key, namespace, name)
            if obj is None:
                raise not_found(res.group_resource, name, res.group, res.plural)
            scale = scale_of(obj)
            if content_type is None:
                new_scale = body
            else:
                try:
                    new_scale = patches.apply_any(content_type, scale, body)
                except patches.PatchError as exc:
                    raise bad_request(str(exc)) from None
            if not isinstance(new_scale, dict):
                raise bad_request("the body of the request was in an unknown format")
            want_rv = (new_scale.get("metadata") or {}).get("resourceVersion")
            if want_rv not in (None, "") and str(want_rv) != obj["metadata"]["resourceVersion"]:
                raise conflict(res.group_resource, name, res.group, res.plural)
            replicas = (new_scale.get("spec") or {}).get("replicas", 0)
            scale_res = lookup("autoscaling", "v1", "horizontalpodautoscalers")
            assert scale_res is not None
            if not _is_int(replicas):
                raise bad_request("json: cannot unmarshal into Go struct field ScaleSpec.spec.replicas of type int32")
            if replicas < 0:
                raise ApiError(
                    422,
                    "Invalid",
                    f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                    f"{replicas}: must be greater than or equal to 0",
                    {
                        "name": name,
                        "group": "autoscaling",
                        "kind": "Scale",
                        "causes": [
                            {
                                "reason": "FieldValueInvalid",
                                "field": "spec.replicas",
                                "message": f"Invalid value: {replicas}: must be greater than or equal to 0",
                            }
                        ],
                    },
                )
            if obj["spec"].get("replicas") == replicas:
                return scale
            obj["spec"]["replicas"] = replicas
            obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
            stored = self.store.replace(res.storage_key, obj, dry_run=dry_run)
            return scale_of(stored)

    # ---- delete
    def delete(
        self, res: Resource, namespace: str, name: str, options: Obj | None = None, dry_run: bool = False
    ) -> Obj:
        """DELETE one object; cascades to dependents unless propagationPolicy is Orphan."""
        ns = namespace if res.namespaced else ""
        options = options or {}
        with self.store.lock:
            obj = self.store.get(res.storage_key, ns, name)
            if obj is None:
                raise not_found(res.group_resource, name, res.group, res.plural)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f"Precondition failed: UID in precondition: {pre['uid']}, UID in "
                    f"object meta: {obj['metadata']['uid']}",
                    {"name": name},
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                raise conflict(res.group_resource, name, res.group, res.plural)
            policy = options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else "Background")
            if policy == "Foreground" and not dry_run and res.kind != "Namespace" and self._has_dependents(obj):
                # the owner stays (deletionTimestamp + foregroundDeletion finalizer) until the garbage
                # collector has removed its dependents; the controller finishes the deletion
                marked = copy.deepcopy(obj)
                meta = marked["metadata"]
                meta.setdefault("deletionTimestamp", now_rfc3339())
                meta["deletionGracePeriodSeconds"] = 0
                meta["finalizers"] = list(dict.fromkeys((meta.get("finalizers") or []) + ["foregroundDeletion"]))
                return to_version(res, self.store.replace(res.storage_key, marked))
            if obj["metadata"].get("finalizers") and res.kind != "Namespace":
                # finalizers hold the object (deletionTimestamp set) until their controllers remove them
                if obj["metadata"].get("deletionTimestamp"):
                    return to_version(res, obj)
                marked = copy.deepcopy(obj)
                marked["metadata"]["deletionTimestamp"] = now_rfc3339()
                marked["metadata"]["deletionGracePeriodSeconds"] = 0
                return to_version(res, self.store.replace(res.storage_key, marked, dry_run=dry_run))
            if res.kind == "Namespace":
                # asynchronous, as on a cluster: the namespace goes Terminating and the namespace
                # controller (kubesim.controller) deletes its content, then the namespace itself
                if obj["metadata"].get("deletionTimestamp"):
                    return to_version(res, obj)
                marked = copy.deepcopy(obj)
                marked["metadata"]["deletionTimestamp"] = now_rfc3339()
                marked["metadata"]["deletionGracePeriodSeconds"] = 0
                marked["status"] = dict(marked.get("status") or {}, phase="Terminating")
                return to_version(res, self.store.replace(res.storage_key, marked, dry_run=dry_run))
            if not dry_run:
                self._cascade(obj["metadata"]["uid"], ns, policy)
                if res.kind == "Service":
                    self.store.delete("/endpoints", ns, name)  # what the endpoints controller does
            gone = self.store.delete(res.storage_key, ns, name, dry_run=dry_run)
            assert gone is not None
            if res.plural in RETURN_DELETED:
                return to_version(res, gone)
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": res.group, "kind": res.plural, "uid": obj["metadata"]["uid"]},
            }

    def _has_dependents(self, owner: Obj) -> bool:
        uid, ns = owner["metadata"]["uid"], owner["metadata"].get("namespace", "")
        return any(
            obj_ns == ns and any(r.get("uid") == uid for r in dep["metadata"].get("ownerReferences") or [])
            for objs in self.store.objects.values()
            for (obj_ns, _), dep in objs.items()
        )

    def _cascade(self, uid: str, namespace: str, policy: str) -> None:
        for storage, objs in list(self.store.objects.items()):
            for (obj_ns, obj_name), dep in list(objs.items()):
                refs = dep["metadata"].get("ownerReferences") or []
                if obj_ns != namespace or not any(r.get("uid") == uid for r in refs):
                    continue
                if policy == "Orphan":
                    orphan = copy.deepcopy(dep)
                    orphan["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    if not orphan["metadata"]["ownerReferences"]:
                        del orphan["metadata"]["ownerReferences"]
                    self.store.replace(storage, orphan)
                else:
                    self._cascade(dep["metadata"]["uid"], obj_ns, policy)
                    self.store.delete(storage, obj_ns, obj_name)


def scale_of(obj: Obj) -> Obj:
    """The autoscaling/v1 Scale view of a Deployment/ReplicaSet/StatefulSet."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": selector_string(obj.get("spec", {}).get("selector")),
        },
    }


def secret_value(obj: Obj, key: str) -> str:
    """Decode one key of a Secret (helper for tests and hooks)."""
    return base64.b64decode(obj.get("data", {}).get(key, "")).decode()


def timestamp() -> str:
    """Re-exported for callers that build objects."""
    return now_rfc3339()


__all__ = ["Api", "ApiError", "random_suffix", "scale_of"]
