"""Schema management: migrations match the models, old stores upgrade, newer ones are refused.

Migrations are run and compared with the declared tables directly (internals by nature).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from auki_session import FrameDef, Peer, SchemaVersionError, StoreError
from auki_session._store import migrate
from auki_session._store.engines import for_writing, make_engine
from auki_session._store.tables import VERSION_TABLE, metadata
from tests.conftest import end_process

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent


def schema_of(db: Path) -> dict[str, object]:
    """Tables, columns, indexes and foreign keys as SQLite reports them."""
    connection = sqlite3.connect(db)
    try:
        names = [
            r[0]
            for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name != ? ORDER BY name",
                (VERSION_TABLE,),
            )
        ]
        out: dict[str, object] = {}
        for name in names:
            out[name] = {
                "columns": connection.execute(f"PRAGMA table_info({name})").fetchall(),
                "indexes": sorted(
                    (
                        row[1],
                        row[2],
                        tuple(c[2] for c in connection.execute(f"PRAGMA index_info({row[1]})")),
                    )
                    for row in connection.execute(f"PRAGMA index_list({name})")
                ),
                "foreign_keys": sorted(
                    r[2:5] for r in connection.execute(f"PRAGMA foreign_key_list({name})")
                ),
                "without_rowid": "WITHOUT ROWID"
                in connection.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,))
                .fetchone()[0]
                .upper(),
                "constraint_names": sorted(
                    re.findall(
                        r"CONSTRAINT (\w+)",
                        connection.execute(
                            "SELECT sql FROM sqlite_master WHERE name = ?", (name,)
                        ).fetchone()[0],
                    )
                ),
            }
        return out
    finally:
        connection.close()


def test_migrations_produce_exactly_the_declared_tables(tmp_path: Path) -> None:
    Peer("p", "a").with_storage_root(tmp_path / "migrated").register_frame("f", FrameDef.ros_body())
    declared = tmp_path / "declared.db"
    engine = create_engine(f"sqlite:///{declared}")
    metadata.create_all(engine)
    engine.dispose()
    assert schema_of(tmp_path / "migrated" / "auki_session.db") == schema_of(declared)


def test_alembic_sees_no_difference_between_models_and_migrations(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    Peer("p", "a").with_storage_root(tmp_path).register_frame("f", FrameDef.ros_body())
    engine = create_engine(f"sqlite:///{tmp_path / 'auki_session.db'}")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_code_head_matches_the_alembic_scripts() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(migrate.migrations_dir()))
    assert scripts.get_current_head() == migrate.HEAD
    order = [s.revision for s in reversed(list(scripts.walk_revisions()))]
    assert tuple(order) == migrate.REVISIONS


def test_the_version_table_has_our_name(tmp_path: Path) -> None:
    Peer("p", "a").with_storage_root(tmp_path).register_frame("f", FrameDef.ros_body())
    connection = sqlite3.connect(tmp_path / "auki_session.db")
    tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    version = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    connection.close()
    assert "alembic_version" not in tables
    assert version == [(migrate.HEAD,)]


def test_a_store_of_the_previous_revision_is_upgraded_and_usable(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "schema_0001.db", tmp_path / "auki_session.db")
    peer = Peer("fixture-peer", "app").with_storage_root(tmp_path)
    camera = peer.current("sensor", "front_cam")
    assert camera.body["frame"]["id"] == "base_link"
    peer.register_frame("second", FrameDef.unity())
    connection = sqlite3.connect(tmp_path / "auki_session.db")
    assert connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [
        (migrate.HEAD,)
    ]
    assert connection.execute(
        "SELECT count(*) FROM current_entries WHERE peer_id = 'fixture-peer'"
    ).fetchone() == (3,)
    connection.close()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_newer_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    Peer("p", "a").with_storage_root(tmp_path).register_frame("f", FrameDef.ros_body())

    end_process()
    db = tmp_path / "auki_session.db"
    connection = sqlite3.connect(db)
    connection.execute(f"UPDATE {VERSION_TABLE} SET version_num = '0099_future'")
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    before = _file_digest(db)
    with pytest.raises(SchemaVersionError) as error:
        Peer("p", "a").with_storage_root(tmp_path).register_frame("g", FrameDef.ros_body())
    assert "0099_future" in str(error.value) and migrate.HEAD in str(error.value)
    assert str(db) in str(error.value)
    assert _file_digest(db) == before


def test_a_garbage_file_gives_a_clear_error_naming_it(tmp_path: Path) -> None:
    db = tmp_path / "auki_session.db"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"auki_session\.db"):
        Peer("p", "a").with_storage_root(tmp_path).register_frame("f", FrameDef.ros_body())
    assert db.read_bytes() == b"this is not a database" * 100


def test_a_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "auki_session.db")
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.commit()
    connection.close()
    with pytest.raises(StoreError, match="not an auki-session database"):
        Peer("p", "a").with_storage_root(tmp_path).register_frame("f", FrameDef.ros_body())


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_alembic_is_not_imported_when_the_schema_is_current(tmp_path: Path) -> None:
    Peer("p", "a").with_storage_root(tmp_path).register_frame("f", FrameDef.ros_body())
    out = _python(
        f"""
        import sys
        from auki_session import Peer, FrameDef
        peer = Peer("p", "a").with_storage_root({str(tmp_path)!r})
        peer.register_frame("g", FrameDef.ros_body())
        print(len(peer.frames()), "alembic" in sys.modules)
        """
    )
    assert out == "2 False"


def test_migrating_never_reconfigures_the_hosts_logging(tmp_path: Path) -> None:
    out = _python(
        f"""
        import logging
        from auki_session import Peer, FrameDef
        before = (logging.root.level, list(logging.root.handlers))
        Peer("p", "a").with_storage_root({str(tmp_path)!r}).register_frame("f", FrameDef.ros_body())
        import alembic  # it was imported to create the schema
        after = (logging.root.level, list(logging.root.handlers))
        own = logging.getLogger("alembic")
        quiet = all(isinstance(h, logging.NullHandler) for h in own.handlers)
        print(before == after, quiet and own.level == logging.NOTSET and own.propagate)
        """
    )
    assert out == "True True"


def test_processes_racing_to_upgrade_an_old_store_all_succeed(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "schema_0001.db", tmp_path / "auki_session.db")
    code = textwrap.dedent(
        f"""
        import sys
        from auki_session import Peer, FrameDef
        peer = Peer("racer-" + sys.argv[1], "a").with_storage_root({str(tmp_path)!r})
        peer.register_frame("base", FrameDef.ros_body())
        print(len(peer.frames()))
        """
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(i)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.strip() == "1"
    connection = sqlite3.connect(tmp_path / "auki_session.db")
    assert connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [
        (migrate.HEAD,)
    ]
    assert connection.execute("SELECT count(*) FROM peers").fetchone() == (5,)
    connection.close()


def _rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    connection = sqlite3.connect(db)
    try:
        return {
            name: sorted(connection.execute(f"SELECT * FROM {name}").fetchall())
            for name in ("peers", "entries", "heads", "sessions", "clocks", "logs", "log_refs")
        }
    finally:
        connection.close()


def _without_rowid(db: Path) -> set[str]:
    connection = sqlite3.connect(db)
    try:
        return {
            name
            for name, sql in connection.execute("SELECT name, sql FROM sqlite_master")
            if sql and "WITHOUT ROWID" in sql.upper()
        }
    finally:
        connection.close()


def test_the_rowid_migration_keeps_every_row_both_ways(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    db = tmp_path / "auki_session.db"
    shutil.copy(FIXTURES / "schema_0001.db", db)
    connection = sqlite3.connect(db)  # a log with refs, as 0001 stores them
    with connection:
        (session_id,) = connection.execute("SELECT session_id FROM sessions").fetchone()
        connection.execute(
            "INSERT INTO logs VALUES (1, ?, 'front_cam_log', 'sensor', '{}', '{}', "
            "'2026-11-25T12:00:00.000000Z')",
            (session_id,),
        )
        connection.execute(
            "INSERT INTO log_refs SELECT 1, kind, peer_id, entry_id, hash FROM heads"
        )
    connection.close()
    before = _rows(db)
    assert before["heads"] and before["clocks"] and len(before["log_refs"]) == 2
    engine = make_engine(db)
    with for_writing(engine.connect()) as connection, connection.begin():
        migrate.upgrade(connection, "0003_without_rowid")
    assert _rows(db) == before
    assert _without_rowid(db) == {"heads", "clocks", "log_refs"}

    config = Config()
    config.set_main_option("script_location", str(migrate.migrations_dir()))
    with for_writing(engine.connect()) as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "0002_views")
    engine.dispose()
    assert _rows(db) == before
    assert _without_rowid(db) == set()
    connection = sqlite3.connect(db)
    assert connection.execute("SELECT count(*) FROM session_logs").fetchone()[0] == len(
        before["log_refs"]
    )
    connection.close()
