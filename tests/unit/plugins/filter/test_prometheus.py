# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.voicehive.remediation.plugins.filter import prometheus
from ansible_collections.voicehive.remediation.plugins.filter.prometheus import (
    FilterModule,
    prom_parse,
    prom_select,
    prom_value,
)

FILTER_DIR = Path(prometheus.__file__).resolve().parent
COLLECTION_ROOT = FILTER_DIR.parent.parent
# the directory holding ansible_collections/voicehive/remediation, however the tests were started
COLLECTIONS_PATH = Path(prometheus.__file__).parents[5]

PAGE = r"""# HELP voicehive_circuit_breaker_state Circuit breaker state (1 for the current state)
# TYPE voicehive_circuit_breaker_state gauge
voicehive_circuit_breaker_state{name="pms_connector",state="open"} 1
voicehive_circuit_breaker_state{name="pms_connector",state="closed"} 0
voicehive_circuit_breaker_state{name="tts_service",state="open"} 0
voicehive_circuit_breaker_state{name="tts_service",state="closed"} 1
# HELP voicehive_http_requests_total Requests.\nBy path and status \\ method
# TYPE voicehive_http_requests_total counter
voicehive_http_requests_total{method="GET",path="/health",status="200"} 1027 1764345600000
voicehive_http_requests_total{method="POST",path="/calls",status="500"} 3
voicehive_http_requests_total{method="GET",path="/calls",status="500"} 2
# TYPE voicehive_request_duration_seconds histogram
voicehive_request_duration_seconds_bucket{le="0.1"} 8
voicehive_request_duration_seconds_bucket{le="+Inf"} 10
voicehive_request_duration_seconds_sum 2.5
voicehive_request_duration_seconds_count 10
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} NaN
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
# a plain comment
voicehive_database_up 1
"""


@pytest.fixture(scope="module")
def samples():
    return prom_parse(PAGE)


def test_filter_module_exports():
    assert set(FilterModule().filters()) == {"prom_parse", "prom_select", "prom_value"}


def test_parse_page(samples):
    assert len(samples) == 15
    first = samples[0]
    assert first == {
        "name": "voicehive_circuit_breaker_state",
        "labels": {"name": "pms_connector", "state": "open"},
        "value": 1.0,
        "timestamp": None,
        "family": "voicehive_circuit_breaker_state",
        "type": "gauge",
        "help": "Circuit breaker state (1 for the current state)",
    }
    requests = samples[4]
    assert requests["timestamp"] == 1764345600000
    assert requests["type"] == "counter"
    assert requests["help"] == "Requests.\nBy path and status \\ method"
    untyped = samples[-1]
    assert (untyped["name"], untyped["type"], untyped["family"]) == (
        "voicehive_database_up",
        "untyped",
        untyped["name"],
    )


@pytest.mark.parametrize(
    ("name", "family", "kind"),
    [
        ("voicehive_request_duration_seconds_bucket", "voicehive_request_duration_seconds", "histogram"),
        ("voicehive_request_duration_seconds_sum", "voicehive_request_duration_seconds", "histogram"),
        ("voicehive_request_duration_seconds_count", "voicehive_request_duration_seconds", "histogram"),
        ("rpc_duration_seconds", "rpc_duration_seconds", "summary"),
        ("rpc_duration_seconds_count", "rpc_duration_seconds", "summary"),
    ],
)
def test_histogram_and_summary_suffixes(samples, name, family, kind):
    sample = next(s for s in samples if s["name"] == name)
    assert (sample["family"], sample["type"]) == (family, kind)


@pytest.mark.parametrize(
    ("line", "name", "labels", "value", "timestamp"),
    [
        ("up 1", "up", {}, 1.0, None),
        ("up   1   123", "up", {}, 1.0, 123),
        ("up\t0\t-5", "up", {}, 0.0, -5),
        ("m +Inf", "m", {}, math.inf, None),
        ("m -Inf", "m", {}, -math.inf, None),
        ("m 1.5e-3", "m", {}, 0.0015, None),
        ("m .5", "m", {}, 0.5, None),
        ("m -0", "m", {}, 0.0, None),
        ("m 1 1.7643456e12", "m", {}, 1.0, 1.7643456e12),
        ("ns:sub_metric 2", "ns:sub_metric", {}, 2.0, None),
        ("m{} 1", "m", {}, 1.0, None),
        ('m{a="b",} 1', "m", {"a": "b"}, 1.0, None),
        ('m{ a = "b" , c="d" } 1', "m", {"a": "b", "c": "d"}, 1.0, None),
        (r'm{path="C:\\dir",msg="say \"hi\"\nbye"} 1', "m", {"path": "C:\\dir", "msg": 'say "hi"\nbye'}, 1.0, None),
        (r'm{weird="\x"} 1', "m", {"weird": "\\x"}, 1.0, None),
        ('m{a="},{ 1"} 7', "m", {"a": "},{ 1"}, 7.0, None),
        ('m{a="ünïcødé ✓"} 1', "m", {"a": "ünïcødé ✓"}, 1.0, None),
        ('{"my.metric", "label.x"="y"} 3', "my.metric", {"label.x": "y"}, 3.0, None),
        ('m_bucket{le="0.1"} 8 # {trace_id="abc"} 0.67', "m_bucket", {"le": "0.1"}, 8.0, None),
        ("  indented 4  ", "indented", {}, 4.0, None),
    ],
)
def test_parse_lines(line, name, labels, value, timestamp):
    (sample,) = prom_parse(line)
    assert sample["name"] == name
    assert sample["labels"] == labels
    assert sample["value"] == value
    assert sample["timestamp"] == timestamp


