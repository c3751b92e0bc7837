# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import ast
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.voicehive.remediation.plugins.module_utils import _k8s, _kube_read

TOKEN = "eyJhbGciOi-secret-token"
PLUGINS = Path(_k8s.__file__).parents[1]
UTC = datetime.UTC


def params(**overrides):
    base = {k: None for k in _k8s.k8s_common_argument_spec()}
    base.update(overrides)
    return base


def test_argument_spec_matches_kubernetes_core_names():
    spec = _k8s.k8s_common_argument_spec()
    assert set(spec) == {
        "kubeconfig", "context", "host", "api_key", "ca_cert", "validate_certs", "client_cert", "client_key", "proxy",
    }  # fmt: skip
    assert spec["api_key"]["no_log"] is True
    assert spec["api_key"]["fallback"][1] == ["K8S_AUTH_API_KEY"]
    assert "ssl_ca_cert" in spec["ca_cert"]["aliases"]
    assert "verify_ssl" in spec["validate_certs"]["aliases"]


@pytest.mark.parametrize(
    "status, reason, body, expected",
    [
        (403, "Forbidden", {"message": 'leases.coordination.k8s.io "x" is forbidden: User "system:sa" cannot get'},
         "Cannot read Lease voicehive/voicehive-remediation: 403 Forbidden: leases.coordination.k8s.io \"x\" is "
         "forbidden: User \"system:sa\" cannot get. The credentials lack the RBAC permission to get "
         "leases.coordination.k8s.io in namespace voicehive; check the Role bound to the remediation service account."),
        (401, "Unauthorized", None,
         "Cannot read Lease voicehive/voicehive-remediation: 401 Unauthorized. The API server rejected the "
         "credentials; check api_key / client_cert or the kubeconfig user."),
        (404, "Not Found", {"message": 'namespaces "voicehive" not found'},
         "Cannot read Lease voicehive/voicehive-remediation: 404 Not Found: namespaces \"voicehive\" not found. "
         "Check that namespace voicehive exists."),
        (409, "Conflict", None, "Cannot read Lease voicehive/voicehive-remediation: 409 Conflict. The object was "
         "changed by someone else meanwhile; run again."),
        (503, "Service Unavailable", "not json", "Cannot read Lease voicehive/voicehive-remediation: 503 Service "
         "Unavailable: not json. The API server is overloaded or failing; retry later."),
    ],
)  # fmt: skip
def test_api_error_message(status, reason, body, expected):
    if isinstance(body, dict):
        body = json.dumps(body)
    exc = _kube_read.KubeReadError(f"HTTP {status}", status=status, body=(body or "").encode())
    assert exc.reason == reason
    msg = _k8s.api_error_message(
        "read", "Lease", "voicehive", "voicehive-remediation", exc, "leases.coordination.k8s.io"
    )
    assert msg == expected


