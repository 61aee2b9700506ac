"""Damaged or unusable files give a clear `StoreError` naming the file (an OSError, so callers
may catch either), never a traceback from deep inside SQLAlchemy, and change nothing.

`open_store(read-only)` counts rows the way a read-only process would.
"""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from auki_session import (
    FrameDef,
    HeadSpec,
    Peer,
    PoseLogSpec,
    RegistryRef,
    SchemaVersionError,
    Session,
    StoreError,
)
from auki_session._store.store import open_store
from tests.conftest import end_process, snapshot
from tests.workers.audit import audit

SECOND = 1_000_000_000
DB = "auki_session.db"


def populated(root: Path) -> tuple[Peer, Session, RegistryRef, RegistryRef]:
    peer = Peer("galbot", "ctrl").with_storage_root(root)
    a = peer.register_frame("a", FrameDef.ros_body())
    b = peer.register_frame("b", FrameDef.ros_optical())
    for index in range(30):
        peer.register_frame(f"link_{index}", FrameDef.unity())
    session = peer.start_session()
    pose_log(session, b, a)
    return peer, session, a, b


def pose_log(session: Session, a: RegistryRef, b: RegistryRef, rate: int = 0) -> object:
    spec = PoseLogSpec(
        a, b, session.utc_clock, {"kind": "manual"}, "rigid", rate, HeadSpec.fixed(), SECOND, 0
    )
    return session.register_pose_log(spec)


def read_only_count(root: Path) -> int:
    store = open_store(root, readonly=True)
    try:
        with store.read() as reader:
            return sum(kind.versions for kind in reader.store_counts().kinds)
    finally:
        store.close()


def every_way_in(root: Path) -> dict[str, Callable[[], object]]:
    """A write, reads through the Peer, and a read-only open, each on a fresh store."""
    peer = Peer("galbot", "ctrl").with_storage_root(root)
    return {
        "write": lambda: peer.register_frame("new", FrameDef.opengl()),
        "frames": peer.frames,
        "sessions": peer.sessions,
        "read-only": lambda: read_only_count(root),
    }


def assert_refused(root: Path, named: Path, error: type[StoreError] = StoreError) -> None:
    for way, call in every_way_in(root).items():
        with pytest.raises(error) as caught:
            call()
        assert str(named) in str(caught.value), way
        assert "sqlalchemy" not in str(caught.value).lower(), way
        end_process()


def truncate_to(size: Callable[[int], int]) -> Callable[[Path], None]:
    def damage(db: Path) -> None:
        with open(db, "r+b") as handle:
            handle.truncate(size(db.stat().st_size))

    return damage


