"""Who may push what into a fleet: a key-derived peer id's records with its valid signature,
any other peer's from the store the fleet binds it to (by the digest of the store's random
identity); and what PostgreSQL text can hold. Decided once per peer, then per record."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .._domain.identity import key_peer_id, signature_valid

__all__ = ["Authority", "PushOptions", "fingerprint", "store_digest", "text_problem"]


@dataclass(frozen=True, slots=True)
class PushOptions:
    """How a push treats authority: unsigned records of key-derived ids, explicit rebinds."""

    allow_unsigned: bool = False
    rebind: frozenset[str] = frozenset()
    """Peers whose fleet binding moves to this store (an operator's explicit decision)."""
    rebound_by: str = ""
    """Who decided the rebinds (recorded with them); the OS user when empty."""
    full: bool = False
    """Re-check every row instead of what changed since this store's last push to the fleet
    (for a fleet that lost rows, or to retry refused rows after the cause was fixed)."""


def store_digest(store_id: str) -> str:
    """What a fleet keeps of a store's identity: its SHA-256, so the fleet never holds the
    secret that lets a store speak for its peers."""
    return hashlib.sha256(store_id.encode("utf-8")).hexdigest()


def fingerprint(digest: str) -> str:
    """The short form of a store's digest that messages and listings show."""
    return digest[:16]


def text_problem(row: Any) -> str | None:
    """Why a row (a named tuple of its columns) cannot be stored as PostgreSQL text (a NUL, or
    text that is not UTF-8)."""
    # The common case in C: all its text at once (joined, no NUL or lone surrogate can form).
    joined = "".join([value for value in row if value.__class__ is str])
    if "\x00" not in joined:
        if joined.isascii():
            return None
        try:
            joined.encode("utf-8")
            return None
        except UnicodeEncodeError:
            pass
    for name, value in zip(row._fields, row, strict=True):
        if value.__class__ is not str:
            continue
        if "\x00" in value:
            return f"its {name} holds a NUL character, which PostgreSQL text cannot store"
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return f"its {name} is not valid UTF-8 text"
    return None


class Authority:
    """Which peers' records this push may add or change, decided once per peer against the
    fleet's bindings, then per record against its signature."""

    def __init__(self, options: PushOptions, digest: str) -> None:
        self.options = options
        self.digest = digest
        self._keys: dict[str, bytes | None] = {}
        self._bound: dict[str, str] = {}  # peer -> the digest of the store it is bound to
        self.trusted: set[str] = set()
        """Peers whose every record this push may add: plain ids bound to this store (no
        record of theirs needs a message built or a signature checked)."""
        self.foreign: Counter[str] = Counter()  # refused records of peers bound elsewhere

    def key(self, peer_id: str) -> bytes | None:
        if peer_id not in self._keys:
            self._keys[peer_id] = key_peer_id(peer_id)
        return self._keys[peer_id]

    def learn(self, peer_id: str, digest: str) -> None:
        self._bound[peer_id] = digest
        if digest == self.digest and self.key(peer_id) is None:
            self.trusted.add(peer_id)
        else:
            self.trusted.discard(peer_id)

    def bound_to(self, peer_id: str) -> str:
        return self._bound[peer_id]

    def bound_here(self, peer_id: str) -> bool:
        return self._bound.get(peer_id) == self.digest

    def refusal(self, peer_id: str, message: bytes, signature: str | None) -> str | None:
        """Why the record is refused ("" for a peer bound to another store, reported once per
        peer with its count), or None when it may go in."""
        if peer_id not in self._bound:
            return "the store does not list it among its peers"
        key = self.key(peer_id)
        if key is None:
            return None if self.bound_here(peer_id) else ""
        if signature is None:
            if not self.options.allow_unsigned:
                return f"unsigned, and {peer_id} is a key's id"
            return None if self.bound_here(peer_id) else ""
        try:
            raw = bytes.fromhex(signature)
        except ValueError:
            raw = b""
        if len(raw) == 64 and signature_valid(key, message, raw):
            return None
        return f"its signature is not {peer_id}'s"
