"""Every SQL statement the store runs, each declared once with SQLAlchemy Core.

A `Statement` is built per dialect (so PostgreSQL and SQLite each get their own spelling) and
compiled once per process by `runner.Runner`, which runs it on the DB-API connection. Queries
with optional filters are declared once as a builder; each combination of filters is one
`Statement`, made on first use and kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Select,
    Table,
    Text,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import (
    ReleaseSavepointClause,
    RollbackToSavepointClause,
    SavepointClause,
)

from .tables import (
    clocks,
    entries,
    fleet_bindings,
    heads,
    log_refs,
    logs,
    mirror_pending,
    peers,
    sessions,
)

__all__ = [
    "CHANGES",
    "CLOCK_HASH",
    "CLOCK_SEQUENCE",
    "CURRENT",
    "CURRENT_HASHES",
    "DELETE_MIRROR_PENDING",
    "ENTRY",
    "ENTRY_PREFIX",
    "EVERY_ENTRY",
    "FOREIGN_KEY_CHECK",
    "HEAD_HASH",
    "HEAD_SEQUENCE",
    "INSERT_ENTRY",
    "INSERT_LOG",
    "INSERT_LOG_REF",
    "INSERT_MIRROR_PENDING",
    "INSERT_PEER",
    "INSERT_SESSION",
    "INTEGRITY_CHECK",
    "KIND_COUNTS",
    "LOGS_USING",
    "LOG_EXISTS",
    "MIRROR_PENDING",
    "MIRROR_PENDING_HASHES",
    "MISFILED_CLOCKS",
    "MISFILED_CLOCK_VERSIONS",
    "MISFILED_HEADS",
    "PEER_APPS",
    "REGISTERED",
    "RELEASE",
    "ROLLBACK_TO",
    "SAVEPOINT",
    "SESSION",
    "SESSION_ENTRY",
    "SESSION_RESOURCES",
    "TABLE_COUNTS",
    "UNBOUND_PEERS",
    "UNORDERED_CHANGES",
    "UPSERT_CLOCK",
    "UPSERT_CLOCK_UNSIGNED",
    "UPSERT_HEAD",
    "UPSERT_HEAD_UNSIGNED",
    "Statement",
    "clock_list",
    "current_entries",
    "history",
    "insert_for",
    "latest_sessions",
    "log_list",
    "peer_summaries",
    "session_list",
    "session_prefix",
    "session_summaries",
]


class Statement:
    """A Core statement built per dialect, taking its parameters in the declared order."""

    __slots__ = ("build", "name", "params")

    def __init__(
        self, name: str, params: tuple[str, ...], build: Callable[[Dialect], Executable]
    ) -> None:
        self.name = name
        self.params = params
        self.build = build

    def __repr__(self) -> str:
        return f"Statement({self.name!r})"


def insert_for(dialect: Dialect, table: Table) -> Any:
    """An INSERT supporting ON CONFLICT for `dialect`."""
    if dialect.name == "postgresql":
        # Imported here: the PostgreSQL dialect costs SQLite-only processes 20 ms at start-up.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)


def _binds(*names: str) -> dict[str, Any]:
    return {name: bindparam(name) for name in names}


def _equal(table: Table, names: tuple[str, ...]) -> list[Any]:
    return [table.c[name] == bindparam(name) for name in names]


# --- writing ----------------------------------------------------------------------------------


_CHANGE = ("hash", "updated_at", "signature", "sequence")


def _upsert(dialect: Dialect, table: Table, key: tuple[str, ...]) -> Any:
    """Insert a head row, or point the existing one at the new hash (if it differs). Its
    sequence counts the id's changes of current version in this store: the number given when
    it is higher than the row's (a signed change names its number), else the row's next."""
    statement = insert_for(dialect, table).values(_binds(*key, *_CHANGE))
    # Literal columns, not bound constants: the statement stays raw (see runner.Compiled).
    previous = func.coalesce(table.c.sequence, literal_column("0"))
    sequence = case(
        (statement.excluded.sequence > previous, statement.excluded.sequence),
        else_=previous + literal_column("1"),
    )
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={**{name: statement.excluded[name] for name in _CHANGE}, "sequence": sequence},
        where=table.c.hash != statement.excluded.hash,
    )


_VERSION = ("hash", "kind", "peer_id", "entry_id")
REGISTERED = Statement(
    "registered", _VERSION, lambda _: select(entries.c.id).where(*_equal(entries, _VERSION))
)
SESSION_ENTRY = Statement(
    "session_entry",
    (*_VERSION, "session_id"),
    lambda _: select(entries.c.id).where(*_equal(entries, (*_VERSION, "session_id"))),
)
INSERT_PEER = Statement(
    "insert_peer",
    ("peer_id", "first_seen_at"),
    lambda dialect: (
        insert_for(dialect, peers)
        .values(_binds("peer_id", "first_seen_at"))
        .on_conflict_do_nothing()
    ),
)
_ENTRY_ROW = (
    "hash",
    "kind",
    "peer_id",
    "entry_id",
    "session_id",
    "canonical_json",
    "registered_at",
    "signature",
)
INSERT_ENTRY = Statement(
    "insert_entry",
    _ENTRY_ROW,
    lambda dialect: (
        insert_for(dialect, entries)
        .values(_binds(*_ENTRY_ROW))
        .on_conflict_do_nothing(index_elements=["hash"])
    ),
)
UPSERT_HEAD = Statement(
    "upsert_head",
    ("peer_id", "kind", "entry_id", *_CHANGE),
    lambda dialect: _upsert(dialect, heads, ("peer_id", "kind", "entry_id")),
)
UPSERT_CLOCK = Statement(
    "upsert_clock",
    ("session_id", "clock_id", *_CHANGE),
    lambda dialect: _upsert(dialect, clocks, ("session_id", "clock_id")),
)


def _upsert_unsigned(dialect: Dialect, table: Table, key: tuple[str, ...]) -> Any:
    """`_upsert` for a change nobody signs: no signature, and its sequence number counted by
    the statement (1, or the row's next), with no values bound for them."""
    values = {**_binds(*key, "hash", "updated_at"), "sequence": literal_column("1")}
    statement = insert_for(dialect, table).values(values)
    previous = func.coalesce(table.c.sequence, literal_column("0"))
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={
            "hash": statement.excluded.hash,
            "updated_at": statement.excluded.updated_at,
            "signature": null(),
            "sequence": previous + literal_column("1"),
        },
        where=table.c.hash != statement.excluded.hash,
    )


