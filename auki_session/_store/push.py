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

from sqlalchemy import Connection, Engine, Table, and_, func, or_, select, tuple_

from .._domain.hashing import content_hash
from .._domain.identity import key_peer_id, signature_valid
from .._domain.signed import current_record, session_record
from ..errors import StoreError
from . import migrate
from .engines import describe_url, for_writing, make_server_engine
from .statements import insert_for
from .store import open_store
from .tables import clocks, entries, heads, log_refs, logs, peers, sessions

__all__ = ["PushReport", "push", "push_store"]

BATCH = 2_000
_CHANGE_COLUMNS = ("hash", "updated_at", "signature", "sequence")


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


class _Authority:
    """Whether a record may enter the fleet: a key-derived peer id's only with its valid
    signature (unless unsigned ones are allowed); any other id's as given (unauthenticated)."""

    def __init__(self, allow_unsigned: bool) -> None:
        self.allow_unsigned = allow_unsigned
        self._keys: dict[str, bytes | None] = {}

    def refusal(self, peer_id: str, message: bytes, signature: str | None) -> str | None:
        """Why the record is refused, or None."""
        if peer_id not in self._keys:
            self._keys[peer_id] = key_peer_id(peer_id)
        key = self._keys[peer_id]
        if key is None:
            return None
        if signature is None:
            return None if self.allow_unsigned else f"unsigned, and {peer_id} is a key's id"
        try:
            raw = bytes.fromhex(signature)
        except ValueError:
            raw = b""
        if len(raw) == 64 and signature_valid(key, message, raw):
            return None
        return f"its signature is not {peer_id}'s"


def push_store(root: Path, url: str, *, allow_unsigned: bool = False) -> PushReport:
    """Push the store in `root` (opened read-only) into the database at `url`, creating or
    upgrading its schema first. Records of key-derived peer ids need their valid signatures
    (unsigned ones too, with `allow_unsigned`); the others are refused per row."""
    source = open_store(root, readonly=True)
    with source.engine.connect() as connection:
        revision = migrate.current_revision(connection)
    if revision != migrate.HEAD:
        source.close()
        raise StoreError(
            f"{source.where}: schema revision {revision!r} is older than this auki-session's "
            f"{migrate.HEAD!r}: run `auki-session --root {root} db upgrade` on a writable copy "
            "first (nothing was pushed)"
        )
    target = make_server_engine(url)
    try:
        migrate.ensure_schema(target, describe_url(url))
        return push(source.engine, target, _Authority(allow_unsigned))
    finally:
        target.dispose()
        source.close()


@contextmanager
def _writing(target: Engine) -> Iterator[Connection]:
    writing = for_writing(target.connect())
    with writing as connection, connection.begin():
        yield connection


def push(source: Engine, target: Engine, authority: _Authority) -> PushReport:
    """Copy every peer, entry, head, session, clock and log of `source` into `target`."""
    report = PushReport()
    with source.connect() as reading:
        for rows in _batches(reading, peers, [peers.c.peer_id]):
            with _writing(target) as writing:
                copied = _insert_missing(writing, peers, [row._asdict() for row in rows])
            report.count("peers", copied, len(rows))
        for rows in _batches(reading, sessions, [sessions.c.session_id]):
            allowed = []
            for row in rows:
                record = session_record(row.peer_id, row.session_id, row.app_id, row.started_at)
                if _admitted(authority, report, f"session {row.session_id}", row.peer_id,
                             record, row.signature):  # fmt: skip
                    allowed.append(row._asdict())
            with _writing(target) as writing:
                copied = _insert_missing(writing, sessions, allowed)
            report.count("sessions", copied, len(rows))
        for rows in _batches(reading, entries, [entries.c.id]):
            with _writing(target) as writing:
                _push_entries(writing, rows, report, authority)
        _push_heads(reading, target, heads, ["peer_id", "kind", "entry_id"], report, authority)
        _push_heads(reading, target, clocks, ["session_id", "clock_id"], report, authority)
        for rows in _batches(reading, logs, [logs.c.id]):
            with _writing(target) as writing:
                _push_logs(reading, writing, rows, report, authority)
    return report


def _admitted(
    authority: _Authority,
    report: PushReport,
    subject: str,
    peer_id: str,
    message: bytes,
    signature: str | None,
) -> bool:
    """Whether a record may go in; a refusal is reported, naming the record and why."""
    reason = authority.refusal(peer_id, message, signature)
    if reason is None:
        return True
    report.problems.append(f"refused {subject} of {peer_id}: {reason} (not pushed)")
    return False


