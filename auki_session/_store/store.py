"""`Store`: one open database (the root's SQLite file, or a server database) and its connections.

`open_store` is the one way to open a store: read-write (creating the root and the schema,
upgrading an older schema, replaying unfinished journals) or read-only (writing nothing, even on
read-only media). `shared_store` keeps one store per database in a process, shared by every
`Peer` that uses it. Transactions live in `transaction.py`; queries in `reader.py`.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from .._domain.layout import DB_FILENAME, JOURNAL_DIR
from ..errors import StoreError
from . import migrate
from . import statements as sql
from .engines import for_writing, make_engine, make_server_engine
from .files import Directory, make_root
from .mirror import Done, RootDirectory, repair, root_key
from .plain import database_error, readonly_file
from .reader import Location, Reader
from .runner import Runner
from .transaction import Learnt

if TYPE_CHECKING:
    from .transaction import Transaction

__all__ = [
    "Store",
    "close_all",
    "open_store",
    "shared_store",
]

_T = TypeVar("_T")
_IDLE_MAX = 4
"""Connections a store keeps checked out between calls, for reads and for writes each."""


class Store:
    """An open store: its engine, a few idle connections, what its commits learnt, and the
    transaction each thread has open on it. Made by `open_store`."""

    def __init__(self, root: Path, engine: Engine, *, url: str | None, readonly: bool) -> None:
        self.location = Location.of(root, url)
        self.root = root
        self.url = url
        self.where = self.location.where
        self.readonly = readonly
        self.engine = engine
        self.learnt = Learnt()
        self.mirror_done = Done()
        """Registry files made durable whose pending rows a write transaction deletes."""
        self.mirror_root = RootDirectory(root)
        """The root, opened once for the registry mirror's files."""
        self.closed = False
        self.local = threading.local()
        """`transaction`: the Transaction this thread has open on the store, if any."""
        self._idle: dict[bool, list[Connection]] = {False: [], True: []}

    def error(self, doing: str, error: DBAPIError) -> StoreError:
        """The StoreError for a database error met while `doing` something."""
        return database_error(self.where, doing, error)

    def connect(self, *, writing: bool) -> tuple[Engine, Connection]:
        """A connection: one an earlier call left idle, or one from the pool (checking one out
        of the pool and back in costs a registration or lookup 10 us)."""
        if self.closed:
            raise StoreError(f"{self.where}: the store was closed")
        if writing and self.readonly:
            raise StoreError(f"{self.where}: store is open read-only")
        engine = self.engine
        try:
            return engine, self._idle[writing].pop()  # atomic: threads may race for the last
        except IndexError:
            pass
        try:
            return engine, engine.connect()
        except DBAPIError as error:
            raise self.error("cannot open the store", error) from error

    def release(
        self, engine: Engine, connection: Connection, *, writing: bool, clean: bool
    ) -> None:
        """Keep a connection that finished its work cleanly for the next call, or close it."""
        idle = self._idle[writing]
        if clean and not self.closed and engine is self.engine and len(idle) < _IDLE_MAX:
            idle.append(connection)
        else:
            connection.close()

    def transaction_of(self, peer: object) -> Transaction | None:
        """This thread's open transaction, if `peer` belongs to it. A transaction of another
        peer is refused: waiting for it here would wait for ourselves."""
        transaction: Transaction | None = getattr(self.local, "transaction", None)
        if transaction is None or transaction.admits(peer):
            return transaction
        raise StoreError(
            f"{self.where}: {peer!r} cannot write here while this thread is inside the "
            f"transaction of {transaction.members[0]!r} on the same store (it would wait for "
            "itself): join that transaction with `owner.transaction(other)`, or write from "
            "another thread, which waits for it to commit"
        )

    @contextmanager
    def read(self, peer: object = None) -> Iterator[Reader]:
        """A read transaction for several queries that must see one snapshot (inside `peer`'s
        open transaction in this thread: that transaction's connection)."""
        transaction: Transaction | None = getattr(self.local, "transaction", None)
        if transaction is not None and transaction.admits(peer):
            transaction.flush()
            yield Reader(self.location, transaction.run)
            return
        if self.closed:
            raise StoreError(f"{self.where}: the store was closed")
        try:
            with self.engine.connect() as connection, connection.begin():
                yield Reader(self.location, Runner(connection))
        except DBAPIError as error:
            raise self.error("cannot read", error) from error

    @contextmanager
    def lookup(self, peer: object = None) -> Iterator[Reader]:
        """A connection for one query (its own snapshot), without a transaction around it:
        the cheap path of the API's single-query reads."""
        transaction: Transaction | None = getattr(self.local, "transaction", None)
        if transaction is not None and transaction.admits(peer):
            transaction.flush()
            yield Reader(self.location, transaction.run)
            return
        engine, connection = self.connect(writing=False)
        try:
            try:
                reader = Reader(self.location, Runner(connection))
                yield reader
                reader.run.close()
                if connection.in_transaction():
                    connection.rollback()
                reader.run.dbapi_connection.rollback()  # ends a driver's implicit transaction
            except BaseException:
                connection.close()
                raise
        except DBAPIError as error:
            raise self.error("cannot read", error) from error
        self.release(engine, connection, writing=False, clean=True)

    def close(self) -> None:
        """Close every connection; the store cannot be used again (open it anew)."""
        self._settle_mirror()
        self.mirror_root.close()
        self.closed = True
        for idle in self._idle.values():
            for connection in _drain(idle):
                connection.close()
        self.engine.dispose()

    def _settle_mirror(self) -> None:
        """Delete the pending rows of registry files made durable since the last write
        transaction (else the next open checks those files again, which is all they cost)."""
        done = self.mirror_done.take()
        if not done or self.closed or self.readonly:
            return
        key = root_key(self.root, self.url)
        try:
            with for_writing(self.engine.connect()) as connection, connection.begin():
                run = Runner(connection)
                try:
                    run.many(sql.DELETE_MIRROR_PENDING, [(key, entry_hash) for entry_hash in done])
                finally:
                    run.close()
        except DBAPIError:
            return  # the next open checks the files and deletes the rows

    def forget_connections(self) -> None:
        """Drop pooled connections without closing them (in a forked child, they are the
        parent's)."""
        for idle in self._idle.values():
            for connection in _drain(idle):
                connection.detach()
        self.engine.dispose(close=False)
        self.local = threading.local()
        self.mirror_root.after_fork()


