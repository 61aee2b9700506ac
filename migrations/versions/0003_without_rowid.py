"""Heads, clocks and log refs stored in primary-key order (SQLite WITHOUT ROWID).

These tables are only ever looked up by their primary key (or, for log refs, by hash), so
SQLite keeps each row once, in the key's b-tree, instead of a rowid table plus a separate
index on the key: the current version of an id is one b-tree search, and a store of a million
entries is about 6% smaller. Other databases have no rowid tables; there this changes nothing.

Revision ID: 0003_without_rowid
Revises: 0002_views
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_without_rowid"
down_revision = "0002_views"
branch_labels = None
depends_on = None

_VIEWS = {
    "current_entries": """
        CREATE VIEW current_entries AS
        SELECT h.peer_id, h.kind, h.entry_id, e.hash, e.canonical_json,
               e.registered_at AS first_registered_at, h.updated_at AS current_since
        FROM heads AS h JOIN entries AS e ON e.hash = h.hash
        """,
    "session_logs": """
        CREATE VIEW session_logs AS
        SELECT s.peer_id, s.app_id, l.session_id, l.resource_id, l.kind, r.role,
               r.peer_id AS ref_peer_id, r.entry_id AS ref_id, r.hash AS ref_hash,
               l.registered_at
        FROM logs AS l
        JOIN sessions AS s ON s.session_id = l.session_id
        JOIN log_refs AS r ON r.log_id = l.id
        """,
}


def _heads(name: str, with_rowid: bool) -> None:
    op.create_table(
        name,
        sa.Column("peer_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('frame', 'sensor', 'detector')", name=op.f("ck_heads_kind")),
        sa.ForeignKeyConstraint(["hash"], ["entries.hash"], name="fk_heads_hash_entries"),
        sa.ForeignKeyConstraint(["peer_id"], ["peers.peer_id"], name="fk_heads_peer_id_peers"),
        sa.PrimaryKeyConstraint("peer_id", "kind", "entry_id", name="pk_heads"),
        sqlite_with_rowid=with_rowid,
    )


def _clocks(name: str, with_rowid: bool) -> None:
    op.create_table(
        name,
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("clock_id", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["hash"], ["entries.hash"], name="fk_clocks_hash_entries"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.session_id"], name="fk_clocks_session_id_sessions"
        ),
        sa.PrimaryKeyConstraint("session_id", "clock_id", name="pk_clocks"),
        sqlite_with_rowid=with_rowid,
    )


def _log_refs(name: str, with_rowid: bool) -> None:
    op.create_table(
        name,
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("peer_id", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["log_id"], ["logs.id"], name="fk_log_refs_log_id_logs"),
        sa.PrimaryKeyConstraint("log_id", "role", name="pk_log_refs"),
        sqlite_with_rowid=with_rowid,
    )


def _rebuild(with_rowid: bool) -> None:
    """Recreate the three tables with or without rowids, keeping every row. Nothing refers to
    them, so each can be dropped and replaced; the views over them are dropped meanwhile."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for view in _VIEWS:
        op.execute(f"DROP VIEW {view}")
    for table, create in (("heads", _heads), ("clocks", _clocks), ("log_refs", _log_refs)):
        create(f"{table}_rebuilt", with_rowid)
        op.execute(f"INSERT INTO {table}_rebuilt SELECT * FROM {table}")
        op.drop_table(table)
        op.rename_table(f"{table}_rebuilt", table)
    op.create_index("ix_log_refs_hash", "log_refs", ["hash"])
    for sql in _VIEWS.values():
        op.execute(sql)


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)
