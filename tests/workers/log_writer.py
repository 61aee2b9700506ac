"""Processes for the server-mode and live-verify tests: log writers, a transaction held open, store
openers and a store creator. Each works on the root's SQLite file or, with `--url`, on a server
database (log manifests still under the root).

    python tests/workers/log_writer.py hold ROOT [--url URL] --info INFO.json [--session S]
        registers a sensor log inside `peer.transaction()`, writes what it registered to INFO,
        prints "inside", reads a line: "commit" commits, anything else rolls back; prints
        "committed" or "rolled back"
    python tests/workers/log_writer.py write ROOT [--url URL] --acks ACKS --seed N
        [--peer P] [--session S] [--steps K | --until FILE] [--wait-for-go]
        sessions, sensors and sensor logs, some of them in transactions holding several logs
        (a quarter of which roll back on purpose), one fsynced ack line per acknowledged
        registration (after the call returned); prints "ready" once the store is open, then
        (with --wait-for-go) reads a line; prints a JSON summary at the end
    python tests/workers/log_writer.py open ROOT [--url URL] [--until FILE | --times N]
        opens the store again and again (a new Peer each time, `.sessions()`, then closes it:
        every open replays the journals it can lock) until FILE exists, or N times; prints a
        JSON summary
    python tests/workers/log_writer.py create ROOT
        prints "ready", reads a line, then creates the store with its first registration
    python tests/workers/log_writer.py pause ROOT [--url URL] --at journal|walk [--session S]
        registers a sensor log, pausing once inside the store's file writing (see `pause`)
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: `tests.workers` importable, this checkout's code
    sys.path.insert(0, str(REPO))

from auki_session import (  # noqa: E402
    DuplicateLogError,
    FrameDef,
    HeadSpec,
    Peer,
    RegistryRef,
    SensorLogSpec,
    Session,
    TimeTransformLogSpec,
)
from auki_session.errors import StoreError  # noqa: E402
from tests.workers.registrar import (  # noqa: E402
    SECOND,
    Ack,
    AckFile,
    RolledBack,
    entry_ack,
    log_ack,
    session_acks,
)

SHARED_SENSORS = tuple(f"cam_{index:02d}" for index in range(16))
"""Sensor ids every writer of a peer registers (and logs, in the shared session)."""
PENDING = Path(".auki_session") / "pending"


# --- for the tests: starting a worker, running `verify` as a process ---------------------------


def spawn(mode: str, root: Path, *args: str | Path) -> subprocess.Popen[bytes]:
    """This script as a process in `mode` on `root` (stdin, stdout and stderr piped)."""
    return subprocess.Popen(
        [sys.executable, __file__, mode, str(root), *map(str, args)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def start_verify(root: Path, url: str | None = None) -> subprocess.Popen[str]:
    """`python -m auki_session --root ROOT [--url URL] --json verify`, started as a separate
    process (stdout and stderr piped, as text)."""
    command = [sys.executable, "-m", "auki_session", "--root", str(root), "--json"]
    if url is not None:
        command += ["--url", url]
    return subprocess.Popen(
        [*command, "verify"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def finish_verify(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    """Wait (at most two minutes) for a started `verify`; what it did."""
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def run_verify(root: Path, url: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m auki_session --root ROOT [--url URL] --json verify`, run to its end."""
    return finish_verify(start_verify(root, url))


def tell(process: subprocess.Popen[bytes], line: str) -> None:
    """Write a line to a worker's stdin (what it waits for)."""
    assert process.stdin is not None
    process.stdin.write(f"{line}\n".encode())
    process.stdin.flush()


def describe(done: subprocess.CompletedProcess[str]) -> str:
    """A finished process's exit status and output, for a failure message."""
    return f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"


# --- the worker -----------------------------------------------------------------------------


def failure(error: BaseException) -> str:
    """An error's type and message, and those of its cause (which names the file involved)."""
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__
    return text if cause is None else f"{text} (cause: {type(cause).__name__}: {cause})"


def make_peer(root: str, url: str | None, peer_id: str, app_id: str) -> Peer:
    peer = Peer(peer_id, app_id).with_storage_root(root)
    return peer if url is None else peer.with_storage_url(url)


def camera(frame: RegistryRef, width: int = 640) -> dict[str, Any]:
    return {
        "kind": "camera",
        "type": "rgb",
        "width": width,
        "height": 480,
        "frame_rate_hz": 30,
        "image_encoding": "jpeg",
        "pixel_format": "RGB8",
        "row_stride_bytes": 0,
        "color_space": "sRGB",
        "intrinsics_model": "pinhole",
        "distortion_model": "none",
        "frame": frame,
    }


