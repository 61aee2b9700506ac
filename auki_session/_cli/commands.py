"""One function per command: each reads what it needs and returns a `Result` (a JSON value for
`--json`, the lines a person reads, or raw bytes), leaving printing to `main`."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._domain.diff import diff_values
from .._domain.entries import ENTRY_KINDS, REGISTRY_KINDS, Entry, EntryKind
from .._domain.identity import key_peer_id, signature_valid
from .._domain.layout import DB_FILENAME
from .._domain.prefixes import MIN_HASH_PREFIX, looks_like_hash
from .._store import migrate
from .._store.plain import database_reason
from .._store.reader import Reader
from .._store.snapshot import read_snapshot
from .._store.verify import DiskScan, Problem, VerifyReport
from .._store.verify import verify as verify_store
from ..errors import NotFoundError, StoreError
from . import lookup, render

__all__ = [
    "DEMO_ROOT",
    "EXIT_ERROR",
    "EXIT_FOUND",
    "EXIT_OK",
    "PROG",
    "Result",
    "current_entries",
    "db_check",
    "db_current",
    "db_upgrade",
    "diff",
    "entries",
    "export",
    "history",
    "import_rust",
    "peers",
    "push",
    "read",
    "session",
    "sessions",
    "show",
    "summary",
    "tree",
    "uses",
    "verify",
]

PROG = "auki-session"
DEMO_ROOT = "auki-demo"
"""Where `demo` writes when given no root."""
EXIT_OK, EXIT_FOUND, EXIT_ERROR = 0, 1, 2
_KIND_ORDER = {kind: index for index, kind in enumerate(ENTRY_KINDS)}


@dataclass(slots=True)
class Result:
    """What a command produces: a JSON value, the lines a person reads, or raw bytes."""

    value: Any = None
    lines: list[str] = field(default_factory=list)
    raw: bytes | None = None
    code: int = EXIT_OK
    error: str | None = None


def read(
    root: Path, url: str | None, run: Callable[[Reader], Result], *, head: bool = True
) -> Result:
    """Run a read command in one snapshot of the store, writing nothing to it; with `head`,
    refuse a database whose schema is older than the code's."""

    def checked(reader: Reader) -> Result:
        revision = reader.schema_revision()
        if head and revision != migrate.HEAD:
            raise StoreError(
                f"{reader.where}: database schema revision {revision!r} is older than this "
                f"auki-session's {migrate.HEAD!r}; run `{PROG} db upgrade` first "
                "(read commands never change the store)"
            )
        return run(reader)

    return read_snapshot(root, checked, url=url)


def _sorted(found: list[Entry]) -> list[Entry]:
    """By peer, kind (frame, sensor, detector, clock), session and id; stable, so each id's
    versions stay in the order first registered."""
    return sorted(found, key=lambda e: (e.peer_id, _KIND_ORDER[e.kind], e.session_id or "", e.id))


def current_entries(
    reader: Reader,
    peer: str | None,
    kinds: Sequence[EntryKind],
    session_id: str | None,
    entry_id: str | None = None,
) -> list[Entry]:
    """The current version of each id (or of `entry_id`) of the given kinds (clocks: of every
    session, or one)."""
    found: list[Entry] = []
    registry = [kind for kind in kinds if kind != "clock"]
    if registry and session_id is None:
        one = registry[0] if len(registry) == 1 else None
        found += [e for e in reader.current_entries(peer, one, entry_id) if e.kind in registry]
    if "clock" in kinds:
        found += [
            e for e in reader.clocks(session_id, entry_id) if peer is None or e.peer_id == peer
        ]
    return _sorted(found)


