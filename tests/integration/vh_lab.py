# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for integration tests against the running lab (make lab-up).

The tests drive the collection exactly as a user does (ansible-playbook with
inventories/lab) and read the outcome from the services themselves. Every
playbook run against site lab or lab-dr goes to Kubernetes as the ServiceAccount of the
shipped RBAC (docs/rbac/voicehive-remediation.yml) with a token of its own,
as AWX runs it; conftest.py checks every request that account made against
the shipped rules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / "lab" / ".state"
VENV_BIN = ROOT / ".venv" / "bin"
RBAC_MANIFEST = ROOT / "docs" / "rbac" / "voicehive-remediation.yml"
REQUEST_LOG = STATE / "kubesim" / "requests.jsonl"
SA_USER = "system:serviceaccount:voicehive:voicehive-remediation"
# the extra-vars that make a run use the ServiceAccount's token instead of the lab's admin kubeconfig
AS_SERVICE_ACCOUNT: dict[str, str] = {}
# the targets whose runs go as the ServiceAccount: both lab sites (lab-dr's namespace voicehive-dr has its own Role)
SA_TARGETS = ("lab", "lab-dr", "lab,lab-dr", "voicehive")


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    reports: list[dict]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def report(self) -> dict:
        assert self.reports, f"the run wrote no report:\n{self.output[-3000:]}"
        return self.reports[-1]

    def recap_changed(self, host: str = "lab") -> int:
        for line in self.stdout.splitlines():
            if line.startswith(host + " ") and "changed=" in line:
                return int(line.split("changed=")[1].split()[0])
        raise AssertionError(f"no PLAY RECAP line for {host}:\n{self.stdout[-2000:]}")


def lab(*args: str) -> str:
    out = subprocess.run([str(ROOT / "lab" / "bin" / "lab"), *args], capture_output=True, text=True, check=False)
    assert out.returncode == 0, f"lab {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    if args[:1] == ("reset",) and AS_SERVICE_ACCOUNT:
        # a reset puts the namespace back as seeded, without the ServiceAccount and its bindings
        apply_shipped_rbac()
    return out.stdout


def admin_client() -> k8s_client.ApiClient:
    return k8s_config.new_client_from_config(config_file=str(STATE / "kubeconfig"), context="lab")


def shipped_rbac() -> list[dict]:
    """The documents of docs/rbac/voicehive-remediation.yml."""
    return yaml.safe_load(RBAC_MANIFEST.read_text())["items"]


def apply_shipped_rbac() -> dict[str, str]:
    """Apply the shipped RBAC to the lab, and make playbook runs use a fresh token of its ServiceAccount."""
    kube = admin_client()
    core, rbac_api = k8s_client.CoreV1Api(kube), k8s_client.RbacAuthorizationV1Api(kube)
    for doc in shipped_rbac():
        body = k8s_client.ApiClient.sanitize_for_serialization(kube, doc)
        ns = doc["metadata"].get("namespace")
        create = {
            "ServiceAccount": lambda b=body, n=ns: core.create_namespaced_service_account(n, b),
            "Role": lambda b=body, n=ns: rbac_api.create_namespaced_role(n, b),
            "RoleBinding": lambda b=body, n=ns: rbac_api.create_namespaced_role_binding(n, b),
            "ClusterRole": lambda b=body: rbac_api.create_cluster_role(b),
            "ClusterRoleBinding": lambda b=body: rbac_api.create_cluster_role_binding(b),
        }[doc["kind"]]
        try:
            create()
        except ApiException as exc:
            if exc.status != 409:
                raise
    token = core.create_namespaced_service_account_token(
        "voicehive-remediation",
        "voicehive",
        k8s_client.AuthenticationV1TokenRequest(
            spec=k8s_client.V1TokenRequestSpec(audiences=[], expiration_seconds=14400)
        ),
    ).status.token
    AS_SERVICE_ACCOUNT.clear()
    AS_SERVICE_ACCOUNT.update(voicehive_kubeconfig="", voicehive_kube_api_key=token)
    return dict(AS_SERVICE_ACCOUNT)