def open_store(
    root: Path, *, url: str | None = None, readonly: bool = False, snapshot: bool = False
) -> Store:
    """Open the store of a storage root (the SQLite file in it, or the database at `url`).

    Read-write: create the root and the schema, or upgrade an older schema, then replay the
    journals of transactions that did not finish. Read-only: write nothing; a database without
    our schema, or with a newer one, is refused. With `snapshot` (one read of an idle SQLite
    file, see `read_snapshot`), SQLite's immutable mode, which leaves no files behind.
    """
    where = Location.of(root, url).where
    if url is not None:
        engine = make_server_engine(url)
    elif readonly:
        engine = _readonly_engine(root, snapshot=snapshot)
    else:
        try:
            make_root(root)
        except OSError as error:
            raise StoreError(_root_problem(root, error)) from error
        engine = make_engine(root / DB_FILENAME)
    try:
        if readonly:
            with engine.connect() as connection:
                migrate.check_readable(Runner(connection), where)
                connection.rollback()
        else:
            migrate.ensure_schema(engine, where)
            if url is None:
                with Directory.open(root) as directory:
                    directory.sync()  # the database file's name is durable in the root
            _recover(root, engine)
            _repair_mirror(root, url, engine)
    except DBAPIError as error:
        engine.dispose()
        problem = None if url is not None or readonly else _file_problem(root)
        if problem is not None:
            raise StoreError(problem) from error
        raise database_error(where, "cannot open the store", error) from error
    except BaseException:
        engine.dispose()
        raise
    return Store(root, engine, url=url, readonly=readonly)


def _root_problem(root: Path, error: OSError) -> str:
    """Why a storage root cannot be created, and what to do: a file in the way, or a
    directory that is not writable."""
    for path in (root, *root.parents):
        if path.exists() and not path.is_dir():
            where = "is a file" if path == root else f"is inside {path}, which is a file"
            return (
                f"storage root {root} {where}, not a directory: choose another storage root, "
                "or move the file away"
            )
    if isinstance(error, PermissionError):
        return (
            f"storage root {root} cannot be created: {error.filename or root} is not writable "
            "(choose a writable place, or fix its permissions)"
        )
    return f"storage root {root} cannot be created: {error.strerror or error}"