UPSERT_HEAD_UNSIGNED = Statement(
    "upsert_head_unsigned",
    ("peer_id", "kind", "entry_id", "hash", "updated_at"),
    lambda dialect: _upsert_unsigned(dialect, heads, ("peer_id", "kind", "entry_id")),
)
UPSERT_CLOCK_UNSIGNED = Statement(
    "upsert_clock_unsigned",
    ("session_id", "clock_id", "hash", "updated_at"),
    lambda dialect: _upsert_unsigned(dialect, clocks, ("session_id", "clock_id")),
)
HEAD_SEQUENCE = Statement(
    "head_sequence",
    ("peer_id", "kind", "entry_id"),
    lambda _: (
        select(heads.c.sequence)
        .where(*_equal(heads, ("peer_id", "kind", "entry_id")))
        .with_for_update()
    ),
)
CLOCK_SEQUENCE = Statement(
    "clock_sequence",
    ("session_id", "clock_id"),
    lambda _: (
        select(clocks.c.sequence)
        .where(*_equal(clocks, ("session_id", "clock_id")))
        .with_for_update()
    ),
)
"""The number of an id's latest change of current version (for a signed change's next)."""
_SESSION_ROW = ("session_id", "peer_id", "app_id", "started_at", "signature")
INSERT_SESSION = Statement(
    "insert_session",
    _SESSION_ROW,
    lambda _: sessions.insert().values(_binds(*_SESSION_ROW)),
)
_LOG_ROW = (
    "session_id",
    "resource_id",
    "kind",
    "manifest_json",
    "head_json",
    "registered_at",
    "signature",
)
# ON CONFLICT rather than a check first: on a server database two writers may race.
INSERT_LOG = Statement(
    "insert_log",
    _LOG_ROW,
    lambda dialect: (
        insert_for(dialect, logs)
        .values(_binds(*_LOG_ROW))
        .on_conflict_do_nothing(index_elements=["session_id", "resource_id"])
        .returning(logs.c.id)
    ),
)
INSERT_LOG_REF = Statement(
    "insert_log_ref",
    ("log_id", "role", "peer_id", "entry_id", "hash"),
    lambda _: log_refs.insert().values(_binds("log_id", "role", "peer_id", "entry_id", "hash")),
)
_MIRROR_ROW = ("root", "hash")
INSERT_MIRROR_PENDING = Statement(
    "insert_mirror_pending",
    _MIRROR_ROW,
    lambda dialect: (
        insert_for(dialect, mirror_pending).values(_binds(*_MIRROR_ROW)).on_conflict_do_nothing()
    ),
)
DELETE_MIRROR_PENDING = Statement(
    "delete_mirror_pending",
    _MIRROR_ROW,
    lambda _: mirror_pending.delete().where(*_equal(mirror_pending, _MIRROR_ROW)),
)
_SAVEPOINT_NAME = "auki_session_nested"
SAVEPOINT = Statement(
    "savepoint",
    (),
    lambda _: SavepointClause(_SAVEPOINT_NAME),  # type: ignore[no-untyped-call]
)
RELEASE = Statement(
    "release",
    (),
    lambda _: ReleaseSavepointClause(_SAVEPOINT_NAME),  # type: ignore[no-untyped-call]
)
ROLLBACK_TO = Statement(
    "rollback_to",
    (),
    lambda _: RollbackToSavepointClause(_SAVEPOINT_NAME),  # type: ignore[no-untyped-call]
)

