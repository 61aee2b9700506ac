"""`verify`'s checks of the registry mirror: every version in the database has its Rust SDK
file with identical bytes, and the files the database lacks are listed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .._domain.entries import Entry
from .._domain.rust_layout import REGISTRIES, file_hash
from ..errors import StoreError
from .files import Directory
from .mirror import Target, registry_files, root_key
from .reader import Reader

__all__ = ["MirrorFindings", "MirrorVersions", "lacking_files"]


@dataclass(slots=True)
class MirrorFindings:
    """What the mirror checks found: problems as (subject, message), and warnings."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class MirrorVersions:
    """Checks, one stored version at a time, that its registry file is there with the same
    bytes (a version still pending after a crash is a warning: the next open writes it)."""

    def __init__(self, reader: Reader, findings: MirrorFindings) -> None:
        self.root = reader.root
        self.findings = findings
        self.pending = reader.mirror_pending(root_key(reader.root, reader.url))
        self.missing_pending = 0
        self.checked = 0
        self.files = 0
        """Versions whose file is where the Rust layout puts it."""
        base = self.root / REGISTRIES
        self.present = base.is_dir() and not base.is_symlink()
        self._top: Directory | None = None
        if self.present:
            try:
                self._top = Directory.open(self.root)
            except OSError:
                self.present = False

    def check(self, entry: Entry) -> None:
        if self._top is None:
            return
        self.checked += 1
        data = entry.canonical_json.encode("utf-8", "surrogatepass")
        target = Target.of(entry.kind, entry.peer_id, entry.id, entry.hash, data)
        try:
            with self._top.walk(target.parts) as directory:
                found = directory.read_small(target.name, max(len(data), 1) * 2)
        except FileNotFoundError:
            found = None
        except StoreError as error:
            self.findings.problems.append((str(target.path(self.root)), str(error)))
            return
        except OSError as error:
            subject = str(target.path(self.root))
            self.findings.problems.append((subject, f"cannot be read: {error.strerror}"))
            return
        if found is None:
            if entry.hash in self.pending:
                self.missing_pending += 1
            else:
                self.findings.problems.append(
                    (
                        str(target.path(self.root)),
                        f"registry file of {entry.kind} {entry.peer_id}/{entry.id} missing",
                    )
                )
            return
        self.files += 1
        if found != data:
            self.findings.problems.append(
                (
                    str(target.path(self.root)),
                    "registry file differs from the database's canonical JSON",
                )
            )

    def finish(self, entries: int) -> None:
        if self._top is not None:
            self._top.close()
            self._top = None
        if not self.present and entries:
            self.findings.warnings.append(
                f"no registry mirror in {self.root} (a store written with the mirror off): "
                f"`auki-session export {self.root}` writes the Rust SDK's files"
            )
        if self.missing_pending:
            self.findings.warnings.append(
                f"{self.missing_pending} registry file(s) of committed versions not written yet "
                "(a writer stopped between its commit and its files): the next open writes them"
            )


def lacking_files(reader: Reader, findings: MirrorFindings, versions: MirrorVersions) -> None:
    """List the registry files whose version the database lacks (Rust daemons' registrations,
    or files nothing registered), with the command that imports them: every file not at the
    place of a version `versions` found (so no query per file; one example is looked up)."""
    root: Path = reader.root
    if (root / REGISTRIES).is_symlink():
        findings.problems.append(
            (
                str(root / REGISTRIES),
                "is a symbolic link; the store never reads or writes registry files through "
                "one (remove it: the next registration makes the directory)",
            )
        )
        return
    lacking = sum(1 for _ in registry_files(root)) - versions.files
    if lacking <= 0:
        return
    first = next(
        (
            found.path
            for found in registry_files(root)
            if (entry_hash := file_hash(found.name)) is None or reader.entry(entry_hash) is None
        ),
        None,
    )
    example = f" (first: {first})" if first is not None else ""
    findings.warnings.append(
        f"{lacking} registry file(s) the database lacks{example}: "
        f"`auki-session import {root}` imports the valid ones and lists the others"
    )
