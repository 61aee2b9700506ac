"""`Transaction`: one write transaction, everything it holds, and what it learnt.

A transaction owns its connection (begun with BEGIN IMMEDIATE at its durability), its savepoints,
the versions it staged for one executemany, the journal of the manifests it wrote, and the refs
and peers it found. It belongs to the `Peer` that opened it (and the peers that joined it); the
store only lends it a connection and remembers, per thread, which transaction is open.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from .._domain.entries import CanonicalEntry, EntryKind
from .._domain.layout import DB_FILENAME, check_registry_names, directory_keys, log_parts
from .._domain.logs import LogPlan
from .._domain.refs import RegistryRef
from .._domain.signed import current_record, session_record
from ..errors import DuplicateLogError, StoreError, UnresolvedRefError
from . import statements as sql
from .engines import Durability, for_writing
from .files import sync_file
from .mirror import SETTLE_EVERY, Writes, check_targets, read_theirs, root_key
from .runner import Runner

if TYPE_CHECKING:
    from .journal import Journal
    from .store import Store

__all__ = ["KNOWN_REFS_MAX", "Learnt", "Signer", "Transaction", "utc_now"]


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

RefKey = tuple[str, str, str, str]
"""(hash, kind, peer_id, id) of a registered version."""

KNOWN_REFS_MAX = 10_000
"""At most this many refs are remembered per open store (a bound on memory)."""

_Staged = tuple[tuple[Any, ...], sql.Statement, tuple[Any, ...]]

Signer = Callable[[bytes], bytes]
"""Signs bytes with a peer's key (Ed25519, 64-byte signatures)."""
"""A version staged for writing: its entries row, its head statement and head row."""


class Learnt:
    """What committed transactions learnt about one open store: peers whose row exists, and
    refs found registered (entries are never deleted, so a ref checked once needs no query
    again). It lives and dies with its `Store`."""

    __slots__ = ("peers", "refs")

    def __init__(self) -> None:
        self.peers: set[str] = set()
        self.refs: set[RefKey] = set()

    def merge(self, peers: set[str], refs: set[RefKey]) -> None:
        """Remember what one committed transaction wrote or found."""
        if not peers and not refs:
            return
        self.peers.update(peers)
        if len(self.refs) + len(refs) > KNOWN_REFS_MAX:
            self.refs.clear()  # the next checks query again
        if len(refs) <= KNOWN_REFS_MAX:
            self.refs.update(refs)


