"""Bringing a database to the schema this code knows, importing alembic only when needed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from ..errors import SchemaVersionError, StoreError
from .engines import for_writing
from .tables import VERSION_TABLE

__all__ = [
    "BEFORE_BINDINGS",
    "BEFORE_SIGNATURES",
    "HEAD",
    "REVISIONS",
    "EmptyDatabaseError",
    "check_known",
    "check_readable",
    "current_revision",
    "ensure_schema",
    "upgrade",
]

# pg_advisory_xact_lock key for schema migrations ("auki" in ASCII).
_MIGRATION_LOCK_KEY = 0x61756B69

# Every revision this code knows, oldest first; the last is the schema the code runs on.
REVISIONS = (
    "0001_initial",
    "0002_views",
    "0003_without_rowid",
    "0004_signatures",
    "0005_fleet_authority",
    "0006_registry_mirror",
)
HEAD = REVISIONS[-1]
BEFORE_SIGNATURES = REVISIONS[: REVISIONS.index("0004_signatures")]
"""Revisions whose tables hold no signatures (summaries of such stores count none)."""
BEFORE_BINDINGS = REVISIONS[: REVISIONS.index("0005_fleet_authority")]
"""Revisions without store identities and fleet bindings."""


def migrations_dir() -> Path:
    """The alembic scripts: inside the wheel, or at the top of a source checkout."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "_migrations"
    if packaged.is_dir():
        return packaged
    return package.parent / "migrations"


def current_revision(connection: Connection) -> str | None:
    """The database's schema revision, or None for a database without our schema."""
    if connection.dialect.name == "postgresql":
        # One query, where the inspector's has_table costs several catalog round trips.
        found = connection.execute(text(f"SELECT to_regclass('{VERSION_TABLE}')")).scalar()
        if found is None:
            return None
    elif not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    return rows[0][0] if rows else None


def check_known(revision: str | None, where: str) -> None:
    """Refuse a revision this code does not know (a newer release wrote it), naming both."""
    if revision is not None and revision not in REVISIONS:
        raise SchemaVersionError(
            f"{where}: database schema revision {revision!r} is unknown to this auki-session, "
            f"whose newest is {HEAD!r}: a newer auki-session wrote it; upgrade to open it "
            "(the file was left untouched)"
        )


class EmptyDatabaseError(StoreError):
    """A database with no tables at all: a store being created, or one never used."""


def check_readable(engine: Engine, where: str) -> None:
    """Refuse, without writing, a database that lacks our schema or has a newer one."""
    with engine.connect() as connection:
        revision = current_revision(connection)
        empty = revision is None and not _has_foreign_tables(connection)
        connection.rollback()
    if empty:
        raise EmptyDatabaseError(
            f"{where}: no auki-session schema yet: the database is empty (a store being "
            "created, or one never used)"
        )
    if revision is None:
        raise StoreError(f"{where}: not an auki-session database (no schema version)")
    check_known(revision, where)


def _has_foreign_tables(connection: Connection) -> bool:
    """Whether a database without our version table already holds other tables."""
    return bool(inspect(connection).get_table_names())


def ensure_schema(engine: Engine, where: str) -> None:
    """Create or upgrade the schema so it is at HEAD; safe when processes race to do it."""
    with engine.connect() as connection:
        revision = current_revision(connection)
        connection.rollback()
    if revision == HEAD:
        return
    check_known(revision, where)
    writing = for_writing(engine.connect())
    with writing as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            # Serialise migrations across processes (SQLite's BEGIN IMMEDIATE already does).
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        revision = current_revision(connection)
        if revision == HEAD:
            return
        check_known(revision, where)
        if revision is None and _has_foreign_tables(connection):
            raise StoreError(
                f"{where}: not an auki-session database (it has tables but no "
                f"{VERSION_TABLE} table)"
            )
        upgrade(connection, "head")


def upgrade(connection: Connection, target: str) -> None:
    """Run alembic's upgrade to `target` on an open connection, inside its transaction."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    command.upgrade(config, target)