def summary(reader: Reader, root: Path | None = None) -> Result:
    """Peers, counts per kind, sessions, logs, schema revision, file size (`root`: the
    storage root given with a server database's URL, if any)."""
    counts = reader.store_counts()
    peers = reader.peer_summaries()
    revision = reader.schema_revision()
    on_server = reader.url is not None
    size = 0 if on_server else reader.path.stat().st_size
    wal = reader.path.with_name(reader.path.name + "-wal")
    wal_size = wal.stat().st_size if not on_server and wal.exists() else 0
    status = "current" if revision == migrate.HEAD else "needs upgrade"
    value = {
        "root": None if on_server and root is None else str(root or reader.root),
        "database": reader.where,
        "size_bytes": size,
        "wal_bytes": wal_size,
        "schema": {"revision": revision, "head": migrate.HEAD, "status": status},
        "peers": [render.record_json(peer) for peer in peers],
        "sessions": counts.sessions,
        "logs": counts.logs,
        "kinds": [render.record_json(kind) for kind in counts.kinds],
    }
    schema = f"{revision} ({status})"
    if revision != migrate.HEAD:
        schema += f": run `{PROG} db upgrade` to bring it to {migrate.HEAD}"
    size_text = render.format_size(size) + (
        f" + {render.format_size(wal_size)} WAL" if wal_size else ""
    )
    lines = render.table(
        ["", ""],
        [
            *([] if value["root"] is None else [("storage root", value["root"])]),
            ("database", reader.where if on_server else f"{DB_FILENAME}, {size_text}"),
            ("schema", schema),
            ("peers", counts.peers),
            ("sessions", counts.sessions),
            ("logs", counts.logs),
        ],
    )[1:]
    lines += [""]
    lines += render.table(
        ["kind", "current ids", "versions"],
        [(kind.kind, kind.ids, kind.versions) for kind in counts.kinds],
        numeric=(1, 2),
    )
    if peers:
        lines += ["", *render.peer_lines(peers)]
    return Result(value, lines)


def peers(reader: Reader) -> Result:
    """Every peer, with its current frames, sensors, detectors and sessions."""
    found = reader.peer_summaries()
    lines = render.peer_lines(found) if found else ["no peers"]
    return Result([render.record_json(peer) for peer in found], lines)


def entries(
    reader: Reader, peer: str | None, kind: EntryKind | None, session_id: str | None
) -> Result:
    """The current version of each id (clocks with kind clock or a session)."""
    if session_id is not None:
        session_id = lookup.session_by_id(reader, session_id, "--session", peer)
    default: Sequence[EntryKind] = ("clock",) if session_id else REGISTRY_KINDS
    found = current_entries(reader, peer, (kind,) if kind else default, session_id)
    return Result(
        [render.entry_json(entry) for entry in found],
        render.entry_lines(found, "no current entries match"),
    )


def history(
    reader: Reader,
    entry_id: str | None,
    peer: str | None,
    kind: EntryKind | None,
    changes: bool = False,
) -> Result:
    """Every version ever registered, in the order first registered (clocks with kind clock
    or an id); `entry_id` may also be a version's hash or a unique prefix of one (that
    version's id). With `changes`, what changed from each version of an id to the next."""
    found = reader.history(peer, kind, entry_id)
    if entry_id is not None and not found and looks_like_hash(entry_id):
        version = _matching(lookup.entry_by_hash(reader, entry_id, "ID"), "ID", peer, kind)
        peer, kind, entry_id = version.peer_id, version.kind, version.id
        found = reader.history(peer, kind, entry_id)
    if kind is None and entry_id is None:
        found = [entry for entry in found if entry.kind != "clock"]
    found = _sorted(found)
    if entry_id is not None and not found:
        raise NotFoundError(
            f"ID {entry_id!r}: no entry has this id or a hash starting with it "
            f"(`{PROG} entries` lists the current ids)"
        )
    if changes:
        return _version_changes(found)
    current = reader.current_among(found)
    numbers: dict[tuple[str, str, str | None, str], int] = {}
    value = []
    for entry in found:
        key = (entry.peer_id, entry.kind, entry.session_id, entry.id)
        numbers[key] = numbers.get(key, 0) + 1
        value.append({**render.entry_json(entry, entry.hash in current), "version": numbers[key]})
    lines = render.entry_lines(found, "no entries match", versions=True, current=current)
    return Result(value, lines)


