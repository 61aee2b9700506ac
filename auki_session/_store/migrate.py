"""Bringing a database to the schema this code knows, importing alembic only when needed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SchemaVersionError, StoreError
from . import statements as sql

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from .plain import Run

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


def current_revision(run: Run) -> str | None:
    """The database's schema revision, or None for a database without our schema."""
    if run.one(sql.HAS_VERSION_TABLE) is None:
        return None
    found = run.one(sql.SCHEMA_REVISION)
    return None if found is None or found[0] is None else str(found[0])


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


def check_readable(run: Run, where: str) -> str:
    """Refuse, without writing, a database that lacks our schema or has a newer one; returns
    its revision."""
    revision = current_revision(run)
    if revision is None and run.one(sql.ANY_TABLE) is None:
        raise EmptyDatabaseError(
            f"{where}: no auki-session schema yet: the database is empty (a store being "
            "created, or one never used)"
        )
    if revision is None:
        raise StoreError(f"{where}: not an auki-session database (no schema version)")
    check_known(revision, where)
    return revision


def ensure_schema(engine: Engine, where: str) -> None:
    """Create or upgrade the schema so it is at HEAD; safe when processes race to do it."""
    from sqlalchemy import text

    from .engines import for_writing
    from .runner import Runner
    from .tables import VERSION_TABLE

    with engine.connect() as connection:
        revision = current_revision(Runner(connection))
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
        run = Runner(connection)
        revision = current_revision(run)
        if revision == HEAD:
            return
        check_known(revision, where)
        if revision is None and run.one(sql.ANY_TABLE) is not None:
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
