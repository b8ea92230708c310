"""Field validators shared by command-line arguments and event details.

Amounts are integers (smallest currency unit): never floats, so no rounding drift, and they map
exactly to DynamoDB numbers.
"""

import re
from typing import Any

from .errors import BadInput

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_DIGITS = re.compile(r"[0-9]{1,18}")
MAX_AMOUNT = 10**15
MAX_TEXT = 500


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def identifier(value: Any, field: str) -> str:
    """An id such as ``o-1``: 1-128 chars of letters, digits and ``._:-``, starting alphanumeric."""
    if not isinstance(value, str):
        raise BadInput(field, f"expected a string identifier, got {type(value).__name__} {_show(value)}")
    if not _IDENTIFIER.fullmatch(value):
        raise BadInput(field, f"expected 1-128 characters of [A-Za-z0-9._:-], got {_show(value)}")
    return value


def text(value: Any, field: str) -> str:
    """A non-empty, single-line string of at most 500 characters."""
    if not isinstance(value, str):
        raise BadInput(field, f"expected a string, got {type(value).__name__} {_show(value)}")
    if not value.strip() or len(value) > MAX_TEXT or "\n" in value or "\r" in value:
        raise BadInput(field, f"expected a non-empty single-line string of at most {MAX_TEXT} characters")
    return value


def amount(value: Any, field: str, *, allow_zero: bool = False) -> int:
    """A JSON integer amount (> 0, or >= 0 with ``allow_zero``); floats, strings and booleans are refused."""
    wanted = "a non-negative integer" if allow_zero else "a positive integer"
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(field, f"expected {wanted}, got {type(value).__name__} {_show(value)}")
    if value < 0 or (value == 0 and not allow_zero) or value > MAX_AMOUNT:
        raise BadInput(field, f"expected {wanted} (at most {MAX_AMOUNT}), got {value}")
    return value


def amount_arg(raw: str, field: str, *, allow_zero: bool = False) -> int:
    """An amount given as a command-line string (plain decimal digits only)."""
    if not _DIGITS.fullmatch(raw):
        wanted = "a non-negative integer" if allow_zero else "a positive integer"
        raise BadInput(field, f"expected {wanted}, got {_show(raw)}")
    return amount(int(raw), field, allow_zero=allow_zero)
