"""Every apps/v1 and batch/v1 workload kind through kubernetes.core and kubectl, as against a cluster.

One playbook (one ansible-playbook run) in a scratch namespace: per kind create with ``wait: true``,
scale, apply with diff, patch, ``wait_condition``, ``kubectl rollout status`` / ``kubectl wait``,
rollout restart, then delete with each propagationPolicy; plus the namespace delete/re-create
followed by a templated client-side apply with diff, and a template with empty keys (explicit nulls)
created without apply and then applied twice. The namespace is deleted at the end.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import KUBECTL, ROOT

ANSIBLE_PLAYBOOK = ROOT / ".venv" / "bin" / "ansible-playbook"
NS = "kubesim-workloads"

POD_TEMPLATE = """\
apiVersion: v1
kind: Pod
metadata:
  name: solo
  namespace: {{ ns }}
  labels: {app: solo, tier: "{{ tier }}"}
spec:
  restartPolicy: Always
  containers:
    - name: c
      image: busybox:1.36
      env: [{name: TIER, value: "{{ tier }}"}]
"""

# a template with keys left empty: YAML renders them as explicit nulls (metadata.annotations: null...)
BLANK_POD_TEMPLATE = """\
apiVersion: v1
kind: Pod
metadata:
  name: blank
  namespace: {{ ns }}
  labels:
  annotations:
spec:
  nodeSelector:
  containers:
    - name: c
      image: busybox:1.36
      env:
      resources:
"""

WORKLOADS = """\
{% for kind, name in kinds.items() %}
---
apiVersion: apps/v1
kind: {{ kind }}
metadata:
  name: {{ name }}
  namespace: {{ ns }}
  annotations: {owner: team-{{ name }}}