class LogWriter:
    """Random registrations centred on logs. Inside a transaction, logs are registered in the
    order of their resource ids and no shared registry id is written, so that two writers'
    transactions on a server database never wait for each other in a cycle (a deadlock the
    server would break by failing one of them, which is not what these tests are about)."""

    def __init__(
        self,
        peer: Peer,
        rng: random.Random,
        ack: AckFile,
        tag: str,
        shared: Session | None,
        *,
        transactions: float,
    ) -> None:
        self.peer, self.rng, self.ack, self.tag = peer, rng, ack, tag
        self.transactions = transactions
        self.sessions: list[Session] = [] if shared is None else [shared]
        self.sensors: dict[str, RegistryRef] = {}
        self.own = 0
        self.counts = {"acked": 0, "logs": 0, "duplicates": 0, "rollbacks": 0, "transactions": 0}
        self.errors: list[str] = []
        """Registrations that failed with a StoreError (none acknowledged): each one's message."""
        self.frame = peer.register_frame("base_link", FrameDef.ros_body())
        self._done([entry_ack("frame", self.frame)])

    def _done(self, acks: list[Ack]) -> None:
        self.ack(acks)
        self.counts["acked"] += len(acks)
        self.counts["logs"] += sum(ack["type"] == "log" for ack in acks)

    def step(self) -> None:
        """One registration or transaction. One that fails with a StoreError is recorded (and
        not acknowledged) and the writer goes on, so the test can still check the rest."""
        try:
            if self.sessions and self.sensors and self.rng.random() < self.transactions:
                self.transaction()
                return
            actions = [self.session, self.sensor, self.sensor]
            if self.sessions and self.sensors:
                actions += [self.sensor_log] * 4
            self.rng.choice(actions)()
        except StoreError as error:
            self.errors.append(failure(error))

    def session(self) -> None:
        session = self.peer.start_session()
        self.sessions.append(session)
        self._done(session_acks(session))

    def sensor(self) -> None:
        sensor_id = self.rng.choice(SHARED_SENSORS)
        ref = self.peer.register_sensor(sensor_id, camera(self.frame))
        self.sensors[sensor_id] = ref
        self._done([entry_ack("sensor", ref)])

    def _sensor_log(self, session: Session, sensor: RegistryRef) -> Ack | None:
        spec = SensorLogSpec(
            sensor, session.monotonic_clock, HeadSpec.rolling(5 * SECOND), SECOND, 0
        )
        try:
            handle = session.register_sensor_log(spec)
        except DuplicateLogError:
            self.counts["duplicates"] += 1
            return None
        return log_ack(session, handle.resource_id, handle.root)

    def sensor_log(self) -> None:
        session = self.rng.choice(self.sessions)
        ack = self._sensor_log(session, self.sensors[self.rng.choice(sorted(self.sensors))])
        if ack is not None:
            self._done([ack])

    def transaction(self) -> None:
        """A session (new, or one already there) and several logs in it, atomically: a sensor
        of this writer's own and its log, then logs of shared sensors in id order; a new
        session also gets a time transform log. A quarter roll back on purpose."""
        pending: list[Ack] = []
        roll_back = self.rng.random() < 0.25
        self.counts["transactions"] += 1
        new: Session | None = None
        try:
            with self.peer.transaction():
                if self.rng.random() < 0.5:
                    new = session = self.peer.start_session()
                    pending += session_acks(session)
                else:
                    session = self.rng.choice(self.sessions)
                self.own += 1
                own_id = f"{self.tag}/cam_{self.own}"
                own = self.peer.register_sensor(own_id, camera(self.frame, 320))
                pending.append(entry_ack("sensor", own))
                count = min(len(self.sensors), self.rng.randint(2, 4))
                chosen = sorted(self.rng.sample(sorted(self.sensors), count))
                logs: list[tuple[str, RegistryRef]] = [
                    (own_id, own),
                    *((sensor_id, self.sensors[sensor_id]) for sensor_id in chosen),
                ]
                for _, ref in sorted(logs, key=lambda item: item[0]):
                    ack = self._sensor_log(session, ref)
                    if ack is not None:
                        pending.append(ack)
                if new is not None:
                    spec = TimeTransformLogSpec(
                        new.monotonic_clock,
                        new.utc_clock,
                        {"kind": "local_clock_read"},
                        HeadSpec.fixed(),
                        SECOND,
                        0,
                    )
                    handle = new.register_time_transform_log(spec)
                    pending.append(log_ack(new, handle.resource_id, handle.root))
                if roll_back:
                    raise RolledBack
        except RolledBack:
            self.counts["rollbacks"] += 1
            return
        if new is not None:
            self.sessions.append(new)
        self._done(pending)


def hold(args: argparse.Namespace) -> int:
    peer = make_peer(args.root, args.url, args.peer, "holder")
    frame = peer.register_frame("base_link", FrameDef.ros_body())
    sensor = peer.register_sensor(args.sensor, camera(frame))
    session = peer.start_session() if args.session is None else peer.open_session(args.session)
    try:
        with peer.transaction():
            spec = SensorLogSpec(
                sensor, session.monotonic_clock, HeadSpec.rolling(5 * SECOND), SECOND, 0
            )
            handle = session.register_sensor_log(spec)
            info = {
                "session_id": session.session_id,
                "peer_id": peer.peer_id,
                "resource_id": handle.resource_id,
                "root": handle.root,
                "pid": os.getpid(),
            }
            Path(args.info).write_text(json.dumps(info), encoding="utf-8")
            print("inside", flush=True)
            if sys.stdin.readline().strip() != "commit":
                raise RolledBack
    except RolledBack:
        print("rolled back", flush=True)
        return 0
    print("committed", flush=True)
    return 0


