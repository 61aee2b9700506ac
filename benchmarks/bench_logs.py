"""Target 6: `with peer.transaction():` is linear in the number of logs registered inside it.

The subject registers N sensor logs (ids `cam/0000` ...) of one session in one transaction, each
log validated, planned, checked against the sensor, frame and clock it names, inserted with its
refs, its directory claimed and its manifest written. Each measurement uses a fresh store that
already holds one frame, N cameras in that frame and a session (committed before the timing, so
the timed block only registers logs); the specs are built beforehand too. N is 1,000 and 4,000
(quick: 250 and 1,000), run alternately on fresh stores; the larger N must take at most 4.5x the
time of the smaller (4x the logs: a cost that grows with the logs already in the transaction or
session would show as a larger ratio and a per-log time that grows with N). Each log's manifest
is made durable (fsyncs), so on a disk the figures follow its fsync latency: the setup's writes
are flushed before the timing, and AUKI_BENCH_DIR on a tmpfs shows the work without the disk.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path

from auki_session import FrameDef, HeadSpec, Peer, SensorLogSpec, Session
from auki_session._store.store import close_all

from ._harness import Result, camera_body, main, scratch, timed

PEER_ID = "12D3KooWBenchLogs"
TITLE = "6. one transaction registering N sensor logs (4x the logs, at most 4.5x the time)"
TARGET = 4.5


def _prepare(root: Path, count: int) -> tuple[Peer, Session, list[SensorLogSpec]]:
    """A new store with a frame, `count` cameras and a session, committed; the log specs."""
    peer = Peer(PEER_ID, "bench").with_storage_root(root)
    with peer.transaction():
        frame = peer.register_frame("cam_optical", FrameDef.ros_optical())
        sensors = [
            peer.register_sensor(f"cam/{index:04d}", camera_body(frame)) for index in range(count)
        ]
    session = peer.start_session()
    clock = session.monotonic_clock
    specs = [
        SensorLogSpec(sensor, clock, HeadSpec.rolling(5_000_000_000), 1_000_000_000, 0, frame)
        for sensor in sensors
    ]
    return peer, session, specs


def _measure(base: Path, name: str, count: int) -> float:
    """Seconds one transaction registering `count` sensor logs takes, on a fresh store."""
    root = base / name
    peer, session, specs = _prepare(root, count)

    def subject() -> None:
        with peer.transaction():
            for spec in specs:
                session.register_sensor_log(spec)

    os.sync()  # the setup's writes flushed, so they do not land in the timed fsyncs
    seconds = timed(subject)
    stored = len(session.logs())
    assert stored == count, stored
    close_all()
    return seconds


def run(quick: bool) -> list[Result]:
    small, large = (250, 1_000) if quick else (1_000, 4_000)
    rounds = 3 if quick else 5
    smalls: list[float] = []
    larges: list[float] = []
    with scratch("logs") as base:
        for index in range(rounds):
            if index % 2:
                larges.append(_measure(base, f"large{index}", large))
                smalls.append(_measure(base, f"small{index}", small))
            else:
                smalls.append(_measure(base, f"small{index}", small))
                larges.append(_measure(base, f"large{index}", large))
    small_s, large_s = statistics.median(smalls), statistics.median(larges)
    return [
        Result(
            f"{large:,} sensor logs in one transaction",
            large_s * 1e3,
            "ms",
            small_s * 1e3,
            f"{small:,} logs",
            target=TARGET,
            note=f"median of {rounds} rounds, each on a fresh store",
        ),
        Result(
            f"per log, {small:,} logs in one transaction", small_s / small * 1e6, "us", kind="info"
        ),
        Result(
            f"per log, {large:,} logs in one transaction",
            large_s / large * 1e6,
            "us",
            small_s / small * 1e6,
            f"per log at {small:,}",
            kind="info",
        ),
    ]


if __name__ == "__main__":
    main(run, TITLE)
