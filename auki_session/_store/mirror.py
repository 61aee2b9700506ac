"""The registry mirror: every version a transaction registers is also written as the Rust SDK's
file (`registries/<kind>s/<peer>/<id>/<hash>.json`), and this peer's entries that Rust daemons
wrote there are read back when a reference needs them.

The protocol (database first, files after, repaired on open):

1. Before the commit, under the write lock: each version's file is looked at (never through a
   link). Present with the same bytes: nothing to do. Present with other bytes, or a link or
   a directory in its place: the transaction is refused (and rolls back, leaving nothing).
   Missing: a `mirror_pending` row for the version joins the transaction.
2. The transaction commits (at durability normal, its write-ahead log is then made durable, so
   no file ever names a version a power cut could still take back).
3. The files are written the Rust way: a temporary file beside it, fsync, rename, and one fsync
   of each directory; then the call returns.
4. A later write transaction of the store deletes the pending rows whose files are durable, in
   batches of SETTLE_EVERY (closing the store deletes the rest). A crash between 2 and 3
   leaves rows: the next open writes their files (and looks again at the few whose files a
   batch had not yet settled), then deletes them.

A rolled-back transaction never reached step 3, so it leaves no file. Writing the file after
the commit costs nothing beyond the Rust SDK's own write (no journal, no extra fsync); the
price is that a committed version whose writer died before step 3 has its file only once a
process opens the store again.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._domain.entries import MAX_ENTRY_BYTES, CanonicalEntry, EntryKind
from .._domain.rust_layout import (
    REGISTRIES,
    OtherSessionError,
    RegistryFileError,
    file_hash,
    is_hash,
    is_temp_of,
    registry_dir,
    registry_name,
    registry_parts,
    temp_name,
    valid_registry_file,
)
from ..errors import StoreError
from . import statements as sql
from .files import Directory, make_root

if TYPE_CHECKING:
    from .runner import Runner

__all__ = [
    "HELD_MAX",
    "MIRROR_ENV",
    "SETTLE_EVERY",
    "Done",
    "Found",
    "RootDirectory",
    "Target",
    "Writes",
    "check_targets",
    "mirror_default",
    "read_found",
    "read_theirs",
    "registry_files",
    "repair",
    "root_key",
    "write_targets",
]

_TEMP_AGE = 60.0
MIRROR_ENV = "AUKI_SESSION_REGISTRY_MIRROR"
"""`0` (or `off`) turns the mirror off by default, `1` (or `on`) on, also for URL stores."""


def mirror_default(url: str | None) -> bool:
    """Whether a peer mirrors when not told: on for the root's own SQLite store, off for a
    store opened by URL; the environment variable overrides both."""
    setting = os.environ.get(MIRROR_ENV, "").strip().lower()
    if setting in ("0", "off", "false", "no"):
        return False
    if setting in ("1", "on", "true", "yes"):
        return True
    return url is None


def root_key(root: Path, url: str | None) -> str:
    """How `mirror_pending` rows name the root they belong to: '' for the root's own SQLite
    file (which travels with it), else the absolute root."""
    return "" if url is None else str(root)


@dataclass(frozen=True, slots=True)
class Target:
    """One version's registry file: where (below the root) and its bytes."""

    parts: tuple[str, ...]
    name: str
    data: bytes
    hash: str

    @classmethod
    def of(cls, kind: str, peer_id: str, entry_id: str, entry_hash: str, data: bytes) -> Target:
        return cls(
            registry_parts(kind, peer_id, entry_id), registry_name(entry_hash), data, entry_hash
        )

    def path(self, root: Path) -> Path:
        return root.joinpath(*self.parts, self.name)


def _mismatch(root: Path, target: Target) -> StoreError:
    return StoreError(
        f"existing registry entry at {target.path(root)} does not match canonical bytes for "
        f"hash {target.hash}"
    )


def _state(top: Directory, root: Path, target: Target) -> bytes | None:
    """The bytes of a target's file, or None when it (or a directory above it) is missing."""
    directory = _directory(top, root, target)
    if directory is None:
        return None
    with directory:
        return _read(directory, root, target)


def _directory(top: Directory, root: Path, target: Target) -> Directory | None:
    """The target's directory, walked from the root without following a link; None when it
    (or one above it) is missing."""
    try:
        return top.descend(target.parts)
    except FileNotFoundError:
        return None
    except StoreError:
        raise
    except OSError as error:
        raise _unreadable(root, target, error) from error
    except ValueError as error:  # a NUL in the peer or entry id
        raise StoreError(
            f"{target.path(root)!r}: an id with a NUL character cannot name a registry file "
            "(the Rust SDK's layout); choose another id, or turn the registry mirror off"
        ) from error


