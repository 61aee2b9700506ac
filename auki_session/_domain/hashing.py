"""Content hashes: XXH3-128 of the RFC 8785 canonical bytes, as the Rust SDK computes them."""

from __future__ import annotations

import xxhash

from .canonical import canonical_json

__all__ = ["content_hash"]

_BYTES_LIKE = (bytes, bytearray, memoryview)  # a tuple: faster than an inline X | Y union


def content_hash(value: object) -> str:
    """Return the XXH3-128 (seed 0) of a value's canonical JSON as 32 lowercase hex digits.

    bytes, bytearray and memoryview are hashed as they are, without canonicalisation; anything
    else goes through canonical_json and raises CanonicalJsonError if it has no canonical form.
    """
    if isinstance(value, _BYTES_LIKE):
        if isinstance(value, memoryview) and not value.c_contiguous:
            value = value.tobytes()  # xxhash reads only C-contiguous buffers
        return xxhash.xxh3_128_hexdigest(value)
    return xxhash.xxh3_128_hexdigest(canonical_json(value))
