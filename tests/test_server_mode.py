"""Server mode (the registry in PostgreSQL, the log manifests under a storage root that several
processes share): opening the store never undoes a live transaction's manifest, and processes
registering at once while others keep opening the store lose nothing they acknowledged.

Every process that opens a store replays the journals under its root that it can lock; a
transaction's writer holds the lock on its journal for the journal's whole life. With SQLite the
replay also holds the database's write lock; a server database has no such lock, so the journal's
lock is all that keeps an opening process from removing the manifests of a transaction in flight
in another process.

The database is checked with plain SQL (SQLAlchemy Core text), the files with the file system.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from auki_session import Peer
from tests.conftest import end_process
from tests.workers.audit import (
    manifest_path,
    manifests_on_disk,
    pending_journals,
    read_acks,
    stray_files,
)
from tests.workers.log_writer import describe, run_verify, spawn, tell
from tests.workers.processes import finish, go, scale, wait_for_line

ROUNDS = scale("AUKI_SERVER_ROUNDS", 3)
WRITERS = scale("AUKI_SERVER_WRITERS", 8)
OPENERS = scale("AUKI_SERVER_OPENERS", 2)
STEPS = scale("AUKI_SERVER_STEPS", 25)

PENDING = Path(".auki_session") / "pending"

postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def rows(url: str) -> dict[str, Any]:
    """The entries, sessions and logs in the server database, by plain SQL."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            entries = {
                row[0]: tuple(row[1:])
                for row in connection.execute(
                    text("SELECT hash, kind, peer_id, entry_id, session_id FROM entries")
                )
            }
            sessions: dict[str, str] = {
                row[0]: row[1]
                for row in connection.execute(text("SELECT session_id, peer_id FROM sessions"))
            }
            logs = {
                (row[0], row[1]): (row[2], row[3])
                for row in connection.execute(
                    text(
                        "SELECT l.session_id, l.resource_id, s.peer_id, l.manifest_json "
                        "FROM logs l JOIN sessions s USING (session_id)"
                    )
                )
            }
    finally:
        engine.dispose()
    return {"entries": entries, "sessions": sessions, "logs": logs}


def audit_server(url: str, root: Path, acks: list[dict[str, Any]]) -> dict[str, int]:
    """Assert that every acknowledged registration is in the database, that every log row has
    its manifest on disk with the same bytes as its manifest_json (and every manifest on disk
    its row), and that no journal or temporary file is left. Returns the figures."""
    found = rows(url)
    entries, sessions, logs = found["entries"], found["sessions"], found["logs"]
    missing: list[str] = []
    for ack in acks:
        if ack["type"] == "entry":
            expected = (ack["kind"], ack["peer_id"], ack["id"], ack["session_id"])
            if entries.get(ack["hash"]) != expected:
                missing.append(f"entry {ack} (found {entries.get(ack['hash'])})")
        elif ack["type"] == "session":
            if sessions.get(ack["session_id"]) != ack["peer_id"]:
                missing.append(f"session {ack}")
        else:
            key = (ack["session_id"], ack["resource_id"])
            where = manifest_path(root, ack["session_id"], ack["peer_id"], ack["resource_id"])
            assert Path(ack["root"]) / "manifest.json" == where
            if key not in logs or logs[key][0] != ack["peer_id"]:
                missing.append(f"log row {ack}")
            elif not where.is_file():
                missing.append(f"manifest {where} of acknowledged log {ack}")
            elif where.read_bytes() != logs[key][1].encode("utf-8"):
                missing.append(f"manifest {where} differs from its manifest_json")
    expected_files = {
        manifest_path(root, session_id, peer_id, resource_id): manifest
        for (session_id, resource_id), (peer_id, manifest) in logs.items()
    }
    on_disk = manifests_on_disk(root)
    without_manifest = sorted(str(path) for path in set(expected_files) - on_disk)
    without_row = sorted(str(path) for path in on_disk - set(expected_files))
    differing = sorted(
        str(path)
        for path, manifest in expected_files.items()
        if path in on_disk and path.read_bytes() != manifest.encode("utf-8")
    )
    assert (missing, without_manifest, without_row, differing) == ([], [], [], []), (
        f"{len(missing)} acknowledged registrations missing: {missing[:10]}; "
        f"log rows without a manifest: {without_manifest[:10]}; "
        f"manifests without a row: {without_row[:10]}; manifests differing: {differing[:10]}"
    )
    assert pending_journals(root) == []
    assert stray_files(root) == []
    return {
        "acked": len(acks),
        "acked_logs": sum(ack["type"] == "log" for ack in acks),
        "entries": len(entries),
        "sessions": len(sessions),
        "logs": len(logs),
    }


