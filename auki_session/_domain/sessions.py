"""A recording session as the read side returns it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SessionInfo"]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A recording session as stored."""

    session_id: str
    peer_id: str
    app_id: str
    started_at: str
    signature: str | None = None
    """Hex Ed25519 signature of the session record by the peer's key (None: unsigned)."""