def write(args: argparse.Namespace) -> int:
    peer = make_peer(args.root, args.url, args.peer, "log-writer")
    shared = None if args.session is None else peer.open_session(args.session)  # opens the store
    peer.sessions()
    writer = LogWriter(
        peer,
        random.Random(args.seed),
        AckFile(args.acks),
        f"w{args.seed}",
        shared,
        transactions=args.transactions,
    )
    print("ready", flush=True)
    if args.wait_for_go:
        sys.stdin.readline()
    done = 0
    while True:
        if args.until is not None:
            if os.path.exists(args.until):
                break
        elif done >= args.steps:
            break
        writer.step()
        done += 1
    print(json.dumps({"steps": done, **writer.counts, "errors": writer.errors}), flush=True)
    return 0


def pause(args: argparse.Namespace) -> int:
    """Register one sensor log, pausing once at a chosen point of writing its files: `journal`,
    between creating the journal (under its temporary name) and locking it; `walk`, once the
    log's path has been walked down to the peer's directory, before the log's own directory
    is made. Prints "paused" and reads a line there. Prints a JSON line at the end: what was
    registered, or the error."""
    from auki_session._store import files, journal

    paused = False

    def wait() -> None:
        nonlocal paused
        paused = True
        print("paused", flush=True)
        sys.stdin.readline()

    if args.at == "journal":
        real = fcntl

        def flock(fd: int, operation: int) -> None:
            if operation == real.LOCK_EX and not paused:  # the writer's own, blocking lock
                wait()
            real.flock(fd, operation)

        journal.fcntl = SimpleNamespace(  # type: ignore[attr-defined,assignment]
            flock=flock, LOCK_EX=real.LOCK_EX, LOCK_NB=real.LOCK_NB, LOCK_UN=real.LOCK_UN
        )
    else:
        real_child = files.Directory.child

        def child(self: files.Directory, name: str, *, create: bool = False) -> files.Directory:
            found = real_child(self, name, create=create)
            if create and name == args.peer and not paused:
                wait()
            return found

        files.Directory.child = child  # type: ignore[method-assign]

    peer = make_peer(args.root, args.url, args.peer, "pauser")
    frame = peer.register_frame("base_link", FrameDef.ros_body())
    sensor = peer.register_sensor(args.sensor, camera(frame))
    session = peer.start_session() if args.session is None else peer.open_session(args.session)
    print("ready", flush=True)
    spec = SensorLogSpec(sensor, session.monotonic_clock, HeadSpec.rolling(5 * SECOND), SECOND, 0)
    try:
        handle = session.register_sensor_log(spec)
    except StoreError as error:
        print(json.dumps({"paused": paused, "error": failure(error)}))
        return 0
    registered = {
        "paused": paused,
        "session_id": session.session_id,
        "resource_id": handle.resource_id,
        "root": handle.root,
    }
    print(json.dumps(registered), flush=True)
    return 0


def open_again(args: argparse.Namespace) -> int:
    """Open the store over and over; count the opens that found journals to look at."""
    pending = Path(args.root) / PENDING
    opens = with_journals = 0
    print("ready", flush=True)
    while opens < args.times if args.until is None else not os.path.exists(args.until):
        with contextlib.suppress(FileNotFoundError):
            with_journals += any(name.endswith(".json") for name in os.listdir(pending))
        peer = make_peer(args.root, args.url, f"opener-{os.getpid()}", "opener")
        peer.sessions()  # opens the store: replays every journal it can lock
        peer.close()  # so that the next Peer opens (and replays) again
        opens += 1
        time.sleep(0.005)
    print(json.dumps({"opens": opens, "with_journals": with_journals}), flush=True)
    return 0


def create(args: argparse.Namespace) -> int:
    peer = make_peer(args.root, args.url, "creator", "creator")
    print("ready", flush=True)
    sys.stdin.readline()
    peer.register_frame("base_link", FrameDef.ros_body())
    print("created", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("hold", "write", "open", "create", "pause"))
    parser.add_argument("root")
    parser.add_argument("--url")
    parser.add_argument("--peer", default="galbot")
    parser.add_argument("--info")
    parser.add_argument("--sensor", default="head_cam", help="hold, pause: the sensor logged")
    parser.add_argument("--at", choices=("journal", "walk"), default="journal", help="pause")
    parser.add_argument("--acks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--session", help="a session of this peer to register logs into")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--times", type=int, default=1, help="open: how many opens")
    parser.add_argument("--until", help="run until this file exists")
    parser.add_argument("--transactions", type=float, default=0.35)
    parser.add_argument("--wait-for-go", action="store_true", help="after 'ready', read a line")
    args = parser.parse_args(argv)
    modes = {"hold": hold, "write": write, "open": open_again, "create": create, "pause": pause}
    return modes[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
