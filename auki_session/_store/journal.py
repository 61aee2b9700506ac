"""The journal of a transaction's files: manifests that roll back with the database.

Before a transaction writes a log's manifest it appends a record of it (session, peer, resource
id, the temporary file's name) to its journal, `<root>/.auki_session/pending/<pid>-<id>.json`,
one JSON line per log, fsynced. The journal is removed once the transaction has committed (and
the commit is durable) or its files have been undone (and the removals are durable). The writer
holds an exclusive lock (flock) on its journal for the journal's whole life, and a journal
becomes visible under its name only once locked; so whoever finds a journal it can lock knows
its writer is gone, whatever the database (SQLite or a server), and replays it: a manifest
whose log never committed is removed, a committed one kept.

Every path is derived from the record's ids by the store's layout and opened without following
links (see `files.py`): a damaged or forged journal cannot make recovery touch anything but
manifests and temporary files inside log directories of its own root.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .._domain.layout import JOURNAL_DIR, MANIFEST, check_peer_path, check_resource_path, log_parts
from ..errors import InvalidIdError, StoreError
from .files import Directory, make_root

__all__ = ["Journal", "pending_logs", "recover"]

_TEMP = re.compile(r"\.manifest\.[0-9a-f]{32}\.tmp")
_JOURNAL_DEPTH = len(JOURNAL_DIR.parts)
_CLOSED = Directory(-1, Path())
_BEING_MADE = ".new"
_UNMADE_AGE = 60.0
"""Seconds after which a journal still being made is known abandoned (making one takes
microseconds) where no database lock tells."""
"""Suffix of a journal between its creation and its lock (invisible to recovery)."""


@dataclass(frozen=True, slots=True)
class _Record:
    """One manifest a transaction writes: where, and the temporary file it writes first."""

    session_id: str
    peer_id: str
    resource_id: str
    temp: str
    made: int
    """How many of the last names of the log's path this write made (undo removes those)."""

    @property
    def parts(self) -> tuple[str, ...]:
        return log_parts(self.session_id, self.peer_id, self.resource_id)


