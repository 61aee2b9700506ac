"""Copying one store into another (a robot's SQLite store into a fleet database).

Entries are content-addressed, so a push is a set union: a hash already present is skipped, and
a hash present with different canonical JSON is reported as corruption and never written. Every
batch commits on its own and every insert is idempotent, so a push that is interrupted resumes
cleanly when run again, and robots pushing at the same time do not conflict.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, tuple_

from .._domain.hashing import content_hash
from . import migrate
from .engines import describe_url, for_writing, make_server_engine
from .statements import insert_for
from .store import open_store
from .tables import clocks, entries, heads, log_refs, logs, peers, sessions

__all__ = ["PushReport", "push", "push_store"]

BATCH = 2_000


@dataclass(slots=True)
class PushReport:
    """What a push copied, what was already there, and what it refused."""

    copied: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def count(self, table: str, copied: int, total: int) -> None:
        """Add a batch's figures for one table."""
        self.copied[table] = self.copied.get(table, 0) + copied
        self.present[table] = self.present.get(table, 0) + total - copied


def _batches(source: Connection, table: Table, order: Sequence[Any]) -> Iterator[list[Any]]:
    """All rows of a table in key order, a batch at a time (keyset pagination)."""
    query = select(*table.c).order_by(*order)
    last: tuple[Any, ...] | None = None
    while True:
        page = query if last is None else query.where(tuple_(*order) > tuple_(*last))
        rows = source.execute(page.limit(BATCH)).all()
        if not rows:
            return
        yield list(rows)
        last = tuple(getattr(rows[-1], column.name) for column in order)


def _insert_missing(target: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    statement = insert_for(target.dialect, table).on_conflict_do_nothing()
    result = target.execute(statement.returning(*table.primary_key.columns), rows)
    return len(result.all())


def push_store(root: Path, url: str) -> PushReport:
    """Push the store in `root` (opened read-only) into the database at `url`, creating or
    upgrading its schema first."""
    source = open_store(root, readonly=True)
    target = make_server_engine(url)
    try:
        migrate.ensure_schema(target, describe_url(url))
        return push(source.engine, target)
    finally:
        target.dispose()
        source.close()


@contextmanager
def _writing(target: Engine) -> Iterator[Connection]:
    writing = for_writing(target.connect())
    with writing as connection, connection.begin():
        yield connection


def push(source: Engine, target: Engine) -> PushReport:
    """Copy every peer, entry, head, session, clock and log of `source` into `target`."""
    report = PushReport()
    with source.connect() as reading:
        for table, order in ((peers, [peers.c.peer_id]), (sessions, [sessions.c.session_id])):
            for rows in _batches(reading, table, order):
                with _writing(target) as writing:
                    copied = _insert_missing(writing, table, [row._asdict() for row in rows])
                report.count(table.name, copied, len(rows))
        for rows in _batches(reading, entries, [entries.c.id]):
            with _writing(target) as writing:
                _push_entries(writing, rows, report)
        _push_heads(reading, target, heads, ["peer_id", "kind", "entry_id"], report)
        _push_heads(reading, target, clocks, ["session_id", "clock_id"], report)
        for rows in _batches(reading, logs, [logs.c.id]):
            with _writing(target) as writing:
                _push_logs(reading, writing, rows, report)
    return report


def _push_entries(target: Connection, rows: Sequence[Any], report: PushReport) -> None:
    sound = []
    for row in rows:
        if content_hash(row.canonical_json.encode("utf-8")) != row.hash:
            report.problems.append(
                f"corrupt entry in source: {row.kind} {row.peer_id}/{row.entry_id} hash "
                f"{row.hash} does not match its canonical JSON (not pushed)"
            )
            continue
        values = row._asdict()
        del values["id"]
        sound.append(values)
    existing = dict(
        target.execute(
            select(entries.c.hash, entries.c.canonical_json).where(
                entries.c.hash.in_([r["hash"] for r in sound])
            )
        ).all()
    )
    fresh = []
    for values in sound:
        stored = existing.get(values["hash"])
        if stored is None:
            fresh.append(values)
        elif stored != values["canonical_json"]:
            report.problems.append(
                f"corrupt entry: hash {values['hash']} is stored in the target with different "
                "canonical JSON (not pushed)"
            )
    copied = 0
    if fresh:
        statement = insert_for(target.dialect, entries).on_conflict_do_nothing(
            index_elements=["hash"]
        )
        copied = len(target.execute(statement.returning(entries.c.hash), fresh).all())
    report.count("entries", copied, len(rows))


def _push_heads(
    source: Connection, target: Engine, table: Table, key: list[str], report: PushReport
) -> None:
    """Upsert current-version pointers; the most recently updated pointer wins."""
    for rows in _batches(source, table, [table.c[name] for name in key]):
        with _writing(target) as writing:
            known = set(
                writing.execute(
                    select(entries.c.hash).where(entries.c.hash.in_({row.hash for row in rows}))
                ).scalars()
            )
            values = [row._asdict() for row in rows if row.hash in known]
            if not values:
                continue
            statement = insert_for(writing.dialect, table)
            statement = statement.on_conflict_do_update(
                index_elements=key,
                set_={"hash": statement.excluded.hash, "updated_at": statement.excluded.updated_at},
                where=table.c.updated_at < statement.excluded.updated_at,
            )
            changed = writing.execute(statement.returning(table.c.hash), values).all()
        report.count(table.name, len(changed), len(rows))


def _push_logs(
    source: Connection, target: Connection, rows: Sequence[Any], report: PushReport
) -> None:
    keys = [(row.session_id, row.resource_id) for row in rows]
    existing = {
        (r.session_id, r.resource_id): r.manifest_json
        for r in target.execute(
            select(logs.c.session_id, logs.c.resource_id, logs.c.manifest_json).where(
                tuple_(logs.c.session_id, logs.c.resource_id).in_(keys)
            )
        )
    }
    fresh = []
    for row in rows:
        stored = existing.get((row.session_id, row.resource_id))
        if stored is None:
            values = row._asdict()
            del values["id"]
            fresh.append(values)
        elif stored != row.manifest_json:
            report.problems.append(
                f"conflicting log {row.session_id}/{row.resource_id}: the target holds a "
                "different manifest (not pushed)"
            )
    copied = _insert_missing(target, logs, fresh)
    report.count("logs", copied, len(rows))
    target_ids = {
        (r.session_id, r.resource_id): r.id
        for r in target.execute(
            select(logs.c.id, logs.c.session_id, logs.c.resource_id).where(
                tuple_(logs.c.session_id, logs.c.resource_id).in_(keys)
            )
        )
    }
    source_ids = {row.id: (row.session_id, row.resource_id) for row in rows}
    refs = source.execute(select(*log_refs.c).where(log_refs.c.log_id.in_(list(source_ids)))).all()
    values = [
        {**ref._asdict(), "log_id": target_ids[source_ids[ref.log_id]]}
        for ref in refs
        if source_ids[ref.log_id] in target_ids
    ]
    report.count("log_refs", _insert_missing(target, log_refs, values), len(refs))
