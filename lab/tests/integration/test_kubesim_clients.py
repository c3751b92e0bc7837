"""The kubernetes python client (DynamicClient, typed APIs) and kubernetes.core modules against kubesim."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, dynamic  # noqa: E402
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError, UnprocessibleEntityError  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = ROOT / ".venv" / "bin" / "ansible-playbook"


@pytest.fixture(scope="module")
def api_client(kubesim: Any) -> Any:
    return config.new_client_from_config(config_file=str(kubesim.kubeconfig))


@pytest.fixture(scope="module")
def dyn(api_client: Any) -> Any:
    return dynamic.DynamicClient(api_client)


def test_dynamic_client_selectors_and_patches(dyn: Any) -> None:
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    core = deployments.get(namespace="voicehive", label_selector="component=core")
    assert [d.metadata.name for d in core.items] == ["orchestrator"]
    voice = deployments.get(namespace="voicehive", label_selector="component in (voice),app!=tts-router")
    assert sorted(d.metadata.name for d in voice.items) == ["asr-router", "livekit-agent"]
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    running = pods.get(namespace="voicehive", label_selector="app=orchestrator", field_selector="status.phase=Running")
    assert len(running.items) == 3 and all(p.spec.nodeName == "kubesim-node-1" for p in running.items)
    assert not pods.get(namespace="voicehive", label_selector="!app").items
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    patched = cms.patch(
        name="circuit-breaker-config",
        namespace="voicehive",
        body={"data": {"failure_threshold": "7"}},
        content_type="application/merge-patch+json",
    )
    assert patched.data.failure_threshold == "7" and patched.data.timeout == "30"
    with pytest.raises(NotFoundError):
        cms.get(name="does-not-exist", namespace="voicehive")
    with pytest.raises(UnprocessibleEntityError):
        deployments.patch(
            name="orchestrator",
            namespace="voicehive",
            body={"spec": {"replicas": -1}},
            content_type="application/merge-patch+json",
        )
    applied = cms.server_side_apply(
        namespace="voicehive",
        field_manager="pytest",
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ssa-cm", "namespace": "voicehive"},
            "data": {"k": "v"},
        },
    )
    assert applied.data.k == "v"


def test_lease_lock_conflict(dyn: Any) -> None:
    leases = dyn.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "remediation-lock", "namespace": "voicehive"},
        "spec": {
            "holderIdentity": "run-1",
            "leaseDurationSeconds": 300,
            "acquireTime": "2026-11-28T10:00:00.000000Z",
            "renewTime": "2026-11-28T10:00:00.000000Z",
        },
    }
    created = leases.create(body=body, namespace="voicehive")
    rv = created.metadata.resourceVersion
    with pytest.raises(ConflictError):
        leases.create(body=body, namespace="voicehive")
    mine = created.to_dict()
    mine["spec"]["holderIdentity"] = "run-2"
    updated = leases.replace(body=mine, namespace="voicehive")
    assert updated.spec.holderIdentity == "run-2" and updated.metadata.resourceVersion != rv
    stale = created.to_dict()
    stale["spec"]["holderIdentity"] = "run-3"
    with pytest.raises(ConflictError) as err:
        leases.replace(body=stale, namespace="voicehive")
    assert json.loads(err.value.body)["reason"] == "Conflict"
    got = leases.get(name="remediation-lock", namespace="voicehive")
    assert got.spec.holderIdentity == "run-2" and got.spec.renewTime == "2026-11-28T10:00:00.000000Z"
    leases.delete(name="remediation-lock", namespace="voicehive")
    with pytest.raises(NotFoundError):
        leases.get(name="remediation-lock", namespace="voicehive")


def test_token_request_review_and_sa_bearer(kubesim: Any, api_client: Any) -> None:
    core = client.CoreV1Api(api_client)
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=["vault"], expiration_seconds=600)
    )
    token = core.create_namespaced_service_account_token("voicehive-orchestrator", "voicehive", request).status.token
    auth = client.AuthenticationV1Api(api_client)
    review = auth.create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token, audiences=["vault"]))
    )
    assert review.status.authenticated is True
    assert review.status.user.username == "system:serviceaccount:voicehive:voicehive-orchestrator"
    assert "system:serviceaccounts:voicehive" in review.status.user.groups
    assert review.status.audiences == ["vault"]
    wrong = auth.create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token, audiences=["other"]))
    )
    assert wrong.status.authenticated is False and wrong.status.error
    garbage = auth.create_token_review(client.V1TokenReview(spec=client.V1TokenReviewSpec(token="x.y.z")))
    assert garbage.status.authenticated is False
    # a default-audience token authenticates API calls as the service account
    default_tok = core.create_namespaced_service_account_token(
        "voicehive-orchestrator",
        "voicehive",
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    ).status.token
    code, pods = kubesim.api("GET", "/api/v1/namespaces/voicehive/pods?labelSelector=app%3Dredis", token=default_tok)
    assert code == 200 and len(pods["items"]) == 1
    entry = [e for e in kubesim.requests() if e["resource"] == "pods" and e["verb"] == "list"][-1]
    assert entry["user"] == "system:serviceaccount:voicehive:voicehive-orchestrator"
    assert kubesim.api("GET", "/api/v1/namespaces/voicehive/pods", token=token)[0] == 401  # audience "vault" only


PLAYBOOK = """
- name: kubernetes.core against kubesim
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/kubernetes.core.k8s:
      kubeconfig: "{{ kc }}"
  tasks:
    - name: Deployments by label selectors
      kubernetes.core.k8s_info:
        api_version: apps/v1
        kind: Deployment
        namespace: voicehive
        label_selectors: ["app=orchestrator", "component=core"]
      register: deps
    - name: Exactly the orchestrator
      ansible.builtin.assert:
        that:
          - deps.resources | length == 1
          - deps.resources[0].status.readyReplicas == 3
    - name: Create a ConfigMap
      kubernetes.core.k8s:
        api_version: v1
        kind: ConfigMap
        state: present
        definition:
          metadata: {name: ansible-cm, namespace: voicehive}
          data: {a: "1"}
      register: first
    - name: Create it again
      kubernetes.core.k8s:
        api_version: v1
        kind: ConfigMap
        state: present
        definition:
          metadata: {name: ansible-cm, namespace: voicehive}
          data: {a: "1"}
      register: second
    - name: Patch a seeded ConfigMap
      kubernetes.core.k8s:
        api_version: v1
        kind: ConfigMap
        name: rate-limit-config
        namespace: voicehive
        state: patched
        definition:
          data: {requests_per_minute: "90"}
      register: patched
    - name: Patch a Deployment env (strategic merge)
      kubernetes.core.k8s:
        api_version: apps/v1
        kind: Deployment
        name: orchestrator
        namespace: voicehive
        state: patched
        definition:
          spec:
            template:
              spec:
                containers:
                  - name: orchestrator
                    env:
                      - {name: CACHE_ENABLED, value: "true"}
      register: envpatch
    - name: Delete the ConfigMap
      kubernetes.core.k8s:
        api_version: v1
        kind: ConfigMap
        name: ansible-cm
        namespace: voicehive
        state: absent
        wait: true
      register: deleted
    - name: Scale redis in DR and wait
      kubernetes.core.k8s_scale:
        api_version: apps/v1
        kind: Deployment
        name: redis
        namespace: voicehive-dr
        replicas: 2
        wait: true
        wait_timeout: 30
      register: scaled
    - name: Pods of the DR redis
      kubernetes.core.k8s_info:
        api_version: v1
        kind: Pod
        namespace: voicehive-dr
        label_selectors: ["app=redis"]
        field_selectors: ["status.phase=Running"]
      register: redis_pods
    - name: Logs of the orchestrator by label selector
      kubernetes.core.k8s_log:
        api_version: v1
        kind: Pod
        namespace: voicehive
        label_selectors: ["app=orchestrator"]
        tail_lines: 2
      register: logs
    - name: Wait for the orchestrator rollout
      kubernetes.core.k8s_info:
        api_version: apps/v1
        kind: Deployment
        name: orchestrator
        namespace: voicehive
        wait: true
        wait_condition: {type: Progressing, status: "True", reason: NewReplicaSetAvailable}
        wait_timeout: 30
      register: rolled
    - name: Check results
      ansible.builtin.assert:
        that:
          - first is changed
          - second is not changed
          - patched is changed
          - envpatch is changed
          - deleted is changed
          - scaled is changed
          - redis_pods.resources | length == 2
          - (logs.log_lines | select | list) == ["2026-11-28T10:00:04Z INFO orchestrator line 4",
                               "2026-11-28T10:00:05Z INFO orchestrator line 5"]
          - rolled.resources[0].status.updatedReplicas == 3
