# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of voicehive.remediation.private_kubeconfig: the run's kubeconfig, on the controller.

The documentation is in plugins/modules/private_kubeconfig.py.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

PREFIX = "voicehive-remediation-"

ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["present", "absent"], default="present"),
    kubeconfig=dict(type="str", default=""),
    host=dict(type="str", default=""),
    api_key=dict(type="str", default="", no_log=True),
    ca_cert=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    namespace=dict(type="str", default="default"),
    name=dict(type="str", default="site"),
    path=dict(type="path"),
)


def kubeconfig_document(args: dict[str, t.Any]) -> dict[str, t.Any]:
    """A kubeconfig with one cluster, user and context, from host + api_key (+ ca_cert)."""
    cluster: dict[str, t.Any] = {"server": args["host"]}
    if args.get("ca_cert"):
        cluster["certificate-authority"] = args["ca_cert"]
    if not args["validate_certs"]:
        cluster["insecure-skip-tls-verify"] = True
    name = args["name"]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": "voicehive-remediation", "user": {"token": args["api_key"]}}],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": name, "user": "voicehive-remediation", "namespace": args["namespace"]},
            }
        ],
        "current-context": name,
    }


def write_private(document: dict[str, t.Any]) -> str:
    """Write ``document`` to ``<new 0700 temporary directory>/kubeconfig`` (mode 0600); return its path."""
    directory = tempfile.mkdtemp(prefix=PREFIX)
    path = os.path.join(directory, "kubeconfig")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle)  # JSON is YAML
    return path


def remove_private(path: str) -> bool:
    """Remove a kubeconfig this plugin wrote, with its directory; refuse any other path."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.basename(path) != "kubeconfig" or not os.path.basename(directory).startswith(PREFIX):
        raise AnsibleActionFail(f"Cannot remove {path}: it is not a kubeconfig written by private_kubeconfig.")
    existed = os.path.exists(directory)
    shutil.rmtree(directory, ignore_errors=True)
    return existed


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        # the run's own bookkeeping, not a change to the site: the same in check mode, never "changed"
        result["changed"] = False
        if args["state"] == "absent":
            if not args["path"]:
                raise AnsibleActionFail("Cannot remove the private kubeconfig: path is required with state=absent.")
            result.update(path=args["path"], removed=remove_private(args["path"]))
            return result
        if args["kubeconfig"]:
            result.update(path=args["kubeconfig"], written=False)
            return result
        if not (args["host"] and args["api_key"]):
            raise AnsibleActionFail(
                "Cannot configure Kubernetes access: set kubeconfig, or host and api_key (and ca_cert)."
            )
        try:
            path = write_private(kubeconfig_document(args))
        except OSError as exc:
            raise AnsibleActionFail(f"Cannot write the private kubeconfig: {exc.strerror or exc}") from None
        result.update(path=path, written=True)
        return result
