# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole-site diagnosis against 1, 4 and 8 sites (issue 16): how time grows with the sites of one run.

The extra sites share the lab's services (Redis, PostgreSQL, Vault, Prometheus, the orchestrator) and each has
its own Kubernetes namespace, ``voicehive-site-<n>``: a copy of the lab site's Deployments, Services,
ConfigMaps and Secrets (kubesim's controllers make their pods). Site 1 is the lab site itself. A temporary
inventory lists ``site-1`` … ``site-8`` with the lab site's variables and their own namespace and site name.
Each round runs, for N = 1, 4, 8: ``benchmarks/ping.yml`` and ``playbooks/diagnose.yml`` on sites 1..N with
the configured forks (ansible.cfg: 10, so every site in parallel), and ``diagnose.yml`` on 8 sites with
``--forks 1`` (one after the other). Prints Markdown table rows: medians, and ratios to the same round's ping
on the same sites. The namespaces are deleted afterwards.

    python benchmarks/sites.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import yaml
from _common import BIN, ROOT, STATE, run, timed

SIZES = (1, 4, 8)
KINDS = "deployments,services,configmaps,secrets"
DROP_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "ownerReferences")


def sh(cmd: list[str], stdin: str | None = None) -> str:
    return run(cmd, stdin=stdin, VOICEHIVE_LAB_STATE=str(STATE), KUBECONFIG=str(STATE / "kubeconfig"))


def namespace(n: int) -> str:
    return "voicehive" if n == 1 else f"voicehive-site-{n}"


def copy_site(n: int) -> None:
    """The lab site's objects into namespace(n), without what the API server sets."""
    items = json.loads(sh([str(BIN / "kubectl"), "get", KINDS, "-n", "voicehive", "-o", "json"]))["items"]
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace(n)}}]
    for item in items:
        meta = {k: v for k, v in item["metadata"].items() if k not in DROP_META}
        meta["namespace"] = namespace(n)
        obj = {k: v for k, v in item.items() if k != "status"} | {"metadata": meta}
        if obj["kind"] == "Service":
            obj["spec"] = {k: v for k, v in obj["spec"].items() if k not in ("clusterIP", "clusterIPs")}
        if obj["kind"] == "Secret" and obj.get("type") == "kubernetes.io/service-account-token":
            continue
        docs.append(obj)
    sh(
        [str(BIN / "kubectl"), "apply", "-f", "-"],
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
    )


def inventory(directory: Path) -> Path:
    lab = yaml.safe_load((ROOT / "inventories" / "lab" / "host_vars" / "lab.yml").read_text())
    hosts = {f"site-{n}": dict(lab, voicehive_site=f"site-{n}", voicehive_namespace=namespace(n)) for n in range(1, 9)}
    (directory / "hosts.yml").write_text(yaml.safe_dump({"voicehive": {"hosts": hosts}}))
    (directory / "group_vars").symlink_to(ROOT / "inventories" / "lab" / "group_vars")
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sh([str(ROOT / "lab" / "bin" / "lab"), "reset"])
    for n in range(2, 9):
        copy_site(n)
    times: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            inv = str(inventory(Path(tmp)))

            def playbook(sites: int, path: str, *extra: str) -> list[str]:
                limit = ",".join(f"site-{n}" for n in range(1, sites + 1))
                return [str(BIN / "ansible-playbook"), "-i", inv, "-e", "voicehive_target=voicehive",
                        "--limit", limit, path, *extra]  # fmt: skip

            rows = {}
            for sites in SIZES:
                rows[f"ping, {sites} site(s)"] = playbook(sites, "benchmarks/ping.yml")
                rows[f"diagnose, {sites} site(s)"] = playbook(sites, "playbooks/diagnose.yml")
            rows["diagnose, 8 sites, --forks 1"] = playbook(8, "playbooks/diagnose.yml", "--forks", "1")
            timed(
                rows["diagnose, 1 site(s)"], VOICEHIVE_LAB_STATE=str(STATE)
            )  # warm-up: the lab's first answers, the new namespaces' pods
            for r in range(args.rounds):
                for name, cmd in rows.items():
                    times.setdefault(name, []).append(timed(cmd, VOICEHIVE_LAB_STATE=str(STATE)))
                shown = ", ".join(f"{k} {v[-1]:.1f}s" for k, v in times.items())
                print(f"# round {r + 1}/{args.rounds}: {shown}", file=sys.stderr, flush=True)
    finally:
        # one call; it waits until the namespaces are emptied and gone (deletion is asynchronous, as on a cluster)
        names = [namespace(n) for n in range(2, 9)]
        run([str(BIN / "kubectl"), "delete", "namespace", *names, "--ignore-not-found", "--timeout=120s"],
            KUBECONFIG=str(STATE / "kubeconfig"))  # fmt: skip
    cmd = f"`python benchmarks/sites.py --rounds {args.rounds}`"
    one = statistics.median(times["diagnose, 1 site(s)"])
    for sites in SIZES:
        ping, diag = times[f"ping, {sites} site(s)"], times[f"diagnose, {sites} site(s)"]
        ratio = statistics.median(d / p for d, p in zip(diag, ping, strict=True))
        print(
            f"| {sites} | 10 | {statistics.median(diag):.2f} s | {statistics.median(ping):.2f} s | {ratio:.2f} "
            f"| {statistics.median(diag) / one:.2f} | {cmd} |"
        )
    serial = times["diagnose, 8 sites, --forks 1"]
    print(f"| 8 | 1 | {statistics.median(serial):.2f} s | - | - | {statistics.median(serial) / one:.2f} | {cmd} |")


if __name__ == "__main__":
    main()