def test_nan_value():
    (sample,) = prom_parse("m NaN")
    assert math.isnan(sample["value"])


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "# just a comment\n", "# HELP m help only\n# TYPE m gauge\n", "# EOF\nm{ 1\n"],
)
def test_no_samples(text):
    assert prom_parse(text) == []


def test_crlf_and_bytes():
    assert prom_parse(b"a 1\r\nb 2\r\n") == prom_parse("a 1\nb 2\n")
    assert [s["name"] for s in prom_parse("a 1\r\nb 2\r\n")] == ["a", "b"]


def test_eof_stops_parsing():
    assert [s["name"] for s in prom_parse("a 1\n# EOF\nnot a metric line at all\n")] == ["a"]


@pytest.mark.parametrize(
    ("text", "lineno", "reason"),
    [
        ("ok 1\nbroken", 2, "expected a space and a value after 'broken'"),
        ('m{a="b" 1', 1, "expected ',' or '}' between labels"),
        ('m{a="b} 1', 1, "unterminated quoted string"),
        ("m{a=b} 1", 1, "label 'a' has no quoted value"),
        ('m{a="1",a="2"} 1', 1, "duplicate label 'a'"),
        ('m{1a="x"} 1', 1, "invalid label name at column 3"),
        ("m{a", 1, "expected '=' after label 'a'"),
        ('m{a="b"', 1, "missing '}' after the labels"),
        ("m one", 1, "invalid value 'one'"),
        ("m 1_000", 1, "invalid value '1_000'"),
        ("m 1 soon", 1, "invalid timestamp 'soon'"),
        ("m 1 2 3", 1, "expected a value and an optional timestamp"),
        ('{a="b"} 1', 1, "missing metric name"),
        ('m{"q"} 1', 1, "metric name given twice"),
        ("\n\n# TYPE m histogrammm\n", 3, "unknown metric type 'histogrammm'"),
        ("# TYPE m gauge\n# TYPE m counter\n", 2, "second TYPE line for 'm'"),
        ("# HELP\n", 1, "HELP line without a valid metric name"),
        ("# TYPE 9bad gauge\n", 1, "TYPE line without a valid metric name"),
        ("m1 1\n m2 2\n-m3 3", 3, "missing metric name"),
    ],
)
def test_malformed_lines_raise_with_line_number(text, lineno, reason):
    with pytest.raises(AnsibleFilterError) as caught:
        prom_parse(text)
    message = str(caught.value)
    assert message.startswith(f"prom_parse: line {lineno}: ")
    assert reason in message


def test_long_malformed_line_is_shortened():
    with pytest.raises(AnsibleFilterError) as caught:
        prom_parse("m " + "x" * 5000)
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize("value", [None, 42, ["m 1"], {"content": "m 1"}])
def test_parse_refuses_non_text(value):
    with pytest.raises(AnsibleFilterError, match="expected the text of a /metrics page"):
        prom_parse(value)


# ------------------------------------------------------------------------------------------
# prom_select / prom_value
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (("voicehive_circuit_breaker_state",), dict(state="open"), [("pms_connector", 1.0), ("tts_service", 0.0)]),
        (("voicehive_circuit_breaker_state",), dict(name="tts_service", state="closed"), [("tts_service", 1.0)]),
        (("voicehive_circuit_breaker_state",), dict(labels={"name": "pms_connector"}, state="open"),
         [("pms_connector", 1.0)]),
        (("voicehive_circuit_breaker_state",), dict(name="nope"), []),
        (("no_such_metric",), {}, []),
    ],
)  # fmt: skip
def test_prom_select_breakers(samples, args, kwargs, expected):
    selected = prom_select(samples, *args, **kwargs)
    assert [(s["labels"]["name"], s["value"]) for s in selected] == expected


def test_prom_select_values_compare_as_strings(samples):
    assert len(prom_select(samples, "voicehive_http_requests_total", status=500)) == 2


def test_prom_select_none_matches_absent_label(samples):
    assert [s["name"] for s in prom_select(samples, None, quantile=None, le=None, name=None)] == [
        "voicehive_http_requests_total",
        "voicehive_http_requests_total",
        "voicehive_http_requests_total",
        "voicehive_request_duration_seconds_sum",
        "voicehive_request_duration_seconds_count",
        "rpc_duration_seconds_sum",
        "rpc_duration_seconds_count",
        "voicehive_database_up",
    ]


