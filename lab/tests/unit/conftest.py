"""Shared fixtures of the lab's unit tests: ``lab/`` on ``sys.path``, free ports, in-process servers."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

LAB = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
if LAB not in sys.path:
    sys.path.insert(0, LAB)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port() -> int:
    """A free TCP port on 127.0.0.1."""
    return free_port()


@pytest.fixture
def lab_dir() -> str:
    """Absolute path of ``lab/`` (the ``PYTHONPATH`` of the simulators)."""
    return LAB


@pytest.fixture
def serve_sim() -> Iterator[Callable[[Any, dict[str, Any]], str]]:
    """Start ``module.build_server(cfg)`` on a free port in a thread; yields a starter returning the base URL."""
    from sims.common import start_in_thread

    servers = []

    def start(module: Any, cfg: dict[str, Any]) -> str:
        cfg = {"host": "127.0.0.1", "port": free_port(), **cfg}
        server = module.build_server(cfg)
        servers.append(server)
        start_in_thread(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        stop = getattr(server.app, "stop", None)
        if callable(stop):
            stop()
        server.server_close()