class Transaction:
    """A write transaction as a context manager: on a clean exit the staged rows are written
    and it commits; on an exception (or a failed write) its manifests are undone and it rolls
    back. A class rather than a generator: it wraps every registration made outside
    `peer.transaction()`."""

    __slots__ = (
        "_begun",
        "_directories",
        "_done",
        "_mirrored",
        "_staged",
        "connection",
        "durability",
        "engine",
        "failed",
        "journal",
        "members",
        "mirror",
        "peers_added",
        "refs_found",
        "run",
        "store",
    )

    def __init__(
        self, store: Store, owner: object, durability: Durability, *, mirror: bool = False
    ) -> None:
        self.store = store
        self.mirror = mirror
        """Whether this transaction writes the registry files of its versions (see mirror.py)
        and reads this peer's versions from them when the database lacks one."""
        self._mirrored: list[CanonicalEntry] = []
        self._done: list[str] = []
        self.members = [owner]
        """The peers (API objects) whose registrations belong to this transaction."""
        self.durability = durability
        self.peers_added: set[str] = set()
        self.refs_found: set[RefKey] = set()
        """Refs `require` found in the database in this transaction (see Learnt)."""
        self.failed: BaseException | None = None
        self._staged: list[_Staged] = []
        self._directories: dict[str, dict[str, str]] = {}
        """Per session: each log's directory key (see layout.directory_keys) -> its id."""

    def admits(self, peer: object) -> bool:
        """Whether `peer` opened or joined this transaction."""
        return any(member is peer for member in self.members)

    def join(self, peer: object) -> None:
        """Let `peer`'s registrations (in this thread) be part of this transaction."""
        if not self.admits(peer):
            self.members.append(peer)

    def __enter__(self) -> Transaction:
        store = self.store
        engine, connection = store.connect(writing=True)
        self.engine, self.connection = engine, connection
        try:
            self._begun = for_writing(connection, self.durability).begin()
        except BaseException as error:
            connection.close()
            if isinstance(error, DBAPIError):
                raise store.error("cannot write", error) from error
            raise
        self.journal: Journal | None = None
        """Made with the transaction's first manifest (most transactions write none)."""
        self.run = Runner(connection)
        store.local.transaction = self
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        store, journal = self.store, self.journal or _NO_FILES
        raised = error
        committed = False
        writes: Writes | None = None
        try:
            try:
                if error is None:
                    if self.failed is not None:
                        raise StoreError(
                            f"{store.where}: not committed: a write of this transaction failed "
                            f"({self.failed})"
                        ) from self.failed
                    self.flush()
                    writes = self._mirror_before_commit()
            except BaseException as failure:
                error = failure
            try:
                if error is not None:
                    # Undo the files while the write lock is held: once it is released, the
                    # next writer may be registering the same log in the same directories.
                    try:
                        journal.discard()
                    except StoreError as failure:
                        journal.abandon()  # the next open replays it
                        error = failure
                    store.mirror_done.add(self._done)  # their rows were not deleted
                    self._begun.rollback()
            finally:
                store.local.transaction = None
                self.run.close()
            if error is not None:
                if isinstance(error, DBAPIError):
                    raise store.error("cannot write", error) from error
                if error is raised:
                    return  # the block's own exception propagates unchanged
                raise error
            try:
                self._begun.commit()
            except DBAPIError as failure:
                # A refused COMMIT may leave the transaction open (SQLite's deferred foreign
                # keys do): undo the files while the lock is still held, then discard the
                # connection, which ends the transaction, instead of pooling it mid-transaction.
                journal.discard()
                store.mirror_done.add(self._done)
                self.connection.invalidate()
                raise store.error("commit failed", failure) from failure
            committed = True
            store.learnt.merge(self.peers_added, self.refs_found)
            files = writes is not None and bool(writes.targets)
            if (journal.records or files) and self.durability != "full" and store.url is None:
                # The manifests are durable, so the rows naming them must be too before the
                # journal goes: at synchronous=NORMAL the commit is not yet.
                wal = store.location.path.with_name(DB_FILENAME + "-wal")
                try:
                    sync_file(wal)
                except OSError as failure:
                    journal.abandon()  # the next open keeps or removes each manifest by its row
                    raise StoreError(
                        f"{wal}: committed, but the commit cannot be made durable: "
                        f"{failure.strerror or failure}"
                    ) from failure
            if writes is not None and files:
                try:
                    writes.write()
                except StoreError as failure:
                    raise StoreError(
                        f"committed, but {failure}; the next open of the store writes it"
                    ) from failure
                store.mirror_done.add(target.hash for target in writes.targets)
        finally:
            if writes is not None:
                writes.close()
            journal.finish()
            store.release(self.engine, self.connection, writing=True, clean=committed)

    def _mirror_before_commit(self) -> Writes | None:
        """Delete the pending rows of files made durable since (by any transaction of this
        store, once SETTLE_EVERY have gathered), check this transaction's registry files, and
        record those still to write (see mirror.py); a file already there with other bytes
        refuses the transaction."""
        store = self.store
        key = root_key(store.root, store.url)
        self._done = done = store.mirror_done.take(SETTLE_EVERY)
        if done:
            self.run.many(sql.DELETE_MIRROR_PENDING, [(key, entry_hash) for entry_hash in done])
        if not self._mirrored:
            return None
        writes = check_targets(store.mirror_root, self._mirrored)
        try:
            if writes.targets:
                self.run.many(
                    sql.INSERT_MIRROR_PENDING, [(key, target.hash) for target in writes.targets]
                )
        except BaseException:
            writes.close()
            raise
        return writes

    # --- what a registration does -------------------------------------------------------------

    def ensure_peer(self, peer_id: str) -> None:
        """Record the peer the first time it writes anything."""
        if peer_id in self.peers_added or peer_id in self.store.learnt.peers:
            return
        self.run.execute(sql.INSERT_PEER, (peer_id, utc_now()))
        self.peers_added.add(peer_id)

    def require(
        self,
        owner: str,
        role: str,
        kind: EntryKind,
        ref: RegistryRef,
        session_id: str | None = None,
        signer: Signer | None = None,
    ) -> None:
        """Refuse a ref to this peer's own entry that does not name a registered version; with
        `session_id`, a clock must be one of that session's clocks. With the mirror, a version
        the database lacks is read from the root's registry files and recorded, if valid."""
        self.flush()
        if kind == "clock" and session_id is not None:
            key = (ref.hash, kind, ref.peer_id, ref.id, session_id)
            if self.run.one(sql.SESSION_ENTRY, key) is None and not self._theirs(
                kind, ref, session_id, signer
            ):
                raise UnresolvedRefError(
                    f"{owner}: {role} {ref!r} is not a clock of session {session_id!r} "
                    "(use the session's monotonic_clock, utc_clock or a clock registered "
                    "through it)"
                )
            return
        version = (ref.hash, kind, ref.peer_id, ref.id)
        if version in self.store.learnt.refs or version in self.refs_found:
            return
        if self.run.one(sql.REGISTERED, version) is None and not self._theirs(
            kind, ref, None, signer
        ):
            raise UnresolvedRefError(
                f"{owner}: {role} {ref!r} does not match any registered {kind} of peer "
                f"{ref.peer_id!r} (register the {kind} first, and use the ref it returned)"
            )
        self.refs_found.add(version)

    def _theirs(
        self, kind: EntryKind, ref: RegistryRef, session_id: str | None, signer: Signer | None
    ) -> bool:
        """Record this peer's version that another process (a Rust SDK daemon) wrote as a
        registry file in the root, if there is one and it is valid (an invalid one raises,
        naming it). It becomes the current version only of an id that has none here."""
        if not self.mirror:
            return False
        entry = read_theirs(self.store.root, kind, ref.peer_id, ref.id, ref.hash, session_id)
        if entry is None:
            return False
        self.record(entry, signer)
        return True

    def has_current(self, entry: CanonicalEntry) -> bool:
        """Whether the entry's id has a current version (in its session, for a clock)."""
        if entry.kind == "clock":
            head = self.run.one(sql.CLOCK_HASH, (entry.session_id, entry.id))
        else:
            head = self.run.one(sql.HEAD_HASH, (entry.peer_id, entry.kind, entry.id))
        return head is not None

    def record(
        self, entry: CanonicalEntry, signer: Signer | None = None, *, current: bool | None = None
    ) -> bool:
        """Store a version that came from elsewhere (another process's registry file), its
        refs checked as a registration's; it becomes current when `current` says so (None:
        only when its id has no current version here). Returns whether it became current."""
        if current is None:
            current = not self.has_current(entry)
        self.flush()
        row, upsert, change = self._prepare(entry, signer)
        self.run.execute(sql.INSERT_ENTRY, row)
        if current:
            self.run.execute(upsert, change)
        return current

    def _next_sequence(self, entry: CanonicalEntry) -> int:
        """The number the id's next change of current version gets (a signed change names
        it): one more than its latest, read from the database (after this transaction's staged
        rows are written; on a server database the row is locked until commit, so a concurrent
        writer of the same id waits and reads the number this one wrote)."""
        if entry.kind == "clock":
            row = self.run.one(sql.CLOCK_SEQUENCE, (entry.session_id, entry.id))
        else:
            row = self.run.one(sql.HEAD_SEQUENCE, (entry.peer_id, entry.kind, entry.id))
        return ((row[0] or 0) if row is not None else 0) + 1

    def _prepare(self, entry: CanonicalEntry, signer: Signer | None) -> _Staged:
        """Check an entry's refs and its peer; its version row, head statement and head row,
        signed by `signer` when the peer has a key (an unsigned change's sequence number is
        counted by the head's upsert)."""
        for kind, ref in entry.depends_on:
            self.require(f"{entry.kind} {entry.id!r}", kind, kind, ref, signer=signer)
        self.ensure_peer(entry.peer_id)
        now = utc_now()
        signature = None
        if signer is not None:
            self.flush()  # staged changes of this id count
            sequence = self._next_sequence(entry)
            signature = signer(entry.canonical).hex()
            record = current_record(
                entry.peer_id, entry.kind, entry.id, entry.hash, sequence, entry.session_id
            )
            change: tuple[Any, ...] = (entry.hash, now, signer(record).hex(), sequence)
            head_statements = (sql.UPSERT_CLOCK, sql.UPSERT_HEAD)
        else:
            change = (entry.hash, now)
            head_statements = (sql.UPSERT_CLOCK_UNSIGNED, sql.UPSERT_HEAD_UNSIGNED)
        row = (
            entry.hash,
            entry.kind,
            entry.peer_id,
            entry.id,
            entry.session_id,
            entry.canonical.decode("utf-8"),
            now,
            signature,
        )
        if entry.kind == "clock":
            return row, head_statements[0], (entry.session_id, entry.id, *change)
        return row, head_statements[1], (entry.peer_id, entry.kind, entry.id, *change)

    def put_entry(self, entry: CanonicalEntry, signer: Signer | None = None) -> RegistryRef:
        """Store a version and make it current; re-registering the current body is a no-op
        (the version is already stored, and the head upsert changes only a different hash)."""
        if self.mirror:
            check_registry_names(entry.peer_id, entry.id)
        self.flush()
        row, upsert, head = self._prepare(entry, signer)
        self.run.execute(sql.INSERT_ENTRY, row)
        self.run.execute(upsert, head)
        if self.mirror:
            self._mirrored.append(entry)
        return entry.ref

    def stage_entry(self, entry: CanonicalEntry, signer: Signer | None = None) -> RegistryRef:
        """put_entry inside `peer.transaction()`: check the version now, write it with the
        transaction's next statement or at its commit, many registrations in one executemany.
        A failed check stages nothing, so the call needs no savepoint of its own; an enclosing
        savepoint that rolls back drops what was staged inside it. If writing the staged rows
        fails, that later statement raises and the transaction refuses to commit."""
        if self.mirror:
            check_registry_names(entry.peer_id, entry.id)
        prepared = self._prepare(entry, signer)  # may flush, which replaces the staged list
        self._staged.append(prepared)
        if self.mirror:
            self._mirrored.append(entry)
        return entry.ref

    def flush(self) -> None:
        """Write the staged versions (in order: the last registration of an id is current).
        If that fails, the transaction can no longer commit."""
        staged = self._staged
        if not staged:
            return
        self._staged = []
        try:
            self.run.many(sql.INSERT_ENTRY, [row for row, _, _ in staged])
            # A signed change flushes what was staged before it, so it is the first of its
            # batch: written first, it stays before the unsigned changes staged after it.
            for statement in _HEAD_STATEMENTS:
                heads = [head for _, upsert, head in staged if upsert is statement]
                if heads:
                    self.run.many(statement, heads)
        except DBAPIError as error:
            self.failed = error
            raise self.store.error("cannot write", error) from error
        except BaseException as error:
            self.failed = error
            raise

    def create_session(
        self, session_id: str, peer_id: str, app_id: str, signer: Signer | None = None
    ) -> None:
        """Record a new session (signed by `signer` when the peer has a key)."""
        self.flush()
        self.ensure_peer(peer_id)
        started_at = utc_now()
        signature = None
        if signer is not None:
            signature = signer(session_record(peer_id, session_id, app_id, started_at)).hex()
        self.run.execute(sql.INSERT_SESSION, (session_id, peer_id, app_id, started_at, signature))

    def add_log(
        self,
        session_id: str,
        peer_id: str,
        plan: LogPlan,
        signer: Signer | None = None,
        *,
        manifest_written: bool = False,
    ) -> Path:
        """Record a log (its manifest signed by `signer` when the peer has a key) and write
        its manifest; returns the log directory. With `manifest_written` (a log another
        process wrote, being imported), the manifest is already there and is not touched."""
        self.flush()
        owner = f"{plan.kind} log {plan.resource_id!r}"
        for use in plan.uses:
            if use.ref.peer_id == peer_id:
                self.require(owner, use.role, use.kind, use.ref, session_id, signer)
        row = self.run.one(
            sql.INSERT_LOG,
            (
                session_id,
                plan.resource_id,
                plan.kind,
                plan.manifest.decode("utf-8"),
                json.dumps(plan.head, sort_keys=True, separators=(",", ":")),
                utc_now(),
                None if signer is None else signer(plan.manifest).hex(),
            ),
        )
        if row is None:
            raise DuplicateLogError(f"duplicate log {peer_id}/{plan.resource_id}")
        self._claim_directory(session_id, peer_id, plan.resource_id)
        for use in plan.uses:
            self.run.execute(
                sql.INSERT_LOG_REF, (row[0], use.role, use.ref.peer_id, use.ref.id, use.ref.hash)
            )
        if manifest_written:
            return self.store.root.joinpath(*log_parts(session_id, peer_id, plan.resource_id))
        if self.journal is None:
            from .journal import Journal

            self.journal = Journal(self.store.root)
        return self.journal.write_manifest(session_id, peer_id, plan.resource_id, plan.manifest)

    def _claim_directory(self, session_id: str, peer_id: str, resource_id: str) -> None:
        """Refuse a log whose directory would be another log's on a file system that ignores
        letter case or Unicode form (an SD card, macOS): one manifest would replace the
        other's. Checked on every file system, so a store stays valid wherever it is copied."""
        claimed = self._directories.get(session_id)
        if claimed is None:
            claimed = self._directories[session_id] = {}
            for (other,) in self.run.all(sql.SESSION_RESOURCES, (session_id,)):
                if other != resource_id:
                    claimed[directory_keys(other)[0]] = other
        key, clashes = directory_keys(resource_id)
        for clash in clashes:
            other = claimed.get(clash)
            if other is not None and other != resource_id:
                raise DuplicateLogError(
                    f"log {peer_id}/{resource_id} would share its directory with log "
                    f"{peer_id}/{other} on file systems that ignore letter case or Unicode "
                    "form (SD cards, macOS): choose an id that differs in more than that"
                )
        claimed[key] = resource_id

    def savepoint(self) -> _Savepoint:
        """A nested block: on an exception, undo its rows and manifests, and re-raise."""
        return _Savepoint(self)