class Journal:
    """The manifests one transaction wrote, so they can be undone if it rolls back."""

    __slots__ = ("_directory", "_fd", "_made", "_name", "records", "root")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.records: list[_Record] = []
        self._fd = -1
        self._name = ""
        self._directory = _CLOSED
        self._made = _JOURNAL_DEPTH
        """The journal directories from this index on were made by this transaction (a
        rollback removes them)."""

    def write_manifest(self, session_id: str, peer_id: str, resource_id: str, data: bytes) -> Path:
        """Record, then create the log directory and write its manifest.json atomically and
        durably; returns the directory. A manifest already there belongs to another log whose
        directory this one's would share (names equal but for case, or a Rust SDK process's):
        refused."""
        temp = f".manifest.{uuid.uuid4().hex}.tmp"
        journal = self.root / JOURNAL_DIR
        try:
            if self._fd < 0:
                self._create()
        except OSError as error:
            raise _error(error, journal, f"the journal of log {resource_id!r}") from error
        parts = log_parts(session_id, peer_id, resource_id)
        target = self.root.joinpath(*parts, MANIFEST)
        recorded = False
        try:
            with Directory.open(self.root) as root:
                root.lock()  # no other process makes or removes log directories meanwhile
                directory, made = root.make_path(parts)
                with directory:
                    try:
                        if directory.kind(MANIFEST) is not None:
                            # Not this transaction's: refused before it is recorded, so that
                            # no undo or recovery ever removes it.
                            raise StoreError(
                                f"{target}: already exists: log {resource_id!r} would share "
                                "the directory of another log (ids equal but for letter case "
                                "or Unicode form collide on some file systems, or another "
                                "program's); choose another id"
                            )
                        self._append(_Record(session_id, peer_id, resource_id, temp, made))
                        recorded = True
                    except BaseException:
                        root.remove_made(parts, made)
                        raise
                    directory.write_new(temp, data)
                    directory.replace(temp, MANIFEST)
                    return directory.path
        except OSError as error:
            if recorded or isinstance(error, StoreError):
                raise _error(error, target, f"the manifest of log {resource_id!r}") from error
            raise _error(error, journal, f"the journal of log {resource_id!r}") from error

    def mark(self) -> int:
        """A point to undo back to (for savepoints)."""
        return len(self.records)

    def undo(self, mark: int = 0) -> None:
        """Remove the manifests and directories written since `mark`, newest first, durably.
        (Their records stay in the journal: replaying them finds nothing left to remove.)"""
        if len(self.records) <= mark:
            return
        record = self.records[-1]
        try:
            with Directory.open(self.root) as root:
                root.lock()
                while len(self.records) > mark:
                    record = self.records[-1]
                    _undo(root, record)
                    self.records.pop()
        except OSError as error:
            where = self.root.joinpath(*record.parts, MANIFEST)
            what = f"the manifest of log {record.resource_id!r}"
            raise _error(error, where, what, "undo") from error

    def discard(self) -> None:
        """Undo every manifest, then remove the journal (and its directories, when empty)."""
        self.undo()
        if self._fd >= 0:
            self.finish()
            parts = JOURNAL_DIR.parts
            if self._made < len(parts):
                with (
                    contextlib.suppress(OSError),
                    Directory.open(self.root) as root,
                    root.walk(parts[: self._made]) as kept,
                ):
                    kept.remove_empty_dirs(parts[self._made :])

    def abandon(self) -> None:
        """Leave the journal for the next open to replay (releasing its lock)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._directory.close()
        self.records.clear()

    def finish(self) -> None:
        """Remove the journal (durably) once the transaction's outcome is settled on disk. If
        that fails, the journal stays (locked until this process ends) for the next open to
        replay: harmless, as the outcome is settled."""
        if self._fd >= 0:
            try:
                os.unlink(self._name, dir_fd=self._directory.fd)
                self._directory.sync()
            except OSError:
                pass
            finally:
                os.close(self._fd)  # releases the lock
                self._fd = -1
                self._directory.close()
        self.records.clear()

    def _pending(self, *, create: bool) -> Directory:
        with Directory.open(self.root) as root:
            return root.walk(JOURNAL_DIR.parts, create=create)

    def _append(self, record: _Record) -> None:
        line = json.dumps(
            {
                "session_id": record.session_id,
                "peer_id": record.peer_id,
                "resource_id": record.resource_id,
                "temp": record.temp,
                "made": record.made,
            }
        )
        view = memoryview((line + "\n").encode("utf-8", "surrogatepass"))
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)
        self.records.append(record)

    def _create(self) -> None:
        """Make this transaction's journal: locked before it is visible under its name."""
        name = f"{os.getpid()}-{uuid.uuid4().hex}"
        make_root(self.root)  # a server database's store makes its root with its first log
        parts = JOURNAL_DIR.parts
        self._made = next(
            (
                n
                for n in range(len(parts))
                if not os.path.lexists(self.root.joinpath(*parts[: n + 1]))
            ),
            len(parts),
        )
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_APPEND
        for attempt in range(3):
            pending = self._pending(create=True)
            try:
                fd = os.open(name + _BEING_MADE, flags, 0o644, dir_fd=pending.fd)
                break
            except FileNotFoundError:
                pending.close()  # another transaction's rollback removed the empty directory
                if attempt == 2:
                    raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            pending.replace(name + _BEING_MADE, name + ".json")
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(name + _BEING_MADE, dir_fd=pending.fd)
            pending.close()
            raise
        # The directory stays open with the journal: removing the journal must not need a
        # descriptor the process may not have left (EMFILE) when it fails.
        self._fd, self._name, self._directory = fd, name + ".json", pending


def _error(error: OSError, where: Path, what: str, doing: str = "write") -> StoreError:
    """A StoreError naming the file an OSError concerns (a StoreError passes unchanged)."""
    if isinstance(error, StoreError):
        return error
    return StoreError(f"{where}: cannot {doing} {what}: {error.strerror or error}")


def _undo(root: Directory, record: _Record) -> None:
    """Remove what one record's write left (its temporary file, its manifest, then the
    directories it made, when left empty), durably, never through a link. The caller holds
    the root's lock."""
    try:
        directory = root.walk(record.parts)
    except FileNotFoundError:
        return  # already undone
    with directory:
        removed = directory.remove_file(record.temp)
        removed = directory.remove_file(MANIFEST) or removed
        if removed:
            directory.sync()
    root.remove_made(record.parts, record.made)


