"""Shared runtime of the event-tasks service images (Order, Customer).

- ``read_event`` (``read_trigger_event`` + its ``eventKey``) / ``trigger_present``: the triggering
  event from the container env
- ``Context``: the service's own table and bus, from ``TABLE_NAME`` / ``EVENT_BUS_NAME``
- ``settle`` / ``Decision`` / ``Outcome``: exactly-once state change keyed on the event id and
  eventKey, then announce each fact once (``outbox``: the emit-once records)
- ``Contradiction`` / ``warn_contradicting``: the one JSON warning line for an event contradicting a
  recorded final state
- ``failure``: reading the failure events a state machine publishes when it gives up on a task
- ``run`` / ``ArgumentParser``: exit codes 0 (handled), 1 (error), 2 (bad input)
"""

from . import failure, outbox
from .bus import MAX_DETAIL_CHARS, emit
from .cli import ArgumentParser, run
from .contradiction import Contradiction, warn_contradicting
from .errors import (
    EXIT_BAD_INPUT,
    EXIT_ERROR,
    EXIT_OK,
    BadInput,
    ConcurrentUpdate,
    ConfigError,
    EmitFailed,
)
from .process import Context, Decision, Outcome, Settled, decide_once, marker_key, read_event, settle
from .store import Table
from .trigger import (
    ANY_SOURCE,
    TRIGGER_ENV_VARS,
    Detail,
    TriggerEvent,
    read_trigger_event,
    trigger_present,
)
from .validate import amount, amount_arg, identifier, text

__all__ = [
    "ANY_SOURCE",
    "EXIT_BAD_INPUT",
    "EXIT_ERROR",
    "EXIT_OK",
    "MAX_DETAIL_CHARS",
    "TRIGGER_ENV_VARS",
    "ArgumentParser",
    "BadInput",
    "ConcurrentUpdate",
    "ConfigError",
    "Context",
    "Contradiction",
    "Decision",
    "Detail",
    "EmitFailed",
    "Outcome",
    "Settled",
    "Table",
    "TriggerEvent",
    "amount",
    "amount_arg",
    "decide_once",
    "emit",
    "failure",
    "identifier",
    "marker_key",
    "outbox",
    "read_event",
    "read_trigger_event",
    "run",
    "settle",
    "text",
    "trigger_present",
    "warn_contradicting",
]
