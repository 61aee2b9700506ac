"""Copying one store into another (a robot's SQLite store into a fleet database).

Entries are content-addressed, so a push is a set union: a hash already present is skipped, and
a hash present with different canonical JSON is reported as corruption and never written.

Every record belongs to one peer, and a push adds or changes a peer's records only with that
peer's authority (`Authority`): a key-derived peer id's records need the peer's valid signature;
any other id is bound to the store that first pushed it (by the digest of the store's random
identity) and accepted from that store only, until an operator rebinds it. Current versions are
ordered by the owning store's sequence of changes, never by clocks. Sessions are keyed by their
id in the fleet: the same id under another peer is a reported conflict, and everything of the
refused session (its clocks, their versions, its logs) is refused with it. Every row is checked
before it is sent (hashes, JSON against columns, manifest against refs, text PostgreSQL can
hold); a refusal is per row, reported with its reason, and the rest lands.

Every batch commits on its own and every insert is idempotent, so a push that is interrupted
resumes cleanly when run again, and robots pushing at the same time do not conflict.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from .._domain.entries import Entry
from .._domain.logs import manifest_refs
from .._domain.signed import current_record, session_record
from ..errors import StoreError
from . import migrate
from .engines import make_server_engine
from .fleet_authority import Authority, PushOptions, fingerprint, store_digest, text_problem
from .plain import database_error
from .push_io import (
    BATCH,
    SESSION_ROW,
    PushReport,
    Writer,
    aggregate,
    among,
    batches,
    fleet_transaction,
    insert_batch,
    pages,
    read_rows,
    row_type,
)
from .push_progress import Progress
from .runner import Runner
from .statements import insert_for
from .store import open_store
from .tables import (
    clocks,
    entries,
    fleet_bindings,
    fleet_rebinds,
    heads,
    log_refs,
    logs,
    peers,
    sessions,
    store_identity,
)
from .transaction import utc_now
from .urls import describe_url
from .verify import entry_problems, entry_sound

__all__ = ["PushOptions", "PushReport", "push", "push_store", "store_digest"]

_CHANGE_COLUMNS = ("hash", "updated_at", "signature", "sequence")
_SESSION_COLUMNS = len(sessions.c)
_SESSION_VALUES = row_type(tuple(sessions.c.keys()))
"""A session's row as sent: the store's row without the rowid it is read with (last)."""
_ENTRY_VALUES = row_type(tuple(entries.c.keys())[1:])
"""A version's row as sent: the store's row without its id (first), which the fleet numbers."""
_LOG_VALUES = row_type(tuple(logs.c.keys())[1:])
"""A log's row as sent: the store's row without its id (first), which the fleet numbers."""


@dataclass(slots=True)
class _Pushing:
    """One push in progress: the connections, the authority, what was refused so far."""

    source: Connection
    target: Engine
    authority: Authority
    report: PushReport
    refused_sessions: set[str] = field(default_factory=set)
    refused_hashes: set[str] = field(default_factory=set)
    accepted: set[str] = field(default_factory=set)
    """Hashes of versions this push inserted, or found in the fleet with the same bytes."""
    session_owner: dict[str, str] = field(default_factory=dict)
    progress: Progress = field(init=False)
    writer: Writer = field(default_factory=Writer)

    def clean(self) -> bool:
        """Whether nothing was refused so far in this push."""
        return not self.report.problems and not self.authority.foreign

    def admitted(self, subject: str, peer_id: str, message: bytes, signature: str | None) -> bool:
        """Whether a record may go in; a refusal is reported, naming the record and why."""
        reason = self.authority.refusal(peer_id, message, signature)
        if reason is None:
            return True
        if reason == "":
            self.authority.foreign[peer_id] += 1
        else:
            self.report.refuse(subject, peer_id, reason)
        return False


def push_store(root: Path, url: str, options: PushOptions | None = None) -> PushReport:
    """Push the store in `root` (opened read-only) into the database at `url`, creating or
    upgrading its schema first. What a record needs to go in is `Authority`'s to decide."""
    root = root.absolute()
    source = open_store(root, readonly=True)
    with source.engine.connect() as connection:
        revision = migrate.current_revision(Runner(connection))
        identity = (
            connection.execute(select(store_identity.c.store_id)).scalar()
            if revision == migrate.HEAD
            else None
        )
    if revision != migrate.HEAD or identity is None:
        source.close()
        raise StoreError(
            f"{source.where}: schema revision {revision!r} is older than this auki-session's "
            f"{migrate.HEAD!r}: run `auki-session --root {root} db upgrade` on a writable copy "
            "first (nothing was pushed)"
        )
    target = make_server_engine(url)
    where = describe_url(url)
    try:
        try:
            migrate.ensure_schema(target, where)
        except DBAPIError as error:
            raise database_error(where, "cannot open the fleet database", error) from None
        authority = Authority(options or PushOptions(), store_digest(identity))
        try:
            return push(source.engine, target, authority, full=authority.options.full)
        except DBAPIError as error:
            raise database_error(
                where,
                "the push stopped (what it committed stays; run it again to resume)",
                error,
            ) from None
    finally:
        target.dispose()
        source.close()


