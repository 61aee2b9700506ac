"""The README's Python examples run as written.

Every ```python block of README.md carries a marker on the line just before its fence:
`<!-- runnable -->` starts an example, run in a fresh temporary working directory (the
examples name their storage roots relative to it); `<!-- runnable: continues -->` runs in
the namespace and directory of the runnable block before it (a reference section's set-up,
then one block per spec); `<!-- not runnable: REASON -->` is shown only (it needs a
PostgreSQL server, say). A block without a marker fails the test, so no example goes
unchecked by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = "```python"
MARKER = re.compile(r"<!-- (runnable|runnable: continues|not runnable: [^>]+) -->")


@dataclass
class Block:
    line: int
    marker: str | None
    code: str


@dataclass
class Example:
    """A runnable block and the blocks that continue it."""

    blocks: list[Block] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"README.md:{self.blocks[0].line}"


def python_blocks(text: str) -> list[Block]:
    """Every ```python block, with the marker on the line before its fence (if any)."""
    lines = text.splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        if lines[index].strip() == FENCE:
            start = index + 1
            end = start
            while lines[end].strip() != "```":
                end += 1
            previous = lines[index - 1].strip() if index else ""
            match = MARKER.fullmatch(previous)
            code = "\n".join(lines[start:end])
            blocks.append(Block(start + 1, match.group(1) if match else None, code))
            index = end
        index += 1
    return blocks


def examples(blocks: list[Block]) -> list[Example]:
    """The runnable blocks grouped into examples (a block and those continuing it)."""
    found: list[Example] = []
    for block in blocks:
        if block.marker == "runnable":
            found.append(Example([block]))
        elif block.marker == "runnable: continues":
            assert found, f"README.md:{block.line} continues, but no runnable block precedes it"
            found[-1].blocks.append(block)
    return found


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))
EXAMPLES = examples(BLOCKS)


def test_every_python_block_is_marked() -> None:
    unmarked = [f"README.md:{block.line}" for block in BLOCKS if block.marker is None]
    assert not unmarked, f"python blocks without a runnable/not runnable marker: {unmarked}"


def test_the_reference_examples_are_there() -> None:
    runnable = [block for block in BLOCKS if (block.marker or "").startswith("runnable")]
    code = "\n".join(block.code for block in runnable)
    for name in (
        "SensorLogSpec(",
        "PoseLogSpec(",
        "TimeTransformLogSpec(",
        "DetectionLogSpec(",
        '"ros2_tf"',
        '"periodic"',
    ):
        assert name in code, f"no runnable README example uses {name}"
    for kind in ("camera", "rangefinder", "rf", "audio", "joint_encoders", "scalar"):
        assert f'"kind": "{kind}"' in code, f"no runnable README example of a {kind} sensor"
    for kind in ("aruco", "qr", "esl", "object_detection", "custom"):
        assert f'"type": "{kind}"' in code, f"no runnable README example of a {kind} detector"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)
def test_readme_example_runs(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUKI_SESSION_REGISTRY_MIRROR", raising=False)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for block in example.blocks:
        # Padded so that a traceback names the README's own line numbers.
        source = "\n" * (block.line - 1) + block.code
        exec(compile(source, "README.md", "exec"), namespace)


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_the_readme_links_only_to_what_is_shipped() -> None:
    text = README.read_text(encoding="utf-8")
    anchors = {
        _anchor(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)
    }
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith("#"):
            assert target[1:] in anchors, f"README links to a missing heading {target}"
        elif "://" not in target:
            assert (README.parent / target).exists(), f"README links to a missing {target}"
