"""Starting registrar processes and reading their status lines, always with a deadline."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REGISTRAR = Path(__file__).resolve().parent / "registrar.py"


def scale(name: str, default: int) -> int:
    """A figure the suite uses, raised by setting an environment variable for longer runs."""
    return int(os.environ.get(name, default))


def spawn(root: Path, acks: Path, *args: str) -> subprocess.Popen[bytes]:
    """A registrar process writing into `root` and acknowledging into `acks`."""
    return subprocess.Popen(
        [sys.executable, str(REGISTRAR), str(root), "--acks", str(acks), *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_line(process: subprocess.Popen[bytes], expected: str, timeout: float = 30) -> None:
    """Read the process's stdout until a line equal to `expected`; fail after `timeout`."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            lines = buffer.split(b"\n")
            if expected.encode() in lines[:-1]:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                process.kill()
                raise AssertionError(f"no {expected!r} from the worker within {timeout} s")
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                process.wait(timeout=10)
                assert process.stderr is not None
                raise AssertionError(
                    f"worker exited ({process.returncode}) before {expected!r}: "
                    f"{process.stderr.read().decode(errors='replace')}"
                )
            buffer += chunk


def go(process: subprocess.Popen[bytes]) -> None:
    """Release a worker started with --wait-for-go."""
    assert process.stdin is not None
    process.stdin.write(b"go\n")
    process.stdin.flush()


def finish(process: subprocess.Popen[bytes], timeout: float = 60) -> str:
    """Wait for a worker to exit cleanly; returns its stdout."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"worker did not finish within {timeout} s: {err.decode()}") from None
    assert process.returncode == 0, err.decode(errors="replace")
    return out.decode()