# --- reading entries --------------------------------------------------------------------------

ENTRY_COLUMNS = (
    entries.c.kind,
    entries.c.peer_id,
    entries.c.entry_id,
    entries.c.hash,
    entries.c.session_id,
    entries.c.canonical_json,
    entries.c.registered_at,
    entries.c.signature,
)
"""The columns of an `Entry`, in its field order."""

ENTRY = Statement(
    "entry", ("hash",), lambda _: select(*ENTRY_COLUMNS).where(entries.c.hash == bindparam("hash"))
)
ENTRY_PREFIX = Statement(
    "entry_prefix",
    ("low", "high", "limit"),
    lambda _: (
        select(*ENTRY_COLUMNS)
        .where(entries.c.hash >= bindparam("low"), entries.c.hash < bindparam("high"))
        .order_by(entries.c.hash)
        .limit(bindparam("limit"))
    ),
)
CURRENT = Statement(
    "current",
    ("peer_id", "kind", "entry_id"),
    lambda _: (
        select(*ENTRY_COLUMNS)
        .join(heads, heads.c.hash == entries.c.hash)
        .where(*_equal(heads, ("peer_id", "kind", "entry_id")))
    ),
)
CURRENT_HASHES = Statement(
    "current_hashes", (), lambda _: union_all(select(heads.c.hash), select(clocks.c.hash))
)
HEAD_HASH = Statement(
    "head_hash",
    ("peer_id", "kind", "entry_id"),
    lambda _: select(heads.c.hash).where(*_equal(heads, ("peer_id", "kind", "entry_id"))),
)
CLOCK_HASH = Statement(
    "clock_hash",
    ("session_id", "clock_id"),
    lambda _: select(clocks.c.hash).where(*_equal(clocks, ("session_id", "clock_id"))),
)


