"""kubesim (lab/kubesim, written alongside): the Kubernetes API emulator on 16443."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import requests

from .. import paths
from .. import secrets as lab_secrets
from .base import Service

PORT = 16443
URL = f"https://127.0.0.1:{PORT}"
LAB_BIN = paths.LAB / "bin" / "lab"


def hooks() -> list[dict[str, Any]]:
    """Controller hooks: what a kubelet restarting the pod would do to the real service."""
    return [
        {
            "namespace": namespace,
            "selector": "app=postgresql",
            "event": "pod-started",
            "exec": [str(LAB_BIN), "hook", "postgres-pod-started"],
        }
        for namespace in ("voicehive", "voicehive-dr")
    ] + [
        {
            "namespace": "monitoring",
            "selector": f"app={app}",
            "event": "pod-started",
            "exec": [str(LAB_BIN), "hook", "monitoring-pod-started"],
        }
        for app in ("prometheus", "alertmanager")
    ]


def pod_logs() -> list[dict[str, str]]:
    logs = paths.STATE / "orchestrator"
    return [
        {"namespace": "voicehive", "selector": "app=orchestrator", "file": str(logs / "lab.log")},
        {"namespace": "voicehive-dr", "selector": "app=orchestrator", "file": str(logs / "lab-dr.log")},
        {"namespace": "voicehive", "selector": "app=postgresql", "file": str(paths.LOGS / "postgres-primary.log")},
        {"namespace": "voicehive-dr", "selector": "app=postgresql", "file": str(paths.LOGS / "postgres-dr.log")},
        {"namespace": "monitoring", "selector": "app=prometheus", "file": str(paths.LOGS / "prometheus.log")},
        {"namespace": "monitoring", "selector": "app=alertmanager", "file": str(paths.LOGS / "alertmanager.log")},
    ]


class KubesimService(Service):
    name = "kubesim"
    port = PORT
    start_timeout = 30.0

    @property
    def config_path(self) -> Path:
        return paths.STATE / "kubesim" / "config.json"

    def available(self) -> bool:
        return (paths.LAB / "kubesim" / "__main__.py").exists()

    def markers(self) -> list[str]:
        return [str(self.config_path), "kubesim"]

    def init(self, secrets: dict[str, str]) -> None:
        """`python -m kubesim init` once (certs, config.json, kubeconfig); then add the lab's logs and hooks."""
        if True:  # init is idempotent (certs and token kept) and picks up kubesim's own config changes
            subprocess.run(
                [paths.PYTHON, "-m", "kubesim", "init", "--state-dir", str(paths.STATE), "--port", str(PORT)],
                check=True,
                capture_output=True,
                env={"PYTHONPATH": str(paths.LAB), "PATH": "/usr/bin:/bin"},
                cwd=str(paths.ROOT),
            )
        config = json.loads(self.config_path.read_text())
        token = config.get("admin_token")
        if token and token != secrets.get("kube_admin_token"):
            # kubesim owns its admin token; secrets.json mirrors it
            lab_secrets.update(kube_admin_token=token)
            secrets["kube_admin_token"] = token
        config["pod_logs"] = pod_logs()
        config["hooks"] = hooks()
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(config, indent=2) + "\n")
        tmp.chmod(0o600)
        tmp.replace(self.config_path)

    def prepare(self, secrets: dict[str, str]) -> None:
        self.init(secrets)

    def argv(self, secrets: dict[str, str]) -> list[str]:
        return [paths.PYTHON, "-m", "kubesim", "--config", str(self.config_path)]

    def env(self, secrets: dict[str, str]) -> dict[str, str]:
        return {"PYTHONPATH": str(paths.LAB), "PYTHONUNBUFFERED": "1"}

    def healthy(self, secrets: dict[str, str]) -> bool:
        answer = requests.get(
            f"{URL}/readyz",
            headers={"Authorization": f"Bearer {secrets['kube_admin_token']}"},
            verify=str(paths.STATE / "kubesim" / "ca.crt"),
            timeout=3,
        )
        if answer.status_code == 404:
            answer = requests.get(
                f"{URL}/version",
                headers={"Authorization": f"Bearer {secrets['kube_admin_token']}"},
                verify=str(paths.STATE / "kubesim" / "ca.crt"),
                timeout=3,
            )
        return answer.status_code == 200

    def reset(self, secrets: dict[str, str]) -> None:
        from ..kube import Kube

        Kube(secrets["kube_admin_token"]).reset()
