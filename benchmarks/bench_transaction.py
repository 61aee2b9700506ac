"""Target 2: `with peer.transaction():` registering 10,000 frames vs raw executemany.

The subject registers 10,000 distinct frame ids (each validated, canonicalised, hashed, looked up
and stored with its head) in one transaction. The baseline is a bare `sqlite3` connection with the
same pragmas writing the same precomputed rows, the `entries` rows and the `heads` rows that make
them current, with two `executemany` calls in one BEGIN IMMEDIATE transaction, on a database with
the same schema. Each round uses a fresh store so both sides write into tables of the same size.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from auki_session import FrameDef, Peer
from auki_session._domain.entries import frame_entry
from auki_session._store.store import close_all
from auki_session._store.transaction import utc_now

from ._harness import (
    ENTRY_COLUMNS,
    Result,
    entry_row,
    main,
    raw_connection,
    scratch,
    timed,
)

PEER_ID = "12D3KooWBenchTransaction"
TITLE = "2. one transaction registering 10,000 frames"
PRESETS = (FrameDef.ros_body(), FrameDef.ros_optical(), FrameDef.opengl(), FrameDef.unity())


def _frame_ids(count: int) -> list[str]:
    return [f"robot/link_{index:05d}" for index in range(count)]


def _fresh(base: Path, name: str) -> Path:
    """A new store with its schema and this peer's row, as the store itself creates them."""
    root = base / name
    Peer(PEER_ID, "bench").with_storage_root(root).register_frame("seed", FrameDef.ros_body())
    close_all()
    return root


def run(quick: bool) -> list[Result]:
    count = 10_000
    rounds = 3 if quick else 7
    ids = _frame_ids(count)
    frames = [PRESETS[index % 4] for index in range(count)]
    now = utc_now()
    pairs = list(zip(ids, frames, strict=True))
    entries = [frame_entry(PEER_ID, frame_id, frame) for frame_id, frame in pairs]
    entry_rows = [entry_row(entry, now) for entry in entries]
    head_rows = [(PEER_ID, "frame", entry.id, entry.hash, now) for entry in entries]
    insert_entries = f"INSERT INTO entries ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    insert_heads = (
        "INSERT INTO heads (peer_id, kind, entry_id, hash, updated_at) VALUES (?, ?, ?, ?, ?)"
    )

    mine: list[float] = []
    theirs: list[float] = []
    with scratch("transaction") as base:
        for index in range(rounds):
            peer = Peer(PEER_ID, "bench").with_storage_root(_fresh(base, f"subject{index}"))
            peer.entries()  # open the store outside the timing, as a long-running daemon has

            def subject(peer: Peer = peer) -> None:
                with peer.transaction():
                    for frame_id, frame in pairs:
                        peer.register_frame(frame_id, frame)

            raw = raw_connection(_fresh(base, f"raw{index}") / "auki_session.db")

            def baseline(raw: object = raw) -> None:
                raw.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
                raw.executemany(insert_entries, entry_rows)  # type: ignore[attr-defined]
                raw.executemany(insert_heads, head_rows)  # type: ignore[attr-defined]
                raw.execute("COMMIT")  # type: ignore[attr-defined]

            if index % 2:
                theirs.append(timed(baseline))
                mine.append(timed(subject))
            else:
                mine.append(timed(subject))
                theirs.append(timed(baseline))
            raw.close()
            stored = len(peer.frames())
            assert stored == count + 1, stored
            close_all()
    subject_s, raw_s = statistics.median(mine), statistics.median(theirs)
    return [
        Result(
            "registrations/s in one transaction",
            count / subject_s,
            "reg/s",
            kind="min_rate",
            target=50_000,
        ),
        Result(
            "10,000 frames in one transaction",
            subject_s * 1e3,
            "ms",
            raw_s * 1e3,
            "raw executemany",
            target=3.0,
        ),
    ]


if __name__ == "__main__":
    main(run, TITLE)
