"""Frame definitions: the four presets, custom frames, and the frame entry's exact bytes.

Entries are built with the pure `frame_entry` (no store) to check the SDK's bytes.
"""

from __future__ import annotations

import pytest

from auki_session import FrameDef, InvalidEntryError, RegistryRef, content_hash
from auki_session._domain.entries import frame_entry

SPEC_FRAME_BYTES = (
    b'{"axes":{"x":"forward","y":"left","z":"up"},"frame_id":"K1-AABBCCDDEEFF/base_link",'
    b'"handedness":"right","peer_id":"test-peer","units":"meters"}'
)
SPEC_FRAME_HASH = "476d36916dd2c96f09ea57304d0da334"


@pytest.mark.parametrize(
    ("preset", "handedness", "x", "y", "z"),
    [
        (FrameDef.ros_body, "right", "forward", "left", "up"),
        (FrameDef.ros_optical, "right", "right", "down", "forward"),
        (FrameDef.opengl, "right", "right", "up", "backward"),
        (FrameDef.unity, "left", "right", "up", "forward"),
    ],
    ids=["ros_body", "ros_optical", "opengl", "unity"],
)
def test_each_preset_matches_the_spec_table(
    preset: object, handedness: str, x: str, y: str, z: str
) -> None:
    frame = preset()  # type: ignore[operator]
    assert (frame.handedness, frame.x, frame.y, frame.z, frame.units) == (
        handedness,
        x,
        y,
        z,
        "meters",
    )


@pytest.mark.parametrize("name", ["ros_body", "ros_optical", "opengl", "unity"])
def test_each_preset_reprs_as_its_constructor(name: str) -> None:
    assert repr(getattr(FrameDef, name)()) == f"FrameDef.{name}()"


def test_presets_are_equal_values() -> None:
    assert FrameDef.ros_body() == FrameDef.ros_body()
    assert hash(FrameDef.unity()) == hash(FrameDef.unity())
    assert FrameDef.ros_body() != FrameDef.ros_optical()


def test_a_custom_frame_keeps_its_fields() -> None:
    frame = FrameDef.custom("left", "up", "forward", "right", units="millimeters")
    assert (frame.handedness, frame.x, frame.y, frame.z, frame.units) == (
        "left",
        "up",
        "forward",
        "right",
        "millimeters",
    )


def test_a_custom_frame_defaults_to_meters() -> None:
    assert FrameDef.custom("right", "down", "left", "backward").units == "meters"


def test_a_custom_frame_equal_to_a_preset_is_the_preset() -> None:
    assert FrameDef.custom("right", "forward", "left", "up") == FrameDef.ros_body()


@pytest.mark.parametrize(
    "axes",
    [
        ("forward", "forward", "up"),
        ("forward", "backward", "up"),
        ("left", "up", "right"),
        ("up", "left", "down"),
        ("up", "up", "up"),
    ],
)
def test_a_custom_frame_with_non_orthogonal_axes_is_rejected(axes: tuple[str, str, str]) -> None:
    with pytest.raises(ValueError, match="axes must be orthogonal"):
        FrameDef.custom("right", *axes)


@pytest.mark.parametrize("handedness", ["Right", "ambidextrous", "", None])
def test_a_custom_frame_with_bad_handedness_is_rejected(handedness: object) -> None:
    with pytest.raises(InvalidEntryError, match="handedness"):
        FrameDef.custom(handedness, "forward", "left", "up")  # type: ignore[arg-type]


@pytest.mark.parametrize("units", ["feet", "m", "", 1])
def test_a_custom_frame_with_bad_units_is_rejected(units: object) -> None:
    with pytest.raises(InvalidEntryError, match="units"):
        FrameDef.custom("right", "forward", "left", "up", units=units)  # type: ignore[arg-type]


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_a_custom_frame_with_an_unknown_direction_is_rejected_naming_the_axis(axis: str) -> None:
    axes = {"x": "forward", "y": "left", "z": "up", axis: "sideways"}
    with pytest.raises(InvalidEntryError, match=rf"axes\.{axis}"):
        FrameDef.custom("right", axes["x"], axes["y"], axes["z"])


