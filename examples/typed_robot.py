"""A robot's start-up script, typed: `mypy --strict examples/typed_robot.py` checks every body
key, kind and ref against auki_session's types (CI runs it). Run it to register the robot into
./typed-robot-demo."""

from __future__ import annotations

import sys

from auki_session import (
    CameraBody,
    ClockBody,
    DetectionLogSpec,
    FrameDef,
    HeadSpec,
    Peer,
    PoseLogSpec,
    RegistryRef,
    SensorLogSpec,
    TimeTransformLogSpec,
)

SECOND = 1_000_000_000


def head_camera(frame: RegistryRef) -> CameraBody:
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
        "calibration": {"fx": 912.5, "fy": 911.8, "cx": 640.2, "cy": 359.7},
        "frame": frame,
    }


def main(root: str) -> None:
    peer = Peer("galbot", "galbot-ctrl").with_storage_root(root)
    base = peer.register_frame("base_link", FrameDef.ros_body())
    optical = peer.register_frame("head_left_optical", FrameDef.ros_optical())
    camera = peer.register_sensor("head_left_rgb", head_camera(optical))
    imu_temperature = peer.register_sensor(
        "imu_temperature",
        {"kind": "scalar", "type": "temperature", "unit": "celsius", "expected_rate_hz": 1},
    )
    markers = peer.register_detector(
        "aruco_4x4", {"type": "aruco", "dictionary": "DICT_4X4_50"}, ["aruco_marker"]
    )
    session = peer.start_session()
    ptp: ClockBody = {"type": "utc_clock", "unit": "ns", "monotonic": False, "scope": "global"}
    clock = session.register_clock("ptp", ptp)
    camera_log = session.register_sensor_log(
        SensorLogSpec(camera, session.monotonic_clock, HeadSpec.rolling(5 * SECOND), SECOND, 0)
    )
    session.register_sensor_log(
        SensorLogSpec(imu_temperature, session.monotonic_clock, HeadSpec.fixed(), SECOND, 0)
    )
    session.register_pose_log(
        PoseLogSpec(
            base,
            optical,
            session.monotonic_clock,
            {"kind": "ros2_tf", "publishers": ["/tf_static"]},
            "rigid",
            0,
            HeadSpec.fixed(),
            SECOND,
            0,
        )
    )
    session.register_time_transform_log(
        TimeTransformLogSpec(
            session.monotonic_clock,
            clock,
            {"kind": "local_clock_read"},
            HeadSpec.rolling(60 * SECOND),
            SECOND,
            0,
        )
    )
    session.register_detection_log(
        DetectionLogSpec(
            markers,
            camera_log.log_ref,
            camera,
            session.monotonic_clock,
            HeadSpec.rolling(5 * SECOND),
            SECOND,
            0,
            cadence={"kind": "periodic", "period_ns": SECOND // 10},
        )
    )
    for entry in peer.entries(kind="sensor"):
        print(entry.kind, entry.id, entry.hash)
    print(session.frame_tree().roots("frame"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "typed-robot-demo")
