"""Inserting a batch of rows in one statement: on PostgreSQL the rows go in by COPY into a
temporary table and one `INSERT ... SELECT` (a short statement the server plans once, instead
of a multi-row INSERT of thousands of parameters parsed anew each time); elsewhere as a
multi-row INSERT."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, exists, literal, select
from sqlalchemy.schema import CreateTable

from .statements import insert_for

__all__ = ["insert_rows"]

_TEMPORARY = MetaData()


def _staging(table: Table, columns: tuple[str, ...]) -> Table:
    """The temporary table a batch of `table`'s rows is copied into (emptied at commit)."""
    name = f"auki_push_{table.name}"
    existing = _TEMPORARY.tables.get(name)
    if existing is not None and tuple(existing.c.keys()) == columns:
        return existing
    if existing is not None:
        _TEMPORARY.remove(existing)
        name = f"{name}_{len(columns)}"
        existing = _TEMPORARY.tables.get(name)
        if existing is not None:
            return existing
    return Table(
        name,
        _TEMPORARY,
        *(Column(column, table.c[column].type) for column in columns),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DELETE ROWS",
    )


def _copy(connection: Connection, table: Table, rows: list[Any]) -> Table:
    """Copy `rows` into the batch's temporary table on this connection; return that table."""
    columns = tuple(rows[0]._fields)
    staging = _staging(table, columns)
    connection.execute(CreateTable(staging, if_not_exists=True))
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"TRUNCATE {staging.name}")
        names = ", ".join(columns)
        with cursor.copy(f"COPY {staging.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()
    return staging


_COPY_FROM = 200
"""Batches smaller than this go in as a multi-row INSERT: a temporary table costs more."""


def _absent(
    connection: Connection, table: Table, rows: list[Any], unique: tuple[str, ...]
) -> list[Any]:
    """The rows whose `unique` key `table` does not hold (looked up one by one: few rows)."""
    keep = []
    for row in rows:
        query = select(literal(1)).where(*(table.c[name] == getattr(row, name) for name in unique))
        if connection.execute(query).first() is None:
            keep.append(row)
    return keep


def insert_rows(
    connection: Connection,
    table: Table,
    rows: list[Any],
    finish: Callable[[Any], Any],
    unique: tuple[str, ...] = (),
) -> list[Any]:
    """Insert `rows` (named tuples of the same columns, sent as they are) into `table` with the
    statement `finish` makes of a plain insert (its conflict clause and RETURNING); return what
    it returns. Rows whose
    `unique` key the table holds already are left out before the insert, so that they take no
    number from the table's id sequence (PostgreSQL draws one for every row it tries)."""
    if not rows:
        return []
    statement = insert_for(connection.dialect, table)
    if connection.dialect.name != "postgresql" or len(rows) < _COPY_FROM:
        if unique and connection.dialect.name == "postgresql":
            rows = _absent(connection, table, rows, unique)
            if not rows:
                return []
        values = [row._asdict() for row in rows]
        return list(connection.execute(finish(statement), values).all())
    staging = _copy(connection, table, rows)
    columns = list(staging.c.keys())
    rows_in = select(*staging.c)
    if unique:
        held = exists().where(*(table.c[name] == staging.c[name] for name in unique))
        rows_in = rows_in.where(~held)
    statement = statement.from_select(columns, rows_in)
    return list(connection.execute(finish(statement)).all())
