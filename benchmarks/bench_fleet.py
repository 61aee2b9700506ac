"""Target 7: a fleet of robots pushing their stores into one PostgreSQL database, and reading it.

Each figure stands beside a baseline measured in the same run on the same machine (PostgreSQL on
127.0.0.1, the databases below made by this benchmark and dropped or kept only under names that
start with `auki_bench_`):

1. The first push of a large robot store (200,000 entries and 100,000 logs, about 690,000 rows;
   quick: a tenth) into a fresh fleet database, against a raw union of the same rows: psycopg
   COPY into temporary tables, then INSERT ... SELECT ... ON CONFLICT DO NOTHING into the real
   tables of another fresh database with the same schema (both made from one template).
2. A re-push of the unchanged store (an absolute ceiling of 1 s; the raw count query beside it,
   counting the store's rows and the fleet's rows of its peer, is there for scale), and a push
   after one new session (registered through the public API: 3 clocks, 4 sensor logs) against
   inserting only that session's rows raw.
3. Eight robots pushing at once (subprocesses running the CLI's push) into one fresh fleet,
   against eight raw unions at once (subprocesses running the raw union) into another.
4. `verify --url` on the fleet (production: 100 robots, 1,000,000 entries): the child's peak RSS
   (its own rusage, taken by a small launcher process, so the benchmark's memory is not
   counted) and its time against a raw streaming run of the same checks (server-side cursors
   over every entry: its hash recomputed with `auki_session.content_hash`, its JSON parsed,
   re-canonicalised with `auki_session.canonical_json` and compared, its peer and id compared
   with the columns; over every log, change and session; then the same cross-table checks in
   SQL), also a subprocess.
5. Fleet queries in-process (the Reader calls the CLI's `entries --peer`, `sessions --peer`,
   `history ID --peer` and `show HASH` make, on a store opened once) against hand-written SQL
   on a bare psycopg connection; and EXPLAIN of every statement those calls send (recorded on
   the connection), failing if a fleet-sized table (entries, heads, logs) is read by Seq Scan.
6. The CLI's fixed cost (`python -m auki_session --url URL peers` on a one-robot fleet), an
   absolute ceiling of 0.25 s, beside `python -c pass` and `python -c 'import sqlalchemy'`.

Robot stores are built once with raw SQL rows (canonical entries made by the package's own pure
functions, hashed with its content hash, every current version with a sequence number) in a
store first opened through the package (schema and store identity as the package makes them),
and cached under BENCH_DIR. The fleet is populated once with `push_store`, the realistic path,
and cached in a PostgreSQL database whose name carries BUILD and the schema revision (a changed
builder or schema rebuilds it); the database's comment marks it complete.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import multiprocessing
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from auki_session import FrameDef, HeadSpec, Peer, RegistryRef, SensorLogSpec
from auki_session._domain.clocks import MONOTONIC_BODY, UTC_BODY, auto_clock_ids
from auki_session._domain.entries import (
    CanonicalEntry,
    clock_entry,
    frame_entry,
)
from auki_session._domain.logs import plan_log
from auki_session._store import migrate
from auki_session._store.engines import make_server_engine
from auki_session._store.push import PushOptions, PushReport, push_store
from auki_session._store.reader import Reader
from auki_session._store.store import Store, close_all, open_store
from auki_session._store.tables import metadata

from ._harness import BENCH_DIR, Result, main, robot_sensors, scratch

TITLE = "7. fleet: robot stores pushed into PostgreSQL, and the fleet read back"
BUILD = "f1"
"""Bump when the builder changes: cached stores and the cached fleet are rebuilt."""


def _schema_fingerprint() -> str:
    """A digest of the declared tables and columns: a schema changed under the same revision
    name (during development) rebuilds the caches too."""
    shape = sorted(
        (table.name, [(column.name, str(column.type)) for column in table.columns])
        for table in metadata.tables.values()
    )
    return hashlib.sha256(repr(shape).encode()).hexdigest()[:8]


KEY = f"{BUILD}_{migrate.HEAD.split('_')[0]}_{_schema_fingerprint()}"
"""In the names of cached stores and databases: the builder, the schema revision and shape."""
SERVER = "postgresql://postgres@127.0.0.1:5432/"
STAMP = "2026-11-25T12:00:00.000000Z"
PRESETS = (FrameDef.ros_body(), FrameDef.ros_optical(), FrameDef.opengl(), FrameDef.unity())
SESSIONS_PER_BLOCK = 10
ENTRIES_PER_BLOCK = 1000
FLEET_TABLES = ("entries", "heads", "logs")
"""Tables that grow with the fleet: a one-robot question must not read them by Seq Scan."""
COMPLETE = f"auki bench fleet {BUILD} complete"


@dataclass(frozen=True, slots=True)
class Sizes:
    big_blocks: int
    """The large robot store: blocks of 1,000 entries (10 sessions each)."""
    big_logs_per_session: int
    robots: int
    robot_blocks: int
    robot_logs_per_session: int
    rounds: int


QUICK = Sizes(20, 50, 20, 2, 10, 3)
PRODUCTION = Sizes(200, 50, 100, 10, 10, 3)


# --- robot stores -------------------------------------------------------------------------------


def peer_id(robot: int) -> str:
    return f"fleet-robot-{robot:05d}"


def session_id(robot: int, block: int, session: int) -> str:
    return f"01JBENCHF{robot:05d}{block:03d}{session:09d}"


Rows = dict[str, list[tuple[Any, ...]]]


def _block_rows(task: tuple[int, int, int]) -> Rows:
    """The rows of one block of a robot's store: 1,000 entries (200 frames, 100 cameras x 3
    versions, 100 lidars, 100 joint encoders, 80 scalars, 100 detectors x 2 versions, 10
    sessions with their 2 clocks) and `logs_per_session` camera logs per session (a frame
    reference on every other one)."""
    robot, block, logs_per_session = task
    pid = peer_id(robot)
    prefix = f"b{block:03d}/"
    entries: list[CanonicalEntry] = []
    heads: dict[tuple[str, str], tuple[str, int]] = {}

    def add(entry: CanonicalEntry) -> CanonicalEntry:
        entries.append(entry)
        if entry.kind != "clock":
            _, versions = heads.get((entry.kind, entry.id), ("", 0))
            heads[(entry.kind, entry.id)] = (entry.hash, versions + 1)
        return entry

    frames = [
        add(frame_entry(pid, f"{prefix}link_{i:03d}", PRESETS[i % 4])).ref for i in range(200)
    ]
    cameras: list[RegistryRef] = robot_sensors(pid, prefix, frames, add)
    sessions: list[tuple[Any, ...]] = []
    clocks: list[tuple[Any, ...]] = []
    logs: list[tuple[Any, ...]] = []
    log_refs: list[tuple[Any, ...]] = []
    for s in range(SESSIONS_PER_BLOCK):
        sid = session_id(robot, block, s)
        sessions.append((sid, pid, "bench", STAMP, None))
        monotonic_id, utc_id = auto_clock_ids(pid, sid)
        monotonic = add(clock_entry(pid, sid, monotonic_id, MONOTONIC_BODY))
        utc = add(clock_entry(pid, sid, utc_id, UTC_BODY))
        clocks += [(sid, c.id, c.hash, STAMP, None, 1) for c in (monotonic, utc)]
        for k in range(logs_per_session):
            which = (s * logs_per_session + k) % 100
            spec = SensorLogSpec(
                cameras[which],
                monotonic.ref,
                HeadSpec.rolling(5_000_000_000),
                1_000_000_000,
                0,
                frames[which] if k % 2 else None,
            )
            plan = plan_log(pid, "bench", sid, spec)
            log_id = (block * SESSIONS_PER_BLOCK + s) * logs_per_session + k + 1
            head = json.dumps(plan.head, sort_keys=True, separators=(",", ":"))
            logs.append(
                (log_id, sid, plan.resource_id, plan.kind, plan.manifest.decode(), head, STAMP)
            )
            log_refs += [
                (log_id, use.role, use.ref.peer_id, use.ref.id, use.ref.hash) for use in plan.uses
            ]
    assert len(entries) == ENTRIES_PER_BLOCK, len(entries)
    return {
        "sessions": sessions,
        "entries": [
            (e.hash, e.kind, e.peer_id, e.id, e.session_id, e.canonical.decode(), STAMP)
            for e in entries
        ],
        "heads": [(pid, kind, eid, h, STAMP, n) for (kind, eid), (h, n) in heads.items()],
        "clocks": clocks,
        "logs": logs,
        "log_refs": log_refs,
    }


INSERTS = {
    "sessions": "INSERT INTO sessions (session_id, peer_id, app_id, started_at, signature) "
    "VALUES (?, ?, ?, ?, ?)",
    "entries": "INSERT INTO entries (hash, kind, peer_id, entry_id, session_id, canonical_json, "
    "registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "heads": "INSERT INTO heads (peer_id, kind, entry_id, hash, updated_at, sequence) "
    "VALUES (?, ?, ?, ?, ?, ?)",
    "clocks": "INSERT INTO clocks (session_id, clock_id, hash, updated_at, signature, sequence) "
    "VALUES (?, ?, ?, ?, ?, ?)",
    "logs": "INSERT INTO logs (id, session_id, resource_id, kind, manifest_json, head_json, "
    "registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "log_refs": "INSERT INTO log_refs (log_id, role, peer_id, entry_id, hash) "
    "VALUES (?, ?, ?, ?, ?)",
}
STORE_TABLES = ("peers", "sessions", "entries", "heads", "clocks", "logs", "log_refs")


def _store_dir() -> Path:
    return BENCH_DIR / f"fleet-{KEY}"


def build_stores(robots: Sequence[int], blocks: int, logs_per_session: int, tag: str) -> list[Path]:
    """The cached stores of these robots (each `blocks` blocks), built where missing; returns
    their storage roots. A store is complete when its counts.json exists."""
    roots = [_store_dir() / f"{tag}-{robot:05d}-{blocks}b{logs_per_session}l" for robot in robots]
    missing = [
        (robot, root)
        for robot, root in zip(robots, roots, strict=True)
        if not (root / "counts.json").exists()
    ]
    if not missing:
        return roots
    started = time.perf_counter()
    print(
        f"  building {len(missing)} robot store(s) of {blocks * ENTRIES_PER_BLOCK:,} entries "
        f"under {_store_dir()} ...",
        flush=True,
    )
    tasks = [(robot, block, logs_per_session) for robot, _ in missing for block in range(blocks)]
    connection: sqlite3.Connection | None = None
    current = -1
    counts: dict[str, int] = {}
    done = 0
    where = dict(missing)
    with multiprocessing.Pool(2) as pool:
        for (robot, block, _), rows in zip(
            tasks, pool.imap(_block_rows, tasks, chunksize=2), strict=True
        ):
            if robot != current:
                _finish_store(connection, where.get(current), counts)
                connection, counts = _start_store(robot, where[robot]), {}
                current = robot
            assert connection is not None
            connection.execute("BEGIN")
            for table, statement in INSERTS.items():
                connection.executemany(statement, rows[table])
                counts[table] = counts.get(table, 0) + len(rows[table])
            connection.execute("COMMIT")
            done += 1
            if block == blocks - 1 and len(missing) > 1 and (done // blocks) % 10 == 0:
                print(f"    {done // blocks} of {len(missing)} stores", flush=True)
    _finish_store(connection, where.get(current), counts)
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    return roots


def _start_store(robot: int, root: Path) -> sqlite3.Connection:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    # The schema and the store's random identity, as the package makes them.
    Peer(peer_id(robot), "bench").with_storage_root(root).entries()
    close_all()
    connection = sqlite3.connect(root / "auki_session.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute(
        "INSERT INTO peers (peer_id, first_seen_at) VALUES (?, ?)", (peer_id(robot), STAMP)
    )
    return connection


def _finish_store(
    connection: sqlite3.Connection | None, root: Path | None, counts: dict[str, int]
) -> None:
    if connection is None or root is None:
        return
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.execute("ANALYZE")
    connection.close()
    counts["peers"] = 1
    (root / "counts.json").write_text(json.dumps(counts))


def store_rows(root: Path) -> int:
    counts: dict[str, int] = json.loads((root / "counts.json").read_text())
    return sum(counts.values())


# --- databases ----------------------------------------------------------------------------------


def url_of(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def dsn_of(name: str) -> str:
    return SERVER + name


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(dsn_of("postgres"), autocommit=True)


def _template() -> str:
    """A database holding the schema at this code's head, made once: fresh fleets are copies."""
    name = f"auki_bench_tmpl_{KEY}"
    with _admin() as admin:
        found = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
        if found is not None and found[0] == COMPLETE:
            return name
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_server_engine(url_of(name))
    try:
        migrate.ensure_schema(engine, name)
    finally:
        engine.dispose()
    with _admin() as admin:
        admin.execute(f"COMMENT ON DATABASE \"{name}\" IS '{COMPLETE}'")
    return name


