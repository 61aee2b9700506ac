"""Target 3: cold start in a new process vs the same done with bare SQLAlchemy Core.

Each sample is a whole new interpreter (`python -c ...`), so it counts interpreter start-up,
imports, opening the store and one query. The subject imports auki_session, opens an existing,
up-to-date store through a Peer and reads one entry (`peer.current("sensor", id)`). The baseline
imports SQLAlchemy, declares the two tables it reads with Core, creates an engine on the same
file and runs the same join with `select()`. Samples alternate between the two.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from auki_session import FrameDef, Peer
from auki_session._store.store import close_all

from ._harness import Result, camera_body, main, scratch

PEER_ID = "12D3KooWBenchColdStart"
TITLE = "3. cold start: new process, import, open an up-to-date store, read one entry"

SUBJECT = """
import sys
from auki_session import Peer
entry = Peer(sys.argv[1], "bench").with_storage_root(sys.argv[2]).current("sensor", "head_cam")
assert entry.hash
"""

BASELINE = """
import sys
from sqlalchemy import Column, MetaData, Table, Text, create_engine, select
metadata = MetaData()
entries = Table(
    "entries", metadata, Column("hash", Text), Column("kind", Text), Column("peer_id", Text),
    Column("entry_id", Text), Column("session_id", Text), Column("canonical_json", Text),
    Column("registered_at", Text),
)
heads = Table(
    "heads", metadata, Column("peer_id", Text), Column("kind", Text), Column("entry_id", Text),
    Column("hash", Text),
)
engine = create_engine("sqlite:///" + sys.argv[2] + "/auki_session.db")
query = (
    select(entries.c.kind, entries.c.peer_id, entries.c.entry_id, entries.c.hash,
           entries.c.session_id, entries.c.canonical_json, entries.c.registered_at)
    .join(heads, heads.c.hash == entries.c.hash)
    .where(heads.c.peer_id == sys.argv[1], heads.c.kind == "sensor",
           heads.c.entry_id == "head_cam")
)
with engine.connect() as connection:
    row = connection.execute(query).first()
assert row.hash
"""


def _spawn(code: str, root: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, PEER_ID, str(root)], check=True)
    return time.perf_counter() - start


def run(quick: bool) -> list[Result]:
    rounds = 10 if quick else 30
    with scratch("cold") as base:
        root = base / "store"
        peer = Peer(PEER_ID, "bench").with_storage_root(root)
        frame = peer.register_frame("head_cam_optical", FrameDef.ros_optical())
        peer.register_sensor("head_cam", camera_body(frame))
        close_all()
        for _ in range(2):  # warm the OS caches for both sides
            _spawn(SUBJECT, root)
            _spawn(BASELINE, root)
        mine: list[float] = []
        theirs: list[float] = []
        for index in range(rounds):
            if index % 2:
                theirs.append(_spawn(BASELINE, root))
                mine.append(_spawn(SUBJECT, root))
            else:
                mine.append(_spawn(SUBJECT, root))
                theirs.append(_spawn(BASELINE, root))
    return [
        Result(
            "import, open, read one entry (new process)",
            statistics.median(mine) * 1e3,
            "ms",
            statistics.median(theirs) * 1e3,
            "bare SQLAlchemy Core",
            target=1.3,
        )
    ]


if __name__ == "__main__":
    main(run, TITLE)
