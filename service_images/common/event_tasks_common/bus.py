"""Emitting domain events to the service's own EventBridge bus."""

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .errors import EmitFailed

# ECS caps a RunTask's container overrides at 8192 characters, and the consuming state machine puts
# this detail (as JSON) into its eventDetail override beside the command and three other variables.
# A larger detail would make every consumer's RunTask fail, so it is refused before it is emitted.
MAX_DETAIL_CHARS = 6144


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable in an event detail")


def emit(events_client: Any, *, bus_name: str, source: str, detail_type: str, detail: Mapping[str, Any]) -> str:
    """PutEvents one event; return its EventBridge id.

    Raises ``EmitFailed`` unless EventBridge accepted it (``FailedEntryCount`` 0 and an id), so an
    event is never silently lost: the task exits 1 and the state machine sees the failure.
    """
    entry = {
        "EventBusName": bus_name,
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(dict(detail), default=_json_default, separators=(",", ":")),
    }
    if len(entry["Detail"]) > MAX_DETAIL_CHARS:
        raise EmitFailed(
            f"{detail_type} detail is {len(entry['Detail'])} characters; consumers receive it through ECS "
            f"container overrides, so it must stay within {MAX_DETAIL_CHARS}: put large data in the "
            "service's table and send its key"
        )
    response = events_client.put_events(Entries=[entry])
    entries = response.get("Entries") or [{}]
    first = entries[0]
    if response.get("FailedEntryCount", 0) != 0 or first.get("ErrorCode") or not first.get("EventId"):
        raise EmitFailed(
            f"PutEvents did not accept {detail_type} on bus {bus_name!r}: "
            f"{first.get('ErrorCode', 'no event id')}: {first.get('ErrorMessage', '')}".rstrip(": ")
        )
    return first["EventId"]