def _version_changes(found: Sequence[Entry]) -> Result:
    """What changed from each version of an id to the next (`history --diff`)."""
    if not found:
        raise ValueError("--diff needs an ID (or a hash) whose versions to compare")
    groups: dict[tuple[str, str, str | None, str], list[Entry]] = {}
    for entry in found:
        groups.setdefault((entry.peer_id, entry.kind, entry.session_id, entry.id), []).append(entry)
    value: list[dict[str, Any]] = []
    lines: list[str] = []
    for versions in groups.values():
        if len(versions) == 1:
            only = versions[0]
            lines += [f"{only.kind} {only.peer_id}/{only.id} has one version, {only.hash}", ""]
        for number, (before, after) in enumerate(itertools.pairwise(versions), start=1):
            changes = diff_values(before.entry, after.entry)
            value.append(
                {**render.diff_json(before, after, changes), "versions": [number, number + 1]}
            )
            lines += render.diff_lines(before, after, changes, (number, number + 1))
            lines.append("")
    return Result(value, lines[:-1] if lines and not lines[-1] else lines)


def diff(reader: Reader, first: str, second: str) -> Result:
    """The field-level changes between two entry versions (`diff A B`)."""
    before = _resolve(reader, first, None, None, None, None, argument="A")
    after = _resolve(reader, second, None, None, None, None, argument="B")
    changes = diff_values(before.entry, after.entry)
    return Result(
        render.diff_json(before, after, changes), render.diff_lines(before, after, changes)
    )


def _matching(version: Entry, argument: str, peer: str | None, kind: str | None) -> Entry:
    """The version a hash named, when it agrees with --peer and --kind (given ones)."""
    if (peer is not None and peer != version.peer_id) or (
        kind is not None and kind != version.kind
    ):
        raise NotFoundError(
            f"{argument}: version {version.hash} is {version.kind} {version.peer_id}/"
            f"{version.id}, not a {kind or 'version'} of {peer or 'any peer'} (drop --peer or "
            "--kind, or name another version)"
        )
    return version


def _resolve(
    reader: Reader,
    ref: str | None,
    peer: str | None,
    kind: EntryKind | None,
    entry_id: str | None,
    session_id: str | None,
    argument: str = "REF",
) -> Entry:
    """The version `show` (or `diff`) names: a hash (or unique prefix), `peer/id@hash` (a
    prefix of the hash too), a JSON ref, or the current version of `entry_id` (narrowed by
    peer, kind and session)."""
    wanted_hash = None
    if session_id is not None:
        session_id = lookup.session_by_id(reader, session_id, "--session", peer)
    if ref is not None:
        ref = ref.strip()
        if ref.startswith("{"):
            try:
                parsed = json.loads(ref)
                peer, entry_id = parsed["peer_id"], parsed["id"]
                wanted_hash = str(parsed["hash"])
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(
                    f"{argument} {ref!r} is not a JSON object with peer_id, id and hash"
                ) from error
        elif "/" in ref:
            peer, _, rest = ref.partition("/")
            entry_id, _, found_hash = rest.rpartition("@") if "@" in rest else (rest, "", "")
            wanted_hash = found_hash or None
        elif looks_like_hash(ref):
            try:
                found = lookup.entry_by_hash(reader, ref, argument)
            except NotFoundError:
                entry_id = ref  # a hex-looking id, such as `cafe`
            else:
                return _matching(found, argument, peer, kind)
        else:
            entry_id = ref
    if wanted_hash is not None:
        found = lookup.entry_by_hash(reader, wanted_hash, argument)
        if (peer, entry_id) != (found.peer_id, found.id):
            raise NotFoundError(
                f"{argument} {ref!r}: version {found.hash} is {found.kind} "
                f"{found.peer_id}/{found.id}, not {peer}/{entry_id}"
            )
        return found
    if entry_id is None:
        raise ValueError(
            f"name an entry: {argument} as a hash (or 4+ of its hex digits), peer/id@hash, "
            "a JSON ref, or --id ID"
        )
    kinds: Sequence[EntryKind] = (kind,) if kind else ENTRY_KINDS
    candidates = current_entries(reader, peer, kinds, session_id, entry_id)
    if not candidates:
        hint = (
            ", and it is too short for a hash prefix (4 hex digits at least)"
            if ref is not None and ref == entry_id and len(ref) < MIN_HASH_PREFIX
            else ""
        )
        raise NotFoundError(
            f"{argument if ref is not None else '--id'} {entry_id!r}: no current entry has "
            f"this id{hint}; give an id that `{PROG} entries` lists, a hash or a unique "
            "prefix of one, or peer/id@hash"
        )
    if len(candidates) > 1:
        named = ", ".join(
            f"{entry.kind} of {entry.peer_id}"
            + (f" in session {entry.session_id}" if entry.session_id else "")
            for entry in candidates
        )
        narrow = ", or narrow it with --peer, --kind or --session" if argument == "REF" else ""
        raise ValueError(
            f"{argument if ref is not None else '--id'} {entry_id!r} is ambiguous ({named}): "
            f"name it as peer/id or peer/id@hash{narrow}"
        )
    return candidates[0]