def drop_stale() -> None:
    """Drop this benchmark's cached databases of another builder or schema."""
    with _admin() as admin:
        names = [
            row[0]
            for row in admin.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'auki\\_bench\\_fleet\\_%' "
                "OR datname LIKE 'auki\\_bench\\_tmpl\\_%'"
            )
        ]
        for name in names:
            if KEY not in name:
                print(f"  dropping {name} (another builder or schema)", flush=True)
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database(name: str) -> str:
    """(Re)create `name` as a copy of the schema template; returns its SQLAlchemy URL."""
    assert name.startswith("auki_bench_")
    template = _template()
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return url_of(name)


def drop_database(name: str) -> None:
    assert name.startswith("auki_bench_")
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _push_one(task: tuple[str, str]) -> tuple[str, int, float]:
    root, url = task
    started = time.perf_counter()
    report = push_store(Path(root), url)
    return root, len(report.problems), time.perf_counter() - started


def build_fleet(sizes: Sizes) -> tuple[str, list[Path]]:
    """The cached fleet database (name) and its robots' stores, pushed with push_store."""
    roots = build_stores(
        range(sizes.robots), sizes.robot_blocks, sizes.robot_logs_per_session, "robot"
    )
    name = f"auki_bench_fleet_{KEY}_{sizes.robots}x{sizes.robot_blocks}"
    with _admin() as admin:
        found = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    if found is not None and found[0] == COMPLETE:
        return name, roots
    url = fresh_database(name)
    started = time.perf_counter()
    total = sizes.robots * sizes.robot_blocks * ENTRIES_PER_BLOCK
    print(f"  pushing {len(roots)} robots ({total:,} entries) into {name} ...", flush=True)
    problems = 0
    close_all()
    with multiprocessing.Pool(2) as pool:
        tasks = [(str(root), url) for root in roots]
        for done, (_, refused, _) in enumerate(pool.imap_unordered(_push_one, tasks), 1):
            problems += refused
            if done % 10 == 0 or done == len(tasks):
                print(
                    f"    {done} of {len(tasks)} pushed ({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
    if problems:
        raise RuntimeError(f"building the fleet: pushes reported {problems} problem(s)")
    with psycopg.connect(dsn_of(name), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    with _admin() as admin:
        admin.execute(f"COMMENT ON DATABASE \"{name}\" IS '{COMPLETE}'")
    print(f"  fleet built in {time.perf_counter() - started:.0f} s", flush=True)
    return name, roots


# --- raw baselines (self-contained: run in-process, or as a script in a subprocess) -------------


def raw_union(db_path: str, dsn: str) -> int:
    """Every row of a robot's SQLite store COPied into temporary tables, then INSERT ... SELECT
    ... ON CONFLICT DO NOTHING into the fleet's tables, in one transaction; returns the rows
    sent. Log references follow their log to its fleet row id by (session, resource)."""
    import datetime
    import hashlib
    import sqlite3

    import psycopg

    columns = {
        "peers": "peer_id, first_seen_at",
        "sessions": "session_id, peer_id, app_id, started_at, signature",
        "entries": "hash, kind, peer_id, entry_id, session_id, canonical_json, registered_at, "
        "signature",
        "heads": "peer_id, kind, entry_id, hash, updated_at, signature, sequence",
        "clocks": "session_id, clock_id, hash, updated_at, signature, sequence",
        "logs": "id, session_id, resource_id, kind, manifest_json, head_json, registered_at, "
        "signature",
        "log_refs": "log_id, role, peer_id, entry_id, hash",
    }
    order = {"entries": " ORDER BY id", "logs": " ORDER BY id"}
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    (store_id,) = source.execute("SELECT store_id FROM store_identity").fetchone()
    digest = hashlib.sha256(store_id.encode("utf-8")).hexdigest()
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sent = 0
    with psycopg.connect(dsn) as target, target.cursor() as cursor:
        for table, names in columns.items():
            cursor.execute(
                f"CREATE TEMP TABLE tmp_{table} ON COMMIT DROP AS "
                f"SELECT {names} FROM {table} WITH NO DATA"
            )
            with cursor.copy(f"COPY tmp_{table} ({names}) FROM STDIN") as copy:
                for row in source.execute(f"SELECT {names} FROM {table}{order.get(table, '')}"):
                    copy.write_row(row)
                    sent += 1
        for table in ("peers", "sessions", "entries", "heads", "clocks"):
            names = columns[table]
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM tmp_{table} "
                "ON CONFLICT DO NOTHING"
            )
        cursor.execute(
            "INSERT INTO fleet_bindings (peer_id, authority, store_digest, bound_at, "
            "last_push_at) SELECT peer_id, 'store', %s, %s, %s FROM tmp_peers "
            "ON CONFLICT DO NOTHING",
            (digest, now, now),
        )
        names = columns["logs"].removeprefix("id, ")
        cursor.execute(
            f"INSERT INTO logs ({names}) SELECT {names} FROM tmp_logs ORDER BY id "
            "ON CONFLICT DO NOTHING"
        )
        cursor.execute(
            "INSERT INTO log_refs (log_id, role, peer_id, entry_id, hash) "
            "SELECT l.id, r.role, r.peer_id, r.entry_id, r.hash FROM tmp_log_refs AS r "
            "JOIN tmp_logs AS t ON t.id = r.log_id "
            "JOIN logs AS l ON l.session_id = t.session_id AND l.resource_id = t.resource_id "
            "ON CONFLICT DO NOTHING"
        )
    source.close()
    return sent


def raw_check(dsn: str) -> tuple[int, int]:
    """The checks `verify --url` runs, by hand: every entry streamed on a server-side cursor,
    its xxh3-128 content hash recomputed from its bytes, its JSON parsed, re-canonicalised and
    compared, and the peer and id it names compared with its columns; every log, change of
    current version and session streamed (a log's head spec parsed); then the same cross-table
    checks in SQL (current versions naming another id's version, clock versions in another
    peer's session, changes without a sequence number, peers without a binding). Returns
    (entries, problems)."""
    import json

    import psycopg

    from auki_session import canonical_json, content_hash

    id_keys = {"frame": "frame_id", "sensor": "sensor_id", "detector": "detector_id"}
    id_keys["clock"] = "clock_id"
    count = bad = 0
    with psycopg.connect(dsn) as connection:
        with connection.cursor(name="every_entry") as cursor:
            cursor.itersize = 2000
            cursor.execute("SELECT hash, kind, peer_id, entry_id, canonical_json FROM entries")
            for entry_hash, kind, peer_id, entry_id, canonical in cursor:
                count += 1
                data = canonical.encode("utf-8")
                value = json.loads(data)
                if (
                    content_hash(data) != entry_hash
                    or canonical_json(value) != data
                    or value.get("peer_id") != peer_id
                    or value.get(id_keys[kind]) != entry_id
                ):
                    bad += 1
        streams = {
            "logs": "SELECT l.session_id, s.peer_id, l.resource_id, l.head_json FROM logs AS l "
            "JOIN sessions AS s ON s.session_id = l.session_id",
            "heads": "SELECT peer_id, kind, entry_id, hash, sequence, signature FROM heads",
            "clocks": "SELECT session_id, clock_id, hash, sequence, signature FROM clocks",
            "sessions": "SELECT session_id, peer_id, app_id, started_at, signature FROM sessions",
        }
        for name, query in streams.items():
            with connection.cursor(name=f"every_{name}") as cursor:
                cursor.itersize = 2000
                cursor.execute(query)
                for row in cursor:
                    if name == "logs" and not isinstance(json.loads(row[3]), dict):
                        bad += 1
        checks = (
            "SELECT count(*) FROM heads AS h JOIN entries AS e ON e.hash = h.hash WHERE "
            "e.peer_id <> h.peer_id OR e.kind <> h.kind OR e.entry_id <> h.entry_id",
            "SELECT count(*) FROM clocks AS c JOIN entries AS e ON e.hash = c.hash WHERE "
            "e.kind <> 'clock' OR e.entry_id <> c.clock_id OR coalesce(e.session_id, '') <> "
            "c.session_id OR e.peer_id <> (SELECT peer_id FROM sessions AS s WHERE "
            "s.session_id = c.session_id)",
            "SELECT count(*) FROM entries AS e JOIN sessions AS s ON s.session_id = "
            "e.session_id WHERE s.peer_id <> e.peer_id",
            "SELECT (SELECT count(*) FROM heads WHERE sequence IS NULL) + "
            "(SELECT count(*) FROM clocks WHERE sequence IS NULL)",
            "SELECT count(*) FROM peers AS p WHERE NOT EXISTS (SELECT 1 FROM fleet_bindings "
            "AS b WHERE b.peer_id = p.peer_id)",
        )
        for check in checks:
            bad += connection.execute(check).fetchone()[0]  # type: ignore[index]
    return count, bad


def _script(function: Callable[..., Any], *conversions: str) -> str:
    """A `python -c` script defining `function` (its own source) and calling it on argv."""
    arguments = ", ".join(
        f"{conversion}(sys.argv[{index + 1}])" for index, conversion in enumerate(conversions)
    )
    return (
        "import sys\n"
        + textwrap.dedent(inspect.getsource(function))
        + f"\nprint({function.__name__}({arguments}))\n"
    )


RAW_UNION_SCRIPT = _script(raw_union, "str", "str")
RAW_CHECK_SCRIPT = _script(raw_check, "str")
LAUNCHER = """
import resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
seconds = time.perf_counter() - started
print(seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)
"""
"""Runs a command and reports its time, peak RSS (KiB) and exit status: the rusage of a child
of this small process, not of the benchmark (whose RSS a vfork()ed child would inherit)."""


def launched(command: list[str]) -> tuple[float, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command], check=True, capture_output=True, text=True
    )
    seconds, kib, code = out.stdout.split()
    return float(seconds), int(kib), int(code)


