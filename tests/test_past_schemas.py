"""A checked-in store of every schema revision upgrades to the head and stays usable.

The fixtures (`tests/fixtures/schema_*.db`) are built by `tests/fixtures/make_schemas.py`; see
its docstring for what each holds. Only the public API (and the command line) touches them here,
so these tests keep meaning the same while the package's internals move.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pytest

from auki_session import FrameDef, HeadSpec, Peer, RegistryRef

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_schemas", FIXTURES / "make_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_schemas = _load_script()
REVISIONS: dict[str, str] = make_schemas.REVISIONS
PEER = make_schemas.PEER
SESSION = make_schemas.SESSION
CLOCK = make_schemas.CLOCK
VERSION_TABLE = make_schemas.VERSION_TABLE


def _alembic_revisions() -> tuple[list[str], str]:
    """The migration scripts' revisions, oldest first, and their head."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(REPO / "migrations"))
    head = scripts.get_current_head()
    assert head is not None
    return [s.revision for s in reversed(list(scripts.walk_revisions()))], head


ALL_REVISIONS, HEAD = _alembic_revisions()


def _has_log(revision: str) -> bool:
    return ALL_REVISIONS.index(revision) >= ALL_REVISIONS.index(make_schemas.FIRST_WITH_LOG)


def _read_only(db: Path) -> sqlite3.Connection:
    """Open without creating -wal/-shm files or taking locks (the fixtures are in WAL mode)."""
    return sqlite3.connect(f"file:{quote(str(db))}?immutable=1", uri=True)


def _revision_of(db: Path, *, immutable: bool = True) -> list[tuple[str, ...]]:
    connection = _read_only(db) if immutable else sqlite3.connect(db)
    try:
        return connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    finally:
        connection.close()


def test_there_is_a_fixture_for_every_revision() -> None:
    assert list(REVISIONS) == ALL_REVISIONS
    assert HEAD == "0006_registry_mirror"
    for revision, name in REVISIONS.items():
        db = FIXTURES / name
        assert db.is_file(), f"{name} is missing: run python tests/fixtures/make_schemas.py"
        assert _revision_of(db) == [(revision,)]
        for suffix in ("-wal", "-shm", "-journal"):
            assert not Path(f"{db}{suffix}").exists()


@pytest.mark.parametrize("revision", list(REVISIONS))
def test_a_store_of_each_revision_upgrades_and_stays_usable(revision: str, tmp_path: Path) -> None:
    db = tmp_path / "auki_session.db"
    shutil.copy(FIXTURES / REVISIONS[revision], db)
    assert _revision_of(db) == [(revision,)]

    peer = Peer(PEER, "app").with_storage_root(tmp_path)
    camera = peer.current("sensor", "front_cam")
    assert camera.body["kind"] == "camera"
    frame = peer.current("frame", "base_link")
    assert frame.body == make_schemas.FRAME_BODY
    assert camera.body["frame"] == {"peer_id": PEER, "id": "base_link", "hash": frame.hash}
    assert {e.id for e in peer.frames()} == {"base_link"}
    assert {e.id for e in peer.sensors()} == {"front_cam"}

    assert [(s.session_id, s.app_id) for s in peer.sessions()] == [(SESSION, "fixture-app")]
    session = peer.open_session(SESSION)
    clocks = session.clocks()
    assert [c.id for c in clocks] == [CLOCK]
    assert clocks[0].body == make_schemas.MONOTONIC_BODY
    logs = session.logs()
    if _has_log(revision):
        (log,) = logs
        assert (log.resource_id, log.kind, log.peer_id) == ("front_cam", "sensor", PEER)
        assert log.head == HeadSpec.rolling(5_000_000_000)
        assert log.manifest["sensor"] == {"peer_id": PEER, "id": "front_cam", "hash": camera.hash}
        assert log.manifest["clock"] == {"peer_id": PEER, "id": CLOCK, "hash": clocks[0].hash}
    else:
        assert logs == []

    assert _revision_of(db, immutable=False) == [(HEAD,)]

    ref = peer.register_frame("K1-AABBCCDDEEFF/base_link", FrameDef.ros_body())
    assert isinstance(ref, RegistryRef)
    assert peer.current("frame", "K1-AABBCCDDEEFF/base_link").hash == ref.hash
    assert {e.id for e in peer.frames()} == {"base_link", "K1-AABBCCDDEEFF/base_link"}
    assert peer.current("sensor", "front_cam").hash == camera.hash


def _verify(root: Path) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "auki_session", "--root", str(root), "--json", "verify"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


@pytest.mark.parametrize("revision", list(REVISIONS))
def test_an_upgraded_fixture_verifies_once_its_manifests_are_written_back(
    revision: str, tmp_path: Path
) -> None:
    """The fixtures ship no manifest.json files: verify reports them missing until they are
    written back from the database's manifest_json, and then finds nothing wrong."""
    shutil.copy(FIXTURES / REVISIONS[revision], tmp_path / "auki_session.db")
    peer = Peer(PEER, "app").with_storage_root(tmp_path)
    logs = peer.open_session(SESSION).logs()  # opening upgrades the store to the head

    code, report = _verify(tmp_path)
    missing = [str(Path(log.root) / "manifest.json") for log in logs]
    assert [p["subject"] for p in report["problems"]] == missing
    assert {p["message"] for p in report["problems"]} <= {"missing on disk"}
    assert code == (1 if missing else 0)

    for log in logs:
        Path(log.root).mkdir(parents=True, exist_ok=True)
        (Path(log.root) / "manifest.json").write_bytes(log.manifest_json.encode())
    code, report = _verify(tmp_path)
    assert (code, report["ok"], report["problems"]) == (0, True, [])
    assert report["entries"] == 3 and report["logs"] == len(logs)


def _contents(db: Path) -> dict[str, Any]:
    """Everything that makes up a store file: journal mode, schema, and every table's rows."""
    connection = _read_only(db)
    try:
        schema = connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        tables = [name for kind, name, _, _ in schema if kind == "table"]
        rows = {
            name: sorted(connection.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
            for name in tables
        }
    finally:
        connection.close()
    header = db.read_bytes()[:100]
    return {"wal": header[18:20] == b"\x02\x02", "schema": schema, "rows": rows}


@pytest.mark.parametrize("revision", list(REVISIONS))
def test_each_fixture_is_what_make_schemas_builds_today(revision: str, tmp_path: Path) -> None:
    (built,) = make_schemas.main([revision], tmp_path)
    assert built == tmp_path / REVISIONS[revision]
    assert sorted(p.name for p in tmp_path.iterdir()) == [REVISIONS[revision]]  # no -wal/-shm
    expected = _contents(built)
    assert expected["wal"] is True
    assert expected["rows"]["peers"] and expected["rows"]["entries"]
    assert bool(expected["rows"]["logs"]) == _has_log(revision)
    assert _contents(FIXTURES / REVISIONS[revision]) == expected, (
        f"tests/fixtures/{REVISIONS[revision]} differs from what make_schemas.py builds: "
        f"run python tests/fixtures/make_schemas.py {revision}"
    )
