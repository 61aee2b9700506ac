"""The queries offline inspection needs (every peer, every version, integrity), over SQLAlchemy
Core, returning value objects; the command line is their only user."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, case, func, literal, or_, select, text, union_all

from ..errors import StoreError
from ..logfiles import log_dir
from ..records import Entry, LogInfo
from ..specs import HeadSpec
from . import migrate
from .reader import ENTRY_COLUMNS, Reader, entry_record
from .repository import Store, opened
from .sqlite import DB_FILENAME, make_engine
from .tables import clocks, entries, heads, logs, peers, sessions

_T = TypeVar("_T")

REGISTRY_KINDS = ("frame", "sensor", "detector")
KINDS = (*REGISTRY_KINDS, "clock")

_KIND_ORDER = case({kind: index for index, kind in enumerate(KINDS)}, value=entries.c.kind)


@dataclass(frozen=True, slots=True)
class PeerSummary:
    """A peer, how many current frames, sensors and detectors it has, and its sessions."""

    peer_id: str
    first_seen_at: str
    frames: int
    sensors: int
    detectors: int
    sessions: int
    app_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KindCount:
    """For one entry kind: ids with a current version (clocks: per session), and versions."""

    kind: str
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
    clocks: int
    logs: int


def _fingerprint(path: Path) -> tuple[bool, int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    wal = path.with_name(path.name + "-wal").exists()
    return (wal, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def read_consistently(root: Path, read: Callable[[Reader], _T], *, require_head: bool) -> _T:
    """Run `read` in one read transaction of the store at `root`, writing nothing there.

    A database with a -wal file is opened as `Store(root, readonly=True)` does. One without is
    idle (no connection has it open) and is read in SQLite's immutable mode, which, unlike
    mode=ro, leaves no -wal and -shm files behind; immutable mode takes no locks, so when the
    file changed during the read (a writer opened it meanwhile), read again. With
    `require_head`, refuse a database whose schema is older than the code's.
    """
    path = root / DB_FILENAME
    for _ in range(3):
        before = _fingerprint(path)
        idle = before is not None and not before[0]
        store = Store(root, readonly=True)
        engine = _immutable_engine(store) if idle else store.engine
        try:
            with engine.connect() as connection, connection.begin():
                reader = Reader(store, connection)
                revision = schema_revision(reader)
                if require_head and revision != migrate.HEAD:
                    raise StoreError(
                        f"{path}: database schema revision {revision!r} is older than this "
                        f"auki-session's {migrate.HEAD!r}; run `auki-session db upgrade` first "
                        "(read commands never change the store)"
                    )
                result = read(reader)
        finally:
            engine.dispose()
            store.close()
        if not idle or _fingerprint(path) == before:
            return result
    raise StoreError(f"{path}: the database kept changing while it was read; try again")


def read_server(root: Path, url: str, read: Callable[[Reader], _T], *, require_head: bool) -> _T:
    """Run `read` in one read transaction of the database at `url` (a fleet database)."""
    store = Store(root, url=url, readonly=True)
    try:
        with store.engine.connect() as connection, connection.begin():
            reader = Reader(store, connection)
            revision = schema_revision(reader)
            if require_head and revision != migrate.HEAD:
                raise StoreError(
                    f"{store.where}: database schema revision {revision!r} is older than this "
                    f"auki-session's {migrate.HEAD!r}; run `auki-session db upgrade` first"
                )
            return read(reader)
    finally:
        store.close()


def _immutable_engine(store: Store) -> Engine:
    """An engine reading the store's file in SQLite's immutable mode, its schema checked."""
    engine = make_engine(store.path, readonly=True, immutable=True)
    return opened(engine, str(store.path), migrate.check_readable)


def _count(reader: Reader, query: Select[Any]) -> int:
    return int(reader.connection.execute(query).scalar_one())


def schema_revision(reader: Reader) -> str | None:
    """The database's alembic revision."""
    return migrate.current_revision(reader.connection)