def raw_session_insert(db_path: str, dsn: str, session: str) -> int:
    """One session's rows (the session, its clock versions, clocks, logs and their references)
    read from the store and inserted with plain INSERTs, in one transaction."""
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    one = (session,)
    sessions = source.execute(
        "SELECT session_id, peer_id, app_id, started_at, signature FROM sessions "
        "WHERE session_id = ?",
        one,
    ).fetchall()
    entries = source.execute(
        "SELECT hash, kind, peer_id, entry_id, session_id, canonical_json, registered_at, "
        "signature FROM entries WHERE session_id = ? ORDER BY id",
        one,
    ).fetchall()
    clocks = source.execute(
        "SELECT session_id, clock_id, hash, updated_at, signature, sequence FROM clocks "
        "WHERE session_id = ?",
        one,
    ).fetchall()
    logs = source.execute(
        "SELECT id, session_id, resource_id, kind, manifest_json, head_json, registered_at, "
        "signature FROM logs WHERE session_id = ? ORDER BY id",
        one,
    ).fetchall()
    refs = source.execute(
        "SELECT r.log_id, r.role, r.peer_id, r.entry_id, r.hash FROM log_refs AS r "
        "JOIN logs AS l ON l.id = r.log_id WHERE l.session_id = ?",
        one,
    ).fetchall()
    source.close()
    with psycopg.connect(dsn) as target, target.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO sessions (session_id, peer_id, app_id, started_at, signature) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            sessions,
        )
        cursor.executemany(
            "INSERT INTO entries (hash, kind, peer_id, entry_id, session_id, canonical_json, "
            "registered_at, signature) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            entries,
        )
        cursor.executemany(
            "INSERT INTO clocks (session_id, clock_id, hash, updated_at, signature, sequence) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            clocks,
        )
        fleet_ids: dict[int, int] = {}
        for log in logs:
            cursor.execute(
                "INSERT INTO logs (session_id, resource_id, kind, manifest_json, head_json, "
                "registered_at, signature) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING RETURNING id",
                log[1:],
            )
            found = cursor.fetchone()
            if found is not None:
                fleet_ids[log[0]] = found[0]
        cursor.executemany(
            "INSERT INTO log_refs (log_id, role, peer_id, entry_id, hash) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(fleet_ids[ref[0]], *ref[1:]) for ref in refs if ref[0] in fleet_ids],
        )
    return len(sessions) + len(entries) + len(clocks) + len(logs) + len(refs)


