"""Redis's number parsing, to the letter: it decides which replies are errors.

Redis parses integers with ``string2ll`` (no sign ``+``, no leading zeros, no
spaces, ``-0`` refused) and stores 64-bit signed values; C overflow must be
reproduced where Redis lets it happen, because the replies show it.
"""

from __future__ import annotations

import math

LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)


def parse_int(raw: bytes) -> int | None:
    """``string2ll``: the int, or None when Redis would refuse the text."""
    n = len(raw)
    if n == 0 or n > 20:
        return None
    if n == 1 and raw == b"0":
        return 0
    negative = raw[0] == 0x2D  # '-'
    digits = raw[1:] if negative else raw
    if not digits or not (0x31 <= digits[0] <= 0x39):
        return None
    if not digits.isdigit():
        return None
    value = -int(digits) if negative else int(digits)
    if value > LLONG_MAX or value < LLONG_MIN:
        return None
    return value


def parse_float(raw: bytes) -> float | None:
    """Timeouts, read as ``strtold`` reads them (``getLongDoubleFromObject``): decimal,
    exponent, hexadecimal (``0x10``) and ``inf``; no spaces, no NaN, no overflow."""
    if not raw or raw[:1].isspace() or raw[-1:].isspace():
        return None
    text = raw.decode("ascii", errors="replace")
    try:
        value = float(text)
    except ValueError:
        if not text.lstrip("+-").lower().startswith("0x"):
            return None
        try:
            value = float.fromhex(text)
        except (ValueError, OverflowError):
            return None
    if math.isnan(value):
        return None
    if math.isinf(value) and text.lstrip("+-").lower() not in ("inf", "infinity"):
        return None  # ERANGE: a finite text too large for a long double's range here
    return value


def add_would_overflow(value: int, incr: int) -> bool:
    """Redis's guard before ``value + incr`` on a signed 64-bit integer."""
    return (incr < 0 and value < 0 and incr < LLONG_MIN - value) or (
        incr > 0 and value > 0 and incr > LLONG_MAX - value
    )


def wrap64(value: int) -> int:
    """What a C ``long long`` holds after an overflowing add or multiply."""
    return (value + (1 << 63)) % (1 << 64) - (1 << 63)


def encode(arg: object) -> bytes:
    """Encode an argument as redis-py does: str as UTF-8, int and float as text."""
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, bool):
        raise TypeError("bool is not a valid Redis argument")
    if isinstance(arg, int):
        return str(arg).encode()
    if isinstance(arg, float):
        return repr(arg).encode()
    if isinstance(arg, (bytearray, memoryview)):
        return bytes(arg)
    raise TypeError(f"invalid Redis argument {arg!r}")