spec:
{% if kind != 'DaemonSet' %}
  replicas: 2
{% endif %}
{% if kind == 'StatefulSet' %}
  serviceName: {{ name }}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
{% endif %}
  selector: {matchLabels: {app: {{ name }}}}
  template:
    metadata: {labels: {app: {{ name }}}}
    spec:
      containers: [{name: c, image: "{{ image }}"}]
{% endfor %}
{% if batch | default(false) %}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: "{{ ns }}"}
spec:
  completions: 2
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "busybox:1.36"}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: "{{ ns }}"}
spec:
  schedule: "*/5 * * * *"
  timeZone: Asia/Tokyo
  startingDeadlineSeconds: 120
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: "busybox:1.36"}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: "{{ ns }}"}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 5
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]
{% endif %}
"""

# a Job failed by its pod failure policy (its pods exit 42) and an Indexed Job complete once index 0 succeeds
POLICY_JOBS = """\
apiVersion: batch/v1
kind: Job
metadata: {name: crash, namespace: "{{ ns }}"}
spec:
  podFailurePolicy:
    rules:
      - {action: FailJob, onExitCodes: {containerName: c, operator: In, values: [42]}}
      - {action: Ignore, onPodConditions: [{type: DisruptionTarget}]}
  template:
    metadata: {annotations: {kubesim.voicehive.io/exit-code: "42"}}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "busybox:1.36"}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: leader, namespace: "{{ ns }}"}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  successPolicy: {rules: [{succeededIndexes: "0"}]}
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "busybox:1.36"}]
"""

KUBECTL_SCRIPT = """\
set -e
k() { "$KUBECTL" --kubeconfig "$KC" -n "$NS" "$@"; }
k rollout restart deploy/web sts/db ds/agent
k rollout status deploy/web --timeout=30s
k rollout status sts/db --timeout=30s
k rollout status ds/agent --timeout=30s
k wait --for=condition=Available deploy/web --timeout=30s
k wait --for=condition=Complete job/once --timeout=30s
k wait --for=jsonpath='{.status.readyReplicas}'=2 rs/cache --timeout=30s
k get ds agent
k get job once
k get cronjob tick
k get hpa web
k get pvc
k wait --for=condition=Failed job/crash --timeout=30s
k get job crash leader
k get pv
k get sc
"""

PLAYBOOK = """
- name: Workload kinds against kubesim
  hosts: localhost
  gather_facts: false
  vars:
    kinds: {Deployment: web, StatefulSet: db, DaemonSet: agent, ReplicaSet: cache}
  module_defaults:
    group/kubernetes.core.k8s:
      kubeconfig: "{{ kc }}"
      wait_sleep: 1
  tasks:
    - name: The issue's sequence - namespace deleted and re-created, then a templated apply with diff
      kubernetes.core.k8s: {api_version: v1, kind: Namespace, name: "{{ ns }}", state: "{{ item }}", wait: true}
      loop: [present, absent, present]
    - name: Templated Pod, apply with diff (twice; the second is a no-op)
      kubernetes.core.k8s: {apply: true, template: pod.j2, wait: true}
      diff: true
      vars: {tier: "1"}
      loop: [1, 2]
      register: solo
    - name: Namespace deleted (its Pod with it) and re-created
      kubernetes.core.k8s: {api_version: v1, kind: Namespace, name: "{{ ns }}", state: "{{ item }}", wait: true}
      loop: [absent, present]
    - name: Templated Pod again in the re-created namespace
      kubernetes.core.k8s: {apply: true, template: pod.j2, wait: true}
      diff: true
      vars: {tier: "2"}
      register: solo_again
    - name: Same Pod, changed label only
      kubernetes.core.k8s: {apply: true, template: pod.j2}
      diff: true
      vars: {tier: "3"}
      register: solo_changed
    - name: A template with empty keys, created without apply, then applied twice (stored nulls broke the apply)
      kubernetes.core.k8s: {apply: "{{ item > 0 }}", template: blank.j2, wait: true}
      diff: true
      loop: [0, 1, 2]
      register: blank

    - name: Create every workload kind (and an HPA) with wait - the Job waits until Complete
      kubernetes.core.k8s: {apply: true, template: workload.j2, wait: true, wait_timeout: 30}
      diff: true
      vars: {image: "busybox:1.36", batch: true}
      register: created
    - name: Jobs with a pod failure policy and a success policy (no wait - one of them fails on purpose)
      kubernetes.core.k8s: {template: policies.j2}
      register: policy_jobs
    - name: A CronJob in a time zone the apiserver does not know is refused
      kubernetes.core.k8s:
        definition:
          apiVersion: batch/v1
          kind: CronJob
          metadata: {name: mars, namespace: "{{ ns }}"}
          spec:
            schedule: "0 * * * *"
            timeZone: Mars/Olympus
            jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}
      ignore_errors: true
      register: bad_zone
    - name: Scale the scalable kinds with wait
      kubernetes.core.k8s_scale:
        api_version: apps/v1
        kind: "{{ item }}"
        name: "{{ kinds[item] }}"
        namespace: "{{ ns }}"
        replicas: 3
        wait: true
        wait_timeout: 30
      loop: [Deployment, StatefulSet, ReplicaSet]
      register: scaled
    - name: Apply with diff (new image; replicas back to the applied 2) and wait
      kubernetes.core.k8s: {apply: true, template: workload.j2, wait: true, wait_timeout: 30}
      diff: true
      vars: {image: "busybox:1.37"}
      register: applied
    - name: Patch an annotation on each
      kubernetes.core.k8s:
        state: patched
        definition: |
          {% for kind, name in kinds.items() %}
          ---
          {{ {'apiVersion': 'apps/v1', 'kind': kind,
              'metadata': {'name': name, 'namespace': ns, 'annotations': {'patched': 'yes'}}} | to_json }}
          {% endfor %}
      register: patched
    - name: wait_condition on Deployment Available and Job Complete
      kubernetes.core.k8s_info:
        api_version: "{{ item.av }}"
        kind: "{{ item.kind }}"
        name: "{{ item.name }}"
        namespace: "{{ ns }}"
        wait: true
        wait_timeout: 30
        wait_condition: {type: "{{ item.type }}", status: "True", reason: "{{ item.reason | default(omit) }}"}
      loop:
        - {av: apps/v1, kind: Deployment, name: web, type: Available}
        - {av: batch/v1, kind: Job, name: once, type: Complete}
        - {av: batch/v1, kind: Job, name: crash, type: Failed, reason: PodFailurePolicy}
        - {av: batch/v1, kind: Job, name: leader, type: Complete, reason: SuccessPolicy}
      register: conditions
    - name: kubectl rollout restart, rollout status, wait and get
      ansible.builtin.shell: {cmd: "{{ lookup('file', 'kubectl.sh') }}", executable: /bin/bash}
      environment: {KUBECTL: __KUBECTL__, KC: "{{ kc }}", NS: "{{ ns }}"}
      changed_when: false
      register: kubectl_out
    - name: Read back what the controllers did
      ansible.builtin.command:
        argv: [__KUBECTL__, --kubeconfig, "{{ kc }}", -n, "{{ ns }}", get, "ds,sts,job,pods", -o, json]
      changed_when: false
      register: state

    - name: Delete with each propagation policy and wait
      kubernetes.core.k8s:
        state: absent
        delete_options: {propagationPolicy: "{{ item.policy }}"}
        wait: true
        wait_timeout: 30
        definition: "{{ item.objects }}"
      loop:
        - policy: Foreground
          objects:
            - {apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: "{{ ns }}"}}
            - {apiVersion: apps/v1, kind: ReplicaSet, metadata: {name: cache, namespace: "{{ ns }}"}}
        - policy: Background
          objects:
            - {apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db, namespace: "{{ ns }}"}}
            - {apiVersion: batch/v1, kind: Job, metadata: {name: once, namespace: "{{ ns }}"}}
            - {apiVersion: batch/v1, kind: Job, metadata: {name: crash, namespace: "{{ ns }}"}}
            - {apiVersion: batch/v1, kind: Job, metadata: {name: leader, namespace: "{{ ns }}"}}
            - {apiVersion: batch/v1, kind: CronJob, metadata: {name: tick, namespace: "{{ ns }}"}}
        - policy: Orphan
          objects:
            - {apiVersion: apps/v1, kind: DaemonSet, metadata: {name: agent, namespace: "{{ ns }}"}}
      register: deleted
    - name: Pods left after the deletions
      kubernetes.core.k8s_info: {api_version: v1, kind: Pod, namespace: "{{ ns }}"}
      register: left
    - name: Claims left after the deletions (retention policy Retain)
      kubernetes.core.k8s_info: {api_version: v1, kind: PersistentVolumeClaim, namespace: "{{ ns }}"}
      register: claims_left
    - name: Check everything
      vars:
        objects: "{{ (state.stdout | from_json)['items'] }}"
        ds: "{{ objects | selectattr('kind', 'eq', 'DaemonSet') | first }}"
        sts: "{{ objects | selectattr('kind', 'eq', 'StatefulSet') | first }}"
        job: "{{ objects | selectattr('kind', 'eq', 'Job') | selectattr('metadata.name', 'eq', 'once') | first }}"
        pods: "{{ objects | selectattr('kind', 'eq', 'Pod') | list }}"
        out: "{{ kubectl_out.stdout }}"
      ansible.builtin.assert:
        that:
          - solo.results[0] is changed and solo.results[1] is not changed
          - solo_again is changed and solo_again.result.metadata.labels.tier == "2"
          - solo_changed is changed and solo_changed.diff.after.metadata.labels.tier == "3"
          - blank.results | map(attribute='changed') | list == [true, true, false]
          - blank.results[2].result.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'] is defined
          - created.result.results | length == 7
          - created.result.results | map(attribute='changed') is all
          - (created.result.results | selectattr('result.kind', 'eq', 'Job') | first).result.status.succeeded == 2
          - scaled.results | map(attribute='changed') is all
          - applied.result.results | map(attribute='changed') is all
          - applied.result.results | map(attribute='diff.after.spec') | list | length == 4
          - patched.result.results | map(attribute='changed') is all
          - conditions.results | map(attribute='resources') | map('length') | list == [1, 1, 1, 1]
          - policy_jobs.result.results | map(attribute='changed') is all
          - bad_zone is failed and bad_zone.msg is search('spec.timeZone')
          - bad_zone.msg is search('unknown time zone Mars/Olympus')
          - out is search('crash +Failed +0/1') and out is search('leader +Complete +[1-3]/3')
          - out is search('tick +[*]/5 [*] [*] [*] [*] +Asia/Tokyo +False')
          - out is search('NAME +CAPACITY +ACCESS MODES +RECLAIM POLICY +STATUS +CLAIM +STORAGECLASS')
          - out is search('CLAIM +STORAGECLASS +VOLUMEATTRIBUTESCLASS +REASON +AGE')
          - out is search('pvc-[-0-9a-f]+ +1Gi +RWO +Delete +Bound +kubesim-workloads/data-db-1 +standard +<unset>')
          - out is search('NAME +PROVISIONER +RECLAIMPOLICY +VOLUMEBINDINGMODE +ALLOWVOLUMEEXPANSION +AGE')
          - out is search('standard [(]default[)] +rancher.io/local-path +Delete +WaitForFirstConsumer +false')
          - ds.status.desiredNumberScheduled == 1 and ds.status.numberReady == 1
          - ds.status.updatedNumberScheduled == 1 and ds.status.observedGeneration == ds.metadata.generation
          - sts.status.readyReplicas == 2 and sts.status.currentRevision == sts.status.updateRevision
          - sts.spec.podManagementPolicy == 'OrderedReady'
          - job.status.conditions | selectattr('type', 'eq', 'Complete') | list | length == 1
          - pods | map(attribute='metadata.name') | select('match', 'agent-') | list | length == 1
          - out is search('daemon set "agent" successfully rolled out')
          - out is search('DESIRED +CURRENT +READY +UP-TO-DATE +AVAILABLE +NODE SELECTOR')
          - out is search('STATUS +COMPLETIONS +DURATION') and out is search('once +Complete +2/2')
          - out is search('SCHEDULE +TIMEZONE +SUSPEND +ACTIVE +LAST SCHEDULE')
          - out is search('REFERENCE +TARGETS')
          - out is search('NAME +STATUS +VOLUME +CAPACITY +ACCESS MODES +STORAGECLASS +VOLUMEATTRIBUTESCLASS +AGE')
          - out is search('data-db-0 +Bound +pvc-[-0-9a-f]+ +1Gi +RWO +standard')
          - out is search('data-db-2 +Bound')
          - deleted.results | map(attribute='changed') is all
          - left.resources | map(attribute='metadata.name') | select('match', 'agent-') | list | length == 1
          - left.resources | map(attribute='metadata.name') | reject('match', 'agent-|solo|blank') | list == []
          - claims_left.resources | map(attribute='metadata.name') | sort == ['data-db-0', 'data-db-1', 'data-db-2']
    - name: Clean up the scratch namespace
      kubernetes.core.k8s: {api_version: v1, kind: Namespace, name: "{{ ns }}", state: absent, wait: true}
