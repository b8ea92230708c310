"""The triggering event, as the state machine passes it to the ECS task in container env vars.

Contract (fixed, set by the RunTask state machine's container overrides):

- ``eventDetail``     JSON string of the EventBridge event's ``detail`` (an object)
- ``eventId``         the EventBridge event id: the idempotency key
- ``eventDetailType`` the event's ``detail-type``
- ``eventSource``     the event's ``source``

``read_trigger_event`` validates all of them before anything touches AWS; any problem is a
``BadInput`` naming the variable (or ``eventDetail.<field>``), which ``run`` turns into exit 2.
Hostile documents are refused by name too: ``eventDetail`` nested deeper than ``MAX_DEPTH``
(checked before the recursive JSON parser runs), lone surrogates anywhere in it, control or format
characters in the variables and in every field a use case reads, integer literals too long to be
amounts.
"""

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import validate
from .errors import BadInput

ENV_DETAIL = "eventDetail"
ENV_ID = "eventId"
ENV_DETAIL_TYPE = "eventDetailType"
ENV_SOURCE = "eventSource"
TRIGGER_ENV_VARS = (ENV_DETAIL, ENV_ID, ENV_DETAIL_TYPE, ENV_SOURCE)

ANY_SOURCE = None

MAX_DEPTH = 32
"""Deepest nesting of arrays/objects accepted in ``eventDetail`` (the services' details have 1-3)."""

# A JSON string token, or one bracket. Each alternative consumes one character per step, so the
# scan stays linear even on an unterminated string.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]')


class Detail:
    """The event's ``detail`` object with typed, field-naming accessors."""

    def __init__(self, data: Mapping[str, Any], prefix: str = ENV_DETAIL) -> None:
        self.data = data
        self.prefix = prefix

    def _get(self, name: str) -> Any:
        if name not in self.data or self.data[name] is None:
            raise BadInput(f"{self.prefix}.{name}", "missing")
        return self.data[name]

    def identifier(self, name: str) -> str:
        return validate.identifier(self._get(name), f"{self.prefix}.{name}")

    def text(self, name: str) -> str:
        return validate.text(self._get(name), f"{self.prefix}.{name}")

    def amount(self, name: str, *, allow_zero: bool = False) -> int:
        return validate.amount(self._get(name), f"{self.prefix}.{name}", allow_zero=allow_zero)


@dataclass(frozen=True)
class TriggerEvent:
    event_id: str
    detail_type: str
    source: str
    detail: Detail

    def fingerprint(self) -> str:
        """Hash of what the event says, to detect an event id reused for different content."""
        canonical = json.dumps(
            [self.detail_type, self.source, self.detail.data],
            sort_keys=True,
            default=str,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def trigger_present(environ: Mapping[str, str] | None = None) -> bool:
    """True when any of the trigger variables is set (the task was started by an event)."""
    env = os.environ if environ is None else environ
    return any(name in env for name in TRIGGER_ENV_VARS)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_depth(raw: str) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` without recursing (json.loads would, and overflow)."""
    depth = 0
    for token in _TOKENS.finditer(raw):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise BadInput(
                    ENV_DETAIL,
                    f"nested deeper than {MAX_DEPTH} levels of arrays/objects (at character {token.start()}); "
                    "send a flat detail",
                )
        elif bracket in "]}":
            depth -= 1


def _surrogate_at(value: str) -> int | None:
    if value.isprintable():  # fast path: surrogates are never printable
        return None
    return next((i for i, char in enumerate(value) if "\ud800" <= char <= "\udfff"), None)


def _check_surrogates(data: Any, path: str) -> None:
    """Refuse lone surrogates in any key or string of the detail (its depth is already bounded).

    They are not Unicode: nothing could store, emit or print them. Other characters are checked
    only in the fields a use case reads, so an unread free-text field (a failure event's ``cause``)
    never makes a consumer refuse the event.
    """
    if isinstance(data, str):
        position = _surrogate_at(data)
        if position is not None:
            raise validate.refusal(path, data[position], position)
    elif isinstance(data, dict):
        for name, value in data.items():
            position = _surrogate_at(name)
            if position is not None:
                raise BadInput(path, f"a key contains {validate.describe(name[position])}; send valid Unicode")
            _check_surrogates(value, f"{path}.{name}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            _check_surrogates(value, f"{path}[{index}]")


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if value is None:
        raise BadInput(name, "missing (the task must be started by an event)")
    if not value.strip():
        raise BadInput(name, "empty")
    return value


def read_trigger_event(accept: Mapping[str, str | None], environ: Mapping[str, str] | None = None) -> TriggerEvent:
    """Read and validate the trigger env vars.

    ``accept`` maps each detail-type this use case handles to the source it must come from
    (``ANY_SOURCE`` to accept any). Field-level checks of the detail are left to the caller
    through the returned ``Detail`` accessors (they raise ``BadInput`` too).
    """
    env = os.environ if environ is None else environ
    raw = _required(env, ENV_DETAIL)
    _check_depth(raw)
    try:
        data = json.loads(raw, parse_float=Decimal, parse_int=validate.parse_int, parse_constant=_reject_constant)
    except ValueError as exc:
        raise BadInput(ENV_DETAIL, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadInput(ENV_DETAIL, f"expected a JSON object, got {type(data).__name__}")
    _check_surrogates(data, ENV_DETAIL)
    event_id = validate.identifier(_required(env, ENV_ID), ENV_ID)
    detail_type = validate.text(_required(env, ENV_DETAIL_TYPE), ENV_DETAIL_TYPE)
    if detail_type not in accept:
        raise BadInput(ENV_DETAIL_TYPE, f"expected one of {sorted(accept)}, got {detail_type!r}")
    source = validate.text(_required(env, ENV_SOURCE), ENV_SOURCE)
    expected_source = accept[detail_type]
    if expected_source is not ANY_SOURCE and source != expected_source:
        raise BadInput(ENV_SOURCE, f"{detail_type} must come from {expected_source!r}, got {source!r}")
    return TriggerEvent(event_id, detail_type, source, Detail(data))
