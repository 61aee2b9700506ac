"""Detector entries (SPEC section 3): the detector types and their input and output types.

Entries are built with the pure `detector_entry` (no store) to check the SDK's bytes.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from auki_session import InvalidEntryError
from auki_session._domain.entries import detector_entry

PEER = "galbot"


def entry_json(body: object, output_types: object = ("marker",), input_types: object = None) -> Any:
    """The detector's registry entry, parsed back from its canonical bytes."""
    entry = detector_entry(PEER, "det", body, output_types, input_types)
    return json.loads(entry.canonical)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"type": "aruco", "dictionary": "DICT_4X4_50"}, {"dictionary": "DICT_4X4_50"}),
        ({"type": "qr"}, {}),
        ({"type": "esl"}, {}),
        ({"type": "object_detection", "model": "yolov8n"}, {"model": "yolov8n"}),
        (
            {"type": "custom", "kind": "apriltag", "configuration": {"family": "36h11"}},
            {"kind": "apriltag", "configuration": {"family": "36h11"}},
        ),
    ],
    ids=["aruco", "qr", "esl", "object_detection", "custom"],
)
def test_each_detector_type_is_accepted_as_a_flat_entry(
    body: dict[str, Any], fields: dict[str, Any]
) -> None:
    assert entry_json(body) == {
        "peer_id": PEER,
        "detector_id": "det",
        "type": body["type"],
        **fields,
        "input_types": [],
        "output_types": ["marker"],
    }


def test_an_unknown_detector_type_is_rejected() -> None:
    with pytest.raises(InvalidEntryError, match="'type'"):
        detector_entry(PEER, "det", {"type": "barcode"}, [])


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"type": "aruco"}, "dictionary"),
        ({"type": "object_detection"}, "model"),
        ({"type": "custom"}, "kind"),
    ],
)
def test_a_missing_type_field_is_named(body: dict[str, Any], missing: str) -> None:
    with pytest.raises(InvalidEntryError, match=f"missing field '{missing}'"):
        detector_entry(PEER, "det", body, [])


@pytest.mark.parametrize(
    ("body", "extra"),
    [
        ({"type": "qr", "dictionary": "DICT_4X4_50"}, "dictionary"),
        ({"type": "aruco", "dictionary": "DICT_4X4_50", "model": "x"}, "model"),
        ({"type": "esl", "threshold": 3}, "threshold"),
        ({"type": "custom", "kind": "k", "threshold": 3}, "threshold"),
    ],
)
def test_a_field_that_does_not_belong_to_the_type_is_rejected_naming_it(
    body: dict[str, Any], extra: str
) -> None:
    with pytest.raises(InvalidEntryError, match=f"unknown field '{extra}'"):
        detector_entry(PEER, "det", body, [])


def test_input_types_default_to_an_empty_list() -> None:
    assert entry_json({"type": "qr"})["input_types"] == []


def test_input_types_are_always_present_in_the_entry() -> None:
    assert b'"input_types":[]' in detector_entry(PEER, "det", {"type": "qr"}, []).canonical


def test_an_input_type_fills_absent_fields_with_null() -> None:
    input_types = [{"sensor_kind": "camera"}]
    assert entry_json({"type": "qr"}, input_types=input_types)["input_types"] == [
        {"sensor_kind": "camera", "sensor_type": None, "image_encoding": None, "pixel_format": None}
    ]


def test_an_input_type_keeps_every_given_field() -> None:
    item = {
        "sensor_kind": "camera",
        "sensor_type": "rgb",
        "image_encoding": "raw",
        "pixel_format": "YUV_NV12",
    }
    assert entry_json({"type": "qr"}, input_types=[item])["input_types"] == [item]


def test_an_input_type_without_sensor_kind_is_rejected() -> None:
    with pytest.raises(InvalidEntryError, match=r"input_types\[0\].*'sensor_kind'"):
        detector_entry(PEER, "det", {"type": "qr"}, [], [{"sensor_type": "rgb"}])


def test_an_input_type_with_an_unknown_key_is_rejected_naming_it() -> None:
    with pytest.raises(InvalidEntryError, match="'width'"):
        detector_entry(PEER, "det", {"type": "qr"}, [], [{"sensor_kind": "camera", "width": 2}])


def test_input_types_must_be_a_list() -> None:
    with pytest.raises(InvalidEntryError, match="input_types"):
        detector_entry(PEER, "det", {"type": "qr"}, [], {"sensor_kind": "camera"})


def test_output_types_keep_their_order() -> None:
    outputs = ["pose", "corners", "id", "area"]
    assert entry_json({"type": "qr"}, output_types=outputs)["output_types"] == outputs


def test_output_types_order_changes_the_hash() -> None:
    first = detector_entry(PEER, "det", {"type": "qr"}, ["a", "b"])
    second = detector_entry(PEER, "det", {"type": "qr"}, ["b", "a"])
    assert first.hash != second.hash


def test_output_types_may_be_a_tuple() -> None:
    assert entry_json({"type": "qr"}, output_types=("a", "b"))["output_types"] == ["a", "b"]


@pytest.mark.parametrize("output_types", ["pose", None, [1], ["pose", None]])
def test_output_types_must_be_a_list_of_strings(output_types: object) -> None:
    with pytest.raises(InvalidEntryError, match="output_types"):
        detector_entry(PEER, "det", {"type": "qr"}, output_types)


@pytest.mark.parametrize("separate", ["input_types", "output_types"])
def test_a_body_carrying_input_or_output_types_is_refused(separate: str) -> None:
    with pytest.raises(InvalidEntryError, match=separate):
        detector_entry(PEER, "det", {"type": "qr", separate: []}, [])


def test_custom_configuration_defaults_to_null() -> None:
    fields = entry_json({"type": "custom", "kind": "apriltag"})
    assert "configuration" in fields
    assert fields["configuration"] is None


@pytest.mark.parametrize(
    "configuration",
    [None, True, 3, -2.5, "text", [], [1, "a", None], {"nested": {"list": [{"deep": [1]}]}}],
)
def test_custom_configuration_may_be_any_json(configuration: object) -> None:
    body = {"type": "custom", "kind": "apriltag", "configuration": configuration}
    assert entry_json(body)["configuration"] == configuration


def test_custom_configuration_is_canonicalised_in_the_entry() -> None:
    body = {"type": "custom", "kind": "k", "configuration": {"b": 1.0, "a": [2.0]}}
    assert b'"configuration":{"a":[2],"b":1}' in detector_entry(PEER, "d", body, []).canonical


@pytest.mark.parametrize(
    "configuration",
    [math.nan, {"threshold": math.inf}, [1, -math.inf], {1: "non-str key"}, {"x": object()}],
    ids=["nan", "inf in object", "-inf in list", "int key", "not JSON"],
)
def test_custom_configuration_that_is_not_json_is_rejected(configuration: object) -> None:
    body = {"type": "custom", "kind": "k", "configuration": configuration}
    with pytest.raises(InvalidEntryError, match="'configuration'"):
        detector_entry(PEER, "det", body, [])


def test_the_detector_id_is_checked_against_the_id_rules() -> None:
    with pytest.raises(ValueError, match=r": registry id is empty \("):
        detector_entry(PEER, "", {"type": "qr"}, [])
