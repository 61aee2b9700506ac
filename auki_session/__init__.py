"""auki_session: the Auki SDK's session surface over a persistent SQLite registry."""

from ._domain.canonical import canonical_json
from ._domain.diff import FieldChange
from ._domain.entries import Entry
from ._domain.frame_tree import GraphEdge, SessionGraph
from ._domain.frames import FrameDef
from ._domain.hashing import content_hash
from ._domain.logs import (
    DetectionLogHandle,
    LogInfo,
    PoseLogHandle,
    SensorLogHandle,
    TimeTransformLogHandle,
)
from ._domain.refs import LogRef, RegistryRef
from ._domain.sessions import SessionInfo
from ._domain.specs import (
    DetectionLogSpec,
    HeadSpec,
    PoseLogSpec,
    SensorLogSpec,
    TimeTransformLogSpec,
)
from ._version import __version__
from .errors import (
    ArgumentTypeError,
    AukiSessionError,
    CanonicalJsonError,
    ConfigurationError,
    DuplicateLogError,
    EntryTooLargeError,
    IdentityError,
    InvalidEntryError,
    InvalidIdError,
    InvalidRefError,
    NotFoundError,
    SchemaVersionError,
    StoreError,
    UnresolvedRefError,
)
from .peer import Peer
from .session import Session
from .wallet import Wallet, peer_public_key, verify

__all__ = [
    "ArgumentTypeError",
    "AukiSessionError",
    "CanonicalJsonError",
    "ConfigurationError",
    "DetectionLogHandle",
    "DetectionLogSpec",
    "DuplicateLogError",
    "Entry",
    "EntryTooLargeError",
    "FieldChange",
    "FrameDef",
    "GraphEdge",
    "HeadSpec",
    "IdentityError",
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
    "SessionGraph",
    "SessionInfo",
    "StoreError",
    "TimeTransformLogHandle",
    "TimeTransformLogSpec",
    "UnresolvedRefError",
    "Wallet",
    "__version__",
    "canonical_json",
    "content_hash",
    "peer_public_key",
    "verify",
]
