"""The store: every query the package runs, over SQLAlchemy Core, returning value objects."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from ..entries import CanonicalEntry, EntryKind
from ..errors import DuplicateLogError, StoreError, UnresolvedRefError
from ..logfiles import FileChanges, log_dir, pending_journals, recover
from ..manifests import LogPlan
from ..records import Entry, LogInfo, SessionInfo
from ..refs import RegistryRef
from ..specs import HeadSpec
from . import migrate, server
from .sqlite import DB_FILENAME, WRITE_OPTION, Durability, make_engine
from .tables import clocks, entries, heads, log_refs, logs, peers, sessions

_ENTRY_COLUMNS = (
    entries.c.kind,
    entries.c.peer_id,
    entries.c.entry_id,
    entries.c.hash,
    entries.c.session_id,
    entries.c.canonical_json,
    entries.c.registered_at,
)


def utc_now() -> str:
    """The current time as ISO-8601 UTC with microseconds, e.g. 2026-11-25T12:03:05.123456Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _entry(row: Sequence[Any]) -> Entry:
    return Entry(*row)


def _insert(connection: Connection, table: Any) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


class Writer:
    """The write operations of one transaction (or savepoint) on one connection."""

    def __init__(self, store: Store, connection: Connection, files: FileChanges) -> None:
        self.store = store
        self.connection = connection
        self.files = files
        self._peers: set[str] = set()

    def ensure_peer(self, peer_id: str) -> None:
        """Record the peer the first time it writes anything."""
        if peer_id in self._peers:
            return
        statement = _insert(self.connection, peers).on_conflict_do_nothing()
        self.connection.execute(statement, {"peer_id": peer_id, "first_seen_at": utc_now()})
        self._peers.add(peer_id)

    def _registered(self, kind: EntryKind, ref: RegistryRef) -> bool:
        query = select(
            exists().where(
                entries.c.hash == ref.hash,
                entries.c.kind == kind,
                entries.c.peer_id == ref.peer_id,
                entries.c.entry_id == ref.id,
            )
        )
        return bool(self.connection.execute(query).scalar())

    def require(self, owner: str, role: str, kind: EntryKind, ref: RegistryRef) -> None:
        """Refuse a ref to this peer's own entry that does not name a registered version."""
        if not self._registered(kind, ref):
            raise UnresolvedRefError(
                f"{owner}: {role} {ref!r} does not match any registered {kind} of peer "
                f"{ref.peer_id!r} (register the {kind} first, and use the ref it returned)"
            )

    def put_entry(self, entry: CanonicalEntry) -> RegistryRef:
        """Store a version and make it current; re-registering the current body is a no-op."""
        for kind, ref in entry.depends_on:
            self.require(f"{entry.kind} {entry.id!r}", kind, kind, ref)
        if entry.kind == "clock":
            head_table = clocks
            key = {"session_id": entry.session_id, "clock_id": entry.id}
            where = and_(clocks.c.session_id == entry.session_id, clocks.c.clock_id == entry.id)
        else:
            head_table = heads
            key = {"peer_id": entry.peer_id, "kind": entry.kind, "entry_id": entry.id}
            where = and_(
                heads.c.peer_id == entry.peer_id,
                heads.c.kind == entry.kind,
                heads.c.entry_id == entry.id,
            )
        current = self.connection.execute(select(head_table.c.hash).where(where)).scalar()
        if current == entry.hash:
            return entry.ref
        self.ensure_peer(entry.peer_id)
        now = utc_now()
        self.connection.execute(
            _insert(self.connection, entries).on_conflict_do_nothing(index_elements=["hash"]),
            {
                "hash": entry.hash,
                "kind": entry.kind,
                "peer_id": entry.peer_id,
                "entry_id": entry.id,
                "session_id": entry.session_id,
                "canonical_json": entry.canonical.decode("utf-8"),
                "registered_at": now,
            },
        )
        upsert = _insert(self.connection, head_table)
        upsert = upsert.on_conflict_do_update(
            index_elements=list(key),
            set_={"hash": upsert.excluded.hash, "updated_at": upsert.excluded.updated_at},
        )
        self.connection.execute(upsert, {**key, "hash": entry.hash, "updated_at": now})
        return entry.ref

    def create_session(self, session_id: str, peer_id: str, app_id: str) -> None:
        """Record a new session."""
        self.ensure_peer(peer_id)
        self.connection.execute(
            sessions.insert(),
            {
                "session_id": session_id,
                "peer_id": peer_id,
                "app_id": app_id,
                "started_at": utc_now(),
            },
        )

    def add_log(self, session_id: str, peer_id: str, plan: LogPlan) -> Path:
        """Record a log and write its manifest; returns the log directory."""
        owner = f"{plan.kind} log {plan.resource_id!r}"
        for use in plan.uses:
            if use.ref.peer_id == peer_id:
                self.require(owner, use.role, use.kind, use.ref)
        # ON CONFLICT rather than a check first: on a server database two writers may race.
        insert = _insert(self.connection, logs).on_conflict_do_nothing(
            index_elements=["session_id", "resource_id"]
        )
        log_id = self.connection.execute(
            insert.returning(logs.c.id),
            {
                "session_id": session_id,
                "resource_id": plan.resource_id,
                "kind": plan.kind,
                "manifest_json": plan.manifest.decode("utf-8"),
                "head_json": json.dumps(plan.head, sort_keys=True, separators=(",", ":")),
                "registered_at": utc_now(),
            },
        ).scalar()
        if log_id is None:
            raise DuplicateLogError(f"duplicate log {peer_id}/{plan.resource_id}")
        self.connection.execute(
            log_refs.insert(),
            [
                {
                    "log_id": log_id,
                    "role": use.role,
                    "peer_id": use.ref.peer_id,
                    "entry_id": use.ref.id,
                    "hash": use.ref.hash,
                }
                for use in plan.uses
            ],
        )
        return self.files.write_manifest(session_id, peer_id, plan.resource_id, plan.manifest)


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
        self._open_lock = threading.Lock()
        self._local = threading.local()

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
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def forget_connections(self) -> None:
        """Drop pooled connections without closing them (in a forked child, they are the
        parent's)."""
        if self._engine is not None:
            self._engine.dispose(close=False)
        self._local = threading.local()

    @property
    def in_transaction(self) -> bool:
        """Whether this thread has a write transaction open on this store."""
        return getattr(self._local, "writer", None) is not None

    @contextmanager
    def write(self) -> Iterator[Writer]:
        """A write transaction (BEGIN IMMEDIATE); inside an open one, a savepoint of it."""
        outer: Writer | None = getattr(self._local, "writer", None)
        if outer is not None:
            mark = outer.files.mark()
            savepoint = outer.connection.begin_nested()
            try:
                yield outer
            except BaseException:
                savepoint.rollback()
                outer.files.undo(mark)
                raise
            savepoint.commit()
            return
        if self.readonly:
            raise StoreError(f"{self.where}: store is open read-only")
        engine = self.engine
        files = FileChanges(self.root, durable=self.durability == "full")
        try:
            connection = engine.connect().execution_options(**{WRITE_OPTION: True})
        except DBAPIError as error:
            raise StoreError(f"{self.where}: cannot open the store: {error.orig}") from error
        try:
            try:
                transaction = connection.begin()
            except DBAPIError as error:
                raise StoreError(f"{self.where}: cannot write: {error.orig}") from error
            writer = Writer(self, connection, files)
            self._local.writer = writer
            try:
                yield writer
            except BaseException:
                transaction.rollback()
                files.undo()
                raise
            finally:
                self._local.writer = None
            try:
                transaction.commit()
            except DBAPIError as error:
                files.undo()
                raise StoreError(f"{self.where}: commit failed: {error.orig}") from error
        finally:
            files.finish()
            connection.close()

    @contextmanager
    def read(self) -> Iterator[Reader]:
        """A read transaction (or the thread's open write transaction)."""
        writer: Writer | None = getattr(self._local, "writer", None)
        if writer is not None:
            yield Reader(self, writer.connection)
            return
        with self.engine.connect() as connection, connection.begin():
            yield Reader(self, connection)


