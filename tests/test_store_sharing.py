"""Several `Peer` objects on one storage root share one store whatever their durability; a
transaction belongs to the peer that opened it. The pragma tests look inside the store's
connections (an internal) because synchronous is not observable through the API."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from auki_session import FrameDef, Peer, StoreError
from auki_session._store.store import shared_store
from tests.conftest import snapshot


def pragma(connection: sqlite3.Connection, name: str) -> object:
    row = connection.execute(f"PRAGMA {name}").fetchone()
    return row[0] if row else None


def write_connection_pragmas(root: Path) -> dict[str, object]:
    """The pragmas of the write connection the last write transaction used (kept idle)."""
    store = shared_store(str(root))
    engine, connection = store.connect(writing=True)
    try:
        raw = connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        return {
            name: pragma(raw, name)
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    finally:
        store.release(engine, connection, writing=True, clean=True)


def test_the_database_runs_wal_full_sync_and_foreign_keys(sqlite_peer: Peer, root: Path) -> None:
    sqlite_peer.register_frame("base_link", FrameDef.ros_body())
    pragmas = write_connection_pragmas(root)
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["synchronous"] == 2
    assert pragmas["foreign_keys"] == 1
    assert int(str(pragmas["busy_timeout"])) > 0


def test_durability_normal_relaxes_synchronous(root: Path) -> None:
    peer = Peer("galbot", "app").with_storage_root(root).with_durability("normal")
    peer.register_frame("base_link", FrameDef.ros_body())
    assert write_connection_pragmas(root)["synchronous"] == 1


def test_peers_with_different_durability_share_one_store_each_writing_at_its_own(
    root: Path,
) -> None:
    full = Peer("robot-a", "app").with_storage_root(root)
    normal = Peer("robot-b", "app").with_storage_root(str(root)).with_durability("normal")
    full.register_frame("base", FrameDef.ros_body())
    assert full._store() is normal._store()
    normal.register_frame("base", FrameDef.ros_body())
    assert write_connection_pragmas(root)["synchronous"] == 1
    full.register_frame("base", FrameDef.unity())
    assert write_connection_pragmas(root)["synchronous"] == 2


def test_another_peer_joins_a_transaction_explicitly_and_rolls_back_with_it(root: Path) -> None:
    a = Peer("robot-a", "app").with_storage_root(root)
    b = Peer("robot-b", "app").with_storage_root(root).with_durability("normal")
    a.register_frame("seed", FrameDef.ros_body())
    before = snapshot(root)
    with pytest.raises(RuntimeError, match="abort"), a.transaction(b):
        a.register_frame("base", FrameDef.ros_body())
        b.register_frame("base", FrameDef.ros_body())
        assert [e.id for e in b.frames()] == ["base"]  # b reads inside the transaction
        raise RuntimeError("abort")
    assert snapshot(root) == before
    with a.transaction(b):
        a.register_frame("base", FrameDef.ros_body())
        b.register_frame("base", FrameDef.ros_body())
    assert [e.id for e in b.frames()] == ["base"]
    assert [e.id for e in a.frames()] == ["base", "seed"]


def test_another_peer_in_the_same_thread_is_refused_at_once_and_changes_nothing(
    root: Path,
) -> None:
    a = Peer("robot-a", "app").with_storage_root(root)
    b = Peer("robot-b", "app").with_storage_root(root)
    b.register_frame("seed", FrameDef.ros_body())
    started = time.monotonic()
    with a.transaction():
        a.register_frame("base", FrameDef.ros_body())
        with pytest.raises(StoreError, match="join that transaction"):
            b.register_frame("base", FrameDef.ros_body())
        with pytest.raises(StoreError, match="join that transaction"):
            b.start_session()
        # b still reads what is committed, outside a's transaction
        assert [e.id for e in b.frames()] == ["seed"]
        assert a.frames()[0].id == "base"
    assert time.monotonic() - started < 10  # never the 60 s busy timeout
    assert [e.id for e in a.frames()] == ["base"]
    assert [e.id for e in b.frames()] == ["seed"]


def test_another_peer_in_another_thread_waits_for_the_commit_without_deadlock(
    root: Path,
) -> None:
    a = Peer("robot-a", "app").with_storage_root(root)
    b = Peer("robot-b", "app").with_storage_root(root)
    a.register_frame("seed", FrameDef.ros_body())
    done = threading.Event()
    failures: list[BaseException] = []

    def register_b() -> None:
        try:
            b.register_frame("base", FrameDef.ros_body())
        except BaseException as error:  # reported by the assertion below
            failures.append(error)
        done.set()

    with a.transaction():
        a.register_frame("base", FrameDef.ros_body())
        thread = threading.Thread(target=register_b)
        thread.start()
        assert not done.wait(0.5)  # b waits for a's write lock
    assert done.wait(30)
    thread.join()
    assert failures == []
    assert [e.id for e in b.frames()] == ["base"]


def test_a_peer_on_another_root_cannot_join(root: Path, tmp_path: Path) -> None:
    a = Peer("robot-a", "app").with_storage_root(root)
    b = Peer("robot-b", "app").with_storage_root(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="stores differ"), a.transaction(b):
        pass
