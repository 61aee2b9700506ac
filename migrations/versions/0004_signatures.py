"""Signatures of what a key-derived peer declares, and the store's own order of changes.

Every record a peer made from an Auki wallet writes carries its Ed25519 signature (128 hex
characters, NULL for peers named by a plain id): an entry version (over its canonical JSON), a
change of current version and a session clock's (over a record naming peer, kind, id, hash
and the change's sequence number), a session, a log (over its manifest). Heads and clocks keep
the sequence number of the change that made them current (1, 2, ... per id in this store), so
a fleet orders current versions by the owning store's own sequence, never by wall clocks.

Revision ID: 0004_signatures
Revises: 0003_without_rowid
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_signatures"
down_revision = "0003_without_rowid"
branch_labels = None
depends_on = None

_SIGNED = ("entries", "heads", "clocks", "sessions", "logs")
_SEQUENCED = ("heads", "clocks")


def upgrade() -> None:
    for table in _SIGNED:
        op.add_column(table, sa.Column("signature", sa.Text(), nullable=True))
    for table in _SEQUENCED:
        op.add_column(table, sa.Column("sequence", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in _SEQUENCED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("sequence")
    for table in _SIGNED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("signature")