def raw_counts(db_path: str, dsn: str, peer: str) -> tuple[int, int]:
    """The cheapest check that a store has nothing new for the fleet: count each table's rows
    in the store, and the fleet's rows of its peer."""
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    mine = sum(
        source.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in STORE_TABLES
    )
    source.close()
    with psycopg.connect(dsn) as target:
        row = target.execute(
            "SELECT (SELECT count(*) FROM peers WHERE peer_id = %(p)s)"
            " + (SELECT count(*) FROM sessions WHERE peer_id = %(p)s)"
            " + (SELECT count(*) FROM entries WHERE peer_id = %(p)s)"
            " + (SELECT count(*) FROM heads WHERE peer_id = %(p)s)"
            " + (SELECT count(*) FROM clocks AS c JOIN sessions AS s USING (session_id)"
            "    WHERE s.peer_id = %(p)s)"
            " + (SELECT count(*) FROM logs AS l JOIN sessions AS s USING (session_id)"
            "    WHERE s.peer_id = %(p)s)"
            " + (SELECT count(*) FROM log_refs AS r JOIN logs AS l ON l.id = r.log_id"
            "    JOIN sessions AS s USING (session_id) WHERE s.peer_id = %(p)s)",
            {"p": peer},
        ).fetchone()
    return mine, int(row[0]) if row else 0


