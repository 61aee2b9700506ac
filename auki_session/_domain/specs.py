"""Log specifications and head specs (SPEC section 2), validated when constructed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from ..errors import ArgumentTypeError, InvalidEntryError
from .bodies import I64_MAX, U32_MAX, BodyReader, check_int, describe, exact
from .ids import validate_id
from .refs import LogRef, RegistryRef, as_log_ref, as_registry_ref
from .typed import Cadence, LogRefLike, PoseSource, RefLike, TimeTransformSource, WriterMode

__all__ = [
    "DetectionLogSpec",
    "HeadKind",
    "HeadSpec",
    "PoseLogSpec",
    "SensorLogSpec",
    "TimeTransformLogSpec",
    "WriterMode",
]

HeadKind = Literal["rolling", "fixed"]


@dataclass(frozen=True, slots=True)
class HeadSpec:
    """How much of a log's head is kept: a rolling window of `retention_ns`, or fixed."""

    kind: HeadKind
    retention_ns: int | None = None

    def __post_init__(self) -> None:
        if type(self.kind) is not str:
            raise InvalidEntryError(
                "HeadSpec must be HeadSpec.rolling(retention_ns) or HeadSpec.fixed()"
            )
        if self.kind == "rolling":
            retention = check_int(self.retention_ns, "HeadSpec.rolling: retention_ns", 1, I64_MAX)
            object.__setattr__(self, "retention_ns", retention)
        elif self.kind != "fixed" or self.retention_ns is not None:
            raise InvalidEntryError(
                "HeadSpec must be HeadSpec.rolling(retention_ns) or HeadSpec.fixed()"
            )

    @classmethod
    def rolling(cls, retention_ns: int) -> HeadSpec:
        """Keep the most recent `retention_ns` nanoseconds (a positive int)."""
        return cls("rolling", retention_ns)

    @classmethod
    def fixed(cls) -> HeadSpec:
        """Keep a fixed head."""
        return cls("fixed")

    def to_dict(self) -> dict[str, Any]:
        """The head spec as stored with its log."""
        if self.kind == "rolling":
            return {"kind": "rolling", "retention_ns": self.retention_ns}
        return {"kind": "fixed"}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> HeadSpec:
        """Parse the stored form back."""
        return cls(value["kind"], value.get("retention_ns"))

    def __repr__(self) -> str:
        if self.kind == "rolling":
            return f"HeadSpec.rolling({self.retention_ns})"
        return "HeadSpec.fixed()"


def _head(value: object, owner: str) -> HeadSpec:
    if isinstance(value, HeadSpec):
        return value
    if isinstance(value, Mapping):
        try:
            return HeadSpec.from_dict(value)
        except (KeyError, TypeError):
            pass
    raise ArgumentTypeError(
        f"{owner}.head must be a HeadSpec (HeadSpec.rolling(n) or HeadSpec.fixed()), "
        f"got {describe(value)}"
    )


def _durations(owner: str, segment_duration_ns: object, retention_ns: object) -> tuple[int, int]:
    """The two durations, checked, as exact ints."""
    return (
        check_int(segment_duration_ns, f"{owner}.segment_duration_ns", 1, I64_MAX),
        check_int(retention_ns, f"{owner}.retention_ns", 0, I64_MAX),
    )


def _ref(owner: str, name: str, value: object) -> RegistryRef:
    return as_registry_ref(value, f"{owner}.{name}")


def _tagged(owner: str, name: str, value: object, allowed: tuple[str, ...]) -> BodyReader:
    reader = BodyReader(value, f"{owner}.{name}")
    reader.choice("kind", allowed)
    return reader


def _frozen(value: dict[str, Any]) -> Mapping[str, Any]:
    """A read-only view of a spec's parsed sub-object (specs are immutable values)."""
    return MappingProxyType(value)


def _pose_source(value: object) -> Mapping[str, Any]:
    reader = _tagged("PoseLogSpec", "source", value, ("manual", "ros2_tf"))
    kind = reader.string("kind")
    if kind == "manual":
        reader.only(("kind",))
        return _frozen({"kind": "manual"})
    reader.only(("kind", "publishers"))
    publishers = reader.array("publishers")
    for index, publisher in enumerate(publishers):
        if not isinstance(publisher, str):
            raise InvalidEntryError(
                f"PoseLogSpec.source: publishers[{index}] must be a string, "
                f"got {describe(publisher)}"
            )
    return _frozen({"kind": "ros2_tf", "publishers": tuple(sorted(map(exact, publishers)))})


def _time_source(value: object) -> Mapping[str, Any]:
    reader = _tagged("TimeTransformLogSpec", "source", value, ("local_clock_read",))
    reader.only(("kind",))
    return _frozen({"kind": "local_clock_read"})


def _cadence(value: object) -> Mapping[str, Any]:
    if value is None:
        return _frozen({"kind": "every_frame"})
    reader = _tagged("DetectionLogSpec", "cadence", value, ("every_frame", "periodic"))
    if reader.string("kind") == "every_frame":
        reader.only(("kind",))
        return _frozen({"kind": "every_frame"})
    reader.only(("kind", "period_ns"))
    if not reader.contains("period_ns"):
        raise reader.fail("missing field 'period_ns'")
    period = check_int(reader.get("period_ns"), "DetectionLogSpec.cadence.period_ns", 1, I64_MAX)
    return _frozen({"kind": "periodic", "period_ns": period})


