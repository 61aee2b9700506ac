"""What registering a log means, before any I/O: its resource id, manifest and references."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .canonical import canonical_json
from .entries import EntryKind
from .errors import InvalidIdError
from .refs import RegistryRef
from .specs import DetectionLogSpec, PoseLogSpec, SensorLogSpec, TimeTransformLogSpec

LogKind = Literal["sensor", "pose", "time_transform", "detection"]
LogSpec = SensorLogSpec | PoseLogSpec | TimeTransformLogSpec | DetectionLogSpec
_NAME_MAX_BYTES = 255


@dataclass(frozen=True, slots=True)
class LogRefUse:
    """One registry ref a log's manifest holds: its role, the kind it must be, the ref."""

    role: str
    kind: EntryKind
    ref: RegistryRef


@dataclass(frozen=True, slots=True)
class LogPlan:
    """Everything needed to store a log: resource id, canonical manifest, head spec, refs."""

    kind: LogKind
    resource_id: str
    manifest: bytes
    head: dict[str, Any]
    uses: tuple[LogRefUse, ...]


def plan_log(peer_id: str, app_id: str, session_id: str, spec: LogSpec) -> LogPlan:
    """Resolve a log spec into its resource id, manifest bytes and the refs it uses."""
    kind: LogKind
    if isinstance(spec, SensorLogSpec):
        kind, resource_id = "sensor", spec.sensor.id
        uses = [LogRefUse("sensor", "sensor", spec.sensor), LogRefUse("clock", "clock", spec.clock)]
        if spec.frame is not None:
            uses.append(LogRefUse("frame", "frame", spec.frame))
        fields: dict[str, Any] = {}
    elif isinstance(spec, PoseLogSpec):
        kind, resource_id = "pose", f"{spec.from_frame.id}->{spec.to_frame.id}"
        uses = [
            LogRefUse("from_frame", "frame", spec.from_frame),
            LogRefUse("to_frame", "frame", spec.to_frame),
            LogRefUse("clock", "clock", spec.clock),
        ]
        fields = {
            "source": spec.source,
            "writer_mode": spec.writer_mode,
            "expected_rate_hz": spec.expected_rate_hz,
        }
    elif isinstance(spec, TimeTransformLogSpec):
        kind, resource_id = "time_transform", f"{spec.from_clock.id}->{spec.to_clock.id}"
        uses = [
            LogRefUse("from_clock", "clock", spec.from_clock),
            LogRefUse("to_clock", "clock", spec.to_clock),
        ]
        fields = {"source": spec.source}
    else:
        kind = "detection"
        resource_id = spec.instance_id or f"{spec.detector.id}@{spec.input_sensor.id}"
        uses = [
            LogRefUse("detector", "detector", spec.detector),
            LogRefUse("input_sensor", "sensor", spec.input_sensor),
            LogRefUse("clock", "clock", spec.clock),
        ]
        fields = {"input_log": spec.input_log.to_dict(), "cadence": spec.cadence}
        if spec.instance_id is not None:
            fields["instance_id"] = spec.instance_id
    check_resource_path(resource_id)
    check_peer_path(peer_id)
    manifest = {
        "source_peer_id": peer_id,
        "writer_peer_id": peer_id,
        "app_id": app_id,
        "session_id": session_id,
        "segment_duration_ns": spec.segment_duration_ns,
        "retention_ns": spec.retention_ns,
        **fields,
        **{use.role: use.ref.to_dict() for use in uses},
    }
    return LogPlan(kind, resource_id, canonical_json(manifest), spec.head.to_dict(), tuple(uses))


def check_resource_path(resource_id: str) -> None:
    """Refuse a resource id that cannot be a directory path inside the storage root."""
    for segment in resource_id.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidIdError(f'registry id contains reserved path segment "{segment}"')
        if "\0" in segment or len(segment.encode("utf-8", "surrogatepass")) > _NAME_MAX_BYTES:
            raise InvalidIdError(
                f"resource id {resource_id!r} cannot be a directory name: each '/'-separated "
                f"part must be at most {_NAME_MAX_BYTES} bytes and contain no NUL"
            )


def check_peer_path(peer_id: str) -> None:
    """Refuse a peer id that cannot name the directory of its logs (one path segment)."""
    if "\0" in peer_id or len(peer_id.encode("utf-8", "surrogatepass")) > _NAME_MAX_BYTES:
        raise InvalidIdError(
            f"peer id {peer_id!r} cannot be a directory name for its logs: it must be at most "
            f"{_NAME_MAX_BYTES} bytes and contain no NUL"
        )
