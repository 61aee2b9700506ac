"""Files under a storage root, written so that neither a power cut nor a planted link betrays them.

Below the root, every path is opened one name at a time relative to its parent directory's
descriptor, with O_NOFOLLOW: nothing is written or removed through a symbolic link, and no race
can swap a directory for a link between a check and a use (`Directory.descend` does the same
walk in one openat2 call where Linux has it). Every new file and directory is made
durable in its parent (the parent is fsynced) before anything depends on it, and every removal
is made durable before the record of it is dropped: on SD cards and ext4 without a journal,
metadata is not ordered for us.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

from ..errors import StoreError

__all__ = ["Directory", "make_root", "sync_file"]

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Directory:
    """An open directory (a descriptor), and its path for messages. A context manager."""

    __slots__ = ("_names", "_path", "fd")

    def __init__(self, fd: int, path: Path, names: tuple[str, ...] = ()) -> None:
        self.fd = fd
        self._path = path
        self._names = names  # below `path`, joined only when a message needs it

    @property
    def path(self) -> Path:
        """Where this directory is (built on demand: a Path per step cost 6 us)."""
        if self._names:
            self._path, self._names = self._path.joinpath(*self._names), ()
        return self._path

    @classmethod
    def open(cls, path: Path) -> Directory:
        """Open `path` itself (a storage root may be reached through links of its owner's)."""
        return cls(os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), path)

    def __enter__(self) -> Directory:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the descriptor (once)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def sync(self) -> None:
        """Make the names this directory holds durable."""
        os.fsync(self.fd)

    def child(self, name: str, *, create: bool = False) -> Directory:
        """The subdirectory `name`, never through a link; with `create`, made (and made durable
        here) when missing."""
        try:
            fd = os.open(name, _DIRECTORY, dir_fd=self.fd)
        except FileNotFoundError:
            if not create:
                raise
            try:
                os.mkdir(name, 0o755, dir_fd=self.fd)
                self.sync()
            except FileExistsError:
                pass  # another writer made it meanwhile
            fd = self._open_dir(name)
        except OSError as error:
            raise self._refused(name, error) from error
        return Directory(fd, self._path, (*self._names, name))

    def _open_dir(self, name: str) -> int:
        try:
            return os.open(name, _DIRECTORY, dir_fd=self.fd)
        except OSError as error:
            raise self._refused(name, error) from error

    def _refused(self, name: str, error: OSError) -> OSError:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            return StoreError(
                f"{self.path / name}: is a symbolic link or not a directory; the store never "
                "writes or removes anything through one (remove it, or choose another id)"
            )
        return error

    def lock(self) -> None:
        """Take this process's exclusive lock on the directory (held until the descriptor is
        closed): processes sharing a root make and remove log directories one at a time."""
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def make_path(self, names: Sequence[str]) -> tuple[Directory, int]:
        """The directory at `names`, made where missing; and how many of the last names this
        call made (so that undoing it removes those and no other)."""
        current = Directory(os.dup(self.fd), self._path, self._names)
        made = 0
        try:
            for name in names:
                existed = current.kind(name) is not None
                following = current.child(name, create=True)
                current.close()
                current = following
                made = 0 if existed else made + 1
        except BaseException:
            current.close()
            raise
        return current, made

    def remove_made(self, names: Sequence[str], made: int) -> None:
        """Undo `make_path(names)` that made the last `made` names: remove those, from the
        deepest up, while they are empty."""
        if made <= 0:
            return
        try:
            parent = self.walk(names[: len(names) - made])
        except OSError:
            return
        with parent:
            parent.remove_empty_dirs(names[len(names) - made :])

    def walk(self, names: Sequence[str], *, create: bool = False) -> Directory:
        """The directory at `names` below this one (a new descriptor), each step as `child`."""
        if not names:
            return Directory(os.dup(self.fd), self._path, self._names)
        current = self.child(names[0], create=create)
        try:
            for name in names[1:]:
                following = current.child(name, create=create)
                current.close()
                current = following
        except BaseException:
            current.close()
            raise
        return current

    def descend(self, names: Sequence[str]) -> Directory:
        """`walk(names)` (no create) in one system call where the kernel itself refuses every
        link on the way (Linux's openat2 with RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH): for a
        registry file's directory, four names deep, three openings and three closings fewer.
        Anything but success or a missing name takes the walk, which gives the same result or
        the same error (naming the link)."""
        opener = _openat2()
        path = "/".join(names)
        if opener is None or not names or "\0" in path or any(n in _DOTS for n in names):
            return self.walk(names)
        try:
            fd = opener(self.fd, os.fsencode(path))
        except FileNotFoundError:
            raise
        except OSError:
            return self.walk(names)
        return Directory(fd, self._path, (*self._names, *names))

    def kind(self, name: str) -> int | None:
        """The file type bits of `name` here (a link is a link), or None when missing."""
        try:
            return stat.S_IFMT(os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            return None

    def write_new(self, name: str, data: bytes) -> None:
        """Create `name` (never an existing one, never through a link) holding `data`, and make
        its bytes durable."""
        fd = os.open(name, _NEW_FILE, 0o644, dir_fd=self.fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=self.fd)
            raise
        os.close(fd)

    def replace(self, source: str, target: str) -> None:
        """Rename `source` over `target` (a link named `target` is replaced, not followed) and
        make the rename durable."""
        os.replace(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        self.sync()

    def rename(self, source: str, target: str) -> None:
        """Rename `source` over `target` here, not yet durable: call `sync` after a batch."""
        os.replace(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def read_small(self, name: str, limit: int) -> bytes | None:
        """The bytes of the regular file `name` (never through a link), or None when missing;
        a link, a directory, a FIFO or a file over `limit` bytes is refused with StoreError."""
        try:
            fd = os.open(name, _READ, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
                raise StoreError(
                    f"{self.path / name}: is a symbolic link or not a regular file; the store "
                    "never reads or writes through one"
                ) from error
            raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise StoreError(f"{self.path / name}: is not a regular file")
            if info.st_size > limit:
                raise StoreError(
                    f"{self.path / name}: is {info.st_size} bytes, over the {limit} byte limit"
                )
            chunks: list[bytes] = []
            size = 0
            while chunk := os.read(fd, limit + 1 - size):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise StoreError(f"{self.path / name}: is over the {limit} byte limit")
            return b"".join(chunks)
        finally:
            os.close(fd)

    def remove_file(self, name: str) -> bool:
        """Remove `name` if it is a regular file (never a directory or what a link names);
        returns whether it did. Not made durable: call `sync` after a batch."""
        if self.kind(name) != stat.S_IFREG:
            return False
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            return False
        return True

    def remove_empty_dirs(self, names: Sequence[str]) -> None:
        """Remove the directories `names` (each inside the one before) from the deepest up,
        while they are empty, making each removal durable in its parent."""
        opened: list[Directory] = [self]
        try:
            for name in names[:-1]:
                try:
                    opened.append(opened[-1].child(name))
                except OSError:
                    return
            for parent, name in zip(reversed(opened), reversed(names), strict=False):
                try:
                    os.rmdir(name, dir_fd=parent.fd)
                except OSError:
                    return  # not empty (another log lives there), a link, or gone
                parent.sync()
        finally:
            for directory in opened[1:]:
                directory.close()

    def names(self) -> Iterator[str]:
        """The names this directory holds."""
        yield from os.listdir(self.fd)


_DOTS = ("", ".", "..")
_OPENAT2_LOADED = False
_openat2_fn: Callable[[int, bytes], int] | None = None


def _openat2() -> Callable[[int, bytes], int] | None:
    """openat2 opening a directory below a descriptor, never through a link nor out of it;
    None where the system lacks it (loaded on first use: ctypes costs a cold start 10 ms)."""
    global _OPENAT2_LOADED, _openat2_fn
    if not _OPENAT2_LOADED:
        _openat2_fn = _load_openat2()
        _OPENAT2_LOADED = True
    return _openat2_fn


_SYS_OPENAT2 = 437  # the same number on every architecture Linux added it to after 5.1
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_GONE = (errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG)
"""openat2 missing (a kernel before 5.6) or filtered out (a container's seccomp profile)."""


def _load_openat2() -> Callable[[int, bytes], int] | None:
    if sys.platform != "linux" or os.uname().machine not in _OPENAT2_MACHINES:
        return None
    import ctypes

    class OpenHow(ctypes.Structure):
        _fields_ = [
            ("flags", ctypes.c_uint64),
            ("mode", ctypes.c_uint64),
            ("resolve", ctypes.c_uint64),
        ]

    try:
        syscall = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    syscall.restype = ctypes.c_long
    syscall.argtypes = [
        ctypes.c_long,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.POINTER(OpenHow),
        ctypes.c_size_t,
    ]
    how = OpenHow(_DIRECTORY, 0, _RESOLVE_NO_SYMLINKS | _RESOLVE_BENEATH)
    size = ctypes.sizeof(how)

    def openat2(dir_fd: int, path: bytes) -> int:
        fd: int = syscall(_SYS_OPENAT2, dir_fd, path, ctypes.byref(how), size)
        if fd >= 0:
            return fd
        code = ctypes.get_errno()
        if code in _GONE:
            global _openat2_fn
            _openat2_fn = None  # the walk from now on
        raise OSError(code, os.strerror(code))

    return openat2


_OPENAT2_MACHINES = ("x86_64", "aarch64", "armv7l", "armv8l", "riscv64", "ppc64le", "s390x")


def make_root(root: Path) -> None:
    """Create the storage root and any missing parents, each made durable in its parent."""
    missing: list[Path] = []
    path = root
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        with Directory.open(directory.parent) as parent:
            parent.sync()
    if not root.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(root))


def sync_file(path: Path) -> None:
    """Make a file's bytes durable (for example a database's write-ahead log after a commit at
    synchronous=NORMAL); a missing file has nothing to sync."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
