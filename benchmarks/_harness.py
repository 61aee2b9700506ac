"""Shared benchmark machinery: timing, results with their baseline and target, sample data."""

from __future__ import annotations

import argparse
import compileall
import gc
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import auki_session
from auki_session._store.engines import BUSY_TIMEOUT_MS, DURABILITY

BENCH_DIR = Path(os.environ.get("AUKI_BENCH_DIR", tempfile.gettempdir())) / "auki_session_bench"
"""Where benchmark stores live (the scale store is cached here between runs); never the repo."""


@dataclass(frozen=True, slots=True)
class Result:
    """One figure, its baseline measured in the same run, and the target on their relation.

    `kind` says how the target reads: "max_ratio" (figure/baseline must not exceed `target`),
    "min_ratio" (baseline/figure, i.e. a speed-up, must reach `target`), "min_rate" (the figure
    itself, a rate, must reach `target`), "max_value" (the figure itself must not exceed
    `target`, in its own unit; a baseline, when given, stands beside it for scale) or "info"
    (no target).
    """

    name: str
    figure: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    kind: str = "max_ratio"
    target: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline or not self.figure:
            return None
        if self.kind == "min_ratio":
            return self.baseline / self.figure
        return self.figure / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None or self.kind == "info":
            return None
        if self.kind == "min_rate":
            return self.figure >= self.target
        if self.kind == "max_value":
            return self.figure <= self.target
        ratio = self.ratio
        if ratio is None:
            return None
        return ratio <= self.target if self.kind == "max_ratio" else ratio >= self.target

    def render(self) -> str:
        figure = f"{_num(self.figure, self.unit)} {self.unit}"
        if self.baseline is not None:
            base = f"{self.baseline_name} {_num(self.baseline)} {self.unit}"
        else:
            base = ""
        ratio = self.ratio
        if self.kind == "min_rate":
            shown = ""
            goal = f">= {_num(self.target or 0)} {self.unit}"
        elif self.kind == "max_value":
            shown = f"{ratio:.2f}x" if ratio is not None else ""
            goal = f"<= {_num(self.target or 0, self.unit)} {self.unit}"
        elif ratio is None:
            shown, goal = "", ""
        elif self.kind == "min_ratio":
            shown, goal = f"{ratio:.2f}x faster", f">= {self.target}x" if self.target else ""
        else:
            shown, goal = f"{ratio:.2f}x", f"<= {self.target}x" if self.target else ""
        verdict = {True: "MET", False: "MISSED", None: ""}[self.met]
        line = f"  {self.name:<44} {figure:>18}  {base:<34} {shown:>12}  {goal:<14} {verdict}"
        return line + (f"\n      ({self.note})" if self.note else "")


def _num(value: float, unit: str = "") -> str:
    if value == int(value) and unit not in ("s", "ms", "us", "MiB", "us/op"):
        return f"{int(value):,}"  # a count
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def machine() -> str:
    """The machine a run was measured on, for the report."""
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}"
    )


def print_results(title: str, results: list[Result]) -> None:
    print(f"\n{title}")
    for result in results:
        print(result.render())
    sys.stdout.flush()


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of `fn` takes, with the garbage collector settled beforehand."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(
    subject: Callable[[], object], baseline: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Median seconds of `subject` and `baseline`, run alternately `rounds` times each, so that
    drift in the machine (other processes, disk cache, CPU frequency) hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for index in range(rounds):
        if index % 2:
            b.append(timed(baseline))
            a.append(timed(subject))
        else:
            a.append(timed(subject))
            b.append(timed(baseline))
    return statistics.median(a), statistics.median(b)


def interleaved_all(fns: list[Callable[[], object]], rounds: int) -> list[float]:
    """Median seconds of each function, all run once per round in a rotating order."""
    samples: list[list[float]] = [[] for _ in fns]
    for index in range(rounds):
        for offset in range(len(fns)):
            which = (index + offset) % len(fns)
            samples[which].append(timed(fns[which]))
    return [statistics.median(values) for values in samples]


@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A fresh directory under BENCH_DIR, removed afterwards."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=BENCH_DIR))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def raw_connection(path: Path, durability: str = "full") -> sqlite3.Connection:
    """A bare sqlite3 connection with the store's pragmas (the raw baseline's connection)."""
    connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {DURABILITY[durability]}")
    return connection


