"""A session's frame tree and clock graph (`session.frame_tree()`, `auki-session tree`): a
known tree, a frame with a second parent, a cycle and an unconnected frame; DOT parsed back;
a PNG rendered by Graphviz (CI installs it), and a clear message without it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from auki_session import FrameDef, HeadSpec, Peer, PoseLogSpec, Session, TimeTransformLogSpec
from tests.conftest import end_process
from tests.test_cli import assert_one_line_error, cli

SECOND = 1_000_000_000
NEEDS_DOT = os.environ.get("AUKI_SESSION_REQUIRE_GRAPHVIZ") == "1"


def pose(session: Session, peer: Peer, parent: str, child: str, rate: int = 0) -> None:
    refs = {f.id: f.ref for f in peer.frames()}
    session.register_pose_log(
        PoseLogSpec(
            refs[parent],
            refs[child],
            session.monotonic_clock,
            {"kind": "ros2_tf", "publishers": ["/tf"]} if rate else {"kind": "manual"},
            "movable" if rate else "rigid",
            rate,
            HeadSpec.rolling(5 * SECOND),
            SECOND,
            0,
        )
    )


def make_session(root: Path) -> Session:
    """map -> odom -> base_link -> camera, arm -> camera too (a second parent), a <-> b (a
    cycle), lonely (joined to nothing); the monotonic clock -> the UTC clock."""
    peer = Peer("galbot", "app").with_storage_root(root)
    for frame_id in ("map", "odom", "base_link", "camera", "arm", "a", "b", "lonely"):
        peer.register_frame(frame_id, FrameDef.ros_body())
    session = peer.start_session()
    pose(session, peer, "map", "odom", 10)
    pose(session, peer, "odom", "base_link", 50)
    pose(session, peer, "base_link", "camera")
    pose(session, peer, "arm", "camera")
    pose(session, peer, "a", "b")
    pose(session, peer, "b", "a")
    session.register_time_transform_log(
        TimeTransformLogSpec(
            session.monotonic_clock,
            session.utc_clock,
            {"kind": "local_clock_read"},
            HeadSpec.fixed(),
            SECOND,
            0,
        )
    )
    return session


@pytest.fixture
def session(tmp_path: Path) -> Session:
    return make_session(tmp_path / "store")


def test_frame_tree_holds_the_frames_the_logs_and_the_warnings(session: Session) -> None:
    graph = session.frame_tree()
    frames = {(e.parent, e.child) for e in graph.edges_of("frame")}
    assert frames == {
        ("map", "odom"),
        ("odom", "base_link"),
        ("base_link", "camera"),
        ("arm", "camera"),
        ("a", "b"),
        ("b", "a"),
    }
    assert graph.roots("frame") == ("arm", "map")
    assert graph.unconnected("frame") == ("lonely",)
    monotonic, utc = session.monotonic_clock.id, session.utc_clock.id
    assert [(e.parent, e.child) for e in graph.edges_of("clock")] == [(monotonic, utc)]
    assert graph.unconnected("clock") == ()
    assert graph.warnings == (
        "frame camera has 2 parents, base_link (log base_link->camera) and arm (log "
        "arm->camera): a frame tree (REP-105) gives each frame one parent",
        "frames in a cycle: a -> b -> a",
        "frame lonely is joined to nothing: no pose log of the session",
    )
    odom = next(e for e in graph.edges if e.child == "odom")
    assert (odom.log, odom.writer_mode, odom.expected_rate_hz, odom.source) == (
        "map->odom",
        "movable",
        10,
        "ros2_tf (/tf)",
    )
    assert graph.to_dict()["roots"]["frames"] == ["arm", "map"]


def test_tree_prints_the_indented_tree_and_the_warnings(
    session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    end_process()
    run = cli(capsys, "--root", Path(session.storage_root), "tree", session.session_id[:20])
    assert run.code == 0
    lines = run.out.splitlines()
    frames = lines[lines.index("frames (joined by the session's pose logs)") + 1 :]
    assert frames[:9] == [
        "  arm",
        "  `-- camera  [log arm->camera, rigid, rate unspecified, manual]",
        "  map",
        "  `-- odom  [log map->odom, movable, 10 Hz, ros2_tf (/tf)]",
        "      `-- base_link  [log odom->base_link, movable, 50 Hz, ros2_tf (/tf)]",
        "          `-- camera  [log base_link->camera, rigid, rate unspecified, manual]  "
        "(second parent)",
        "  a  (in a cycle)",
        "  `-- b  [log a->b, rigid, rate unspecified, manual]",
        "      `-- a  [log b->a, rigid, rate unspecified, manual]  (already shown above)",
    ]
    assert frames[9] == "  not joined: lonely"
    assert "warning: frames in a cycle: a -> b -> a" in lines
    assert f"  {session.monotonic_clock.id}" in lines


def test_tree_defaults_to_the_latest_session(
    session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    end_process()
    value = cli(capsys, "--root", Path(session.storage_root), "--json", "tree").json()
    assert value["session_id"] == session.session_id


def parse_dot(text: str) -> tuple[dict[str, str], set[tuple[str, str, str]]]:
    """Nodes (name -> label) and edges (parent, child, label) of the DOT that `tree` writes."""
    quoted = r'"((?:[^"\\]|\\.)*)"'
    nodes = dict(re.findall(rf"^\s*{quoted} \[label={quoted}", text, re.MULTILINE))
    edges = {
        (parent, child, label.replace("\\n", ", "))
        for parent, child, label in re.findall(
            rf"^\s*{quoted} -> {quoted} \[label={quoted}\];$", text, re.MULTILINE
        )
    }
    return nodes, edges


def test_tree_dot_parses_back_to_the_same_graph(
    session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = session.frame_tree()
    end_process()
    run = cli(capsys, "--root", Path(session.storage_root), "tree", "--format", "dot")
    assert run.code == 0 and run.out.startswith("digraph ")
    nodes, edges = parse_dot(run.out)
    assert {name for name in nodes if name.startswith("frame:")} == {
        f"frame:{frame}" for frame in graph.frames
    }
    assert nodes["frame:lonely"] == "lonely"
    assert ("frame:map", "frame:odom", "log map->odom, movable, 10 Hz, ros2_tf (/tf)") in edges
    assert {(p, c) for p, c, _ in edges} == {
        (f"{e.kind}:{e.parent}", f"{e.kind}:{e.child}") for e in graph.edges
    }
    dot = shutil.which("dot")
    if dot is None:
        return
    plain = subprocess.run([dot, "-Tplain"], input=run.out.encode(), capture_output=True)
    assert plain.returncode == 0, plain.stderr
    drawn = {
        tuple(line.split()[1:3])
        for line in plain.stdout.decode().splitlines()
        if line[:5] == "edge "
    }
    assert ('"frame:map"', '"frame:odom"') in drawn
    assert len(drawn) == len(graph.edges)


@pytest.mark.skipif(
    shutil.which("dot") is None and not NEEDS_DOT, reason="Graphviz's dot is not installed"
)
def test_tree_renders_a_png_with_graphviz(
    session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    end_process()
    output = tmp_path / "tree.png"
    run = cli(capsys, "--root", Path(session.storage_root), "tree", "--format", "png", "-o", output)
    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == f"wrote {output}"
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_picture_needs_an_output_file(
    session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    end_process()
    run = cli(capsys, "--root", Path(session.storage_root), "tree", "--format", "svg")
    assert_one_line_error(run, "--format svg writes a file: give -o FILE")


def test_without_graphviz_a_picture_says_what_to_install(session: Session, tmp_path: Path) -> None:
    end_process()
    empty = tmp_path / "bin"
    empty.mkdir()
    environment = {
        **os.environ,
        "PATH": str(empty),
        "PYTHONPATH": str(Path(__file__).parent.parent),
    }
    output = tmp_path / "tree.svg"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "auki_session", "--root", session.storage_root, "tree"),
            *("--format", "svg", "-o", str(output)),
        ],
        capture_output=True,
        env=environment,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "auki-session: error: --format svg needs Graphviz's `dot` program, which is not "
        "installed: apt-get install graphviz (or brew install graphviz); `--format dot` prints "
        "the graph without it\n"
    )
    assert not output.exists()


def test_cycle_finding_is_linear_in_the_graph_and_still_finds_every_cycle_it_meets() -> None:
    from auki_session._domain.frame_tree import GraphEdge, _cycles

    def edge(parent: str, child: str) -> GraphEdge:
        return GraphEdge("frame", parent, child, f"{parent}->{child}", "manual")

    # 40 layers of 2 frames, each joined to both frames of the next layer (two parents each):
    # 2**40 paths: walking every path would never return; expanding each node once does.
    layered = [
        edge(f"l{layer}{a}", f"l{layer + 1}{b}") for layer in range(40) for a in "ab" for b in "ab"
    ]
    assert _cycles(layered) == []
    # A chain of 5,000 frames (deeper than the interpreter's stack) closed into a loop.
    chain = [edge(f"f{i:05d}", f"f{i + 1:05d}") for i in range(5000)]
    chain.append(edge("f05000", "f00000"))
    (loop,) = _cycles(chain)
    assert loop[0] == "f00000" and len(loop) == 5001
    # Two separate cycles and a self-joined frame, each reported from its smallest name.
    small = [edge("b", "c"), edge("c", "b"), edge("x", "y"), edge("y", "z"), edge("z", "x")]
    small.append(edge("s", "s"))
    assert sorted(_cycles(small)) == [["b", "c"], ["s"], ["x", "y", "z"]]


def test_tree_refuses_an_output_file_for_text(
    session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    end_process()
    out = tmp_path / "out.txt"
    run = cli(capsys, "--root", session.storage_root, "tree", "-o", out)
    assert_one_line_error(run, "-o FILE writes a picture or DOT")
    assert not out.exists()