# --- measuring ----------------------------------------------------------------------------------


def _seconds(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _pairs(
    subject: Callable[[int], float],
    baseline: Callable[[int], float],
    rounds: int,
    budget: float = float("inf"),
) -> tuple[float, float]:
    """Median seconds of each side, alternating which goes first; each callable times itself
    (so that setting up a fresh database is not counted). Fewer rounds (at least one) once the
    subject's time spent passes `budget` seconds."""
    mine: list[float] = []
    theirs: list[float] = []
    for index in range(rounds):
        if sum(mine) > budget:
            break
        if index % 2:
            theirs.append(baseline(index))
            mine.append(subject(index))
        else:
            mine.append(subject(index))
            theirs.append(baseline(index))
    return statistics.median(mine), statistics.median(theirs)


def _checked(report: PushReport) -> PushReport:
    if report.problems:
        raise RuntimeError(f"push reported problems: {report.problems[:3]}")
    return report


def first_and_again(sizes: Sizes, quick: bool) -> list[Result]:
    """Targets 1 and 2: the first push of the large store, a re-push, a push of one session."""
    (cached,) = build_stores([90000], sizes.big_blocks, sizes.big_logs_per_session, "big")
    rows = store_rows(cached)
    counts = json.loads((cached / "counts.json").read_text())
    results: list[Result] = []
    with scratch("fleet") as work:
        root = work / "robot"
        root.mkdir()
        shutil.copy2(cached / "auki_session.db", root / "auki_session.db")
        db = str(root / "auki_session.db")
        push_url = url_of("auki_bench_push")
        raw_dsn = dsn_of("auki_bench_raw")
        rounds = 1 if not quick else 2

        def pushed(_: int) -> float:
            url = fresh_database("auki_bench_push")
            return _seconds(lambda: _checked(push_store(root, url, PushOptions())))

        def unioned(_: int) -> float:
            fresh_database("auki_bench_raw")
            return _seconds(lambda: raw_union(db, raw_dsn))

        print(f"  first push of a {rows:,}-row store, {rounds} round(s) ...", flush=True)
        first, raw = _pairs(pushed, unioned, rounds)
        results.append(
            Result(
                f"first push: {counts['entries'] // 1000}k entries, {counts['logs'] // 1000}k logs",
                first,
                "s",
                raw,
                "raw COPY + INSERT..SELECT",
                target=2.0,
                note=f"{rows:,} rows ({', '.join(f'{t} {n:,}' for t, n in counts.items())}); "
                f"push {rows / first:,.0f} rows/s, raw union {rows / raw:,.0f} rows/s",
            )
        )
        # The fleets now hold the store: re-push it unchanged.
        again: list[float] = []
        for _ in range(sizes.rounds):
            again.append(_seconds(lambda: _checked(push_store(root, push_url, PushOptions()))))
            if sum(again) > 60:
                break
        counted = statistics.median(
            _seconds(lambda: raw_counts(db, raw_dsn, peer_id(90000))) for _ in range(3)
        )
        results.append(
            Result(
                "re-push of the unchanged store",
                statistics.median(again),
                "s",
                counted,
                "raw count query",
                kind="max_value",
                target=1.0,
                note=f"median of {len(again)}; the ceiling is absolute, the raw count query "
                "(each store table counted, and the fleet's rows of its peer) is for scale",
            )
        )
        results.append(_one_session(root, db, push_url, raw_dsn, sizes.rounds + 2))
    drop_database("auki_bench_push")
    drop_database("auki_bench_raw")
    return results


def _one_session(root: Path, db: str, push_url: str, raw_dsn: str, rounds: int) -> Result:
    """A new session (2 automatic clocks, 1 more, 4 sensor logs) registered through the public
    API, then pushed; the baseline inserts only that session's rows raw into the other fleet.
    Each round adds its own session."""
    peer = Peer(peer_id(90000), "bench").with_storage_root(root)
    cameras = [peer.current("sensor", f"b000/cam_{i:03d}") for i in range(4)]
    new: list[str] = []

    def add_session() -> str:
        session = peer.start_session()
        session.register_clock("ptp", {**MONOTONIC_BODY, "scope": "domain-local"})
        for camera in cameras:
            assert camera is not None
            session.register_sensor_log(
                SensorLogSpec(
                    camera.ref,
                    session.monotonic_clock,
                    HeadSpec.rolling(5_000_000_000),
                    1_000_000_000,
                    0,
                )
            )
        close_all()
        new.append(session.session_id)
        return session.session_id

    sessions_of: dict[int, str] = {}

    def session_for(index: int) -> str:
        if index not in sessions_of:
            sessions_of[index] = add_session()
        return sessions_of[index]

    def pushed(index: int) -> float:
        session_for(index)
        return _seconds(lambda: _checked(push_store(root, push_url, PushOptions())))

    sent: list[int] = []

    def inserted(index: int) -> float:
        chosen = session_for(index)
        return _seconds(lambda: sent.append(raw_session_insert(db, raw_dsn, chosen)))

    mine, theirs = _pairs(pushed, inserted, rounds, budget=60)
    return Result(
        "push after one new session",
        mine * 1000,
        "ms",
        theirs * 1000,
        "raw INSERT of its rows",
        target=3.0,
        note=f"median of {len(sent)}; each round a new session of {sent[0]} rows (session, 3 clock "
        "versions and clocks, 4 logs and their refs) registered through the public API",
    )


def concurrent(roots: list[Path]) -> Result:
    """Target 3: eight robots at once, CLI pushes against raw unions, each into a fresh fleet."""
    eight = roots[:8]
    rows = sum(store_rows(root) for root in eight)

    def at_once(commands: list[list[str]]) -> float:
        started = time.perf_counter()
        running = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for command in commands]
        codes = [process.wait() for process in running]
        seconds = time.perf_counter() - started
        if any(codes):
            raise RuntimeError(f"a concurrent run failed: exit statuses {codes}")
        return seconds

    def pushes(_: int) -> float:
        url = fresh_database("auki_bench_conc_push")
        python = [sys.executable, "-m", "auki_session", "push"]
        return at_once([[*python, str(root), url] for root in eight])

    def unions(_: int) -> float:
        fresh_database("auki_bench_conc_raw")
        dsn = dsn_of("auki_bench_conc_raw")
        script = [sys.executable, "-c", RAW_UNION_SCRIPT]
        return at_once([[*script, str(root / "auki_session.db"), dsn] for root in eight])

    print(f"  8 concurrent pushes of {rows:,} rows ...", flush=True)
    mine, theirs = _pairs(pushes, unions, 2)
    drop_database("auki_bench_conc_push")
    drop_database("auki_bench_conc_raw")
    return Result(
        "8 concurrent pushes (CLI subprocesses)",
        mine,
        "s",
        theirs,
        "8 concurrent raw unions",
        target=2.0,
        note=f"{rows:,} rows in all, into one fresh fleet; median of 2; push "
        f"{rows / mine:,.0f} rows/s, raw {rows / theirs:,.0f} rows/s",
    )


