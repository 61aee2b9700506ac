"""auki_session: the Auki SDK's session surface over a persistent SQLite registry.

`Peer` and `Session` (and with them SQLAlchemy) are imported on first use: the command line's
read commands never need them.
"""

import importlib as _importlib
from typing import TYPE_CHECKING

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
from ._domain.typed import (
    ArucoBody,
    AudioBody,
    Cadence,
    CameraBody,
    CameraCalibration,
    ClockBody,
    CustomDetectorBody,
    DetectorBody,
    EntryKindName,
    EslBody,
    InputType,
    JointEncodersBody,
    LogRefDict,
    LogRefLike,
    ObjectDetectionBody,
    PoseSource,
    QrBody,
    RangefinderBody,
    RangefinderField,
    RefLike,
    RegistryKindName,
    RegistryRefDict,
    RfBody,
    ScalarBody,
    SensorBody,
    SupportsLogRef,
    SupportsRegistryRef,
    TimeTransformSource,
    WriterMode,
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
from .wallet import Wallet, peer_public_key, verify

if TYPE_CHECKING:
    from .peer import Peer
    from .session import Session

_ON_FIRST_USE = {"Peer": "peer", "Session": "session", "peer": None, "session": None}
"""Names loaded on first use: a class of a module, or (None) the module of that name."""

if not TYPE_CHECKING:  # to a type checker, every name above is defined: typos stay errors

    def __getattr__(name: str) -> object:
        if name not in _ON_FIRST_USE:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        module = _importlib.import_module(f".{_ON_FIRST_USE[name] or name}", __name__)
        value = module if _ON_FIRST_USE[name] is None else getattr(module, name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_ON_FIRST_USE})


__all__ = [
    "ArgumentTypeError",
    "ArucoBody",
    "AudioBody",
    "AukiSessionError",
    "Cadence",
    "CameraBody",
    "CameraCalibration",
    "CanonicalJsonError",
    "ClockBody",
    "ConfigurationError",
    "CustomDetectorBody",
    "DetectionLogHandle",
    "DetectionLogSpec",
    "DetectorBody",
    "DuplicateLogError",
    "Entry",
    "EntryKindName",
    "EntryTooLargeError",
    "EslBody",
    "FieldChange",
    "FrameDef",
    "GraphEdge",
    "HeadSpec",
    "IdentityError",
    "InputType",
    "InvalidEntryError",
    "InvalidIdError",
    "InvalidRefError",
    "JointEncodersBody",
    "LogInfo",
    "LogRef",
    "LogRefDict",
    "LogRefLike",
    "NotFoundError",
    "ObjectDetectionBody",
    "Peer",
    "PoseLogHandle",
    "PoseLogSpec",
    "PoseSource",
    "QrBody",
    "RangefinderBody",
    "RangefinderField",
    "RefLike",
    "RegistryKindName",
    "RegistryRef",
    "RegistryRefDict",
    "RfBody",
    "ScalarBody",
    "SchemaVersionError",
    "SensorBody",
    "SensorLogHandle",
    "SensorLogSpec",
    "Session",
    "SessionGraph",
    "SessionInfo",
    "StoreError",
    "SupportsLogRef",
    "SupportsRegistryRef",
    "TimeTransformLogHandle",
    "TimeTransformLogSpec",
    "TimeTransformSource",
    "UnresolvedRefError",
    "Wallet",
    "WriterMode",
    "__version__",
    "canonical_json",
    "content_hash",
    "peer_public_key",
    "verify",
]
