"""Hostile input through the Peer and Session API: random JSON, huge and non-finite numbers,
unicode, deep nesting, path tricks, NUL bytes and SQL quotes in ids, bodies and specs.

Every call either succeeds or raises a documented error (an AukiSessionError, or the
TypeError/ValueError it subclasses); a rejected call leaves the store exactly as it was; and
nothing is ever written outside the storage root.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auki_session import (
    AukiSessionError,
    ConfigurationError,
    DetectionLogSpec,
    FrameDef,
    HeadSpec,
    InvalidEntryError,
    InvalidIdError,
    LogRef,
    Peer,
    PoseLogSpec,
    RegistryRef,
    SensorLogSpec,
    Session,
    TimeTransformLogSpec,
    canonical_json,
)
from tests.conftest import camera_body, end_process, snapshot

EXAMPLES = settings(
    max_examples=int(os.environ.get("AUKI_HOSTILE_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SECOND = 1_000_000_000
DOCUMENTED = (AukiSessionError, TypeError, ValueError)

PATH_TRICKS = [
    ".",
    "..",
    "../..",
    "../../../../../../tmp/escaped",
    "/etc/passwd",
    "/",
    "//",
    "a/../b",
    "a/./b",
    "a//b",
    "a/",
    "/a",
    "~",
    "~/x",
    "$HOME",
    "C:\\Windows\\System32",
    "..\\..\\escaped",
    "a\x00b",
    "\x00",
    "con",
    "manifest.json",
    "auki_session.db",
    ".auki_session/pending/x.json",
    "x" * 255,
    "x" * 256,
    "é" * 128,
    "/".join(["deep"] * 100),
    "/".join(["y" * 255] * 20),
]
SQL_TRICKS = [
    "'",
    "''",
    '"',
    "'; DROP TABLE entries; --",
    "Robert'); DROP TABLE logs;--",
    "1' OR '1'='1",
    "%",
    "_",
    "\\",
    "?",
    ":name",
    "%s%s%n",
]
UNICODE_TRICKS = ["\ud800", "\udfff", "\u202e", "\ufeff", "\U0001f916", "\u0085", "\x1c", "\u3000"]

texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(PATH_TRICKS + SQL_TRICKS + UNICODE_TRICKS),
    st.lists(st.sampled_from(PATH_TRICKS + SQL_TRICKS + ["ok", "a"]), min_size=2, max_size=4).map(
        "/".join
    ),
    st.text(min_size=1000, max_size=5000),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**31, max_value=2**70),
    st.sampled_from([0, -1, 2**32, 2**63, 2**64, -(2**63) - 1, 10**400, True, False]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)
    ),
    max_leaves=12,
)


def _nest(depth: int) -> object:
    value: object = "bottom"
    for index in range(depth):
        value = [value] if index % 2 else {"k": value}
    return value


anything = st.one_of(
    json_values,
    st.integers(min_value=500, max_value=5000).map(_nest),
    st.sampled_from([b"bytes", (1, 2), {1, 2}, object(), FrameDef.ros_body()]),
)


@dataclass
class World:
    """A populated storage root, and the refs that resolve in it."""

    tmp: Path
    root: Path
    peer: Peer
    session: Session
    frame: RegistryRef
    other_frame: RegistryRef
    camera: RegistryRef
    detector: RegistryRef
    clock: RegistryRef


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    root = tmp_path / "store"
    peer = Peer("galbot", "hostile").with_storage_root(root)
    frame = peer.register_frame("cam_optical", FrameDef.ros_optical())
    other = peer.register_frame("base_link", FrameDef.ros_body())
    camera = peer.register_sensor("cam", camera_body(frame))
    detector = peer.register_detector("tags", {"type": "aruco", "dictionary": "4x4"}, ["pose"])
    session = peer.start_session()
    session.register_sensor_log(
        SensorLogSpec(camera, session.monotonic_clock, HeadSpec.fixed(), SECOND, 0)
    )
    yield World(
        tmp_path, root, peer, session, frame, other, camera, detector, session.monotonic_clock
    )
    end_process()


def outside(world: World) -> list[str]:
    """Everything under the test's tmp dir but outside the storage root, and its parent's
    listing (an escape by `..` would land there)."""
    here = sorted(
        str(p.relative_to(world.tmp))
        for p in world.tmp.rglob("*")
        if p != world.root and world.root not in p.parents
    )
    return here + sorted(p.name for p in world.tmp.parent.iterdir())


def check(world: World, call: Callable[[], object]) -> object:
    """Run one hostile call: documented errors only, no change when rejected, no escape.
    Returns what the call returned (None when it was rejected)."""
    before, around = snapshot(world.root), outside(world)
    result = None
    try:
        result = call()
    except DOCUMENTED:
        assert snapshot(world.root) == before
    assert outside(world) == around
    assert not any(path.is_symlink() for path in world.root.rglob("*"))
    return result


def refs(world: World) -> st.SearchStrategy[object]:
    """Refs: ones that resolve, forged ones, other peers' (never checked), and junk."""
    good = st.sampled_from(
        [world.frame, world.other_frame, world.camera, world.detector, world.clock]
    )
    forged = st.builds(
        lambda peer_id, id_, hash_: {"peer_id": peer_id, "id": id_, "hash": hash_},
        st.one_of(st.just("galbot"), st.just("other-robot"), texts),
        texts,
        st.one_of(st.just("0" * 32), texts),
    )
    return st.one_of(good, forged, anything)


