"""The schema, declared once with SQLAlchemy Core; migrations must produce exactly this.

Tables looked up only by their primary key are WITHOUT ROWID on SQLite (each row kept once, in
the key's b-tree); other databases ignore the option."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "VERSION_TABLE",
    "clocks",
    "entries",
    "fleet_bindings",
    "fleet_pushes",
    "fleet_rebinds",
    "heads",
    "log_refs",
    "logs",
    "metadata",
    "mirror_pending",
    "peers",
    "sessions",
    "store_identity",
]

VERSION_TABLE = "auki_session_schema_version"

# Row ids of tables that grow with a fleet are 64-bit on a server; on SQLite an INTEGER PRIMARY
# KEY is the 64-bit rowid already (and must be spelt INTEGER to be it).
RowId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

peers = Table(
    "peers",
    metadata,
    Column("peer_id", Text, nullable=False),
    Column("first_seen_at", Text, nullable=False),
    PrimaryKeyConstraint("peer_id"),
)

entries = Table(
    "entries",
    metadata,
    Column("id", RowId, nullable=False),
    Column("hash", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("peer_id", Text, ForeignKey("peers.peer_id"), nullable=False),
    Column("entry_id", Text, nullable=False),
    Column("session_id", Text, ForeignKey("sessions.session_id"), nullable=True),
    Column("canonical_json", Text, nullable=False),
    Column("registered_at", Text, nullable=False),
    Column("signature", Text, nullable=True),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("hash"),
    CheckConstraint("kind IN ('frame', 'sensor', 'detector', 'clock')", name="kind"),
    CheckConstraint("(kind = 'clock') = (session_id IS NOT NULL)", name="clock_session"),
    Index(None, "peer_id", "kind", "entry_id", "id"),
)

heads = Table(
    "heads",
    metadata,
    Column("peer_id", Text, ForeignKey("peers.peer_id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("entry_id", Text, nullable=False),
    Column("hash", Text, ForeignKey("entries.hash"), nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("signature", Text, nullable=True),
    Column("sequence", Integer, nullable=True),
    PrimaryKeyConstraint("peer_id", "kind", "entry_id"),
    CheckConstraint("kind IN ('frame', 'sensor', 'detector')", name="kind"),
    sqlite_with_rowid=False,
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", Text, nullable=False),
    Column("peer_id", Text, ForeignKey("peers.peer_id"), nullable=False),
    Column("app_id", Text, nullable=False),
    Column("started_at", Text, nullable=False),
    Column("signature", Text, nullable=True),
    PrimaryKeyConstraint("session_id"),
    Index(None, "peer_id", "session_id"),
)

clocks = Table(
    "clocks",
    metadata,
    Column("session_id", Text, ForeignKey("sessions.session_id"), nullable=False),
    Column("clock_id", Text, nullable=False),
    Column("hash", Text, ForeignKey("entries.hash"), nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("signature", Text, nullable=True),
    Column("sequence", Integer, nullable=True),
    PrimaryKeyConstraint("session_id", "clock_id"),
    sqlite_with_rowid=False,
)

logs = Table(
    "logs",
    metadata,
    Column("id", RowId, nullable=False),
    Column("session_id", Text, ForeignKey("sessions.session_id"), nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("manifest_json", Text, nullable=False),
    Column("head_json", Text, nullable=False),
    Column("registered_at", Text, nullable=False),
    Column("signature", Text, nullable=True),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("session_id", "resource_id"),
    CheckConstraint("kind IN ('sensor', 'pose', 'time_transform', 'detection')", name="kind"),
)

log_refs = Table(
    "log_refs",
    metadata,
    Column("log_id", RowId, ForeignKey("logs.id"), nullable=False),
    Column("role", Text, nullable=False),
    Column("peer_id", Text, nullable=False),
    Column("entry_id", Text, nullable=False),
    Column("hash", Text, nullable=False),
    PrimaryKeyConstraint("log_id", "role"),
    Index(None, "hash"),
    sqlite_with_rowid=False,
)

store_identity = Table(
    "store_identity",
    metadata,
    Column("store_id", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    PrimaryKeyConstraint("store_id"),
)
"""One row: the random identity minted with the store. A fleet binds a peer with a plain id to
the store that first pushed it (by the identity's digest, so the fleet never holds the secret)."""

fleet_bindings = Table(
    "fleet_bindings",
    metadata,
    Column("peer_id", Text, ForeignKey("peers.peer_id"), nullable=False),
    Column("authority", Text, nullable=False),
    Column("store_digest", Text, nullable=False),
    Column("bound_at", Text, nullable=False),
    Column("last_push_at", Text, nullable=False),
    PrimaryKeyConstraint("peer_id"),
    CheckConstraint("authority IN ('signature', 'store')", name="authority"),
)
"""In a fleet database: who may push each peer's records. `signature` for a key-derived peer id
(its signed records come in from any store; unsigned ones, when a push allows them, only from the
bound store), `store` for any other id (only from the bound store)."""

fleet_rebinds = Table(
    "fleet_rebinds",
    metadata,
    Column("id", RowId, nullable=False),
    Column("peer_id", Text, ForeignKey("peers.peer_id"), nullable=False),
    Column("old_store_digest", Text, nullable=False),
    Column("new_store_digest", Text, nullable=False),
    Column("rebound_by", Text, nullable=False),
    Column("rebound_at", Text, nullable=False),
    PrimaryKeyConstraint("id"),
    Index(None, "peer_id", "id"),
)
"""In a fleet database: every explicit move of a peer's binding to another store, by whom, when."""

fleet_pushes = Table(
    "fleet_pushes",
    metadata,
    Column("store_digest", Text, nullable=False),
    Column("sessions_upto", BigInteger, nullable=False),
    Column("sessions_mark", Text, nullable=True),
    Column("entries_upto", BigInteger, nullable=False),
    Column("entries_mark", Text, nullable=True),
    Column("logs_upto", BigInteger, nullable=False),
    Column("logs_mark", Text, nullable=True),
    Column("heads_count", BigInteger, nullable=True),
    Column("heads_sum", BigInteger, nullable=True),
    Column("clocks_count", BigInteger, nullable=True),
    Column("clocks_sum", BigInteger, nullable=True),
    Column("pushed_at", Text, nullable=False),
    PrimaryKeyConstraint("store_digest"),
)
"""In a fleet database: how far each store's pushes got, so the next push sends only what
changed. Sessions, entries and logs are appended in row order in a store: `*_upto` is the last
row pushed (`*_mark` its session id, hash or session/resource, to notice a store that was
replaced or rewound). A store's heads and clocks only ever gain changes, each raising a
sequence number by one: their count and the sum of their sequences change with every change."""

mirror_pending = Table(
    "mirror_pending",
    metadata,
    Column("root", Text, nullable=False),
    Column("hash", Text, ForeignKey("entries.hash"), nullable=False),
    PrimaryKeyConstraint("root", "hash"),
    sqlite_with_rowid=False,
)
"""Versions committed whose registry file (the Rust SDK's layout) may not be written yet: the
commit adds the row, a later transaction of the same store deletes it once the file is durable,
and the next open writes the file of any row left by a crash. `root` is '' for the root's own
SQLite file, else the absolute storage root of a store opened by URL."""
