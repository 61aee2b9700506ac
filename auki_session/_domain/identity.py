"""Auki identities: Ed25519 keys derived from a wallet seed, libp2p peer ids, signatures.

Pure: keys and signatures through the `cryptography` package (no curve code of ours), the
child-key derivation and the peer id encoding as the Auki SDK's `auki-identity` does them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from xxhash import xxh3_128_digest

from ..errors import IdentityError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# `cryptography` is imported where a key is used: a process that never signs nor verifies
# (most readers) does not pay its import at start-up.

__all__ = [
    "PEER_KEY_LABEL",
    "SEED_BYTES",
    "base58_decode",
    "base58_encode",
    "derive_child_seed",
    "key_peer_id",
    "peer_id_of",
    "public_key_from_seed",
    "public_key_of",
    "signature_valid",
    "signer",
]

SEED_BYTES = 32
PEER_KEY_LABEL = "peer/v1"
"""The child of a wallet whose key is the peer's (and names it)."""

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {char: index for index, char in enumerate(_ALPHABET)}
_ED25519_KEY = b"\x08\x01\x12\x20"
"""Protobuf `PublicKey{Type: Ed25519 (1), Data: <32 bytes>}` up to the key bytes."""
_IDENTITY_MULTIHASH = b"\x00" + bytes([len(_ED25519_KEY) + 32])


def base58_encode(data: bytes) -> str:
    """Bitcoin's base58 (libp2p's base58btc, without a multibase prefix)."""
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(_ALPHABET[digit])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def base58_decode(text: str) -> bytes:
    """The bytes of a base58btc string; IdentityError for a character outside the alphabet."""
    number = 0
    for char in text:
        digit = _INDEX.get(char)
        if digit is None:
            raise IdentityError(f"{text!r} is not base58: {char!r} is not in its alphabet")
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def derive_child_seed(seed: bytes, label: str) -> bytes:
    """`derive_child(label)`: XXH3-128 of seed || label, then of seed || label || "/expand"."""
    material = seed + label.encode("utf-8")
    return xxh3_128_digest(material) + xxh3_128_digest(material + b"/expand")


def _private(seed: bytes) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if type(seed) is not bytes or len(seed) != SEED_BYTES:
        raise IdentityError(f"a seed is {SEED_BYTES} bytes, got {len(bytes(seed))}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_from_seed(seed: bytes) -> bytes:
    """The 32-byte Ed25519 public key of a 32-byte seed (RFC 8032)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return _private(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def signer(seed: bytes) -> Callable[[bytes], bytes]:
    """A function that signs with the key of `seed` (the key expanded once)."""
    return _private(seed).sign


def peer_id_of(public_key: bytes) -> str:
    """The libp2p peer id of an Ed25519 public key: base58btc of the identity multihash of
    the protobuf `PublicKey`."""
    if len(public_key) != 32:
        raise IdentityError(f"an Ed25519 public key is 32 bytes, got {len(public_key)}")
    return base58_encode(_IDENTITY_MULTIHASH + _ED25519_KEY + public_key)


def public_key_of(peer_id: str) -> bytes:
    """The Ed25519 public key a libp2p peer id holds; IdentityError for an id that is not one
    (a name, another key type, a hashed key)."""
    try:
        raw = base58_decode(peer_id)
    except IdentityError:
        raise IdentityError(
            f"peer id {peer_id!r} is not a libp2p Ed25519 peer id (not base58)"
        ) from None
    prefix = _IDENTITY_MULTIHASH + _ED25519_KEY
    if len(raw) != len(prefix) + 32 or not raw.startswith(prefix):
        raise IdentityError(
            f"peer id {peer_id!r} is not a libp2p Ed25519 peer id (an identity multihash of an "
            "Ed25519 public key, like 12D3KooW...)"
        )
    return raw[len(prefix) :]


def key_peer_id(peer_id: str) -> bytes | None:
    """The public key of a key-derived peer id, or None for any other id (a plain name)."""
    if not peer_id.startswith("12D3KooW"):
        return None
    try:
        return public_key_of(peer_id)
    except IdentityError:
        return None


def signature_valid(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `public_key`'s Ed25519 signature of `message`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
