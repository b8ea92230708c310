"""The timeline prints every execution under the event that started it, redeliveries included."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sandbox.emulator import Delivery
from sandbox.harness import Timeline

BUS = "event-tasks-local-customer"
RULE = f"arn:aws:events:ap-southeast-1:123456789012:rule/{BUS}/event-tasks-local-reject-order"
MACHINE = "arn:aws:states:ap-southeast-1:123456789012:stateMachine:event-tasks-local-reject-order"


def event(event_id: str, detail_type: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "event-bus": BUS,
        "source": "event-tasks.customer",
        "detail-type": detail_type,
        "detail": {},
    }


def execution_arn(name: str) -> str:
    return MACHINE.replace(":stateMachine:", ":execution:") + f":{name}"


@dataclass
class FakeLog:
    emitted: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    def deliver(self, to: dict[str, Any], execution: str) -> None:
        self.deliveries.append(Delivery(to, RULE, MACHINE, execution_arn=execution_arn(execution)))


@dataclass
class FakeEmulator:
    events: FakeLog = field(default_factory=FakeLog)


class FakeStepFunctions:
    """list_executions / describe_execution over a dict of execution name -> (status, input event)."""

    class exceptions:
        class StateMachineDoesNotExist(Exception):
            pass

    def __init__(self) -> None:
        self.executions: dict[str, tuple[str, dict[str, Any]]] = {}

    def get_paginator(self, _: str) -> Any:
        sfn = self

        class Pages:
            def paginate(self, stateMachineArn: str) -> list[dict[str, Any]]:
                listed = [{"executionArn": execution_arn(n), "status": s} for n, (s, _) in sfn.executions.items()]
                return [{"executions": listed}]

        return Pages()

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        status, started_with = self.executions[executionArn.rsplit(":", 1)[-1]]
        return {"status": status, "input": json.dumps(started_with)}


def text(line: str) -> str:
    """A timeline line without its clock and indentation."""
    return re.sub(r"^\s*\d+\.\d+s\s+", "", line)


def headed(lines: list[str]) -> dict[str, str]:
    """Execution short name -> the id of the event heading it was printed under."""
    under, heading = {}, ""
    for line in lines:
        if found := re.search(r"  event  .*\[id (\w+)\]", line):
            heading = found[1]
        elif found := re.search(r"started execution local-reject-order/(\w+)", line):
            under[found[1]] = heading
    return under


def test_a_redelivered_event_heads_its_own_executions_and_each_end_names_its_event():
    # GIVEN a CustomerValidationFailed delivered once and its executions listed by a fake Step Functions
    emulator, sfn, lines = FakeEmulator(), FakeStepFunctions(), []
    timeline = Timeline(emulator, sfn, [MACHINE], lines.append)  # type: ignore[arg-type]
    failed, reserved = event("aaaaaaaa-1", "CustomerValidationFailed"), event("bbbbbbbb-2", "CreditReserved")
    emulator.events.emitted.append(failed)
    emulator.events.deliver(failed, "first")
    sfn.executions["first"] = ("RUNNING", failed)
    timeline.poll()

    # WHEN it is replayed (same id) and, before the next poll, a new CreditReserved is delivered and
    # then recorded as emitted (moto delivers before PutEvents returns)
    emulator.events.deliver(failed, "again")
    emulator.events.deliver(reserved, "other")
    emulator.events.emitted.append(reserved)
    sfn.executions.update(
        {"again": ("SUCCEEDED", failed), "other": ("RUNNING", reserved), "first": ("SUCCEEDED", failed)}
    )
    timeline.poll()

    # THEN every execution is printed under its own event, the replay under a heading of its own
    assert headed(lines) == {"first": "aaaaaaaa", "again": "aaaaaaaa", "other": "bbbbbbbb"}
    assert sum("CustomerValidationFailed [id aaaaaaaa] again" in line for line in lines) == 1
    # AND each ended execution names the event that started it
    ended = [text(line).removeprefix("<- ") for line in lines if "  <- " in line]
    assert sorted(ended) == [
        "execution local-reject-order/again SUCCEEDED (CustomerValidationFailed [id aaaaaaaa])",
        "execution local-reject-order/first SUCCEEDED (CustomerValidationFailed [id aaaaaaaa])",
    ]


def test_an_event_delivered_before_its_emitted_record_is_printed_once_above_its_execution():
    # GIVEN a delivery whose event is not yet recorded as emitted
    emulator, sfn, lines = FakeEmulator(), FakeStepFunctions(), []
    timeline = Timeline(emulator, sfn, [MACHINE], lines.append)  # type: ignore[arg-type]
    created = event("cccccccc-3", "CreditLimitExceeded")
    emulator.events.deliver(created, "one")
    timeline.poll()
    # WHEN the emitted record arrives and the timeline polls again
    emulator.events.emitted.append(created)
    timeline.poll()
    # THEN the event was printed once, on its bus, above its execution
    assert [text(line) for line in lines] == [
        f"event  CreditLimitExceeded on {BUS} {{}}  [id cccccccc]",
        "-> rule event-tasks-local-reject-order started execution local-reject-order/one",
    ]


def test_an_execution_started_without_a_delivery_names_the_event_in_its_input():
    # GIVEN an execution no rule started (e.g. re-run by an operator) with an event as input
    emulator, sfn, lines = FakeEmulator(), FakeStepFunctions(), []
    timeline = Timeline(emulator, sfn, [MACHINE], lines.append)  # type: ignore[arg-type]
    sfn.executions["rerun"] = ("SUCCEEDED", event("dddddddd-4", "CreditLimitExceeded"))
    # WHEN the timeline polls THEN its end names the event from its input
    timeline.poll()
    assert lines[-1].endswith("<- execution local-reject-order/rerun SUCCEEDED (CreditLimitExceeded [id dddddddd])")
