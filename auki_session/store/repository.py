"""The store: one storage root (or database URL), its connections and transactions."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType

from sqlalchemy import Connection, Engine, exists, select
from sqlalchemy.exc import DBAPIError

from ..entries import CanonicalEntry
from ..errors import StoreError
from ..logfiles import FileChanges, pending_journals, recover
from ..refs import RegistryRef
from . import migrate, server
from .reader import Reader
from .sqlite import DB_FILENAME, Durability, for_writing, make_engine
from .tables import logs
from .writer import Learnt, Writer


class Store:
    """One storage root: its SQLite file, opened lazily, and its log directories."""

    def __init__(
        self,
        root: Path,
        durability: Durability = "full",
        *,
        readonly: bool = False,
        url: str | None = None,
    ) -> None:
        self.root = root
        self.path = root / DB_FILENAME
        self.url = url
        self.where = str(self.path) if url is None else server.describe(url)
        self.durability = durability
        self.readonly = readonly
        self._opened: tuple[Engine, Learnt] | None = None
        """The engine once the store is open, and what this process learnt about its database."""
        self._open_lock = threading.Lock()
        self._local = threading.local()
        self._idle_reads: list[tuple[Engine, Connection]] = []
        self._idle_writes: list[tuple[Engine, Connection]] = []

    @property
    def engine(self) -> Engine:
        """The engine, opening (creating, migrating, recovering) the store on first use."""
        return self._state()[0]

    @property
    def learnt(self) -> Learnt:
        """What committed transactions of this process learnt about the open database."""
        return self._state()[1]

    def _state(self) -> tuple[Engine, Learnt]:
        """The engine and its Learnt, read together (close() replaces both at once)."""
        opened = self._opened
        if opened is None:
            with self._open_lock:
                opened = self._opened
                if opened is None:
                    opened = self._opened = (self._open(), Learnt())
        return opened

    def _open(self) -> Engine:
        if self.url is not None:
            return self._open_server(self.url)
        if self.readonly:
            return self._open_readonly()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"{self.root}: cannot create the storage root: {error}") from error
        return opened(make_engine(self.path, durability=self.durability), self.where, self._prepare)

    def _prepare(self, engine: Engine, where: str) -> None:
        """Bring a writable store's schema to head, then replay unfinished journals."""
        migrate.ensure_schema(engine, where)
        if self.root.is_dir():
            self._recover(engine)

    def _open_server(self, url: str) -> Engine:
        """Open a server database (PostgreSQL) by SQLAlchemy URL; migrate unless read-only."""
        prepare = migrate.check_readable if self.readonly else self._prepare
        return opened(server.make_engine(url), self.where, prepare)

    def _open_readonly(self) -> Engine:
        """Open for reading only, even on read-only media (falling back to SQLite's immutable
        mode when the WAL index cannot be created there)."""
        if not self.root.is_dir():
            raise StoreError(f"{self.root}: storage root does not exist or is not a directory")
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no auki-session database in this storage root")
        # Immutable mode takes no locks and trusts the file never to change, so a writer that
        # opens the store meanwhile goes unseen (or reads fail as "malformed"): use it only where
        # no writer can be, on read-only media. Elsewhere mode=ro (which leaves empty -wal and
        # -shm files beside a database that had none).
        wal = self.path.with_name(self.path.name + "-wal")
        has_wal = wal.exists()
        last: DBAPIError | None = None
        shared = has_wal or os.access(self.root, os.W_OK)
        for immutable in (False, True) if shared else (True,):
            if immutable and has_wal and wal.stat().st_size > 0:
                # Immutable mode ignores the -wal file: its commits would silently be missing.
                raise StoreError(
                    f"{self.path}: cannot read its write-ahead log {wal.name} here "
                    f"({last.orig if last else 'no access'}); on read-only media SQLite needs "
                    f"{self.path.name}-shm beside it: copy that file along, or read a writable copy"
                )
            engine = make_engine(self.path, readonly=True, immutable=immutable)
            try:
                migrate.check_readable(engine, self.where)
            except DBAPIError as error:
                engine.dispose()
                last = error
                continue
            except BaseException:
                engine.dispose()
                raise
            return engine
        assert last is not None
        raise StoreError(f"{self.path}: cannot open the store: {last.orig}") from last

    def _recover(self, engine: Engine) -> None:
        journals = pending_journals(self.root)
        if not journals:
            return
        writing = for_writing(engine.connect())
        with writing as connection, connection.begin():

            def committed(session_id: str, resource_id: str) -> bool:
                query = select(
                    exists().where(
                        logs.c.session_id == session_id, logs.c.resource_id == resource_id
                    )
                )
                return bool(connection.execute(query).scalar())

            for journal in pending_journals(self.root):
                recover(self.root, journal, committed)

    def close(self) -> None:
        """Close every pooled connection and forget what was learnt of the database (the
        store reopens, and checks the file again, on next use)."""
        opened, self._opened = self._opened, None
        for idle in (self._idle_reads, self._idle_writes):
            for _, connection in _drain(idle):
                connection.close()
        if opened is not None:
            opened[0].dispose()

    def forget_connections(self) -> None:
        """Drop pooled connections without closing them (in a forked child, they are the
        parent's)."""
        for idle in (self._idle_reads, self._idle_writes):
            for _, connection in _drain(idle):
                connection.detach()
        if self._opened is not None:
            self._opened[0].dispose(close=False)
        self._local = threading.local()
        self._open_lock = threading.Lock()  # another thread may have held it at the fork

    def _connect(
        self, engine: Engine, idle: list[tuple[Engine, Connection]], *, writing: bool = False
    ) -> Connection:
        """A connection of `engine`: one an earlier call left idle, or one from the pool
        (checking one out of the pool and back in costs a registration or lookup 10 us);
        `writing` ones begin their transactions with BEGIN IMMEDIATE."""
        while idle:
            try:
                owner, connection = idle.pop()  # atomic: another thread may take the last one
            except IndexError:
                break
            if owner is engine:
                return connection
            connection.close()  # from before a close(): its engine is gone
        # Only a connection new from the pool needs the mark: idle write connections keep
        # theirs, since they are never checked in while idle.
        return for_writing(engine.connect()) if writing else engine.connect()

    def _keep(
        self, engine: Engine, connection: Connection, idle: list[tuple[Engine, Connection]]
    ) -> None:
        """Keep a connection that finished its work cleanly for the next call, or close it."""
        opened = self._opened
        if opened is not None and engine is opened[0] and len(idle) < _IDLE_MAX:
            idle.append((engine, connection))
        else:
            connection.close()

    def put(self, entry: CanonicalEntry) -> RegistryRef:
        """Register one version: in a transaction of its own, or staged in this thread's open
        transaction (see Writer.stage_entry)."""
        outer: Writer | None = getattr(self._local, "writer", None)
        if outer is not None:
            return outer.stage_entry(entry)
        with _WriteTransaction(self) as writer:
            return writer.put_entry(entry)

    def write(self) -> AbstractContextManager[Writer]:
        """A write transaction (BEGIN IMMEDIATE); inside an open one, a savepoint of it."""
        outer: Writer | None = getattr(self._local, "writer", None)
        if outer is not None:
            return outer.nested()
        return _WriteTransaction(self)

    @contextmanager
    def read(self) -> Iterator[Reader]:
        """A read transaction (or the thread's open write transaction), for several queries
        that must see one snapshot."""
        writer: Writer | None = getattr(self._local, "writer", None)
        if writer is not None:
            writer.flush()
            yield Reader(self, writer.connection, writer.run)
            return
        try:
            with self.engine.connect() as connection, connection.begin():
                yield Reader(self, connection)
        except DBAPIError as error:
            raise StoreError(f"{self.where}: cannot read: {error.orig}") from error

    @contextmanager
    def lookup(self) -> Iterator[Reader]:
        """A connection for one query (its own snapshot), without a transaction around it:
        the cheap path of the API's single-query reads. Inside this thread's write transaction,
        that transaction's connection."""
        writer: Writer | None = getattr(self._local, "writer", None)
        if writer is not None:
            writer.flush()
            yield Reader(self, writer.connection, writer.run)
            return
        engine = self.engine
        try:
            connection = self._connect(engine, self._idle_reads)
            try:
                reader = Reader(self, connection)
                yield reader
                reader.run.close()
                if connection.in_transaction():
                    connection.rollback()
                reader.run.dbapi_connection.rollback()  # ends a driver's implicit transaction
            except BaseException:
                connection.close()
                raise
        except DBAPIError as error:
            raise StoreError(f"{self.where}: cannot read: {error.orig}") from error
        self._keep(engine, connection, self._idle_reads)


