"""`auki-session`: see, verify, export and upgrade a storage root from the command line.

Read commands open the store read-only and write nothing, so they work on a copied storage
root or read-only media. Output is aligned tables for people, or JSON with `--json`; failures
are one line on stderr and a non-zero exit (1: `verify` found problems or `db check` found an
old schema; 2: the command could not run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy.exc import DBAPIError

from . import presentation as view
from .errors import AukiSessionError, NotFoundError
from .export import export
from .records import Entry, LogInfo
from .store import inspection as queries
from .store import migrate
from .store.reader import Reader
from .store.repository import Store
from .store.sqlite import DB_FILENAME
from .verify import Problem, VerifyReport, verify

PROG = "auki-session"
DEMO_ROOT = "auki-demo"
EXIT_OK, EXIT_FOUND, EXIT_ERROR = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # as a shell reports a process killed by SIGPIPE
_HEX = frozenset("0123456789abcdef")


@dataclass(slots=True)
class Result:
    """What a command produces: a JSON value, the lines a person reads, or raw bytes."""

    value: Any = None
    lines: list[str] = field(default_factory=list)
    raw: bytes | None = None
    code: int = EXIT_OK
    error: str | None = None


# --- reading ------------------------------------------------------------------------------------


def _read(
    args: argparse.Namespace, run: Callable[[Reader], Result], *, head: bool = True
) -> Result:
    if args.url is not None:
        return queries.read_server(_root(args), args.url, run, require_head=head)
    return queries.read_consistently(_root(args), run, require_head=head)


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root if args.root is not None else ".")


def _group_by_peer(entries: Sequence[Entry]) -> dict[str, list[Entry]]:
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.peer_id, []).append(entry)
    return groups


def _entry_lines(
    entries: Sequence[Entry], empty: str, *, versions: bool = False, current: set[str] | None = None
) -> list[str]:
    """Entries grouped under their peer; with `versions`, numbered per id, current marked."""
    if not entries:
        return [empty]
    lines: list[str] = []
    for peer_id, group in _group_by_peer(entries).items():
        with_session = any(entry.session_id is not None for entry in group)
        headers = ["kind", "id", *(["session"] if with_session else [])]
        if versions:
            headers += ["v", "hash", "registered", "current"]
        else:
            headers += ["hash"]
        headers.append("description")
        rows = []
        numbers: dict[tuple[str, str | None, str], int] = {}
        for entry in group:
            row: list[object] = [entry.kind, entry.id]
            if with_session:
                row.append(entry.session_id or "")
            if versions:
                key = (entry.kind, entry.session_id, entry.id)
                numbers[key] = numbers.get(key, 0) + 1
                is_current = current is not None and entry.hash in current
                row += [
                    numbers[key],
                    entry.hash,
                    view.format_time(entry.registered_at),
                    "*" if is_current else "",
                ]
            else:
                row.append(entry.hash)
            row.append(view.describe(entry))
            rows.append(row)
        numeric = [headers.index("v")] if versions else []
        if lines:
            lines.append("")
        lines.append(f"peer {peer_id}")
        lines += view.table(headers, rows, numeric=numeric, indent="  ")
    return lines


def _summary(reader: Reader) -> Result:
    counts = queries.store_counts(reader)
    peers = queries.peer_summaries(reader)
    revision = queries.schema_revision(reader)
    path = reader.store.path
    on_server = reader.store.url is not None
    size = 0 if on_server else path.stat().st_size
    wal = path.with_name(path.name + "-wal")
    wal_size = wal.stat().st_size if not on_server and wal.exists() else 0
    status = "current" if revision == migrate.HEAD else "needs upgrade"
    value = {
        "root": str(reader.store.root),
        "database": reader.store.where,
        "size_bytes": size,
        "wal_bytes": wal_size,
        "schema": {"revision": revision, "head": migrate.HEAD, "status": status},
        "peers": [view.record_json(peer) for peer in peers],
        "sessions": counts.sessions,
        "logs": counts.logs,
        "kinds": [view.record_json(kind) for kind in counts.kinds],
    }
    schema = f"{revision} ({status})"
    if revision != migrate.HEAD:
        schema += f": run `{PROG} db upgrade` to bring it to {migrate.HEAD}"
    size_text = view.format_size(size) + (
        f" + {view.format_size(wal_size)} WAL" if wal_size else ""
    )
    lines = view.table(
        ["", ""],
        [
            ("storage root", reader.store.root),
            ("database", reader.store.where if on_server else f"{DB_FILENAME}, {size_text}"),
            ("schema", schema),
            ("peers", counts.peers),
            ("sessions", counts.sessions),
            ("logs", counts.logs),
        ],
    )[1:]
    lines += [""]
    lines += view.table(
        ["kind", "current ids", "versions"],
        [(kind.kind, kind.ids, kind.versions) for kind in counts.kinds],
        numeric=(1, 2),
    )
    if peers:
        lines += ["", *_peer_lines(peers)]
    return Result(value, lines)


def _peer_lines(peers: Sequence[queries.PeerSummary]) -> list[str]:
    return view.table(
        ["peer", "frames", "sensors", "detectors", "sessions", "apps", "first seen"],
        [
            (
                p.peer_id,
                p.frames,
                p.sensors,
                p.detectors,
                p.sessions,
                ", ".join(p.app_ids),
                view.format_time(p.first_seen_at),
            )
            for p in peers
        ],
        numeric=(1, 2, 3, 4),
    )


def _peers(reader: Reader) -> Result:
    peers = queries.peer_summaries(reader)
    lines = _peer_lines(peers) if peers else ["no peers"]
    return Result([view.record_json(peer) for peer in peers], lines)


def _kinds(kind: str | None, default: Sequence[str]) -> Sequence[str]:
    return default if kind is None else (kind,)


def _entries(args: argparse.Namespace, reader: Reader) -> Result:
    kinds = _kinds(args.kind, ("clock",) if args.session else queries.REGISTRY_KINDS)
    found = queries.current_entries(reader, peer_id=args.peer, kinds=kinds, session_id=args.session)
    return Result(
        [view.entry_json(entry) for entry in found],
        _entry_lines(found, "no current entries match"),
    )


def _history(args: argparse.Namespace, reader: Reader) -> Result:
    every = queries.KINDS if args.id is not None else queries.REGISTRY_KINDS
    found = queries.history(
        reader, peer_id=args.peer, kinds=_kinds(args.kind, every), entry_id=args.id
    )
    if args.id is not None and not found:
        raise NotFoundError(f"no entry has id {args.id!r}")
    current = queries.current_hashes(reader)
    numbers: dict[tuple[str, str, str | None, str], int] = {}
    value = []
    for entry in found:
        key = (entry.peer_id, entry.kind, entry.session_id, entry.id)
        numbers[key] = numbers.get(key, 0) + 1
        value.append({**view.entry_json(entry, entry.hash in current), "version": numbers[key]})
    lines = _entry_lines(found, "no entries match", versions=True, current=current)
    return Result(value, lines)


def _resolve(args: argparse.Namespace, reader: Reader) -> Entry:
    """The version `show` names: a hash (or unique prefix), `peer/id@hash`, a JSON ref, or
    the current version of `--id` (narrowed by `--peer`, `--kind`, `--session`)."""
    ref: str | None = args.ref
    peer_id, entry_id, wanted_hash = args.peer, args.id, None
    if ref is not None:
        ref = ref.strip()
        if ref.startswith("{"):
            try:
                parsed = json.loads(ref)
                peer_id, entry_id = parsed["peer_id"], parsed["id"]
                wanted_hash = str(parsed["hash"]).lower()
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(
                    f"ref {ref!r} is not a JSON object with peer_id, id and hash"
                ) from error
        elif "/" in ref:
            peer_id, _, rest = ref.partition("/")
            entry_id, _, found_hash = rest.rpartition("@") if "@" in rest else (rest, "", "")
            wanted_hash = found_hash.lower() or None
        elif len(ref) >= 4 and set(ref.lower()) <= _HEX:
            matches = queries.entries_by_hash_prefix(reader, ref.lower())
            if len(matches) > 1:
                raise ValueError(f"hash prefix {ref!r} matches more than one entry; give more")
            if matches:
                return matches[0]
            raise NotFoundError(f"no entry has a hash starting {ref!r}")
        else:
            entry_id = ref
    if wanted_hash is not None:
        found = reader.entry(wanted_hash)
        if found is None or (peer_id, entry_id) != (found.peer_id, found.id):
            raise NotFoundError(f"no entry matches {ref!r}")
        return found
    if entry_id is None:
        raise ValueError("name an entry: a hash, peer/id@hash, a JSON ref, or --id ID")
    kinds = _kinds(args.kind, queries.KINDS)
    candidates = [
        entry
        for entry in queries.current_entries(
            reader, peer_id=peer_id, kinds=kinds, session_id=args.session
        )
        if entry.id == entry_id
    ]
    if not candidates:
        raise NotFoundError(f"no current entry has id {entry_id!r}")
    if len(candidates) > 1:
        named = ", ".join(
            f"{entry.kind} of {entry.peer_id}"
            + (f" in session {entry.session_id}" if entry.session_id else "")
            for entry in candidates
        )
        raise ValueError(
            f"id {entry_id!r} is ambiguous ({named}); narrow it with --peer, --kind or --session"
        )
    return candidates[0]


def _show(args: argparse.Namespace, reader: Reader) -> Result:
    entry = _resolve(args, reader)
    current = entry.hash in queries.current_hashes(reader)
    return Result(view.entry_json(entry, current), raw=entry.canonical_json.encode("utf-8"))


def _sessions(args: argparse.Namespace, reader: Reader) -> Result:
    found = queries.session_summaries(reader, args.peer)
    lines = (
        view.table(
            ["session", "peer", "app", "started", "clocks", "logs"],
            [
                (
                    s.session_id,
                    s.peer_id,
                    s.app_id,
                    view.format_time(s.started_at),
                    s.clocks,
                    s.logs,
                )
                for s in found
            ],
            numeric=(4, 5),
        )
        if found
        else ["no sessions"]
    )
    return Result([view.record_json(session) for session in found], lines)


def _log_lines(log: LogInfo, peer_id: str) -> list[str]:
    """A log's manifest fields beyond those in the logs table; refs to the session's own
    peer are written `id@hash`."""
    skip = {"session_id", "app_id", "segment_duration_ns", "retention_ns"}
    rows: list[tuple[str, str]] = []
    for key, value in log.manifest.items():
        if key in skip or (key in ("source_peer_id", "writer_peer_id") and value == peer_id):
            continue
        rows.append((key, view.format_ref(value, peer_id)))
    width = max((len(key) for key, _ in rows), default=0)
    return [f"{log.kind} log {log.resource_id}"] + [
        f"  {key.ljust(width)}  {text}" for key, text in rows
    ]


def _session(args: argparse.Namespace, reader: Reader) -> Result:
    summary = next(
        (s for s in queries.session_summaries(reader) if s.session_id == args.session_id), None
    )
    if summary is None:
        raise NotFoundError(f"no session {args.session_id!r}")
    clocks = queries.current_entries(reader, kinds=("clock",), session_id=summary.session_id)
    logs = queries.all_logs(reader, summary.session_id)
    value = {
        "session": view.record_json(summary),
        "clocks": [view.entry_json(clock) for clock in clocks],
        "logs": [view.log_json(log) for log in logs],
    }
    return Result(value, _session_lines(reader.store.root, summary, clocks, logs))


def _session_lines(
    root: Path, summary: queries.SessionSummary, clocks: Sequence[Entry], logs: Sequence[LogInfo]
) -> list[str]:
    lines = [
        f"session  {summary.session_id}",
        f"peer     {summary.peer_id}",
        f"app      {summary.app_id}",
        f"started  {summary.started_at}",
        f"logs in  {Path(root, summary.session_id, 'logs', summary.peer_id)}/<resource>/",
        "",
        f"clocks ({len(clocks)})",
        *view.table(
            ["id", "hash", "description"],
            [(clock.id, clock.hash, view.describe(clock)) for clock in clocks],
            indent="  ",
        ),
        "",
        f"logs ({len(logs)})",
    ]
    if logs:
        lines += view.table(
            ["resource", "kind", "head", "segment", "retention", "registered"],
            [
                (
                    log.resource_id,
                    log.kind,
                    view.format_head(log.head),
                    view.format_duration(int(log.manifest.get("segment_duration_ns", 0))),
                    view.format_retention(int(log.manifest.get("retention_ns", 0))),
                    view.format_time(log.registered_at),
                )
                for log in logs
            ],
            indent="  ",
        )
        for log in logs:
            lines += ["", *_log_lines(log, summary.peer_id)]
    return lines


def _verify(args: argparse.Namespace, reader: Reader) -> Result:
    try:
        check_files = args.url is None or args.root is not None
        report = verify(reader, check_files=check_files)
    except DBAPIError as error:
        problem = Problem("integrity", str(reader.store.path), f"cannot be read: {error.orig}")
        report = VerifyReport(0, 0, (problem,), ())
    value = {
        "ok": report.ok,
        "root": str(reader.store.root),
        "entries": report.entries,
        "logs": report.logs,
        "problems": [view.record_json(problem) for problem in report.problems],
        "warnings": list(report.warnings),
    }
    lines = [f"warning: {warning}" for warning in report.warnings]
    if report.ok:
        lines += [
            f"OK  {reader.store.root if reader.store.url is None else reader.store.where}",
            f"  {report.entries} entry versions: hashes and canonical JSON match",
        ]
        if check_files:
            lines.append(f"  {report.logs} log manifests: identical on disk, none without a log")
        if reader.store.url is None:
            lines.append("  SQLite integrity_check and foreign_key_check: ok")
        return Result(value, lines)
    count = len(report.problems)
    lines += [f"{count} problem{'s' if count > 1 else ''} in {reader.store.root}"]
    lines += [f"  [{problem.check}] {problem}" for problem in report.problems]
    return Result(
        value,
        lines,
        code=EXIT_FOUND,
        error=f"verify found {count} problem{'s' if count > 1 else ''}",
    )


def _export(args: argparse.Namespace, reader: Reader) -> Result:
    report = export(reader, Path(args.dest))
    lines = [
        f"exported {report.entries} entry versions and {report.manifests} log manifests "
        f"to {report.dest}",
        f"  {report.written} files written, {report.unchanged} already there and identical",
    ]
    return Result(view.record_json(report), lines)


def _db_current(reader: Reader) -> Result:
    revision = queries.schema_revision(reader)
    status = "current" if revision == migrate.HEAD else "needs upgrade"
    text = f"{revision} ({status}" + ("" if revision == migrate.HEAD else f" to {migrate.HEAD}")
    return Result({"revision": revision, "head": migrate.HEAD, "status": status}, [text + ")"])


def _db_check(args: argparse.Namespace) -> Result:
    result = _read(args, _db_current, head=False)
    if result.value["status"] == "current":
        result.lines = [f"schema is current ({migrate.HEAD})"]
        return result
    result.lines = [
        f"schema {result.value['revision']} needs upgrading to {migrate.HEAD}: "
        f"run `{PROG} db upgrade`"
    ]
    result.code = EXIT_FOUND
    return result


def _db_upgrade(args: argparse.Namespace) -> Result:
    before = _read(args, _db_current, head=False).value["revision"]
    if before != migrate.HEAD:
        store = Store(_root(args), url=args.url)
        try:
            store.engine  # noqa: B018 - opening a writable store brings its schema to head
        finally:
            store.close()
    after = _read(args, _db_current, head=False).value["revision"]
    text = f"upgraded {before} -> {after}" if before != after else f"already at {after}"
    return Result({"from": before, "to": after, "head": migrate.HEAD}, [text])


def _uses(args: argparse.Namespace, reader: Reader) -> Result:
    found = reader.logs_using(args.hash.lower())
    value = [
        {
            "session_id": log.session_id,
            "peer_id": log.peer_id,
            "resource_id": log.resource_id,
            "kind": log.kind,
            "roles": sorted(
                role
                for role, ref in log.manifest.items()
                if isinstance(ref, dict) and ref.get("hash") == args.hash.lower()
            ),
        }
        for log in found
    ]
    lines = view.table(
        ["session", "peer", "log", "kind", "as"],
        [
            (v["session_id"], v["peer_id"], v["resource_id"], v["kind"], ", ".join(v["roles"]))
            for v in value
        ],
    )
    return Result(value, lines if value else [f"no log uses {args.hash}"])


def _push(args: argparse.Namespace) -> Result:
    from .store.push import push_store

    report = push_store(Path(args.source), args.target)
    value = {"copied": report.copied, "present": report.present, "problems": report.problems}
    tables = sorted(set(report.copied) | set(report.present))
    lines = view.table(
        ["table", "copied", "already there"],
        [(t, report.copied.get(t, 0), report.present.get(t, 0)) for t in tables],
        numeric=(1, 2),
    )
    lines += [f"problem: {problem}" for problem in report.problems]
    if not report.problems:
        return Result(value, lines)
    count = len(report.problems)
    return Result(value, lines, code=EXIT_FOUND, error=f"push refused {count} row(s)")


def _demo(args: argparse.Namespace) -> Result:
    from .demo import register_demo_robot
    from .stores import store_for

    root = args.demo_root or args.root or DEMO_ROOT
    peer = register_demo_robot(root)
    store_for(root, "full").close()  # checkpoint the WAL, so the summary shows the file as kept
    session_id = peer.sessions()[-1].session_id
    where = Path(root)

    def report(reader: Reader) -> Result:
        summary = _summary(reader)
        found = queries.current_entries(reader, peer_id=peer.peer_id)
        sessions = _sessions(argparse.Namespace(peer=peer.peer_id), reader)
        session = _session(argparse.Namespace(session_id=session_id), reader)
        value = {
            "root": str(where),
            "peer_id": peer.peer_id,
            "app_id": peer.app_id,
            "summary": summary.value,
            "entries": [view.entry_json(entry) for entry in found],
            "sessions": sessions.value,
            "session": session.value,
        }
        hint = f"{PROG} --root {where}"
        lines = [
            f"Registered the demo robot {peer.peer_id} (app {peer.app_id}) in {where}/",
            "",
            *_section("The store", summary.lines),
            *_section("Current entries", _entry_lines(found, "none")),
            *_section("Sessions", sessions.lines),
            *_section(f"Session {session_id}", session.lines[6:]),
            "Try next:",
            *view.table(
                ["", ""],
                [
                    (f"{hint} history", "every version ever registered"),
                    (f"{hint} show {found[0].hash[:12]}", "one entry's canonical JSON"),
                    (f"{hint} session {session_id}", "a session's clocks and logs"),
                    (f"{hint} verify", "recompute every hash, check the manifests"),
                    (f"{hint} export OUT", "write the Rust SDK's file layout"),
                    (f"sqlite3 {where / DB_FILENAME}", "then: SELECT * FROM current_entries;"),
                ],
                indent="  ",
            )[1:],
        ]
        return Result(value, lines)

    return queries.read_consistently(where, report, require_head=True)


def _section(title: str, lines: list[str]) -> list[str]:
    return [title, "-" * len(title), *lines, ""]


# --- arguments ----------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other failure."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{PROG}: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    # --root and --json work before or after the command; SUPPRESS keeps an earlier value.
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
    parser = _Parser(
        prog=PROG,
        description="Inspect, verify, export and upgrade an auki-session storage root. "
        "Read commands never write to it.",
        parents=[common],
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, parents=[common])

    command("summary", "peers, counts per kind, sessions, logs, schema revision, file size")
    command("peers", "every peer, with its current frames, sensors, detectors and sessions")
    kinds = (*queries.KINDS,)
    sub = command(
        "entries",
        "the current version of each frame, sensor and detector "
        "(clocks with --kind clock or --session)",
    )
    sub.add_argument("--peer", help="only this peer's")
    sub.add_argument("--kind", choices=kinds, help="only this kind")
    sub.add_argument("--session", help="the clocks of this session")
    sub = command(
        "history",
        "every version ever registered, in the order first registered "
        "(clocks with --kind clock or an ID)",
    )
    sub.add_argument("id", nargs="?", help="only this id's versions")
    sub.add_argument("--peer", help="only this peer's")
    sub.add_argument("--kind", choices=kinds, help="only this kind")
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
    sub = command("sessions", "sessions, oldest first")
    sub.add_argument("--peer", help="only this peer's")
    sub = command("session", "one session's clocks and logs, with manifests and head specs")
    sub.add_argument("session_id", metavar="SESSION_ID")
    command("verify", "recompute every hash, check manifests on disk, run SQLite's checks")
    sub = command("export", "write the Rust SDK's file layout (registries/ and manifests)")
    sub.add_argument("dest", metavar="DEST", help="the directory to write into")
    db = command("db", "the database schema: current, upgrade, check")
    actions = db.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    actions.add_parser("current", help="print the schema revision", parents=[common])
    actions.add_parser("upgrade", help="upgrade the schema to this code's", parents=[common])
    actions.add_parser(
        "check", help="exit 0 if the schema is current, 1 if it needs upgrading", parents=[common]
    )
    sub = command("uses", "the logs whose manifests reference an entry version (by hash)")
    sub.add_argument("hash", metavar="HASH")
    sub = command(
        "push",
        "copy a robot's store into a fleet database (idempotent; safe to rerun or run at once)",
    )
    sub.add_argument("source", metavar="ROOT", help="the robot's storage root")
    sub.add_argument("target", metavar="URL", help="the fleet database's SQLAlchemy URL")
    sub = command("demo", f"register a demo robot into ROOT (default ./{DEMO_ROOT}) and show it")
    sub.add_argument("demo_root", nargs="?", metavar="ROOT")
    return parser


def _run(args: argparse.Namespace) -> Result:
    command: str = args.command
    if command == "demo":
        return _demo(args)
    if command == "push":
        return _push(args)
    if command == "db":
        if args.action == "current":
            return _read(args, _db_current, head=False)
        if args.action == "check":
            return _db_check(args)
        return _db_upgrade(args)
    if command == "summary":
        return _read(args, _summary, head=False)
    if command == "peers":
        return _read(args, _peers)
    if command == "verify":
        return _read(args, lambda reader: _verify(args, reader))
    handlers: dict[str, Callable[[argparse.Namespace, Reader], Result]] = {
        "entries": _entries,
        "history": _history,
        "show": _show,
        "sessions": _sessions,
        "session": _session,
        "export": _export,
        "uses": _uses,
    }
    handler = handlers[command]
    return _read(args, lambda reader: handler(args, reader))


# --- output -------------------------------------------------------------------------------------


def _print(args: argparse.Namespace, result: Result) -> None:
    if args.json:
        sys.stdout.write(json.dumps(result.value, indent=2, ensure_ascii=False) + "\n")
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
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    # Not parser defaults: the options are shared with the subcommands, whose defaults would
    # then overwrite a value given before the command.
    args.root = getattr(args, "root", None)
    args.json = getattr(args, "json", False)
    args.url = getattr(args, "url", None)
    try:
        result = _run(args)
        _print(args, result)
    except BrokenPipeError:
        # The reader went away (`| head`): stay quiet, also when Python flushes at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except DBAPIError as error:
        return _fail(f"{_root(args) / DB_FILENAME}: cannot read the store: {error.orig}")
    except sqlite3.Error as error:
        return _fail(f"{_root(args) / DB_FILENAME}: cannot read the store: {error}")
    except LookupError as error:
        return _fail(error.args[0] if error.args else repr(error))
    except (AukiSessionError, OSError, ValueError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        return 130
    if result.error is not None:
        sys.stderr.write(f"{PROG}: error: {result.error}\n")
    return result.code
