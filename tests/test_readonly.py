"""Read commands write nothing to the storage root, so they work on read-only media.

Tests run as root, which ignores permission bits, so "read-only" is checked by its effect: every
file and directory in a copied root (bytes, size, mtime) is the same after each command, and no
-wal or -shm file appears where there was none. Where unprivileged user namespaces are
available, the same commands also run on a real read-only bind mount.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from auki_session import FrameDef, Peer
from auki_session._domain.layout import JOURNAL_DIR
from auki_session._store.reader import Reader
from auki_session._store.snapshot import read_snapshot
from auki_session.errors import StoreError
from tests.conftest import end_process
from tests.test_cli import ApiStore, cli, make_api_store

DB = "auki_session.db"

State = dict[str, tuple[bool, int, int, bytes]]


def state(root: Path) -> State:
    """Every path under (and including) the root: kind, size, mtime and bytes."""
    out: State = {}
    for path in [root, *sorted(root.rglob("*"))]:
        stat = path.stat()
        data = path.read_bytes() if path.is_file() else b""
        out[str(path.relative_to(root))] = (path.is_dir(), stat.st_size, stat.st_mtime_ns, data)
    return out


def read_commands(api: ApiStore, out: Path) -> list[list[str]]:
    return [
        ["summary"],
        ["--json", "summary"],
        ["peers"],
        ["entries"],
        ["entries", "--kind", "clock"],
        ["--json", "entries"],
        ["history"],
        ["history", "head/left_rgb"],
        ["show", api.versions["v2"]],
        ["show", "--id", "base_link"],
        ["sessions"],
        ["session", api.session_id],
        ["--json", "session", api.session_id],
        ["verify"],
        ["export", str(out)],
        ["db", "current"],
        ["db", "check"],
    ]


@pytest.fixture
def api(tmp_path: Path) -> ApiStore:
    return make_api_store(tmp_path / "api")


@pytest.fixture
def copied(api: ApiStore, tmp_path: Path) -> ApiStore:
    """The API store copied elsewhere after its writer closed: a database with no -wal file."""
    root = tmp_path / "copy"
    shutil.copytree(api.root, root, copy_function=shutil.copy2)
    assert not (root / f"{DB}-wal").exists()
    return ApiStore(root, api.versions, api.session_id, api.resource_id)


def test_read_commands_leave_a_copied_store_exactly_as_it_was(
    copied: ApiStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = state(copied.root)
    for argv in read_commands(copied, tmp_path / "out"):
        run = cli(capsys, "--root", copied.root, *argv)
        assert run.code == 0, (argv, run.err)
        assert state(copied.root) == before, argv
    assert not (copied.root / f"{DB}-wal").exists()
    assert not (copied.root / f"{DB}-shm").exists()


def test_read_commands_leave_a_pending_journal_and_its_manifest_alone(
    copied: ApiStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """A writer would roll back an unfinished transaction's manifest; a reader must not."""
    ghost = copied.root / copied.session_id / "logs" / "galbot" / "ghost"
    ghost.mkdir(parents=True)
    (ghost / "manifest.json").write_bytes(b"{}")
    journal = copied.root / JOURNAL_DIR / f"1-{'a' * 32}.json"
    journal.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "session_id": copied.session_id,
        "peer_id": "galbot",
        "resource_id": "ghost",
        "temp": f".manifest.{'0' * 32}.tmp",
        "made": 1,
    }
    journal.write_text(json.dumps(record) + "\n")
    before = state(copied.root)
    run = cli(capsys, "--root", copied.root, "verify")
    assert run.code == 0  # a manifest its journal names is in flight, not an orphan
    assert "[orphan]" not in run.out and "1 transaction journal(s)" in run.out
    assert cli(capsys, "--root", copied.root, "summary").code == 0
    assert state(copied.root) == before


