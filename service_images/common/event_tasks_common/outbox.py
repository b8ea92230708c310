"""Emit-once records: one item per business fact a service announces, keyed by its ``eventKey``.

Item ``pk = OUTCOME#<eventKey>``, ``sk = OUTCOME``: ``type=Outcome, eventKey, useCase, detailType,
detail`` (the JSON emitted, ``eventKey`` included) and, once PutEvents accepted it,
``emittedEventId`` (the EventBridge id of the first accepted emission).

The record is written in the same transaction as the state change that makes the fact true, so a
fact is never true without its record. ``emittedEventId`` is set right after PutEvents succeeds;
a record without it is exactly the crash window (committed, never announced), the only case in
which a redelivered trigger emits anything.
"""

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from .bus import json_default
from .errors import ConcurrentUpdate
from .store import Op, Table

SK = "OUTCOME"
KEY_FIELD = "eventKey"


def event_key(detail_type: str, subject: str) -> str:
    """The stable key of a business fact: ``OrderApproved:o-1``."""
    return f"{detail_type}:{subject}"


def pk(key: str) -> str:
    return f"OUTCOME#{key}"


def emitted_detail(key: str, detail: Mapping[str, Any]) -> dict[str, Any]:
    """The detail as emitted (and re-emitted): the outcome's fields plus ``eventKey``, key order fixed."""
    return json.loads(json.dumps({**detail, KEY_FIELD: key}, sort_keys=True, default=json_default))


def record_op(table: Table, *, key: str, use_case: str, detail_type: str, detail: Mapping[str, Any]) -> Op:
    item = {
        "pk": pk(key),
        "sk": SK,
        "type": "Outcome",
        "eventKey": key,
        "useCase": use_case,
        "detailType": detail_type,
        "detail": json.dumps(emitted_detail(key, detail), sort_keys=True),
    }
    return table.put_op(item, condition="attribute_not_exists(pk)")


def load(table: Table, key: str) -> dict[str, Any] | None:
    return table.get(pk(key), SK)


def mark_emitted(table: Table, key: str, event_id: str) -> None:
    """Record the first accepted emission; a twin that marked it first keeps its id."""
    op = table.update_op(
        pk(key),
        SK,
        "SET emittedEventId = :id",
        condition="attribute_exists(pk) AND attribute_not_exists(emittedEventId)",
        values={":id": event_id},
    )
    with contextlib.suppress(ConcurrentUpdate):
        table.transact([op])
