"""Head specs, the four log specs, and what registering a log means (SPEC sections 2 and 5).

`plan_log` (pure: resource id, manifest bytes, refs) is tested without a store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from auki_session import (
    DetectionLogSpec,
    HeadSpec,
    InvalidEntryError,
    InvalidIdError,
    InvalidRefError,
    LogRef,
    PoseLogSpec,
    RegistryRef,
    SensorLogSpec,
    TimeTransformLogSpec,
)
from auki_session._domain.logs import plan_log

PEER = "galbot"
I64_MAX = 2**63 - 1


def ref(entry_id: str, peer_id: str = PEER) -> RegistryRef:
    return RegistryRef(peer_id=peer_id, id=entry_id, hash="9306d67f99d38ced7c186c0f63734421")


CAM = ref("K1/head_left_cam")
CAM_FRAME = ref("K1/head_left_cam_optical")
BASE = ref("K1/base_link")
ODOM = ref("K1/odom")
MONO = ref("galbot/sess/monotonic")
UTC = ref("galbot/sess/utc")
DET = ref("aruco_4x4")
INPUT_LOG = LogRef(source_peer_id=PEER, resource_id="K1/head_left_cam")
HEAD = HeadSpec.rolling(5_000_000_000)


def sensor_spec(**overrides: Any) -> SensorLogSpec:
    args: dict[str, Any] = {
        "sensor": CAM,
        "clock": MONO,
        "head": HEAD,
        "segment_duration_ns": 1_000_000_000,
        "retention_ns": 0,
    }
    args.update(overrides)
    return SensorLogSpec(**args)


def pose_spec(**overrides: Any) -> PoseLogSpec:
    args: dict[str, Any] = {
        "from_frame": BASE,
        "to_frame": ODOM,
        "clock": MONO,
        "source": {"kind": "manual"},
        "writer_mode": "movable",
        "expected_rate_hz": 100,
        "head": HEAD,
        "segment_duration_ns": 1_000_000_000,
        "retention_ns": 0,
    }
    args.update(overrides)
    return PoseLogSpec(**args)


def time_spec(**overrides: Any) -> TimeTransformLogSpec:
    args: dict[str, Any] = {
        "from_clock": MONO,
        "to_clock": UTC,
        "source": {"kind": "local_clock_read"},
        "head": HEAD,
        "segment_duration_ns": 1_000_000_000,
        "retention_ns": 0,
    }
    args.update(overrides)
    return TimeTransformLogSpec(**args)


def detection_spec(**overrides: Any) -> DetectionLogSpec:
    args: dict[str, Any] = {
        "detector": DET,
        "input_log": INPUT_LOG,
        "input_sensor": CAM,
        "clock": MONO,
        "head": HEAD,
        "segment_duration_ns": 1_000_000_000,
        "retention_ns": 0,
    }
    args.update(overrides)
    return DetectionLogSpec(**args)


SPEC_FACTORIES: dict[str, Callable[..., Any]] = {
    "SensorLogSpec": sensor_spec,
    "PoseLogSpec": pose_spec,
    "TimeTransformLogSpec": time_spec,
    "DetectionLogSpec": detection_spec,
}
each_spec = pytest.mark.parametrize("owner", sorted(SPEC_FACTORIES))


def manifest_of(spec: Any) -> dict[str, Any]:
    return json.loads(plan_log(PEER, "galbot-ctrl", "sess", spec).manifest)  # type: ignore[no-any-return]


# --- HeadSpec ----------------------------------------------------------------------------------


def test_head_spec_rolling_repr() -> None:
    assert repr(HeadSpec.rolling(5000000000)) == "HeadSpec.rolling(5000000000)"


def test_head_spec_fixed_repr() -> None:
    assert repr(HeadSpec.fixed()) == "HeadSpec.fixed()"


def test_head_specs_are_values() -> None:
    assert HeadSpec.rolling(5) == HeadSpec.rolling(5)
    assert hash(HeadSpec.fixed()) == hash(HeadSpec.fixed())
    assert HeadSpec.rolling(5) != HeadSpec.rolling(6)
    assert HeadSpec.rolling(5) != HeadSpec.fixed()


def test_head_spec_rolling_accepts_the_i64_maximum() -> None:
    assert HeadSpec.rolling(I64_MAX).retention_ns == I64_MAX


@pytest.mark.parametrize("retention_ns", [0, -1, True, 2**63, 1.5, "5"])
def test_head_spec_rolling_needs_a_positive_i64(retention_ns: object) -> None:
    with pytest.raises(ValueError, match="retention_ns"):
        HeadSpec.rolling(retention_ns)  # type: ignore[arg-type]


def test_head_spec_rolling_with_a_bool_is_rejected_as_not_an_integer() -> None:
    with pytest.raises(InvalidEntryError, match="must be an integer"):
        HeadSpec.rolling(True)


def test_head_spec_dict_forms() -> None:
    assert HeadSpec.rolling(7).to_dict() == {"kind": "rolling", "retention_ns": 7}
    assert HeadSpec.fixed().to_dict() == {"kind": "fixed"}
    assert HeadSpec.from_dict({"kind": "rolling", "retention_ns": 7}) == HeadSpec.rolling(7)
    assert HeadSpec.from_dict({"kind": "fixed"}) == HeadSpec.fixed()


@each_spec
def test_a_spec_refuses_a_head_that_is_not_a_head_spec(owner: str) -> None:
    with pytest.raises(TypeError, match=rf"{owner}\.head"):
        SPEC_FACTORIES[owner](head=5_000_000_000)


# --- durations (shared by every spec) ----------------------------------------------------------


@each_spec
def test_retention_zero_means_keep_forever_and_is_accepted(owner: str) -> None:
    assert SPEC_FACTORIES[owner](retention_ns=0).retention_ns == 0


@each_spec
def test_durations_accept_the_i64_maximum(owner: str) -> None:
    spec = SPEC_FACTORIES[owner](segment_duration_ns=I64_MAX, retention_ns=I64_MAX)
    assert (spec.segment_duration_ns, spec.retention_ns) == (I64_MAX, I64_MAX)


@each_spec
@pytest.mark.parametrize("field", ["segment_duration_ns", "retention_ns"])
@pytest.mark.parametrize("value", [2**63, -1, True, False, 1.0, "1", None])
def test_a_duration_outside_i64_or_not_an_int_is_rejected_naming_it(
    owner: str, field: str, value: object
) -> None:
    with pytest.raises(InvalidEntryError, match=rf"^{owner}\.{field} "):
        SPEC_FACTORIES[owner](**{field: value})


@each_spec
def test_a_zero_segment_duration_is_rejected(owner: str) -> None:
    with pytest.raises(InvalidEntryError, match=rf"{owner}\.segment_duration_ns"):
        SPEC_FACTORIES[owner](segment_duration_ns=0)


# --- SensorLogSpec -----------------------------------------------------------------------------


def test_sensor_log_spec_is_positional_in_spec_order() -> None:
    spec = SensorLogSpec(CAM, MONO, HEAD, 10, 20, CAM_FRAME)
    assert (spec.sensor, spec.clock, spec.head, spec.segment_duration_ns) == (CAM, MONO, HEAD, 10)
    assert (spec.retention_ns, spec.frame) == (20, CAM_FRAME)


def test_sensor_log_spec_frame_defaults_to_none() -> None:
    assert sensor_spec().frame is None


@pytest.mark.parametrize(
    "shape",
    [lambda r: r, lambda r: r.to_dict(), lambda r: SimpleNamespace(**r.to_dict())],
    ids=["RegistryRef", "dict", "SimpleNamespace"],
)
def test_spec_refs_may_be_dicts_or_namespaces(shape: Any) -> None:
    spec = sensor_spec(sensor=shape(CAM), clock=shape(MONO), frame=shape(CAM_FRAME))
    assert (spec.sensor, spec.clock, spec.frame) == (CAM, MONO, CAM_FRAME)
    assert type(spec.sensor) is RegistryRef


@pytest.mark.parametrize("argument", ["sensor", "clock", "frame"])
def test_a_sensor_log_ref_missing_a_field_names_the_argument_and_field(argument: str) -> None:
    broken = {"peer_id": PEER, "id": "x"}
    with pytest.raises(InvalidRefError) as raised:
        sensor_spec(**{argument: broken})
    message = str(raised.value)
    assert message.startswith(f"SensorLogSpec.{argument}: ")
    assert "'hash'" in message


def test_sensor_log_specs_are_values() -> None:
    assert sensor_spec() == sensor_spec()
    assert hash(sensor_spec()) == hash(sensor_spec())


# --- PoseLogSpec -------------------------------------------------------------------------------


@pytest.mark.parametrize("writer_mode", ["rigid", "movable"])
def test_pose_writer_mode_is_rigid_or_movable(writer_mode: str) -> None:
    assert pose_spec(writer_mode=writer_mode).writer_mode == writer_mode


@pytest.mark.parametrize("writer_mode", ["static", "Rigid", "", None])
def test_an_unknown_pose_writer_mode_is_rejected(writer_mode: object) -> None:
    with pytest.raises(InvalidEntryError, match=r"PoseLogSpec\.writer_mode"):
        pose_spec(writer_mode=writer_mode)


@pytest.mark.parametrize("rate", [0, 1, 2**32 - 1])
def test_pose_expected_rate_is_a_u32_with_zero_meaning_unspecified(rate: int) -> None:
    assert pose_spec(expected_rate_hz=rate).expected_rate_hz == rate


@pytest.mark.parametrize("rate", [-1, 2**32, True, 10.0])
def test_a_pose_expected_rate_outside_u32_is_rejected(rate: object) -> None:
    with pytest.raises(InvalidEntryError, match=r"PoseLogSpec\.expected_rate_hz"):
        pose_spec(expected_rate_hz=rate)


def test_a_manual_pose_source_is_accepted() -> None:
    assert pose_spec(source={"kind": "manual"}).source == {"kind": "manual"}


def test_ros2_tf_publishers_are_stored_sorted() -> None:
    spec = pose_spec(source={"kind": "ros2_tf", "publishers": ["/tf_b", "/tf_a", "/tf_c"]})
    assert spec.source == {"kind": "ros2_tf", "publishers": ("/tf_a", "/tf_b", "/tf_c")}


def test_ros2_tf_publishers_may_be_empty() -> None:
    spec = pose_spec(source={"kind": "ros2_tf", "publishers": []})
    assert spec.source == {"kind": "ros2_tf", "publishers": ()}


def test_specs_are_immutable_down_to_their_sources_and_cadences() -> None:
    spec = pose_spec(source={"kind": "ros2_tf", "publishers": ["/tf"]})
    with pytest.raises(TypeError):
        spec.source["kind"] = "manual"  # type: ignore[index]
    with pytest.raises(AttributeError):
        spec.source["publishers"].append("/other")


def test_ros2_tf_needs_publishers() -> None:
    with pytest.raises(InvalidEntryError, match="missing field 'publishers'"):
        pose_spec(source={"kind": "ros2_tf"})


def test_ros2_tf_publishers_must_be_strings() -> None:
    with pytest.raises(InvalidEntryError, match=r"publishers\[1\]"):
        pose_spec(source={"kind": "ros2_tf", "publishers": ["/tf", 3]})


@pytest.mark.parametrize(
    "source",
    [
        {"kind": "mocap"},
        {"kind": "manual", "publishers": []},
        {"kind": "ros2_tf", "publishers": [], "topic": "/tf"},
        {},
        "manual",
    ],
)
def test_an_invalid_pose_source_is_rejected(source: object) -> None:
    with pytest.raises(InvalidEntryError, match=r"PoseLogSpec\.source"):
        pose_spec(source=source)


@pytest.mark.parametrize("argument", ["from_frame", "to_frame", "clock"])
def test_a_pose_ref_missing_a_field_names_the_argument(argument: str) -> None:
    with pytest.raises(InvalidRefError, match=rf"^PoseLogSpec\.{argument}: .*'id'"):
        pose_spec(**{argument: SimpleNamespace(peer_id=PEER, hash="h")})


# --- TimeTransformLogSpec ----------------------------------------------------------------------


def test_time_transform_source_is_local_clock_read() -> None:
    assert time_spec().source == {"kind": "local_clock_read"}


@pytest.mark.parametrize(
    "source", [{"kind": "ptp"}, {"kind": "local_clock_read", "offset": 0}, None, {}]
)
def test_an_invalid_time_source_is_rejected(source: object) -> None:
    with pytest.raises(InvalidEntryError, match=r"TimeTransformLogSpec\.source"):
        time_spec(source=source)


@pytest.mark.parametrize("argument", ["from_clock", "to_clock"])
def test_a_time_transform_ref_missing_a_field_names_the_argument(argument: str) -> None:
    with pytest.raises(InvalidRefError, match=rf"^TimeTransformLogSpec\.{argument}: .*'peer_id'"):
        time_spec(**{argument: {"id": "x", "hash": "h"}})


# --- DetectionLogSpec --------------------------------------------------------------------------


def test_detection_cadence_defaults_to_every_frame() -> None:
    assert detection_spec().cadence == {"kind": "every_frame"}


def test_detection_cadence_may_be_every_frame_explicitly() -> None:
    assert detection_spec(cadence={"kind": "every_frame"}).cadence == {"kind": "every_frame"}


def test_a_periodic_cadence_keeps_its_period() -> None:
    spec = detection_spec(cadence={"kind": "periodic", "period_ns": 100_000_000})
    assert spec.cadence == {"kind": "periodic", "period_ns": 100_000_000}


@pytest.mark.parametrize("period_ns", [0, -1, True, 2**63, 0.5])
def test_a_periodic_cadence_needs_a_positive_i64_period(period_ns: object) -> None:
    with pytest.raises(InvalidEntryError, match="period_ns"):
        detection_spec(cadence={"kind": "periodic", "period_ns": period_ns})


def test_a_periodic_cadence_without_a_period_is_rejected() -> None:
    with pytest.raises(InvalidEntryError, match="period_ns"):
        detection_spec(cadence={"kind": "periodic"})


@pytest.mark.parametrize(
    "cadence", [{"kind": "every_other"}, {"kind": "every_frame", "period_ns": 5}, "every_frame"]
)
def test_an_invalid_cadence_is_rejected(cadence: object) -> None:
    with pytest.raises(InvalidEntryError, match=r"DetectionLogSpec\.cadence"):
        detection_spec(cadence=cadence)


def test_detection_instance_id_defaults_to_none() -> None:
    assert detection_spec().instance_id is None


def test_detection_instance_id_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        DetectionLogSpec(DET, INPUT_LOG, CAM, MONO, HEAD, 1, 0, "instance")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("instance_id", "message"),
    [
        ("", "registry id is empty"),
        ("left markers", "registry id contains disallowed character ' '"),
        ("a/../b", 'registry id contains reserved path segment ".."'),
    ],
)
def test_detection_instance_id_follows_the_id_rules(instance_id: str, message: str) -> None:
    with pytest.raises(InvalidIdError) as raised:
        detection_spec(instance_id=instance_id)
    assert raised.value.sdk_message == message
    assert str(raised.value).startswith("DetectionLogSpec.instance_id")


def test_a_non_str_instance_id_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="instance_id"):
        detection_spec(instance_id=5)


@pytest.mark.parametrize(
    "input_log",
    [INPUT_LOG, INPUT_LOG.to_dict(), SimpleNamespace(**INPUT_LOG.to_dict())],
    ids=["LogRef", "dict", "SimpleNamespace"],
)
def test_detection_input_log_may_be_any_log_ref_shape(input_log: object) -> None:
    assert detection_spec(input_log=input_log).input_log == INPUT_LOG


def test_a_detection_input_log_missing_a_field_names_the_argument() -> None:
    with pytest.raises(InvalidRefError, match=r"^DetectionLogSpec\.input_log: .*'resource_id'"):
        detection_spec(input_log={"source_peer_id": PEER})


@pytest.mark.parametrize("argument", ["detector", "input_sensor", "clock"])
def test_a_detection_ref_missing_a_field_names_the_argument(argument: str) -> None:
    with pytest.raises(InvalidRefError, match=rf"^DetectionLogSpec\.{argument}: "):
        detection_spec(**{argument: {}})


# --- resource ids ------------------------------------------------------------------------------


def test_a_sensor_log_is_named_by_its_sensor_id() -> None:
    plan = plan_log(PEER, "app", "sess", sensor_spec())
    assert (plan.kind, plan.resource_id) == ("sensor", "K1/head_left_cam")


def test_a_pose_log_is_named_from_arrow_to() -> None:
    plan = plan_log(PEER, "app", "sess", pose_spec())
    assert (plan.kind, plan.resource_id) == ("pose", "K1/base_link->K1/odom")


def test_a_time_transform_log_is_named_from_arrow_to() -> None:
    plan = plan_log(PEER, "app", "sess", time_spec())
    assert plan.kind == "time_transform"
    assert plan.resource_id == "galbot/sess/monotonic->galbot/sess/utc"


def test_a_detection_log_is_named_detector_at_sensor_by_default() -> None:
    plan = plan_log(PEER, "app", "sess", detection_spec())
    assert (plan.kind, plan.resource_id) == ("detection", "aruco_4x4@K1/head_left_cam")


def test_a_detection_log_is_named_by_its_instance_id_when_given() -> None:
    plan = plan_log(PEER, "app", "sess", detection_spec(instance_id="markers/left"))
    assert plan.resource_id == "markers/left"


@pytest.mark.parametrize(
    "spec",
    [
        lambda: sensor_spec(sensor=ref("..", peer_id="other")),
        lambda: sensor_spec(sensor=ref("a//b", peer_id="other")),
        lambda: pose_spec(from_frame=ref("../../etc", peer_id="other")),
        lambda: pose_spec(to_frame=ref("odom/..", peer_id="other")),
        lambda: pose_spec(from_frame=ref("/abs", peer_id="other")),
        lambda: time_spec(to_clock=ref("x/.", peer_id="other")),
        lambda: detection_spec(input_sensor=ref("cam/..", peer_id="other")),
    ],
    ids=["sensor ..", "sensor //", "pose ../..", "pose to ..", "pose absolute", "time .", "det .."],
)
def test_a_resource_id_that_would_escape_its_directory_is_rejected(spec: Any) -> None:
    with pytest.raises(InvalidIdError, match="reserved path segment"):
        plan_log(PEER, "app", "sess", spec())


def test_a_resource_id_with_an_overlong_path_part_is_rejected() -> None:
    with pytest.raises(InvalidIdError, match="directory name"):
        plan_log(PEER, "app", "sess", sensor_spec(sensor=ref("x" * 256, peer_id="other")))


# --- manifests ---------------------------------------------------------------------------------

COMMON = {
    "source_peer_id": PEER,
    "writer_peer_id": PEER,
    "app_id": "galbot-ctrl",
    "session_id": "sess",
    "segment_duration_ns": 1_000_000_000,
    "retention_ns": 0,
}


def test_a_sensor_log_manifest_omits_a_missing_frame() -> None:
    assert manifest_of(sensor_spec()) == {
        **COMMON,
        "sensor": CAM.to_dict(),
        "clock": MONO.to_dict(),
    }


def test_a_sensor_log_manifest_includes_its_frame_when_given() -> None:
    assert manifest_of(sensor_spec(frame=CAM_FRAME)) == {
        **COMMON,
        "sensor": CAM.to_dict(),
        "clock": MONO.to_dict(),
        "frame": CAM_FRAME.to_dict(),
    }


def test_a_pose_log_manifest() -> None:
    spec = pose_spec(source={"kind": "ros2_tf", "publishers": ["/b", "/a"]}, writer_mode="rigid")
    assert manifest_of(spec) == {
        **COMMON,
        "from_frame": BASE.to_dict(),
        "to_frame": ODOM.to_dict(),
        "clock": MONO.to_dict(),
        "source": {"kind": "ros2_tf", "publishers": ["/a", "/b"]},
        "writer_mode": "rigid",
        "expected_rate_hz": 100,
    }


def test_a_time_transform_log_manifest() -> None:
    assert manifest_of(time_spec()) == {
        **COMMON,
        "from_clock": MONO.to_dict(),
        "to_clock": UTC.to_dict(),
        "source": {"kind": "local_clock_read"},
    }


def test_a_detection_log_manifest_without_instance_id() -> None:
    assert manifest_of(detection_spec()) == {
        **COMMON,
        "detector": DET.to_dict(),
        "input_log": INPUT_LOG.to_dict(),
        "input_sensor": CAM.to_dict(),
        "clock": MONO.to_dict(),
        "cadence": {"kind": "every_frame"},
    }


def test_a_detection_log_manifest_includes_a_given_instance_id() -> None:
    spec = detection_spec(instance_id="markers", cadence={"kind": "periodic", "period_ns": 5})
    manifest = manifest_of(spec)
    assert manifest["instance_id"] == "markers"
    assert manifest["cadence"] == {"kind": "periodic", "period_ns": 5}


def test_a_manifest_is_canonical_json() -> None:
    from auki_session import canonical_json

    plan = plan_log(PEER, "galbot-ctrl", "sess", pose_spec())
    assert plan.manifest == canonical_json(json.loads(plan.manifest))


def test_the_head_spec_is_kept_out_of_the_manifest_and_in_the_plan() -> None:
    plan = plan_log(PEER, "app", "sess", sensor_spec(head=HeadSpec.fixed()))
    assert "head" not in json.loads(plan.manifest)
    assert plan.head == {"kind": "fixed"}


def test_a_plan_lists_the_refs_it_uses_with_their_kinds() -> None:
    plan = plan_log(PEER, "app", "sess", detection_spec())
    assert [(use.role, use.kind, use.ref) for use in plan.uses] == [
        ("detector", "detector", DET),
        ("input_sensor", "sensor", CAM),
        ("clock", "clock", MONO),
    ]


def test_periodic_cadence_without_a_period_names_the_missing_field() -> None:
    with pytest.raises(ValueError, match="missing field 'period_ns'"):
        DetectionLogSpec(
            {"peer_id": "p", "id": "det", "hash": "a" * 32},
            {"source_peer_id": "p", "resource_id": "cam"},
            {"peer_id": "p", "id": "cam", "hash": "b" * 32},
            {"peer_id": "p", "id": "clock", "hash": "c" * 32},
            HeadSpec.fixed(),
            1,
            0,
            cadence={"kind": "periodic"},
        )