"""


def test_kubernetes_core_playbook(kubesim: Any, tmp_path: Path) -> None:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in .venv")
    (tmp_path / "play.yml").write_text(textwrap.dedent(PLAYBOOK))
    (tmp_path / "ansible.cfg").write_text("[defaults]\nstdout_callback = default\n")
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
        ANSIBLE_HOME=str(tmp_path / "ansible-home"),
        ANSIBLE_NOCOLOR="1",
        PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
    )
    result = subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(tmp_path / "play.yml"),
            "-e",
            f"ansible_python_interpreter={ROOT / '.venv' / 'bin' / 'python'}",
            "-e",
            f"kc={kubesim.kubeconfig}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # the state the playbook left is real
    assert kubesim.api("GET", "/api/v1/namespaces/voicehive/configmaps/ansible-cm")[0] == 404
    rate = kubesim.api("GET", "/api/v1/namespaces/voicehive/configmaps/rate-limit-config")[1]
    assert rate["data"]["requests_per_minute"] == "90"
    dep = kubesim.api("GET", "/apis/apps/v1/namespaces/voicehive/deployments/orchestrator")[1]
    env_vars = {e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env_vars["CACHE_ENABLED"] == "true" and env_vars["FALLBACK_MODE"] == "false"
    verbs = {(e["verb"], e["resource"], e["subresource"]) for e in kubesim.requests()}
    assert ("patch", "configmaps", "") in verbs and ("get", "pods", "log") in verbs
