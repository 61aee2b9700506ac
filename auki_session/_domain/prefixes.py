"""Unique prefixes of content hashes and session ids, as the command line takes them: what a
well-formed prefix is, and the messages for one that names nothing or several things."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "HASH_LENGTH",
    "LISTED",
    "MIN_HASH_PREFIX",
    "ambiguous",
    "hash_prefix",
    "looks_like_hash",
]

HASH_LENGTH = 32
MIN_HASH_PREFIX = 4
_HEX = frozenset("0123456789abcdef")
LISTED = 8
"""At most this many matches are listed in an ambiguity message."""


def looks_like_hash(text: str) -> bool:
    """Whether `text` is a well-formed hash prefix (4 to 32 hex digits, any case)."""
    return MIN_HASH_PREFIX <= len(text) <= HASH_LENGTH and set(text.lower()) <= _HEX


def hash_prefix(text: str, argument: str) -> str:
    """`text` as a lowercase hash prefix, or ValueError naming `argument`, what is wrong and
    what to give instead."""
    cleaned = text.strip().lower()
    if looks_like_hash(cleaned):
        return cleaned
    if set(cleaned) <= _HEX and cleaned:
        wrong = (
            f"is too short ({len(cleaned)} digits)"
            if len(cleaned) < MIN_HASH_PREFIX
            else f"is too long ({len(cleaned)} digits)"
        )
    else:
        wrong = "is not a hash"
    raise ValueError(
        f"{argument} {text!r} {wrong}: give {MIN_HASH_PREFIX} to {HASH_LENGTH} hex digits of "
        "an entry version's hash (as `history` lists them)"
    )


def ambiguous(argument: str, text: str, matches: Sequence[str], limit: int, more: str) -> str:
    """The message for a prefix that several things start with: the argument, the matches
    (a query for at most `limit` found them), and what to do."""
    count = f"more than {limit - 1}" if len(matches) >= limit else str(len(matches))
    shown = "; ".join(matches[: limit - 1])
    return f"{argument} {text!r} is ambiguous, it starts {count}: {shown}; {more}"
