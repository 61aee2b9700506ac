"""Every SQL statement the store runs, each declared once with SQLAlchemy Core.

A `Statement` is built per dialect (so PostgreSQL and SQLite each get their own spelling) and
compiled once per process by `runner.Runner`, which runs it on the DB-API connection. Queries
with optional filters are declared once as a builder; each combination of filters is one
`Statement`, made on first use and kept.
"""

from __future__ import annotations

import functools
import importlib
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy import Select, Table
    from sqlalchemy.engine import Dialect
    from sqlalchemy.sql import Executable

    from . import tables
else:

    class _OnFirstUse:
        """A module imported when one of its attributes is first asked for."""

        def __init__(self, name: str) -> None:
            self._name = name

        def __getattr__(self, attribute: str) -> Any:
            return getattr(importlib.import_module(self._name, __package__), attribute)

    sa = _OnFirstUse("sqlalchemy")
    tables = _OnFirstUse(".tables")

__all__ = [
    "ANY_TABLE",
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
    "HAS_VERSION_TABLE",
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
    "SCHEMA_REVISION",
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
    "VARIANTS",
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
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def _constant(value: int | str) -> Any:
    """A constant written into the SQL (a bound constant would make the statement need
    SQLAlchemy at execution time: see runner.Compiled); `value` comes from this module."""
    if isinstance(value, int):
        return sa.literal_column(str(value))
    return sa.literal_column("'" + value.replace("'", "''") + "'")


def _binds(*names: str) -> dict[str, Any]:
    return {name: sa.bindparam(name) for name in names}


def _equal(table: Table, names: tuple[str, ...]) -> list[Any]:
    return [table.c[name] == sa.bindparam(name) for name in names]


# --- writing ----------------------------------------------------------------------------------


_CHANGE = ("hash", "updated_at", "signature", "sequence")


def _upsert(dialect: Dialect, table: Table, key: tuple[str, ...]) -> Any:
    """Insert a head row, or point the existing one at the new hash (if it differs). Its
    sequence counts the id's changes of current version in this store: the number given when
    it is higher than the row's (a signed change names its number), else the row's next."""
    statement = insert_for(dialect, table).values(_binds(*key, *_CHANGE))
    # Literal columns, not bound constants: the statement stays raw (see runner.Compiled).
    previous = sa.func.coalesce(table.c.sequence, _constant(0))
    sequence = sa.case(
        (statement.excluded.sequence > previous, statement.excluded.sequence),
        else_=previous + _constant(1),
    )
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={**{name: statement.excluded[name] for name in _CHANGE}, "sequence": sequence},
        where=table.c.hash != statement.excluded.hash,
    )


_VERSION = ("hash", "kind", "peer_id", "entry_id")
REGISTERED = Statement(
    "registered",
    _VERSION,
    lambda _: sa.select(tables.entries.c.id).where(*_equal(tables.entries, _VERSION)),
)
SESSION_ENTRY = Statement(
    "session_entry",
    (*_VERSION, "session_id"),
    lambda _: sa.select(tables.entries.c.id).where(
        *_equal(tables.entries, (*_VERSION, "session_id"))
    ),
)
INSERT_PEER = Statement(
    "insert_peer",
    ("peer_id", "first_seen_at"),
    lambda dialect: (
        insert_for(dialect, tables.peers)
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
        insert_for(dialect, tables.entries)
        .values(_binds(*_ENTRY_ROW))
        .on_conflict_do_nothing(index_elements=["hash"])
    ),
)
UPSERT_HEAD = Statement(
    "upsert_head",
    ("peer_id", "kind", "entry_id", *_CHANGE),
    lambda dialect: _upsert(dialect, tables.heads, ("peer_id", "kind", "entry_id")),
)
UPSERT_CLOCK = Statement(
    "upsert_clock",
    ("session_id", "clock_id", *_CHANGE),
    lambda dialect: _upsert(dialect, tables.clocks, ("session_id", "clock_id")),
)


