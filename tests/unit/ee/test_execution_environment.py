# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""execution-environment.yml: `ansible-builder create` (offline, what `make ee-context` runs) makes a context with a
Containerfile on the pinned base image that installs this collection's tarball, the collections galaxy.yml depends on
and the Python libraries of requirements.txt."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def test_ansible_builder_create_makes_the_context(tmp_path):
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    ee = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    assert ee["version"] == 3
    # the definition and what it names, in a directory of their own (the checkout's .ee/ is left alone)
    shutil.copy(ROOT / "execution-environment.yml", tmp_path)
    shutil.copy(ROOT / "requirements.txt", tmp_path)
    (tmp_path / ".ee" / "collection").mkdir(parents=True)
    subprocess.run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "build",
            "--output-path",
            str(tmp_path / ".ee" / "collection"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    builder = subprocess.run(
        [
            str(BIN / "ansible-builder"),
            "create",
            "-f",
            str(tmp_path / "execution-environment.yml"),
            "-c",
            str(tmp_path / "context"),
            "--output-filename",
            "Containerfile",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": f"{BIN}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "no_proxy": "*",
            "https_proxy": "http://127.0.0.1:9",
        },
    )
    assert builder.returncode == 0, builder.stdout + builder.stderr
    context = tmp_path / "context"
    containerfile = (context / "Containerfile").read_text()
    assert f'ARG EE_BASE_IMAGE="{ee["images"]["base_image"]["name"]}"' in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert (
        "COPY _build /build" in containerfile
        and "introspect.py introspect --user-pip=requirements.txt" in containerfile
    )

    # the collection: the tarball of this version, with the module AWX configuration uses
    tarball = context / "_build" / "collection" / f"voicehive-remediation-{galaxy['version']}.tar.gz"
    assert tarball.is_file()
    with tarfile.open(tarball) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))
        names = set(archive.getnames())
    assert (manifest["collection_info"]["namespace"], manifest["collection_info"]["name"]) == (
        "voicehive",
        "remediation",
    )
    assert manifest["collection_info"]["version"] == galaxy["version"]
    assert {
        "plugins/modules/controller_object.py",
        "playbooks/awx_configure.yml",
        "roles/voicehive/tasks/start.yml",
    } <= names
    assert not any(n.startswith((".ee", "lab/", "tests/")) for n in names)

    # the collection dependencies: the tarball (installed from /build, where _build/ is copied) and galaxy.yml's
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())["collections"]
    assert requirements[0] == {"name": f"collection/{tarball.name}", "type": "file"}
    assert {r["name"]: r["version"] for r in requirements[1:]} == galaxy["dependencies"]
    shipped = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    assert {r["name"]: r["version"] for r in shipped} == galaxy["dependencies"]

    # the Python dependencies: requirements.txt as it is
    assert (context / "_build" / "requirements.txt").read_text() == (ROOT / "requirements.txt").read_text()
