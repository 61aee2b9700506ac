"""A FUSE file system for power-loss tests: it keeps what was made durable apart from the rest.

Every operation changes the live tree that processes see. Only an `fsync` moves something into
the durable record: the file's bytes (fsync or fdatasync of a file), or the names a directory
holds (fsync of a directory) — as on a file system that orders nothing (ext2, ext4 without a
journal, FAT/exFAT on an SD card). The durable record after each fsync is logged, together with
the acknowledgements the workload writes to `/control/acks`; the test then rebuilds, for every
cut point, the tree a power cut at that moment would leave, and opens the store on it.

A name whose directory was never fsynced is lost; a file whose bytes were never fsynced comes
back empty; a directory that was never fsynced comes back empty. `/control` is outside the
simulated disk: it is how the workload reports what it acknowledged.

Run: `python crashfs.py MOUNTPOINT EVENTS` (foreground; the event log is written to EVENTS when
the file system is unmounted).
"""

from __future__ import annotations

import errno
import os
import pickle
import stat
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fuse import FUSE, FuseOSError, Operations  # type: ignore[import-untyped]

CONTROL = "control"
ACKS = "acks"


@dataclass
class Node:
    """One inode of the live tree."""

    ino: int
    mode: int
    data: bytearray = field(default_factory=bytearray)
    entries: dict[str, int] = field(default_factory=dict)
    target: str = ""
    nlink: int = 1
    times: float = field(default_factory=time.time)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)


