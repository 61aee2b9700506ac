"""The store: every query the package runs, over SQLAlchemy Core, returning value objects."""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, Select, Table, bindparam, exists, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import (
    ReleaseSavepointClause,
    RollbackToSavepointClause,
    SavepointClause,
)

from ..entries import CanonicalEntry, EntryKind
from ..errors import DuplicateLogError, StoreError, UnresolvedRefError
from ..logfiles import FileChanges, log_dir, pending_journals, recover
from ..manifests import LogPlan
from ..records import Entry, LogInfo, SessionInfo
from ..refs import RegistryRef
from ..specs import HeadSpec
from . import dialects, migrate, server
from .prepared import Runner, Statement
from .sqlite import DB_FILENAME, WRITE_OPTION, Durability, make_engine
from .tables import clocks, entries, heads, log_refs, logs, peers, sessions

ENTRY_COLUMNS = (
    entries.c.kind,
    entries.c.peer_id,
    entries.c.entry_id,
    entries.c.hash,
    entries.c.session_id,
    entries.c.canonical_json,
    entries.c.registered_at,
)
_LOG_COLUMNS = (
    logs.c.session_id,
    sessions.c.peer_id,
    logs.c.resource_id,
    logs.c.kind,
    logs.c.manifest_json,
    logs.c.head_json,
    logs.c.registered_at,
)


def utc_now() -> str:
    """The current time as ISO-8601 UTC with microseconds, e.g. 2026-11-25T12:03:05.123456Z."""
    seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
    prefix = _second_prefix.get(seconds)
    if prefix is None:
        # strftime costs 2 us, a tenth of a registration in a transaction: once per second.
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second_prefix.clear()
        _second_prefix[seconds] = prefix
    return f"{prefix}.{micros:06d}Z"


_second_prefix: dict[int, str] = {}


def entry_record(row: Sequence[Any]) -> Entry:
    return Entry(*row)


def _binds(*names: str) -> dict[str, Any]:
    return {name: bindparam(name) for name in names}


def _upsert(dialect: Dialect, table: Table, key: tuple[str, ...]) -> Any:
    """Insert a head row, or point the existing one at the new hash (if it differs)."""
    statement = dialects.insert_for(dialect, table).values(_binds(*key, "hash", "updated_at"))
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={"hash": statement.excluded.hash, "updated_at": statement.excluded.updated_at},
        where=table.c.hash != statement.excluded.hash,
    )


# The write path's statements (see prepared.py: Core, compiled once per dialect).
_ENTRY_ROW = ("hash", "kind", "peer_id", "entry_id", "session_id", "canonical_json")
_REGISTERED = Statement(
    "registered",
    ("hash", "kind", "peer_id", "entry_id"),
    lambda _: select(entries.c.id).where(
        *(entries.c[name] == bindparam(name) for name in ("hash", "kind", "peer_id", "entry_id"))
    ),
)
_INSERT_PEER = Statement(
    "insert_peer",
    ("peer_id", "first_seen_at"),
    lambda dialect: (
        dialects.insert_for(dialect, peers)
        .values(_binds("peer_id", "first_seen_at"))
        .on_conflict_do_nothing()
    ),
)
_INSERT_ENTRY = Statement(
    "insert_entry",
    (*_ENTRY_ROW, "registered_at"),
    lambda dialect: (
        dialects.insert_for(dialect, entries)
        .values(_binds(*_ENTRY_ROW, "registered_at"))
        .on_conflict_do_nothing(index_elements=["hash"])
    ),
)
_UPSERT_HEAD = Statement(
    "upsert_head",
    ("peer_id", "kind", "entry_id", "hash", "updated_at"),
    lambda dialect: _upsert(dialect, heads, ("peer_id", "kind", "entry_id")),
)
_UPSERT_CLOCK = Statement(
    "upsert_clock",
    ("session_id", "clock_id", "hash", "updated_at"),
    lambda dialect: _upsert(dialect, clocks, ("session_id", "clock_id")),
)
_INSERT_SESSION = Statement(
    "insert_session",
    ("session_id", "peer_id", "app_id", "started_at"),
    lambda _: sessions.insert().values(_binds("session_id", "peer_id", "app_id", "started_at")),
)
_LOG_ROW = ("session_id", "resource_id", "kind", "manifest_json", "head_json", "registered_at")
# ON CONFLICT rather than a check first: on a server database two writers may race.
_INSERT_LOG = Statement(
    "insert_log",
    _LOG_ROW,
    lambda dialect: (
        dialects.insert_for(dialect, logs)
        .values(_binds(*_LOG_ROW))
        .on_conflict_do_nothing(index_elements=["session_id", "resource_id"])
        .returning(logs.c.id)
    ),
)
_INSERT_LOG_REF = Statement(
    "insert_log_ref",
    ("log_id", "role", "peer_id", "entry_id", "hash"),
    lambda _: log_refs.insert().values(_binds("log_id", "role", "peer_id", "entry_id", "hash")),
)
_SAVEPOINT_NAME = "auki_session_nested"
_SAVEPOINT = Statement(
    "savepoint",
    (),
    lambda _: SavepointClause(_SAVEPOINT_NAME),  # type: ignore[no-untyped-call]
)
_RELEASE = Statement(
    "release",
    (),
    lambda _: ReleaseSavepointClause(_SAVEPOINT_NAME),  # type: ignore[no-untyped-call]
)
_ROLLBACK_TO = Statement(
    "rollback_to",
    (),
    lambda _: RollbackToSavepointClause(_SAVEPOINT_NAME),  # type: ignore[no-untyped-call]
)


