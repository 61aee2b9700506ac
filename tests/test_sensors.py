"""Sensor entries (SPEC section 3): the camera vector, the Rust SDK's rules, every sensor kind.

Entries are built with the pure `sensor_entry` (no store) to check the SDK's bytes.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any

import pytest

from auki_session import EntryTooLargeError, InvalidEntryError, InvalidRefError, RegistryRef
from auki_session._domain.entries import MAX_ENTRY_BYTES, sensor_entry
from tests.conftest import camera_body

PEER = "test-peer"
CAMERA_ID = "K1-AABBCCDDEEFF/head_left_cam"
FRAME = RegistryRef(
    peer_id="test-peer",
    id="K1-AABBCCDDEEFF/head_left_cam_optical",
    hash="03b86f32827ec6a25a5e619b2f36478b",
)
SPEC_CAMERA_BYTES = (
    b'{"color_space":"BT.709","distortion_model":"plumb_bob","frame":{"hash":'
    b'"03b86f32827ec6a25a5e619b2f36478b","id":"K1-AABBCCDDEEFF/head_left_cam_optical",'
    b'"peer_id":"test-peer"},"frame_rate_hz":20,"height":488,"image_encoding":"raw",'
    b'"intrinsics_model":"pinhole","kind":"camera","peer_id":"test-peer","pixel_format":'
    b'"YUV_NV12","row_stride_bytes":544,"sensor_id":"K1-AABBCCDDEEFF/head_left_cam",'
    b'"type":"rgb","width":544}'
)
SPEC_CAMERA_HASH = "9306d67f99d38ced7c186c0f63734421"


def camera(**overrides: Any) -> dict[str, Any]:
    """The spec's camera vector body (in the spec's frame), with `overrides`."""
    return camera_body(FRAME, **overrides)


def calibrated(**calibration: Any) -> dict[str, Any]:
    return camera(calibration={"fx": 400.0, "fy": 400.0, "cx": 272.0, "cy": 244.0, **calibration})


def entry_json(body: dict[str, Any], sensor_id: str = CAMERA_ID) -> dict[str, Any]:
    """The sensor's registry entry, parsed back from its canonical bytes."""
    return json.loads(sensor_entry(PEER, sensor_id, body).canonical)  # type: ignore[no-any-return]


def as_json(body: dict[str, Any]) -> dict[str, Any]:
    """A body as JSON, with RegistryRef values written as objects."""
    return {k: v.to_dict() if isinstance(v, RegistryRef) else v for k, v in body.items()}


BODIES: dict[str, dict[str, Any]] = {
    "rangefinder": {
        "kind": "rangefinder",
        "type": "lidar",
        "fields": [
            {"name": "x", "offset": 0, "datatype": "float32", "count": 1},
            {"name": "intensity", "offset": 12, "datatype": "uint16", "count": 1},
        ],
        "point_step": 16,
        "is_bigendian": False,
        "frame_rate_hz": 10,
        "frame": FRAME,
    },
    "rf": {"kind": "rf", "type": "uwb", "frame": FRAME},
    "audio": {
        "kind": "audio",
        "type": "mic_array",
        "sample_rate_hz": 48000,
        "channels": 4,
        "sample_format": "s16le",
        "channel_layout": "quad",
        "frame": FRAME,
    },
    "joint_encoders": {
        "kind": "joint_encoders",
        "type": "arm",
        "joint_count": 7,
        "frame_rate_hz": 500,
        "frame": FRAME,
    },
    "scalar": {"kind": "scalar", "type": "battery", "unit": "volts", "expected_rate_hz": 1},
}


# --- the camera vector -------------------------------------------------------------------------


def test_the_spec_camera_reproduces_its_canonical_bytes() -> None:
    assert sensor_entry(PEER, CAMERA_ID, camera()).canonical == SPEC_CAMERA_BYTES


def test_the_spec_camera_reproduces_its_hash() -> None:
    entry = sensor_entry(PEER, CAMERA_ID, camera())
    assert entry.hash == SPEC_CAMERA_HASH
    assert entry.ref == RegistryRef(PEER, CAMERA_ID, SPEC_CAMERA_HASH)


def test_a_sensor_entry_depends_on_its_own_peers_frame() -> None:
    entry = sensor_entry(PEER, CAMERA_ID, camera())
    assert entry.depends_on == (("frame", FRAME),)


def test_a_sensor_entry_does_not_depend_on_another_peers_frame() -> None:
    other = RegistryRef("other-peer", "base_link", "0" * 32)
    assert sensor_entry(PEER, CAMERA_ID, camera(frame=other)).depends_on == ()


