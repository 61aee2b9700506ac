"""Alembic environment: runs on the caller's connection, with our own version table."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from auki_session._store.tables import VERSION_TABLE, metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic.ini must set sqlalchemy.url")
    with create_engine(url).begin() as own_connection:
        _run(own_connection)