class Writer:
    """The write operations of one transaction (and its savepoints) on one connection."""

    def __init__(self, store: Store, connection: Connection, files: FileChanges) -> None:
        self.store = store
        self.connection = connection
        self.files = files
        self.run = Runner(connection)
        self.peers_added: set[str] = set()
        self.failed: BaseException | None = None
        self._staged: list[tuple[tuple[Any, ...], Statement, tuple[Any, ...]]] = []

    def ensure_peer(self, peer_id: str) -> None:
        """Record the peer the first time it writes anything."""
        if peer_id in self.peers_added or peer_id in self.store.known_peers:
            return
        self.run.execute(_INSERT_PEER, (peer_id, utc_now()))
        self.peers_added.add(peer_id)

    def require(self, owner: str, role: str, kind: EntryKind, ref: RegistryRef) -> None:
        """Refuse a ref to this peer's own entry that does not name a registered version."""
        self.flush()
        if self.run.one(_REGISTERED, (ref.hash, kind, ref.peer_id, ref.id)) is None:
            raise UnresolvedRefError(
                f"{owner}: {role} {ref!r} does not match any registered {kind} of peer "
                f"{ref.peer_id!r} (register the {kind} first, and use the ref it returned)"
            )

    def put_entry(self, entry: CanonicalEntry) -> RegistryRef:
        """Store a version and make it current; re-registering the current body is a no-op
        (the version is already stored, and the head upsert changes only a different hash)."""
        for kind, ref in entry.depends_on:
            self.require(f"{entry.kind} {entry.id!r}", kind, kind, ref)
        self.flush()
        self.ensure_peer(entry.peer_id)
        now = utc_now()
        run = self.run.execute
        run(
            _INSERT_ENTRY,
            (
                entry.hash,
                entry.kind,
                entry.peer_id,
                entry.id,
                entry.session_id,
                entry.canonical.decode("utf-8"),
                now,
            ),
        )
        if entry.kind == "clock":
            run(_UPSERT_CLOCK, (entry.session_id, entry.id, entry.hash, now))
        else:
            run(_UPSERT_HEAD, (entry.peer_id, entry.kind, entry.id, entry.hash, now))
        return entry.ref

    def stage_entry(self, entry: CanonicalEntry) -> RegistryRef:
        """put_entry inside a transaction: check the version now, write it with the
        transaction's next statement or at its commit, many registrations in one executemany.
        A failed check writes nothing, so no savepoint is needed."""
        for kind, ref in entry.depends_on:
            self.require(f"{entry.kind} {entry.id!r}", kind, kind, ref)
        self.ensure_peer(entry.peer_id)
        now = utc_now()
        row = (
            entry.hash,
            entry.kind,
            entry.peer_id,
            entry.id,
            entry.session_id,
            entry.canonical.decode("utf-8"),
            now,
        )
        if entry.kind == "clock":
            self._staged.append((row, _UPSERT_CLOCK, (entry.session_id, entry.id, entry.hash, now)))
        else:
            head = (entry.peer_id, entry.kind, entry.id, entry.hash, now)
            self._staged.append((row, _UPSERT_HEAD, head))
        return entry.ref

    def flush(self) -> None:
        """Write the staged versions (in order: the last registration of an id is current).
        If that fails, the transaction can no longer commit."""
        staged = self._staged
        if not staged:
            return
        self._staged = []
        try:
            self.run.many(_INSERT_ENTRY, [row for row, _, _ in staged])
            for statement in (_UPSERT_HEAD, _UPSERT_CLOCK):
                heads = [head for _, upsert, head in staged if upsert is statement]
                if heads:
                    self.run.many(statement, heads)
        except DBAPIError as error:
            self.failed = error
            raise StoreError(f"{self.store.where}: cannot write: {error.orig}") from error
        except BaseException as error:
            self.failed = error
            raise

    def create_session(self, session_id: str, peer_id: str, app_id: str) -> None:
        """Record a new session."""
        self.flush()
        self.ensure_peer(peer_id)
        self.run.execute(_INSERT_SESSION, (session_id, peer_id, app_id, utc_now()))

    def add_log(self, session_id: str, peer_id: str, plan: LogPlan) -> Path:
        """Record a log and write its manifest; returns the log directory."""
        self.flush()
        owner = f"{plan.kind} log {plan.resource_id!r}"
        for use in plan.uses:
            if use.ref.peer_id == peer_id:
                self.require(owner, use.role, use.kind, use.ref)
        row = self.run.one(
            _INSERT_LOG,
            (
                session_id,
                plan.resource_id,
                plan.kind,
                plan.manifest.decode("utf-8"),
                json.dumps(plan.head, sort_keys=True, separators=(",", ":")),
                utc_now(),
            ),
        )
        if row is None:
            raise DuplicateLogError(f"duplicate log {peer_id}/{plan.resource_id}")
        for use in plan.uses:
            self.run.execute(
                _INSERT_LOG_REF, (row[0], use.role, use.ref.peer_id, use.ref.id, use.ref.hash)
            )
        try:
            return self.files.write_manifest(session_id, peer_id, plan.resource_id, plan.manifest)
        except OSError as error:
            where = error.filename or log_dir(
                self.store.root, session_id, peer_id, plan.resource_id
            )
            raise StoreError(
                f"{where}: cannot write the manifest of {owner}: {error.strerror or error}"
            ) from error

    def nested(self) -> _Savepoint:
        """A savepoint: on an exception, undo this block's rows and manifests, and re-raise."""
        return _Savepoint(self)


