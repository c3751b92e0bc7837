"""Decode the Kubernetes protobuf request bodies kubectl's typed clients send.

kubectl encodes the bodies of typed-client writes (``kubectl create configmap|secret|namespace|
deployment|job|cronjob|service|token``, ``kubectl auth can-i``) as ``application/vnd.kubernetes.protobuf``:
the ``k8s\\x00`` magic, then a ``runtime.Unknown`` envelope holding the apiVersion/kind and the
object's protobuf. This module turns such bodies into the JSON-shaped dicts the rest of kubesim
uses, for the kinds listed in :data:`KINDS` (field numbers from the Kubernetes ``generated.proto``
files). Unknown fields are skipped; other kinds raise :class:`ProtobufError` (answered with 415).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """The body cannot be decoded."""


# field spec: number -> (json name, type, repeated). Types: string, bytes, int, bool, time, microtime,
# intorstring, quantity, rawext, map:string, map:bytes, map:quantity, or a message name.
F = tuple[str, str, bool]
M: dict[str, dict[int, F]] = {
    "ObjectMeta": {
        1: ("name", "string", False),
        2: ("generateName", "string", False),
        3: ("namespace", "string", False),
        5: ("uid", "string", False),
        6: ("resourceVersion", "string", False),
        7: ("generation", "int", False),
        8: ("creationTimestamp", "time", False),
        11: ("labels", "map:string", False),
        12: ("annotations", "map:string", False),
        13: ("ownerReferences", "OwnerReference", True),
        14: ("finalizers", "string", True),
    },
    "OwnerReference": {
        1: ("kind", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
        5: ("apiVersion", "string", False),
        6: ("controller", "bool", False),
        7: ("blockOwnerDeletion", "bool", False),
    },
    "ConfigMap": {
        1: ("metadata", "ObjectMeta", False),
        2: ("data", "map:string", False),
        3: ("binaryData", "map:bytes", False),
        4: ("immutable", "bool", False),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta", False),
        2: ("data", "map:bytes", False),
        3: ("type", "string", False),
        4: ("stringData", "map:string", False),
        5: ("immutable", "bool", False),
    },
    "Namespace": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "NamespaceSpec", False)},
    "NamespaceSpec": {1: ("finalizers", "string", True)},
    "ServiceAccount": {1: ("metadata", "ObjectMeta", False), 4: ("automountServiceAccountToken", "bool", False)},
    "Service": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "ServiceSpec", False)},
    "ServiceSpec": {
        1: ("ports", "ServicePort", True),
        2: ("selector", "map:string", False),
        3: ("clusterIP", "string", False),
        4: ("type", "string", False),
        5: ("externalIPs", "string", True),
        7: ("sessionAffinity", "string", False),
        10: ("externalName", "string", False),
    },
    "ServicePort": {
        1: ("name", "string", False),
        2: ("protocol", "string", False),
        3: ("port", "int", False),
        4: ("targetPort", "intorstring", False),
        5: ("nodePort", "int", False),
    },
    "Deployment": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "DeploymentSpec", False)},
    "DeploymentSpec": {
        1: ("replicas", "int", False),
        2: ("selector", "LabelSelector", False),
        3: ("template", "PodTemplateSpec", False),
        4: ("strategy", "DeploymentStrategy", False),
        5: ("minReadySeconds", "int", False),
        6: ("revisionHistoryLimit", "int", False),
        7: ("paused", "bool", False),
        9: ("progressDeadlineSeconds", "int", False),
    },
    "DeploymentStrategy": {1: ("type", "string", False), 2: ("rollingUpdate", "RollingUpdateDeployment", False)},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "intorstring", False), 2: ("maxSurge", "intorstring", False)},
    "Job": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "JobSpec", False)},
    "JobSpec": {
        1: ("parallelism", "int", False),
        2: ("completions", "int", False),
        3: ("activeDeadlineSeconds", "int", False),
        4: ("selector", "LabelSelector", False),
        5: ("manualSelector", "bool", False),
        6: ("template", "PodTemplateSpec", False),
        7: ("backoffLimit", "int", False),
        8: ("ttlSecondsAfterFinished", "int", False),
        9: ("completionMode", "string", False),
        10: ("suspend", "bool", False),
        14: ("podReplacementPolicy", "string", False),
    },
    "CronJob": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "CronJobSpec", False)},
    "CronJobSpec": {
        1: ("schedule", "string", False),
        2: ("startingDeadlineSeconds", "int", False),
        3: ("concurrencyPolicy", "string", False),
        4: ("suspend", "bool", False),
        5: ("jobTemplate", "JobTemplateSpec", False),
        6: ("successfulJobsHistoryLimit", "int", False),
        7: ("failedJobsHistoryLimit", "int", False),
        8: ("timeZone", "string", False),
    },
    "JobTemplateSpec": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "JobSpec", False)},
    "LabelSelector": {
        1: ("matchLabels", "map:string", False),
        2: ("matchExpressions", "LabelSelectorRequirement", True),
    },
    "LabelSelectorRequirement": {
        1: ("key", "string", False),
        2: ("operator", "string", False),
        3: ("values", "string", True),
    },
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False)},
    "PodSpec": {
        2: ("containers", "Container", True),
        3: ("restartPolicy", "string", False),
        4: ("terminationGracePeriodSeconds", "int", False),
        6: ("dnsPolicy", "string", False),
        7: ("nodeSelector", "map:string", False),
        8: ("serviceAccountName", "string", False),
        10: ("nodeName", "string", False),
        20: ("initContainers", "Container", True),
    },
    "Container": {
        1: ("name", "string", False),
        2: ("image", "string", False),
        3: ("command", "string", True),
        4: ("args", "string", True),
        5: ("workingDir", "string", False),
        6: ("ports", "ContainerPort", True),
        7: ("env", "EnvVar", True),
        8: ("resources", "ResourceRequirements", False),
        14: ("imagePullPolicy", "string", False),
        13: ("terminationMessagePath", "string", False),
        20: ("terminationMessagePolicy", "string", False),
    },
    "ContainerPort": {
        1: ("name", "string", False),
        2: ("hostPort", "int", False),
        3: ("containerPort", "int", False),
        4: ("protocol", "string", False),
    },
    "EnvVar": {1: ("name", "string", False), 2: ("value", "string", False)},
    "ResourceRequirements": {1: ("limits", "map:quantity", False), 2: ("requests", "map:quantity", False)},
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "SelfSubjectAccessReviewSpec", False),
    },
    "SubjectAccessReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "SubjectAccessReviewSpec", False)},
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes", False),
        2: ("nonResourceAttributes", "NonResourceAttributes", False),
    },
    "SubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes", False),
        2: ("nonResourceAttributes", "NonResourceAttributes", False),
        3: ("user", "string", False),
        4: ("groups", "string", True),
        6: ("uid", "string", False),
    },
    "ResourceAttributes": {
        1: ("namespace", "string", False),
        2: ("verb", "string", False),
        3: ("group", "string", False),
        4: ("version", "string", False),
        5: ("resource", "string", False),
        6: ("subresource", "string", False),
        7: ("name", "string", False),
    },
    "NonResourceAttributes": {1: ("path", "string", False), 2: ("verb", "string", False)},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "SelfSubjectRulesReviewSpec", False)},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "string", False)},
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta", False)},
    "TokenRequest": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "TokenRequestSpec", False)},
    "TokenRequestSpec": {
        1: ("audiences", "string", True),
        3: ("boundObjectRef", "BoundObjectReference", False),
        4: ("expirationSeconds", "int", False),
    },
    "BoundObjectReference": {
        1: ("kind", "string", False),
        2: ("apiVersion", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
    },
    "TokenReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "TokenReviewSpec", False)},
    "TokenReviewSpec": {1: ("token", "string", False), 2: ("audiences", "string", True)},
    "Eviction": {1: ("metadata", "ObjectMeta", False), 2: ("deleteOptions", "DeleteOptions", False)},
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int", False),
        2: ("preconditions", "Preconditions", False),
        3: ("orphanDependents", "bool", False),
        4: ("propagationPolicy", "string", False),
        5: ("dryRun", "string", True),
    },
    "Preconditions": {1: ("uid", "string", False), 2: ("resourceVersion", "string", False)},
    "Lease": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "LeaseSpec", False)},
    "LeaseSpec": {
        1: ("holderIdentity", "string", False),
        2: ("leaseDurationSeconds", "int", False),
        3: ("acquireTime", "microtime", False),
        4: ("renewTime", "microtime", False),
        5: ("leaseTransitions", "int", False),
    },
    "Role": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "ClusterRole": {
        1: ("metadata", "ObjectMeta", False),
        2: ("rules", "PolicyRule", True),
        3: ("aggregationRule", "AggregationRule", False),
    },
    "AggregationRule": {1: ("clusterRoleSelectors", "LabelSelector", True)},
    "PolicyRule": {
        1: ("verbs", "string", True),
        2: ("apiGroups", "string", True),
        3: ("resources", "string", True),
        4: ("resourceNames", "string", True),
        5: ("nonResourceURLs", "string", True),
    },
    "RoleBinding": {
        1: ("metadata", "ObjectMeta", False),
        2: ("subjects", "Subject", True),
        3: ("roleRef", "RoleRef", False),
    },
    "ClusterRoleBinding": {
        1: ("metadata", "ObjectMeta", False),
        2: ("subjects", "Subject", True),
        3: ("roleRef", "RoleRef", False),
    },
    "Subject": {
        1: ("kind", "string", False),
        2: ("apiGroup", "string", False),
        3: ("name", "string", False),
        4: ("namespace", "string", False),
    },
    "RoleRef": {1: ("apiGroup", "string", False), 2: ("kind", "string", False), 3: ("name", "string", False)},
    "Pod": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False)},
    "HorizontalPodAutoscaler": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "HPASpecV2", False)},
    "HorizontalPodAutoscaler@autoscaling/v1": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "HPASpecV1", False)},
    "HPASpecV2": {
        1: ("scaleTargetRef", "CrossVersionObjectReference", False),
        2: ("minReplicas", "int", False),
        3: ("maxReplicas", "int", False),
        4: ("metrics", "MetricSpec", True),
    },
    "HPASpecV1": {
        1: ("scaleTargetRef", "CrossVersionObjectReference", False),
        2: ("minReplicas", "int", False),
        3: ("maxReplicas", "int", False),
        4: ("targetCPUUtilizationPercentage", "int", False),
    },
    "CrossVersionObjectReference": {
        1: ("kind", "string", False),
        2: ("name", "string", False),
        3: ("apiVersion", "string", False),
    },
    "MetricSpec": {1: ("type", "string", False), 4: ("resource", "ResourceMetricSource", False)},
    "ResourceMetricSource": {1: ("name", "string", False), 2: ("target", "MetricTarget", False)},
    "MetricTarget": {
        1: ("type", "string", False),
        2: ("value", "quantity", False),
        3: ("averageValue", "quantity", False),
        4: ("averageUtilization", "int", False),
    },
}
# Optional (pointer) fields: Go writes them only when set, so their zero value is meaningful.
POINTER_FIELDS = {
    "replicas",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "terminationGracePeriodSeconds",
    "expirationSeconds",
    "gracePeriodSeconds",
    "leaseDurationSeconds",
    "leaseTransitions",
    "immutable",
    "automountServiceAccountToken",
    "controller",
    "blockOwnerDeletion",
    "orphanDependents",
    "propagationPolicy",
}
KINDS = {
    "ConfigMap",
    "Secret",
    "Namespace",
    "ServiceAccount",
    "Service",
    "Deployment",
    "Job",
    "CronJob",
    "Pod",
    "SelfSubjectAccessReview",
    "SubjectAccessReview",
    "SelfSubjectRulesReview",
    "SelfSubjectReview",
    "TokenRequest",
    "TokenReview",
    "Eviction",
    "DeleteOptions",
    "Lease",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "HorizontalPodAutoscaler",
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> list[tuple[int, int, Any]]:
    """Raw (field number, wire type, value) triples of one message."""
    out = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value = data[pos : pos + length]
            pos += length
        elif wire == 1:
            value = int.from_bytes(data[pos : pos + 8], "little")
            pos += 8
        elif wire == 5:
            value = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((num, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _time(data: bytes, micro: bool) -> str:
    secs = nanos = 0
    for num, _w, value in fields(data):
        if num == 1:
            secs = _signed(value)
        elif num == 2:
            nanos = value
    if secs == 0 and nanos == 0:
        return ""
    when = dt.datetime.fromtimestamp(secs, dt.UTC)
    if micro:
        return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(typ: str, wire: int, value: Any) -> Any:
    if typ == "string":
        return value.decode("utf-8")
    if typ == "bytes":
        return base64.b64encode(value).decode()
    if typ == "int":
        return _signed(value)
    if typ == "bool":
        return bool(value)
    if typ in ("time", "microtime"):
        return _time(value, typ == "microtime")
    if typ == "quantity":
        return next((v.decode() for n, _w, v in fields(value) if n == 1), "")
    if typ == "intorstring":
        kind, ival, sval = 0, 0, ""
        for n, _w, v in fields(value):
            if n == 1:
                kind = v
            elif n == 2:
                ival = _signed(v)
            elif n == 3:
                sval = v.decode()
        return sval if kind == 1 else ival
    if typ == "rawext":
        raw = next((v for n, _w, v in fields(value) if n == 1), b"")
        return json.loads(raw) if raw else None
    return decode_message(typ, value)


def decode_message(name: str, data: bytes) -> dict[str, Any]:
    """Decode one message of a known type into a dict."""
    spec = M[name]
    out: dict[str, Any] = {}
    for num, wire, value in fields(data):
        if num not in spec:
            continue
        key, typ, repeated = spec[num]
        if typ.startswith("map:"):
            entry = {n: v for n, _w, v in fields(value)}
            mkey = entry.get(1, b"").decode()
            out.setdefault(key, {})[mkey] = _scalar(typ[4:], 2, entry.get(2, b""))
        elif repeated:
            out.setdefault(key, []).append(_scalar(typ, wire, value))
        else:
            decoded = _scalar(typ, wire, value)
            if key not in POINTER_FIELDS and (
                decoded is None or (not isinstance(decoded, dict) and decoded in ("", 0, False))
            ):
                continue
            out[key] = decoded
    return out


def decode(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\x00``-prefixed protobuf request body into a JSON-shaped object."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic")
    envelope = {n: v for n, _w, v in fields(body[len(MAGIC) :])}
    type_meta = {n: v.decode() for n, _w, v in fields(envelope.get(1, b""))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    if kind not in KINDS:
        raise ProtobufError(f"kubesim cannot decode protobuf {api_version} {kind}; send JSON")
    schema = f"{kind}@{api_version}" if f"{kind}@{api_version}" in M else kind
    obj = decode_message(schema, envelope.get(2, b""))
    obj = {"apiVersion": api_version, "kind": kind, **obj}
    return obj
