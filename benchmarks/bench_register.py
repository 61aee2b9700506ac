"""Target 1: one durable registration vs a raw sqlite3 insert-and-commit of the same row.

The subject is `peer.register_sensor(id, camera_body)` where every call is a new version (the
calibration changes), so each call validates, canonicalises, hashes, checks the frame ref,
looks up the head, inserts the version and moves the head, in its own BEGIN IMMEDIATE
transaction. The baseline is a bare `sqlite3` connection with the same pragmas executing
BEGIN IMMEDIATE; INSERT INTO entries ...; COMMIT with the same precomputed row, on a database
with the same schema. Measured at synchronous=NORMAL (where software overhead shows) and at the
default FULL (where the WAL fsync per commit dominates).
"""

from __future__ import annotations

from pathlib import Path

from auki_session import FrameDef, Peer
from auki_session.entries import sensor_entry
from auki_session.store.repository import utc_now
from auki_session.stores import close_all

from ._harness import (
    ENTRY_COLUMNS,
    Result,
    camera_body,
    entry_row,
    interleaved,
    main,
    raw_connection,
    scratch,
)

PEER_ID = "12D3KooWBenchRegister"
SENSOR_ID = "head_left_cam"
TITLE = "1. one durable registration (register_sensor, camera, new version each call)"


def _measure(base: Path, durability: str, batch: int, rounds: int) -> list[Result]:
    subject_root = base / f"subject-{durability}"
    raw_root = base / f"raw-{durability}"
    peer = Peer(PEER_ID, "bench").with_storage_root(subject_root).with_durability(durability)
    frame = peer.register_frame("head_left_cam_optical", FrameDef.ros_optical())
    # The raw baseline gets a database with the same schema (and the peer row its foreign key
    # needs) made by the store itself, then only bare sqlite3 touches it.
    Peer(PEER_ID, "bench").with_storage_root(raw_root).register_frame(
        "head_left_cam_optical", FrameDef.ros_optical()
    )
    close_all()

    bodies = [camera_body(frame, index) for index in range(batch * (rounds + 1))]
    rows = [entry_row(sensor_entry(PEER_ID, SENSOR_ID, body), utc_now()) for body in bodies]
    raw = raw_connection(raw_root / "auki_session.db", durability)
    insert = f"INSERT INTO entries ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    cursor = {"subject": 0, "raw": 0}

    def subject() -> None:
        start = cursor["subject"]
        for body in bodies[start : start + batch]:
            peer.register_sensor(SENSOR_ID, body)
        cursor["subject"] = start + batch

    def baseline() -> None:
        start = cursor["raw"]
        for row in rows[start : start + batch]:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute(insert, row)
            raw.execute("COMMIT")
        cursor["raw"] = start + batch

    subject()  # warm up: the store is open, statements are prepared
    baseline()
    mine, theirs = interleaved(subject, baseline, rounds)
    raw.close()

    def build() -> None:
        for body in bodies[:batch]:
            sensor_entry(PEER_ID, SENSOR_ID, body)

    build_s, _ = interleaved(build, lambda: None, 3)
    close_all()
    return [
        Result(
            f"register_sensor, synchronous={durability.upper()}",
            mine / batch * 1e6,
            "us/op",
            theirs / batch * 1e6,
            "raw sqlite3",
            target=2.0,
        ),
        Result(
            f"  of which validate+canonical+hash ({durability.upper()})",
            build_s / batch * 1e6,
            "us/op",
            kind="info",
        ),
    ]


def run(quick: bool) -> list[Result]:
    """Both durability levels; FULL uses fewer calls per round since each one fsyncs."""
    results: list[Result] = []
    with scratch("register") as base:
        results += _measure(base, "normal", batch=100 if quick else 300, rounds=5 if quick else 15)
        results += _measure(base, "full", batch=20 if quick else 50, rounds=5 if quick else 15)
    return results


if __name__ == "__main__":
    main(run, TITLE)
