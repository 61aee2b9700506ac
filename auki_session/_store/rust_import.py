"""`import`: bring what Rust SDK daemons wrote in a storage root into the root's own store:
every valid registry file (refused ones listed with the reason), the sessions its clock entries
and log manifests name, and the logs whose manifests are there. Idempotent.

Which version becomes current: the Rust layout records no order, so the files of one id are
recorded in the order of their modification times (then hashes), and when the id had no current
version here, the most recently modified file's version becomes current. An id that already had
one keeps it (the imported versions join its history). A later registration here makes its own
version current, as always.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .._domain.canonical import canonical_json
from .._domain.entries import CanonicalEntry, EntryKind
from .._domain.layout import MANIFEST, check_peer_path, check_resource_path, log_parts
from .._domain.logs import LogKind, LogPlan, LogRefUse, manifest_refs
from .._domain.refs import RegistryRef
from .._domain.rust_layout import RegistryFileError
from .._domain.specs import HeadSpec
from ..errors import AukiSessionError, InvalidIdError, StoreError
from .files import Directory
from .mirror import read_found, registry_files
from .reader import Reader
from .store import Store
from .transaction import Transaction
from .verify import manifests_on_disk

__all__ = ["IMPORTED_APP_ID", "ImportReport", "import_root"]

IMPORTED_APP_ID = "imported"
"""The app id of a session named only by clock entries (no manifest of it says its app)."""

_ORDER: dict[EntryKind, int] = {"frame": 0, "sensor": 1, "detector": 2, "clock": 3}
_ROLE_KINDS: dict[str, EntryKind] = {
    "sensor": "sensor",
    "clock": "clock",
    "frame": "frame",
    "from_frame": "frame",
    "to_frame": "frame",
    "from_clock": "clock",
    "to_clock": "clock",
    "detector": "detector",
    "input_sensor": "sensor",
}


@dataclass(slots=True)
class ImportReport:
    """What `import` found and did."""

    files: int = 0
    imported: int = 0
    already: int = 0
    current: int = 0
    sessions: int = 0
    logs: int = 0
    logs_already: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)


def _session_ok(session_id: object) -> bool:
    if not isinstance(session_id, str) or "/" in session_id:
        return False
    try:
        check_resource_path(session_id)
    except InvalidIdError:
        return False
    return True


def _log_kind(manifest: dict[str, object]) -> LogKind | None:
    if "detector" in manifest:
        return "detection"
    if "from_frame" in manifest:
        return "pose"
    if "from_clock" in manifest:
        return "time_transform"
    if "sensor" in manifest:
        return "sensor"
    return None


def _plan(data: bytes, session_id: str, peer_id: str, resource_id: str) -> LogPlan:
    """A log as the manifest on disk describes it (the head spec, which a manifest does not
    hold, is recorded as fixed)."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise RegistryFileError(f"manifest is not valid JSON: {error}") from None
    if not isinstance(value, dict) or canonical_json(value) != data:
        raise RegistryFileError("manifest is not a canonical JSON object")
    if value.get("session_id") != session_id or value.get("source_peer_id") != peer_id:
        raise RegistryFileError("manifest names another session or peer than its directory")
    kind = _log_kind(value)
    refs = manifest_refs(kind, value) if kind is not None else None
    if kind is None or refs is None:
        raise RegistryFileError(
            "manifest is not one of a sensor, pose, time transform or detection log"
        )
    uses = tuple(
        LogRefUse(role, _ROLE_KINDS[role], RegistryRef(*ref)) for role, ref in refs.items()
    )
    return LogPlan(kind, resource_id, data, HeadSpec.fixed().to_dict(), uses)


MAX_MANIFEST_BYTES = 1 << 20
"""A manifest is a few hundred bytes; a file above this is not one."""