DAMAGE: dict[str, Callable[[Path], None]] = {
    "garbage": lambda db: db.write_bytes(os.urandom(db.stat().st_size)),
    "truncated header": truncate_to(lambda size: 100),
    "truncated to half": truncate_to(lambda size: size // 2),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_database_file_is_refused_naming_it(root: Path, damage: str) -> None:
    populated(root)
    end_process()
    DAMAGE[damage](root / DB)
    assert_refused(root, root / DB)


def test_damaged_pages_inside_a_database_give_a_store_error_naming_it(root: Path) -> None:
    populated(root)
    end_process()
    connection = sqlite3.connect(root / DB)
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    pages = [
        row[0]
        for row in connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE tbl_name IN ('entries', 'heads')"
        )
    ]
    connection.close()
    with open(root / DB, "r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * page_size)
            handle.write(b"\xa5" * page_size)
    ways = every_way_in(root)
    del ways["sessions"]  # reads neither of the damaged tables
    for call in ways.values():
        with pytest.raises(StoreError, match=str(root / DB)):
            call()
        end_process()


def test_a_database_from_a_newer_version_is_refused_and_left_untouched(root: Path) -> None:
    populated(root)
    end_process()
    connection = sqlite3.connect(root / DB)
    connection.execute("UPDATE auki_session_schema_version SET version_num = '9999_future'")
    connection.commit()
    connection.close()
    before = snapshot(root), (root / DB).read_bytes()
    assert_refused(root, root / DB, SchemaVersionError)
    assert (snapshot(root), (root / DB).read_bytes()) == before


def test_a_missing_storage_root_cannot_be_opened_read_only(root: Path) -> None:
    with pytest.raises(StoreError, match=str(root)):
        read_only_count(root)
    assert not root.exists()


def test_a_storage_root_that_is_a_file_is_refused_naming_it(root: Path) -> None:
    root.write_text("not a directory")
    assert_refused(root, root)
    assert root.read_text() == "not a directory"


def test_a_log_directory_blocked_by_a_file_gives_a_store_error(root: Path) -> None:
    peer, _, a, b = populated(root)
    session = peer.start_session()
    (root / session.session_id).write_text("in the way")
    before = snapshot(root)
    with pytest.raises(StoreError, match=str(root / session.session_id)):
        pose_log(session, a, b)
    assert snapshot(root) == before


def test_a_journal_directory_blocked_by_a_file_gives_a_store_error(root: Path) -> None:
    peer, session, a, b = populated(root)
    shutil.rmtree(root / ".auki_session")
    (root / ".auki_session").mkdir()
    (root / ".auki_session" / "pending").write_text("in the way")
    end_process()
    assert len(peer.frames()) == 32
    before = snapshot(root)
    with pytest.raises(StoreError, match=str(root / ".auki_session" / "pending")):
        pose_log(peer.open_session(session.session_id), a, b)
    assert snapshot(root) == before


JOURNALS = {
    "not a list": b'{"session_id": "x"}',
    "not records": b"[1, 2]",
    "missing keys": b'[{"session_id": "x"}]',
    "wrong types": b'[{"session_id": 1, "resource_id": [], "manifest": 2, "created_dirs": 3}]',
    "not json": b"\xff\xfe\x00",
    "empty": b"",
}


@pytest.mark.parametrize("journal", list(JOURNALS), ids=list(JOURNALS))
def test_a_damaged_journal_does_not_stop_the_store_opening(root: Path, journal: str) -> None:
    peer, _, _, _ = populated(root)
    end_process()
    pending = root / ".auki_session" / "pending"
    pending.mkdir(parents=True, exist_ok=True)
    (pending / "1-damaged.json").write_bytes(JOURNALS[journal])
    assert len(peer.frames()) == 32
    assert list(pending.iterdir()) == []


def test_a_hostile_journal_never_touches_files_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "store"
    peer, _, _, _ = populated(root)
    end_process()
    victim = tmp_path / "victim"
    (victim / "inner").mkdir(parents=True)
    (victim / "manifest.json").write_text("keep me")
    records = [
        {
            "session_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ",
            "resource_id": "r",
            "manifest": manifest,
            "created_dirs": dirs,
        }
        for manifest, dirs in (
            ("../victim/manifest.json", ["../victim/inner", "../victim"]),
            (str(victim / "manifest.json"), [str(victim / "inner")]),
        )
    ]
    pending = root / ".auki_session" / "pending"
    pending.mkdir(parents=True, exist_ok=True)
    (pending / "1-hostile.json").write_text(str(records).replace("'", '"'))
    assert len(peer.frames()) == 32
    assert (victim / "manifest.json").read_text() == "keep me"
    assert (victim / "inner").is_dir()


@contextmanager
def tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """A small filesystem of our own (skips the test where mounting is not permitted)."""
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        end_process()
        if subprocess.run(["umount", str(mountpoint)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(path: Path) -> None:
    """Write zeros to `path` until the filesystem is full."""
    with open(path, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:
            pass
    with open(path, "ab", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 512)
        except OSError:
            pass


@pytest.mark.skipif(shutil.which("mount") is None, reason="no mount command")
def test_a_full_disk_gives_a_store_error_naming_the_file_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database's own behaviour on a full disk (the mirror's files would fill the 1 MiB
    # before the database does).
    monkeypatch.setenv("AUKI_SESSION_REGISTRY_MIRROR", "0")
    with tmpfs(tmp_path / "small", "1m") as disk:
        root = disk / "store"
        peer, session, a, b = populated(root)
        acked = []
        with pytest.raises(StoreError, match=str(root / DB)):
            for index in range(200):
                blob = os.urandom(20_000).hex()
                body = {"type": "custom", "kind": "filler", "configuration": {"blob": blob}}
                acked.append(peer.register_detector(f"filler_{index}", body, ["nothing"]))
        assert acked, "the disk filled up before the first registration"
        end_process()
        audit(
            root,
            [
                {"type": "entry", "kind": "detector", "session_id": None, **r.to_dict()}
                for r in acked
            ],
        )

        # The database still has room in its write-ahead log; the manifest does not.
        peer.sessions()
        fill(disk / "filler")
        before = snapshot(root)
        with pytest.raises(StoreError, match=str(root)):
            pose_log(peer.open_session(session.session_id), a, b)
        assert snapshot(root) == before


@pytest.mark.skipif(shutil.which("mount") is None, reason="no mount command")
def test_a_read_only_storage_root_refuses_writes_and_serves_reads(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "media", "8m") as disk:
        root = disk / "store"
        populated(root)
        end_process()
        remounted = subprocess.run(
            ["mount", "-o", "remount,ro", str(disk)], capture_output=True, check=False
        )
        if remounted.returncode != 0:
            pytest.skip(f"cannot remount read-only: {remounted.stderr.decode().strip()}")
        peer = Peer("galbot", "ctrl").with_storage_root(root)
        with pytest.raises(StoreError, match=str(root / DB)):
            peer.register_frame("new", FrameDef.opengl())
        end_process()
        assert read_only_count(root) == 34


def test_a_nested_rollback_on_a_full_disk_undoes_its_files_and_raises_only_the_blocks_error(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "small", "2m") as disk:
        root = disk / "store"
        peer, session, a, b = populated(root)
        before = snapshot(root)
        with pytest.raises(RuntimeError, match="abandon"), peer.transaction():  # noqa: SIM117
            with peer.transaction():
                pose_log(session, a, b)
                fill(disk / "filler")  # the undo below runs on a full disk
                raise RuntimeError("abandon the nested block")
        assert snapshot(root) == before
        (disk / "filler").unlink()
        pose_log(session, a, b)  # and the store goes on


def test_running_out_of_file_descriptors_names_the_file_it_could_not_open(root: Path) -> None:
    """Every attempt fails cleanly: a StoreError naming the journal or the manifest (never a
    temporary file), nothing changed, and the next attempt with descriptors to spare works."""
    _, session, a, b = populated(root)
    before = snapshot(root)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    messages: list[str] = []
    try:
        for spare in range(8):
            held: list[int] = []
            try:
                while True:
                    held.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                pass
            for fd in held[: spare + 1]:
                os.close(fd)
            try:
                pose_log(session, a, b)
            except StoreError as error:
                messages.append(str(error))
            else:
                messages.append("")
            finally:
                for fd in held[spare + 1 :]:
                    os.close(fd)
            if messages[-1] == "":
                break
            assert snapshot(root) == before, messages[-1]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    failures = [message for message in messages if message]
    assert failures, "a registration succeeded with no descriptor to spare"
    for message in failures:
        assert ".tmp" not in message.split(":")[0], message
        assert (
            "manifest.json" in message
            or ".auki_session/pending" in message
            or (str(root / DB) in message)
        ), message
