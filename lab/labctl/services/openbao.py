"""Real OpenBao dev server (Vault API) on 18200, seeded with VoiceHive's secrets, policy and kubernetes auth."""

from __future__ import annotations

import re
from pathlib import Path

import hvac
import requests

from .. import paths, proc
from .. import secrets as lab_secrets
from .base import Service

PORT = 18200
URL = f"http://{paths.HOST}:{PORT}"
KV_MOUNT = "voicehive"
HOTELS = ("hotel-001", "hotel-002")
ROLE = "voicehive-orchestrator"
POLICY = f"""# VoiceHive orchestrator: read its PMS credentials and API keys
path "{KV_MOUNT}/data/pms/*" {{ capabilities = ["read"] }}
path "{KV_MOUNT}/metadata/pms/*" {{ capabilities = ["read", "list"] }}
path "secret/data/pms/*" {{ capabilities = ["read"] }}
path "secret/data/api-keys/*" {{ capabilities = ["read"] }}
path "secret/metadata/api-keys/*" {{ capabilities = ["read", "list"] }}
"""
KUBE_HOST = "https://127.0.0.1:16443"


def bao_binary() -> str:
    return str(paths.VENV_BIN / "bao")


def client(secrets: dict[str, str]) -> hvac.Client:
    return hvac.Client(url=URL, token=secrets["vault_root_token"], timeout=5)


def kv_secrets(secrets: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """(mount, path, data) of every seeded secret."""
    creds = {"client_id": secrets["apaleo_client_id"], "client_secret": secrets["apaleo_client_secret"]}
    items: list[tuple[str, str, dict[str, str]]] = [
        (KV_MOUNT, f"pms/apaleo/{hotel}/api-credentials", dict(creds)) for hotel in HOTELS
    ]
    items.append(("secret", "pms/apaleo/credentials", dict(creds)))
    items.append(
        (
            "secret",
            f"api-keys/{secrets['api_key']}",
            {"client": "apaleo-webhooks", "scopes": "webhooks:write,calls:read", "status": "active"},
        )
    )
    return items


class OpenBaoService(Service):
    name = "openbao"
    port = PORT
    start_timeout = 20.0

    def markers(self) -> list[str]:
        return [f"127.0.0.1:{PORT}", "server"]

    def argv(self, secrets: dict[str, str]) -> list[str]:
        return [
            bao_binary(),
            "server",
            "-dev",
            f"-dev-root-token-id={secrets['vault_root_token']}",
            f"-dev-listen-address=127.0.0.1:{PORT}",
            "-dev-no-store-token",
        ]

    def env(self, secrets: dict[str, str]) -> dict[str, str]:
        return {"HOME": str(self.state), "BAO_ADDR": URL, "VAULT_ADDR": URL}

    def healthy(self, secrets: dict[str, str]) -> bool:
        answer = requests.get(f"{URL}/v1/sys/health", timeout=3)
        return answer.status_code == 200 and answer.json().get("sealed") is False

    def booted(self, secrets: dict[str, str]) -> bool:
        return requests.get(f"{URL}/v1/sys/health", timeout=3).status_code in (200, 429, 472, 473, 501, 503)

    def after_start(self, secrets: dict[str, str]) -> None:
        """Capture the dev server's unseal key from its log (printed once at start), then redact the log."""
        log = proc.log_file(self.name)
        keys: list[str] = []

        def found() -> bool:
            current = log.read_text(errors="replace").rsplit("\n--- ", 1)[-1]  # this start only
            keys[:] = re.findall(r"Unseal Key: (\S+)", current)
            return bool(keys)

        if proc.wait_for(found, 10.0, 0.1):
            lab_secrets.update(vault_unseal_key=keys[-1])
            secrets["vault_unseal_key"] = keys[-1]
        text = log.read_text(errors="replace")
        for value in {*keys, secrets["vault_root_token"]}:
            text = text.replace(value, "<redacted>")
        with open(log, "r+") as fh:  # the server appends (O_APPEND): rewriting in place is safe
            fh.write(text)
            fh.truncate()

    def seed(self, secrets: dict[str, str]) -> None:
        vault = client(secrets)
        mounts = vault.sys.list_mounted_secrets_engines()
        mounts = mounts.get("data", mounts)
        for mount in (KV_MOUNT, "secret"):
            if f"{mount}/" not in mounts:
                vault.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
        for mount, path, data in kv_secrets(secrets):
            vault.secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point=mount)
        vault.sys.create_or_update_policy(name=ROLE, policy=POLICY)
        self.seed_kubernetes_auth(vault, secrets)

    def repair(self, secrets: dict[str, str]) -> None:
        """A sealed dev server is unsealed (a restart would lose its in-memory data)."""
        state = requests.get(f"{URL}/v1/sys/seal-status", timeout=3).json()
        if state.get("sealed") and secrets.get("vault_unseal_key"):
            requests.put(f"{URL}/v1/sys/unseal", json={"key": secrets["vault_unseal_key"]}, timeout=5)

    def heal(self, secrets: dict[str, str]) -> None:
        vault = client(secrets)
        methods = vault.sys.list_auth_methods()
        if "kubernetes/" not in methods.get("data", methods):
            self.seed_kubernetes_auth(vault, secrets)

    def seed_kubernetes_auth(self, vault: hvac.Client, secrets: dict[str, str]) -> None:
        ca_file = paths.STATE / "kubesim" / "ca.crt"
        if not ca_file.exists():
            return
        methods = vault.sys.list_auth_methods()
        methods = methods.get("data", methods)
        if "kubernetes/" not in methods:
            vault.sys.enable_auth_method("kubernetes")
        vault.write_data(
            "auth/kubernetes/config",
            data={
                "kubernetes_host": KUBE_HOST,
                "kubernetes_ca_cert": Path(ca_file).read_text(),
                "token_reviewer_jwt": secrets["kube_admin_token"],
                "disable_local_ca_jwt": True,
            },
        )
        vault.write_data(
            f"auth/kubernetes/role/{ROLE}",
            data={
                "bound_service_account_names": [ROLE],
                "bound_service_account_namespaces": ["voicehive", "voicehive-dr"],
                "token_policies": [ROLE],
                "token_ttl": "1h",
            },
        )

    def reset(self, secrets: dict[str, str]) -> None:
        self.repair(secrets)
        self.seed(secrets)