def _file_problem(root: Path) -> str | None:
    """Why SQLite cannot open or create the root's database file, when it is something the
    user can fix: the file's name taken by a directory, or a root that is not writable."""
    path = root / DB_FILENAME
    if path.is_dir():
        return f"{path} is a directory, not a database file: move it away"
    if not os.access(root, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return (
            f"{path}: the storage root is not writable, so the store cannot be opened for "
            "writing (fix its permissions, or open it read-only: "
            "with_storage_root(path, read_only=True), or the read commands of auki-session)"
        )
    return None


def _readonly_engine(root: Path, *, snapshot: bool) -> Engine:
    """An engine that only reads the root's SQLite file, even on read-only media (see
    `plain.readonly_file`)."""
    path = root / DB_FILENAME
    immutable = readonly_file(path, root, snapshot=snapshot)
    return make_engine(path, readonly=True, immutable=immutable)


def _recover(root: Path, engine: Engine) -> None:
    """Replay the journals of writers that are gone (see journal.recover), holding the write
    lock of a SQLite store meanwhile (a server database has none; the journals' locks suffice)."""
    pending = root.joinpath(*JOURNAL_DIR.parts)
    try:
        if pending.is_symlink() or not any(os.scandir(pending)):
            return
    except OSError:
        return
    from .journal import recover  # imported only when there are journals to replay

    with for_writing(engine.connect()) as connection, connection.begin():
        exclusive = connection.dialect.name == "sqlite"  # holding the write lock
        recover(
            root, Reader(Location.of(root, None), Runner(connection)).has_log, exclusive=exclusive
        )


def _repair_mirror(root: Path, url: str | None, engine: Engine) -> None:
    """Write the registry files a crash left pending in this root (see mirror.py): one query
    when there are none."""
    key = root_key(root, url)
    with engine.connect() as connection:
        run = Runner(connection)
        try:
            pending = run.all(sql.MIRROR_PENDING_HASHES, (key,))
        finally:
            run.close()
            connection.rollback()
    if not pending:
        return
    with for_writing(engine.connect()) as connection, connection.begin():
        run = Runner(connection)
        try:
            repair(root, run, key)
        finally:
            run.close()


# --- one store per database in a process --------------------------------------------------------

_shared: dict[tuple[Path, str | None, bool], Store] = {}
_by_argument: dict[tuple[str, str | None, bool, str], Store] = {}
"""The same stores by the root as given (and the working directory, for a relative root):
resolving the root costs a path normalisation that every registration would pay."""
_lock = threading.Lock()


def shared_store(root: str, url: str | None = None, *, readonly: bool = False) -> Store:
    """The process's open store for this root (resolved to an absolute path) and database URL
    (None: the SQLite file in the root), opening it on first use. Every Peer on one database
    shares it, whatever its durability (a setting of each write transaction)."""
    store = _by_argument.get((root, url, readonly, ""))  # an absolute root seen before
    if store is not None and not store.closed:
        return store
    argument = (root, url, readonly, "" if os.path.isabs(root) else os.getcwd())
    store = _by_argument.get(argument)
    if store is not None and not store.closed:
        return store
    key = (Path(os.path.abspath(root)), url, readonly)
    with _lock:
        store = _shared.get(key)
        if store is None or store.closed:
            store = _shared[key] = open_store(key[0], url=url, readonly=readonly)
        _by_argument[argument] = store
        return store


def close_all() -> None:
    """Close every shared store's connections (at exit: the last connection to a SQLite file
    checkpoints its WAL and removes the -wal and -shm files, so the root is self-contained)."""
    with _lock:
        for store in _shared.values():
            store.close()
        _shared.clear()
        _by_argument.clear()


def _forget_after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    for store in _shared.values():
        store.forget_connections()


def _drain(idle: list[Connection]) -> Iterator[Connection]:
    """Take the items of a list shared between threads, one at a time (pop is atomic)."""
    while True:
        try:
            yield idle.pop()
        except IndexError:
            return


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(close_all)