def push(source: Engine, target: Engine, authority: Authority, *, full: bool = False) -> PushReport:
    """Copy every peer, entry, head, session, clock and log of `source` into `target` that
    `authority` admits and that changed since this store's last push (everything when `full`);
    report the rest."""
    report = PushReport()
    with source.connect() as reading:
        pushing = _Pushing(reading, target, authority, report)
        pushing.progress = progress = Progress.load(
            reading, target, authority.digest, full or bool(authority.options.rebind)
        )
        for rows in batches(reading, peers, [peers.c.peer_id]):
            _bind_peers(pushing, rows)
        pushing.session_owner = dict(
            read_rows(reading, select(sessions.c.session_id, sessions.c.peer_id))
        )
        new_sessions: list[str] = []
        for rows in pages(reading, sessions, SESSION_ROW, progress.row["sessions_upto"]):
            new_sessions += [row.session_id for row in rows]
            _push_sessions(pushing, rows)
        try:
            for rows in pages(reading, entries, entries.c.id, progress.row["entries_upto"]):
                _push_entries(pushing, rows)
            pushing.writer.drain()  # current versions need their versions in the fleet
            head_total = aggregate(reading, heads)
            if progress.pushed("heads") != head_total:
                _push_heads(pushing, heads, ["peer_id", "kind", "entry_id"], head_total)
            _push_clocks(pushing, new_sessions)
            for rows in pages(reading, logs, logs.c.id, progress.row["logs_upto"]):
                _push_logs(pushing, rows)
            pushing.writer.drain()
        finally:
            pushing.writer.close()
    for peer_id, count in sorted(authority.foreign.items()):
        report.problems.append(
            f"refused {count or 'every'} record(s) of {peer_id}: {peer_id} is bound to another "
            f"store ({fingerprint(authority.bound_to(peer_id))}; this store is "
            f"{fingerprint(authority.digest)}), and only that store may push its records. If "
            f"this store now speaks for {peer_id}, push again with --rebind {peer_id} "
            "(not pushed)"
        )
    return report