def _parse(line: bytes) -> _Record | None:
    """A journal line's record, or None for anything a transaction could not have written."""
    try:
        item = json.loads(line.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(item, dict):
        return None
    values = [item.get(key) for key in ("session_id", "peer_id", "resource_id", "temp")]
    made = item.get("made")
    if not all(type(value) is str for value in values) or type(made) is not int:
        return None
    session_id, peer_id, resource_id, temp = (str(value) for value in values)
    try:
        check_resource_path(resource_id)
        check_resource_path(session_id)
        check_resource_path(peer_id)
        check_peer_path(peer_id)
    except InvalidIdError:
        return None
    parts = log_parts(session_id, peer_id, resource_id)
    if "/" in session_id or "/" in peer_id or not _TEMP.fullmatch(temp):
        return None
    if not 0 <= made <= len(parts):
        return None
    return _Record(session_id, peer_id, resource_id, temp, made)


def _open_journal(pending: Directory, name: str) -> int:
    """A journal opened for reading, or -1 when `name` is not a regular file (a link, a
    directory, a FIFO that would block: nothing a transaction makes) or is gone."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=pending.fd)
    except OSError:
        return -1
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return -1
    return fd


def _records(fd: int) -> Iterator[_Record]:
    with os.fdopen(os.dup(fd), "rb") as handle:
        for raw in handle:
            record = _parse(raw)
            if record is not None:
                yield record


def recover(root: Path, committed: Callable[[str, str], bool], *, exclusive: bool) -> int:
    """Replay the journals of writers that are gone: remove each manifest whose log never
    committed (kept when it did) and each interrupted write's temporary file. A journal whose
    lock is held belongs to a live transaction and is left alone. A journal still being made
    (`.new`, no records) is removed when `exclusive` (the caller holds the database's write
    lock, under which journals are made), else only once it is a minute old. Returns how many
    manifests were removed."""
    removed = 0
    try:
        top = Directory.open(root)
    except OSError:
        return 0
    with top:
        try:
            pending = top.walk(JOURNAL_DIR.parts)
        except OSError:
            return 0
        top.lock()
        with pending:
            for name in sorted(pending.names()):
                if name.endswith(".json"):
                    removed += _replay(top, pending, name, committed)
                elif name.endswith(_BEING_MADE):
                    _remove_unmade(pending, name, exclusive)
    return removed


def _replay(
    root: Directory, pending: Directory, name: str, committed: Callable[[str, str], bool]
) -> int:
    fd = _open_journal(pending, name)
    if fd < 0:
        return 0  # gone meanwhile, a link (never followed), or not a file
    removed = 0
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # its writer is alive
        here = os.stat(name, dir_fd=pending.fd, follow_symlinks=False)
        if not os.path.samestat(os.fstat(fd), here):
            return 0  # replaced since opened: look again next time
        for record in _records(fd):
            if committed(record.session_id, record.resource_id):
                _remove_temp(root, record)
            else:
                _undo(root, record)
                removed += 1
        os.unlink(name, dir_fd=pending.fd)
        pending.sync()
    except OSError:
        pass  # left for the next open (the store must open whatever a journal holds)
    finally:
        os.close(fd)
    return removed


def _remove_unmade(pending: Directory, name: str, exclusive: bool) -> None:
    """Remove a journal whose writer died between making it and locking it (it holds no
    record); a live writer's is left alone."""
    fd = _open_journal(pending, name)
    if fd < 0:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if exclusive or time.time() - os.fstat(fd).st_mtime > _UNMADE_AGE:
            os.unlink(name, dir_fd=pending.fd)
            pending.sync()
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_temp(root: Directory, record: _Record) -> None:
    try:
        directory = root.walk(record.parts)
    except OSError:
        return
    with directory:
        if directory.remove_file(record.temp):
            directory.sync()


def pending_logs(root: Path) -> tuple[int, set[tuple[str, str, str]]]:
    """How many journals there are now, and (session, peer, resource id) of every log they
    name: in flight, or left by a writer that is gone and not yet replayed. Reads without
    locking or changing anything."""
    journals = 0
    found: set[tuple[str, str, str]] = set()
    try:
        with Directory.open(root) as opened:
            pending = opened.walk(JOURNAL_DIR.parts)
    except OSError:
        return journals, found
    with pending:
        for name in pending.names():
            if not name.endswith(".json"):
                continue
            fd = _open_journal(pending, name)
            if fd < 0:
                continue
            journals += 1
            try:
                found.update((r.session_id, r.peer_id, r.resource_id) for r in _records(fd))
            finally:
                os.close(fd)
    return journals, found
