"""Mistakes `mypy --strict` catches in a robot's script (tests/test_typing.py expects each
error on its line): a misspelt body key, a string where a ref is expected, a kind's plural,
a name the package does not have."""

from __future__ import annotations

import auki_session
from auki_session import CameraBody, FrameDef, HeadSpec, Peer, SensorLogSpec

peer = Peer("galbot", "galbot-ctrl")
frame = peer.register_frame("optical", FrameDef.ros_optical())
body: CameraBody = {
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
    "distorsion_model": "plumb_bob",  # misspelt key
    "frame": frame,
}
camera = peer.register_sensor("cam", body)
session = peer.start_session()
log = SensorLogSpec("cam", session.monotonic_clock, HeadSpec.fixed(), 1, 0)  # a str, not a ref
sensors = peer.entries(kind="sensors")  # the kind is "sensor"
other = auki_session.Peeer("galbot", "galbot-ctrl")  # no such name
