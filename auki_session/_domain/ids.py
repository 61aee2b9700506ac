"""Registry id rules (SPEC section 4), with the Rust SDK's exact error messages."""

from __future__ import annotations

from ..errors import ArgumentTypeError, InvalidIdError

__all__ = [
    "lookup_text",
    "rust_char_debug",
    "rust_str_debug",
    "validate_id",
    "validate_peer_id",
]

# Unicode White_Space, as Rust's char::is_whitespace sees it (U+001C..U+001F are not in it).
_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_DISALLOWED = _WHITESPACE | {">", "@"}
_RESERVED_SEGMENTS = frozenset({"", ".", ".."})
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "\0": "\\0"}


def _rust_escape(char: str, quote: str) -> str:
    if char == quote:
        return "\\" + char
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char != " " and (char in _WHITESPACE or not char.isprintable()):
        return f"\\u{{{ord(char):x}}}"
    return char


def rust_char_debug(char: str) -> str:
    """Format one character the way Rust's `{:?}` prints a `char`."""
    return f"'{_rust_escape(char, chr(39))}'"


def rust_str_debug(value: str) -> str:
    """Format a string the way Rust's `{:?}` prints a `str`."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return '"' + "".join(_rust_escape(char, '"') for char in value) + '"'


_ADVICE = {
    "empty": 'give a non-empty id, such as "base_link"',
    "character": "ids may not hold whitespace, '>' or '@': use '_' or '-' instead",
    "segment": "each part between '/' must be a name, not empty, '.' or '..'",
}


def _invalid(argument: str, value: str, sdk_message: str, advice: str) -> InvalidIdError:
    """The error for an id breaking a rule: the argument and the id, the Rust SDK's exact
    words, and what to do."""
    shown = f"{argument} {rust_str_debug(value)}" if value else argument
    return InvalidIdError(f"{shown}: {sdk_message} ({_ADVICE[advice]})", sdk_message)


def validate_id(value: object, argument: str = "id") -> str:
    """Return `value` if it is a valid registry id, else raise `InvalidIdError`."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{argument} must be a str, got {type(value).__name__}")
    value = str.__str__(value)  # exact: a subclass's comparisons are not consulted
    if not value:
        raise _invalid(argument, value, "registry id is empty", "empty")
    if not _DISALLOWED.isdisjoint(value):
        bad = next(c for c in value if c in _DISALLOWED)
        sdk = f"registry id contains disallowed character {rust_char_debug(bad)}"
        raise _invalid(argument, value, sdk, "character")
    if "/" in value or value in _RESERVED_SEGMENTS:
        for segment in value.split("/"):
            if segment in _RESERVED_SEGMENTS:
                sdk = f'registry id contains reserved path segment "{segment}"'
                raise _invalid(argument, value, sdk, "segment")
    return value


def lookup_text(value: object, argument: str) -> str:
    """A str argument a lookup takes (an id, a session id, a hash), as an exact str that the
    database can hold: a lone surrogate is refused here rather than by the driver."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{argument} must be a str, got {type(value).__name__}")
    value = str.__str__(value)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidIdError(
                f"{argument} {rust_str_debug(value)} is not text any entry can have "
                "(it holds a lone surrogate)"
            ) from None
    return value


def validate_peer_id(value: object, argument: str = "peer_id") -> str:
    """Return `value` if it is a usable peer id: a registry id without `/`."""
    value = validate_id(value, argument)
    if "/" in value:
        raise InvalidIdError(
            f"{argument} {rust_str_debug(value)} must not contain '/' (a peer id is one "
            "libp2p id, such as 12D3KooW..., or a plain name)"
        )
    return value
