"""`Session`: one recording session of a peer, with its clocks and logs."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn, TypeVar

from ._domain.clocks import auto_clock_ids
from ._domain.entries import Entry, clock_entry
from ._domain.frame_tree import SessionGraph
from ._domain.ids import lookup_text
from ._domain.logs import (
    DetectionLogHandle,
    LogHandle,
    LogInfo,
    LogSpec,
    PoseLogHandle,
    SensorLogHandle,
    TimeTransformLogHandle,
    plan_log,
)
from ._domain.refs import LogRef, RegistryRef
from ._domain.specs import DetectionLogSpec, PoseLogSpec, SensorLogSpec, TimeTransformLogSpec
from ._domain.typed import ClockBody
from .errors import ArgumentTypeError, NotFoundError

if TYPE_CHECKING:
    from .peer import Peer

__all__ = ["Session"]

_Handle = TypeVar("_Handle", bound=LogHandle)


class Session:
    """A recording session. Born from `peer.start_session()` or `peer.open_session(id)`."""

    __slots__ = ("_app_id", "_monotonic", "_peer", "_session_id", "_storage_root", "_utc")
    _app_id: str
    _monotonic: RegistryRef | None
    _peer: Peer
    _session_id: str
    _storage_root: str
    _utc: RegistryRef | None

    def __init__(self) -> None:
        raise TypeError(
            "Session has no public constructor: use peer.start_session() or "
            "peer.open_session(session_id)"
        )

    @classmethod
    def _bind(
        cls,
        peer: Peer,
        session_id: str,
        app_id: str,
        auto_clocks: tuple[RegistryRef, RegistryRef] | None = None,
    ) -> Session:
        session = object.__new__(cls)
        session._peer = peer
        session._session_id = session_id
        session._app_id = app_id
        session._storage_root = peer.storage_root
        session._monotonic, session._utc = auto_clocks or (None, None)
        return session

    def __repr__(self) -> str:
        return f"Session(peer_id={self.peer_id!r}, session_id={self._session_id!r})"

    @property
    def peer_id(self) -> str:
        """The peer this session belongs to."""
        return self._peer.peer_id

    @property
    def app_id(self) -> str:
        """The app id recorded with this session."""
        return self._app_id

    @property
    def session_id(self) -> str:
        """The session's ULID."""
        return self._session_id

    @property
    def storage_root(self) -> str:
        """The storage root the session lives in, as given to the peer."""
        return self._storage_root

    @property
    def monotonic_clock(self) -> RegistryRef:
        """The session's auto-registered monotonic clock."""
        if self._monotonic is None:
            self._monotonic = self._auto_clock(0)
        return self._monotonic

    @property
    def utc_clock(self) -> RegistryRef:
        """The session's auto-registered UTC clock."""
        if self._utc is None:
            self._utc = self._auto_clock(1)
        return self._utc

    def _auto_clock(self, which: int) -> RegistryRef:
        clock_id = auto_clock_ids(self.peer_id, self._session_id)[which]
        for clock in self.clocks():
            if clock.id == clock_id:
                return clock.ref
        raise NotFoundError(f"session {self._session_id!r} has no clock {clock_id!r}")

    def register_clock(self, clock_id: str, body: ClockBody) -> RegistryRef:
        """Register a session-scoped clock (the id is used verbatim)."""
        return self._peer._put(clock_entry(self.peer_id, self._session_id, clock_id, body))

    def _register_log(self, spec: LogSpec, handle: type[_Handle]) -> _Handle:
        plan = plan_log(self.peer_id, self._app_id, self._session_id, spec)
        with self._peer._write() as transaction:
            root = transaction.add_log(self._session_id, self.peer_id, plan, self._peer._signer)
        return handle(plan.resource_id, str(root), LogRef(self.peer_id, plan.resource_id))

    def register_sensor_log(self, spec: SensorLogSpec) -> SensorLogHandle:
        """Register a sensor log; its resource id is the sensor's id."""
        _expect(spec, SensorLogSpec, "register_sensor_log")
        return self._register_log(spec, SensorLogHandle)

    def register_pose_log(self, spec: PoseLogSpec) -> PoseLogHandle:
        """Register a pose log; its resource id is `<from_frame.id>-><to_frame.id>`."""
        _expect(spec, PoseLogSpec, "register_pose_log")
        return self._register_log(spec, PoseLogHandle)

    def register_time_transform_log(self, spec: TimeTransformLogSpec) -> TimeTransformLogHandle:
        """Register a time transform log; resource id `<from_clock.id>-><to_clock.id>`."""
        _expect(spec, TimeTransformLogSpec, "register_time_transform_log")
        return self._register_log(spec, TimeTransformLogHandle)

    def register_detection_log(self, spec: DetectionLogSpec) -> DetectionLogHandle:
        """Register a detection log; resource id `instance_id` or `<detector>@<sensor>`."""
        _expect(spec, DetectionLogSpec, "register_detection_log")
        return self._register_log(spec, DetectionLogHandle)

    def clocks(self) -> list[Entry]:
        """The current version of each of this session's clocks."""
        with self._peer._store().lookup(self._peer) as reader:
            return reader.clocks(self._session_id)

    def logs(self) -> list[LogInfo]:
        """This session's logs, with manifests and head specs, in registration order."""
        with self._peer._store().lookup(self._peer) as reader:
            return reader.logs(self._session_id)

    def frame_tree(self) -> SessionGraph:
        """The session's frame tree and clock graph (what `auki-session tree` shows): its
        peer's frames and its clocks, the pose and time-transform logs joining them, and
        warnings (a frame with two parents, a cycle, a frame or clock nothing joins)."""
        with self._peer._store().lookup(self._peer) as reader:
            graph = reader.session_graph(self._session_id)
        if graph is None:
            raise NotFoundError(f"no session {self._session_id!r}")
        return graph

    def log(self, resource_id: str) -> LogInfo:
        """One of this session's logs by resource id."""
        resource_id = lookup_text(resource_id, "resource_id")
        for info in self.logs():
            if info.resource_id == resource_id:
                return info
        raise NotFoundError(f"session {self._session_id!r} has no log {resource_id!r}")

    def materialize_remote_log(
        self, log_ref: object, *, retention_ns: int, segment_duration_ns: int
    ) -> NoReturn:
        """Remote streams live in the domain layer, not in this package."""
        raise NotImplementedError(
            "not implemented: materialize_remote_log belongs to the domain layer "
            "(auki-domain), not auki_session"
        )

    def resolve_static_transform(self, log_ref: object) -> NoReturn:
        """Remote streams live in the domain layer, not in this package."""
        raise NotImplementedError(
            "not implemented: resolve_static_transform belongs to the domain layer "
            "(auki-domain), not auki_session"
        )


def _expect(spec: object, kind: type, method: str) -> None:
    if not isinstance(spec, kind):
        raise ArgumentTypeError(f"{method} takes a {kind.__name__}, got {type(spec).__name__}")
