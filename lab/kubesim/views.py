"""Computed responses: pod logs, metrics.k8s.io, token requests/reviews and access reviews."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from kubesim.controller import pod_condition
from kubesim.selectors import labels_match, parse_label_selector
from kubesim.store import ApiError, Obj, Store, not_found, now_rfc3339, parse_time
from kubesim.tokens import DEFAULT_AUDIENCES, TokenIssuer, user_info

MAX_LOG_READ = 4 * 1024 * 1024
_TS = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)")


@dataclass
class PodLogSource:
    """Pods matching ``selector`` in ``namespace`` serve ``file`` as their log."""

    namespace: str
    selector: str
    file: str


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _int_param(params: dict[str, str], key: str) -> int | None:
    if key not in params or params[key] == "":
        return None
    try:
        return int(params[key])
    except ValueError:
        raise _bad(f"{key}: Invalid value: {params[key]!r}: must be an integer") from None


def _read_tail(path: str) -> list[str]:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            if size > MAX_LOG_READ:
                fh.seek(size - MAX_LOG_READ)
                fh.readline()
            data = fh.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()


def _line_time(line: str) -> dt.datetime | None:
    m = _TS.match(line)
    if not m:
        return None
    when = parse_time(m.group(1).replace(" ", "T").replace(",", "."))
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when


def log_file_for(sources: list[PodLogSource], pod: Obj) -> str | None:
    """The configured log file of a pod, if any."""
    labels = pod["metadata"].get("labels") or {}
    for source in sources:
        if source.namespace and source.namespace != pod["metadata"].get("namespace"):
            continue
        if labels_match(parse_label_selector(source.selector), labels):
            return source.file
    return None


def pod_log(store: Store, sources: list[PodLogSource], namespace: str, name: str, params: dict[str, str]) -> str:
    """The text of ``GET pods/<name>/log`` honouring container/previous/tailLines/sinceSeconds/limitBytes."""
    pod = store.get("/pods", namespace, name)
    if pod is None:
        raise not_found("pods", name, "", "pods")
    containers = [c.get("name") for c in pod.get("spec", {}).get("containers") or []]
    container = params.get("container") or ""
    if not container:
        if len(containers) != 1:
            raise _bad(f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]")
        container = containers[0]
    if container not in containers:
        raise _bad(f"container {container} is not valid for pod {name}")
    status = next(
        (cs for cs in pod.get("status", {}).get("containerStatuses") or [] if cs.get("name") == container), None
    )
    if status is None:
        raise _bad(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
    previous = params.get("previous", "false").lower() in ("true", "1")
    restarts = int(status.get("restartCount", 0))
    if previous and restarts == 0:
        raise _bad(f'previous terminated container "{container}" in pod "{name}" not found')
    image = next((c.get("image", "") for c in pod["spec"]["containers"] if c.get("name") == container), "")
    started = (
        status.get("state", {}).get("running", {}).get("startedAt") or pod["status"].get("startTime") or now_rfc3339()
    )
    source = log_file_for(sources, pod)
    lines: list[str] | None = _read_tail(source) if source else None
    if lines is None or previous:
        lines = [
            f"{started} INFO Starting {container} (image {image})",
            f"{started} INFO Loaded configuration for pod {name}",
        ]
        for c in pod["spec"]["containers"]:
            if c.get("name") == container:
                for port in c.get("ports") or []:
                    lines.append(f"{started} INFO Listening on 0.0.0.0:{port.get('containerPort')}")
        if previous:
            cond = pod_condition(pod)
            finished = ((status.get("lastState") or {}).get("terminated") or {}).get("finishedAt", started)
            if cond == "OOMKilled":
                lines.append(f"{finished} WARNING memory usage above 95% of limit")
                lines.append(f"{finished} CRITICAL out of memory: process killed")
            else:
                lines.append(f"{finished} ERROR unhandled exception during startup; exiting with code 1")
        else:
            lines.append(f"{started} INFO Application startup complete")
    since = _int_param(params, "sinceSeconds")
    if params.get("sinceTime"):
        cutoff_time = parse_time(params["sinceTime"])
    elif since is not None:
        if since <= 0:
            raise _bad("sinceSeconds: Invalid value: must be greater than 0")
        cutoff_time = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=since)
    else:
        cutoff_time = None
    if cutoff_time is not None:
        kept = []
        for line in lines:
            when = _line_time(line)
            if when is None or when >= cutoff_time:
                kept.append(line)
        lines = kept
    tail = _int_param(params, "tailLines")
    if tail is not None:
        if tail < 0:
            raise _bad("tailLines: Invalid value: must be greater than or equal to 0")
        lines = lines[-tail:] if tail else []
    if params.get("timestamps", "false").lower() in ("true", "1"):
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
        lines = [
            f"{(_line_time(line) or dt.datetime.now(dt.UTC)).strftime('%Y-%m-%dT%H:%M:%S.%f000Z')} {line}"
            if _line_time(line)
            else f"{stamp} {line}"
            for line in lines
        ]
    text = "".join(line + "\n" for line in lines)
    limit = _int_param(params, "limitBytes")
    if limit is not None:
        if limit <= 0:
            raise _bad("limitBytes: Invalid value: must be greater than 0")
        text = text.encode()[:limit].decode("utf-8", "ignore")
    return text


# ---------------------------------------------------------------------------------------------- metrics
def _stable(name: str, lo: int, span: int) -> int:
    return lo + int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % span


def parse_cpu(value: str) -> float:
    """CPU quantity -> cores."""
    value = value.strip()
    if value.endswith("n"):
        return float(value[:-1]) / 1e9
    if value.endswith("u"):
        return float(value[:-1]) / 1e6
    if value.endswith("m"):
        return float(value[:-1]) / 1000
    return float(value)


_MEM = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "k": 1000, "M": 1000**2, "G": 1000**3}


def parse_memory(value: str) -> int:
    """Memory quantity -> bytes."""
    value = value.strip()
    for suffix in sorted(_MEM, key=len, reverse=True):
        if value.endswith(suffix):
            return int(float(value[: -len(suffix)]) * _MEM[suffix])
    return int(float(value))


def pod_usage(pod: Obj) -> tuple[str, str]:
    """(cpu, memory) usage of a pod: annotations, else a stable low value from its name."""
    ann = pod["metadata"].get("annotations") or {}
    name = pod["metadata"]["name"]
    return (
        ann.get("kubesim.voicehive.io/cpu") or f"{_stable(name, 3, 40)}m",
        ann.get("kubesim.voicehive.io/memory") or f"{_stable(name + '/mem', 60, 140)}Mi",
    )


def _running(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") == "Running" and bool(pod.get("status", {}).get("podIP"))


def pod_metrics(pod: Obj) -> Obj:
    """A metrics.k8s.io/v1beta1 PodMetrics for a running pod."""
    cpu, memory = pod_usage(pod)
    containers = []
    for i, container in enumerate(pod.get("spec", {}).get("containers") or []):
        usage = {"cpu": cpu, "memory": memory} if i == 0 else {"cpu": "1m", "memory": "8Mi"}
        containers.append({"name": container.get("name"), "usage": usage})
    meta = pod["metadata"]
    return {
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": meta.get("labels") or {},
            "creationTimestamp": now_rfc3339(),
        },
        "timestamp": now_rfc3339(),
        "window": "30s",
        "containers": containers,
    }


def list_pod_metrics(store: Store, namespace: str, name: str, params: dict[str, str]) -> Obj:
    """GET/LIST metrics.k8s.io pods."""
    if name:
        pod = store.get("/pods", namespace, name)
        if pod is None or not _running(pod):
            raise not_found("pods.metrics.k8s.io", name, "metrics.k8s.io", "pods")
        return pod_metrics(pod)
    pods, _ = store.list("/pods", namespace or None, parse_label_selector(params.get("labelSelector")))
    items = [pod_metrics(p) for p in pods if _running(p)]
    for item in items:
        item.pop("kind")
        item.pop("apiVersion")
    return {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}


def node_metrics(store: Store, node: Obj) -> Obj:
    """NodeMetrics: the sum of the pods on the node plus system overhead."""
    pods, _ = store.list("/pods")
    cpu, mem = 0.25, 1024**3
    for pod in pods:
        if pod.get("spec", {}).get("nodeName") == node["metadata"]["name"] and _running(pod):
            pcpu, pmem = pod_usage(pod)
            cpu += parse_cpu(pcpu)
            mem += parse_memory(pmem)
    return {
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": node["metadata"]["name"],
            "labels": node["metadata"].get("labels") or {},
            "creationTimestamp": now_rfc3339(),
        },
        "timestamp": now_rfc3339(),
        "window": "20s",
        "usage": {"cpu": f"{int(cpu * 1e9)}n", "memory": f"{mem // 1024}Ki"},
    }


def list_node_metrics(store: Store, name: str, params: dict[str, str]) -> Obj:
    """GET/LIST metrics.k8s.io nodes."""
    if name:
        node = store.get("/nodes", "", name)
        if node is None:
            raise not_found("nodes.metrics.k8s.io", name, "metrics.k8s.io", "nodes")
        return node_metrics(store, node)
    nodes, _ = store.list("/nodes", None, parse_label_selector(params.get("labelSelector")))
    items = [node_metrics(store, n) for n in nodes]
    for item in items:
        item.pop("kind")
        item.pop("apiVersion")
    return {"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}


# ---------------------------------------------------------------------------------------------- tokens
def token_request(store: Store, issuer: TokenIssuer, namespace: str, name: str, body: Any) -> Obj:
    """POST serviceaccounts/<name>/token."""
    sa = store.get("/serviceaccounts", namespace, name)
    if sa is None:
        raise not_found("serviceaccounts", name, "", "serviceaccounts")
    spec = (body or {}).get("spec") or {}
    audiences = spec.get("audiences") or DEFAULT_AUDIENCES
    expiration = int(spec.get("expirationSeconds") or 3600)
    pod = None
    ref = spec.get("boundObjectRef") or {}
    if ref.get("kind") == "Pod" and ref.get("name"):
        bound = store.get("/pods", namespace, ref["name"])
        if bound is not None:
            pod = {"name": ref["name"], "uid": bound["metadata"]["uid"]}
    token, exp = issuer.issue(namespace, name, sa["metadata"]["uid"], audiences, expiration, pod)
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": spec.get("boundObjectRef")},
        "status": {"token": token, "expirationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))},
    }


def authenticate_token(
    store: Store, issuer: TokenIssuer, admin_token: str, token: str, audiences: list[str] | None = None
) -> tuple[Obj | None, list[str], str]:
    """Resolve a bearer token: (user info or None, audiences, error)."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return (
            {"username": "kubesim-admin", "uid": "kubesim-admin", "groups": ["system:masters", "system:authenticated"]},
            audiences or DEFAULT_AUDIENCES,
            "",
        )
    claims = issuer.verify(token)
    if claims is None:
        return None, [], "invalid bearer token"
    k8s = claims.get("kubernetes.io", {})
    sa_ref = k8s.get("serviceaccount", {})
    sa = store.get("/serviceaccounts", k8s.get("namespace", ""), sa_ref.get("name", ""))
    if sa is None or sa["metadata"]["uid"] != sa_ref.get("uid"):
        return None, [], "service account has been deleted or recreated"
    pod = k8s.get("pod")
    if pod:
        bound = store.get("/pods", k8s.get("namespace", ""), pod.get("name", ""))
        if bound is None or bound["metadata"]["uid"] != pod.get("uid"):
            return None, [], "pod the token is bound to has been deleted"
    token_aud = claims.get("aud") or []
    if isinstance(token_aud, str):
        token_aud = [token_aud]
    wanted = audiences or DEFAULT_AUDIENCES
    matched = [a for a in wanted if a in token_aud]
    if not matched:
        return None, [], "token audiences " + repr(token_aud) + " is invalid for the target audiences " + repr(wanted)
    return user_info(claims), matched, ""


def token_review(store: Store, issuer: TokenIssuer, admin_token: str, body: Any) -> Obj:
    """POST tokenreviews."""
    spec = (body or {}).get("spec") or {}
    token = spec.get("token") or ""
    user, audiences, error = authenticate_token(store, issuer, admin_token, token, spec.get("audiences") or None)
    status: Obj = {"authenticated": user is not None, "user": user or {}}
    if user is not None:
        status["audiences"] = audiences
    else:
        status["error"] = error
    return {
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }


def access_review(kind: str, api_version: str, body: Any, user: Obj) -> Obj:
    """(Self)SubjectAccessReview / SelfSubjectRulesReview / SelfSubjectReview: kubesim allows everything."""
    spec = (body or {}).get("spec") or {}
    out: Obj = {"kind": kind, "apiVersion": api_version, "metadata": {"creationTimestamp": None}, "spec": spec}
    if kind == "SelfSubjectRulesReview":
        out["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    elif kind == "SelfSubjectReview":
        out.pop("spec")
        out["status"] = {"userInfo": user}
    else:
        out["status"] = {"allowed": True, "reason": "kubesim authorizes every authenticated request"}
    return out
