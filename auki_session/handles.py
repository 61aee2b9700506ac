"""The handles a session returns for each registered log."""

from __future__ import annotations

from dataclasses import dataclass

from .refs import LogRef


@dataclass(frozen=True, slots=True)
class _LogHandle:
    resource_id: str
    root: str
    log_ref: LogRef


class SensorLogHandle(_LogHandle):
    """A registered sensor log."""

    __slots__ = ()


class PoseLogHandle(_LogHandle):
    """A registered pose log."""

    __slots__ = ()


class TimeTransformLogHandle(_LogHandle):
    """A registered time transform log."""

    __slots__ = ()


class DetectionLogHandle(_LogHandle):
    """A registered detection log."""

    __slots__ = ()
