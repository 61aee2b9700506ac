"""The journal of a transaction's files: manifests written atomically that roll back with the
database.

Every manifest written inside a transaction is first named in a journal file under
`<root>/.auki_session/pending/`. The journal is removed once the transaction has committed or
its files have been undone, so after a crash the next writer can tell (by asking the database)
which manifests belong to committed logs and which must be removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .._domain.layout import JOURNAL_DIR, MANIFEST, log_dir

__all__ = ["Journal", "atomic_write", "pending_journals", "recover"]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, durable: bool) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if durable:
        _fsync_dir(path.parent)


@dataclass(slots=True)
class _Written:
    session_id: str
    resource_id: str
    manifest: Path
    created_dirs: list[Path]


@dataclass(slots=True)
class Journal:
    """The manifests one transaction wrote, so they can be undone if it rolls back."""

    root: Path
    durable: bool
    written: list[_Written] = field(default_factory=list)
    journal: Path | None = None
    journal_dirs: list[Path] = field(default_factory=list)

    def write_manifest(self, session_id: str, peer_id: str, resource_id: str, data: bytes) -> Path:
        """Create the log directory and write its manifest.json atomically; returns the dir."""
        directory = log_dir(self.root, session_id, peer_id, resource_id)
        missing = [p for p in (directory, *directory.parents) if not p.exists()]
        missing = [p for p in missing if self.root in p.parents]
        record = _Written(session_id, resource_id, directory / MANIFEST, missing[::-1])
        self.written.append(record)
        self._write_journal()
        for path in record.created_dirs:
            path.mkdir(exist_ok=True)
        atomic_write(record.manifest, data, durable=self.durable)
        return directory

    def mark(self) -> int:
        """A point to undo back to (for savepoints)."""
        return len(self.written)

    def undo(self, mark: int = 0) -> None:
        """Remove the manifests and directories written since `mark`, newest first."""
        while len(self.written) > mark:
            _remove(self.written.pop())
        if self.written:
            self._write_journal()

    def discard(self) -> None:
        """Undo every manifest, then remove the journal and the journal directories this
        transaction created. Only while the write lock is held: other writers create their
        journals there while holding it."""
        self.undo()
        self.finish()
        for directory in reversed(self.journal_dirs):
            with contextlib.suppress(OSError):
                directory.rmdir()
        self.journal_dirs.clear()

    def finish(self) -> None:
        """Forget the journal once the transaction's outcome is settled on disk."""
        if self.journal is not None:
            with contextlib.suppress(FileNotFoundError):
                self.journal.unlink()
            self.journal = None
        self.written.clear()

    def _write_journal(self) -> None:
        if self.journal is None:
            directory = self.root / JOURNAL_DIR
            self.journal_dirs = [d for d in (directory.parent, directory) if not d.exists()]
            directory.mkdir(parents=True, exist_ok=True)
            self.journal = directory / f"{os.getpid()}-{uuid.uuid4().hex}.json"
        records = [
            {
                "session_id": w.session_id,
                "resource_id": w.resource_id,
                "manifest": str(w.manifest.relative_to(self.root)),
                "created_dirs": [str(p.relative_to(self.root)) for p in w.created_dirs],
            }
            for w in self.written
        ]
        atomic_write(self.journal, json.dumps(records).encode(), durable=self.durable)


def _remove(record: _Written) -> None:
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        record.manifest.unlink()
    for directory in reversed(record.created_dirs):
        with contextlib.suppress(FileNotFoundError, OSError):
            directory.rmdir()


def pending_journals(root: Path) -> list[Path]:
    """Journals left by transactions that did not finish, and the temporary files of journal
    writes they were killed in (cheap when there are none)."""
    try:
        return sorted(p for p in (root / JOURNAL_DIR).iterdir() if p.suffix in (".json", ".tmp"))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _inside(root: Path, relative: object) -> Path | None:
    """`root / relative` when `relative` is a relative path that stays inside the root."""
    if not isinstance(relative, str) or not relative:
        return None
    path = Path(relative)
    if path.is_absolute() or ".." in path.parts:
        return None
    return root / path


def _journal_records(root: Path, journal: Path) -> list[_Written] | None:
    """A journal's records (None when it is gone). A damaged or forged journal's records that
    do not name a manifest.json inside the root are skipped: recovery never leaves the root."""
    try:
        loaded = json.loads(journal.read_bytes())
    except FileNotFoundError:
        return None
    except (ValueError, RecursionError):
        return []
    records: list[_Written] = []
    for item in loaded if isinstance(loaded, list) else []:
        if not isinstance(item, dict):
            continue
        session_id, resource_id = item.get("session_id"), item.get("resource_id")
        manifest = _inside(root, item.get("manifest"))
        listed = item.get("created_dirs")
        dirs = [_inside(root, d) for d in listed] if isinstance(listed, list) else [None]
        created = [d for d in dirs if d is not None]
        if (
            isinstance(session_id, str)
            and isinstance(resource_id, str)
            and manifest is not None
            and manifest.name == MANIFEST
            and len(created) == len(dirs)
        ):
            records.append(_Written(session_id, resource_id, manifest, created))
    return records


def recover(root: Path, journal: Path, committed: Callable[[str, str], bool]) -> int:
    """Undo the manifests of `journal` whose log never committed; returns how many it removed.

    Must run while holding the database's write lock, so no live transaction owns the journal.
    """
    records = _journal_records(root, journal)
    if records is None:
        return 0
    removed = 0
    for record in records:
        # The temporary file of a manifest write the crash interrupted.
        for stale in record.manifest.parent.glob(f".{record.manifest.name}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        if committed(record.session_id, record.resource_id):
            continue
        _remove(record)
        removed += 1
    with contextlib.suppress(FileNotFoundError):
        journal.unlink()
    return removed
