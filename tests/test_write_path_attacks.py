"""Attacks on the write path's files (issue 12's fixes): symbolic links planted inside the
storage root, forged and hostile transaction journals, log ids that look like the store's own
temporary files, log ids that collide on case-insensitive or normalising file systems, and
journals left behind after a call.

Everything runs on real files in tmp_path; crashes are real subprocesses killed with SIGKILL.
`end_process` (conftest) stands for this process exiting, so the next call opens the store the
way the next process would (replaying the journals it finds).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from auki_session import (
    DuplicateLogError,
    FrameDef,
    HeadSpec,
    Peer,
    RegistryRef,
    SensorLogSpec,
    Session,
    StoreError,
)
from tests.conftest import camera_body, end_process, snapshot
from tests.workers.processes import wait_for_line

SECOND = 1_000_000_000
REPO = Path(__file__).resolve().parents[1]
HEX = "0123456789abcdef" * 2
TEMP = f".manifest.{HEX}.tmp"
PEER = "galbot"
Sensors = dict[str, RegistryRef]


# --- helpers ----------------------------------------------------------------------------------


def setup(root: Path, *sensor_ids: str) -> tuple[Peer, Session, dict[str, RegistryRef]]:
    """A peer on `root` with one frame, a camera per id, and a session with no logs yet."""
    peer = Peer(PEER, "app").with_storage_root(root)
    frame = peer.register_frame("base", FrameDef.ros_body())
    sensors = {
        sensor_id: peer.register_sensor(sensor_id, camera_body(frame)) for sensor_id in sensor_ids
    }
    return peer, peer.start_session(), sensors


def log(session: Session, sensor: RegistryRef) -> object:
    """Register a sensor log (its resource id is the sensor's id)."""
    return session.register_sensor_log(
        SensorLogSpec(sensor, session.monotonic_clock, HeadSpec.fixed(), SECOND, 0)
    )


def log_dir(root: Path, session_id: str, resource_id: str) -> Path:
    return root.joinpath(session_id, "logs", PEER, *resource_id.split("/"))


def tree(path: Path) -> dict[str, tuple[object, ...]]:
    """Every name under `path` with its type and contents (bytes, link target); links are
    listed, never followed."""
    found: dict[str, tuple[object, ...]] = {}
    for directory, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            item = Path(directory, name)
            mode = item.lstat().st_mode
            key = str(item.relative_to(path))
            if stat.S_ISLNK(mode):
                found[key] = ("link", os.readlink(item))
            elif stat.S_ISDIR(mode):
                found[key] = ("dir",)
            elif stat.S_ISREG(mode):
                found[key] = ("file", item.read_bytes())
            else:
                found[key] = ("other", stat.S_IFMT(mode))
    return found


def journals(root: Path) -> list[str]:
    """The names in the journal directory (none when it does not exist)."""
    pending = root / ".auki_session" / "pending"
    return sorted(os.listdir(pending)) if pending.exists() else []


def make_outside(tmp_path: Path, *below: str) -> Path:
    """A directory outside the root holding what a followed link would reach: a manifest, a
    file named like a temporary manifest, and a bystander, at `below` inside it."""
    outside = tmp_path / "outside"
    target = outside.joinpath(*below)
    target.mkdir(parents=True)
    (target / "manifest.json").write_bytes(b'{"outside":"manifest"}')
    (target / TEMP).write_bytes(b"outside temp")
    (outside / "keep.txt").write_bytes(b"bystander")
    return outside


def forge_journal(root: Path, *records: dict[str, object], name: str = f"1-{HEX}.json") -> Path:
    """A journal of a writer that is gone (nobody holds its lock), one JSON line per record;
    each claims to have made every directory of its log's path (the most an undo removes)."""
    pending = root / ".auki_session" / "pending"
    pending.mkdir(parents=True, exist_ok=True)
    journal = pending / name
    lines = [json.dumps({"made": MADE_ALL, **record}) + "\n" for record in records]
    journal.write_text("".join(lines))
    return journal


MADE_ALL = 4
"""<session>/logs/<peer>/<one-segment resource id>: the deepest claim a record can make."""


def reopen(root: Path) -> int:
    """Open the store as the next process would (replaying journals); its session count."""
    end_process()
    return len(Peer(PEER, "app").with_storage_root(root).sessions())


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auki_session", "--root", str(root), *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- 1a. links inside the root are never followed for a write ---------------------------------

# (resource id, how many of the log's path parts below the root lead to the link)
LINK_PLACES = {
    "session": ("cam", 1),
    "logs": ("cam", 2),
    "peer": ("cam", 3),
    "resource": ("cam", 4),
    "resource parent": ("cam/left", 4),
}


@pytest.mark.parametrize("place", list(LINK_PLACES))
def test_a_linked_log_directory_is_refused_naming_the_link_and_nothing_is_written(
    tmp_path: Path, place: str
) -> None:
    resource, depth = LINK_PLACES[place]
    root = tmp_path / "store"
    _, session, sensors = setup(root, resource)
    parts = (session.session_id, "logs", PEER, *resource.split("/"))
    outside = make_outside(tmp_path, *parts[depth:-1])
    link = root.joinpath(*parts[:depth])
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside, target_is_directory=True)
    outside_before, before = tree(outside), snapshot(root)

    with pytest.raises(StoreError) as refused:
        log(session, sensors[resource])

    assert str(link) in str(refused.value)
    assert tree(outside) == outside_before
    assert snapshot(root) == before
    assert journals(root) == []
    assert session.logs() == []


