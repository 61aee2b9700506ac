"""Several processes, and several threads sharing one Peer, registering into one storage root
at once: no "database is locked", and every acknowledged registration is there afterwards."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

from auki_session import DuplicateLogError, FrameDef, HeadSpec, Peer, PoseLogSpec, Session
from tests.workers.audit import audit, read_acks, stray_files
from tests.workers.processes import finish, go, scale, spawn, wait_for_line
from tests.workers.registrar import Registrar

PROCESSES = scale("AUKI_WRITER_PROCESSES", 6)
OPS = scale("AUKI_WRITER_OPS", 60)
THREADS = scale("AUKI_WRITER_THREADS", 8)
THREAD_OPS = scale("AUKI_WRITER_THREAD_OPS", 30)


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


class _RolledBack(Exception):
    pass


def test_a_rolled_back_log_never_undoes_another_threads_registration_of_it(root: Path) -> None:
    # Two threads register the same log in the same session: one in a transaction that rolls
    # back, one plainly. The rollback's file undo must not touch the other's directory.
    peer = Peer("galbot", "race").with_storage_root(root)
    a = peer.register_frame("a", FrameDef.ros_body())
    b = peer.register_frame("b", FrameDef.ros_optical())
    errors: list[BaseException] = []

    def roll_back(start: threading.Barrier, session: Session, spec: PoseLogSpec) -> None:
        start.wait(timeout=30)
        try:
            with peer.transaction():
                session.register_pose_log(spec)
                raise _RolledBack
        except (_RolledBack, DuplicateLogError):
            pass
        except BaseException as error:
            errors.append(error)

    def register(start: threading.Barrier, session: Session, spec: PoseLogSpec) -> None:
        start.wait(timeout=30)
        try:
            session.register_pose_log(spec)
        except DuplicateLogError:
            pass
        except BaseException as error:
            errors.append(error)

    for _ in range(scale("AUKI_RACE_ROUNDS", 200)):
        session = peer.start_session()
        spec = PoseLogSpec(
            a, b, session.utc_clock, {"kind": "manual"}, "rigid", 0, HeadSpec.fixed(), 1, 0
        )
        start = threading.Barrier(2)
        threads = [
            threading.Thread(target=target, args=(start, session, spec))
            for target in (roll_back, register)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
    audit(root, [])