def _upsert_unsigned(dialect: Dialect, table: Table, key: tuple[str, ...]) -> Any:
    """`_upsert` for a change nobody signs: no signature, and its sequence number counted by
    the statement (1, or the row's next), with no values bound for them."""
    values = {**_binds(*key, "hash", "updated_at"), "sequence": _constant(1)}
    statement = insert_for(dialect, table).values(values)
    previous = sa.func.coalesce(table.c.sequence, _constant(0))
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={
            "hash": statement.excluded.hash,
            "updated_at": statement.excluded.updated_at,
            "signature": sa.null(),
            "sequence": previous + _constant(1),
        },
        where=table.c.hash != statement.excluded.hash,
    )


UPSERT_HEAD_UNSIGNED = Statement(
    "upsert_head_unsigned",
    ("peer_id", "kind", "entry_id", "hash", "updated_at"),
    lambda dialect: _upsert_unsigned(dialect, tables.heads, ("peer_id", "kind", "entry_id")),
)
UPSERT_CLOCK_UNSIGNED = Statement(
    "upsert_clock_unsigned",
    ("session_id", "clock_id", "hash", "updated_at"),
    lambda dialect: _upsert_unsigned(dialect, tables.clocks, ("session_id", "clock_id")),
)
HEAD_SEQUENCE = Statement(
    "head_sequence",
    ("peer_id", "kind", "entry_id"),
    lambda _: (
        sa.select(tables.heads.c.sequence)
        .where(*_equal(tables.heads, ("peer_id", "kind", "entry_id")))
        .with_for_update()
    ),
)
CLOCK_SEQUENCE = Statement(
    "clock_sequence",
    ("session_id", "clock_id"),
    lambda _: (
        sa.select(tables.clocks.c.sequence)
        .where(*_equal(tables.clocks, ("session_id", "clock_id")))
        .with_for_update()
    ),
)
"""The number of an id's latest change of current version (for a signed change's next)."""
_SESSION_ROW = ("session_id", "peer_id", "app_id", "started_at", "signature")
INSERT_SESSION = Statement(
    "insert_session",
    _SESSION_ROW,
    lambda _: tables.sessions.insert().values(_binds(*_SESSION_ROW)),
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
        insert_for(dialect, tables.logs)
        .values(_binds(*_LOG_ROW))
        .on_conflict_do_nothing(index_elements=["session_id", "resource_id"])
        .returning(tables.logs.c.id)
    ),
)
INSERT_LOG_REF = Statement(
    "insert_log_ref",
    ("log_id", "role", "peer_id", "entry_id", "hash"),
    lambda _: tables.log_refs.insert().values(
        _binds("log_id", "role", "peer_id", "entry_id", "hash")
    ),
)
_MIRROR_ROW = ("root", "hash")
INSERT_MIRROR_PENDING = Statement(
    "insert_mirror_pending",
    _MIRROR_ROW,
    lambda dialect: (
        insert_for(dialect, tables.mirror_pending)
        .values(_binds(*_MIRROR_ROW))
        .on_conflict_do_nothing()
    ),
)
DELETE_MIRROR_PENDING = Statement(
    "delete_mirror_pending",
    _MIRROR_ROW,
    lambda _: tables.mirror_pending.delete().where(*_equal(tables.mirror_pending, _MIRROR_ROW)),
)
_SAVEPOINT_NAME = "auki_session_nested"


def _savepoint_clause(clause: str) -> Executable:
    from sqlalchemy.sql import elements

    made: Executable = getattr(elements, clause)(_SAVEPOINT_NAME)
    return made


SAVEPOINT = Statement(
    "savepoint",
    (),
    lambda _: _savepoint_clause("SavepointClause"),
)
RELEASE = Statement(
    "release",
    (),
    lambda _: _savepoint_clause("ReleaseSavepointClause"),
)
ROLLBACK_TO = Statement(
    "rollback_to",
    (),
    lambda _: _savepoint_clause("RollbackToSavepointClause"),
)

# --- reading entries --------------------------------------------------------------------------


def _entry_columns() -> tuple[Any, ...]:
    """The columns of an `Entry`, in its field order."""
    entries = tables.entries
    return (
        entries.c.kind,
        entries.c.peer_id,
        entries.c.entry_id,
        entries.c.hash,
        entries.c.session_id,
        entries.c.canonical_json,
        entries.c.registered_at,
        entries.c.signature,
    )


