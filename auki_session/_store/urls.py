"""Database URLs read as SQLAlchemy reads them, without importing it: what a message may show of
one (no password), the psycopg arguments of a PostgreSQL URL, the file of a SQLite URL.

The grammar is SQLAlchemy's (`sqlalchemy.engine.url.make_url`), so that a URL means the same
database whichever path reads it; a URL this module leaves alone (None) goes to SQLAlchemy,
whose `engines.server_url` checks it and explains what is wrong.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

__all__ = ["describe_url", "server_arguments", "sqlite_file"]

_URL = re.compile(
    r"""
    (?P<name>[\w+]+)://
    (?:
        (?P<username>[^:/]*)
        (?::(?P<password>[^@]*))?
    @)?
    (?:
        (?:
            \[(?P<ipv6host>[^/?]+)\] |
            (?P<ipv4host>[^/:?]+)
        )?
        (?::(?P<port>[^/?]*))?
    )?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.X | re.S,
)
_POSTGRESQL = ("postgresql", "postgres", "postgresql+psycopg", "postgres+psycopg")
_SQLITE = ("sqlite", "sqlite+pysqlite")
_QUERY_PASSWORD = re.compile(r"(?:^|(?<=&))password=[^&]*")
_UNREADABLE = "the database URL given"


def describe_url(url: str) -> str:
    """The URL with any password hidden (in its user part or its query), for messages."""
    match = _URL.match(url)
    if match is None:
        return _UNREADABLE
    if match["password"] is not None:
        start, end = match.span("password")
        url = f"{url[:start]}***{url[end:]}"
        match = _URL.match(url)
        assert match is not None
    if match["query"] is not None:
        start, end = match.span("query")
        url = url[:start] + _QUERY_PASSWORD.sub("password=***", url[start:end]) + url[end:]
    return url


def server_arguments(url: str) -> dict[str, Any] | None:
    """`psycopg.connect`'s keyword arguments for a PostgreSQL URL, as SQLAlchemy's psycopg
    dialect makes them; None for a URL SQLAlchemy must read (another database, several hosts,
    a Unix socket, a port that is not a number), or when psycopg is not installed. Passed as
    keywords, the URL is never parsed (nor quoted back in an error) by libpq."""
    match = _URL.match(url)
    if match is None or match["name"] not in _POSTGRESQL:
        return None
    host = match["ipv4host"] or match["ipv6host"]
    if not host:
        return None
    arguments: dict[str, Any] = {"host": host}
    if match["port"]:
        if not match["port"].isdigit():
            return None
        if int(match["port"]):
            arguments["port"] = int(match["port"])
    for name, group in (("user", "username"), ("password", "password"), ("dbname", "database")):
        if match[group]:
            arguments[name] = unquote(match[group])
    query = parse_qsl(match["query"] or "")
    if len({name for name, _ in query}) != len(query) or any(n in arguments for n, _ in query):
        return None
    arguments.update(query)
    arguments.setdefault("client_encoding", "utf8")  # text, whatever the database's encoding
    if importlib.util.find_spec("psycopg") is None:
        return None
    return arguments


def sqlite_file(url: str) -> Path | None:
    """The file of a `sqlite:///path` URL (`sqlite:////absolute/path`), or None for any other
    URL (an in-memory database, or options SQLAlchemy must apply)."""
    match = _URL.match(url)
    if match is None or match["name"] not in _SQLITE:
        return None
    database = match["database"]
    if match.group("username", "ipv4host", "ipv6host", "port", "query") != (None,) * 5:
        return None
    if not database or database == ":memory:":
        return None
    return Path(unquote(database))
