"""`Wallet`: an Auki identity's Ed25519 key, its children, and verifying what a peer signed."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._domain import identity
from ._domain.canonical import canonical_json
from ._store.files import Directory, make_root
from .errors import ArgumentTypeError, IdentityError

__all__ = ["Wallet", "peer_public_key", "verify"]


class Wallet:
    """An Ed25519 key made from a 32-byte seed (RFC 8032), as the Auki SDK's wallet."""

    __slots__ = ("_path", "_public_key", "_seed", "_sign")
    _path: str | None
    _public_key: bytes
    _seed: bytes
    _sign: Callable[[bytes], bytes]

    def __init__(self) -> None:
        raise TypeError("make a Wallet with Wallet.from_seed(seed) or Wallet.load_or_mint(path)")

    @classmethod
    def from_seed(cls, seed: bytes) -> Wallet:
        """The wallet of a 32-byte seed."""
        if not isinstance(seed, bytes | bytearray | memoryview):
            raise ArgumentTypeError(f"seed must be bytes, got {type(seed).__name__}")
        raw = bytes(seed)
        if len(raw) != identity.SEED_BYTES:
            raise IdentityError(f"a wallet seed is {identity.SEED_BYTES} bytes, got {len(raw)}")
        wallet = object.__new__(cls)
        wallet._path = None
        wallet._seed = raw
        wallet._public_key = identity.public_key_from_seed(raw)
        wallet._sign = identity.signer(raw)
        return wallet

    @classmethod
    def load_or_mint(cls, path: str | os.PathLike[str]) -> Wallet:
        """The wallet whose seed is in `path` (exactly 32 bytes; any other length is refused
        and the file left as it is); when missing, mint 32 random bytes and write them there
        atomically and durably with mode 0600 (parent directories made as needed).
        Conventionally `~/.auki/<app>/identity.seed`."""
        file = Path(os.fspath(path))
        try:
            seed = _read_seed(file)
        except FileNotFoundError:
            _write_seed(file, os.urandom(identity.SEED_BYTES))
            seed = _read_seed(file)
        wallet = cls.from_seed(seed)
        wallet._path = os.path.abspath(file)  # the working directory may change later
        return wallet

    def __repr__(self) -> str:
        return f"Wallet(peer_id={self.peer_id!r})"

    @property
    def path(self) -> str | None:
        """The seed file this wallet was loaded from (None: made from bytes)."""
        return self._path

    @property
    def seed(self) -> bytes:
        """The 32-byte seed (the private key: keep it out of storage roots and logs)."""
        return self._seed

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return self._public_key

    @property
    def peer_id(self) -> str:
        """The libp2p peer id of this key (a robot's is its `peer/v1` child's)."""
        return identity.peer_id_of(self._public_key)

    def derive_child(self, label: str) -> Wallet:
        """The child wallet for `label` (the robot's peer key is `derive_child("peer/v1")`)."""
        if not isinstance(label, str):
            raise ArgumentTypeError(f"label must be a str, got {type(label).__name__}")
        return Wallet.from_seed(identity.derive_child_seed(self._seed, str.__str__(label)))

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `message`."""
        if not isinstance(message, bytes | bytearray | memoryview):
            raise ArgumentTypeError(f"message must be bytes, got {type(message).__name__}")
        return self._sign(bytes(message))

    def sign_canonical_json(self, value: Any) -> tuple[bytes, bytes]:
        """The RFC 8785 canonical bytes of `value` and their signature."""
        message = canonical_json(value)
        return message, self._sign(message)


def peer_public_key(peer_id: str) -> bytes:
    """The Ed25519 public key a libp2p peer id holds (IdentityError for one that holds none)."""
    if not isinstance(peer_id, str):
        raise ArgumentTypeError(f"peer_id must be a str, got {type(peer_id).__name__}")
    return identity.public_key_of(str.__str__(peer_id))


def verify(peer_id_or_public_key: str | bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is the Ed25519 signature of `message` by the key a peer id holds (or
    a 32-byte public key)."""
    if isinstance(peer_id_or_public_key, str):
        key = peer_public_key(peer_id_or_public_key)
    elif isinstance(peer_id_or_public_key, bytes | bytearray | memoryview):
        key = bytes(peer_id_or_public_key)
        if len(key) != 32:
            raise IdentityError(f"an Ed25519 public key is 32 bytes, got {len(key)}")
    else:
        raise ArgumentTypeError(
            f"verify takes a peer id or a public key, got {type(peer_id_or_public_key).__name__}"
        )
    for name, value in (("message", message), ("signature", signature)):
        if not isinstance(value, bytes | bytearray | memoryview):
            raise ArgumentTypeError(f"{name} must be bytes, got {type(value).__name__}")
    return identity.signature_valid(key, bytes(message), bytes(signature))


def _read_seed(file: Path) -> bytes:
    fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IdentityError(f"{file}: a seed file must be a regular file")
        data = os.read(fd, identity.SEED_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) != identity.SEED_BYTES:
        size = file.stat().st_size
        raise IdentityError(
            f"{file}: a seed file holds exactly {identity.SEED_BYTES} bytes, this one {size}; "
            "it was left as it is"
        )
    return data


def _write_seed(file: Path, seed: bytes) -> None:
    make_root(file.parent)
    temporary = f".{file.name}.{uuid.uuid4().hex}.tmp"
    with Directory.open(file.parent) as directory:
        old = os.umask(0o077)
        try:
            directory.write_new(temporary, seed)
        finally:
            os.umask(old)
        os.chmod(temporary, 0o600, dir_fd=directory.fd)
        try:
            os.link(temporary, file.name, src_dir_fd=directory.fd, dst_dir_fd=directory.fd)
        except FileExistsError:
            pass  # another process minted it meanwhile: read theirs
        finally:
            os.unlink(temporary, dir_fd=directory.fd)
            directory.sync()
