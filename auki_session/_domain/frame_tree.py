"""The frame tree and the clock graph of a session (the offline answer to `tf2_tools
view_frames`): frames joined by the session's pose logs, clocks by its time-transform logs,
with what is wrong with them (a frame with two parents, a cycle, something nothing joins).
Pure: built from the session's frames, clocks and logs, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .logs import LogInfo

__all__ = ["GraphEdge", "SessionGraph", "TreeLine", "build_graph", "graph_lines"]

GraphKind = Literal["frame", "clock"]


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """A log joining two frames (parent -> child, as `from_frame` -> `to_frame`) or two
    clocks (`from_clock` -> `to_clock`)."""

    kind: GraphKind
    parent: str
    child: str
    log: str
    source: str
    writer_mode: str | None = None
    expected_rate_hz: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """As JSON."""
        return {
            "kind": self.kind,
            "parent": self.parent,
            "child": self.child,
            "log": self.log,
            "source": self.source,
            "writer_mode": self.writer_mode,
            "expected_rate_hz": self.expected_rate_hz,
        }


@dataclass(frozen=True, slots=True)
class SessionGraph:
    """A session's frames and clocks, the logs joining them, and the warnings: frames with
    two parents (REP-105 allows one), cycles, and frames or clocks nothing joins."""

    session_id: str
    peer_id: str
    frames: tuple[str, ...]
    clocks: tuple[str, ...]
    edges: tuple[GraphEdge, ...]
    warnings: tuple[str, ...] = field(default=())

    def edges_of(self, kind: GraphKind) -> tuple[GraphEdge, ...]:
        """The frame edges or the clock edges, in the order the logs were registered."""
        return tuple(edge for edge in self.edges if edge.kind == kind)

    def roots(self, kind: GraphKind) -> tuple[str, ...]:
        """The joined frames (or clocks) without a parent, sorted."""
        edges = self.edges_of(kind)
        children = {edge.child for edge in edges}
        joined = {edge.parent for edge in edges} | children
        return tuple(sorted(joined - children))

    def unconnected(self, kind: GraphKind) -> tuple[str, ...]:
        """The frames (or clocks) no log joins, sorted."""
        nodes = self.frames if kind == "frame" else self.clocks
        joined = {name for edge in self.edges_of(kind) for name in (edge.parent, edge.child)}
        return tuple(sorted(set(nodes) - joined))

    def to_dict(self) -> dict[str, Any]:
        """As JSON: plain values only."""
        return {
            "session_id": self.session_id,
            "peer_id": self.peer_id,
            "frames": list(self.frames),
            "clocks": list(self.clocks),
            "edges": [edge.to_dict() for edge in self.edges],
            "roots": {"frames": list(self.roots("frame")), "clocks": list(self.roots("clock"))},
            "unconnected": {
                "frames": list(self.unconnected("frame")),
                "clocks": list(self.unconnected("clock")),
            },
            "warnings": list(self.warnings),
        }


def _name(ref: object, peer_id: str) -> str:
    """A frame or clock ref as a node name: its id (`peer/id` for another peer's)."""
    if isinstance(ref, dict) and isinstance(ref.get("id"), str):
        owner = ref.get("peer_id")
        return ref["id"] if owner in (None, peer_id) else f"{owner}/{ref['id']}"
    return str(ref)


def _source(value: object) -> str:
    """A log's source as a listing says it: `manual`, `ros2_tf (a, b)`, `local_clock_read`."""
    if not isinstance(value, dict):
        return str(value)
    kind = str(value.get("kind", "?"))
    publishers = value.get("publishers")
    return f"{kind} ({', '.join(map(str, publishers))})" if publishers else kind


def _edges(logs: Iterable[LogInfo], peer_id: str) -> list[GraphEdge]:
    edges = []
    for log in logs:
        manifest = log.manifest
        if log.kind == "pose":
            rate = manifest.get("expected_rate_hz")
            edges.append(
                GraphEdge(
                    "frame",
                    _name(manifest.get("from_frame"), peer_id),
                    _name(manifest.get("to_frame"), peer_id),
                    log.resource_id,
                    _source(manifest.get("source")),
                    str(manifest.get("writer_mode")),
                    rate if isinstance(rate, int) else None,
                )
            )
        elif log.kind == "time_transform":
            edges.append(
                GraphEdge(
                    "clock",
                    _name(manifest.get("from_clock"), peer_id),
                    _name(manifest.get("to_clock"), peer_id),
                    log.resource_id,
                    _source(manifest.get("source")),
                )
            )
    return edges


def _cycles(edges: Sequence[GraphEdge]) -> list[list[str]]:
    """The cycles a depth-first search meets, each once, as the nodes along it starting from
    its smallest name. Each node is expanded once (walking every path instead grows
    exponentially with layers of frames that have two parents), iteratively (a long chain of
    frames must not exhaust the interpreter's stack)."""
    following: dict[str, list[str]] = {}
    for edge in edges:
        following.setdefault(edge.parent, []).append(edge.child)
    done: set[str] = set()
    found: set[tuple[str, ...]] = set()
    cycles: list[list[str]] = []
    for start in sorted(following):
        if start in done:
            continue
        path = [start]
        on_path = {start}
        stack = [iter(sorted(following.get(start, ())))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                node = path.pop()
                on_path.discard(node)
                done.add(node)
            elif child in on_path:
                cycle = path[path.index(child) :]
                first = cycle.index(min(cycle))
                key = tuple(cycle[first:] + cycle[:first])
                if key not in found:
                    found.add(key)
                    cycles.append(list(key))
            elif child not in done:
                path.append(child)
                on_path.add(child)
                stack.append(iter(sorted(following.get(child, ()))))
    return cycles


def _warnings(kind: GraphKind, edges: Sequence[GraphEdge], unconnected: Iterable[str]) -> list[str]:
    warnings = []
    parents: dict[str, list[GraphEdge]] = {}
    for edge in edges:
        parents.setdefault(edge.child, []).append(edge)
    if kind == "frame":
        for child, into in sorted(parents.items()):
            if len(into) > 1:
                named = " and ".join(f"{edge.parent} (log {edge.log})" for edge in into)
                warnings.append(
                    f"frame {child} has {len(into)} parents, {named}: a frame tree (REP-105) "
                    "gives each frame one parent"
                )
    for cycle in _cycles(edges):
        warnings.append(f"{kind}s in a cycle: {' -> '.join([*cycle, cycle[0]])}")
    log_kind = "pose" if kind == "frame" else "time-transform"
    for name in unconnected:
        warnings.append(f"{kind} {name} is joined to nothing: no {log_kind} log of the session")
    return warnings


def build_graph(
    session_id: str,
    peer_id: str,
    frames: Iterable[str],
    clocks: Iterable[str],
    logs: Iterable[LogInfo],
) -> SessionGraph:
    """The graph of a session: `frames` (the peer's current frame ids) and `clocks` (the
    session's) joined by its pose and time-transform `logs`."""
    edges = _edges(logs, peer_id)
    frame_names = set(frames) | {
        name for edge in edges if edge.kind == "frame" for name in (edge.parent, edge.child)
    }
    clock_names = set(clocks) | {
        name for edge in edges if edge.kind == "clock" for name in (edge.parent, edge.child)
    }
    graph = SessionGraph(
        session_id, peer_id, tuple(sorted(frame_names)), tuple(sorted(clock_names)), tuple(edges)
    )
    warnings = [
        *_warnings("frame", graph.edges_of("frame"), graph.unconnected("frame")),
        *_warnings("clock", graph.edges_of("clock"), graph.unconnected("clock")),
    ]
    return replace(graph, warnings=tuple(warnings))


@dataclass(frozen=True, slots=True)
class TreeLine:
    """One line of an indented tree: its prefix of branches, the node, and the edge into it
    (None for a root)."""

    prefix: str
    node: str
    edge: GraphEdge | None
    note: str = ""


def graph_lines(graph: SessionGraph, kind: GraphKind) -> list[TreeLine]:
    """The frames (or clocks) as indented trees from each root; a child with two parents
    appears under each (noted), the nodes of a cycle nothing roots follow under their smallest
    name, and a node already shown is not descended into again."""
    edges = graph.edges_of(kind)
    children: dict[str, list[GraphEdge]] = {}
    for edge in edges:
        children.setdefault(edge.parent, []).append(edge)
    parent_count: dict[str, int] = {}
    for edge in edges:
        parent_count[edge.child] = parent_count.get(edge.child, 0) + 1
    lines: list[TreeLine] = []
    shown: set[str] = set()

    def descend(node: str, prefix: str) -> None:
        below = sorted(children.get(node, ()), key=lambda e: e.child)
        for index, edge in enumerate(below):
            last = index == len(below) - 1
            branch = "`-- " if last else "|-- "
            again = edge.child in shown
            note = "second parent" if parent_count.get(edge.child, 0) > 1 and again else ""
            note = note or ("already shown above" if again else "")
            lines.append(TreeLine(prefix + branch, edge.child, edge, note))
            if not again:
                shown.add(edge.child)
                descend(edge.child, prefix + ("    " if last else "|   "))

    starts = list(graph.roots(kind))
    joined = sorted({name for edge in edges for name in (edge.parent, edge.child)})
    for start in [*starts, *joined]:
        if start in shown:
            continue
        shown.add(start)
        note = "" if start in starts else "in a cycle"
        lines.append(TreeLine("", start, None, note))
        descend(start, "")
    return lines
