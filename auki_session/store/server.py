"""Server databases (PostgreSQL through psycopg 3) behind the same SQLAlchemy layer."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from . import sqlite


def describe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for a URL such as `postgresql+psycopg://user@host/db`; a `sqlite:///path`
    URL gets the store's own SQLite engine (pragmas, BEGIN IMMEDIATE for writes)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return sqlite.make_engine(Path(parsed.database))
    return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=-1)
