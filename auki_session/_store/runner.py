"""The one module that runs SQL on a DB-API connection: `statements` compiled once per dialect.

Building and executing a statement through SQLAlchemy costs tens of microseconds, more than
SQLite takes to run it. The store's hot paths therefore declare each statement once with Core
(so every dialect gets its own spelling), compile it once per dialect, and execute the SQL text
on the DB-API connection of the SQLAlchemy connection that holds the transaction. A dialect whose
compiled statement needs bind processing gets the plain SQLAlchemy execution instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from .plain import Rows
from .statements import Statement

__all__ = ["Runner"]


class Compiled:
    """A statement compiled for one dialect: SQL text and how to lay out its parameters."""

    __slots__ = ("as_declared", "core", "layout", "order", "raw", "sql")

    def __init__(self, statement: Statement, dialect: Dialect) -> None:
        core = statement.build(dialect)
        assert isinstance(core, ClauseElement)
        compiled = core.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.core = core
        self.sql = compiled.string
        # Bind processors (type conversions), post-compile parameters (expanding IN) and
        # constants bound by the statement itself are SQLAlchemy's work at execution time;
        # such statements go through SQLAlchemy.
        constants = set(compiled.binds) - set(statement.params)
        self.raw = not (compiled._bind_processors or compiled.post_compile_params or constants)
        names = compiled.positiontup if compiled.positional else None
        self.layout: str
        self.order: tuple[int, ...] | tuple[str, ...]
        if names is None or not self.raw:
            self.layout, self.order = "mapping", statement.params
        elif tuple(names) == statement.params:
            self.layout, self.order = "as_declared", ()
        else:
            self.layout = "positional"
            self.order = tuple(statement.params.index(name) for name in names)
        self.as_declared = self.layout == "as_declared"

    def arguments(self, values: Sequence[Any]) -> Sequence[Any] | dict[str, Any]:
        """The DB-API parameters for `values` given in the statement's declared order."""
        if self.layout == "as_declared":
            return values
        if self.layout == "positional":
            return tuple(values[index] for index in self.order)  # type: ignore[index]
        return dict(zip(self.order, values, strict=True))  # type: ignore[arg-type]


_compiled: dict[tuple[object, ...], dict[Statement, Compiled]] = {}
"""Per dialect (name, driver, paramstyle, server version): each statement compiled for it."""
_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_new_lock_after_fork)


def compiled_for(dialect: Dialect) -> dict[Statement, Compiled]:
    """The statements compiled for `dialect` so far in this process (see `compile_into`)."""
    key = (
        dialect.name,
        dialect.driver,
        dialect.paramstyle,
        getattr(dialect, "server_version_info", None),
    )
    found = _compiled.get(key)
    if found is None:
        with _lock:
            found = _compiled.setdefault(key, {})
    return found


def compile_into(
    cache: dict[Statement, Compiled], statement: Statement, dialect: Dialect
) -> Compiled:
    """Compile `statement` for `dialect` into `cache` (its first use in this process)."""
    with _lock:
        found = cache.get(statement)
        if found is None:
            found = cache[statement] = Compiled(statement, dialect)
    return found


class Runner(Rows):
    """Runs prepared statements on the DB-API connection of a SQLAlchemy connection, inside
    whatever transaction that connection holds."""

    __slots__ = ("_compiled", "connection", "dialect")

    def __init__(self, connection: Connection) -> None:
        super().__init__(
            connection.connection.dbapi_connection, connection.dialect.name, (DBAPIError,)
        )
        self.connection = connection
        self.dialect = connection.dialect
        self._compiled = compiled_for(self.dialect)

    def execute(self, statement: Statement, values: Sequence[Any] = ()) -> Any:
        """Execute; returns something with DB-API `fetchone()` / `fetchall()`. Database errors
        are raised as SQLAlchemy raises them (DBAPIError subclasses wrapping the driver's)."""
        prepared = self._compiled.get(statement)
        if prepared is None:
            prepared = compile_into(self._compiled, statement, self.dialect)
        if not prepared.raw:
            return self.connection.execute(
                prepared.core, dict(zip(statement.params, values, strict=True))
            )
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = self.dbapi_connection.cursor()
        arguments = values if prepared.as_declared else prepared.arguments(values)
        try:
            cursor.execute(prepared.sql, arguments)
        except self.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                prepared.sql, arguments, error, self.dialect.loaded_dbapi.Error
            ) from error
        return cursor

    def many(self, statement: Statement, rows: Sequence[Sequence[Any]]) -> None:
        """Execute once per row of values (DB-API executemany)."""
        prepared = self._compiled.get(statement)
        if prepared is None:
            prepared = compile_into(self._compiled, statement, self.dialect)
        if not prepared.raw:
            names = statement.params
            self.connection.execute(
                prepared.core, [dict(zip(names, row, strict=True)) for row in rows]
            )
            return
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = self.dbapi_connection.cursor()
        arguments = rows if prepared.as_declared else [prepared.arguments(row) for row in rows]
        try:
            cursor.executemany(prepared.sql, arguments)
        except self.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                prepared.sql, arguments, error, self.dialect.loaded_dbapi.Error
            ) from error

    def stream(self, statement: Statement, values: Sequence[Any] = ()) -> Iterator[Any]:
        """The rows of a query, fetched as they are consumed (on a cursor of their own, so
        other statements may run meanwhile)."""
        prepared = self._compiled.get(statement)
        if prepared is None:
            prepared = compile_into(self._compiled, statement, self.dialect)
        if not prepared.raw:
            params = dict(zip(statement.params, values, strict=True))
            options = {"stream_results": True, "yield_per": 2000}
            yield from self.connection.execute(prepared.core, params, execution_options=options)
            return
        arguments = prepared.arguments(values)
        try:
            yield from self._streamed(prepared.sql, arguments)
        except self.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                prepared.sql, arguments, error, self.dialect.loaded_dbapi.Error
            ) from error
