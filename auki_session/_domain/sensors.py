"""Sensor body schemas (SPEC section 3): one parser per sensor kind, with the Rust SDK's rules."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..errors import InvalidEntryError
from .bodies import BodyReader, describe

__all__ = [
    "POINT_FIELD_DATATYPES",
    "SENSOR_KINDS",
    "parse_sensor_body",
]

POINT_FIELD_DATATYPES = (
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "float32",
    "float64",
)
_CAMERA_FIELDS = (
    "kind",
    "type",
    "width",
    "height",
    "frame_rate_hz",
    "image_encoding",
    "pixel_format",
    "row_stride_bytes",
    "color_space",
    "intrinsics_model",
    "distortion_model",
    "calibration",
    "frame",
)


def _camera(body: BodyReader) -> dict[str, Any]:
    body.only(_CAMERA_FIELDS)
    out: dict[str, Any] = {
        "width": body.u32("width"),
        "height": body.u32("height"),
        "frame_rate_hz": body.u32("frame_rate_hz"),
        "image_encoding": body.string("image_encoding"),
        "pixel_format": body.string("pixel_format"),
        "row_stride_bytes": body.u32("row_stride_bytes"),
        "color_space": body.string("color_space"),
        "intrinsics_model": body.string("intrinsics_model"),
        "distortion_model": body.string("distortion_model"),
        "frame": body.ref("frame"),
    }
    _check_image_layout(out)
    if body.has("calibration"):
        out["calibration"] = _calibration(BodyReader(body.mapping("calibration"), "calibration"))
    return out


def _check_image_layout(camera: dict[str, Any]) -> None:
    if camera["width"] == 0 or camera["height"] == 0:
        raise InvalidEntryError("invalid image layout: width and height must be greater than 0")
    if not camera["image_encoding"] or not camera["pixel_format"]:
        raise InvalidEntryError(
            "invalid image layout: image_encoding and pixel_format must be non-empty"
        )
    if camera["image_encoding"] == "raw" and camera["row_stride_bytes"] == 0:
        raise InvalidEntryError(
            "invalid image layout: raw image_encoding requires row_stride_bytes > 0"
        )
    if camera["image_encoding"] != "raw" and camera["row_stride_bytes"] != 0:
        raise InvalidEntryError(
            "invalid image layout: row_stride_bytes must be 0 for image_encoding "
            f"{camera['image_encoding']!r} (only raw images have a row stride)"
        )


def _calibration(body: BodyReader) -> dict[str, Any]:
    body.only(("fx", "fy", "cx", "cy", "distortion_coefficients"))
    out: dict[str, Any] = {k: body.number(k) for k in ("fx", "fy", "cx", "cy")}
    if not all(math.isfinite(out[k]) and out[k] > 0 for k in ("fx", "fy")):
        raise InvalidEntryError("invalid camera calibration: fx and fy must be finite and > 0")
    if not all(math.isfinite(out[k]) for k in ("cx", "cy")):
        raise InvalidEntryError("invalid camera calibration: cx and cy must be finite")
    if body.has("distortion_coefficients"):
        coefficients = []
        for index, value in enumerate(body.array("distortion_coefficients")):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidEntryError(
                    f"calibration: distortion_coefficients[{index}] must be a number, "
                    f"got {describe(value)}"
                )
            try:
                coefficient = float(value)
            except OverflowError:
                raise InvalidEntryError(
                    f"calibration: distortion_coefficients[{index}] must be a number within "
                    f"double range, got {describe(value)}"
                ) from None
            if not math.isfinite(coefficient):
                raise InvalidEntryError(
                    "invalid camera calibration: distortion coefficients must be finite"
                )
            coefficients.append(coefficient)
        if coefficients:
            out["distortion_coefficients"] = coefficients
    return out


def _rangefinder(body: BodyReader) -> dict[str, Any]:
    body.only(("kind", "type", "fields", "point_step", "is_bigendian", "frame_rate_hz", "frame"))
    fields = []
    for index, item in enumerate(body.array("fields")):
        field = BodyReader(item, f"fields[{index}]")
        field.only(("name", "offset", "datatype", "count"))
        fields.append(
            {
                "name": field.string("name"),
                "offset": field.u32("offset"),
                "datatype": field.choice("datatype", POINT_FIELD_DATATYPES),
                "count": field.u32("count"),
            }
        )
    return {
        "fields": fields,
        "point_step": body.u32("point_step"),
        "is_bigendian": body.boolean("is_bigendian"),
        "frame_rate_hz": body.u32("frame_rate_hz"),
        "frame": body.ref("frame"),
    }


def _rf(body: BodyReader) -> dict[str, Any]:
    body.only(("kind", "type", "frame"))
    return {"frame": body.ref("frame")}


def _audio(body: BodyReader) -> dict[str, Any]:
    body.only(
        ("kind", "type", "sample_rate_hz", "channels", "sample_format", "channel_layout", "frame")
    )
    return {
        "sample_rate_hz": body.u32("sample_rate_hz"),
        "channels": body.u32("channels"),
        "sample_format": body.string("sample_format"),
        "channel_layout": body.string("channel_layout"),
        "frame": body.ref("frame"),
    }


def _joint_encoders(body: BodyReader) -> dict[str, Any]:
    body.only(("kind", "type", "joint_count", "frame_rate_hz", "frame"))
    return {
        "joint_count": body.u32("joint_count"),
        "frame_rate_hz": body.u32("frame_rate_hz"),
        "frame": body.ref("frame"),
    }


def _scalar(body: BodyReader) -> dict[str, Any]:
    body.only(("kind", "type", "unit", "expected_rate_hz"))
    out = {"unit": body.string("unit"), "expected_rate_hz": body.u32("expected_rate_hz")}
    if not body.string("type") or not out["unit"] or out["expected_rate_hz"] == 0:
        raise InvalidEntryError(
            "invalid scalar sensor: type and unit must be non-empty and "
            "expected_rate_hz must be positive"
        )
    return out


SENSOR_KINDS: dict[str, Callable[[BodyReader], dict[str, Any]]] = {
    "audio": _audio,
    "camera": _camera,
    "joint_encoders": _joint_encoders,
    "rangefinder": _rangefinder,
    "rf": _rf,
    "scalar": _scalar,
}


def parse_sensor_body(body: object) -> dict[str, Any]:
    """Parse a sensor body dict into its canonical entry fields (without peer_id/sensor_id)."""
    reader = BodyReader(body, "sensor body")
    kind = reader.choice("kind", tuple(SENSOR_KINDS))
    fields = SENSOR_KINDS[kind](reader)
    fields["kind"] = kind
    fields["type"] = reader.string("type")
    return fields