ENTRY = Statement(
    "entry",
    ("hash",),
    lambda _: sa.select(*_entry_columns()).where(tables.entries.c.hash == sa.bindparam("hash")),
)
ENTRY_PREFIX = Statement(
    "entry_prefix",
    ("low", "high", "limit"),
    lambda _: (
        sa.select(*_entry_columns())
        .where(
            tables.entries.c.hash >= sa.bindparam("low"),
            tables.entries.c.hash < sa.bindparam("high"),
        )
        .order_by(tables.entries.c.hash)
        .limit(sa.bindparam("limit"))
        .offset(_constant(0))
    ),
)
CURRENT = Statement(
    "current",
    ("peer_id", "kind", "entry_id"),
    lambda _: (
        sa.select(*_entry_columns())
        .join(tables.heads, tables.heads.c.hash == tables.entries.c.hash)
        .where(*_equal(tables.heads, ("peer_id", "kind", "entry_id")))
    ),
)
CURRENT_HASHES = Statement(
    "current_hashes",
    (),
    lambda _: sa.union_all(sa.select(tables.heads.c.hash), sa.select(tables.clocks.c.hash)),
)
HEAD_HASH = Statement(
    "head_hash",
    ("peer_id", "kind", "entry_id"),
    lambda _: sa.select(tables.heads.c.hash).where(
        *_equal(tables.heads, ("peer_id", "kind", "entry_id"))
    ),
)
CLOCK_HASH = Statement(
    "clock_hash",
    ("session_id", "clock_id"),
    lambda _: sa.select(tables.clocks.c.hash).where(
        *_equal(tables.clocks, ("session_id", "clock_id"))
    ),
)


MIRROR_PENDING = Statement(
    "mirror_pending",
    ("root",),
    lambda _: (
        sa.select(
            tables.entries.c.kind,
            tables.entries.c.peer_id,
            tables.entries.c.entry_id,
            tables.entries.c.hash,
        )
        .add_columns(tables.entries.c.canonical_json)
        .join(tables.mirror_pending, tables.mirror_pending.c.hash == tables.entries.c.hash)
        .where(tables.mirror_pending.c.root == sa.bindparam("root"))
    ),
)
"""The versions whose registry files a crash may have left unwritten in a root."""
MIRROR_PENDING_HASHES = Statement(
    "mirror_pending_hashes",
    ("root",),
    lambda _: sa.select(tables.mirror_pending.c.hash).where(
        tables.mirror_pending.c.root == sa.bindparam("root")
    ),
)


_Variants = Callable[..., "Statement"]
VARIANTS: list[tuple[_Variants, tuple[tuple[Any, ...], ...]]] = []
"""Each function making statements, with the arguments of every statement it makes (the
catalog of compiled statements holds them all)."""


