"""Field-level differences between entry versions: the pure `diff_values`, `peer.diff`, and
the command line's `diff A B` and `history --diff ID` (tables and JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auki_session import FieldChange, FrameDef, Peer, RegistryRef
from auki_session._domain.diff import diff_values
from tests.conftest import camera_body, end_process
from tests.test_cli import assert_one_line_error, cli

CALIBRATION = {"fx": 912.5, "fy": 911.8, "cx": 640.2, "cy": 359.7}


def test_a_changed_nested_field_is_named_by_its_path() -> None:
    before = {"calibration": {"fx": 912.5, "fy": 1.0}}
    after = {"calibration": {"fx": 915.25, "fy": 1.0}}
    assert diff_values(before, after) == [FieldChange("calibration.fx", "changed", 912.5, 915.25)]


def test_added_and_removed_keys() -> None:
    changes = diff_values({"a": 1, "b": {"x": 1}}, {"a": 1, "c": [1]})
    assert [change.to_dict() for change in changes] == [
        {"path": "b", "change": "removed", "before": {"x": 1}},
        {"path": "c", "change": "added", "after": [1]},
    ]


def test_lists_compare_item_by_item_and_a_longer_tail_is_added_or_removed() -> None:
    assert diff_values({"k": [1, 2, 3]}, {"k": [1, 5]}) == [
        FieldChange("k[1]", "changed", 2, 5),
        FieldChange("k[2]", "removed", before=3),
    ]
    assert diff_values([{"name": "x"}], [{"name": "y"}, {"name": "z"}]) == [
        FieldChange("[0].name", "changed", "x", "y"),
        FieldChange("[1]", "added", after={"name": "z"}),
    ]


def test_json_types_count_true_is_not_one_but_one_is_one_point_zero() -> None:
    assert diff_values({"a": 1}, {"a": True}) == [FieldChange("a", "changed", 1, True)]
    assert diff_values({"a": 1}, {"a": 1.0}) == []
    assert diff_values({"a": None}, {"a": None}) == []


def two_calibrations(root: Path) -> tuple[Peer, RegistryRef, RegistryRef]:
    peer = Peer("galbot", "app").with_storage_root(root)
    frame = peer.register_frame("optical", FrameDef.ros_optical())
    v1 = peer.register_sensor("cam", camera_body(frame, calibration=CALIBRATION))
    body = camera_body(frame, calibration={**CALIBRATION, "fx": 915.25, "cx": 641.0})
    body["calibration"]["distortion_coefficients"] = [0.1, -0.2]
    v2 = peer.register_sensor("cam", body)
    return peer, v1, v2


def test_peer_diff_of_two_versions(tmp_path: Path) -> None:
    peer, v1, v2 = two_calibrations(tmp_path)
    assert peer.diff(v1, v2.hash) == [
        FieldChange("calibration.cx", "changed", 640.2, 641),
        FieldChange("calibration.distortion_coefficients", "added", after=[0.1, -0.2]),
        FieldChange("calibration.fx", "changed", 912.5, 915.25),
    ]
    assert peer.diff(v1, v1) == []


def test_cli_diff_prints_each_changed_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, v1, v2 = two_calibrations(tmp_path)
    end_process()
    run = cli(capsys, "--root", tmp_path, "diff", v1.hash[:8], v2.hash[:8])
    assert run.code == 0
    assert run.out.splitlines() == [
        f"sensor galbot/cam: {v1.hash} -> {v2.hash}",
        "  ~ calibration.cx                       640.2 -> 641",
        "  + calibration.distortion_coefficients  [0.1, -0.2]",
        "  ~ calibration.fx                       912.5 -> 915.25",
    ]


def test_cli_diff_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, v1, v2 = two_calibrations(tmp_path)
    end_process()
    value: dict[str, Any] = cli(
        capsys, "--root", tmp_path, "--json", "diff", f"galbot/cam@{v1.hash}", v2.hash
    ).json()
    assert (value["from"]["hash"], value["to"]["hash"]) == (v1.hash, v2.hash)
    assert value["changes"][2] == {
        "path": "calibration.fx",
        "change": "changed",
        "before": 912.5,
        "after": 915.25,
    }


def test_cli_diff_of_an_unknown_ref_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, v1, _ = two_calibrations(tmp_path)
    end_process()
    run = cli(capsys, "--root", tmp_path, "diff", v1.hash, "nothex")
    assert_one_line_error(run, "B 'nothex': no current entry has this id")


def test_history_diff_lists_each_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    peer, v1, v2 = two_calibrations(tmp_path)
    peer.register_sensor("cam", camera_body(peer.current("frame", "optical").ref))
    end_process()
    run = cli(capsys, "--root", tmp_path, "history", "--diff", "cam")
    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[0] == f"sensor galbot/cam: v1 {v1.hash} -> v2 {v2.hash}"
    assert lines[5].startswith("sensor galbot/cam: v2 ")
    removed = lines[6].strip()
    assert removed.startswith("- calibration  {")
    assert json.loads(removed.removeprefix("- calibration  "))["fx"] == 915.25
    value = cli(capsys, "--root", tmp_path, "--json", "history", "--diff", "cam").json()
    assert [step["versions"] for step in value] == [[1, 2], [2, 3]]


def test_cli_diff_of_an_ambiguous_id_names_the_argument_and_what_diff_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for peer_id in ("alpha", "beta"):
        Peer(peer_id, "app").with_storage_root(tmp_path).register_frame("base", FrameDef.ros_body())
    end_process()
    run = cli(capsys, "--root", tmp_path, "diff", "base", "alpha/base")
    assert_one_line_error(run, "A 'base' is ambiguous", "name it as peer/id or peer/id@hash")
    assert "--peer" not in run.err  # diff has no such option