def test_the_sensor_id_is_checked_against_the_id_rules() -> None:
    with pytest.raises(ValueError, match=r": registry id contains disallowed character '@' \("):
        sensor_entry(PEER, "cam@left", camera())


# --- camera rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"width": 0}, "width and height"),
        ({"height": 0}, "width and height"),
        ({"image_encoding": ""}, "image_encoding and pixel_format"),
        ({"pixel_format": ""}, "image_encoding and pixel_format"),
        ({"image_encoding": "raw", "row_stride_bytes": 0}, "row_stride_bytes"),
        ({"image_encoding": "jpeg", "row_stride_bytes": 544}, "row_stride_bytes"),
    ],
    ids=["width 0", "height 0", "no encoding", "no pixel format", "raw stride 0", "jpeg stride"],
)
def test_each_image_layout_rule_is_an_invalid_image_layout_error(
    overrides: dict[str, Any], rule: str
) -> None:
    with pytest.raises(ValueError) as raised:
        sensor_entry(PEER, CAMERA_ID, camera(**overrides))
    message = str(raised.value)
    assert message.startswith("invalid image layout: ")
    assert rule in message


def test_a_compressed_camera_with_zero_row_stride_is_accepted() -> None:
    assert entry_json(camera(image_encoding="jpeg", row_stride_bytes=0))["row_stride_bytes"] == 0


@pytest.mark.parametrize(
    ("calibration", "rule"),
    [
        ({"fx": 0.0}, "fx and fy"),
        ({"fy": 0}, "fx and fy"),
        ({"fx": -1.0}, "fx and fy"),
        ({"fx": math.inf}, "fx and fy"),
        ({"fy": math.nan}, "fx and fy"),
        ({"cx": math.inf}, "cx and cy"),
        ({"cy": math.nan}, "cx and cy"),
        ({"cx": -math.inf}, "cx and cy"),
        ({"distortion_coefficients": [0.1, math.nan]}, "distortion coefficients"),
        ({"distortion_coefficients": [math.inf]}, "distortion coefficients"),
    ],
)
def test_each_calibration_rule_is_an_invalid_camera_calibration_error(
    calibration: dict[str, Any], rule: str
) -> None:
    with pytest.raises(ValueError) as raised:
        sensor_entry(PEER, CAMERA_ID, calibrated(**calibration))
    message = str(raised.value)
    assert message.startswith("invalid camera calibration: ")
    assert rule in message


def test_negative_principal_point_is_accepted() -> None:
    assert entry_json(calibrated(cx=-3.5))["calibration"]["cx"] == -3.5


def test_calibration_is_omitted_from_the_entry_when_absent() -> None:
    assert "calibration" not in entry_json(camera())


def test_a_null_calibration_is_the_same_as_none() -> None:
    assert sensor_entry(PEER, CAMERA_ID, camera(calibration=None)).hash == SPEC_CAMERA_HASH


def test_calibration_is_included_when_given() -> None:
    calibration = entry_json(calibrated(distortion_coefficients=[0.1, -0.2, 0.0]))["calibration"]
    assert calibration == {
        "fx": 400,
        "fy": 400,
        "cx": 272,
        "cy": 244,
        "distortion_coefficients": [0.1, -0.2, 0],
    }


def test_empty_distortion_coefficients_are_omitted() -> None:
    assert "distortion_coefficients" not in entry_json(calibrated(distortion_coefficients=[]))


def test_empty_distortion_coefficients_hash_like_absent_ones() -> None:
    with_empty = sensor_entry(PEER, CAMERA_ID, calibrated(distortion_coefficients=[]))
    assert with_empty.hash == sensor_entry(PEER, CAMERA_ID, calibrated()).hash


def test_integral_floats_and_ints_hash_the_same() -> None:
    floats = sensor_entry(PEER, CAMERA_ID, calibrated(fx=400.0, fy=400.0))
    ints = sensor_entry(PEER, CAMERA_ID, calibrated(fx=400, fy=400))
    assert floats.hash == ints.hash
    assert b'"fx":400,' in floats.canonical


def test_an_unknown_calibration_key_is_rejected_naming_it() -> None:
    with pytest.raises(InvalidEntryError, match="'skew'"):
        sensor_entry(PEER, CAMERA_ID, calibrated(skew=0.0))


def test_a_missing_calibration_field_is_named() -> None:
    with pytest.raises(InvalidEntryError, match="missing field 'cy'"):
        sensor_entry(PEER, CAMERA_ID, camera(calibration={"fx": 1.0, "fy": 1.0, "cx": 1.0}))


