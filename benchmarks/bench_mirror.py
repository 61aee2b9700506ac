"""The registry mirror: one `register_sensor` at the default durability (FULL) with the mirror
on, against a baseline in the same run of a raw sqlite3 insert+commit of the same row plus a
raw write of the same bytes by the Rust SDK's protocol (temporary file, fsync, rename, fsync of
the directory). Target: at most 1.3x. Beside it, the same registration with the mirror off.

Also: a cold open (open the store, read one entry) of a root holding 10,000 Rust files against
the same root without them: the files are read only when needed or imported (target 1.1x).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from auki_session import FrameDef, Peer, canonical_json, content_hash
from auki_session._domain.entries import sensor_entry
from auki_session._store.store import close_all
from auki_session._store.transaction import utc_now

from ._harness import (
    ENTRY_COLUMNS,
    Result,
    camera_body,
    entry_row,
    interleaved_all,
    main,
    raw_connection,
    scratch,
)

PEER_ID = "12D3KooWBenchMirror"
SENSOR_ID = "head_left_cam"
TITLE = "8. registry mirror (register_sensor writing the Rust SDK's file, FULL)"
INSERT = f"INSERT INTO entries ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"


def _raw_write(directory: Path, dir_fd: int, name: str, data: bytes) -> None:
    """The Rust SDK's write: `.<name>.tmp`, fsync, rename, fsync of the directory."""
    temp = directory / f".{name}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    os.rename(temp, directory / name)
    os.fsync(dir_fd)


def _registration(base: Path, batch: int, rounds: int) -> list[Result]:
    on = Peer(PEER_ID, "bench").with_storage_root(base / "on").with_registry_mirror(True)
    off = Peer(PEER_ID, "bench").with_storage_root(base / "off").with_registry_mirror(False)
    frames = [p.register_frame("head_left_cam_optical", FrameDef.ros_optical()) for p in (on, off)]
    raw_root = base / "raw"
    Peer(PEER_ID, "bench").with_storage_root(raw_root).with_registry_mirror(False).register_frame(
        "head_left_cam_optical", FrameDef.ros_optical()
    )
    close_all()
    raw = raw_connection(raw_root / "auki_session.db", "full")
    files = raw_root / "registries" / "sensors" / PEER_ID / SENSOR_ID
    files.mkdir(parents=True)
    dir_fd = os.open(files, os.O_RDONLY | os.O_DIRECTORY)
    total = batch * (rounds + 1)
    bodies = [camera_body(frames[0], index) for index in range(total)]
    built = [sensor_entry(PEER_ID, SENSOR_ID, body) for body in bodies]
    rows = [entry_row(entry, utc_now()) for entry in built]
    cursor = {"on": 0, "off": 0, "raw": 0}

    def mirrored() -> None:
        start = cursor["on"]
        for body in bodies[start : start + batch]:
            on.register_sensor(SENSOR_ID, body)
        cursor["on"] = start + batch

    def unmirrored() -> None:
        start = cursor["off"]
        for body in bodies[start : start + batch]:
            off.register_sensor(SENSOR_ID, body)
        cursor["off"] = start + batch

    def baseline() -> None:
        start = cursor["raw"]
        for entry, row in zip(
            built[start : start + batch], rows[start : start + batch], strict=True
        ):
            raw.execute("BEGIN IMMEDIATE")
            raw.execute(INSERT, row)
            raw.execute("COMMIT")
            _raw_write(files, dir_fd, f"{entry.hash}.json", entry.canonical)
        cursor["raw"] = start + batch

    mirrored(), unmirrored(), baseline()  # warm up: first queries, caches, directories
    mine, plain, theirs = (
        seconds / batch * 1e6
        for seconds in interleaved_all([mirrored, unmirrored, baseline], rounds)
    )
    os.close(dir_fd)
    raw.close()
    close_all()
    return [
        Result(
            "register_sensor with the mirror, FULL",
            mine,
            "us/op",
            theirs,
            "raw insert+commit + Rust write",
            target=1.3,
        ),
        Result(
            "register_sensor with the mirror off, FULL",
            plain,
            "us/op",
            mine,
            "with the mirror",
            kind="info",
        ),
    ]


_COLD = """
import sys
from auki_session import Peer
peer = Peer(sys.argv[2], "bench").with_storage_root(sys.argv[1])
peer.current("frame", "base_link")
"""


def _cold_open(base: Path, files: int, rounds: int) -> list[Result]:
    roots = [base / "plain", base / "rust"]
    for root in roots:
        Peer(PEER_ID, "bench").with_storage_root(root).register_frame(
            "base_link", FrameDef.ros_body()
        )
    close_all()
    for index in range(files):
        entry = {
            "axes": {"x": "forward", "y": "left", "z": "up"},
            "frame_id": f"rust_{index}",
            "handedness": "right",
            "peer_id": PEER_ID,
            "units": "meters",
        }
        data = canonical_json(entry)
        directory = roots[1] / "registries" / "frames" / PEER_ID / f"rust_{index}"
        directory.mkdir(parents=True)
        (directory / f"{content_hash(data)}.json").write_bytes(data)

    def opener(root: Path) -> object:
        return lambda: subprocess.run([sys.executable, "-c", _COLD, str(root), PEER_ID], check=True)

    plain, rust = interleaved_all([opener(roots[0]), opener(roots[1])], rounds)
    return [
        Result(
            f"cold open of a root holding {files:,} Rust files",
            rust * 1e3,
            "ms",
            plain * 1e3,
            "the same root without them",
            target=1.1,
        )
    ]


def run(quick: bool) -> list[Result]:
    with scratch("mirror") as base:
        results = _registration(base, 20 if quick else 50, 5 if quick else 11)
        results += _cold_open(base, 10_000, 5 if quick else 11)
    return results


if __name__ == "__main__":
    main(run, TITLE)
