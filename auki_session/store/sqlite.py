"""Everything SQLite-specific: how a store file is opened, its pragmas, its write transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

DB_FILENAME = "auki_session.db"
BUSY_TIMEOUT_MS = 60_000
Durability = Literal["full", "normal"]
DURABILITY: dict[str, str] = {"full": "FULL", "normal": "NORMAL"}
WRITE_OPTION = "auki_session_write"


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
        "sqlite://",
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

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # Straight on the DB-API connection: exec_driver_sql would add 20 us to every write.
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        try:
            connection.connection.dbapi_connection.execute(statement)
        except sqlite3.Error as error:
            raise DBAPIError.instance(statement, (), error, sqlite3.Error) from error

    return engine


def read_pragmas(dbapi_connection: sqlite3.Connection) -> dict[str, object]:
    """The pragmas a connection actually runs with, read back (for tests and the CLI)."""
    out: dict[str, object] = {}
    for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout"):
        row = dbapi_connection.execute(f"PRAGMA {name}").fetchone()
        out[name] = row[0] if row else None
    return out
