"""kubesim persistence across restarts, the reset endpoint and the init command."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]


def _pod_names(sim: Any, selector: str) -> set[str]:
    code, body = sim.api("GET", f"/api/v1/namespaces/voicehive/pods?labelSelector={selector}")
    assert code == 200
    return {p["metadata"]["name"] for p in body["items"]}


def test_state_survives_restart_and_reset_restores_seed(fresh_kubesim: Any) -> None:
    sim = fresh_kubesim
    sim.kubectl(
        "patch",
        "cm",
        "rate-limit-config",
        "-n",
        "voicehive",
        "--type=merge",
        "-p",
        '{"data":{"requests_per_minute":"5"}}',
    )
    sim.kubectl("scale", "deploy/orchestrator", "--replicas=2", "-n", "voicehive")
    sim.wait_for(lambda: len(_pod_names(sim, "app%3Dorchestrator")) == 2)
    pods_before = _pod_names(sim, "app%3Dorchestrator")
    rv_before = int(sim.api("GET", "/api/v1/namespaces/voicehive/configmaps")[1]["metadata"]["resourceVersion"])
    sim.stop()
    state = json.loads((sim.state / "kubesim" / "state.json").read_text())
    assert int(state["rv"]) >= rv_before
    sim.start()
    assert _pod_names(sim, "app%3Dorchestrator") == pods_before
    cm = sim.api("GET", "/api/v1/namespaces/voicehive/configmaps/rate-limit-config")[1]
    assert cm["data"]["requests_per_minute"] == "5"
    assert int(cm["metadata"]["resourceVersion"]) <= rv_before
    sim.kubectl("annotate", "cm", "rate-limit-config", "-n", "voicehive", "touched=yes")
    rv_after = int(
        sim.api("GET", "/api/v1/namespaces/voicehive/configmaps/rate-limit-config")[1]["metadata"]["resourceVersion"]
    )
    assert rv_after > rv_before  # resourceVersions keep increasing across restarts
    token = sim.kubectl("create", "token", "voicehive-orchestrator", "-n", "voicehive").stdout.strip()
    assert sim.api("GET", "/api/v1/namespaces/voicehive/pods", token=token)[0] == 200
    # reset: admin only, restores the seed
    assert sim.api("POST", "/kubesim/v1/reset", {}, token=token)[0] == 403
    code, body = sim.api("POST", "/kubesim/v1/reset", {})
    assert code == 200 and int(body["resourceVersion"]) > rv_after
    cm = sim.api("GET", "/api/v1/namespaces/voicehive/configmaps/rate-limit-config")[1]
    assert cm["data"]["requests_per_minute"] == "60" and "touched" not in (cm["metadata"].get("annotations") or {})
    assert len(_pod_names(sim, "app%3Dorchestrator")) == 3
    assert (
        sim.api("GET", "/apis/apps/v1/namespaces/voicehive/deployments/orchestrator")[1]["status"]["readyReplicas"] == 3
    )
    # the service account was recreated: tokens of the old one no longer authenticate
    assert sim.api("GET", "/api/v1/namespaces/voicehive/pods", token=token)[0] == 401
    assert sim.kubectl("get", "pods", "-n", "voicehive").returncode == 0


def test_init_keeps_token_and_other_secrets(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "secrets.json").write_text(json.dumps({"redis_password": "keep-me"}))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lab"))
    cmd = [
        str(ROOT / ".venv" / "bin" / "python"),
        "-m",
        "kubesim",
        "init",
        "--state-dir",
        str(state),
        "--port",
        "23456",
    ]
    subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=str(ROOT))
    secrets = json.loads((state / "secrets.json").read_text())
    assert secrets["redis_password"] == "keep-me" and secrets["kube_admin_token"]
    assert oct((state / "secrets.json").stat().st_mode & 0o777) == "0o600"
    for name in ("ca.crt", "ca.key", "server.crt", "server.key", "config.json"):
        assert (state / "kubesim" / name).exists()
    ca = (state / "kubesim" / "ca.crt").read_bytes()
    kubeconfig = yaml.safe_load((state / "kubeconfig").read_text())
    assert kubeconfig["current-context"] == "lab"
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:23456"
    assert kubeconfig["users"][0]["user"]["token"] == secrets["kube_admin_token"]
    config = json.loads((state / "kubesim" / "config.json").read_text())
    assert config["listen"] == {"host": "127.0.0.1", "port": 23456}
    assert config["admin_token"] == secrets["kube_admin_token"]
    config["hooks"] = [{"namespace": "x", "selector": "a=b", "event": "pod-started", "exec": ["true"]}]
    (state / "kubesim" / "config.json").write_text(json.dumps(config))
    subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=str(ROOT))
    again = json.loads((state / "kubesim" / "config.json").read_text())
    assert again["hooks"] == config["hooks"] and again["admin_token"] == secrets["kube_admin_token"]
    assert (state / "kubesim" / "ca.crt").read_bytes() == ca  # certificates are kept
    assert not list(tmp_path.glob("*.json"))  # nothing written outside the state dir
