"""Run a use case exactly once per triggering event, and announce each business fact once.

Idempotency of the state change, two layers, both enforced with DynamoDB conditions in ONE
TransactWriteItems:

1. Processed-event markers, keyed on the use case and the EventBridge event id
   (``pk = EVENT#<eventId>``) and, when the event carries one, on its ``eventKey``
   (``pk = EVENTKEY#<eventKey>``); both ``sk = USECASE#<use case>``, put with
   ``attribute_not_exists``. They record a fingerprint of the event and what the use case made of
   it. An event found under either marker is a duplicate: nothing is written again.
2. Business keys (order item, per-order credit decision, customer item) guarded by conditions in
   the same transaction, so a *different* event carrying the same fact cannot apply it twice
   either; ``decide`` then reads the state the first one left.

Emit once (see ``outbox``): every emitted outcome is a business fact with a stable ``eventKey``
(``<detail-type>:<business id>``, e.g. ``OrderApproved:o-1``), carried in the emitted detail. The
transaction that makes the fact true also writes its outcome record; once PutEvents accepts the
event, the record gets ``emittedEventId``.

Replay decision: a redelivered trigger (same eventId, same eventKey, or another event carrying the
same fact) runs ``decide`` on the CURRENT state, which names the fact that state announces (or
none). That fact is emitted again only if its record exists and was never emitted: the crash
window between the commit and PutEvents. An outcome already emitted is never emitted again, and a
state the entity has left (an order cancelled since it was approved) is never announced, because
``decide`` no longer names it. A re-emission carries the recorded detail, so it is identical to
the first emission but for its EventBridge id; consumers deduplicate on ``eventKey`` as well as on
the id. Two twins racing inside the crash window may both emit: the same ``eventKey``, applied
once by every consumer (at-least-once delivery cannot be made exactly-once without a lease).

If a condition fails because another writer changed the items between our read and our write,
``decide`` runs again on fresh state (up to ``ATTEMPTS`` times).
"""

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

from . import outbox
from .bus import check_detail, emit
from .contradiction import Contradiction, warn_contradicting
from .errors import BadInput, ConcurrentUpdate, ConfigError
from .store import Op, Table
from .trigger import ENV_DETAIL, ENV_ID, TriggerEvent, read_trigger_event

ATTEMPTS = 5

