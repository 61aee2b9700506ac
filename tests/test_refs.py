"""RegistryRef and LogRef value objects, and duck-typed parsing of reference arguments.

Ref arguments are parsed by the pure `as_registry_ref`/`as_log_ref`, tested without a store.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from auki_session import InvalidRefError, LogRef, RegistryRef
from auki_session._domain.refs import as_log_ref, as_registry_ref

HASH = "476d36916dd2c96f09ea57304d0da334"


class ForeignRegistryRef:
    """Another package's ref type: only the attributes in common."""

    def __init__(self, peer_id: str, id: str, hash: str) -> None:
        self.peer_id = peer_id
        self.id = id
        self.hash = hash


class ForeignLogRef:
    def __init__(self, source_peer_id: str, resource_id: str) -> None:
        self.source_peer_id = source_peer_id
        self.resource_id = resource_id


# --- RegistryRef -------------------------------------------------------------------------------


def test_registry_ref_is_keyword_constructible() -> None:
    ref = RegistryRef(peer_id="galbot", id="base_link", hash=HASH)
    assert (ref.peer_id, ref.id, ref.hash) == ("galbot", "base_link", HASH)


def test_registry_ref_is_positionally_constructible_as_peer_id_id_hash() -> None:
    assert RegistryRef("galbot", "base_link", HASH) == RegistryRef(
        peer_id="galbot", id="base_link", hash=HASH
    )


def test_registry_refs_with_equal_fields_are_equal_and_hash_equal() -> None:
    a = RegistryRef("galbot", "base_link", HASH)
    b = RegistryRef("galbot", "base_link", HASH)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


@pytest.mark.parametrize(
    "other",
    [
        RegistryRef("other", "base_link", HASH),
        RegistryRef("galbot", "odom", HASH),
        RegistryRef("galbot", "base_link", "0" * 32),
    ],
)
def test_registry_refs_differing_in_any_field_are_unequal(other: RegistryRef) -> None:
    assert RegistryRef("galbot", "base_link", HASH) != other


def test_registry_ref_is_frozen() -> None:
    ref = RegistryRef("galbot", "base_link", HASH)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.id = "odom"  # type: ignore[misc]


def test_registry_ref_repr_matches_the_rust_binding() -> None:
    ref = RegistryRef(peer_id="galbot", id="base_link", hash=HASH)
    assert repr(ref) == f'RegistryRef(peer_id="galbot", id="base_link", hash="{HASH}")'


def test_registry_ref_to_dict_has_exactly_the_three_fields() -> None:
    ref = RegistryRef("galbot", "base_link", HASH)
    assert ref.to_dict() == {"peer_id": "galbot", "id": "base_link", "hash": HASH}


def test_a_complete_registry_ref_validates() -> None:
    RegistryRef("galbot", "base_link", HASH).validate()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("", "base_link", HASH), "RegistryRef.peer_id must not be empty"),
        (("galbot", "", HASH), "RegistryRef.id must not be empty"),
        (("galbot", "base_link", ""), "RegistryRef.hash must not be empty"),
        (("", "", ""), "RegistryRef.peer_id must not be empty"),
    ],
)
def test_registry_ref_validate_names_the_first_empty_field(
    fields: tuple[str, str, str], message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        RegistryRef(*fields).validate()
    assert str(raised.value) == message


def test_registry_ref_with_a_non_str_field_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"RegistryRef\.hash"):
        RegistryRef("galbot", "base_link", 5)  # type: ignore[arg-type]


# --- LogRef ------------------------------------------------------------------------------------


def test_log_ref_is_keyword_constructible() -> None:
    ref = LogRef(source_peer_id="galbot", resource_id="head_left_rgb")
    assert (ref.source_peer_id, ref.resource_id) == ("galbot", "head_left_rgb")


def test_log_ref_is_positionally_constructible_as_source_peer_id_resource_id() -> None:
    assert LogRef("galbot", "head_left_rgb") == LogRef(
        source_peer_id="galbot", resource_id="head_left_rgb"
    )


def test_log_refs_with_equal_fields_are_equal_and_hash_equal() -> None:
    a, b = LogRef("galbot", "head_left_rgb"), LogRef("galbot", "head_left_rgb")
    assert a == b
    assert hash(a) == hash(b)
    assert LogRef("galbot", "head_right_rgb") != a


def test_log_ref_is_frozen() -> None:
    ref = LogRef("galbot", "head_left_rgb")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.resource_id = "x"  # type: ignore[misc]


def test_log_ref_repr_matches_the_rust_binding() -> None:
    ref = LogRef(source_peer_id="galbot", resource_id="head_left_rgb")
    assert repr(ref) == 'LogRef(source_peer_id="galbot", resource_id="head_left_rgb")'