def _bind_peers(pushing: _Pushing, rows: list[Any]) -> None:
    """Create the fleet's peers and bindings this store is the first to push, learn the others'
    bindings, move the ones the operator rebinds, and stamp the last push of the admitted."""
    authority, report = pushing.authority, pushing.report
    now = utc_now()
    wanted = [row.peer_id for row in rows if text_problem(row) is None]
    for row in rows:
        problem = text_problem(row)
        if problem is not None:
            report.refuse("the peer", row.peer_id.replace("\x00", "\\x00"), problem)
    with fleet_transaction(pushing.target) as writing:
        fresh = [row for row in rows if row.peer_id in wanted]
        copied = insert_batch(
            writing,
            peers,
            fresh,
            lambda s: s.on_conflict_do_nothing().returning(peers.c.peer_id),
            report,
            lambda r: ("the peer", r.peer_id),
        )
        report.count("peers", len(copied), len(rows))
        bindings = [
            {
                "peer_id": peer_id,
                "authority": "store" if authority.key(peer_id) is None else "signature",
                "store_digest": authority.digest,
                "bound_at": now,
                "last_push_at": now,
            }
            for peer_id in wanted
        ]
        if bindings:
            writing.execute(
                insert_for(writing.dialect, fleet_bindings).on_conflict_do_nothing(), bindings
            )
        found = writing.execute(
            select(fleet_bindings.c.peer_id, fleet_bindings.c.store_digest).where(
                among(writing, fleet_bindings.c.peer_id, wanted)
            )
        ).all()
        for peer_id, digest in found:
            if peer_id in authority.options.rebind and digest != authority.digest:
                _rebind(writing, pushing, peer_id, digest, now)
                digest = authority.digest
            authority.learn(peer_id, digest)
            if digest != authority.digest and authority.key(peer_id) is None:
                authority.foreign[peer_id] += 0  # reported even when no record is re-read
        admitted = [
            peer_id
            for peer_id in wanted
            if authority.bound_here(peer_id) or authority.key(peer_id) is not None
        ]
        if admitted:
            writing.execute(
                update(fleet_bindings)
                .where(among(writing, fleet_bindings.c.peer_id, admitted))
                .values(last_push_at=now)
            )


def _rebind(writing: Connection, pushing: _Pushing, peer_id: str, old: str, now: str) -> None:
    """Move a peer's binding to this store, as an operator asked, and record who and when. The
    peer's unsigned current versions restart their order: the new store's changes win."""
    authority = pushing.authority
    by = authority.options.rebound_by or getpass.getuser()
    writing.execute(
        update(fleet_bindings)
        .where(fleet_bindings.c.peer_id == peer_id)
        .values(store_digest=authority.digest, bound_at=now)
    )
    writing.execute(
        insert_for(writing.dialect, fleet_rebinds).values(
            peer_id=peer_id,
            old_store_digest=old,
            new_store_digest=authority.digest,
            rebound_by=by,
            rebound_at=now,
        )
    )
    writing.execute(
        update(heads)
        .where(heads.c.peer_id == peer_id, heads.c.signature.is_(None))
        .values(sequence=0)
    )
    writing.execute(
        update(clocks)
        .where(
            clocks.c.signature.is_(None),
            clocks.c.session_id.in_(
                select(sessions.c.session_id).where(sessions.c.peer_id == peer_id)
            ),
        )
        .values(sequence=0)
    )
    pushing.report.notes.append(
        f"rebound {peer_id} from store {fingerprint(old)} to this store "
        f"{fingerprint(authority.digest)} (by {by})"
    )


