"""Pushing robot stores into a fleet database: a set union of content-addressed rows.

`push_store` is what `auki-session push` runs; tests call it to read its report directly.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from auki_session import FrameDef, Peer
from auki_session._store.push import push_store
from auki_session._store.store import open_store
from tests.conftest import make_robot

REPO = Path(__file__).resolve().parent.parent


def fleet_rows(url: str, table: str) -> list[tuple[object, ...]]:
    store = open_store(Path("."), url=url, readonly=True)
    try:
        with store.engine.connect() as connection:
            from sqlalchemy import text

            return [tuple(r) for r in connection.execute(text(f"SELECT * FROM {table}"))]
    finally:
        store.close()


def local_hashes(root: Path) -> set[str]:
    connection = sqlite3.connect(root / "auki_session.db")
    try:
        return {r[0] for r in connection.execute("SELECT hash FROM entries")}
    finally:
        connection.close()


def test_push_copies_everything_once_and_again_changes_nothing(
    tmp_path: Path, fleet_url: str
) -> None:
    make_robot(tmp_path / "a", "robot-a")
    first = push_store(tmp_path / "a", fleet_url)
    assert first.problems == []
    assert first.copied["entries"] == len(local_hashes(tmp_path / "a"))
    assert first.copied["logs"] == 1
    second = push_store(tmp_path / "a", fleet_url)
    assert sum(second.copied.values()) == 0
    assert second.present["entries"] == first.copied["entries"]


def test_two_robots_land_with_every_entry_exactly_once(tmp_path: Path, fleet_url: str) -> None:
    make_robot(tmp_path / "a", "robot-a")
    make_robot(tmp_path / "b", "robot-b", frames=5)
    push_store(tmp_path / "a", fleet_url)
    push_store(tmp_path / "b", fleet_url)
    hashes = [row[1] for row in fleet_rows(fleet_url, "entries")]
    assert len(hashes) == len(set(hashes))
    assert set(hashes) == local_hashes(tmp_path / "a") | local_hashes(tmp_path / "b")
    fleet = Peer("robot-b", "fleet").with_storage_url(fleet_url)
    assert len(fleet.frames()) == 6
    [session] = fleet.sessions()
    assert [log.resource_id for log in fleet.open_session(session.session_id).logs()] == [
        "head_left_cam"
    ]


def test_the_fleet_sees_the_robots_current_versions(tmp_path: Path, fleet_url: str) -> None:
    robot = make_robot(tmp_path / "a", "robot-a")
    push_store(tmp_path / "a", fleet_url)
    robot.register_frame("link_0", FrameDef.unity())
    push_store(tmp_path / "a", fleet_url)
    fleet = Peer("robot-a", "fleet").with_storage_url(fleet_url)
    assert fleet.current("frame", "link_0").body["handedness"] == "left"
    assert len(fleet.history("frame", "link_0")) == 2


def test_a_corrupt_source_entry_is_reported_and_not_pushed(tmp_path: Path, fleet_url: str) -> None:
    robot = make_robot(tmp_path / "a", "robot-a")
    extra = robot.register_frame("extra", FrameDef.opengl())
    connection = sqlite3.connect(tmp_path / "a" / "auki_session.db")
    connection.execute(
        "UPDATE entries SET canonical_json = replace(canonical_json, 'backward', 'forward') "
        "WHERE hash = ?",
        (extra.hash,),
    )
    connection.commit()
    connection.close()
    report = push_store(tmp_path / "a", fleet_url)
    assert any(extra.hash in problem for problem in report.problems)
    assert extra.hash not in {row[1] for row in fleet_rows(fleet_url, "entries")}


def test_a_hash_held_with_other_json_in_the_fleet_is_reported(
    tmp_path: Path, fleet_url: str
) -> None:
    make_robot(tmp_path / "a", "robot-a")
    push_store(tmp_path / "a", fleet_url)
    victim = sorted(local_hashes(tmp_path / "a"))[0]
    store = open_store(Path("."), url=fleet_url)
    with store.engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(
            text("UPDATE entries SET canonical_json = '{}' WHERE hash = :h"), {"h": victim}
        )
    store.close()
    report = push_store(tmp_path / "a", fleet_url)
    assert any(victim in problem and "corrupt" in problem for problem in report.problems)
    assert [row[6] for row in fleet_rows(fleet_url, "entries") if row[1] == victim] == ["{}"]


PUSH = """
import sys
from pathlib import Path
from auki_session._store.push import push_store
report = push_store(Path(sys.argv[1]), sys.argv[2])
print(sum(report.copied.values()), len(report.problems))
"""


def test_an_interrupted_push_resumes_cleanly(tmp_path: Path, fleet_url: str) -> None:
    make_robot(tmp_path / "a", "robot-a", frames=20_000)
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PUSH), str(tmp_path / "a"), fleet_url],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    watcher = create_engine(fleet_url, poolclass=NullPool)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(DBAPIError), watcher.connect() as connection:
            if connection.execute(text("SELECT count(*) FROM entries")).scalar():
                break
        time.sleep(0.002)
    watcher.dispose()
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    partial = len(fleet_rows(fleet_url, "entries"))
    assert 0 < partial < len(local_hashes(tmp_path / "a"))
    report = push_store(tmp_path / "a", fleet_url)
    assert report.problems == []
    hashes = [row[1] for row in fleet_rows(fleet_url, "entries")]
    assert sorted(hashes) == sorted(local_hashes(tmp_path / "a"))
    assert len(fleet_rows(fleet_url, "heads")) == 20_002
    assert len(fleet_rows(fleet_url, "log_refs")) == 2


def test_robots_pushing_at_the_same_time_all_land(tmp_path: Path, fleet_url: str) -> None:
    roots = [tmp_path / f"robot-{i}" for i in range(4)]
    for index, root in enumerate(roots):
        make_robot(root, f"robot-{index}", frames=200)
    push_store(roots[0], fleet_url)  # the schema exists before the race
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(PUSH), str(root), fleet_url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for root in roots
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.split()[1] == "0"
    hashes = [row[1] for row in fleet_rows(fleet_url, "entries")]
    assert len(hashes) == len(set(hashes))
    assert set(hashes) == set().union(*(local_hashes(root) for root in roots))
    assert len(fleet_rows(fleet_url, "logs")) == 4
