"""`Reader`: every query the API, the command line, verify, export and recovery run, on one
connection, returning value objects (rows become `Entry`, `SessionInfo`, `LogInfo` and the
summaries below here, and nowhere else)."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .._domain.entries import REGISTRY_KINDS, Entry, EntryKind, RegistryKind
from .._domain.frame_tree import SessionGraph, build_graph
from .._domain.identity import key_peer_id
from .._domain.layout import DB_FILENAME, log_parts
from .._domain.logs import LogInfo
from .._domain.sessions import SessionInfo
from .._domain.specs import HeadSpec
from . import migrate
from . import statements as sql
from .urls import describe_url

if TYPE_CHECKING:
    from .plain import Run

__all__ = [
    "Change",
    "KindCount",
    "Location",
    "PeerSummary",
    "Reader",
    "SessionSummary",
    "StoreCounts",
]


@dataclass(frozen=True, slots=True)
class Location:
    """Where a store is: its root, its SQLite file, how messages name its database, and the
    server database's URL (None for the root's SQLite file). Made once per open store."""

    root: Path
    root_text: str
    where: str
    url: str | None

    @property
    def path(self) -> Path:
        """The root's SQLite file."""
        return self.root / DB_FILENAME

    @classmethod
    def of(cls, root: Path, url: str | None) -> Location:
        """The location of the store of `root`, or of the database at `url`."""
        where = str(root / DB_FILENAME) if url is None else describe_url(url)
        return cls(root, str(root), where, url)


_KEY_LOOKUPS = 256
"""Up to this many ids, their current versions are looked up one by one; beyond, all read."""


@dataclass(frozen=True, slots=True)
class PeerSummary:
    """A peer, how many current frames, sensors and detectors it has, and its sessions."""

    peer_id: str
    first_seen_at: str
    frames: int
    sensors: int
    detectors: int
    sessions: int
    signed: int
    """Entry versions signed by the peer's key."""
    versions: int
    app_ids: tuple[str, ...]
    key: bool
    """Whether the peer id is an Ed25519 key's (so its records can be verified)."""
    authority: str | None = None
    """In a fleet database: `signature` (a key's id) or `store` (bound to the store that
    first pushed it); None in a robot's store."""
    last_push_at: str | None = None
    """In a fleet database: when a push last brought this peer's records."""


class Change(NamedTuple):
    """The change that made a version current: a peer's head, or a session's clock (a named
    tuple: verify reads one per current version, and a frozen dataclass costs 3x to build)."""

    peer_id: str
    kind: str
    entry_id: str
    hash: str
    sequence: int | None
    signature: str | None
    session_id: str | None


@dataclass(frozen=True, slots=True)
class KindCount:
    """For one entry kind: ids with a current version (clocks: per session), and versions."""

    kind: EntryKind
    ids: int
    versions: int


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """Row counts for a summary."""

    peers: int
    sessions: int
    logs: int
    kinds: tuple[KindCount, ...]


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """A session with the number of clocks and logs it holds."""

    session_id: str
    peer_id: str
    app_id: str
    started_at: str
    signature: str | None
    clocks: int
    logs: int


_change = functools.partial(tuple.__new__, Change)
"""A row of CHANGES as a Change, made in C (Change(*row) runs the named tuple's own __new__)."""


def _entry(row: Sequence[Any]) -> Entry:
    return Entry(*row)


def _filters(**values: object) -> tuple[tuple[str, ...], tuple[object, ...]]:
    """The names and values of the filters given (not None), in order."""
    given = [(name, value) for name, value in values.items() if value is not None]
    return tuple(name for name, _ in given), tuple(value for _, value in given)


