"""Everything registered survives the process: real subprocesses write, others read and extend."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from auki_session import FrameDef, Peer

MakePeer = Callable[[str, str], Peer]

REPO = Path(__file__).resolve().parent.parent


PRELUDE = """
from auki_session import Peer as _Peer
def make_peer(peer_id, app_id):
    peer = _Peer(peer_id, app_id).with_storage_root(root)
    return peer if url is None else peer.with_storage_url(url)
"""


def run(code: str, root: Path, url: str | None) -> dict[str, object]:
    """Run `code` in a fresh interpreter with `root`, `url` and `make_peer` bound; it prints
    one JSON object."""
    script = f"root = {str(root)!r}\nurl = {url!r}\n{PRELUDE}\n" + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


FIRST_PROCESS = """
import json
from collections.abc import Callable

from auki_session import FrameDef, Peer

MakePeer = Callable[[str, str], Peer]
peer = make_peer("galbot", "ctrl")
optical = peer.register_frame("head_optical", FrameDef.ros_optical())
camera = peer.register_sensor("head_cam", {
    "kind": "camera", "type": "rgb", "width": 640, "height": 480, "frame_rate_hz": 30,
    "image_encoding": "jpeg", "pixel_format": "RGB8", "row_stride_bytes": 0,
    "color_space": "sRGB", "intrinsics_model": "pinhole", "distortion_model": "none",
    "frame": optical})
session = peer.start_session()
print(json.dumps({"camera": camera.to_dict(), "optical": optical.to_dict(),
                  "session": session.session_id}))
"""


def test_a_new_process_sees_everything_and_builds_on_it(
    root: Path, database_url: str | None, make_peer: MakePeer
) -> None:
    first = run(FIRST_PROCESS, root, database_url)
    second = run(
        """
        import json
        from auki_session import HeadSpec, Peer, SensorLogSpec
        peer = make_peer("galbot", "ctrl")
        camera = peer.current("sensor", "head_cam").ref
        session = peer.start_session()
        handle = session.register_sensor_log(
            SensorLogSpec(camera, session.monotonic_clock, HeadSpec.fixed(), 10**9, 0))
        print(json.dumps({"camera": camera.to_dict(), "session": session.session_id,
                          "log": handle.resource_id, "sessions": len(peer.sessions())}))
        """,
        root,
        database_url,
    )
    assert second["camera"] == first["camera"]
    assert second["log"] == "head_cam" and second["sessions"] == 2
    third = run(
        """
        import json
        from auki_session import FrameDef
        peer = make_peer("galbot", "ctrl")
        again = peer.register_frame("head_optical", FrameDef.ros_optical())
        changed = peer.register_frame("head_optical", FrameDef.opengl())
        print(json.dumps({"again": again.hash, "changed": changed.hash,
                          "history": len(peer.history("frame", "head_optical"))}))
        """,
        root,
        database_url,
    )
    assert third["again"] == first["optical"]["hash"]  # type: ignore[index]
    assert third["history"] == 2
    peer = make_peer("galbot", "ctrl")
    reopened = peer.open_session(str(second["session"]))
    [log] = reopened.logs()
    assert log.manifest["sensor"] == first["camera"]
    assert peer.current("frame", "head_optical").hash == third["changed"]


def test_a_session_reopened_in_another_process_keeps_its_clocks(
    root: Path, database_url: str | None, make_peer: MakePeer
) -> None:
    first = run(FIRST_PROCESS, root, database_url)
    reopened = run(
        f"""
        import json
        from auki_session import Peer
        session = make_peer("galbot", "ctrl").open_session({first["session"]!r})
        print(json.dumps({{"clock": session.monotonic_clock.to_dict(),
                           "clocks": len(session.clocks())}}))
        """,
        root,
        database_url,
    )
    assert reopened["clocks"] == 2
    session = make_peer("galbot", "ctrl").open_session(str(first["session"]))
    assert session.monotonic_clock.to_dict() == reopened["clock"]


def test_the_store_is_closed_cleanly_between_processes(root: Path) -> None:
    run(FIRST_PROCESS, root, None)
    Peer("galbot", "ctrl").with_storage_root(root).register_frame("base", FrameDef.ros_body())
    assert (root / "auki_session.db").stat().st_size > 0