class _WriteTransaction:
    """One write transaction (BEGIN IMMEDIATE) and its Writer, as a context manager: on a
    clean exit the staged rows are written and the transaction commits; on an exception (or a
    failed write) its manifests are undone and it rolls back. A class rather than a generator:
    this wraps every registration made outside `peer.transaction()`."""

    __slots__ = ("connection", "engine", "files", "store", "transaction", "writer")

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> Writer:
        store = self.store
        if store.readonly:
            raise StoreError(f"{store.where}: store is open read-only")
        engine, learnt = store._state()
        self.engine = engine
        try:
            connection = self.connection = store._connect(engine, store._idle_writes, writing=True)
        except DBAPIError as error:
            raise StoreError(f"{store.where}: cannot open the store: {error.orig}") from error
        try:
            self.transaction = connection.begin()
        except BaseException as error:
            connection.close()
            if isinstance(error, DBAPIError):
                raise StoreError(f"{store.where}: cannot write: {error.orig}") from error
            raise
        self.files = FileChanges(store.root, durable=store.durability == "full")
        writer = self.writer = Writer(store, connection, self.files, learnt)
        store._local.writer = writer
        return writer

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        store, writer, files = self.store, self.writer, self.files
        raised = error
        committed = False
        try:
            try:
                if error is None:
                    if writer.failed is not None:
                        raise StoreError(
                            f"{store.where}: not committed: a write of this transaction failed "
                            f"({writer.failed})"
                        ) from writer.failed
                    writer.flush()
            except BaseException as failure:
                error = failure
            try:
                if error is not None:
                    # Undo the files while the write lock is held: once it is released, the
                    # next writer may be registering the same log in the same directories.
                    files.discard()
                    self.transaction.rollback()
            finally:
                store._local.writer = None
                writer.run.close()
            if error is not None:
                if isinstance(error, DBAPIError):
                    raise StoreError(f"{store.where}: cannot write: {error.orig}") from error
                if error is raised:
                    return  # the block's own exception propagates unchanged
                raise error
            try:
                self.transaction.commit()
            except DBAPIError as failure:
                # A refused COMMIT may leave the transaction open (SQLite's deferred foreign
                # keys do): undo the files while the lock is still held, then discard the
                # connection, which ends the transaction, instead of pooling it mid-transaction.
                files.discard()
                self.connection.invalidate()
                raise StoreError(f"{store.where}: commit failed: {failure.orig}") from failure
            committed = True
            writer.learnt.merge(writer.peers_added, writer.refs_found)
        finally:
            files.finish()
            if committed:
                store._keep(self.engine, self.connection, store._idle_writes)
            else:
                self.connection.close()


def opened(engine: Engine, where: str, prepare: Callable[[Engine, str], None]) -> Engine:
    """`engine` once `prepare` (a schema check or upgrade) has run on it; on failure the
    engine is disposed and a database error becomes a StoreError naming `where`."""
    try:
        prepare(engine, where)
    except DBAPIError as error:
        engine.dispose()
        raise StoreError(f"{where}: cannot open the store: {error.orig}") from error
    except BaseException:
        engine.dispose()
        raise
    return engine


_IDLE_MAX = 4
"""Connections a store keeps checked out between calls, for reads and for writes each."""


def _drain(idle: list[tuple[Engine, Connection]]) -> Iterator[tuple[Engine, Connection]]:
    """Take the items of a list shared between threads, one at a time (pop is atomic)."""
    while True:
        try:
            yield idle.pop()
        except IndexError:
            return
