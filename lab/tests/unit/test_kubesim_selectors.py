"""kubesim label and field selectors."""

from __future__ import annotations

import pytest

from kubesim.selectors import (
    SelectorError,
    check_field_selector,
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
    selector_from_match_labels,
    selector_string,
)

LABELS = {"app": "orchestrator", "component": "core", "tier": "backend"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=orchestrator", True),
        ("app==orchestrator", True),
        ("app=redis", False),
        ("app!=redis", True),
        ("app!=orchestrator", False),
        ("missing!=x", True),
        ("app in (redis, orchestrator)", True),
        ("app in (redis)", False),
        ("app notin (redis)", True),
        ("app notin (orchestrator,redis)", False),
        ("missing notin (x)", True),
        ("component", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("app=orchestrator,component=core", True),
        ("app=orchestrator,component=edge", False),
        ("app=orchestrator, tier in (backend), !legacy", True),
        ("", True),
    ],
)
def test_label_selectors(selector: str, expected: bool) -> None:
    assert labels_match(parse_label_selector(selector), LABELS) is expected


@pytest.mark.parametrize("selector", ["app in redis", "app in (redis", "=x", "a b", "app=x,,"])
def test_bad_label_selectors(selector: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(selector)


def test_empty_value_and_match_labels() -> None:
    assert labels_match(parse_label_selector("role="), {"role": ""})
    assert not labels_match(parse_label_selector("role="), {"role": "x"})
    sel = {
        "matchLabels": {"app": "orchestrator"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["backend", "x"]},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    }
    assert labels_match(selector_from_match_labels(sel), LABELS)
    assert selector_string(sel) == "app=orchestrator,tier in (backend,x),!legacy"


def test_field_selectors() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "voicehive"},
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running"},
    }
    assert fields_match(parse_field_selector("metadata.name=p,status.phase=Running"), pod)
    assert fields_match(parse_field_selector("status.phase!=Failed,status.phase!=Succeeded"), pod)
    assert not fields_match(parse_field_selector("spec.nodeName=n2"), pod)
    event = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Pod", "name": "p", "uid": "u"},
        "source": {"component": "kubelet"},
        "type": "Warning",
    }
    assert fields_match(parse_field_selector("involvedObject.name=p,involvedObject.kind=Pod,type=Warning"), event)
    assert fields_match(parse_field_selector("regarding.name=p,source=kubelet"), event)
    check_field_selector("Event", parse_field_selector("involvedObject.uid=u"))
    with pytest.raises(SelectorError):
        check_field_selector("ConfigMap", parse_field_selector("data.x=1"))
    with pytest.raises(SelectorError):
        parse_field_selector("metadata.name")