class _Savepoint:
    """The context manager of Writer.nested (a class: a generator costs a registration inside
    a transaction 2 us)."""

    __slots__ = ("mark", "writer")

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.mark = 0

    def __enter__(self) -> Writer:
        writer = self.writer
        writer.flush()  # staged rows belong to the enclosing transaction, not this savepoint
        self.mark = writer.files.mark()
        writer.run.execute(_SAVEPOINT)
        return writer

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        writer = self.writer
        if kind is not None:
            writer.run.execute(_ROLLBACK_TO)
            writer.run.execute(_RELEASE)
            writer.files.undo(self.mark)
            writer.peers_added.clear()  # their rows may have been rolled back: insert again
            return
        writer.run.execute(_RELEASE)


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
        self._engine: Engine | None = None
        self._writing: Engine | None = None
        self._open_lock = threading.Lock()
        self._local = threading.local()
        self.known_peers: set[str] = set()
        """Peers whose row a committed transaction of this process wrote or found."""
        self._idle_reads: list[tuple[Engine, Connection]] = []
        self._idle_writes: list[tuple[Engine, Connection]] = []

    @property
    def engine(self) -> Engine:
        """The engine, opening (creating, migrating, recovering) the store on first use."""
        if self._engine is None:
            with self._open_lock:
                if self._engine is None:
                    self._engine = self._open()
        return self._engine

    def _open(self) -> Engine:
        if self.url is not None:
            return self._open_server(self.url)
        if self.readonly:
            return self._open_readonly()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"{self.root}: cannot create the storage root: {error}") from error
        engine = make_engine(self.path, durability=self.durability)
        try:
            migrate.ensure_schema(engine, str(self.path))
            self._recover(engine)
        except DBAPIError as error:
            engine.dispose()
            raise StoreError(f"{self.path}: cannot open the store: {error.orig}") from error
        except BaseException:
            engine.dispose()
            raise
        return engine

    def _open_server(self, url: str) -> Engine:
        """Open a server database (PostgreSQL) by SQLAlchemy URL; migrate unless read-only."""
        engine = server.make_engine(url)
        try:
            if self.readonly:
                with engine.connect() as connection:
                    revision = migrate.current_revision(connection)
                    connection.rollback()
                if revision is None:
                    raise StoreError(f"{self.where}: not an auki-session database (no schema)")
                migrate.check_known(revision, self.where)
            else:
                migrate.ensure_schema(engine, self.where)
                if self.root.is_dir():
                    self._recover(engine)
        except DBAPIError as error:
            engine.dispose()
            raise StoreError(f"{self.where}: cannot open the store: {error.orig}") from error
        except BaseException:
            engine.dispose()
            raise
        return engine

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
                with engine.connect() as connection:
                    revision = migrate.current_revision(connection)
                    connection.rollback()
            except DBAPIError as error:
                engine.dispose()
                last = error
                continue
            if revision is None:
                engine.dispose()
                raise StoreError(f"{self.path}: not an auki-session database (no schema version)")
            migrate.check_known(revision, str(self.path))
            return engine
        assert last is not None
        raise StoreError(f"{self.path}: cannot open the store: {last.orig}") from last

    def _recover(self, engine: Engine) -> None:
        journals = pending_journals(self.root)
        if not journals:
            return
        writing = engine.connect().execution_options(**{WRITE_OPTION: True})
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
        """Close every pooled connection (the store reopens on next use)."""
        engine, self._engine, self._writing = self._engine, None, None
        for idle in (self._idle_reads, self._idle_writes):
            for _, connection in _drain(idle):
                connection.close()
        if engine is not None:
            engine.dispose()

    def forget_connections(self) -> None:
        """Drop pooled connections without closing them (in a forked child, they are the
        parent's)."""
        for idle in (self._idle_reads, self._idle_writes):
            for _, connection in _drain(idle):
                connection.detach()
        if self._engine is not None:
            self._engine.dispose(close=False)
        self._local = threading.local()

    def _connect(self, engine: Engine, idle: list[tuple[Engine, Connection]]) -> Connection:
        """A connection of `engine`: one an earlier call left idle, or one from the pool
        (checking one out of the pool and back in costs a registration or lookup 10 us)."""
        for owner, connection in _drain(idle):
            if owner is engine:
                return connection
            connection.close()  # from before a close(): its engine is gone
        return engine.connect()

    def _keep(
        self, engine: Engine, connection: Connection, idle: list[tuple[Engine, Connection]]
    ) -> None:
        """Keep a connection that finished its work cleanly for the next call, or close it."""
        if (engine is self._engine or engine is self._writing) and len(idle) < _IDLE_MAX:
            idle.append((engine, connection))
        else:
            connection.close()

    @property
    def in_transaction(self) -> bool:
        """Whether this thread has a write transaction open on this store."""
        return getattr(self._local, "writer", None) is not None

    def put(self, entry: CanonicalEntry) -> RegistryRef:
        """Register one version: in a transaction of its own, or staged in this thread's open
        transaction (see Writer.stage_entry)."""
        outer: Writer | None = getattr(self._local, "writer", None)
        if outer is not None:
            return outer.stage_entry(entry)
        with self._transaction() as writer:
            return writer.put_entry(entry)

    def write(self) -> AbstractContextManager[Writer]:
        """A write transaction (BEGIN IMMEDIATE); inside an open one, a savepoint of it."""
        outer: Writer | None = getattr(self._local, "writer", None)
        if outer is not None:
            return outer.nested()
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[Writer]:
        if self.readonly:
            raise StoreError(f"{self.where}: store is open read-only")
        engine = self._writing or self._write_engine()
        files = FileChanges(self.root, durable=self.durability == "full")
        try:
            connection = self._connect(engine, self._idle_writes)
        except DBAPIError as error:
            raise StoreError(f"{self.where}: cannot open the store: {error.orig}") from error
        committed = False
        try:
            try:
                transaction = connection.begin()
            except DBAPIError as error:
                raise StoreError(f"{self.where}: cannot write: {error.orig}") from error
            writer = Writer(self, connection, files)
            self._local.writer = writer
            try:
                yield writer
                if writer.failed is not None:
                    raise StoreError(
                        f"{self.where}: not committed: a write of this transaction failed "
                        f"({writer.failed})"
                    ) from writer.failed
                writer.flush()
            except BaseException as error:
                # Undo the files while the write lock is held: once it is released, the next
                # writer may be registering the same log in the same directories.
                files.undo()
                transaction.rollback()
                if isinstance(error, DBAPIError):
                    raise StoreError(f"{self.where}: cannot write: {error.orig}") from error
                raise
            finally:
                self._local.writer = None
                writer.run.close()
            try:
                transaction.commit()
            except DBAPIError as error:
                files.undo()
                raise StoreError(f"{self.where}: commit failed: {error.orig}") from error
            committed = True
            self.known_peers.update(writer.peers_added)
        finally:
            files.finish()
            if committed:
                self._keep(engine, connection, self._idle_writes)
            else:
                connection.close()

    def _write_engine(self) -> Engine:
        """The engine whose connections begin with BEGIN IMMEDIATE (made once: per-connection
        execution options cost every write a few microseconds)."""
        self._writing = self.engine.execution_options(**{WRITE_OPTION: True})
        return self._writing

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


