"""`Peer`: a robot's long-lived identity, and the front door to its persistent registry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from ._domain.bodies import describe
from ._domain.clocks import MONOTONIC_BODY, UTC_BODY, auto_clock_ids
from ._domain.diff import FieldChange, diff_values
from ._domain.entries import (
    CanonicalEntry,
    Entry,
    EntryKind,
    check_kind,
    check_registry_kind,
    clock_entry,
    detector_entry,
    frame_entry,
    sensor_entry,
)
from ._domain.frames import FrameDef
from ._domain.identity import PEER_KEY_LABEL
from ._domain.ids import lookup_text, validate_peer_id
from ._domain.refs import RegistryRef, as_registry_ref
from ._domain.sessions import SessionInfo
from ._domain.typed import (
    DetectorBody,
    EntryKindName,
    InputType,
    RefLike,
    RegistryKindName,
    SensorBody,
)
from ._store.engines import DURABILITY, Durability, server_url
from ._store.mirror import mirror_default
from ._store.store import Store, shared_store
from ._store.transaction import Signer, Transaction
from .errors import ArgumentTypeError, ConfigurationError, NotFoundError
from .wallet import Wallet

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Peer"]


class Peer:
    """A peer's identity (`peer_id`, `app_id`) bound to a storage root.

    Nothing touches the disk until the first call that needs the store. Every `Peer` on one
    storage root (or database URL) in a process shares one open store.
    """

    __slots__ = (
        "_app_id",
        "_bound",
        "_durability",
        "_mirror",
        "_peer_id",
        "_read_only",
        "_seed_path",
        "_signer",
        "_storage_root",
        "_storage_url",
    )

    def __init__(self, peer_id: str, app_id: str) -> None:
        self._peer_id = validate_peer_id(peer_id)
        if not isinstance(app_id, str):
            raise ArgumentTypeError(f"app_id must be a str, got {type(app_id).__name__}")
        if not app_id:
            raise ConfigurationError("app_id must not be empty")
        self._app_id = str.__str__(app_id)
        self._storage_root = "."
        self._storage_url: str | None = None
        self._read_only = False
        self._bound: Store | None = None
        self._durability: Durability = "full"
        self._mirror: bool | None = None
        self._signer: Signer | None = None
        self._seed_path: str | None = None

    @classmethod
    def from_wallet(cls, wallet: Wallet, app_id: str) -> Peer:
        """The peer of an Auki wallet: its peer id is that of the wallet's `peer/v1` child key,
        which signs every record this peer writes (entries, changes of current version,
        sessions, logs), so anyone holding only the peer id can verify them."""
        if not isinstance(wallet, Wallet):
            raise ArgumentTypeError(f"wallet must be a Wallet, got {type(wallet).__name__}")
        key = wallet.derive_child(PEER_KEY_LABEL)
        peer = cls(key.peer_id, app_id)
        peer._signer = key._sign  # the key's own signing function: no copy of each message
        peer._seed_path = wallet.path
        return peer

    @property
    def signed(self) -> bool:
        """Whether this peer signs what it writes (it was made from a wallet)."""
        return self._signer is not None

    def _check_seed_outside_root(self) -> None:
        """A store is copied off robots and pushed; a wallet seed must not travel with it."""
        if self._seed_path is None:
            return
        root = os.path.realpath(self._storage_root)
        seed = os.path.realpath(self._seed_path)
        if os.path.commonpath([root, seed]) == root:
            raise ConfigurationError(
                f"wallet seed {self._seed_path} is inside the storage root {self._storage_root}: "
                "a store is copied and pushed, a seed must not travel with it; keep it outside "
                "(for example ~/.auki/<app>/identity.seed)"
            )

    def __repr__(self) -> str:
        return (
            f"Peer(peer_id={self._peer_id!r}, app_id={self._app_id!r}, "
            f"storage_root={self._storage_root!r})"
        )

    @property
    def peer_id(self) -> str:
        """The libp2p peer id."""
        return self._peer_id

    @property
    def app_id(self) -> str:
        """The application this peer runs as; each session records it."""
        return self._app_id

    @property
    def storage_root(self) -> str:
        """The storage root, as given."""
        return self._storage_root

    @property
    def storage_url(self) -> str | None:
        """The database URL set with `with_storage_url`, or None for the root's SQLite file."""
        return self._storage_url

    @property
    def durability(self) -> Durability:
        """`"full"` (power-loss durable, the default) or `"normal"`."""
        return self._durability

    @property
    def read_only(self) -> bool:
        """Whether this peer only reads its store (see `with_storage_root`)."""
        return self._read_only

    def with_storage_root(self, path: str | os.PathLike[str], *, read_only: bool = False) -> Peer:
        """Set the storage root in place and return this peer (for chaining). With
        `read_only`, the store is opened for reading only and never written, so a copy on
        read-only media can be read; registrations then raise StoreError."""
        if not isinstance(path, str | os.PathLike):
            raise ArgumentTypeError(
                f"storage root must be a str or os.PathLike, got {type(path).__name__}"
            )
        root = os.fspath(path)
        if not isinstance(root, str) or not root:
            raise ConfigurationError("storage root must be a non-empty path")
        if "\0" in root:
            raise ConfigurationError(f"storage root must not contain NUL: {root!r}")
        previous = self._storage_root
        self._storage_root = str.__str__(root)
        try:
            self._check_seed_outside_root()
        except ConfigurationError:
            self._storage_root = previous
            raise
        self._read_only = _flag(read_only, "read_only")
        self._bound = None
        return self

    def with_storage_url(self, url: str, *, read_only: bool = False) -> Peer:
        """Keep the registry in a server database instead of the root's SQLite file, e.g.
        `postgresql+psycopg://user@host/fleet`. Log manifests are still written under the
        storage root. Returns this peer."""
        if not isinstance(url, str) or "://" not in url:
            raise ConfigurationError(
                f"storage url must be a SQLAlchemy URL string, got {describe(url)}"
            )
        server_url(url)  # a URL that cannot work is refused here, before anything connects
        self._storage_url = str.__str__(url)
        self._read_only = _flag(read_only, "read_only")
        self._bound = None
        return self

    def with_durability(self, durability: str) -> Peer:
        """Choose `"full"` (SQLite synchronous=FULL, fsynced manifests; the default) or
        `"normal"` (synchronous=NORMAL: a power cut may lose the last commits, never
        corrupt the store) for this peer's write transactions. Returns this peer."""
        for known in DURABILITY:
            if type(durability) is str and durability == known:
                self._durability = known
                return self
        raise ConfigurationError(
            f"durability must be one of {', '.join(DURABILITY)}, got {describe(durability)}"
        )

    def with_registry_mirror(self, enabled: bool) -> Peer:
        """Whether this peer's registrations also write the Rust SDK's registry files
        (`registries/<kind>s/<peer>/<id>/<hash>.json` under the storage root) and read this
        peer's entries that Rust daemons wrote there when the database lacks them. Default: on
        for the root's own database, off for a store opened by URL; the environment variable
        AUKI_SESSION_REGISTRY_MIRROR (`0` or `1`) changes the default. Returns this peer."""
        self._mirror = _flag(enabled, "enabled")
        return self

    @property
    def registry_mirror(self) -> bool:
        """Whether this peer mirrors its registrations to the Rust SDK's registry files."""
        if self._mirror is not None:
            return self._mirror
        return mirror_default(self._storage_url)

    def close(self) -> None:
        """Close the store this peer uses (shared with every Peer on the same root); the
        next call opens it again."""
        if self._bound is not None:
            self._bound.close()
            self._bound = None

    def _store(self) -> Store:
        """The store this peer uses, opened at first use (the storage root resolved against
        the working directory then) until the root or URL changes or the store is closed."""
        bound = self._bound
        if bound is None or bound.closed:
            self._check_seed_outside_root()
            bound = self._bound = shared_store(
                self._storage_root, self._storage_url, readonly=self._read_only
            )
        return bound

    def _write(self) -> AbstractContextManager[Transaction]:
        """A write transaction of this peer; inside its open one, a savepoint of it."""
        store = self._store()
        open_transaction = store.transaction_of(self)
        if open_transaction is not None:
            return open_transaction.savepoint()
        return Transaction(store, self, self._durability, mirror=self.registry_mirror)

    def _put(self, entry: CanonicalEntry) -> RegistryRef:
        store = self._store()
        open_transaction = store.transaction_of(self)
        if open_transaction is not None:
            return open_transaction.stage_entry(entry, self._signer)
        with Transaction(store, self, self._durability, mirror=self.registry_mirror) as transaction:
            return transaction.put_entry(entry, self._signer)

    def register_frame(self, frame_id: str, frame: FrameDef) -> RegistryRef:
        """Register (a version of) a coordinate frame; `frame` is a FrameDef."""
        return self._put(frame_entry(self._peer_id, frame_id, frame))

    def register_sensor(self, sensor_id: str, body: SensorBody) -> RegistryRef:
        """Register (a version of) a sensor described by a body dict with `kind` and `type`."""
        return self._put(sensor_entry(self._peer_id, sensor_id, body))

    def register_detector(
        self,
        detector_id: str,
        body: DetectorBody,
        output_types: list[str],
        input_types: list[InputType] | None = None,
    ) -> RegistryRef:
        """Register (a version of) a detector with its output and input types."""
        return self._put(
            detector_entry(self._peer_id, detector_id, body, output_types, input_types)
        )

    def start_session(self) -> Session:
        """Start a recording session: a new ULID and its monotonic and UTC clocks."""
        from ulid import ULID  # imported here: it costs every process 25 ms at start-up

        from .session import Session

        session_id = str(ULID())
        monotonic_id, utc_id = auto_clock_ids(self._peer_id, session_id)
        monotonic = clock_entry(self._peer_id, session_id, monotonic_id, MONOTONIC_BODY)
        utc = clock_entry(self._peer_id, session_id, utc_id, UTC_BODY)
        with self._write() as transaction:
            transaction.create_session(session_id, self._peer_id, self._app_id, self._signer)
            transaction.put_entry(monotonic, self._signer)
            transaction.put_entry(utc, self._signer)
        return Session._bind(self, session_id, self._app_id, (monotonic.ref, utc.ref))

    def open_session(self, session_id: str) -> Session:
        """Re-open one of this peer's sessions by id (no new clocks are minted)."""
        from .session import Session

        session_id = lookup_text(session_id, "session_id")
        with self._store().lookup(self) as reader:
            info = reader.session(session_id)
        if info is None or info.peer_id != self._peer_id:
            raise NotFoundError(f"peer {self._peer_id!r} has no session {session_id!r}")
        return Session._bind(self, session_id, info.app_id)

    @contextmanager
    def transaction(self, *joining: Peer) -> Iterator[Peer]:
        """Make every registration inside the block atomic: all are committed once, or none.
        Peers in `joining` (on the same storage root) register into it too; any other peer
        on this root that registers in this thread meanwhile is refused (it would wait for
        this transaction), and in another thread waits for it to commit."""
        store = self._store()
        for other in joining:
            if not isinstance(other, Peer):
                raise ArgumentTypeError(f"transaction() joins Peers, got {type(other).__name__}")
            if other._store() is not store:
                raise ConfigurationError(
                    f"{other!r} cannot join a transaction of {self!r}: their stores differ"
                )
        with self._write() as transaction:
            for other in joining:
                transaction.join(other)
            yield self

    def sessions(self) -> list[SessionInfo]:
        """This peer's sessions, oldest first."""
        with self._store().lookup(self) as reader:
            return reader.sessions(self._peer_id)

    def entries(self, kind: RegistryKindName | None = None) -> list[Entry]:
        """The current version of each of this peer's frames, sensors and detectors."""
        wanted = None if kind is None else check_registry_kind(kind)
        with self._store().lookup(self) as reader:
            return reader.current_entries(self._peer_id, wanted)

    def frames(self) -> list[Entry]:
        """The current version of each frame."""
        return self.entries("frame")

    def sensors(self) -> list[Entry]:
        """The current version of each sensor."""
        return self.entries("sensor")

    def detectors(self) -> list[Entry]:
        """The current version of each detector."""
        return self.entries("detector")

    def current(self, kind: RegistryKindName, entry_id: str) -> Entry:
        """The current version of one frame, sensor or detector id."""
        wanted = check_registry_kind(kind)
        entry_id = lookup_text(entry_id, "entry_id")
        with self._store().lookup(self) as reader:
            found = reader.current(self._peer_id, wanted, entry_id)
        if found is None:
            raise NotFoundError(f"peer {self._peer_id!r} has no {wanted} {entry_id!r}")
        return found

    def history(self, kind: EntryKindName, entry_id: str) -> list[Entry]:
        """Every distinct version of an id, in the order first registered (a clock id's
        grouped by session)."""
        wanted: EntryKind = check_kind(kind)
        entry_id = lookup_text(entry_id, "entry_id")
        with self._store().lookup(self) as reader:
            return reader.history(self._peer_id, wanted, entry_id)

    def entry(self, ref: RefLike | str) -> Entry:
        """The stored entry a RegistryRef (or hash string) names."""
        if isinstance(ref, str):
            wanted_hash, wanted = lookup_text(ref, "ref"), None
        else:
            wanted = as_registry_ref(ref, "ref")
            wanted_hash = lookup_text(wanted.hash, "ref.hash")
        with self._store().lookup(self) as reader:
            found = reader.entry(wanted_hash)
        if found is None or (
            wanted is not None and (found.peer_id, found.id) != (wanted.peer_id, wanted.id)
        ):
            raise NotFoundError(f"no entry matches {describe(ref)}")
        return found

    def diff(self, before: RefLike | str, after: RefLike | str) -> list[FieldChange]:
        """The field-level changes from one stored version to another (each a RegistryRef
        or a hash): `calibration.fx` changed, a key added or removed, a list item changed."""
        return diff_values(self.entry(before).entry, self.entry(after).entry)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value