def _push_sessions(pushing: _Pushing, rows: list[Any]) -> None:
    """Sessions the peer's authority admits and the fleet does not hold under another peer (a
    conflict refuses the session and, later, everything in it)."""
    report = pushing.report
    allowed = []
    for row in rows:
        pushing.session_owner[row.session_id] = row.peer_id
        subject = f"session {row.session_id}"
        problem = text_problem(row)
        if problem is not None:
            report.refuse(subject, row.peer_id, problem)
        else:
            record = session_record(row.peer_id, row.session_id, row.app_id, row.started_at)
            if pushing.admitted(subject, row.peer_id, record, row.signature):
                allowed.append(row)
                continue
        pushing.refused_sessions.add(row.session_id)
    with fleet_transaction(pushing.target) as writing:
        stored = {
            r.session_id: r
            for r in writing.execute(
                select(*sessions.c).where(
                    among(writing, sessions.c.session_id, [row.session_id for row in allowed])
                )
            )
        }
        fresh = []
        same = 0
        for row in allowed:
            held = stored.get(row.session_id)
            if held is None:
                fresh.append(_SESSION_VALUES(row[:_SESSION_COLUMNS]))
            elif (held.peer_id, held.app_id, held.started_at) == (
                row.peer_id,
                row.app_id,
                row.started_at,
            ):
                same += 1
            elif held.peer_id != row.peer_id:
                pushing.refused_sessions.add(row.session_id)
                report.refuse(
                    f"session {row.session_id}",
                    row.peer_id,
                    f"the fleet holds a session with this id as {held.peer_id}'s: a conflict "
                    "for an operator to resolve (its clocks and logs are refused with it)",
                )
            elif (held.app_id, held.started_at) != (row.app_id, row.started_at):
                pushing.refused_sessions.add(row.session_id)
                report.refuse(
                    f"session {row.session_id}",
                    row.peer_id,
                    "the fleet holds this session with another app id or start time (its "
                    "clocks and logs are refused with it)",
                )
        inserted = insert_batch(
            writing,
            sessions,
            fresh,
            lambda s: s.on_conflict_do_nothing().returning(sessions.c.session_id),
            report,
            lambda r: (f"session {r.session_id}", r.peer_id),
        )
        # A session another push created meanwhile under another peer is refused here too.
        raced = {r.session_id for r in fresh} - {r.session_id for r in inserted}
        for session_id, holder in writing.execute(
            select(sessions.c.session_id, sessions.c.peer_id).where(
                among(writing, sessions.c.session_id, raced)
            )
        ):
            if holder != pushing.session_owner[session_id]:
                pushing.refused_sessions.add(session_id)
                report.refuse(
                    f"session {session_id}",
                    pushing.session_owner[session_id],
                    f"the fleet holds a session with this id as {holder}'s: a conflict for an "
                    "operator to resolve (its clocks and logs are refused with it)",
                )
        report.count("sessions", len(inserted), len(fresh) + same)
        pushing.progress.advance(
            writing, "sessions", rows[-1].rowid_, rows[-1].session_id, pushing.clean()
        )


def _entry_refusal(pushing: _Pushing, row: Any) -> str | None:
    """Why a stored version cannot go in before its authority is asked: a wrong hash, JSON that
    disagrees with its columns, text PostgreSQL cannot hold, a refused session."""
    problem = text_problem(row)
    if problem is not None:
        return problem
    if not entry_sound(
        row.kind, row.peer_id, row.entry_id, row.hash, row.session_id, row.canonical_json
    ):
        entry = Entry(
            row.kind,
            row.peer_id,
            row.entry_id,
            row.hash,
            row.session_id,
            row.canonical_json,
            row.registered_at,
            row.signature,
        )
        found = entry_problems(entry)
        if found:
            return "corrupt entry: " + "; ".join(problem.message for problem in found)
    if row.session_id is not None:
        if row.session_id in pushing.refused_sessions:
            return f"its session {row.session_id} was refused"
        if pushing.session_owner.get(row.session_id) != row.peer_id:
            return f"its session {row.session_id} is not {row.peer_id}'s"
    return None


def _push_entries(pushing: _Pushing, rows: Sequence[Any]) -> None:
    report = pushing.report
    trusted = pushing.authority.trusted
    sound = []
    for row in rows:
        reason = _entry_refusal(pushing, row)
        if reason is not None:
            report.refuse(f"{row.kind} {row.entry_id}@{row.hash}", row.peer_id, reason)
            pushing.refused_hashes.add(row.hash)
            continue
        if row.peer_id not in trusted and not pushing.admitted(
            f"{row.kind} {row.entry_id}@{row.hash}",
            row.peer_id,
            row.canonical_json.encode("utf-8"),
            row.signature,
        ):
            pushing.refused_hashes.add(row.hash)
            continue
        sound.append(_ENTRY_VALUES(row[1:]))
    pushing.writer.submit(lambda: _write_entries(pushing, rows, sound), len(rows))


