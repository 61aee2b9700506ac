"""The command line's read commands run without SQLAlchemy (plain.py, snapshot.py): the catalog
of compiled statements is the one `statements.py` makes, no read command imports SQLAlchemy, and
each reads what the SQLAlchemy path reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from auki_session._cli import main
from auki_session._cli.demo import register_demo_robot
from auki_session._store import make_catalog
from auki_session._store.catalog import SQL
from auki_session._store.plain import describe_url, plain_server_url
from tests.conftest import end_process

_PROBE = """
import json, sys
from auki_session._cli import main
codes = [main(json.loads(argv)) for argv in sys.argv[1:]]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic"))
print(json.dumps({"codes": codes, "heavy": heavy}), file=sys.stderr)
"""


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    register_demo_robot(str(root))
    end_process()
    return root


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
    assert plain_server_url("postgresql://u:p@h:5432/db?sslmode=disable") == (
        "postgresql://u:p@h:5432/db?sslmode=disable"
    )
    assert plain_server_url("postgres+psycopg://u@h/db") == "postgresql://u@h/db"
    for other in (
        "sqlite:////tmp/x.db",  # SQLAlchemy's spelling of a file
        "postgresql:///db",  # a Unix socket: libpq and SQLAlchemy spell it differently
        "postgresql://u@h:port/db",  # not a port
        "mysql://u@h/db",
        "postgresql+asyncpg://u@h/db",
        "not a url",
    ):
        assert plain_server_url(other) is None, other


def test_messages_never_show_a_password() -> None:
    assert describe_url("postgresql://ann:s3cret@h:5432/db") == "postgresql://ann:***@h:5432/db"
    assert "s3cret" not in describe_url("postgresql://ann:s3cret@h/db?x=1")
    assert describe_url("no url at all") == "the database URL given"
