"""Views for the common offline questions: current entries, and session logs with their refs.

Revision ID: 0002_views
Revises: 0001_initial
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002_views"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE VIEW current_entries AS
        SELECT h.peer_id, h.kind, h.entry_id, e.hash, e.canonical_json,
               e.registered_at AS first_registered_at, h.updated_at AS current_since
        FROM heads AS h JOIN entries AS e ON e.hash = h.hash
        """
    )
    op.execute(
        """
        CREATE VIEW session_logs AS
        SELECT s.peer_id, s.app_id, l.session_id, l.resource_id, l.kind, r.role,
               r.peer_id AS ref_peer_id, r.entry_id AS ref_id, r.hash AS ref_hash,
               l.registered_at
        FROM logs AS l
        JOIN sessions AS s ON s.session_id = l.session_id
        JOIN log_refs AS r ON r.log_id = l.id
        """
    )


def downgrade() -> None:
    op.execute("DROP VIEW session_logs")
    op.execute("DROP VIEW current_entries")
