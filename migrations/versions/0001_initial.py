"""Initial schema: peers, registry entries and their heads, sessions, clocks, logs.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peers",
        sa.Column("peer_id", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("peer_id", name="pk_peers"),
    )
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("peer_id", sa.Text(), nullable=False),
        sa.Column("app_id", sa.Text(), nullable=False),
        sa.Column("started_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["peer_id"], ["peers.peer_id"], name="fk_sessions_peer_id_peers"),
        sa.PrimaryKeyConstraint("session_id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_peer_id_session_id", "sessions", ["peer_id", "session_id"])
    op.create_table(
        "entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("peer_id", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=True),
        sa.Column("canonical_json", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('frame', 'sensor', 'detector', 'clock')", name=op.f("ck_entries_kind")
        ),
        sa.CheckConstraint(
            "(kind = 'clock') = (session_id IS NOT NULL)", name=op.f("ck_entries_clock_session")
        ),
        sa.ForeignKeyConstraint(["peer_id"], ["peers.peer_id"], name="fk_entries_peer_id_peers"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.session_id"], name="fk_entries_session_id_sessions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_entries"),
        sa.UniqueConstraint("hash", name="uq_entries_hash"),
    )
    op.create_index(
        "ix_entries_peer_id_kind_entry_id_id", "entries", ["peer_id", "kind", "entry_id", "id"]
    )
    op.create_table(
        "heads",
        sa.Column("peer_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('frame', 'sensor', 'detector')", name=op.f("ck_heads_kind")),
        sa.ForeignKeyConstraint(["hash"], ["entries.hash"], name="fk_heads_hash_entries"),
        sa.ForeignKeyConstraint(["peer_id"], ["peers.peer_id"], name="fk_heads_peer_id_peers"),
        sa.PrimaryKeyConstraint("peer_id", "kind", "entry_id", name="pk_heads"),
    )
    op.create_table(
        "clocks",
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("clock_id", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["hash"], ["entries.hash"], name="fk_clocks_hash_entries"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.session_id"], name="fk_clocks_session_id_sessions"
        ),
        sa.PrimaryKeyConstraint("session_id", "clock_id", name="pk_clocks"),
    )
    op.create_table(
        "logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("manifest_json", sa.Text(), nullable=False),
        sa.Column("head_json", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('sensor', 'pose', 'time_transform', 'detection')", name=op.f("ck_logs_kind")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.session_id"], name="fk_logs_session_id_sessions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_logs"),
        sa.UniqueConstraint("session_id", "resource_id", name="uq_logs_session_id_resource_id"),
    )
    op.create_table(
        "log_refs",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("peer_id", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["log_id"], ["logs.id"], name="fk_log_refs_log_id_logs"),
        sa.PrimaryKeyConstraint("log_id", "role", name="pk_log_refs"),
    )
    op.create_index("ix_log_refs_hash", "log_refs", ["hash"])


def downgrade() -> None:
    for table in ("log_refs", "logs", "clocks", "heads", "entries", "sessions", "peers"):
        op.drop_table(table)