def _sessions_in(target: Connection, session_ids: set[str]) -> set[str]:
    """Which of these sessions the target holds."""
    query = select(sessions.c.session_id).where(sessions.c.session_id.in_(session_ids))
    return set(target.execute(query).scalars())


def _with_session(
    target: Connection, rows: list[dict[str, Any]], report: PushReport, subject: str
) -> list[dict[str, Any]]:
    """The rows whose session (if any) the target holds; the others reported (their session
    was refused, so they cannot go in either)."""
    present = _sessions_in(target, {row["session_id"] for row in rows if row["session_id"]})
    kept = []
    for row in rows:
        if row["session_id"] is None or row["session_id"] in present:
            kept.append(row)
        else:
            report.problems.append(
                f"refused {subject.format(**row)} of {row['peer_id']}: its session "
                f"{row['session_id']} is not in the fleet (not pushed)"
            )
    return kept


def _session_peers(source: Connection, session_ids: set[str]) -> dict[str, str]:
    query = select(sessions.c.session_id, sessions.c.peer_id).where(
        sessions.c.session_id.in_(session_ids)
    )
    return {session_id: peer_id for session_id, peer_id in source.execute(query)}


def _push_entries(
    target: Connection, rows: Sequence[Any], report: PushReport, authority: _Authority
) -> None:
    sound = []
    for row in rows:
        data = row.canonical_json.encode("utf-8", "surrogatepass")
        if content_hash(data) != row.hash:
            report.problems.append(
                f"corrupt entry in source: {row.kind} {row.peer_id}/{row.entry_id} hash "
                f"{row.hash} does not match its canonical JSON (not pushed)"
            )
            continue
        subject = f"{row.kind} {row.entry_id}@{row.hash}"
        if not _admitted(authority, report, subject, row.peer_id, data, row.signature):
            continue
        values = row._asdict()
        del values["id"]
        sound.append(values)
    sound = _with_session(target, sound, report, "clock {entry_id}")
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
    source: Connection,
    target: Engine,
    table: Table,
    key: list[str],
    report: PushReport,
    authority: _Authority,
) -> None:
    """Upsert current-version pointers; the most recently updated pointer wins."""
    for rows in _batches(source, table, [table.c[name] for name in key]):
        clock_peers = (
            _session_peers(source, {row.session_id for row in rows}) if table is clocks else {}
        )
        with _writing(target) as writing:
            known = set(
                writing.execute(
                    select(entries.c.hash).where(entries.c.hash.in_({row.hash for row in rows}))
                ).scalars()
            )
            values = []
            for row in rows:
                if row.hash not in known:
                    continue
                if table is clocks:
                    peer_id, kind, entry_id = clock_peers[row.session_id], "clock", row.clock_id
                    session_id = row.session_id
                else:
                    peer_id, kind, entry_id, session_id = row.peer_id, row.kind, row.entry_id, None
                record = current_record(
                    peer_id, kind, entry_id, row.hash, row.sequence or 0, session_id
                )
                subject = f"current {kind} {entry_id}"
                if _admitted(authority, report, subject, peer_id, record, row.signature):
                    values.append(row._asdict())
            if not values:
                continue
            statement = insert_for(writing.dialect, table)
            incoming, stored = statement.excluded, table.c
            statement = statement.on_conflict_do_update(
                index_elements=key,
                set_={name: incoming[name] for name in _CHANGE_COLUMNS},
                # The owning store's own order of changes; rows from before sequences were
                # kept (schema 0003 and older) fall back to their timestamps.
                where=or_(
                    func.coalesce(incoming.sequence, 0) > func.coalesce(stored.sequence, 0),
                    and_(
                        incoming.sequence.is_(None),
                        stored.sequence.is_(None),
                        stored.updated_at < incoming.updated_at,
                    ),
                ),
            )
            changed = writing.execute(statement.returning(table.c.hash), values).all()
        report.count(table.name, len(changed), len(rows))


def _push_logs(
    source: Connection,
    target: Connection,
    rows: Sequence[Any],
    report: PushReport,
    authority: _Authority,
) -> None:
    owners = _session_peers(source, {row.session_id for row in rows})
    rows = [
        row
        for row in rows
        if _admitted(
            authority,
            report,
            f"log {row.resource_id} in session {row.session_id}",
            owners[row.session_id],
            row.manifest_json.encode("utf-8", "surrogatepass"),
            row.signature,
        )
    ]
    present = _sessions_in(target, {row.session_id for row in rows})
    for row in rows:
        if row.session_id not in present:
            report.problems.append(
                f"refused log {row.resource_id} in session {row.session_id}: its session is "
                "not in the fleet (not pushed)"
            )
    rows = [row for row in rows if row.session_id in present]
    if not rows:
        return
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
