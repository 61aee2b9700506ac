"""Target 4: a store of 1,000,000 registry entries (1,000 peers) and 100,000 logs.

Lookups (current version of an id, an entry by ref, a session's logs) through the public API
vs the same indexed query on a bare `sqlite3` connection with the store's pragmas; the file size
vs the canonical JSON it holds; and the peak memory of a new process that opens the store and
runs lookups, for a small store and the big one.

The store is built once with bulk inserts of correctly hashed canonical entries (computed by
the package's own pure functions on both cores) and cached under BENCH_DIR between runs, keyed
by the schema revision. Per peer: 200 frames, 100 cameras x 3 versions, 100 rangefinders,
100 joint encoders, 80 scalar sensors, 100 detectors x 2 versions, 10 sessions (20 clocks),
and 10 sensor logs per session. Log directories are not created: no measured path reads them.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auki_session import FrameDef, HeadSpec, Peer, RegistryRef, SensorLogSpec
from auki_session._domain.clocks import MONOTONIC_BODY, UTC_BODY, auto_clock_ids
from auki_session._domain.entries import (
    CanonicalEntry,
    clock_entry,
    frame_entry,
)
from auki_session._domain.logs import plan_log
from auki_session._store import migrate
from auki_session._store.store import close_all

from ._harness import (
    BENCH_DIR,
    ENTRY_COLUMNS,
    Result,
    main,
    raw_connection,
    robot_sensors,
)

TITLE = "4. scale: 1,000,000 entries (1,000 peers), 100,000 logs"
ENTRIES_PER_PEER = 1000
SESSIONS_PER_PEER = 10
LOGS_PER_SESSION = 10
STAMP = "2026-11-25T12:00:00.000000Z"
PRESETS = (FrameDef.ros_body(), FrameDef.ros_optical(), FrameDef.opengl(), FrameDef.unity())

CURRENT_SQL = (
    "SELECT e.kind, e.peer_id, e.entry_id, e.hash, e.session_id, e.canonical_json, "
    "e.registered_at FROM heads AS h JOIN entries AS e ON e.hash = h.hash "
    "WHERE h.peer_id = ? AND h.kind = ? AND h.entry_id = ?"
)
ENTRY_SQL = (
    "SELECT kind, peer_id, entry_id, hash, session_id, canonical_json, registered_at "
    "FROM entries WHERE hash = ?"
)
LOGS_SQL = (
    "SELECT l.session_id, s.peer_id, l.resource_id, l.kind, l.manifest_json, l.head_json, "
    "l.registered_at FROM logs AS l JOIN sessions AS s ON s.session_id = l.session_id "
    "WHERE l.session_id = ? ORDER BY l.id"
)


def peer_id(index: int) -> str:
    return f"12D3KooWScalePeer{index:05d}"


def session_id(peer: int, session: int) -> str:
    return f"01JBENCH{peer:05d}{session:013d}"


def _peer_rows(index: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row one peer contributes, computed with the package's own pure functions."""
    pid = peer_id(index)
    entries: list[CanonicalEntry] = []
    heads: dict[tuple[str, str], str] = {}

    def add(entry: CanonicalEntry) -> CanonicalEntry:
        entries.append(entry)
        if entry.kind != "clock":
            heads[(entry.kind, entry.id)] = entry.hash
        return entry

    frames = [add(frame_entry(pid, f"base/link_{i:03d}", PRESETS[i % 4])).ref for i in range(200)]
    cameras: list[RegistryRef] = robot_sensors(pid, "", frames, add)
    sessions: list[tuple[Any, ...]] = []
    clocks: list[tuple[Any, ...]] = []
    logs: list[tuple[Any, ...]] = []
    log_refs: list[tuple[Any, ...]] = []
    for s in range(SESSIONS_PER_PEER):
        sid = session_id(index, s)
        sessions.append((sid, pid, "bench", STAMP))
        monotonic_id, utc_id = auto_clock_ids(pid, sid)
        monotonic = add(clock_entry(pid, sid, monotonic_id, MONOTONIC_BODY))
        utc = add(clock_entry(pid, sid, utc_id, UTC_BODY))
        clocks += [(sid, c.id, c.hash, STAMP) for c in (monotonic, utc)]
        for k in range(LOGS_PER_SESSION):
            camera = cameras[(s * LOGS_PER_SESSION + k) % 100]
            spec = SensorLogSpec(
                camera,
                monotonic.ref,
                HeadSpec.rolling(5_000_000_000),
                1_000_000_000,
                0,
                frames[(s * LOGS_PER_SESSION + k) % 100],
            )
            plan = plan_log(pid, "bench", sid, spec)
            log_id = (index * SESSIONS_PER_PEER + s) * LOGS_PER_SESSION + k + 1
            head = json.dumps(plan.head, sort_keys=True, separators=(",", ":"))
            logs.append(
                (log_id, sid, plan.resource_id, plan.kind, plan.manifest.decode(), head, STAMP)
            )
            log_refs += [
                (log_id, use.role, use.ref.peer_id, use.ref.id, use.ref.hash) for use in plan.uses
            ]
    assert len(entries) == ENTRIES_PER_PEER, len(entries)
    return {
        "peers": [(pid, STAMP)],
        "sessions": sessions,
        "entries": [
            (e.hash, e.kind, e.peer_id, e.id, e.session_id, e.canonical.decode(), STAMP)
            for e in entries
        ],
        "heads": [(pid, kind, eid, h, STAMP) for (kind, eid), h in heads.items()],
        "clocks": clocks,
        "logs": logs,
        "log_refs": log_refs,
    }