MIRROR_PENDING = Statement(
    "mirror_pending",
    ("root",),
    lambda _: (
        select(entries.c.kind, entries.c.peer_id, entries.c.entry_id, entries.c.hash)
        .add_columns(entries.c.canonical_json)
        .join(mirror_pending, mirror_pending.c.hash == entries.c.hash)
        .where(mirror_pending.c.root == bindparam("root"))
    ),
)
"""The versions whose registry files a crash may have left unwritten in a root."""
MIRROR_PENDING_HASHES = Statement(
    "mirror_pending_hashes",
    ("root",),
    lambda _: select(mirror_pending.c.hash).where(mirror_pending.c.root == bindparam("root")),
)


_Variants = Callable[..., "Statement"]


def _filtered(name: str, table: Table, query: Callable[[], Select[Any]]) -> _Variants:
    """A query declared once, with optional equality filters on `table`'s columns: calling the
    result with the names of the columns to bind gives that variant's Statement (kept)."""

    @functools.cache
    def variant(*filters: str) -> Statement:
        return Statement(
            f"{name}{filters}", filters, lambda _: query().where(*_equal(table, filters))
        )

    return variant


current_entries = _filtered(
    "current_entries",
    heads,
    lambda: (
        select(*ENTRY_COLUMNS)
        .join(heads, heads.c.hash == entries.c.hash)
        .order_by(heads.c.peer_id, heads.c.kind, heads.c.entry_id)
    ),
)
"""The current version of each frame, sensor and detector id, by peer, kind and id (filters:
`peer_id`, `kind`)."""
history = _filtered(
    "history",
    entries,
    lambda: select(*ENTRY_COLUMNS).order_by(
        entries.c.peer_id, entries.c.kind, entries.c.session_id, entries.c.entry_id, entries.c.id
    ),
)
"""Every stored version, grouped by peer, kind, session and id, each id's in the order first
registered (filters: `peer_id`, `kind`, `entry_id`)."""
EVERY_ENTRY = Statement("every_entry", (), lambda _: select(*ENTRY_COLUMNS).order_by(entries.c.id))
"""Every stored version in the order stored: a scan of the table in its primary key's order,
with no sort (`history()`'s order sorts the whole table in a temporary b-tree first: on SQLite
a file as large as the entries, and no row until it is sorted)."""
clock_list = _filtered(
    "clocks",
    clocks,
    lambda: (
        select(*ENTRY_COLUMNS)
        .join(clocks, clocks.c.hash == entries.c.hash)
        .order_by(clocks.c.session_id, entries.c.id)
    ),
)
"""The current version of each session clock, in the order registered (filter: `session_id`)."""

# --- reading sessions and logs ----------------------------------------------------------------

_SESSION_COLUMNS = (
    sessions.c.session_id,
    sessions.c.peer_id,
    sessions.c.app_id,
    sessions.c.started_at,
    sessions.c.signature,
)
session_list = _filtered(
    "sessions",
    sessions,
    lambda: select(*_SESSION_COLUMNS).order_by(sessions.c.session_id),
)
"""Sessions, oldest first (ULIDs sort by time) (filters: `peer_id`, `session_id`)."""
SESSION = session_list("session_id")


@functools.cache
def session_prefix(*filters: str) -> Statement:
    """Sessions (filter: `peer_id`) whose id starts with a prefix, in any case (`prefix`
    lowercase, `length` its length), at most `limit`."""
    return Statement(
        f"session_prefix{filters}",
        (*filters, "prefix", "length", "limit"),
        lambda _: (
            select(*_SESSION_COLUMNS)
            .where(
                *_equal(sessions, filters),
                func.lower(func.substr(sessions.c.session_id, 1, bindparam("length")))
                == bindparam("prefix"),
            )
            .order_by(sessions.c.session_id)
            .limit(bindparam("limit"))
        ),
    )


