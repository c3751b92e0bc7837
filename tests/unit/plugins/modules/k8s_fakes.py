# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the tests of the modules on the kubernetes library (vault_kubernetes_login, pms_token);
imported by name (``from k8s_fakes import ...``), as tests/integration does with vh_lab.py, not through a conftest.
The modules on the collection's own client (lease_lock, remediation_budget, k8s_secret_key) are tested against
the fake API server of the ``kube_api`` fixture (tests/unit/conftest.py) instead.

- ``FakeNamespacedStore``: in-memory namespaced objects with the API server's resourceVersion
  semantics (409 on a stale replace or a create of an existing object), and a ``before_write``
  hook to simulate a concurrent writer.
- ``run_k8s_main``: runs a module's ``main()`` with ``exit_json`` / ``fail_json`` raising, ``warn``
  mocked and the client factory patched (autospec) to return the given API mock.
"""

from __future__ import annotations

import copy
import json
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from kubernetes.client.exceptions import ApiException


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise ExitJson(kwargs)


def _fail_json(self, msg, **kwargs):
    kwargs["msg"] = msg
    raise FailJson(kwargs)


def run_k8s_main(module, factory_name, api, module_args):
    """Run ``module.main()``; returns ``(kind, payload, factory, warn)``, kind ``"exit"`` or ``"fail"``."""
    with (
        patch_module_args(module_args),
        mock.patch.object(basic.AnsibleModule, "exit_json", _exit_json),
        mock.patch.object(basic.AnsibleModule, "fail_json", _fail_json),
        mock.patch.object(basic.AnsibleModule, "warn", autospec=True) as warn,
        mock.patch.object(module, factory_name, autospec=True, return_value=api) as factory,
    ):
        try:
            module.main()
        except ExitJson as e:
            return "exit", e.args[0], factory, warn
        except FailJson as e:
            return "fail", e.args[0], factory, warn
    raise AssertionError("module neither exited nor failed")


class FakeNamespacedStore:
    """An in-memory store of namespaced objects with the API server's resourceVersion semantics."""

    def __init__(self, rv):
        self.objects = {}
        self.rv = rv
        self.writes = []
        self.before_write = None  # hook: called before create/replace, may change the store

    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    def _hook(self):
        if self.before_write:
            hook, self.before_write = self.before_write, None
            hook(self)

    def _read(self, name, namespace):
        obj = self.objects.get((namespace, name))
        if obj is None:
            raise ApiException(status=404, reason="Not Found", body=json.dumps({"message": f'"{name}" not found'}))
        return copy.deepcopy(obj)

    def _create(self, namespace, body):
        self._hook()
        name = body["metadata"]["name"]
        if (namespace, name) in self.objects:
            raise ApiException(status=409, reason="Conflict", body=json.dumps({"reason": "AlreadyExists"}))
        return self._store("create", namespace, name, body)

    def _replace(self, name, namespace, body):
        self._hook()
        current = self.objects.get((namespace, name))
        if current is None:
            raise ApiException(status=404, reason="Not Found")
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise ApiException(status=409, reason="Conflict", body=json.dumps({"message": "object modified"}))
        return self._store("replace", namespace, name, body)

    def _store(self, verb, namespace, name, body):
        obj = copy.deepcopy(body)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self.objects[(namespace, name)] = obj
        self.writes.append((verb, copy.deepcopy(body)))
        return copy.deepcopy(obj)