class Reader:
    """The read queries, on one connection."""

    def __init__(self, store: Store, connection: Connection) -> None:
        self.store = store
        self.connection = connection

    def current_entries(self, peer_id: str, kind: str | None = None) -> list[Entry]:
        """The current version of every frame, sensor and detector id of a peer."""
        query = (
            select(*_ENTRY_COLUMNS)
            .join(heads, heads.c.hash == entries.c.hash)
            .where(heads.c.peer_id == peer_id)
            .order_by(heads.c.kind, heads.c.entry_id)
        )
        if kind is not None:
            query = query.where(heads.c.kind == kind)
        return [_entry(row) for row in self.connection.execute(query)]

    def current(self, peer_id: str, kind: str, entry_id: str) -> Entry | None:
        """The current version of one id, if it was ever registered."""
        query = (
            select(*_ENTRY_COLUMNS)
            .join(heads, heads.c.hash == entries.c.hash)
            .where(heads.c.peer_id == peer_id, heads.c.kind == kind, heads.c.entry_id == entry_id)
        )
        row = self.connection.execute(query).first()
        return None if row is None else _entry(row)

    def entry(self, entry_hash: str) -> Entry | None:
        """The version with this hash, if stored."""
        row = self.connection.execute(
            select(*_ENTRY_COLUMNS).where(entries.c.hash == entry_hash)
        ).first()
        return None if row is None else _entry(row)

    def history(
        self, peer_id: str, kind: str, entry_id: str, session_id: str | None = None
    ) -> list[Entry]:
        """Every distinct version of an id, in the order first registered."""
        query = (
            select(*_ENTRY_COLUMNS)
            .where(
                entries.c.peer_id == peer_id,
                entries.c.kind == kind,
                entries.c.entry_id == entry_id,
            )
            .order_by(entries.c.id)
        )
        if session_id is not None:
            query = query.where(entries.c.session_id == session_id)
        return [_entry(row) for row in self.connection.execute(query)]

    def sessions(self, peer_id: str | None = None) -> list[SessionInfo]:
        """Sessions, oldest first (ULIDs sort by time)."""
        query = select(
            sessions.c.session_id, sessions.c.peer_id, sessions.c.app_id, sessions.c.started_at
        ).order_by(sessions.c.session_id)
        if peer_id is not None:
            query = query.where(sessions.c.peer_id == peer_id)
        return [SessionInfo(*row) for row in self.connection.execute(query)]

    def session(self, session_id: str) -> SessionInfo | None:
        """One session, if stored."""
        query = select(
            sessions.c.session_id, sessions.c.peer_id, sessions.c.app_id, sessions.c.started_at
        ).where(sessions.c.session_id == session_id)
        row = self.connection.execute(query).first()
        return None if row is None else SessionInfo(*row)

    def session_clocks(self, session_id: str) -> list[Entry]:
        """The current version of each of a session's clocks."""
        query = (
            select(*_ENTRY_COLUMNS)
            .join(clocks, clocks.c.hash == entries.c.hash)
            .where(clocks.c.session_id == session_id)
            .order_by(entries.c.id)
        )
        return [_entry(row) for row in self.connection.execute(query)]

    def session_logs(self, session_id: str) -> list[LogInfo]:
        """A session's logs, in the order registered."""
        query = (
            select(
                logs.c.session_id,
                sessions.c.peer_id,
                logs.c.resource_id,
                logs.c.kind,
                logs.c.manifest_json,
                logs.c.head_json,
                logs.c.registered_at,
            )
            .join(sessions, sessions.c.session_id == logs.c.session_id)
            .where(logs.c.session_id == session_id)
            .order_by(logs.c.id)
        )
        return [self._log(row) for row in self.connection.execute(query)]

    def _log(self, row: Sequence[Any]) -> LogInfo:
        session_id, peer_id, resource_id, kind, manifest, head, registered_at = row
        root = log_dir(self.store.root, session_id, peer_id, resource_id)
        return LogInfo(
            session_id,
            peer_id,
            resource_id,
            kind,
            manifest,
            HeadSpec.from_dict(json.loads(head)),
            registered_at,
            str(root),
        )

    def logs_using(self, entry_hash: str) -> list[LogInfo]:
        """Every log whose manifest references this entry version (any role)."""
        query = (
            select(
                logs.c.session_id,
                sessions.c.peer_id,
                logs.c.resource_id,
                logs.c.kind,
                logs.c.manifest_json,
                logs.c.head_json,
                logs.c.registered_at,
            )
            .join(sessions, sessions.c.session_id == logs.c.session_id)
            .where(logs.c.id.in_(select(log_refs.c.log_id).where(log_refs.c.hash == entry_hash)))
            .order_by(logs.c.id)
        )
        return [self._log(row) for row in self.connection.execute(query)]

    def count(self, table: str) -> int:
        """Rows in one of the store's tables (for summaries)."""
        target = {"peers": peers, "entries": entries, "sessions": sessions, "logs": logs}[table]
        return int(self.connection.execute(select(func.count()).select_from(target)).scalar_one())