def _session_summaries() -> Select[Any]:
    return select(
        *_SESSION_COLUMNS,
        select(func.count()).where(clocks.c.session_id == sessions.c.session_id).scalar_subquery(),
        select(func.count()).where(logs.c.session_id == sessions.c.session_id).scalar_subquery(),
    )


session_summaries = _filtered(
    "session_summaries",
    sessions,
    lambda: _session_summaries().order_by(sessions.c.session_id),
)
"""Sessions with how many clocks and logs each holds (filters as `session_list`'s)."""


@functools.cache
def latest_sessions(*filters: str) -> Statement:
    """The `limit` sessions started last (filter: `peer_id`), newest first, with their clock
    and log counts."""
    return Statement(
        f"latest_sessions{filters}",
        (*filters, "limit"),
        lambda _: (
            _session_summaries()
            .where(*_equal(sessions, filters))
            .order_by(sessions.c.started_at.desc(), sessions.c.session_id.desc())
            .limit(bindparam("limit"))
        ),
    )


def _logs() -> Select[Any]:
    return (
        select(
            logs.c.session_id,
            sessions.c.peer_id,
            logs.c.resource_id,
            logs.c.kind,
            logs.c.manifest_json,
            logs.c.head_json,
            logs.c.registered_at,
            logs.c.signature,
        )
        .join(sessions, sessions.c.session_id == logs.c.session_id)
        .order_by(logs.c.id)
    )


log_list = _filtered("logs", logs, _logs)
"""Logs in the order registered, with their session's peer (filter: `session_id`)."""

SESSION_RESOURCES = Statement(
    "session_resources",
    ("session_id",),
    lambda _: select(logs.c.resource_id).where(logs.c.session_id == bindparam("session_id")),
)
LOG_EXISTS = Statement(
    "log_exists",
    ("session_id", "resource_id"),
    lambda _: select(logs.c.id).where(*_equal(logs, ("session_id", "resource_id"))),
)
LOGS_USING = Statement(
    "logs_using",
    ("hash",),
    lambda _: _logs().where(
        logs.c.id.in_(select(log_refs.c.log_id).where(log_refs.c.hash == bindparam("hash")))
    ),
)

# --- summaries and checks ---------------------------------------------------------------------


def _current_count(kind: str) -> Any:
    return (
        select(func.count())
        .where(heads.c.peer_id == peers.c.peer_id, heads.c.kind == kind)
        .scalar_subquery()
    )


def _binding(column: Any, bindings: bool) -> Any:
    if not bindings:
        return literal_column("NULL")
    return select(column).where(fleet_bindings.c.peer_id == peers.c.peer_id).scalar_subquery()


@functools.cache
def peer_summaries(signatures: bool, bindings: bool) -> Statement:
    """Every peer with its current frames, sensors, detectors, sessions, signed entry versions
    and entry versions (a store older than schema 0004 has no signatures: 0 signed), and in a
    fleet database the authority it is bound under and its last push (NULL elsewhere, and
    before schema 0005)."""
    signed = (
        select(func.count())
        .where(entries.c.peer_id == peers.c.peer_id, entries.c.signature.is_not(None))
        .scalar_subquery()
        if signatures
        else literal_column("0")
    )
    return Statement(
        f"peer_summaries({signatures}, {bindings})",
        (),
        lambda _: select(
            peers.c.peer_id,
            peers.c.first_seen_at,
            *(_current_count(kind) for kind in ("frame", "sensor", "detector")),
            select(func.count()).where(sessions.c.peer_id == peers.c.peer_id).scalar_subquery(),
            signed,
            select(func.count()).where(entries.c.peer_id == peers.c.peer_id).scalar_subquery(),
            _binding(fleet_bindings.c.authority, bindings),
            _binding(fleet_bindings.c.last_push_at, bindings),
        ).order_by(peers.c.peer_id),
    )


