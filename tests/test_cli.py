"""The `auki-session` command line, run in-process through `main(argv)` (and a few times as a
real `python -m auki_session` process), against stores made by the demo and by the API."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auki_session import (
    FrameDef,
    HeadSpec,
    Peer,
    SensorLogSpec,
    canonical_json,
    content_hash,
)
from auki_session._cli import main
from auki_session._cli.demo import demo_wallet
from auki_session._store import migrate
from tests.conftest import camera_body, end_process

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> Run:
    """Run the command line in-process; returns exit code, stdout and stderr."""
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


@dataclass
class ApiStore:
    root: Path
    versions: dict[str, str]
    session_id: str
    resource_id: str


def make_api_store(root: Path) -> ApiStore:
    """Two peers, a sensor registered v1, v2, v1 (so v1 is current), a user clock, a log whose
    resource id nests (`head/left_rgb`), and a peer id used with two app ids."""
    galbot = Peer("galbot", "galbot-ctrl").with_storage_root(root)
    galbot.register_frame("base_link", FrameDef.ros_body())
    optical = galbot.register_frame("head/left_optical", FrameDef.ros_optical())
    v1 = galbot.register_sensor("head/left_rgb", camera_body(optical))
    v2 = galbot.register_sensor("head/left_rgb", camera_body(optical, width=640))
    galbot.register_sensor("head/left_rgb", camera_body(optical))
    galbot.register_detector(
        "tags", {"type": "aruco", "dictionary": "DICT_4X4_50"}, ["aruco_marker"]
    )
    session = galbot.start_session()
    session.register_clock(
        "ptp",
        {"type": "utc_clock", "unit": "ns", "monotonic": False, "scope": "domain-local"},
    )
    handle = session.register_sensor_log(
        SensorLogSpec(v1, session.monotonic_clock, HeadSpec.rolling(5_000_000_000), 10**9, 0)
    )
    spot = Peer("spot", "spot-nav").with_storage_root(root)
    spot.register_frame("body", FrameDef.ros_body())
    spot.start_session()
    Peer("galbot", "galbot-vision").with_storage_root(root).start_session()
    end_process()
    return ApiStore(root, {"v1": v1.hash, "v2": v2.hash}, session.session_id, handle.resource_id)


@pytest.fixture
def api(tmp_path: Path) -> ApiStore:
    return make_api_store(tmp_path / "api")


def demo_peer_id(root: Path) -> str:
    """The demo robot's peer id: its wallet's peer/v1 child's."""
    return demo_wallet(str(root)).derive_child("peer/v1").peer_id


def assert_one_line_error(run: Run, *fragments: str) -> None:
    assert run.code == 2
    assert run.out == ""
    assert run.err.startswith("auki-session: error: ")
    assert run.err.count("\n") == 1 and run.err.endswith("\n")
    assert "Traceback" not in run.err
    for fragment in fragments:
        assert fragment in run.err


# --- demo ---------------------------------------------------------------------------------------


def test_demo_registers_the_robot_and_prints_what_the_store_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(capsys, "demo", tmp_path / "robot")
    assert run.code == 0, run.err
    assert run.err == ""
    for text in (
        f"Registered the demo robot {demo_peer_id(tmp_path / 'robot')}",
        "every record signed by its key",
        "0006_registry_mirror (current)",
        "base_link",
        "head_left_optical",
        "camera rgb, 1280x720 RGB8, 30 Hz, in head_left_optical",
        "aruco DICT_4X4_50 -> aruco_marker",
        "sensor log head_left_rgb",
        "pose log base_link->head_left_optical",
        "detection log aruco_4x4@head_left_rgb",
        "rolling 5 s",
    ):
        assert text in run.out
    assert (tmp_path / "robot" / "auki_session.db").is_file()


def test_demo_defaults_to_auki_demo_in_the_current_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli(capsys, "demo").code == 0
    assert (tmp_path / "auki-demo" / "auki_session.db").is_file()


def test_demo_json_holds_entries_that_rehash_to_their_hashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value = cli(capsys, "--json", "demo", tmp_path / "robot").json()
    assert value["peer_id"] == demo_peer_id(tmp_path / "robot")
    assert {entry["id"] for entry in value["entries"]} == {
        "base_link",
        "head_left_optical",
        "head_left_rgb",
        "aruco_4x4",
    }
    for entry in value["entries"]:
        assert content_hash(canonical_json(entry["entry"])) == entry["hash"]
    assert len(value["session"]["logs"]) == 3
    assert value["summary"]["schema"] == {
        "revision": migrate.HEAD,
        "head": migrate.HEAD,
        "status": "current",
    }


