"""The README's demo: register a small robot into a store through the public API, then show
what the store holds with the read commands."""

from __future__ import annotations

from pathlib import Path

from .. import (
    CameraBody,
    DetectionLogSpec,
    FrameDef,
    HeadSpec,
    Peer,
    PoseLogSpec,
    RegistryRef,
    SensorLogSpec,
    Wallet,
)
from .._domain.entries import REGISTRY_KINDS
from .._domain.layout import DB_FILENAME
from .._store.reader import Reader
from . import commands, render
from .commands import DEMO_ROOT, PROG, Result

__all__ = ["DEMO_APP_ID", "DEMO_ROOT", "demo", "demo_wallet", "register_demo_robot"]

DEMO_APP_ID = "galbot-ctrl"


def _camera(frame: RegistryRef) -> CameraBody:
    """The demo robot's head camera, calibrated, in `frame`."""
    return {
        "kind": "camera",
        "type": "rgb",
        "width": 1280,
        "height": 720,
        "frame_rate_hz": 30,
        "image_encoding": "raw",
        "pixel_format": "RGB8",
        "row_stride_bytes": 3840,
        "color_space": "sRGB",
        "intrinsics_model": "pinhole",
        "distortion_model": "plumb_bob",
        "calibration": {
            "fx": 912.5,
            "fy": 911.8,
            "cx": 640.2,
            "cy": 359.7,
            "distortion_coefficients": [0.11, -0.23, 0.0004, -0.0002, 0.07],
        },
        "frame": frame,
    }


def demo_wallet(root: str) -> Wallet:
    """The demo robot's wallet: its seed beside the demo root (`<root>.identity.seed`; never
    inside a storage root, which is copied and pushed), minted on first use."""
    where = Path(root)
    return Wallet.load_or_mint(where.with_name(where.name + ".identity.seed"))


def register_demo_robot(root: str) -> Peer:
    """Declare a robot's frames, a camera, a detector, and a session with two logs, signed by
    the robot's Auki identity."""
    peer = Peer.from_wallet(demo_wallet(root), DEMO_APP_ID).with_storage_root(root)
    with peer.transaction():
        base = peer.register_frame("base_link", FrameDef.ros_body())
        optical = peer.register_frame("head_left_optical", FrameDef.ros_optical())
        camera = peer.register_sensor("head_left_rgb", _camera(optical))
        detector = peer.register_detector(
            "aruco_4x4", {"type": "aruco", "dictionary": "DICT_4X4_50"}, ["aruco_marker"]
        )
        session = peer.start_session()
        clock = session.monotonic_clock
        camera_log = session.register_sensor_log(
            SensorLogSpec(camera, clock, HeadSpec.rolling(5_000_000_000), 1_000_000_000, 0)
        )
        session.register_pose_log(
            PoseLogSpec(
                base,
                optical,
                clock,
                {"kind": "manual"},
                "rigid",
                0,
                HeadSpec.fixed(),
                1_000_000_000,
                0,
            )
        )
        session.register_detection_log(
            DetectionLogSpec(
                detector,
                camera_log.log_ref,
                camera,
                clock,
                HeadSpec.rolling(5_000_000_000),
                1_000_000_000,
                0,
            )
        )
    return peer


def demo(root: str) -> Result:
    """Register the demo robot into `root`, then report it as the read commands do."""
    peer = register_demo_robot(root)
    peer.close()  # the last connection checkpoints the WAL: the summary shows the file as kept
    session_id = peer.sessions()[-1].session_id
    peer.close()
    where = Path(root)

    def report(reader: Reader) -> Result:
        summary = commands.summary(reader)
        found = commands.current_entries(reader, peer.peer_id, REGISTRY_KINDS, None)
        sessions = commands.sessions(reader, peer.peer_id)
        session, session_lines = commands.session(reader, session_id, root=where)
        value = {
            "root": str(where),
            "peer_id": peer.peer_id,
            "app_id": peer.app_id,
            "summary": summary.value,
            "entries": [render.entry_json(entry) for entry in found],
            "sessions": sessions.value,
            "session": session.value,
        }
        hint = f"{PROG} --root {where}"
        lines = [
            f"Registered the demo robot {peer.peer_id} (app {peer.app_id}) in {where}/, "
            f"every record signed by its key (seed in {demo_wallet(root).path})",
            "",
            *render.section("The store", summary.lines),
            *render.section("Current entries", render.entry_lines(found, "none")),
            *render.section("Sessions", sessions.lines),
            *render.section(f"Session {session_id}", session_lines),
            "Try next:",
            *render.table(
                ["", ""],
                [
                    (f"{hint} history", "every version ever registered"),
                    (f"{hint} show {found[0].hash[:12]}", "one entry's canonical JSON"),
                    (f"{hint} session {session_id}", "a session's clocks and logs"),
                    (f"{hint} verify", "recompute every hash, check the manifests"),
                    (f"{hint} export OUT", "write the Rust SDK's file layout"),
                    (f"sqlite3 {where / DB_FILENAME}", "then: SELECT * FROM current_entries;"),
                ],
                indent="  ",
            )[1:],
        ]
        return Result(value, lines)

    return commands.read(where, None, report)
