"""RFC 8785 (JSON Canonicalization Scheme) serialisation of plain Python JSON values.

The canonical bytes are what the package hashes and size-checks, so they must match every other
JCS implementation byte for byte.  The encoder is pure (no I/O; its only state is a bounded memo of
key orders) and tuned for small registry entries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring

from ..errors import CanonicalJsonError

__all__ = ["MAX_DEPTH", "canonical_json", "parse_canonical"]

MAX_DEPTH = 512
"""Deepest container nesting accepted; deeper (or circular) values raise CanonicalJsonError."""

# The C string escaper behind json.dumps(ensure_ascii=False) writes exactly RFC 8785 section
# 3.2.2.2: \" \\ \b \t \n \f \r, other U+0000..U+001F as lowercase \u00xx, everything else raw
# (lone surrogates too, which the final UTF-8 encode rejects).
_quote = encode_basestring


def canonical_json(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value.

    Accepts dict (str keys), list, tuple (as an array), str, int, float, bool and None, and
    subclasses of these (a str enum member is written as its string).  Keys are sorted by UTF-16
    code units; floats are written as ECMAScript's Number.prototype.toString writes them (``-0.0``
    as ``0``, ``400.0`` as ``400``, ``1e21`` as ``1e+21``, ``1.5e-7`` as ``1.5e-7``).

    Python ints are written as their exact decimal digits, whatever their size, because the Rust
    SDK serialises its u32/u64 integer fields that way through serde_json.  Within +-2**53, where
    an IEEE 754 double is exact, this is the text RFC 8785 prescribes; beyond it a strict JCS
    implementation would first round the integer to a double.

    Raises CanonicalJsonError (a ValueError) for NaN or infinity, strings with lone surrogates,
    non-str keys, unsupported types, and nesting deeper than MAX_DEPTH containers.
    """
    parts: list[str] = []
    try:
        _encode(value, parts, 0)
    except RecursionError:
        raise CanonicalJsonError("value is nested too deeply for the interpreter stack") from None
    except CanonicalJsonError:
        raise
    except ValueError as exc:  # e.g. an int longer than sys.get_int_max_str_digits()
        raise CanonicalJsonError(f"value cannot be written: {exc}") from None
    text = "".join(parts)
    try:
        return text.encode()
    except UnicodeEncodeError as exc:
        surrogate = f"U+{ord(text[exc.start]):04X}"
        raise CanonicalJsonError(
            f"string contains lone surrogate {surrogate}, which UTF-8 cannot encode"
        ) from None


# The encoder appends text pieces to one list, joined once at the end.  _object and _array
# inline the common member types (str, int, floats whose repr is already ECMAScript's) instead
# of calling _encode: a call per member would be a large share of the time on small entries.


def _encode(value: object, parts: list[str], depth: int) -> None:
    """Append the canonical text of any value; ``depth`` counts the containers around it."""
    t = type(value)
    if t is str:
        parts.append(_quote(value))  # type: ignore[arg-type]
    elif t is dict:
        _object(value, parts, depth + 1)  # type: ignore[arg-type]
    elif t is int:
        parts.append(repr(value))
    elif t is float:
        parts.append(_ecmascript(float.__repr__(value)))
    elif t is list or t is tuple:
        _array(value, parts, depth + 1)  # type: ignore[arg-type]
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    else:
        _encode(_builtin(value), parts, depth)


def _object(obj: dict[str, object], parts: list[str], depth: int, memo: bool = True) -> None:
    """Append a dict's canonical text: members sorted by the UTF-16 code units of their keys
    (their order looked up in the memo of shapes unless `memo` is false)."""
    if depth > MAX_DEPTH:
        raise _too_deep()
    if not obj:
        parts.append("{}")
        return
    try:
        joined = "\0".join(obj)  # the keys' own text: a str subclass cannot lie in it
    except TypeError:
        raise _key_error(obj) from None
    start = len(parts)
    try:
        for prefix, key in (_SHAPES.get(joined) if memo else None) or _shape(obj, joined, memo):
            parts.append(prefix)
            v = obj[key]
            t = type(v)
            if t is str:
                parts.append(_quote(v))  # type: ignore[arg-type]
            elif t is int:
                parts.append(repr(v))
            elif t is float and (1e-4 <= v < 1e16 or -1e16 < v <= -1e-4):  # type: ignore[operator]
                # In this range repr has no exponent, and only integral values end in "0" ("400.0").
                r = repr(v)
                parts.append(r[:-2] if r[-1] == "0" else r)
            elif t is dict:
                _object(v, parts, depth + 1)  # type: ignore[arg-type]
            elif t is list or t is tuple:
                _array(v, parts, depth + 1)  # type: ignore[arg-type]
            else:
                _encode(v, parts, depth)
    except KeyError:
        # A key whose text is not what its __eq__ or __hash__ say (a str subclass that lies),
        # or keys with NUL that joined like a remembered shape's: encode the object again,
        # with keys of exact str and its own shape.
        del parts[start:]
        exact = {str.__str__(key): value for key, value in obj.items()}
        if len(exact) != len(obj):
            raise CanonicalJsonError("object has two keys with the same text") from None
        _object(exact, parts, depth, memo=False)
        return
    parts.append("}")


