"""The registry mirror: every registration in a storage root also writes the Rust SDK's file,
byte for byte; this peer's entries that Rust daemons wrote there are read back when needed;
hostile files are refused and change nothing; `verify` and `import` see the files."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from auki_session import (
    FrameDef,
    HeadSpec,
    InvalidIdError,
    Peer,
    SensorLogSpec,
    StoreError,
    UnresolvedRefError,
    canonical_json,
    content_hash,
)
from auki_session._cli import main
from auki_session._store.store import close_all, open_store
from tests.conftest import camera_body, snapshot

PEER = "test-peer"
FRAME_ID = "K1-AABBCCDDEEFF/base_link"
FRAME_HASH = "476d36916dd2c96f09ea57304d0da334"
CAMERA_HASH = "9306d67f99d38ced7c186c0f63734421"
CLOCK_HASH = "107238adc0441893cbfd35c41b5ec989"
OPTICAL = {
    "axes": {"x": "right", "y": "down", "z": "forward"},
    "handedness": "right",
    "units": "meters",
}


def rust_path(root: Path, kind: str, peer_id: str, entry_id: str, entry_hash: str) -> Path:
    """Where the Rust SDK keeps a version (written out here, not taken from the package)."""
    return (
        root
        / "registries"
        / f"{kind}s"
        / peer_id.replace("/", "__")
        / entry_id.replace("/", "__")
        / f"{entry_hash}.json"
    )


def write_rust(root: Path, kind: str, entry: dict[str, Any], data: bytes | None = None) -> str:
    """Write an entry as a Rust daemon does; returns its hash."""
    data = canonical_json(entry) if data is None else data
    entry_hash = content_hash(data)
    path = rust_path(root, kind, entry["peer_id"], entry[f"{kind}_id"], entry_hash)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return entry_hash


def registry_tree(root: Path) -> list[str]:
    base = root / "registries"
    return sorted(str(p.relative_to(root)) for p in base.rglob("*")) if base.exists() else []


def db_rows(root: Path, query: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(root / "auki_session.db")
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def test_every_registration_writes_the_rust_file_byte_for_byte(root: Path) -> None:
    peer = Peer(PEER, "app").with_storage_root(root)
    frame = peer.register_frame(FRAME_ID, FrameDef.ros_body())
    optical = peer.register_frame("K1-AABBCCDDEEFF/head_left_cam_optical", FrameDef.ros_optical())
    assert optical.hash == "03b86f32827ec6a25a5e619b2f36478b"
    camera = peer.register_sensor("K1-AABBCCDDEEFF/head_left_cam", camera_body(optical))
    session = peer.start_session()
    assert (frame.hash, camera.hash) == (FRAME_HASH, CAMERA_HASH)
    for kind, ref in [
        ("frame", frame),
        ("frame", optical),
        ("sensor", camera),
        ("clock", session.monotonic_clock),
        ("clock", session.utc_clock),
    ]:
        data = rust_path(root, kind, PEER, ref.id, ref.hash).read_bytes()
        assert data == peer.entry(ref).canonical_json.encode()
        assert content_hash(data) == ref.hash and not data.endswith(b"\n")
    assert not [p for p in root.rglob("*.tmp")]
    close_all()
    assert db_rows(root, "SELECT * FROM mirror_pending") == []


def test_the_spec_hash_vectors_written_as_files_are_read_back(root: Path) -> None:
    frame = json.loads(
        '{"axes":{"x":"forward","y":"left","z":"up"},"frame_id":"K1-AABBCCDDEEFF/base_link",'
        '"handedness":"right","peer_id":"test-peer","units":"meters"}'
    )
    assert write_rust(root, "frame", frame) == FRAME_HASH
    optical = {**OPTICAL, "frame_id": "K1-AABBCCDDEEFF/head_left_cam_optical", "peer_id": PEER}
    optical_hash = write_rust(root, "frame", optical)
    camera = {
        "peer_id": PEER,
        "sensor_id": "K1-AABBCCDDEEFF/head_left_cam",
        **camera_body({"hash": optical_hash, "id": optical["frame_id"], "peer_id": PEER}),
    }
    assert write_rust(root, "sensor", camera) == CAMERA_HASH
    peer = Peer(PEER, "app").with_storage_root(root)
    # A sensor in the Rust daemon's frame, without registering the frame here.
    other = peer.register_sensor(
        "lidar",
        {
            "kind": "rf",
            "type": "uwb",
            "frame": {"peer_id": PEER, "id": FRAME_ID, "hash": FRAME_HASH},
        },
    )
    assert peer.current("frame", FRAME_ID).hash == FRAME_HASH
    assert peer.entry(other).body["frame"]["hash"] == FRAME_HASH
    # A log of the Rust camera: the camera and, through it, its frame are recorded.
    session = peer.start_session()
    session.register_sensor_log(
        SensorLogSpec(
            {"peer_id": PEER, "id": camera["sensor_id"], "hash": CAMERA_HASH},
            session.monotonic_clock,
            HeadSpec.fixed(),
            10**9,
            0,
        )
    )
    assert peer.current("sensor", camera["sensor_id"]).hash == CAMERA_HASH
    assert peer.current("frame", optical["frame_id"]).hash == optical_hash


def test_a_rust_clock_of_a_python_session_backs_a_log(root: Path) -> None:
    peer = Peer("galbot", "app").with_storage_root(root)
    frame = peer.register_frame("cam_optical", FrameDef.ros_optical())
    camera = peer.register_sensor("cam", camera_body(frame))
    session = peer.start_session()
    clock = {
        "clock_id": "K1-AABBCCDDEEFF/monotonic",
        "epoch": None,
        "monotonic": True,
        "peer_id": "galbot",
        "scope": "device-local",
        "session_id": session.session_id,
        "type": "monotonic_clock",
        "unit": "milliseconds",
    }
    clock_hash = write_rust(root, "clock", clock)
    ref = {"peer_id": "galbot", "id": clock["clock_id"], "hash": clock_hash}
    session.register_sensor_log(SensorLogSpec(camera, ref, HeadSpec.fixed(), 10**9, 0))
    assert any(c.hash == clock_hash for c in session.clocks())


def test_the_monotonic_clock_vector_as_a_file(root: Path) -> None:
    clock = json.loads(
        '{"clock_id":"K1-AABBCCDDEEFF/monotonic","epoch":null,"monotonic":true,'
        '"peer_id":"galbot","scope":"device-local","session_id":"sess-m1",'
        '"type":"monotonic_clock","unit":"milliseconds"}'
    )
    assert write_rust(root, "clock", clock) == CLOCK_HASH
    assert main(["--root", str(root), "import"]) == 0
    assert db_rows(root, "SELECT hash FROM clocks WHERE session_id = 'sess-m1'") == [(CLOCK_HASH,)]


def _frame_ref(entry_hash: str) -> dict[str, str]:
    return {"peer_id": PEER, "id": "rust_frame", "hash": entry_hash}


HOSTILE: dict[str, Any] = {
    "wrong hash": lambda data: (data.replace(b"meters", b"millimeters"), None),
    "wrong peer": lambda data: (data.replace(b'"test-peer"', b'"intruder"'), "recompute"),
    "oversize": lambda data: (data[:-1] + b"," + b'"x":"' + b"a" * 70_000 + b'"}', "recompute"),
    "invalid json": lambda data: (data[:-1], "recompute"),
    "unknown field": lambda data: (data[:-1] + b',"zzz":1}', "recompute"),
    "not canonical": lambda data: (data.replace(b":", b": "), "recompute"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_rust_file_is_refused_and_changes_nothing(root: Path, case: str) -> None:
    peer = Peer(PEER, "app").with_storage_root(root)
    peer.register_frame("mine", FrameDef.ros_body())
    good = canonical_json({**OPTICAL, "frame_id": "rust_frame", "peer_id": PEER})
    data, mode = HOSTILE[case](good)
    entry_hash = content_hash(data) if mode == "recompute" else content_hash(good)
    path = rust_path(root, "frame", PEER, "rust_frame", entry_hash)
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    before = snapshot(root)
    with pytest.raises(StoreError, match=str(path).replace(".", r"\.")):
        peer.register_sensor("cam", camera_body(_frame_ref(entry_hash)))
    assert snapshot(root) == before


def test_a_symlinked_rust_file_is_refused_and_changes_nothing(root: Path, tmp_path: Path) -> None:
    peer = Peer(PEER, "app").with_storage_root(root)
    peer.register_frame("mine", FrameDef.ros_body())
    data = canonical_json({**OPTICAL, "frame_id": "rust_frame", "peer_id": PEER})
    outside = tmp_path / "outside.json"
    outside.write_bytes(data)
    path = rust_path(root, "frame", PEER, "rust_frame", content_hash(data))
    path.parent.mkdir(parents=True)
    path.symlink_to(outside)
    before = snapshot(root)
    with pytest.raises(StoreError, match="symbolic link"):
        peer.register_sensor("cam", camera_body(_frame_ref(content_hash(data))))
    assert snapshot(root) == before


def test_a_link_planted_in_the_registries_tree_refuses_the_registration(
    root: Path, tmp_path: Path
) -> None:
    peer = Peer(PEER, "app").with_storage_root(root)
    peer.register_frame("mine", FrameDef.ros_body())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "registries" / "sensors").symlink_to(elsewhere)
    before = snapshot(root)
    with pytest.raises(StoreError, match="symbolic link"):
        peer.register_sensor(
            "cam", {"kind": "scalar", "type": "t", "unit": "C", "expected_rate_hz": 1}
        )
    assert snapshot(root) == before
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_a_link_at_any_depth_of_a_file_path_is_refused_though_it_leads_somewhere_valid(
    root: Path, tmp_path: Path, depth: int
) -> None:
    # Behind the link is the whole tree, the file's directory included: a walk that followed
    # the link would find everything it looks for there. The link comes after a first
    # registration, once the store holds its root open.
    peer = Peer(PEER, "app").with_storage_root(root)
    peer.register_frame("mine", FrameDef.ros_body())
    shutil.rmtree(root / "registries")
    parts = ["registries", "sensors", PEER, "cam"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.joinpath(*parts).mkdir(parents=True)
    link = root.joinpath(*parts[:depth])
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere.joinpath(*parts[:depth]), target_is_directory=True)
    before, outside = snapshot(root), sorted(elsewhere.rglob("*"))
    with pytest.raises(StoreError, match=f"{link}: is a symbolic link"):
        peer.register_sensor(
            "cam", {"kind": "scalar", "type": "t", "unit": "C", "expected_rate_hz": 1}
        )
    assert snapshot(root) == before
    assert sorted(elsewhere.rglob("*")) == outside


def test_an_existing_file_with_other_bytes_is_refused_in_the_rust_wording(root: Path) -> None:
    peer = Peer(PEER, "app").with_storage_root(root)
    data = canonical_json({**OPTICAL, "frame_id": "f", "peer_id": PEER})
    path = rust_path(root, "frame", PEER, "f", content_hash(data))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"tampered")
    peer.register_frame("other", FrameDef.ros_body())
    before = snapshot(root)
    with pytest.raises(StoreError, match=r"existing registry entry at .* does not match canonical"):
        peer.register_frame("f", FrameDef.ros_optical())
    assert snapshot(root) == before and path.read_bytes() == b"tampered"


def test_an_identical_file_already_there_is_left_alone(root: Path) -> None:
    data = canonical_json({**OPTICAL, "frame_id": "f", "peer_id": PEER})
    write_rust(root, "frame", json.loads(data))
    path = rust_path(root, "frame", PEER, "f", content_hash(data))
    os.utime(path, (1, 1))
    Peer(PEER, "app").with_storage_root(root).register_frame("f", FrameDef.ros_optical())
    assert path.stat().st_mtime == 1


def test_a_rolled_back_transaction_leaves_no_registry_file(root: Path) -> None:
    peer = Peer(PEER, "app").with_storage_root(root)
    peer.register_frame("kept", FrameDef.ros_body())
    before = snapshot(root)
    with pytest.raises(RuntimeError), peer.transaction():
        peer.register_frame("a", FrameDef.ros_body())
        peer.start_session()
        raise RuntimeError("rolled back")
    assert snapshot(root) == before
    with peer.transaction():
        peer.register_frame("b", FrameDef.ros_body())
        with pytest.raises(RuntimeError), peer.transaction():
            peer.register_frame("c", FrameDef.ros_body())
            raise RuntimeError("savepoint")
    ids = sorted(path.name for path in (root / "registries" / "frames" / PEER).iterdir())
    assert ids == ["b", "kept"]


def test_the_mirror_can_be_turned_off(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    peer = Peer(PEER, "app").with_storage_root(root).with_registry_mirror(False)
    assert not peer.registry_mirror
    frame = peer.register_frame("f", FrameDef.ros_body())
    peer.start_session()
    assert registry_tree(root) == []
    monkeypatch.setenv("AUKI_SESSION_REGISTRY_MIRROR", "0")
    assert not Peer(PEER, "app").with_storage_root(root).registry_mirror
    monkeypatch.setenv("AUKI_SESSION_REGISTRY_MIRROR", "1")
    assert Peer(PEER, "app").with_storage_url("sqlite:///x").registry_mirror
    monkeypatch.delenv("AUKI_SESSION_REGISTRY_MIRROR")
    assert not Peer(PEER, "app").with_storage_url("sqlite:///x").registry_mirror
    close_all()
    # verify says the mirror is missing (a warning), export writes it.
    assert main(["--root", str(root), "verify"]) == 0
    dest = root.parent / "export"
    assert main(["--root", str(root), "export", str(dest)]) == 0
    assert rust_path(dest, "frame", PEER, "f", frame.hash).is_file()


def test_a_url_store_writes_no_registry_files_unless_asked(
    root: Path, server_url: str | None
) -> None:
    if server_url is None:
        pytest.skip("no PostgreSQL server")
    peer = Peer(PEER, "app").with_storage_root(root).with_storage_url(server_url)
    peer.register_frame("url_f", FrameDef.ros_body())
    assert registry_tree(root) == []
    peer.with_registry_mirror(True)
    ref = peer.register_frame("url_g", FrameDef.ros_body())
    assert rust_path(root, "frame", PEER, "url_g", ref.hash).is_file()


def test_a_crash_between_commit_and_file_is_repaired_on_the_next_open(root: Path) -> None:
    peer = Peer(PEER, "app").with_storage_root(root)
    ref = peer.register_frame("f", FrameDef.ros_body())
    close_all()
    path = rust_path(root, "frame", PEER, "f", ref.hash)
    path.unlink()
    stale = path.with_name(f".{path.name}.999999999-dead.tmp")
    stale.write_bytes(b"half")
    connection = sqlite3.connect(root / "auki_session.db")
    with connection:
        connection.execute("INSERT INTO mirror_pending VALUES ('', ?)", (ref.hash,))
    connection.close()
    assert main(["--root", str(root), "verify"]) == 0  # pending: a warning, not a problem
    open_store(root).close()
    assert path.read_bytes() == canonical_json(json.loads(path.read_bytes()))
    assert not stale.exists()
    assert db_rows(root, "SELECT * FROM mirror_pending") == []


def test_verify_checks_the_mirror(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    peer = Peer(PEER, "app").with_storage_root(root)
    ref = peer.register_frame("f", FrameDef.ros_body())
    close_all()
    assert main(["--root", str(root), "verify"]) == 0
    write_rust(root, "frame", {**OPTICAL, "frame_id": "theirs", "peer_id": PEER})
    capsys.readouterr()
    assert main(["--root", str(root), "verify"]) == 0
    assert "auki-session import" in capsys.readouterr().out
    rust_path(root, "frame", PEER, "f", ref.hash).write_bytes(b"{}")
    assert main(["--root", str(root), "verify"]) == 1
    rust_path(root, "frame", PEER, "f", ref.hash).unlink()
    assert main(["--root", str(root), "verify"]) == 1
    assert "missing" in capsys.readouterr().out


def test_import_brings_a_rust_root_into_the_store(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write_rust(root, "frame", {**OPTICAL, "frame_id": "cam/optical", "peer_id": PEER})
    new = write_rust(
        root,
        "frame",
        {**OPTICAL, "units": "millimeters", "frame_id": "cam/optical", "peer_id": PEER},
    )
    os.utime(rust_path(root, "frame", PEER, "cam/optical", old), (100, 100))
    os.utime(rust_path(root, "frame", PEER, "cam/optical", new), (200, 200))
    camera = {
        "peer_id": PEER,
        "sensor_id": "cam",
        **camera_body({"peer_id": PEER, "id": "cam/optical", "hash": old}),
    }
    camera_hash = write_rust(root, "sensor", camera)
    session_id = "01JCF1XTURE0000000000000009"
    clock = {
        "clock_id": f"{PEER}/{session_id}/monotonic",
        "epoch": None,
        "monotonic": True,
        "peer_id": PEER,
        "scope": "device-local",
        "session_id": session_id,
        "type": "monotonic_clock",
        "unit": "ns",
    }
    clock_hash = write_rust(root, "clock", clock)
    manifest = {
        "app_id": "rust-app",
        "clock": {"hash": clock_hash, "id": clock["clock_id"], "peer_id": PEER},
        "retention_ns": 0,
        "segment_duration_ns": 10**9,
        "sensor": {"hash": camera_hash, "id": "cam", "peer_id": PEER},
        "session_id": session_id,
        "source_peer_id": PEER,
        "writer_peer_id": PEER,
    }
    log_dir = root / session_id / "logs" / PEER / "cam"
    log_dir.mkdir(parents=True)
    (log_dir / "manifest.json").write_bytes(canonical_json(manifest))
    bad = rust_path(root, "frame", PEER, "bad", "0" * 32)
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"{}")

    assert main(["--root", str(root), "import"]) == 1
    out = capsys.readouterr()
    assert "4 entry versions imported" in out.out and str(bad) in out.out
    assert "hash mismatch" in out.out
    peer = Peer(PEER, "app").with_storage_root(root)
    assert peer.current("frame", "cam/optical").hash == new  # the newest file
    assert [e.hash for e in peer.history("frame", "cam/optical")] == [old, new]
    session = peer.open_session(session_id)
    assert [log.resource_id for log in session.logs()] == ["cam"]
    assert peer.sessions()[0].app_id == "rust-app"
    close_all()
    before = snapshot(root)
    bad.unlink()
    assert main(["--root", str(root), "import"]) == 0  # idempotent
    assert "0 entry versions imported" in capsys.readouterr().out
    after = snapshot(root)
    assert after["rows"] == before["rows"]
    # A later registration here moves the current version.
    peer = Peer(PEER, "app").with_storage_root(root)
    peer.register_frame("cam/optical", FrameDef.custom("right", "right", "down", "forward"))
    assert peer.current("frame", "cam/optical").hash == old
    assert main(["--root", str(root), "verify"]) == 0


@pytest.mark.parametrize(
    ("peer_id", "entry_id"), [("p" * 256, "f"), ("robot", "a/" * 100 + "b" * 60)]
)
def test_an_id_too_long_for_a_registry_file_name_is_refused_and_changes_nothing(
    tmp_path: Path, peer_id: str, entry_id: str
) -> None:
    root = tmp_path / "store"
    Peer("robot", "app").with_storage_root(root).register_frame("base", FrameDef.ros_body())
    before = snapshot(root)
    peer = Peer(peer_id, "app").with_storage_root(root)
    with pytest.raises(InvalidIdError, match="cannot name a registry directory"):
        peer.register_frame(entry_id, FrameDef.ros_body())
    with pytest.raises(InvalidIdError), peer.transaction():
        peer.register_frame(entry_id, FrameDef.ros_body())
    assert snapshot(root) == before
    # With the mirror off, the same registration is an ordinary one.
    quiet = peer.with_registry_mirror(False)
    assert quiet.register_frame(entry_id, FrameDef.ros_body()).id == entry_id


def test_repair_leaves_a_rust_writers_temporary_file_and_drops_rows_it_cannot_mend(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = Peer(PEER, "app").with_storage_root(root)
    ref = peer.register_frame("f", FrameDef.ros_body())
    other = peer.register_frame("g", FrameDef.ros_body())
    close_all()
    path = rust_path(root, "frame", PEER, "f", ref.hash)
    path.unlink()
    theirs = path.with_name(f".{path.name}.tmp")  # the Rust SDK's own name: a live writer's
    theirs.write_bytes(b"half")
    os.utime(theirs, (0, 0))  # however old it looks
    # A pending file held with other bytes cannot be mended by writing: verify reports it.
    rust_path(root, "frame", PEER, "g", other.hash).write_bytes(b"{}")
    connection = sqlite3.connect(root / "auki_session.db")
    with connection:
        connection.executemany(
            "INSERT INTO mirror_pending VALUES ('', ?)", [(ref.hash,), (other.hash,)]
        )
    connection.close()
    open_store(root).close()
    assert theirs.read_bytes() == b"half"
    assert path.exists()
    assert db_rows(root, "SELECT * FROM mirror_pending") == []  # no open has to look again
    capsys.readouterr()
    assert main(["--root", str(root), "verify"]) == 1
    assert "differs" in capsys.readouterr().out


def test_import_refuses_a_manifest_that_is_a_fifo_or_a_link_without_waiting(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Peer(PEER, "app").with_storage_root(root).register_frame("f", FrameDef.ros_body())
    close_all()
    fifo_dir = root / "01JCF1XTURE0000000000000002" / "logs" / PEER / "cam"
    fifo_dir.mkdir(parents=True)
    os.mkfifo(fifo_dir / "manifest.json")
    link_dir = root / "01JCF1XTURE0000000000000003" / "logs" / PEER / "cam"
    link_dir.mkdir(parents=True)
    outside = root.parent / "outside.json"
    outside.write_text("{}")
    (link_dir / "manifest.json").symlink_to(outside)
    before = snapshot(root)
    capsys.readouterr()
    assert main(["--root", str(root), "import"]) == 1  # returns: a FIFO is never opened to wait
    out = capsys.readouterr().out
    assert "not a regular file" in out and "symbolic link" in out
    assert snapshot(root) == before


@pytest.mark.parametrize("peer_id", ["a/b", "x y", "p@q"])
def test_import_refuses_a_file_whose_peer_id_no_peer_could_have(
    root: Path, capsys: pytest.CaptureFixture[str], peer_id: str
) -> None:
    Peer(PEER, "app").with_storage_root(root).register_frame("f", FrameDef.ros_body())
    close_all()
    write_rust(root, "frame", {**OPTICAL, "frame_id": "theirs", "peer_id": peer_id})
    rows = db_rows(root, "SELECT hash FROM entries")
    capsys.readouterr()
    assert main(["--root", str(root), "import"]) == 1
    assert "peer_id" in capsys.readouterr().out
    assert db_rows(root, "SELECT hash FROM entries") == rows
    assert main(["--root", str(root), "export", str(root.parent / "out")]) == 0


def test_a_ref_with_a_nul_in_its_id_is_an_unresolved_ref(root: Path) -> None:
    peer = Peer(PEER, "app").with_storage_root(root)
    frame = peer.register_frame("f", FrameDef.ros_body())
    bad = {"peer_id": PEER, "id": "a\x00b", "hash": frame.hash}
    with pytest.raises(UnresolvedRefError, match="frame"):
        peer.register_sensor("cam", camera_body(bad))


def test_a_registries_directory_that_is_a_link_is_reported_and_never_read(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Peer(PEER, "app").with_storage_root(root).with_registry_mirror(False).register_frame(
        "f", FrameDef.ros_body()
    )
    close_all()
    elsewhere = root.parent / "elsewhere"
    write_rust(elsewhere, "frame", {**OPTICAL, "frame_id": "theirs", "peer_id": PEER})
    (root / "registries").symlink_to(elsewhere / "registries")
    rows = db_rows(root, "SELECT hash FROM entries")
    capsys.readouterr()
    assert main(["--root", str(root), "verify"]) == 1
    assert "is a symbolic link" in capsys.readouterr().out
    assert main(["--root", str(root), "import"]) == 0  # nothing read through the link
    assert db_rows(root, "SELECT hash FROM entries") == rows


_MANY_IDS_UNDER_A_LOW_LIMIT = """
import resource, sys
from auki_session import FrameDef, Peer

resource.setrlimit(resource.RLIMIT_NOFILE, (96, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
peer = Peer("test-peer", "app").with_storage_root(sys.argv[1])
with peer.transaction():
    for index in range(300):
        peer.register_frame(f"frame_{index}", FrameDef.ros_body())
"""


def test_a_transaction_of_more_ids_than_descriptors_writes_every_file(root: Path) -> None:
    # The check holds a few directories open for the write, never one per id.
    done = subprocess.run(
        [sys.executable, "-c", _MANY_IDS_UNDER_A_LOW_LIMIT, str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(list((root / "registries" / "frames" / PEER).glob("*/*.json"))) == 300
    assert db_rows(root, "SELECT * FROM mirror_pending") == []