def _in_order(names: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Every choice of `names`, each in their order."""
    return tuple(
        tuple(name for name, chosen in zip(names, choice, strict=True) if chosen)
        for choice in itertools.product((False, True), repeat=len(names))
    )


def _filtered(
    name: str, table: str, query: Callable[[], Select[Any]], filters: tuple[str, ...]
) -> _Variants:
    """A query declared once, with optional equality filters on columns of the table named
    `table`: calling the result with the names of the filters to bind (some of `filters`, in
    their order) gives that variant's Statement (kept)."""

    @functools.cache
    def variant(*given: str) -> Statement:
        return Statement(
            f"{name}{given}",
            given,
            lambda _: query().where(*_equal(getattr(tables, table), given)),
        )

    VARIANTS.append((variant, _in_order(filters)))
    return variant


current_entries = _filtered(
    "current_entries",
    "heads",
    lambda: (
        sa.select(*_entry_columns())
        .join(tables.heads, tables.heads.c.hash == tables.entries.c.hash)
        .order_by(tables.heads.c.peer_id, tables.heads.c.kind, tables.heads.c.entry_id)
    ),
    filters=("peer_id", "kind", "entry_id"),
)
"""The current version of each frame, sensor and detector id, by peer, kind and id (filters:
`peer_id`, `kind`)."""
history = _filtered(
    "history",
    "entries",
    lambda: sa.select(*_entry_columns()).order_by(
        tables.entries.c.peer_id,
        tables.entries.c.kind,
        tables.entries.c.session_id,
        tables.entries.c.entry_id,
        tables.entries.c.id,
    ),
    filters=("peer_id", "kind", "entry_id"),
)
"""Every stored version, grouped by peer, kind, session and id, each id's in the order first
registered (filters: `peer_id`, `kind`, `entry_id`)."""
EVERY_ENTRY = Statement(
    "every_entry", (), lambda _: sa.select(*_entry_columns()).order_by(tables.entries.c.id)
)
"""Every stored version in the order stored: a scan of the table in its primary key's order,
with no sort (`history()`'s order sorts the whole table in a temporary b-tree first: on SQLite
a file as large as the entries, and no row until it is sorted)."""
clock_list = _filtered(
    "clocks",
    "clocks",
    lambda: (
        sa.select(*_entry_columns())
        .join(tables.clocks, tables.clocks.c.hash == tables.entries.c.hash)
        .order_by(tables.clocks.c.session_id, tables.entries.c.id)
    ),
    filters=("session_id", "clock_id"),
)
"""The current version of each session clock, in the order registered (filter: `session_id`)."""

# --- reading sessions and logs ----------------------------------------------------------------


def _session_columns() -> tuple[Any, ...]:
    sessions = tables.sessions
    return (
        sessions.c.session_id,
        sessions.c.peer_id,
        sessions.c.app_id,
        sessions.c.started_at,
        sessions.c.signature,
    )


session_list = _filtered(
    "sessions",
    "sessions",
    lambda: sa.select(*_session_columns()).order_by(tables.sessions.c.session_id),
    filters=("peer_id", "session_id"),
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
            sa.select(*_session_columns())
            .where(
                *_equal(tables.sessions, filters),
                sa.func.lower(
                    sa.func.substr(
                        tables.sessions.c.session_id, _constant(1), sa.bindparam("length")
                    )
                )
                == sa.bindparam("prefix"),
            )
            .order_by(tables.sessions.c.session_id)
            .limit(sa.bindparam("limit"))
            .offset(_constant(0))
        ),
    )


VARIANTS.append((session_prefix, _in_order(("peer_id",))))


def _session_summaries() -> Select[Any]:
    return sa.select(
        *_session_columns(),
        sa.select(sa.func.count())
        .where(tables.clocks.c.session_id == tables.sessions.c.session_id)
        .scalar_subquery(),
        sa.select(sa.func.count())
        .where(tables.logs.c.session_id == tables.sessions.c.session_id)
        .scalar_subquery(),
    )


session_summaries = _filtered(
    "session_summaries",
    "sessions",
    lambda: _session_summaries().order_by(tables.sessions.c.session_id),
    filters=("peer_id", "session_id"),
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
            .where(*_equal(tables.sessions, filters))
            .order_by(tables.sessions.c.started_at.desc(), tables.sessions.c.session_id.desc())
            .limit(sa.bindparam("limit"))
            .offset(_constant(0))
        ),
    )


VARIANTS.append((latest_sessions, _in_order(("peer_id",))))


def _logs() -> Select[Any]:
    return (
        sa.select(
            tables.logs.c.session_id,
            tables.sessions.c.peer_id,
            tables.logs.c.resource_id,
            tables.logs.c.kind,
            tables.logs.c.manifest_json,
            tables.logs.c.head_json,
            tables.logs.c.registered_at,
            tables.logs.c.signature,
        )
        .join(tables.sessions, tables.sessions.c.session_id == tables.logs.c.session_id)
        .order_by(tables.logs.c.id)
    )


log_list = _filtered("logs", "logs", _logs, filters=("session_id",))
"""Logs in the order registered, with their session's peer (filter: `session_id`)."""

SESSION_RESOURCES = Statement(
    "session_resources",
    ("session_id",),
    lambda _: sa.select(tables.logs.c.resource_id).where(
        tables.logs.c.session_id == sa.bindparam("session_id")
    ),
)
LOG_EXISTS = Statement(
    "log_exists",
    ("session_id", "resource_id"),
    lambda _: sa.select(tables.logs.c.id).where(
        *_equal(tables.logs, ("session_id", "resource_id"))
    ),
)
LOGS_USING = Statement(
    "logs_using",
    ("hash",),
    lambda _: _logs().where(
        tables.logs.c.id.in_(
            sa.select(tables.log_refs.c.log_id).where(
                tables.log_refs.c.hash == sa.bindparam("hash")
            )
        )
    ),
)

