"""Logs: what registering one means before any I/O (resource id, manifest, references), the
handles a session returns, and `LogInfo`, a stored log as the read side returns it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from .canonical import canonical_json
from .entries import EntryKind
from .layout import check_peer_path, check_resource_path
from .refs import LogRef, RegistryRef
from .specs import DetectionLogSpec, HeadSpec, PoseLogSpec, SensorLogSpec, TimeTransformLogSpec

__all__ = [
    "ROLES",
    "DetectionLogHandle",
    "LogHandle",
    "LogInfo",
    "LogKind",
    "LogPlan",
    "LogRefUse",
    "LogSpec",
    "PoseLogHandle",
    "SensorLogHandle",
    "TimeTransformLogHandle",
    "manifest_refs",
    "plan_log",
]

LogKind = Literal["sensor", "pose", "time_transform", "detection"]
LogSpec = SensorLogSpec | PoseLogSpec | TimeTransformLogSpec | DetectionLogSpec


@dataclass(frozen=True, slots=True)
class LogRefUse:
    """One registry ref a log's manifest holds: its role, the kind it must be, the ref."""

    role: str
    kind: EntryKind
    ref: RegistryRef


ROLES: dict[str, tuple[str, ...]] = {
    "sensor": ("sensor", "clock", "frame"),
    "pose": ("from_frame", "to_frame", "clock"),
    "time_transform": ("from_clock", "to_clock"),
    "detection": ("detector", "input_sensor", "clock"),
}
"""The roles a manifest of each log kind may hold a registry ref under (`frame` is optional)."""


def manifest_refs(kind: str, manifest: object) -> dict[str, tuple[str, str, str]] | None:
    """The (peer id, id, hash) a log's manifest names under each role, or None when the
    manifest is not an object of that kind's refs (a hostile or damaged row)."""
    roles = ROLES.get(kind)
    if roles is None or not isinstance(manifest, dict):
        return None
    found: dict[str, tuple[str, str, str]] = {}
    for role in roles:
        ref = manifest.get(role)
        if ref is None and role == "frame":
            continue
        if not isinstance(ref, dict) or set(ref) != {"peer_id", "id", "hash"}:
            return None
        values = (ref["peer_id"], ref["id"], ref["hash"])
        if not all(isinstance(value, str) for value in values):
            return None
        found[role] = values
    return found


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
            "source": dict(spec.source),
            "writer_mode": spec.writer_mode,
            "expected_rate_hz": spec.expected_rate_hz,
        }
    elif isinstance(spec, TimeTransformLogSpec):
        kind, resource_id = "time_transform", f"{spec.from_clock.id}->{spec.to_clock.id}"
        uses = [
            LogRefUse("from_clock", "clock", spec.from_clock),
            LogRefUse("to_clock", "clock", spec.to_clock),
        ]
        fields = {"source": dict(spec.source)}
    else:
        kind = "detection"
        resource_id = spec.instance_id or f"{spec.detector.id}@{spec.input_sensor.id}"
        uses = [
            LogRefUse("detector", "detector", spec.detector),
            LogRefUse("input_sensor", "sensor", spec.input_sensor),
            LogRefUse("clock", "clock", spec.clock),
        ]
        fields = {"input_log": spec.input_log.to_dict(), "cadence": dict(spec.cadence)}
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


@dataclass(frozen=True, slots=True)
class LogHandle:
    """A registered log: its resource id, its directory and the LogRef naming it."""

    resource_id: str
    root: str
    log_ref: LogRef


class SensorLogHandle(LogHandle):
    """A registered sensor log."""

    __slots__ = ()


class PoseLogHandle(LogHandle):
    """A registered pose log."""

    __slots__ = ()


class TimeTransformLogHandle(LogHandle):
    """A registered time transform log."""

    __slots__ = ()


class DetectionLogHandle(LogHandle):
    """A registered detection log."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class LogInfo:
    """A registered log: its identity, manifest, head spec and directory."""

    session_id: str
    peer_id: str
    resource_id: str
    kind: LogKind
    manifest_json: str
    head: HeadSpec
    registered_at: str
    root: str
    signature: str | None = None
    """Hex Ed25519 signature of `manifest_json` by the peer's key (None: unsigned)."""

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest as a dict."""
        value: dict[str, Any] = json.loads(self.manifest_json)
        return value

    @property
    def log_ref(self) -> LogRef:
        """The LogRef naming this log."""
        return LogRef(source_peer_id=self.peer_id, resource_id=self.resource_id)
