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
import textwrap
from pathlib import Path

import kubernetes.client
import kubernetes.config
import pytest
from kubernetes.client.exceptions import ApiException

from ansible_collections.voicehive.remediation.plugins.module_utils import _k8s, _kube_read

TOKEN = "eyJhbGciOi-secret-token"
UTC = datetime.UTC


def params(**overrides):
    base = {k: None for k in _k8s.k8s_common_argument_spec()}
    base.update(overrides)
    return base


@pytest.fixture
def no_default_kubeconfig(monkeypatch, tmp_path):
    monkeypatch.setattr(kubernetes.config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "none"), raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def test_argument_spec_matches_kubernetes_core_names():
    spec = _k8s.k8s_common_argument_spec()
    assert set(spec) == {
        "kubeconfig", "context", "host", "api_key", "ca_cert", "validate_certs", "client_cert", "client_key", "proxy",
    }  # fmt: skip
    assert spec["api_key"]["no_log"] is True
    assert spec["api_key"]["fallback"][1] == ["K8S_AUTH_API_KEY"]
    assert "ssl_ca_cert" in spec["ca_cert"]["aliases"]
    assert "verify_ssl" in spec["validate_certs"]["aliases"]


def test_host_and_api_key_without_kubeconfig(no_default_kubeconfig, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    client = _k8s.build_api_client(
        params(
            host="https://127.0.0.1:16443/", api_key=TOKEN, ca_cert=str(ca), validate_certs=True, proxy="http://p:3128"
        )
    )
    config = client.configuration
    assert config.host == "https://127.0.0.1:16443"
    assert config.auth_settings()["BearerToken"]["value"] == f"Bearer {TOKEN}"
    assert config.ssl_ca_cert == str(ca)
    assert config.verify_ssl is True
    assert config.proxy == "http://p:3128"


def test_bearer_prefix_is_not_doubled(no_default_kubeconfig):
    client = _k8s.build_api_client(params(host="https://h", api_key=f"Bearer {TOKEN}", validate_certs=False))
    assert client.configuration.auth_settings()["BearerToken"]["value"] == f"Bearer {TOKEN}"
    assert client.configuration.verify_ssl is False


def _kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(
        textwrap.dedent(
            f"""\
            apiVersion: v1
            kind: Config
            clusters:
              - name: lab
                cluster: {{server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true}}
              - name: other
                cluster: {{server: "https://10.0.0.2:6443", insecure-skip-tls-verify: true}}
            users:
              - name: sre
                user: {{token: {TOKEN}}}
            contexts:
              - name: lab
                context: {{cluster: lab, user: sre}}
              - name: other
                context: {{cluster: other, user: sre}}
            current-context: lab
            """
        )
    )
    return path


def test_kubeconfig_and_context(tmp_path):
    path = _kubeconfig(tmp_path)
    config = _k8s.build_api_client(params(kubeconfig=str(path))).configuration
    assert config.host == "https://10.0.0.1:6443"
    assert config.auth_settings()["BearerToken"]["value"] == f"Bearer {TOKEN}"
    config = _k8s.build_api_client(params(kubeconfig=str(path), context="other")).configuration
    assert config.host == "https://10.0.0.2:6443"


def test_kubeconfig_then_explicit_overrides(tmp_path):
    path = _kubeconfig(tmp_path)
    config = _k8s.build_api_client(params(kubeconfig=str(path), host="https://override:1", api_key="t2")).configuration
    assert config.host == "https://override:1"
    assert config.auth_settings()["BearerToken"]["value"] == "Bearer t2"  # the kubeconfig's refresh hook is gone


def test_kubeconfig_as_dict():
    kubeconfig = {
        "apiVersion": "v1",
        "clusters": [{"name": "c", "cluster": {"server": "https://dict:6443"}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    assert _k8s.build_api_client(params(kubeconfig=kubeconfig)).configuration.host == "https://dict:6443"


def test_unknown_context_is_a_clear_error(tmp_path):
    with pytest.raises(_k8s.K8sConfigError, match="cannot load the kubeconfig"):
        _k8s.build_api_client(params(kubeconfig=str(_kubeconfig(tmp_path)), context="nope"))


def test_nothing_configured_is_a_clear_error(no_default_kubeconfig):
    with pytest.raises(_k8s.K8sConfigError, match="no connection settings: set host and api_key"):
        _k8s.build_api_client(params())


def test_factories_build_typed_clients(no_default_kubeconfig):
    class FakeModule:
        params = params(host="https://h", api_key=TOKEN)

        def fail_json(self, **kwargs):  # pragma: no cover - not reached
            raise AssertionError(kwargs)

    assert isinstance(_k8s.core_api(FakeModule()), kubernetes.client.CoreV1Api)


def test_api_client_fails_the_module_cleanly(no_default_kubeconfig):
    class Failed(Exception):
        pass

    class FakeModule:
        params = params()

        def fail_json(self, **kwargs):
            raise Failed(kwargs)

    with pytest.raises(Failed) as caught:
        _k8s.api_client(FakeModule())
    assert caught.value.args[0]["msg"].startswith("Cannot configure the Kubernetes client: no connection settings")


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
    exc = ApiException(status=status, reason=reason, body=body)
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


def test_to_plain_of_a_model_and_body_for_replace():
    lease = kubernetes.client.V1Lease(
        metadata=kubernetes.client.V1ObjectMeta(
            name="x", namespace="n", resource_version="7",
            managed_fields=[kubernetes.client.V1ManagedFieldsEntry(manager="kubectl")],
        ),
        spec=kubernetes.client.V1LeaseSpec(
            holder_identity="run-a", lease_duration_seconds=900,
            renew_time=datetime.datetime(2026, 11, 28, 16, 0, 0, 123456, tzinfo=UTC),
        ),
    )  # fmt: skip
    plain = _k8s.to_plain(lease)
    assert plain["spec"] == {
        "holderIdentity": "run-a",
        "leaseDurationSeconds": 900,
        "renewTime": "2026-11-28T16:00:00.123456Z",
    }
    assert plain["metadata"]["resourceVersion"] == "7"
    body = _k8s.body_for_replace(plain)
    assert "managedFields" not in body["metadata"]
    assert "managedFields" in plain["metadata"]
    assert body["metadata"]["resourceVersion"] == "7"


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


def test_library_modules_fail_with_missing_required_lib(run_module, monkeypatch):
    from ansible_collections.voicehive.remediation.plugins.modules import vault_kubernetes_login

    monkeypatch.setattr(_k8s, "HAS_KUBERNETES", False)
    monkeypatch.setattr(_k8s, "KUBERNETES_IMPORT_ERROR", "ModuleNotFoundError: No module named 'kubernetes'")
    args = {"namespace": "voicehive", "service_account": "sa", "role": "r", "vault_url": "https://vault:8200"}
    result = run_module(vault_kubernetes_login.main, args)
    assert result["failed"] is True
    assert "Failed to import the required Python library (kubernetes)" in result["msg"]


RUN_WITHOUT_THE_LIBRARY = """
import json, sys
from ansible.module_utils.testing import patch_module_args
from ansible_collections.voicehive.remediation.plugins.action import k8s_secret_key, lease_lock, remediation_budget
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
    """In a fresh interpreter (nothing imported yet), a module run and the action plugins' imports leave the
    kubernetes library unimported: it costs about half a second."""
    args = dict(args, host=kube_api.url, api_key=TOKEN)
    out = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_THE_LIBRARY.format(module=module), json.dumps(args)],
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


@pytest.mark.parametrize(
    "name", ["_k8s", "_kube_read", "_http", "_lease_lock", "_remediation_budget", "_k8s_secret_key"]
)
def test_module_utils_are_python39_compatible(name):
    """module_utils run on targets: no syntax newer than Python 3.9 (match, zip(strict=))."""
    path = Path(_k8s.__file__).with_name(f"{name}.py")
    tree = ast.parse(path.read_text(), feature_version=(3, 9))
    assert not [n for n in ast.walk(tree) if type(n).__name__ == "Match"]
    assert not [k for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords if k.arg == "strict"]
