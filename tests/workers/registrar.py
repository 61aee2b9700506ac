"""A registering process (or thread) for the reliability tests.

Run as a script, it registers frames, sensors, detectors, sessions, clocks and logs into one
storage root, some of them inside `peer.transaction()` blocks (a few of which roll back), and
appends one JSON line per acknowledged registration to an acks file, flushed and fsynced only
after the call has returned. With `--ops 0` it runs until killed.

    python tests/workers/registrar.py ROOT --peer galbot --acks acks.jsonl --seed 7 --ops 50
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
from collections.abc import Callable
from typing import Any

from auki_session import (
    DuplicateLogError,
    FrameDef,
    HeadSpec,
    Peer,
    PoseLogSpec,
    RegistryRef,
    SensorLogSpec,
    Session,
    TimeTransformLogSpec,
)

SECOND = 1_000_000_000
# Small pools of ids, so that processes and threads keep registering over each other.
FRAME_IDS = ("base_link", "arm/link_1", "head_optical", "lidar_frame")
SENSOR_IDS = ("head_cam", "arm/wrist_cam", "front_cam")
DETECTOR_IDS = ("tags", "people/v2")
CLOCK_IDS = ("ptp", "gps/pps")
PRESETS = (FrameDef.ros_body, FrameDef.ros_optical, FrameDef.opengl, FrameDef.unity)

Ack = dict[str, Any]


class RolledBack(Exception):
    """Raised inside a transaction block on purpose, to roll it back."""


class AckFile:
    """Acknowledgements appended to a file, each one flushed and fsynced before returning."""

    def __init__(self, path: str) -> None:
        self._handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()
        # A writer killed in the middle of a batch of acks may have left a fragment of a line
        # (a batch larger than the buffer goes out in several writes): end it, so that this
        # writer's acks start on a line of their own and the fragment stays one bad line.
        if self._handle.tell() > 0:
            self._handle.seek(self._handle.tell() - 1)
            if self._handle.read(1) != "\n":
                self._handle.write("\n")

    def __call__(self, acks: list[Ack]) -> None:
        if not acks:
            return
        with self._lock:
            self._handle.write("".join(json.dumps(a) + "\n" for a in acks))
            self._handle.flush()
            os.fsync(self._handle.fileno())


def entry_ack(kind: str, ref: RegistryRef, session_id: str | None = None) -> Ack:
    return {"type": "entry", "kind": kind, "session_id": session_id, **ref.to_dict()}


def session_acks(session: Session) -> list[Ack]:
    return [
        {"type": "session", "session_id": session.session_id, "peer_id": session.peer_id},
        entry_ack("clock", session.monotonic_clock, session.session_id),
        entry_ack("clock", session.utc_clock, session.session_id),
    ]


def log_ack(session: Session, resource_id: str, root: str) -> Ack:
    return {
        "type": "log",
        "session_id": session.session_id,
        "peer_id": session.peer_id,
        "resource_id": resource_id,
        "root": root,
    }


class Registrar:
    """Random registrations by one peer; `step()` does one and reports what was acknowledged."""

    def __init__(
        self,
        peer: Peer,
        rng: random.Random,
        ack: Callable[[list[Ack]], None],
        shared_session: str | None = None,
        *,
        transactions: float = 0.2,
    ) -> None:
        self.peer = peer
        self.rng = rng
        self.ack = ack
        self.transactions = transactions
        self.frames: list[RegistryRef] = []
        self.sensors: list[RegistryRef] = []
        self.sessions: list[Session] = []
        if shared_session is not None:
            self.sessions.append(peer.open_session(shared_session))
        self.duplicates = 0
        self.rollbacks = 0
        self.acked = 0

    def _done(self, acks: list[Ack]) -> None:
        self.ack(acks)
        self.acked += len(acks)

    def step(self) -> None:
        """One random registration (or transaction), acknowledged after it returned."""
        if self.rng.random() < self.transactions:
            self.transaction()
            return
        actions = [self.frame, self.frame, self.detector, self.session]
        if self.frames:
            actions += [self.sensor, self.sensor]
        if self.sessions:
            actions += [self.clock, self.time_transform_log]
            if self.sensors:
                actions += [self.sensor_log, self.sensor_log]
            if len(self.frames) > 1:
                actions.append(self.pose_log)
        self.rng.choice(actions)()

    def frame(self) -> list[Ack]:
        frame_id = self.rng.choice(FRAME_IDS)
        ref = self.peer.register_frame(frame_id, self.rng.choice(PRESETS)())
        self.frames.append(ref)
        acks = [entry_ack("frame", ref)]
        self._done(acks)
        return acks

    def sensor(self) -> list[Ack]:
        frame = self.rng.choice(self.frames)
        body = {
            "kind": "camera",
            "type": "rgb",
            "width": self.rng.choice((320, 640)),
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
        ref = self.peer.register_sensor(self.rng.choice(SENSOR_IDS), body)
        self.sensors.append(ref)
        acks = [entry_ack("sensor", ref)]
        self._done(acks)
        return acks

    def detector(self) -> list[Ack]:
        body = {"type": "aruco", "dictionary": self.rng.choice(("4x4_50", "6x6_250"))}
        ref = self.peer.register_detector(self.rng.choice(DETECTOR_IDS), body, ["pose"])
        acks = [entry_ack("detector", ref)]
        self._done(acks)
        return acks

    def session(self) -> list[Ack]:
        session = self.peer.start_session()
        self.sessions.append(session)
        acks = session_acks(session)
        self._done(acks)
        return acks

    def clock(self) -> list[Ack]:
        session = self.rng.choice(self.sessions)
        body = {
            "type": "utc_clock",
            "unit": "ns",
            "monotonic": False,
            "scope": self.rng.choice(("global", "domain-local")),
        }
        ref = session.register_clock(self.rng.choice(CLOCK_IDS), body)
        acks = [entry_ack("clock", ref, session.session_id)]
        self._done(acks)
        return acks

    def _log(self, session: Session, register: Callable[[], Any]) -> list[Ack]:
        try:
            handle = register()
        except DuplicateLogError:
            self.duplicates += 1
            return []
        acks = [log_ack(session, handle.resource_id, handle.root)]
        self._done(acks)
        return acks

    def sensor_log(self, session: Session | None = None) -> list[Ack]:
        session = session or self.rng.choice(self.sessions)
        spec = SensorLogSpec(
            self.rng.choice(self.sensors),
            session.monotonic_clock,
            HeadSpec.rolling(5 * SECOND),
            SECOND,
            0,
        )
        return self._log(session, lambda: session.register_sensor_log(spec))

    def pose_log(self, session: Session | None = None) -> list[Ack]:
        session = session or self.rng.choice(self.sessions)
        a, b = self.rng.sample(self.frames, 2)
        spec = PoseLogSpec(
            a, b, session.utc_clock, {"kind": "manual"}, "rigid", 0, HeadSpec.fixed(), SECOND, 0
        )
        return self._log(session, lambda: session.register_pose_log(spec))

    def time_transform_log(self, session: Session | None = None) -> list[Ack]:
        session = session or self.rng.choice(self.sessions)
        spec = TimeTransformLogSpec(
            session.monotonic_clock,
            session.utc_clock,
            {"kind": "local_clock_read"},
            HeadSpec.fixed(),
            SECOND,
            0,
        )
        return self._log(session, lambda: session.register_time_transform_log(spec))

    def transaction(self) -> None:
        """A frame, a sensor, a new session and its logs, atomically; sometimes rolled back."""
        pending: list[Ack] = []
        quiet = Registrar(self.peer, self.rng, pending.extend, transactions=0)
        quiet.frames, quiet.sensors = list(self.frames), list(self.sensors)
        roll_back = self.rng.random() < 0.25
        try:
            with self.peer.transaction():
                quiet.frame()
                quiet.frame()
                quiet.sensor()
                session = quiet.session()[0]["session_id"]
                new = quiet.sessions[-1]
                assert new.session_id == session
                quiet.sensor_log(new)
                quiet.pose_log(new)
                quiet.time_transform_log(new)
                if roll_back:
                    raise RolledBack
        except RolledBack:
            self.rollbacks += 1
            return
        self.frames, self.sensors = quiet.frames, quiet.sensors
        self.sessions.append(new)
        self._done(pending)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root")
    parser.add_argument("--peer", default="galbot")
    parser.add_argument("--app", default="reliability")
    parser.add_argument("--acks", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ops", type=int, default=50, help="0: run until killed")
    parser.add_argument("--session", help="a session of this peer to register logs into")
    parser.add_argument("--transactions", type=float, default=0.2)
    parser.add_argument("--wait-for-go", action="store_true", help="after 'ready', read a line")
    args = parser.parse_args(argv)

    print("imported", flush=True)
    peer = Peer(args.peer, args.app).with_storage_root(args.root)
    registrar = Registrar(
        peer,
        random.Random(args.seed),
        AckFile(args.acks),
        args.session,
        transactions=args.transactions,
    )
    peer.sessions()  # open (and repair) the store before saying we are ready
    print("ready", flush=True)
    if args.wait_for_go:
        sys.stdin.readline()
    done = 0
    while args.ops == 0 or done < args.ops:
        registrar.step()
        done += 1
    summary = {
        "acked": registrar.acked,
        "duplicates": registrar.duplicates,
        "rollbacks": registrar.rollbacks,
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