def test_a_dangling_link_as_the_peer_directory_is_not_followed_to_create_its_target(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    _, session, sensors = setup(root, "cam")
    outside = make_outside(tmp_path)
    missing = outside / "made_through_the_link"
    link = root / session.session_id / "logs" / PEER
    link.parent.mkdir(parents=True)
    link.symlink_to(missing, target_is_directory=True)
    outside_before, before = tree(outside), snapshot(root)

    with pytest.raises(StoreError, match=str(link)):
        log(session, sensors["cam"])

    assert not os.path.lexists(missing)
    assert tree(outside) == outside_before
    assert snapshot(root) == before


def test_a_manifest_planted_as_a_link_is_neither_followed_nor_removed(tmp_path: Path) -> None:
    root = tmp_path / "store"
    _, session, sensors = setup(root, "cam")
    outside = make_outside(tmp_path)
    directory = log_dir(root, session.session_id, "cam")
    directory.mkdir(parents=True)
    (directory / "manifest.json").symlink_to(outside / "manifest.json")
    outside_before, before = tree(outside), snapshot(root)

    with pytest.raises(StoreError):
        log(session, sensors["cam"])

    assert tree(outside) == outside_before
    assert snapshot(root) == before
    assert os.readlink(directory / "manifest.json") == str(outside / "manifest.json")


# --- 1b. the journal directory itself as a link -----------------------------------------------


@pytest.mark.parametrize("linked", [".auki_session/pending", ".auki_session"])
def test_a_linked_journal_directory_is_refused_and_nothing_appears_outside(
    tmp_path: Path, linked: str
) -> None:
    root = tmp_path / "store"
    _, session, sensors = setup(root, "cam")
    outside = make_outside(tmp_path)
    link = root / linked
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside, target_is_directory=True)
    outside_before, before = tree(outside), snapshot(root)

    with pytest.raises(StoreError, match=str(link)):
        log(session, sensors["cam"])

    assert tree(outside) == outside_before
    assert snapshot(root) == before
    assert session.logs() == []


