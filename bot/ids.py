"""Strict parsing of what people type or press where a number is expected.

str.isdigit() accepts '²' and other Unicode digits that int() then refuses, and a 30-digit id
overflows a database integer (ids are 32-bit INTEGER columns: PostgreSQL refuses
3000000000 with "integer out of range"): both used to end in the internal-error answer. Everything that
takes an id from a command or a button goes through parse_id.
"""
from __future__ import annotations

ASCII_DIGITS = frozenset("0123456789")
MAX_ID_DIGITS = 9  # fits a signed 32-bit INTEGER column (every id column here)


def parse_id(s: object, max_digits: int = MAX_ID_DIGITS) -> int | None:
    """A positive integer made of ASCII digits only (at most `max_digits`), else None."""
    if not isinstance(s, str):
        return None
    s = s.strip()
    if not s or len(s) > max_digits or not all(ch in ASCII_DIGITS for ch in s):
        return None
    return int(s)


def parse_int(s: object, lo: int, hi: int) -> int | None:
    """A number typed by a person (a count, a choice) within [lo, hi], else None."""
    n = parse_id(s, max_digits=len(str(max(abs(lo), abs(hi)))) + 2)
    return n if n is not None and lo <= n <= hi else None


def digits_of(text: str | None) -> str:
    """The ASCII digits of a phone number as typed ("0905 111 222" -> "0905111222")."""
    return "".join(ch for ch in (text or "") if ch in ASCII_DIGITS)