_IDLE_MAX = 4
"""Connections a store keeps checked out between calls, for reads and for writes each."""


def _drain(idle: list[tuple[Engine, Connection]]) -> Iterator[tuple[Engine, Connection]]:
    """Take the items of a list shared between threads, one at a time (pop is atomic)."""
    while True:
        try:
            yield idle.pop()
        except IndexError:
            return


_SESSION_COLUMNS = (
    sessions.c.session_id,
    sessions.c.peer_id,
    sessions.c.app_id,
    sessions.c.started_at,
)


def _current_entries(by_kind: bool) -> Select[Any]:
    query = (
        select(*ENTRY_COLUMNS)
        .join(heads, heads.c.hash == entries.c.hash)
        .where(heads.c.peer_id == bindparam("peer_id"))
        .order_by(heads.c.kind, heads.c.entry_id)
    )
    return query.where(heads.c.kind == bindparam("kind")) if by_kind else query


def _history(in_session: bool) -> Select[Any]:
    query = (
        select(*ENTRY_COLUMNS)
        .where(*(entries.c[name] == bindparam(name) for name in ("peer_id", "kind", "entry_id")))
        .order_by(entries.c.id)
    )
    return query.where(entries.c.session_id == bindparam("session_id")) if in_session else query


def _logs() -> Select[Any]:
    return (
        select(*_LOG_COLUMNS)
        .join(sessions, sessions.c.session_id == logs.c.session_id)
        .order_by(logs.c.id)
    )


