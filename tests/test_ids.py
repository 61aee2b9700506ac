"""Registry id rules (SPEC section 4): checked in order, first failure wins, exact messages.

The id rules are tested on the pure validators (no store) as the SDK words them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auki_session import InvalidIdError, Peer
from auki_session._domain.ids import validate_id, validate_peer_id

# Every Unicode White_Space code point, paired with how Rust's `{:?}` prints it as a char.
WHITESPACE = [
    ("\t", r"'\t'"),
    ("\n", r"'\n'"),
    ("\x0b", r"'\u{b}'"),
    ("\x0c", r"'\u{c}'"),
    ("\r", r"'\r'"),
    (" ", "' '"),
    ("\x85", r"'\u{85}'"),
    ("\xa0", r"'\u{a0}'"),
    ("\u1680", r"'\u{1680}'"),
    *[(chr(c), f"'\\u{{{c:x}}}'") for c in range(0x2000, 0x200B)],
    ("\u2028", r"'\u{2028}'"),
    ("\u2029", r"'\u{2029}'"),
    ("\u202f", r"'\u{202f}'"),
    ("\u205f", r"'\u{205f}'"),
    ("\u3000", r"'\u{3000}'"),
]


def test_a_plain_id_is_returned_unchanged() -> None:
    assert validate_id("K1-AABBCCDDEEFF/base_link") == "K1-AABBCCDDEEFF/base_link"


def test_an_empty_id_is_rejected() -> None:
    with pytest.raises(InvalidIdError, match=r": registry id is empty \("):
        validate_id("")


def test_invalid_id_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        validate_id("")


@pytest.mark.parametrize("char", [">", "@"])
def test_angle_bracket_and_at_sign_are_disallowed(char: str) -> None:
    with pytest.raises(InvalidIdError) as raised:
        validate_id(f"cam{char}left")
    assert raised.value.sdk_message == f"registry id contains disallowed character '{char}'"


@pytest.mark.parametrize(("char", "shown"), WHITESPACE, ids=[hex(ord(c)) for c, _ in WHITESPACE])
def test_every_unicode_whitespace_character_is_disallowed_and_shown_as_rust_debug(
    char: str, shown: str
) -> None:
    with pytest.raises(InvalidIdError) as raised:
        validate_id(f"head{char}cam")
    assert raised.value.sdk_message == f"registry id contains disallowed character {shown}"


def test_the_whitespace_table_has_all_25_white_space_code_points() -> None:
    assert len({char for char, _ in WHITESPACE}) == 25


@pytest.mark.parametrize("char", ["\x1c", "\x1d", "\x1e", "\x1f"])
def test_information_separators_are_not_whitespace_and_are_accepted(char: str) -> None:
    assert char.isspace()  # Python calls them whitespace; Rust's White_Space does not.
    assert validate_id(f"a{char}b") == f"a{char}b"


@pytest.mark.parametrize(
    "value", ["base-link", "K1/x/y", "caf\u00e9", "\u6444\u50cf\u5934", "a.b", "...", ".hidden"]
)
def test_ordinary_ids_are_accepted(value: str) -> None:
    assert validate_id(value) == value


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        (".", "."),
        ("..", ".."),
        ("/base_link", ""),
        ("base_link/", ""),
        ("robot//base_link", ""),
        ("/", ""),
        ("robot/./base_link", "."),
        ("robot/../base_link", ".."),
        ("../etc", ".."),
        ("robot/..", ".."),
        ("robot/.", "."),
    ],
)
def test_empty_dot_and_dot_dot_segments_are_reserved(value: str, segment: str) -> None:
    with pytest.raises(InvalidIdError) as raised:
        validate_id(value)
    assert raised.value.sdk_message == f'registry id contains reserved path segment "{segment}"'


def test_the_first_reserved_segment_is_reported() -> None:
    with pytest.raises(InvalidIdError, match=r'segment "\.\." \('):
        validate_id("a/../b/./c")


def test_a_disallowed_character_is_reported_before_a_reserved_segment() -> None:
    with pytest.raises(InvalidIdError) as raised:
        validate_id("a b/..")
    assert raised.value.sdk_message == "registry id contains disallowed character ' '"


def test_the_first_disallowed_character_in_the_id_is_reported() -> None:
    with pytest.raises(InvalidIdError) as raised:
        validate_id("a@b>c d")
    assert raised.value.sdk_message == "registry id contains disallowed character '@'"


@pytest.mark.parametrize("value", [None, 5, b"base_link", ["base_link"]])
def test_a_non_str_id_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="frame_id"):
        validate_id(value, "frame_id")


def test_a_peer_id_may_not_contain_a_slash() -> None:
    with pytest.raises(InvalidIdError, match="peer_id"):
        validate_peer_id("a/b")


def test_a_peer_id_follows_the_id_rules() -> None:
    with pytest.raises(InvalidIdError, match=r": registry id contains disallowed character '@' \("):
        validate_peer_id("galbot@home")


def test_peer_rejects_an_empty_peer_id() -> None:
    with pytest.raises(InvalidIdError, match=r": registry id is empty \("):
        Peer("", "app")


def test_peer_rejects_a_peer_id_with_a_slash() -> None:
    with pytest.raises(ValueError, match="/"):
        Peer("a/b", "app")


def test_peer_rejects_a_peer_id_with_whitespace() -> None:
    with pytest.raises(InvalidIdError) as raised:
        Peer("gal\tbot", "app")
    assert raised.value.sdk_message == r"registry id contains disallowed character '\t'"


def test_peer_rejects_a_dot_dot_peer_id() -> None:
    with pytest.raises(InvalidIdError, match="reserved path segment"):
        Peer("..", "app")


@pytest.mark.parametrize("value", [None, 12, b"galbot"])
def test_peer_rejects_a_non_str_peer_id_with_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="peer_id"):
        Peer(value, "app")  # type: ignore[arg-type]


def test_peer_rejects_an_empty_app_id() -> None:
    with pytest.raises(ValueError, match="app_id"):
        Peer("galbot", "")


def test_peer_rejects_a_non_str_app_id_with_a_type_error() -> None:
    with pytest.raises(TypeError, match="app_id"):
        Peer("galbot", None)  # type: ignore[arg-type]


@given(st.text())
def test_validate_id_either_returns_the_value_or_raises_invalid_id_error(value: str) -> None:
    with contextlib.suppress(InvalidIdError):
        assert validate_id(value) == value


@given(st.text(alphabet=st.characters(blacklist_characters="/>@"), min_size=1))
def test_an_id_without_slash_or_disallowed_characters_is_judged_only_by_its_whitespace(
    value: str,
) -> None:
    has_whitespace = any(char in value for char, _ in WHITESPACE)
    reserved = value in (".", "..")
    try:
        validate_id(value)
    except InvalidIdError:
        assert has_whitespace or reserved
    else:
        assert not has_whitespace and not reserved


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: Peer("my robot", "app"), 'peer_id "my robot"'),
        (lambda: Peer("x", "app").register_frame("base link", None), 'frame_id "base link"'),
        (lambda: validate_id("a b", "sensor_id"), 'sensor_id "a b"'),
    ],
)
def test_an_id_error_names_the_argument_and_the_id_around_the_sdk_words(
    call: Callable[[], object], argument: str
) -> None:
    with pytest.raises(InvalidIdError) as raised:
        call()
    assert raised.value.sdk_message == "registry id contains disallowed character ' '"
    assert str(raised.value) == (
        f"{argument}: registry id contains disallowed character ' ' "
        "(ids may not hold whitespace, '>' or '@': use '_' or '-' instead)"
    )


def test_an_empty_id_error_names_the_argument() -> None:
    with pytest.raises(InvalidIdError) as raised:
        validate_id("", "detector_id")
    assert str(raised.value) == (
        'detector_id: registry id is empty (give a non-empty id, such as "base_link")'
    )
