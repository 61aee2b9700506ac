"""A power cut keeps only what was made durable: after a cut at any point of a registration with
a log, a transaction with several logs, a rolled-back transaction and two sessions, the next
open finds every acknowledged registration complete (rows, and each log's manifest with the
same bytes) and nothing unacknowledged half there.

The workload runs for real on a FUSE file system (`tests/powerloss/crashfs.py`) that records
what each fsync made durable; every cut point is then rebuilt as a directory under two models of
what a cut keeps (see `tests/powerloss/replay.py`) and opened with the package. CI runs every
cut of the `synced` model and a sample of the `journaled` one (AUKI_POWER_LOSS_ALL=1: all).
"""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from auki_session import NotFoundError, Peer
from tests.conftest import end_process
from tests.powerloss.replay import Cut, cuts, materialize

REPO = Path(__file__).resolve().parent.parent
POWERLOSS = REPO / "tests" / "powerloss"
REQUIRE = os.environ.get("AUKI_SESSION_REQUIRE_FUSE") == "1"
ALL_CUTS = os.environ.get("AUKI_POWER_LOSS_ALL") == "1"
JOURNALED_SAMPLE = 40


def _fuse_missing() -> str | None:
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if os.geteuid() != 0:
        return "mounting the test file system needs root"
    try:
        import fuse  # type: ignore[import-untyped]  # noqa: F401
    except (ImportError, OSError) as error:
        return f"fusepy or libfuse2 is missing: {error}"
    return None


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def record(tmp_path: Path, durability: str) -> list[tuple[str, Any]]:
    """Run the workload on a crash file system; return its event log."""
    missing = _fuse_missing()
    if missing is not None:
        if REQUIRE:
            pytest.fail(f"AUKI_SESSION_REQUIRE_FUSE=1 but {missing}")
        pytest.skip(missing)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    events = tmp_path / "events.pickle"
    server = subprocess.Popen(
        [sys.executable, str(POWERLOSS / "crashfs.py"), str(mountpoint), str(events)],
        env=_environment(),
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not os.path.ismount(mountpoint):
            assert server.poll() is None, server.stderr.read() if server.stderr else b""
            assert time.monotonic() < deadline, "the crash file system did not mount"
            time.sleep(0.05)
        workload = subprocess.run(
            [
                sys.executable,
                str(POWERLOSS / "workload.py"),
                str(mountpoint / "robot"),
                str(mountpoint / "control" / "acks"),
                durability,
            ],
            env=_environment(),
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert workload.returncode == 0, workload.stderr.decode()
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False, capture_output=True)
        server.wait(timeout=30)
    with events.open("rb") as handle:
        loaded: list[tuple[str, Any]] = pickle.load(handle)
    return loaded


def check(cut: Cut, where: Path, durability: str) -> None:
    """Open the tree a cut leaves and hold it to every acknowledgement (at durability normal,
    a registration without a log may be lost, as documented; a log may not)."""
    materialize(cut, where)
    root = where / "robot"
    if not cut.acks and not (root / "auki_session.db").exists():
        return  # nothing acknowledged, nothing kept: the next start begins afresh
    peer = Peer("robot", "app").with_storage_root(root)
    try:
        peer.sessions()  # the store opens (and repairs what the cut left half done)
        sessions = {session.session_id for session in peer.sessions()}
        for ack in cut.acks:
            if durability == "normal" and ack["kind"] != "log":
                continue
            if ack["kind"] == "entry":
                assert peer.entry(ack["hash"]).hash == ack["hash"], ack
            elif ack["kind"] == "session":
                assert ack["id"] in sessions, ack
            else:
                log = peer.open_session(ack["session"]).log(ack["resource"])
                manifest = Path(log.root) / "manifest.json"
                assert manifest.read_bytes() == log.manifest_json.encode(), ack
    except (NotFoundError, AssertionError, FileNotFoundError) as error:
        raise AssertionError(f"cut {cut.index}: acknowledged but lost: {error}") from error
    finally:
        end_process()
    from auki_session._cli import main

    code = main(["--root", str(root), "--json", "verify"])
    assert code == 0, f"cut {cut.index}: verify found problems after the store was reopened"
    # The registry mirror after the reopen: a file for exactly the versions the database holds
    # (verify checked their bytes), never one for a version it does not hold.
    connection = sqlite3.connect(f"file:{root / 'auki_session.db'}?mode=ro", uri=True)
    try:
        versions = {row[0] for row in connection.execute("SELECT hash FROM entries")}
    finally:
        connection.close()
    files = {path.stem for path in (root / "registries").rglob("*.json")}
    assert files == versions, f"cut {cut.index}: mirror files {files ^ versions} out of step"
    temporary = list((root / "registries").rglob(".*.tmp"))
    assert not temporary, f"cut {cut.index}: temporary files left: {temporary}"
    pending = root / ".auki_session" / "pending"
    left = sorted(p.name for p in pending.iterdir()) if pending.exists() else []
    assert not left, f"cut {cut.index}: journal left: {left}"


def run_cuts(
    tmp_path: Path, events: list[tuple[str, Any]], model: str, sample: int, durability: str
) -> int:
    every = list(cuts(events, model))
    chosen = every
    if sample and len(every) > sample:
        chosen = sorted(random.Random(7).sample(every, sample), key=lambda cut: cut.index)
        chosen.append(every[-1])
    for cut in chosen:
        where = tmp_path / f"{model}-{cut.index}"
        check(cut, where, durability)
        shutil.rmtree(where)
    return len(chosen)


@pytest.mark.parametrize("durability", ["full", "normal"])
def test_every_cut_keeps_what_was_acknowledged_on_a_file_system_that_orders_nothing(
    tmp_path: Path, durability: str
) -> None:
    events = record(tmp_path, durability)
    sample = 0 if durability == "full" or ALL_CUTS else 60
    checked = run_cuts(tmp_path, events, "synced", sample, durability)
    assert checked > 20


@pytest.mark.parametrize("durability", ["full", "normal"])
def test_every_cut_keeps_what_was_acknowledged_on_a_journaled_file_system(
    tmp_path: Path, durability: str
) -> None:
    events = record(tmp_path, durability)
    sample = 0 if ALL_CUTS else JOURNALED_SAMPLE
    checked = run_cuts(tmp_path, events, "journaled", sample, durability)
    assert checked > 20


def test_the_workload_acknowledges_what_it_registered(tmp_path: Path) -> None:
    events = record(tmp_path, "full")
    acks = [json.loads(value) for kind, value in events if kind == "ack"]
    assert [ack["kind"] for ack in acks].count("log") == 5
    assert sum(1 for kind, _ in events if kind == "durable") > 20