def verified(root: Path, url: str) -> dict[str, Any]:
    """Run `verify` with --root and --url as a process; assert it exits 0; its JSON report."""
    done = run_verify(root, url)
    assert done.returncode == 0, describe(done)
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["ok"] and report["problems"] == [], describe(done)
    return report


# --- one transaction held open while another process opens the store --------------------------


@postgresql_only
@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_opening_the_store_leaves_a_live_transactions_manifest_alone(
    tmp_path: Path, database_url: str, outcome: str
) -> None:
    url, root, info_file = database_url, tmp_path / "store", tmp_path / "info.json"
    holder = spawn("hold", root, "--url", url, "--info", info_file)
    try:
        wait_for_line(holder, "inside")
        info = json.loads(info_file.read_text(encoding="utf-8"))
        manifest = Path(info["root"]) / "manifest.json"
        assert manifest == manifest_path(
            root, info["session_id"], info["peer_id"], info["resource_id"]
        )
        written = manifest.read_bytes()
        journals = pending_journals(root)
        assert len(journals) == 1, journals  # the holder's, locked

        # Another process opens the store (and replays the journals it can lock) ...
        opener = spawn("open", root, "--url", url, "--times", "3")
        opened = json.loads(finish(opener).splitlines()[-1])
        assert opened == {"opens": 3, "with_journals": 3}
        # ... and so does this one, with a new Peer on the same database and root.
        end_process()
        observer = Peer("observer", "test").with_storage_url(url).with_storage_root(root)
        assert observer.sessions() == []
        observer.close()

        assert manifest.read_bytes() == written, "recovery removed a live transaction's manifest"
        assert pending_journals(root) == journals
        # verify beside the open transaction: its manifest is in flight, not an orphan.
        report = verified(root, url)
        assert report["logs"] == 0
        assert any("journal" in warning for warning in report["warnings"]), report

        tell(holder, outcome)
        out = finish(holder)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()

    logs = rows(url)["logs"]
    key = (info["session_id"], info["resource_id"])
    if outcome == "commit":
        assert out.splitlines()[-1] == "committed"
        assert logs[key][0] == info["peer_id"]
        assert manifest.read_bytes() == logs[key][1].encode("utf-8") == written
    else:
        assert out.splitlines()[-1] == "rolled back"
        assert key not in logs
        assert not manifest.exists()
    assert pending_journals(root) == []
    assert stray_files(root) == []
    report = verified(root, url)
    assert report["logs"] == (1 if outcome == "commit" else 0)
    assert report["warnings"] == []


# --- many writers and openers sharing one root ---------------------------------------------------


@postgresql_only
def test_server_mode_writers_sharing_a_root_lose_nothing_while_others_open_it(
    tmp_path: Path, database_url: str
) -> None:
    url, root = database_url, tmp_path / "store"
    setup = Peer("galbot", "setup").with_storage_url(url).with_storage_root(root)
    acked: list[dict[str, Any]] = []
    totals = {"acked": 0, "duplicates": 0, "rollbacks": 0, "transactions": 0}
    errors: list[str] = []
    opens = with_journals = 0
    started = time.monotonic()
    for round_ in range(ROUNDS):
        # Most writers are one peer logging into one shared session (the same directories,
        # the same log ids); the others are peers of their own. Each round has a new session.
        shared = setup.start_session().session_id
        stop = tmp_path / f"stop{round_}"
        writers = []
        for index in range(WRITERS):
            own = ["--peer", f"robot-{index}"] if index % 4 == 3 else ["--session", shared]
            acks = tmp_path / f"acks{round_}-{index}.jsonl"
            seed = str(round_ * 100 + index)
            worker = spawn(
                "write", root, "--url", url, "--acks", acks, "--seed", seed,
                "--steps", str(STEPS), "--wait-for-go", *own,
            )  # fmt: skip
            writers.append((worker, acks))
        openers = [spawn("open", root, "--url", url, "--until", stop) for _ in range(OPENERS)]
        try:
            for worker, _ in writers:
                wait_for_line(worker, "ready", timeout=60)
            for opener in openers:
                wait_for_line(opener, "ready", timeout=60)
            for worker, _ in writers:
                go(worker)
            summaries = [json.loads(finish(w, timeout=120).splitlines()[-1]) for w, _ in writers]
            stop.touch()
            opened = [json.loads(finish(o).splitlines()[-1]) for o in openers]
        finally:
            stop.touch()
            for process in [*(w for w, _ in writers), *openers]:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        round_acks = [ack for _, path in writers for ack in read_acks(path)]
        assert sum(s["acked"] for s in summaries) == len(round_acks)
        acked += round_acks
        for summary in summaries:
            for name in totals:
                totals[name] += summary[name]
            errors += [f"round {round_}: {error}" for error in summary["errors"]]
        opens += sum(o["opens"] for o in opened)
        with_journals += sum(o["with_journals"] for o in opened)

        figures = audit_server(url, root, acked)  # every round's acknowledgements so far
        report = verified(root, url)
        assert report["logs"] == figures["logs"]
        assert report["warnings"] == []
    print(
        f"\nserver mode: {ROUNDS} rounds of {WRITERS} writers x {STEPS} steps and {OPENERS} "
        f"openers in {time.monotonic() - started:.1f} s: {figures['acked']} acknowledged "
        f"registrations ({figures['acked_logs']} logs) all present, 0 missing; "
        f"{figures['logs']} log rows = manifests on disk; {totals['transactions']} "
        f"transactions ({totals['rollbacks']} rolled back), {totals['duplicates']} duplicate "
        f"logs refused; {opens} opens by other processes, {with_journals} of them with "
        f"journals under the root; {len(errors)} registrations failed"
    )
    # A registration that failed was not acknowledged (nothing was lost), but none should fail.
    assert errors == [], f"{len(errors)} registrations failed:\n" + "\n".join(errors)