def request_log_offset() -> int:
    return REQUEST_LOG.stat().st_size if REQUEST_LOG.exists() else 0


def service_account_requests(offset: int = 0) -> list[dict]:
    """The Kubernetes requests the ServiceAccount made since the request log had `offset` bytes."""
    with REQUEST_LOG.open("rb") as fh:
        fh.seek(offset)
        lines = fh.read().decode().splitlines()
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:  # the line kubesim is writing right now
            continue
    return [r for r in entries if r.get("user") == SA_USER]


def fault(*args: str) -> str:
    out = subprocess.run([str(ROOT / "lab" / "bin" / "fault"), *args], capture_output=True, text=True, check=False)
    assert out.returncode == 0, f"fault {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def denied_by_shipped_rbac(requests_made: list[dict]) -> list[str]:
    """The requests no rule of the shipped Role and ClusterRole allows (kubesim's own rule matcher)."""
    sys.path.insert(0, str(ROOT / "lab"))
    from kubesim import rbac  # the lab's package, importable once lab/ is on the path

    # a Role's rules hold in its own namespace only; a ClusterRole's (bound cluster-wide) everywhere
    rules = [
        (d["metadata"].get("namespace") if d["kind"] == "Role" else None, rule)
        for d in shipped_rbac()
        if d["kind"] in ("Role", "ClusterRole")
        for rule in d["rules"]
    ]
    denied = []
    for r in requests_made:
        if not r["resource"]:  # discovery (/api, /apis/<group>/<version>), /version, /openapi: any user
            continue
        attrs = rbac.Attributes(
            verb=r["verb"],
            group=r["group"],
            resource=r["resource"],
            subresource=r["subresource"],
            namespace=r["namespace"],
            name=r["name"],
        )
        if not any(rbac._rule_matches(rule, attrs) for ns, rule in rules if ns in (None, r["namespace"])):
            denied.append(f"outside the shipped rules: {r['verb']} {r['path']} ({r['code']})")
    return denied


_CHECKED = {"offset": None}


def start_service_account_checks() -> None:
    """The checks start at the first test: what the ServiceAccount did before is not theirs."""
    if _CHECKED["offset"] is None:
        _CHECKED["offset"] = request_log_offset()


def unchecked_service_account_problems() -> list[str]:
    """What is wrong with the ServiceAccount's requests since the last call."""
    start_service_account_checks()
    made = service_account_requests(_CHECKED["offset"])
    _CHECKED["offset"] = request_log_offset()
    problems = denied_by_shipped_rbac(made)
    problems += [
        f"a log read without a pod name: {r['path']}" for r in made if r["subresource"] == "log" and not r["name"]
    ]
    problems += [f"server error {r['code']}: {r['verb']} {r['path']}" for r in made if r["code"] >= 500]
    return problems


def run_playbook(
    playbook: str,
    *args: str,
    extra_vars: dict | None = None,
    env: dict | None = None,
    target: str = "lab",
    timeout: int = 600,
    as_admin: bool = False,
) -> PlaybookRun:
    """Run a playbook against the lab and collect the reports it wrote.

    Runs on site lab or lab-dr use the shipped ServiceAccount's token unless the extra-vars name their own
    Kubernetes credentials or `as_admin` asks for the lab's admin kubeconfig.
    """
    own_credentials = {"voicehive_kubeconfig", "voicehive_kube_api_key"} & set(extra_vars or {})
    as_admin = as_admin or os.environ.get("VOICEHIVE_TESTS_AS_ADMIN") == "1"  # to tell an RBAC problem from others
    if target in SA_TARGETS and AS_SERVICE_ACCOUNT and not own_credentials and not as_admin:
        extra_vars = {**AS_SERVICE_ACCOUNT, **(extra_vars or {})}
    report_dir = ROOT / "reports"
    before = set(report_dir.glob("*.json")) if report_dir.exists() else set()
    cmd = [
        str(VENV_BIN / "ansible-playbook"),
        "-i",
        str(ROOT / "inventories" / "lab"),
        playbook,
        "-e",
        f"voicehive_target={target}",
        *args,
    ]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    full_env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=f"{VENV_BIN}:{os.environ['PATH']}",
    )
    full_env.update(env or {})
    out = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout, check=False)
    after = set(report_dir.glob("*.json")) if report_dir.exists() else set()
    written = sorted(after - before, key=lambda p: p.stat().st_mtime)
    reports = [json.loads(p.read_text()) for p in written]
    # for the secret scan of every test (conftest.py): the console, and each report as JSON and Markdown
    RUN_OUTPUTS.append((f"{playbook} {' '.join(args)}".strip() + " (console)", out.stdout + out.stderr))
    for path in written:
        for each in (path, path.with_suffix(".md")):
            if each.exists():
                RUN_OUTPUTS.append((f"{playbook}: {each.name}", each.read_text()))
    return PlaybookRun(out.returncode, out.stdout, out.stderr, reports)


