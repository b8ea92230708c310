"""The one structured warning a use case writes when an event contradicts a final state it recorded.

A contradicting event (``CreditLimitExceeded`` for an APPROVED order, ``CreditReserved`` for a
REJECTED one...) changes nothing and the task exits 0, since retrying cannot make it agree; but it
means the saga went wrong upstream, so it must not vanish. It is written as ONE JSON line on stderr,
the same for every use case, so log filters and the sandbox can count it by ``"kind"``:

    {"level":"WARNING","kind":"ContradictingEvent","useCase":"order.reject","eventId":"...",
     "event":"CreditLimitExceeded","source":"event-tasks.customer","orderId":"o-1",
     "state":"APPROVED","message":"..."}

(``eventKey`` is added when the event carries one.) The ``kind`` value is a stable contract.
"""

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from .trigger import TriggerEvent

KIND = "ContradictingEvent"


@dataclass(frozen=True)
class Contradiction:
    """What a use case's ``decide`` found: the recorded final ``state`` the event contradicts."""

    state: str
    ids: Mapping[str, str]
    """The business ids of the entity, e.g. ``{"orderId": "o-1"}``."""
    message: str


def warning_line(use_case: str, event: TriggerEvent, contradiction: Contradiction) -> str:
    record: dict[str, object] = {
        "level": "WARNING",
        "kind": KIND,
        "useCase": use_case,
        "eventId": event.event_id,
        "event": event.detail_type,
        "source": event.source,
    }
    key = event.detail.data.get("eventKey")
    if isinstance(key, str):
        record["eventKey"] = key
    record.update(contradiction.ids)
    record["state"] = contradiction.state
    record["message"] = contradiction.message
    # json.dumps escapes newlines and control characters: the record stays on one line.
    return json.dumps(record, separators=(",", ":"), default=str)


def warn_contradicting(
    use_case: str, event: TriggerEvent, contradiction: Contradiction, stream: TextIO | None = None
) -> None:
    """Write the warning line to stderr (the task still exits 0: nothing to retry)."""
    print(warning_line(use_case, event, contradiction), file=stream or sys.stderr, flush=True)
