"""Registry entries: the flat JSON object of SPEC section 3, its canonical bytes and its hash."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .canonical import canonical_json
from .clocks import parse_clock_body
from .detectors import parse_detector_body
from .errors import ArgumentTypeError, EntryTooLargeError
from .frames import FrameDef
from .hashing import content_hash
from .ids import validate_id
from .refs import RegistryRef
from .sensors import parse_sensor_body

EntryKind = Literal["frame", "sensor", "detector", "clock"]
ENTRY_KINDS: tuple[EntryKind, ...] = ("frame", "sensor", "detector", "clock")
ID_KEYS: dict[str, str] = {
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
