# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The site_info action: in-process with a local connection, the module otherwise; secrets never returned."""

from __future__ import annotations

import json
import socket
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.voicehive.remediation.plugins.action.site_info import ActionModule

TOKEN = "kube-token-" + "q" * 24


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def action_for(make_action, args, transport="local"):
    action = make_action(ActionModule, args)
    action._connection.transport = transport
    action._execute_module = mock.MagicMock(return_value={"changed": False, "from_module": True})
    return action


def test_local_connection_reads_in_process(make_action, http_server):
    base, routes = http_server
    routes.routes["/api/v1/namespaces/voicehive"] = (200, {"status": {"phase": "Active"}})
    args = {
        "kubernetes": {"host": base, "api_key": TOKEN, "namespace": "voicehive", "kinds": []},
        "http": [{"name": "livekit", "url": f"ws://127.0.0.1:{closed_port()}", "variable": "voicehive_livekit_url"}],
    }
    action = action_for(make_action, args)
    result = action.run(task_vars={})
    action._execute_module.assert_not_called()
    assert result["changed"] is False and result["kubernetes"]["namespace"]["exists"] is True
    assert routes.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert result["down"][0]["variable"] == "voicehive_livekit_url"
    assert result["warnings"] and result["warnings"][0].startswith("livekit does not answer")
    assert TOKEN not in json.dumps(result)


def test_other_connections_run_the_module(make_action):
    args = {"kubernetes": {"host": "https://h", "api_key": TOKEN, "namespace": "voicehive"}}
    action = action_for(make_action, args, transport="ssh")
    result = action.run(task_vars={"x": 1})
    assert result["from_module"] is True
    action._execute_module.assert_called_once_with(
        module_name="voicehive.remediation.site_info", module_args=args, task_vars={"x": 1}, wrap_async=0
    )


def test_bad_input_is_refused_in_process(make_action):
    with pytest.raises(AnsibleActionFail, match="Invalid options for site_info: timeout must be above 0"):
        action_for(make_action, {"timeout": -1}).run(task_vars={})
    with pytest.raises(AnsibleActionFail, match="kinds"):
        action_for(make_action, {"kubernetes": {"namespace": "n", "kinds": ["nodes"]}}).run(task_vars={})


def test_unusable_options_fail_without_the_secret(make_action):
    result = action_for(make_action, {"redis": {"url": "http://:pw-1234@h:6379"}}).run(task_vars={})
    assert result["failed"] and "unsupported URL scheme" in result["msg"] and "pw-1234" not in json.dumps(result)


def test_rate_limits_are_read_in_process(make_action, redis_db, redis_server):
    redis_db.set("rate_limit:user:123:per_minute", 70, ex=60)
    redis_db.set("rate_limit:whitelist:user:123", "true", ex=600)
    url = f"redis://:{redis_server['password']}@127.0.0.1:{redis_server['port']}/0"
    args = {"redis": {"url": url, "rate_limits": {"limits": {"per_minute": 50}, "clients": ["jwt:1"]}}}
    action = action_for(make_action, args)
    result = action.run(task_vars={})
    action._execute_module.assert_not_called()
    rate = result["redis"]["rate_limits"]
    assert rate["available"] and rate["over_limit"] == ["user:123"] and rate["allowlist"]["user:123"] > 0
    assert rate["limits_source"] == {"per_minute": "option"} and rate["clients"]["jwt:1"]["exists"] is False
    assert redis_server["password"] not in json.dumps(result)
    with pytest.raises(AnsibleActionFail, match=r"redis.rate_limits.clients: client 'tenant:1' must be"):
        action_for(make_action, {"redis": {"url": url, "rate_limits": {"clients": ["tenant:1"]}}}).run(task_vars={})