def show(
    reader: Reader,
    ref: str | None,
    peer: str | None,
    kind: EntryKind | None,
    entry_id: str | None,
    session_id: str | None,
) -> Result:
    """One entry's canonical JSON, exactly as stored and hashed."""
    entry = _resolve(reader, ref, peer, kind, entry_id, session_id)
    current = entry.hash in reader.current_among([entry])
    value = render.entry_json(entry, current)
    value["signed_by"] = _signer_of(entry)
    return Result(value, raw=entry.canonical_json.encode("utf-8"))


def _signer_of(entry: Entry) -> str | None:
    """The peer id whose key's signature of this version holds, or None (unsigned, a plain
    id, or a signature that does not hold: `verify` says which)."""
    key = key_peer_id(entry.peer_id)
    if key is None or entry.signature is None:
        return None
    try:
        signature = bytes.fromhex(entry.signature)
    except ValueError:
        return None
    message = entry.canonical_json.encode("utf-8", "surrogatepass")
    return entry.peer_id if signature_valid(key, message, signature) else None


def sessions(reader: Reader, peer: str | None, last: int | None = None) -> Result:
    """Sessions, oldest first (with `last`, only the last N started)."""
    found = reader.session_summaries(peer) if last is None else reader.latest_sessions(last, peer)
    lines = (
        render.table(
            ["session", "peer", "app", "started", "clocks", "logs"],
            [
                (
                    s.session_id,
                    s.peer_id,
                    s.app_id,
                    render.format_time(s.started_at),
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
    return Result([render.record_json(session) for session in found], lines)


def session(
    reader: Reader, wanted: str, peer: str | None = None, root: Path | None = None
) -> tuple[Result, list[str]]:
    """One session's clocks and logs, with manifests and head specs (`wanted`: its id, a
    unique prefix of it, or `latest`); also the lines without the session's header (for the
    demo). `root`: where its logs are (None in a fleet database without --root)."""
    session_id = lookup.session_by_id(reader, wanted, "SESSION", peer)
    found = reader.session_summaries(session_id=session_id)
    clocks = reader.clocks(session_id)
    logs = reader.logs(session_id)
    value = {
        "session": render.record_json(found[0]),
        "clocks": [render.entry_json(clock) for clock in clocks],
        "logs": [render.log_json(log) for log in logs],
    }
    logs_root = root if root is not None or reader.url is not None else reader.root
    header, body = render.session_lines(logs_root, found[0], clocks, logs)
    return Result(value, [*header, "", *body]), body


def tree(
    reader: Reader,
    wanted: str,
    peer: str | None,
    output_format: str,
    output: Path | None,
) -> Result:
    """A session's frame tree and clock graph (`wanted`: its id, a unique prefix, or
    `latest`): indented text, DOT, or a picture Graphviz renders into `output`."""
    from . import tree as show_tree

    if output_format == "text" and output is not None:
        raise ValueError("-o FILE writes a picture or DOT: give --format dot, svg, png or pdf")
    session_id = lookup.session_by_id(reader, wanted, "SESSION", peer)
    graph = reader.session_graph(session_id)
    if graph is None:
        raise NotFoundError(f"SESSION {wanted!r}: no such session")
    value = graph.to_dict()
    if output_format == "text":
        return Result(value, show_tree.tree_lines(graph))
    dot = show_tree.to_dot(graph)
    if output_format == "dot":
        if output is not None:
            output.write_text(dot + "\n", encoding="utf-8")
            return Result(value, [f"wrote {output}"])
        return Result(value, dot.splitlines())
    if output is None:
        raise ValueError(f"--format {output_format} writes a file: give -o FILE")
    show_tree.render_picture(dot, output_format, output)
    lines = [f"wrote {output}"] + [f"warning: {warning}" for warning in graph.warnings]
    return Result(value, lines)


def verify(reader: Reader, disk: DiskScan | None, require_signed: bool = False) -> Result:
    """Recompute every hash, check every signature, check manifests on disk (as `disk` found
    them just before the database was read), run SQLite's checks."""
    check_files = disk is not None
    try:
        report = verify_store(reader, disk, require_signed=require_signed)
    except reader.run.errors as error:
        reason = database_reason(error)
        problem = Problem("integrity", str(reader.path), f"cannot be read: {reason}")
        report = VerifyReport(0, 0, (problem,), ())
    value = {
        "ok": report.ok,
        "root": str(reader.root),
        "entries": report.entries,
        "logs": report.logs,
        "signed": report.signed,
        "unsigned": report.unsigned,
        "problems": [render.record_json(problem) for problem in report.problems],
        "warnings": list(report.warnings),
    }
    lines = [f"warning: {warning}" for warning in report.warnings]
    if report.ok:
        lines += [
            f"OK  {reader.root if reader.url is None else reader.where}",
            f"  {report.entries} entry versions: hashes and canonical JSON match",
            f"  {report.signed} signatures hold against their peer ids"
            + (f"; {report.unsigned} records of key ids unsigned" if report.unsigned else ""),
        ]
        if check_files:
            lines.append(f"  {report.logs} log manifests: identical on disk, none without a log")
        if reader.url is None:
            lines.append("  SQLite integrity_check and foreign_key_check: ok")
        return Result(value, lines)
    count = len(report.problems)
    plural = "s" if count > 1 else ""
    lines += [f"{count} problem{plural} in {reader.root}"]
    lines += [f"  [{problem.check}] {problem}" for problem in report.problems]
    return Result(value, lines, code=EXIT_FOUND, error=f"verify found {count} problem{plural}")


def export(reader: Reader, dest: Path) -> Result:
    """Write the Rust SDK's file layout (registries/ and manifests)."""
    from .._store.export import export as export_store  # only this command needs it

    report = export_store(reader, dest)
    lines = [
        f"exported {report.entries} entry versions and {report.manifests} log manifests "
        f"to {report.dest}",
        f"  {report.written} files written, {report.unchanged} already there and identical",
    ]
    return Result(render.record_json(report), lines)


def import_rust(root: Path) -> Result:
    """Import the Rust SDK daemons' files of a root into its store (see rust_import.py)."""
    from .._store.rust_import import import_root  # only this command needs it
    from .._store.store import open_store

    store = open_store(root)
    try:
        report = import_root(store)
    finally:
        store.close()
    value = {
        "root": str(root),
        "files": report.files,
        "imported": report.imported,
        "already_there": report.already,
        "made_current": report.current,
        "sessions": report.sessions,
        "logs": report.logs,
        "logs_already_there": report.logs_already,
        "refused": [{"file": path, "reason": reason} for path, reason in report.refused],
    }
    lines = [
        f"{report.files} registry files: {report.imported} entry versions imported "
        f"({report.current} made current), {report.already} already in the store",
        f"{report.sessions} sessions and {report.logs} logs imported "
        f"({report.logs_already} logs already in the store)",
    ]
    if not report.refused:
        return Result(value, lines)
    lines.append(f"{len(report.refused)} refused:")
    lines += [f"  {path}: {reason}" for path, reason in report.refused]
    plural = "" if len(report.refused) == 1 else "s"
    return Result(
        value, lines, code=EXIT_FOUND, error=f"import refused {len(report.refused)} file{plural}"
    )


def db_current(reader: Reader) -> Result:
    """The schema revision."""
    revision = reader.schema_revision()
    status = "current" if revision == migrate.HEAD else "needs upgrade"
    text = f"{revision} ({status}" + ("" if revision == migrate.HEAD else f" to {migrate.HEAD}")
    return Result({"revision": revision, "head": migrate.HEAD, "status": status}, [text + ")"])


def db_check(root: Path, url: str | None) -> Result:
    """Exit 0 if the schema is current, 1 if it needs upgrading."""
    result = read(root, url, db_current, head=False)
    if result.value["status"] == "current":
        result.lines = [f"schema is current ({migrate.HEAD})"]
        return result
    result.lines = [
        f"schema {result.value['revision']} needs upgrading to {migrate.HEAD}: "
        f"run `{PROG} db upgrade`"
    ]
    result.code = EXIT_FOUND
    return result


def db_upgrade(root: Path, url: str | None) -> Result:
    """Upgrade the schema to this code's."""
    before = read(root, url, db_current, head=False).value["revision"]
    if before != migrate.HEAD:
        from .._store.store import open_store  # writing needs SQLAlchemy

        open_store(root, url=url).close()  # opening read-write brings the schema to head
    after = read(root, url, db_current, head=False).value["revision"]
    text = f"upgraded {before} -> {after}" if before != after else f"already at {after}"
    return Result({"from": before, "to": after, "head": migrate.HEAD}, [text])


def uses(reader: Reader, entry_hash: str) -> Result:
    """The logs whose manifests reference an entry version (by its hash or a unique prefix)."""
    version = lookup.entry_by_hash(reader, entry_hash, "HASH")
    wanted = version.hash
    value = [
        {
            "session_id": log.session_id,
            "peer_id": log.peer_id,
            "resource_id": log.resource_id,
            "kind": log.kind,
            "roles": sorted(
                role
                for role, ref in log.manifest.items()
                if isinstance(ref, dict) and ref.get("hash") == wanted
            ),
        }
        for log in reader.logs_using(wanted)
    ]
    lines = render.table(
        ["session", "peer", "log", "kind", "as"],
        [
            (v["session_id"], v["peer_id"], v["resource_id"], v["kind"], ", ".join(v["roles"]))
            for v in value
        ],
    )
    named = f"{version.kind} {version.peer_id}/{version.id}@{wanted}"
    return Result(value, lines if value else [f"no log uses {named}"])


def push(
    source: Path,
    target: str,
    allow_unsigned: bool = False,
    rebind: Sequence[str] = (),
    rebound_by: str = "",
    full: bool = False,
) -> Result:
    """Copy a robot's store into a fleet database: a key-derived peer id's records only with
    their valid signatures (unless unsigned ones are allowed), any other peer's only from the
    store the fleet binds it to (unless the operator rebinds it to this one)."""
    from .._store.push import PushOptions, push_store

    options = PushOptions(allow_unsigned, frozenset(rebind), rebound_by, full)
    report = push_store(source, target, options)
    value = {
        "copied": report.copied,
        "present": report.present,
        "problems": report.problems,
        "notes": report.notes,
    }
    tables = sorted(set(report.copied) | set(report.present))
    lines = render.table(
        ["table", "copied", "already there"],
        [(t, report.copied.get(t, 0), report.present.get(t, 0)) for t in tables],
        numeric=(1, 2),
    )
    lines += [f"note: {note}" for note in report.notes]
    lines += [f"problem: {problem}" for problem in report.problems]
    if not report.problems:
        return Result(value, lines)
    count = len(report.problems)
    return Result(value, lines, code=EXIT_FOUND, error=f"push refused {count} row(s)")