class Reader:
    """The read queries, on one connection, of the store at `location`."""

    __slots__ = ("_revision", "_root", "location", "run")

    def __init__(self, location: Location, run: Run, revision: str | None = None) -> None:
        self.location = location
        self.run = run
        self._revision = revision
        self._root = location.root_text

    @property
    def root(self) -> Path:
        """The storage root."""
        return self.location.root

    @property
    def path(self) -> Path:
        """The root's SQLite file."""
        return self.location.path

    @property
    def where(self) -> str:
        """The database, as messages name it."""
        return self.location.where

    @property
    def url(self) -> str | None:
        """The server database's URL, or None for the root's SQLite file."""
        return self.location.url

    # --- entries ------------------------------------------------------------------------------

    def current_entries(
        self,
        peer_id: str | None = None,
        kind: RegistryKind | None = None,
        entry_id: str | None = None,
    ) -> list[Entry]:
        """The current version of every frame, sensor and detector id (of a peer, of a kind,
        with an id), by peer, kind and id."""
        names, values = _filters(peer_id=peer_id, kind=kind, entry_id=entry_id)
        return [_entry(row) for row in self.run.all(sql.current_entries(*names), values)]

    def current(self, peer_id: str, kind: RegistryKind, entry_id: str) -> Entry | None:
        """The current version of one id, if it was ever registered."""
        row = self.run.one(sql.CURRENT, (peer_id, kind, entry_id))
        return None if row is None else _entry(row)

    def clocks(self, session_id: str | None = None, clock_id: str | None = None) -> list[Entry]:
        """The current version of each session clock (of one session, with an id), in the
        order registered."""
        names, values = _filters(session_id=session_id, clock_id=clock_id)
        return [_entry(row) for row in self.run.all(sql.clock_list(*names), values)]

    def entry(self, entry_hash: str) -> Entry | None:
        """The version with this hash, if stored."""
        row = self.run.one(sql.ENTRY, (entry_hash,))
        return None if row is None else _entry(row)

    def entries_by_hash_prefix(self, prefix: str, limit: int = 10) -> list[Entry]:
        """Versions whose hash starts with `prefix` (lowercase hex), at most `limit`."""
        rows = self.run.all(sql.ENTRY_PREFIX, (prefix, prefix + "g", limit))
        return [_entry(row) for row in rows]

    def history(
        self,
        peer_id: str | None = None,
        kind: EntryKind | None = None,
        entry_id: str | None = None,
    ) -> list[Entry]:
        """Every stored version (of a peer, kind, id), grouped by peer, kind, session and id,
        each id's in the order first registered."""
        names, values = _filters(peer_id=peer_id, kind=kind, entry_id=entry_id)
        return [_entry(row) for row in self.run.all(sql.history(*names), values)]

    def every_entry(self) -> Iterator[Entry]:
        """Every stored version in the order stored, streamed (neither memory nor temporary
        files grow with the store)."""
        for row in self.run.stream(sql.EVERY_ENTRY):
            yield _entry(row)

    def entry_rows(self) -> Iterator[tuple[Any, ...]]:
        """`every_entry`'s versions as plain rows of an `Entry`'s fields in its order, for a
        caller that checks a million of them and builds an Entry only for the few it reports."""
        return self.run.stream(sql.EVERY_ENTRY)

    def current_hashes(self) -> set[str]:
        """The hashes of every current version (heads and session clocks)."""
        return {row[0] for row in self.run.all(sql.CURRENT_HASHES)}

    def current_among(self, found: Iterable[Entry]) -> set[str]:
        """The hashes of the current versions of these entries' ids: one key lookup per id
        (a fleet's every head is read only when the ids are many)."""
        keys = {(e.kind, e.session_id or e.peer_id, e.id) for e in found}
        if len(keys) > _KEY_LOOKUPS:
            return self.current_hashes()
        current = set()
        for kind, owner, entry_id in keys:
            if kind == "clock":
                row = self.run.one(sql.CLOCK_HASH, (owner, entry_id))
            else:
                row = self.run.one(sql.HEAD_HASH, (owner, kind, entry_id))
            if row is not None:
                current.add(row[0])
        return current

    # --- sessions and logs --------------------------------------------------------------------

    def sessions(self, peer_id: str | None = None) -> list[SessionInfo]:
        """Sessions (of a peer), oldest first (ULIDs sort by time)."""
        names, values = _filters(peer_id=peer_id)
        return [SessionInfo(*row) for row in self.run.all(sql.session_list(*names), values)]

    def session(self, session_id: str) -> SessionInfo | None:
        """One session, if stored."""
        row = self.run.one(sql.SESSION, (session_id,))
        return None if row is None else SessionInfo(*row)

    def sessions_by_prefix(
        self, prefix: str, limit: int = 10, peer_id: str | None = None
    ) -> list[SessionInfo]:
        """Sessions (of a peer) whose id starts with `prefix` in any case, by id, at most
        `limit`."""
        names, values = _filters(peer_id=peer_id)
        statement = sql.session_prefix(*names)
        rows = self.run.all(statement, (*values, prefix.lower(), len(prefix), limit))
        return [SessionInfo(*row) for row in rows]

    def latest_sessions(self, count: int, peer_id: str | None = None) -> list[SessionSummary]:
        """The `count` sessions (of a peer) started last, oldest first, with their counts."""
        names, values = _filters(peer_id=peer_id)
        rows = self.run.all(sql.latest_sessions(*names), (*values, count))
        return [SessionSummary(*row) for row in reversed(rows)]

    def session_summaries(
        self, peer_id: str | None = None, session_id: str | None = None
    ) -> list[SessionSummary]:
        """Sessions (of a peer; or one), oldest first, with their clock and log counts."""
        names, values = _filters(peer_id=peer_id, session_id=session_id)
        rows = self.run.all(sql.session_summaries(*names), values)
        return [SessionSummary(*row) for row in rows]

    def session_graph(self, session_id: str) -> SessionGraph | None:
        """A session's frame tree and clock graph: its peer's current frames and the
        session's clocks, joined by its pose and time-transform logs (None: no session)."""
        session = self.session(session_id)
        if session is None:
            return None
        frames = [e.id for e in self.current_entries(session.peer_id, "frame")]
        clocks = [e.id for e in self.clocks(session_id)]
        return build_graph(session_id, session.peer_id, frames, clocks, self.logs(session_id))

    def logs(self, session_id: str | None = None) -> list[LogInfo]:
        """Every log (or one session's), in the order registered."""
        names, values = _filters(session_id=session_id)
        return [self._log(row) for row in self.run.all(sql.log_list(*names), values)]

    def every_log(self) -> Iterator[LogInfo]:
        """Every log, in the order registered, streamed (memory does not grow with the store)."""
        for row in self.run.stream(sql.log_list()):
            yield self._log(row)

    def every_session(self) -> Iterator[SessionInfo]:
        """Every session, streamed."""
        for row in self.run.stream(sql.session_list()):
            yield SessionInfo(*row)

    def logs_using(self, entry_hash: str) -> list[LogInfo]:
        """Every log whose manifest references this entry version (any role)."""
        return [self._log(row) for row in self.run.all(sql.LOGS_USING, (entry_hash,))]

    def mirror_pending(self, key: str) -> set[str]:
        """Hashes of versions whose registry files a crash may have left unwritten in the root
        named by `key` (see mirror.py)."""
        return {row[0] for row in self.run.all(sql.MIRROR_PENDING_HASHES, (key,))}

    def has_log(self, session_id: str, resource_id: str) -> bool:
        """Whether a session holds a log with this resource id (committed, or in this
        connection's transaction)."""
        return self.run.one(sql.LOG_EXISTS, (session_id, resource_id)) is not None

    def _log(self, row: Sequence[Any]) -> LogInfo:
        session_id, peer_id, resource_id, kind, manifest, head, registered_at, signature = row
        # Joined as strings: a Path per row is a third of this method's time.
        root = os.path.join(self._root, *log_parts(session_id, peer_id, resource_id))
        return LogInfo(
            session_id,
            peer_id,
            resource_id,
            kind,
            manifest,
            _head(head),
            registered_at,
            root,
            signature,
        )

    # --- summaries and checks -----------------------------------------------------------------

    def changes(self) -> Iterator[Change]:
        """Every current version's change record (heads, then session clocks), streamed."""
        return map(_change, self.run.stream(sql.CHANGES))

    def schema_revision(self) -> str | None:
        """The database's schema revision."""
        if self._revision is None:  # read once: a reader lives in one transaction
            self._revision = migrate.current_revision(self.run)
        return self._revision

    def peer_summaries(self) -> list[PeerSummary]:
        """Every peer that wrote anything, by peer id."""
        apps: dict[str, list[str]] = {}
        for peer_id, app_id in self.run.all(sql.PEER_APPS):
            apps.setdefault(peer_id, []).append(app_id)
        summaries = []
        revision = self.schema_revision()
        signatures = revision not in migrate.BEFORE_SIGNATURES
        bindings = revision not in migrate.BEFORE_BINDINGS
        for row in self.run.all(sql.peer_summaries(signatures, bindings)):
            peer_id, first_seen, frames, sensors, detectors, count, signed, versions = row[:8]
            summaries.append(
                PeerSummary(
                    peer_id,
                    first_seen,
                    frames,
                    sensors,
                    detectors,
                    count,
                    signed,
                    versions,
                    tuple(apps.get(peer_id, ())),
                    key_peer_id(peer_id) is not None,
                    row[8],
                    row[9],
                )
            )
        return summaries

    def store_counts(self) -> StoreCounts:
        """How many peers, sessions, logs, and ids and versions of each kind the store holds."""
        peers, sessions, logs, clocks = self.run.one(sql.TABLE_COUNTS)
        kinds: tuple[EntryKind, ...] = (*REGISTRY_KINDS, "clock")
        counts: dict[tuple[str, str], int] = {
            (what, kind): int(count) for what, kind, count in self.run.all(sql.KIND_COUNTS)
        }
        counts["ids", "clock"] = int(clocks)
        return StoreCounts(
            peers=int(peers),
            sessions=int(sessions),
            logs=int(logs),
            kinds=tuple(
                KindCount(kind, counts.get(("ids", kind), 0), counts.get(("versions", kind), 0))
                for kind in kinds
            ),
        )

    def misfiled_heads(self) -> list[str]:
        """Heads and session clocks naming a version of another id, kind, peer or session."""
        problems = [
            f"current {kind} {entry_id!r} of peer {owner!r} names version {hash_} of another entry"
            for owner, kind, entry_id, hash_ in self.run.all(sql.MISFILED_HEADS)
        ]
        problems += [
            f"clock {clock_id!r} of session {owner!r} names version {hash_} of another entry"
            for owner, clock_id, hash_ in self.run.all(sql.MISFILED_CLOCKS)
        ]
        problems += [
            f"clock version {hash_} of peer {owner!r} ({clock_id!r}) is filed in a session of "
            f"peer {holder!r}"
            for owner, clock_id, hash_, holder in self.run.all(sql.MISFILED_CLOCK_VERSIONS)
        ]
        if self.schema_revision() not in migrate.BEFORE_BINDINGS:
            problems += [
                f"current {kind} {entry_id!r} of {owner!r} has no sequence number (the order "
                "of its store's changes)"
                for kind, owner, entry_id in self.run.all(sql.UNORDERED_CHANGES)
            ]
        return problems

    def unbound_peers(self) -> list[str]:
        """In a fleet database, the peers no store or key is bound to (pushed before schema
        0005; the next push of each binds it)."""
        if self.schema_revision() in migrate.BEFORE_BINDINGS:
            return []
        return [peer_id for (peer_id,) in self.run.all(sql.UNBOUND_PEERS)]

    def integrity_problems(self) -> list[str]:
        """What SQLite's `PRAGMA integrity_check` reports (nothing when the file is sound, and
        nothing for a server database, which checks its own storage)."""
        if self.run.dialect_name != "sqlite":
            return []
        rows = [row[0] for row in self.run.all(sql.INTEGRITY_CHECK)]
        return [] if rows == ["ok"] else [str(row) for row in rows]

    def foreign_key_problems(self) -> list[str]:
        """Rows whose foreign keys name a missing parent (`PRAGMA foreign_key_check`; a server
        database enforces its foreign keys itself)."""
        if self.run.dialect_name != "sqlite":
            return []
        problems: list[str] = []
        keyed: dict[tuple[str, str], int] = {}  # WITHOUT ROWID tables report no rowid: count
        for table, rowid, parent, _ in self.run.all(sql.FOREIGN_KEY_CHECK):
            if rowid is None:
                keyed[(table, parent)] = keyed.get((table, parent), 0) + 1
            else:
                problems.append(f"{table} row {rowid} names a missing {parent} row")
        for (table, parent), count in keyed.items():
            rows = "1 row names" if count == 1 else f"{count} rows name"
            problems.append(f"{table}: {rows} a missing {parent} row")
        return problems


@functools.lru_cache(maxsize=256)
def _head(head_json: str) -> HeadSpec:
    """A stored head spec, parsed once per distinct text (logs share a handful of them)."""
    return HeadSpec.from_dict(json.loads(head_json))
