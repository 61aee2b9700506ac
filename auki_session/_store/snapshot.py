"""`read_snapshot`: one read of a store, as the command line's read commands do it, writing
nothing and, for SQLite files and PostgreSQL URLs, without SQLAlchemy (see plain.py)."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .._domain.layout import DB_FILENAME
from ..errors import StoreError
from . import migrate
from .plain import (
    BUSY_TIMEOUT_MS,
    PlainRunner,
    connect_raw,
    connect_server,
    database_error,
    in_use,
    readonly_file,
)
from .reader import Location, Reader
from .urls import server_arguments, sqlite_file

__all__ = ["read_snapshot"]

_T = TypeVar("_T")
_CREATION_WAIT = 2.0
"""Seconds a one-time read waits for an empty database to get its schema."""
_WRITER_CREATION_WAIT = BUSY_TIMEOUT_MS / 1000
"""... and while another process has the SQLite file open (`plain.in_use`): it is creating
the schema, which a loaded machine may take seconds to do (importing alembic and running
every migration); as long as a write lock is waited for."""


def read_snapshot(root: Path, read: Callable[[Reader], _T], *, url: str | None = None) -> _T:
    """Run `read` in one read transaction of a store, writing nothing to it: the SQLite file
    of storage root `root`, or the database at `url`.

    A SQLite file with no -wal is idle (no connection has it open) and is read in immutable
    mode, which leaves no -wal and -shm files behind; as immutable mode takes no locks, the read
    is repeated when the file changed meanwhile (a writer opened it). A PostgreSQL database is
    read in one REPEATABLE READ, READ ONLY transaction. A database with no schema yet is read
    again until a store being created has one.
    """
    location = Location.of(root, url)
    if url is None:
        return _read_file(location, root / DB_FILENAME, root, read)
    file = sqlite_file(url)
    if file is not None:
        return _read_file(location, file, None, read)
    arguments = server_arguments(url)
    if arguments is None:
        return _through_sqlalchemy(root, url, read)
    return _once_created(lambda: _read_server(location, arguments, read), lambda: False)


def _once_created(attempt: Callable[[], _T], creating: Callable[[], bool]) -> _T:
    """`attempt`, again while the database is empty: 2 s, or while `creating` says so."""
    started = time.monotonic()
    while True:
        try:
            return attempt()
        except migrate.EmptyDatabaseError:
            waited = time.monotonic() - started
            if waited > _WRITER_CREATION_WAIT or (waited > _CREATION_WAIT and not creating()):
                raise
            time.sleep(0.05)  # a writer is creating the store: read it once it exists


def _read_file(
    location: Location, path: Path, root: Path | None, read: Callable[[Reader], _T]
) -> _T:
    return _once_created(lambda: _unchanged_read(location, path, root, read), lambda: in_use(path))


def _unchanged_read(
    location: Location, path: Path, root: Path | None, read: Callable[[Reader], _T]
) -> _T:
    """A read of the file that no writer changed meanwhile (see `read_snapshot`)."""
    changed = 0
    while True:
        before = _fingerprint(path)
        idle = before is not None and not before[0]
        result = _read_file_once(location, path, root, read, snapshot=idle)
        if not idle or _fingerprint(path) == before:
            return result
        changed += 1
        if changed == 3:
            raise StoreError(f"{path}: the database kept changing while it was read; try again")


def _read_file_once(
    location: Location,
    path: Path,
    root: Path | None,
    read: Callable[[Reader], _T],
    *,
    snapshot: bool,
) -> _T:
    immutable = readonly_file(path, root, snapshot=snapshot)
    connect = functools.partial(connect_raw, path, readonly=True, immutable=immutable)
    return _read(location, connect, "sqlite", read, sqlite3.Error)


def _read_server(location: Location, arguments: dict[str, Any], read: Callable[[Reader], _T]) -> _T:
    import psycopg

    connect = functools.partial(connect_server, arguments)
    return _read(location, connect, "postgresql", read, psycopg.Error)


def _read(
    location: Location,
    connect: Callable[[], Any],
    dialect_name: str,
    read: Callable[[Reader], _T],
    errors: type[Exception],
) -> _T:
    """Connect, check the schema, then `read`, in one transaction that is rolled back."""
    try:
        connection = connect()
    except errors as error:
        raise database_error(location.where, "cannot open the store", error) from error
    try:
        return _checked_read(location, connection, dialect_name, read, errors)
    finally:
        connection.close()


def _checked_read(
    location: Location,
    connection: Any,
    dialect_name: str,
    read: Callable[[Reader], _T],
    errors: type[Exception],
) -> _T:
    run = PlainRunner(connection, dialect_name, errors)
    doing = "cannot open the store"
    try:
        if dialect_name == "sqlite":
            connection.execute("BEGIN")
        revision = migrate.check_readable(run, location.where)
        doing = "cannot read"
        return read(Reader(location, run, revision))
    except errors as error:
        raise database_error(location.where, doing, error) from error
    finally:
        with contextlib.suppress(errors):  # a broken connection: the error above tells
            run.close()
            connection.rollback()


def _through_sqlalchemy(root: Path, url: str, read: Callable[[Reader], _T]) -> _T:
    """A PostgreSQL URL only SQLAlchemy reads (several hosts, a Unix socket)."""
    from .store import open_store

    def attempt() -> _T:
        store = open_store(root, url=url, readonly=True)
        try:
            with store.read() as reader:
                return read(reader)
        finally:
            store.close()

    return _once_created(attempt, lambda: False)


def _fingerprint(path: Path) -> tuple[bool, int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    wal = path.with_name(path.name + "-wal").exists()
    return (wal, stat.st_ino, stat.st_size, stat.st_mtime_ns)
