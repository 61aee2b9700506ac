"""Readers and writers never wait for each other (WAL): a long read transaction held open as the
`sqlite3` shell would does not block a writer, and a writer mid-transaction does not block
readers, who see only what it committed.

Lock tests use the store's own engine to see which BEGIN a connection issues.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from auki_session import FrameDef, Peer
from auki_session._store.engines import for_writing, make_engine
from auki_session._store.store import open_store
from tests.conftest import end_process
from tests.workers.audit import audit, read_acks
from tests.workers.processes import REPO, finish, go, spawn, wait_for_line

HOLD_A_TRANSACTION = """
import sys
from auki_session import FrameDef, Peer
peer = Peer("galbot", "holder").with_storage_root(sys.argv[1])
with peer.transaction():
    peer.register_frame("held", FrameDef.ros_body())
    session = peer.start_session()
    print("inside", flush=True)
    sys.stdin.readline()
print(session.session_id, flush=True)
"""


def raw_reader(root: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection that never waits for a lock (it would fail at once)."""
    return sqlite3.connect(root / "auki_session.db", timeout=0, isolation_level=None)


def count(connection: sqlite3.Connection, table: str) -> int:
    return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_a_long_read_transaction_does_not_block_a_writer(root: Path, tmp_path: Path) -> None:
    Peer("galbot", "setup").with_storage_root(root).register_frame("base", FrameDef.ros_body())
    reader = raw_reader(root)
    reader.execute("BEGIN")
    before = count(reader, "entries")

    acks = tmp_path / "acks.jsonl"
    started = time.monotonic()
    writer = spawn(root, acks, "--ops", "20", "--transactions", "0.3")
    finish(writer, timeout=30)
    elapsed = time.monotonic() - started

    assert count(reader, "entries") == before  # the reader's snapshot is unchanged
    reader.execute("COMMIT")
    assert count(reader, "entries") > before
    reader.close()
    figures = audit(root, read_acks(acks))
    print(f"\nreader held a transaction while {figures.acked} registrations took {elapsed:.1f} s")


def test_a_writer_mid_transaction_does_not_block_readers(root: Path) -> None:
    peer = Peer("galbot", "reader").with_storage_root(root)
    peer.register_frame("base", FrameDef.ros_body())
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_TRANSACTION, str(root)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_line(holder, "inside")
        reader = raw_reader(root)
        reader.execute("BEGIN")
        assert count(reader, "sessions") == 0
        assert [r[0] for r in reader.execute("SELECT entry_id FROM heads")] == ["base"]
        reader.execute("COMMIT")

        seen: list[list[str]] = []
        thread = threading.Thread(target=lambda: seen.append([e.id for e in peer.frames()]))
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the package's read side waited for the writer"
        assert seen == [["base"]]
    finally:
        go(holder)
    session_id = finish(holder, timeout=30).split()[-1]
    assert count(reader, "sessions") == 1
    assert [s.session_id for s in peer.sessions()] == [session_id]
    reader.close()


def test_a_read_only_store_sees_commits_made_while_it_is_open(root: Path, tmp_path: Path) -> None:
    Peer("galbot", "setup").with_storage_root(root).register_frame("base", FrameDef.ros_body())
    end_process()  # the last connection closes: no -wal file is left beside the database
    readonly = open_store(root, readonly=True)
    try:
        with readonly.read() as reader:
            assert sum(kind.versions for kind in reader.store_counts().kinds) == 1
        acks = tmp_path / "acks.jsonl"
        writer = spawn(root, acks, "--ops", "25", "--wait-for-go")
        wait_for_line(writer, "ready")
        go(writer)
        finish(writer, timeout=30)
        figures = audit(root, read_acks(acks))
        with readonly.read() as reader:
            counts = reader.store_counts()
            assert sum(kind.versions for kind in counts.kinds) == figures.entries
            assert counts.logs == figures.logs
    finally:
        readonly.close()


def test_a_write_transaction_takes_the_write_lock_at_begin_and_a_read_does_not(
    root: Path,
) -> None:
    peer = Peer("galbot", "app").with_storage_root(root)
    peer.register_frame("base", FrameDef.ros_body())
    other = raw_reader(root)
    # Nothing is written inside the transaction: only BEGIN IMMEDIATE can hold the lock.
    with peer.transaction(), pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("BEGIN IMMEDIATE")
    store = open_store(root)
    with store.read():
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    store.close()
    other.close()


def test_a_write_connection_back_in_the_pool_begins_reads_without_the_write_lock(
    root: Path,
) -> None:
    Peer("galbot", "app").with_storage_root(root).register_frame("base", FrameDef.ros_body())
    end_process()
    engine = make_engine(root / "auki_session.db")
    other = raw_reader(root)
    writing = for_writing(engine.connect())
    dbapi_connection = writing.connection.dbapi_connection
    with writing.begin(), pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("BEGIN IMMEDIATE")
    writing.close()
    reading = engine.connect()
    assert reading.connection.dbapi_connection is dbapi_connection  # the same, from the pool
    with reading.begin():
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    reading.close()
    engine.dispose()
    other.close()