def remediate_while(
    tags: str, trigger: str, stop, resume, extra_vars: dict, *args: str, as_service_account: bool = False
) -> tuple[int, str, dict]:
    """remediate.yml --tags <tags> on site lab, streamed: when a line of its output contains ``trigger``, ``stop()``
    (a service goes away in the middle of the run); ``resume()`` once the run ended. Returns the exit code, the
    output and the run's report; fails when the run never reached the trigger or wrote no report."""
    variables = {"voicehive_target": "lab", **(AS_SERVICE_ACCOUNT if as_service_account else {}), **extra_vars}
    cmd = [
        str(VENV_BIN / "ansible-playbook"),
        "-i",
        str(ROOT / "inventories" / "lab"),
        "playbooks/remediate.yml",
        *args,
        "--tags",
        tags,
        "-e",
        json.dumps(variables),
    ]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["PATH"] = f"{VENV_BIN}:{os.environ['PATH']}"
    reports = ROOT / "reports"
    before = set(reports.glob("*.json"))
    output, stopped = [], False
    try:
        with subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc:
            for line in proc.stdout:
                output.append(line)
                if not stopped and trigger in line:
                    stop()
                    stopped = True
            rc = proc.wait(timeout=300)
    finally:
        if stopped:
            resume()
    text = "".join(output)
    RUN_OUTPUTS.append((f"remediate --tags {tags}, interrupted (console)", text))
    assert stopped, f"the run never reached {trigger!r}:\n" + text[-3000:]
    written = sorted(set(reports.glob("*.json")) - before, key=lambda p: p.stat().st_mtime)
    assert written, "the run wrote no report:\n" + text[-6000:]
    return rc, text, json.loads(written[-1].read_text())


# every playbook run's console output and reports, as (what, text), for the secret scan of conftest.py
RUN_OUTPUTS: list[tuple[str, str]] = []
# the lab's secrets.json entries that are identifiers, not secrets: they may appear in output
NOT_SECRET = {"apaleo_client_id", "aws_access_key", "livekit_api_key"}


def secret_leaks(texts: list[tuple[str, str]], secrets: dict) -> list[str]:
    """Where any lab secret's value appears in the texts: "<secret name> in <what>" for each."""
    values = {k: v for k, v in secrets.items() if k not in NOT_SECRET and isinstance(v, str) and len(v) >= 6}
    values.update((f"ServiceAccount token {k}", v) for k, v in AS_SERVICE_ACCOUNT.items() if "api_key" in k and v)
    return [f"{name} in {what}" for what, text in texts for name, value in values.items() if value in text]


def notifications(channel: str | None = None) -> list[dict]:
    params = {"channel": channel} if channel else {}
    resp = requests.get("http://127.0.0.1:18099/_lab/messages", params=params, timeout=5)
    resp.raise_for_status()
    body = resp.json()
    return body["messages"] if isinstance(body, dict) else body


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