def verify_fleet(fleet: str, entries: int, quick: bool) -> list[Result]:
    """Target 4: `verify --url` on the fleet against a raw streaming check of every entry."""
    url = url_of(fleet)
    rounds = 2 if quick else 1
    verify = [sys.executable, "-m", "auki_session", "--url", url, "verify"]
    check = [sys.executable, "-c", RAW_CHECK_SCRIPT, dsn_of(fleet)]
    print(f"  verify --url on {entries:,} entries, {rounds} round(s) ...", flush=True)
    runs: dict[str, list[tuple[float, int, int]]] = {"verify": [], "check": []}
    for index in range(rounds):
        order = [("verify", verify), ("check", check)]
        for name, command in order if index % 2 == 0 else order[::-1]:
            runs[name].append(launched(command))
    seconds = statistics.median(run[0] for run in runs["verify"])
    raw_seconds = statistics.median(run[0] for run in runs["check"])
    peak = max(run[1] for run in runs["verify"]) / 1024
    raw_peak = max(run[1] for run in runs["check"]) / 1024
    status = sorted({run[2] for run in runs["verify"]})
    size = f"{entries:,} entries" + (" (quick: not the target's 1M)" if quick else "")
    return [
        Result(
            "verify --url: time",
            seconds,
            "s",
            raw_seconds,
            "raw streaming check",
            target=1.2,
            note=f"{size}; verify exit status {status}; both are whole subprocesses",
        ),
        Result(
            "verify --url: peak RSS",
            peak,
            "MiB",
            raw_peak,
            "raw streaming check's",
            kind="max_value",
            target=100,
            note="the child's own rusage (ru_maxrss via a small launcher process)",
        ),
    ]


