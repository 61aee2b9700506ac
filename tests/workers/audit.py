"""Checking a storage root against what its writers acknowledged, with plain `sqlite3`.

Independent of the package's own read side: only the database file, SQL and the files on disk.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB = "auki_session.db"
PENDING = Path(".auki_session") / "pending"


@dataclass(frozen=True)
class Audit:
    """What a storage root held when audited."""

    entries: int
    sessions: int
    logs: int
    acked: int


def read_acks(path: Path) -> list[dict[str, Any]]:
    """Every complete ack line of an acks file. A writer killed while writing a batch leaves a
    fragment of a line, at the end or (once the next writer appended) as a line of its own;
    a fragment was never acknowledged (acks are written after the calls returned)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    acks: list[dict[str, Any]] = []
    for line in lines[:-1]:
        try:
            acks.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a fragment
    return acks


def manifest_path(root: Path, session_id: str, peer_id: str, resource_id: str) -> Path:
    return root.joinpath(session_id, "logs", peer_id, *resource_id.split("/"), "manifest.json")


def manifests_on_disk(root: Path) -> set[Path]:
    """Every manifest.json under the root's session directories."""
    return {p for p in root.rglob("manifest.json") if PENDING not in p.relative_to(root).parents}


def audit(root: Path, acks: list[dict[str, Any]]) -> Audit:
    """Assert the store is sound and holds every acknowledged registration."""
    connection = sqlite3.connect(root / DB, timeout=30)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        entries = {
            row[0]: row[1:]
            for row in connection.execute(
                "SELECT hash, kind, peer_id, entry_id, session_id FROM entries"
            )
        }
        sessions = dict(connection.execute("SELECT session_id, peer_id FROM sessions").fetchall())
        logs = {
            (row[0], row[1]): row[2:]
            for row in connection.execute(
                "SELECT l.session_id, l.resource_id, s.peer_id, l.manifest_json "
                "FROM logs l JOIN sessions s USING (session_id)"
            )
        }
        # Every head names a stored version of its own id.
        for table in ("heads", "clocks"):
            dangling = connection.execute(
                f"SELECT count(*) FROM {table} h LEFT JOIN entries e ON e.hash = h.hash "
                "WHERE e.hash IS NULL"
            ).fetchone()[0]
            assert dangling == 0, table
        bad_heads = connection.execute(
            "SELECT h.* FROM heads h JOIN entries e ON e.hash = h.hash "
            "WHERE (h.peer_id, h.kind, h.entry_id) != (e.peer_id, e.kind, e.entry_id)"
        ).fetchall()
        assert bad_heads == []
        bad_clocks = connection.execute(
            "SELECT c.* FROM clocks c JOIN entries e ON e.hash = c.hash "
            "WHERE (c.session_id, c.clock_id, 'clock') != (e.session_id, e.entry_id, e.kind)"
        ).fetchall()
        assert bad_clocks == []
    finally:
        connection.close()

    for ack in acks:
        if ack["type"] == "entry":
            found = entries.get(ack["hash"])
            expected = (ack["kind"], ack["peer_id"], ack["id"], ack["session_id"])
            assert found == expected, f"acknowledged {ack} is missing (found {found})"
        elif ack["type"] == "session":
            assert sessions.get(ack["session_id"]) == ack["peer_id"], f"missing {ack}"
        else:
            key = (ack["session_id"], ack["resource_id"])
            assert key in logs, f"acknowledged log {ack} is missing"
            assert logs[key][0] == ack["peer_id"]
            where = manifest_path(root, ack["session_id"], ack["peer_id"], ack["resource_id"])
            assert Path(ack["root"]) / "manifest.json" == where

    # No half-registered log: manifests on disk and rows in `logs` match one to one.
    expected_files = {}
    for (session_id, resource_id), (peer_id, manifest) in logs.items():
        expected_files[manifest_path(root, session_id, peer_id, resource_id)] = manifest
    on_disk = manifests_on_disk(root)
    assert on_disk == set(expected_files), (
        f"manifests without rows: {sorted(map(str, on_disk - set(expected_files)))}; "
        f"rows without manifests: {sorted(map(str, set(expected_files) - on_disk))}"
    )
    for path, manifest in expected_files.items():
        assert path.read_text(encoding="utf-8") == manifest, path
    return Audit(len(entries), len(sessions), len(logs), len(acks))


def pending_journals(root: Path) -> list[Path]:
    """Journals of transactions that never finished."""
    return sorted((root / PENDING).glob("*.json")) if (root / PENDING).is_dir() else []


def stray_files(root: Path) -> list[Path]:
    """Leftovers of interrupted atomic writes (temporary files) anywhere under the root."""
    return sorted(p for p in root.rglob("*.tmp"))


def committed_logs_have_manifests(root: Path) -> int:
    """Assert every row of `logs` has its manifest on disk (true even before any repair: the
    manifest is written before the row commits); returns the number of logs."""
    connection = sqlite3.connect(root / DB, timeout=30)
    try:
        rows = connection.execute(
            "SELECT l.session_id, s.peer_id, l.resource_id FROM logs l JOIN sessions s "
            "USING (session_id)"
        ).fetchall()
    finally:
        connection.close()
    missing = [row for row in rows if not manifest_path(root, *row).is_file()]
    assert missing == [], f"committed logs without a manifest: {missing}"
    return len(rows)


def mirror_out_of_step(root: Path) -> list[str]:
    """What differs between the registry mirror and the database once the store has been
    reopened after a crash: every version has its file with its canonical bytes, no file
    names a version the database lacks, no temporary file and no pending row is left."""
    connection = sqlite3.connect(f"file:{root / DB}?mode=ro", uri=True, timeout=30)
    try:
        versions = dict(connection.execute("SELECT hash, canonical_json FROM entries"))
        pending = connection.execute("SELECT count(*) FROM mirror_pending").fetchone()[0]
    finally:
        connection.close()
    files = {path.stem: path for path in (root / "registries").rglob("*.json")}
    problems = [f"no file for {h}" for h in sorted(versions.keys() - files.keys())]
    problems += [f"file for no version: {files[h]}" for h in sorted(files.keys() - versions)]
    problems += [
        f"other bytes: {files[h]}"
        for h in sorted(versions.keys() & files.keys())
        if files[h].read_bytes() != versions[h].encode("utf-8")
    ]
    problems += [f"temporary file left: {p}" for p in (root / "registries").rglob(".*.tmp")]
    return problems + ([f"{pending} pending row(s) left"] if pending else [])
