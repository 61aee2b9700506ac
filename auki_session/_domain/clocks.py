"""Clock body schema (SPEC section 3) and the two clocks every session gets (section 5)."""

from __future__ import annotations

from typing import Any

from .bodies import BodyReader

__all__ = [
    "CLOCK_SCOPES",
    "CLOCK_TYPES",
    "MONOTONIC_BODY",
    "UTC_BODY",
    "auto_clock_ids",
    "parse_clock_body",
]

CLOCK_TYPES = ("monotonic_clock", "utc_clock")
CLOCK_SCOPES = ("device-local", "domain-local", "global")
MONOTONIC_BODY: dict[str, Any] = {
    "type": "monotonic_clock",
    "unit": "ns",
    "monotonic": True,
    "epoch": None,
    "scope": "device-local",
}
UTC_BODY: dict[str, Any] = {
    "type": "utc_clock",
    "unit": "ns",
    "monotonic": False,
    "epoch": "1970-01-01T00:00:00Z",
    "scope": "device-local",
}


def parse_clock_body(body: object) -> dict[str, Any]:
    """Parse a clock body into canonical entry fields; an omitted epoch means null."""
    reader = BodyReader(body, "clock body")
    reader.only(("type", "unit", "monotonic", "epoch", "scope"))
    return {
        "type": reader.choice("type", CLOCK_TYPES),
        "unit": reader.string("unit"),
        "monotonic": reader.boolean("monotonic"),
        "epoch": reader.optional_string("epoch"),
        "scope": reader.choice("scope", CLOCK_SCOPES),
    }


def auto_clock_ids(peer_id: str, session_id: str) -> tuple[str, str]:
    """The ids of a session's monotonic and UTC clocks."""
    return f"{peer_id}/{session_id}/monotonic", f"{peer_id}/{session_id}/utc"
