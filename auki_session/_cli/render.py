"""How the command line presents what a store holds: aligned tables for people, plain JSON
values for scripts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .._domain.diff import FieldChange, diff_values
from .._domain.entries import Entry
from .._domain.layout import log_parts
from .._domain.logs import LogInfo
from .._domain.specs import HeadSpec
from .._store.reader import PeerSummary, SessionSummary

__all__ = [
    "describe",
    "diff_json",
    "diff_lines",
    "entry_json",
    "entry_lines",
    "format_duration",
    "format_head",
    "format_ref",
    "format_retention",
    "format_size",
    "format_time",
    "log_json",
    "peer_lines",
    "record_json",
    "section",
    "session_lines",
    "table",
]


def entry_json(entry: Entry, current: bool | None = None) -> dict[str, Any]:
    """One version as a JSON object; `entry` holds the flat entry, so `canonical_json(entry)`
    gives back the stored bytes and `content_hash` of them the hash."""
    value: dict[str, Any] = {
        "kind": entry.kind,
        "peer_id": entry.peer_id,
        "id": entry.id,
        "hash": entry.hash,
        "session_id": entry.session_id,
        "registered_at": entry.registered_at,
        "signature": entry.signature,
    }
    if current is not None:
        value["current"] = current
    value["entry"] = entry.entry
    return value


def log_json(log: LogInfo) -> dict[str, Any]:
    """One log as a JSON object, with its manifest and head spec."""
    return {
        "session_id": log.session_id,
        "peer_id": log.peer_id,
        "resource_id": log.resource_id,
        "kind": log.kind,
        "registered_at": log.registered_at,
        "head": log.head.to_dict(),
        "root": log.root,
        "log_ref": log.log_ref.to_dict(),
        "manifest": log.manifest,
    }


def record_json(record: Any) -> dict[str, Any]:
    """A summary dataclass (peer, session, counts) as a JSON object."""
    value: dict[str, Any] = asdict(record)
    return value


def format_duration(ns: int) -> str:
    """Nanoseconds the way people say them: `5 s`, `250 ms`, `1.5 h`."""
    for unit, size in (
        ("h", 3_600_000_000_000),
        ("min", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ):
        if ns >= size:
            return f"{ns / size:g} {unit}"
    return f"{ns} ns"


def format_head(head: HeadSpec) -> str:
    """`rolling 5 s` or `fixed`."""
    if head.kind == "rolling" and head.retention_ns is not None:
        return f"rolling {format_duration(head.retention_ns)}"
    return head.kind


def format_retention(ns: int) -> str:
    """A log's retention: `forever` for 0."""
    return "forever" if ns == 0 else format_duration(ns)


def format_size(size: int) -> str:
    """Bytes for people: `88.0 KiB`."""
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def format_time(timestamp: str) -> str:
    """An ISO-8601 UTC timestamp to the second: `2026-11-25 12:03:05Z`."""
    return timestamp[:19].replace("T", " ") + "Z" if len(timestamp) >= 19 else timestamp


