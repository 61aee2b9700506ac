"""The command line's arguments: every command, its options, and one-line usage errors."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .._domain.entries import ENTRY_KINDS
from .._version import __version__
from .commands import DEMO_ROOT, EXIT_ERROR, PROG
from .tree import PICTURE_FORMATS

__all__ = ["LISTING_FORMATS", "parser"]

LISTING_FORMATS = ("table", "json", "csv")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other failure."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{PROG}: error: {message} (see `{self.prog} --help`)\n")


_MOST = 2**63 - 1
"""The largest count a database takes (a signed 64-bit integer)."""


def _positive(text: str) -> int:
    """A count of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= _MOST:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {_MOST}")
    return value


def parser() -> argparse.ArgumentParser:
    """The parser of `auki-session`'s arguments."""
    # --root, --url and --json work before or after the command; SUPPRESS keeps an earlier value.
    common = _Parser(add_help=False)
    common.add_argument(
        "--root",
        default=argparse.SUPPRESS,
        help="the storage root (default: the current directory)",
    )
    common.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help="read a database by SQLAlchemy URL (e.g. a fleet's postgresql+psycopg://...) "
        "instead of the root's SQLite file",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print JSON for scripts instead of tables",
    )
    top = _Parser(
        prog=PROG,
        description="Inspect, verify, export and upgrade an auki-session storage root. "
        "Read commands never write to it.",
        parents=[common],
    )
    top.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = top.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    listing = _Parser(add_help=False)
    listing.add_argument(
        "--format",
        choices=LISTING_FORMATS,
        default=argparse.SUPPRESS,
        help="table (default), json (as --json), or csv: one row per item, nested values as "
        "JSON text",
    )

    def command(name: str, text: str, *, lists: bool = False) -> argparse.ArgumentParser:
        parents = [common, listing] if lists else [common]
        return commands.add_parser(name, help=text, description=text, parents=parents)

    command("summary", "peers, counts per kind, sessions, logs, schema revision, file size")
    command(
        "peers", "every peer, with its current frames, sensors, detectors and sessions", lists=True
    )
    kinds = ENTRY_KINDS
    sub = command(
        "entries",
        "the current version of each frame, sensor and detector "
        "(clocks with --kind clock or --session)",
        lists=True,
    )
    sub.add_argument("--peer", help="only this peer's")
    sub.add_argument("--kind", choices=kinds, help="only this kind")
    sub.add_argument("--session", help="the clocks of this session")
    sub = command(
        "history",
        "every version ever registered, in the order first registered "
        "(clocks with --kind clock or an ID)",
        lists=True,
    )
    sub.add_argument(
        "id", nargs="?", metavar="ID", help="only this id's versions (or a version's hash prefix)"
    )
    sub.add_argument("--peer", help="only this peer's")
    sub.add_argument("--kind", choices=kinds, help="only this kind")
    sub.add_argument(
        "--diff",
        action="store_true",
        help="what changed from each version of ID to the next, field by field",
    )
    sub = command("show", "one entry's canonical JSON, exactly as stored and hashed")
    sub.add_argument(
        "ref",
        nargs="?",
        metavar="REF",
        help="a hash (or a unique prefix), peer/id@hash, peer/id, a JSON ref, or an id",
    )
    sub.add_argument("--peer", help="the peer, for the current version of --id")
    sub.add_argument("--kind", choices=kinds, help="the kind, for the current version of --id")
    sub.add_argument("--id", help="show the current version of this id")
    sub.add_argument("--session", help="the session, for a clock")
    sub = command("diff", "the field-level changes from one entry version to another")
    sub.add_argument("first", metavar="A", help="a hash (or a unique prefix), peer/id@hash, ...")
    sub.add_argument("second", metavar="B", help="the version to compare A with, named alike")
    sub = command("sessions", "sessions, oldest first", lists=True)
    sub.add_argument("--peer", help="only this peer's")
    sub.add_argument("--last", type=_positive, metavar="N", help="only the N sessions started last")
    sub = command("session", "one session's clocks and logs, with manifests and head specs")
    sub.add_argument(
        "session_id",
        metavar="SESSION",
        help="a session id, a unique prefix of one, or `latest` (the session started last)",
    )
    sub.add_argument("--peer", help="the peer, for `latest` or a prefix")
    sub = command(
        "tree",
        "a session's frame tree (its pose logs) and clock graph (its time-transform logs), "
        "with warnings: two parents, cycles, what nothing joins",
    )
    sub.add_argument(
        "session_id",
        nargs="?",
        default="latest",
        metavar="SESSION",
        help="a session id, a unique prefix of one, or `latest` (the default)",
    )
    sub.add_argument("--peer", help="the peer, for `latest` or a prefix")
    sub.add_argument(
        "--format",
        dest="tree_format",
        choices=("text", "dot", *PICTURE_FORMATS),
        default="text",
        help="text (default), Graphviz DOT, or a picture rendered by Graphviz's dot (with -o)",
    )
    sub.add_argument("-o", "--output", metavar="FILE", help="the file to write")
    sub = command(
        "verify",
        "recompute every hash, check every signature, check manifests on disk, run SQLite's checks",
    )
    sub.add_argument(
        "--require-signed",
        action="store_true",
        help="a record of a key-derived peer id without a signature is a problem too",
    )
    sub = command("export", "write the Rust SDK's file layout (registries/ and manifests)")
    sub.add_argument("dest", metavar="DEST", help="the directory to write into")
    sub = command(
        "import",
        "bring what Rust SDK daemons wrote in a root (registry files, the sessions and logs "
        "their files name) into the root's store; idempotent; exit 1 when a file is refused",
    )
    sub.add_argument(
        "import_root",
        nargs="?",
        metavar="ROOT",
        help="the storage root (default: --root, else the current directory)",
    )
    db = command("db", "the database schema: current, upgrade, check")
    actions = db.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    actions.add_parser("current", help="print the schema revision", parents=[common])
    actions.add_parser("upgrade", help="upgrade the schema to this code's", parents=[common])
    actions.add_parser(
        "check", help="exit 0 if the schema is current, 1 if it needs upgrading", parents=[common]
    )
    sub = command(
        "uses", "the logs whose manifests reference an entry version (by hash)", lists=True
    )
    sub.add_argument("hash", metavar="HASH")
    sub = command(
        "push",
        "copy a robot's store into a fleet database (idempotent; safe to rerun or run at once)",
    )
    sub.add_argument(
        "source", nargs="?", metavar="ROOT", help="the robot's storage root (or --root ROOT)"
    )
    sub.add_argument(
        "target",
        nargs="?",
        metavar="URL",
        help="the fleet database's URL, e.g. postgresql://user@host/fleet (or --url URL)",
    )
    sub.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="accept records of key-derived peer ids that carry no signature (shown as "
        "unauthenticated); badly signed ones are refused anyway",
    )
    sub.add_argument(
        "--rebind",
        action="append",
        default=[],
        metavar="PEER",
        help="move PEER's fleet binding to this store (an operator's decision, recorded with "
        "--by and the time); repeatable",
    )
    sub.add_argument(
        "--by", default="", metavar="NAME", help="who decided the rebinds (default: the OS user)"
    )
    sub.add_argument(
        "--full",
        action="store_true",
        help="check every row again, not only what changed since this store's last push to "
        "this database (for a fleet that lost rows, or to retry rows refused before)",
    )
    sub = command(
        "demo",
        f"register a demo robot into ROOT (or --root ROOT; default ./{DEMO_ROOT}) and show it",
    )
    sub.add_argument("demo_root", nargs="?", metavar="ROOT")
    return top