def test_a_bool_calibration_value_is_rejected() -> None:
    with pytest.raises(InvalidEntryError, match="'fx'"):
        sensor_entry(PEER, CAMERA_ID, calibrated(fx=True))


def test_a_bool_distortion_coefficient_is_rejected() -> None:
    with pytest.raises(InvalidEntryError, match=r"distortion_coefficients\[1\]"):
        sensor_entry(PEER, CAMERA_ID, calibrated(distortion_coefficients=[0.1, False]))


def test_a_calibration_value_beyond_double_range_is_rejected() -> None:
    with pytest.raises(InvalidEntryError, match="'fx'"):
        sensor_entry(PEER, CAMERA_ID, calibrated(fx=10**400))


def test_a_distortion_coefficient_beyond_double_range_is_rejected() -> None:
    with pytest.raises(InvalidEntryError, match=r"distortion_coefficients\[0\]"):
        sensor_entry(PEER, CAMERA_ID, calibrated(distortion_coefficients=[10**400]))


# --- the other kinds ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_every_sensor_kind_is_accepted_with_a_valid_body(kind: str) -> None:
    fields = entry_json(BODIES[kind], sensor_id=f"sensor_{kind}")
    assert fields == {**as_json(BODIES[kind]), "peer_id": PEER, "sensor_id": f"sensor_{kind}"}


@pytest.mark.parametrize(
    "datatype", ["int8", "uint8", "int16", "uint16", "int32", "uint32", "float32", "float64"]
)
def test_every_point_field_datatype_is_accepted(datatype: str) -> None:
    body = {**BODIES["rangefinder"]}
    body["fields"] = [{"name": "x", "offset": 0, "datatype": datatype, "count": 1}]
    assert entry_json(body)["fields"][0]["datatype"] == datatype


def test_an_unknown_point_field_datatype_is_rejected() -> None:
    body = {**BODIES["rangefinder"]}
    body["fields"] = [{"name": "x", "offset": 0, "datatype": "float16", "count": 1}]
    with pytest.raises(InvalidEntryError, match="'datatype'"):
        sensor_entry(PEER, "lidar", body)


def test_a_point_field_with_an_unknown_key_is_rejected_naming_it() -> None:
    body = {**BODIES["rangefinder"]}
    body["fields"] = [{"name": "x", "offset": 0, "datatype": "float32", "count": 1, "unit": "m"}]
    with pytest.raises(InvalidEntryError, match=r"fields\[0\].*'unit'"):
        sensor_entry(PEER, "lidar", body)


def test_point_fields_keep_their_order() -> None:
    fields = entry_json(BODIES["rangefinder"])["fields"]
    assert [field["name"] for field in fields] == ["x", "intensity"]


