"""Static types of what the API takes: a TypedDict per sensor kind, detector type and clock
body, the `Literal` kinds, log sources and cadences, and what a ref may be, so that
`mypy --strict` on a robot's start-up script catches a misspelt body key, a string where a ref
is expected, or `entries(kind="sensors")`. At run time the bodies are plain dicts, checked as
before (SPEC section 3)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Literal, NotRequired, Protocol, TypeAlias, TypedDict

from .entries import EntryKind, RegistryKind

__all__ = [
    "ArucoBody",
    "AudioBody",
    "Cadence",
    "CameraBody",
    "CameraCalibration",
    "ClockBody",
    "CustomDetectorBody",
    "DetectorBody",
    "EntryKindName",
    "EslBody",
    "InputType",
    "JointEncodersBody",
    "LogRefDict",
    "LogRefLike",
    "ObjectDetectionBody",
    "PoseSource",
    "QrBody",
    "RangefinderBody",
    "RangefinderField",
    "RefLike",
    "RegistryKindName",
    "RegistryRefDict",
    "RfBody",
    "ScalarBody",
    "SensorBody",
    "SupportsLogRef",
    "SupportsRegistryRef",
    "TimeTransformSource",
    "WriterMode",
]

EntryKindName: TypeAlias = EntryKind  # the kinds, declared once in entries.py
RegistryKindName: TypeAlias = RegistryKind
WriterMode = Literal["rigid", "movable"]


class RegistryRefDict(TypedDict):
    """A ref as a dict."""

    peer_id: str
    id: str
    hash: str


class SupportsRegistryRef(Protocol):
    """Any object with a ref's three attributes (another package's RegistryRef too)."""

    @property
    def peer_id(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def hash(self) -> str: ...


RefLike: TypeAlias = SupportsRegistryRef | RegistryRefDict | SimpleNamespace
"""What a ref argument may be: a RegistryRef (or any object with its attributes), a dict
with its keys, or a SimpleNamespace."""


class LogRefDict(TypedDict):
    """A log ref as a dict."""

    source_peer_id: str
    resource_id: str


class SupportsLogRef(Protocol):
    """Any object with a log ref's two attributes."""

    @property
    def source_peer_id(self) -> str: ...
    @property
    def resource_id(self) -> str: ...


LogRefLike: TypeAlias = SupportsLogRef | LogRefDict | SimpleNamespace
"""What a log ref argument may be (a LogRef, a dict, an object with its attributes)."""


class CameraCalibration(TypedDict):
    fx: float
    fy: float
    cx: float
    cy: float
    distortion_coefficients: NotRequired[list[float]]


class CameraBody(TypedDict):
    kind: Literal["camera"]
    type: str
    width: int
    height: int
    frame_rate_hz: int
    image_encoding: str
    pixel_format: str
    row_stride_bytes: int
    color_space: str
    intrinsics_model: str
    distortion_model: str
    calibration: NotRequired[CameraCalibration]
    frame: RefLike


class RangefinderField(TypedDict):
    name: str
    offset: int
    datatype: Literal["int8", "uint8", "int16", "uint16", "int32", "uint32", "float32", "float64"]
    count: int


class RangefinderBody(TypedDict):
    kind: Literal["rangefinder"]
    type: str
    fields: list[RangefinderField]
    point_step: int
    is_bigendian: bool
    frame_rate_hz: int
    frame: RefLike


class RfBody(TypedDict):
    kind: Literal["rf"]
    type: str
    frame: RefLike


class AudioBody(TypedDict):
    kind: Literal["audio"]
    type: str
    sample_rate_hz: int
    channels: int
    sample_format: str
    channel_layout: str
    frame: RefLike


class JointEncodersBody(TypedDict):
    kind: Literal["joint_encoders"]
    type: str
    joint_count: int
    frame_rate_hz: int
    frame: RefLike


class ScalarBody(TypedDict):
    kind: Literal["scalar"]
    type: str
    unit: str
    expected_rate_hz: int


SensorBody: TypeAlias = (
    CameraBody | RangefinderBody | RfBody | AudioBody | JointEncodersBody | ScalarBody
)


class ArucoBody(TypedDict):
    type: Literal["aruco"]
    dictionary: str


class QrBody(TypedDict):
    type: Literal["qr"]


class EslBody(TypedDict):
    type: Literal["esl"]


class ObjectDetectionBody(TypedDict):
    type: Literal["object_detection"]
    model: str


class CustomDetectorBody(TypedDict):
    type: Literal["custom"]
    kind: str
    configuration: NotRequired[Any]


DetectorBody: TypeAlias = ArucoBody | QrBody | EslBody | ObjectDetectionBody | CustomDetectorBody


class InputType(TypedDict):
    sensor_kind: str
    sensor_type: NotRequired[str | None]
    image_encoding: NotRequired[str | None]
    pixel_format: NotRequired[str | None]


class ClockBody(TypedDict):
    type: Literal["monotonic_clock", "utc_clock"]
    unit: str
    monotonic: bool
    epoch: NotRequired[str | None]
    scope: Literal["device-local", "domain-local", "global"]


class _ManualSource(TypedDict):
    kind: Literal["manual"]


class _Ros2TfSource(TypedDict):
    kind: Literal["ros2_tf"]
    publishers: list[str]


PoseSource: TypeAlias = _ManualSource | _Ros2TfSource


class TimeTransformSource(TypedDict):
    kind: Literal["local_clock_read"]


class _EveryFrame(TypedDict):
    kind: Literal["every_frame"]


class _Periodic(TypedDict):
    kind: Literal["periodic"]
    period_ns: int


Cadence: TypeAlias = _EveryFrame | _Periodic