def wal_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A store copied with its WAL side files while its writer is still open, so that the
    latest commits exist only in the -wal file. Returns (live root, copy)."""
    live = tmp_path / "live"
    peer = Peer("galbot", "galbot-ctrl").with_storage_root(live)
    peer.register_frame("base_link", FrameDef.ros_body())
    peer.start_session()
    peer.register_frame("late", FrameDef.ros_optical())
    copy = tmp_path / "walcopy"
    shutil.copytree(live, copy, copy_function=shutil.copy2)
    assert (copy / f"{DB}-wal").stat().st_size > 0
    return live, copy


def test_a_copy_with_its_wal_files_shows_the_commits_only_in_the_wal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, copy = wal_copy(tmp_path)
    db_before = state(copy)
    value = cli(capsys, "--root", copy, "--json", "entries").json()
    assert [entry["id"] for entry in value] == ["base_link", "late"]
    after = state(copy)
    # The -shm file is SQLite's shared-memory index, which a reader may rebuild; the database,
    # its log and every other file keep their bytes and mtimes, and nothing new appears.
    assert after.keys() == db_before.keys()
    for name in after:
        if name != f"{DB}-shm":
            assert after[name] == db_before[name], name


def test_a_read_only_store_refuses_writes(copied: ApiStore) -> None:
    peer = Peer("galbot", "app").with_storage_root(copied.root, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        peer.register_frame("base", FrameDef.ros_body())
    with pytest.raises(StoreError, match="read-only"), peer.transaction():
        pass


def test_read_consistently_reads_again_when_a_writer_changed_an_idle_file(
    copied: ApiStore,
) -> None:
    db = copied.root / DB
    calls: list[int] = []

    def read(reader: Reader) -> int:
        calls.append(1)
        if len(calls) == 1:
            stat = db.stat()
            os.utime(db, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        return reader.store_counts().sessions

    assert read_snapshot(copied.root, read) == 3
    assert len(calls) == 2


def test_read_consistently_gives_up_on_a_file_that_keeps_changing(copied: ApiStore) -> None:
    db = copied.root / DB

    def read(reader: Reader) -> None:
        stat = db.stat()
        os.utime(db, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))

    with pytest.raises(StoreError, match="kept changing"):
        read_snapshot(copied.root, read)


def test_a_reader_sees_commits_of_a_writer_that_is_still_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live, _ = wal_copy(tmp_path)
    value = cli(capsys, "--root", live, "--json", "entries").json()
    assert [entry["id"] for entry in value] == ["base_link", "late"]
    Peer("galbot", "galbot-ctrl").with_storage_root(live).register_frame("later", FrameDef.opengl())
    value = cli(capsys, "--root", live, "--json", "entries").json()
    assert [entry["id"] for entry in value] == ["base_link", "late", "later"]
    end_process()


# --- a real read-only mount ---------------------------------------------------------------------


def _can_mount_read_only(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    script = f"mount --bind {probe} {probe} && mount -o remount,bind,ro {probe}"
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, timeout=30, check=False
    )
    return done.returncode == 0


@pytest.fixture
def on_read_only_mount(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """Run `python -m auki_session --root ROOT ARGS` with ROOT bind-mounted read-only."""
    if not _can_mount_read_only(tmp_path):
        pytest.skip("no unprivileged user namespaces here to make a read-only mount")

    def run(root: Path, *argv: str) -> subprocess.CompletedProcess[bytes]:
        command = " ".join([sys.executable, "-m", "auki_session", "--root", str(root), *argv])
        script = (
            f"mount --bind {root} {root} && mount -o remount,bind,ro {root} && "
            f"! touch {root}/probe 2>/dev/null && exec {command}"
        )
        environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
        return subprocess.run(
            ["unshare", "-rm", "sh", "-c", script],
            capture_output=True,
            env=environment,
            timeout=120,
            check=False,
        )

    return run


def test_read_commands_work_on_a_read_only_mount(
    copied: ApiStore,
    tmp_path: Path,
    on_read_only_mount: Callable[..., subprocess.CompletedProcess[bytes]],
) -> None:
    before = state(copied.root)
    for argv in read_commands(copied, tmp_path / "out"):
        done = on_read_only_mount(copied.root, *argv)
        assert done.returncode == 0, (argv, done.stderr)
    assert state(copied.root) == before
    assert (tmp_path / "out" / "registries").is_dir()


def test_a_wal_copy_on_a_read_only_mount_shows_every_commit(
    tmp_path: Path, on_read_only_mount: Callable[..., subprocess.CompletedProcess[bytes]]
) -> None:
    _, copy = wal_copy(tmp_path)
    done = on_read_only_mount(copy, "--json", "entries")
    assert done.returncode == 0, done.stderr
    assert [entry["id"] for entry in json.loads(done.stdout)] == ["base_link", "late"]


def test_a_wal_without_its_shm_on_a_read_only_mount_is_refused_not_ignored(
    tmp_path: Path,
    on_read_only_mount: Callable[..., subprocess.CompletedProcess[bytes]],
) -> None:
    _, copy = wal_copy(tmp_path)
    (copy / f"{DB}-shm").unlink()
    done = on_read_only_mount(copy, "entries")
    assert done.returncode == 2
    assert done.stdout == b""
    stderr = done.stderr.decode()
    assert stderr.startswith("auki-session: error: ") and stderr.count("\n") == 1
    assert "write-ahead log" in stderr


# --- the Python API, read-only ------------------------------------------------------------------

API_READ = """
import json, sys
from auki_session import FrameDef, Peer, StoreError
peer = Peer("galbot", "galbot-ctrl").with_storage_root(sys.argv[1], read_only=True)
session = peer.open_session(sys.argv[2])
out = {
    "entries": [[e.kind, e.id, e.hash] for e in peer.entries()],
    "history": [e.hash for e in peer.history("sensor", "head/left_rgb")],
    "sessions": [s.session_id for s in peer.sessions()],
    "clocks": [c.id for c in session.clocks()],
    "logs": [[log.resource_id, log.manifest_json] for log in session.logs()],
}
try:
    peer.register_frame("never", FrameDef.ros_body())
