"""The command line's read commands run without SQLAlchemy (plain.py, snapshot.py): the catalog
of compiled statements is the one `statements.py` makes, no read command imports SQLAlchemy, and
each reads what the SQLAlchemy path reads."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from auki_session._cli import main
from auki_session._store import make_catalog
from auki_session._store.catalog import SQL
from auki_session._store.urls import describe_url, server_arguments, sqlite_file

_PROBE = """
import json, sys
from auki_session._cli import main
codes = [main(json.loads(argv)) for argv in sys.argv[1:]]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic"))
print(json.dumps({"codes": codes, "heavy": heavy}), file=sys.stderr)
"""


def _reads(where: list[str], root: Path) -> list[list[str]]:
    """Every read command, as the command line takes it."""
    peer = json.loads(_run(capture=[*where, "peers", "--json"]))[0]["peer_id"]
    entry = json.loads(_run(capture=[*where, "entries", "--json"]))[0]
    return [
        [*where, "peers"],
        [*where, "sessions"],
        [*where, "sessions", "--last", "1"],
        [*where, "session", "latest"],
        [*where, "entries", "--peer", peer],
        [*where, "history", entry["id"], "--diff"],
        [*where, "show", f"{peer}/{entry['id']}"],
        [*where, "diff", entry["hash"], entry["hash"]],
        [*where, "uses", entry["hash"]],
        [*where, "tree", "latest"],
        [*where, "summary"],
        [*where, "db", "current"],
        [*where, "db", "check"],
        [*where, "verify"],
        [*where, "export", str(root.parent / f"export-{len(where)}")],
    ]


def _run(capture: list[str]) -> str:
    process = subprocess.run(
        [sys.executable, "-m", "auki_session", *capture], capture_output=True, text=True
    )
    assert process.returncode == 0, process.stderr
    return process.stdout


def test_the_catalog_is_what_make_catalog_writes() -> None:
    assert make_catalog.CATALOG.read_text(encoding="utf-8") == make_catalog.render(), (
        "catalog.py is stale: run `python -m auki_session._store.make_catalog`"
    )


def test_the_catalog_holds_every_statement_for_both_databases() -> None:
    names = set(make_catalog.every_statement())
    assert set(SQL) == {"sqlite", "postgresql"}
    for dialect in SQL.values():
        assert set(dialect) == names


def test_the_catalog_matches_a_connected_postgresql_dialect(server_url: str | None) -> None:
    """SQLAlchemy compiles for the server it met; the catalog, for none in particular."""
    if server_url is None:
        pytest.skip("no PostgreSQL server reachable")
    from sqlalchemy import create_engine

    engine = create_engine(server_url)
    with engine.connect() as connection:
        dialect = connection.dialect
    engine.dispose()
    for name, statement in make_catalog.every_statement().items():
        assert make_catalog.compiled(statement, dialect) == SQL["postgresql"][name], name


def test_no_read_command_imports_sqlalchemy(demo: Path, database_url: str | None) -> None:
    where = ["--root", str(demo)]
    if database_url is not None:
        assert main(["push", str(demo), database_url]) == 0
        where = ["--url", database_url]
    reads = _reads(where, demo)
    process = subprocess.run(
        [sys.executable, "-c", _PROBE, *(json.dumps(argv) for argv in reads)],
        capture_output=True,
        text=True,
    )
    probe = json.loads(process.stderr.strip().splitlines()[-1])
    assert probe["codes"] == [0] * len(reads), process.stderr
    assert probe["heavy"] == []


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    value = json.loads(capsys.readouterr().out)
    if isinstance(value, dict):
        for key in ("root", "where", "database", "url", "size_bytes"):
            value.pop(key, None)
    return value


@pytest.mark.parametrize(
    "command",
    [
        ["peers"],
        ["sessions"],
        ["entries"],
        ["summary"],
        ["sessions", "--last", "1"],
        ["history", "base_link"],
    ],
)
def test_plain_reads_read_what_sqlalchemy_reads(
    demo: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """A `sqlite:///` URL goes through SQLAlchemy; the root's own file does not."""
    capsys.readouterr()
    plain = _json(capsys, "--root", str(demo), *command)
    through_sqlalchemy = _json(capsys, "--url", f"sqlite:///{demo / 'auki_session.db'}", *command)
    assert plain == through_sqlalchemy


def test_which_urls_are_read_plainly() -> None:
    """As SQLAlchemy's psycopg dialect reads them; the rest is SQLAlchemy's to read."""
    assert server_arguments("postgresql://u:p%40ss@h:5432/db?sslmode=disable") == {
        "host": "h",
        "port": 5432,
        "user": "u",
        "password": "p@ss",
        "dbname": "db",
        "sslmode": "disable",
        "client_encoding": "utf8",
    }
    assert server_arguments("postgres+psycopg://u:S3/CRET@h:0/db")["password"] == "S3/CRET"
    for other in (
        "sqlite:////tmp/x.db",
        "postgresql:///db",  # a Unix socket
        "postgresql://u@h:port/db",  # not a port
        "postgresql://u@h/db?host=a&host=b",  # several hosts
        "POSTGRESQL://u@h/db",  # SQLAlchemy knows no such driver name
        "mysql://u@h/db",
        "postgresql+asyncpg://u@h/db",
        "not a url",
    ):
        assert server_arguments(other) is None, other
    assert sqlite_file("sqlite:////tmp/x%20y.db") == Path("/tmp/x y.db")
    assert sqlite_file("sqlite:///relative.db") == Path("relative.db")
    for other in ("sqlite://", "sqlite:///:memory:", "sqlite:///x.db?mode=ro", "sqlite://h/x.db"):
        assert sqlite_file(other) is None, other


