"""The fleet side of a push, below its rules: reading the store a page at a time, sending a
batch (refused rows reported one by one), transactions on the fleet, and a writer thread that
overlaps the fleet's work with the next batch's checks."""

from __future__ import annotations

import collections
import functools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Engine,
    Table,
    Text,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.exc import DBAPIError

from .bulk import insert_rows
from .engines import for_writing

__all__ = [
    "BATCH",
    "SESSION_ROW",
    "SESSION_ROWID",
    "SMALL",
    "PushReport",
    "Writer",
    "aggregate",
    "among",
    "batches",
    "fleet_transaction",
    "insert_batch",
    "pages",
    "read_rows",
    "row_type",
]

BATCH = 5_000


@dataclass(slots=True)
class PushReport:
    """What a push copied, what was already there, what it refused and what it noted."""

    copied: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, table: str, copied: int, total: int) -> None:
        """Add a batch's figures for one table."""
        self.copied[table] = self.copied.get(table, 0) + copied
        self.present[table] = self.present.get(table, 0) + total - copied

    def refuse(self, subject: str, peer_id: str, reason: str) -> None:
        """Report one refused row, naming it, its peer and why."""
        self.problems.append(f"refused {subject} of {peer_id}: {reason} (not pushed)")


def among(connection: Connection, column: Any, values: Iterable[str]) -> Any:
    """`column IN values` for a fleet database: on PostgreSQL `= ANY(array)`, one parameter, so
    the statement's text is the same for every batch and the server plans it once."""
    values = list(values)
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(Text())))
    return column.in_(values)


SMALL = 200
"""Batches smaller than this are written by the caller (see `Writer.submit`)."""


class Writer:
    """Runs the fleet's side of each batch on one thread, in order, while the caller reads and
    checks the next batch (psycopg and the server release the GIL while they work). At most
    two batches wait; `drain` waits for all and raises the first failure."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="auki-push")
        self._pending: deque[Future[None]] = deque()

    def submit(self, job: Callable[[], None], rows: int) -> None:
        """Queue `job` (the fleet's side of `rows` rows); a small batch with nothing queued
        runs at once (a thread and a second connection cost more than they save there)."""
        if rows < SMALL and not self._pending:
            job()
            return
        while len(self._pending) >= 2:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(job))

    def drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Stop: what is queued is cancelled (a failure is already on its way up)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def fleet_transaction(target: Engine) -> Iterator[Connection]:
    writing = for_writing(target.connect())
    with writing as connection, connection.begin():
        yield connection


@functools.lru_cache(maxsize=64)
def row_type(names: tuple[str, ...]) -> Callable[[Sequence[Any]], Any]:
    """What makes a row read from the store of these columns: a named tuple, made in C (a
    column by name is a C attribute: a dict's `__getattr__` cost 2 us per access, and a
    SQLAlchemy Row's `_asdict` 4 us per row, a tenth of a pushed row's whole budget)."""
    return functools.partial(tuple.__new__, collections.namedtuple("Row", names))


def read_rows(source: Connection, query: Any) -> list[Any]:
    """A query's rows as named tuples. Text that is not UTF-8 (a damaged or hostile store) is
    read as surrogate escapes, not raised on, so that its row alone is refused (text_problem)
    instead of the push ending at it; text is decoded in C until such a row turns up."""
    try:
        result = source.execute(query)
        # fetchall: one call into the driver (iterating fetches row by row)
        rows = result.fetchall()
    except DBAPIError:
        raw = source.connection.dbapi_connection
        plain = raw.text_factory  # type: ignore[union-attr]
        raw.text_factory = _lenient  # type: ignore[union-attr]
        try:
            result = source.execute(query)
            rows = result.fetchall()
        finally:
            raw.text_factory = plain  # type: ignore[union-attr]
    return list(map(row_type(tuple(result.keys())), rows))


def _lenient(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def batches(source: Connection, table: Table, order: Sequence[Any]) -> Iterator[list[Any]]:
    """All rows of a table in key order, a batch at a time (keyset pagination)."""
    query = select(*table.c).order_by(*order)
    last: tuple[Any, ...] | None = None
    while True:
        page = query if last is None else query.where(tuple_(*order) > tuple_(*last))
        rows = read_rows(source, page.limit(BATCH))
        if not rows:
            return
        yield list(rows)
        last = tuple(getattr(rows[-1], column.name) for column in order)


def insert_batch(
    target: Connection,
    table: Table,
    rows: list[Any],
    finish: Callable[[Any], Any],
    report: PushReport,
    describe: Callable[[Any], tuple[str, str]],
    unique: tuple[str, ...] = (),
) -> list[Any]:
    """Insert a batch (`insert_rows`), returning what its statement returns; when the database
    refuses the batch, each row is tried alone so that only the rows it refuses are reported
    (by `describe`: subject, peer)."""
    if not rows:
        return []
    try:
        with target.begin_nested():
            return insert_rows(target, table, rows, finish, unique)
    except DBAPIError:
        pass
    done: list[Any] = []
    for row in rows:
        try:
            with target.begin_nested():
                done += insert_rows(target, table, [row], finish, unique)
        except DBAPIError as error:
            subject, peer_id = describe(row)
            reason = str(error.orig).splitlines()[0] if error.orig else str(error)
            report.refuse(subject, peer_id, f"the fleet database refused it: {reason}")
    return done


SESSION_ROWID: Any = literal_column("sessions.rowid")
SESSION_ROW: Any = SESSION_ROWID.label("rowid_")
"""A session's place in its store's order (sessions are only ever appended)."""


def pages(source: Connection, table: Table, key: Any, after: int) -> Iterator[list[Any]]:
    """The rows of `table` whose integer `key` is above `after`, in key order, a batch at a
    time (sessions come with their rowid as `rowid_`)."""
    columns = [*table.c, key] if key is SESSION_ROW else list(table.c)
    order = SESSION_ROWID if key is SESSION_ROW else key
    while True:
        query = select(*columns).where(order > after).order_by(order).limit(BATCH)
        rows = read_rows(source, query)
        if not rows:
            return
        yield list(rows)
        after = rows[-1].rowid_ if key is SESSION_ROW else getattr(rows[-1], key.name)


def aggregate(connection: Connection, table: Table, *where: Any) -> tuple[int, int]:
    """How many current versions `table` holds and the sum of their sequence numbers: both
    grow with every change a store makes (each change raises one sequence by one)."""
    query = select(func.count(), func.coalesce(func.sum(table.c.sequence), 0)).where(*where)
    count, total = connection.execute(query).one()
    return int(count), int(total)
