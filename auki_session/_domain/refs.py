"""Reference value types and the duck-typed parsing of reference arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InvalidRefError
from .ids import rust_str_debug

__all__ = [
    "LogRef",
    "RegistryRef",
    "as_log_ref",
    "as_registry_ref",
]


def _require_str(owner: str, field: str, value: object) -> None:
    if not isinstance(value, str):
        raise InvalidRefError(f"{owner}.{field} must be a str, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class RegistryRef:
    """A content-addressed pointer to one version of a registry entry."""

    peer_id: str
    id: str
    hash: str

    def __post_init__(self) -> None:
        if type(self.peer_id) is str and type(self.id) is str and type(self.hash) is str:
            return  # the common case, checked at once: every registration returns a ref
        for field in ("peer_id", "id", "hash"):
            _require_str("RegistryRef", field, getattr(self, field))
            object.__setattr__(self, field, str.__str__(getattr(self, field)))

    def __repr__(self) -> str:
        return (
            f"RegistryRef(peer_id={rust_str_debug(self.peer_id)}, id={rust_str_debug(self.id)}, "
            f"hash={rust_str_debug(self.hash)})"
        )

    def validate(self) -> None:
        """Raise `ValueError` naming the first empty field."""
        for field in ("peer_id", "id", "hash"):
            if not getattr(self, field):
                raise InvalidRefError(f"RegistryRef.{field} must not be empty")

    def to_dict(self) -> dict[str, str]:
        """The ref as it appears inside entries and manifests."""
        return {"hash": self.hash, "id": self.id, "peer_id": self.peer_id}


@dataclass(frozen=True, slots=True)
class LogRef:
    """Names a log by the peer that produces it and its resource id."""

    source_peer_id: str
    resource_id: str

    def __post_init__(self) -> None:
        for field in ("source_peer_id", "resource_id"):
            _require_str("LogRef", field, getattr(self, field))
            object.__setattr__(self, field, str.__str__(getattr(self, field)))

    def __repr__(self) -> str:
        return (
            f"LogRef(source_peer_id={rust_str_debug(self.source_peer_id)}, "
            f"resource_id={rust_str_debug(self.resource_id)})"
        )

    def validate(self) -> None:
        """Raise `ValueError` naming the first empty field."""
        for field in ("source_peer_id", "resource_id"):
            if not getattr(self, field):
                raise InvalidRefError(f"LogRef.{field} must not be empty")

    def to_dict(self) -> dict[str, str]:
        """The ref as it appears inside manifests."""
        return {"resource_id": self.resource_id, "source_peer_id": self.source_peer_id}


_MISSING = object()


def _fields(value: object, names: tuple[str, ...], argument: str, kind: str) -> list[str]:
    out: list[str] = []
    for name in names:
        try:
            if isinstance(value, Mapping):
                field = value.get(name, _MISSING)
            else:
                field = getattr(value, name, _MISSING)
        except Exception as error:  # the caller's object raised: a ref we cannot read
            raise InvalidRefError(
                f"{argument}: cannot read {kind}.{name}: {type(error).__name__}"
            ) from error
        if field is _MISSING:
            raise InvalidRefError(
                f"{argument}: expected a {kind} (object or dict), missing field {name!r}"
            )
        if not isinstance(field, str):
            raise InvalidRefError(
                f"{argument}: {kind}.{name} must be a str, got {type(field).__name__}"
            )
        if not field:
            raise InvalidRefError(f"{argument}: {kind}.{name} must not be empty")
        out.append(str.__str__(field))
    return out


def _refuse_unknown_keys(
    value: Mapping[object, object], known: tuple[str, ...], argument: str, kind: str
) -> None:
    extra = [key for key in value if not isinstance(key, str) or str.__str__(key) not in known]
    if extra:
        names = sorted(str.__str__(key) for key in extra if isinstance(key, str))
        shown = repr(names[0]) if names else f"of type {type(extra[0]).__name__}"
        raise InvalidRefError(f"{argument}: unknown {kind} field {shown}")


def as_registry_ref(value: object, argument: str) -> RegistryRef:
    """Parse anything shaped like a RegistryRef (object, dict, namespace) into a valid one."""
    if type(value) is RegistryRef and value.peer_id and value.id and value.hash:
        return value
    if isinstance(value, Mapping):
        _refuse_unknown_keys(value, ("peer_id", "id", "hash"), argument, "RegistryRef")
    peer_id, id_, hash_ = _fields(value, ("peer_id", "id", "hash"), argument, "RegistryRef")
    return RegistryRef(peer_id=peer_id, id=id_, hash=hash_)


def as_log_ref(value: object, argument: str) -> LogRef:
    """Parse anything shaped like a LogRef (object, dict, namespace) into a valid one."""
    if isinstance(value, Mapping):
        _refuse_unknown_keys(value, ("source_peer_id", "resource_id"), argument, "LogRef")
    source, resource = _fields(value, ("source_peer_id", "resource_id"), argument, "LogRef")
    return LogRef(source_peer_id=source, resource_id=resource)
