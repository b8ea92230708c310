"""Emitting domain events to the service's own EventBridge bus."""

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .errors import EmitFailed

# ECS caps a RunTask's container overrides at 8192 characters, JSON structure included, and the
# consuming state machine puts this detail, as an escaped JSON string, into its eventDetail override
# beside the command and three other variables (about 400 characters). When that consumer's task
# fails, its failure event wraps the detail again with the failure's metadata (trigger, error, cause,
# execution ARN, the event's id/type/source: about 1,500 characters escaped); a failure of the task
# started by that failure event (RejectOrderFailed of a ReserveCreditFailed) wraps it twice. So the
# detail, measured as it appears escaped in the overrides, is held to 8192 - 400 - 2 * 1,500 = 4,792,
# rounded down to 4096; a larger detail would make a consumer's or a compensation's RunTask fail, so
# it is refused before anything is written or emitted.
MAX_DETAIL_CHARS = 4096


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable in an event detail")


def detail_json(detail: Mapping[str, Any]) -> str:
    return json.dumps(dict(detail), default=json_default, separators=(",", ":"))


def check_detail(detail_type: str, detail: Mapping[str, Any]) -> str:
    """The detail's JSON, or ``EmitFailed`` if it would not fit a consumer's container overrides."""
    text = detail_json(detail)
    escaped = len(json.dumps(text))
    if escaped > MAX_DETAIL_CHARS:
        raise EmitFailed(
            f"{detail_type} detail is {escaped} characters as a consumer receives it (escaped in its ECS "
            f"container overrides); it must stay within {MAX_DETAIL_CHARS} so that it still fits when a "
            "failure event wraps it: put large data in the service's table and send its key"
        )
    return text


def emit(events_client: Any, *, bus_name: str, source: str, detail_type: str, detail: Mapping[str, Any]) -> str:
    """PutEvents one event; return its EventBridge id.

    Raises ``EmitFailed`` unless EventBridge accepted it (``FailedEntryCount`` 0 and an id), so an
    event is never silently lost: the task exits 1 and the state machine sees the failure.
    """
    entry = {
        "EventBusName": bus_name,
        "Source": source,
        "DetailType": detail_type,
        "Detail": check_detail(detail_type, detail),
    }
    response = events_client.put_events(Entries=[entry])
    entries = response.get("Entries") or [{}]
    first = entries[0]
    if response.get("FailedEntryCount", 0) != 0 or first.get("ErrorCode") or not first.get("EventId"):
        raise EmitFailed(
            f"PutEvents did not accept {detail_type} on bus {bus_name!r}: "
            f"{first.get('ErrorCode', 'no event id')}: {first.get('ErrorMessage', '')}".rstrip(": ")
        )
    return first["EventId"]
