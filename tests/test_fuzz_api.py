"""A fuzz test of the whole public API: thousands of hostile calls, each either accepted or
refused with one of `auki_session.errors` — never a TypeError, KeyError, RecursionError,
UnicodeEncodeError or bare ValueError from inside — and a refused call changes nothing: no
commit (SQLite's `data_version`, seen from a separate connection) and no file.

AUKI_FUZZ_INPUTS sets how many calls (10,000 by default, 100,000 in the long mode);
AUKI_FUZZ_SEED the seed (a failure prints the seed and the call to replay it).
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from auki_session import (
    AukiSessionError,
    DetectionLogSpec,
    FrameDef,
    HeadSpec,
    LogRef,
    Peer,
    PoseLogSpec,
    RegistryRef,
    SensorLogSpec,
    TimeTransformLogSpec,
    canonical_json,
    content_hash,
)
from tests.conftest import camera_body

INPUTS = int(os.environ.get("AUKI_FUZZ_INPUTS", "10000"))
SEED = int(os.environ.get("AUKI_FUZZ_SEED", "20261201"))


class Twin(str):
    """A str that claims to equal everything (and hashes like 'a')."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return hash("a")

    def __lt__(self, other: object) -> bool:
        return True


class Liar(int):
    """An int that claims to be within every range."""

    def __le__(self, other: object) -> bool:
        return True

    def __ge__(self, other: object) -> bool:
        return True

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False


