"""Property tests: parsing any body, however malformed, raises only the package's own errors.

Callers catch `AukiSessionError` (or the builtin it subclasses); a KeyError, AttributeError,
OverflowError or RecursionError escaping a parser would be a bug.

The pure entry builders are fuzzed directly: no store, so many more examples a second.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auki_session import FrameDef, RegistryRef
from auki_session._domain.entries import clock_entry, detector_entry, frame_entry, sensor_entry
from auki_session.errors import AukiSessionError


def _nested(depth: int, make: Callable[[object], object]) -> object:
    value: object = 0
    for _ in range(depth):
        value = make(value)
    return value


FRAME = RegistryRef("test-peer", "K1/base_link", "476d36916dd2c96f09ea57304d0da334")
ODD_VALUES = [
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    1e308,
    2**32,
    2**64,
    -(2**63),
    10**400,
    10**5000,
    "\ud800",
    "",
    "\x00",
    b"bytes",
    (),
    ("a", 1),
    frozenset({1}),
    {1, 2},
    object(),
    SimpleNamespace(),
    SimpleNamespace(peer_id="p", id="i", hash="h"),
    FRAME,
    FrameDef.ros_body(),
    {1: "int key"},
    {(1, 2): "tuple key"},
    {None: None, "a": 1},
    _nested(2_000, lambda v: [v]),
    _nested(2_000, lambda v: {"a": v}),
    _nested(100_000, lambda v: [v]),
]


def odd_value(index: int) -> object:
    """Drawn by index: hypothesis cannot repr a strategy holding 10**5000 or a deep list."""
    return ODD_VALUES[index]


odd_values = st.integers(min_value=0, max_value=len(ODD_VALUES) - 1).map(odd_value)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    odd_values,
)
keys = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "kind",
            "type",
            "frame",
            "width",
            "height",
            "calibration",
            "fx",
            "fields",
            "unit",
            "peer_id",
            "id",
            "hash",
            "axes",
            "x",
            "handedness",
            "units",
            "epoch",
            "scope",
            "configuration",
            "input_types",
            "output_types",
            "sensor_kind",
            "distortion_coefficients",
        ]
    ),
    st.integers(),
    st.none(),
)
json_ish = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.tuples(children, children),
        st.dictionaries(keys, children, max_size=6),
    ),
    max_leaves=25,
)
FRAME_DICT = FRAME.to_dict()
VALID_SENSORS: list[dict[str, Any]] = [
    {
        "kind": "camera",
        "type": "rgb",
        "width": 544,
        "height": 488,
        "frame_rate_hz": 20,
        "image_encoding": "raw",
        "pixel_format": "YUV_NV12",
        "row_stride_bytes": 544,
        "color_space": "BT.709",
        "intrinsics_model": "pinhole",
        "distortion_model": "plumb_bob",
        "calibration": {
            "fx": 400.0,
            "fy": 400.0,
            "cx": 272.0,
            "cy": 244.0,
            "distortion_coefficients": [0.1, -0.2],
        },
        "frame": FRAME_DICT,
    },
    {
        "kind": "rangefinder",
        "type": "lidar",
        "fields": [{"name": "x", "offset": 0, "datatype": "float32", "count": 1}],
        "point_step": 16,
        "is_bigendian": False,
        "frame_rate_hz": 10,
        "frame": FRAME_DICT,
    },
    {"kind": "rf", "type": "uwb", "frame": FRAME_DICT},
    {
        "kind": "audio",
        "type": "mic",
        "sample_rate_hz": 48000,
        "channels": 2,
        "sample_format": "s16le",
        "channel_layout": "stereo",
        "frame": FRAME_DICT,
    },
    {
        "kind": "joint_encoders",
        "type": "arm",
        "joint_count": 7,
        "frame_rate_hz": 500,
        "frame": FRAME_DICT,
    },
    {"kind": "scalar", "type": "battery", "unit": "V", "expected_rate_hz": 1},
]
VALID_DETECTORS: list[dict[str, Any]] = [
    {"type": "aruco", "dictionary": "DICT_4X4_50"},
    {"type": "qr"},
    {"type": "esl"},
    {"type": "object_detection", "model": "yolo"},
    {"type": "custom", "kind": "k", "configuration": {"a": [1, 2.5, None]}},
]
VALID_CLOCKS: list[dict[str, Any]] = [
    {
        "type": "monotonic_clock",
        "unit": "ns",
        "monotonic": True,
        "epoch": None,
        "scope": "device-local",
    },
    {
        "type": "utc_clock",
        "unit": "ns",
        "monotonic": False,
        "epoch": "1970-01-01T00:00:00Z",
        "scope": "global",
    },
]
VALID_FRAMES: list[dict[str, Any]] = [
    {"handedness": "right", "axes": {"x": "forward", "y": "left", "z": "up"}, "units": "meters"},
]


@st.composite
def mutated(draw: st.DrawFn, valid: list[dict[str, Any]]) -> object:
    """A valid body with a few fields (possibly nested) replaced, deleted or added."""
    body: Any = copy.deepcopy(draw(st.sampled_from(valid)))
    # Only the copy's own objects are mutated, never a shared one from ODD_VALUES.
    own = {id(body)} | {id(v) for v in body.values() if isinstance(v, dict | list)}
    own |= {id(v[0]) for v in body.values() if isinstance(v, list) and v}
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        target = body
        # Descend into a nested object now and then (calibration, frame, axes, fields[0]).
        while isinstance(target, dict) and draw(st.booleans()):
            nested = [k for k, v in target.items() if id(v) in own and v]
            if not nested:
                break
            child = target[draw(st.sampled_from(nested))]
            target = child[0] if isinstance(child, list) else child
        if not isinstance(target, dict):
            break
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "add" or not target:
            target[draw(keys)] = draw(json_ish)
        else:
            key = draw(st.sampled_from(sorted(target, key=repr)))
            if action == "delete":
                del target[key]
            else:
                target[key] = draw(json_ish)
    return body


def bodies(valid: list[dict[str, Any]]) -> st.SearchStrategy[object]:
    return st.one_of(mutated(valid), json_ish, st.dictionaries(keys, json_ish, max_size=8))


def only_package_errors(call: Callable[[], object]) -> None:
    with contextlib.suppress(AukiSessionError):
        call()


fuzz = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ids = st.one_of(st.just("K1/thing"), st.text(max_size=10), scalars)


@fuzz
@given(body=bodies(VALID_SENSORS), sensor_id=ids)
def test_sensor_entry_raises_only_package_errors(body: object, sensor_id: object) -> None:
    only_package_errors(lambda: sensor_entry("test-peer", sensor_id, body))


@fuzz
@given(
    body=bodies(VALID_DETECTORS),
    output_types=st.one_of(st.lists(st.text(max_size=8), max_size=4), json_ish),
    input_types=st.one_of(
        st.none(),
        st.lists(
            st.one_of(
                st.fixed_dictionaries(
                    {"sensor_kind": st.text(max_size=8)},
                    optional={
                        "sensor_type": st.one_of(st.none(), st.text(max_size=8), scalars),
                        "image_encoding": scalars,
                        "pixel_format": st.text(max_size=8),
                    },
                ),
                json_ish,
            ),
            max_size=3,
        ),
        json_ish,
    ),
)
def test_detector_entry_raises_only_package_errors(
    body: object, output_types: object, input_types: object
) -> None:
    only_package_errors(lambda: detector_entry("test-peer", "det", body, output_types, input_types))


@fuzz
@given(body=bodies(VALID_CLOCKS), clock_id=ids)
def test_clock_entry_raises_only_package_errors(body: object, clock_id: object) -> None:
    only_package_errors(lambda: clock_entry("galbot", "sess-m1", clock_id, body))


@fuzz
@given(body=st.one_of(bodies(VALID_FRAMES), odd_values), frame_id=ids)
def test_frame_entry_raises_only_package_errors(body: object, frame_id: object) -> None:
    only_package_errors(lambda: frame_entry("test-peer", frame_id, body))


@fuzz
@given(body=mutated(VALID_SENSORS))
def test_a_sensor_body_that_parses_always_has_canonical_bytes_within_the_limit(
    body: object,
) -> None:
    try:
        entry = sensor_entry("test-peer", "s", body)
    except AukiSessionError:
        return
    assert len(entry.canonical) <= 65_536
    assert len(entry.hash) == 32
    assert sensor_entry("test-peer", "s", body).hash == entry.hash
