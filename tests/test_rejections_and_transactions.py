"""A rejected call changes nothing; `peer.transaction()` is all or nothing."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from auki_session import (
    AukiSessionError,
    DetectionLogSpec,
    FrameDef,
    HeadSpec,
    LogRef,
    Peer,
    PoseLogSpec,
    SensorLogSpec,
    StoreError,
    UnresolvedRefError,
)
from tests.conftest import camera_body, end_process, register_camera, snapshot

SECOND = 1_000_000_000
GHOST = {"peer_id": "galbot", "id": "ghost", "hash": "0" * 32}


def _setup(peer: Peer) -> dict[str, Any]:
    frame, camera = register_camera(peer)
    session = peer.start_session()
    session.register_sensor_log(
        SensorLogSpec(camera, session.monotonic_clock, HeadSpec.fixed(), SECOND, 0)
    )
    return {"frame": frame, "camera": camera, "session": session}


REJECTED: dict[str, Callable[[Peer, dict[str, Any]], object]] = {
    "frame id with a space": lambda p, s: p.register_frame("base link", FrameDef.ros_body()),
    "frame not a FrameDef": lambda p, s: p.register_frame("base", "ros_body"),
    "sensor unknown key": lambda p, s: p.register_sensor(
        "cam2", camera_body(s["frame"], exposure=3)
    ),
    "sensor unresolved frame": lambda p, s: p.register_sensor("cam2", camera_body(GHOST)),
    "sensor bad layout": lambda p, s: p.register_sensor("cam2", camera_body(s["frame"], width=0)),
    "detector types in body": lambda p, s: p.register_detector(
        "d", {"type": "qr", "output_types": []}, []
    ),
    "clock bad scope": lambda p, s: s["session"].register_clock(
        "c", {"type": "utc_clock", "unit": "ns", "monotonic": False, "scope": "planet"}
    ),
    "duplicate log": lambda p, s: s["session"].register_sensor_log(
        SensorLogSpec(s["camera"], s["session"].utc_clock, HeadSpec.fixed(), SECOND, 0)
    ),
    "log with unresolved sensor": lambda p, s: s["session"].register_sensor_log(
        SensorLogSpec(GHOST, s["session"].utc_clock, HeadSpec.fixed(), SECOND, 0)
    ),
    "log escaping the root": lambda p, s: s["session"].register_pose_log(
        PoseLogSpec(
            {"peer_id": "x", "id": "..", "hash": "1" * 32},
            {"peer_id": "x", "id": "../../etc", "hash": "1" * 32},
            s["session"].utc_clock,
            {"kind": "manual"},
            "rigid",
            0,
            HeadSpec.fixed(),
            SECOND,
            0,
        )
    ),
    "detection log unresolved detector": lambda p, s: s["session"].register_detection_log(
        DetectionLogSpec(
            GHOST,
            LogRef("galbot", "x"),
            s["camera"],
            s["session"].utc_clock,
            HeadSpec.fixed(),
            SECOND,
            0,
        )
    ),
}


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_a_rejected_call_changes_nothing(
    name: str, peer: Peer, root: Path, database_url: str | None
) -> None:
    state = _setup(peer)
    before = snapshot(root, database_url)
    with pytest.raises((AukiSessionError, TypeError, ValueError)):
        REJECTED[name](peer, state)
    assert snapshot(root, database_url) == before


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_a_rejected_call_inside_a_transaction_keeps_the_rest(
    name: str, peer: Peer, root: Path
) -> None:
    state = _setup(peer)
    with peer.transaction():
        kept = peer.register_frame("kept", FrameDef.unity())
        with pytest.raises((AukiSessionError, TypeError, ValueError)):
            REJECTED[name](peer, state)
    assert peer.current("frame", "kept").ref == kept


def test_transaction_commits_everything_at_once(
    peer: Peer, root: Path, database_url: str | None
) -> None:
    with peer.transaction():
        frame, camera = register_camera(peer)
        session = peer.start_session()
        session.register_sensor_log(
            SensorLogSpec(camera, session.monotonic_clock, HeadSpec.fixed(), SECOND, 0)
        )
        assert snapshot(root, database_url)["rows"]["entries"] == []
    assert {e.ref for e in peer.entries()} == {frame, camera}
    assert len(peer.open_session(session.session_id).logs()) == 1


def test_rolled_back_transaction_leaves_no_row_and_no_manifest(
    peer: Peer, root: Path, database_url: str | None
) -> None:
    peer.register_frame("before", FrameDef.ros_body())
    before = snapshot(root, database_url)
    with pytest.raises(RuntimeError), peer.transaction():
        _, camera = register_camera(peer)
        session = peer.start_session()
        handle = session.register_sensor_log(
            SensorLogSpec(camera, session.monotonic_clock, HeadSpec.fixed(), SECOND, 0)
        )
        assert (Path(handle.root) / "manifest.json").exists()
        raise RuntimeError("abort")
    after = snapshot(root, database_url)
    assert after["rows"] == before["rows"]
    assert not (root / session.session_id).exists()
    assert [f for f in after["files"] if f.endswith("manifest.json")] == []


def test_a_nested_transaction_that_rolls_back_undoes_only_its_own_registrations(
    peer: Peer,
) -> None:
    with peer.transaction():
        kept = peer.register_frame("kept", FrameDef.ros_body())
        with pytest.raises(RuntimeError), peer.transaction():
            peer.register_frame("undone", FrameDef.opengl())
            raise RuntimeError("inner abort")
        after = peer.register_frame("after", FrameDef.unity())
    assert {e.ref for e in peer.frames()} == {kept, after}


def test_a_nested_rollback_on_a_fresh_store_keeps_the_outer_transaction(
    make_peer: Callable[[str, str], Peer],
) -> None:
    peer = make_peer("fresh-robot", "app")
    with peer.transaction():
        with pytest.raises(RuntimeError), peer.transaction():
            peer.register_frame("undone", FrameDef.opengl())
            raise RuntimeError("inner abort")
        kept = peer.register_frame("kept", FrameDef.ros_body())
    assert [e.ref for e in peer.frames()] == [kept]


def test_a_rolled_back_transaction_leaves_no_journal_directory(peer: Peer, root: Path) -> None:
    _, camera = register_camera(peer)
    with pytest.raises(RuntimeError), peer.transaction():
        session = peer.start_session()
        session.register_sensor_log(
            SensorLogSpec(camera, session.monotonic_clock, HeadSpec.fixed(), SECOND, 0)
        )
        raise RuntimeError("abort")
    left = sorted(p.name for p in root.iterdir() if not p.name.startswith("auki_session.db"))
    # The committed frame and camera have their registry files; the rolled-back session
    # left nothing: no session directory, no journal, no clock file.
    assert left == (["registries"] if peer.registry_mirror else [])
    assert not (root / "registries" / "clocks").exists()


def test_a_ref_found_in_a_rolled_back_transaction_is_checked_again(
    peer: Peer, root: Path, database_url: str | None
) -> None:
    with pytest.raises(RuntimeError), peer.transaction():
        frame = peer.register_frame("gone", FrameDef.ros_body())
        peer.register_sensor("cam", camera_body(frame))  # finds the frame, staged just before
        raise RuntimeError("abort")
    before = snapshot(root, database_url)
    with pytest.raises(UnresolvedRefError, match="does not match any registered frame"):
        peer.register_sensor("cam", camera_body(frame))
    assert snapshot(root, database_url) == before


def test_a_ref_found_inside_a_rolled_back_savepoint_is_checked_again(peer: Peer) -> None:
    with peer.transaction():
        with pytest.raises(RuntimeError), peer.transaction():
            frame = peer.register_frame("gone", FrameDef.ros_body())
            peer.register_sensor("cam", camera_body(frame))
            raise RuntimeError("inner abort")
        with pytest.raises(UnresolvedRefError, match="does not match any registered frame"):
            peer.register_sensor("cam", camera_body(frame))
        kept = peer.register_frame("kept", FrameDef.ros_body())
    assert [e.ref for e in peer.frames()] == [kept]
    assert peer.sensors() == []


def test_the_cache_of_found_refs_is_bounded(peer: Peer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("auki_session._store.transaction.KNOWN_REFS_MAX", 2)
    frames = [peer.register_frame(f"f{i}", FrameDef.ros_body()) for i in range(5)]
    for round_ in range(2):  # the second round finds some refs in the cache, some by a query
        for i, frame in enumerate(frames):
            peer.register_sensor(f"cam{i}", camera_body(frame, frame_rate_hz=10 + round_))
            assert len(peer._store().learnt.refs) <= 2
    with peer.transaction():  # one transaction finding more refs than the bound
        for i, frame in enumerate(frames):
            peer.register_sensor(f"cam{i}", camera_body(frame, frame_rate_hz=12))
    assert len(peer._store().learnt.refs) <= 2
    assert len(peer.sensors()) == 5
    assert {e.body["frame_rate_hz"] for e in peer.sensors()} == {12}


def test_a_transaction_committing_across_close_teaches_nothing_to_the_reopened_store(
    root: Path,
) -> None:
    """A transaction finds a ref, the store is closed and its database replaced while the
    transaction is still open; the ref must not be taken as registered in the new database."""
    peer = Peer("galbot", "app").with_storage_root(root)
    frame = peer.register_frame("base", FrameDef.ros_body())
    found, closed = threading.Event(), threading.Event()

    def register() -> None:
        with peer.transaction():
            peer.register_sensor("cam", camera_body(frame))  # finds the frame by a query
            found.set()
            closed.wait(10)

    thread = threading.Thread(target=register)
    thread.start()
    assert found.wait(10)
    end_process()
    closed.set()
    thread.join(10)
    end_process()
    shutil.rmtree(root)
    with pytest.raises(UnresolvedRefError, match="does not match any registered frame"):
        peer.register_sensor("cam2", camera_body(frame))
    assert peer.frames() == [] and peer.sensors() == []


def test_a_refused_commit_releases_the_write_lock_and_leaves_nothing(
    sqlite_peer: Peer, root: Path
) -> None:
    peer = sqlite_peer
    peer.register_frame("base", FrameDef.ros_body())
    before = snapshot(root)
    with pytest.raises(StoreError, match="commit failed"), peer._write() as writer:
        peer.register_frame("never_committed", FrameDef.ros_body())
        # SQLite checks deferred foreign keys at COMMIT and, when they fail, refuses it and
        # keeps the transaction open: a real refused commit.
        writer.connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        writer.connection.exec_driver_sql(
            "INSERT INTO log_refs (log_id, role, peer_id, entry_id, hash) "
            "VALUES (999999, 'x', 'galbot', 'x', 'x')"
        )
    other = sqlite3.connect(root / "auki_session.db", timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the write lock is free again
    other.execute("ROLLBACK")
    other.close()
    assert [e.id for e in peer.frames()] == ["base"]
    assert snapshot(root) == before
    peer.register_frame("next", FrameDef.ros_body())
    assert [e.id for e in peer.frames()] == ["base", "next"]