class CrashFS(Operations):  # type: ignore[misc]
    """The live tree in memory, and the log of durable records (see the module docstring)."""

    def __init__(self) -> None:
        self.mutex = threading.RLock()
        self.nodes: dict[int, Node] = {1: Node(1, stat.S_IFDIR | 0o755, nlink=2)}
        self.next_ino = 2
        self.handles: dict[int, int] = {}
        self.next_fh = 1
        self.events: list[tuple[str, Any]] = []
        """In order: ("node", (ino, mode)) when an inode is made; ("ns", (dir ino, names))
        after each change of a directory's names; ("durable", (ino, kind, mode, payload))
        after each fsync; ("ack", bytes) for each write to /control/acks."""
        self.fsyncs = 0
        control = self._new(stat.S_IFDIR | 0o755)
        self.nodes[1].entries[CONTROL] = control.ino
        self.control = control.ino
        self.events.append(("durable", (1, "dir", self.nodes[1].mode, {})))
        self.events.append(("ns", (1, {})))

    # --- the tree -------------------------------------------------------------------------------

    def _new(self, mode: int) -> Node:
        node = Node(self.next_ino, mode, nlink=2 if stat.S_ISDIR(mode) else 1)
        self.nodes[node.ino] = node
        self.next_ino += 1
        self.events.append(("node", (node.ino, mode)))
        return node

    def _changed(self, *directories: Node) -> None:
        for directory in directories:
            if directory.ino != self.control:
                self.events.append(("ns", (directory.ino, dict(directory.entries))))

    def _walk(self, path: str) -> Node:
        node = self.nodes[1]
        for part in [p for p in path.split("/") if p]:
            if not node.is_dir or part not in node.entries:
                raise FuseOSError(errno.ENOENT)
            node = self.nodes[node.entries[part]]
        return node

    def _parent(self, path: str) -> tuple[Node, str]:
        head, _, name = path.rstrip("/").rpartition("/")
        parent = self._walk(head or "/")
        if not parent.is_dir:
            raise FuseOSError(errno.ENOTDIR)
        return parent, name

    def _is_ack(self, path: str) -> bool:
        return path == f"/{CONTROL}/{ACKS}"

    # --- what a power cut keeps -------------------------------------------------------------------

    def _durable(self, node: Node) -> None:
        if node.is_dir:
            record = (node.ino, "dir", node.mode, dict(node.entries))
        elif stat.S_ISLNK(node.mode):
            record = (node.ino, "link", node.mode, node.target)
        else:
            record = (node.ino, "file", node.mode, bytes(node.data))
        self.fsyncs += 1
        self.events.append(("durable", record))

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        with self.mutex:
            node = self.nodes[self.handles.get(fh, 0)] if fh in self.handles else self._walk(path)
            if node.ino != self.control and not self._is_ack(path):
                self._durable(node)
            return 0

    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        with self.mutex:
            node = self._walk(path)
            if node.ino != self.control:
                self._durable(node)
            return 0

    # --- metadata -------------------------------------------------------------------------------

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        with self.mutex:
            node = self._walk(path)
            size = len(node.target) if stat.S_ISLNK(node.mode) else len(node.data)
            return {
                "st_mode": node.mode,
                "st_ino": node.ino,
                "st_nlink": node.nlink,
                "st_size": size,
                "st_uid": os.getuid(),
                "st_gid": os.getgid(),
                "st_atime": node.times,
                "st_mtime": node.times,
                "st_ctime": node.times,
            }

    def access(self, path: str, amode: int) -> int:
        with self.mutex:
            self._walk(path)
            return 0

    def chmod(self, path: str, mode: int) -> int:
        with self.mutex:
            node = self._walk(path)
            node.mode = (node.mode & ~0o7777) | (mode & 0o7777)
            return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        return 0

    def utimens(self, path: str, times: tuple[float, float] | None = None) -> int:
        with self.mutex:
            self._walk(path).times = times[1] if times else time.time()
            return 0

    def statfs(self, path: str) -> dict[str, int]:
        return {
            "f_bsize": 4096,
            "f_frsize": 4096,
            "f_blocks": 1 << 20,
            "f_bfree": 1 << 19,
            "f_bavail": 1 << 19,
            "f_files": 1 << 20,
            "f_ffree": 1 << 19,
            "f_namemax": 255,
        }

    # --- directories ------------------------------------------------------------------------------

    def readdir(self, path: str, fh: int) -> list[str]:
        with self.mutex:
            node = self._walk(path)
            if not node.is_dir:
                raise FuseOSError(errno.ENOTDIR)
            return [".", "..", *node.entries]

    def mkdir(self, path: str, mode: int) -> int:
        with self.mutex:
            parent, name = self._parent(path)
            if name in parent.entries:
                raise FuseOSError(errno.EEXIST)
            parent.entries[name] = self._new(stat.S_IFDIR | (mode & 0o7777)).ino
            parent.nlink += 1
            self._changed(parent)
            return 0

    def rmdir(self, path: str) -> int:
        with self.mutex:
            parent, name = self._parent(path)
            node = self._walk(path)
            if not node.is_dir:
                raise FuseOSError(errno.ENOTDIR)
            if node.entries:
                raise FuseOSError(errno.ENOTEMPTY)
            del parent.entries[name]
            parent.nlink -= 1
            self._changed(parent)
            return 0

    def symlink(self, target: str, source: str) -> int:
        with self.mutex:
            parent, name = self._parent(target)
            if name in parent.entries:
                raise FuseOSError(errno.EEXIST)
            node = self._new(stat.S_IFLNK | 0o777)
            node.target = source
            parent.entries[name] = node.ino
            self._changed(parent)
            return 0

    def readlink(self, path: str) -> str:
        with self.mutex:
            return self._walk(path).target

    def rename(self, old: str, new: str) -> int:
        with self.mutex:
            old_parent, old_name = self._parent(old)
            new_parent, new_name = self._parent(new)
            moving = old_parent.entries.get(old_name)
            if moving is None:
                raise FuseOSError(errno.ENOENT)
            replaced = new_parent.entries.get(new_name)
            if replaced is not None and self.nodes[replaced].entries:
                raise FuseOSError(errno.ENOTEMPTY)
            del old_parent.entries[old_name]
            new_parent.entries[new_name] = moving
            self._changed(old_parent, *([new_parent] if new_parent is not old_parent else []))
            return 0

    def unlink(self, path: str) -> int:
        with self.mutex:
            parent, name = self._parent(path)
            if name not in parent.entries:
                raise FuseOSError(errno.ENOENT)
            if self.nodes[parent.entries[name]].is_dir:
                raise FuseOSError(errno.EISDIR)
            del parent.entries[name]
            self._changed(parent)
            return 0

    # --- files ------------------------------------------------------------------------------------

    def _handle(self, node: Node) -> int:
        fh = self.next_fh
        self.next_fh += 1
        self.handles[fh] = node.ino
        return fh

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        with self.mutex:
            parent, name = self._parent(path)
            if name in parent.entries:
                node = self.nodes[parent.entries[name]]
            else:
                node = self._new(stat.S_IFREG | (mode & 0o7777))
                parent.entries[name] = node.ino
                self._changed(parent)
            return self._handle(node)

    def open(self, path: str, flags: int) -> int:
        with self.mutex:
            node = self._walk(path)
            if flags & os.O_TRUNC:
                del node.data[:]
            return self._handle(node)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        with self.mutex:
            node = self.nodes[self.handles[fh]]
            return bytes(node.data[offset : offset + size])

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        with self.mutex:
            if self._is_ack(path):
                self.events.append(("ack", bytes(data)))
                return len(data)
            node = self.nodes[self.handles[fh]]
            if len(node.data) < offset:
                node.data.extend(b"\0" * (offset - len(node.data)))
            node.data[offset : offset + len(data)] = data
            return len(data)

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        with self.mutex:
            node = self.nodes[self.handles[fh]] if fh in self.handles else self._walk(path)
            if length < len(node.data):
                del node.data[length:]
            else:
                node.data.extend(b"\0" * (length - len(node.data)))
            return 0

    def flush(self, path: str, fh: int) -> int:
        return 0

    def release(self, path: str, fh: int) -> int:
        with self.mutex:
            self.handles.pop(fh, None)
            return 0


def main() -> None:
    mountpoint, events_path = sys.argv[1], sys.argv[2]
    filesystem = CrashFS()
    try:
        FUSE(
            filesystem,
            mountpoint,
            foreground=True,
            nothreads=True,
            default_permissions=True,
            hard_remove=True,
        )
    finally:
        with open(events_path + ".tmp", "wb") as handle:
            pickle.dump(filesystem.events, handle)
        os.replace(events_path + ".tmp", events_path)


if __name__ == "__main__":
    main()