def _read(directory: Directory, root: Path, target: Target) -> bytes | None:
    """The bytes of a target's file in its directory, or None when it is missing."""
    try:
        return directory.read_small(target.name, MAX_ENTRY_BYTES)
    except StoreError:
        raise
    except OSError as error:
        raise _unreadable(root, target, error) from error


def _unreadable(root: Path, target: Target, error: OSError) -> StoreError:
    return StoreError(
        f"{target.path(root)}: cannot read the registry file: {error.strerror or error}"
    )


HELD_MAX = 32
"""At most this many directories a transaction's check holds open for its write (the others
are walked to again after the commit): a transaction of 20,000 ids must not run out of
descriptors."""


class Writes:
    """The registry files a transaction still has to write once it has committed, and the
    directories its check walked to (held open, so that each is walked once per transaction,
    never through a link). Closed once written, or when the transaction rolls back; the root's
    descriptor is the store's (see `RootDirectory`), not closed here."""

    __slots__ = ("_directories", "_made", "_top", "root", "targets")

    def __init__(self, root: Path, targets: list[Target], top: Directory | None = None) -> None:
        self.root = root
        self.targets = targets
        self._top = top
        self._made: Directory | None = None
        """The root, opened by the write itself (made first if missing)."""
        self._directories: dict[tuple[str, ...], Directory] = {}
        """Directories the check opened, by their names below the root."""

    def close(self) -> None:
        """Close the directories this opened (once)."""
        for directory in self._directories.values():
            directory.close()
        self._directories = {}
        if self._made is not None:
            self._made.close()
            self._made = None

    def write(self) -> None:
        """Write each file the Rust way (temporary file, fsync, rename), then fsync each
        directory once; directories made on the way are made durable in their parents."""
        try:
            self._write()
        finally:
            self.close()

    def _write(self) -> None:
        targets, root = self.targets, self.root
        if not targets:
            return
        groups: dict[tuple[str, ...], list[Target]] = {}
        for target in targets:
            groups.setdefault(target.parts, []).append(target)
        unique = _unique()
        current = targets[0]
        try:
            top = self._top
            if top is None:
                try:
                    top = Directory.open(root)
                except FileNotFoundError:  # a URL store's root, not made yet
                    make_root(root)
                    top = Directory.open(root)
                self._top = self._made = top
            for parts, group in groups.items():
                current = group[0]
                directory = self._directories.pop(parts, None)
                if directory is None:
                    try:
                        directory = top.descend(parts)
                    except FileNotFoundError:
                        directory = top.walk(parts, create=True)
                with directory:
                    for target in group:
                        current = target
                        temp = temp_name(target.name, unique)
                        directory.write_new(temp, target.data)
                        try:
                            directory.rename(temp, target.name)
                        except BaseException:
                            with contextlib.suppress(OSError):
                                directory.remove_file(temp)
                            raise
                    directory.sync()
        except StoreError:
            raise
        except OSError as error:
            raise StoreError(
                f"{current.path(root)}: cannot write the registry file: {error.strerror or error}"
            ) from error


