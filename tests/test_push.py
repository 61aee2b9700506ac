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

from auki_session import FrameDef, HeadSpec, Peer, SensorLogSpec
from auki_session._domain.clocks import MONOTONIC_BODY
from auki_session._store.push import PushOptions, push_store
from auki_session._store.store import open_store
from tests.conftest import end_process, make_robot

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
    # Nothing changed since the last push: nothing is read again but the store's peers.
    assert second.present == {"peers": 1} and second.problems == []
    full = push_store(tmp_path / "a", fleet_url, PushOptions(full=True))
    assert sum(full.copied.values()) == 0 and full.problems == []
    assert full.present["entries"] == first.copied["entries"]
    assert full.present["logs"] == 1


def test_a_push_sends_only_what_changed_since_the_last(tmp_path: Path, fleet_url: str) -> None:
    robot = make_robot(tmp_path / "a", "robot-a")
    push_store(tmp_path / "a", fleet_url)
    robot.register_frame("link_0", FrameDef.ros_optical())  # a new version of an old id
    session = robot.start_session()
    session.register_sensor_log(
        SensorLogSpec(
            robot.current("sensor", "head_left_cam").ref,
            session.monotonic_clock,
            HeadSpec.fixed(),
            10**9,
            0,
        )
    )
    end_process()
    third = push_store(tmp_path / "a", fleet_url)
    assert third.problems == []
    assert third.copied == {
        "peers": 0,
        "sessions": 1,
        "entries": 3,
        "heads": 1,
        "clocks": 2,
        "logs": 1,
        "log_refs": 2,
    }
    assert third.present.get("entries", 0) == 0 and third.present.get("clocks", 0) == 0
    fleet = Peer("robot-a", "fleet").with_storage_url(fleet_url)
    assert fleet.current("frame", "link_0").hash == robot.current("frame", "link_0").hash
    assert len(fleet.sessions()) == 2
    # A clock registered in an old session is found too (the clocks' sums disagree).
    first_session = robot.sessions()[0].session_id
    old = robot.open_session(first_session)
    clock = old.register_clock("robot-a/gps", dict(MONOTONIC_BODY))
    end_process()
    fourth = push_store(tmp_path / "a", fleet_url)
    assert fourth.problems == [] and fourth.copied["clocks"] == 1
    fleet = Peer("robot-a", "fleet").with_storage_url(fleet_url)
    assert [c.hash for c in fleet.open_session(first_session).clocks() if c.id == clock.id] == [
        clock.hash
    ]


def test_a_store_replaced_by_an_older_copy_is_pushed_in_full(
    tmp_path: Path, fleet_url: str
) -> None:
    make_robot(tmp_path / "a", "robot-a")
    end_process()
    backup = tmp_path / "backup.db"
    source = sqlite3.connect(tmp_path / "a" / "auki_session.db")
    source.execute(f"VACUUM INTO '{backup}'")
    source.close()
    robot = Peer("robot-a", "robot-app").with_storage_root(tmp_path / "a")
    robot.register_frame("later", FrameDef.ros_body())
    push_store(tmp_path / "a", fleet_url)
    end_process()
    # The robot's store is restored from the backup; its next entry reuses the row id of
    # "later", which the fleet's marks name: the push notices and checks everything.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'a' / 'auki_session.db'}{suffix}").unlink(missing_ok=True)
    backup.rename(tmp_path / "a" / "auki_session.db")
    robot = Peer("robot-a", "robot-app").with_storage_root(tmp_path / "a")
    instead = robot.register_frame("instead", FrameDef.ros_body())
    end_process()
    again = push_store(tmp_path / "a", fleet_url)
    assert again.problems == [] and again.copied.get("entries") == 1
    fleet = Peer("robot-a", "fleet").with_storage_url(fleet_url)
    assert fleet.current("frame", "instead").hash == instead.hash


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
    # The fleet's copy changed behind the push's back: only a full push looks again.
    assert push_store(tmp_path / "a", fleet_url).problems == []
    report = push_store(tmp_path / "a", fleet_url, PushOptions(full=True))
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


def test_two_stores_racing_to_bind_one_peer_bind_it_once(tmp_path: Path, fleet_url: str) -> None:
    roots = [tmp_path / f"copy-{i}" for i in range(2)]
    for root in roots:
        make_robot(root, "galbot", frames=300)  # two stores, one plain peer id
    # The schema exists before the race (a third, unrelated robot creates it).
    make_robot(tmp_path / "other", "other")
    push_store(tmp_path / "other", fleet_url)
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
    refused = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        refused.append(out.split()[1] != "0")
    assert sorted(refused) == [False, True]  # one store bound galbot; the other was refused
    bindings = fleet_rows(fleet_url, "fleet_bindings")
    assert sorted(row[0] for row in bindings) == ["galbot", "other"]
    winner = roots[refused.index(False)]
    fleet = Peer("galbot", "fleet").with_storage_url(fleet_url)
    mine = Peer("galbot", "robot-app").with_storage_root(winner)
    assert {e.hash for e in fleet.frames()} == {e.hash for e in mine.frames()}
    assert len(fleet_rows(fleet_url, "logs")) == 2  # the winner's and the other robot's


def test_pushing_again_takes_no_row_ids_and_ids_are_64_bit(tmp_path: Path, fleet_url: str) -> None:
    make_robot(tmp_path / "a", "robot-a", frames=50)
    push_store(tmp_path / "a", fleet_url)
    engine = create_engine(fleet_url, poolclass=NullPool)

    def next_ids() -> tuple[int, int]:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # The sequences' next values, drawn and given back by the rollback.
                found = connection.execute(
                    text("SELECT nextval('entries_id_seq'), nextval('logs_id_seq')")
                ).one()
                connection.rollback()
                return int(found[0]), int(found[1])
            found = connection.execute(text("SELECT max(id) FROM entries")).one()
            logs_found = connection.execute(text("SELECT max(id) FROM logs")).one()
            return int(found[0]), int(logs_found[0])

    before = next_ids()
    for _ in range(3):
        assert push_store(tmp_path / "a", fleet_url, PushOptions(full=True)).problems == []
    after = next_ids()
    if engine.dialect.name == "postgresql":
        # One value drawn per look (given back to nobody), none by the pushes themselves.
        assert after == (before[0] + 1, before[1] + 1)
        with engine.connect() as connection:
            types = dict(
                connection.execute(
                    text(
                        "SELECT table_name || '.' || column_name, data_type FROM "
                        "information_schema.columns WHERE table_schema = current_schema() "
                        "AND column_name IN ('id', 'log_id')"
                    )
                ).all()
            )
        assert types["entries.id"] == types["logs.id"] == types["log_refs.log_id"] == "bigint"
    else:
        assert after == before
    engine.dispose()
