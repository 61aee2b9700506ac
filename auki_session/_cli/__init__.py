"""`auki-session`: see, verify, export and upgrade a storage root from the command line.

Read commands open the store read-only and write nothing, so they work on a copied storage
root or read-only media. Output is aligned tables for people, or JSON with `--json`; failures
are one line on stderr and a non-zero exit (1: `verify` found problems or `db check` found an
old schema; 2: the command could not run).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .._store.urls import server_arguments, sqlite_file
from .._store.verify import scan_disk
from ..errors import AukiSessionError, ConfigurationError
from . import commands
from .commands import EXIT_ERROR, PROG, Result
from .parser import parser

__all__ = ["main"]

EXIT_BROKEN_PIPE = 141  # as a shell reports a process killed by SIGPIPE


def _one(flag: str, flag_value: str | None, positional: str, value: str | None) -> str | None:
    """A value given either as an option or as a positional argument, not both differently."""
    if flag_value is not None and value is not None and flag_value != value:
        raise ValueError(f"{flag} {flag_value!r} and {positional} {value!r} disagree: give it once")
    return flag_value if flag_value is not None else value


def _check_url(flag: str, url: str | None) -> None:
    """A database URL that cannot work is refused before anything opens."""
    if url is None or server_arguments(url) is not None or sqlite_file(url) is not None:
        return  # a URL the command reads without SQLAlchemy
    from .._store.engines import server_url

    try:
        server_url(url)
    except ConfigurationError as error:
        raise ConfigurationError(f"{flag}: {error}") from None


def _run(args: argparse.Namespace) -> Result:
    """Call the command's function with the arguments it takes."""
    root = Path(args.root if args.root is not None else ".")
    given_root = None if args.root is None else root
    url: str | None = args.url
    command: str = args.command
    if command == "demo":
        from .demo import DEMO_ROOT, demo  # writing: imports Peer, and SQLAlchemy with it

        if url is not None:
            raise ValueError(
                "demo writes a SQLite store under a storage root and takes no --url; "
                f"push it afterwards: {PROG} push ROOT URL"
            )
        return demo(_one("--root", args.root, "ROOT", args.demo_root) or DEMO_ROOT)
    if command == "push":
        source = _one("--root", args.root, "ROOT", args.source)
        target = _one("--url", url, "URL", args.target)
        if source is None or target is None:
            missing = " and ".join(
                name for name, value in (("ROOT", source), ("URL", target)) if value is None
            )
            raise ValueError(f"push needs {missing}: {PROG} push ROOT URL")
        _check_url("URL", target)
        return commands.push(
            Path(source), target, args.allow_unsigned, args.rebind, args.by, args.full
        )
    if command == "import":
        if url is not None:
            raise ValueError(
                "import writes the root's SQLite store and takes no --url; "
                f"push it afterwards: {PROG} push ROOT URL"
            )
        return commands.import_rust(
            Path(_one("--root", args.root, "ROOT", args.import_root) or ".")
        )
    _check_url("--url", url)
    if command == "db" and args.action == "check":
        return commands.db_check(root, url)
    if command == "db" and args.action == "upgrade":
        return commands.db_upgrade(root, url)
    if command == "db":
        return commands.read(root, url, commands.db_current, head=False)
    if command == "summary":
        return commands.read(root, url, lambda r: commands.summary(r, given_root), head=False)
    if command == "peers":
        return commands.read(root, url, commands.peers)
    if command == "verify":
        disk = scan_disk(root) if url is None or args.root is not None else None
        return commands.read(
            root, url, lambda reader: commands.verify(reader, disk, args.require_signed)
        )
    if command == "entries":
        return commands.read(
            root, url, lambda r: commands.entries(r, args.peer, args.kind, args.session)
        )
    if command == "history":
        return commands.read(
            root, url, lambda r: commands.history(r, args.id, args.peer, args.kind, args.diff)
        )
    if command == "diff":
        return commands.read(root, url, lambda r: commands.diff(r, args.first, args.second))
    if command == "show":
        return commands.read(
            root,
            url,
            lambda r: commands.show(r, args.ref, args.peer, args.kind, args.id, args.session),
        )
    if command == "sessions":
        return commands.read(root, url, lambda r: commands.sessions(r, args.peer, args.last))
    if command == "session":
        return commands.read(
            root,
            url,
            lambda r: commands.session(r, args.session_id, args.peer, given_root)[0],
        )
    if command == "tree":
        output = None if args.output is None else Path(args.output)
        return commands.read(
            root,
            url,
            lambda r: commands.tree(r, args.session_id, args.peer, args.tree_format, output),
        )
    if command == "export":
        return commands.read(root, url, lambda r: commands.export(r, Path(args.dest)))
    return commands.read(root, url, lambda r: commands.uses(r, args.hash))


def _cell(value: object) -> object:
    """A CSV cell: text and numbers as they are, nothing as empty, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _print_csv(value: object) -> None:
    """A listing as CSV: a header of every key (in the order first seen), a row per item."""
    items = value if isinstance(value, list) else [value]
    columns: dict[str, None] = {}
    for item in items:
        columns.update(dict.fromkeys(item if isinstance(item, dict) else ["value"]))
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for item in items:
        row = item if isinstance(item, dict) else {"value": item}
        writer.writerow([_cell(row.get(column)) for column in columns])


def _print(output_format: str, result: Result) -> None:
    if output_format == "json":
        sys.stdout.write(json.dumps(result.value, indent=2, ensure_ascii=False) + "\n")
    elif output_format == "csv":
        _print_csv(result.value)
    elif result.raw is not None:
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        tail = b"\n" if sys.stdout.isatty() else b""
        if buffer is None:
            sys.stdout.write((result.raw + tail).decode("utf-8"))
        else:
            buffer.write(result.raw + tail)
            buffer.flush()
    else:
        sys.stdout.write("".join(line + "\n" for line in result.lines))
    sys.stdout.flush()


def _fail(message: str) -> int:
    first = " ".join(str(message).split("\n")[0].split())
    sys.stderr.write(f"{PROG}: error: {first}\n")
    return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    # Not parser defaults: the options are shared with the subcommands, whose defaults would
    # then overwrite a value given before the command.
    args.root = getattr(args, "root", None)
    args.json = getattr(args, "json", False)
    args.url = getattr(args, "url", None)
    output_format: str = getattr(args, "format", "table")
    if args.json and output_format not in ("table", "json"):
        return _fail(f"--json and --format {output_format} disagree: give one")
    if args.json:
        output_format = "json"
    try:
        result = _run(args)
        _print(output_format, result)
    except BrokenPipeError:
        # The reader went away (`| head`): stay quiet, also when Python flushes at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except LookupError as error:
        return _fail(error.args[0] if error.args else repr(error))
    except (AukiSessionError, OSError, ValueError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        return 130
    if result.error is not None:
        sys.stderr.write(f"{PROG}: error: {result.error}\n")
    return result.code
