# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built collection: right name and version, no lab/tests inside, installable, documented."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
NOT_SHIPPED = (
    "lab/",
    "tests/",
    "molecule/",
    "inventories/",
    "benchmarks/",
    "reports/",
    ".venv/",
    ".collections/",
    "hack/",
)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build")
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    path = out / "voicehive-remediation-0.1.0.tar.gz"
    assert path.exists(), list(out.iterdir())
    return path


def test_tarball_leaves_out_lab_and_tests(tarball):
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    shipped = [n for n in names if n.startswith(NOT_SHIPPED)]
    assert not shipped, shipped[:20]
    for needed in (
        "MANIFEST.json",
        "meta/runtime.yml",
        "README.md",
        "LICENSE",
        "plugins/modules/circuit_breaker_info.py",
        "roles/circuit_breakers/tasks/main.yml",
        "playbooks/remediate.yml",
    ):
        assert needed in names, needed


def test_installed_tarball_renders_module_docs(tarball, tmp_path):
    dest = tmp_path / "collections"
    # an empty collections path, away from the checkout's ansible.cfg and its .collections link
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_CONFIG"}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(dest)
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p", str(dest), str(tarball)],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert (dest / "ansible_collections" / "voicehive" / "remediation" / "MANIFEST.json").exists()
    for module in ("circuit_breaker_info", "circuit_breaker", "lease_lock", "remediation_budget"):
        out = subprocess.run(
            [str(BIN / "ansible-doc"), f"voicehive.remediation.{module}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        assert f"voicehive.remediation.{module}" in out.stdout
        assert "EXAMPLES" in out.stdout and "RETURN VALUES" in out.stdout
