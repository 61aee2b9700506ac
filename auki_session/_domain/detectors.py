"""Detector body schema (SPEC section 3): the detector type plus its input and output types."""

from __future__ import annotations

from typing import Any

from ..errors import CanonicalJsonError, InvalidEntryError
from .bodies import BodyReader, describe, exact
from .canonical import canonical_json

__all__ = [
    "parse_detector_body",
]

_TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "aruco": ("dictionary",),
    "qr": (),
    "esl": (),
    "object_detection": ("model",),
    "custom": ("kind", "configuration"),
}
_INPUT_TYPE_FIELDS = ("sensor_kind", "sensor_type", "image_encoding", "pixel_format")


def parse_detector_body(
    body: object, output_types: object, input_types: object = None
) -> dict[str, Any]:
    """Parse a detector body and its type lists into canonical entry fields."""
    reader = BodyReader(body, "detector body")
    for separate in ("input_types", "output_types"):
        if reader.contains(separate):
            raise InvalidEntryError(
                f"detector body must not contain {separate!r}: pass it as the {separate} argument"
            )
    detector_type = reader.choice("type", tuple(_TYPE_FIELDS))
    reader.only(("type", *_TYPE_FIELDS[detector_type]))
    out: dict[str, Any] = {"type": detector_type}
    if detector_type == "custom":
        out["kind"] = reader.string("kind")
        out["configuration"] = _any_json(reader.get("configuration"))
    else:
        for field in _TYPE_FIELDS[detector_type]:
            out[field] = reader.string(field)
    out["output_types"] = _output_types(output_types)
    out["input_types"] = _input_types(input_types)
    return out


def _any_json(value: object) -> object:
    try:
        canonical_json(value)
    except CanonicalJsonError as error:
        raise InvalidEntryError(f"detector body: field 'configuration': {error}") from None
    return value


def _output_types(value: object) -> list[str]:
    if not isinstance(value, list | tuple):
        raise InvalidEntryError(
            f"output_types must be a list of strings, got {type(value).__name__}"
        )
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InvalidEntryError(f"output_types[{index}] must be a string, got {describe(item)}")
    return [exact(item) for item in value]


def _input_types(value: object) -> list[dict[str, str | None]]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise InvalidEntryError(
            f"input_types must be a list of objects, got {type(value).__name__}"
        )
    out = []
    for index, item in enumerate(value):
        reader = BodyReader(item, f"input_types[{index}]")
        reader.only(_INPUT_TYPE_FIELDS)
        out.append(
            {
                "sensor_kind": reader.string("sensor_kind"),
                "sensor_type": reader.optional_string("sensor_type"),
                "image_encoding": reader.optional_string("image_encoding"),
                "pixel_format": reader.optional_string("pixel_format"),
            }
        )
    return out
