"""The object store: objects keyed by resource, resourceVersion counter, watch log, persistence."""

from __future__ import annotations

import collections
import contextlib
import copy
import datetime as dt
import json
import logging
import os
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from kubesim.selectors import FieldRequirement, Requirement, fields_match, labels_match

LOG = logging.getLogger("kubesim.store")
Obj = dict[str, Any]
WATCH_LOG_SIZE = 20000


def now_rfc3339() -> str:
    """Current UTC time as ``2026-11-28T10:00:00Z``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    """Current UTC time as a MicroTime ``2026-11-28T10:00:00.000000Z``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> dt.datetime | None:
    """Parse an RFC 3339 timestamp (with or without fraction)."""
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class ApiError(Exception):
    """An error the API answers with a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> Obj:
        """The ``meta.k8s.io/v1 Status`` body."""
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(group_resource: str, name: str, group: str = "", kind: str = "") -> ApiError:
    """404 NotFound like ``deployments.apps "x" not found``."""
    return ApiError(
        404,
        "NotFound",
        f'{group_resource} "{name}" not found',
        {"name": name, "group": group, "kind": kind or group_resource.split(".")[0]},
    )


def conflict(group_resource: str, name: str, group: str = "", kind: str = "") -> ApiError:
    """409 Conflict for a stale resourceVersion."""
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {group_resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "group": group, "kind": kind or group_resource.split(".")[0]},
    )


@dataclass
class WatchEvent:
    """One change, kept for watchers: type is ADDED, MODIFIED or DELETED."""

    rv: int
    type: str
    storage: str
    namespace: str
    old: Obj | None
    new: Obj


class Store:
    """Thread-safe in-memory object store with a global resourceVersion and optional persistence."""

    def __init__(self, state_file: str | None = None) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[str, dict[tuple[str, str], Obj]] = collections.defaultdict(dict)
        self.rv = 0
        self.counters: dict[str, int] = {}
        self.log: collections.deque[WatchEvent] = collections.deque(maxlen=WATCH_LOG_SIZE)
        self.state_file = state_file
        self._dirty = False
        self._saver: threading.Thread | None = None
        self._stop = threading.Event()
        self.listeners: list[Any] = []

    # ------------------------------------------------------------------------------------------ basics
    def _bump(self) -> int:
        self.rv += 1
        return self.rv

    def next_counter(self, name: str) -> int:
        """Monotonic named counter (pod IPs, cluster IPs), persisted with the store."""
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + 1
            self._dirty = True
            return self.counters[name]

    def _record(self, etype: str, storage: str, namespace: str, old: Obj | None, new: Obj) -> None:
        self.log.append(WatchEvent(self.rv, etype, storage, namespace, old, new))
        self._dirty = True
        self.changed.notify_all()
        for listener in self.listeners:
            listener(storage, etype, new)

    def get(self, storage: str, namespace: str, name: str) -> Obj | None:
        """A deep copy of the object, or None."""
        with self.lock:
            obj = self.objects[storage].get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def peek(self, storage: str, namespace: str, name: str) -> Obj | None:
        """The stored object itself (no copy): callers must hold ``lock`` and not mutate it."""
        return self.objects[storage].get((namespace, name))

    def list(
        self,
        storage: str,
        namespace: str | None = None,
        labels: list[Requirement] | None = None,
        fields: list[FieldRequirement] | None = None,
        copy_items: bool = True,
    ) -> tuple[list[Obj], int]:
        """Objects of a resource (optionally in one namespace, filtered), sorted by namespace/name."""
        with self.lock:
            out = []
            for (ns, _name), obj in sorted(self.objects[storage].items()):
                if namespace and ns != namespace:
                    continue
                if labels and not labels_match(labels, obj["metadata"].get("labels")):
                    continue
                if fields and not fields_match(fields, obj):
                    continue
                out.append(copy.deepcopy(obj) if copy_items else obj)
            return out, self.rv

    # ------------------------------------------------------------------------------------------ writes
    def create(self, storage: str, obj: Obj, dry_run: bool = False) -> Obj:
        """Store a new object: assigns uid, creationTimestamp, resourceVersion, generation."""
        with self.lock:
            meta = obj.setdefault("metadata", {})
            ns = meta.get("namespace", "")
            name = meta["name"]
            if (ns, name) in self.objects[storage]:
                raise ApiError(409, "AlreadyExists", "", {"name": name})
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_rfc3339())
            if dry_run:
                meta["resourceVersion"] = str(self.rv)
                return copy.deepcopy(obj)
            meta["resourceVersion"] = str(self._bump())
            stored = copy.deepcopy(obj)
            self.objects[storage][(ns, name)] = stored
            self._record("ADDED", storage, ns, None, stored)
            return copy.deepcopy(stored)

    def replace(self, storage: str, obj: Obj, dry_run: bool = False) -> Obj:
        """Replace an existing object (caller has checked preconditions); bumps resourceVersion."""
        with self.lock:
            meta = obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            old = self.objects[storage].get(key)
            if old is None:
                raise ApiError(404, "NotFound", f'"{meta["name"]}" not found', {"name": meta["name"]})
            if dry_run:
                return copy.deepcopy(obj)
            meta["resourceVersion"] = str(self._bump())
            stored = copy.deepcopy(obj)
            self.objects[storage][key] = stored
            self._record("MODIFIED", storage, key[0], old, stored)
            return copy.deepcopy(stored)

    def delete(self, storage: str, namespace: str, name: str, dry_run: bool = False) -> Obj | None:
        """Remove an object and return it (None when absent)."""
        with self.lock:
            old = self.objects[storage].get((namespace, name))
            if old is None:
                return None
            if dry_run:
                return copy.deepcopy(old)
            del self.objects[storage][(namespace, name)]
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self._bump())
            self._record("DELETED", storage, namespace, old, gone)
            return copy.deepcopy(gone)

    def clear(self) -> None:
        """Delete every object (watchers see DELETED events); counters are kept."""
        with self.lock:
            for storage in list(self.objects):
                for ns, name in list(self.objects[storage]):
                    self.delete(storage, ns, name)

    # ------------------------------------------------------------------------------------------ watch
    def events_since(self, rv: int) -> list[WatchEvent] | None:
        """Events after ``rv``; None when ``rv`` is older than the watch log (410 Gone)."""
        with self.lock:
            if rv >= self.rv:
                return []
            if not self.log or self.log[0].rv > rv + 1:
                return None
            return [e for e in self.log if e.rv > rv]

    def wait_for_change(self, rv: int, timeout: float) -> None:
        """Block until the store moves past ``rv`` or the timeout expires."""
        with self.changed:
            if self.rv <= rv:
                self.changed.wait(timeout)

    # ------------------------------------------------------------------------------------------ persistence
    def snapshot(self) -> str:
        """The whole store as JSON."""
        with self.lock:
            return json.dumps(
                {
                    "rv": self.rv,
                    "counters": self.counters,
                    "objects": {s: list(objs.values()) for s, objs in self.objects.items() if objs},
                },
                separators=(",", ":"),
            )

    def load(self, path: str) -> bool:
        """Load a snapshot written by :meth:`save`; False when there is none."""
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as exc:
            LOG.warning("ignoring unreadable state file %s: %s", path, exc)
            return False
        with self.lock:
            self.objects.clear()
            self.rv = int(data.get("rv", 0))
            self.counters = {k: int(v) for k, v in (data.get("counters") or {}).items()}
            for storage, items in (data.get("objects") or {}).items():
                for obj in items:
                    meta = obj["metadata"]
                    self.objects[storage][(meta.get("namespace", ""), meta["name"])] = obj
            self.log.clear()
        return True

    def save(self) -> None:
        """Atomically write the snapshot to ``state_file``."""
        if not self.state_file:
            return
        with self.lock:
            data = self.snapshot()
            self._dirty = False
        directory = os.path.dirname(os.path.abspath(self.state_file))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
            os.replace(tmp, self.state_file)
        except OSError:
            LOG.exception("cannot save state to %s", self.state_file)
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def start_saver(self, interval: float = 0.5) -> None:
        """Background thread: save at most every ``interval`` seconds when something changed."""
        if not self.state_file or self._saver:
            return

        def loop() -> None:
            while not self._stop.wait(interval):
                if self._dirty:
                    self.save()

        self._saver = threading.Thread(target=loop, name="kubesim-saver", daemon=True)
        self._saver.start()

    def stop(self) -> None:
        """Stop the saver and write a final snapshot."""
        self._stop.set()
        if self._saver:
            self._saver.join(timeout=2)
        if self.state_file:
            self.save()


def monotonic() -> float:
    """Shorthand used by the controller."""
    return time.monotonic()