def import_root(store: Store) -> ImportReport:
    """Import the root's Rust SDK files into its store (see the module's docstring)."""
    root = store.root
    report = ImportReport()
    found: list[tuple[CanonicalEntry, int]] = []
    for item in registry_files(root):
        report.files += 1
        try:
            entry = read_found(root, item)
            if entry.kind == "clock" and not _session_ok(entry.session_id):
                raise RegistryFileError(f"session_id {entry.session_id!r} cannot name a session")
            check_peer_path(entry.peer_id)
        except (RegistryFileError, InvalidIdError) as error:
            report.refused.append((str(item.path), str(error)))
            continue
        found.append((entry, os.stat(item.path, follow_symlinks=False).st_mtime_ns))
    manifests = []
    for session_id, peer_id, resource_id, path in manifests_on_disk(root):
        try:
            # Never through a link, never a FIFO or a device, never unbounded.
            with (
                Directory.open(root) as top,
                top.walk(log_parts(session_id, peer_id, resource_id)) as directory,
            ):
                data = directory.read_small(MANIFEST, MAX_MANIFEST_BYTES)
            if data is None:
                continue  # removed since the walk
            manifests.append((session_id, peer_id, resource_id, path, data))
        except StoreError as error:
            report.refused.append((str(path), str(error)))
        except OSError as error:
            report.refused.append((str(path), f"cannot be read: {error.strerror}"))
    with Transaction(store, import_root, "full") as transaction:
        reader = Reader(store.location, transaction.run)
        _sessions(transaction, reader, found, manifests, report)
        _entries(transaction, reader, found, report)
        _logs(transaction, reader, manifests, report)
    return report


def _sessions(
    transaction: Transaction,
    reader: Reader,
    found: list[tuple[CanonicalEntry, int]],
    manifests: list[tuple[str, str, str, Path, bytes]],
    report: ImportReport,
) -> None:
    """Create the sessions the clock entries and manifests name that the store lacks."""
    named: dict[str, tuple[str, str | None]] = {}
    for session_id, peer_id, _, _, data in manifests:
        try:
            app = json.loads(data).get("app_id")
        except (ValueError, RecursionError, AttributeError):
            app = None
        if _session_ok(session_id) and (session_id not in named or named[session_id][1] is None):
            named[session_id] = (peer_id, app if isinstance(app, str) and app else None)
    for entry, _ in found:
        if entry.session_id is not None and entry.session_id not in named:
            named[entry.session_id] = (entry.peer_id, None)
    for session_id, (peer_id, app) in sorted(named.items()):
        if reader.session(session_id) is None:
            transaction.create_session(session_id, peer_id, app or IMPORTED_APP_ID)
            report.sessions += 1


def _entries(
    transaction: Transaction,
    reader: Reader,
    found: Iterable[tuple[CanonicalEntry, int]],
    report: ImportReport,
) -> None:
    """Record the versions the store lacks, by id, oldest file first; the newest becomes
    current where the id had no current version."""
    groups: dict[tuple[EntryKind, str, str, str | None], list[tuple[int, str, CanonicalEntry]]]
    groups = {}
    for entry, mtime in found:
        key = (entry.kind, entry.peer_id, entry.id, entry.session_id)
        groups.setdefault(key, []).append((mtime, entry.hash, entry))
    for key in sorted(groups, key=lambda k: (_ORDER[k[0]], k[1], k[2], k[3] or "")):
        versions = [entry for _, _, entry in sorted(groups[key])]
        had_current = transaction.has_current(versions[0])
        recorded: list[CanonicalEntry] = []
        for entry in versions:
            stored = reader.entry(entry.hash)
            if stored is not None:
                report.already += 1
                continue
            try:
                with transaction.savepoint():
                    transaction.record(entry, current=False)
            except AukiSessionError as error:
                path = "/".join((f"{entry.kind}s", entry.peer_id, entry.id, entry.hash))
                report.refused.append((path, str(error)))
                continue
            recorded.append(entry)
            report.imported += 1
        if recorded and not had_current:
            transaction.record(recorded[-1], current=True)
            report.current += 1


def _logs(
    transaction: Transaction,
    reader: Reader,
    manifests: list[tuple[str, str, str, Path, bytes]],
    report: ImportReport,
) -> None:
    """Record the logs whose manifests are on disk and not in the store."""
    for session_id, peer_id, resource_id, path, data in manifests:
        if reader.session(session_id) is None:
            continue  # its directory's name cannot be a session id
        if reader.has_log(session_id, resource_id):
            report.logs_already += 1
            continue
        try:
            plan = _plan(data, session_id, peer_id, resource_id)
            with transaction.savepoint():
                transaction.add_log(session_id, peer_id, plan, manifest_written=True)
        except (RegistryFileError, AukiSessionError) as error:
            report.refused.append((str(path), str(error)))
            continue
        report.logs += 1
