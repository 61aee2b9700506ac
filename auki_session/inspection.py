"""Offline inspection of a storage root: verify it, export it to the Rust SDK's file layout, and
present what it holds (aligned tables for people, plain JSON values for scripts)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .canonical import canonical_json
from .entries import ID_KEYS, MAX_ENTRY_BYTES
from .errors import StoreError
from .hashing import content_hash
from .logfiles import JOURNAL_DIR, atomic_write, pending_journals
from .records import Entry, LogInfo
from .specs import HeadSpec
from .store import inspection as queries
from .store.reader import Reader

MANIFEST = "manifest.json"
_HASH = re.compile(r"[0-9a-f]{32}")

# --- verify -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing `verify` found wrong: which check, what it concerns, and what is wrong."""

    check: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What `verify` checked and found."""

    entries: int
    logs: int
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong (warnings do not count)."""
        return not self.problems


def entry_problems(entry: Entry) -> list[Problem]:
    """Check one stored version: its hash, its canonical form, and that the JSON names the
    peer, id and session the row does."""
    subject = f"{entry.kind} {entry.peer_id}/{entry.id}@{entry.hash}"
    problems: list[Problem] = []
    try:
        data = entry.canonical_json.encode("utf-8")
    except UnicodeEncodeError as error:
        return [Problem("canonical", subject, f"stored JSON is not valid UTF-8 text: {error}")]
    computed = content_hash(data)
    if computed != entry.hash:
        problems.append(
            Problem("hash", subject, f"stored JSON hashes to {computed}, not the stored hash")
        )
    if len(data) > MAX_ENTRY_BYTES:
        problems.append(
            Problem("canonical", subject, f"{len(data)} bytes, over the {MAX_ENTRY_BYTES} limit")
        )
    try:
        value = json.loads(data)
        canonical = canonical_json(value)
    except ValueError as error:
        return [*problems, Problem("canonical", subject, f"stored JSON does not parse: {error}")]
    if canonical != data:
        problems.append(Problem("canonical", subject, "stored JSON is not in canonical form"))
    id_key = ID_KEYS.get(entry.kind)
    expected: dict[str, object] = {"peer_id": entry.peer_id}
    if id_key is not None:
        expected[id_key] = entry.id
    if entry.kind == "clock":
        expected["session_id"] = entry.session_id
    if not isinstance(value, dict):
        problems.append(Problem("identity", subject, "stored JSON is not an object"))
        return problems
    for key, wanted in expected.items():
        if value.get(key) != wanted:
            problems.append(
                Problem(
                    "identity", subject, f"JSON has {key}={value.get(key)!r}, row has {wanted!r}"
                )
            )
    if entry.kind != "clock" and "session_id" in value:
        problems.append(Problem("identity", subject, "a registry entry must not carry session_id"))
    return problems


def manifest_problems(log: LogInfo) -> list[Problem]:
    """Check a log's manifest: canonical in the database, and the same bytes on disk."""
    path = Path(log.root) / MANIFEST
    subject = str(path)
    stored = log.manifest_json.encode("utf-8")
    problems: list[Problem] = []
    try:
        value = json.loads(stored)
        if canonical_json(value) != stored:
            problems.append(Problem("manifest", subject, "database manifest is not canonical"))
        elif not isinstance(value, dict) or (
            value.get("session_id"),
            value.get("source_peer_id"),
        ) != (log.session_id, log.peer_id):
            problems.append(
                Problem("manifest", subject, "database manifest names another session or peer")
            )
    except ValueError as error:
        problems.append(Problem("manifest", subject, f"database manifest does not parse: {error}"))
    try:
        on_disk = path.read_bytes()
    except FileNotFoundError:
        return [*problems, Problem("manifest", subject, "missing on disk")]
    except OSError as error:
        return [*problems, Problem("manifest", subject, f"cannot be read: {error.strerror}")]
    if on_disk != stored:
        problems.append(Problem("manifest", subject, "differs from the database's manifest_json"))
    return problems


def manifests_on_disk(root: Path) -> Iterator[tuple[str, str, str, Path]]:
    """Every `<session>/logs/<peer>/<resource...>/manifest.json` under a storage root, as
    (session_id, peer_id, resource_id, path)."""
    try:
        sessions = sorted(
            (entry for entry in os.scandir(root) if entry.is_dir()), key=lambda entry: entry.name
        )
    except OSError:
        return
    for session in sessions:
        logs = Path(session.path) / "logs"
        if session.name.startswith(".") or not logs.is_dir():
            continue
        for directory, dirnames, filenames in os.walk(logs):
            dirnames.sort()
            parts = Path(directory).relative_to(logs).parts
            if MANIFEST in filenames and len(parts) >= 2:
                path = Path(directory) / MANIFEST
                yield session.name, parts[0], "/".join(parts[1:]), path