def peer_summaries(reader: Reader) -> list[PeerSummary]:
    """Every peer that wrote anything, by peer id."""

    def current(kind: str) -> Any:
        return (
            select(func.count())
            .where(heads.c.peer_id == peers.c.peer_id, heads.c.kind == kind)
            .scalar_subquery()
        )

    query = select(
        peers.c.peer_id,
        peers.c.first_seen_at,
        *(current(kind) for kind in REGISTRY_KINDS),
        select(func.count()).where(sessions.c.peer_id == peers.c.peer_id).scalar_subquery(),
    ).order_by(peers.c.peer_id)
    app_query = (
        select(sessions.c.peer_id, sessions.c.app_id)
        .distinct()
        .order_by(sessions.c.peer_id, sessions.c.app_id)
    )
    apps: dict[str, list[str]] = {}
    for peer_id, app_id in reader.connection.execute(app_query):
        apps.setdefault(peer_id, []).append(app_id)
    summaries = []
    for row in reader.connection.execute(query):
        peer_id, first_seen, frames, sensors, detectors, count = tuple(row)
        app_ids = tuple(apps.get(peer_id, ()))
        summaries.append(
            PeerSummary(peer_id, first_seen, frames, sensors, detectors, count, app_ids)
        )
    return summaries


def store_counts(reader: Reader) -> StoreCounts:
    """How many peers, sessions, logs, and ids and versions of each kind the store holds."""
    versions: dict[str, int] = dict(
        reader.connection.execute(
            select(entries.c.kind, func.count()).group_by(entries.c.kind)
        ).all()
    )
    ids: dict[str, int] = dict(
        reader.connection.execute(select(heads.c.kind, func.count()).group_by(heads.c.kind)).all()
    )
    ids["clock"] = _count(reader, select(func.count()).select_from(clocks))
    return StoreCounts(
        peers=_count(reader, select(func.count()).select_from(peers)),
        sessions=_count(reader, select(func.count()).select_from(sessions)),
        logs=_count(reader, select(func.count()).select_from(logs)),
        kinds=tuple(
            KindCount(kind, int(ids.get(kind, 0)), int(versions.get(kind, 0))) for kind in KINDS
        ),
    )


def current_entries(
    reader: Reader,
    *,
    peer_id: str | None = None,
    kinds: Sequence[str] = REGISTRY_KINDS,
    session_id: str | None = None,
) -> list[Entry]:
    """The current version of each id of the given kinds (clocks: of every session, or one),
    ordered by peer, kind, session and id."""
    parts: list[Select[Any]] = []
    registry_kinds = [kind for kind in kinds if kind in REGISTRY_KINDS]
    if registry_kinds and session_id is None:
        parts.append(
            select(*ENTRY_COLUMNS)
            .join(heads, heads.c.hash == entries.c.hash)
            .where(heads.c.kind.in_(registry_kinds))
        )
    if "clock" in kinds:
        query = select(*ENTRY_COLUMNS).join(clocks, clocks.c.hash == entries.c.hash)
        if session_id is not None:
            query = query.where(clocks.c.session_id == session_id)
        parts.append(query)
    if not parts:
        return []
    found = union_all(*parts).subquery()
    query = select(found)
    if peer_id is not None:
        query = query.where(found.c.peer_id == peer_id)
    order = case({kind: index for index, kind in enumerate(KINDS)}, value=found.c.kind)
    query = query.order_by(found.c.peer_id, order, found.c.session_id, found.c.entry_id)
    return [entry_record(row) for row in reader.connection.execute(query)]


def history(
    reader: Reader,
    *,
    peer_id: str | None = None,
    kinds: Sequence[str] = KINDS,
    entry_id: str | None = None,
) -> list[Entry]:
    """Every stored version, grouped by peer, kind and id, each id's in the order first
    registered."""
    query = select(*ENTRY_COLUMNS).where(entries.c.kind.in_(list(kinds)))
    if peer_id is not None:
        query = query.where(entries.c.peer_id == peer_id)
    if entry_id is not None:
        query = query.where(entries.c.entry_id == entry_id)
    query = query.order_by(
        entries.c.peer_id, _KIND_ORDER, entries.c.session_id, entries.c.entry_id, entries.c.id
    )
    return [entry_record(row) for row in reader.connection.execute(query)]


def current_hashes(reader: Reader) -> set[str]:
    """The hashes of every current version (heads and session clocks)."""
    query = union_all(select(heads.c.hash), select(clocks.c.hash))
    return {row[0] for row in reader.connection.execute(query)}


def entries_by_hash_prefix(reader: Reader, prefix: str, limit: int = 2) -> list[Entry]:
    """Versions whose hash starts with `prefix` (lowercase hex), at most `limit`."""
    query = (
        select(*ENTRY_COLUMNS)
        .where(entries.c.hash >= prefix, entries.c.hash < prefix + "g")
        .order_by(entries.c.hash)
        .limit(limit)
    )
    return [entry_record(row) for row in reader.connection.execute(query)]