def _write_entries(pushing: _Pushing, rows: Sequence[Any], sound: list[Any]) -> None:
    """The fleet's side of a batch of versions: the checked ones inserted; a hash the fleet
    held already must be held with these very bytes."""
    report = pushing.report
    with fleet_transaction(pushing.target) as writing:
        copied = insert_batch(
            writing,
            entries,
            sound,
            lambda s: s.on_conflict_do_nothing(index_elements=["hash"]).returning(entries.c.hash),
            report,
            lambda r: (f"{r.kind} {r.entry_id}@{r.hash}", r.peer_id),
            unique=("hash",),
        )
        # A hash that was there already must be there with these very bytes.
        inserted = {row.hash for row in copied}
        pushing.accepted |= inserted
        held = [values for values in sound if values.hash not in inserted]
        stored = (
            dict(
                writing.execute(
                    select(entries.c.hash, entries.c.canonical_json).where(
                        among(writing, entries.c.hash, [values.hash for values in held])
                    )
                ).all()
            )
            if held
            else {}
        )
        same = 0
        for values in held:
            if stored.get(values.hash) == values.canonical_json:
                same += 1
                pushing.accepted.add(values.hash)
                continue
            pushing.refused_hashes.add(values.hash)
            if values.hash in stored:
                report.refuse(
                    f"{values.kind} {values.entry_id}@{values.hash}",
                    values.peer_id,
                    "the fleet stores this hash with different canonical JSON (corrupt)",
                )
        pushing.progress.advance(writing, "entries", rows[-1].id, rows[-1].hash, pushing.clean())
    report.count("entries", len(copied), len(copied) + same)


def _push_clocks(pushing: _Pushing, new_sessions: list[str]) -> None:
    """Session clocks: none when they are as last pushed; only the new sessions' when those
    account for every change since; all of them otherwise."""
    progress, source = pushing.progress, pushing.source
    total = aggregate(source, clocks)
    pushed = progress.pushed("clocks")
    if pushed == total:
        return
    if pushed is not None:
        added = (0, 0)
        for start in range(0, len(new_sessions), BATCH):
            part = aggregate(
                source, clocks, clocks.c.session_id.in_(new_sessions[start : start + BATCH])
            )
            added = (added[0] + part[0], added[1] + part[1])
        if (pushed[0] + added[0], pushed[1] + added[1]) == total:
            _push_heads(pushing, clocks, ["session_id", "clock_id"], total, new_sessions)
            return
    _push_heads(pushing, clocks, ["session_id", "clock_id"], total)


def _push_heads(
    pushing: _Pushing,
    table: Table,
    key: list[str],
    aggregate: tuple[int, int],
    only_sessions: list[str] | None = None,
) -> None:
    """Upsert current-version pointers: a change goes in when its sequence in the owning store
    is newer than the fleet's, and never replaces a signed pointer with an unsigned one. When
    every pointer went in or was there, the fleet records `aggregate` as pushed."""
    report = pushing.report
    trusted = pushing.authority.trusted
    before = len(report.problems) + sum(pushing.authority.foreign.values())
    if only_sessions is None:
        pages = batches(pushing.source, table, [table.c[name] for name in key])
    else:
        pages = _session_clocks(pushing.source, only_sessions)
    for rows in pages:
        versions = _versions(pushing, {row.hash for row in rows})
        values = []
        for row in rows:
            if table is clocks:
                peer_id = pushing.session_owner.get(row.session_id, "?")
                kind, entry_id, session_id = "clock", row.clock_id, row.session_id
            else:
                peer_id, kind, entry_id, session_id = row.peer_id, row.kind, row.entry_id, None
            reason = _head_refusal(pushing, row, versions.get(row.hash), peer_id, session_id)
            if reason is not None:
                report.refuse(f"current {kind} {entry_id}", peer_id, reason)
                continue
            if peer_id in trusted or pushing.admitted(
                f"current {kind} {entry_id}",
                peer_id,
                current_record(peer_id, kind, entry_id, row.hash, row.sequence, session_id),
                row.signature,
            ):
                values.append(row)
        pushing.writer.submit(partial(_write_heads, pushing, table, key, values), len(values))
    pushing.writer.drain()
    if len(report.problems) + sum(pushing.authority.foreign.values()) == before:
        with fleet_transaction(pushing.target) as writing:
            pushing.progress.settle(writing, table.name, aggregate)


