"""What the command line's arguments name: an entry version by its hash or a unique prefix of
it, a session by its id, a unique prefix of it, or `latest`. Each failure names the argument,
says what is wrong and what to give instead."""

from __future__ import annotations

from .._domain.entries import Entry
from .._domain.prefixes import LISTED, ambiguous, hash_prefix
from .._store.reader import Reader
from ..errors import NotFoundError

__all__ = ["LATEST", "entry_by_hash", "session_by_id"]

LATEST = "latest"


def entry_by_hash(reader: Reader, text: str, argument: str) -> Entry:
    """The entry version whose hash is `text` or starts with it."""
    prefix = hash_prefix(text, argument)
    matches = reader.entries_by_hash_prefix(prefix, LISTED + 1)
    if not matches:
        raise NotFoundError(
            f"{argument} {text!r}: no entry version's hash starts with it (`auki-session "
            "history` lists every version with its hash)"
        )
    if len(matches) > 1:
        named = [f"{e.hash} ({e.kind} {e.peer_id}/{e.id})" for e in matches]
        raise ValueError(ambiguous(argument, text, named, LISTED + 1, "give more digits"))
    return matches[0]


def session_by_id(reader: Reader, text: str, argument: str, peer_id: str | None = None) -> str:
    """The id of the session `text` names: its id, a unique prefix of it (in any case), or
    `latest` (the session started last; of `peer_id` when given)."""
    if text == LATEST:
        found = reader.latest_sessions(1, peer_id)
        if not found:
            holder = f"peer {peer_id!r} has" if peer_id else "the store holds"
            raise NotFoundError(f"{argument} {LATEST}: {holder} no sessions yet")
        return found[0].session_id
    exact = reader.session(text) if text else None
    if exact is not None and peer_id in (None, exact.peer_id):
        return exact.session_id
    matches = reader.sessions_by_prefix(text, LISTED + 1, peer_id) if text.strip() else []
    if not matches:
        raise NotFoundError(
            f"{argument} {text!r}: no session's id starts with it (`auki-session sessions` "
            f"lists them; `{LATEST}` names the last one)"
        )
    if len(matches) > 1:
        named = [f"{s.session_id} ({s.peer_id})" for s in matches]
        raise ValueError(ambiguous(argument, text, named, LISTED + 1, "give more characters"))
    return matches[0].session_id
