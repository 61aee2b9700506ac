"""`verify`: recompute every hash, compare every manifest on disk with the database, find
manifests without a log, and run the database's own integrity checks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .._domain.canonical import canonical_json, parse_canonical
from .._domain.entries import ID_KEYS, MAX_ENTRY_BYTES, Entry
from .._domain.hashing import content_hash
from .._domain.identity import key_peer_id, signature_valid
from .._domain.layout import JOURNAL_DIR, MANIFEST
from .._domain.logs import LogInfo
from .._domain.signed import current_record, session_record
from .journal import pending_logs
from .mirror_check import MirrorFindings, MirrorVersions, lacking_files
from .reader import Reader

__all__ = ["DiskScan", "Problem", "VerifyReport", "scan_disk", "verify"]


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
    signed: int = 0
    """Records whose signature was checked against their peer id and holds."""
    unsigned: int = 0
    """Records of key-derived peer ids that carry no signature."""

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong (warnings do not count)."""
        return not self.problems


def entry_problems(entry: Entry) -> list[Problem]:
    """Check one stored version: its hash, its canonical form, and that the JSON names the
    peer, id and session the row does."""
    if _sound(entry):
        return []
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
        value, canonical = parse_canonical(data, entry.canonical_json)
    except ValueError as error:
        return [*problems, Problem("canonical", subject, f"stored JSON does not parse: {error}")]
    if not canonical:
        problems.append(Problem("canonical", subject, "stored JSON is not in canonical form"))
    id_key = ID_KEYS.get(entry.kind)  # a hostile store may hold any kind text
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


def _sound(entry: Entry) -> bool:
    """The common case of `entry_problems`, checked without building any message."""
    return entry_sound(
        entry.kind, entry.peer_id, entry.id, entry.hash, entry.session_id, entry.canonical_json
    )


def entry_sound(
    kind: str,
    peer_id: str,
    entry_id: str,
    entry_hash: str,
    session_id: str | None,
    canonical_json: str,
) -> bool:
    """Whether every check of `entry_problems` holds for a version with these columns (when
    one does not, `entry_problems` says which); taking the columns themselves, so that verify
    and push build no `Entry` for the sound versions they read by the million."""
    try:
        data = canonical_json.encode("utf-8")
        if len(data) > MAX_ENTRY_BYTES or content_hash(data) != entry_hash:
            return False
        value, canonical = parse_canonical(data, canonical_json)
    except ValueError:  # UnicodeEncodeError too
        return False
    id_key = _ID_KEYS.get(kind)  # a hostile store may hold any kind text
    if not canonical or id_key is None or not isinstance(value, dict):
        return False
    if value.get("peer_id") != peer_id or value.get(id_key) != entry_id:
        return False
    if kind == "clock":
        return "session_id" in value and value["session_id"] == session_id
    return "session_id" not in value


_ID_KEYS: dict[str, str] = {str(kind): key for kind, key in ID_KEYS.items()}
"""ID_KEYS looked up by any text."""


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
    (session_id, peer_id, resource_id, path); links are not followed."""
    try:
        sessions = sorted(
            (entry for entry in os.scandir(root) if entry.is_dir(follow_symlinks=False)),
            key=lambda entry: entry.name,
        )
    except OSError:
        return
    for session in sessions:
        logs = Path(session.path) / "logs"
        if session.name.startswith(".") or logs.is_symlink() or not logs.is_dir():
            continue
        for directory, dirnames, filenames in os.walk(logs):
            dirnames.sort()
            parts = Path(directory).relative_to(logs).parts
            if MANIFEST in filenames and len(parts) >= 2:
                path = Path(directory) / MANIFEST
                yield session.name, parts[0], "/".join(parts[1:]), path


@dataclass(frozen=True, slots=True)
class DiskScan:
    """What a storage root's files said before the database was read: the manifests found,
    then the logs named in transaction journals (in flight, or left for the next open)."""

    manifests: tuple[tuple[str, str, str, Path], ...]
    journals: int
    pending: frozenset[tuple[str, str, str]]


def scan_disk(root: Path) -> DiskScan:
    """Walk the log directories, then read the journals. Run it before the database is read:
    a manifest found here whose log is not in the database was then either in flight (named
    in a journal read after the walk) or removed since (checked again after the read)."""
    manifests = tuple(manifests_on_disk(root))
    journals, pending = pending_logs(root)
    return DiskScan(manifests, journals, frozenset(pending))


class _Signatures:
    """Checks records' signatures against the keys their peer ids hold, counting them."""

    def __init__(self, require_signed: bool) -> None:
        self.require_signed = require_signed
        self.signed = 0
        self.unsigned = 0
        self.problems: list[Problem] = []
        self._keys: dict[str, bytes | None] = {}

    def needed(self, peer_id: str, signature: str | None) -> bool:
        """Whether a record of this peer with this signature has anything to check or count
        (an unsigned record of a plain id has not: callers skip building its message)."""
        if signature is not None:
            return True
        key = self._keys.get(peer_id, b"")
        if key == b"":
            key = self._keys[peer_id] = key_peer_id(peer_id)
        return key is not None

    def check(self, peer_id: str, subject: str, message: bytes, signature: str | None) -> None:
        key = self._keys.get(peer_id, b"")
        if key == b"":
            key = self._keys[peer_id] = key_peer_id(peer_id)
        if signature is None:
            if key is not None:
                self.unsigned += 1
                if self.require_signed:
                    self.problems.append(
                        Problem("signature", subject, f"unsigned, but {peer_id} is a key's id")
                    )
            return
        if key is None:
            self.problems.append(
                Problem("signature", subject, f"signed, but peer id {peer_id!r} holds no key")
            )
            return
        try:
            raw = bytes.fromhex(signature)
        except ValueError:
            raw = b""
        if len(raw) != _SIGNATURE_BYTES or not signature_valid(key, message, raw):
            self.problems.append(
                Problem("signature", subject, f"the signature is not {peer_id}'s of this record")
            )
            return
        self.signed += 1


