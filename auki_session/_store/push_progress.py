"""How far a store's pushes to a fleet got (`fleet_pushes`), so that the next push sends only
what changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from .push_io import SESSION_ROWID, fleet_transaction, read_rows
from .statements import insert_for
from .tables import entries, fleet_pushes, logs, sessions
from .transaction import utc_now

__all__ = ["Progress", "marks_hold"]


@dataclass(slots=True)
class Progress:
    """How far this store's pushes to this fleet got (`fleet_pushes`), and how this push moves
    it: sessions, entries and logs by their place in the store's order, heads and clocks by
    their aggregates. A table stops advancing at its first batch with a refusal, so that the
    next push checks the refused rows again."""

    digest: str
    row: dict[str, Any]
    advancing: set[str] = field(default_factory=lambda: {"sessions", "entries", "logs"})

    @classmethod
    def load(cls, source: Connection, target: Engine, digest: str, full: bool) -> Progress:
        """The fleet's record of this store's pushes, reset when `full` or when the store no
        longer holds the rows it marks (a store replaced or rewound)."""
        empty = {
            "store_digest": digest,
            "sessions_upto": 0,
            "sessions_mark": None,
            "entries_upto": 0,
            "entries_mark": None,
            "logs_upto": 0,
            "logs_mark": None,
            "heads_count": None,
            "heads_sum": None,
            "clocks_count": None,
            "clocks_sum": None,
            "pushed_at": utc_now(),
        }
        with fleet_transaction(target) as writing:
            found = writing.execute(
                select(*fleet_pushes.c).where(fleet_pushes.c.store_digest == digest)
            ).first()
            row = dict(found._asdict()) if found is not None else None
            if row is None or full or not marks_hold(source, row):
                if row is None:
                    writing.execute(insert_for(writing.dialect, fleet_pushes).values(**empty))
                else:
                    writing.execute(
                        update(fleet_pushes)
                        .where(fleet_pushes.c.store_digest == digest)
                        .values(**empty)
                    )
                row = empty
        return cls(digest, row)

    def advance(self, writing: Connection, name: str, upto: int, mark: str, clean: bool) -> None:
        """Record, in the batch's own transaction, that `name` is pushed up to row `upto`."""
        if not clean:
            self.advancing.discard(name)
        if name not in self.advancing:
            return
        self.row[f"{name}_upto"], self.row[f"{name}_mark"] = upto, mark
        self._write(writing, {f"{name}_upto": upto, f"{name}_mark": mark})

    def settle(self, writing: Connection, name: str, aggregate: tuple[int, int]) -> None:
        """Record that every current version of `name` (heads or clocks) is pushed."""
        self.row[f"{name}_count"], self.row[f"{name}_sum"] = aggregate
        self._write(writing, {f"{name}_count": aggregate[0], f"{name}_sum": aggregate[1]})

    def pushed(self, name: str) -> tuple[int, int] | None:
        count, total = self.row[f"{name}_count"], self.row[f"{name}_sum"]
        return None if count is None else (count, total)

    def _write(self, writing: Connection, values: dict[str, Any]) -> None:
        writing.execute(
            update(fleet_pushes)
            .where(fleet_pushes.c.store_digest == self.digest)
            .values(**values, pushed_at=utc_now())
        )


def marks_hold(source: Connection, row: dict[str, Any]) -> bool:
    """Whether the store still holds, at the places the fleet marks, the rows it pushed."""
    checks = (
        (
            "sessions",
            select(sessions.c.session_id).where(SESSION_ROWID == row["sessions_upto"]),  # noqa: SIM300
        ),
        ("entries", select(entries.c.hash).where(entries.c.id == row["entries_upto"])),
        (
            "logs",
            select(logs.c.session_id + "/" + logs.c.resource_id).where(
                logs.c.id == row["logs_upto"]
            ),
        ),
    )
    for name, query in checks:
        if row[f"{name}_upto"] and [mark for (mark,) in read_rows(source, query)] != [
            row[f"{name}_mark"]
        ]:
            return False
    return True