SECRETS = ("S3/CRET", "S3?CRET", "S3#CRET", "50%off", "S3 CRET")


def test_messages_never_show_a_password() -> None:
    for secret in SECRETS:
        shown = describe_url(f"postgresql://ann:{secret}@h:5432/db?x=1")
        assert secret not in shown and shown.startswith("postgresql://ann:***@"), shown
    assert describe_url("postgresql://h/db?user=ann&password=QSECRET") == (
        "postgresql://h/db?user=ann&password=***"
    )
    assert describe_url("no url at all") == "the database URL given"


def test_no_read_command_shows_a_password(
    capsys: pytest.CaptureFixture[str], demo: Path, database_url: str | None
) -> None:
    """Neither in the error about a database that is not there, nor in a summary's output."""
    if database_url is None:
        pytest.skip("a PostgreSQL URL's password")
    assert main(["push", str(demo), database_url]) == 0
    capsys.readouterr()
    for secret in SECRETS:
        with_password = database_url.replace("postgres@", f"postgres:{secret}@", 1)
        missing = with_password.replace("/postgres?", "/auki_no_such_database?", 1)
        assert main(["--url", missing, "peers"]) == 2
        error = capsys.readouterr().err
        assert secret not in error and "postgres:***@" in error, error
        assert main(["--url", with_password, "summary", "--json"]) == 0
        out = capsys.readouterr().out
        assert secret not in out and "postgres:***@" in json.loads(out)["database"]


def test_a_database_with_tables_of_others_is_not_ours_even_if_we_cannot_read_them(
    database_url: str | None, demo: Path
) -> None:
    """pg_class, not information_schema (which lists only the tables a user may use)."""
    if database_url is None:
        pytest.skip("PostgreSQL privileges")
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    schema = database_url.rpartition("%3D")[2]
    admin = create_engine(database_url, poolclass=NullPool)
    role = f"auki_limited_{schema}"
    with admin.begin() as connection:
        connection.execute(text("CREATE TABLE payroll (id integer)"))
        connection.execute(text(f"CREATE ROLE {role} LOGIN"))
        connection.execute(text(f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {role}"))
    limited = database_url.replace("postgres@", f"{role}@", 1)
    try:
        for argv in (["--url", limited, "peers"], ["push", str(demo), limited]):
            process = subprocess.run(
                [sys.executable, "-m", "auki_session", *argv], capture_output=True, text=True
            )
            assert process.returncode == 2, process.stderr
            assert "not an auki-session database" in process.stderr
        with admin.connect() as connection:
            tables = connection.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"), {"s": schema}
            ).scalar()
        assert tables == 1  # payroll alone: push created nothing beside it
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def test_a_schema_revision_of_null_is_no_schema(demo: Path) -> None:
    """A hostile store: its version table rebuilt by hand to hold a NULL revision."""
    with sqlite3.connect(demo / "auki_session.db") as connection:
        connection.executescript(
            "DROP TABLE auki_session_schema_version;"
            "CREATE TABLE auki_session_schema_version (version_num TEXT);"
            "INSERT INTO auki_session_schema_version VALUES (NULL);"
        )
    connection.close()
    process = subprocess.run(
        [sys.executable, "-m", "auki_session", "--root", str(demo), "peers"],
        capture_output=True,
        text=True,
    )
    assert process.returncode == 2
    assert "not an auki-session database (no schema version)" in process.stderr


def test_a_leftover_wal_beside_an_empty_database_does_not_hold_a_read(tmp_path: Path) -> None:
    """Only a process with the file open makes a read wait for the schema (60 s at most)."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "auki_session.db").write_bytes(b"")
    (root / "auki_session.db-wal").write_bytes(b"")
    process = subprocess.run(
        [sys.executable, "-m", "auki_session", "--root", str(root), "peers"],
        capture_output=True,
        text=True,
        timeout=40,
    )
    assert process.returncode == 2
    assert "no auki-session schema yet" in process.stderr


def test_a_sqlite_url_is_read_without_changing_the_file(demo: Path) -> None:
    """Read as the root's own file is: nothing written, no -wal or -shm left."""
    database = demo / "auki_session.db"
    before = database.read_bytes()
    files = sorted(p.name for p in demo.iterdir())
    process = subprocess.run(
        [sys.executable, "-m", "auki_session", "--url", f"sqlite:///{database}", "peers"],
        capture_output=True,
        text=True,
    )
    assert process.returncode == 0, process.stderr
    assert database.read_bytes() == before
    assert sorted(p.name for p in demo.iterdir()) == files


def test_a_count_too_large_for_a_database_is_refused(
    capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    assert main(["--root", str(demo), "sessions", "--last", "99999999999999999999"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "from 1 to 9223372036854775807" in error


def test_a_root_whose_name_is_not_utf8_is_read(tmp_path: Path, demo: Path) -> None:
    odd = tmp_path / os.fsdecode(b"robot-\xff")
    shutil.copytree(demo, odd)
    process = subprocess.run(
        [sys.executable, "-m", "auki_session", "--root", os.fsencode(odd), "peers"],
        capture_output=True,
    )
    assert process.returncode == 0, process.stderr
    assert b"galbot-ctrl" in process.stdout


def test_peer_and_session_load_on_first_use() -> None:
    probe = (
        "import sys, auki_session; "
        "assert 'sqlalchemy' not in sys.modules; "
        "assert {'Peer', 'Session'} <= set(dir(auki_session)); "
        "assert auki_session.peer.Peer is auki_session.Peer; "
        "assert 'sqlalchemy' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
