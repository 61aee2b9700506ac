"""One Store per storage root and durability in a process, shared by every Peer using it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .store.repository import Store
from .store.sqlite import Durability

_stores: dict[tuple[Path, Durability, str | None], Store] = {}
_by_argument: dict[tuple[str, Durability, str | None, str], Store] = {}
"""The same stores by the root as given (and the working directory, for a relative root):
resolving the root costs a path normalisation that every registration would pay."""
_lock = threading.Lock()


def store_for(root: str, durability: Durability, url: str | None = None) -> Store:
    """The process's Store for this root (resolved to an absolute path), durability and
    database URL (None: the SQLite file in the root)."""
    store = _by_argument.get((root, durability, url, ""))  # an absolute root seen before
    if store is not None:
        return store
    argument = (root, durability, url, "" if os.path.isabs(root) else os.getcwd())
    store = _by_argument.get(argument)
    if store is not None:
        return store
    key = (Path(os.path.abspath(root)), durability, url)
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = Store(key[0], durability, url=url)
        _by_argument[argument] = store
        return store


def close_all() -> None:
    """Close every store's connections (tests and forks use this)."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
        _by_argument.clear()


def _forget_after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    for store in _stores.values():
        store.forget_connections()


os.register_at_fork(after_in_child=_forget_after_fork)
