"""A store's own identity, a fleet's bindings of peers to stores, 64-bit row ids.

Each store mints a random identity (`store_identity`, one row) when it is created or upgraded
here. A fleet database binds every peer to the store that first pushed it (`fleet_bindings`,
by the identity's SHA-256 digest): records of a plain peer id are accepted only from that
store, and a key-derived peer id's only with its signature. Operators move a binding
explicitly; each move is kept in `fleet_rebinds`. `fleet_pushes` keeps how far each store's
pushes got, so that the next push sends only what changed. Current versions are ordered by
the owning store's sequence alone: a head or clock written before sequences were kept gets
sequence 1 (one known change). On PostgreSQL, the row ids of entries, logs and log refs become
64-bit (concurrent pushes consume ids they do not use); SQLite's rowids are 64-bit already.

Revision ID: 0005_fleet_authority
Revises: 0004_signatures
Create Date: 2026-12-01
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005_fleet_authority"
down_revision = "0004_signatures"
branch_labels = None
depends_on = None

_WIDENED = (("entries", "id"), ("logs", "id"), ("log_refs", "log_id"))
_SEQUENCES = ("entries_id_seq", "logs_id_seq")


def upgrade() -> None:
    store = op.create_table(
        "store_identity",
        sa.Column("store_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_store_identity")),
    )
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    op.bulk_insert(store, [{"store_id": secrets.token_hex(16), "created_at": now}])
    op.create_table(
        "fleet_bindings",
        sa.Column("peer_id", sa.Text(), nullable=False),
        sa.Column("authority", sa.Text(), nullable=False),
        sa.Column("store_digest", sa.Text(), nullable=False),
        sa.Column("bound_at", sa.Text(), nullable=False),
        sa.Column("last_push_at", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "authority IN ('signature', 'store')", name=op.f("ck_fleet_bindings_authority")
        ),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["peers.peer_id"], name=op.f("fk_fleet_bindings_peer_id_peers")
        ),
        sa.PrimaryKeyConstraint("peer_id", name=op.f("pk_fleet_bindings")),
    )
    row_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "fleet_rebinds",
        sa.Column("id", row_id, nullable=False),
        sa.Column("peer_id", sa.Text(), nullable=False),
        sa.Column("old_store_digest", sa.Text(), nullable=False),
        sa.Column("new_store_digest", sa.Text(), nullable=False),
        sa.Column("rebound_by", sa.Text(), nullable=False),
        sa.Column("rebound_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["peers.peer_id"], name=op.f("fk_fleet_rebinds_peer_id_peers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_rebinds")),
    )
    op.create_index(op.f("ix_fleet_rebinds_peer_id_id"), "fleet_rebinds", ["peer_id", "id"])
    op.create_table(
        "fleet_pushes",
        sa.Column("store_digest", sa.Text(), nullable=False),
        sa.Column("sessions_upto", sa.BigInteger(), nullable=False),
        sa.Column("sessions_mark", sa.Text(), nullable=True),
        sa.Column("entries_upto", sa.BigInteger(), nullable=False),
        sa.Column("entries_mark", sa.Text(), nullable=True),
        sa.Column("logs_upto", sa.BigInteger(), nullable=False),
        sa.Column("logs_mark", sa.Text(), nullable=True),
        sa.Column("heads_count", sa.BigInteger(), nullable=True),
        sa.Column("heads_sum", sa.BigInteger(), nullable=True),
        sa.Column("clocks_count", sa.BigInteger(), nullable=True),
        sa.Column("clocks_sum", sa.BigInteger(), nullable=True),
        sa.Column("pushed_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("store_digest", name=op.f("pk_fleet_pushes")),
    )
    for table in ("heads", "clocks"):
        op.execute(f"UPDATE {table} SET sequence = 1 WHERE sequence IS NULL")
    if op.get_bind().dialect.name == "postgresql":
        _retype("BIGINT")
        for sequence in _SEQUENCES:
            op.execute(f"ALTER SEQUENCE IF EXISTS {sequence} AS BIGINT")


def _retype(type_name: str) -> None:
    """Change the row id columns' type on PostgreSQL, which refuses while a view reads them:
    the view is dropped and created again from its own stored definition."""
    bind = op.get_bind()
    definition = bind.exec_driver_sql("SELECT pg_get_viewdef('session_logs'::regclass)").scalar()
    op.execute("DROP VIEW session_logs")
    for table, column in _WIDENED:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_name}")
    op.execute(f"CREATE VIEW session_logs AS {definition}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _retype("INTEGER")
    op.drop_table("fleet_pushes")
    op.drop_index(op.f("ix_fleet_rebinds_peer_id_id"), table_name="fleet_rebinds")
    op.drop_table("fleet_rebinds")
    op.drop_table("fleet_bindings")
    op.drop_table("store_identity")
