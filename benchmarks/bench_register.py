"""Target 1: one durable registration vs a raw sqlite3 insert-and-commit of the same row.

The subject is `peer.register_sensor(id, camera_body)` where every call is a new version (the
calibration changes), so each call validates, canonicalises, hashes, checks the frame ref
(a query the first time, then from the store's cache of refs it found), inserts the version and
moves the head, in its own BEGIN IMMEDIATE transaction. The baseline is a bare `sqlite3`
connection with the same pragmas executing BEGIN IMMEDIATE; INSERT INTO entries ...; COMMIT with
the same precomputed row, on a database with the same schema. Measured at synchronous=NORMAL
(where software overhead shows) and at the default FULL (where the WAL fsync per commit
dominates).

Three more lines show the floor, i.e. the best any Python code could do with this schema:
bare sqlite3 running the store's own statements for a new version (insert the version, upsert
the head) in one transaction; the same statements inside a SQLAlchemy transaction on a
connection of the store's engine (SPEC 6: prepared statements may run on the DB-API connection,
but inside SQLAlchemy's transaction); and that plus the pure validate/canonicalise/hash work.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from auki_session import FrameDef, Peer
from auki_session.entries import sensor_entry
from auki_session.store.sqlite import for_writing, make_engine
from auki_session.store.writer import utc_now
from auki_session.stores import close_all

from ._harness import (
    ENTRY_COLUMNS,
    Result,
    camera_body,
    entry_row,
    interleaved_all,
    main,
    raw_connection,
    scratch,
)

PEER_ID = "12D3KooWBenchRegister"
SENSOR_ID = "head_left_cam"
TITLE = "1. one durable registration (register_sensor, camera, new version each call)"


# The statements the store runs for one new version, as its SQLite dialect compiles them (the
# frame ref's check is a query only the first time: then the store's cache of found refs).
INSERT = f"INSERT INTO entries ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
INSERT_VERSION = f"{INSERT} ON CONFLICT (hash) DO NOTHING"
UPSERT_HEAD = (
    "INSERT INTO heads (peer_id, kind, entry_id, hash, updated_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (peer_id, kind, entry_id) DO UPDATE SET hash = excluded.hash, "
    "updated_at = excluded.updated_at WHERE heads.hash != excluded.hash"
)


def _fresh_raw(root: Path, durability: str) -> sqlite3.Connection:
    """A database with the store's schema and this peer's frame, made by the store, then
    opened with bare sqlite3 under the same pragmas."""
    Peer(PEER_ID, "bench").with_storage_root(root).register_frame(
        "head_left_cam_optical", FrameDef.ros_optical()
    )
    close_all()
    return raw_connection(root / "auki_session.db", durability)


def _measure(base: Path, durability: str, batch: int, rounds: int) -> list[Result]:
    peer = Peer(PEER_ID, "bench").with_storage_root(base / f"subject-{durability}")
    peer.with_durability(durability)
    frame = peer.register_frame("head_left_cam_optical", FrameDef.ros_optical())
    raw = _fresh_raw(base / f"raw-{durability}", durability)
    floor = _fresh_raw(base / f"floor-{durability}", durability)
    _fresh_raw(base / f"sqlalchemy-{durability}", durability).close()
    engine = make_engine(
        base / f"sqlalchemy-{durability}" / "auki_session.db", durability=durability
    )
    held = for_writing(engine.connect())
    in_sqlalchemy = held.connection.dbapi_connection

    bodies = [camera_body(frame, index) for index in range(batch * (rounds + 1))]
    built = [sensor_entry(PEER_ID, SENSOR_ID, body) for body in bodies]
    rows = [entry_row(entry, utc_now()) for entry in built]
    cursor = {"subject": 0, "raw": 0, "floor": 0, "sqlalchemy": 0}

    def subject() -> None:
        start = cursor["subject"]
        for body in bodies[start : start + batch]:
            peer.register_sensor(SENSOR_ID, body)
        cursor["subject"] = start + batch

    def baseline() -> None:
        start = cursor["raw"]
        for row in rows[start : start + batch]:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute(INSERT, row)
            raw.execute("COMMIT")
        cursor["raw"] = start + batch

    def store_statements() -> None:
        start = cursor["floor"]
        for entry, row in zip(
            built[start : start + batch], rows[start : start + batch], strict=True
        ):
            floor.execute("BEGIN IMMEDIATE")
            floor.execute(INSERT_VERSION, row)
            floor.execute(UPSERT_HEAD, (PEER_ID, "sensor", SENSOR_ID, entry.hash, row[-1]))
            floor.execute("COMMIT")
        cursor["floor"] = start + batch

    def sqlalchemy_transaction() -> None:
        start = cursor["sqlalchemy"]
        for entry, row in zip(
            built[start : start + batch], rows[start : start + batch], strict=True
        ):
            with held.begin():
                in_sqlalchemy.execute(INSERT_VERSION, row)
                in_sqlalchemy.execute(
                    UPSERT_HEAD, (PEER_ID, "sensor", SENSOR_ID, entry.hash, row[-1])
                )
        cursor["sqlalchemy"] = start + batch

    def build() -> None:
        for body in bodies[:batch]:
            sensor_entry(PEER_ID, SENSOR_ID, body)

    for warm in (subject, baseline, store_statements, sqlalchemy_transaction):
        warm()
    mine, theirs, statements, transaction, build_s = (
        value / batch * 1e6
        for value in interleaved_all(
            [subject, baseline, store_statements, sqlalchemy_transaction, build], rounds
        )
    )
    raw.close()
    floor.close()
    held.close()
    engine.dispose()
    close_all()
    level = durability.upper()
    return [
        Result(
            f"register_sensor, synchronous={level}",
            mine,
            "us/op",
            theirs,
            "raw sqlite3",
            target=2.0,
        ),
        Result(
            f"  floor: the store's SQL in raw sqlite3 ({level})",
            statements,
            "us/op",
            theirs,
            "raw sqlite3",
            kind="info",
            note="insert the version, upsert the head, one transaction",
        ),
        Result(
            f"  floor in a SQLAlchemy transaction ({level})",
            transaction,
            "us/op",
            theirs,
            "raw sqlite3",
            kind="info",
            note="the same statements on the DB-API connection inside connection.begin()",
        ),
        Result(
            f"  + validate/canonical/hash ({level})",
            transaction + build_s,
            "us/op",
            theirs,
            "raw sqlite3",
            kind="info",
            note=f"validate+canonical+hash alone: {build_s:.1f} us/op",
        ),
    ]


def run(quick: bool) -> list[Result]:
    """Both durability levels; FULL uses fewer calls per round since each one fsyncs."""
    results: list[Result] = []
    with scratch("register") as base:
        results += _measure(base, "normal", batch=100 if quick else 300, rounds=5 if quick else 15)
        results += _measure(base, "full", batch=20 if quick else 50, rounds=5 if quick else 15)
    return results


if __name__ == "__main__":
    main(run, TITLE)
