"""Several processes, and several threads sharing one Peer, registering into one storage root
at once: no "database is locked", and every acknowledged registration is there afterwards."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

from auki_session import Peer
from tests.workers.audit import audit, read_acks, stray_files
from tests.workers.processes import finish, go, scale, spawn, wait_for_line
from tests.workers.registrar import Registrar

PROCESSES = scale("AUKI_WRITER_PROCESSES", 5)
OPS = scale("AUKI_WRITER_OPS", 30)
THREADS = scale("AUKI_WRITER_THREADS", 8)
THREAD_OPS = scale("AUKI_WRITER_THREAD_OPS", 15)


def test_processes_registering_at_once_lose_nothing(tmp_path: Path) -> None:
    root = tmp_path / "store"
    shared = Peer("galbot", "setup").with_storage_root(root).start_session().session_id
    workers = []
    for index in range(PROCESSES):
        # Most workers are the same peer and log into one shared session (overlapping ids,
        # sessions and logs); the others are peers of their own.
        args = ["--session", shared] if index % 3 != 2 else ["--peer", f"robot-{index}"]
        acks = tmp_path / f"acks{index}.jsonl"
        worker = spawn(root, acks, "--ops", str(OPS), "--seed", str(index), "--wait-for-go", *args)
        workers.append((worker, acks))
    for worker, _ in workers:
        wait_for_line(worker, "ready")
    for worker, _ in workers:
        go(worker)

    summaries = [json.loads(finish(worker).splitlines()[-1]) for worker, _ in workers]
    acks = [ack for _, path in workers for ack in read_acks(path)]
    assert sum(s["acked"] for s in summaries) == len(acks)
    figures = audit(root, acks)
    assert stray_files(root) == []
    print(
        f"\nconcurrency: {PROCESSES} processes x {OPS} steps, {figures.acked} acknowledged "
        f"registrations all present; {sum(s['duplicates'] for s in summaries)} duplicate logs "
        f"refused, {sum(s['rollbacks'] for s in summaries)} transactions rolled back"
    )


def test_threads_sharing_one_peer_lose_nothing(root: Path) -> None:
    peer = Peer("galbot", "threads").with_storage_root(root)
    shared = peer.start_session().session_id
    acks: list[dict[str, Any]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def acknowledge(items: list[dict[str, Any]]) -> None:
        with lock:
            acks.extend(items)

    def run(index: int) -> None:
        try:
            registrar = Registrar(peer, random.Random(index), acknowledge, shared)
            start.wait(timeout=30)
            for _ in range(THREAD_OPS):
                registrar.step()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    figures = audit(root, acks)
    assert stray_files(root) == []
    print(f"\nthreads: {THREADS} threads x {THREAD_OPS} steps, {figures.acked} acknowledged")