def _versions(pushing: _Pushing, hashes: set[str]) -> dict[str, Any]:
    """The versions these current-version pointers name, as the fleet holds them: those this
    push brought or found (the same bytes, so the same peer, kind and id) read from the store,
    any other looked up in the fleet (brought by an earlier push)."""
    versions: dict[str, Any] = {
        row.hash: row
        for row in read_rows(
            pushing.source,
            select(
                entries.c.hash,
                entries.c.peer_id,
                entries.c.kind,
                entries.c.entry_id,
                entries.c.session_id,
            ).where(entries.c.hash.in_(hashes & pushing.accepted)),
        )
    }
    earlier = hashes - pushing.accepted - pushing.refused_hashes
    if earlier:
        with fleet_transaction(pushing.target) as writing:
            versions.update(
                (row.hash, row)
                for row in writing.execute(
                    select(
                        entries.c.hash,
                        entries.c.peer_id,
                        entries.c.kind,
                        entries.c.entry_id,
                        entries.c.session_id,
                    ).where(among(writing, entries.c.hash, earlier))
                )
            )
    return versions


def _write_heads(pushing: _Pushing, table: Table, key: list[str], values: list[Any]) -> None:
    """The fleet's side of a batch of current-version pointers (checked already)."""

    def newer(statement: Any) -> Any:
        incoming, stored = statement.excluded, table.c
        return statement.on_conflict_do_update(
            index_elements=key,
            set_={name: incoming[name] for name in _CHANGE_COLUMNS},
            where=and_(
                incoming.sequence > func.coalesce(stored.sequence, 0),
                or_(incoming.signature.is_not(None), stored.signature.is_(None)),
            ),
        ).returning(table.c.hash)

    with fleet_transaction(pushing.target) as writing:
        changed = insert_batch(
            writing,
            table,
            values,
            newer,
            pushing.report,
            lambda r: (f"current version {r.hash}", getattr(r, "peer_id", None) or "?"),
        )
    pushing.report.count(table.name, len(changed), len(values))


def _session_clocks(source: Connection, session_ids: list[str]) -> Iterator[list[Any]]:
    """The clocks of these sessions, a batch of sessions at a time."""
    for start in range(0, len(session_ids), BATCH):
        part = session_ids[start : start + BATCH]
        rows = read_rows(source, select(*clocks.c).where(clocks.c.session_id.in_(part)))
        if rows:
            yield list(rows)


def _head_refusal(
    pushing: _Pushing, row: Any, version: Any, peer_id: str, session_id: str | None
) -> str | None:
    """Why a current-version pointer cannot go in: it names a version the fleet lacks or one
    of another id, it has no sequence, or its session was refused."""
    problem = text_problem(row)
    if problem is not None:
        return problem
    if session_id is not None and session_id in pushing.refused_sessions:
        return f"its session {session_id} was refused"
    if type(row.sequence) is not int or row.sequence < 1:
        return "it has no sequence number of its store's order of changes"
    if version is None:
        why = "was refused" if row.hash in pushing.refused_hashes else "is not in the fleet"
        return f"its version {row.hash} {why}"
    kind = "clock" if session_id is not None else row.kind
    entry_id = row.clock_id if session_id is not None else row.entry_id
    if (version.peer_id, version.kind, version.entry_id, version.session_id) != (
        peer_id,
        kind,
        entry_id,
        session_id,
    ):
        return (
            f"its version {row.hash} is {version.peer_id}'s {version.kind} "
            f"{version.entry_id!r}, not this id's"
        )
    return None