class RootDirectory:
    """A store's storage root, opened once for the registry mirror (each transaction's files
    are walked from it, never through a link below it) and closed with the store. Its path
    may pass through its owner's links, as `Directory.open` allows. Thread-safe."""

    __slots__ = ("_directory", "_lock", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._directory: Directory | None = None
        self._lock = threading.Lock()

    def get(self) -> Directory | None:
        """The open root; None while it does not exist (a URL store's, before its first
        file)."""
        directory = self._directory
        if directory is not None:
            return directory
        with self._lock:
            if self._directory is None:
                try:
                    self._directory = Directory.open(self.path)
                except FileNotFoundError:
                    return None
                except OSError as error:
                    raise StoreError(
                        f"{self.path}: cannot open the storage root: {error.strerror}"
                    ) from error
            return self._directory

    def after_fork(self) -> None:
        """In a forked child: the inherited descriptor stays valid; a lock held by another
        thread of the parent at the fork would never be released."""
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._directory is not None:
                self._directory.close()
                self._directory = None


_token: tuple[int, str] = (0, "")
_counter = itertools.count()


def _unique() -> str:
    """A temporary file's unique part: this process's id (which `_stale` reads), a random
    token drawn once per process, and a counter (a uuid per write cost 4 us)."""
    global _token
    pid = os.getpid()
    if _token[0] != pid:  # first use, or a forked child
        _token = (pid, uuid.uuid4().hex[:8])
    return f"{pid}-{_token[1]}{next(_counter)}"


def check_targets(top: RootDirectory, entries: Iterable[CanonicalEntry]) -> Writes:
    """The files still to write for these versions (each once), with their directories held
    open for the write; a file already there with other bytes, or anything but a directory
    or regular file on the way, is refused."""
    root = top.path
    wanted: dict[str, Target] = {}
    for entry in entries:
        if entry.hash not in wanted:
            wanted[entry.hash] = Target.of(
                entry.kind, entry.peer_id, entry.id, entry.hash, entry.canonical
            )
    if not wanted:
        return Writes(root, [])
    opened = top.get()
    if opened is None:
        return Writes(root, list(wanted.values()))  # a URL store's root not made yet
    writes = Writes(root, [], opened)
    missing, held = writes.targets, writes._directories
    try:
        for target in wanted.values():
            directory = held.get(target.parts)
            if directory is not None:
                found = _read(directory, root, target)
            else:
                directory = _directory(opened, root, target)
                if directory is None:
                    found = None
                elif len(held) < HELD_MAX:
                    held[target.parts] = directory
                    found = _read(directory, root, target)
                else:
                    with directory:
                        found = _read(directory, root, target)
            if found is None:
                missing.append(target)
            elif found != target.data:
                raise _mismatch(root, target)
    except BaseException:
        writes.close()
        raise
    return writes


def write_targets(root: Path, targets: list[Target]) -> None:
    """Write these files (see Writes.write), each directory walked from the root."""
    Writes(root, targets).write()


SETTLE_EVERY = 64
"""Pending rows of durable files are deleted in batches of this many (a write transaction
deletes them once that many have gathered; closing the store deletes the rest): one statement
per batch instead of one per transaction. A crash leaves at most this many rows per process
whose files are already there, which the next open looks at again."""


class Done:
    """Hashes whose pending rows may go (their files are durable), per open store; a write
    transaction deletes them once SETTLE_EVERY have gathered, `Store.close` the rest.
    Thread-safe."""

    __slots__ = ("_hashes", "_lock")

    def __init__(self) -> None:
        self._hashes: list[str] = []
        self._lock = threading.Lock()

    def add(self, hashes: Iterable[str]) -> None:
        with self._lock:
            self._hashes.extend(hashes)

    def take(self, at_least: int = 0) -> list[str]:
        """Every hash gathered, when there are `at_least` of them (else none)."""
        with self._lock:
            if len(self._hashes) < max(at_least, 1):
                return []
            taken, self._hashes = self._hashes, []
        return taken


def read_theirs(
    root: Path,
    kind: EntryKind,
    peer_id: str,
    entry_id: str,
    entry_hash: str,
    session_id: str | None,
) -> CanonicalEntry | None:
    """This peer's version that a Rust daemon wrote in the root, verified as the Rust SDK reads
    it and as if registered here; None when there is no such file (or the hash cannot name
    one). A file that is there but not valid is refused with a StoreError naming it."""
    if not is_hash(entry_hash) or "\0" in peer_id or "\0" in entry_id:
        return None  # no file can have that name: the ref is simply not registered
    target = Target.of(kind, peer_id, entry_id, entry_hash, b"")
    try:
        top = Directory.open(root)
    except OSError:
        return None
    with top:
        data = _state(top, root, target)
    if data is None:
        return None
    try:
        return valid_registry_file(
            kind,
            data,
            entry_hash=entry_hash,
            peer_id=peer_id,
            entry_id=entry_id,
            session_id=session_id,
        )
    except OtherSessionError:
        return None  # a clock of another session: not one of this session's
    except RegistryFileError as error:
        raise StoreError(f"{target.path(root)}: invalid registry entry: {error}") from None


def repair(root: Path, run: Runner, key: str) -> int:
    """Write the file of every version a crash left pending in this root (a file already there
    with the same bytes is kept; one with other bytes is left for `verify` to report), remove
    this package's temporary files beside them, and delete the rows. Returns how many files
    were written."""
    rows = run.all(sql.MIRROR_PENDING, (key,))
    if not rows:
        return 0
    targets = [
        Target.of(kind, peer_id, entry_id, entry_hash, text.encode("utf-8"))
        for kind, peer_id, entry_id, entry_hash, text in rows
    ]
    missing: list[Target] = []
    settled: list[str] = []
    try:
        top = Directory.open(root)
    except OSError:
        return 0
    with top:
        for target in targets:
            try:
                found = _state(top, root, target)
            except StoreError:
                # A link or a hostile file in the way: verify reports it from the entry
                # itself, so the row would only make every later open look again.
                settled.append(target.hash)
                continue
            if found is None:
                missing.append(target)
            else:
                if found == target.data:
                    # A writer that died after its rename: the name may not be durable yet.
                    with top.walk(target.parts) as directory:
                        directory.sync()
                settled.append(target.hash)  # other bytes: verify reports them
            _remove_temps(top, target)
    for target in missing:
        try:
            write_targets(root, [target])
        except StoreError:
            continue  # the row stays; the next open tries again
        settled.append(target.hash)
    run.many(sql.DELETE_MIRROR_PENDING, [(key, entry_hash) for entry_hash in settled])
    return len(missing)


def _remove_temps(top: Directory, target: Target) -> None:
    """Remove temporary files of this package's interrupted writes of the target: those of a
    process that is gone, or a minute old (a live writer's is renamed within milliseconds)."""
    try:
        with top.walk(target.parts) as directory:
            now = time.time()
            stale = [
                name
                for name in directory.names()
                if is_temp_of(name, target.name) and _stale(directory, name, now)
            ]
            for name in stale:
                directory.remove_file(name)
            if stale:
                directory.sync()
    except OSError:
        return


def _stale(directory: Directory, name: str, now: float) -> bool:
    pid = name.rsplit(".", 2)[-2].split("-", 1)[0]
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except OSError:
            pass
    age = now - os.stat(name, dir_fd=directory.fd, follow_symlinks=False).st_mtime
    return age > _TEMP_AGE


@dataclass(frozen=True, slots=True)
class Found:
    """A file in the root's registries tree: its kind (from its directory), the peer and id
    directories, its name, and its path."""

    kind: EntryKind
    peer_dir: str
    id_dir: str
    name: str
    path: Path


_KIND_DIRS: dict[str, EntryKind] = {
    "frames": "frame",
    "sensors": "sensor",
    "detectors": "detector",
    "clocks": "clock",
}


def registry_files(root: Path) -> Iterator[Found]:
    """Every file below `<root>/registries/<kind>s/<peer>/<id>/` (temporary files aside), in
    name order; links and anything not at that depth are not followed."""
    base = root / REGISTRIES
    if base.is_symlink():
        return  # the store never reads through a link (verify reports it)
    for kind_dir, kind in sorted(_KIND_DIRS.items()):
        for peer in _subdirs(base / kind_dir):
            for identity in _subdirs(peer):
                try:
                    names = sorted(
                        item.name for item in os.scandir(identity) if not item.name.endswith(".tmp")
                    )
                except OSError:
                    continue
                for name in names:
                    yield Found(kind, peer.name, identity.name, name, identity / name)


def _subdirs(path: Path) -> list[Path]:
    try:
        if path.is_symlink():
            return []
        return sorted(
            Path(item.path) for item in os.scandir(path) if item.is_dir(follow_symlinks=False)
        )
    except OSError:
        return []


def read_found(root: Path, found: Found) -> CanonicalEntry:
    """The entry a registry file holds, verified (its name is its hash, its directories name
    its peer and id, and everything `valid_registry_file` checks); RegistryFileError says why
    not."""
    entry_hash = file_hash(found.name)
    if entry_hash is None:
        raise RegistryFileError("not a registry file name (<32 lowercase hex>.json)")
    parts = (REGISTRIES, f"{found.kind}s", found.peer_dir, found.id_dir)
    try:
        with Directory.open(root) as top, top.walk(parts) as directory:
            data = directory.read_small(found.name, MAX_ENTRY_BYTES)
    except StoreError as error:
        raise RegistryFileError(str(error).split(": ", 1)[-1]) from None
    except OSError as error:
        raise RegistryFileError(f"cannot be read: {error.strerror or error}") from None
    if data is None:
        raise RegistryFileError("gone meanwhile")
    entry = valid_registry_file(found.kind, data, entry_hash=entry_hash)
    if registry_dir(entry.peer_id) != found.peer_dir:
        raise RegistryFileError(
            f"peer_id mismatch: expected {found.peer_dir}, found {entry.peer_id}"
        )
    if registry_dir(entry.id) != found.id_dir:
        raise RegistryFileError(f"id mismatch: expected {found.id_dir}, found {entry.id}")
    return entry
