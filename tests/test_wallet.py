"""Auki identities (SPEC 8): the SDK's locked vectors through the public API, signatures that
verify from the peer id alone, and the seed file convention."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from auki_session import IdentityError, Wallet, canonical_json, peer_public_key, verify

SEED = bytes([3]) * 32
CHILD_KEY = "1080633bcb57bac066cf8446e2b7ae711571cb04be0b46bdaf03146317bfe707"
PEER_ID = "12D3KooWAvnEo4RaYZtqt2w83qzmQ7WVW2HhN2cay95EXAiVKcar"
MESSAGE = {
    "cluster_name": "vinland",
    "peer_id": PEER_ID,
    "addresses": ["/ip4/127.0.0.1/tcp/4001"],
    "timestamp_ns": 1700000000000000000,
}
SIGNATURE = (
    "6fdd191cddf7a2a51923b467f164de587d1229858c11a33b3bebdb54a3ed82db"
    "1c860534dc6aff14ac7b8804c29510075d6bd85f6aaf30aa4d47d5d80e392207"
)


def test_the_peer_child_key_and_peer_id_match_the_sdk_vectors() -> None:
    child = Wallet.from_seed(SEED).derive_child("peer/v1")
    assert child.public_key.hex() == CHILD_KEY
    assert child.peer_id == PEER_ID
    assert peer_public_key(PEER_ID).hex() == CHILD_KEY


def test_the_wallet_signs_canonical_json_as_the_sdk_does() -> None:
    message, signature = Wallet.from_seed(SEED).sign_canonical_json(MESSAGE)
    assert message == canonical_json(MESSAGE)
    assert message.startswith(b'{"addresses":["/ip4/127.0.0.1/tcp/4001"],"cluster_name"')
    assert signature.hex() == SIGNATURE


def test_a_signature_verifies_from_the_peer_id_alone_and_nothing_else_does() -> None:
    child = Wallet.from_seed(SEED).derive_child("peer/v1")
    message, signature = child.sign_canonical_json(MESSAGE)
    assert verify(child.peer_id, message, signature)
    assert verify(child.public_key, message, signature)
    assert not verify(child.peer_id, message + b" ", signature)
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    assert not verify(child.peer_id, message, tampered)
    other = Wallet.from_seed(bytes(32)).derive_child("peer/v1")
    assert not verify(other.peer_id, message, signature)


def test_children_differ_by_label_and_are_deterministic() -> None:
    wallet = Wallet.from_seed(SEED)
    assert wallet.derive_child("peer/v1").seed == wallet.derive_child("peer/v1").seed
    assert wallet.derive_child("peer/v1").seed != wallet.derive_child("peer/v2").seed
    assert len(wallet.derive_child("x").seed) == 32


@pytest.mark.parametrize(
    "peer_id",
    ["galbot", "", "12D3KooW", "12D3KooW0OIl", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"],
)
def test_an_id_that_holds_no_ed25519_key_is_refused_clearly(peer_id: str) -> None:
    with pytest.raises(IdentityError, match="peer id"):
        peer_public_key(peer_id)


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33)])
def test_a_seed_of_another_length_is_refused(seed: bytes) -> None:
    with pytest.raises(IdentityError, match="32 bytes"):
        Wallet.from_seed(seed)


def test_a_missing_seed_file_is_minted_0600_in_new_directories_and_read_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / ".auki" / "galbot" / "identity.seed"
    wallet = Wallet.load_or_mint(path)
    assert path.read_bytes() == wallet.seed and len(wallet.seed) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Wallet.load_or_mint(path).peer_id == wallet.peer_id
    assert sorted(p.name for p in path.parent.iterdir()) == ["identity.seed"]


def test_a_seed_file_of_another_length_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    for content in (b"", bytes(31), bytes(33), b"x" * 64):
        path = tmp_path / "identity.seed"
        path.write_bytes(content)
        with pytest.raises(IdentityError, match=f"this one {len(content)}"):
            Wallet.load_or_mint(path)
        assert path.read_bytes() == content


def test_processes_minting_one_seed_at_once_agree(tmp_path: Path) -> None:
    path = tmp_path / "identity.seed"
    code = (
        "import sys; from auki_session import Wallet; "
        "print(Wallet.load_or_mint(sys.argv[1]).peer_id)"
    )
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, env=environment
        )
        for _ in range(6)
    ]
    ids = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert len(ids) == 1
    assert Wallet.load_or_mint(path).peer_id == ids.pop().decode()
