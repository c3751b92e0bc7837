"""A small Kubernetes API client for kubesim (bearer token + CA), used by faults, hooks and reset."""

from __future__ import annotations

import base64
from typing import Any

import requests

from . import paths
from . import secrets as lab_secrets

SERVER = "https://127.0.0.1:16443"
CA = paths.STATE / "kubesim" / "ca.crt"


class Kube:
    def __init__(self, token: str | None = None) -> None:
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token or lab_secrets.get('kube_admin_token')}"
        self.session.headers["Accept"] = "application/json"
        self.session.verify = str(CA)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("verify", str(CA))  # per request: REQUESTS_CA_BUNDLE would override session.verify
        return self.session.request(method, SERVER + path, **kwargs)

    def get(self, path: str, **params: str) -> dict[str, Any] | None:
        answer = self.request("GET", path, params=params or None)
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return answer.json()

    def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.request("PATCH", path, json=body, headers={"Content-Type": "application/merge-patch+json"})
        answer.raise_for_status()
        return answer.json()

    def json_patch(self, path: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        answer = self.request("PATCH", path, json=ops, headers={"Content-Type": "application/json-patch+json"})
        answer.raise_for_status()
        return answer.json()

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.request("PUT", path, json=body)
        answer.raise_for_status()
        return answer.json()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.request("POST", path, json=body)
        answer.raise_for_status()
        return answer.json()

    def delete(self, path: str) -> None:
        answer = self.request("DELETE", path)
        if answer.status_code != 404:
            answer.raise_for_status()

    # --- conveniences -----------------------------------------------------------
    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        data = self.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector) or {}
        return data.get("items", [])

    def annotate_pods(self, namespace: str, selector: str, annotations: dict[str, str | None]) -> list[str]:
        """Annotate the live pods of a selector (pods deleted meanwhile by the controller are skipped)."""
        names = []
        for pod in self.pods(namespace, selector):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            name = pod["metadata"]["name"]
            answer = self.request(
                "PATCH",
                f"/api/v1/namespaces/{namespace}/pods/{name}",
                json={"metadata": {"annotations": annotations}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            if answer.status_code == 404:
                continue
            answer.raise_for_status()
            names.append(name)
        return names

    def configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")

    def patch_configmap(self, namespace: str, name: str, data: dict[str, str | None]) -> dict[str, Any]:
        return self.merge_patch(f"/api/v1/namespaces/{namespace}/configmaps/{name}", {"data": data})

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        obj = self.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
        raw = ((obj or {}).get("data") or {}).get(key)
        return base64.b64decode(raw).decode(errors="replace") if raw is not None else None

    def reset(self) -> None:
        answer = self.request("POST", "/kubesim/v1/reset", json={})
        answer.raise_for_status()


def strip_meta(obj: dict[str, Any]) -> dict[str, Any]:
    """An object as one would re-apply it: without server-managed metadata."""
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k in ("name", "namespace", "labels", "annotations")}
    return {**{k: v for k, v in obj.items() if k not in ("metadata", "status")}, "metadata": meta}
