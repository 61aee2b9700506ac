"""Where things live under a storage root, defined once (pure path arithmetic, no I/O).

```
<root>/auki_session.db                                     the database (SQLite)
<root>/.auki_session/pending/<journal>.json                transactions' manifest journals
<root>/<session_id>/logs/<peer_id>/<resource_id>/manifest.json
<root>/registries/<kind>s/<peer_id>/<id with / as __>/<hash>.json   the Rust SDK's layout
```
A resource id may contain `/`: its log directory then nests, as the Rust SDK's does.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path, PurePosixPath

from ..errors import InvalidIdError, StoreError

__all__ = [
    "DB_FILENAME",
    "JOURNAL_DIR",
    "MANIFEST",
    "check_peer_path",
    "check_registry_names",
    "check_resource_path",
    "directory_keys",
    "log_parts",
    "manifest_path",
]

DB_FILENAME = "auki_session.db"
JOURNAL_DIR = PurePosixPath(".auki_session", "pending")
MANIFEST = "manifest.json"
_NAME_MAX_BYTES = 255
_HASH = re.compile(r"[0-9a-f]{32}")


def log_parts(session_id: str, peer_id: str, resource_id: str) -> tuple[str, ...]:
    """The path segments of a log directory below the root, nesting on `/` in the resource id."""
    return (session_id, "logs", peer_id, *resource_id.split("/"))


def check_resource_path(resource_id: str) -> None:
    """Refuse a resource id that cannot be a directory path inside the storage root."""
    for segment in resource_id.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidIdError(f'registry id contains reserved path segment "{segment}"')
        if "\0" in segment or len(segment.encode("utf-8", "surrogatepass")) > _NAME_MAX_BYTES:
            raise InvalidIdError(
                f"resource id {resource_id!r} cannot be a directory name: each '/'-separated "
                f"part must be at most {_NAME_MAX_BYTES} bytes and contain no NUL"
            )


def check_registry_names(peer_id: str, entry_id: str) -> None:
    """Refuse a peer id or id that cannot name its registry file's directory in the Rust
    layout (each with "/" written "__", one path segment of at most NAME_MAX bytes)."""
    for argument, value in (("peer_id", peer_id), ("id", entry_id)):
        name = value.replace("/", "__")
        if "\0" in name or len(name.encode("utf-8", "surrogatepass")) > _NAME_MAX_BYTES:
            raise InvalidIdError(
                f"{argument} {value!r} cannot name a registry directory (registries/<kind>s/"
                f'<peer>/<id>, "/" written "__"): it must be at most {_NAME_MAX_BYTES} '
                "bytes so written, and contain no NUL; use a shorter one, or turn the registry "
                "mirror off (Peer.with_registry_mirror(False))"
            )


def check_peer_path(peer_id: str) -> None:
    """Refuse a peer id that cannot name the directory of its logs (one path segment)."""
    if "\0" in peer_id or len(peer_id.encode("utf-8", "surrogatepass")) > _NAME_MAX_BYTES:
        raise InvalidIdError(
            f"peer id {peer_id!r} cannot be a directory name for its logs: it must be at most "
            f"{_NAME_MAX_BYTES} bytes and contain no NUL"
        )


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def directory_keys(resource_id: str) -> tuple[str, tuple[str, ...]]:
    """How a log's directory is named on a file system that ignores letter case or Unicode
    form (vfat, exFAT, macOS): its key, and the keys of the logs it would clash with there
    (the same directory, or one whose `manifest.json` the other's directory would be)."""
    key = _fold(resource_id)
    suffix = "/" + _fold(MANIFEST)
    clashes = [key, key + suffix]
    if key.endswith(suffix):
        clashes.append(key[: -len(suffix)])
    return key, tuple(clashes)


def _segment(name: str, what: str) -> str:
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise StoreError(f"cannot export {what} {name!r}: it is not a safe file name")
    return name


def manifest_path(session_id: str, peer_id: str, resource_id: str) -> Path:
    """A log's `manifest.json` relative to a root, each segment checked to be one safe name."""
    parts = log_parts(session_id, peer_id, resource_id)
    checked = [_segment(parts[0], "session id"), "logs", _segment(peer_id, "peer id")]
    checked += [_segment(part, "resource id") for part in parts[3:]]
    return Path(*checked, MANIFEST)
