"""Everything SQLite-specific: how a store file is opened, its pragmas, its write transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, QueuePool

DB_FILENAME = "auki_session.db"
BUSY_TIMEOUT_MS = 60_000
Durability = Literal["full", "normal"]
DURABILITY: dict[str, str] = {"full": "FULL", "normal": "NORMAL"}
_BEGIN = "auki_session_begin"
"""Key of a pooled connection's `info` naming how its transactions begin (BEGIN by default)."""


class StoreDialect(SQLiteDialect_pysqlite):
    """SQLAlchemy's pysqlite dialect, beginning transactions the store's way.

    The store's DB-API connections are in autocommit mode (isolation_level=None), so every
    SQLAlchemy transaction must say BEGIN itself: `BEGIN`, or `BEGIN IMMEDIATE` on a connection
    marked by `for_writing`. A dialect method rather than a "begin" event listener: any
    connection event makes SQLAlchemy dispatch events on every begin and commit, which cost a
    registration 10-15 us.
    """

    supports_statement_cache = True

    def do_begin(self, dbapi_connection: PoolProxiedConnection) -> None:
        statement = dbapi_connection.info.get(_BEGIN, "BEGIN")
        dbapi_connection.dbapi_connection.execute(statement)  # type: ignore[union-attr]


registry.register("sqlite.auki_session", __name__, "StoreDialect")


def for_writing(connection: Connection) -> Connection:
    """Make `connection` begin its transactions with BEGIN IMMEDIATE (on SQLite: take the write
    lock at once, so a transaction never fails to upgrade a read to a write) until it goes back
    to the pool. Other databases' dialects ignore the mark."""
    connection.connection.info[_BEGIN] = "BEGIN IMMEDIATE"
    return connection


def connect_raw(path: Path, *, readonly: bool, immutable: bool = False) -> sqlite3.Connection:
    """A DB-API connection in autocommit mode, so that we issue BEGIN ourselves."""
    if readonly:
        flag = "immutable=1" if immutable else "mode=ro"
        target = f"file:{quote(str(path))}?{flag}"
        return sqlite3.connect(
            target,
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
    return sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )


def make_engine(
    path: Path, *, durability: Durability = "full", readonly: bool = False, immutable: bool = False
) -> Engine:
    """An engine whose connections carry the store's pragmas, set once per connection."""
    synchronous = DURABILITY[durability]

    def creator() -> sqlite3.Connection:
        return connect_raw(path, readonly=readonly, immutable=immutable)

    engine = create_engine(
        "sqlite+auki_session://",
        creator=creator,
        poolclass=QueuePool,
        pool_size=4,
        max_overflow=-1,
    )

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            mode = dbapi_connection.execute("PRAGMA journal_mode").fetchone()
            if mode is None or mode[0] != "wal":
                dbapi_connection.execute("PRAGMA journal_mode = WAL")
            dbapi_connection.execute(f"PRAGMA synchronous = {synchronous}")

    @event.listens_for(engine.pool, "checkin")
    def _forget_begin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info.pop(_BEGIN, None)  # the next checkout may be a reader

    return engine


def read_pragmas(dbapi_connection: sqlite3.Connection) -> dict[str, object]:
    """The pragmas a connection actually runs with, read back (for tests and the CLI)."""
    out: dict[str, object] = {}
    for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout"):
        row = dbapi_connection.execute(f"PRAGMA {name}").fetchone()
        out[name] = row[0] if row else None
    return out
