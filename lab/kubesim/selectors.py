"""Label and field selectors, parsed like the apiserver parses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class SelectorError(ValueError):
    """A selector that cannot be parsed (the apiserver answers 400 BadRequest)."""


@dataclass(frozen=True)
class Requirement:
    """One label requirement: ``key op values``."""

    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """True when ``labels`` satisfy this requirement."""
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op in ("=", "in"):
            return self.key in labels and labels[self.key] in self.values
        # "!=" and "notin" match objects without the key too
        return self.key not in labels or labels[self.key] not in self.values


_TOKEN = re.compile(r"\s*(\(|\)|,|!=|==|=|!|[^\s(),!=]+)")
_KEY = re.compile(r"^([a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise SelectorError(f"unable to parse requirement: {text!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse ``app=x,tier!=y,env in (a,b),!legacy,release`` into requirements."""
    if not text or not text.strip():
        return []
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def expect_key(tok: str) -> str:
        if not _KEY.match(tok):
            raise SelectorError(f"invalid label key {tok!r}")
        return tok

    while i < len(toks):
        tok = toks[i]
        if tok == "!":
            key = expect_key(toks[i + 1] if i + 1 < len(toks) else "")
            reqs.append(Requirement(key, "!exists"))
            i += 2
        else:
            key = expect_key(tok)
            nxt = toks[i + 1] if i + 1 < len(toks) else ","
            if nxt == ",":
                reqs.append(Requirement(key, "exists"))
                i += 1
            elif nxt in ("=", "==", "!="):
                value = toks[i + 2] if i + 2 < len(toks) and toks[i + 2] != "," else ""
                reqs.append(Requirement(key, "!=" if nxt == "!=" else "=", (value,)))
                i += 3 if value else 2
            elif nxt in ("in", "notin"):
                if i + 2 >= len(toks) or toks[i + 2] != "(":
                    raise SelectorError(f"found '{toks[i + 2] if i + 2 < len(toks) else ''}', expected: '('")
                j = i + 3
                values: list[str] = []
                while j < len(toks) and toks[j] != ")":
                    if toks[j] != ",":
                        values.append(toks[j])
                    j += 1
                if j >= len(toks):
                    raise SelectorError("found '', expected: ')'")
                reqs.append(Requirement(key, nxt, tuple(values)))
                i = j + 1
            else:
                raise SelectorError(f"unable to parse requirement: found {nxt!r}")
        if i < len(toks):
            if toks[i] != ",":
                raise SelectorError(f"found {toks[i]!r}, expected: ','")
            i += 1
    return reqs


def labels_match(reqs: list[Requirement], labels: dict[str, str] | None) -> bool:
    """True when every requirement matches."""
    labels = labels or {}
    return all(r.matches(labels) for r in reqs)


def selector_from_match_labels(selector: dict[str, Any] | None) -> list[Requirement]:
    """Turn a LabelSelector object (matchLabels + matchExpressions) into requirements."""
    if not selector:
        return []
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}[expr["operator"]]
        reqs.append(Requirement(expr["key"], op, tuple(expr.get("values") or ())))
    return reqs


def selector_string(selector: dict[str, Any] | None) -> str:
    """Render a LabelSelector object the way ``kubectl`` and Scale.status.selector do."""
    parts: list[str] = []
    for k, v in sorted(((selector or {}).get("matchLabels") or {}).items()):
        parts.append(f"{k}={v}")
    for expr in (selector or {}).get("matchExpressions") or []:
        op = expr["operator"]
        if op == "Exists":
            parts.append(expr["key"])
        elif op == "DoesNotExist":
            parts.append(f"!{expr['key']}")
        else:
            parts.append(f"{expr['key']} {op.lower()} ({','.join(sorted(expr.get('values') or []))})")
    return ",".join(parts)


# ------------------------------------------------------------------------------------------ field selectors
@dataclass(frozen=True)
class FieldRequirement:
    """One field requirement: ``path op value`` with op ``=`` or ``!=``."""

    path: str
    op: str
    value: str


def parse_field_selector(text: str | None) -> list[FieldRequirement]:
    """Parse ``metadata.name=x,status.phase!=Failed``."""
    if not text or not text.strip():
        return []
    reqs: list[FieldRequirement] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        for op in ("!=", "==", "="):
            if op in part:
                path, value = part.split(op, 1)
                reqs.append(FieldRequirement(path.strip(), "!=" if op == "!=" else "=", value.strip()))
                break
        else:
            raise SelectorError(f"invalid selector: '{part}'; can't understand '{part}'")
    return reqs


def _get_path(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


# Fields each kind supports in field selectors (besides metadata.name / metadata.namespace).
FIELD_SELECTABLE: dict[str, set[str]] = {
    "Pod": {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    },
    "Event": {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
        "regarding.kind",
        "regarding.name",
        "regarding.namespace",
        "regarding.uid",
    },
    "Secret": {"type"},
    "Node": {"spec.unschedulable"},
    "Namespace": {"status.phase"},
    "ReplicaSet": {"status.replicas"},
    "Job": {"status.successful"},
}


def check_field_selector(kind: str, reqs: list[FieldRequirement]) -> None:
    """Raise SelectorError for a field the kind does not support (like the apiserver's 400)."""
    allowed = {"metadata.name", "metadata.namespace"} | FIELD_SELECTABLE.get(kind, set())
    for req in reqs:
        if req.path not in allowed:
            raise SelectorError(f"field label not supported: {req.path}")


def fields_match(
    reqs: list[FieldRequirement], obj: dict[str, Any], getter: Callable[[dict[str, Any], str], str] | None = None
) -> bool:
    """True when the object satisfies every field requirement."""
    get = getter or _get_path
    for req in reqs:
        path = req.path
        if path == "source":
            actual = _get_path(obj, "source.component")
        elif path.startswith("regarding."):
            actual = _get_path(obj, "involvedObject." + path.split(".", 1)[1])
        else:
            actual = get(obj, path)
        if (actual == req.value) != (req.op == "="):
            return False
    return True
