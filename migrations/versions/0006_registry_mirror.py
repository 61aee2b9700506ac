"""Registry files committed but perhaps not yet written: `mirror_pending`.

Every registration in a storage root also writes the Rust SDK's registry file
(`registries/<kind>s/<peer>/<id>/<hash>.json`). The file is written after the commit that holds
its version, and the commit records the version here first, so that a crash between the two is
repaired on the next open (which writes the file, then deletes the row). `root` is '' for the
root's own SQLite database, else the absolute storage root of a store opened by URL.

Revision ID: 0006_registry_mirror
Revises: 0005_fleet_authority
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_registry_mirror"
down_revision = "0005_fleet_authority"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mirror_pending",
        sa.Column("root", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hash"], ["entries.hash"], name=op.f("fk_mirror_pending_hash_entries")
        ),
        sa.PrimaryKeyConstraint("root", "hash", name=op.f("pk_mirror_pending")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("mirror_pending")