INSERTS = {
    "peers": "INSERT INTO peers (peer_id, first_seen_at) VALUES (?, ?)",
    "sessions": "INSERT INTO sessions (session_id, peer_id, app_id, started_at) VALUES (?,?,?,?)",
    "entries": f"INSERT INTO entries ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "heads": "INSERT INTO heads (peer_id, kind, entry_id, hash, updated_at) VALUES (?,?,?,?,?)",
    "clocks": "INSERT INTO clocks (session_id, clock_id, hash, updated_at) VALUES (?, ?, ?, ?)",
    "logs": "INSERT INTO logs (id, session_id, resource_id, kind, manifest_json, head_json, "
    "registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "log_refs": "INSERT INTO log_refs (log_id, role, peer_id, entry_id, hash) VALUES (?,?,?,?,?)",
}


def build(peers: int) -> Path:
    """The cached store of `peers` peers, built if missing; returns its storage root."""
    root = BENCH_DIR / f"scale-{migrate.HEAD}-{peers}peers"
    stats = root / "stats.json"
    if stats.exists():
        return root
    if root.exists():
        for path in root.iterdir():
            path.unlink()
    started = time.perf_counter()
    print(f"  building {root} ({peers * ENTRIES_PER_PEER:,} entries) ...", flush=True)
    Peer(peer_id(0), "bench").with_storage_root(root).entries()  # schema, as the store makes it
    close_all()
    connection = sqlite3.connect(root / "auki_session.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("PRAGMA cache_size = -400000")
    canonical_bytes = 0
    with multiprocessing.Pool(2) as pool:
        for rows in pool.imap(_peer_rows, range(peers), chunksize=4):
            connection.execute("BEGIN")
            for table, statement in INSERTS.items():
                connection.executemany(statement, rows[table])
            connection.execute("COMMIT")
            canonical_bytes += sum(len(row[5].encode()) for row in rows["entries"])
            canonical_bytes += sum(len(row[4].encode()) for row in rows["logs"])
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.execute("ANALYZE")
    connection.close()
    stats.write_text(json.dumps({"canonical_bytes": canonical_bytes, "peers": peers}))
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    return root


def _lookups(
    name: str,
    subject: Callable[[Any], object],
    baseline: Callable[[Any], object],
    keys: list[Any],
    rounds: int,
) -> Result:
    """Per-lookup microseconds over the same random keys, rounds alternating sides."""
    mine: list[float] = []
    theirs: list[float] = []
    for index in range(rounds):
        order = [(subject, mine), (baseline, theirs)]
        for fn, out in order if index % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            for key in keys:
                fn(key)
            out.append((time.perf_counter() - start) / len(keys) * 1e6)
    return Result(
        name, statistics.median(mine), "us", statistics.median(theirs), "raw sqlite3", target=3.0
    )


def _samples(root: Path, count: int, seed: int = 6) -> dict[str, list[Any]]:
    """Random keys spread over the whole store (the same for both sides)."""
    connection = sqlite3.connect(f"file:{root / 'auki_session.db'}?mode=ro", uri=True)
    peers = json.loads((root / "stats.json").read_text())["peers"]
    rng = random.Random(seed)
    heads: list[tuple[str, str, str]] = []
    refs: list[RegistryRef] = []
    sessions: list[tuple[str, str]] = []
    total = peers * ENTRIES_PER_PEER
    for _ in range(count):
        p = rng.randrange(peers)
        row = connection.execute(
            "SELECT peer_id, kind, entry_id FROM heads WHERE peer_id = ? LIMIT 1 OFFSET ?",
            (peer_id(p), rng.randrange(680)),
        ).fetchone()
        heads.append(row)
        pid, eid, h = connection.execute(
            "SELECT peer_id, entry_id, hash FROM entries WHERE id = ?", (rng.randrange(total) + 1,)
        ).fetchone()
        refs.append(RegistryRef(peer_id=pid, id=eid, hash=h))
        sessions.append((peer_id(p), session_id(p, rng.randrange(SESSIONS_PER_PEER))))
    connection.close()
    return {"heads": heads, "refs": refs, "sessions": sessions}


MEMORY_PROBE = """
import json, sys
from auki_session import Peer
root, keys = sys.argv[1], json.loads(sys.argv[2])
for pid, kind, eid in keys["heads"]:
    Peer(pid, "bench").with_storage_root(root).current(kind, eid)
for pid, sid in keys["sessions"]:
    Peer(pid, "bench").with_storage_root(root).open_session(sid).logs()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the pre-exec (forked) image.
status = open("/proc/self/status").read()
print(status.split("VmHWM:")[1].split()[0])
"""


def _peak_rss_kib(root: Path, keys: dict[str, list[Any]]) -> int:
    probe = {"heads": keys["heads"][:300], "sessions": keys["sessions"][:100]}
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(root), json.dumps(probe)],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip())