def test_journals_reached_through_a_linked_journal_directory_are_never_replayed_or_removed(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    _, session, _ = setup(root)
    outside = make_outside(tmp_path, "pending", session.session_id, "logs", PEER, "cam")
    record = {
        "session_id": session.session_id,
        "peer_id": PEER,
        "resource_id": "cam",
        "temp": TEMP,
        "made": MADE_ALL,
    }
    (outside / "pending" / f"1-{HEX}.json").write_text(json.dumps(record) + "\n")
    (root / ".auki_session").symlink_to(outside, target_is_directory=True)
    outside_before = tree(outside)

    assert reopen(root) == 1

    assert tree(outside) == outside_before


# --- 1c. forged journals ----------------------------------------------------------------------


@pytest.mark.parametrize("place", ["session", "logs", "peer", "resource"])
def test_a_forged_journal_through_a_linked_log_directory_removes_nothing_outside(
    tmp_path: Path, place: str
) -> None:
    _, depth = LINK_PLACES[place]
    root = tmp_path / "store"
    _, session, _ = setup(root)
    parts = (session.session_id, "logs", PEER, "cam")
    outside = make_outside(tmp_path, *parts[depth:])
    link = root.joinpath(*parts[:depth])
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside, target_is_directory=True)
    forge_journal(
        root,
        {"session_id": session.session_id, "peer_id": PEER, "resource_id": "cam", "temp": TEMP},
    )
    outside_before = tree(outside)

    assert reopen(root) == 1

    assert tree(outside) == outside_before
    assert link.is_symlink()


def _hostile_records(session_id: str) -> dict[str, dict[str, str]]:
    # root = tmp/store; from <root>/<session>/logs/<peer>, four ".." reach tmp, where
    # tmp/outside waits.
    def record(
        session: str = session_id, peer: str = PEER, resource: str = "cam", temp: str = TEMP
    ) -> dict[str, str]:
        return {"session_id": session, "peer_id": peer, "resource_id": resource, "temp": temp}

    return {
        "resource ../": record(resource="../../../../outside"),
        "resource a/../": record(resource="a/../../../../../outside"),
        "resource absolute": record(resource="/outside/cam"),
        "resource NUL": record(resource="outside\0cam"),
        "session ..": record(session="..", resource="outside"),
        "session with /": record(session="../outside", resource="x"),
        "session absolute": record(session="/tmp", resource="x"),
        "peer with /": record(peer="../../../outside"),
        "peer empty": record(peer=""),
        "peer .": record(peer=".", resource=f"{PEER}/cam"),
        "peer ..": record(peer="..", resource=f"logs/{PEER}/cam"),
        "temp traversal": record(temp="../../../victim"),
        "temp deep traversal": record(temp="../../../../../victim"),
        "temp manifest.json": record(temp="manifest.json"),
        "temp ../manifest.json": record(temp="../cam/manifest.json"),
    }


HOSTILE = list(_hostile_records("S"))


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_journal_record_removes_no_committed_manifest_and_nothing_outside(
    tmp_path: Path, hostile: str
) -> None:
    root = tmp_path / "store"
    _, session, sensors = setup(root, "cam", "other")
    log(session, sensors["cam"])
    log(session, sensors["other"])
    outside = make_outside(tmp_path, "cam")  # reached by the ids' traversals
    (outside / "manifest.json").write_bytes(b"outside manifest")
    (outside / TEMP).write_bytes(b"outside temp")
    (tmp_path / "victim").write_bytes(b"victim")  # reached by the temps' traversals
    record = _hostile_records(session.session_id)[hostile]
    if hostile == "resource absolute":
        record["resource_id"] = str(outside / "cam")
    manifests = {
        resource: (log_dir(root, session.session_id, resource) / "manifest.json").read_bytes()
        for resource in ("cam", "other")
    }
    outside_before = tree(outside)
    forge_journal(root, record)

    assert reopen(root) == 1

    for resource, data in manifests.items():
        assert (log_dir(root, session.session_id, resource) / "manifest.json").read_bytes() == data
    assert tree(outside) == outside_before
    assert (tmp_path / "victim").read_bytes() == b"victim"
    assert {info.resource_id for info in session.logs()} == {"cam", "other"}


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_journal_that_is_a_link_to_an_outside_file_leaves_that_file_alone(
    tmp_path: Path, link: str
) -> None:
    root = tmp_path / "store"
    _, session, _ = setup(root)
    outside = make_outside(tmp_path)
    target = outside / "journal.json"
    record = {
        "session_id": session.session_id,
        "peer_id": PEER,
        "resource_id": "cam",
        "temp": TEMP,
        "made": MADE_ALL,
    }
    target.write_text(json.dumps(record) + "\n")
    pending = root / ".auki_session" / "pending"
    pending.mkdir(parents=True)
    if link == "symbolic":
        (pending / f"1-{HEX}.json").symlink_to(target)
    else:
        os.link(target, pending / f"1-{HEX}.json")
    outside_before = tree(outside)

    assert reopen(root) == 1

    assert tree(outside) == outside_before