# --- summaries and checks ---------------------------------------------------------------------


def _current_count(kind: str) -> Any:
    return (
        sa.select(sa.func.count())
        .where(
            tables.heads.c.peer_id == tables.peers.c.peer_id, tables.heads.c.kind == _constant(kind)
        )
        .scalar_subquery()
    )


def _binding(column: Any, bindings: bool) -> Any:
    if not bindings:
        return sa.literal_column("NULL")
    return (
        sa.select(column)
        .where(tables.fleet_bindings.c.peer_id == tables.peers.c.peer_id)
        .scalar_subquery()
    )


@functools.cache
def peer_summaries(signatures: bool, bindings: bool) -> Statement:
    """Every peer with its current frames, sensors, detectors, sessions, signed entry versions
    and entry versions (a store older than schema 0004 has no signatures: 0 signed), and in a
    fleet database the authority it is bound under and its last push (NULL elsewhere, and
    before schema 0005)."""

    def signed() -> Any:
        if not signatures:
            return _constant(0)
        entries = tables.entries
        return (
            sa.select(sa.func.count())
            .where(entries.c.peer_id == tables.peers.c.peer_id, entries.c.signature.is_not(None))
            .scalar_subquery()
        )

    return Statement(
        f"peer_summaries({signatures}, {bindings})",
        (),
        lambda _: sa.select(
            tables.peers.c.peer_id,
            tables.peers.c.first_seen_at,
            *(_current_count(kind) for kind in ("frame", "sensor", "detector")),
            sa.select(sa.func.count())
            .where(tables.sessions.c.peer_id == tables.peers.c.peer_id)
            .scalar_subquery(),
            signed(),
            sa.select(sa.func.count())
            .where(tables.entries.c.peer_id == tables.peers.c.peer_id)
            .scalar_subquery(),
            _binding(tables.fleet_bindings.c.authority, bindings),
            _binding(tables.fleet_bindings.c.last_push_at, bindings),
        ).order_by(tables.peers.c.peer_id),
    )


