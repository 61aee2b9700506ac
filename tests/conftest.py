"""Shared fixtures: a fresh storage root per test, sample bodies, and store snapshots.

Tests go through the public API wherever it can show the behaviour. The few that reach inside
say why in their module docstring: the pure domain functions (entry building, id rules, refs,
canonical JSON) are tested directly because they are the SDK's rules, with no store around them;
the command line is run in-process through `auki_session._cli.main` (what the `auki-session`
script calls); and `end_process` below stands for a process exiting.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.pool import NullPool

from auki_session import FrameDef, HeadSpec, Peer, RegistryRef, SensorLogSpec
from auki_session._store.store import close_all

TABLES = (
    "peers",
    "entries",
    "heads",
    "sessions",
    "clocks",
    "logs",
    "log_refs",
    "mirror_pending",
)


def end_process() -> None:
    """What this process's exit does to its stores (close every connection: the last one to a
    SQLite file checkpoints the WAL), so a test can continue as the next process would."""
    close_all()


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    yield
    end_process()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A storage root that does not exist yet."""
    return tmp_path / "store"


PG_URL_VARIABLE = "AUKI_SESSION_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _server_url() -> str | None:
    """The PostgreSQL server for the server-backed runs, or None (skip) when there is none.

    With AUKI_SESSION_TEST_PG_URL set (as CI sets it), an unreachable server fails the run.
    """
    from sqlalchemy import create_engine, text

    url = os.environ.get(PG_URL_VARIABLE, DEFAULT_PG_URL)
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        if os.environ.get(PG_URL_VARIABLE):
            raise RuntimeError(f"{PG_URL_VARIABLE}={url} is unreachable: {error}") from error
        return None
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def server_url() -> str | None:
    return _server_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, server_url: str | None) -> Iterator[str | None]:
    """None for the storage root's SQLite file, or a URL to a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield None
        return
    if server_url is None:
        pytest.skip(f"no PostgreSQL server reachable (set {PG_URL_VARIABLE} to test against one)")
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server_url, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in server_url else "?"
    yield f"{server_url}{separator}options=-csearch_path%3D{schema}"
    close_all()
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def make_peer(root: Path, database_url: str | None) -> Callable[[str, str], Peer]:
    """Peers on this test's backend: the root's SQLite file, or a PostgreSQL schema."""

    def make(peer_id: str, app_id: str) -> Peer:
        peer = Peer(peer_id, app_id).with_storage_root(root)
        return peer if database_url is None else peer.with_storage_url(database_url)

    return make


@pytest.fixture
def sqlite_peer(root: Path) -> Peer:
    """A peer on the root's SQLite file only (for tests of SQLite specifics)."""
    return Peer("galbot", "galbot-ctrl").with_storage_root(root)


@pytest.fixture
def peer(make_peer: Callable[[str, str], Peer]) -> Peer:
    return make_peer("galbot", "galbot-ctrl")


def camera_body(frame: object, /, **overrides: Any) -> dict[str, Any]:
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


def snapshot(root: Path, url: str | None = None) -> dict[str, Any]:
    """Every row of every table, and every file under the root except the database's own."""
    rows: dict[str, Any] = {}
    if url is not None:
        from sqlalchemy import create_engine, text

        engine = create_engine(url, poolclass=NullPool)
        with engine.connect() as connection:
            for table in TABLES:
                rows[table] = sorted(
                    tuple(r) for r in connection.execute(text(f"SELECT * FROM {table}"))
                )
        engine.dispose()
    elif (root / "auki_session.db").exists():
        connection = sqlite3.connect(root / "auki_session.db")
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


def make_robot(root: Path, peer_id: str, frames: int = 3) -> Peer:
    """A robot store: frames, a camera, a session with a sensor log."""
    peer = Peer(peer_id, "robot-app").with_storage_root(root)
    with peer.transaction():
        for index in range(frames):
            peer.register_frame(f"link_{index}", FrameDef.ros_body())
        _, camera = register_camera(peer)
        session = peer.start_session()
        session.register_sensor_log(
            SensorLogSpec(camera, session.monotonic_clock, HeadSpec.fixed(), 10**9, 0)
        )
    return peer


@pytest.fixture
def fleet_url(tmp_path: Path, database_url: str | None) -> str:
    """The fleet database: a SQLite file, or a fresh PostgreSQL schema."""
    return database_url or f"sqlite:///{tmp_path / 'fleet.db'}"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A storage root holding the demo robot (what `auki-session demo` registers)."""
    from auki_session._cli.demo import register_demo_robot

    root = tmp_path / "demo"
    register_demo_robot(str(root))
    end_process()
    return root
