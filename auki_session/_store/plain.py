"""Reading a store on a bare DB-API connection, without importing SQLAlchemy.

SQLAlchemy takes longer to import than a command-line read takes to run. A read command
therefore opens the root's SQLite file with `sqlite3`, or a PostgreSQL database with psycopg,
and runs the statements of `statements` as `catalog` holds them compiled for that database.
Everything else (writing, migrations, pushing, SQLite URLs) goes through SQLAlchemy.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import struct
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from ..errors import StoreError
from .catalog import SQL
from .statements import Statement

__all__ = [
    "BUSY_TIMEOUT_MS",
    "PlainRunner",
    "Rows",
    "Run",
    "connect_raw",
    "connect_server",
    "database_error",
    "database_reason",
    "in_use",
    "readonly_file",
]

BUSY_TIMEOUT_MS = 60_000

_FETCH = 2000
"""Rows fetched at a time by a stream."""


class Run(Protocol):
    """What runs statements inside a transaction: `runner.Runner` (on SQLAlchemy's connection)
    or `PlainRunner` (on a bare DB-API connection)."""

    dialect_name: str
    dbapi_connection: Any
    errors: tuple[type[Exception], ...]
    """What a database error raises (see `database_reason`)."""

    def execute(self, statement: Statement, values: Sequence[Any] = ()) -> Any: ...
    def one(self, statement: Statement, values: Sequence[Any] = ()) -> Any: ...
    def all(self, statement: Statement, values: Sequence[Any] = ()) -> list[Any]: ...
    def stream(self, statement: Statement, values: Sequence[Any] = ()) -> Iterator[Any]: ...
    def close(self) -> None: ...


class Rows:
    """What both runners do alike on their DB-API connection: `one` and `all` over `execute`,
    streams, closing the cursor."""

    __slots__ = ("_cursor", "_streams", "dbapi_connection", "dialect_name", "errors")

    def __init__(
        self, dbapi_connection: Any, dialect_name: str, errors: tuple[type[Exception], ...]
    ) -> None:
        self.dbapi_connection = dbapi_connection
        self.dialect_name = dialect_name
        self.errors = errors
        """What a database error raises (see `database_reason`)."""
        self._cursor: Any = None
        self._streams = 0

    def execute(self, statement: Statement, values: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def one(self, statement: Statement, values: Sequence[Any] = ()) -> Any:
        """The first row of a query, or None."""
        return self.execute(statement, values).fetchone()

    def all(self, statement: Statement, values: Sequence[Any] = ()) -> list[Any]:
        """Every row of a query."""
        rows: list[Any] = self.execute(statement, values).fetchall()
        return rows

    def _streamed(self, text: str, arguments: Any) -> Iterator[Any]:
        """The rows of SQL text, fetched as they are consumed, on a cursor of their own (on
        PostgreSQL a server-side one: psycopg's ordinary cursor holds the whole result)."""
        self._streams += 1
        if self.dialect_name == "postgresql":
            cursor = self.dbapi_connection.cursor(name=f"auki_stream_{self._streams}")
        else:
            cursor = self.dbapi_connection.cursor()
        try:
            cursor.execute(text, arguments)
            while rows := cursor.fetchmany(_FETCH):
                yield from rows
        finally:
            cursor.close()

    def close(self) -> None:
        """Close the cursor (the connection stays open)."""
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None


class PlainRunner(Rows):
    """Runs the catalog's compiled statements on a DB-API connection (`sqlite3` or psycopg),
    inside whatever transaction it holds. Database errors are the driver's own."""

    __slots__ = ("_sql",)

    def __init__(self, dbapi_connection: Any, dialect_name: str, error: type[Exception]) -> None:
        super().__init__(dbapi_connection, dialect_name, (error,))
        self._sql = SQL[dialect_name]

    def _prepared(self, statement: Statement, values: Sequence[Any]) -> tuple[str, Any]:
        text, order = self._sql[statement.name]
        if order is None:
            return text, dict(zip(statement.params, values, strict=True))
        return text, tuple(values[index] for index in order)

    def execute(self, statement: Statement, values: Sequence[Any] = ()) -> Any:
        """Execute; returns the cursor."""
        text, arguments = self._prepared(statement, values)
        if self._cursor is None:
            self._cursor = self.dbapi_connection.cursor()
        self._cursor.execute(text, arguments)
        return self._cursor

    def stream(self, statement: Statement, values: Sequence[Any] = ()) -> Iterator[Any]:
        """The rows of a query, fetched as they are consumed (see `Rows._streamed`)."""
        return self._streamed(*self._prepared(statement, values))


def database_reason(error: BaseException) -> str:
    """What a database error says: the driver's message (SQLAlchemy's errors wrap it)."""
    driver = getattr(error, "orig", None)
    return str(error if driver is None else driver)


def database_error(where: str, doing: str, error: BaseException) -> StoreError:
    """The StoreError for a database error met while `doing` something with the database at
    `where` (the one place database errors are translated)."""
    return StoreError(f"{where}: {doing}: {database_reason(error)}")


def connect_raw(path: Path, *, readonly: bool, immutable: bool = False) -> sqlite3.Connection:
    """A DB-API connection in autocommit mode, so that we issue BEGIN ourselves."""
    if readonly:
        flag = "immutable=1" if immutable else "mode=ro"
        target = f"file:{quote(os.fsencode(path))}?{flag}"
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


def readonly_file(path: Path, root: Path | None = None, *, snapshot: bool) -> bool:
    """Whether to read the SQLite file `path` (the file of storage root `root`, if given) in
    immutable mode, reading only (even on read-only media).

    SQLite's mode=ro needs to create the -shm file beside a database in WAL mode (and leaves
    empty -wal and -shm files behind). Immutable mode needs nothing and takes no locks, but
    trusts the file never to change, so a writer that opens the store meanwhile goes unseen:
    use it only where no writer can be (read-only media), or for a `snapshot` of a file with
    no -wal (idle), whose reader checks afterwards that it did not change.
    """
    if root is not None and not root.is_dir():
        raise StoreError(f"{root}: storage root does not exist or is not a directory")
    if not path.is_file():
        where = "no auki-session database in this storage root" if root else "no such file"
        raise StoreError(f"{path}: {where}")
    wal = path.with_name(path.name + "-wal")
    has_wal = wal.exists()
    if (snapshot or not os.access(path.parent, os.W_OK)) and not has_wal:
        return True
    try:
        probe = connect_raw(path, readonly=True)
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchall()
        finally:
            probe.close()
    except sqlite3.Error as error:
        if has_wal and wal.stat().st_size > 0:
            # Immutable mode ignores the -wal file: its commits would silently be missing.
            raise StoreError(
                f"{path}: cannot read its write-ahead log {wal.name} here ({error}); on "
                f"read-only media SQLite needs {path.name}-shm beside it: copy that file "
                "along, or read a writable copy"
            ) from error
        return True
    return False


_DMS = 128
"""The byte of a -shm file every connection to a WAL database holds a read lock on (SQLite's
unix VFS: UNIX_SHM_DMS)."""


def in_use(path: Path) -> bool:
    """Whether a connection (of another process) has the SQLite file `path` open in WAL mode:
    it holds a lock on its -shm file (asked with F_GETLK, which locks nothing). Linux only;
    elsewhere, False."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        descriptor = os.open(path.with_name(path.name + "-shm"), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        ask = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, _DMS, 1, 0)
        answer = fcntl.fcntl(descriptor, fcntl.F_GETLK, ask)
    except OSError:
        return False
    finally:
        os.close(descriptor)
    held: int = struct.unpack("hhqqi4x", answer)[0]
    return held != fcntl.F_UNLCK


def connect_server(arguments: dict[str, Any]) -> Any:
    """A psycopg connection (`urls.server_arguments`) reading in one snapshot (REPEATABLE
    READ, READ ONLY)."""
    import psycopg

    connection = psycopg.connect(**arguments)
    connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    connection.read_only = True
    return connection
