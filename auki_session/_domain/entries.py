"""Registry entries: the flat JSON object of SPEC section 3, its canonical bytes and its hash,
and `Entry`, one stored version as the read side returns it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from ..errors import ArgumentTypeError, ConfigurationError, EntryTooLargeError
from .bodies import describe
from .canonical import canonical_json
from .clocks import parse_clock_body
from .detectors import parse_detector_body
from .frames import FrameDef
from .hashing import content_hash
from .ids import validate_id
from .refs import RegistryRef
from .sensors import parse_sensor_body

__all__ = [
    "ENTRY_KINDS",
    "ID_KEYS",
    "MAX_ENTRY_BYTES",
    "REGISTRY_KINDS",
    "CanonicalEntry",
    "Entry",
    "EntryKind",
    "RegistryKind",
    "check_kind",
    "check_registry_kind",
    "clock_entry",
    "detector_entry",
    "frame_entry",
    "sensor_entry",
]

EntryKind = Literal["frame", "sensor", "detector", "clock"]
RegistryKind = Literal["frame", "sensor", "detector"]
"""The kinds with one current version per peer and id (clocks are current per session)."""
ENTRY_KINDS: tuple[EntryKind, ...] = ("frame", "sensor", "detector", "clock")
REGISTRY_KINDS: tuple[RegistryKind, ...] = ("frame", "sensor", "detector")
ID_KEYS: dict[EntryKind, str] = {
    "frame": "frame_id",
    "sensor": "sensor_id",
    "detector": "detector_id",
    "clock": "clock_id",
}
MAX_ENTRY_BYTES = 65_536


@dataclass(frozen=True, slots=True)
class CanonicalEntry:
    """One version of a registry entry, ready to store: canonical bytes, hash, and the refs
    to this peer's own entries that must resolve before it may be stored."""

    kind: EntryKind
    peer_id: str
    id: str
    session_id: str | None
    canonical: bytes
    hash: str
    depends_on: tuple[tuple[EntryKind, RegistryRef], ...] = ()

    @property
    def ref(self) -> RegistryRef:
        """The RegistryRef naming this version."""
        return RegistryRef(peer_id=self.peer_id, id=self.id, hash=self.hash)


_Kind = TypeVar("_Kind", bound=str)


def _one_of(kind: object, allowed: tuple[_Kind, ...]) -> _Kind:
    for known in allowed:
        if type(kind) is str and kind == known:
            return known
    raise ConfigurationError(f"kind must be one of {', '.join(allowed)}, got {describe(kind)}")


def check_kind(kind: object) -> EntryKind:
    """`kind` as an entry kind, or a ConfigurationError naming the kinds."""
    return _one_of(kind, ENTRY_KINDS)


def check_registry_kind(kind: object) -> RegistryKind:
    """`kind` as frame, sensor or detector, or a ConfigurationError naming them."""
    return _one_of(kind, REGISTRY_KINDS)


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored version of a registry entry."""

    kind: EntryKind
    peer_id: str
    id: str
    hash: str
    session_id: str | None
    canonical_json: str
    registered_at: str
    signature: str | None = None
    """Hex Ed25519 signature of `canonical_json` by the peer's key (None: unsigned)."""

    @property
    def ref(self) -> RegistryRef:
        """The RegistryRef naming this version."""
        return RegistryRef(peer_id=self.peer_id, id=self.id, hash=self.hash)

    @property
    def entry(self) -> dict[str, Any]:
        """The whole flat entry object, as hashed."""
        value: dict[str, Any] = json.loads(self.canonical_json)
        return value

    @property
    def body(self) -> dict[str, Any]:
        """The body fields alone (without peer_id, the id key and session_id)."""
        entry = self.entry
        for key in ("peer_id", ID_KEYS[self.kind], "session_id"):
            entry.pop(key, None)
        return entry


def _seal(
    kind: EntryKind,
    peer_id: str,
    entry_id: str,
    fields: dict[str, Any],
    session_id: str | None = None,
    depends_on: tuple[tuple[EntryKind, RegistryRef], ...] = (),
) -> CanonicalEntry:
    entry = dict(fields)
    entry["peer_id"] = peer_id
    entry[ID_KEYS[kind]] = entry_id
    if session_id is not None:
        entry["session_id"] = session_id
    canonical = canonical_json(entry)
    if len(canonical) > MAX_ENTRY_BYTES:
        raise EntryTooLargeError(
            f"{kind} {entry_id!r}: canonical entry is {len(canonical)} bytes, "
            f"over the {MAX_ENTRY_BYTES} byte limit"
        )
    return CanonicalEntry(
        kind, peer_id, entry_id, session_id, canonical, content_hash(canonical), depends_on
    )


def frame_entry(peer_id: str, frame_id: object, frame: object) -> CanonicalEntry:
    """The entry for `register_frame(frame_id, frame)`; `frame` is a FrameDef or its body."""
    entry_id = validate_id(frame_id, "frame_id")
    if isinstance(frame, Mapping):
        frame = FrameDef.from_body(dict(frame))
    if not isinstance(frame, FrameDef):
        raise ArgumentTypeError(
            f"register_frame: frame must be a FrameDef (or its body dict), "
            f"got {type(frame).__name__}"
        )
    return _seal("frame", peer_id, entry_id, frame.body())


def sensor_entry(peer_id: str, sensor_id: object, body: object) -> CanonicalEntry:
    """The entry for `register_sensor(sensor_id, body)`."""
    entry_id = validate_id(sensor_id, "sensor_id")
    fields = parse_sensor_body(body)
    frame: dict[str, str] | None = fields.get("frame")  # every kind but scalar has a frame
    depends: tuple[tuple[EntryKind, RegistryRef], ...] = ()
    if frame is not None and frame["peer_id"] == peer_id:
        depends = (("frame", RegistryRef(**frame)),)
    return _seal("sensor", peer_id, entry_id, fields, depends_on=depends)


def detector_entry(
    peer_id: str,
    detector_id: object,
    body: object,
    output_types: object,
    input_types: object = None,
) -> CanonicalEntry:
    """The entry for `register_detector(detector_id, body, output_types, input_types)`."""
    entry_id = validate_id(detector_id, "detector_id")
    return _seal(
        "detector", peer_id, entry_id, parse_detector_body(body, output_types, input_types)
    )


def clock_entry(peer_id: str, session_id: str, clock_id: object, body: object) -> CanonicalEntry:
    """The entry for `session.register_clock(clock_id, body)`; clocks carry their session."""
    entry_id = validate_id(clock_id, "clock_id")
    return _seal("clock", peer_id, entry_id, parse_clock_body(body), session_id)