_HEAD_STATEMENTS = (
    sql.UPSERT_HEAD,
    sql.UPSERT_CLOCK,
    sql.UPSERT_HEAD_UNSIGNED,
    sql.UPSERT_CLOCK_UNSIGNED,
)


class _NoFiles:
    """The journal of a transaction that wrote no manifest: nothing to undo or remove."""

    records: tuple[()] = ()

    def discard(self) -> None:
        """Nothing to undo."""

    def abandon(self) -> None:
        """Nothing to leave."""

    def finish(self) -> None:
        """Nothing to remove."""


_NO_FILES = _NoFiles()


class _Savepoint:
    """The context manager of Transaction.savepoint (a class: a generator costs a registration
    inside a transaction 2 us)."""

    __slots__ = ("mark", "mirrored", "transaction")

    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction
        self.mark = 0
        self.mirrored = 0

    def __enter__(self) -> Transaction:
        transaction = self.transaction
        transaction.flush()  # staged rows belong to the enclosing transaction, not this one
        self.mark = transaction.journal.mark() if transaction.journal is not None else 0
        self.mirrored = len(transaction._mirrored)
        transaction.run.execute(sql.SAVEPOINT)
        return transaction

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        transaction = self.transaction
        if kind is not None:
            transaction._staged = []  # staged since __enter__ flushed: this savepoint's own
            del transaction._mirrored[self.mirrored :]
            transaction.run.execute(sql.ROLLBACK_TO)
            transaction.run.execute(sql.RELEASE)
            try:
                if transaction.journal is not None:
                    transaction.journal.undo(self.mark)
            except StoreError as failure:
                transaction.failed = failure  # its files are not all undone: never commit
                raise
            transaction.peers_added.clear()  # their rows may have been rolled back
            transaction.refs_found.clear()  # they may have been registered inside the savepoint
            transaction._directories.clear()  # logs of the savepoint no longer claim theirs
            return
        transaction.run.execute(sql.RELEASE)