class Explodes:
    """An object whose every attribute and repr raise."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name}")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def deep(depth: int, leaf: object = 1, kind: type = list) -> object:
    value = leaf
    for _ in range(depth):
        value = kind([value]) if kind is not dict else {"k": value}
    return value


class Hostile:
    """Draws hostile values: wrong types, lying subclasses, huge and deep values, odd text."""

    def __init__(self, rng: random.Random, refs: list[RegistryRef]) -> None:
        self.rng = rng
        self.refs = refs

    def text(self) -> str:
        rng = self.rng
        pick = rng.randrange(14)
        if pick == 0:
            return "\ud800" + "x"  # lone surrogate
        if pick == 1:
            return Twin(rng.choice(["furlongs", "galaxy-wide", "zzz", "manual", "rigid"]))
        if pick == 2:
            return rng.choice(["", ".", "..", "../../etc", "/abs", "a//b", "a/./b", "x\0y"])
        if pick == 3:
            return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(1, 12)))
        if pick == 4:
            return rng.choice([" ", "\t", "\u3000", "\u0085", "a>b", "a@b", "\x1c"])
        if pick == 5:
            return "x" * rng.choice([255, 256, 70_000])
        if pick == 6:
            return rng.choice(["Cam", "cam", "CAM", "e\u0301", "\u00e9", "manifest.json"])
        return rng.choice(
            ["base", "cam", "rgb", "raw", "meters", "forward", "left", "up", "ns", "right"]
        )

    def number(self) -> object:
        rng = self.rng
        return rng.choice(
            [
                0,
                -1,
                2**32,
                2**63,
                2**64,
                10**5000,
                True,
                False,
                Liar(2**40),
                Liar(-5),
                float("nan"),
                float("inf"),
                -0.0,
                1e308,
                5e-324,
                400.0,
                rng.randrange(0, 5000),
            ]
        )

    def value(self, depth: int = 0) -> object:
        rng = self.rng
        pick = rng.randrange(16 if depth < 3 else 10)
        if pick < 4:
            return self.text()
        if pick < 7:
            return self.number()
        if pick == 7:
            return rng.choice([None, Explodes(), object(), b"bytes", {1, 2}, SimpleNamespace()])
        if pick == 8:
            return deep(rng.choice([600, 3000]), kind=rng.choice([list, tuple, dict]))
        if pick == 9:
            return rng.choice(self.refs) if self.refs else None
        if pick < 13:
            return [self.value(depth + 1) for _ in range(rng.randrange(4))]
        return {self.key(): self.value(depth + 1) for _ in range(rng.randrange(4))}

    def key(self) -> object:
        rng = self.rng
        pick = rng.randrange(8)
        if pick == 0:
            return Twin(rng.choice(["zzz", "kind", "width"]))
        if pick == 1:
            return rng.choice([1, 10**5000, None, (1, (2, (3,))), deep(2000, kind=tuple)])
        return self.text()

    def body(self, valid: dict[str, object]) -> object:
        """A valid body with one or two fields replaced, dropped or added."""
        rng = self.rng
        body: dict[object, object] = dict(valid)
        for _ in range(rng.randrange(1, 3)):
            action = rng.randrange(4)
            if action == 0 and body:
                body[rng.choice(list(body))] = self.value()
            elif action == 1 and body:
                del body[rng.choice(list(body))]
            elif action == 2:
                body[self.key()] = self.value()
            else:
                key = rng.choice(list(body)) if body else "kind"
                body[Twin(key if isinstance(key, str) else "kind")] = self.value()
        return body if rng.randrange(10) else rng.choice([None, [body], "body", Explodes()])


def _state(root: Path, reader: sqlite3.Connection) -> tuple[int, tuple[str, ...]]:
    version = reader.execute("PRAGMA data_version").fetchone()[0]
    files = tuple(
        sorted(
            os.path.relpath(os.path.join(directory, name), root)
            for directory, dirs, names in os.walk(root)
            for name in (*dirs, *names)
            if not name.startswith("auki_session.db")
        )
    )
    return version, files


def test_hostile_calls_raise_only_documented_errors_and_change_nothing(tmp_path: Path) -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 2500))  # a 2,000-deep key must hash
    rng = random.Random(SEED)
    root = tmp_path / "store"
    peer = Peer("galbot", "fuzz").with_storage_root(root).with_durability("normal")
    frame = peer.register_frame("base", FrameDef.ros_body())
    optical = peer.register_frame("optical", FrameDef.ros_optical())
    camera = peer.register_sensor("cam", camera_body(optical))
    detector = peer.register_detector("tags", {"type": "aruco", "dictionary": "D"}, ["m"])
    session = peer.start_session()
    clock = session.monotonic_clock
    refs = [frame, optical, camera, detector, clock, session.utc_clock]
    hostile = Hostile(rng, refs)
    reader = sqlite3.connect(root / "auki_session.db")
    head = HeadSpec.fixed()
    second = 10**9

    def call() -> tuple[str, Callable[[], object]]:
        v, t, b = hostile.value, hostile.text, hostile.body
        choices: list[tuple[str, Callable[[], object]]] = [
            ("register_frame", lambda: peer.register_frame(t(), v())),
            (
                "register_frame custom",
                lambda: peer.register_frame(t(), FrameDef.custom(t(), t(), t(), t(), t())),
            ),
            ("register_sensor", lambda: peer.register_sensor(t(), b(camera_body(optical)))),
            (
                "register_sensor scalar",
                lambda: peer.register_sensor(
                    t(),
                    b({"kind": "scalar", "type": "temp", "unit": "C", "expected_rate_hz": 1}),
                ),
            ),
            (
                "register_detector",
                lambda: peer.register_detector(
                    t(), b({"type": "custom", "kind": "k", "configuration": v()}), v(), v()
                ),
            ),
            (
                "register_clock",
                lambda: session.register_clock(
                    t(),
                    b(
                        {
                            "type": "utc_clock",
                            "unit": "ns",
                            "monotonic": False,
                            "scope": "global",
                        }
                    ),
                ),
            ),
            (
                "sensor log",
                lambda: session.register_sensor_log(
                    SensorLogSpec(v(), clock, head, v(), v(), frame=v())
                ),
            ),
            (
                "pose log",
                lambda: session.register_pose_log(
                    PoseLogSpec(frame, v(), clock, b({"kind": "manual"}), t(), v(), v(), second, 0)
                ),
            ),
            (
                "time log",
                lambda: session.register_time_transform_log(
                    TimeTransformLogSpec(clock, v(), b({"kind": "local_clock_read"}), v(), 1, 0)
                ),
            ),
            (
                "detection log",
                lambda: session.register_detection_log(
                    DetectionLogSpec(
                        detector,
                        LogRef(t(), t()) if rng.randrange(2) else v(),
                        v(),
                        clock,
                        head,
                        second,
                        0,
                        instance_id=v() if rng.randrange(2) else t(),
                        cadence=b({"kind": "periodic", "period_ns": 5}),
                    )
                ),
            ),
            ("current", lambda: peer.current(v(), v())),
            ("current frame", lambda: peer.current("frame", t())),
            ("history", lambda: peer.history(t(), t())),
            ("entry", lambda: peer.entry(v())),
            ("entry ref", lambda: peer.entry(RegistryRef(t(), t(), t()))),
            ("open_session", lambda: peer.open_session(v())),
            ("log", lambda: session.log(v())),
            ("entries", lambda: peer.entries(v())),
            ("canonical_json", lambda: canonical_json(v())),
            ("content_hash", lambda: content_hash(v())),
            ("head", lambda: HeadSpec.rolling(v())),  # type: ignore[arg-type]
            ("peer", lambda: Peer(v(), v())),  # type: ignore[arg-type]
            ("with_durability", lambda: Peer("p", "a").with_durability(v())),  # type: ignore[arg-type]
            ("with_storage_root", lambda: Peer("p", "a").with_storage_root(v())),  # type: ignore[arg-type]
        ]
        return rng.choice(choices)

    refused = accepted = 0
    for index in range(INPUTS):
        name, function = call()
        before = _state(root, reader)
        try:
            function()
        except AukiSessionError:
            refused += 1
            after = _state(root, reader)
            if after != before:
                pytest.fail(
                    f"call {index} ({name}, seed {SEED}) was refused but changed the store: "
                    f"{set(after[1]) ^ set(before[1]) or 'a commit'}"
                )
        except BaseException as error:
            pytest.fail(
                f"call {index} ({name}, seed {SEED}) raised an undocumented "
                f"{type(error).__name__}: {str(error)[:200]}"
            )
        else:
            accepted += 1
    reader.close()
    assert refused > INPUTS // 3 and accepted > INPUTS // 50, (refused, accepted)