_EVENT_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]{0,127}:[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


@dataclass(frozen=True)
class Outcome:
    """What a use case did. ``detail_type`` None: nothing to emit (a documented no-op).

    ``subject``: the business id the emitted fact is about (``o-1``); with ``detail_type`` it makes
    the fact's ``event_key`` (``OrderApproved:o-1``).
    """

    message: str
    detail_type: str | None = None
    detail: Mapping[str, Any] | None = None
    subject: str | None = None

    def __post_init__(self) -> None:
        if self.detail_type and not self.subject:
            raise ValueError(f"{self.detail_type}: an emitted outcome needs the id it is about (its eventKey)")

    @property
    def event_key(self) -> str | None:
        return outbox.event_key(self.detail_type, self.subject) if self.detail_type and self.subject else None


@dataclass(frozen=True)
class Decision:
    """``decide``'s answer: the outcome, the conditional writes, and whether it is a replay.

    An outcome with a ``detail_type`` is emitted fresh only when its writes are committed by this
    run; without writes it names the fact the current state announces, re-emitted only from an
    unemitted record. ``contradiction``: the event contradicts a recorded final state (warned
    once, when the event is first processed).
    """

    outcome: Outcome
    writes: Sequence[Op] = field(default_factory=tuple)
    replay: bool = False
    contradiction: Contradiction | None = None


@dataclass(frozen=True)
class Settled:
    """``decide_once``'s result."""

    decision: Decision
    committed: bool
    """This run committed the decision's writes (the state change is its own)."""
    duplicate: str | None = None
    """``"eventId"`` / ``"eventKey"`` when the trigger had already been processed (nothing written)."""


@dataclass
class Context:
    """The service's own resources, from the task definition's environment."""

    source: str
    bus_name: str
    table: Table
    events: Any

    @classmethod
    def from_env(cls, source: str, environ: Mapping[str, str] | None = None) -> "Context":
        env = os.environ if environ is None else environ
        values = {}
        for name in ("TABLE_NAME", "EVENT_BUS_NAME"):
            value = env.get(name, "").strip()
            if not value:
                raise ConfigError(f"{name}: missing from the task environment")
            values[name] = value
        # Endpoint, region and credentials come from the standard boto3 settings
        # (AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, ...): nothing is hard-coded.
        return cls(
            source=source,
            bus_name=values["EVENT_BUS_NAME"],
            table=Table(boto3.client("dynamodb"), values["TABLE_NAME"]),
            events=boto3.client("events"),
        )

    def emit(self, detail_type: str, detail: Mapping[str, Any]) -> str:
        return emit(self.events, bus_name=self.bus_name, source=self.source, detail_type=detail_type, detail=detail)


def marker_key(event_id: str, use_case: str) -> tuple[str, str]:
    return f"EVENT#{event_id}", f"USECASE#{use_case}"


def event_key_marker_key(event_key: str, use_case: str) -> tuple[str, str]:
    return f"EVENTKEY#{event_key}", f"USECASE#{use_case}"


def trigger_event_key(event: TriggerEvent | None) -> str | None:
    """The triggering event's ``eventKey`` (``<its detail-type>:<id>``), if it carries one."""
    if event is None or "eventKey" not in event.detail.data:
        return None
    value = event.detail.data["eventKey"]
    field_name = f"{ENV_DETAIL}.eventKey"
    if not isinstance(value, str) or not _EVENT_KEY.fullmatch(value):
        raise BadInput(field_name, "expected '<detail-type>:<id>' of letters, digits and ._:-")
    if not value.startswith(f"{event.detail_type}:"):
        raise BadInput(field_name, f"{value!r} is not a key of a {event.detail_type} event")
    return value


def read_event(accept: Mapping[str, str | None], environ: Mapping[str, str] | None = None) -> TriggerEvent:
    """``read_trigger_event`` plus the check of the event's ``eventKey``: all of the trigger is
    validated before any AWS access, so bad input wins over a misconfigured task."""
    event = read_trigger_event(accept, environ)
    trigger_event_key(event)
    return event


def _marker_op(table: Table, key: tuple[str, str], event: TriggerEvent, use_case: str, outcome: Outcome) -> Op:
    pk, sk = key
    item: dict[str, Any] = {
        "pk": pk,
        "sk": sk,
        "type": "ProcessedEvent",
        "eventId": event.event_id,
        "useCase": use_case,
        "eventDetailType": event.detail_type,
        "eventSource": event.source,
        "fingerprint": event.fingerprint(),
        "outcomeMessage": outcome.message,
    }
    if outcome.event_key:
        item["outcomeEventKey"] = outcome.event_key
    return table.put_op(item, condition="attribute_not_exists(pk)")


def _processed(table: Table, use_case: str, event: TriggerEvent, key: str | None) -> str | None:
    """``"eventId"`` / ``"eventKey"`` when a marker says this event was processed; else None."""
    found = [("eventId", marker_key(event.event_id, use_case))]
    if key:
        found.append(("eventKey", event_key_marker_key(key, use_case)))
    for name, item_key in found:
        marker = table.get(*item_key)
        if marker is None:
            continue
        if marker.get("fingerprint") != event.fingerprint():
            field_name = ENV_ID if name == "eventId" else f"{ENV_DETAIL}.eventKey"
            value = event.event_id if name == "eventId" else key
            raise BadInput(
                field_name,
                f"{name} {value!r} was already processed by {use_case} with a different detail-type, source or detail",
            )
        return name
    return None


def decide_once(table: Table, *, use_case: str, event: TriggerEvent | None, decide: Callable[[], Decision]) -> Settled:
    """Commit ``decide``'s writes (plus markers and outcome record) atomically, at most once per event."""
    key = trigger_event_key(event)
    for _ in range(ATTEMPTS):
        duplicate = _processed(table, use_case, event, key) if event is not None else None
        decision = decide()
        if duplicate:
            if decision.writes:
                # The event's own change is in the table already; whatever the current state would
                # let it do now is not this event's to do.
                decision = Decision(Outcome(f"{decision.outcome.message}: not applied, the event was applied before"))
            return Settled(decision, committed=False, duplicate=duplicate)
        outcome = decision.outcome
        ops = list(decision.writes)
        if ops and outcome.detail_type and outcome.event_key:
            # Refused before anything is written: a fact that cannot be announced is not made true.
            check_detail(outcome.detail_type, outbox.emitted_detail(outcome.event_key, outcome.detail or {}))
            ops.append(
                outbox.record_op(
                    table,
                    key=outcome.event_key,
                    use_case=use_case,
                    detail_type=outcome.detail_type,
                    detail=outcome.detail or {},
                )
            )
        if event is not None:
            ops.append(_marker_op(table, marker_key(event.event_id, use_case), event, use_case, outcome))
            if key:
                ops.append(_marker_op(table, event_key_marker_key(key, use_case), event, use_case, outcome))
        if not ops:
            return Settled(decision, committed=False)
        try:
            table.transact(ops)
        except ConcurrentUpdate:
            continue
        return Settled(decision, committed=bool(decision.writes))
    raise ConcurrentUpdate(f"{use_case}: state kept changing under us, gave up after {ATTEMPTS} attempts")


def announce(ctx: Context, key: str, detail_type: str, detail: Mapping[str, Any]) -> str:
    """Emit a fact this run just made true (its record was committed with it), then mark it emitted."""
    event_id = ctx.emit(detail_type, outbox.emitted_detail(key, detail))
    outbox.mark_emitted(ctx.table, key, event_id)
    return f"emitted {detail_type} {key} ({event_id}) to {ctx.bus_name}"


def announce_again(ctx: Context, key: str) -> str:
    """Emit the fact recorded under ``key`` only if it was never emitted (the crash window)."""
    record = outbox.load(ctx.table, key)
    if record is None:
        return f"{key} has no outcome record: nothing emitted"
    if record.get("emittedEventId"):
        return f"{key} already emitted ({record['emittedEventId']}): nothing emitted"
    event_id = ctx.emit(record["detailType"], json.loads(record["detail"]))
    outbox.mark_emitted(ctx.table, key, event_id)
    return f"{key} was recorded but never emitted: emitted {record['detailType']} ({event_id}) to {ctx.bus_name}"


def settle(ctx: Context, *, use_case: str, event: TriggerEvent | None, decide: Callable[[], Decision]) -> int:
    """Decide once, announce the fact once, warn of a contradiction once, print one summary line, exit 0."""
    settled = decide_once(ctx.table, use_case=use_case, event=event, decide=decide)
    decision = settled.decision
    outcome = decision.outcome
    if settled.duplicate:
        label = f"duplicate ({settled.duplicate} already processed): "
    elif decision.replay:
        label = "replay: "
    else:
        label = ""
    summary = f"{use_case}: {label}{outcome.message}"
    if outcome.event_key:
        if settled.committed and outcome.detail_type:
            summary += "; " + announce(ctx, outcome.event_key, outcome.detail_type, outcome.detail or {})
        else:
            summary += "; " + announce_again(ctx, outcome.event_key)
    else:
        summary += "; nothing emitted"
    if decision.contradiction is not None and event is not None and settled.duplicate is None:
        warn_contradicting(use_case, event, decision.contradiction)
    print(summary, flush=True)
    return 0