# --- the moments a writer's files are most exposed to other processes ---------------------------
# Server mode has no database-wide write lock: another process may open the store (and replay
# journals), or roll back a transaction (and remove the directories it made), at any point of a
# writer's file writes. A worker pauses at one such point (see log_writer.py `pause`).


@postgresql_only
def test_opening_the_store_leaves_a_journal_being_made_alone(
    tmp_path: Path, database_url: str
) -> None:
    # The writer creates its journal under a temporary name, then locks it, then gives it its
    # name. An open in between must not take the unlocked journal for a dead writer's.
    url, root = database_url, tmp_path / "store"
    writer = spawn("pause", root, "--url", url, "--at", "journal")
    try:
        wait_for_line(writer, "paused")
        made = sorted((root / PENDING).iterdir())
        assert [path.suffix for path in made] == [".new"], made

        end_process()
        observer = Peer("observer", "test").with_storage_url(url).with_storage_root(root)
        observer.sessions()  # opens the store: replays the journals it can lock
        observer.close()
        survived = [path.exists() for path in made]

        go(writer)
        result = json.loads(finish(writer).splitlines()[-1])
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert result["paused"]
    assert "error" not in result and survived == [True], (
        f"opening the store {'kept' if survived == [True] else 'removed'} the journal being "
        f"made, {made[0].name}; the writer's registration then: {result}"
    )
    logs = rows(url)["logs"]
    manifest = Path(result["root"]) / "manifest.json"
    assert manifest.read_bytes() == logs[(result["session_id"], result["resource_id"])][1].encode()
    assert pending_journals(root) == []
    assert verified(root, url)["logs"] == 1


@postgresql_only
def test_a_rollback_in_one_process_leaves_the_directories_another_is_writing_into(
    tmp_path: Path, database_url: str
) -> None:
    # Two processes of one peer log into one session: the holder's log is the session's first,
    # so its rollback removes the directories it made (<session>/logs/<peer>/...), while the
    # other process has walked down into <session>/logs/<peer> to make its own log's directory.
    # Processes take turns there (a lock on the root), so the rollback waits for the writer.
    url, root = database_url, tmp_path / "store"
    session_id = (
        Peer("galbot", "setup").with_storage_url(url).with_storage_root(root).start_session()
    ).session_id
    holder = spawn("hold", root, "--url", url, "--session", session_id, "--info", tmp_path / "i")
    wait_for_line(holder, "inside")  # first: the writer pauses holding the log tree's lock
    writer = spawn(
        "pause", root, "--url", url, "--at", "walk", "--session", session_id,
        "--sensor", "wrist_cam",
    )  # fmt: skip
    try:
        wait_for_line(writer, "paused")
        tell(holder, "rollback")
        time.sleep(0.5)
        assert holder.poll() is None  # its undo waits for the writer to leave the log tree
        go(writer)
        result = json.loads(finish(writer).splitlines()[-1])
        assert finish(holder).splitlines()[-1] == "rolled back"
    finally:
        for process in (holder, writer):
            if process.poll() is None:
                process.kill()
                process.wait()
    assert result["paused"]
    assert "error" not in result, (
        f"a registration failed because another process rolled back a log of the same session "
        f"meanwhile: {result['error']}"
    )
    logs = rows(url)["logs"]
    assert list(logs) == [(session_id, "wrist_cam")]
    manifest = Path(result["root"]) / "manifest.json"
    assert manifest.read_bytes() == logs[(session_id, "wrist_cam")][1].encode()
    assert pending_journals(root) == []
    assert verified(root, url)["logs"] == 1
