"""The trees a power cut could leave, rebuilt from a crash file system's event log.

Two models of what survives a cut, both keeping a file's bytes only as of its last fsync:
- `synced` (FAT/exFAT, ext2, ext4 without a journal): a directory's names only as of its last
  fsync;
- `journaled` (ext4 data=writeback and the like): every change of names made before the cut,
  in order.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.powerloss.crashfs import CONTROL

MODELS = ("synced", "journaled")


@dataclass
class Cut:
    """The tree a cut would leave, and what had been acknowledged before it."""

    index: int
    directories: dict[int, dict[str, int]]
    files: dict[int, bytes]
    modes: dict[int, int]
    acks: list[dict[str, Any]]


def cuts(events: list[tuple[str, Any]], model: str) -> Iterator[Cut]:
    """A cut before each event that changes what a power cut keeps, and one after the last."""
    modes: dict[int, int] = {1: stat.S_IFDIR | 0o755}
    synced_dirs: dict[int, dict[str, int]] = {}
    live_dirs: dict[int, dict[str, int]] = {}
    files: dict[int, bytes] = {}
    acks: list[dict[str, Any]] = []
    index = 0

    def cut() -> Cut:
        directories = dict(synced_dirs if model == "synced" else live_dirs)
        return Cut(index, directories, dict(files), dict(modes), list(acks))

    for kind, value in events:
        if kind == "node":
            modes[value[0]] = value[1]
        elif kind == "ack":
            acks.append(json.loads(value))
        elif kind == "ns":
            if model == "journaled":
                yield cut()
                index += 1
            live_dirs[value[0]] = value[1]
        elif kind == "durable":
            ino, what, _, payload = value
            yield cut()
            index += 1
            if what == "dir":
                synced_dirs[ino] = payload
            elif what == "file":
                files[ino] = payload
    yield cut()


def materialize(cut: Cut, dest: Path) -> None:
    """Write the tree of `cut` under `dest` (a missing directory record: empty; a file never
    synced: empty)."""

    def build(ino: int, path: Path) -> None:
        path.mkdir()
        for name, child in cut.directories.get(ino, {}).items():
            if ino == 1 and name == CONTROL:
                continue
            mode = cut.modes.get(child, stat.S_IFREG)
            if stat.S_ISDIR(mode):
                build(child, path / name)
            elif stat.S_ISREG(mode):
                (path / name).write_bytes(cut.files.get(child, b""))

    build(1, dest)
