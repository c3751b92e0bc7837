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
from vh_lab import ROOT, STATE, fault, lab


@pytest.fixture(scope="session")
def lab_up():
    status = subprocess.run([str(ROOT / "lab" / "bin" / "lab"), "status"], capture_output=True, text=True, check=False)
    if status.returncode != 0:
        lab("up")
    return True


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