def test_a_journal_that_is_a_directory_does_not_stop_the_store_opening(tmp_path: Path) -> None:
    root = tmp_path / "store"
    _, session, sensors = setup(root, "cam")
    log(session, sensors["cam"])
    journal = root / ".auki_session" / "pending" / f"1-{HEX}.json"
    journal.mkdir(parents=True)
    (journal / "inside").write_bytes(b"keep")

    assert reopen(root) == 1

    assert (journal / "inside").read_bytes() == b"keep"
    assert [info.resource_id for info in session.logs()] == ["cam"]


def test_verify_is_not_stopped_by_a_journal_that_is_a_directory(tmp_path: Path) -> None:
    root = tmp_path / "store"
    _, session, sensors = setup(root, "cam")
    log(session, sensors["cam"])
    (root / ".auki_session" / "pending" / f"1-{HEX}.json").mkdir(parents=True)
    end_process()

    result = run_cli(root, "verify")

    assert result.returncode in (0, 1), result.stderr
    assert "Is a directory" not in result.stderr


def test_a_journal_that_is_a_fifo_does_not_hang_the_store_opening(tmp_path: Path) -> None:
    root = tmp_path / "store"
    setup(root)
    end_process()
    pending = root / ".auki_session" / "pending"
    pending.mkdir(parents=True)
    os.mkfifo(pending / f"1-{HEX}.json")
    code = (
        "import sys; from auki_session import Peer; "
        "print(len(Peer('galbot', 'app').with_storage_root(sys.argv[1]).sessions()))"
    )
    try:
        opened = subprocess.run(
            [sys.executable, "-c", code, str(root)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"opening a store whose {pending.name}/ holds a FIFO named like a journal hung")
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.strip() == "1"


# --- 2. a legal log id must never brick the store ---------------------------------------------


@pytest.mark.parametrize("cam_committed", [False, True], ids=["cam uncommitted", "cam committed"])
def test_a_log_named_like_a_temporary_manifest_survives_a_journal_naming_that_temp(
    tmp_path: Path, cam_committed: bool
) -> None:
    root = tmp_path / "store"
    tricky = f"cam/{TEMP}"
    _, session, sensors = setup(root, tricky, "cam")
    log(session, sensors[tricky])
    if cam_committed:
        log(session, sensors["cam"])
    directory = log_dir(root, session.session_id, tricky)
    manifest = (directory / "manifest.json").read_bytes()
    others = tree(root / session.session_id)
    forge_journal(
        root,
        {"session_id": session.session_id, "peer_id": PEER, "resource_id": "cam", "temp": TEMP},
    )

    assert reopen(root) == 1

    assert (directory / "manifest.json").read_bytes() == manifest
    assert tree(root / session.session_id) == others
    expected = {tricky, "cam"} if cam_committed else {tricky}
    assert {info.resource_id for info in session.logs()} == expected
    assert journals(root) == []


CHILD = """
import sys, time
from auki_session import FrameDef, HeadSpec, Peer, SensorLogSpec
from tests.conftest import camera_body

root, session_id = sys.argv[1], sys.argv[2]
peer = Peer("galbot", "app").with_storage_root(root)
session = peer.open_session(session_id)
sensor = peer.register_sensor("cam", camera_body(peer.register_frame("base", FrameDef.ros_body())))
with peer.transaction():
    session.register_sensor_log(
        SensorLogSpec(sensor, session.monotonic_clock, HeadSpec.fixed(), 10**9, 0)
    )
    print("inside", flush=True)
    time.sleep(60)
"""


def test_a_writer_killed_registering_a_log_beside_one_named_like_a_temp_leaves_a_valid_store(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    tricky = "cam/.manifest.json.1.tmp"
    _, session, sensors = setup(root, tricky, "cam")
    log(session, sensors[tricky])
    kept = log_dir(root, session.session_id, tricky) / "manifest.json"
    kept_bytes = kept.read_bytes()
    end_process()

    writer = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), session.session_id],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_line(writer, "inside")
        uncommitted = log_dir(root, session.session_id, "cam") / "manifest.json"
        assert uncommitted.is_file()
        assert len(journals(root)) == 1
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        writer.stdout.close()  # type: ignore[union-attr]
        writer.stderr.close()  # type: ignore[union-attr]

    assert reopen(root) == 1

    assert not uncommitted.exists()
    assert kept.read_bytes() == kept_bytes
    assert [info.resource_id for info in session.logs()] == [tricky]
    assert journals(root) == []
    end_process()
    verified = run_cli(root, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


# --- 3. ids that collide on case-insensitive or normalising file systems ----------------------

NFC = unicodedata.normalize("NFC", "cam\u00e9")
NFD = unicodedata.normalize("NFD", "cam\u00e9")
CLASHES = {
    "Cam then cam": ("Cam", "cam"),
    "cam then CAM": ("cam", "CAM"),
    "NFC then NFD": (NFC, NFD),
    "NFD then NFC": (NFD, NFC),
    "cam then cam/manifest.json": ("cam", "cam/manifest.json"),
    "cam/manifest.json then cam": ("cam/manifest.json", "cam"),
    "Cam then cam/MANIFEST.JSON": ("Cam", "cam/MANIFEST.JSON"),
    "cam/left then CAM/LEFT": ("cam/left", "CAM/LEFT"),
    "kelvin sign then k": ("\u212a", "k"),
}


@pytest.mark.parametrize("clash", list(CLASHES))
def test_a_log_whose_directory_clashes_on_some_file_system_is_refused_changing_nothing(
    tmp_path: Path, clash: str
) -> None:
    first, second = CLASHES[clash]
    assert first != second
    root = tmp_path / "store"
    _, session, sensors = setup(root, first, second)
    log(session, sensors[first])
    manifest = (log_dir(root, session.session_id, first) / "manifest.json").read_bytes()
    before = snapshot(root)

    with pytest.raises(DuplicateLogError):
        log(session, sensors[second])

    assert snapshot(root) == before
    assert (log_dir(root, session.session_id, first) / "manifest.json").read_bytes() == manifest
    assert journals(root) == []


@pytest.mark.parametrize(
    ("first", "second"),
    [("cam", "CAM/left"), ("Cam", "cam/left"), ("cam", "cam/manifest"), ("cam", "cam.json")],
)
def test_nesting_and_near_misses_are_not_clashes(tmp_path: Path, first: str, second: str) -> None:
    root = tmp_path / "store"
    _, session, sensors = setup(root, first, second)
    log(session, sensors[first])
    log(session, sensors[second])
    assert {info.resource_id for info in session.logs()} == {first, second}
    for resource in (first, second):
        assert (log_dir(root, session.session_id, resource) / "manifest.json").is_file()


@pytest.mark.parametrize(
    ("first", "second"), [("cam", "cam/manifest.json/x"), ("cam/manifest.json/x", "cam")]
)
def test_a_log_below_another_logs_manifest_name_is_refused_changing_nothing(
    tmp_path: Path, first: str, second: str
) -> None:
    root = tmp_path / "store"
    _, session, sensors = setup(root, first, second)
    log(session, sensors[first])
    before = snapshot(root)
    manifest = (log_dir(root, session.session_id, first) / "manifest.json").read_bytes()

    with pytest.raises((DuplicateLogError, StoreError)):
        log(session, sensors[second])

    assert snapshot(root) == before
    assert (log_dir(root, session.session_id, first) / "manifest.json").read_bytes() == manifest


def test_ids_equal_but_for_case_are_fine_in_different_sessions(tmp_path: Path) -> None:
    root = tmp_path / "store"
    peer, first, sensors = setup(root, "Cam", "cam")
    second = peer.start_session()
    log(first, sensors["Cam"])
    log(second, sensors["cam"])
    assert [info.resource_id for info in first.logs()] == ["Cam"]
    assert [info.resource_id for info in second.logs()] == ["cam"]


def test_a_refused_clash_inside_a_transaction_does_not_spoil_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "store"
    peer, session, sensors = setup(root, "Cam", "cam", "other")
    with peer.transaction():
        log(session, sensors["Cam"])
        with pytest.raises(DuplicateLogError):
            log(session, sensors["cam"])
        log(session, sensors["other"])

    assert {info.resource_id for info in session.logs()} == {"Cam", "other"}
    for resource in ("Cam", "other"):
        assert (log_dir(root, session.session_id, resource) / "manifest.json").is_file()
    assert not log_dir(root, session.session_id, "cam").exists()
    assert journals(root) == []


def test_a_clashing_id_is_accepted_after_the_savepoint_holding_the_other_rolled_back(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    peer, session, sensors = setup(root, "Cam", "cam")
    with peer.transaction():
        with pytest.raises(RuntimeError), peer.transaction():
            log(session, sensors["Cam"])
            raise RuntimeError("roll the savepoint back")
        log(session, sensors["cam"])

    assert [info.resource_id for info in session.logs()] == ["cam"]
    assert not log_dir(root, session.session_id, "Cam").exists()
    assert (log_dir(root, session.session_id, "cam") / "manifest.json").is_file()


def test_an_unrelated_savepoint_rollback_does_not_forget_a_log_of_the_transaction(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    peer, session, sensors = setup(root, "Cam", "cam", "other")
    with peer.transaction():
        log(session, sensors["Cam"])
        with pytest.raises(RuntimeError), peer.transaction():
            log(session, sensors["other"])
            raise RuntimeError("roll the savepoint back")
        with pytest.raises(DuplicateLogError):
            log(session, sensors["cam"])

    assert [info.resource_id for info in session.logs()] == ["Cam"]


def test_a_manifest_planted_where_a_new_log_would_go_is_refused_changing_nothing(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    _, session, sensors = setup(root, "cam")
    directory = log_dir(root, session.session_id, "cam")
    directory.mkdir(parents=True)
    (directory / "manifest.json").write_bytes(b'{"planted":"by hand"}')
    before, files = snapshot(root), tree(root / session.session_id)

    with pytest.raises(StoreError, match="already exists"):
        log(session, sensors["cam"])

    assert tree(root / session.session_id) == files
    assert snapshot(root) == before


def test_a_manifest_planted_where_a_log_of_a_transaction_would_go_is_refused_changing_nothing(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    peer, session, sensors = setup(root, "cam", "other")
    directory = log_dir(root, session.session_id, "cam")
    directory.mkdir(parents=True)
    (directory / "manifest.json").write_bytes(b'{"planted":"by hand"}')
    files = tree(directory)

    with peer.transaction():
        with pytest.raises(StoreError, match="already exists"):
            log(session, sensors["cam"])
        log(session, sensors["other"])

    assert tree(directory) == files
    assert [info.resource_id for info in session.logs()] == ["other"]


# --- 4. journals stay out of the way ----------------------------------------------------------


def _one_log(root: Path, peer: Peer, session: Session, sensors: Sensors) -> None:
    log(session, sensors["a"])


def _entries_only(root: Path, peer: Peer, session: Session, sensors: Sensors) -> None:
    peer.register_frame("more", FrameDef.ros_optical())
    peer.start_session()


def _committed_transaction(root: Path, peer: Peer, session: Session, sensors: Sensors) -> None:
    with peer.transaction():
        log(session, sensors["a"])
        log(session, sensors["b"])


def _rolled_back_transaction(root: Path, peer: Peer, session: Session, sensors: Sensors) -> None:
    with pytest.raises(RuntimeError), peer.transaction():
        log(session, sensors["a"])
        log(session, sensors["b"])
        raise RuntimeError("roll back")


def _savepoint_rolled_back(root: Path, peer: Peer, session: Session, sensors: Sensors) -> None:
    with peer.transaction():
        log(session, sensors["a"])
        with pytest.raises(RuntimeError), peer.transaction():
            log(session, sensors["b"])
            raise RuntimeError("roll back the savepoint")


def _duplicate(root: Path, peer: Peer, session: Session, sensors: Sensors) -> None:
    log(session, sensors["a"])
    with pytest.raises(DuplicateLogError):
        log(session, sensors["a"])


def _clash_in_transaction(root: Path, peer: Peer, session: Session, sensors: Sensors) -> None:
    with peer.transaction():
        log(session, sensors["a"])
        with pytest.raises(DuplicateLogError):
            log(session, sensors["A"])


def _refused_by_a_link(root: Path, peer: Peer, session: Session, sensors: Sensors) -> None:
    parent = log_dir(root, session.session_id, "b").parent
    parent.mkdir(parents=True, exist_ok=True)
    (parent / "b").symlink_to(parent.parent, target_is_directory=True)
    with pytest.raises(StoreError):
        log(session, sensors["b"])


SCENARIOS: dict[str, Callable[[Path, Peer, Session, Sensors], None]] = {
    "one log": _one_log,
    "entries only": _entries_only,
    "committed transaction": _committed_transaction,
    "rolled-back transaction": _rolled_back_transaction,
    "savepoint rolled back": _savepoint_rolled_back,
    "duplicate log": _duplicate,
    "clash in a transaction": _clash_in_transaction,
    "refused by a link": _refused_by_a_link,
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_no_journal_is_left_after_a_call_settles(tmp_path: Path, scenario: str) -> None:
    root = tmp_path / "store"
    peer, session, sensors = setup(root, "a", "A", "b")
    SCENARIOS[scenario](root, peer, session, sensors)
    assert journals(root) == []


def test_descend_opens_what_walk_opens_and_refuses_what_walk_refuses(tmp_path: Path) -> None:
    from auki_session._store.files import Directory, _openat2

    if sys.platform == "linux":
        assert _openat2() is not None  # the one-call path is the one tested here
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "file").write_text("x")
    (tmp_path / "a" / "link").symlink_to(tmp_path / "a" / "b", target_is_directory=True)
    (tmp_path / "a" / "up").symlink_to(tmp_path, target_is_directory=True)
    with Directory.open(tmp_path) as top:
        with top.descend(["a", "b", "c"]) as found, top.walk(["a", "b", "c"]) as walked:
            assert os.fstat(found.fd).st_ino == os.fstat(walked.fd).st_ino
            assert found.path == tmp_path / "a" / "b" / "c"
        for names in (["a", "missing", "c"], ["a", "b", "c", "missing"]):
            with pytest.raises(FileNotFoundError):
                top.descend(names)
        for names, named in (
            (["a", "link", "c"], "a/link"),
            (["a", "link"], "a/link"),
            (["a", "up", "a"], "a/up"),
            (["a", "b", "file"], "a/b/file"),
        ):
            with pytest.raises(StoreError, match=f"{tmp_path / named}: is a symbolic link"):
                top.descend(names)
