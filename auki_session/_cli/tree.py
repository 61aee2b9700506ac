"""How `tree` shows a session's frame tree and clock graph: indented text, Graphviz DOT, or a
picture rendered by Graphviz's `dot` program."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .._domain.frame_tree import GraphEdge, GraphKind, SessionGraph, graph_lines

__all__ = ["PICTURE_FORMATS", "render_picture", "to_dot", "tree_lines"]

PICTURE_FORMATS = ("svg", "png", "pdf")
_TITLES: dict[GraphKind, tuple[str, str]] = {
    "frame": ("frames", "pose logs"),
    "clock": ("clocks", "time-transform logs"),
}


def _edge_text(edge: GraphEdge) -> str:
    """What a log joining two nodes says: `log base->cam, rigid, 30 Hz, manual`."""
    parts = [f"log {edge.log}"]
    if edge.writer_mode is not None:
        parts.append(edge.writer_mode)
    if edge.kind == "frame":
        rate = edge.expected_rate_hz
        parts.append(f"{rate} Hz" if rate else "rate unspecified")
    parts.append(edge.source)
    return ", ".join(parts)


def tree_lines(graph: SessionGraph) -> list[str]:
    """The frames and clocks as indented trees, each edge with its log, then the warnings."""
    lines = [f"session {graph.session_id} of {graph.peer_id}"]
    for kind in ("frame", "clock"):
        title, joiners = _TITLES[kind]
        lines += ["", f"{title} (joined by the session's {joiners})"]
        tree = graph_lines(graph, kind)
        if not tree:
            lines.append(f"  no {joiners}")
        for line in tree:
            text = f"  {line.prefix}{line.node}"
            if line.edge is not None:
                text += f"  [{_edge_text(line.edge)}]"
            if line.note:
                text += f"  ({line.note})"
            lines.append(text)
        unconnected = graph.unconnected(kind)
        if unconnected:
            lines.append(f"  not joined: {', '.join(unconnected)}")
    if graph.warnings:
        lines += ["", *(f"warning: {warning}" for warning in graph.warnings)]
    return lines


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: SessionGraph) -> str:
    """The graph as Graphviz DOT: a cluster of frames and one of clocks, each edge labelled
    with its log; nodes are named `frame:<id>` and `clock:<id>`, labelled with the id."""
    lines = [f"digraph {_quote('session ' + graph.session_id)} {{", "  rankdir=TB;"]
    for kind in ("frame", "clock"):
        title, _ = _TITLES[kind]
        nodes = graph.frames if kind == "frame" else graph.clocks
        lines.append(f"  subgraph {_quote('cluster_' + title)} {{")
        lines.append(f"    label={_quote(title)};")
        unconnected = set(graph.unconnected(kind))
        for node in nodes:
            style = ", style=dashed" if node in unconnected else ""
            lines.append(f"    {_quote(kind + ':' + node)} [label={_quote(node)}{style}];")
        for edge in graph.edges_of(kind):
            label = _quote(_edge_text(edge)).replace(", ", "\\n")
            parent, child = _quote(f"{kind}:{edge.parent}"), _quote(f"{kind}:{edge.child}")
            lines.append(f"    {parent} -> {child} [label={label}];")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines)


def render_picture(dot_text: str, picture_format: str, output: Path) -> None:
    """Render DOT text into `output` with Graphviz's `dot`; a clear error when it is missing
    or fails."""
    program = shutil.which("dot")
    if program is None:
        raise FileNotFoundError(
            "--format " + picture_format + " needs Graphviz's `dot` program, which is not "
            "installed: apt-get install graphviz (or brew install graphviz); "
            "`--format dot` prints the graph without it"
        )
    done = subprocess.run(
        [program, f"-T{picture_format}", "-o", str(output)],
        input=dot_text.encode("utf-8"),
        capture_output=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        reason = " ".join(done.stderr.decode("utf-8", "replace").split()) or "no message"
        raise OSError(f"Graphviz's dot could not write {output}: {reason}")