def format_ref(value: object, peer_id: str | None = None) -> str:
    """A ref from an entry or manifest as `peer/id@hash` (`id@hash` when the peer is
    `peer_id`), a log ref as `peer/resource`, anything else as compact JSON."""
    if isinstance(value, dict):
        if value.keys() == {"peer_id", "id", "hash"}:
            owner = "" if value["peer_id"] == peer_id else f"{value['peer_id']}/"
            return f"{owner}{value['id']}@{value['hash']}"
        if value.keys() == {"source_peer_id", "resource_id"}:
            return f"{value['source_peer_id']}/{value['resource_id']}"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def describe(entry: Entry) -> str:
    """A one-line description of a version's body, for tables."""
    body = entry.body
    try:
        if entry.kind == "frame":
            axes = body["axes"]
            return (
                f"{body['handedness']}-handed, x {axes['x']}, y {axes['y']}, z {axes['z']}, "
                f"{body['units']}"
            )
        if entry.kind == "sensor":
            parts = [f"{body['kind']} {body['type']}"]
            if "width" in body:
                parts.append(f"{body['width']}x{body['height']} {body['pixel_format']}")
            if "frame_rate_hz" in body:
                parts.append(f"{body['frame_rate_hz']} Hz")
            if "frame" in body:
                parts.append(f"in {body['frame']['id']}")
            return ", ".join(parts)
        if entry.kind == "detector":
            detail = body.get("dictionary") or body.get("model") or body.get("kind") or ""
            outputs = ", ".join(body["output_types"])
            return f"{body['type']} {detail}".strip() + (f" -> {outputs}" if outputs else "")
        if entry.kind == "clock":
            epoch = f" since {body['epoch']}" if body.get("epoch") else ""
            return f"{body['type']}, {body['unit']}{epoch}, {body['scope']}"
    except (KeyError, TypeError):
        pass
    return format_ref(body)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Sequence[int] = (),
    indent: str = "",
) -> list[str]:
    """Rows aligned in columns under upper-case headers; `numeric` columns align right."""
    cells = [[header.upper() for header in headers], *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append((indent + "  ".join(padded)).rstrip())
    return lines


def entry_lines(
    entries: Sequence[Entry], empty: str, *, versions: bool = False, current: set[str] | None = None
) -> list[str]:
    """Entries grouped under their peer; with `versions`, numbered per id, current marked."""
    if not entries:
        return [empty]
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.peer_id, []).append(entry)
    lines: list[str] = []
    for peer_id, group in groups.items():
        with_session = any(entry.session_id is not None for entry in group)
        headers = ["kind", "id", *(["session"] if with_session else [])]
        if versions:
            headers += ["v", "hash", "registered", "current"]
        else:
            headers += ["hash"]
        headers.append("description")
        rows = []
        numbers: dict[tuple[str, str | None, str], int] = {}
        previous: dict[tuple[str, str | None, str], Entry] = {}
        for entry in group:
            row: list[object] = [entry.kind, entry.id]
            if with_session:
                row.append(entry.session_id or "")
            if versions:
                key = (entry.kind, entry.session_id, entry.id)
                numbers[key] = numbers.get(key, 0) + 1
                is_current = current is not None and entry.hash in current
                row += [
                    numbers[key],
                    entry.hash,
                    format_time(entry.registered_at),
                    "*" if is_current else "",
                ]
            else:
                row.append(entry.hash)
            key = (entry.kind, entry.session_id, entry.id)
            before = previous.get(key) if versions else None
            row.append(describe(entry) if before is None else _describe_after(before, entry))
            previous[key] = entry
            rows.append(row)
        numeric = [headers.index("v")] if versions else []
        if lines:
            lines.append("")
        lines.append(f"peer {peer_id}")
        lines += table(headers, rows, numeric=numeric, indent="  ")
    return lines


def _describe_after(before: Entry, entry: Entry) -> str:
    """A later version's description; when it reads as the one before's, what changed."""
    text = describe(entry)
    if text != describe(before):
        return text
    changes = diff_values(before.entry, entry.entry)
    shown = [
        f"{c.path} {_value(c.before)} -> {_value(c.after)}"
        if c.change == "changed"
        else f"{'+' if c.change == 'added' else '-'}{c.path}"
        for c in changes[:3]
    ]
    more = f", {len(changes) - 3} more" if len(changes) > 3 else ""
    return f"{text}; {', '.join(shown)}{more}"


def peer_lines(peers: Sequence[PeerSummary]) -> list[str]:
    """Peers with their counts, as a table; in a fleet database also how each peer's authority
    was established (its key's signatures, or a binding to one store) and its last push."""
    fleet = any(p.authority is not None for p in peers)
    headers = ["peer", "frames", "sensors", "detectors", "sessions", "signed", "apps"]
    headers += ["authority", "last push"] if fleet else ["first seen"]
    rows = []
    for p in peers:
        row: list[object] = [
            p.peer_id,
            p.frames,
            p.sensors,
            p.detectors,
            p.sessions,
            _signed(p),
            ", ".join(p.app_ids),
        ]
        if fleet:
            row += [_authority(p.authority), format_time(p.last_push_at or "")]
        else:
            row.append(format_time(p.first_seen_at))
        rows.append(tuple(row))
    return table(headers, rows, numeric=(1, 2, 3, 4))


def _authority(authority: str | None) -> str:
    """How a fleet admits a peer's records, as a listing says it."""
    if authority == "signature":
        return "signature"
    if authority == "store":
        return "store binding (unauthenticated)"
    return "none yet (pushed before bindings)"


def _signed(peer: PeerSummary) -> str:
    """How much of a peer's entries its key signed: `all`, `12/20`, or `no key` for an id
    that is a plain name (its records cannot be signed)."""
    if not peer.key:
        return "no key"
    return "all" if peer.signed == peer.versions else f"{peer.signed}/{peer.versions}"


