"""No robot can touch another robot's records in the fleet: each trust defect an audit found,
reproduced with a hostile store built through SQL, pushed, and the victim's records unchanged,
the refusal reported, exit 1 (on a SQLite fleet and on the real PostgreSQL server)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from auki_session import FrameDef, Peer, Wallet, canonical_json, content_hash
from auki_session._cli import main
from tests.conftest import camera_body, end_process, make_robot


def fleet_rows(url: str, sql: str, **params: object) -> list[tuple[Any, ...]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def current(url: str, peer_id: str, kind: str, entry_id: str) -> str | None:
    rows = fleet_rows(
        url,
        "SELECT hash FROM heads WHERE peer_id = :p AND kind = :k AND entry_id = :i",
        p=peer_id,
        k=kind,
        i=entry_id,
    )
    return rows[0][0] if rows else None


def push(root: Path, url: str, *extra: str) -> int:
    end_process()
    return main(["push", str(root), url, *extra])


def store(root: Path) -> sqlite3.Connection:
    end_process()
    return sqlite3.connect(root / "auki_session.db", isolation_level=None)


def forge_entry(
    connection: sqlite3.Connection,
    kind: str,
    peer_id: str,
    entry_id: str,
    body: dict[str, Any],
    *,
    row_peer: str | None = None,
) -> str:
    """A correctly hashed entry naming `peer_id` in its JSON, written straight into a store
    (its row's peer column `row_peer`, by default the same)."""
    id_key = {"frame": "frame_id", "sensor": "sensor_id", "detector": "detector_id"}[kind]
    value = {**body, "peer_id": peer_id, id_key: entry_id}
    data = canonical_json(value)
    digest = content_hash(value)
    connection.execute(
        "INSERT OR IGNORE INTO peers VALUES (?, '2026-01-01T00:00:00.000000Z')",
        (row_peer or peer_id,),
    )
    connection.execute(
        "INSERT INTO entries (hash, kind, peer_id, entry_id, session_id, canonical_json, "
        "registered_at) VALUES (?, ?, ?, ?, NULL, ?, '2026-01-01T00:00:00.000000Z')",
        (digest, kind, row_peer or peer_id, entry_id, data.decode()),
    )
    return digest


FRAME = {"axes": {"x": "forward", "y": "left", "z": "up"}, "handedness": "right", "units": "m"}


def test_a_forged_current_version_never_replaces_the_owners(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    robot_a = make_robot(tmp_path / "a", "robot-a")
    owners = robot_a.current("frame", "link_0").hash
    make_robot(tmp_path / "b", "robot-b")
    assert push(tmp_path / "a", fleet_url) == 0
    hostile = store(tmp_path / "b")
    forged = forge_entry(hostile, "frame", "robot-a", "link_0", FRAME)
    hostile.execute(
        "INSERT INTO heads VALUES ('robot-a', 'frame', 'link_0', ?, '9999-12-31T00:00:00Z', "
        "NULL, 999999)",
        (forged,),
    )
    hostile.close()
    capsys.readouterr()
    assert push(tmp_path / "b", fleet_url) == 1
    out = capsys.readouterr().out
    assert "robot-a is bound to another store" in out and "--rebind robot-a" in out
    assert current(fleet_url, "robot-a", "frame", "link_0") == owners
    assert not fleet_rows(fleet_url, "SELECT 1 FROM entries WHERE hash = :h", h=forged)
    # B's own records landed: a refusal is per peer, the rest goes in.
    assert current(fleet_url, "robot-b", "frame", "link_0") is not None
    # A's later changes still win.
    newer = robot_a.register_frame("link_0", FrameDef.ros_optical())
    assert push(tmp_path / "a", fleet_url) == 0
    assert current(fleet_url, "robot-a", "frame", "link_0") == newer.hash
    end_process()
    assert main(["--url", fleet_url, "verify"]) == 0


def test_a_squatter_that_pushes_first_is_undone_only_by_an_explicit_rebind(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    robot_a = make_robot(tmp_path / "a", "robot-a")
    owners = robot_a.current("frame", "link_0").hash
    make_robot(tmp_path / "b", "robot-b")
    hostile = store(tmp_path / "b")
    forged = forge_entry(hostile, "frame", "robot-a", "link_0", FRAME)
    hostile.execute(
        "INSERT INTO heads VALUES ('robot-a', 'frame', 'link_0', ?, '9999-12-31T00:00:00Z', "
        "NULL, 999999)",
        (forged,),
    )
    hostile.close()
    assert push(tmp_path / "b", fleet_url) == 0  # the first store to push robot-a binds it
    capsys.readouterr()
    assert push(tmp_path / "a", fleet_url) == 1
    assert "robot-a is bound to another store" in capsys.readouterr().out
    assert current(fleet_url, "robot-a", "frame", "link_0") == forged
    assert push(tmp_path / "a", fleet_url, "--rebind", "robot-a", "--by", "ops-alice") == 0
    assert "rebound robot-a" in capsys.readouterr().out
    assert current(fleet_url, "robot-a", "frame", "link_0") == owners
    ((old, new, by, at),) = fleet_rows(
        fleet_url,
        "SELECT old_store_digest, new_store_digest, rebound_by, rebound_at FROM fleet_rebinds",
    )
    assert old != new and by == "ops-alice" and at.endswith("Z")
    # Now B is the stranger: its forged pointer is refused again.
    assert push(tmp_path / "b", fleet_url) == 1
    assert current(fleet_url, "robot-a", "frame", "link_0") == owners


def test_a_clock_reset_does_not_keep_an_old_version_current(tmp_path: Path, fleet_url: str) -> None:
    robot = make_robot(tmp_path / "a", "robot-a")
    assert push(tmp_path / "a", fleet_url) == 0
    newer = robot.register_frame("link_0", FrameDef.ros_optical())
    connection = store(tmp_path / "a")
    connection.execute("UPDATE heads SET updated_at = '1970-01-01T00:00:00.000000Z'")
    connection.close()
    assert push(tmp_path / "a", fleet_url) == 0
    assert current(fleet_url, "robot-a", "frame", "link_0") == newer.hash


def test_a_squatted_session_id_is_a_reported_conflict_never_a_silent_merge(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    robot_a = make_robot(tmp_path / "a", "robot-a")
    (session,) = robot_a.sessions()
    make_robot(tmp_path / "b", "robot-b")
    hostile = store(tmp_path / "b")
    hostile.execute(
        "INSERT INTO sessions VALUES (?, 'robot-b', 'robot-app', '2020-01-01T00:00:00Z', NULL)",
        (session.session_id,),
    )
    hostile.close()
    assert push(tmp_path / "b", fleet_url) == 0
    capsys.readouterr()
    assert push(tmp_path / "a", fleet_url) == 1
    out = capsys.readouterr().out
    assert f"session {session.session_id} of robot-a" in out and "conflict" in out
    # Nothing of A's session is attributed to robot-b: its clocks and logs were refused.
    assert not fleet_rows(
        fleet_url, "SELECT 1 FROM clocks WHERE session_id = :s", s=session.session_id
    )
    assert not fleet_rows(
        fleet_url, "SELECT 1 FROM logs WHERE session_id = :s", s=session.session_id
    )
    assert not fleet_rows(
        fleet_url,
        "SELECT 1 FROM entries WHERE session_id = :s AND peer_id = 'robot-a'",
        s=session.session_id,
    )
    # A's other records landed.
    assert current(fleet_url, "robot-a", "frame", "link_0") is not None


def test_a_session_pushed_first_by_its_owner_cannot_be_taken(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    robot_a = make_robot(tmp_path / "a", "robot-a")
    (session,) = robot_a.sessions()
    assert push(tmp_path / "a", fleet_url) == 0
    before = fleet_rows(fleet_url, "SELECT * FROM sessions ORDER BY session_id")
    make_robot(tmp_path / "b", "robot-b")
    hostile = store(tmp_path / "b")
    hostile.execute(
        "INSERT INTO sessions VALUES (?, 'robot-b', 'robot-app', '2020-01-01T00:00:00Z', NULL)",
        (session.session_id,),
    )
    hostile.close()
    capsys.readouterr()
    assert push(tmp_path / "b", fleet_url) == 1
    assert "conflict" in capsys.readouterr().out
    after = fleet_rows(fleet_url, "SELECT * FROM sessions WHERE peer_id = 'robot-a'")
    assert [row for row in before if row[1] == "robot-a"] == after


def test_a_refused_log_adds_no_references(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    robot = make_robot(tmp_path / "a", "robot-a")
    assert push(tmp_path / "a", fleet_url) == 0
    every_ref = "SELECT role, peer_id, entry_id, hash FROM log_refs ORDER BY role"
    refs = fleet_rows(fleet_url, every_ref)
    other = robot.register_frame("extra", FrameDef.ros_body())
    connection = store(tmp_path / "a")
    (manifest,) = connection.execute("SELECT manifest_json FROM logs").fetchone()
    changed = json.loads(manifest)
    changed["frame"] = {"peer_id": "robot-a", "id": "extra", "hash": other.hash}
    connection.execute("UPDATE logs SET manifest_json = ?", (canonical_json(changed).decode(),))
    connection.execute(
        "INSERT INTO log_refs VALUES ((SELECT id FROM logs), 'frame', 'robot-a', 'extra', ?)",
        (other.hash,),
    )
    connection.close()
    capsys.readouterr()
    # A store only ever appends: --full re-reads rows pushed before, as a rewritten one needs.
    assert push(tmp_path / "a", fleet_url, "--full") == 1
    assert "different manifest" in capsys.readouterr().out
    assert (
        fleet_rows(fleet_url, "SELECT role, peer_id, entry_id, hash FROM log_refs ORDER BY role")
        == refs
    )


def test_refs_that_are_not_the_manifests_are_refused(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    robot = make_robot(tmp_path / "a", "robot-a")
    other = robot.register_frame("extra", FrameDef.ros_body())
    connection = store(tmp_path / "a")
    connection.execute(
        "INSERT INTO log_refs VALUES ((SELECT id FROM logs), 'frame', 'robot-a', 'extra', ?)",
        (other.hash,),
    )
    connection.close()
    assert push(tmp_path / "a", fleet_url) == 1
    assert "not the ones its manifest names" in capsys.readouterr().out
    assert not fleet_rows(fleet_url, "SELECT 1 FROM logs")
    assert not fleet_rows(fleet_url, "SELECT 1 FROM log_refs")


def test_an_entry_whose_columns_disagree_with_its_json_is_refused(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_robot(tmp_path / "b", "robot-b")
    hostile = store(tmp_path / "b")
    # JSON says robot-a, the row says robot-b: attribution by column would be a forgery.
    forged = forge_entry(hostile, "frame", "robot-a", "link_9", FRAME, row_peer="robot-b")
    hostile.close()
    assert push(tmp_path / "b", fleet_url) == 1
    out = capsys.readouterr().out
    assert f"frame link_9@{forged} of robot-b: corrupt entry: JSON has peer_id='robot-a'" in out
    assert not fleet_rows(fleet_url, "SELECT 1 FROM entries WHERE hash = :h", h=forged)
    assert current(fleet_url, "robot-b", "frame", "link_0") is not None


def test_one_bad_row_does_not_abort_the_push(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_robot(tmp_path / "b", "robot-b")
    hostile = store(tmp_path / "b")
    nul = forge_entry(hostile, "frame", "robot-b", "bad\x00id", FRAME)
    hostile.execute("PRAGMA foreign_keys = OFF")
    value = {**FRAME, "peer_id": "robot-b", "frame_id": "orphan", "units": "mm"}
    hostile.execute(
        "INSERT INTO entries (hash, kind, peer_id, entry_id, session_id, canonical_json, "
        "registered_at) VALUES (?, 'clock', 'robot-b', 'orphan', 'NO-SUCH-SESSION', ?, "
        "'2026-01-01T00:00:00.000000Z')",
        (content_hash(value), canonical_json(value).decode()),
    )
    hostile.close()
    capsys.readouterr()
    assert push(tmp_path / "b", fleet_url) == 1
    out = capsys.readouterr().out
    assert "NUL character" in out and "orphan" in out
    assert not fleet_rows(fleet_url, "SELECT 1 FROM entries WHERE hash = :h", h=nul)
    entries = fleet_rows(fleet_url, "SELECT count(*) FROM entries")[0][0]
    assert entries >= 6  # the frames, the camera and the session's clocks landed
    assert fleet_rows(fleet_url, "SELECT count(*) FROM logs")[0][0] == 1


def test_signed_records_come_in_from_any_store_and_unsigned_never_replace_them(
    tmp_path: Path, fleet_url: str
) -> None:
    wallet = Wallet.from_seed(bytes([9]) * 32)
    robot = Peer.from_wallet(wallet, "ctrl").with_storage_root(tmp_path / "a")
    signed = robot.register_frame("f", FrameDef.ros_body())
    peer_id = robot.peer_id
    # A copy of the robot's records in another store (say, a laptop's) is still signed.
    end_process()
    (tmp_path / "copy").mkdir()
    source = sqlite3.connect(tmp_path / "a" / "auki_session.db")
    source.execute(f"VACUUM INTO '{tmp_path / 'copy' / 'auki_session.db'}'")
    source.close()
    copy = store(tmp_path / "copy")
    copy.execute("UPDATE store_identity SET store_id = 'another-store'")
    copy.close()
    assert push(tmp_path / "copy", fleet_url) == 0
    assert current(fleet_url, peer_id, "frame", "f") == signed.hash
    # An unsigned pointer with a higher sequence from the bound store: still refused over a
    # signed one, even where unsigned records are allowed.
    unsigned = store(tmp_path / "copy")
    forged = forge_entry(unsigned, "frame", peer_id, "f", FRAME)
    unsigned.execute(
        "UPDATE heads SET hash = ?, signature = NULL, sequence = 99 WHERE entry_id = 'f'",
        (forged,),
    )
    unsigned.close()
    assert push(tmp_path / "copy", fleet_url, "--allow-unsigned") == 0
    assert current(fleet_url, peer_id, "frame", "f") == signed.hash


def test_peers_show_how_authority_was_established(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_robot(tmp_path / "a", "robot-a")
    wallet = Wallet.from_seed(bytes([4]) * 32)
    keyed = Peer.from_wallet(wallet, "ctrl").with_storage_root(tmp_path / "k")
    keyed.register_sensor("cam", camera_body(keyed.register_frame("f", FrameDef.ros_body())))
    assert push(tmp_path / "a", fleet_url) == 0
    assert push(tmp_path / "k", fleet_url) == 0
    capsys.readouterr()
    assert main(["--url", fleet_url, "--json", "peers"]) == 0
    peers = {p["peer_id"]: p for p in json.loads(capsys.readouterr().out)}
    assert peers["robot-a"]["authority"] == "store"
    assert peers[keyed.peer_id]["authority"] == "signature"
    assert all(p["last_push_at"].endswith("Z") for p in peers.values())
    assert main(["--url", fleet_url, "peers"]) == 0
    assert "signature" in capsys.readouterr().out


def test_verify_url_checks_ownership_and_order(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_robot(tmp_path / "a", "robot-a")
    make_robot(tmp_path / "b", "robot-b")
    assert push(tmp_path / "a", fleet_url) == 0
    assert push(tmp_path / "b", fleet_url) == 0
    assert main(["--url", fleet_url, "verify"]) == 0
    engine = create_engine(fleet_url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text("UPDATE heads SET sequence = NULL WHERE entry_id = 'link_1'"))
        # A clock version of robot-b's filed in a session of robot-a's (by hand, in the fleet).
        connection.execute(
            text(
                "UPDATE entries SET session_id = (SELECT session_id FROM sessions WHERE "
                "peer_id = 'robot-a') WHERE kind = 'clock' AND peer_id = 'robot-b' AND "
                "entry_id LIKE '%monotonic'"
            )
        )
    engine.dispose()
    capsys.readouterr()
    assert main(["--url", fleet_url, "verify"]) == 1
    out = capsys.readouterr().out
    assert "'link_1' of 'robot-a' has no sequence number" in out
    assert "of peer 'robot-b'" in out and "is filed in a session of peer 'robot-a'" in out


def test_text_that_is_not_utf8_refuses_its_row_and_the_rest_lands(
    tmp_path: Path, fleet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_robot(tmp_path / "b", "robot-b")
    hostile = store(tmp_path / "b")
    # A damaged row: bytes that are not UTF-8 stored as text (SQLite does not check).
    hostile.execute(
        "INSERT INTO entries (hash, kind, peer_id, entry_id, session_id, canonical_json, "
        "registered_at) VALUES ('00000000000000000000000000000000', 'frame', 'robot-b', "
        "'bad', NULL, CAST(X'7B22FF227D' AS TEXT), '2026-01-01T00:00:00.000000Z')"
    )
    hostile.close()
    capsys.readouterr()
    assert push(tmp_path / "b", fleet_url) == 1
    out = capsys.readouterr().out
    assert "frame bad@00000000000000000000000000000000 of robot-b" in out
    assert "not valid UTF-8" in out
    assert current(fleet_url, "robot-b", "frame", "link_0") is not None
    assert fleet_rows(fleet_url, "SELECT count(*) FROM logs")[0][0] == 1
