"""The few statements whose spelling differs between database servers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect

# pg_advisory_xact_lock key for schema migrations ("auki" in ASCII).
_MIGRATION_LOCK_KEY = 0x61756B69


def insert(connection: Connection, table: Table) -> Any:
    """An INSERT supporting ON CONFLICT for the connection's dialect."""
    return insert_for(connection.dialect, table)


def insert_for(dialect: Dialect, table: Table) -> Any:
    """An INSERT supporting ON CONFLICT for `dialect`."""
    if dialect.name == "postgresql":
        # Imported here: the PostgreSQL dialect costs SQLite-only processes 20 ms at start-up.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)


def lock_for_migration(connection: Connection) -> None:
    """Serialise schema migrations across processes inside the current transaction.

    SQLite needs nothing: the write transaction began with BEGIN IMMEDIATE. PostgreSQL takes a
    transaction-scoped advisory lock.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
