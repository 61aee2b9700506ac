"""Writing one transaction: the write statements (compiled once per dialect) and `Writer`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, bindparam, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import (
    ReleaseSavepointClause,
    RollbackToSavepointClause,
    SavepointClause,
)

from ..entries import CanonicalEntry, EntryKind
from ..errors import DuplicateLogError, StoreError, UnresolvedRefError
from ..logfiles import FileChanges, log_dir
from ..manifests import LogPlan
from ..refs import RegistryRef
from . import dialects
from .prepared import Runner, Statement
from .tables import clocks, entries, heads, log_refs, logs, peers, sessions

if TYPE_CHECKING:
    from .repository import Store


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
_SESSION_ENTRY = Statement(
    "session_entry",
    ("hash", "kind", "peer_id", "entry_id", "session_id"),
    lambda _: select(entries.c.id).where(
        *(
            entries.c[name] == bindparam(name)
            for name in ("hash", "kind", "peer_id", "entry_id", "session_id")
        ),
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


RefKey = tuple[str, str, str, str]
"""(hash, kind, peer_id, id) of a registered version."""

KNOWN_REFS_MAX = 10_000
"""At most this many refs are remembered per opened database (a bound on memory)."""


class Learnt:
    """What committed transactions of this process learnt about one opened database: peers
    whose row exists, and refs found registered (entries are never deleted, so a ref checked
    once needs no query again). A store drops it with the engine when it closes, so what a
    transaction still running on the old database learns cannot reach the next one."""

    __slots__ = ("peers", "refs")

    def __init__(self) -> None:
        self.peers: set[str] = set()
        self.refs: set[RefKey] = set()

    def merge(self, peers: set[str], refs: set[RefKey]) -> None:
        """Remember what one committed transaction wrote or found."""
        self.peers.update(peers)
        if len(self.refs) + len(refs) > KNOWN_REFS_MAX:
            self.refs.clear()  # the next checks query again
        if len(refs) <= KNOWN_REFS_MAX:
            self.refs.update(refs)


class Writer:
    """The write operations of one transaction (and its savepoints) on one connection."""

    def __init__(
        self,
        store: Store,
        connection: Connection,
        files: FileChanges,
        learnt: Learnt,
    ) -> None:
        self.store = store
        self.connection = connection
        self.files = files
        self.learnt = learnt
        self.run = Runner(connection)
        self.peers_added: set[str] = set()
        self.refs_found: set[RefKey] = set()
        """Refs `require` found in the database in this transaction (see Learnt)."""
        self.failed: BaseException | None = None
        self._staged: list[tuple[tuple[Any, ...], Statement, tuple[Any, ...]]] = []

    def ensure_peer(self, peer_id: str) -> None:
        """Record the peer the first time it writes anything."""
        if peer_id in self.peers_added or peer_id in self.learnt.peers:
            return
        self.run.execute(_INSERT_PEER, (peer_id, utc_now()))
        self.peers_added.add(peer_id)

    def require(
        self,
        owner: str,
        role: str,
        kind: EntryKind,
        ref: RegistryRef,
        session_id: str | None = None,
    ) -> None:
        """Refuse a ref to this peer's own entry that does not name a registered version; with
        `session_id`, a clock must be one of that session's clocks."""
        self.flush()
        if kind == "clock" and session_id is not None:
            found = self.run.one(_SESSION_ENTRY, (ref.hash, kind, ref.peer_id, ref.id, session_id))
            if found is None:
                raise UnresolvedRefError(
                    f"{owner}: {role} {ref!r} is not a clock of session {session_id!r} "
                    "(use the session's monotonic_clock, utc_clock or a clock registered "
                    "through it)"
                )
            return
        key = (ref.hash, kind, ref.peer_id, ref.id)
        if key in self.learnt.refs or key in self.refs_found:
            return
        if self.run.one(_REGISTERED, key) is None:
            raise UnresolvedRefError(
                f"{owner}: {role} {ref!r} does not match any registered {kind} of peer "
                f"{ref.peer_id!r} (register the {kind} first, and use the ref it returned)"
            )
        self.refs_found.add(key)

    def _prepare(self, entry: CanonicalEntry) -> tuple[tuple[Any, ...], Statement, tuple[Any, ...]]:
        """Check an entry's refs and its peer; its version row, head statement and head row."""
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
            return row, _UPSERT_CLOCK, (entry.session_id, entry.id, entry.hash, now)
        return row, _UPSERT_HEAD, (entry.peer_id, entry.kind, entry.id, entry.hash, now)

    def put_entry(self, entry: CanonicalEntry) -> RegistryRef:
        """Store a version and make it current; re-registering the current body is a no-op
        (the version is already stored, and the head upsert changes only a different hash)."""
        self.flush()
        row, upsert, head = self._prepare(entry)
        self.run.execute(_INSERT_ENTRY, row)
        self.run.execute(upsert, head)
        return entry.ref

    def stage_entry(self, entry: CanonicalEntry) -> RegistryRef:
        """put_entry inside a transaction: check the version now, write it with the
        transaction's next statement or at its commit, many registrations in one executemany.
        A failed check stages nothing, so the call needs no savepoint of its own; an enclosing
        savepoint that rolls back drops what was staged inside it. If writing the staged rows
        fails, that later statement raises and the transaction refuses to commit."""
        prepared = self._prepare(entry)  # may flush, which replaces the staged list
        self._staged.append(prepared)
        return entry.ref

    def discard_staged(self) -> None:
        """Forget the versions staged but not yet written (their savepoint rolled back)."""
        self._staged = []

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
                self.require(owner, use.role, use.kind, use.ref, session_id)
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
            writer.discard_staged()  # staged since __enter__ flushed: this savepoint's own
            writer.run.execute(_ROLLBACK_TO)
            writer.run.execute(_RELEASE)
            writer.files.undo(self.mark)
            writer.peers_added.clear()  # their rows may have been rolled back: insert again
            writer.refs_found.clear()  # they may have been registered inside this savepoint
            return
        writer.run.execute(_RELEASE)
