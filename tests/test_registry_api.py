"""Peer registration through the store: hashes, versions, history and the read side."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from auki_session import (
    FrameDef,
    NotFoundError,
    Peer,
    RegistryRef,
    UnresolvedRefError,
    content_hash,
)
from tests.conftest import camera_body, register_camera

MakePeer = Callable[[str, str], Peer]


def test_frame_preset_reproduces_the_rust_hash(make_peer: MakePeer) -> None:
    peer = make_peer("test-peer", "app")
    ref = peer.register_frame("K1-AABBCCDDEEFF/base_link", FrameDef.ros_body())
    assert ref == RegistryRef(
        peer_id="test-peer",
        id="K1-AABBCCDDEEFF/base_link",
        hash="476d36916dd2c96f09ea57304d0da334",
    )


def test_camera_reproduces_the_rust_hash(make_peer: MakePeer) -> None:
    peer = make_peer("test-peer", "app")
    frame = peer.register_frame("K1-AABBCCDDEEFF/head_left_cam_optical", FrameDef.ros_optical())
    assert frame.hash == "03b86f32827ec6a25a5e619b2f36478b"
    ref = peer.register_sensor("K1-AABBCCDDEEFF/head_left_cam", camera_body(frame))
    assert ref.hash == "9306d67f99d38ced7c186c0f63734421"


def test_stored_canonical_json_hashes_to_the_ref(peer: Peer) -> None:
    _, sensor = register_camera(peer)
    entry = peer.entry(sensor)
    assert content_hash(entry.canonical_json.encode()) == sensor.hash
    assert entry.entry["sensor_id"] == "head_left_cam"
    assert "sensor_id" not in entry.body and entry.body["kind"] == "camera"


def test_nothing_touches_the_disk_before_the_first_call(root: Path) -> None:
    peer = Peer("galbot", "app").with_storage_root(root)
    assert peer.storage_root == str(root)
    assert not root.exists()


def test_storage_root_accepts_pathlike_and_returns_it_as_given(tmp_path: Path) -> None:
    peer = Peer("galbot", "app").with_storage_root(tmp_path / "r")
    assert peer.storage_root == str(tmp_path / "r")
    assert Peer("galbot", "app").storage_root == "."
    assert peer.with_storage_root("relative/dir") is peer
    assert peer.storage_root == "relative/dir"


def test_reregistering_the_current_body_is_a_no_op(peer: Peer) -> None:
    first = peer.register_frame("base_link", FrameDef.ros_body())
    again = peer.register_frame("base_link", FrameDef.ros_body())
    assert first == again
    assert len(peer.history("frame", "base_link")) == 1


def test_a_changed_body_is_a_new_current_version(peer: Peer) -> None:
    v1 = peer.register_frame("base_link", FrameDef.ros_body())
    v2 = peer.register_frame("base_link", FrameDef.opengl())
    assert v1.hash != v2.hash
    assert peer.current("frame", "base_link").hash == v2.hash
    assert [e.hash for e in peer.history("frame", "base_link")] == [v1.hash, v2.hash]


def test_most_recently_registered_is_current_even_if_seen_before(peer: Peer) -> None:
    v1 = peer.register_frame("base_link", FrameDef.ros_body())
    v2 = peer.register_frame("base_link", FrameDef.opengl())
    again = peer.register_frame("base_link", FrameDef.ros_body())
    assert again == v1
    assert peer.current("frame", "base_link").hash == v1.hash
    assert [e.hash for e in peer.history("frame", "base_link")] == [v1.hash, v2.hash]


def test_entries_lists_current_versions_by_kind(peer: Peer) -> None:
    frame, sensor = register_camera(peer)
    detector = peer.register_detector("qr", {"type": "qr"}, ["qr_code"])
    assert {e.ref for e in peer.entries()} == {frame, sensor, detector}
    assert [e.ref for e in peer.frames()] == [frame]
    assert [e.ref for e in peer.sensors()] == [sensor]
    assert [e.ref for e in peer.detectors()] == [detector]


def test_entry_by_ref_accepts_dicts_and_hashes(peer: Peer) -> None:
    frame = peer.register_frame("base_link", FrameDef.ros_body())
    as_dict = {"peer_id": frame.peer_id, "id": frame.id, "hash": frame.hash}
    assert peer.entry(as_dict).ref == frame
    assert peer.entry(frame.hash).ref == frame
    assert peer.entry(frame).registered_at.endswith("Z")


def test_entry_by_unknown_ref_raises_not_found(peer: Peer) -> None:
    frame = peer.register_frame("base_link", FrameDef.ros_body())
    with pytest.raises(NotFoundError):
        peer.entry(RegistryRef(peer_id="galbot", id="other", hash=frame.hash))
    with pytest.raises(NotFoundError):
        peer.current("frame", "missing")


def test_a_sensor_needs_its_own_frame_registered(peer: Peer) -> None:
    ghost = RegistryRef(peer_id="galbot", id="optical", hash="0" * 32)
    with pytest.raises(UnresolvedRefError, match="optical"):
        peer.register_sensor("cam", camera_body(ghost))


def test_a_sensor_frame_of_another_peer_is_recorded_as_given(peer: Peer) -> None:
    foreign = SimpleNamespace(peer_id="other-robot", id="optical", hash="1" * 32)
    sensor = peer.register_sensor("cam", camera_body(foreign))
    assert peer.entry(sensor).body["frame"] == {
        "hash": "1" * 32,
        "id": "optical",
        "peer_id": "other-robot",
    }


def test_a_ref_to_an_older_version_still_resolves(peer: Peer) -> None:
    old = peer.register_frame("optical", FrameDef.ros_optical())
    peer.register_frame("optical", FrameDef.opengl())
    assert peer.register_sensor("cam", camera_body(old)).id == "cam"


def test_detector_input_types_and_output_types_are_stored(peer: Peer) -> None:
    ref = peer.register_detector(
        "aruco",
        {"type": "aruco", "dictionary": "DICT_4X4_50"},
        ["marker", "pose"],
        [{"sensor_kind": "camera", "sensor_type": "rgb"}],
    )
    body = peer.entry(ref).body
    assert body["output_types"] == ["marker", "pose"]
    assert body["input_types"] == [
        {
            "image_encoding": None,
            "pixel_format": None,
            "sensor_kind": "camera",
            "sensor_type": "rgb",
        }
    ]


def test_two_peers_share_a_store_without_seeing_each_other(make_peer: MakePeer) -> None:
    a = make_peer("robot-a", "app")
    b = make_peer("robot-b", "app")
    a.register_frame("base_link", FrameDef.ros_body())
    b.register_frame("base_link", FrameDef.unity())
    assert [e.peer_id for e in a.entries()] == ["robot-a"]
    assert b.current("frame", "base_link").body["handedness"] == "left"


def test_timestamps_are_iso8601_utc(peer: Peer) -> None:
    frame = peer.register_frame("base_link", FrameDef.ros_body())
    stamp = peer.entry(frame).registered_at
    assert len(stamp) == len("2026-11-25T12:03:05.123456Z") and stamp[10] == "T"


def test_the_store_file_is_inspectable_with_plain_sqlite(sqlite_peer: Peer, root: Path) -> None:
    import sqlite3

    frame = sqlite_peer.register_frame("base_link", FrameDef.ros_body())
    connection = sqlite3.connect(root / "auki_session.db")
    row = connection.execute(
        "SELECT hash, canonical_json FROM current_entries WHERE peer_id = 'galbot'"
    ).fetchone()
    connection.close()
    assert row[0] == frame.hash
    assert json.loads(row[1])["frame_id"] == "base_link"
    assert os.path.exists(root / "auki_session.db")
