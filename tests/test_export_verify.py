"""`auki-session export` writes the Rust SDK's file layout byte for byte; `verify` recomputes
every hash, checks the manifests on disk and runs SQLite's own checks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import xxhash

from auki_session import FrameDef, Peer, content_hash
from auki_session._domain.layout import JOURNAL_DIR
from tests.conftest import end_process
from tests.test_cli import ApiStore, Run, assert_one_line_error, cli, make_api_store

KINDS = ("frame", "sensor", "detector", "clock")


@pytest.fixture
def api(tmp_path: Path) -> ApiStore:
    return make_api_store(tmp_path / "api")


def stored_rows(root: Path) -> list[tuple[str, str, str, str]]:
    connection = sqlite3.connect(root / "auki_session.db")
    try:
        return connection.execute(
            "SELECT kind, peer_id, entry_id, hash, canonical_json FROM entries"
        ).fetchall()
    finally:
        connection.close()


def stored_logs(root: Path) -> list[tuple[str, str, str, str]]:
    connection = sqlite3.connect(root / "auki_session.db")
    try:
        return connection.execute(
            "SELECT l.session_id, s.peer_id, l.resource_id, l.manifest_json "
            "FROM logs AS l JOIN sessions AS s USING (session_id)"
        ).fetchall()
    finally:
        connection.close()


def tamper(root: Path, *statements: str) -> None:
    """Change the database behind the store's back (foreign keys off, as a bad tool would)."""
    connection = sqlite3.connect(root / "auki_session.db", isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys = OFF")
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


# --- export -------------------------------------------------------------------------------------


def test_export_writes_every_version_as_kind_peer_id_hash_json(
    api: ApiStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "out"
    run = cli(capsys, "--root", api.root, "export", dest)
    assert run.code == 0, run.err
    rows = stored_rows(api.root)
    expected = set()
    for kind, peer_id, entry_id, entry_hash, canonical in rows:
        path = dest / "registries" / f"{kind}s" / peer_id / entry_id.replace("/", "__")
        path = path / f"{entry_hash}.json"
        expected.add(str(path.relative_to(dest)))
        data = path.read_bytes()
        assert data == canonical.encode()
        assert not data.endswith(b"\n")
    registries = {name for name in files_under(dest) if name.startswith("registries/")}
    assert registries == expected
    assert {name.split("/")[1] for name in registries} == {f"{kind}s" for kind in KINDS}


def test_exported_entries_hash_to_their_file_names(
    api: ApiStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "out"
    assert cli(capsys, "--root", api.root, "export", dest).code == 0
    exported = sorted((dest / "registries").rglob("*.json"))
    assert len(exported) == len(stored_rows(api.root))
    for path in exported:
        data = path.read_bytes()
        assert content_hash(data) == path.stem
        assert xxhash.xxh3_128_hexdigest(data) == path.stem
        assert json.loads(data)["peer_id"] == path.parent.parent.name


def test_export_keeps_every_version_of_an_id(
    api: ApiStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "out"
    assert cli(capsys, "--root", api.root, "export", dest).code == 0
    versions = dest / "registries" / "sensors" / "galbot" / "head__left_rgb"
    assert sorted(p.stem for p in versions.iterdir()) == sorted(api.versions.values())


def test_export_reproduces_the_rust_sdk_frame_vector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "vector"
    peer = Peer("test-peer", "app").with_storage_root(root)
    peer.register_frame("K1-AABBCCDDEEFF/base_link", FrameDef.ros_body())
    end_process()
    dest = tmp_path / "out"
    assert cli(capsys, "--root", root, "export", dest).code == 0
    path = dest / "registries/frames/test-peer/K1-AABBCCDDEEFF__base_link"
    path = path / "476d36916dd2c96f09ea57304d0da334.json"
    assert path.read_bytes() == (
        b'{"axes":{"x":"forward","y":"left","z":"up"},"frame_id":"K1-AABBCCDDEEFF/base_link",'
        b'"handedness":"right","peer_id":"test-peer","units":"meters"}'
    )


def test_export_writes_each_manifest_where_the_store_keeps_it(
    api: ApiStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "out"
    assert cli(capsys, "--root", api.root, "export", dest).code == 0
    logs = stored_logs(api.root)
    assert len(logs) == 1
    for session_id, peer_id, resource_id, manifest in logs:
        relative = Path(session_id, "logs", peer_id, *resource_id.split("/"), "manifest.json")
        assert (dest / relative).read_bytes() == manifest.encode()
        assert (dest / relative).read_bytes() == (api.root / relative).read_bytes()
    manifests = {name for name in files_under(dest) if not name.startswith("registries/")}
    assert manifests == {f"{api.session_id}/logs/galbot/head/left_rgb/manifest.json"}


def test_export_reports_counts_and_keeps_identical_files(
    api: ApiStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "out"
    first = cli(capsys, "--root", api.root, "--json", "export", dest).json()
    total = len(stored_rows(api.root)) + 1
    assert first == {
        "dest": str(dest),
        "entries": total - 1,
        "manifests": 1,
        "written": total,
        "unchanged": 0,
    }
    again = cli(capsys, "--root", api.root, "--json", "export", dest).json()
    assert (again["written"], again["unchanged"]) == (0, total)
    human = cli(capsys, "--root", api.root, "export", dest).out
    assert f"exported {total - 1} entry versions and 1 log manifests to {dest}" in human


def test_export_refuses_to_overwrite_a_differing_file_and_writes_nothing(
    api: ApiStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "out"
    assert cli(capsys, "--root", api.root, "export", dest).code == 0
    victim = next((dest / "registries" / "frames").rglob("*.json"))
    victim.write_bytes(victim.read_bytes() + b"\n")
    missing = next((dest / "registries" / "sensors").rglob("*.json"))
    missing.unlink()
    run = cli(capsys, "--root", api.root, "export", dest)
    assert_one_line_error(run, str(victim), "refusing to overwrite")
    assert victim.read_bytes().endswith(b"\n")
    assert not missing.exists()


def test_export_of_a_store_with_a_broken_hash_is_refused(
    api: ApiStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(api.root, "UPDATE entries SET canonical_json = replace(canonical_json, '544', '545')")
    run = cli(capsys, "--root", api.root, "export", tmp_path / "out")
    assert_one_line_error(run, "does not match its canonical JSON", "verify")
    assert not (tmp_path / "out").exists()


# --- verify -------------------------------------------------------------------------------------


def verify(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[Run, dict[str, object]]:
    human = cli(capsys, "--root", root, "verify")
    value = cli(capsys, "--root", root, "--json", "verify").json()
    return human, value


def checks(value: dict[str, object]) -> set[str]:
    problems = value["problems"]
    assert isinstance(problems, list)
    return {problem["check"] for problem in problems}


def test_verify_passes_a_sound_store_with_a_short_summary(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    human, value = verify(capsys, api.root)
    assert human.code == 0 and human.err == ""
    assert human.out.splitlines()[0] == f"OK  {api.root}"
    assert f"{len(stored_rows(api.root))} entry versions" in human.out
    assert value["ok"] is True
    assert value["problems"] == [] and value["warnings"] == []
    assert (value["entries"], value["logs"]) == (len(stored_rows(api.root)), 1)


def test_verify_finds_an_entry_whose_json_no_longer_matches_its_hash(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(
        api.root,
        "UPDATE entries SET canonical_json = replace(canonical_json, '\"meters\"', '\"feet\"') "
        "WHERE entry_id = 'base_link'",
    )
    human, value = verify(capsys, api.root)
    assert human.code == 1
    # The registry mirror's file still holds the registered bytes: it differs too.
    assert human.err == "auki-session: error: verify found 2 problems\n"
    assert "[hash] frame galbot/base_link@" in human.out
    assert checks(value) == {"hash", "mirror"}


def test_verify_finds_json_that_is_not_canonical(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    (hash_, text) = next((row[3], row[4]) for row in stored_rows(api.root) if row[2] == "tags")
    pretty = json.dumps(json.loads(text), indent=1)
    new_hash = content_hash(pretty.encode())
    tamper(
        api.root,
        f"UPDATE entries SET canonical_json = '{pretty}', hash = '{new_hash}' "
        f"WHERE hash = '{hash_}'",
        f"UPDATE heads SET hash = '{new_hash}' WHERE hash = '{hash_}'",
    )
    human, value = verify(capsys, api.root)
    assert human.code == 1
    assert checks(value) == {"canonical", "mirror"}  # its mirror file is the canonical one
    assert "not in canonical form" in human.out


def test_verify_finds_json_naming_another_id(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(api.root, "UPDATE entries SET entry_id = 'renamed' WHERE entry_id = 'tags'")
    human, value = verify(capsys, api.root)
    assert human.code == 1
    assert {"identity", "head"} <= checks(value)
    assert "detector_id='tags', row has 'renamed'" in human.out


def test_verify_finds_a_manifest_that_differs_on_disk(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = api.root / api.session_id / "logs/galbot/head/left_rgb/manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b"galbot-ctrl", b"galbot-ctrX"))
    human, value = verify(capsys, api.root)
    assert human.code == 1
    assert checks(value) == {"manifest"}
    assert f"{manifest}: differs from the database's manifest_json" in human.out


def test_verify_finds_a_missing_manifest(api: ApiStore, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = api.root / api.session_id / "logs/galbot/head/left_rgb/manifest.json"
    manifest.unlink()
    human, value = verify(capsys, api.root)
    assert human.code == 1
    assert checks(value) == {"manifest"}
    assert f"{manifest}: missing on disk" in human.out


def test_verify_finds_a_manifest_with_no_log(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    ghost = api.root / api.session_id / "logs" / "galbot" / "ghost" / "deep"
    ghost.mkdir(parents=True)
    (ghost / "manifest.json").write_bytes(b"{}")
    human, value = verify(capsys, api.root)
    assert human.code == 1
    assert checks(value) == {"orphan"}
    assert f"{ghost / 'manifest.json'}: manifest on disk has no log row" in human.out


def test_verify_warns_about_an_unfinished_transaction_journal(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = api.root / JOURNAL_DIR / "123-abc.json"
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_text("[]")
    human, value = verify(capsys, api.root)
    assert human.code == 0
    assert human.out.startswith("warning: 1 transaction journal(s)")
    assert value["ok"] is True and len(value["warnings"]) == 1  # type: ignore[arg-type]
    assert journal.exists()


def test_verify_finds_rows_whose_foreign_keys_dangle(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(api.root, "DELETE FROM peers WHERE peer_id = 'spot'")
    human, value = verify(capsys, api.root)
    assert human.code == 1
    assert checks(value) == {"foreign_key"}
    assert "names a missing peers row" in human.out
    assert "heads: 1 row names a missing peers row" in human.out  # a WITHOUT ROWID table
    assert "None" not in human.out


def test_verify_finds_a_current_version_filed_under_another_id(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(
        api.root,
        "UPDATE heads SET hash = (SELECT hash FROM entries WHERE entry_id = 'tags') "
        "WHERE entry_id = 'base_link'",
    )
    human, value = verify(capsys, api.root)
    assert human.code == 1
    assert checks(value) == {"head"}
    assert "current frame 'base_link' of peer 'galbot'" in human.out


def test_verify_runs_sqlite_integrity_check(
    api: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """An index page that disagrees with its table: queries still work, the check does not."""
    db = api.root / "auki_session.db"
    connection = sqlite3.connect(db)
    (root_page,) = connection.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'ix_entries_peer_id_kind_entry_id_id'"
    ).fetchone()
    (page_size,) = connection.execute("PRAGMA page_size").fetchone()
    connection.close()
    data = bytearray(db.read_bytes())
    page = slice((root_page - 1) * page_size, root_page * page_size)
    assert b"base_link" in data[page]
    data[page] = bytes(data[page]).replace(b"base_link", b"base_lin!")
    db.write_bytes(bytes(data))
    human, value = verify(capsys, api.root)
    assert human.code == 1
    assert "integrity" in checks(value)
    assert "[integrity] integrity_check:" in human.out
