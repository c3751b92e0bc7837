# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""endpoint_info against a real listening socket and a closed port."""

from __future__ import annotations

import json
import socket

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.voicehive.remediation.plugins.modules import endpoint_info


def _run(args: dict, capsys) -> tuple[int, dict]:
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        endpoint_info.main()
    return exc.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def listening_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_reports_reachable_and_unreachable_in_order(listening_port, closed_port, capsys):
    code, out = _run(
        {
            "endpoints": [
                {"name": "redis", "host": "127.0.0.1", "port": listening_port, "variable": "voicehive_redis_url"},
                {"name": "postgres", "host": "127.0.0.1", "port": closed_port, "variable": "voicehive_postgres_port"},
            ],
            "timeout": 2,
        },
        capsys,
    )
    assert code == 0
    assert out["changed"] is False
    assert [e["reachable"] for e in out["endpoints"]] == [True, False]
    assert out["down"] == ["postgres"]
    assert out["endpoints"][1]["variable"] == "voicehive_postgres_port"
    assert out["endpoints"][1]["error"]


def test_unknown_host_is_unreachable_not_a_crash(capsys):
    code, out = _run(
        {"endpoints": [{"name": "vault", "host": "no-such-host.invalid", "port": 8200}], "timeout": 1}, capsys
    )
    assert code == 0
    assert out["down"] == ["vault"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"endpoints": [{"name": "x", "host": "h", "port": 0}]}, "port 0 is not a TCP port"),
        ({"endpoints": [{"name": "x", "host": "h", "port": 70000}]}, "port 70000 is not a TCP port"),
        ({"endpoints": [{"name": "x", "host": "h", "port": 1}], "timeout": 0}, "timeout must be above 0"),
        ({"endpoints": [{"name": "x", "port": 1}]}, "missing required arguments: host"),
    ],
)
def test_bad_input_is_refused(args, message, capsys):
    code, out = _run(args, capsys)
    assert code == 1
    assert message in out["msg"]


def test_runs_in_check_mode(listening_port, capsys):
    code, out = _run(
        {"endpoints": [{"name": "redis", "host": "127.0.0.1", "port": listening_port}], "_ansible_check_mode": True},
        capsys,
    )
    assert code == 0 and out["down"] == []