@dataclass(frozen=True, slots=True, init=False)
class SensorLogSpec:
    """A log of one sensor's samples, timestamped by `clock`, optionally in `frame`."""

    sensor: RegistryRef
    clock: RegistryRef
    head: HeadSpec
    segment_duration_ns: int
    retention_ns: int
    frame: RegistryRef | None = None

    def __init__(
        self,
        sensor: RefLike,
        clock: RefLike,
        head: HeadSpec,
        segment_duration_ns: int,
        retention_ns: int,
        frame: RefLike | None = None,
    ) -> None:
        segment_duration_ns, retention_ns = _durations(
            "SensorLogSpec", segment_duration_ns, retention_ns
        )
        set_ = object.__setattr__
        set_(self, "sensor", _ref("SensorLogSpec", "sensor", sensor))
        set_(self, "clock", _ref("SensorLogSpec", "clock", clock))
        set_(self, "head", _head(head, "SensorLogSpec"))
        set_(self, "segment_duration_ns", segment_duration_ns)
        set_(self, "retention_ns", retention_ns)
        set_(self, "frame", None if frame is None else _ref("SensorLogSpec", "frame", frame))


@dataclass(frozen=True, slots=True, init=False)
class PoseLogSpec:
    """A log of the transform from `from_frame` to `to_frame`."""

    from_frame: RegistryRef
    to_frame: RegistryRef
    clock: RegistryRef
    source: Mapping[str, Any] = field(hash=False)
    writer_mode: WriterMode
    expected_rate_hz: int
    head: HeadSpec
    segment_duration_ns: int
    retention_ns: int

    def __init__(
        self,
        from_frame: RefLike,
        to_frame: RefLike,
        clock: RefLike,
        source: PoseSource,
        writer_mode: WriterMode,
        expected_rate_hz: int,
        head: HeadSpec,
        segment_duration_ns: int,
        retention_ns: int,
    ) -> None:
        segment_duration_ns, retention_ns = _durations(
            "PoseLogSpec", segment_duration_ns, retention_ns
        )
        if not isinstance(writer_mode, str) or exact(writer_mode) not in ("rigid", "movable"):
            raise InvalidEntryError(
                f"PoseLogSpec.writer_mode must be 'rigid' or 'movable', got {describe(writer_mode)}"
            )
        expected_rate_hz = check_int(expected_rate_hz, "PoseLogSpec.expected_rate_hz", 0, U32_MAX)
        set_ = object.__setattr__
        set_(self, "from_frame", _ref("PoseLogSpec", "from_frame", from_frame))
        set_(self, "to_frame", _ref("PoseLogSpec", "to_frame", to_frame))
        set_(self, "clock", _ref("PoseLogSpec", "clock", clock))
        set_(self, "source", _pose_source(source))
        set_(self, "writer_mode", exact(writer_mode))
        set_(self, "expected_rate_hz", expected_rate_hz)
        set_(self, "head", _head(head, "PoseLogSpec"))
        set_(self, "segment_duration_ns", segment_duration_ns)
        set_(self, "retention_ns", retention_ns)


@dataclass(frozen=True, slots=True, init=False)
class TimeTransformLogSpec:
    """A log relating readings of `from_clock` to readings of `to_clock`."""

    from_clock: RegistryRef
    to_clock: RegistryRef
    source: Mapping[str, Any] = field(hash=False)
    head: HeadSpec
    segment_duration_ns: int
    retention_ns: int

    def __init__(
        self,
        from_clock: RefLike,
        to_clock: RefLike,
        source: TimeTransformSource,
        head: HeadSpec,
        segment_duration_ns: int,
        retention_ns: int,
    ) -> None:
        segment_duration_ns, retention_ns = _durations(
            "TimeTransformLogSpec", segment_duration_ns, retention_ns
        )
        set_ = object.__setattr__
        set_(self, "from_clock", _ref("TimeTransformLogSpec", "from_clock", from_clock))
        set_(self, "to_clock", _ref("TimeTransformLogSpec", "to_clock", to_clock))
        set_(self, "source", _time_source(source))
        set_(self, "head", _head(head, "TimeTransformLogSpec"))
        set_(self, "segment_duration_ns", segment_duration_ns)
        set_(self, "retention_ns", retention_ns)


@dataclass(frozen=True, slots=True, init=False)
class DetectionLogSpec:
    """A log of `detector`'s detections on `input_log` (frames of `input_sensor`)."""

    detector: RegistryRef
    input_log: LogRef
    input_sensor: RegistryRef
    clock: RegistryRef
    head: HeadSpec
    segment_duration_ns: int
    retention_ns: int
    instance_id: str | None
    cadence: Mapping[str, Any] = field(hash=False)

    def __init__(
        self,
        detector: RefLike,
        input_log: LogRefLike,
        input_sensor: RefLike,
        clock: RefLike,
        head: HeadSpec,
        segment_duration_ns: int,
        retention_ns: int,
        *,
        instance_id: str | None = None,
        cadence: Cadence | None = None,
    ) -> None:
        segment_duration_ns, retention_ns = _durations(
            "DetectionLogSpec", segment_duration_ns, retention_ns
        )
        if instance_id is not None:
            instance_id = validate_id(instance_id, "DetectionLogSpec.instance_id")
        set_ = object.__setattr__
        set_(self, "detector", _ref("DetectionLogSpec", "detector", detector))
        set_(self, "input_log", as_log_ref(input_log, "DetectionLogSpec.input_log"))
        set_(self, "input_sensor", _ref("DetectionLogSpec", "input_sensor", input_sensor))
        set_(self, "clock", _ref("DetectionLogSpec", "clock", clock))
        set_(self, "head", _head(head, "DetectionLogSpec"))
        set_(self, "segment_duration_ns", segment_duration_ns)
        set_(self, "retention_ns", retention_ns)
        set_(self, "instance_id", instance_id)
        set_(self, "cadence", _cadence(cadence))
