"""`verify` beside a live writer finds nothing wrong: it walks the log directories, then reads the
transaction journals, then the database, so a manifest in flight is named by a journal and a
log committed meanwhile is in the database it reads last. And `verify` while the store is being
created never calls it "not an auki-session database".

`verify` runs as `python -m auki_session`; the store-creation test also runs it in-process
through `auki_session._cli.main` (what the `auki-session` script calls), whose runs are fast
enough to land inside the moments of the creation.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from auki_session._cli import main
from tests.workers.audit import audit, pending_journals, read_acks, stray_files
from tests.workers.log_writer import describe, finish_verify, run_verify, spawn, start_verify
from tests.workers.processes import finish, go, scale, wait_for_line

VERIFY_RUNS = scale("AUKI_LIVE_VERIFY_RUNS", 12)
CREATIONS = scale("AUKI_LIVE_CREATIONS", 3)
VERIFY_PROCESSES = scale("AUKI_LIVE_CREATION_VERIFY_PROCESSES", 6)

NOT_OURS = "not an auki-session database"
MISSING = (
    "storage root does not exist",  # the root is not made yet
    "no auki-session database in this storage root",  # the root is, its database file not yet
)
"""What `verify` may say about a store whose creation has not gone far enough to be read."""


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_verify_beside_a_writer_finds_nothing_wrong(tmp_path: Path) -> None:
    root, acks, stop = tmp_path / "store", tmp_path / "acks.jsonl", tmp_path / "stop"
    # Sessions, sensors and logs, half the steps transactions holding several logs (a quarter
    # of them rolled back on purpose), until told to stop.
    writer = spawn(
        "write", root, "--acks", acks, "--seed", "7", "--until", stop, "--transactions", "0.5"
    )
    runs: list[tuple[float, int, Any]] = []
    failures: list[str] = []
    try:
        wait_for_line(writer, "ready")
        while count_lines(acks) < 20:  # the writer is under way
            assert writer.poll() is None, describe_worker(writer)
            time.sleep(0.01)
        for index in range(VERIFY_RUNS):
            before, started = count_lines(acks), time.monotonic()
            done = run_verify(root)
            runs.append((time.monotonic() - started, count_lines(acks) - before, done))
            if done.returncode != 0:
                failures.append(f"verify run {index + 1} of {VERIFY_RUNS}: {describe(done)}")
        stop.touch()
        summary = json.loads(finish(writer).splitlines()[-1])
    finally:
        stop.touch()
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert failures == [], "\n\n".join(failures)
    assert summary["errors"] == []
    # The writer kept acknowledging registrations while verify ran.
    assert sum(acked for _, acked, _ in runs) > 0
    assert summary["logs"] > 0 and summary["rollbacks"] > 0
    for _, _, done in runs:
        assert json.loads(done.stdout)["ok"]

    # Afterwards: everything acknowledged is there, and verify still agrees.
    figures = audit(root, read_acks(acks))
    assert pending_journals(root) == [] and stray_files(root) == []
    final = run_verify(root)
    assert final.returncode == 0, describe(final)
    assert json.loads(final.stdout)["logs"] == figures.logs
    in_flight = sum(bool(json.loads(done.stdout)["warnings"]) for _, _, done in runs)
    print(
        f"\nlive verify: {len(runs)} verify runs ({min(r[0] for r in runs):.2f}-"
        f"{max(r[0] for r in runs):.2f} s each, {in_flight} of them found a transaction's "
        f"journal) beside a writer that acknowledged {sum(r[1] for r in runs)} registrations "
        f"meanwhile; writer: {summary['steps']} steps, "
        f"{summary['logs']} logs, {summary['transactions']} transactions "
        f"({summary['rollbacks']} rolled back); {figures.logs} logs in the end"
    )


def describe_worker(process: subprocess.Popen[bytes]) -> str:
    out, err = process.communicate(timeout=10)
    return f"the writer exited {process.returncode}: {out.decode()} {err.decode()}"


def verify_in_process(root: Path) -> tuple[int, str]:
    """`auki-session --root ROOT verify` in this process: its exit status and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--root", str(root), "verify"])
    return code, err.getvalue()


def test_verify_while_the_store_is_created_never_says_it_is_not_ours(tmp_path: Path) -> None:
    # Each round: a process creates a new store with its first registration, while `verify`
    # runs against its root: as processes started every 60 ms around the creation's start
    # (a process needs some 0.3 s to start reading), and in-process in a loop until the
    # creation is done.
    seen: dict[tuple[str, str], int] = {}
    wrong: list[str] = []
    runs = in_process = 0
    for creation in range(CREATIONS):
        root = tmp_path / f"store{creation}"
        creator = spawn("create", root)
        results: list[tuple[str, int, str]] = []
        processes: list[subprocess.Popen[str]] = []
        try:
            wait_for_line(creator, "ready")
            for index in range(VERIFY_PROCESSES):
                processes.append(start_verify(root))
                if index == VERIFY_PROCESSES // 2:
                    go(creator)
                time.sleep(0.06)
            while creator.poll() is None:
                results.append(("in-process", *verify_in_process(root)))
            results.append(("in-process", *verify_in_process(root)))
            for process in processes:
                done = finish_verify(process)
                results.append(("process", done.returncode, done.stderr))
        finally:
            everything: list[subprocess.Popen[Any]] = [creator, *processes]
            for started in everything:
                if started.poll() is None:
                    started.kill()
                    started.wait()
        assert finish(creator).splitlines()[-1] == "created"
        for how, code, err in results:
            runs += 1
            in_process += how == "in-process"
            if code == 0:
                outcome = "ok"
            else:
                known = [text for text in MISSING if text in err]
                outcome = known[0] if known else NOT_OURS if NOT_OURS in err else err.strip()
                if NOT_OURS in err or not known:
                    wrong.append(f"store {creation}, {how}: exit {code}: {err.strip()}")
            seen[how, outcome] = seen.get((how, outcome), 0) + 1
        assert verify_in_process(root) == (0, "")  # once created, always fine
    tally = f"{runs} runs ({in_process} in-process) over {CREATIONS} store creations: " + (
        "; ".join(f"{how}: {outcome} x{count}" for (how, outcome), count in sorted(seen.items()))
    )
    print(f"\nverify during creation: {tally}")
    not_ours = [line for line in wrong if NOT_OURS in line]
    assert not_ours == [], (
        f"verify during the creation of a store called it '{NOT_OURS}' {len(not_ours)} times "
        f"({tally}), e.g.:\n" + "\n".join(not_ours[:3])
    )
    assert wrong == [], "verify failed during the creation of a store:\n" + "\n".join(wrong[:10])