def test_connection_error_message_has_no_credentials():
    exc = OSError("Max retries exceeded with url https://sa:pw@127.0.0.1:16443/apis (Connection refused)")
    msg = _k8s.api_error_message("replace", "ConfigMap", "ns", "cm", exc)
    assert msg.startswith("Cannot replace ConfigMap ns/cm: cannot reach the Kubernetes API server (OSError: ")
    assert ":pw@" not in msg


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-28T16:00:00.123456Z", datetime.datetime(2026, 11, 28, 16, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-28T16:00:00Z", datetime.datetime(2026, 11, 28, 16, 0, 0, tzinfo=UTC)),
        ("2026-11-28T16:00:00.123456789Z", datetime.datetime(2026, 11, 28, 16, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-28T17:00:00.5+01:00", datetime.datetime(2026, 11, 28, 16, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-28T16:00:00+00:00", datetime.datetime(2026, 11, 28, 16, 0, 0, tzinfo=UTC)),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_time(text, expected):
    assert _k8s.parse_time(text) == expected


def test_format_microtime_and_now():
    assert (
        _k8s.format_microtime(datetime.datetime(2026, 11, 28, 16, 0, 0, 5, tzinfo=UTC)) == "2026-11-28T16:00:00.000005Z"
    )
    assert _k8s.format_microtime(datetime.datetime(2026, 11, 28, 16, 0, 0)) == "2026-11-28T16:00:00.000000Z"
    assert _k8s.microtime_now().microsecond != 0


def test_body_for_replace():
    lease = {
        "metadata": {"name": "x", "namespace": "n", "resourceVersion": "7", "managedFields": [{"manager": "kubectl"}]},
        "spec": {"holderIdentity": "run-a", "leaseDurationSeconds": 900, "renewTime": "2026-11-28T16:00:00.123456Z"},
    }
    body = _k8s.body_for_replace(lease)
    assert "managedFields" not in body["metadata"]
    assert "managedFields" in lease["metadata"]
    assert body["metadata"]["resourceVersion"] == "7"
    assert body["spec"] == lease["spec"]


def test_api_error_message_of_the_collections_client(http_server):
    """A ``KubeReadError`` from ``KubeConnection.request()`` reads as the library's ``ApiException`` does."""
    base, routes = http_server
    routes.routes["/x"] = (403, {"kind": "Status", "message": 'leases.coordination.k8s.io "x" is forbidden'})
    with pytest.raises(_kube_read.KubeReadError) as caught:
        _kube_read.KubeConnection(base).request("PUT", "/x", body={})
    msg = _k8s.api_error_message("replace", "Lease", "ns", "x", caught.value, "leases.coordination.k8s.io")
    assert msg == (
        'Cannot replace Lease ns/x: 403 Forbidden: leases.coordination.k8s.io "x" is forbidden. The credentials lack '
        "the RBAC permission to update leases.coordination.k8s.io in namespace ns; check the Role bound to the "
        "remediation service account."
    )
    assert _k8s.is_api_status(caught.value, 403) and not _k8s.is_api_status(caught.value, 404, 409)


def test_api_error_message_when_nothing_answers():
    with pytest.raises(_kube_read.KubeReadError) as caught:
        _kube_read.KubeConnection("http://sa:pw@127.0.0.1:9").request("GET", "/x", timeout=2)
    msg = _k8s.api_error_message("read", "Secret", "ns", "s", caught.value)
    assert msg.startswith("Cannot read Secret ns/s: cannot reach the Kubernetes API server at http://")
    assert msg.endswith(").") and ":pw@" not in msg
    assert _k8s.http_status(caught.value) is None and not _k8s.is_api_status(caught.value, 404)


def test_perform_fails_with_the_operations_fields():
    class Refused(_k8s.K8sModuleError):
        pass

    def run(module, conn):
        assert isinstance(conn, _kube_read.KubeConnection)
        raise Refused("Cannot take it", holder="run-b")

    operation = _k8s.Operation("probe", dict, lambda params: [], run, {"acquired": False, "holder": None})
    module = type("Module", (), {"params": params(host="https://h", api_key=TOKEN)})
    assert _k8s.perform(operation, module) == {
        "failed": True, "msg": "Cannot take it", "acquired": False, "holder": "run-b",
    }  # fmt: skip
    module.params = params(kubeconfig="/nonexistent/kubeconfig")
    result = _k8s.perform(operation, module)
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot configure the Kubernetes client: cannot read the kubeconfig /nonexistent")


def test_full_argument_spec_adds_the_connection_options():
    operation = _k8s.Operation("probe", lambda: {"proxy": {"type": "int"}, "n": {"type": "str"}}, list, dict, {})
    spec = operation.full_argument_spec()
    assert set(spec) == set(_k8s.k8s_common_argument_spec()) | {"n"}
    assert spec["proxy"] == {"type": "int"}  # the module's own option wins


KUBERNETES_PLUGINS = ("k8s_secret_key", "lease_lock", "pms_token", "remediation_budget", "vault_kubernetes_login")
RUN_WITHOUT_THE_LIBRARY = """
import importlib, json, sys
from ansible.module_utils.testing import patch_module_args
for name in {plugins!r}:
    importlib.import_module("ansible_collections.voicehive.remediation.plugins.action." + name)
    importlib.import_module("ansible_collections.voicehive.remediation.plugins.modules." + name)
from ansible_collections.voicehive.remediation.plugins.modules import {module}
try:
    with patch_module_args(json.loads(sys.argv[1])):
        {module}.main()
except SystemExit:
    pass
print()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "kubernetes")))
"""


@pytest.mark.parametrize(
    "module, args",
    [
        ("lease_lock", {"namespace": "voicehive", "holder": "run-a"}),
        ("remediation_budget", {"namespace": "voicehive", "action": "a", "target": "t", "state": "consume"}),
        ("k8s_secret_key", {"namespace": "voicehive", "name": "jwt-secret", "key": "secret", "create": True}),
    ],
)
def test_write_modules_never_import_the_kubernetes_library(kube_api, module, args):
    """In a fresh interpreter (nothing imported yet), a module run and the imports of every Kubernetes module and
    action plugin (vault_kubernetes_login and pms_token too) leave the kubernetes library unimported: it costs about
    half a second."""
    args = dict(args, host=kube_api.url, api_key=TOKEN)
    code = RUN_WITHOUT_THE_LIBRARY.format(module=module, plugins=KUBERNETES_PLUGINS)
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    result, imported = (json.loads(line) for line in out.rsplit("\n", 1))
    assert result["changed"] is True and not result.get("failed"), result
    assert kube_api.writes and kube_api.writes[0][0] == "create"
    assert imported == []


def kubernetes_imports(path: Path) -> list[str]:
    """``<file>:<function>`` (``<module>`` at the top) of every import of the kubernetes library in ``path``."""
    found = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                names = [child.module or ""] if not child.level else []
            else:
                names = []
            if any(name.split(".")[0] == "kubernetes" for name in names):
                found.append(f"{path.relative_to(PLUGINS).as_posix()}:{where}")
            defines = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            visit(child, child.name if defines else where)

    visit(ast.parse(path.read_text()), "<module>")
    return found


def test_only_the_exec_plugin_fallback_imports_the_kubernetes_library():
    """Nothing in plugins/ imports the kubernetes library but ``_kube_read``'s loader of a kubeconfig user with an
    exec or auth-provider plugin."""
    found = {hit for path in sorted(PLUGINS.rglob("*.py")) for hit in kubernetes_imports(path)}
    assert found == {"module_utils/_kube_read.py:_from_library"}


@pytest.mark.parametrize(
    "name",
    [
        "_k8s",
        "_kube_read",
        "_http",
        "_lease_lock",
        "_remediation_budget",
        "_k8s_secret_key",
        "_vault",
        "_vault_kubernetes_login",
        "_apaleo",
        "_pms_token",
    ],
)
def test_module_utils_are_python39_compatible(name):
    """module_utils run on targets: no syntax newer than Python 3.9 (match, zip(strict=))."""
    path = Path(_k8s.__file__).with_name(f"{name}.py")
    tree = ast.parse(path.read_text(), feature_version=(3, 9))
    assert not [n for n in ast.walk(tree) if type(n).__name__ == "Match"]
    assert not [k for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords if k.arg == "strict"]
