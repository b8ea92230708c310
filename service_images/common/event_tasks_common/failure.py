"""Reading the failure events a trigger's state machine publishes when it gives up on its task.

Detail (see README "When a task fails"): ``trigger``, ``service``, ``error``, ``cause``,
``executionArn``, ``attempts`` and ``event`` = the event the failed task was started with
(``id``, ``detail-type``, ``source``, ``detail``). A consumer needs the business keys of that
original event (``event.detail.orderId``...). A failure event may report the failure of a task
that was itself started by a failure event (``RejectOrderFailed`` of a ``ReserveCreditFailed``),
so ``original`` looks through nested reports down to the first business event.
"""

import re
from dataclasses import dataclass

from .errors import BadInput
from .trigger import Detail

MAX_DEPTH = 3
"""A failure of a failure of a failure: the shipped wiring never routes deeper (no loops)."""

_TRIGGER_NAME = re.compile(r"[a-z][a-z0-9-]{0,63}")


@dataclass(frozen=True)
class Reported:
    """The event a failed task was started with."""

    detail_type: str
    detail: Detail


def is_failure(detail: Detail) -> bool:
    """True when ``detail`` has the shape of a failure event's detail."""
    return isinstance(detail.data.get("trigger"), str) and isinstance(detail.data.get("event"), dict)


def failed_trigger(detail: Detail) -> str:
    """The name of the trigger whose task failed (``reserve-credit``), validated."""
    name = detail.text("trigger")
    if not _TRIGGER_NAME.fullmatch(name):
        raise BadInput(f"{detail.prefix}.trigger", f"expected a trigger name like 'reserve-credit', got {name!r}")
    return name


def reason(trigger: str) -> str:
    """The rejection reason naming a failed trigger: ``reserve-credit`` -> ``RESERVE_CREDIT_FAILED``."""
    return f"{trigger.upper().replace('-', '_')}_FAILED"


def reported(detail: Detail) -> Reported:
    """The event a failure event reports (one level), validated as an object with a detail object."""
    failed_trigger(detail)
    field = f"{detail.prefix}.event"
    event = detail.data.get("event")
    if not isinstance(event, dict):
        raise BadInput(field, "missing (a failure event carries the event the failed task was started with)")
    detail_type = event.get("detail-type")
    if not isinstance(detail_type, str) or not detail_type.strip():
        raise BadInput(f"{field}.detail-type", "missing")
    inner = event.get("detail")
    if not isinstance(inner, dict):
        raise BadInput(f"{field}.detail", "expected a JSON object")
    return Reported(detail_type, Detail(inner, prefix=f"{field}.detail"))


def original(detail: Detail) -> Reported:
    """The first business event under one or more failure reports."""
    found = reported(detail)
    for _ in range(MAX_DEPTH - 1):
        if not is_failure(found.detail):
            return found
        found = reported(found.detail)
    if is_failure(found.detail):
        raise BadInput(found.detail.prefix, f"failure events nested deeper than {MAX_DEPTH} levels")
    return found