"""


def test_workload_kinds_through_kubernetes_core_and_kubectl(kubesim: Any, tmp_path: Path) -> None:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook is not installed in .venv")
    (tmp_path / "pod.j2").write_text(POD_TEMPLATE)
    (tmp_path / "blank.j2").write_text(BLANK_POD_TEMPLATE)
    (tmp_path / "workload.j2").write_text(WORKLOADS)
    (tmp_path / "policies.j2").write_text(POLICY_JOBS)
    (tmp_path / "kubectl.sh").write_text(KUBECTL_SCRIPT)
    (tmp_path / "play.yml").write_text(textwrap.dedent(PLAYBOOK).replace("__KUBECTL__", KUBECTL))
    (tmp_path / "ansible.cfg").write_text(
        "[defaults]\nstdout_callback = default\ncallbacks_enabled = ansible.posix.profile_tasks\n"
    )
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
        ANSIBLE_HOME=str(tmp_path / "ansible-home"),
        ANSIBLE_NOCOLOR="1",
        HOME=str(kubesim.state / "home"),
        PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
    )
    argv = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml")]
    argv += ["-e", f"ansible_python_interpreter={ROOT / '.venv' / 'bin' / 'python'}"]
    argv += ["-e", f"kc={kubesim.kubeconfig}", "-e", f"ns={NS}"]
    try:
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240, check=False, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    finally:
        kubesim.kubectl("delete", "namespace", NS, "--ignore-not-found", check=False)
    assert kubesim.api("GET", f"/api/v1/namespaces/{NS}")[0] == 404
    # the retained claims went with the namespace, and their volumes (reclaimPolicy Delete) with them
    kubesim.wait_for(
        lambda: (
            not [
                pv
                for pv in kubesim.api("GET", "/api/v1/persistentvolumes")[1]["items"]
                if pv["spec"]["claimRef"]["namespace"] == NS
            ]
        )
    )
    # every kind was deleted through the API (one DELETE per object, each with its propagationPolicy)
    deletes = [e for e in kubesim.requests() if e["method"] == "DELETE" and e["namespace"] == NS]
    assert {e["resource"] for e in deletes} >= {"deployments", "statefulsets", "daemonsets", "jobs", "cronjobs"}