_SIGNATURE_BYTES = 64


def _signature_problems(reader: Reader, signatures: _Signatures) -> None:
    """Check the signatures of changes of current version, sessions (entries and logs are
    checked where verify reads them)."""
    for change in reader.changes():
        if not signatures.needed(change.peer_id, change.signature):
            continue
        where = f" in session {change.session_id}" if change.session_id else ""
        subject = f"current {change.kind} {change.peer_id}/{change.entry_id}{where}"
        if change.signature is not None and change.sequence is None:
            signatures.problems.append(Problem("signature", subject, "signed without a sequence"))
            continue
        record = current_record(
            change.peer_id,
            change.kind,
            change.entry_id,
            change.hash,
            change.sequence or 0,
            change.session_id,
        )
        signatures.check(change.peer_id, subject, record, change.signature)
    for session in reader.every_session():
        if not signatures.needed(session.peer_id, session.signature):
            continue
        record = session_record(
            session.peer_id, session.session_id, session.app_id, session.started_at
        )
        signatures.check(
            session.peer_id, f"session {session.session_id}", record, session.signature
        )


def verify(reader: Reader, disk: DiskScan | None, *, require_signed: bool = False) -> VerifyReport:
    """Recompute every hash, check every signature against its peer id, check every manifest
    against the disk, find manifests with no log, and run SQLite's integrity and foreign key
    checks. Without `disk` (a fleet database, whose manifests stay on the robots), only the
    database is checked. With `require_signed`, a record of a key-derived peer id without a
    signature is a problem too."""
    problems: list[Problem] = []
    signatures = _Signatures(require_signed)
    count = 0
    mirror = MirrorFindings()
    # The registry mirror is checked for a root's own store; a server database writes none by
    # default (its roots hold manifests only).
    mirrored = disk is not None and reader.run.dialect_name == "sqlite"
    versions = MirrorVersions(reader, mirror) if mirrored else None
    # Versions come as plain rows: an Entry is built only for one that needs a message or a
    # mirror check (a million Entry objects are a tenth of the whole check's time).
    for row in reader.entry_rows():
        count += 1
        kind, peer_id, entry_id, entry_hash, session_id, text, _, signature = row
        if not entry_sound(kind, peer_id, entry_id, entry_hash, session_id, text):
            problems += entry_problems(Entry(*row))
        if versions is not None:
            versions.check(Entry(*row))
        if signatures.needed(peer_id, signature):
            signatures.check(
                peer_id,
                f"{kind} {peer_id}/{entry_id}@{entry_hash}",
                text.encode("utf-8", "surrogatepass"),
                signature,
            )
    known: set[tuple[str, str, str]] = set()
    logs = 0
    for log in reader.every_log():
        logs += 1
        if signatures.needed(log.peer_id, log.signature):
            subject = f"log {log.peer_id}/{log.resource_id} in session {log.session_id}"
            message = log.manifest_json.encode("utf-8", "surrogatepass")
            signatures.check(log.peer_id, subject, message, log.signature)
        if disk is not None:
            problems += manifest_problems(log)
            known.add((log.session_id, log.peer_id, log.resource_id))
    _signature_problems(reader, signatures)
    problems += signatures.problems
    if disk is not None:
        for session_id, peer_id, resource_id, path in disk.manifests:
            key = (session_id, peer_id, resource_id)
            if key not in known and key not in disk.pending and path.exists():
                problems.append(Problem("orphan", str(path), "manifest on disk has no log row"))
    if versions is not None:
        versions.finish(count)
        lacking_files(reader, mirror, versions)
        problems += [Problem("mirror", subject, text) for subject, text in mirror.problems]
    problems += [Problem("head", "current versions", text) for text in reader.misfiled_heads()]
    problems += [
        Problem("integrity", "integrity_check", text) for text in reader.integrity_problems()
    ]
    problems += [
        Problem("foreign_key", "foreign_key_check", text) for text in reader.foreign_key_problems()
    ]
    warnings = list(mirror.warnings)
    if disk is None and (unbound := reader.unbound_peers()):
        warnings.append(
            f"{len(unbound)} peer(s) with no fleet binding (pushed before bindings existed; "
            f"the next push of each binds it): {', '.join(unbound[:10])}"
        )
    if disk is not None and disk.journals:
        warnings.append(
            f"{disk.journals} transaction journal(s) in {reader.root / JOURNAL_DIR}, naming "
            f"{len(disk.pending)} log(s): a transaction in progress, or one a writer did not "
            "finish (the next writer to open the store replays it; their manifests are not "
            "counted as orphans)"
        )
    return VerifyReport(
        count,
        logs,
        tuple(problems),
        tuple(warnings),
        signatures.signed,
        signatures.unsigned,
    )