CHANGES = Statement(
    "changes",
    (),
    lambda _: union_all(
        select(
            heads.c.peer_id,
            heads.c.kind,
            heads.c.entry_id,
            heads.c.hash,
            heads.c.sequence,
            heads.c.signature,
            cast(null(), Text).label("session_id"),
        ),
        select(
            sessions.c.peer_id,
            literal_column("'clock'"),
            clocks.c.clock_id,
            clocks.c.hash,
            clocks.c.sequence,
            clocks.c.signature,
            clocks.c.session_id,
        ).join(sessions, sessions.c.session_id == clocks.c.session_id),
    ),
)
"""Every current version (heads, and session clocks with their session's peer): the change
that made it current, its sequence number and signature."""
PEER_APPS = Statement(
    "peer_apps",
    (),
    lambda _: (
        select(sessions.c.peer_id, sessions.c.app_id)
        .distinct()
        .order_by(sessions.c.peer_id, sessions.c.app_id)
    ),
)
TABLE_COUNTS = Statement(
    "table_counts",
    (),
    lambda _: select(
        *(
            select(func.count()).select_from(table).scalar_subquery()
            for table in (peers, sessions, logs, clocks)
        )
    ),
)
"""Rows in peers, sessions, logs and clocks."""
KIND_COUNTS = Statement(
    "kind_counts",
    (),
    lambda _: union_all(
        select(literal("versions"), entries.c.kind, func.count()).group_by(entries.c.kind),
        select(literal("ids"), heads.c.kind, func.count()).group_by(heads.c.kind),
    ),
)
"""Per kind: ("versions", kind, stored versions) and ("ids", kind, ids with a current one)."""
MISFILED_HEADS = Statement(
    "misfiled_heads",
    (),
    lambda _: (
        select(heads.c.peer_id, heads.c.kind, heads.c.entry_id, heads.c.hash)
        .join(entries, entries.c.hash == heads.c.hash)
        .where(
            or_(
                entries.c.peer_id != heads.c.peer_id,
                entries.c.kind != heads.c.kind,
                entries.c.entry_id != heads.c.entry_id,
            )
        )
    ),
)
"""Heads naming a version of another id, kind or peer."""
MISFILED_CLOCKS = Statement(
    "misfiled_clocks",
    (),
    lambda _: (
        select(clocks.c.session_id, clocks.c.clock_id, clocks.c.hash)
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
    ),
)
"""Session clocks naming a version of another clock, session or peer."""
MISFILED_CLOCK_VERSIONS = Statement(
    "misfiled_clock_versions",
    (),
    lambda _: (
        select(entries.c.peer_id, entries.c.entry_id, entries.c.hash, sessions.c.peer_id)
        .join(sessions, sessions.c.session_id == entries.c.session_id)
        .where(sessions.c.peer_id != entries.c.peer_id)
    ),
)
"""Clock versions of one peer filed in another peer's session."""
UNORDERED_CHANGES = Statement(
    "unordered_changes",
    (),
    lambda _: union_all(
        select(literal_column("'head'"), heads.c.peer_id, heads.c.entry_id).where(
            heads.c.sequence.is_(None)
        ),
        select(literal_column("'clock'"), clocks.c.session_id, clocks.c.clock_id).where(
            clocks.c.sequence.is_(None)
        ),
    ),
)
"""Current versions without the sequence number that orders their changes."""
UNBOUND_PEERS = Statement(
    "unbound_peers",
    (),
    lambda _: (
        select(peers.c.peer_id)
        .where(~exists().where(fleet_bindings.c.peer_id == peers.c.peer_id))
        .order_by(peers.c.peer_id)
    ),
)
"""Peers a fleet database holds without a binding (pushed before schema 0005)."""
INTEGRITY_CHECK = Statement("integrity_check", (), lambda _: text("PRAGMA integrity_check"))
FOREIGN_KEY_CHECK = Statement("foreign_key_check", (), lambda _: text("PRAGMA foreign_key_check"))
