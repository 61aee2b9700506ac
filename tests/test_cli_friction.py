"""The command line's rough edges, each removed (issue 16): unique prefixes wherever a hash or
a session id is taken, bad database URLs, messages that name the argument and what to do,
`--version`, and options that were shown but ignored. Each test runs the exact command and
checks its output and exit status (2 for every failure), and that nothing changed."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import auki_session
from auki_session import FrameDef, Peer, StoreError
from auki_session._cli.demo import DEMO_ROOT
from auki_session._domain.entries import frame_entry
from tests.conftest import camera_body, end_process, snapshot
from tests.test_cli import ApiStore, Run, assert_one_line_error, cli


@pytest.fixture
def api(tmp_path: Path) -> ApiStore:
    from tests.test_cli import make_api_store

    return make_api_store(tmp_path / "api")


def colliding_frame_ids(peer_id: str) -> tuple[str, str, str]:
    """Two frame ids whose ros_body versions' hashes share their first 4 hex digits, and
    that prefix (found by hashing, no store needed)."""
    seen: dict[str, str] = {}
    for index in range(100_000):
        frame_id = f"link_{index}"
        prefix = frame_entry(peer_id, frame_id, FrameDef.ros_body()).hash[:4]
        if prefix in seen:
            return seen[prefix], frame_id, prefix
        seen[prefix] = frame_id
    raise AssertionError("no collision")


# --- prefixes -----------------------------------------------------------------------------------


def test_uses_accepts_a_unique_hash_prefix(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(capsys, "--root", api.root, "uses", api.versions["v1"][:8])
    assert run.code == 0
    assert api.resource_id in run.out and "sensor" in run.out


def test_uses_of_a_known_version_no_log_uses_says_which_version(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(capsys, "--root", api.root, "uses", api.versions["v2"][:8])
    assert run.code == 0
    assert run.out == f"no log uses sensor galbot/head/left_rgb@{api.versions['v2']}\n"


def test_uses_of_a_malformed_hash_exits_2_naming_the_argument(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(capsys, "--root", api.root, "uses", "nothex")
    assert_one_line_error(run, "HASH 'nothex' is not a hash: give 4 to 32 hex digits")


def test_uses_of_an_unknown_hash_exits_2(api: ApiStore, capsys: pytest.CaptureFixture[str]) -> None:
    unknown = "0000" if not any(h.startswith("0000") for h in api.versions.values()) else "ffff"
    run = cli(capsys, "--root", api.root, "uses", unknown)
    assert_one_line_error(run, f"HASH '{unknown}': no entry version's hash starts with it")


def test_an_ambiguous_hash_prefix_lists_the_matches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, prefix = colliding_frame_ids("galbot")
    peer = Peer("galbot", "app").with_storage_root(tmp_path)
    refs = [peer.register_frame(frame_id, FrameDef.ros_body()) for frame_id in (first, second)]
    end_process()
    for command in ("uses", "show", "history"):
        run = cli(capsys, "--root", tmp_path, command, prefix)
        argument = {"uses": "HASH", "show": "REF", "history": "ID"}[command]
        assert_one_line_error(
            run,
            f"{argument} '{prefix}' is ambiguous, it starts 2: ",
            *(f"{ref.hash} (frame galbot/{ref.id})" for ref in refs),
            "give more digits",
        )
    assert cli(capsys, "--root", tmp_path, "uses", refs[1].hash[:12]).code == 0


def test_session_accepts_a_unique_prefix_in_any_case(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = cli(capsys, "--root", api.root, "session", api.session_id)
    for prefix in (api.session_id[:26], api.session_id[:24], api.session_id[:24].lower()):
        run = cli(capsys, "--root", api.root, "session", prefix)
        assert (run.code, run.out) == (0, whole.out)


def test_an_ambiguous_session_prefix_lists_the_sessions(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(capsys, "--root", api.root, "session", api.session_id[:2])
    assert_one_line_error(
        run, f"SESSION '{api.session_id[:2]}' is ambiguous, it starts 3: ", api.session_id
    )


def test_an_unknown_session_exits_2_and_says_what_to_do(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(capsys, "--root", api.root, "session", "ZZZ")
    assert_one_line_error(
        run, "SESSION 'ZZZ': no session's id starts with it", "`latest` names the last one"
    )


def test_session_latest_is_the_session_started_last(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    last = cli(capsys, "--root", api.root, "--json", "sessions").json()[-1]["session_id"]
    run = cli(capsys, "--root", api.root, "--json", "session", "latest")
    assert run.json()["session"]["session_id"] == last
    mine = cli(capsys, "--root", api.root, "--json", "session", "latest", "--peer", "spot")
    assert mine.json()["session"]["peer_id"] == "spot"


def test_sessions_last_n_lists_the_last_n_oldest_first(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    every = [s["session_id"] for s in cli(capsys, "--root", api.root, "--json", "sessions").json()]
    last = cli(capsys, "--root", api.root, "--json", "sessions", "--last", "2").json()
    assert [s["session_id"] for s in last] == every[-2:]
    assert_one_line_error(cli(capsys, "--root", api.root, "sessions", "--last", "0"), "'0'")


def test_session_latest_of_an_empty_store_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Peer("galbot", "app").with_storage_root(tmp_path).register_frame("b", FrameDef.ros_body())
    end_process()
    run = cli(capsys, "--root", tmp_path, "session", "latest")
    assert_one_line_error(run, "SESSION latest: the store holds no sessions yet")


def test_entries_session_takes_a_prefix(api: ApiStore, capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "--root", api.root, "--json", "entries", "--session", api.session_id[:20])
    assert {e["session_id"] for e in run.json()} == {api.session_id}


def test_history_of_a_hash_prefix_is_the_history_of_that_versions_id(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    by_id = cli(capsys, "--root", api.root, "history", "head/left_rgb")
    by_hash = cli(capsys, "--root", api.root, "history", api.versions["v2"][:10])
    assert (by_hash.code, by_hash.out) == (0, by_id.out)


def test_history_of_an_unknown_id_says_what_to_do(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(capsys, "--root", api.root, "history", "nope")
    assert_one_line_error(run, "ID 'nope': no entry has this id or a hash starting with it")


def test_show_of_a_short_unknown_ref_says_what_it_can_be(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(capsys, "--root", api.root, "show", "b")
    assert_one_line_error(
        run,
        "REF 'b': no current entry has this id, and it is too short for a hash prefix",
        "`auki-session entries` lists",
    )


def test_show_takes_a_prefix_in_peer_id_at_hash(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = f"galbot/head/left_rgb@{api.versions['v2'][:8]}"
    assert (
        cli(capsys, "--root", api.root, "--json", "show", ref).json()["hash"]
        == (api.versions["v2"])
    )


# --- history descriptions -----------------------------------------------------------------------


def test_history_says_what_changed_when_two_versions_read_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = Peer("galbot", "app").with_storage_root(tmp_path)
    frame = peer.register_frame("optical", FrameDef.ros_optical())
    calibration = {"fx": 912.5, "fy": 911.8, "cx": 640.2, "cy": 359.7}
    peer.register_sensor("cam", camera_body(frame, calibration=calibration))
    peer.register_sensor("cam", camera_body(frame, calibration={**calibration, "fx": 915.25}))
    end_process()
    run = cli(capsys, "--root", tmp_path, "history", "cam")
    second = next(line for line in run.out.splitlines() if " 2 " in line)
    assert second.endswith("in optical; calibration.fx 912.5 -> 915.25")


# --- database URLs ------------------------------------------------------------------------------


def test_an_unparsable_url_never_prints_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://user:s3cret@host:notaport/fleet"
    run = cli(capsys, "--url", url, "peers")
    assert_one_line_error(run, "--url: the database URL given is not a URL")
    assert "s3cret" not in run.out + run.err
    run = cli(capsys, "push", tmp_path, url)
    assert "s3cret" not in run.out + run.err


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("foo", "--url: the database URL given is not a URL: write it as postgresql://"),
        (
            "postgresql+psycopg2://postgres@127.0.0.1/fleet",
            "the 'psycopg2' driver is not supported; write postgresql://",
        ),
        ("mysql://root@127.0.0.1/fleet", "stores into PostgreSQL or SQLite, not 'mysql'"),
    ],
)
def test_a_bad_url_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    assert_one_line_error(cli(capsys, "--url", url, "peers"), message)
    assert_one_line_error(cli(capsys, "push", tmp_path, url), message.replace("--url", "URL"))


def test_postgres_and_postgresql_urls_mean_psycopg(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database_url: str | None
) -> None:
    if database_url is None:
        pytest.skip("a PostgreSQL URL's spelling")
    plain = database_url.replace("postgresql+psycopg://", "postgresql://")
    peer = Peer("galbot", "app").with_storage_root(tmp_path).with_storage_url(plain)
    peer.register_frame("base_link", FrameDef.ros_body())
    end_process()
    for scheme in ("postgres://", "postgresql://"):
        run = cli(capsys, "--url", database_url.replace("postgresql+psycopg://", scheme), "peers")
        assert run.code == 0, run.err
        assert "galbot" in run.out


def test_a_missing_driver_names_the_extra_to_install(tmp_path: Path) -> None:
    program = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from auki_session._cli import main\n"
        "sys.exit(main(['--url', 'postgresql://postgres@127.0.0.1/fleet', 'peers']))\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, env=environment, check=False
    )
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "auki-session: error: --url: database URL postgresql://postgres@127.0.0.1/fleet: the "
        "psycopg driver is not installed: pip install 'auki-session[postgresql]'\n"
    )


def test_with_storage_url_refuses_a_url_that_cannot_work() -> None:
    with pytest.raises(auki_session.ConfigurationError, match="not 'mysql'"):
        Peer("galbot", "app").with_storage_url("mysql://root@127.0.0.1/fleet")


# --- messages -----------------------------------------------------------------------------------


def test_a_storage_root_that_is_a_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "root"
    path.write_bytes(b"notes")
    peer = Peer("galbot", "app").with_storage_root(path)
    with pytest.raises(StoreError) as raised:
        peer.register_frame("base_link", FrameDef.ros_body())
    assert str(raised.value) == (
        f"storage root {path} is a file, not a directory: choose another storage root, or "
        "move the file away"
    )
    assert path.read_bytes() == b"notes"


def test_a_database_name_taken_by_a_directory_says_so(tmp_path: Path) -> None:
    (tmp_path / "auki_session.db").mkdir()
    peer = Peer("galbot", "app").with_storage_root(tmp_path)
    with pytest.raises(StoreError, match=r"auki_session\.db is a directory, not a database file"):
        peer.register_frame("base_link", FrameDef.ros_body())


def test_a_read_only_root_says_so_and_how_to_read_it(tmp_path: Path) -> None:
    """Root ignores permission bits, so as root the registration runs as `nobody`."""
    top = Path(tempfile.mkdtemp(prefix="auki-ro-"))  # under /tmp: nobody can reach it
    try:
        root = top / "store"
        root.mkdir()
        top.chmod(0o755)
        root.chmod(0o555)
        script = (
            "import sys\nfrom auki_session import FrameDef, Peer, StoreError\n"
            "peer = Peer('galbot', 'app').with_storage_root(sys.argv[1])\n"
            "try:\n    peer.register_frame('base_link', FrameDef.ros_body())\n"
            "except StoreError as error:\n    print('refused:', error)\n"
        )
        prefix = (
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            if os.geteuid() == 0
            else []
        )
        done = subprocess.run(
            [*prefix, sys.executable, "-c", script, str(root)],
            capture_output=True,
            text=True,
            cwd=top,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("refused:") and "the storage root is not writable" in (
            done.stdout
        ), done.stdout
        assert list(root.iterdir()) == []
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_export_into_a_file_says_the_destination_is_a_file(
    api: ApiStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out"
    target.write_bytes(b"keep")
    run = cli(capsys, "--root", api.root, "export", target)
    assert_one_line_error(
        run, f"export destination {target} is a file, not a directory: give a new directory"
    )
    assert target.read_bytes() == b"keep"


# --- version ------------------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "--version")
    assert (run.code, run.out) == (0, f"auki-session {auki_session.__version__}\n")
    assert auki_session.__version__ == "0.1.0"


# --- options shown but ignored ------------------------------------------------------------------


def test_push_takes_root_and_url_as_options(
    api: ApiStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    run = cli(capsys, "push", "--root", api.root, "--url", url)
    assert run.code == 0, run.err
    peers = cli(capsys, "--url", url, "--json", "peers").json()
    assert [p["peer_id"] for p in peers] == ["galbot", "spot"]


def test_push_refuses_a_root_given_twice_differently(
    api: ApiStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    run = cli(capsys, "push", "--root", tmp_path / "other", api.root, url)
    assert_one_line_error(run, "--root", "and ROOT", "disagree: give it once")
    assert not (tmp_path / "fleet.db").exists()
    assert_one_line_error(cli(capsys, "push", api.root), "push needs URL")


def test_demo_refuses_two_different_roots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(capsys, "demo", "--root", tmp_path / "a", tmp_path / "b")
    assert_one_line_error(run, "disagree: give it once")
    assert list(tmp_path.iterdir()) == []


def test_demo_refuses_a_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = cli(capsys, "--url", f"sqlite:///{tmp_path / 'fleet.db'}", "demo")
    assert_one_line_error(run, "demo writes a SQLite store under a storage root and takes no --url")
    assert not (tmp_path / DEMO_ROOT).exists()
    assert list(tmp_path.iterdir()) == []


def test_summary_and_session_of_a_url_do_not_claim_the_working_directory(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(api.root)
    url = f"sqlite:///{api.root / 'auki_session.db'}"
    summary: Run = cli(capsys, "--url", url, "summary")
    assert summary.code == 0
    assert "storage root" not in summary.out
    assert cli(capsys, "--url", url, "--json", "summary").json()["root"] is None
    session = cli(capsys, "--url", url, "session", api.session_id)
    assert (
        f"logs in  {api.session_id}/logs/galbot/<resource>/ under the storage root of galbot"
        in (session.out)
    )
    with_root = cli(capsys, "--url", url, "--root", api.root, "session", api.session_id)
    assert f"logs in  {api.root.resolve()}/{api.session_id}/logs/galbot/" in with_root.out
    assert snapshot(api.root) == before


# --- output formats -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["peers"], ["entries"], ["history"], ["sessions"]])
def test_format_json_is_the_json_shortcut(
    api: ApiStore, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    as_format = cli(capsys, "--root", api.root, *command, "--format", "json")
    assert as_format.code == 0
    assert as_format.json() == cli(capsys, "--root", api.root, "--json", *command).json()
    table = cli(capsys, "--root", api.root, *command, "--format", "table")
    assert table.out == cli(capsys, "--root", api.root, *command).out


def test_format_csv_has_a_row_per_item_and_json_cells_for_nested_values(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions = cli(capsys, "--root", api.root, "--json", "sessions").json()
    run = cli(capsys, "--root", api.root, "sessions", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert [row["session_id"] for row in rows] == [s["session_id"] for s in sessions]
    assert rows[0]["clocks"] == str(sessions[0]["clocks"])
    peers = list(
        csv.DictReader(io.StringIO(cli(capsys, "--root", api.root, "peers", "--format", "csv").out))
    )
    assert json.loads(peers[0]["app_ids"]) == ["galbot-ctrl", "galbot-vision"]
    uses = cli(capsys, "--root", api.root, "uses", api.versions["v1"], "--format", "csv")
    assert next(csv.DictReader(io.StringIO(uses.out)))["resource_id"] == api.resource_id


def test_json_and_another_format_disagree(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(capsys, "--root", api.root, "--json", "sessions", "--format", "csv")
    assert_one_line_error(run, "--json and --format csv disagree")


def test_a_hash_that_disagrees_with_peer_or_kind_is_not_found(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = api.versions["v1"][:8]
    for argv in (
        ("history", "--peer", "nobody", prefix),
        ("history", "--kind", "frame", prefix),
        ("show", "--peer", "nobody", prefix),
    ):
        run = cli(capsys, "--root", api.root, *argv)
        assert run.code != 0 and run.out == "", argv
        assert api.versions["v1"] in run.err and "drop --peer or --kind" in run.err


def test_import_takes_no_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "--url", "postgresql://u@h/db", "import", tmp_path)
    assert_one_line_error(run, "import writes the root's SQLite store and takes no --url")
    assert list(tmp_path.iterdir()) == []


def test_a_session_prefix_with_peer_looks_among_that_peers_sessions_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alpha = Peer("alpha", "app").with_storage_root(tmp_path)
    for _ in range(12):  # more than a prefix lookup lists
        alpha.start_session()
    mine = Peer("beta", "app").with_storage_root(tmp_path).start_session().session_id
    end_process()
    prefix = mine[:4]  # shared with alpha's sessions, started in the same second
    run = cli(capsys, "--root", tmp_path, "--json", "session", "--peer", "beta", prefix)
    assert run.code == 0, run.err
    assert json.loads(run.out)["session"]["session_id"] == mine
    other = Peer("alpha", "app").with_storage_root(tmp_path).sessions()[0].session_id
    end_process()
    run = cli(capsys, "--root", tmp_path, "session", "--peer", "beta", other)
    assert run.code != 0 and "no session" in run.err
