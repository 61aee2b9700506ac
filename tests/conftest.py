"""Shared fixtures: a fresh storage root per test, sample bodies, and store snapshots."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auki_session import FrameDef, Peer, RegistryRef
from auki_session.stores import close_all

TABLES = ("peers", "entries", "heads", "sessions", "clocks", "logs", "log_refs")


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    yield
    close_all()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A storage root that does not exist yet."""
    return tmp_path / "store"


@pytest.fixture
def peer(root: Path) -> Peer:
    return Peer("galbot", "galbot-ctrl").with_storage_root(root)


def camera_body(frame: RegistryRef, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "camera",
        "type": "rgb",
        "width": 544,
        "height": 488,
        "frame_rate_hz": 20,
        "image_encoding": "raw",
        "pixel_format": "YUV_NV12",
        "row_stride_bytes": 544,
        "color_space": "BT.709",
        "intrinsics_model": "pinhole",
        "distortion_model": "plumb_bob",
        "frame": frame,
    }
    body.update(overrides)
    return body


def register_camera(
    peer: Peer, sensor_id: str = "head_left_cam"
) -> tuple[RegistryRef, RegistryRef]:
    """Register an optical frame and a camera in it; returns (frame, sensor)."""
    frame = peer.register_frame(f"{sensor_id}_optical", FrameDef.ros_optical())
    return frame, peer.register_sensor(sensor_id, camera_body(frame))


def snapshot(root: Path) -> dict[str, Any]:
    """Every row of every table, and every file under the root except the database's own."""
    rows: dict[str, Any] = {}
    db = root / "auki_session.db"
    if db.exists():
        connection = sqlite3.connect(db)
        try:
            for table in TABLES:
                rows[table] = sorted(connection.execute(f"SELECT * FROM {table}").fetchall())
        finally:
            connection.close()
    files = (
        sorted(
            str(path.relative_to(root))
            for path in root.rglob("*")
            if not path.name.startswith("auki_session.db")
        )
        if root.exists()
        else []
    )
    return {"rows": rows, "files": files}
