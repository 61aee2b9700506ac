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

from sqlalchemy import Connection, Engine

from auki_session import FrameDef, Peer, Wallet
from auki_session._domain.entries import CanonicalEntry, sensor_entry
from auki_session._domain.signed import current_record
from auki_session._store.engines import for_writing, make_engine
from auki_session._store.store import close_all
from auki_session._store.transaction import utc_now

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


def _fresh_engine(root: Path, durability: str) -> Engine:
    """A database like _fresh_raw's, opened with the store's own SQLAlchemy engine."""
    _fresh_raw(root, durability).close()
    return make_engine(root / "auki_session.db")


def _store_in(connection: Connection, entry: CanonicalEntry, row: tuple[object, ...]) -> None:
    """The store's statements for a new version, in a SQLAlchemy transaction on the DB-API."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    with connection.begin():
        dbapi_connection.execute(INSERT_VERSION, row)
        dbapi_connection.execute(UPSERT_HEAD, (PEER_ID, "sensor", SENSOR_ID, entry.hash, row[-1]))


def _measure(base: Path, durability: str, batch: int, rounds: int) -> list[Result]:
    peer = Peer(PEER_ID, "bench").with_storage_root(base / f"subject-{durability}")
    peer.with_durability(durability)
    frame = peer.register_frame("head_left_cam_optical", FrameDef.ros_optical())
    raw = _fresh_raw(base / f"raw-{durability}", durability)
    floor = _fresh_raw(base / f"floor-{durability}", durability)
    engines = [_fresh_engine(base / f"{name}-{durability}", durability) for name in ("sa", "built")]
    held, built_held = (
        for_writing(engine.connect(), durability)  # type: ignore[arg-type]
        for engine in engines
    )

    bodies = [camera_body(frame, index) for index in range(batch * (rounds + 1))]
    built = [sensor_entry(PEER_ID, SENSOR_ID, body) for body in bodies]
    rows = [entry_row(entry, utc_now()) for entry in built]
    cursor = {"subject": 0, "raw": 0, "floor": 0, "sqlalchemy": 0, "built": 0, "signed": 0}
    wallet = Wallet.from_seed(bytes(range(32)))
    signer = Peer.from_wallet(wallet, "bench").with_storage_root(base / f"signed-{durability}")
    signer.with_durability(durability)
    signed_frame = signer.register_frame("head_left_cam_optical", FrameDef.ros_optical())
    signed_bodies = [camera_body(signed_frame, index) for index in range(len(bodies))]

    def subject() -> None:
        start = cursor["subject"]
        for body in bodies[start : start + batch]:
            peer.register_sensor(SENSOR_ID, body)
        cursor["subject"] = start + batch

    sign = wallet.derive_child("peer/v1").sign

    def signatures_alone() -> None:
        for entry in built[:batch]:
            sign(entry.canonical)
            sign(current_record(PEER_ID, "sensor", SENSOR_ID, entry.hash, 1, None))

    def signed() -> None:
        start = cursor["signed"]
        for body in signed_bodies[start : start + batch]:
            signer.register_sensor(SENSOR_ID, body)
        cursor["signed"] = start + batch

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
            _store_in(held, entry, row)
        cursor["sqlalchemy"] = start + batch

    def built_and_stored() -> None:
        # As register_sensor with no store code around it: build, then the SQLAlchemy floor.
        # Timed as one loop: interleaved with SQLite, the Python work costs more than alone.
        start = cursor["built"]
        for body in bodies[start : start + batch]:
            entry = sensor_entry(PEER_ID, SENSOR_ID, body)
            _store_in(built_held, entry, entry_row(entry, utc_now()))
        cursor["built"] = start + batch

    def build() -> None:
        for body in bodies[:batch]:
            sensor_entry(PEER_ID, SENSOR_ID, body)

    functions = [subject, baseline, store_statements, sqlalchemy_transaction, built_and_stored]
    functions.append(signed)
    for warm in functions:
        warm()
    mine, theirs, statements, transaction, floor_built, signed_s, build_s, signing_s = (
        value / batch * 1e6
        for value in interleaved_all([*functions, build, signatures_alone], rounds)
    )
    raw.close()
    floor.close()
    for connection in (held, built_held):
        connection.close()
    for engine in engines:
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
            f"register_sensor signed by a wallet's key, {level}",
            signed_s,
            "us/op",
            mine,
            "the same, unsigned",
            target=1.15 if durability == "full" else None,
            kind="max_ratio" if durability == "full" else "info",
            note="two Ed25519 signatures: the version and the change of current version",
        ),
        Result(
            f"  floor: the two signatures alone ({level})",
            mine + signing_s,
            "us/op",
            mine,
            "unsigned",
            kind="info",
            note=f"the unsigned registration plus {signing_s:.1f} us of signing, no store code",
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
            f"  + validate/canonical/hash in the loop ({level})",
            floor_built,
            "us/op",
            theirs,
            "raw sqlite3",
            kind="info",
            note=f"each entry built, then stored as above; building alone: {build_s:.1f} us/op",
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
