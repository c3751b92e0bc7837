# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleActionFail

from ansible_collections.voicehive.remediation.plugins.action.private_kubeconfig import ActionModule
from ansible_collections.voicehive.remediation.plugins.module_utils import _kube_read

TOKEN = "kube-token-" + "p" * 24


def run(make_action, check_mode=False, **args):
    return make_action(ActionModule, args, check_mode=check_mode).run(task_vars={})


def test_the_sites_own_kubeconfig_is_returned_untouched(make_action):
    result = run(make_action, kubeconfig="/etc/voicehive/kubeconfig", host="https://h", api_key=TOKEN)
    assert result == {"changed": False, "path": "/etc/voicehive/kubeconfig", "written": False}


@pytest.mark.parametrize("check_mode", [False, True])
def test_host_and_token_are_written_privately_then_removed(make_action, check_mode, monkeypatch):
    result = run(
        make_action,
        check_mode,
        host="https://10.0.0.1:6443",
        api_key=TOKEN,
        ca_cert="/etc/ca.pem",
        namespace="voicehive",
        name="prod-eu-west-1",
    )
    path = result["path"]
    assert result["written"] and result["changed"] is False and TOKEN not in str(result)
    assert (
        oct(os.stat(path).st_mode & 0o777) == "0o600" and oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == "0o700"
    )
    doc = yaml.safe_load(Path(path).read_text())
    assert doc["current-context"] == "prod-eu-west-1" and doc["users"][0]["user"]["token"] == TOKEN
    assert doc["contexts"][0]["context"]["namespace"] == "voicehive"
    monkeypatch.delenv("KUBECONFIG", raising=False)
    conn = _kube_read.connect({"kubeconfig": path})  # the collection's own reader loads it
    assert conn.server == "https://10.0.0.1:6443" and conn.ca_path == "/etc/ca.pem"
    conn.close()
    removed = run(make_action, check_mode, state="absent", path=path)
    assert removed["removed"] and not os.path.exists(os.path.dirname(path))
    assert run(make_action, state="absent", path=path)["removed"] is False


def test_insecure_clusters_are_marked(make_action):
    path = run(make_action, host="https://h", api_key=TOKEN, validate_certs=False)["path"]
    assert yaml.safe_load(Path(path).read_text())["clusters"][0]["cluster"]["insecure-skip-tls-verify"] is True
    run(make_action, state="absent", path=path)


def test_refusals(make_action, tmp_path):
    with pytest.raises(AnsibleActionFail, match="set kubeconfig, or host and api_key"):
        run(make_action, host="https://h")
    with pytest.raises(AnsibleActionFail, match="path is required"):
        run(make_action, state="absent")
    other = tmp_path / "kubeconfig"
    other.write_text("keep me")
    with pytest.raises(AnsibleActionFail, match="not a kubeconfig written by private_kubeconfig"):
        run(make_action, state="absent", path=str(other))
    assert other.exists()
