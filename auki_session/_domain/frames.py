"""Coordinate frame definitions: the four presets and validated custom frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidEntryError
from .bodies import describe, exact

__all__ = [
    "DIRECTIONS",
    "HANDEDNESS",
    "UNITS",
    "FrameDef",
]

HANDEDNESS = ("right", "left")
DIRECTIONS = ("forward", "backward", "up", "down", "left", "right")
UNITS = ("meters", "millimeters", "centimeters")
_AXIS_PAIR = {
    "forward": "longitudinal",
    "backward": "longitudinal",
    "left": "lateral",
    "right": "lateral",
    "up": "vertical",
    "down": "vertical",
}


@dataclass(frozen=True, slots=True)
class FrameDef:
    """How a coordinate frame's axes point, its handedness and its length unit."""

    handedness: str
    x: str
    y: str
    z: str
    units: str = "meters"

    def __post_init__(self) -> None:
        _check_choice(self, "handedness", "handedness", HANDEDNESS)
        for axis in ("x", "y", "z"):
            _check_choice(self, axis, f"axes.{axis}", DIRECTIONS)
        _check_choice(self, "units", "units", UNITS)
        if len({_AXIS_PAIR[self.x], _AXIS_PAIR[self.y], _AXIS_PAIR[self.z]}) != 3:
            raise InvalidEntryError(
                f"frame: axes must be orthogonal (x={self.x}, y={self.y}, z={self.z} "
                "must come from three distinct pairs forward/backward, left/right, up/down)"
            )

    @classmethod
    def ros_body(cls) -> FrameDef:
        """REP 103 body frame: x forward, y left, z up."""
        return cls("right", "forward", "left", "up")

    @classmethod
    def ros_optical(cls) -> FrameDef:
        """REP 103 optical frame: x right, y down, z forward."""
        return cls("right", "right", "down", "forward")

    @classmethod
    def opengl(cls) -> FrameDef:
        """OpenGL camera frame: x right, y up, z backward."""
        return cls("right", "right", "up", "backward")

    @classmethod
    def unity(cls) -> FrameDef:
        """Unity's left-handed frame: x right, y up, z forward."""
        return cls("left", "right", "up", "forward")

    @classmethod
    def custom(cls, handedness: str, x: str, y: str, z: str, units: str = "meters") -> FrameDef:
        """Any orthogonal frame; raises `ValueError` for axes that are not orthogonal."""
        return cls(handedness, x, y, z, units)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> FrameDef:
        """Parse a frame body dict (`handedness`, `axes`, `units`) into a FrameDef."""
        from .bodies import BodyReader

        reader = BodyReader(body, "frame")
        reader.only(("handedness", "axes", "units"))
        handedness = reader.string("handedness")
        axes = BodyReader(reader.mapping("axes"), "frame.axes")
        axes.only(("x", "y", "z"))
        x, y, z = axes.string("x"), axes.string("y"), axes.string("z")
        units = reader.string("units")
        return cls(handedness, x, y, z, units)

    def body(self) -> dict[str, Any]:
        """The frame's fields as they appear in its registry entry."""
        return {
            "axes": {"x": self.x, "y": self.y, "z": self.z},
            "handedness": self.handedness,
            "units": self.units,
        }

    def __repr__(self) -> str:
        for name in ("ros_body", "ros_optical", "opengl", "unity"):
            if getattr(FrameDef, name)() == self:
                return f"FrameDef.{name}()"
        return (
            f"FrameDef.custom({self.handedness!r}, {self.x!r}, {self.y!r}, {self.z!r}, "
            f"units={self.units!r})"
        )


def _check_choice(frame: FrameDef, name: str, field: str, allowed: tuple[str, ...]) -> None:
    """Check one field against its choices, keeping it as an exact str."""
    value = getattr(frame, name)
    if type(value) is str and value in allowed:
        return  # the common case, a preset's
    if not isinstance(value, str) or exact(value) not in allowed:
        raise InvalidEntryError(
            f"frame: field {field!r} must be one of {', '.join(allowed)}, got {describe(value)}"
        )
    object.__setattr__(frame, name, exact(value))