# --- fleet queries ------------------------------------------------------------------------------


class Recording(psycopg.Cursor[Any]):
    """A psycopg cursor noting every statement it executes, to EXPLAIN what the package sent."""

    sent: list[tuple[str, Any]] = []  # noqa: RUF012 (shared on purpose: one recorder)

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        Recording.sent.append((str(query), params))
        return super().execute(query, params, **options)


HAND_SQL = {
    "current entries of one robot": (
        "SELECT e.kind, e.peer_id, e.entry_id, e.hash, e.session_id, e.canonical_json, "
        "e.registered_at, e.signature FROM heads AS h JOIN entries AS e ON e.hash = h.hash "
        "WHERE h.peer_id = %s ORDER BY h.kind, h.entry_id"
    ),
    "sessions of one robot": (
        "SELECT s.session_id, s.peer_id, s.app_id, s.started_at, s.signature, "
        "(SELECT count(*) FROM clocks AS c WHERE c.session_id = s.session_id), "
        "(SELECT count(*) FROM logs AS l WHERE l.session_id = s.session_id) "
        "FROM sessions AS s WHERE s.peer_id = %s ORDER BY s.session_id"
    ),
    "history of one id": (
        "SELECT e.kind, e.peer_id, e.entry_id, e.hash, e.session_id, e.canonical_json, "
        "e.registered_at, e.signature, h.hash IS NOT NULL FROM entries AS e "
        "LEFT JOIN heads AS h ON h.peer_id = e.peer_id AND h.kind = e.kind "
        "AND h.entry_id = e.entry_id AND h.hash = e.hash "
        "WHERE e.peer_id = %s AND e.entry_id = %s ORDER BY e.kind, e.session_id, e.id"
    ),
    "an entry by hash": (
        "SELECT kind, peer_id, entry_id, hash, session_id, canonical_json, registered_at, "
        "signature FROM entries WHERE hash = %s"
    ),
}


def _package_calls() -> dict[str, Callable[[Reader, tuple[str, ...]], object]]:
    """What the CLI's commands read for each question (rendering left out)."""

    def history(reader: Reader, key: tuple[str, ...]) -> object:
        found = reader.history(key[0], None, key[1])
        return found, reader.current_among(found)  # the CLI marks the current versions

    return {
        "current entries of one robot": lambda reader, key: reader.current_entries(key[0]),
        "sessions of one robot": lambda reader, key: reader.session_summaries(key[0]),
        "history of one id": history,
        "an entry by hash": lambda reader, key: reader.entry(key[0]),
    }


def _keys(fleet: str, robots: int, count: int) -> dict[str, list[tuple[str, ...]]]:
    rng = random.Random(7)
    peers = [peer_id(rng.randrange(robots)) for _ in range(count)]
    ids = [f"b{rng.randrange(2):03d}/cam_{rng.randrange(100):03d}" for _ in range(count)]
    with psycopg.connect(dsn_of(fleet)) as connection:
        hashes = [
            row[0]
            for row in connection.execute(
                "SELECT hash FROM entries WHERE peer_id = ANY(%s) AND kind = 'sensor' "
                "ORDER BY hash LIMIT %s",
                (peers, count),
            )
        ]
    return {
        "current entries of one robot": [(p,) for p in peers],
        "sessions of one robot": [(p,) for p in peers],
        "history of one id": list(zip(peers, ids, strict=True)),
        "an entry by hash": [(h,) for h in hashes],
    }