_Shape = tuple[tuple[str, str], ...]

_SHAPES: dict[str, _Shape] = {}
"""Keys in insertion order, joined by NUL -> ('{"key":' or ',"key":', key) pairs in canonical
order (only for keys without NUL, so that the joined text names one tuple of keys).

Registry entries share a few shapes, so keys are checked, sorted and quoted once per shape, not
once per call (a first-seen shape costs more than that would).  The memo is emptied when it holds
_MAX_SHAPES shapes, which bounds its memory.
"""
_MAX_SHAPES = 1024


def _shape(obj: dict[str, object], joined: str, memo: bool = True) -> _Shape:
    """Order the keys of a non-empty dict canonically, and memoise their prefixes."""
    keys = sorted(map(str.__str__, obj))  # exact str: a subclass's __lt__ is not consulted
    if not joined.isascii() and max(joined) > "\uffff":
        keys.sort(key=_utf16)  # only non-BMP characters sort differently as UTF-16
    pairs = [(f",{_quote(key)}:", key) for key in keys]
    pairs[0] = ("{" + pairs[0][0][1:], keys[0])
    shape = tuple(pairs)
    if memo and joined.count("\0") == len(obj) - 1:
        if len(_SHAPES) >= _MAX_SHAPES:
            _SHAPES.clear()
        _SHAPES[joined] = shape
    return shape


def _array(seq: list[object] | tuple[object, ...], parts: list[str], depth: int) -> None:
    """Append the canonical text of a list or tuple."""
    if depth > MAX_DEPTH:
        raise _too_deep()
    if not seq:
        parts.append("[]")
        return
    if type(seq[0]) is float:
        # Numeric arrays (poses, distortion coefficients) are common: repr them all in C and
        # rewrite only when some repr differs from ECMAScript's layout.  float.__repr__ raises
        # TypeError on a non-float, sending mixed arrays to the general loop.
        try:
            reprs = list(map(float.__repr__, seq))
        except TypeError:
            pass
        else:
            text = ",".join(reprs)
            if "e" in text or "n" in text or ".0," in text or text[-1] == "0":
                text = ",".join(
                    [_ecmascript(r) if "e" in r or r[-1] in "0nf" else r for r in reprs]
                )
            parts.append(f"[{text}]")
            return
    parts.append("[")
    for v in seq:
        t = type(v)
        if t is float and (1e-4 <= v < 1e16 or -1e16 < v <= -1e-4):  # type: ignore[operator]
            r = repr(v)
            parts.append(r[:-2] if r[-1] == "0" else r)
        elif t is str:
            parts.append(_quote(v))  # type: ignore[arg-type]
        elif t is int:
            parts.append(repr(v))
        elif t is dict:
            _object(v, parts, depth + 1)  # type: ignore[arg-type]
        elif t is list or t is tuple:
            _array(v, parts, depth + 1)  # type: ignore[arg-type]
        else:
            _encode(v, parts, depth)
        parts.append(",")
    parts[-1] = "]"


def _ecmascript(r: str) -> str:
    """Rewrite a float repr in ECMAScript's layout (RFC 8785 3.2.2.3); raise for NaN/infinity.

    repr already gives the shortest round-trip digits; only the layout differs: repr switches to
    exponent form outside 1e-4 <= |f| < 1e16, ECMAScript outside 1e-7 <= |f| < 1e21, and repr
    keeps a ".0" on integral values.
    """
    mantissa, _, exponent = r.partition("e")
    if not exponent:
        if r[-1] != "0":
            if r[-1] == "n" or r[-1] == "f":
                raise CanonicalJsonError(f"{r} has no JSON representation")
            return r
        return "0" if r == "0.0" or r == "-0.0" else r[:-2]  # "400.0" -> "400"
    lead = _SMALL_FIXED.get(exponent)
    if lead is not None:  # "1.5e-05" -> "0.000015"
        if mantissa[0] == "-":
            return "-" + lead + mantissa[1:].replace(".", "")
        return lead + mantissa.replace(".", "")
    e = int(exponent)
    if 16 <= e < 21:  # "1.5e+16" -> "15000000000000000"
        _, sign, digits = mantissa.rpartition("-")
        digits = digits.replace(".", "")
        return f"{sign}{digits}{'0' * (e + 1 - len(digits))}"
    return r.replace("e-0", "e-")  # "1e-07" -> "1e-7"; ECMAScript pads no exponent


