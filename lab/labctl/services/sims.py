"""The lab simulators (lab/sims, written alongside): orchestrator (primary/DR), Apaleo, LiveKit, notify sink."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from .. import paths
from .base import Service

KUBE_SERVER = "https://127.0.0.1:16443"


def kube_block(secrets: dict[str, str]) -> dict[str, Any]:
    return {
        "server": KUBE_SERVER,
        "token": secrets["kube_admin_token"],
        "ca_file": str(paths.STATE / "kubesim" / "ca.crt"),
    }


def apaleo_config(svc: SimService, secrets: dict[str, str]) -> dict[str, Any]:
    return {
        "host": paths.HOST,
        "port": svc.port,
        "state_dir": str(svc.state),
        "lab_token": secrets["apaleo_lab_token"],
        "client_id": secrets["apaleo_client_id"],
        "client_secret": secrets["apaleo_client_secret"],
        "properties": {"LAB001": "VoiceHive Lab Grand Hotel", "LAB002": "VoiceHive Lab Seaside Resort"},
        "token_ttl": 3600,
    }


def livekit_config(svc: SimService, secrets: dict[str, str]) -> dict[str, Any]:
    return {
        "host": paths.HOST,
        "port": svc.port,
        "api_key": secrets["livekit_api_key"],
        "api_secret": secrets["livekit_api_secret"],
        "lab_token": secrets["apaleo_lab_token"],
    }


def awx_config(svc: SimService, secrets: dict[str, str]) -> dict[str, Any]:
    return {
        "host": paths.HOST,
        "port": svc.port,
        "state_dir": str(svc.state),
        "token": secrets["awx_token"],
        "admin_password": secrets["awx_admin_password"],
        "lab_token": secrets["apaleo_lab_token"],
        # every project is this checkout: a job template's playbook must exist in it
        "playbooks_root": str(paths.ROOT),
    }


def notify_config(svc: SimService, secrets: dict[str, str]) -> dict[str, Any]:
    return {"host": paths.HOST, "port": svc.port, "messages_file": str(svc.state / "messages.jsonl")}


def orchestrator_config(site: str, namespace: str, redis_port: int, pg_port: int) -> Callable[..., dict[str, Any]]:
    def build(svc: SimService, secrets: dict[str, str]) -> dict[str, Any]:
        return {
            "host": paths.HOST,
            "port": svc.port,
            "site": site,
            "namespace": namespace,
            "deployment": "orchestrator",
            "lab_token": secrets["apaleo_lab_token"],
            "log_file": str(paths.state_dir("orchestrator") / f"{site}.log"),
            "redis_url": f"redis://:{secrets['redis_password']}@127.0.0.1:{redis_port}/0",
            "postgres": {
                "host": paths.HOST,
                "port": pg_port,
                "dbname": "voicehive",
                "user": "voicehive",
                "password": secrets["postgres_password"],
            },
            "database_url": (f"postgresql://voicehive:{secrets['postgres_password']}@127.0.0.1:{pg_port}/voicehive"),
            "vault": {
                "url": "http://127.0.0.1:18200",
                "token": secrets["vault_root_token"],
                "kv_mount": "voicehive",
                "api_key_mount": "secret",
                "role": "voicehive-orchestrator",
            },
            "apaleo": {
                "identity_url": "http://127.0.0.1:18081",
                "api_url": "http://127.0.0.1:18081",
                "property_id": "LAB001",
                "hotel_id": "hotel-001",
            },
            "livekit": {
                "url": "http://127.0.0.1:17880",
                "api_key": secrets["livekit_api_key"],
                "api_secret": secrets["livekit_api_secret"],
            },
            "jwt_secret": secrets["jwt_secret"],
            "api_key": secrets["api_key"],
            "kube": kube_block(secrets),
        }

    return build


class SimService(Service):
    def __init__(
        self,
        name: str,
        module: str,
        port: int,
        build_config: Callable[[SimService, dict[str, str]], dict[str, Any]],
        health_path: str = "/health",
    ) -> None:
        self.name = name
        self.module = module
        self.port = port
        self.build_config = build_config
        self.health_path = health_path
        self.start_timeout = 20.0

    @property
    def config_path(self) -> Path:
        return paths.STATE / "sims" / f"{self.name}.json"

    def markers(self) -> list[str]:
        return [str(self.config_path), f"sims.{self.module}"]

    def available(self) -> bool:
        base = paths.LAB / "sims"
        return (base / f"{self.module}.py").exists() or (base / self.module / "__main__.py").exists()

    def prepare(self, secrets: dict[str, str]) -> None:
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.build_config(self, secrets), indent=2, sort_keys=True) + "\n")
        tmp.chmod(0o600)
        tmp.replace(self.config_path)

    def argv(self, secrets: dict[str, str]) -> list[str]:
        return [paths.PYTHON, "-m", f"sims.{self.module}", "--config", str(self.config_path)]

    def env(self, secrets: dict[str, str]) -> dict[str, str]:
        return {"PYTHONPATH": str(paths.LAB), "PYTHONUNBUFFERED": "1"}

    @property
    def url(self) -> str:
        return f"http://{paths.HOST}:{self.port}"

    def healthy(self, secrets: dict[str, str]) -> bool:
        return requests.get(self.url + self.health_path, timeout=3).status_code < 500

    def lab_post(self, path: str, secrets: dict[str, str], body: dict[str, Any] | None = None) -> requests.Response:
        answer = requests.post(
            self.url + path, json=body or {}, headers={"X-Lab-Token": secrets["apaleo_lab_token"]}, timeout=10
        )
        answer.raise_for_status()
        return answer


class ApaleoSim(SimService):
    def repair(self, secrets: dict[str, str]) -> None:
        self.lab_post("/_lab/mode", secrets, {"mode": "normal"})  # an outage (503) is a mode, not a dead process

    def reset(self, secrets: dict[str, str]) -> None:
        self.lab_post("/_lab/reset", secrets)


class LiveKitSim(SimService):
    def repair(self, secrets: dict[str, str]) -> None:
        self.lab_post("/_lab/mode", secrets, {"mode": "normal"})

    def reset(self, secrets: dict[str, str]) -> None:
        self.lab_post("/_lab/mode", secrets, {"mode": "normal"})


class AWXSim(SimService):
    def reset(self, secrets: dict[str, str]) -> None:
        self.lab_post("/_lab/reset", secrets)


class NotifySim(SimService):
    def reset(self, secrets: dict[str, str]) -> None:
        requests.delete(self.url + "/_lab/messages", timeout=5).raise_for_status()


class OrchestratorSim(SimService):
    def healthy(self, secrets: dict[str, str]) -> bool:
        # the process answers; /health itself reflects the site's dependencies (it may say unhealthy)
        return requests.get(self.url + "/health/live", timeout=3).status_code < 500 or super().healthy(secrets)

    def reset(self, secrets: dict[str, str]) -> None:
        with contextlib.suppress(requests.RequestException):
            requests.post(self.url + "/_lab/reset", headers={"X-Lab-Token": secrets["apaleo_lab_token"]}, timeout=10)
