"""The README's demo: register a small robot into a store, then report what the store holds."""

from __future__ import annotations

from .frames import FrameDef
from .peer import Peer
from .specs import DetectionLogSpec, HeadSpec, PoseLogSpec, SensorLogSpec

DEMO_PEER_ID = "12D3KooWDemoGalbot"
DEMO_APP_ID = "galbot-ctrl"
_CAMERA = {
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
}


def register_demo_robot(root: str) -> Peer:
    """Declare a robot's frames, a camera, a detector, and a session with two logs."""
    peer = Peer(DEMO_PEER_ID, DEMO_APP_ID).with_storage_root(root)
    with peer.transaction():
        base = peer.register_frame("base_link", FrameDef.ros_body())
        optical = peer.register_frame("head_left_optical", FrameDef.ros_optical())
        camera = peer.register_sensor("head_left_rgb", {**_CAMERA, "frame": optical})
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