# The read queries (see prepared.py).
_CURRENT_ENTRIES = Statement("current_entries", ("peer_id",), lambda _: _current_entries(False))
_CURRENT_ENTRIES_OF_KIND = Statement(
    "current_entries_of_kind", ("peer_id", "kind"), lambda _: _current_entries(True)
)
_CURRENT = Statement(
    "current",
    ("peer_id", "kind", "entry_id"),
    lambda _: (
        select(*ENTRY_COLUMNS)
        .join(heads, heads.c.hash == entries.c.hash)
        .where(*(heads.c[name] == bindparam(name) for name in ("peer_id", "kind", "entry_id")))
    ),
)
_ENTRY = Statement(
    "entry", ("hash",), lambda _: select(*ENTRY_COLUMNS).where(entries.c.hash == bindparam("hash"))
)
_HISTORY = Statement("history", ("peer_id", "kind", "entry_id"), lambda _: _history(False))
_SESSION_HISTORY = Statement(
    "session_history", ("peer_id", "kind", "entry_id", "session_id"), lambda _: _history(True)
)
_SESSIONS = Statement(
    "sessions", (), lambda _: select(*_SESSION_COLUMNS).order_by(sessions.c.session_id)
)
_PEER_SESSIONS = Statement(
    "peer_sessions",
    ("peer_id",),
    lambda _: (
        select(*_SESSION_COLUMNS)
        .where(sessions.c.peer_id == bindparam("peer_id"))
        .order_by(sessions.c.session_id)
    ),
)
_SESSION = Statement(
    "session",
    ("session_id",),
    lambda _: select(*_SESSION_COLUMNS).where(sessions.c.session_id == bindparam("session_id")),
)
_SESSION_CLOCKS = Statement(
    "session_clocks",
    ("session_id",),
    lambda _: (
        select(*ENTRY_COLUMNS)
        .join(clocks, clocks.c.hash == entries.c.hash)
        .where(clocks.c.session_id == bindparam("session_id"))
        .order_by(entries.c.id)
    ),
)
_SESSION_LOGS = Statement(
    "session_logs",
    ("session_id",),
    lambda _: _logs().where(logs.c.session_id == bindparam("session_id")),
)
_LOGS_USING = Statement(
    "logs_using",
    ("hash",),
    lambda _: _logs().where(
        logs.c.id.in_(select(log_refs.c.log_id).where(log_refs.c.hash == bindparam("hash")))
    ),
)