def _log_lines(log: LogInfo, peer_id: str) -> list[str]:
    """A log's manifest fields beyond those in the logs table; refs to the session's own
    peer are written `id@hash`."""
    skip = {"session_id", "app_id", "segment_duration_ns", "retention_ns"}
    rows: list[tuple[str, str]] = []
    for key, value in log.manifest.items():
        if key in skip or (key in ("source_peer_id", "writer_peer_id") and value == peer_id):
            continue
        rows.append((key, format_ref(value, peer_id)))
    width = max((len(key) for key, _ in rows), default=0)
    return [f"{log.kind} log {log.resource_id}"] + [
        f"  {key.ljust(width)}  {text}" for key, text in rows
    ]


def session_lines(
    root: Path | None, summary: SessionSummary, clocks: Sequence[Entry], logs: Sequence[LogInfo]
) -> tuple[list[str], list[str]]:
    """A session's header lines, and its clocks and logs; `root` is where its logs are (None
    in a fleet database: under the robot's storage root)."""
    parts = log_parts(summary.session_id, summary.peer_id, "<resource>")
    logs_in = (
        f"{Path(os.path.abspath(root), *parts)}/"
        if root is not None
        else f"{Path(*parts)}/ under the storage root of {summary.peer_id}"
    )
    header = [
        f"session  {summary.session_id}",
        f"peer     {summary.peer_id}",
        f"app      {summary.app_id}",
        f"started  {summary.started_at}",
        f"logs in  {logs_in}",
    ]
    lines = [
        f"clocks ({len(clocks)})",
        *table(
            ["id", "hash", "description"],
            [(clock.id, clock.hash, describe(clock)) for clock in clocks],
            indent="  ",
        ),
        "",
        f"logs ({len(logs)})",
    ]
    if logs:
        lines += table(
            ["resource", "kind", "head", "segment", "retention", "registered"],
            [
                (
                    log.resource_id,
                    log.kind,
                    format_head(log.head),
                    format_duration(int(log.manifest.get("segment_duration_ns", 0))),
                    format_retention(int(log.manifest.get("retention_ns", 0))),
                    format_time(log.registered_at),
                )
                for log in logs
            ],
            indent="  ",
        )
        for log in logs:
            lines += ["", *_log_lines(log, summary.peer_id)]
    return header, lines


def section(title: str, lines: list[str]) -> list[str]:
    """A titled, underlined block of lines."""
    return [title, "-" * len(title), *lines, ""]


def _version(entry: Entry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "peer_id": entry.peer_id,
        "id": entry.id,
        "session_id": entry.session_id,
        "hash": entry.hash,
        "registered_at": entry.registered_at,
    }


def diff_json(before: Entry, after: Entry, changes: Sequence[FieldChange]) -> dict[str, Any]:
    """The changes from one version to another as a JSON object."""
    return {
        "from": _version(before),
        "to": _version(after),
        "changes": [change.to_dict() for change in changes],
    }


def _value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def diff_lines(
    before: Entry,
    after: Entry,
    changes: Sequence[FieldChange],
    numbers: tuple[int, int] | None = None,
) -> list[str]:
    """The changes from one version to another: a header naming both, then one line per
    field (`calibration.fx  912.5 -> 915.25`, `+ skew  0.1`, `- skew  0.1`)."""
    first, second = ("", "") if numbers is None else (f"v{numbers[0]} ", f"v{numbers[1]} ")
    same = (before.kind, before.peer_id, before.id) == (after.kind, after.peer_id, after.id)
    name = f"{before.kind} {before.peer_id}/{before.id}"
    header = (
        f"{name}: {first}{before.hash} -> {second}{after.hash}"
        if same
        else f"{name}@{before.hash} -> {after.kind} {after.peer_id}/{after.id}@{after.hash}"
    )
    if not changes:
        return [header, "  no changes (the same version)"]
    width = max(len(change.path) for change in changes)
    lines = [header]
    for change in changes:
        if change.change == "added":
            text = f"+ {change.path.ljust(width)}  {_value(change.after)}"
        elif change.change == "removed":
            text = f"- {change.path.ljust(width)}  {_value(change.before)}"
        else:
            text = (
                f"~ {change.path.ljust(width)}  {_value(change.before)} -> {_value(change.after)}"
            )
        lines.append(f"  {text}")
    return lines