@EXAMPLES
@given(data=st.data())
def test_hostile_registry_entries_are_refused_cleanly(world: World, data: st.DataObject) -> None:
    entry_id = data.draw(st.one_of(texts, anything), label="id")
    kind = data.draw(st.sampled_from(["frame", "sensor", "detector", "clock"]), label="kind")
    if kind == "frame":
        frame = data.draw(st.one_of(st.just(FrameDef.unity()), anything), label="frame")
        check(world, lambda: world.peer.register_frame(entry_id, frame))
    elif kind == "sensor":
        body = camera_body(world.frame)
        for key in data.draw(st.lists(st.one_of(st.sampled_from(list(body)), texts)), "keys"):
            body[key] = data.draw(st.one_of(anything, refs(world)), label=f"body[{key!r}]")
        check(world, lambda: world.peer.register_sensor(entry_id, body))
    elif kind == "detector":
        body = data.draw(
            st.one_of(
                st.builds(lambda c: {"type": "custom", "kind": "k", "configuration": c}, anything),
                st.dictionaries(texts, anything, max_size=3),
                anything,
            ),
            label="body",
        )
        outputs = data.draw(st.one_of(st.lists(texts, max_size=3), anything), label="outputs")
        inputs = data.draw(st.one_of(st.none(), anything), label="inputs")
        check(world, lambda: world.peer.register_detector(entry_id, body, outputs, inputs))
    else:
        body = data.draw(
            st.one_of(
                st.fixed_dictionaries(
                    {"type": st.just("utc_clock"), "unit": texts, "monotonic": st.booleans()},
                    optional={"scope": st.one_of(st.just("global"), texts), "epoch": anything},
                ),
                anything,
            ),
            label="body",
        )
        check(world, lambda: world.session.register_clock(entry_id, body))


def _durations() -> st.SearchStrategy[object]:
    return st.one_of(st.integers(min_value=1, max_value=2**63 - 1), numbers, anything)


@EXAMPLES
@given(data=st.data())
def test_hostile_log_specs_are_refused_cleanly(world: World, data: st.DataObject) -> None:
    ref = refs(world)
    rolling = st.builds(lambda n: {"kind": "rolling", "retention_ns": n}, numbers)
    head = data.draw(st.one_of(st.just(HeadSpec.fixed()), rolling, anything), label="head")
    segment = data.draw(_durations(), label="segment_duration_ns")
    retention = data.draw(st.one_of(st.just(0), _durations()), label="retention_ns")
    kind = data.draw(st.sampled_from(["sensor", "pose", "time", "detection"]), label="kind")
    a, b, c = (data.draw(ref, label=name) for name in ("ref a", "ref b", "ref c"))
    session = world.session
    register: Callable[[], object]
    if kind == "sensor":
        register = lambda: session.register_sensor_log(  # noqa: E731
            SensorLogSpec(a, b, head, segment, retention, c)
        )
    elif kind == "pose":
        publishers = st.builds(lambda p: {"kind": "ros2_tf", "publishers": p}, anything)
        source = data.draw(st.one_of(st.just({"kind": "manual"}), publishers, anything))
        mode = data.draw(st.one_of(st.sampled_from(["rigid", "movable"]), anything))
        rate = data.draw(st.one_of(st.just(0), numbers))
        register = lambda: session.register_pose_log(  # noqa: E731
            PoseLogSpec(a, b, c, source, mode, rate, head, segment, retention)  # type: ignore[arg-type]
        )
    elif kind == "time":
        source = data.draw(st.one_of(st.just({"kind": "local_clock_read"}), anything))
        register = lambda: session.register_time_transform_log(  # noqa: E731
            TimeTransformLogSpec(a, b, source, head, segment, retention)
        )
    else:
        log_refs = st.builds(lambda x, y: {"source_peer_id": x, "resource_id": y}, texts, texts)
        input_log = data.draw(st.one_of(st.builds(LogRef, texts, texts), log_refs, anything))
        instance_id = data.draw(st.one_of(st.none(), texts, anything))
        periodic = st.builds(lambda n: {"kind": "periodic", "period_ns": n}, numbers)
        cadence = data.draw(st.one_of(st.none(), periodic, anything))
        register = lambda: session.register_detection_log(  # noqa: E731
            DetectionLogSpec(
                a,
                input_log,
                b,
                c,
                head,
                segment,
                retention,
                instance_id=instance_id,  # type: ignore[arg-type]
                cadence=cadence,
            )
        )
    check(world, register)


