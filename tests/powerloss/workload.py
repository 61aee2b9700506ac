"""The registrations a power-loss test cuts: run as `python workload.py ROOT ACKS DURABILITY`.

Each call's acknowledgement (one JSON line) is written to ACKS after the call returned; the
crash file system records it in order with what was made durable.
"""

from __future__ import annotations

import json
import os
import sys

from auki_session import (
    FrameDef,
    HeadSpec,
    Peer,
    PoseLogSpec,
    SensorLogSpec,
    TimeTransformLogSpec,
)
from tests.conftest import camera_body

SECOND = 1_000_000_000


def main() -> None:
    root, acks_path, durability = sys.argv[1:4]
    acks = os.open(acks_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def ack(**fields: object) -> None:
        os.write(acks, (json.dumps(fields) + "\n").encode())

    peer = Peer("robot", "app").with_storage_root(root).with_durability(durability)
    base = peer.register_frame("base", FrameDef.ros_body())
    ack(kind="entry", hash=base.hash)
    optical = peer.register_frame("optical", FrameDef.ros_optical())
    ack(kind="entry", hash=optical.hash)
    cam = peer.register_sensor("cam", camera_body(optical))
    ack(kind="entry", hash=cam.hash)
    session = peer.start_session()
    ack(kind="session", id=session.session_id)
    clock = session.monotonic_clock
    log = session.register_sensor_log(SensorLogSpec(cam, clock, HeadSpec.fixed(), SECOND, 0))
    ack(kind="log", session=session.session_id, resource=log.resource_id)
    with peer.transaction():
        left = peer.register_sensor("cam/left", camera_body(optical))
        logs = [
            session.register_sensor_log(SensorLogSpec(left, clock, HeadSpec.fixed(), SECOND, 0)),
            session.register_pose_log(
                PoseLogSpec(
                    base,
                    optical,
                    clock,
                    {"kind": "manual"},
                    "rigid",
                    0,
                    HeadSpec.fixed(),
                    SECOND,
                    0,
                )
            ),
            session.register_time_transform_log(
                TimeTransformLogSpec(
                    clock,
                    session.utc_clock,
                    {"kind": "local_clock_read"},
                    HeadSpec.fixed(),
                    SECOND,
                    0,
                )
            ),
        ]
    ack(kind="entry", hash=left.hash)
    for handle in logs:
        ack(kind="log", session=session.session_id, resource=handle.resource_id)
    try:
        with peer.transaction():
            right = peer.register_sensor("cam/right", camera_body(optical))
            session.register_sensor_log(SensorLogSpec(right, clock, HeadSpec.fixed(), SECOND, 0))
            raise RuntimeError("rolled back on purpose")
    except RuntimeError:
        pass
    second = peer.start_session()
    ack(kind="session", id=second.session_id)
    again = second.register_sensor_log(
        SensorLogSpec(cam, second.monotonic_clock, HeadSpec.rolling(5 * SECOND), SECOND, 0)
    )
    ack(kind="log", session=second.session_id, resource=again.resource_id)
    moved = peer.register_frame("base", FrameDef.unity())
    ack(kind="entry", hash=moved.hash)
    os.close(acks)


if __name__ == "__main__":
    main()
