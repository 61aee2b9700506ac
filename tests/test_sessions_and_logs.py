"""Sessions, their clocks, and the four log registrations (SPEC section 5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from auki_session import (
    DetectionLogSpec,
    DuplicateLogError,
    FrameDef,
    HeadSpec,
    LogRef,
    NotFoundError,
    Peer,
    PoseLogSpec,
    SensorLogSpec,
    Session,
    TimeTransformLogSpec,
    UnresolvedRefError,
    canonical_json,
)
from tests.conftest import register_camera

SECOND = 1_000_000_000


def sensor_log(sensor: object, clock: object, frame: object = None) -> SensorLogSpec:
    return SensorLogSpec(sensor, clock, HeadSpec.rolling(5 * SECOND), SECOND, 0, frame=frame)


def test_start_session_mints_a_ulid_and_two_clocks(peer: Peer) -> None:
    session = peer.start_session()
    assert len(session.session_id) == 26
    assert session.peer_id == "galbot" and session.app_id == "galbot-ctrl"
    assert session.monotonic_clock.id == f"galbot/{session.session_id}/monotonic"
    assert session.utc_clock.id == f"galbot/{session.session_id}/utc"
    bodies = {c.id: c.body for c in session.clocks()}
    assert bodies[session.monotonic_clock.id] == {
        "type": "monotonic_clock",
        "unit": "ns",
        "monotonic": True,
        "epoch": None,
        "scope": "device-local",
    }
    assert bodies[session.utc_clock.id]["epoch"] == "1970-01-01T00:00:00Z"
    assert bodies[session.utc_clock.id]["monotonic"] is False


def test_clock_entries_carry_their_session(peer: Peer) -> None:
    a = peer.start_session()
    b = peer.start_session()
    body = {"type": "utc_clock", "unit": "ns", "monotonic": False, "scope": "global"}
    ref_a = a.register_clock("ptp", body)
    ref_b = b.register_clock("ptp", body)
    assert ref_a.id == ref_b.id == "ptp"
    assert ref_a.hash != ref_b.hash
    assert peer.entry(ref_a).session_id == a.session_id
    assert [c.id for c in a.clocks()][-1] == "ptp"


def test_session_has_no_public_constructor() -> None:
    with pytest.raises(TypeError):
        Session()


def test_sessions_record_their_app_id(make_peer: Callable[[str, str], Peer]) -> None:
    make_peer("galbot", "ctrl").start_session()
    make_peer("galbot", "vision").start_session()
    apps = [s.app_id for s in make_peer("galbot", "x").sessions()]
    assert apps == ["ctrl", "vision"]


def test_reopening_a_session_mints_no_clocks(peer: Peer) -> None:
    session = peer.start_session()
    reopened = peer.open_session(session.session_id)
    assert reopened.monotonic_clock == session.monotonic_clock
    assert reopened.utc_clock == session.utc_clock
    assert len(reopened.clocks()) == 2
    assert len(peer.sessions()) == 1


def test_reopening_another_peers_session_is_not_found(
    make_peer: Callable[[str, str], Peer], peer: Peer
) -> None:
    session = peer.start_session()
    with pytest.raises(NotFoundError):
        make_peer("other", "app").open_session(session.session_id)


def test_sensor_log_handle_manifest_and_directory(peer: Peer, root: Path) -> None:
    frame, sensor = register_camera(peer)
    session = peer.start_session()
    handle = session.register_sensor_log(sensor_log(sensor, session.monotonic_clock, frame))
    assert handle.resource_id == "head_left_cam"
    assert handle.log_ref == LogRef(source_peer_id="galbot", resource_id="head_left_cam")
    expected_dir = root / session.session_id / "logs" / "galbot" / "head_left_cam"
    assert Path(handle.root) == expected_dir
    manifest_bytes = (expected_dir / "manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    assert canonical_json(manifest) == manifest_bytes
    assert manifest == {
        "source_peer_id": "galbot",
        "writer_peer_id": "galbot",
        "app_id": "galbot-ctrl",
        "session_id": session.session_id,
        "segment_duration_ns": SECOND,
        "retention_ns": 0,
        "sensor": sensor.to_dict(),
        "clock": session.monotonic_clock.to_dict(),
        "frame": frame.to_dict(),
    }
    [info] = session.logs()
    assert info.manifest == manifest and info.head == HeadSpec.rolling(5 * SECOND)


def test_sensor_log_without_frame_omits_it(peer: Peer) -> None:
    _, sensor = register_camera(peer)
    session = peer.start_session()
    handle = session.register_sensor_log(sensor_log(sensor, session.monotonic_clock))
    assert "frame" not in json.loads((Path(handle.root) / "manifest.json").read_bytes())


def test_resource_ids_with_slashes_nest_directories(peer: Peer, root: Path) -> None:
    _, sensor = register_camera(peer, "K1-AABBCCDDEEFF/head_left_cam")
    session = peer.start_session()
    handle = session.register_sensor_log(sensor_log(sensor, session.monotonic_clock))
    assert handle.root == str(
        root / session.session_id / "logs" / "galbot" / "K1-AABBCCDDEEFF" / "head_left_cam"
    )


def test_pose_log_resource_id_and_sorted_publishers(peer: Peer) -> None:
    base = peer.register_frame("base_link", FrameDef.ros_body())
    optical = peer.register_frame("optical", FrameDef.ros_optical())
    session = peer.start_session()
    spec = PoseLogSpec(
        base,
        optical,
        session.monotonic_clock,
        {"kind": "ros2_tf", "publishers": ["/tf_b", "/tf_a"]},
        "movable",
        100,
        HeadSpec.fixed(),
        SECOND,
        0,
    )
    handle = session.register_pose_log(spec)
    assert handle.resource_id == "base_link->optical"
    manifest = session.log("base_link->optical").manifest
    assert manifest["source"] == {"kind": "ros2_tf", "publishers": ["/tf_a", "/tf_b"]}
    assert manifest["writer_mode"] == "movable" and manifest["expected_rate_hz"] == 100


def test_time_transform_log_resource_id(peer: Peer) -> None:
    session = peer.start_session()
    spec = TimeTransformLogSpec(
        session.monotonic_clock,
        session.utc_clock,
        {"kind": "local_clock_read"},
        HeadSpec.fixed(),
        SECOND,
        0,
    )
    handle = session.register_time_transform_log(spec)
    assert handle.resource_id == f"{session.monotonic_clock.id}->{session.utc_clock.id}"


def test_detection_log_resource_id_and_manifest(peer: Peer) -> None:
    _, camera = register_camera(peer)
    detector = peer.register_detector("aruco", {"type": "aruco", "dictionary": "4x4"}, ["m"])
    session = peer.start_session()
    camera_log = session.register_sensor_log(sensor_log(camera, session.monotonic_clock))
    spec = DetectionLogSpec(
        detector, camera_log.log_ref, camera, session.monotonic_clock, HeadSpec.fixed(), SECOND, 0
    )
    handle = session.register_detection_log(spec)
    assert handle.resource_id == "aruco@head_left_cam"
    manifest = session.log(handle.resource_id).manifest
    assert manifest["input_log"] == {"resource_id": "head_left_cam", "source_peer_id": "galbot"}
    assert manifest["cadence"] == {"kind": "every_frame"}
    assert "instance_id" not in manifest


def test_detection_log_instance_id_names_the_resource(peer: Peer) -> None:
    _, camera = register_camera(peer)
    detector = peer.register_detector("qr", {"type": "qr"}, ["code"])
    session = peer.start_session()
    remote_log = {"source_peer_id": "other-robot", "resource_id": "cam"}
    spec = DetectionLogSpec(
        detector,
        remote_log,
        camera,
        session.monotonic_clock,
        HeadSpec.fixed(),
        SECOND,
        0,
        instance_id="qr-front",
        cadence={"kind": "periodic", "period_ns": 5 * SECOND},
    )
    handle = session.register_detection_log(spec)
    assert handle.resource_id == "qr-front"
    manifest = session.log("qr-front").manifest
    assert manifest["instance_id"] == "qr-front"
    assert manifest["cadence"] == {"kind": "periodic", "period_ns": 5 * SECOND}


def test_resource_ids_are_unique_across_log_kinds(peer: Peer, root: Path) -> None:
    _, camera = register_camera(peer)
    detector = peer.register_detector("qr", {"type": "qr"}, ["code"])
    session = peer.start_session()
    session.register_sensor_log(sensor_log(camera, session.monotonic_clock))
    clash = DetectionLogSpec(
        detector,
        LogRef("galbot", "x"),
        camera,
        session.monotonic_clock,
        HeadSpec.fixed(),
        SECOND,
        0,
        instance_id="head_left_cam",
    )
    with pytest.raises(DuplicateLogError, match=r"^duplicate log galbot/head_left_cam$"):
        session.register_detection_log(clash)
    assert len(session.logs()) == 1


def test_the_same_resource_in_another_session_is_fine(peer: Peer) -> None:
    _, camera = register_camera(peer)
    for _ in range(2):
        session = peer.start_session()
        session.register_sensor_log(sensor_log(camera, session.monotonic_clock))
    assert len(peer.sessions()) == 2


def test_log_refs_to_own_entries_must_resolve(peer: Peer) -> None:
    _, camera = register_camera(peer)
    session = peer.start_session()
    stale = {"peer_id": "galbot", "id": camera.id, "hash": "f" * 32}
    with pytest.raises(UnresolvedRefError, match="sensor"):
        session.register_sensor_log(sensor_log(stale, session.monotonic_clock))
    wrong_kind = session.monotonic_clock
    with pytest.raises(UnresolvedRefError, match="sensor"):
        session.register_sensor_log(sensor_log(wrong_kind, session.monotonic_clock))
    assert session.logs() == []


def test_log_refs_to_other_peers_are_recorded_as_given(peer: Peer) -> None:
    session = peer.start_session()
    remote = SimpleNamespace(peer_id="other-robot", id="cam", hash="a" * 32)
    handle = session.register_sensor_log(sensor_log(remote, session.monotonic_clock))
    assert handle.resource_id == "cam"
    assert session.log("cam").manifest["sensor"]["peer_id"] == "other-robot"


def test_remote_stream_stubs_say_not_implemented(peer: Peer) -> None:
    session = peer.start_session()
    with pytest.raises(NotImplementedError, match=r"^not implemented:"):
        session.materialize_remote_log(LogRef("x", "y"), retention_ns=0, segment_duration_ns=SECOND)
    with pytest.raises(NotImplementedError, match=r"^not implemented:"):
        session.resolve_static_transform(LogRef("x", "y"))


def test_a_log_clock_must_be_one_of_its_sessions_clocks(peer: Peer) -> None:
    _, camera = register_camera(peer)
    first = peer.start_session()
    second = peer.start_session()
    with pytest.raises(UnresolvedRefError, match=second.session_id):
        second.register_sensor_log(sensor_log(camera, first.monotonic_clock))
    assert second.logs() == []
    ptp = second.register_clock(
        "ptp", {"type": "utc_clock", "unit": "ns", "monotonic": False, "scope": "global"}
    )
    assert second.register_sensor_log(sensor_log(camera, ptp)).resource_id == "head_left_cam"
