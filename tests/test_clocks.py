"""Clock entries (SPEC section 3): the clock vector, session scoping, strict fields.

Clock entries are built with the pure `clock_entry` (no store) to check the SDK's bytes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from auki_session import InvalidEntryError
from auki_session._domain.clocks import MONOTONIC_BODY, UTC_BODY, auto_clock_ids
from auki_session._domain.entries import clock_entry

SPEC_CLOCK_BYTES = (
    b'{"clock_id":"K1-AABBCCDDEEFF/monotonic","epoch":null,"monotonic":true,"peer_id":"galbot",'
    b'"scope":"device-local","session_id":"sess-m1","type":"monotonic_clock",'
    b'"unit":"milliseconds"}'
)
SPEC_CLOCK_HASH = "107238adc0441893cbfd35c41b5ec989"


def monotonic(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "monotonic_clock",
        "unit": "milliseconds",
        "monotonic": True,
        "epoch": None,
        "scope": "device-local",
    }
    body.update(overrides)
    return body


def spec_clock(body: object) -> Any:
    return clock_entry("galbot", "sess-m1", "K1-AABBCCDDEEFF/monotonic", body)


def test_the_spec_clock_reproduces_its_canonical_bytes() -> None:
    assert spec_clock(monotonic()).canonical == SPEC_CLOCK_BYTES


def test_the_spec_clock_reproduces_its_hash() -> None:
    entry = spec_clock(monotonic())
    assert entry.hash == SPEC_CLOCK_HASH
    assert entry.session_id == "sess-m1"
    assert entry.kind == "clock"


def test_an_omitted_epoch_means_null() -> None:
    body = monotonic()
    del body["epoch"]
    assert spec_clock(body).hash == SPEC_CLOCK_HASH


def test_the_epoch_is_always_present_in_the_entry() -> None:
    body = monotonic()
    del body["epoch"]
    assert b'"epoch":null' in spec_clock(body).canonical


def test_a_string_epoch_is_kept() -> None:
    entry = spec_clock(monotonic(epoch="1970-01-01T00:00:00Z"))
    assert json.loads(entry.canonical)["epoch"] == "1970-01-01T00:00:00Z"


def test_the_clock_entry_carries_its_session() -> None:
    one = clock_entry("galbot", "sess-1", "mono", monotonic())
    two = clock_entry("galbot", "sess-2", "mono", monotonic())
    assert one.hash != two.hash
    assert json.loads(two.canonical)["session_id"] == "sess-2"


@pytest.mark.parametrize("scope", ["device-local", "domain-local", "global"])
def test_every_scope_is_accepted(scope: str) -> None:
    assert json.loads(spec_clock(monotonic(scope=scope)).canonical)["scope"] == scope


@pytest.mark.parametrize("scope", ["device_local", "local", "Global", "", None, 1])
def test_an_unknown_scope_is_rejected(scope: object) -> None:
    with pytest.raises(InvalidEntryError, match="'scope'"):
        spec_clock(monotonic(scope=scope))


@pytest.mark.parametrize("clock_type", ["monotonic_clock", "utc_clock"])
def test_every_clock_type_is_accepted(clock_type: str) -> None:
    assert json.loads(spec_clock(monotonic(type=clock_type)).canonical)["type"] == clock_type


@pytest.mark.parametrize("clock_type", ["monotonic", "tai_clock", "", None])
def test_an_unknown_clock_type_is_rejected(clock_type: object) -> None:
    with pytest.raises(InvalidEntryError, match="'type'"):
        spec_clock(monotonic(type=clock_type))


@pytest.mark.parametrize("value", [1, 0, "true", None])
def test_monotonic_must_be_a_bool(value: object) -> None:
    with pytest.raises(InvalidEntryError, match="'monotonic'"):
        spec_clock(monotonic(monotonic=value))


@pytest.mark.parametrize("value", [0, True, ["1970"]])
def test_epoch_must_be_a_string_or_null(value: object) -> None:
    with pytest.raises(InvalidEntryError, match="'epoch'"):
        spec_clock(monotonic(epoch=value))


@pytest.mark.parametrize("field", ["type", "unit", "monotonic", "scope"])
def test_a_missing_field_is_named(field: str) -> None:
    body = monotonic()
    del body[field]
    with pytest.raises(InvalidEntryError, match=f"missing field '{field}'"):
        spec_clock(body)


def test_an_unknown_key_is_rejected_naming_it() -> None:
    with pytest.raises(InvalidEntryError, match="unknown field 'drift_ppm'"):
        spec_clock(monotonic(drift_ppm=3))


def test_the_clock_id_is_used_verbatim_after_the_id_rules() -> None:
    assert clock_entry("galbot", "s", "any/nested/id", monotonic()).id == "any/nested/id"
    with pytest.raises(ValueError, match="reserved path segment"):
        clock_entry("galbot", "s", "a/../b", monotonic())


def test_the_auto_clock_bodies_are_valid_clock_bodies() -> None:
    for body in (MONOTONIC_BODY, UTC_BODY):
        assert json.loads(clock_entry("galbot", "s", "c", body).canonical)["unit"] == "ns"


def test_the_auto_monotonic_clock_matches_section_5() -> None:
    assert MONOTONIC_BODY == {
        "type": "monotonic_clock",
        "unit": "ns",
        "monotonic": True,
        "epoch": None,
        "scope": "device-local",
    }


def test_the_auto_utc_clock_matches_section_5() -> None:
    assert UTC_BODY == {
        "type": "utc_clock",
        "unit": "ns",
        "monotonic": False,
        "epoch": "1970-01-01T00:00:00Z",
        "scope": "device-local",
    }


def test_auto_clock_ids_nest_under_peer_and_session() -> None:
    assert auto_clock_ids("galbot", "01J0000000000000000000000") == (
        "galbot/01J0000000000000000000000/monotonic",
        "galbot/01J0000000000000000000000/utc",
    )