VARIANTS.append((peer_summaries, tuple(itertools.product((False, True), repeat=2))))
CHANGES = Statement(
    "changes",
    (),
    lambda _: sa.union_all(
        sa.select(
            tables.heads.c.peer_id,
            tables.heads.c.kind,
            tables.heads.c.entry_id,
            tables.heads.c.hash,
            tables.heads.c.sequence,
            tables.heads.c.signature,
            sa.cast(sa.null(), sa.Text).label("session_id"),
        ),
        sa.select(
            tables.sessions.c.peer_id,
            _constant("clock"),
            tables.clocks.c.clock_id,
            tables.clocks.c.hash,
            tables.clocks.c.sequence,
            tables.clocks.c.signature,
            tables.clocks.c.session_id,
        ).join(tables.sessions, tables.sessions.c.session_id == tables.clocks.c.session_id),
    ),
)
"""Every current version (heads, and session clocks with their session's peer): the change
that made it current, its sequence number and signature."""
PEER_APPS = Statement(
    "peer_apps",
    (),
    lambda _: (
        sa.select(tables.sessions.c.peer_id, tables.sessions.c.app_id)
        .distinct()
        .order_by(tables.sessions.c.peer_id, tables.sessions.c.app_id)
    ),
)
TABLE_COUNTS = Statement(
    "table_counts",
    (),
    lambda _: sa.select(
        *(
            sa.select(sa.func.count()).select_from(table).scalar_subquery()
            for table in (tables.peers, tables.sessions, tables.logs, tables.clocks)
        )
    ),
)
"""Rows in peers, sessions, logs and clocks."""
KIND_COUNTS = Statement(
    "kind_counts",
    (),
    lambda _: sa.union_all(
        sa.select(_constant("versions"), tables.entries.c.kind, sa.func.count()).group_by(
            tables.entries.c.kind
        ),
        sa.select(_constant("ids"), tables.heads.c.kind, sa.func.count()).group_by(
            tables.heads.c.kind
        ),
    ),
)
"""Per kind: ("versions", kind, stored versions) and ("ids", kind, ids with a current one)."""
MISFILED_HEADS = Statement(
    "misfiled_heads",
    (),
    lambda _: (
        sa.select(
            tables.heads.c.peer_id,
            tables.heads.c.kind,
            tables.heads.c.entry_id,
            tables.heads.c.hash,
        )
        .join(tables.entries, tables.entries.c.hash == tables.heads.c.hash)
        .where(
            sa.or_(
                tables.entries.c.peer_id != tables.heads.c.peer_id,
                tables.entries.c.kind != tables.heads.c.kind,
                tables.entries.c.entry_id != tables.heads.c.entry_id,
            )
        )
    ),
)
"""Heads naming a version of another id, kind or peer."""
MISFILED_CLOCKS = Statement(
    "misfiled_clocks",
    (),
    lambda _: (
        sa.select(tables.clocks.c.session_id, tables.clocks.c.clock_id, tables.clocks.c.hash)
        .join(tables.entries, tables.entries.c.hash == tables.clocks.c.hash)
        .where(
            sa.or_(
                tables.entries.c.kind != _constant("clock"),
                tables.entries.c.entry_id != tables.clocks.c.clock_id,
                sa.func.coalesce(tables.entries.c.session_id, _constant(""))
                != tables.clocks.c.session_id,
                tables.entries.c.peer_id
                != sa.select(tables.sessions.c.peer_id)
                .where(tables.sessions.c.session_id == tables.clocks.c.session_id)
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
        sa.select(
            tables.entries.c.peer_id,
            tables.entries.c.entry_id,
            tables.entries.c.hash,
            tables.sessions.c.peer_id,
        )
        .join(tables.sessions, tables.sessions.c.session_id == tables.entries.c.session_id)
        .where(tables.sessions.c.peer_id != tables.entries.c.peer_id)
    ),
)
"""Clock versions of one peer filed in another peer's session."""
UNORDERED_CHANGES = Statement(
    "unordered_changes",
    (),
    lambda _: sa.union_all(
        sa.select(_constant("head"), tables.heads.c.peer_id, tables.heads.c.entry_id).where(
            tables.heads.c.sequence.is_(None)
        ),
        sa.select(_constant("clock"), tables.clocks.c.session_id, tables.clocks.c.clock_id).where(
            tables.clocks.c.sequence.is_(None)
        ),
    ),
)
"""Current versions without the sequence number that orders their changes."""
UNBOUND_PEERS = Statement(
    "unbound_peers",
    (),
    lambda _: (
        sa.select(tables.peers.c.peer_id)
        .where(~sa.exists().where(tables.fleet_bindings.c.peer_id == tables.peers.c.peer_id))
        .order_by(tables.peers.c.peer_id)
    ),
)
"""Peers a fleet database holds without a binding (pushed before schema 0005)."""
INTEGRITY_CHECK = Statement("integrity_check", (), lambda _: sa.text("PRAGMA integrity_check"))
FOREIGN_KEY_CHECK = Statement(
    "foreign_key_check", (), lambda _: sa.text("PRAGMA foreign_key_check")
)

# --- the schema -------------------------------------------------------------------------------


def _has_version_table(dialect: Dialect) -> Executable:
    name = tables.VERSION_TABLE
    if dialect.name == "postgresql":
        # One query, where an inspector costs several catalog round trips.
        return sa.text(f"SELECT 1 WHERE to_regclass('{name}') IS NOT NULL")
    return sa.text(f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{name}'")


HAS_VERSION_TABLE = Statement("has_version_table", (), _has_version_table)
"""A row when the database has our schema version table."""
SCHEMA_REVISION = Statement(
    "schema_revision", (), lambda _: sa.text(f"SELECT version_num FROM {tables.VERSION_TABLE}")
)


def _any_table(dialect: Dialect) -> Executable:
    if dialect.name == "postgresql":
        # pg_class sees every table, information_schema only those the user may use.
        return sa.text(
            "SELECT 1 FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n "
            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
            "AND c.relkind IN ('r', 'p') LIMIT 1"
        )
    return sa.text(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' "
        "ESCAPE '~' LIMIT 1"
    )


ANY_TABLE = Statement("any_table", (), _any_table)
"""A row when the database holds any table (SQLite's own excepted)."""
