"""A writer killed with SIGKILL at any point loses nothing it acknowledged, and leaves no
half-registered log once the store is next opened.

`open_store` stands for the next process opening the store (which replays journals).
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from auki_session import FrameDef, Peer
from auki_session._store.store import open_store
from tests.workers.audit import (
    audit,
    committed_logs_have_manifests,
    manifests_on_disk,
    mirror_out_of_step,
    pending_journals,
    read_acks,
    stray_files,
)
from tests.workers.processes import scale, spawn, wait_for_line
from tests.workers.registrar import AckFile

ROUNDS = scale("AUKI_CRASH_ROUNDS", 20)
SEED = scale("AUKI_CRASH_SEED", 5)


def reopen(root: Path) -> None:
    """Open the store the way any next process would (which replays pending journals)."""
    open_store(root).close()


def kill(process: subprocess.Popen[bytes], delay: float) -> None:
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def test_a_writer_killed_at_random_points_loses_nothing_it_acknowledged(tmp_path: Path) -> None:
    root, acks = tmp_path / "store", tmp_path / "acks.jsonl"
    rng = random.Random(SEED)
    interrupted = 0
    for round_ in range(ROUNDS):
        # Half the steps are peer.transaction() blocks holding a session and three logs.
        worker = spawn(root, acks, "--ops", "0", "--transactions", "0.5", "--seed", str(round_))
        wait_for_line(worker, "ready")
        kill(worker, rng.uniform(0.0, 0.25))

        logs = committed_logs_have_manifests(root)
        interrupted += bool(pending_journals(root))
        reopen(root)
        assert pending_journals(root) == []
        assert stray_files(root) == []
        assert mirror_out_of_step(root) == []
        figures = audit(root, read_acks(acks))
        assert len(manifests_on_disk(root)) == figures.logs == logs
    print(
        f"\ncrash: {ROUNDS} SIGKILL rounds, {interrupted} left a transaction's journal to "
        f"replay; {figures.acked} acknowledged registrations all present "
        f"({figures.entries} entries, {figures.sessions} sessions, {figures.logs} logs)"
    )


def test_a_writer_killed_while_creating_the_store_leaves_it_usable(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    for round_ in range(4):
        root, acks = tmp_path / f"store{round_}", tmp_path / f"acks{round_}.jsonl"
        worker = spawn(root, acks, "--ops", "0", "--seed", str(round_))
        wait_for_line(worker, "imported")
        kill(worker, rng.uniform(0.0, 0.15))
        peer = Peer("galbot", "after-crash").with_storage_root(root)
        peer.register_frame("base_link", FrameDef.ros_body())
        audit(root, read_acks(acks))


def test_writers_killed_while_others_keep_writing_lose_nothing(tmp_path: Path) -> None:
    # Each round: two writers of one peer log into one shared session; one is killed; a third
    # opens the store (replaying the dead one's journal) while the survivor is still writing;
    # then both are killed.
    root, acks = tmp_path / "store", tmp_path / "acks.jsonl"
    shared = Peer("galbot", "setup").with_storage_root(root).start_session().session_id
    rng = random.Random(SEED)
    rounds = scale("AUKI_CRASH_CROWD_ROUNDS", 3)
    for round_ in range(rounds):
        common = ("--ops", "0", "--transactions", "0.5", "--session", shared)
        first, second = (spawn(root, acks, *common, "--seed", f"{round_}{i}") for i in range(2))
        wait_for_line(first, "ready")
        wait_for_line(second, "ready")
        kill(first, rng.uniform(0.0, 0.2))
        third = spawn(root, acks, *common, "--seed", f"{round_}3")
        wait_for_line(third, "ready")
        kill(second, rng.uniform(0.0, 0.1))
        kill(third, rng.uniform(0.0, 0.1))

        committed_logs_have_manifests(root)
        reopen(root)
        assert pending_journals(root) == []
        assert stray_files(root) == []
        figures = audit(root, read_acks(acks))
    print(
        f"\ncrash with live writers: {rounds} rounds of 3 writers, {figures.acked} acknowledged "
        f"registrations all present ({figures.logs} logs)"
    )


def test_a_fragment_of_an_ack_left_by_a_killed_writer_is_not_read_as_an_ack(
    tmp_path: Path,
) -> None:
    acks = tmp_path / "acks.jsonl"
    whole = {"type": "entry", "kind": "frame", "id": "a"}
    acks.write_text(json.dumps(whole) + "\n" + json.dumps(whole)[:20])  # killed mid-batch
    AckFile(str(acks))([{"type": "entry", "kind": "frame", "id": "b"}])
    assert [ack["id"] for ack in read_acks(acks)] == ["a", "b"]


_KILLED_BETWEEN_COMMIT_AND_FILE = """
import os, signal, sys
from auki_session import FrameDef, Peer
from auki_session._store import mirror

peer = Peer("galbot", "app").with_storage_root(sys.argv[1])
for index in range(int(sys.argv[2])):
    peer.register_frame(f"frame_{index}", FrameDef.ros_body())
# The next registration commits, then its writer dies before writing the file.
mirror.Writes.write = lambda self: os.kill(os.getpid(), signal.SIGKILL)
peer.register_frame("last", FrameDef.ros_body())
"""


def test_a_writer_killed_between_its_commit_and_its_file_is_repaired_on_the_next_open(
    tmp_path: Path,
) -> None:
    # Ten registrations before (their pending rows not yet deleted in a batch), then one
    # committed whose file is never written: the next open writes it and settles every row.
    root = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_BETWEEN_COMMIT_AND_FILE, str(root), "10"], check=False
    )
    assert done.returncode == -signal.SIGKILL
    connection = sqlite3.connect(root / "auki_session.db")
    try:
        last = connection.execute("SELECT hash FROM entries WHERE entry_id = 'last'").fetchone()[0]
        pending = {row[0] for row in connection.execute("SELECT hash FROM mirror_pending")}
    finally:
        connection.close()
    assert last in pending and len(pending) == 11
    assert not list(root.rglob(f"{last}.json"))
    reopen(root)
    assert mirror_out_of_step(root) == []
    assert len(list((root / "registries").rglob("*.json"))) == 11
