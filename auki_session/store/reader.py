"""The read queries (compiled once per dialect) and `Reader`, returning value objects."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, bindparam, func, select

from ..records import Entry, LogInfo, SessionInfo
from ..specs import HeadSpec
from .prepared import Runner, Statement
from .tables import clocks, entries, heads, log_refs, logs, peers, sessions

if TYPE_CHECKING:
    from .repository import Store


ENTRY_COLUMNS = (
    entries.c.kind,
    entries.c.peer_id,
    entries.c.entry_id,
    entries.c.hash,
    entries.c.session_id,
    entries.c.canonical_json,
    entries.c.registered_at,
)
_LOG_COLUMNS = (
    logs.c.session_id,
    sessions.c.peer_id,
    logs.c.resource_id,
    logs.c.kind,
    logs.c.manifest_json,
    logs.c.head_json,
    logs.c.registered_at,
)


def entry_record(row: Sequence[Any]) -> Entry:
    return Entry(*row)


_SESSION_COLUMNS = (
    sessions.c.session_id,
    sessions.c.peer_id,
    sessions.c.app_id,
    sessions.c.started_at,
)


def _current_entries(by_kind: bool) -> Select[Any]:
    query = (
        select(*ENTRY_COLUMNS)
        .join(heads, heads.c.hash == entries.c.hash)
        .where(heads.c.peer_id == bindparam("peer_id"))
        .order_by(heads.c.kind, heads.c.entry_id)
    )
    return query.where(heads.c.kind == bindparam("kind")) if by_kind else query


def _history() -> Select[Any]:
    return (
        select(*ENTRY_COLUMNS)
        .where(*(entries.c[name] == bindparam(name) for name in ("peer_id", "kind", "entry_id")))
        .order_by(entries.c.id)
    )


def _logs() -> Select[Any]:
    return (
        select(*_LOG_COLUMNS)
        .join(sessions, sessions.c.session_id == logs.c.session_id)
        .order_by(logs.c.id)
    )


# The read queries (see prepared.py).
_CURRENT_ENTRIES = Statement("current_entries", ("peer_id",), lambda _: _current_entries(False))
_CURRENT_ENTRIES_OF_KIND = Statement(
    "current_entries_of_kind", ("peer_id", "kind"), lambda _: _current_entries(True)
)
_CURRENT = Statement(
    "current",
    ("peer_id", "kind", "entry_id"),
    lambda _: (
        select(*ENTRY_COLUMNS)
        .join(heads, heads.c.hash == entries.c.hash)
        .where(*(heads.c[name] == bindparam(name) for name in ("peer_id", "kind", "entry_id")))
    ),
)
_ENTRY = Statement(
    "entry", ("hash",), lambda _: select(*ENTRY_COLUMNS).where(entries.c.hash == bindparam("hash"))
)
_HISTORY = Statement("history", ("peer_id", "kind", "entry_id"), lambda _: _history())
_SESSIONS = Statement(
    "sessions", (), lambda _: select(*_SESSION_COLUMNS).order_by(sessions.c.session_id)
)
_PEER_SESSIONS = Statement(
    "peer_sessions",
    ("peer_id",),
    lambda _: (
        select(*_SESSION_COLUMNS)
        .where(sessions.c.peer_id == bindparam("peer_id"))
        .order_by(sessions.c.session_id)
    ),
)
_SESSION = Statement(
    "session",
    ("session_id",),
    lambda _: select(*_SESSION_COLUMNS).where(sessions.c.session_id == bindparam("session_id")),
)
_SESSION_CLOCKS = Statement(
    "session_clocks",
    ("session_id",),
    lambda _: (
        select(*ENTRY_COLUMNS)
        .join(clocks, clocks.c.hash == entries.c.hash)
        .where(clocks.c.session_id == bindparam("session_id"))
        .order_by(entries.c.id)
    ),
)
_SESSION_LOGS = Statement(
    "session_logs",
    ("session_id",),
    lambda _: _logs().where(logs.c.session_id == bindparam("session_id")),
)
_LOGS_USING = Statement(
    "logs_using",
    ("hash",),
    lambda _: _logs().where(
        logs.c.id.in_(select(log_refs.c.log_id).where(log_refs.c.hash == bindparam("hash")))
    ),
)


class Reader:
    """The read queries, on one connection (`connection`, for queries of one's own)."""

    def __init__(self, store: Store, connection: Connection, run: Runner | None = None) -> None:
        self.store = store
        self.connection = connection
        self.run = run or Runner(connection)
        self._root = str(store.root)

    def current_entries(self, peer_id: str, kind: str | None = None) -> list[Entry]:
        """The current version of every frame, sensor and detector id of a peer."""
        if kind is None:
            rows = self.run.all(_CURRENT_ENTRIES, (peer_id,))
        else:
            rows = self.run.all(_CURRENT_ENTRIES_OF_KIND, (peer_id, kind))
        return [entry_record(row) for row in rows]

    def current(self, peer_id: str, kind: str, entry_id: str) -> Entry | None:
        """The current version of one id, if it was ever registered."""
        row = self.run.one(_CURRENT, (peer_id, kind, entry_id))
        return None if row is None else entry_record(row)

    def entry(self, entry_hash: str) -> Entry | None:
        """The version with this hash, if stored."""
        row = self.run.one(_ENTRY, (entry_hash,))
        return None if row is None else entry_record(row)

    def history(self, peer_id: str, kind: str, entry_id: str) -> list[Entry]:
        """Every distinct version of an id, in the order first registered."""
        rows = self.run.all(_HISTORY, (peer_id, kind, entry_id))
        return [entry_record(row) for row in rows]

    def sessions(self, peer_id: str | None = None) -> list[SessionInfo]:
        """Sessions, oldest first (ULIDs sort by time)."""
        if peer_id is None:
            rows = self.run.all(_SESSIONS)
        else:
            rows = self.run.all(_PEER_SESSIONS, (peer_id,))
        return [SessionInfo(*row) for row in rows]

    def session(self, session_id: str) -> SessionInfo | None:
        """One session, if stored."""
        row = self.run.one(_SESSION, (session_id,))
        return None if row is None else SessionInfo(*row)

    def session_clocks(self, session_id: str) -> list[Entry]:
        """The current version of each of a session's clocks."""
        return [entry_record(row) for row in self.run.all(_SESSION_CLOCKS, (session_id,))]

    def session_logs(self, session_id: str) -> list[LogInfo]:
        """A session's logs, in the order registered."""
        return [self._log(row) for row in self.run.all(_SESSION_LOGS, (session_id,))]

    def _log(self, row: Sequence[Any]) -> LogInfo:
        session_id, peer_id, resource_id, kind, manifest, head, registered_at = row
        # log_dir()'s path, joined as strings: a Path per row is a third of this method's time.
        root = os.path.join(self._root, session_id, "logs", peer_id, *resource_id.split("/"))
        return LogInfo(
            session_id, peer_id, resource_id, kind, manifest, _head(head), registered_at, root
        )

    def logs_using(self, entry_hash: str) -> list[LogInfo]:
        """Every log whose manifest references this entry version (any role)."""
        return [self._log(row) for row in self.run.all(_LOGS_USING, (entry_hash,))]

    def count(self, table: str) -> int:
        """Rows in one of the store's tables (for summaries)."""
        target = {"peers": peers, "entries": entries, "sessions": sessions, "logs": logs}[table]
        return int(self.connection.execute(select(func.count()).select_from(target)).scalar_one())


@functools.lru_cache(maxsize=256)
def _head(head_json: str) -> HeadSpec:
    """A stored head spec, parsed once per distinct text (logs share a handful of them)."""
    return HeadSpec.from_dict(json.loads(head_json))
