"""Engines: the SQLite file's (pragmas, how transactions begin, durability per transaction) and
a server database's (PostgreSQL through psycopg 3), behind the same SQLAlchemy layer."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, QueuePool

from ..errors import ConfigurationError
from .plain import BUSY_TIMEOUT_MS, connect_raw
from .urls import describe_url

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DURABILITY",
    "Durability",
    "describe_url",
    "for_writing",
    "make_engine",
    "make_server_engine",
    "server_url",
]

Durability = Literal["full", "normal"]
DURABILITY: dict[Durability, str] = {"full": "FULL", "normal": "NORMAL"}
_BEGIN = "auki_session_begin"
"""Key of a pooled connection's `info` naming how its transactions begin (BEGIN by default)."""
_SYNCHRONOUS = "auki_session_synchronous"
"""Key of a pooled connection's `info`: the synchronous level its next write transaction wants."""
_SET = "auki_session_synchronous_set"
"""Key of a pooled connection's `info`: the synchronous level the connection runs with now."""


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
        info = dbapi_connection.info
        raw: Any = dbapi_connection.dbapi_connection
        wanted = info.get(_SYNCHRONOUS)
        if wanted is not None and info.get(_SET) != wanted:
            raw.execute(f"PRAGMA synchronous = {wanted}")
            info[_SET] = wanted
        raw.execute(info.get(_BEGIN, "BEGIN"))


registry.register("sqlite.auki_session", __name__, "StoreDialect")


def for_writing(connection: Connection, durability: Durability = "full") -> Connection:
    """Make `connection` begin its transactions with BEGIN IMMEDIATE (on SQLite: take the write
    lock at once, so a transaction never fails to upgrade a read to a write) at `durability`
    (SQLite's synchronous level, set on the connection when it differs) until it goes back to
    the pool. Other databases' dialects ignore the marks."""
    info = connection.connection.info
    wanted = DURABILITY[durability]
    if info.get(_SYNCHRONOUS) != wanted:  # a kept connection is marked already
        info[_BEGIN] = "BEGIN IMMEDIATE"
        info[_SYNCHRONOUS] = wanted
    return connection


def make_engine(path: Path, *, readonly: bool = False, immutable: bool = False) -> Engine:
    """An engine whose connections carry the store's pragmas, set once per connection
    (synchronous=FULL until a write transaction asks for another level)."""

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
    def _set_pragmas(dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            mode = dbapi_connection.execute("PRAGMA journal_mode").fetchone()
            if mode is None or mode[0] != "wal":
                dbapi_connection.execute("PRAGMA journal_mode = WAL")
            dbapi_connection.execute("PRAGMA synchronous = FULL")
            record.info[_SET] = "FULL"

    @event.listens_for(engine.pool, "checkin")
    def _forget_begin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info.pop(_BEGIN, None)  # the next checkout may be a reader
        record.info.pop(_SYNCHRONOUS, None)

    return engine


_DRIVERS = {"postgresql": ("psycopg", "psycopg"), "sqlite": ("pysqlite", "sqlite3")}
"""The databases a store can live in: backend -> (the driver we use, the module it imports)."""
_EXAMPLE = "postgresql://user@host:5432/fleet or sqlite:////path/to/fleet.db"


def server_url(url: str) -> URL:
    """A database URL checked before anything connects: a SQLAlchemy URL of a database we
    support (`postgres://` and `postgresql://` meaning PostgreSQL through psycopg 3), whose
    driver is installed. Raises ConfigurationError saying what is wrong and what to do."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        # The text itself is not repeated: it may hold a password.
        raise ConfigurationError(
            f"the database URL given is not a URL: write it as {_EXAMPLE}"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    backend = "postgresql" if backend == "postgres" else backend
    if backend not in _DRIVERS:
        raise ConfigurationError(
            f"database URL {describe(parsed)}: auki-session stores into PostgreSQL or SQLite, "
            f"not {backend!r}: write it as {_EXAMPLE}"
        )
    ours, module = _DRIVERS[backend]
    if driver not in ("", ours):
        raise ConfigurationError(
            f"database URL {describe(parsed)}: the {driver!r} driver is not supported; "
            f"write {backend}:// (or {backend}+{ours}://)"
        )
    if importlib.util.find_spec(module) is None:
        raise ConfigurationError(
            f"database URL {describe(parsed)}: the {module} driver is not installed: "
            "pip install 'auki-session[postgresql]'"
        )
    return parsed.set(drivername=f"{backend}+{ours}")


def describe(url: URL) -> str:
    """A parsed URL with any password hidden, for messages."""
    return url.render_as_string(hide_password=True)


def make_server_engine(url: str) -> Engine:
    """An engine for a URL such as `postgresql://user@host/db` (PostgreSQL through psycopg 3);
    a `sqlite:///path` URL gets the store's own SQLite engine (pragmas, BEGIN IMMEDIATE for
    writes)."""
    parsed = server_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return make_engine(Path(parsed.database))
    return create_engine(parsed, pool_pre_ping=True, pool_size=4, max_overflow=-1)