@contextmanager
def _reading(store: Store) -> Iterator[Reader]:
    with store.read() as reader:
        yield reader


def queries(fleet: str, robots: int, quick: bool) -> list[Result]:
    """Target 5: the package's reads of one robot's data against hand-written SQL, per call, and
    EXPLAIN of every statement the package sent."""
    keys = _keys(fleet, robots, 10 if quick else 20)
    rounds = 3 if quick else 5
    store = open_store(BENCH_DIR, url=url_of(fleet), readonly=True)
    raw = psycopg.connect(dsn_of(fleet))
    calls = _package_calls()
    results: list[Result] = []
    plans: dict[str, list[tuple[str, Any]]] = {}
    for name, call in calls.items():
        sql = HAND_SQL[name]

        def subject(key: tuple[str, ...], call: Callable[..., object] = call) -> object:
            with _reading(store) as reader:
                return call(reader, key)

        def baseline(key: tuple[str, ...], sql: str = sql) -> object:
            with raw.transaction():
                return raw.execute(sql, key).fetchall()

        mine: list[float] = []
        theirs: list[float] = []
        for index in range(rounds):
            order: list[tuple[Callable[[tuple[str, ...]], object], list[float]]] = [
                (subject, mine),
                (baseline, theirs),
            ]
            for fn, out in order if index % 2 == 0 else order[::-1]:
                started = time.perf_counter()
                for key in keys[name]:
                    fn(key)
                out.append((time.perf_counter() - started) / len(keys[name]) * 1000)
        results.append(
            Result(
                name,
                statistics.median(mine),
                "ms",
                statistics.median(theirs),
                "psycopg SQL",
                target=2.0,
            )
        )
        with _reading(store) as reader:
            connection = reader.run.dbapi_connection
            connection.cursor_factory = Recording
            Recording.sent = []
            calls[name](reader, keys[name][0])
            connection.cursor_factory = psycopg.Cursor
            plans[name] = list(Recording.sent)
    store.close()
    for name, sent in plans.items():
        results.append(_explained(raw, name, sent))
    raw.close()
    return results


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _explained(raw: psycopg.Connection[Any], name: str, sent: list[tuple[str, Any]]) -> Result:
    shown: list[str] = []
    scans = 0
    for query, params in sent:
        if not query.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        with raw.transaction():
            found = raw.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()
        assert found is not None
        document: Any = found[0]
        nodes = []
        for node in _nodes(document[0]["Plan"]):
            relation = node.get("Relation Name")
            label = node["Node Type"] + (f" on {relation}" if relation else "")
            nodes.append(label)
            if node["Node Type"] == "Seq Scan" and relation in FLEET_TABLES:
                scans += 1
        shown.append(" > ".join(nodes))
    return Result(
        f"EXPLAIN {name}",
        scans,
        "seq scans",
        kind="max_value",
        target=0,
        note=f"Seq Scans of {'/'.join(FLEET_TABLES)} counted; {len(shown)} statement(s): "
        + " | ".join(shown),
    )


# --- the CLI's fixed cost -----------------------------------------------------------------------


def cli_cost(quick: bool) -> list[Result]:
    """Target 6: a trivial CLI command on a one-robot fleet against bare interpreters."""
    (root,) = build_stores([80000], 1, 1, "tiny")
    name = f"auki_bench_tiny_{KEY}"
    url = fresh_database(name)
    _checked(push_store(root, url))
    python = sys.executable
    peers = [python, "-m", "auki_session", "--url", url, "peers"]
    commands = [
        peers,
        [python, "-c", "pass"],
        [python, "-c", "import sqlalchemy"],
        [python, "-c", "import psycopg"],
    ]
    samples: list[list[float]] = [[] for _ in commands]
    rounds = 5 if quick else 11
    for index in range(rounds):
        for offset in range(len(commands)):
            which = (index + offset) % len(commands)
            started = time.perf_counter()
            subprocess.run(commands[which], check=True, stdout=subprocess.DEVNULL)
            samples[which].append(time.perf_counter() - started)
    cli, bare, alchemy, driver = (statistics.median(values) for values in samples)
    drop_database(name)
    return [
        Result(
            "CLI `--url URL peers`, one-robot fleet",
            cli,
            "s",
            bare,
            "python -c pass",
            kind="max_value",
            target=0.25,
            note=f"median of {rounds}, whole process; the ceiling is absolute",
        ),
        Result(
            "  the same beside `import sqlalchemy`",
            cli,
            "s",
            alchemy,
            "python -c 'import sqlalchemy'",
            kind="info",
            note="which the read commands no longer import",
        ),
        Result(
            "  the same beside `import psycopg`",
            cli,
            "s",
            driver,
            "python -c 'import psycopg'",
            kind="info",
            note="the PostgreSQL driver alone: the floor of any Python client on this machine",
        ),
    ]


def run(quick: bool) -> list[Result]:
    sizes = QUICK if quick else PRODUCTION
    close_all()
    drop_stale()
    fleet, roots = build_fleet(sizes)
    entries = sizes.robots * sizes.robot_blocks * ENTRIES_PER_BLOCK
    results = first_and_again(sizes, quick)
    results.append(concurrent(roots))
    results += verify_fleet(fleet, entries, quick)
    results += queries(fleet, sizes.robots, quick)
    results += cli_cost(quick)
    return results


if __name__ == "__main__":
    main(run, TITLE)
