"""`export`: write a store in the Rust SDK's file layout (`registries/...` and the logs'
manifests), byte-identical to what the Rust SDK writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from .._domain.hashing import content_hash
from .._domain.layout import manifest_path
from .._domain.rust_layout import registry_file
from ..errors import StoreError
from .files import Directory, make_root
from .reader import Reader

__all__ = ["ExportReport", "export", "export_plan"]


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What `export` wrote: entry files and manifests, and how many were already there."""

    dest: str
    entries: int
    manifests: int
    written: int
    unchanged: int


def export_plan(reader: Reader) -> tuple[list[tuple[Path, bytes]], list[tuple[Path, bytes]]]:
    """The files an export writes (relative path, bytes): every entry version, every manifest.
    Refuses a store whose entries do not match their hashes."""
    files: list[tuple[Path, bytes]] = []
    for entry in reader.every_entry():
        data = entry.canonical_json.encode("utf-8")
        if content_hash(data) != entry.hash:
            raise StoreError(
                f"{reader.where}: {entry.kind} {entry.id!r} version {entry.hash} does not "
                "match its canonical JSON; run `auki-session verify`"
            )
        files.append((registry_file(entry.kind, entry.peer_id, entry.id, entry.hash), data))
    manifests = [
        (
            manifest_path(log.session_id, log.peer_id, log.resource_id),
            log.manifest_json.encode("utf-8"),
        )
        for log in reader.logs()
    ]
    return files, manifests


def export(reader: Reader, dest: Path) -> ExportReport:
    """Write every entry version and manifest under `dest`; files already there with the same
    bytes are kept, and a differing file stops the export before anything is written."""
    for path in (dest, *dest.parents):
        if path.exists() and not path.is_dir():
            where = "is a file" if path == dest else f"is inside {path}, which is a file"
            raise NotADirectoryError(
                f"export destination {dest} {where}, not a directory: give a new directory, "
                "or one an earlier export wrote"
            )
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
            f"{conflicts[0]}{more}: already exists with other content; refusing to overwrite "
            "(export into a new directory, or remove the differing files)"
        )
    make_root(dest)
    with Directory.open(dest) as top:
        for target, data in pending:
            relative = target.relative_to(dest)
            with top.walk(relative.parts[:-1], create=True) as directory:
                temporary = f".{relative.name}.{uuid.uuid4().hex}.tmp"
                directory.write_new(temporary, data)
                directory.replace(temporary, relative.name)
    total = len(files) + len(manifests)
    return ExportReport(str(dest), len(files), len(manifests), len(pending), total - len(pending))