def test_log_ref_to_dict_has_exactly_the_two_fields() -> None:
    assert LogRef("galbot", "head_left_rgb").to_dict() == {
        "source_peer_id": "galbot",
        "resource_id": "head_left_rgb",
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("", "head_left_rgb"), "LogRef.source_peer_id must not be empty"),
        (("galbot", ""), "LogRef.resource_id must not be empty"),
    ],
)
def test_log_ref_validate_names_the_empty_field(fields: tuple[str, str], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        LogRef(*fields).validate()
    assert str(raised.value) == message


def test_registry_ref_and_log_ref_are_never_equal() -> None:
    registry_ref: object = RegistryRef("galbot", "x", HASH)
    assert registry_ref != LogRef("galbot", "x")


# --- duck-typed parsing ------------------------------------------------------------------------

EXPECTED = RegistryRef("galbot", "base_link", HASH)


@pytest.mark.parametrize(
    "value",
    [
        EXPECTED,
        {"peer_id": "galbot", "id": "base_link", "hash": HASH},
        SimpleNamespace(peer_id="galbot", id="base_link", hash=HASH),
        ForeignRegistryRef("galbot", "base_link", HASH),
    ],
    ids=["RegistryRef", "dict", "SimpleNamespace", "foreign class"],
)
def test_anything_shaped_like_a_registry_ref_is_accepted(value: object) -> None:
    ref = as_registry_ref(value, "sensor")
    assert ref == EXPECTED
    assert type(ref) is RegistryRef


def test_a_foreign_object_with_extra_attributes_is_accepted() -> None:
    value = SimpleNamespace(peer_id="galbot", id="base_link", hash=HASH, version=3)
    assert as_registry_ref(value, "sensor") == EXPECTED


@pytest.mark.parametrize(
    "value",
    [
        {"source_peer_id": "galbot", "resource_id": "head_left_rgb"},
        SimpleNamespace(source_peer_id="galbot", resource_id="head_left_rgb"),
        ForeignLogRef("galbot", "head_left_rgb"),
        LogRef("galbot", "head_left_rgb"),
    ],
    ids=["dict", "SimpleNamespace", "foreign class", "LogRef"],
)
def test_anything_shaped_like_a_log_ref_is_accepted(value: object) -> None:
    assert as_log_ref(value, "input_log") == LogRef("galbot", "head_left_rgb")


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        ({"id": "base_link", "hash": HASH}, "peer_id"),
        ({"peer_id": "galbot", "hash": HASH}, "id"),
        (SimpleNamespace(peer_id="galbot", id="base_link"), "hash"),
        (object(), "peer_id"),
        (None, "peer_id"),
    ],
)
def test_a_registry_ref_missing_a_field_names_the_argument_and_the_field(
    value: object, missing: str
) -> None:
    with pytest.raises(InvalidRefError) as raised:
        as_registry_ref(value, "SensorLogSpec.clock")
    message = str(raised.value)
    assert message.startswith("SensorLogSpec.clock: ")
    assert repr(missing) in message


def test_a_missing_ref_field_is_both_a_type_error_and_a_value_error() -> None:
    with pytest.raises(TypeError):
        as_registry_ref({}, "sensor")
    with pytest.raises(ValueError):
        as_registry_ref({}, "sensor")


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        ({"resource_id": "head_left_rgb"}, "source_peer_id"),
        (SimpleNamespace(source_peer_id="galbot"), "resource_id"),
    ],
)
def test_a_log_ref_missing_a_field_names_the_argument_and_the_field(
    value: object, missing: str
) -> None:
    with pytest.raises(InvalidRefError) as raised:
        as_log_ref(value, "DetectionLogSpec.input_log")
    message = str(raised.value)
    assert message.startswith("DetectionLogSpec.input_log: ")
    assert repr(missing) in message


def test_a_ref_field_of_the_wrong_type_names_the_argument_and_the_field() -> None:
    with pytest.raises(InvalidRefError, match=r"^frame: RegistryRef\.hash must be a str"):
        as_registry_ref({"peer_id": "galbot", "id": "base_link", "hash": 7}, "frame")


@pytest.mark.parametrize("field", ["peer_id", "id", "hash"])
def test_a_parsed_registry_ref_with_an_empty_field_is_rejected(field: str) -> None:
    value = {"peer_id": "galbot", "id": "base_link", "hash": HASH, field: ""}
    with pytest.raises(InvalidRefError, match=rf"^frame: RegistryRef\.{field} must not be empty"):
        as_registry_ref(value, "frame")


def test_a_registry_ref_instance_with_an_empty_field_is_rejected_when_parsed() -> None:
    with pytest.raises(InvalidRefError, match="frame"):
        as_registry_ref(RegistryRef("galbot", "", HASH), "frame")


def test_a_registry_ref_dict_with_an_unknown_key_is_rejected_naming_it() -> None:
    value = {"peer_id": "galbot", "id": "base_link", "hash": HASH, "version": 2}
    with pytest.raises(InvalidRefError, match=r"^frame: .*'version'"):
        as_registry_ref(value, "frame")


def test_a_log_ref_dict_with_an_unknown_key_is_rejected_naming_it() -> None:
    value = {"source_peer_id": "galbot", "resource_id": "x", "peer_id": "galbot"}
    with pytest.raises(InvalidRefError, match=r"^input_log: .*'peer_id'"):
        as_log_ref(value, "input_log")


def test_a_ref_dict_with_non_str_keys_is_an_invalid_ref_error() -> None:
    with pytest.raises(InvalidRefError, match="frame"):
        as_registry_ref({1: "a", "b": 2}, "frame")
    with pytest.raises(InvalidRefError, match="input_log"):
        as_log_ref({1: "a"}, "input_log")
