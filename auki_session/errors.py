"""Every error the package raises, each a subclass of the builtin a caller would catch."""

from __future__ import annotations

__all__ = [
    "ArgumentTypeError",
    "AukiSessionError",
    "CanonicalJsonError",
    "ConfigurationError",
    "DuplicateLogError",
    "EntryTooLargeError",
    "IdentityError",
    "InvalidEntryError",
    "InvalidIdError",
    "InvalidRefError",
    "NotFoundError",
    "SchemaVersionError",
    "StoreError",
    "UnresolvedRefError",
]


class AukiSessionError(Exception):
    """Base of every error raised by auki_session (never raised itself)."""


class InvalidIdError(AukiSessionError, ValueError):
    """An id breaks the registry id rules (SPEC section 4). The message names the argument
    and the id around the Rust SDK's exact words, which `sdk_message` holds alone."""

    def __init__(self, message: str, sdk_message: str | None = None) -> None:
        super().__init__(message)
        self.sdk_message = message if sdk_message is None else sdk_message


class InvalidEntryError(AukiSessionError, ValueError):
    """A registry body or spec does not fit its schema; the message names the field."""


class EntryTooLargeError(InvalidEntryError):
    """A canonical entry exceeds the 65,536 byte limit."""


class CanonicalJsonError(AukiSessionError, ValueError):
    """A value has no RFC 8785 canonical form (NaN, infinity, lone surrogate, non-JSON type)."""


class InvalidRefError(AukiSessionError, TypeError, ValueError):
    """A reference argument is missing a field or has one of the wrong type."""


class UnresolvedRefError(AukiSessionError, ValueError):
    """A reference to this peer's own entry does not match a registered entry."""


class DuplicateLogError(AukiSessionError, ValueError):
    """A log with this resource id already exists in the session."""


class NotFoundError(AukiSessionError, LookupError):
    """A requested entry, session or log is not in the store."""


class StoreError(AukiSessionError, OSError):
    """The store cannot be opened or written; the message names the file."""


class SchemaVersionError(StoreError):
    """The database was written by a newer (or unknown) schema than this code knows."""


class ArgumentTypeError(AukiSessionError, TypeError):
    """An argument is not of a type the call accepts; the message names the argument."""


class ConfigurationError(AukiSessionError, ValueError):
    """A setting is not usable: an app id, storage root, database URL, durability or entry
    kind; the message names it."""


class IdentityError(AukiSessionError, ValueError):
    """A key, seed, signature or peer id is not what an Auki identity needs; the message says
    which and why."""
