"""auki_session: the Auki SDK's session surface over a persistent SQLite registry."""

from .canonical import canonical_json
from .errors import (
    ArgumentTypeError,
    AukiSessionError,
    CanonicalJsonError,
    DuplicateLogError,
    EntryTooLargeError,
    InvalidEntryError,
    InvalidIdError,
    InvalidRefError,
    NotFoundError,
    SchemaVersionError,
    StoreError,
    UnresolvedRefError,
)
from .frames import FrameDef
from .handles import DetectionLogHandle, PoseLogHandle, SensorLogHandle, TimeTransformLogHandle
from .hashing import content_hash
from .peer import Peer
from .records import Entry, LogInfo, SessionInfo
from .refs import LogRef, RegistryRef
from .session import Session
from .specs import DetectionLogSpec, HeadSpec, PoseLogSpec, SensorLogSpec, TimeTransformLogSpec

__all__ = [
    "ArgumentTypeError",
    "AukiSessionError",
    "CanonicalJsonError",
    "DetectionLogHandle",
    "DetectionLogSpec",
    "DuplicateLogError",
    "Entry",
    "EntryTooLargeError",
    "FrameDef",
    "HeadSpec",
    "InvalidEntryError",
    "InvalidIdError",
    "InvalidRefError",
    "LogInfo",
    "LogRef",
    "NotFoundError",
    "Peer",
    "PoseLogHandle",
    "PoseLogSpec",
    "RegistryRef",
    "SchemaVersionError",
    "SensorLogHandle",
    "SensorLogSpec",
    "Session",
    "SessionInfo",
    "StoreError",
    "TimeTransformLogHandle",
    "TimeTransformLogSpec",
    "UnresolvedRefError",
    "canonical_json",
    "content_hash",
]
