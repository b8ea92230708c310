"""The triggering event, as the state machine passes it to the ECS task in container env vars.

Contract (fixed, set by the RunTask state machine's container overrides):

- ``eventDetail``     JSON string of the EventBridge event's ``detail`` (an object)
- ``eventId``         the EventBridge event id: the idempotency key
- ``eventDetailType`` the event's ``detail-type``
- ``eventSource``     the event's ``source``

``read_trigger_event`` validates all of them before anything touches AWS; any problem is a
``BadInput`` naming the variable (or ``eventDetail.<field>``), which ``run`` turns into exit 2.
"""

import hashlib
import json
import os
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
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError as exc:
        raise BadInput(ENV_DETAIL, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadInput(ENV_DETAIL, f"expected a JSON object, got {type(data).__name__}")
    event_id = validate.identifier(_required(env, ENV_ID), ENV_ID)
    detail_type = _required(env, ENV_DETAIL_TYPE)
    if detail_type not in accept:
        raise BadInput(ENV_DETAIL_TYPE, f"expected one of {sorted(accept)}, got {detail_type!r}")
    source = _required(env, ENV_SOURCE)
    expected_source = accept[detail_type]
    if expected_source is not ANY_SOURCE and source != expected_source:
        raise BadInput(ENV_SOURCE, f"{detail_type} must come from {expected_source!r}, got {source!r}")
    return TriggerEvent(event_id, detail_type, source, Detail(data))
