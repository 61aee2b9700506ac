"""Registrations inside `peer.transaction()` are checked at once and written in batches: they
must behave exactly as if each had been written on the spot."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from auki_session import FrameDef, Peer, StoreError, UnresolvedRefError
from tests.conftest import camera_body, snapshot


def test_the_last_version_registered_in_a_transaction_is_current(peer: Peer) -> None:
    with peer.transaction():
        v1 = peer.register_frame("base", FrameDef.ros_body())
        v2 = peer.register_frame("base", FrameDef.unity())
        again = peer.register_frame("base", FrameDef.ros_body())
    assert again == v1
    assert peer.current("frame", "base").ref == v1
    assert [entry.hash for entry in peer.history("frame", "base")] == [v1.hash, v2.hash]


def test_reads_inside_a_transaction_see_its_registrations(peer: Peer) -> None:
    with peer.transaction():
        ref = peer.register_frame("base", FrameDef.ros_body())
        assert peer.current("frame", "base").ref == ref
        assert peer.entry(ref).ref == ref
        assert [entry.id for entry in peer.frames()] == ["base"]


def test_a_sensor_may_use_a_frame_registered_earlier_in_the_transaction(peer: Peer) -> None:
    with peer.transaction():
        frame = peer.register_frame("cam_optical", FrameDef.ros_optical())
        camera = peer.register_sensor("cam", camera_body(frame))
    assert peer.current("sensor", "cam").ref == camera


def test_a_rejected_registration_in_a_transaction_stages_nothing(peer: Peer) -> None:
    other = Peer("other", "app").with_storage_root(peer.storage_root)
    foreign_frame = other.register_frame("cam_optical", FrameDef.ros_optical())
    own_looking = foreign_frame.__class__(peer_id=peer.peer_id, id="cam_optical", hash="0" * 32)
    with peer.transaction():
        peer.register_frame("base", FrameDef.ros_body())
        with pytest.raises(UnresolvedRefError):
            peer.register_sensor("cam", camera_body(own_looking))
        peer.register_frame("arm", FrameDef.unity())
    assert [entry.id for entry in peer.entries()] == ["arm", "base"]


def test_clocks_registered_in_a_transaction_belong_to_their_session(peer: Peer) -> None:
    body = {"type": "monotonic_clock", "unit": "ns", "monotonic": True, "scope": "global"}
    with peer.transaction():
        session = peer.start_session()
        ref = session.register_clock("ptp", body)
        assert ref in [clock.ref for clock in session.clocks()]
    assert len(session.clocks()) == 3


def _poison(root: Path, entry_id: str) -> None:
    """Make SQLite refuse to point a head at `entry_id` (a write failing mid-transaction)."""
    connection = sqlite3.connect(root / "auki_session.db")
    connection.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON heads WHEN NEW.entry_id = "
        f"'{entry_id}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
    )
    connection.commit()
    connection.close()


def test_a_batched_write_failing_at_commit_rolls_everything_back(
    sqlite_peer: Peer, root: Path
) -> None:
    sqlite_peer.register_frame("seed", FrameDef.ros_body())
    _poison(root, "bad")
    before = snapshot(root)
    with pytest.raises(StoreError, match="poisoned"), sqlite_peer.transaction():
        sqlite_peer.register_frame("a", FrameDef.ros_body())
        sqlite_peer.register_frame("bad", FrameDef.ros_body())
        sqlite_peer.register_frame("b", FrameDef.ros_body())
    assert snapshot(root) == before


def test_a_transaction_whose_batched_write_failed_cannot_commit(
    sqlite_peer: Peer, root: Path
) -> None:
    sqlite_peer.register_frame("seed", FrameDef.ros_body())
    _poison(root, "bad")
    before = snapshot(root)
    with pytest.raises(StoreError, match="poisoned"), sqlite_peer.transaction():
        sqlite_peer.register_frame("bad", FrameDef.ros_body())
        with pytest.raises(StoreError, match="poisoned"):
            sqlite_peer.frames()  # the read writes the batch first, which fails
        sqlite_peer.register_frame("b", FrameDef.ros_body())
    assert snapshot(root) == before