def run(quick: bool) -> list[Result]:
    peers = 100 if quick else 1000
    rounds = 5 if quick else 9
    root = build(peers)
    small = build(10)
    keys = _samples(root, 500 if quick else 2000)
    db = root / "auki_session.db"
    raw = raw_connection(db, "full")
    close_all()

    by_peer: dict[str, Peer] = {}

    def peer(pid: str) -> Peer:
        found = by_peer.get(pid)
        if found is None:
            found = by_peer[pid] = Peer(pid, "bench").with_storage_root(root)
        return found

    sessions = [peer(pid).open_session(sid) for pid, sid in keys["sessions"]]
    results = [
        _lookups(
            "current version of an id",
            lambda key: peer(key[0]).current(key[1], key[2]),
            lambda key: raw.execute(CURRENT_SQL, key).fetchone(),
            keys["heads"],
            rounds,
        ),
        _lookups(
            "an entry by ref",
            lambda ref: peer(ref.peer_id).entry(ref),
            lambda ref: raw.execute(ENTRY_SQL, (ref.hash,)).fetchone(),
            keys["refs"],
            rounds,
        ),
        _lookups(
            f"a session's logs ({LOGS_PER_SESSION} logs)",
            lambda session: session.logs(),
            lambda session: raw.execute(LOGS_SQL, (session.session_id,)).fetchall(),
            sessions,
            rounds,
        ),
    ]
    raw.close()
    close_all()
    results += _file_size(root)
    big_rss = _peak_rss_kib(root, keys)
    small_rss = _peak_rss_kib(small, _samples(small, 400))
    results.append(
        Result(
            "peak RSS of a process opening it",
            big_rss / 1024,
            "MiB",
            small_rss / 1024,
            "10,000-entry store",
            target=1.1,
            note=f"{big_rss - small_rss:+,} KiB vs the small store",
        )
    )
    return results


def _file_size(root: Path) -> list[Result]:
    db = root / "auki_session.db"
    stats = json.loads((root / "stats.json").read_text())
    canonical = stats["canonical_bytes"]
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    parts = connection.execute(
        "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
    ).fetchall()
    connection.close()
    size = db.stat().st_size
    shown = ", ".join(f"{name} {pages / 2**20:.0f}" for name, pages in parts[:8])
    floor = stats.get("floor_bytes") or _floor_size(root, stats)
    return [
        Result(
            "database file size",
            size / 2**20,
            "MiB",
            canonical / 2**20,
            "canonical JSON",
            target=1.5,
            note=f"MiB by table/index: {shown}",
        ),
        Result(
            "  floor: canonical JSON + hash + hash index",
            floor / 2**20,
            "MiB",
            canonical / 2**20,
            "canonical JSON",
            kind="info",
            note=(
                "a SQLite file holding only each entry's hash and canonical JSON (the lookup by "
                "ref's index on the hash) and each log's manifest; "
                f"{(1.5 * canonical - floor) / 2**20:.1f} MiB left under 1.5x for the rest"
            ),
        ),
    ]


def _floor_size(root: Path, stats: dict[str, Any]) -> int:
    """The size of the smallest SQLite file that holds what the store must: each entry's hash
    (indexed, for the lookup by ref) and canonical JSON, and each log's manifest. Cached in
    stats.json."""
    floor_db = root / "floor.db"
    floor_db.unlink(missing_ok=True)
    connection = sqlite3.connect(floor_db, isolation_level=None)
    connection.execute("ATTACH ? AS store", (f"file:{root / 'auki_session.db'}?mode=ro",))
    connection.executescript(
        """
        BEGIN;
        CREATE TABLE entries (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,
                              canonical_json TEXT NOT NULL);
        INSERT INTO entries (hash, canonical_json)
            SELECT hash, canonical_json FROM store.entries ORDER BY id;
        CREATE TABLE logs (id INTEGER PRIMARY KEY, manifest_json TEXT NOT NULL);
        INSERT INTO logs SELECT id, manifest_json FROM store.logs ORDER BY id;
        COMMIT;
        DETACH store;
        VACUUM;
        """
    )
    connection.close()
    size = floor_db.stat().st_size
    floor_db.unlink()
    stats["floor_bytes"] = size
    (root / "stats.json").write_text(json.dumps(stats))
    return size


if __name__ == "__main__":
    main(run, TITLE)