def test_prom_select_list_of_names_and_text_input():
    text = "a 1\nb 2\nc 3\n"
    assert [s["name"] for s in prom_select(text, ["a", "c"])] == ["a", "c"]
    assert len(prom_select(text)) == 3


@pytest.mark.parametrize("bad", [42, [{"name": "x"}], [1, 2], {"name": "x", "value": 1}])
def test_prom_select_refuses_other_input(bad):
    with pytest.raises(AnsibleFilterError, match="expects the output of prom_parse"):
        prom_select(bad, "x")


def test_prom_select_refuses_non_dict_labels(samples):
    with pytest.raises(AnsibleFilterError, match="labels must be a dict"):
        prom_select(samples, "x", labels=["a"])


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (("voicehive_database_up",), {}, 1.0),
        (("voicehive_redis_up",), {}, None),
        (("voicehive_redis_up",), dict(default=0), 0),
        (("voicehive_circuit_breaker_state",), dict(name="pms_connector", state="open"), 1.0),
        (("voicehive_http_requests_total",), dict(status="500", aggregate="sum"), 5.0),
        (("voicehive_http_requests_total",), dict(aggregate="max"), 1027.0),
        (("voicehive_http_requests_total",), dict(aggregate="min"), 2.0),
        (("voicehive_http_requests_total",), dict(aggregate="first"), 1027.0),
        (("voicehive_http_requests_total",), dict(aggregate="count"), 3),
        (("voicehive_redis_up",), dict(aggregate="count"), 0),
        (("voicehive_redis_up",), dict(aggregate="sum", default=-1), -1),
        (("voicehive_request_duration_seconds_bucket",), dict(le="+Inf"), 10.0),
    ],
)
def test_prom_value(samples, args, kwargs, expected):
    assert prom_value(samples, *args, **kwargs) == expected


def test_prom_value_ambiguous(samples):
    with pytest.raises(AnsibleFilterError, match=r"prom_value: 3 samples match .*add label matchers or set aggregate"):
        prom_value(samples, "voicehive_http_requests_total")


def test_prom_value_bad_aggregate(samples):
    with pytest.raises(AnsibleFilterError, match="aggregate must be one of"):
        prom_value(samples, "voicehive_database_up", aggregate="avg")


# ------------------------------------------------------------------------------------------
# documentation and the real template engine
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["prom_parse", "prom_select", "prom_value"])
def test_documentation_yaml(name):
    doc = yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text())
    assert doc["DOCUMENTATION"]["name"] == name
    assert doc["DOCUMENTATION"]["version_added"] == "0.1.0"
    assert "_input" in doc["DOCUMENTATION"]["options"]
    assert f"voicehive.remediation.{name}" in doc["EXAMPLES"]
    assert "_value" in doc["RETURN"]


ANSIBLE_BIN = Path(sys.executable).parent


def test_ansible_doc_renders():
    out = subprocess.run(
        [str(ANSIBLE_BIN / "ansible-doc"), "-t", "filter", "--json", "voicehive.remediation.prom_value"],
        capture_output=True,
        text=True,
        check=False,
        cwd=COLLECTION_ROOT,
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH)),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert '"aggregate"' in out.stdout


def test_through_the_template_engine(tmp_path):
    """The filters as a playbook sees them (FQCN lookup, templating of the results)."""
    (tmp_path / "metrics.txt").write_text(PAGE)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    (tmp_path / "play.yml").write_text(
        """
- hosts: localhost
  gather_facts: false
  vars:
    page: "{{ lookup('ansible.builtin.file', 'metrics.txt') }}"
  tasks:
    - ansible.builtin.assert:
        that:
          - >-
            page | voicehive.remediation.prom_parse
            | voicehive.remediation.prom_select('voicehive_circuit_breaker_state', state='open')
            | selectattr('value', '==', 1.0) | map(attribute='labels.name') | list == ['pms_connector']
          - page | voicehive.remediation.prom_value('voicehive_database_up', default=0) == 1
          - page | voicehive.remediation.prom_value('voicehive_http_requests_total', status=500, aggregate='sum') == 5
    - name: A malformed page fails the task with the line number
      block:
        - ansible.builtin.debug:
            msg: "{{ bad_page | voicehive.remediation.prom_parse }}"
          vars:
            bad_page: |
              ok 1
              broken
      rescue:
        - ansible.builtin.assert:
            that: "'prom_parse: line 2: expected a space and a value' in ansible_failed_result.msg"
"""
    )
    out = subprocess.run(
        [str(ANSIBLE_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=dict(
            os.environ,
            ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH),
            ANSIBLE_PYTHON_INTERPRETER=sys.executable,
            ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
        ),
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "failed=0" in out.stdout