except StoreError as error:
    out["refused"] = str(error)
print(json.dumps(out))
"""


def api_read(root: Path, session_id: str, run: Callable[[list[str]], bytes]) -> dict[str, object]:
    value: dict[str, object] = json.loads(
        run([sys.executable, "-c", API_READ, str(root), session_id])
    )
    return value


def expected_api_read(api: ApiStore) -> dict[str, object]:
    def run(argv: list[str]) -> bytes:
        return subprocess.run(argv, capture_output=True, check=True, env=_env()).stdout

    return api_read(api.root, api.session_id, run)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}


def test_the_python_api_reads_a_read_only_mount(copied: ApiStore, tmp_path: Path) -> None:
    if not _can_mount_read_only(tmp_path):
        pytest.skip("no unprivileged user namespaces here to make a read-only mount")
    expected = expected_api_read(copied)
    before = state(copied.root)
    root = copied.root

    def on_mount(argv: list[str]) -> bytes:
        quoted = " ".join(shlex.quote(arg) for arg in argv)
        script = (
            f"mount --bind {root} {root} && mount -o remount,bind,ro {root} && "
            f"! touch {root}/probe 2>/dev/null && exec {quoted}"
        )
        done = subprocess.run(
            ["unshare", "-rm", "sh", "-c", script],
            capture_output=True,
            env=_env(),
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    found = api_read(root, copied.session_id, on_mount)
    assert "read-only" in str(found.pop("refused"))
    assert found == {key: value for key, value in expected.items() if key != "refused"}
    assert state(root) == before


def test_the_python_api_reads_a_read_only_copy_as_an_unprivileged_user(copied: ApiStore) -> None:
    """Root ignores permission bits, so the reader runs as `nobody` on a `chmod -R a-w` copy."""
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to run a reader as an unprivileged user")
    expected = expected_api_read(copied)
    top = Path(tempfile.mkdtemp(prefix="auki-ro-"))  # /tmp itself: nobody can reach it
    try:
        top.chmod(0o755)
        root = top / "store"
        shutil.copytree(copied.root, root)
        subprocess.run(["chmod", "-R", "a-w", str(root)], check=True)
        before = state(root)

        def as_nobody(argv: list[str]) -> bytes:
            done = subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv],
                capture_output=True,
                env=_env(),
                cwd=top,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        as_nobody(["sh", "-c", f"! touch {root}/probe 2>/dev/null"])
        found = api_read(root, copied.session_id, as_nobody)
        assert "read-only" in str(found.pop("refused"))
        assert found == {key: value for key, value in expected.items() if key != "refused"}
        assert state(root) == before
        # Without read_only, SQLite opens the file read-only by itself: reads work, and a
        # registration is refused with a StoreError naming the database.
        writable = (
            "import sys\nfrom auki_session import FrameDef, Peer, StoreError\n"
            "peer = Peer('galbot', 'x').with_storage_root(sys.argv[1])\n"
            "print(len(peer.frames()))\n"
            "try:\n    peer.register_frame('never', FrameDef.ros_body())\n"
            "except StoreError as error:\n    print('refused:', error)\n"
        )
        out = as_nobody([sys.executable, "-c", writable, str(root)]).decode().splitlines()
        assert out[0] == str(sum(1 for entry in expected["entries"] if entry[0] == "frame"))
        assert out[1].startswith(f"refused: {root / DB}: ") and "readonly" in out[1], out
        assert state(root) == before
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(top)], check=False)
        shutil.rmtree(top, ignore_errors=True)
