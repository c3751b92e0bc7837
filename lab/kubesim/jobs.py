"""What the Job controller decides from a Job's pods: failures counted or ignored, failed and succeeded indexes,
the pod failure policy and the success policy (pkg/controller/job: pod_failure_policy.go, success_policy.go,
backoff_limit_per_index).

Pure functions over plain objects, so the controller and the unit tests share them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURES = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED = "batch.kubernetes.io/job-index-ignored-failure-count"
MAX_INT32 = 2147483647


def parse_indexes(text: str, completions: int) -> set[int]:
    """``1,3-5,7`` -> {1, 3, 4, 5, 7} (indexes at or above ``completions`` are dropped, bad text gives none)."""
    out: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            return set()
        if first > last or first < 0:
            return set()
        out.update(i for i in range(first, last + 1) if i < completions)
    return out


def ranges(values: set[int] | list[int]) -> str:
    """``0-2,5`` for {0, 1, 2, 5} (status.completedIndexes / failedIndexes)."""
    out: list[str] = []
    items = sorted(set(values))
    start = prev = None
    for value in [*items, None]:
        if start is not None and (value is None or value != prev + 1):  # type: ignore[operator]
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if value is not None and start is None:
            start = value
        prev = value
    return ",".join(out)


def pod_index(pod: Obj) -> int | None:
    """The completion index of an Indexed Job's pod (annotation, else label)."""
    meta = pod["metadata"]
    value = (meta.get("annotations") or {}).get(INDEX, (meta.get("labels") or {}).get(INDEX))
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def _exit_codes_match(pod: Obj, requirement: Obj) -> Obj | None:
    """matchOnExitCodes: the first terminated container (then init container) with a non-zero code that matches."""
    status = pod.get("status") or {}
    wanted = requirement.get("containerName")
    values = [int(v) for v in requirement.get("values") or []]
    for key in ("containerStatuses", "initContainerStatuses"):
        for cs in status.get(key) or []:
            term = (cs.get("state") or {}).get("terminated")
            if term is None or (wanted and cs.get("name") != wanted):
                continue
            code = int(term.get("exitCode", 0))
            if code == 0:
                continue
            operator = requirement.get("operator")
            if (operator == "In" and code in values) or (operator == "NotIn" and code not in values):
                return cs
    return None


def _conditions_match(pod: Obj, patterns: list[Obj]) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        for pattern in patterns:
            if cond.get("type") == pattern.get("type") and cond.get("status") == pattern.get("status", "True"):
                return cond
    return None


def match_pod_failure_policy(policy: Obj | None, pod: Obj) -> tuple[str | None, bool, str | None]:
    """(FailJob message, counts towards the backoff limits, action) for a failed pod, as matchPodFailurePolicy."""
    if not policy:
        return None, True, None
    meta = pod["metadata"]
    for index, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action")
        message = None
        if rule.get("onExitCodes") is not None:
            cs = _exit_codes_match(pod, rule["onExitCodes"])
            if cs is None:
                continue
            code = cs["state"]["terminated"].get("exitCode")
            message = (
                f"Container {cs.get('name')} for pod {meta.get('namespace')}/{meta['name']} failed with exit code "
                f"{code} matching {action} rule at index {index}"
            )
        elif rule.get("onPodConditions") is not None:
            cond = _conditions_match(pod, rule["onPodConditions"])
            if cond is None:
                continue
            message = (
                f"Pod {meta.get('namespace')}/{meta['name']} has condition {cond.get('type')} matching "
                f"{action} rule at index {index}"
            )
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action in ("Count", "FailIndex"):
            return None, True, action
        if action == "FailJob":
            return message, True, action
    return None, True, None


def match_success_policy(policy: Obj | None, completions: int, succeeded: set[int]) -> str | None:
    """The SuccessCriteriaMet message ("Matched rules at index N") when a rule is met, as matchSuccessPolicy."""
    if not policy or not succeeded:
        return None
    for index, rule in enumerate(policy.get("rules") or []):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            required = parse_indexes(rule["succeededIndexes"], completions)
            if not required:
                continue
            done = len(required & succeeded)
            if (count is None and done == len(required)) or (count is not None and done >= int(count)):
                return f"Matched rules at index {index}"
        elif count is not None and len(succeeded) >= int(count):
            return f"Matched rules at index {index}"
    return None


@dataclass
class Progress:
    """What a Job's pods add up to."""

    active: list[Obj] = field(default_factory=list)
    succeeded: int = 0
    failed: int = 0  # failures counted towards the backoff limits (Ignore'd ones are not)
    succeeded_indexes: set[int] = field(default_factory=set)
    failed_indexes: set[int] = field(default_factory=set)
    index_failures: dict[int, int] = field(default_factory=dict)  # counted failures per index
    index_ignored: dict[int, int] = field(default_factory=dict)
    fail_job: str | None = None  # the message of the first pod that matched a FailJob rule


def _finished_at(pod: Obj) -> str:
    times = [
        ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt") or ""
        for cs in (pod.get("status") or {}).get("containerStatuses") or []
    ]
    return max(times, default="") or pod["metadata"].get("creationTimestamp", "")


def progress(job: Obj, pods: list[Obj]) -> Progress:
    """Count a Job's pods as the Job controller does (pods sorted by when they finished)."""
    spec = job.get("spec") or {}
    indexed = spec.get("completionMode") == "Indexed"
    completions = int(spec.get("completions") or 0)
    per_index = spec.get("backoffLimitPerIndex")
    policy = spec.get("podFailurePolicy")
    out = Progress()
    for pod in sorted(pods, key=lambda p: (_finished_at(p), p["metadata"]["name"])):
        phase = _phase(pod)
        index = pod_index(pod) if indexed else None
        if phase == "Succeeded":
            if index is None or 0 <= index < completions:
                out.succeeded += 1
            if index is not None and 0 <= index < completions:
                out.succeeded_indexes.add(index)
            continue
        if phase != "Failed":
            out.active.append(pod)
            continue
        message, counts, action = match_pod_failure_policy(policy, pod)
        ann = pod["metadata"].get("annotations") or {}
        if index is not None:
            # the failures before this pod travel in its annotations, as the controller writes them
            before = int(ann.get(INDEX_FAILURES, "0") or 0)
            ignored_before = int(ann.get(INDEX_IGNORED, "0") or 0)
            failures = before + (1 if counts else 0)
            out.index_failures[index] = max(out.index_failures.get(index, 0), failures)
            out.index_ignored[index] = max(out.index_ignored.get(index, 0), ignored_before + (0 if counts else 1))
            if per_index is not None and (action == "FailIndex" or failures > int(per_index)):
                out.failed_indexes.add(index)
        if counts:
            out.failed += 1
        if message and out.fail_job is None:
            out.fail_job = message
    if indexed:
        out.succeeded = len(out.succeeded_indexes)
        out.failed_indexes -= out.succeeded_indexes
    return out
