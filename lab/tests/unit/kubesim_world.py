"""An in-memory kubesim for unit tests: the store, the API over it and the controller, without a server."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubesim import discovery
from kubesim.api import Api
from kubesim.controller import Controller
from kubesim.store import Store

NS = discovery.lookup("", "v1", "namespaces")
NODES = discovery.lookup("", "v1", "nodes")
ONE_NODE = ({"name": "kubesim-node-1"},)


def make(namespace: str = "w", nodes: Iterable[dict[str, Any]] = ONE_NODE) -> tuple[Store, Api, Controller]:
    """A cluster with one namespace and the given nodes (each node's metadata)."""
    store = Store()
    api = Api(store)
    api.create(NS, "", {"metadata": {"name": namespace}})
    for metadata in nodes:
        api.create(NODES, "", {"metadata": metadata, "spec": {}})
    return store, api, Controller(store)