def all_entries(reader: Reader) -> Iterator[Entry]:
    """Every stored version, in the order stored."""
    for row in reader.connection.execute(select(*ENTRY_COLUMNS).order_by(entries.c.id)):
        yield entry_record(row)


def session_summaries(reader: Reader, peer_id: str | None = None) -> list[SessionSummary]:
    """Sessions, oldest first, with their clock and log counts."""
    query = select(
        sessions.c.session_id,
        sessions.c.peer_id,
        sessions.c.app_id,
        sessions.c.started_at,
        select(func.count()).where(clocks.c.session_id == sessions.c.session_id).scalar_subquery(),
        select(func.count()).where(logs.c.session_id == sessions.c.session_id).scalar_subquery(),
    ).order_by(sessions.c.session_id)
    if peer_id is not None:
        query = query.where(sessions.c.peer_id == peer_id)
    return [SessionSummary(*row) for row in reader.connection.execute(query)]


def all_logs(reader: Reader, session_id: str | None = None) -> list[LogInfo]:
    """Every log (or one session's), in the order registered."""
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
        .order_by(logs.c.id)
    )
    if session_id is not None:
        query = query.where(logs.c.session_id == session_id)
    root = reader.store.root
    return [
        LogInfo(
            session,
            peer_id,
            resource_id,
            kind,
            manifest,
            HeadSpec.from_dict(json.loads(head)),
            registered_at,
            str(log_dir(root, session, peer_id, resource_id)),
        )
        for session, peer_id, resource_id, kind, manifest, head, registered_at in (
            reader.connection.execute(query)
        )
    ]


def misfiled_heads(reader: Reader) -> list[str]:
    """Heads and session clocks naming a version of another id, kind, peer or session."""
    head_query = (
        select(heads.c.peer_id, heads.c.kind, heads.c.entry_id, heads.c.hash)
        .join(entries, entries.c.hash == heads.c.hash)
        .where(
            or_(
                entries.c.peer_id != heads.c.peer_id,
                entries.c.kind != heads.c.kind,
                entries.c.entry_id != heads.c.entry_id,
            )
        )
    )
    clock_query = (
        select(clocks.c.session_id, literal("clock"), clocks.c.clock_id, clocks.c.hash)
        .join(entries, entries.c.hash == clocks.c.hash)
        .where(
            or_(
                entries.c.kind != "clock",
                entries.c.entry_id != clocks.c.clock_id,
                func.coalesce(entries.c.session_id, "") != clocks.c.session_id,
                entries.c.peer_id
                != select(sessions.c.peer_id)
                .where(sessions.c.session_id == clocks.c.session_id)
                .scalar_subquery(),
            )
        )
    )
    problems = [
        f"current {kind} {entry_id!r} of peer {owner!r} names version {hash_} of another entry"
        for owner, kind, entry_id, hash_ in reader.connection.execute(head_query)
    ]
    problems += [
        f"clock {clock_id!r} of session {owner!r} names version {hash_} of another entry"
        for owner, _, clock_id, hash_ in reader.connection.execute(clock_query)
    ]
    return problems


def integrity_problems(reader: Reader) -> list[str]:
    """What SQLite's `PRAGMA integrity_check` reports (nothing when the file is sound, and
    nothing for a server database, which checks its own storage)."""
    if reader.connection.dialect.name != "sqlite":
        return []
    rows = [row[0] for row in reader.connection.execute(text("PRAGMA integrity_check"))]
    return [] if rows == ["ok"] else [str(row) for row in rows]


def foreign_key_problems(reader: Reader) -> list[str]:
    """Rows whose foreign keys name a missing parent (`PRAGMA foreign_key_check`; a server
    database enforces its foreign keys itself)."""
    if reader.connection.dialect.name != "sqlite":
        return []
    problems: list[str] = []
    keyed: dict[tuple[str, str], int] = {}  # WITHOUT ROWID tables report no rowid: count them
    for table, rowid, parent, _ in reader.connection.execute(text("PRAGMA foreign_key_check")):
        if rowid is None:
            keyed[(table, parent)] = keyed.get((table, parent), 0) + 1
        else:
            problems.append(f"{table} row {rowid} names a missing {parent} row")
    for (table, parent), count in keyed.items():
        rows = "1 row names" if count == 1 else f"{count} rows name"
        problems.append(f"{table}: {rows} a missing {parent} row")
    return problems
