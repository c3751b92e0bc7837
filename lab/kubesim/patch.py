"""The four PATCH flavours the apiserver accepts.

* ``application/merge-patch+json`` — RFC 7386 JSON merge patch.
* ``application/strategic-merge-patch+json`` — Kubernetes strategic merge patch: lists of
  known objects are merged by their merge key (containers by ``name``, ports by
  ``containerPort``…), with the ``$patch``, ``$retainKeys``, ``$setElementOrder`` and
  ``$deleteFromPrimitiveList`` directives.
* ``application/json-patch+json`` — RFC 6902, via the ``jsonpatch`` library.
* ``application/apply-patch+yaml`` — server-side apply, approximated as a strategic merge of the
  applied configuration (fields are never taken away by omission).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (MERGE_PATCH, STRATEGIC_PATCH, JSON_PATCH, APPLY_PATCH)


class PatchError(ValueError):
    """The patch cannot be applied (the apiserver answers 422/400)."""


# field name -> merge key, for lists the Kubernetes types declare patchStrategy=merge
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "conditions": "type",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "ownerReferences": "uid",
    "resourceClaims": "name",
    "secrets": "name",  # ServiceAccount.secrets
}
# primitive lists merged as sets (patchStrategy=merge on []string)
MERGE_PRIMITIVE_LISTS = {"finalizers"}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_key_for(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        for item in items:
            if isinstance(item, dict):
                if "containerPort" in item:
                    return "containerPort"
                if "port" in item:
                    return "port"
        return "containerPort"
    return MERGE_KEYS.get(field)


def _strategic_list(
    field: str, original: list[Any] | None, patch: list[Any], order: list[Any] | None = None
) -> list[Any]:
    original = list(original or [])
    if field in MERGE_PRIMITIVE_LISTS:
        out = list(original)
        for value in patch:
            if value not in out:
                out.append(value)
        return out
    key = _merge_key_for(field, patch + original)
    if key is None or not all(isinstance(p, dict) for p in patch):
        # atomic list (or a list of primitives): replace, honouring a lone {"$patch": "replace"}
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and p.get("$patch"))]
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [
            copy.deepcopy({k: v for k, v in p.items() if k != "$patch"}) for p in patch if p.get("$patch") != "replace"
        ]
    out = [copy.deepcopy(o) for o in original]
    for item in patch:
        directive = item.get("$patch")
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == item[key]), None)
        if directive == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge({}, item))
        else:
            out[idx] = strategic_merge(out[idx], item)
    if order:
        position = {o.get(key) if isinstance(o, dict) else o: i for i, o in enumerate(order)}
        out.sort(key=lambda o: position.get(o.get(key) if isinstance(o, dict) else o, len(position)))
    return out


def strategic_merge(original: Any, patch: Any) -> Any:
    """Apply a strategic merge patch to ``original`` and return the result (inputs untouched)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result: dict[str, Any] = copy.deepcopy(original) if isinstance(original, dict) else {}
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _strategic_list(key, result.get(key), value, orders.get(key))
        else:
            result[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if field not in patch and isinstance(result.get(field), list):
            result[field] = _strategic_list(field, result[field], [], order)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch."""
    if not isinstance(operations, list):
        raise PatchError("json patch must be a list of operations")
    try:
        return jsonpatch.JsonPatch(operations).apply(copy.deepcopy(target))
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, TypeError) as exc:
        raise PatchError(str(exc)) from exc


def apply_patch(target: dict[str, Any] | None, applied: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply (approximation): strategic merge of the applied configuration."""
    return strategic_merge(target or {}, applied)


def apply_any(content_type: str, target: dict[str, Any], patch: Any) -> Any:
    """Dispatch on the patch content type."""
    if content_type == MERGE_PATCH:
        return merge_patch(target, patch)
    if content_type == STRATEGIC_PATCH:
        if not isinstance(patch, dict):
            raise PatchError("strategic merge patch must be an object")
        return strategic_merge(target, patch)
    if content_type == JSON_PATCH:
        return json_patch(target, patch)
    if content_type == APPLY_PATCH:
        if not isinstance(patch, dict):
            raise PatchError("apply patch must be an object")
        return apply_patch(target, patch)
    raise PatchError(f"unsupported patch type {content_type}")