@EXAMPLES
@given(
    from_id=st.sampled_from(PATH_TRICKS + SQL_TRICKS + UNICODE_TRICKS),
    to_id=st.sampled_from(PATH_TRICKS + SQL_TRICKS + UNICODE_TRICKS),
)
def test_log_directories_named_by_other_peers_ids_stay_inside_the_root(
    world: World, from_id: str, to_id: str
) -> None:
    # Refs to other peers' frames are recorded as given, so their ids name directories.
    spec = lambda: PoseLogSpec(  # noqa: E731
        {"peer_id": "other-robot", "id": from_id, "hash": "1" * 32},
        {"peer_id": "other-robot", "id": to_id, "hash": "2" * 32},
        world.session.utc_clock,
        {"kind": "manual"},
        "movable",
        0,
        HeadSpec.fixed(),
        SECOND,
        0,
    )
    check(world, lambda: world.session.register_pose_log(spec()))


@EXAMPLES
@given(peer_id=st.one_of(texts, anything), app_id=st.one_of(texts, anything))
def test_hostile_peer_ids_are_refused_cleanly(
    world: World, peer_id: object, app_id: object
) -> None:
    try:
        peer = Peer(peer_id, app_id).with_storage_root(world.root)  # type: ignore[arg-type]
    except DOCUMENTED:
        return
    frame = check(world, lambda: peer.register_frame("base", FrameDef.ros_body()))
    session = check(world, peer.start_session)
    if isinstance(frame, RegistryRef) and isinstance(session, Session):
        spec = PoseLogSpec(
            frame,
            frame,
            session.utc_clock,
            {"kind": "manual"},
            "rigid",
            0,
            HeadSpec.fixed(),
            SECOND,
            0,
        )
        check(world, lambda: session.register_pose_log(spec))


def test_sql_quotes_in_ids_are_stored_verbatim(world: World) -> None:
    for index, text in enumerate(SQL_TRICKS):
        entry_id = f"{text}{index}".replace(" ", "")
        ref = world.peer.register_frame(entry_id, FrameDef.unity())
        assert world.peer.current("frame", entry_id).ref == ref
    assert len(world.peer.frames()) == 2 + len(SQL_TRICKS)


# --- the findings of the adversarial review (issue 12, finding 8), one test each ----------------


class _Twin(str):
    """A str that claims to equal everything."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return hash("a")


def test_a_str_subclass_lying_in_eq_passes_no_fixed_choice(peer: Peer) -> None:
    with pytest.raises(InvalidEntryError, match="units"):
        FrameDef.custom("right", "forward", "left", "up", _Twin("furlongs"))
    session = peer.start_session()
    clock = {"type": "utc_clock", "unit": "ns", "monotonic": False, "scope": _Twin("galaxy-wide")}
    with pytest.raises(InvalidEntryError, match="scope"):
        session.register_clock("ptp", clock)
    with pytest.raises(InvalidEntryError, match="type"):
        peer.register_detector("d", {"type": _Twin("nonsense")}, ["x"])


def test_a_str_subclass_lying_in_eq_and_hash_gets_its_own_key_order() -> None:
    assert canonical_json({"a": 1}) == b'{"a":1}'  # the shape a lying key would hit
    assert canonical_json({_Twin("zzz"): 5}) == b'{"zzz":5}'
    assert canonical_json({_Twin("b"): 1, "c": 2}) == b'{"b":1,"c":2}'


def test_keys_that_cannot_be_shown_are_refused_with_our_error(peer: Peer) -> None:
    nested: object = ()
    for _ in range(sys.getrecursionlimit() + 100):
        nested = (nested,)
    frame = peer.register_frame("base", FrameDef.ros_body())
    for key in (nested, 10**5000):
        body = {**camera_body(frame), key: 1}
        with pytest.raises(InvalidEntryError, match="unknown field"):
            peer.register_sensor("cam", body)


def test_a_nul_in_the_storage_root_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="NUL"):
        Peer("galbot", "app").with_storage_root("/tmp/a\0b")


@pytest.mark.parametrize("call", ["open_session", "current", "history", "entry", "log"])
def test_a_lone_surrogate_in_a_lookup_is_refused_naming_the_argument(peer: Peer, call: str) -> None:
    session = peer.start_session()
    text = "cam\ud800"
    calls = {
        "open_session": lambda: peer.open_session(text),
        "current": lambda: peer.current("sensor", text),
        "history": lambda: peer.history("sensor", text),
        "entry": lambda: peer.entry(text),
        "log": lambda: session.log(text),
    }
    with pytest.raises(InvalidIdError, match="surrogate"):
        calls[call]()
