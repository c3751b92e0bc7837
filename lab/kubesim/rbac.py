"""Optional RBAC authorizer (config ``"authorization": "RBAC"``; the default allows every authenticated user).

Evaluates the stored Roles, ClusterRoles, RoleBindings and ClusterRoleBindings the way the
apiserver's RBAC authorizer does: the union of the rules bound to the user, its groups and (for
service-account tokens) its ``system:serviceaccount:<ns>:<name>`` identity. ``system:masters``
is always allowed; every authenticated user may use discovery and the self-reviews (what the
``system:discovery`` / ``system:basic-user`` ClusterRoles grant on a real cluster).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.store import Obj, Store

SELF_REVIEWS = {"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"}


@dataclass(frozen=True)
class Attributes:
    """What a request does."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # non-resource requests


def _subject_matches(subject: Obj, user: Obj, binding_ns: str) -> bool:
    kind = subject.get("kind")
    username = user.get("username", "")
    if kind == "User":
        return subject.get("name") == username
    if kind == "Group":
        return subject.get("name") in (user.get("groups") or [])
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return username == f"system:serviceaccount:{ns}:{subject.get('name')}"
    return False


def _rule_matches(rule: Obj, attrs: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if attrs.path:
        urls = rule.get("nonResourceURLs") or []
        return any(u == "*" or u == attrs.path or (u.endswith("*") and attrs.path.startswith(u[:-1])) for u in urls)
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs.group not in groups:
        return False
    resources = rule.get("resources") or []
    full = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    wanted = {"*", full}
    if attrs.subresource:
        wanted.add(f"*/{attrs.subresource}")
    if not wanted & set(resources):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _rules(store: Store, kind: str, namespace: str, name: str) -> list[Obj]:
    storage = "rbac.authorization.k8s.io/clusterroles" if kind == "ClusterRole" else "rbac.authorization.k8s.io/roles"
    role = store.peek(storage, "" if kind == "ClusterRole" else namespace, name)
    if role is None:
        return []
    rules = list(role.get("rules") or [])
    # aggregated ClusterRoles: rules of the ClusterRoles their selectors match
    for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        want = selector.get("matchLabels") or {}
        for (_, _), other in store.objects["rbac.authorization.k8s.io/clusterroles"].items():
            labels = other["metadata"].get("labels") or {}
            if want and all(labels.get(k) == v for k, v in want.items()):
                rules.extend(other.get("rules") or [])
    return rules


def allowed(store: Store, user: Obj, attrs: Attributes) -> tuple[bool, str]:
    """(allowed, reason) for ``user`` doing ``attrs``."""
    groups = user.get("groups") or []
    if "system:masters" in groups:
        return True, "system:masters"
    if attrs.path and attrs.verb == "get":
        return True, "discovery"
    if attrs.group in ("authorization.k8s.io", "authentication.k8s.io") and attrs.resource in SELF_REVIEWS:
        return True, "basic-user"
    with store.lock:
        for (_, _), binding in store.objects["rbac.authorization.k8s.io/clusterrolebindings"].items():
            if any(_subject_matches(s, user, "") for s in binding.get("subjects") or []):
                ref = binding.get("roleRef") or {}
                if any(_rule_matches(r, attrs) for r in _rules(store, "ClusterRole", "", ref.get("name", ""))):
                    return True, f'allowed by ClusterRoleBinding "{binding["metadata"]["name"]}"'
        if attrs.namespace:
            for (ns, _), binding in store.objects["rbac.authorization.k8s.io/rolebindings"].items():
                if ns != attrs.namespace:
                    continue
                if any(_subject_matches(s, user, ns) for s in binding.get("subjects") or []):
                    ref = binding.get("roleRef") or {}
                    rules = _rules(store, ref.get("kind", "Role"), ns, ref.get("name", ""))
                    if any(_rule_matches(r, attrs) for r in rules):
                        return True, f'allowed by RoleBinding "{binding["metadata"]["name"]}/{ns}"'
    return False, ""


def forbidden_message(user: Obj, attrs: Attributes) -> str:
    """The apiserver's 403 message."""
    who = f'User "{user.get("username", "")}"'
    if attrs.path:
        return f'forbidden: {who} cannot {attrs.verb} path "{attrs.path}"'
    full = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    named = f'{full} "{attrs.name}"' if attrs.name else full
    where = f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope"
    return f'{named} is forbidden: {who} cannot {attrs.verb} resource "{full}" in API group "{attrs.group}"{where}'


def review_status(store: Store, user: Obj, spec: Any) -> Obj:
    """``status`` of a (Self)SubjectAccessReview under RBAC."""
    spec = spec or {}
    res = spec.get("resourceAttributes")
    non = spec.get("nonResourceAttributes")
    if res:
        attrs = Attributes(
            res.get("verb", ""),
            res.get("group", ""),
            res.get("resource", ""),
            res.get("subresource", ""),
            res.get("namespace", ""),
            res.get("name", ""),
        )
    elif non:
        attrs = Attributes(non.get("verb", ""), "", "", path=non.get("path", ""))
    else:
        return {"allowed": False, "reason": "no resourceAttributes or nonResourceAttributes"}
    ok, reason = allowed(store, user, attrs)
    return {"allowed": ok, "reason": reason} if ok else {"allowed": False}