# --- summary, peers, entries, history ------------------------------------------------------------


def test_summary_counts_peers_kinds_sessions_and_logs(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    value = cli(capsys, "--root", api.root, "--json", "summary").json()
    assert value["sessions"] == 3
    assert value["logs"] == 1
    assert value["size_bytes"] == (api.root / "auki_session.db").stat().st_size
    kinds = {kind["kind"]: (kind["ids"], kind["versions"]) for kind in value["kinds"]}
    assert kinds == {"frame": (3, 3), "sensor": (1, 2), "detector": (1, 1), "clock": (7, 7)}
    assert [peer["peer_id"] for peer in value["peers"]] == ["galbot", "spot"]
    human = cli(capsys, "--root", api.root, "summary")
    assert human.code == 0
    assert "0006_registry_mirror (current)" in human.out
    assert "galbot-ctrl, galbot-vision" in human.out


def test_peers_lists_each_peer_with_its_counts_and_app_ids(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    value = cli(capsys, "--root", api.root, "--json", "peers").json()
    galbot, spot = value
    assert (galbot["frames"], galbot["sensors"], galbot["detectors"]) == (2, 1, 1)
    assert galbot["sessions"] == 2
    assert galbot["app_ids"] == ["galbot-ctrl", "galbot-vision"]
    assert (spot["peer_id"], spot["frames"], spot["sessions"]) == ("spot", 1, 1)


def test_entries_lists_the_current_version_of_each_id(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    value = cli(capsys, "--root", api.root, "--json", "entries").json()
    ids = [(entry["peer_id"], entry["kind"], entry["id"]) for entry in value]
    assert ids == [
        ("galbot", "frame", "base_link"),
        ("galbot", "frame", "head/left_optical"),
        ("galbot", "sensor", "head/left_rgb"),
        ("galbot", "detector", "tags"),
        ("spot", "frame", "body"),
    ]
    sensor = value[2]
    assert sensor["hash"] == api.versions["v1"]


def test_entries_filter_by_peer_and_kind(api: ApiStore, capsys: pytest.CaptureFixture[str]) -> None:
    frames = cli(capsys, "--root", api.root, "--json", "entries", "--kind", "frame").json()
    assert {entry["id"] for entry in frames} == {"base_link", "head/left_optical", "body"}
    spot = cli(capsys, "--root", api.root, "--json", "entries", "--peer", "spot").json()
    assert [entry["id"] for entry in spot] == ["body"]
    none = cli(capsys, "--root", api.root, "entries", "--peer", "nobody")
    assert (none.code, none.out) == (0, "no current entries match\n")


def test_entries_of_kind_clock_are_every_session_clock(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    clocks = cli(capsys, "--root", api.root, "--json", "entries", "--kind", "clock").json()
    assert len(clocks) == 7
    ours = cli(capsys, "--root", api.root, "--json", "entries", "--session", api.session_id)
    assert sorted(entry["id"] for entry in ours.json()) == [
        f"galbot/{api.session_id}/monotonic",
        f"galbot/{api.session_id}/utc",
        "ptp",
    ]


def test_entries_json_round_trips_to_the_stored_bytes(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    for entry in cli(capsys, "--root", api.root, "--json", "entries").json():
        data = canonical_json(entry["entry"])
        assert content_hash(data) == entry["hash"]
        shown = cli(capsys, "--root", api.root, "show", entry["hash"])
        assert shown.out.encode() == data


def test_entries_table_groups_by_peer_and_describes_each_body(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    out = cli(capsys, "--root", api.root, "entries").out
    lines = out.splitlines()
    assert lines[0] == "peer galbot"
    assert lines[1].split() == ["KIND", "ID", "HASH", "DESCRIPTION"]
    assert "peer spot" in lines
    sensor = next(line for line in lines if "head/left_rgb" in line)
    assert api.versions["v1"] in sensor
    assert "camera rgb, 544x488 YUV_NV12, 20 Hz, in head/left_optical" in sensor


def test_history_lists_each_version_once_in_first_registered_order(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    value = cli(capsys, "--root", api.root, "--json", "history", "head/left_rgb").json()
    assert [(v["hash"], v["version"], v["current"]) for v in value] == [
        (api.versions["v1"], 1, True),
        (api.versions["v2"], 2, False),
    ]
    human = cli(capsys, "--root", api.root, "history", "head/left_rgb").out.splitlines()
    assert human[1].split()[:6] == ["KIND", "ID", "V", "HASH", "REGISTERED", "CURRENT"]
    assert human[2].split()[2:4] == ["1", api.versions["v1"]]
    assert "*" in human[2].split()
    assert "*" not in human[3].split()


def test_history_without_an_id_covers_the_registry_and_clocks_on_request(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = cli(capsys, "--root", api.root, "--json", "history").json()
    assert len(registry) == 6
    assert {entry["kind"] for entry in registry} == {"frame", "sensor", "detector"}
    clocks = cli(capsys, "--root", api.root, "--json", "history", "--kind", "clock").json()
    assert len(clocks) == 7
    ptp = cli(capsys, "--root", api.root, "--json", "history", "ptp").json()
    assert [entry["session_id"] for entry in ptp] == [api.session_id]


def test_history_of_an_unknown_id_is_an_error(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_one_line_error(cli(capsys, "--root", api.root, "history", "nope"), "'nope'")


# --- show ---------------------------------------------------------------------------------------


def stored_json(root: Path, entry_hash: str) -> bytes:
    connection = sqlite3.connect(root / "auki_session.db")
    try:
        row = connection.execute(
            "SELECT canonical_json FROM entries WHERE hash = ?", (entry_hash,)
        ).fetchone()
    finally:
        connection.close()
    return str(row[0]).encode()


def test_show_prints_the_canonical_json_exactly_as_stored(
    api: ApiStore, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["--root", str(api.root), "show", api.versions["v2"]]) == 0
    out = capsysbinary.readouterr().out
    assert out == stored_json(api.root, api.versions["v2"])
    assert not out.endswith(b"\n")
    assert content_hash(out) == api.versions["v2"]


@pytest.mark.parametrize(
    "how",
    [
        "prefix",
        "peer/id@hash",
        "json ref",
    ],
)
def test_show_accepts_a_hash_prefix_a_ref_string_and_a_json_ref(
    api: ApiStore, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    v2 = api.versions["v2"]
    ref = {
        "prefix": v2[:8],
        "peer/id@hash": f"galbot/head/left_rgb@{v2}",
        "json ref": json.dumps({"peer_id": "galbot", "id": "head/left_rgb", "hash": v2}),
    }[how]
    run = cli(capsys, "--root", api.root, "show", ref)
    assert run.code == 0, run.err
    assert content_hash(run.out.encode()) == v2


def test_show_by_id_gives_the_current_version(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ("show", "--id", "head/left_rgb"),
        ("show", "--peer", "galbot", "--kind", "sensor", "--id", "head/left_rgb"),
        ("show", "galbot/head/left_rgb"),
    ):
        value = cli(capsys, "--root", api.root, "--json", *argv).json()
        assert (value["hash"], value["current"]) == (api.versions["v1"], True)


def test_show_json_carries_the_entry_and_whether_it_is_current(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    value = cli(capsys, "--root", api.root, "--json", "show", api.versions["v2"]).json()
    assert value["current"] is False
    assert value["entry"]["width"] == 640
    assert content_hash(canonical_json(value["entry"])) == api.versions["v2"]


def test_show_refuses_an_ambiguous_or_unknown_ref(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    ambiguous = cli(capsys, "--root", api.root, "show", "--id", "ptp", "--kind", "frame")
    assert_one_line_error(ambiguous, "no current entry")
    wrong_peer = f"spot/head/left_rgb@{api.versions['v1']}"
    assert_one_line_error(
        cli(capsys, "--root", api.root, "show", wrong_peer),
        "is sensor galbot/head/left_rgb, not spot/head/left_rgb",
    )
    assert_one_line_error(cli(capsys, "--root", api.root, "show", "0000"), "'0000'")
    assert_one_line_error(cli(capsys, "--root", api.root, "show"), "name an entry")


def test_show_refuses_an_id_current_in_two_peers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "two"
    for peer_id in ("a", "b"):
        Peer(peer_id, "app").with_storage_root(root).register_frame("base", FrameDef.ros_body())
    end_process()
    assert_one_line_error(cli(capsys, "--root", root, "show", "base"), "ambiguous", "--peer")
    assert cli(capsys, "--root", root, "show", "base", "--peer", "b").code == 0


# --- sessions -----------------------------------------------------------------------------------


def test_sessions_lists_sessions_with_their_clock_and_log_counts(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    value = cli(capsys, "--root", api.root, "--json", "sessions", "--peer", "galbot").json()
    assert [(s["app_id"], s["clocks"], s["logs"]) for s in value] == [
        ("galbot-ctrl", 3, 1),
        ("galbot-vision", 2, 0),
    ]
    assert value[0]["session_id"] == api.session_id
    everyone = cli(capsys, "--root", api.root, "--json", "sessions").json()
    assert len(everyone) == 3


def test_session_shows_clocks_and_logs_with_manifests_and_head_specs(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    value = cli(capsys, "--root", api.root, "--json", "session", api.session_id).json()
    assert value["session"]["peer_id"] == "galbot"
    assert {clock["id"] for clock in value["clocks"]} >= {"ptp"}
    (log,) = value["logs"]
    assert log["resource_id"] == api.resource_id == "head/left_rgb"
    assert log["head"] == {"kind": "rolling", "retention_ns": 5_000_000_000}
    assert log["log_ref"] == {"source_peer_id": "galbot", "resource_id": "head/left_rgb"}
    manifest = Path(log["root"]) / "manifest.json"
    assert manifest == api.root / api.session_id / "logs" / "galbot" / "head" / "left_rgb" / (
        "manifest.json"
    )
    assert canonical_json(log["manifest"]) == manifest.read_bytes()
    human = cli(capsys, "--root", api.root, "session", api.session_id).out
    assert "sensor log head/left_rgb" in human
    assert f"sensor  head/left_rgb@{api.versions['v1']}" in human
    assert "rolling 5 s" in human


def test_session_of_an_unknown_id_is_an_error(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_one_line_error(cli(capsys, "--root", api.root, "session", "nope"), "no session")


# --- options and errors -------------------------------------------------------------------------


def test_root_and_json_may_follow_the_command(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    before = cli(capsys, "--root", api.root, "--json", "peers").json()
    after = cli(capsys, "peers", "--root", api.root, "--json").json()
    assert before == after


def test_root_defaults_to_the_current_directory(
    api: ApiStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(api.root)
    assert [p["peer_id"] for p in cli(capsys, "--json", "peers").json()] == ["galbot", "spot"]


def test_a_missing_root_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing"
    assert_one_line_error(cli(capsys, "--root", missing, "summary"), str(missing))
    assert not missing.exists()


def test_a_root_without_a_database_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_one_line_error(cli(capsys, "--root", tmp_path, "peers"), "no auki-session database")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"this is not a database, just some text\n" * 100, "not a database"),
        (b"", "no auki-session schema yet"),
    ],
)
def test_a_file_that_is_not_a_store_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    (tmp_path / "auki_session.db").write_bytes(content)
    assert_one_line_error(cli(capsys, "--root", tmp_path, "summary"), expected)


def test_a_foreign_sqlite_database_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connection = sqlite3.connect(tmp_path / "auki_session.db")
    connection.execute("CREATE TABLE notes (text)")
    connection.commit()
    connection.close()
    for command in ("summary", "verify", "db"):
        argv = ["--root", tmp_path, command] + (["current"] if command == "db" else [])
        assert_one_line_error(cli(capsys, *argv), "not an auki-session database")


@pytest.mark.parametrize("keep", [4096, 20_000, 60_000])
def test_a_truncated_database_is_a_one_line_error(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], keep: int
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    data = (demo / "auki_session.db").read_bytes()
    assert len(data) > keep
    (broken / "auki_session.db").write_bytes(data[:keep])
    for command in ("summary", "entries", "history", "sessions", "export"):
        argv = ["--root", broken, command] + ([tmp_path / "out"] if command == "export" else [])
        run = cli(capsys, *argv)
        if run.code == 0:
            continue  # the pages this command reads survived the cut
        assert_one_line_error(run, str(broken / "auki_session.db"))
    run = cli(capsys, "--root", broken, "verify")
    assert run.code in (1, 2)
    assert "Traceback" not in run.err


def make_future_store(source: Path, root: Path) -> Path:
    shutil.copytree(source, root)
    connection = sqlite3.connect(root / "auki_session.db")
    connection.execute("UPDATE auki_session_schema_version SET version_num = '9999_future'")
    connection.commit()
    connection.close()
    return root


def test_a_schema_newer_than_the_code_is_a_one_line_error(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    future = make_future_store(demo, tmp_path / "future")
    data = (future / "auki_session.db").read_bytes()
    for argv in (["summary"], ["entries"], ["verify"], ["db", "current"], ["db", "upgrade"]):
        run = cli(capsys, "--root", future, *argv)
        assert_one_line_error(run, "'9999_future'", "newer")
    assert (future / "auki_session.db").read_bytes() == data


def test_a_usage_error_is_one_line_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "frobnicate")
    assert_one_line_error(run, "invalid choice", "--help")
    assert_one_line_error(cli(capsys, "entries", "--kind", "robot"), "--kind")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "--help")
    assert run.code == 0
    for command in ("summary", "entries", "history", "show", "verify", "export", "db", "demo"):
        assert command in run.out


# --- db -----------------------------------------------------------------------------------------


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    root = tmp_path / "old"
    root.mkdir()
    shutil.copy(FIXTURES / "schema_0001.db", root / "auki_session.db")
    return root


def test_db_current_prints_the_revision(
    demo: Path, old_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "--root", demo, "db", "current").out == f"{migrate.HEAD} (current)\n"
    value = cli(capsys, "--root", old_store, "--json", "db", "current").json()
    assert value == {"revision": "0001_initial", "head": migrate.HEAD, "status": "needs upgrade"}


def test_db_check_exits_0_at_head_and_1_when_older(
    demo: Path, old_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "--root", demo, "db", "check").code == 0
    old = cli(capsys, "--root", old_store, "db", "check")
    assert old.code == 1
    assert "db upgrade" in old.out


def test_db_upgrade_brings_an_old_store_to_head(
    old_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = cli(capsys, "--root", old_store, "entries")
    assert_one_line_error(blocked, "0001_initial", "db upgrade")
    summary = cli(capsys, "--root", old_store, "summary")
    assert summary.code == 0 and "needs upgrade" in summary.out
    run = cli(capsys, "--root", old_store, "db", "upgrade")
    assert (run.code, run.out) == (0, f"upgraded 0001_initial -> {migrate.HEAD}\n")
    assert cli(capsys, "--root", old_store, "db", "check").code == 0
    assert cli(capsys, "--root", old_store, "entries").code == 0
    again = cli(capsys, "--root", old_store, "db", "upgrade")
    assert again.out == f"already at {migrate.HEAD}\n"


def test_db_upgrade_does_not_create_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_one_line_error(cli(capsys, "--root", tmp_path / "none", "db", "upgrade"))
    assert not (tmp_path / "none").exists()
    assert_one_line_error(cli(capsys, "--root", tmp_path, "db", "upgrade"))
    assert list(tmp_path.iterdir()) == []


# --- as a real process --------------------------------------------------------------------------


def run_module(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    return subprocess.run(
        [sys.executable, "-m", "auki_session", *map(str, argv)],
        capture_output=True,
        cwd=cwd,
        env=environment,
        timeout=120,
        check=False,
    )


def test_python_m_auki_session_prints_a_summary(demo: Path) -> None:
    done = run_module("--root", demo, "summary")
    assert done.returncode == 0, done.stderr
    assert demo_peer_id(demo) in done.stdout.decode()
    assert done.stderr == b""


def test_python_m_auki_session_show_pipes_the_exact_bytes(api: ApiStore) -> None:
    done = run_module("--root", api.root, "show", api.versions["v2"])
    assert done.returncode == 0
    assert done.stdout == stored_json(api.root, api.versions["v2"])
    assert content_hash(done.stdout) == api.versions["v2"]


def test_python_m_auki_session_fails_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "auki_session.db").write_bytes(b"\x00garbage" * 512)
    done = run_module("--root", tmp_path, "--json", "entries")
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode().count("\n") == 1
    assert done.stderr.startswith(b"auki-session: error: ")


def test_python_m_auki_session_demo_then_verify(tmp_path: Path) -> None:
    assert run_module("demo", cwd=tmp_path).returncode == 0
    done = run_module("--root", "auki-demo", "--json", "verify", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["ok"] is True