_SMALL_FIXED = {"-05": "0.0000", "-06": "0.00000"}
"""repr exponents that ECMAScript writes in fixed notation, and the text before the digits."""


def _utf16(key: str) -> bytes:
    """Sort key ordering strings by UTF-16 code units (big-endian bytes compare the same way)."""
    return key.encode("utf-16-be", "surrogatepass")


def _builtin(value: object) -> object:
    """Return the builtin JSON value a subclass instance stands for; raise for any other type."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list | tuple):
        return list(value)
    raise CanonicalJsonError(
        f"{type(value).__name__} is not a JSON type (use dict, list, tuple, str, int, float, "
        "bool or None)"
    )


def _key_error(keys: Iterable[object]) -> CanonicalJsonError:
    """Describe the first non-str key of a dict."""
    bad = next(key for key in keys if not isinstance(key, str))
    return CanonicalJsonError(f"object keys must be str, not {type(bad).__name__} ({bad!r})")


def _too_deep() -> CanonicalJsonError:
    """Describe a value nested past MAX_DEPTH (circular values end up here too)."""
    return CanonicalJsonError(
        f"value is nested more than {MAX_DEPTH} containers deep (or circular)"
    )


_FOUR_BYTE_UTF8 = re.compile(rb"[\xf0-\xf7]")
"""The lead byte of a character beyond the BMP: keys holding one sort differently as UTF-16."""
_DUMPS = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def _no_default(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not JSON")


# The json module's C encoder, made once (JSONEncoder.encode makes one per call); None where the
# C accelerator is missing, and then JSONEncoder.encode is used.
_C_ENCODER = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _no_default, encode_basestring, None, ":", ",", True, False, False
    )
    if getattr(json.encoder, "c_make_encoder", None) is not None
    else None
)


def _python_text(value: object) -> str:
    """json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))."""
    if _C_ENCODER is None:
        return _DUMPS.encode(value)
    return "".join(_C_ENCODER(value, 0))


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)
"""Made once (json.loads with a hook makes one per call). Floats are parsed by the C scanner
itself: a parse_float hook would be a Python call per number."""
_SCAN: Callable[[str, int], tuple[object, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def _decode(text: str) -> object:
    """json.loads(text), NaN and infinities refused; a document with nothing around its value
    (stored JSON) goes straight to the C scanner, any other through the decoder's checks."""
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        end = -1
    if end != len(text):
        return _DECODER.decode(text)  # whitespace around the value, or its exact error
    return value


def _repr_floats(text: str) -> bool:
    """Whether text written by the json module's C encoder may hold a float that RFC 8785
    writes otherwise: repr writes an exponent ("1e-05", "1e+16") or an integral value ("400.0",
    "-0.0") there, and those texts hold "e-", "e+" or a ".0" before the next delimiter (a
    string holding one only costs the full check)."""
    return (
        "e-" in text
        or "e+" in text
        or ".0," in text
        or ".0]" in text
        or ".0}" in text
        or text.endswith(".0")
    )


def parse_canonical(data: bytes, text: str | None = None) -> tuple[object, bool]:
    """Parse stored JSON bytes (`text`: the same, already decoded); return the value and
    whether the bytes are its canonical form.

    Checking canonical form is the costly part of verifying a store, so the common case is
    checked by the C encoder of the json module, which writes exactly this package's canonical
    text for documents whose floats repr writes as ECMAScript does (no exponent, not integral:
    `_repr_floats`), whose keys have no character beyond the BMP (Python sorts by code point,
    RFC 8785 by UTF-16 unit), and with fewer containers than MAX_DEPTH. Any other document, and
    any the C encoder writes otherwise, is re-encoded by `canonical_json`.
    Raises ValueError when the bytes are not JSON (NaN and infinities are not JSON here).
    """
    if text is None:
        text = data.decode("utf-8")
    value = _decode(text)
    if not (
        # MAX_DEPTH nested containers take 2 * MAX_DEPTH bytes at least.
        (len(data) >= 2 * MAX_DEPTH and data.count(b"{") + data.count(b"[") >= MAX_DEPTH)
        or (not data.isascii() and _FOUR_BYTE_UTF8.search(data))
    ):
        try:
            written = _python_text(value)
        except ValueError:  # an infinity ("1e999"): canonical_json says why
            written = None
        if written == text and not _repr_floats(text):
            return value, True
    return value, canonical_json(value) == data