@pytest.mark.parametrize("units", ["meters", "millimeters", "centimeters"])
def test_each_unit_is_accepted(units: str) -> None:
    assert FrameDef.custom("right", "forward", "left", "up", units=units).units == units


def test_frame_def_is_frozen() -> None:
    with pytest.raises(AttributeError):
        FrameDef.ros_body().x = "up"  # type: ignore[misc]


def test_frame_entry_reproduces_the_spec_canonical_bytes() -> None:
    entry = frame_entry("test-peer", "K1-AABBCCDDEEFF/base_link", FrameDef.ros_body())
    assert entry.canonical == SPEC_FRAME_BYTES


def test_frame_entry_reproduces_the_spec_hash() -> None:
    entry = frame_entry("test-peer", "K1-AABBCCDDEEFF/base_link", FrameDef.ros_body())
    assert entry.hash == SPEC_FRAME_HASH
    assert content_hash(SPEC_FRAME_BYTES) == SPEC_FRAME_HASH


def test_frame_entry_ref_names_the_peer_id_and_hash() -> None:
    entry = frame_entry("test-peer", "K1-AABBCCDDEEFF/base_link", FrameDef.ros_body())
    assert entry.ref == RegistryRef("test-peer", "K1-AABBCCDDEEFF/base_link", SPEC_FRAME_HASH)
    assert entry.kind == "frame"


def test_frame_entry_accepts_the_frame_body_dict() -> None:
    body = {"handedness": "right", "axes": {"x": "forward", "y": "left", "z": "up"}}
    entry = frame_entry("test-peer", "K1-AABBCCDDEEFF/base_link", {**body, "units": "meters"})
    assert entry.hash == SPEC_FRAME_HASH


def test_frame_entry_refuses_an_unknown_body_key_naming_it() -> None:
    body = {**FrameDef.ros_body().body(), "origin": [0, 0, 0]}
    with pytest.raises(InvalidEntryError, match="'origin'"):
        frame_entry("test-peer", "base_link", body)


def test_frame_entry_refuses_an_unknown_axes_key_naming_it() -> None:
    body = FrameDef.ros_body().body()
    body["axes"] = {"x": "forward", "y": "left", "z": "up", "w": "down"}
    with pytest.raises(InvalidEntryError, match="'w'"):
        frame_entry("test-peer", "base_link", body)


def test_frame_entry_refuses_a_non_orthogonal_body() -> None:
    body = {"handedness": "right", "axes": {"x": "up", "y": "down", "z": "left"}, "units": "meters"}
    with pytest.raises(InvalidEntryError, match="axes must be orthogonal"):
        frame_entry("test-peer", "base_link", body)


def test_frame_entry_refuses_a_body_missing_a_field_naming_it() -> None:
    body = {"handedness": "right", "axes": {"x": "forward", "y": "left", "z": "up"}}
    with pytest.raises(InvalidEntryError, match="missing field 'units'"):
        frame_entry("test-peer", "base_link", body)


def test_frame_entry_refuses_something_that_is_not_a_frame() -> None:
    with pytest.raises(TypeError, match="FrameDef"):
        frame_entry("test-peer", "base_link", "ros_body")


def test_frame_entry_checks_the_frame_id() -> None:
    with pytest.raises(ValueError, match="reserved path segment"):
        frame_entry("test-peer", "robot//base_link", FrameDef.ros_body())


def test_different_units_give_different_hashes() -> None:
    meters = frame_entry("p", "f", FrameDef.custom("right", "forward", "left", "up"))
    millis = frame_entry("p", "f", FrameDef.custom("right", "forward", "left", "up", "millimeters"))
    assert meters.hash != millis.hash