def verify(reader: Reader, *, check_files: bool = True) -> VerifyReport:
    """Recompute every hash, check every manifest against the disk, find manifests with no
    log, and run SQLite's integrity and foreign key checks. Without `check_files` (a fleet
    database, whose manifests stay on the robots), only the database is checked."""
    problems: list[Problem] = []
    count = 0
    for entry in queries.all_entries(reader):
        count += 1
        problems += entry_problems(entry)
    logs = queries.all_logs(reader)
    root = reader.store.root
    if check_files:
        for log in logs:
            problems += manifest_problems(log)
        known = {(log.session_id, log.peer_id, log.resource_id) for log in logs}
        for session_id, peer_id, resource_id, path in manifests_on_disk(root):
            if (session_id, peer_id, resource_id) not in known:
                problems.append(Problem("orphan", str(path), "manifest on disk has no log row"))
    problems += [
        Problem("head", "current versions", text) for text in queries.misfiled_heads(reader)
    ]
    problems += [
        Problem("integrity", "integrity_check", text) for text in queries.integrity_problems(reader)
    ]
    problems += [
        Problem("foreign_key", "foreign_key_check", text)
        for text in queries.foreign_key_problems(reader)
    ]
    warnings = []
    journals = pending_journals(root) if check_files else []
    if journals:
        warnings.append(
            f"{len(journals)} unfinished transaction journal(s) in {root / JOURNAL_DIR}: a writer "
            "stopped mid-transaction; the next writer to open the store removes its manifests"
        )
    return VerifyReport(count, len(logs), tuple(problems), tuple(warnings))


# --- export -------------------------------------------------------------------------------------


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


# --- presentation -------------------------------------------------------------------------------


def entry_json(entry: Entry, current: bool | None = None) -> dict[str, Any]:
    """One version as a JSON object; `entry` holds the flat entry, so `canonical_json(entry)`
    gives back the stored bytes and `content_hash` of them the hash."""
    value: dict[str, Any] = {
        "kind": entry.kind,
        "peer_id": entry.peer_id,
        "id": entry.id,
        "hash": entry.hash,
        "session_id": entry.session_id,
        "registered_at": entry.registered_at,
    }
    if current is not None:
        value["current"] = current
    value["entry"] = entry.entry
    return value


def log_json(log: LogInfo) -> dict[str, Any]:
    """One log as a JSON object, with its manifest and head spec."""
    return {
        "session_id": log.session_id,
        "peer_id": log.peer_id,
        "resource_id": log.resource_id,
        "kind": log.kind,
        "registered_at": log.registered_at,
        "head": log.head.to_dict(),
        "root": log.root,
        "log_ref": log.log_ref.to_dict(),
        "manifest": log.manifest,
    }


def record_json(record: Any) -> dict[str, Any]:
    """A summary dataclass (peer, session, counts) as a JSON object."""
    value: dict[str, Any] = asdict(record)
    return value


def format_duration(ns: int) -> str:
    """Nanoseconds the way people say them: `5 s`, `250 ms`, `1.5 h`."""
    for unit, size in (
        ("h", 3_600_000_000_000),
        ("min", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ):
        if ns >= size:
            return f"{ns / size:g} {unit}"
    return f"{ns} ns"


def format_head(head: HeadSpec) -> str:
    """`rolling 5 s` or `fixed`."""
    if head.kind == "rolling" and head.retention_ns is not None:
        return f"rolling {format_duration(head.retention_ns)}"
    return head.kind


def format_retention(ns: int) -> str:
    """A log's retention: `forever` for 0."""
    return "forever" if ns == 0 else format_duration(ns)


def format_size(size: int) -> str:
    """Bytes for people: `88.0 KiB`."""
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def format_time(timestamp: str) -> str:
    """An ISO-8601 UTC timestamp to the second: `2026-11-25 12:03:05Z`."""
    return timestamp[:19].replace("T", " ") + "Z" if len(timestamp) >= 19 else timestamp


def format_ref(value: object, peer_id: str | None = None) -> str:
    """A ref from an entry or manifest as `peer/id@hash` (`id@hash` when the peer is
    `peer_id`), a log ref as `peer/resource`, anything else as compact JSON."""
    if isinstance(value, dict):
        if value.keys() == {"peer_id", "id", "hash"}:
            owner = "" if value["peer_id"] == peer_id else f"{value['peer_id']}/"
            return f"{owner}{value['id']}@{value['hash']}"
        if value.keys() == {"source_peer_id", "resource_id"}:
            return f"{value['source_peer_id']}/{value['resource_id']}"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def describe(entry: Entry) -> str:
    """A one-line description of a version's body, for tables."""
    body = entry.body
    try:
        if entry.kind == "frame":
            axes = body["axes"]
            return (
                f"{body['handedness']}-handed, x {axes['x']}, y {axes['y']}, z {axes['z']}, "
                f"{body['units']}"
            )
        if entry.kind == "sensor":
            parts = [f"{body['kind']} {body['type']}"]
            if "width" in body:
                parts.append(f"{body['width']}x{body['height']} {body['pixel_format']}")
            if "frame_rate_hz" in body:
                parts.append(f"{body['frame_rate_hz']} Hz")
            if "frame" in body:
                parts.append(f"in {body['frame']['id']}")
            return ", ".join(parts)
        if entry.kind == "detector":
            detail = body.get("dictionary") or body.get("model") or body.get("kind") or ""
            outputs = ", ".join(body["output_types"])
            return f"{body['type']} {detail}".strip() + (f" -> {outputs}" if outputs else "")
        if entry.kind == "clock":
            epoch = f" since {body['epoch']}" if body.get("epoch") else ""
            return f"{body['type']}, {body['unit']}{epoch}, {body['scope']}"
    except (KeyError, TypeError):
        pass
    return format_ref(body)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Sequence[int] = (),
    indent: str = "",
) -> list[str]:
    """Rows aligned in columns under upper-case headers; `numeric` columns align right."""
    cells = [[header.upper() for header in headers], *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append((indent + "  ".join(padded)).rstrip())
    return lines