ENTRY_COLUMNS = "hash, kind, peer_id, entry_id, session_id, canonical_json, registered_at"


def entry_row(entry: Any, registered_at: str) -> tuple[object, ...]:
    """The `entries` row the store writes for a CanonicalEntry."""
    return (
        entry.hash,
        entry.kind,
        entry.peer_id,
        entry.id,
        entry.session_id,
        entry.canonical.decode(),
        registered_at,
    )


def camera_body(frame: object, index: int = 0, *, calibration: bool = True) -> dict[str, Any]:
    """A camera sensor body; `index` changes the calibration so each index is a new version."""
    body: dict[str, Any] = {
        "kind": "camera",
        "type": "rgb",
        "width": 1280,
        "height": 720,
        "frame_rate_hz": 30,
        "image_encoding": "raw",
        "pixel_format": "RGB8",
        "row_stride_bytes": 3840,
        "color_space": "sRGB",
        "intrinsics_model": "pinhole",
        "distortion_model": "plumb_bob",
        "frame": frame,
    }
    if calibration:
        body["calibration"] = {
            "fx": 912.0 + index / 1024,
            "fy": 911.5,
            "cx": 640.25,
            "cy": 359.75,
            "distortion_coefficients": [0.0123, -0.0456, 0.00012, -0.00034, 0.0],
        }
    return body


def compiled_package() -> None:
    """Compile the package to bytecode, as installing it does, before any process is timed:
    where Python writes no bytecode of its own (PYTHONDONTWRITEBYTECODE, set on these
    machines), a source checkout would compile every module in every new process, which no
    installed program does (the baselines are a few lines, or installed libraries)."""
    compileall.compile_dir(Path(auki_session.__file__).parent, quiet=1)


def main(run: Callable[[bool], list[Result]], title: str) -> None:
    """Command-line entry for one benchmark module."""
    parser = argparse.ArgumentParser(description=title)
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    args = parser.parse_args()
    compiled_package()
    print(machine())
    print_results(title, run(args.quick))


def robot_sensors(pid: str, prefix: str, frames: list[Any], add: Callable[[Any], Any]) -> list[Any]:
    """A benchmark robot's sensors and detectors, each passed to `add` (which stores a
    CanonicalEntry and returns it): 100 cameras x 3 versions in frames[0:100], 100 lidars in
    frames[100:200], 100 joint encoders, 80 scalars, 100 ArUco detectors x 2 versions; ids start
    with `prefix`. Returns the refs of the cameras' last versions."""
    from auki_session._domain.entries import detector_entry, sensor_entry

    cameras = []
    for i in range(100):
        for version in range(3):
            ref = add(sensor_entry(pid, f"{prefix}cam_{i:03d}", camera_body(frames[i], version)))
        cameras.append(ref.ref)
    for i in range(100):
        body: dict[str, Any] = {
            "kind": "rangefinder",
            "type": "lidar",
            "fields": [
                {"name": axis, "offset": 4 * n, "datatype": "float32", "count": 1}
                for n, axis in enumerate("xyz")
            ],
            "point_step": 16,
            "is_bigendian": False,
            "frame_rate_hz": 10 + i % 10,
            "frame": frames[100 + i],
        }
        add(sensor_entry(pid, f"{prefix}lidar_{i:03d}", body))
    for i in range(100):
        body = {
            "kind": "joint_encoders",
            "type": "arm",
            "joint_count": 7,
            "frame_rate_hz": 100,
            "frame": frames[i],
        }
        add(sensor_entry(pid, f"{prefix}joints_{i:03d}", body))
    for i in range(80):
        body = {"kind": "scalar", "type": "battery", "unit": "volt", "expected_rate_hz": 1 + i}
        add(sensor_entry(pid, f"{prefix}scalar_{i:03d}", body))
    for i in range(100):
        for version in range(2):
            add(
                detector_entry(
                    pid,
                    f"{prefix}aruco_{i:03d}",
                    {"type": "aruco", "dictionary": f"DICT_{4 + version}X{4 + version}_50"},
                    ["pose"],
                    [{"sensor_kind": "camera", "sensor_type": "rgb"}],
                )
            )
    return cameras
