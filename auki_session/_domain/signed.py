"""What a key-derived peer signs besides its entries (whose canonical JSON it signs as is):
the canonical bytes of a change of current version and of a session. Pure."""

from __future__ import annotations

from json.encoder import encode_basestring as quote

from .canonical import canonical_json

__all__ = ["current_record", "session_record"]


def current_record(
    peer_id: str, kind: str, entry_id: str, entry_hash: str, sequence: int, session_id: str | None
) -> bytes:
    """A change of current version: `entry_hash` became current for (peer, kind, id) as the
    peer's change number `sequence` in its store (a clock's: in its session). The canonical
    JSON of {hash, id, kind, peer_id, sequence[, session_id]}, written directly (its keys are
    fixed and already in canonical order; it is signed with every registration)."""
    if type(sequence) is not int:
        raise TypeError(f"sequence must be an int, got {type(sequence).__name__}")
    text = (
        f'{{"hash":{quote(entry_hash)},"id":{quote(entry_id)},"kind":{quote(kind)},'
        f'"peer_id":{quote(peer_id)},"sequence":{sequence}'
    )
    if session_id is not None:
        text += f',"session_id":{quote(session_id)}'
    return (text + "}").encode("utf-8")


def session_record(peer_id: str, session_id: str, app_id: str, started_at: str) -> bytes:
    """A session as its peer started it."""
    return canonical_json(
        {"app_id": app_id, "peer_id": peer_id, "session_id": session_id, "started_at": started_at}
    )
