"""What the read side returns: plain, immutable value objects (never database rows)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .entries import ID_KEYS
from .refs import LogRef, RegistryRef
from .specs import HeadSpec


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored version of a registry entry."""

    kind: str
    peer_id: str
    id: str
    hash: str
    session_id: str | None
    canonical_json: str
    registered_at: str

    @property
    def ref(self) -> RegistryRef:
        """The RegistryRef naming this version."""
        return RegistryRef(peer_id=self.peer_id, id=self.id, hash=self.hash)

    @property
    def entry(self) -> dict[str, Any]:
        """The whole flat entry object, as hashed."""
        value: dict[str, Any] = json.loads(self.canonical_json)
        return value

    @property
    def body(self) -> dict[str, Any]:
        """The body fields alone (without peer_id, the id key and session_id)."""
        entry = self.entry
        for key in ("peer_id", ID_KEYS[self.kind], "session_id"):
            entry.pop(key, None)
        return entry


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A recording session as stored."""

    session_id: str
    peer_id: str
    app_id: str
    started_at: str


@dataclass(frozen=True, slots=True)
class LogInfo:
    """A registered log: its identity, manifest, head spec and directory."""

    session_id: str
    peer_id: str
    resource_id: str
    kind: str
    manifest_json: str
    head: HeadSpec
    registered_at: str
    root: str

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest as a dict."""
        value: dict[str, Any] = json.loads(self.manifest_json)
        return value

    @property
    def log_ref(self) -> LogRef:
        """The LogRef naming this log."""
        return LogRef(source_peer_id=self.peer_id, resource_id=self.resource_id)
