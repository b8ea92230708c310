"""Run a use case exactly once per triggering event and emit its outcome.

Idempotency, two layers, both enforced with DynamoDB conditions in ONE TransactWriteItems:

1. Processed-event marker, keyed on the EventBridge event id and the use case
   (``pk = EVENT#<eventId>``, ``sk = USECASE#<use case>``, put with ``attribute_not_exists``). It
   records the outcome (detail-type + detail) and a fingerprint of the event. The same event run
   again finds the marker first and changes nothing.
2. Business keys (order item, per-order credit decision, customer item) guarded by conditions in
   the same transaction, so a *different* event id carrying the same business fact (an upstream
   replay re-emits with a new id) cannot apply it twice either; the use case's ``decide`` then
   returns the outcome already recorded in that state.

Replay decision: a replay RE-EMITS the recorded outcome (the same detail-type and detail). A crash
or a failed PutEvents between the write and the emit therefore never loses the event: re-running
the task emits it. Consumers are idempotent, so duplicates are harmless. Outcomes that emit
nothing (documented no-ops) emit nothing on replay either.

If a condition fails because another writer changed the items between our read and our write,
``decide`` runs again on fresh state (up to ``ATTEMPTS`` times).
"""

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

from .bus import emit
from .errors import BadInput, ConcurrentUpdate, ConfigError
from .store import Op, Table
from .trigger import ENV_ID, TriggerEvent

ATTEMPTS = 5


@dataclass(frozen=True)
class Outcome:
    """What a use case did. ``detail_type`` None: nothing to emit (a documented no-op)."""

    message: str
    detail_type: str | None = None
    detail: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Decision:
    """``decide``'s answer: the outcome, the conditional writes, and whether it is a replay."""

    outcome: Outcome
    writes: Sequence[Op] = field(default_factory=tuple)
    replay: bool = False


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


def _recorded(marker: Mapping[str, Any]) -> Decision:
    detail_type = marker.get("outcomeDetailType")
    detail = json.loads(marker["outcomeDetail"]) if detail_type else None
    return Decision(Outcome(marker["outcomeMessage"], detail_type, detail), replay=True)


def _marker_op(table: Table, event: TriggerEvent, use_case: str, outcome: Outcome) -> Op:
    pk, sk = marker_key(event.event_id, use_case)
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
    if outcome.detail_type:
        item["outcomeDetailType"] = outcome.detail_type
        item["outcomeDetail"] = json.dumps(dict(outcome.detail or {}), sort_keys=True)
    return table.put_op(item, condition="attribute_not_exists(pk)")


def decide_once(table: Table, *, use_case: str, event: TriggerEvent | None, decide: Callable[[], Decision]) -> Decision:
    """Commit ``decide``'s writes (plus the event marker) atomically, or return the recorded outcome."""
    for _ in range(ATTEMPTS):
        if event is not None:
            marker = table.get(*marker_key(event.event_id, use_case))
            if marker is not None:
                if marker.get("fingerprint") != event.fingerprint():
                    raise BadInput(
                        ENV_ID,
                        f"event {event.event_id!r} was already processed by {use_case} with a different "
                        "detail-type, source or detail",
                    )
                return _recorded(marker)
        decision = decide()
        ops = list(decision.writes)
        if event is not None:
            ops.append(_marker_op(table, event, use_case, decision.outcome))
        if not ops:
            return decision
        try:
            table.transact(ops)
        except ConcurrentUpdate:
            continue
        return decision
    raise ConcurrentUpdate(f"{use_case}: state kept changing under us, gave up after {ATTEMPTS} attempts")


def settle(ctx: Context, *, use_case: str, event: TriggerEvent | None, decide: Callable[[], Decision]) -> int:
    """Decide once, emit the outcome (also on replay), print one summary line, return exit 0."""
    decision = decide_once(ctx.table, use_case=use_case, event=event, decide=decide)
    outcome = decision.outcome
    summary = f"{use_case}: {'replay: ' if decision.replay else ''}{outcome.message}"
    if outcome.detail_type:
        event_id = ctx.emit(outcome.detail_type, outcome.detail or {})
        summary += f"; emitted {outcome.detail_type} ({event_id}) to {ctx.bus_name}"
    else:
        summary += "; nothing emitted"
    print(summary, flush=True)
    return 0
