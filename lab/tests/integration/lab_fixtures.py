"""Fixtures for the tests of the running lab (lab/bin/lab up): imported by test_lab_*.py and test_faults.py.

The session fixture starts the lab when `lab status` fails and never stops it: `hack/with-lab`
(used by `make integration`) owns start and stop.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
import requests

ROOT = Path(__file__).resolve().parents[3]
LAB = ROOT / "lab"
STATE = LAB / ".state"
VENV_BIN = ROOT / ".venv" / "bin"
if str(LAB) not in sys.path:
    sys.path.insert(0, str(LAB))

T = TypeVar("T")


def run(*argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def lab(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(str(LAB / "bin" / "lab"), *args, check=check)


def fault(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(str(LAB / "bin" / "fault"), *args, check=check)


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.25, what: str = "") -> T:
    """Poll until predicate() is truthy (exceptions count as "not yet"); fail with the last value or error."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what or 'condition'} not met within {timeout}s (last: {last!r})")
        time.sleep(interval)


@pytest.fixture(scope="session")
def running_lab() -> dict[str, str]:
    """The lab is up (started here if needed); returns secrets.json."""
    if lab("status", check=False).returncode != 0:
        lab("up")
        wait_for(lambda: lab("status", check=False).returncode == 0, 30, 1, "lab status healthy")
    return json.loads((STATE / "secrets.json").read_text())


@pytest.fixture(scope="session")
def secrets(running_lab: dict[str, str]) -> dict[str, str]:
    return running_lab


class KubeApi:
    """Raw Kubernetes API calls against kubesim (the CA passed per request on purpose)."""

    def __init__(self, token: str) -> None:
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ca = str(STATE / "kubesim" / "ca.crt")

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(
            method, "https://127.0.0.1:16443" + path, headers=headers, verify=self.ca, timeout=15, **kwargs
        )

    def get(self, path: str, **params: str) -> dict[str, Any]:
        answer = self.call("GET", path, params=params or None)
        answer.raise_for_status()
        return answer.json()

    def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.call("PATCH", path, json=body, headers={"Content-Type": "application/merge-patch+json"})
        answer.raise_for_status()
        return answer.json()

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)["items"]


@pytest.fixture(scope="session")
def kube(running_lab: dict[str, str]) -> KubeApi:
    return KubeApi(running_lab["kube_admin_token"])


@pytest.fixture
def primary_redis(secrets: dict[str, str]) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=16379, password=secrets["redis_password"], decode_responses=True)


def pg_connect(secrets: dict[str, str], port: int = 15432, **kwargs: Any) -> Any:
    import psycopg

    return psycopg.connect(
        host="127.0.0.1",
        port=port,
        user="voicehive",
        password=secrets["postgres_password"],
        dbname="voicehive",
        autocommit=True,
        connect_timeout=3,
        **kwargs,
    )


def vault_get(path: str, token: str) -> requests.Response:
    return requests.get(f"http://127.0.0.1:18200/v1/{path}", headers={"X-Vault-Token": token}, timeout=5)


def prom_target(site: str = "lab") -> dict[str, Any] | None:
    data = requests.get("http://127.0.0.1:19090/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    for target in data:
        if target["labels"].get("job") == "voicehive-orchestrator" and target["labels"].get("site") == site:
            return target
    return None


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