def _log_refusal(pushing: _Pushing, row: Any, refs: list[Any]) -> str | None:
    """Why a log cannot go in before its authority is asked: its session was refused or is not
    its peer's, its manifest names another session or peer, or its refs are not its
    manifest's."""
    problem = text_problem(row)
    if problem is not None:
        return problem
    if row.session_id in pushing.refused_sessions:
        return f"its session {row.session_id} was refused"
    peer_id = pushing.session_owner.get(row.session_id)
    try:
        manifest = json.loads(row.manifest_json)
    except ValueError:
        return "its manifest does not parse"
    if not isinstance(manifest, dict) or (
        manifest.get("session_id"),
        manifest.get("source_peer_id"),
    ) != (row.session_id, peer_id):
        return "its manifest names another session or peer"
    named = manifest_refs(row.kind, manifest)
    held = {ref.role: (ref.peer_id, ref.entry_id, ref.hash) for ref in refs}
    if named is None or named != held:
        return "its references are not the ones its manifest names"
    return None


def _push_logs(pushing: _Pushing, rows: Sequence[Any]) -> None:
    report, source = pushing.report, pushing.source
    refs_of: dict[int, list[Any]] = {row.id: [] for row in rows}
    for ref in read_rows(source, select(*log_refs.c).where(log_refs.c.log_id.in_(list(refs_of)))):
        refs_of[ref.log_id].append(ref)
    sound = []
    for row in rows:
        peer_id = pushing.session_owner.get(row.session_id, "?")
        subject = f"log {row.resource_id} in session {row.session_id}"
        reason = _log_refusal(pushing, row, refs_of[row.id])
        if reason is not None:
            report.refuse(subject, peer_id, reason)
            continue
        message = row.manifest_json.encode("utf-8")
        if pushing.admitted(subject, peer_id, message, row.signature):
            sound.append(row)
    pushing.writer.submit(lambda: _write_logs(pushing, rows, sound, refs_of), len(rows))


def _write_logs(
    pushing: _Pushing, rows: Sequence[Any], sound: list[Any], refs_of: dict[int, list[Any]]
) -> None:
    """The fleet's side of a batch of logs: the checked ones inserted unless held with another
    manifest, then the references of those the fleet now holds with exactly this manifest."""
    report = pushing.report
    with fleet_transaction(pushing.target) as writing:
        held = (
            {
                (r.session_id, r.resource_id): (r.id, r.manifest_json)
                for r in writing.execute(
                    select(
                        logs.c.id, logs.c.session_id, logs.c.resource_id, logs.c.manifest_json
                    ).where(among(writing, logs.c.session_id, {row.session_id for row in sound}))
                )
            }
            if sound
            else {}
        )
        fresh, target_ids = [], {}
        for row in sound:
            key = (row.session_id, row.resource_id)
            stored = held.get(key)
            if stored is None:
                fresh.append(_LOG_VALUES(row[1:]))
            elif stored[1] == row.manifest_json:
                target_ids[key] = stored[0]
            else:
                report.refuse(
                    f"log {row.resource_id} in session {row.session_id}",
                    pushing.session_owner.get(row.session_id, "?"),
                    "the fleet holds a different manifest for it (its references neither)",
                )
        copied = insert_batch(
            writing,
            logs,
            fresh,
            lambda s: s.on_conflict_do_nothing().returning(
                logs.c.id, logs.c.session_id, logs.c.resource_id
            ),
            report,
            lambda r: (f"log {r.resource_id} in session {r.session_id}", "?"),
            unique=("session_id", "resource_id"),
        )
        report.count("logs", len(copied), len(copied) + len(target_ids))
        last = rows[-1]
        mark = f"{last.session_id}/{last.resource_id}"
        pushing.progress.advance(writing, "logs", last.id, mark, pushing.clean())
        # References only for logs the fleet now holds with exactly this manifest.
        target_ids.update({(r.session_id, r.resource_id): r.id for r in copied})
        values = [
            ref._replace(log_id=target_ids[(row.session_id, row.resource_id)])
            for row in sound
            if (row.session_id, row.resource_id) in target_ids
            for ref in refs_of[row.id]
        ]
        refs_copied = insert_batch(
            writing,
            log_refs,
            values,
            lambda s: s.on_conflict_do_nothing().returning(log_refs.c.log_id),
            report,
            lambda r: (f"a reference of log {r.log_id}", "?"),
        )
        report.count("log_refs", len(refs_copied), len(values))
