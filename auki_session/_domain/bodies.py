"""Strict readers for JSON bodies: every field typed, every unknown key refused by name."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ..errors import InvalidEntryError
from .refs import as_registry_ref

__all__ = [
    "I64_MAX",
    "U32_MAX",
    "BodyReader",
    "check_int",
    "describe",
    "exact",
]

U32_MAX = 2**32 - 1
I64_MAX = 2**63 - 1


def exact(value: str) -> str:
    """The exact `str` a str subclass stands for: checks then compare the text itself, not
    what a subclass's `__eq__`, `__hash__` or `__lt__` claims."""
    return value if type(value) is str else str.__str__(value)


def _exact_key(key: object) -> object:
    return str.__str__(key) if isinstance(key, str) else key


def describe(value: object) -> str:
    """A short description of a value for error messages (never raises, whatever the value)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # ints over 4300 digits, very deep nesting
        return f"a {type(value).__name__} too large to show"
    except Exception:  # a repr of the caller's that raises
        return f"a {type(value).__name__} that cannot be shown"
    return text if len(text) <= 60 else f"{text[:57]}..."


class BodyReader:
    """Reads the fields of one JSON object, naming `where` and the field in every error."""

    __slots__ = ("_body", "_where")

    def __init__(self, body: object, where: str) -> None:
        if not isinstance(body, Mapping):
            raise InvalidEntryError(f"{where}: expected a JSON object, got {type(body).__name__}")
        # Keys of exact str: a subclass lying in __eq__ would pass `only` and match any field.
        self._body: dict[Any, Any] = {
            (key if type(key) is str else _exact_key(key)): value for key, value in body.items()
        }
        self._where = where

    def fail(self, message: str) -> InvalidEntryError:
        """An error about this body."""
        return InvalidEntryError(f"{self._where}: {message}")

    def only(self, allowed: Collection[str]) -> None:
        """Refuse any key that is not in `allowed`, naming it."""
        for key in self._body:
            if type(key) is not str or key not in allowed:
                raise self.fail(f"unknown field {describe(key)}")

    def contains(self, key: str) -> bool:
        """Whether `key` is present at all (even as null)."""
        return key in self._body

    def has(self, key: str) -> bool:
        """Whether `key` is present with a non-null value."""
        return self._body.get(key) is not None

    def _required(self, key: str) -> Any:
        try:
            return self._body[key]
        except KeyError:
            raise self.fail(f"missing field {key!r}") from None

    def _wrong(self, key: str, expected: str, value: object) -> InvalidEntryError:
        return self.fail(f"field {key!r} must be {expected}, got {describe(value)}")

    def string(self, key: str) -> str:
        """A required string field."""
        value = self._required(key)
        if type(value) is str:
            return value
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        return str.__str__(value)

    def optional_string(self, key: str) -> str | None:
        """A string field that may be absent or null."""
        value = self._body.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong(key, "a string or null", value)
        return exact(value)

    def choice(self, key: str, allowed: Collection[str]) -> str:
        """A required string field drawn from `allowed`."""
        value = self._required(key)
        if type(value) is not str:
            value = str.__str__(value) if isinstance(value, str) else value
        if type(value) is not str or value not in allowed:
            raise self._wrong(key, f"one of {', '.join(allowed)}", self._required(key))
        return value

    def boolean(self, key: str) -> bool:
        """A required boolean field."""
        value = self._required(key)
        if not isinstance(value, bool):
            raise self._wrong(key, "a boolean", value)
        return value

    def u32(self, key: str) -> int:
        """A required integer field within 0..2**32-1 (booleans are not numbers)."""
        return check_int(self._required(key), f"{self._where}: field {key!r}", 0, U32_MAX)

    def number(self, key: str) -> float:
        """A required JSON number, as a float (booleans are not numbers)."""
        value = self._required(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong(key, "a number", value)
        try:
            return (
                float.__float__(value) if isinstance(value, float) else float(int.__index__(value))
            )
        except OverflowError:
            raise self._wrong(key, "a number within double range", value) from None

    def mapping(self, key: str) -> Mapping[Any, Any]:
        """A required JSON object field."""
        value = self._required(key)
        if not isinstance(value, Mapping):
            raise self._wrong(key, "an object", value)
        return value

    def array(self, key: str) -> list[Any]:
        """A required JSON array field."""
        value = self._required(key)
        if not isinstance(value, list | tuple):
            raise self._wrong(key, "an array", value)
        return list(value)

    def ref(self, key: str) -> dict[str, str]:
        """A required RegistryRef field (any ref-shaped value), as its entry object."""
        return as_registry_ref(self._required(key), f"{self._where}: field {key!r}").to_dict()

    def get(self, key: str, default: object = None) -> object:
        """An unchecked field (for free JSON such as a custom detector's configuration)."""
        return self._body.get(key, default)


def check_int(value: object, what: str, low: int, high: int) -> int:
    """Return `value` if it is an int (not a bool) within low..high, else raise naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEntryError(f"{what} must be an integer, got {describe(value)}")
    value = int.__index__(value)  # an exact int: a subclass's comparisons are not consulted
    if not low <= value <= high:
        raise InvalidEntryError(f"{what} must be between {low} and {high}, got {describe(value)}")
    return value
