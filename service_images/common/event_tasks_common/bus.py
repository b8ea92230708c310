"""Emitting domain events to the service's own EventBridge bus."""

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .errors import EmitFailed


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
    response = events_client.put_events(Entries=[entry])
    entries = response.get("Entries") or [{}]
    first = entries[0]
    if response.get("FailedEntryCount", 0) != 0 or first.get("ErrorCode") or not first.get("EventId"):
        raise EmitFailed(
            f"PutEvents did not accept {detail_type} on bus {bus_name!r}: "
            f"{first.get('ErrorCode', 'no event id')}: {first.get('ErrorMessage', '')}".rstrip(": ")
        )
    return first["EventId"]