class Reader:
    """The read queries, on one connection (`connection`, for queries of one's own)."""

    def __init__(self, store: Store, connection: Connection, run: Runner | None = None) -> None:
        self.store = store
        self.connection = connection
        self.run = run or Runner(connection)
        self._root = str(store.root)

    def current_entries(self, peer_id: str, kind: str | None = None) -> list[Entry]:
        """The current version of every frame, sensor and detector id of a peer."""
        if kind is None:
            rows = self.run.all(_CURRENT_ENTRIES, (peer_id,))
        else:
            rows = self.run.all(_CURRENT_ENTRIES_OF_KIND, (peer_id, kind))
        return [entry_record(row) for row in rows]

    def current(self, peer_id: str, kind: str, entry_id: str) -> Entry | None:
        """The current version of one id, if it was ever registered."""
        row = self.run.one(_CURRENT, (peer_id, kind, entry_id))
        return None if row is None else entry_record(row)

    def entry(self, entry_hash: str) -> Entry | None:
        """The version with this hash, if stored."""
        row = self.run.one(_ENTRY, (entry_hash,))
        return None if row is None else entry_record(row)

    def history(
        self, peer_id: str, kind: str, entry_id: str, session_id: str | None = None
    ) -> list[Entry]:
        """Every distinct version of an id, in the order first registered."""
        if session_id is None:
            rows = self.run.all(_HISTORY, (peer_id, kind, entry_id))
        else:
            rows = self.run.all(_SESSION_HISTORY, (peer_id, kind, entry_id, session_id))
        return [entry_record(row) for row in rows]

    def sessions(self, peer_id: str | None = None) -> list[SessionInfo]:
        """Sessions, oldest first (ULIDs sort by time)."""
        if peer_id is None:
            rows = self.run.all(_SESSIONS)
        else:
            rows = self.run.all(_PEER_SESSIONS, (peer_id,))
        return [SessionInfo(*row) for row in rows]

    def session(self, session_id: str) -> SessionInfo | None:
        """One session, if stored."""
        row = self.run.one(_SESSION, (session_id,))
        return None if row is None else SessionInfo(*row)

    def session_clocks(self, session_id: str) -> list[Entry]:
        """The current version of each of a session's clocks."""
        return [entry_record(row) for row in self.run.all(_SESSION_CLOCKS, (session_id,))]

    def session_logs(self, session_id: str) -> list[LogInfo]:
        """A session's logs, in the order registered."""
        return [self._log(row) for row in self.run.all(_SESSION_LOGS, (session_id,))]

    def _log(self, row: Sequence[Any]) -> LogInfo:
        session_id, peer_id, resource_id, kind, manifest, head, registered_at = row
        # log_dir()'s path, joined as strings: a Path per row is a third of this method's time.
        root = os.path.join(self._root, session_id, "logs", peer_id, *resource_id.split("/"))
        return LogInfo(
            session_id, peer_id, resource_id, kind, manifest, _head(head), registered_at, root
        )

    def logs_using(self, entry_hash: str) -> list[LogInfo]:
        """Every log whose manifest references this entry version (any role)."""
        return [self._log(row) for row in self.run.all(_LOGS_USING, (entry_hash,))]

    def count(self, table: str) -> int:
        """Rows in one of the store's tables (for summaries)."""
        target = {"peers": peers, "entries": entries, "sessions": sessions, "logs": logs}[table]
        return int(self.connection.execute(select(func.count()).select_from(target)).scalar_one())


@functools.lru_cache(maxsize=256)
def _head(head_json: str) -> HeadSpec:
    """A stored head spec, parsed once per distinct text (logs share a handful of them)."""
    return HeadSpec.from_dict(json.loads(head_json))
