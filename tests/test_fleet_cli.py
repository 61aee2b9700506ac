"""The fleet workflow from the command line: push robot stores, then query with --url."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auki_session._cli import main
from tests.conftest import make_robot


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_push_then_query_the_fleet(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_robot(tmp_path / "a", "robot-a")
    make_robot(tmp_path / "b", "robot-b")
    for robot in ("a", "b"):
        pushed = run_json(capsys, "push", str(tmp_path / robot), fleet_url)
        assert pushed["problems"] == []  # type: ignore[index]
    again = run_json(capsys, "push", str(tmp_path / "a"), fleet_url)
    assert sum(again["copied"].values()) == 0  # type: ignore[index]
    peers = run_json(capsys, "--url", fleet_url, "peers")
    assert [p["peer_id"] for p in peers] == ["robot-a", "robot-b"]  # type: ignore[index, union-attr]
    sessions = run_json(capsys, "--url", fleet_url, "sessions")
    assert len(sessions) == 2  # type: ignore[arg-type]
    entries = run_json(capsys, "--url", fleet_url, "entries", "--peer", "robot-b")
    camera = next(e for e in entries if e["kind"] == "sensor")  # type: ignore[union-attr, index]
    users = run_json(capsys, "--url", fleet_url, "uses", camera["hash"])
    assert users == [
        {
            "session_id": sessions[1]["session_id"]  # type: ignore[index]
            if sessions[1]["peer_id"] == "robot-b"  # type: ignore[index]
            else sessions[0]["session_id"],  # type: ignore[index]
            "peer_id": "robot-b",
            "resource_id": "head_left_cam",
            "kind": "sensor",
            "roles": ["sensor"],
        }
    ]
    assert run_json(capsys, "--url", fleet_url, "verify")["ok"] is True  # type: ignore[index]


def test_uses_finds_logs_in_a_robot_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    robot = make_robot(tmp_path / "a", "robot-a")
    camera = robot.current("sensor", "head_left_cam")
    users = run_json(capsys, "--root", str(tmp_path / "a"), "uses", camera.hash)
    assert [u["resource_id"] for u in users] == ["head_left_cam"]  # type: ignore[index, union-attr]


def test_push_reports_refused_rows_with_exit_1(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    make_robot(tmp_path / "a", "robot-a")
    connection = sqlite3.connect(tmp_path / "a" / "auki_session.db")
    connection.execute("UPDATE entries SET canonical_json = '{}' WHERE kind = 'frame'")
    connection.commit()
    connection.close()
    assert main(["push", str(tmp_path / "a"), fleet_url]) == 1
    captured = capsys.readouterr()
    assert "corrupt entry" in captured.out and "push refused" in captured.err


def test_an_unreachable_fleet_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    assert main(["--url", url, "peers"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("auki-session: error: ") and err.count("\n") == 1


def test_push_to_a_database_that_does_not_exist_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], server_url: str | None
) -> None:
    if server_url is None:
        pytest.skip("no PostgreSQL server")
    make_robot(tmp_path / "a", "robot-a")
    missing = server_url.rsplit("/", 1)[0] + "/auki_no_such_database_here"
    assert main(["push", str(tmp_path / "a"), missing]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "cannot open the fleet database" in err and "does not exist" in err
