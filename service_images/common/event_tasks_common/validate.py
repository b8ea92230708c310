"""Field validators shared by command-line arguments, trigger variables and event details.

Amounts are integers (smallest currency unit): never floats, so no rounding drift, and they map
exactly to DynamoDB numbers.

Text and identifiers never carry control or format characters (Unicode categories Cc and Cf: NUL,
C0/C1 controls, bidi overrides, zero-width characters...), line or paragraph separators, or lone
surrogates (undecodable bytes, JSON ``"\\ud800"``): such a value would be stored, emitted to
other services and printed in logs, where it can hide or forge text.
"""

import re
import unicodedata
from decimal import Decimal
from typing import Any

from .errors import BadInput

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_DIGITS = re.compile(r"[0-9]{1,18}")
_ALL_DIGITS = re.compile(r"[0-9]+")
MAX_AMOUNT = 10**15
MAX_AMOUNT_TEXT = "10^15"
MAX_TEXT = 500

HOSTILE_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "a format character",
    "Cs": "a lone surrogate",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
"""Unicode categories refused in any text or identifier, with how a message names them."""


class LongInteger(Decimal):
    """A JSON integer literal too long to be an amount, kept as its digits (see ``parse_int``).

    Python refuses to convert integer strings of more than 4300 digits, which would turn such an
    amount into "not valid JSON"; this keeps the document parseable so ``amount`` can name the field.
    """


_LONGEST_INT_LITERAL = 20
"""Digits (and sign) beyond which an integer literal cannot be a valid amount (10^15 has 16)."""


def parse_int(literal: str) -> int | Decimal:
    """``json.loads`` ``parse_int`` hook: ints as usual, huge literals as ``LongInteger``."""
    if len(literal) > _LONGEST_INT_LITERAL:
        return LongInteger(literal)
    return int(literal)


def _show(value: Any) -> str:
    # repr escapes every non-printable character, so a shown value cannot forge or hide text.
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def hostile_character(value: str) -> tuple[int, str] | None:
    """Position and character of the first refused character in ``value``, or None."""
    if value.isprintable():  # fast path: printable excludes every refused category
        return None
    for position, char in enumerate(value):
        if unicodedata.category(char) in HOSTILE_CATEGORIES:
            return position, char
    return None


def describe(char: str) -> str:
    """``a format character U+202E (RIGHT-TO-LEFT OVERRIDE)``."""
    name = unicodedata.name(char, "")
    return f"{HOSTILE_CATEGORIES[unicodedata.category(char)]} U+{ord(char):04X}" + (f" ({name})" if name else "")


def refusal(field: str, char: str, position: int) -> BadInput:
    """The ``BadInput`` for a refused character found at ``position`` of ``field``'s value."""
    if unicodedata.category(char) == "Cs":
        fix = "send UTF-8 text (bytes that are not UTF-8, or a JSON \\ud800-\\udfff escape without its pair)"
    else:
        fix = "send plain text without control or format characters"
    return BadInput(field, f"contains {describe(char)} at position {position}; {fix}")


def clean(value: str, field: str) -> str:
    """``value`` unchanged if it has no control/format character or lone surrogate, else ``BadInput``."""
    found = hostile_character(value)
    if found is not None:
        position, char = found
        raise refusal(field, char, position)
    return value


def identifier(value: Any, field: str) -> str:
    """An id such as ``o-1``: 1-128 chars of letters, digits and ``._:-``, starting alphanumeric."""
    if not isinstance(value, str):
        raise BadInput(field, f"expected a string identifier, got {type(value).__name__} {_show(value)}")
    clean(value, field)
    if not _IDENTIFIER.fullmatch(value):
        raise BadInput(field, f"expected 1-128 characters of [A-Za-z0-9._:-], got {_show(value)}")
    return value


def text(value: Any, field: str) -> str:
    """A non-empty, single-line string of at most 500 characters, without control/format characters."""
    if not isinstance(value, str):
        raise BadInput(field, f"expected a string, got {type(value).__name__} {_show(value)}")
    if len(value) > MAX_TEXT:
        raise BadInput(field, f"expected at most {MAX_TEXT} characters, got {len(value)}")
    clean(value, field)
    if not value.strip():
        raise BadInput(field, f"expected a non-empty single-line string of at most {MAX_TEXT} characters")
    return value


def amount(value: Any, field: str, *, allow_zero: bool = False) -> int:
    """A JSON integer amount (> 0, or >= 0 with ``allow_zero``); floats, strings and booleans are refused."""
    wanted = "a non-negative integer" if allow_zero else "a positive integer"
    if isinstance(value, LongInteger):
        digits = len(str(value).lstrip("-"))
        raise BadInput(field, f"expected {wanted} (at most {MAX_AMOUNT_TEXT}), got an integer of {digits} digits")
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(field, f"expected {wanted}, got {type(value).__name__} {_show(value)}")
    if value < 0 or (value == 0 and not allow_zero) or value > MAX_AMOUNT:
        raise BadInput(field, f"expected {wanted} (at most {MAX_AMOUNT_TEXT}), got {value}")
    return value


def amount_arg(raw: str, field: str, *, allow_zero: bool = False) -> int:
    """An amount given as a command-line string (plain decimal digits only)."""
    wanted = "a non-negative integer" if allow_zero else "a positive integer"
    clean(raw, field)
    if _ALL_DIGITS.fullmatch(raw) and not _DIGITS.fullmatch(raw):
        raise BadInput(field, f"expected {wanted} (at most {MAX_AMOUNT_TEXT}), got an integer of {len(raw)} digits")
    if not _DIGITS.fullmatch(raw):
        raise BadInput(field, f"expected {wanted}, got {_show(raw)}")
    return amount(int(raw), field, allow_zero=allow_zero)