@pytest.mark.parametrize(
    "overrides",
    [{"type": ""}, {"unit": ""}, {"expected_rate_hz": 0}],
    ids=["empty type", "empty unit", "zero rate"],
)
def test_an_invalid_scalar_sensor_has_the_rust_message(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as raised:
        sensor_entry(PEER, "battery", {**BODIES["scalar"], **overrides})
    assert str(raised.value) == (
        "invalid scalar sensor: type and unit must be non-empty "
        "and expected_rate_hz must be positive"
    )


def test_a_scalar_sensor_has_no_frame() -> None:
    with pytest.raises(InvalidEntryError, match="'frame'"):
        sensor_entry(PEER, "battery", {**BODIES["scalar"], "frame": FRAME})


def test_an_unknown_sensor_kind_is_rejected() -> None:
    with pytest.raises(InvalidEntryError, match="'kind'"):
        sensor_entry(PEER, "imu", {"kind": "imu", "type": "bmi088", "frame": FRAME})


def test_a_body_without_kind_is_rejected_naming_it() -> None:
    with pytest.raises(InvalidEntryError, match="missing field 'kind'"):
        sensor_entry(PEER, "cam", {"type": "rgb"})


def test_a_body_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(InvalidEntryError, match="JSON object"):
        sensor_entry(PEER, "cam", [("kind", "rf")])


# --- strict parsing ----------------------------------------------------------------------------


def test_an_unknown_key_is_rejected_naming_it() -> None:
    with pytest.raises(InvalidEntryError, match="unknown field 'exposure_us'"):
        sensor_entry(PEER, CAMERA_ID, camera(exposure_us=100))


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_an_unknown_key_is_rejected_for_every_kind(kind: str) -> None:
    with pytest.raises(InvalidEntryError, match="'serial'"):
        sensor_entry(PEER, "s", {**BODIES[kind], "serial": "A1"})


@pytest.mark.parametrize(
    "field", ["type", "width", "height", "color_space", "distortion_model", "frame"]
)
def test_a_missing_field_is_named(field: str) -> None:
    body = camera()
    del body[field]
    with pytest.raises(InvalidEntryError, match=f"missing field '{field}'"):
        sensor_entry(PEER, CAMERA_ID, body)


@pytest.mark.parametrize("field", ["width", "height", "frame_rate_hz", "row_stride_bytes"])
def test_a_bool_where_a_number_is_expected_is_rejected(field: str) -> None:
    with pytest.raises(InvalidEntryError, match=f"'{field}'"):
        sensor_entry(PEER, CAMERA_ID, camera(**{field: True}))


def test_a_bool_is_rejected_for_a_scalar_rate() -> None:
    with pytest.raises(InvalidEntryError, match="'expected_rate_hz'"):
        sensor_entry(PEER, "battery", {**BODIES["scalar"], "expected_rate_hz": True})


def test_a_float_is_rejected_for_an_integer_field() -> None:
    with pytest.raises(InvalidEntryError, match="'width'"):
        sensor_entry(PEER, CAMERA_ID, camera(width=544.0))


def test_the_u32_maximum_is_accepted() -> None:
    body = camera(width=2**32 - 1, height=2**32 - 1, frame_rate_hz=2**32 - 1)
    assert entry_json(body)["width"] == 2**32 - 1


def test_a_value_past_the_u32_maximum_is_rejected() -> None:
    with pytest.raises(InvalidEntryError, match="'width'"):
        sensor_entry(PEER, CAMERA_ID, camera(width=2**32))


def test_a_negative_value_is_rejected_for_a_u32_field() -> None:
    with pytest.raises(InvalidEntryError, match="'frame_rate_hz'"):
        sensor_entry(PEER, CAMERA_ID, camera(frame_rate_hz=-1))


@pytest.mark.parametrize("value", [5, None, ["BT.709"], {"name": "BT.709"}])
def test_a_wrong_type_for_a_string_field_is_rejected_naming_it(value: object) -> None:
    with pytest.raises(InvalidEntryError, match="'color_space'"):
        sensor_entry(PEER, CAMERA_ID, camera(color_space=value))


def test_is_bigendian_must_be_a_bool() -> None:
    with pytest.raises(InvalidEntryError, match="'is_bigendian'"):
        sensor_entry(PEER, "lidar", {**BODIES["rangefinder"], "is_bigendian": 0})


# --- the frame reference -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [FRAME, FRAME.to_dict(), SimpleNamespace(**FRAME.to_dict())],
    ids=["RegistryRef", "dict", "SimpleNamespace"],
)
def test_a_frame_ref_in_any_shape_gives_the_same_hash(frame: object) -> None:
    assert sensor_entry(PEER, CAMERA_ID, camera(frame=frame)).hash == SPEC_CAMERA_HASH


def test_a_frame_ref_missing_a_field_names_the_field() -> None:
    frame = {"peer_id": FRAME.peer_id, "id": FRAME.id}
    with pytest.raises(InvalidRefError, match=r"'frame'.*'hash'"):
        sensor_entry(PEER, CAMERA_ID, camera(frame=frame))


def test_a_frame_ref_missing_a_field_is_both_type_and_value_error() -> None:
    frame = SimpleNamespace(peer_id=FRAME.peer_id, id=FRAME.id)
    with pytest.raises(TypeError):
        sensor_entry(PEER, CAMERA_ID, camera(frame=frame))
    with pytest.raises(ValueError):
        sensor_entry(PEER, CAMERA_ID, camera(frame=frame))


# --- size limit --------------------------------------------------------------------------------


def test_an_entry_over_65536_canonical_bytes_is_rejected() -> None:
    body = {"kind": "rf", "type": "x" * 70_000, "frame": FRAME}
    with pytest.raises(EntryTooLargeError):
        sensor_entry(PEER, "uwb", body)


def test_entry_too_large_is_an_invalid_entry_value_error() -> None:
    assert issubclass(EntryTooLargeError, InvalidEntryError)
    assert issubclass(EntryTooLargeError, ValueError)


def test_an_entry_of_exactly_65536_canonical_bytes_is_accepted() -> None:
    base = len(sensor_entry(PEER, "uwb", {"kind": "rf", "type": "", "frame": FRAME}).canonical)
    body: dict[str, Any] = {"kind": "rf", "type": "x" * (MAX_ENTRY_BYTES - base), "frame": FRAME}
    assert len(sensor_entry(PEER, "uwb", body).canonical) == MAX_ENTRY_BYTES
    body["type"] += "x"
    with pytest.raises(EntryTooLargeError):
        sensor_entry(PEER, "uwb", body)
