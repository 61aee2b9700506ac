"""The typed surface: `mypy --strict` passes on the typed example in `examples/` and fails,
on the lines expected, on a script with a misspelt body key, a str where a ref is expected,
a kind's plural, and a name the package lacks (tests/typing/misspelt_body.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parent.parent
EXAMPLE = REPO / "examples" / "typed_robot.py"
MISTAKES = REPO / "tests" / "typing" / "misspelt_body.py"


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """mypy --strict's error lines on both scripts, in one run."""
    cache = tmp_path_factory.mktemp("mypy_cache")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(cache),
            str(EXAMPLE),
            str(MISTAKES),
        ],
        capture_output=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
        timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr.decode()
    return [line for line in done.stdout.decode().splitlines() if ": error: " in line]


def test_mypy_passes_on_the_typed_example(mypy_errors: list[str]) -> None:
    assert [line for line in mypy_errors if "typed_robot.py" in line] == []


def test_mypy_fails_on_a_misspelt_body_key(mypy_errors: list[str]) -> None:
    assert any(
        'misspelt_body.py:12: error: Extra key "distorsion_model" for TypedDict "CameraBody"'
        in line
        for line in mypy_errors
    )


def test_mypy_fails_on_a_str_where_a_ref_is_expected(mypy_errors: list[str]) -> None:
    assert any(
        'misspelt_body.py:28: error: Argument 1 to "SensorLogSpec" has incompatible type "str"'
        in line
        for line in mypy_errors
    )


def test_mypy_fails_on_a_kind_that_is_no_kind(mypy_errors: list[str]) -> None:
    assert any(
        'misspelt_body.py:29: error: Argument "kind" to "entries" of "Peer" has '
        "incompatible type \"Literal['sensors']\"" in line
        for line in mypy_errors
    )


def test_the_typed_example_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(tmp_path / "robot")],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"sensor head_left_rgb " in done.stdout
    assert done.stdout.decode().splitlines()[-1] == "('base_link',)"


def test_mypy_fails_on_a_name_the_package_does_not_have(mypy_errors: list[str]) -> None:
    """`Peer` and `Session` load on first use; a type checker still knows every name."""
    assert any(
        'misspelt_body.py:30: error: Module has no attribute "Peeer"' in line
        for line in mypy_errors
    )
