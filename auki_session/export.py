"""`export`: write a store in the Rust SDK's file layout (`registries/...` and the logs'
manifests), byte-identical to what the Rust SDK writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError
from .hashing import content_hash
from .logfiles import MANIFEST, atomic_write
from .records import Entry, LogInfo
from .store import inspection as queries
from .store.reader import Reader

_HASH = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What `export` wrote: entry files and manifests, and how many were already there."""

    dest: str
    entries: int
    manifests: int
    written: int
    unchanged: int


def _segment(name: str, what: str) -> str:
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise StoreError(f"cannot export {what} {name!r}: it is not a safe file name")
    return name


def entry_path(entry: Entry) -> Path:
    """`registries/<kind>s/<peer>/<id with / as __>/<hash>.json`, the Rust SDK's layout."""
    if not _HASH.fullmatch(entry.hash):
        raise StoreError(f"cannot export {entry.kind} {entry.id!r}: bad hash {entry.hash!r}")
    return Path(
        "registries",
        f"{entry.kind}s",
        _segment(entry.peer_id, "peer id"),
        _segment(entry.id.replace("/", "__"), "id"),
        f"{entry.hash}.json",
    )


def manifest_path(log: LogInfo) -> Path:
    """`<session>/logs/<peer>/<resource_id>/manifest.json`, nesting on `/` as the store does."""
    resource = [_segment(part, "resource id") for part in log.resource_id.split("/")]
    return Path(
        _segment(log.session_id, "session id"),
        "logs",
        _segment(log.peer_id, "peer id"),
        *resource,
        MANIFEST,
    )


def export_plan(reader: Reader) -> tuple[list[tuple[Path, bytes]], list[tuple[Path, bytes]]]:
    """The files an export writes (relative path, bytes): every entry version, every manifest.
    Refuses a store whose entries do not match their hashes."""
    files: list[tuple[Path, bytes]] = []
    for entry in queries.all_entries(reader):
        data = entry.canonical_json.encode("utf-8")
        if content_hash(data) != entry.hash:
            raise StoreError(
                f"{reader.store.path}: {entry.kind} {entry.id!r} version {entry.hash} does not "
                "match its canonical JSON; run `auki-session verify`"
            )
        files.append((entry_path(entry), data))
    manifests = [
        (manifest_path(log), log.manifest_json.encode("utf-8")) for log in queries.all_logs(reader)
    ]
    return files, manifests


def export(reader: Reader, dest: Path) -> ExportReport:
    """Write every entry version and manifest under `dest`; files already there with the same
    bytes are kept, and a differing file stops the export before anything is written."""
    files, manifests = export_plan(reader)
    pending: list[tuple[Path, bytes]] = []
    conflicts: list[Path] = []
    for relative, data in [*files, *manifests]:
        target = dest / relative
        try:
            same = target.read_bytes() == data
        except FileNotFoundError:
            pending.append((target, data))
            continue
        except OSError:
            same = False
        if not same:
            conflicts.append(target)
    if conflicts:
        more = f" and {len(conflicts) - 1} more" if len(conflicts) > 1 else ""
        raise FileExistsError(
            f"{conflicts[0]}{more}: already exists with other content; refusing to overwrite"
        )
    for target, data in pending:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data, durable=False)
    total = len(files) + len(manifests)
    return ExportReport(str(dest), len(files), len(manifests), len(pending), total - len(pending))
