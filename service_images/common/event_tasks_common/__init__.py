"""Shared runtime of the event-tasks service images (Order, Customer).

- ``read_trigger_event`` / ``trigger_present``: the triggering event from the container env
- ``Context``: the service's own table and bus, from ``TABLE_NAME`` / ``EVENT_BUS_NAME``
- ``settle`` / ``Decision`` / ``Outcome``: exactly-once state change keyed on the event id, then emit
- ``run`` / ``ArgumentParser``: exit codes 0 (handled), 1 (error), 2 (bad input)
"""

from .bus import emit
from .cli import ArgumentParser, run
from .errors import (
    EXIT_BAD_INPUT,
    EXIT_ERROR,
    EXIT_OK,
    BadInput,
    ConcurrentUpdate,
    ConfigError,
    EmitFailed,
)
from .process import Context, Decision, Outcome, decide_once, marker_key, settle
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
    "TRIGGER_ENV_VARS",
    "ArgumentParser",
    "BadInput",
    "ConcurrentUpdate",
    "ConfigError",
    "Context",
    "Decision",
    "Detail",
    "EmitFailed",
    "Outcome",
    "Table",
    "TriggerEvent",
    "amount",
    "amount_arg",
    "decide_once",
    "emit",
    "identifier",
    "marker_key",
    "read_trigger_event",
    "run",
    "settle",
    "text",
    "trigger_present",
]
