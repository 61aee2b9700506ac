"""Signed declarations (SPEC 8): a peer made from a wallet signs every record it writes, anyone
verifies from the peer id alone, and every tampering `verify` can see is reported."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from auki_session import (
    ConfigurationError,
    FrameDef,
    HeadSpec,
    Peer,
    SensorLogSpec,
    StoreError,
    Wallet,
    canonical_json,
    verify,
)
from auki_session._store.push import PushOptions, push_store
from tests.conftest import camera_body, end_process
from tests.test_cli import cli

SEED = bytes([3]) * 32
PEER_ID = "12D3KooWAvnEo4RaYZtqt2w83qzmQ7WVW2HhN2cay95EXAiVKcar"


def robot(root: Path) -> dict[str, Any]:
    """A signed robot: two frames (one re-registered), a camera, a session with a log."""
    peer = Peer.from_wallet(Wallet.from_seed(SEED), "ctrl").with_storage_root(root)
    base = peer.register_frame("base", FrameDef.ros_body())
    peer.register_frame("base", FrameDef.unity())
    optical = peer.register_frame("optical", FrameDef.ros_optical())
    with peer.transaction():
        camera = peer.register_sensor("cam", camera_body(optical))
        peer.register_frame("extra", FrameDef.opengl())
    session = peer.start_session()
    log = session.register_sensor_log(
        SensorLogSpec(camera, session.monotonic_clock, HeadSpec.fixed(), 10**9, 0)
    )
    end_process()
    return {"peer": peer, "base": base, "camera": camera, "session": session, "log": log}


def verify_json(capsys: pytest.CaptureFixture[str], root: Path, *flags: str) -> dict[str, Any]:
    run = cli(capsys, "--root", root, "--json", "verify", *flags)
    value: dict[str, Any] = json.loads(run.out)
    assert run.code == (0 if value["ok"] else 1)
    return value


def tamper(root: Path, *statements: str) -> None:
    connection = sqlite3.connect(root / "auki_session.db")
    with connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()


def test_a_wallet_peer_has_its_peer_child_id_and_signs_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = robot(tmp_path)
    peer = made["peer"]
    assert peer.peer_id == PEER_ID and peer.signed
    connection = sqlite3.connect(tmp_path / "auki_session.db")
    for table in ("entries", "heads", "clocks", "sessions", "logs"):
        unsigned = connection.execute(f"SELECT count(*) FROM {table} WHERE signature IS NULL")
        assert unsigned.fetchone()[0] == 0, table
    sequences = dict(connection.execute("SELECT entry_id, sequence FROM heads"))
    assert sequences == {"base": 2, "optical": 1, "cam": 1, "extra": 1}  # changes per id
    connection.close()
    value = verify_json(capsys, tmp_path, "--require-signed")
    assert value["ok"] and value["unsigned"] == 0 and value["signed"] > 10


def test_hashes_are_unchanged_by_signing(tmp_path: Path) -> None:
    signed = Peer.from_wallet(Wallet.from_seed(SEED), "a").with_storage_root(tmp_path / "a")
    plain = Peer(PEER_ID, "a").with_storage_root(tmp_path / "b")
    assert signed.register_frame("f", FrameDef.ros_body()) == plain.register_frame(
        "f", FrameDef.ros_body()
    )


def test_an_entrys_signature_verifies_from_the_peer_id_alone(tmp_path: Path) -> None:
    made = robot(tmp_path)
    entry = Peer(PEER_ID, "reader").with_storage_root(tmp_path).entry(made["camera"])
    assert entry.signature is not None
    assert verify(PEER_ID, entry.canonical_json.encode(), bytes.fromhex(entry.signature))


TAMPERING = {
    "a changed byte in an entry": (
        "UPDATE entries SET canonical_json = replace(canonical_json, '\"rgb\"', '\"rgx\"') "
        "WHERE entry_id = 'cam'",
    ),
    "a head pointed at another version": (
        "UPDATE heads SET hash = (SELECT hash FROM entries WHERE entry_id = 'base' "
        "ORDER BY id LIMIT 1) WHERE entry_id = 'base'",
    ),
    "a head's sequence moved": ("UPDATE heads SET sequence = sequence + 1000",),
    "a session's app id changed": ("UPDATE sessions SET app_id = 'other'",),
    "a manifest changed in the database": (
        "UPDATE logs SET manifest_json = replace(manifest_json, '\"retention_ns\":0', "
        "'\"retention_ns\":1')",
    ),
    "a signature moved to another record": (
        "UPDATE entries SET signature = (SELECT signature FROM entries WHERE entry_id = "
        "'optical') WHERE entry_id = 'extra'",
    ),
    "a signature moved from a session to a log": (
        "UPDATE logs SET signature = (SELECT signature FROM sessions)",
    ),
    # another wallet's peer id (the peer/v1 child of 32 zero bytes): a real key, not ours
    "a record re-attributed to another key": (
        "INSERT INTO peers (peer_id, first_seen_at) VALUES "
        "('12D3KooWQ89tZrdkP3N8nhcnqrPUrUaFPHxD48TLujxyth3fVqv9', 'x')",
        "UPDATE sessions SET peer_id = '12D3KooWQ89tZrdkP3N8nhcnqrPUrUaFPHxD48TLujxyth3fVqv9'",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_verify_catches_tampering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    robot(tmp_path)
    tamper(tmp_path, *TAMPERING[case])
    value = verify_json(capsys, tmp_path)
    assert not value["ok"]
    assert "signature" in {problem["check"] for problem in value["problems"]}, value["problems"]


def test_a_signature_removed_is_counted_and_required_signatures_make_it_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    robot(tmp_path)
    tamper(tmp_path, "UPDATE entries SET signature = NULL WHERE entry_id = 'cam'")
    relaxed = verify_json(capsys, tmp_path)
    assert relaxed["ok"] and relaxed["unsigned"] == 1
    strict = verify_json(capsys, tmp_path, "--require-signed")
    assert not strict["ok"] and "unsigned" in strict["problems"][0]["message"]


def test_a_signature_on_a_plain_named_peer_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Peer("galbot", "ctrl").with_storage_root(tmp_path).register_frame("f", FrameDef.ros_body())
    end_process()
    assert verify_json(capsys, tmp_path, "--require-signed")["ok"]  # names are never signed
    tamper(tmp_path, f"UPDATE entries SET signature = '{'ab' * 64}'")
    value = verify_json(capsys, tmp_path)
    assert not value["ok"] and "holds no key" in value["problems"][0]["message"]


def test_peers_says_who_signs_and_show_carries_the_signature(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = robot(tmp_path)
    Peer("galbot", "ctrl").with_storage_root(tmp_path).register_frame("f", FrameDef.ros_body())
    end_process()
    table = cli(capsys, "--root", tmp_path, "peers").out
    assert PEER_ID in table and "all" in table and "no key" in table
    shown = json.loads(cli(capsys, "--root", tmp_path, "--json", "show", made["camera"].hash).out)
    assert verify(PEER_ID, canonical_json(shown["entry"]), bytes.fromhex(shown["signature"]))
    assert shown["signed_by"] == PEER_ID


def test_a_seed_inside_the_storage_root_is_refused(tmp_path: Path) -> None:
    wallet = Wallet.load_or_mint(tmp_path / "store" / "identity.seed")
    peer = Peer.from_wallet(wallet, "ctrl")
    with pytest.raises(ConfigurationError, match="inside the storage root"):
        peer.with_storage_root(tmp_path / "store")
    with pytest.raises(ConfigurationError, match="inside the storage root"):
        peer.with_storage_root(tmp_path)
    assert peer.storage_root == "."
    outside = Wallet.load_or_mint(tmp_path / "keys" / "identity.seed")
    Peer.from_wallet(outside, "ctrl").with_storage_root(tmp_path / "store").register_frame(
        "f", FrameDef.ros_body()
    )


# --- the fleet: a key's records only with its signatures ------------------------------------------


def test_a_signed_robot_pushes_every_record_into_the_fleet(tmp_path: Path, fleet_url: str) -> None:
    robot(tmp_path / "robot")
    report = push_store(tmp_path / "robot", fleet_url)
    assert report.problems == []
    assert report.copied["entries"] == 7 and report.copied["logs"] == 1


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_the_fleet_refuses_tampered_records_per_row(
    tmp_path: Path, fleet_url: str, case: str
) -> None:
    robot(tmp_path / "robot")
    tamper(tmp_path / "robot", *TAMPERING[case])
    report = push_store(tmp_path / "robot", fleet_url)
    assert any(problem.startswith("refused") or "corrupt" in problem for problem in report.problems)
    assert report.copied.get("entries", 0) >= 4  # the untouched rows still go in


def test_unsigned_records_of_a_key_id_need_an_explicit_allowance(
    tmp_path: Path, fleet_url: str
) -> None:
    Peer(PEER_ID, "ctrl").with_storage_root(tmp_path / "robot").register_frame(
        "f", FrameDef.ros_body()
    )
    end_process()
    refused = push_store(tmp_path / "robot", fleet_url)
    assert refused.copied.get("entries", 0) == 0
    assert any("unsigned" in problem for problem in refused.problems)
    allowed = push_store(tmp_path / "robot", fleet_url, PushOptions(allow_unsigned=True))
    assert allowed.problems == [] and allowed.copied["entries"] == 1


def test_records_of_a_plain_named_peer_go_in_unauthenticated(
    tmp_path: Path, fleet_url: str
) -> None:
    Peer("galbot", "ctrl").with_storage_root(tmp_path / "robot").register_frame(
        "f", FrameDef.ros_body()
    )
    end_process()
    report = push_store(tmp_path / "robot", fleet_url)
    assert report.problems == [] and report.copied["entries"] == 1


def test_each_change_of_current_version_counts_up_per_id_signed_or_not(tmp_path: Path) -> None:
    for peer in (
        Peer("galbot", "a").with_storage_root(tmp_path / "plain"),
        Peer.from_wallet(Wallet.from_seed(SEED), "a").with_storage_root(tmp_path / "signed"),
    ):
        peer.register_frame("f", FrameDef.ros_body())
        peer.register_frame("f", FrameDef.unity())
        peer.register_frame("f", FrameDef.unity())  # the current body again: no change
        with peer.transaction():
            peer.register_frame("f", FrameDef.ros_body())  # v1 again: a change
            peer.register_frame("g", FrameDef.ros_body())
            peer.register_frame("g", FrameDef.opengl())
        end_process()
        connection = sqlite3.connect(Path(peer.storage_root) / "auki_session.db")
        assert dict(connection.execute("SELECT entry_id, sequence FROM heads")) == {"f": 3, "g": 2}
        connection.close()


# --- found by review: each fails on the code before its fix ---------------------------------------


def test_a_pushed_change_carries_its_signature_and_sequence_and_the_fleet_verifies(
    tmp_path: Path, fleet_url: str
) -> None:
    peer = Peer.from_wallet(Wallet.from_seed(SEED), "a").with_storage_root(tmp_path / "robot")
    peer.register_frame("f", FrameDef.ros_body())
    end_process()
    push_store(tmp_path / "robot", fleet_url)
    peer.register_frame("f", FrameDef.unity())
    end_process()
    assert push_store(tmp_path / "robot", fleet_url).problems == []
    fleet = Peer(PEER_ID, "reader").with_storage_url(fleet_url).with_storage_root(tmp_path / "x")
    assert fleet.current("frame", "f").body["handedness"] == "left"
    run = verify_process("--url", fleet_url)
    assert run["ok"], run["problems"]


def verify_process(*where: str) -> dict[str, Any]:
    """`python -m auki_session ... --json verify` as another process would run it."""
    done = subprocess.run(
        [sys.executable, "-m", "auki_session", *where, "--json", "verify"],
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    value: dict[str, Any] = json.loads(done.stdout)
    return value


def test_the_fleet_keeps_the_stores_latest_change_whatever_its_clock(
    tmp_path: Path, fleet_url: str
) -> None:
    peer = Peer("galbot", "a").with_storage_root(tmp_path / "robot")
    peer.register_frame("f", FrameDef.ros_body())
    end_process()
    push_store(tmp_path / "robot", fleet_url)
    peer.register_frame("f", FrameDef.unity())
    end_process()
    tamper(tmp_path / "robot", "UPDATE heads SET updated_at = '1970-01-01T00:00:00.000000Z'")
    push_store(tmp_path / "robot", fleet_url)
    fleet = Peer("galbot", "reader").with_storage_url(fleet_url).with_storage_root(tmp_path / "x")
    assert fleet.current("frame", "f").body["handedness"] == "left"


def test_a_relative_seed_path_is_checked_where_it_was_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.chdir(root)
    wallet = Wallet.load_or_mint("identity.seed")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="inside the storage root"):
        Peer.from_wallet(wallet, "a").with_storage_root(root)


def test_a_store_of_an_older_schema_is_refused_by_push_before_anything_lands(
    tmp_path: Path, fleet_url: str
) -> None:
    old = tmp_path / "old"
    old.mkdir()
    fixtures = Path(__file__).parent / "fixtures"
    (old / "auki_session.db").write_bytes((fixtures / "schema_0003.db").read_bytes())
    with pytest.raises(StoreError, match="db upgrade"):
        push_store(old, fleet_url)


def test_sequences_stay_one_per_change_when_peers_mix_and_bodies_repeat(tmp_path: Path) -> None:
    signed = Peer.from_wallet(Wallet.from_seed(SEED), "a").with_storage_root(tmp_path)
    plain = Peer(PEER_ID, "a").with_storage_root(tmp_path)  # the same id, no key
    with signed.transaction(plain):
        signed.register_frame("g", FrameDef.ros_body())
        plain.register_frame("g", FrameDef.unity())
        signed.register_frame("g", FrameDef.opengl())
        signed.register_frame("h", FrameDef.ros_body())
        signed.register_frame("h", FrameDef.ros_body())  # the current body: no change
        signed.register_frame("h", FrameDef.unity())
    end_process()
    connection = sqlite3.connect(tmp_path / "auki_session.db")
    assert dict(connection.execute("SELECT entry_id, sequence FROM heads")) == {"g": 3, "h": 2}
    connection.close()
    value = verify_process("--root", str(tmp_path))
    assert value["ok"], value["problems"]
