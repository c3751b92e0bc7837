# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for integration tests against the running lab (make lab-up)."""

from __future__ import annotations

import json
import subprocess

import pytest
import redis
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from vh_lab import (
    ROOT,
    RUN_OUTPUTS,
    STATE,
    apply_shipped_rbac,
    fault,
    lab,
    notifications,
    secret_leaks,
    start_service_account_checks,
    unchecked_service_account_problems,
)


@pytest.fixture(scope="session")
def lab_up():
    status = subprocess.run([str(ROOT / "lab" / "bin" / "lab"), "status"], capture_output=True, text=True, check=False)
    if status.returncode != 0:
        lab("up")
    apply_shipped_rbac()
    return True


@pytest.fixture(autouse=True)
def only_the_shipped_rbac(lab_up):
    """Every request the playbook runs made as the ServiceAccount (since the last check, so a module's story
    fixture counts too) is allowed by the shipped RBAC, names the pod when it reads a log, and is no server error."""
    start_service_account_checks()
    yield
    problems = unchecked_service_account_problems()
    assert not problems, "as the ServiceAccount of docs/rbac/voicehive-remediation.yml:\n" + "\n".join(problems)


@pytest.fixture(autouse=True)
def no_secret_in_any_output(lab_up, secrets):
    """No lab secret (secrets.json, and the ServiceAccount's token) appears in anything a playbook run of the
    test printed or wrote: its console output, its reports (JSON and Markdown) and the notifications the lab
    received during the test (a module-scoped story's runs count with the first test that uses it)."""
    yield
    texts = list(RUN_OUTPUTS)
    if texts:
        # a PagerDuty event carries its routing key: the Events API needs it (as an HTTP API needs its
        # Authorization header); everything else of every message is scanned
        messages = [
            {**m, "body": {k: v for k, v in m["body"].items() if k != "routing_key"}}
            if m.get("channel") == "pagerduty" and isinstance(m.get("body"), dict)
            else m
            for m in notifications()
        ]
        texts.append(("notifications", json.dumps(messages)))
    leaks = secret_leaks(texts, secrets)
    RUN_OUTPUTS.clear()
    assert not leaks, "secret values in the output of this test's playbook runs:\n" + "\n".join(leaks)


@pytest.fixture
def clean_lab(lab_up):
    """A lab in its seeded healthy state, for every test."""
    lab("reset")
    yield
    fault("clear")


@pytest.fixture(scope="session")
def secrets(lab_up) -> dict:
    return json.loads((STATE / "secrets.json").read_text())


@pytest.fixture
def primary_redis(secrets) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=16379, password=secrets["redis_password"], decode_responses=True)


@pytest.fixture(scope="session")
def kube(lab_up) -> k8s_client.ApiClient:
    return k8s_config.new_client_from_config(config_file=str(STATE / "kubeconfig"), context="lab")
