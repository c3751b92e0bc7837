# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the circuit breaker module tests; imported by name (``from redis_fakes import ...``).

- ``breaker_replies()`` / ``read_replies()``: the pipeline replies ``read_breakers()`` gets for breakers.
- ``patched_connect()``: resets the autospecced client mocks and patches the module's client factory.
- ``run_breaker_module()``: runs a module's ``main()`` against 127.0.0.1:16379 unless a url is given.
"""

from __future__ import annotations

import contextlib
from unittest import mock

import redis

NOW = 1_800_000_000.0
WRONGTYPE = redis.exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")


def breaker_replies(state=None, state_ttl=3600, stats=None, stats_ttl=3600, state_type=None, stats_type=None):
    """The six read replies for one breaker (TYPE/GET/TTL state, TYPE/HGETALL/TTL stats)."""
    state_type = state_type or ("string" if state is not None else "none")
    stats_type = stats_type or ("hash" if stats is not None else "none")
    return [
        state_type,
        state if state_type == "string" else (WRONGTYPE if state_type != "none" else None),
        state_ttl if state_type != "none" else -2,
        stats_type,
        stats if stats_type == "hash" else (WRONGTYPE if stats_type != "none" else {}),
        stats_ttl if stats_type != "none" else -2,
    ]


def read_replies(*breakers):
    """The replies of the read pipeline: TIME (``NOW``), then each breaker's six replies."""
    replies = [[str(int(NOW)), "0"]]
    for breaker in breakers:
        replies.extend(breaker)
    return replies


@contextlib.contextmanager
def patched_connect(module_name, client, *mocks):
    """Reset ``client`` and ``mocks``, let SCAN find nothing, and patch ``<module_name>.connect`` to return it."""
    for item in (client, *mocks):
        item.reset_mock(return_value=True, side_effect=True)
    client.scan.return_value = (0, [])
    with mock.patch(f"{module_name}.connect", autospec=True, return_value=client) as factory:
        client.factory = factory
        yield client


def run_breaker_module(run_module, main, check_mode=False, diff=False, **args):
    if "url" not in args:
        args.setdefault("host", "127.0.0.1")
        args.setdefault("port", 16379)
    return run_module(main, args, check_mode=check_mode, diff=diff)
