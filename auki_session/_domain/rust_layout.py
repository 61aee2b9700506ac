"""The Rust SDK's registry files: where one entry's file lives, and what makes a file valid
(pure: names and bytes in, entries or a reason out; the store reads and writes the files).

```
<root>/registries/<kind>s/<peer_id, / as __>/<id, / as __>/<hash>.json
```
The file holds the entry's canonical JSON bytes, no trailing newline. Ids `a/b` and `a__b`
share a directory (their files differ by hash and say their id inside).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import AukiSessionError, InvalidIdError, StoreError
from .canonical import parse_canonical
from .entries import (
    ID_KEYS,
    MAX_ENTRY_BYTES,
    CanonicalEntry,
    EntryKind,
    clock_entry,
    detector_entry,
    frame_entry,
    sensor_entry,
)
from .hashing import content_hash
from .ids import validate_peer_id

__all__ = [
    "REGISTRIES",
    "OtherSessionError",
    "RegistryFileError",
    "file_hash",
    "is_hash",
    "is_temp_of",
    "registry_dir",
    "registry_file",
    "registry_name",
    "registry_parts",
    "temp_name",
    "valid_registry_file",
]

REGISTRIES = "registries"
_HASH = re.compile(r"[0-9a-f]{32}")
_FILE = re.compile(r"([0-9a-f]{32})\.json")


class RegistryFileError(ValueError):
    """Why a registry file is not a valid entry (the store adds the file's path)."""


class OtherSessionError(RegistryFileError):
    """A clock's file that belongs to another session than the one asked about: no clock of
    that session (the file itself may be sound)."""


def is_hash(text: str) -> bool:
    """Whether `text` is a content hash as the Rust SDK names files: 32 lowercase hex."""
    return _HASH.fullmatch(text) is not None


def registry_dir(name: str) -> str:
    """A peer id or entry id as one directory name: every `/` replaced by `__`."""
    return name.replace("/", "__")


def registry_parts(kind: str, peer_id: str, entry_id: str) -> tuple[str, str, str, str]:
    """The directories, below the root, holding the files of one id's versions."""
    return (REGISTRIES, f"{kind}s", registry_dir(peer_id), registry_dir(entry_id))


def registry_file(kind: str, peer_id: str, entry_id: str, entry_hash: str) -> Path:
    """One version's file relative to a root, for `export`; a hash or name that cannot be one
    safe path segment is refused (StoreError)."""
    if not _HASH.fullmatch(entry_hash):
        raise StoreError(f"cannot export {kind} {entry_id!r}: bad hash {entry_hash!r}")
    parts = registry_parts(kind, peer_id, entry_id)
    for what, name in (("peer id", parts[2]), ("id", parts[3])):
        if name in ("", ".", "..") or "\0" in name:
            raise StoreError(f"cannot export {what} {name!r}: it is not a safe file name")
    return Path(*parts, registry_name(entry_hash))


def registry_name(entry_hash: str) -> str:
    """The file name of one version."""
    return f"{entry_hash}.json"


def file_hash(name: str) -> str | None:
    """The hash a registry file's name gives, or None for any other name."""
    found = _FILE.fullmatch(name)
    return found.group(1) if found else None


def temp_name(name: str, unique: str) -> str:
    """The temporary file a write goes through: `.<name>.<unique>.tmp` beside it (the Rust
    SDK's is `.<name>.tmp`; ours is unique, so that it never meets a Rust writer's)."""
    return f".{name}.{unique}.tmp"


def is_temp_of(candidate: str, name: str) -> bool:
    """Whether `candidate` is a temporary file this package writes for `name` (never the Rust
    SDK's `.<name>.tmp`, which has no unique part: a live Rust writer's file is not ours)."""
    prefix = f".{name}."
    if not (candidate.startswith(prefix) and candidate.endswith(".tmp")):
        return False
    return len(candidate) > len(prefix) + len(".tmp")


def valid_registry_file(
    kind: EntryKind,
    data: bytes,
    *,
    entry_hash: str,
    peer_id: str | None = None,
    entry_id: str | None = None,
    session_id: str | None = None,
) -> CanonicalEntry:
    """The entry a registry file holds, checked as the Rust SDK reads it and as if registered
    here: size cap, the hash recomputed from the bytes, peer and id as expected (when given),
    and the body parsed by this kind's schema and re-serialised to exactly these bytes (so an
    unknown field, a wrong type or a non-canonical spelling is refused)."""
    if not is_hash(entry_hash):
        raise RegistryFileError(f"invalid hash {entry_hash!r}: expected 32 lowercase hex digits")
    if len(data) > MAX_ENTRY_BYTES:
        raise RegistryFileError(
            f"registry entry is {len(data)} bytes, over the {MAX_ENTRY_BYTES} byte limit"
        )
    computed = content_hash(data)
    if computed != entry_hash:
        raise RegistryFileError(f"hash mismatch: expected {entry_hash}, found {computed}")
    try:
        value, _ = parse_canonical(data)
    except (ValueError, RecursionError) as error:
        raise RegistryFileError(f"not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise RegistryFileError("not a JSON object")
    id_key = ID_KEYS[kind]
    found_peer, found_id = value.get("peer_id"), value.get(id_key)
    if not isinstance(found_peer, str) or not isinstance(found_id, str):
        raise RegistryFileError(f"missing peer_id or {id_key}")
    if peer_id is not None and found_peer != peer_id:
        raise RegistryFileError(f"peer_id mismatch: expected {peer_id}, found {found_peer}")
    try:
        validate_peer_id(found_peer)  # as Peer(...) would: a file's peer must be a usable one
    except InvalidIdError as error:
        raise RegistryFileError(str(error)) from None
    if entry_id is not None and found_id != entry_id:
        raise RegistryFileError(f"id mismatch: expected {entry_id}, found {found_id}")
    found_session = value.get("session_id")
    if session_id is not None and found_session != session_id:
        raise OtherSessionError(f"session mismatch: expected {session_id}, found {found_session!r}")
    try:
        entry = _rebuild(kind, value)
    except (AukiSessionError, ValueError, TypeError) as error:
        raise RegistryFileError(f"not a valid {kind} entry: {error}") from None
    if entry.canonical != data:
        raise RegistryFileError(f"not the canonical JSON of a {kind} entry")
    return entry


def _rebuild(kind: EntryKind, value: dict[str, Any]) -> CanonicalEntry:
    """The entry a registration here would make from the file's fields."""
    body = dict(value)
    peer_id = body.pop("peer_id")
    entry_id = body.pop(ID_KEYS[kind])
    if kind == "clock":
        session_id = body.pop("session_id", None)
        if not isinstance(session_id, str) or not session_id:
            raise RegistryFileError("a clock entry needs a session_id")
        return clock_entry(peer_id, session_id, entry_id, body)
    if "session_id" in body:
        raise RegistryFileError(f"a {kind} entry must not carry session_id")
    if kind == "frame":
        return frame_entry(peer_id, entry_id, body)
    if kind == "sensor":
        return sensor_entry(peer_id, entry_id, body)
    outputs = body.pop("output_types", None)
    inputs = body.pop("input_types", None)
    return detector_entry(peer_id, entry_id, body, outputs, inputs)
